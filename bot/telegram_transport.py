"""The Telegram `Transport` for the outbox sender (bot/delivery.py).

Uses a bare PTB `Bot`, without PTB's AIORateLimiter: the sender does all the
rate limiting, and a limiter that retried on its own would hide 429s from it.

How a `Rendered` becomes Telegram messages:
- text only: one message with the inline keyboard;
- one photo, no documents and text up to 1024 characters (the caption
  limit): one photo with the text as caption and the keyboard;
- otherwise the photos first (albums of 2 to 10; a lone photo on its own),
  then the documents (the same way: albums of documents, a lone one on its
  own), then the text with the keyboard as its own message.

Every file is read from the media store before the first request, so a
missing or oversized file fails the row before anything reached the chat. A
failure after the first part went out is `partial`: the row's outcome is
unknown, and the sender does not send it again (bot/outbox.py).

The message id handed back is the one carrying the text, so an edit changes
the text and the buttons in place. Caption messages get a "/caption" suffix so
that an edit knows to call editMessageCaption.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.config import Settings
from bot.delivery import (
    ChatKind,
    DeliveryError,
    Rejected,
    RejectReason,
    RetryLater,
    Sender,
    SenderConfig,
    TemporaryFailure,
    Unreachable,
    supervise,
)
from bot.rendering import RENDERERS, Attachment, Button, Rendered, Renderers
from storage.media import InvalidMediaKey, MediaStore
from storage.models.base import utcnow

CAPTION_LIMIT = 1024
ALBUM_MAX = 10
CAPTION_SUFFIX = "/caption"
# The Bot API's upload limit for a document sent by a bot.
DOCUMENT_MAX_BYTES = 50 * 1024 * 1024

# Failures where the request cannot have reached Telegram, so trying again
# cannot deliver it twice. Anything else (a read timeout, a dropped answer) may
# have been delivered.
_NOT_DELIVERED = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)

# Telegram's 400 descriptions (lower case) for an edit that has nothing left to edit.
_EDIT_TARGET_GONE = (
    "message to edit not found",
    "message can't be edited",
    "message_id_invalid",
    "there is no text in the message to edit",
    "there is no caption in the message to edit",
)

T = TypeVar("T")

log = logging.getLogger(__name__)


def build_bot(settings: Settings, *, pool_size: int = 16) -> Bot:
    """A Bot of its own for the sender: its own connection pool, no rate limiter."""
    return Bot(
        settings.telegram_bot_token,
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.file_base_url,
        request=HTTPXRequest(connection_pool_size=pool_size),
    )


@dataclass
class RunningSender:
    """The application's sender task; `wake()` after committing an enqueue, `stop()` at shutdown."""

    sender: Sender
    bot: Bot
    stop_event: asyncio.Event
    task: asyncio.Task[None]

    def wake(self) -> None:
        self.sender.wake()

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming, let sends on the wire finish and be recorded, give back the rest."""
        self.stop_event.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout=timeout)
        except TimeoutError:
            # Whatever is still `sending` is recovered as unconfirmed at the next start.
            log.warning("the outbox sender did not stop within %gs; cancelling it", timeout)
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        finally:
            await self.bot.shutdown()


async def start_sender(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    media: MediaStore,
    *,
    renderers: Renderers = RENDERERS,
    config: SenderConfig | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> RunningSender:
    """Start the Telegram outbox sender as a task on the running loop."""
    config = config or SenderConfig(default_language=settings.default_language)
    bot = build_bot(settings, pool_size=config.concurrency + 4)
    await bot.initialize()
    sender = Sender(sessions, TelegramTransport(bot, media), renderers, config=config, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(supervise(sender, stop), name="outbox-sender")
    return RunningSender(sender, bot, stop, task)


class TelegramTransport:
    platform = "telegram"

    def __init__(self, bot: Bot, media: MediaStore | None = None) -> None:
        self.bot = bot
        self.media = media

    def chat_kind(self, chat_id: str) -> ChatKind:
        # Groups, supergroups and channels have negative ids; people positive.
        return ChatKind.GROUP if chat_id.startswith("-") else ChatKind.PRIVATE

    def weight(self, rendered: Rendered) -> int:
        # Telegram counts every item of an album as a message of its own.
        if _as_caption(rendered):
            return 1
        return len(rendered.photo_keys) + len(rendered.documents) + 1

    async def send(self, chat_id: str, rendered: Rendered) -> str:
        chat = _chat(chat_id)
        markup = _keyboard(rendered.buttons)
        if not rendered.photo_keys and not rendered.documents:
            message = await _call(self.bot.send_message(chat, rendered.text, reply_markup=markup))
            return str(message.message_id)
        photos = await self._photos(rendered.photo_keys)
        documents = await self._documents(rendered.documents)
        if _as_caption(rendered):
            message = await _call(
                self.bot.send_photo(chat, photos[0], caption=rendered.text, reply_markup=markup)
            )
            return f"{message.message_id}{CAPTION_SUFFIX}"
        delivered = False
        for chunk in _albums(photos):
            if len(chunk) == 1:
                await _call(self.bot.send_photo(chat, chunk[0]), partial=delivered)
            else:
                await _call(
                    self.bot.send_media_group(chat, [InputMediaPhoto(data) for data in chunk]),
                    partial=delivered,
                )
            delivered = True
        for chunk in _albums(documents):
            if len(chunk) == 1:
                data, filename = chunk[0]
                await _call(self.bot.send_document(chat, data, filename=filename), partial=delivered)
            else:
                await _call(
                    self.bot.send_media_group(
                        chat, [InputMediaDocument(data, filename=filename) for data, filename in chunk]
                    ),
                    partial=delivered,
                )
            delivered = True
        message = await _call(self.bot.send_message(chat, rendered.text, reply_markup=markup), partial=True)
        return str(message.message_id)

    async def edit(self, chat_id: str, message_id: str, rendered: Rendered) -> None:
        chat = _chat(chat_id)
        markup = _keyboard(rendered.buttons)
        number, is_caption = _parse_message_id(message_id)
        # Editing is idempotent: repeating one whose answer was lost is harmless.
        if not is_caption:
            await _call(
                self.bot.edit_message_text(
                    rendered.text, chat_id=chat, message_id=number, reply_markup=markup
                ),
                idempotent=True,
            )
            return
        if len(rendered.text) > CAPTION_LIMIT:
            raise Rejected(RejectReason.EDIT_TARGET_GONE, "the new text is too long for the photo's caption")
        await _call(
            self.bot.edit_message_caption(
                chat_id=chat, message_id=number, caption=rendered.text, reply_markup=markup
            ),
            idempotent=True,
        )

    async def _photos(self, keys: Sequence[str]) -> list[bytes]:
        if not keys:
            return []
        media = self._media_store("photos")
        try:
            return await asyncio.to_thread(lambda: [media.read(key) for key in keys])
        except (OSError, InvalidMediaKey) as exc:
            raise Rejected(RejectReason.INVALID, f"photo not readable: {exc}") from exc

    async def _documents(self, attachments: Sequence[Attachment]) -> list[tuple[bytes, str]]:
        if not attachments:
            return []
        media = self._media_store("documents")

        def read(attachment: Attachment) -> tuple[bytes, str]:
            # Checked before reading, so an oversized file is not loaded only to be refused.
            size = media.path(attachment.key).stat().st_size
            if size > DOCUMENT_MAX_BYTES:
                raise Rejected(
                    RejectReason.INVALID,
                    f"document {attachment.filename!r} has {size} bytes; Telegram takes at most "
                    f"{DOCUMENT_MAX_BYTES}",
                )
            return media.read(attachment.key), attachment.filename

        try:
            return await asyncio.to_thread(lambda: [read(attachment) for attachment in attachments])
        except (OSError, InvalidMediaKey) as exc:
            raise Rejected(RejectReason.INVALID, f"document not readable: {exc}") from exc

    def _media_store(self, what: str) -> MediaStore:
        if self.media is None:
            raise Rejected(RejectReason.INVALID, f"{what} given but the transport has no media store")
        return self.media


def _as_caption(rendered: Rendered) -> bool:
    return (
        len(rendered.photo_keys) == 1
        and not rendered.documents
        and len(rendered.text) <= CAPTION_LIMIT
    )


def _albums(items: list[T]) -> list[list[T]]:
    return [items[start : start + ALBUM_MAX] for start in range(0, len(items), ALBUM_MAX)]


def _chat(chat_id: str) -> int | str:
    # Numeric ids as numbers; "@channelname" as it is.
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


def _parse_message_id(message_id: str) -> tuple[int, bool]:
    if message_id.endswith(CAPTION_SUFFIX):
        return int(message_id[: -len(CAPTION_SUFFIX)]), True
    return int(message_id), False


def _keyboard(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.text, callback_data=b.callback_data, url=b.url) for b in row]
            for row in rows
        ]
    )


async def _call(request: Awaitable[T], *, partial: bool = False, idempotent: bool = False) -> T:
    try:
        return await request
    except TelegramError as exc:
        raise _neutral(exc, partial=partial, idempotent=idempotent) from exc


def _neutral(exc: TelegramError, *, partial: bool, idempotent: bool) -> DeliveryError:
    # Order matters: BadRequest and TimedOut are NetworkErrors in PTB.
    if isinstance(exc, RetryAfter):
        return RetryLater(_retry_after_seconds(exc), partial=partial)
    if isinstance(exc, Forbidden):
        return Unreachable(exc.message, partial=partial)
    if isinstance(exc, BadRequest):
        return Rejected(_reject_reason(exc.message), exc.message, partial=partial)
    if isinstance(exc, ChatMigrated):
        return Rejected(RejectReason.INVALID, f"the group moved to chat {exc.new_chat_id}", partial=partial)
    if isinstance(exc, NetworkError):
        cause = exc.__cause__
        if isinstance(exc, TimedOut) and cause is None:
            maybe = True
        elif cause is None:
            # Telegram answered with a 5xx: it says it did not handle the request.
            maybe = False
        else:
            maybe = not isinstance(cause, _NOT_DELIVERED)
        return TemporaryFailure(
            f"{type(exc).__name__}: {exc.message}", maybe_delivered=maybe and not idempotent, partial=partial
        )
    # Unauthorized token, conflicts: nothing was delivered; bounded retries apply.
    return TemporaryFailure(f"{type(exc).__name__}: {exc.message}", maybe_delivered=False, partial=partial)


def _reject_reason(description: str) -> RejectReason:
    text = description.lower()
    if "message is not modified" in text:
        return RejectReason.NOT_MODIFIED
    if any(marker in text for marker in _EDIT_TARGET_GONE):
        return RejectReason.EDIT_TARGET_GONE
    return RejectReason.INVALID


def _retry_after_seconds(exc: RetryAfter) -> float:
    # PTB 22 warns that retry_after will become a timedelta; accept either.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return max(seconds, 0.0)
