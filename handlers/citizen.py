"""The Telegram face of the citizen conversation (bot/conversation/): an Update in, its replies shown.

What is Telegram's stays here: reading a message's kind, answering every
callback query, inline keyboards within 64 bytes of callback data, reply
keyboards that ask for the phone or the location, albums grouped by
`media_group_id` (answered once, after their last photo), and albums of 2 to
10 pictures when a report's photos are shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from telegram import CallbackQuery, InputMediaPhoto, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.conversation import dialogue, photos
from bot.conversation.inputs import (
    Button,
    Command,
    Contact,
    FileRef,
    Input,
    Location,
    Other,
    Sender,
    Text,
    Upload,
)
from bot.conversation.replies import EditButtons, Images, MessageRef, Notice, Reply, Rows, Say, ShowInPlace
from handlers.keyboards import inline, reply_keys
from handlers.scope import PLATFORM, deps_of, sender_of

log = logging.getLogger(__name__)

ALBUM_ACKS = "album_acks"
# Telegram shows 2 to 10 pictures as one album; one goes on its own.
ALBUM_MAX = 10


class TelegramFiles:
    """Fetches what a person sent through the Bot API's getFile."""

    def __init__(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.bot = context.bot

    async def fetch(self, file: FileRef) -> bytes:
        try:
            tg_file = await self.bot.get_file(file.file_id)
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise photos.FileTooLarge(file.file_id) from exc
            raise
        return bytes(await tg_file.download_as_bytearray())


def input_of(message: Message) -> Input:
    """What kind of thing the message is, in the conversation's terms."""
    if message.text and message.text.startswith("/"):
        words = message.text.split()
        return Command(words[0][1:].split("@")[0], tuple(words[1:]))
    if message.text:
        return Text(message.text)
    if message.venue:
        venue = message.venue
        return Location(venue.location.latitude, venue.location.longitude, venue.title, venue.address)
    if message.location:
        return Location(message.location.latitude, message.location.longitude)
    if message.contact:
        owner = message.contact.user_id
        return Contact(message.contact.phone_number, str(owner) if owner else None)
    if message.photo:
        largest = message.photo[-1]
        return Upload(FileRef(PLATFORM, largest.file_id), largest.file_size, True, message.media_group_id)
    if message.document:
        document = message.document
        return Upload(FileRef(PLATFORM, document.file_id), document.file_size, False, message.media_group_id)
    return Other()


def rows_of(message: Message | None) -> Rows:
    markup = message.reply_markup if message is not None else None
    if markup is None:
        return []
    return [
        [(b.text, b.callback_data) for b in row if isinstance(b.callback_data, str)] for row in markup.inline_keyboard
    ]


def _ref(message: Message) -> MessageRef:
    return MessageRef(str(message.chat.id), str(message.message_id))


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command or a message in the private chat."""
    message = update.effective_message
    if message is None or update.effective_user is None:
        return
    sender = sender_of(update)
    received = input_of(message)
    # handlers/answers.py has already taken any answer to a question.
    replies = await dialogue.route(deps_of(context), sender, received, TelegramFiles(context))
    await show(context, message.chat.id, replies)
    if isinstance(received, Upload) and received.album is not None and not replies:
        # Taken into the draft without a word: the album's acknowledgement comes after its last photo.
        _schedule_album_ack(context, sender, message.chat.id, received.album)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button of the conversation's messages; the query is answered before the replies are shown."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    message = query.message if isinstance(query.message, Message) else None
    pressed = Button(query.data, _ref(message) if message else None, rows_of(message))
    try:
        replies = await dialogue.route(deps_of(context), sender_of(update), pressed, TelegramFiles(context))
    except BaseException:
        await query.answer()
        raise
    notices = [r.text for r in replies if isinstance(r, Notice)]
    await query.answer(notices[0] if notices else None, show_alert=bool(notices))
    chat_id = message.chat.id if message else update.effective_user.id
    await show(context, chat_id, [r for r in replies if not isinstance(r, Notice)], query)


async def show(
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    replies: Sequence[Reply],
    query: CallbackQuery | None = None,
) -> None:
    """Send the replies in order; edits apply to the pressed message unless they name another."""
    bot = context.bot
    for reply in replies:
        match reply:
            case Say(text=text, buttons=buttons, keys=keys):
                markup = inline(buttons) if buttons else reply_keys(keys)
                await bot.send_message(chat_id, text, reply_markup=markup)
            case Images(images=images) if len(images) == 1:
                await bot.send_photo(chat_id, images[0])
            case Images(images=images):
                await bot.send_media_group(chat_id, [InputMediaPhoto(data) for data in images[:ALBUM_MAX]])
            case EditButtons(rows=rows, message=target):
                await _edit_buttons(context, rows, target, query)
            case ShowInPlace(text=text, buttons=buttons):
                await _show_in_place(context, chat_id, text, buttons, query)
            case Notice(text=text):
                await bot.send_message(chat_id, text)


async def _edit_buttons(
    context: ContextTypes.DEFAULT_TYPE, rows: Rows, target: MessageRef | None, query: CallbackQuery | None
) -> None:
    markup = inline(rows) if rows else None
    try:
        if target is not None:
            await context.bot.edit_message_reply_markup(
                int(target.chat_id), int(target.message_id), reply_markup=markup
            )
        elif query is not None:
            await query.edit_message_reply_markup(reply_markup=markup)
    except TelegramError as exc:
        # Already without those buttons (a double press), or an old message beyond editing:
        # its buttons are refused when pressed anyway.
        log.info("buttons not changed: %s", exc)


async def _show_in_place(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str, rows: Rows, query: CallbackQuery | None
) -> None:
    markup = inline(rows) if rows else None
    if query is not None:
        try:
            await query.edit_message_text(text, reply_markup=markup)
            return
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return
            log.info("message not edited, sent anew: %s", exc)
    await context.bot.send_message(chat_id, text, reply_markup=markup)


def _schedule_album_ack(context: ContextTypes.DEFAULT_TYPE, sender: Sender, chat_id: int, album: str) -> None:
    """Answer an album once, after its last photo, rather than once per photo."""
    acks: dict[tuple[str, str], asyncio.Task] = context.application.bot_data.setdefault(ALBUM_ACKS, {})
    key = (sender.user_id, album)
    previous = acks.get(key)
    if previous is not None:
        previous.cancel()
    deps = deps_of(context)

    async def ack_later() -> None:
        await asyncio.sleep(deps.settings.album_quiet_seconds)
        acks.pop(key, None)
        await show(context, chat_id, await photos.album_ack(deps, sender))

    acks[key] = context.application.create_task(ack_later(), name=f"album-ack-{key}")
