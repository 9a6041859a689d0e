"""Messages to anyone but the person being answered: the durable outbox, rendering, the sender.

`outbox` stores rows with the recipient's language and kind; `rendering` turns
a row into neutral `Rendered` text and buttons per language; `sender` claims
rows and delivers them through a platform's transport under its limits.
The transports themselves live with their platform (`bot.platforms`).
"""

__all__ = [
    "outbox",
    "rendering",
    "sender",
]
