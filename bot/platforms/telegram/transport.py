"""The Telegram `Transport` for the outbox sender (bot/delivery/sender.py).

Uses a bare PTB `Bot`, without PTB's AIORateLimiter: the sender does all the
rate limiting, and a limiter that retried on its own would hide 429s from it.
Its HTTP goes through aiohttp (`AiohttpRequest`) rather than PTB's default
httpx: at 1000 messages a second httpx's connection pool alone took more than
a core, aiohttp about a fifth of that.

How a `Rendered` becomes Telegram messages:
- text only: one message with the inline keyboard;
- one photo, no documents and text up to 1024 characters (the caption
  limit): one photo with the text as caption and the keyboard;
- otherwise the photos first (albums of 2 to 10; a lone photo on its own),
  then the documents (the same way: albums of documents, a lone one on its
  own), then the text with the keyboard as its own message.

Each file is uploaded once: the file_id Telegram answers with is kept
(`FileIds`, bounded) and later sends name the file by it, so a photo alert to
100,000 people uploads its photo once, not 100,000 times. A file_id Telegram
refuses is forgotten and the file uploaded again. Every file still to upload
is read from the media store before the first request, so a missing or
oversized file fails the row before anything reached the chat. A failure
after the first part went out is `partial`: the row's outcome is unknown, and
the sender does not send it again unless the row asked for redelivery
(bot/delivery/outbox.py).

The message id handed back is the one carrying the text, so an edit changes
the text and the buttons in place. Caption messages get a "/caption" suffix so
that an edit knows to call editMessageCaption.
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    Message,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData
from telegram.warnings import PTBDeprecationWarning

from bot.config import Settings
from bot.delivery.rendering import RENDERERS, Button, Rendered, Renderers
from bot.delivery.sender import (
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
from storage.media import InvalidMediaKey, MediaStore
from storage.models.base import utcnow
from storage.models.users import TELEGRAM

CAPTION_LIMIT = 1024
# Telegram's broadcast limit without paid broadcasts.
FREE_BROADCAST_PER_SECOND = 30.0
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
    # The same for the sender's aiohttp backend (AiohttpRequest): no connection
    # was made (refused, unreachable, DNS, TLS; or none within the timeout).
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
    aiohttp.InvalidURL,
)

# Telegram's 400 descriptions (lower case) for an edit that has nothing left to edit.
_EDIT_TARGET_GONE = (
    "message to edit not found",
    "message can't be edited",
    "message_id_invalid",
    "there is no text in the message to edit",
    "there is no caption in the message to edit",
)

# Telegram's 400 descriptions (lower case) for a file_id it no longer takes.
_FILE_ID_REFUSED = (
    "wrong file identifier",
    "wrong remote file identifier",
    "file_id",
    "file reference",
    "file_reference",
    "media_empty",
    "can't use file of type",
)

T = TypeVar("T")

log = logging.getLogger(__name__)


def build_bot(settings: Settings, *, pool_size: int = 16) -> Bot:
    """A Bot of its own for the sender: its own connection pool, no rate limiter."""
    return Bot(
        settings.telegram_bot_token,
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.file_base_url,
        request=AiohttpRequest(pool_size),
    )


class AiohttpRequest(BaseRequest):
    """PTB's HTTP backend on aiohttp, for the sender's Bot.

    Errors come out as PTB's (`TimedOut`, `NetworkError`) with the aiohttp
    error as their cause, which `_neutral` reads to tell a request that
    cannot have reached Telegram from one that may have.

    `call` also makes a plain Bot API call without PTB's objects: a broadcast
    is 100,000 sendMessage calls, and building a full `Message` from every
    answer cost PTB about half a millisecond of CPU each, as much as the HTTP.
    """

    def __init__(
        self,
        pool_size: int = 16,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 5.0,
        pool_timeout: float = 10.0,
        media_write_timeout: float = 20.0,
    ) -> None:
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        # Waiting for a free connection is no failure of Telegram's: generous.
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._pool_size))

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        # Seconds, or PTB's "not given" marker (BaseRequest.DEFAULT_NONE): our defaults.
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        body: aiohttp.FormData | str | None = None
        total = None
        if request_data is not None and request_data.contains_files:
            # File names as UTF-8, as browsers and httpx send them; aiohttp would
            # otherwise percent-encode "Công văn.pdf" into the name the recipient sees.
            body = aiohttp.FormData(quote_fields=False)
            for name, value in request_data.json_parameters.items():
                body.add_field(name, value)
            for name, (filename, content, mimetype) in request_data.multipart_data.items():
                body.add_field(name, content, filename=filename, content_type=mimetype)
            # aiohttp has no write timeout: bound the whole upload instead.
            total = _given(write_timeout, self._media_write_timeout) + _given(read_timeout, self._read_timeout)
        elif request_data is not None:
            # Encoded here: aiohttp's FormData costs more than the request itself.
            body = urlencode(request_data.json_parameters)
        timeout = aiohttp.ClientTimeout(
            total=total,
            connect=_given(pool_timeout, self._pool_timeout) + _given(connect_timeout, self._connect_timeout),
            sock_connect=_given(connect_timeout, self._connect_timeout),
            sock_read=_given(read_timeout, self._read_timeout),
        )
        return await self._exchange(method, url, body, timeout)

    async def call(self, url: str, parameters: Mapping[str, Any]) -> Any:
        """POST one Bot API method with a JSON body; its `result`, or PTB's error for the answer."""
        timeout = aiohttp.ClientTimeout(
            connect=self._pool_timeout + self._connect_timeout,
            sock_connect=self._connect_timeout,
            sock_read=self._read_timeout,
        )
        # JSON rather than a form: percent-encoding Vietnamese text costs more than the request.
        body = json.dumps(parameters, ensure_ascii=False).encode()
        status, payload = await self._exchange("POST", url, body, timeout)
        try:
            answer = json.loads(payload)
        except ValueError as exc:
            raise NetworkError(f"Telegram's answer ({status}) is not JSON") from exc
        if 200 <= status < 300 and answer.get("ok"):
            return answer["result"]
        raise _api_error(status, answer)

    async def _exchange(
        self, method: str, url: str, body: aiohttp.FormData | str | bytes | None, timeout: aiohttp.ClientTimeout
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("this AiohttpRequest is not initialized")
        headers = {"User-Agent": self.USER_AGENT}
        if isinstance(body, str):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif isinstance(body, bytes):
            headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(method, url, data=body, timeout=timeout, headers=headers) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc


def _api_error(status: int, answer: Mapping[str, Any]) -> TelegramError:
    """The error PTB raises for this answer (telegram.request.BaseRequest), for `call`."""
    description = str(answer.get("description") or f"HTTP {status}")
    parameters = answer.get("parameters") or {}
    if parameters.get("migrate_to_chat_id"):
        return ChatMigrated(int(parameters["migrate_to_chat_id"]))
    if parameters.get("retry_after"):
        return RetryAfter(timedelta(seconds=int(parameters["retry_after"])))
    if status == HTTPStatus.FORBIDDEN:
        return Forbidden(description)
    if status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.NOT_FOUND):
        return InvalidToken(description)
    if status == HTTPStatus.BAD_REQUEST:
        return BadRequest(description)
    if status == HTTPStatus.CONFLICT:
        return Conflict(description)
    # 5xx and the rest: Telegram says it did not handle the request.
    return NetworkError(description)


def _given(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default


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
    transport = TelegramTransport(bot, media, paid_broadcast=config.global_per_second > FREE_BROADCAST_PER_SECOND)
    sender = Sender(sessions, transport, renderers, config=config, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(supervise(sender, stop), name="outbox-sender")
    return RunningSender(sender, bot, stop, task)


class TelegramTransport:
    platform = TELEGRAM

    def __init__(
        self,
        bot: Bot,
        media: MediaStore | None = None,
        *,
        file_ids: FileIds | None = None,
        paid_broadcast: bool = False,
    ) -> None:
        self.bot = bot
        self.media = media
        # file_ids are valid for the bot that got them: one cache per transport.
        self.file_ids = file_ids or FileIds()
        # Above Telegram's free 30 messages a second, every message must say it
        # is a paid broadcast (0.1 Star each), or Telegram holds it to the 30.
        self._extra: dict[str, bool] = {"allow_paid_broadcast": True} if paid_broadcast else {}

    def chat_kind(self, chat_id: str) -> ChatKind:
        # People have positive numeric ids. Groups, supergroups and channels have
        # negative ones, and a channel may also be named "@channelname" (the Bot
        # API takes a username for channels only): all of them get the group limit.
        return ChatKind.PRIVATE if chat_id.isdigit() else ChatKind.GROUP

    def weight(self, rendered: Rendered) -> int:
        # Telegram counts every item of an album as a message of its own.
        if _as_caption(rendered):
            return 1
        return len(rendered.photo_keys) + len(rendered.documents) + 1

    async def reachable(self) -> bool:
        """Whether the Bot API answers at all: getMe, which sends nothing to anyone."""
        try:
            await self.bot.get_me()
        except BadRequest:
            return True
        except NetworkError:
            # No connection, a timeout, or Telegram's own 5xx: nobody to send to.
            return False
        except TelegramError:
            # An answer (even "Unauthorized") is an answer: failures then count.
            return True
        return True

    async def send(self, chat_id: str, rendered: Rendered) -> str:
        chat = _chat(chat_id)
        markup = _keyboard(rendered.buttons)
        if not rendered.photo_keys and not rendered.documents:
            return await _call(self._send_text(chat, rendered.text, markup))
        photos = [_File(FileKey(PHOTO, key)) for key in rendered.photo_keys]
        documents = [_File(FileKey(DOCUMENT, item.key, item.filename)) for item in rendered.documents]
        # Of many sends of one new file at once, one uploads it and the others
        # wait for its file_id: a broadcast uploads each file once.
        uploading = await self.file_ids.reserve([item.key for item in photos + documents])
        learned: dict[FileKey, str] = {}
        try:
            for item in photos + documents:
                item.file_id = self.file_ids.get(item.key)
            # Every file still to upload is read before the first request.
            await self._load([item for item in photos + documents if item.file_id is None])
            return await self._send_files(chat, rendered, markup, photos, documents, learned)
        finally:
            self.file_ids.settle(uploading, learned)

    async def _send_text(self, chat: int | str, text: str, markup: InlineKeyboardMarkup | None) -> str:
        request = self.bot.request
        if not isinstance(request, AiohttpRequest):
            message = await self.bot.send_message(chat, text, reply_markup=markup, **self._extra)
            return str(message.message_id)
        # The broadcast's hot path: the same request as Bot.send_message, the answer left as JSON.
        parameters: dict[str, Any] = {"chat_id": chat, "text": text, **self._extra}
        if markup is not None:
            parameters["reply_markup"] = markup.to_dict()
        result = await request.call(f"{self.bot.base_url}/sendMessage", parameters)
        return str(result["message_id"])

    async def _send_files(
        self,
        chat: int | str,
        rendered: Rendered,
        markup: InlineKeyboardMarkup | None,
        photos: list[_File],
        documents: list[_File],
        learned: dict[FileKey, str],
    ) -> str:
        if _as_caption(rendered):
            request = _photos_request(self.bot, chat, self._extra, caption=rendered.text, markup=markup)
            [message] = await self._with_files(photos, request, learned)
            return f"{message.message_id}{CAPTION_SUFFIX}"
        delivered = False
        for chunk in _albums(photos):
            await self._with_files(chunk, _photos_request(self.bot, chat, self._extra), learned, partial=delivered)
            delivered = True
        for chunk in _albums(documents):
            request = _documents_request(self.bot, chat, self._extra, [item.key.filename for item in chunk])
            await self._with_files(chunk, request, learned, partial=delivered)
            delivered = True
        message = await _call(
            self.bot.send_message(chat, rendered.text, reply_markup=markup, **self._extra), partial=True
        )
        return str(message.message_id)

    async def _with_files(
        self,
        items: list[_File],
        send: _FilesRequest,
        learned: dict[FileKey, str],
        *,
        partial: bool = False,
    ) -> Sequence[Message]:
        """One request carrying files: by file_id where one is known, else uploaded.

        The file_ids of what was uploaded are learned. A file_id Telegram
        refuses (400: nothing was sent) is forgotten and the file uploaded.
        """
        try:
            result = await _call(send([item.payload for item in items]), partial=partial)
        except Rejected as exc:
            reused = [item for item in items if item.file_id is not None]
            if not reused or not _refuses_file_id(exc.detail):
                raise
            log.info("Telegram refused %d stored file_id(s) (%s); uploading again", len(reused), exc.detail)
            for item in reused:
                self.file_ids.forget(item.key)
                item.file_id = None
            await self._load(reused)
            result = await _call(send([item.payload for item in items]), partial=partial)
        messages = [result] if isinstance(result, Message) else list(result)
        for item, message in zip(items, messages, strict=False):
            file_id = _file_id_of(message)
            if item.file_id is None and file_id:
                learned[item.key] = file_id
        return messages

    async def edit(self, chat_id: str, message_id: str, rendered: Rendered) -> None:
        chat = _chat(chat_id)
        markup = _keyboard(rendered.buttons)
        number, is_caption = _parse_message_id(message_id)
        # Editing is idempotent: repeating one whose answer was lost is harmless.
        if not is_caption:
            await _call(
                self.bot.edit_message_text(rendered.text, chat_id=chat, message_id=number, reply_markup=markup),
                idempotent=True,
            )
            return
        if len(rendered.text) > CAPTION_LIMIT:
            raise Rejected(RejectReason.EDIT_TARGET_GONE, "the new text is too long for the photo's caption")
        await _call(
            self.bot.edit_message_caption(chat_id=chat, message_id=number, caption=rendered.text, reply_markup=markup),
            idempotent=True,
        )

    async def _load(self, items: Sequence[_File]) -> None:
        """Read the files to upload from the media store; a missing or oversized one fails the row."""
        if not items:
            return
        media = self._media_store("photos" if items[0].key.kind == PHOTO else "documents")

        def read(item: _File) -> bytes:
            try:
                if item.key.kind == DOCUMENT:
                    # Checked before reading, so an oversized file is not loaded only to be refused.
                    size = media.path(item.key.media_key).stat().st_size
                    if size > DOCUMENT_MAX_BYTES:
                        raise Rejected(
                            RejectReason.INVALID,
                            f"document {item.key.filename!r} has {size} bytes; Telegram takes at most "
                            f"{DOCUMENT_MAX_BYTES}",
                        )
                return media.read(item.key.media_key)
            except (OSError, InvalidMediaKey) as exc:
                raise Rejected(RejectReason.INVALID, f"{item.key.kind} not readable: {exc}") from exc

        contents = await asyncio.to_thread(lambda: [read(item) for item in items])
        for item, data in zip(items, contents, strict=True):
            item.data = data

    def _media_store(self, what: str) -> MediaStore:
        if self.media is None:
            raise Rejected(RejectReason.INVALID, f"{what} given but the transport has no media store")
        return self.media


# --- reusing uploaded files --------------------------------------------------------------

PHOTO = "photo"
DOCUMENT = "document"


@dataclass(frozen=True)
class FileKey:
    """What was uploaded: a photo or a document (with the name it was sent under) from the media store."""

    kind: str
    media_key: str
    filename: str | None = None


@dataclass
class _File:
    key: FileKey
    file_id: str | None = None
    data: bytes | None = None

    @property
    def payload(self) -> str | bytes:
        if self.file_id is not None:
            return self.file_id
        assert self.data is not None, "read before sending"
        return self.data


class FileIds:
    """The file_ids Telegram gave for files this bot uploaded, so each file goes up once.

    A photo alert to 100,000 people would otherwise upload its bytes 100,000
    times. Bounded: beyond `capacity` files the least recently used is
    forgotten (and uploaded again if it is needed again).
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[FileKey, str] = OrderedDict()
        self._uploading: dict[FileKey, asyncio.Future[None]] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def get(self, key: FileKey) -> str | None:
        file_id = self._ids.get(key)
        if file_id is not None:
            self._ids.move_to_end(key)
        return file_id

    def put(self, key: FileKey, file_id: str) -> None:
        self._ids[key] = file_id
        self._ids.move_to_end(key)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)

    def forget(self, key: FileKey) -> None:
        self._ids.pop(key, None)

    async def reserve(self, keys: Sequence[FileKey]) -> list[FileKey]:
        """The files among `keys` this send is to upload (settle them afterwards).

        Files another send is uploading right now are waited for, so that
        they are not uploaded twice; but a send that has to upload something
        itself waits for nobody (two sends could otherwise wait for each other).
        """
        while True:
            missing = [key for key in dict.fromkeys(keys) if key not in self._ids]
            mine = [key for key in missing if key not in self._uploading]
            theirs = [self._uploading[key] for key in missing if key in self._uploading]
            if mine or not theirs:
                loop = asyncio.get_running_loop()
                for key in mine:
                    self._uploading[key] = loop.create_future()
                return mine
            # Whatever came of their uploads (a file_id, or a failure), look again.
            await asyncio.wait(theirs)

    def settle(self, reserved: Sequence[FileKey], learned: Mapping[FileKey, str]) -> None:
        """Remember what an upload taught, and release the sends waiting for it."""
        for key, file_id in learned.items():
            self.put(key, file_id)
        for key in reserved:
            waiting = self._uploading.pop(key, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(None)


def _as_caption(rendered: Rendered) -> bool:
    return len(rendered.photo_keys) == 1 and not rendered.documents and len(rendered.text) <= CAPTION_LIMIT


def _albums(items: list[T]) -> list[list[T]]:
    return [items[start : start + ALBUM_MAX] for start in range(0, len(items), ALBUM_MAX)]


def _chat(chat_id: str) -> int | str:
    # Numeric ids as numbers; "@channelname" as it is.
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


_FilesRequest = Callable[[list[str | bytes]], Awaitable[Message | Sequence[Message]]]


def _photos_request(
    bot: Bot,
    chat: int | str,
    extra: Mapping[str, bool],
    *,
    caption: str | None = None,
    markup: InlineKeyboardMarkup | None = None,
) -> _FilesRequest:
    """Send these photos (file_ids or bytes): a lone one with the caption, more as an album."""

    def send(files: list[str | bytes]) -> Awaitable[Message | Sequence[Message]]:
        if len(files) == 1:
            return bot.send_photo(chat, files[0], caption=caption, reply_markup=markup, **extra)
        return bot.send_media_group(chat, [InputMediaPhoto(file) for file in files], **extra)

    return send


def _documents_request(bot: Bot, chat: int | str, extra: Mapping[str, bool], names: list[str | None]) -> _FilesRequest:
    """Send these documents under their names: a lone one on its own, more as an album."""

    def send(files: list[str | bytes]) -> Awaitable[Message | Sequence[Message]]:
        if len(files) == 1:
            return bot.send_document(chat, files[0], filename=names[0], **extra)
        return bot.send_media_group(
            chat,
            [InputMediaDocument(file, filename=name) for file, name in zip(files, names, strict=True)],
            **extra,
        )

    return send


def _file_id_of(message: Message) -> str | None:
    if message.photo:
        return message.photo[-1].file_id  # the largest size: the one that was uploaded
    if message.document is not None:
        return message.document.file_id
    return None


def _refuses_file_id(description: str) -> bool:
    text = description.lower()
    return any(marker in text for marker in _FILE_ID_REFUSED)


def _parse_message_id(message_id: str) -> tuple[int, bool]:
    if message_id.endswith(CAPTION_SUFFIX):
        return int(message_id[: -len(CAPTION_SUFFIX)]), True
    return int(message_id), False


def _keyboard(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.callback_data, url=b.url) for b in row] for row in rows]
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
