"""Messages that answer something the bot asked (bot/conversation/prompts.py), before any other handler sees them.

Each module that asks registers, per purpose, the function that takes the
answer. A person with nothing pending goes on to the usual handlers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.conversation import dialogue, prompts
from bot.conversation.replies import Reply
from handlers.citizen import input_of, show
from handlers.scope import Scope, deps_of, user_scope
from storage.models import PendingInput

# (update, context, scope, pending row) → text to reply with, or None when the answerer replied itself.
Answerer = Callable[[Update, ContextTypes.DEFAULT_TYPE, Scope, PendingInput], Awaitable[str | None]]
ANSWERERS: dict[str, Answerer] = {}


def answerer(purpose: str) -> Callable[[Answerer], Answerer]:
    def register(function: Answerer) -> Answerer:
        if purpose in ANSWERERS and ANSWERERS[purpose] is not function:
            raise ValueError(f"two answerers for {purpose!r}")
        ANSWERERS[purpose] = function
        return function

    return register


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or update.effective_user is None:
        return
    if message.text and message.text.startswith("/") and message.text.split()[0].split("@")[0] != "/cancel":
        # Another command leaves the question open and goes its own way.
        return
    deps = deps_of(context)
    reply: str | None = None
    replies: list[Reply] = []
    async with user_scope(update, context) as s:
        row = await prompts.pending(s.session, s.user.id, deps.now())
        if row is not None and row.purpose in dialogue.PURPOSES:
            # The citizen's answer to the conversation's question (bot/conversation/followup.py).
            replies = await dialogue.take(deps, s, row, input_of(message))
        elif row is None or row.purpose not in ANSWERERS:
            return
        elif message.text and message.text.split()[0].split("@")[0] == "/cancel":
            await prompts.clear(s.session, s.user.id)
            reply = s._("Cancelled. Nothing was changed.")
        else:
            reply = await ANSWERERS[row.purpose](update, context, s, row)
    if reply:
        await message.reply_text(reply)
    await show(context, message.chat.id, replies)
    raise ApplicationHandlerStop
