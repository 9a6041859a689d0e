"""Telegram: the python-telegram-bot application, its outbox transport, per-user update
ordering and the bot's identity. The update handlers are in the top-level `handlers` package.
"""

__all__ = [
    "app",
    "identity",
    "ordering",
    "transport",
]
