"""The last line of defence: log the failure and tell the person, in their language."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError
from telegram.ext import ContextTypes

from bot.i18n import language_from_client, translator
from handlers.scope import deps_of

log = logging.getLogger(__name__)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    log.error("update failed: %r", update, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if isinstance(context.error, Forbidden):
        return
    user = update.effective_user
    language = language_from_client(user.language_code if user else None, deps_of(context).settings.default_language)
    _ = translator(language)
    try:
        await context.bot.send_message(
            update.effective_chat.id,
            _("Sorry, something went wrong on our side. What you entered so far is kept; please try again."),
        )
    except NetworkError:
        log.warning("could not tell chat %s about the failure", update.effective_chat.id)
