"""The bot's own Telegram identity, for the command line, which runs no bot (`congdan admin invite`).

Telegram's library is imported here, not in the platform-neutral services.
"""

from __future__ import annotations

from telegram import Bot
from telegram.error import TelegramError


class IdentityUnavailable(Exception):
    """Telegram could not be asked (bad token, no network); the message says why."""


async def bot_username(token: str, base_url: str) -> str:
    """The username behind `token` (getMe), as invitation deep links need it."""
    try:
        async with Bot(token, base_url=base_url) as bot:
            return bot.username
    except TelegramError as exc:
        raise IdentityUnavailable(str(exc)) from exc
