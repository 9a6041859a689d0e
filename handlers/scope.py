"""The person behind an update, loaded with their language, inside one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import ContextTypes

from bot.deps import Deps
from bot.domain import citizens
from bot.i18n import Translator, language_from_client, translator
from storage.models import User
from storage.models.users import TELEGRAM

PLATFORM = TELEGRAM


def deps_of(context: ContextTypes.DEFAULT_TYPE) -> Deps:
    return context.application.bot_data["deps"]


@dataclass
class Scope:
    session: AsyncSession
    user: User
    _: Translator


@asynccontextmanager
async def user_scope(update: Update, context: ContextTypes.DEFAULT_TYPE) -> AsyncIterator[Scope]:
    """Open a transaction with the sender's row; committed when the block ends.

    Replies are sent after the block, so no connection is held while Telegram
    answers (the embedded SQLite store has a single connection).
    """
    deps = deps_of(context)
    tg_user = update.effective_user
    assert tg_user is not None
    async with deps.sessions.begin() as session:
        user = await citizens.get_or_create(
            session,
            platform=PLATFORM,
            external_id=str(tg_user.id),
            chat_id=str(update.effective_chat.id if update.effective_chat else tg_user.id),
            display_name=tg_user.full_name,
            client_language=tg_user.language_code,
            default_language=deps.settings.default_language,
        )
        if (
            user.blocked_at is not None
            and update.effective_chat is not None
            and update.effective_chat.type == "private"
        ):
            # Writing to the bot means they unblocked it: the outbox may write to them again.
            user.blocked_at = None
        yield Scope(session, user, translator(user.language))


async def presser_translator(session: AsyncSession, update: Update, default_language: str) -> Translator:
    """The presser's language, without creating an account row for a stranger in a group."""
    tg_user = update.effective_user
    assert tg_user is not None
    user = await citizens.find(session, PLATFORM, str(tg_user.id))
    if user is not None:
        return translator(user.language)
    return translator(language_from_client(tg_user.language_code, default_language))
