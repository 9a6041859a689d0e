"""The platform-neutral side of talking with people: what the bot is waiting for them to type.

Platform adapters (`bot.platforms`, `handlers`) keep the per-person prompt
state here, so a second messenger asks and remembers the same way.
"""

__all__ = [
    "prompts",
]
