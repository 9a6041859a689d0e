"""The person behind a Telegram update, as the conversation names them, and their transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import ContextTypes

from bot.conversation import scope
from bot.conversation.inputs import Sender
from bot.conversation.scope import Scope
from bot.deps import Deps
from bot.domain import citizens
from bot.i18n import Translator, language_from_client, translator
from storage.models.users import TELEGRAM

PLATFORM = TELEGRAM

__all__ = ["PLATFORM", "Scope", "deps_of", "presser_translator", "sender_of", "user_scope"]


def deps_of(context: ContextTypes.DEFAULT_TYPE) -> Deps:
    return context.application.bot_data["deps"]


def sender_of(update: Update) -> Sender:
    tg_user = update.effective_user
    assert tg_user is not None
    chat = update.effective_chat
    return Sender(
        platform=PLATFORM,
        user_id=str(tg_user.id),
        chat_id=str(chat.id if chat else tg_user.id),
        display_name=tg_user.full_name,
        client_language=tg_user.language_code,
        private=chat is not None and chat.type == "private",
    )


@asynccontextmanager
async def user_scope(update: Update, context: ContextTypes.DEFAULT_TYPE) -> AsyncIterator[Scope]:
    """The sender's row in a transaction committed when the block ends (bot/conversation/scope.py)."""
    async with scope.user_scope(deps_of(context), sender_of(update)) as s:
        yield s


async def presser_translator(session: AsyncSession, update: Update, default_language: str) -> Translator:
    """The presser's language, without creating an account row for a stranger in a group."""
    tg_user = update.effective_user
    assert tg_user is not None
    user = await citizens.find(session, PLATFORM, str(tg_user.id))
    if user is not None:
        return translator(user.language)
    return translator(language_from_client(tg_user.language_code, default_language))
