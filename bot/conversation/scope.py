"""The person behind an input, loaded with their language, inside one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.inputs import Sender
from bot.deps import Deps
from bot.domain import citizens
from bot.i18n import Translator, translator
from storage.models import User


@dataclass
class Scope:
    session: AsyncSession
    user: User
    _: Translator


@asynccontextmanager
async def user_scope(deps: Deps, sender: Sender) -> AsyncIterator[Scope]:
    """Open a transaction with the sender's row; committed when the block ends.

    Replies are sent after the block, so no connection is held while the
    platform answers (the embedded SQLite store has a single connection).
    """
    async with deps.sessions.begin() as session:
        user = await citizens.get_or_create(
            session,
            platform=sender.platform,
            external_id=sender.user_id,
            chat_id=sender.chat_id,
            display_name=sender.display_name,
            client_language=sender.client_language,
            default_language=deps.settings.default_language,
        )
        if user.blocked_at is not None and sender.private:
            # Writing to the bot means they unblocked it: the outbox may write to them again.
            user.blocked_at = None
        yield Scope(session, user, translator(user.language))
