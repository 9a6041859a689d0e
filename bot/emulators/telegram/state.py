"""The emulator's state and the operations both sides share.

Bot API methods (the bot's side) and the test API (the users' side) both
go through `EmulatorState`, so a message looks the same whichever way it
entered the world.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import CALLBACK_QUERY_INVALID, NOT_MODIFIED, ApiError, bad_request, forbidden
from .files import FileStore
from .markup import Markup
from .model import Chat, EditRecord, StoredMessage, User, member_json
from .ratelimit import RateLimiter
from .updates import UpdateQueue
from .views import ApiErrorRecord, BotEvent, CallbackAnswer, EventKind, MessageView
from .waiting import Signal, wait_for_condition
from .webhook import WebhookDelivery, WebhookSettings

MB = 1024 * 1024


def command_scope_key(scope: object) -> str:
    """How setMyCommands lists are keyed: the scope's canonical JSON."""
    return json.dumps(scope or {"type": "default"}, sort_keys=True)


@dataclass(frozen=True)
class EmulatorConfig:
    token: str = "123456:TEST-TOKEN"
    bot_username: str = "congdan_test_bot"
    bot_first_name: str = "Công dân"
    # Telegram's default: in groups the bot only sees commands, replies to
    # it and mentions, unless it is an administrator.
    group_privacy: bool = True
    max_download_size: int = 20 * MB  # getFile refuses bigger files
    max_upload_size: int = 50 * MB
    photo_thumbnails: bool = True
    clock: Callable[[], float] = time.time


@dataclass
class Stats:
    """Counters for benchmarks. All counts are of successful operations."""

    sent_total: int = 0
    edited_total: int = 0
    deleted_total: int = 0
    sent_per_chat: Counter[int] = field(default_factory=Counter)
    method_calls: Counter[str] = field(default_factory=Counter)
    errors_by_code: Counter[int] = field(default_factory=Counter)
    # Files the bot uploaded (multipart parts), not those it named by file_id or URL.
    uploads: int = 0
    uploaded_bytes: int = 0
    # Messages sent with allow_paid_broadcast (Telegram charges for them).
    paid_broadcasts: int = 0


@dataclass
class PendingCallback:
    query_id: str
    chat_id: int
    answer: CallbackAnswer | None = None


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        bot_id = config.token.partition(":")[0]
        self.bot = User(
            id=int(bot_id) if bot_id.isdigit() else 123456,
            first_name=config.bot_first_name,
            username=config.bot_username,
            is_bot=True,
        )
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self._chats_by_username: dict[str, Chat] = {}
        self.files = FileStore(thumbnails=config.photo_thumbnails)
        self.updates = UpdateQueue()
        self.limiter = RateLimiter()
        self.stats = Stats()
        self.events: list[BotEvent] = []
        # Fires after every bot event and every Bot API call: "the bot did something".
        self.activity = Signal()
        self.callbacks: dict[str, PendingCallback] = {}
        self.callback_answers: list[CallbackAnswer] = []
        self.callback_signal = Signal()
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.bot_texts: dict[tuple[str, str], str] = {}  # (field, language) -> value
        self.default_menu_button: dict[str, Any] | None = None
        self.webhook = WebhookSettings()
        self.webhook_delivery = WebhookDelivery(self.updates, self.webhook, config.clock)
        self.api_errors: deque[ApiErrorRecord] = deque(maxlen=1000)
        self.internal_errors: list[str] = []
        # Chats every Bot API call about answers with this error (fault injection).
        self.failing_chats: dict[int | str, ApiError] = {}
        self._user_ids = itertools.count(700_000_001)
        self._group_ids = itertools.count(4_000_000_001)
        self._supergroup_ids = itertools.count(1_000_000_000_001)
        self._callback_ids = itertools.count(4_382_000_000_000_000_001)
        self._media_group_ids = itertools.count(13_000_000_000_000_001)

    def now(self) -> int:
        return int(self.config.clock())

    # --- the world ---------------------------------------------------------

    def add_user(
        self,
        first_name: str,
        last_name: str | None = None,
        *,
        username: str | None = None,
        language_code: str | None = "vi",
        phone_number: str | None = None,
        user_id: int | None = None,
        started: bool = True,
    ) -> User:
        user = User(
            id=user_id if user_id is not None else next(self._user_ids),
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            phone_number=phone_number,
        )
        if user.id in self.users:
            raise ValueError(f"user {user.id} already exists")
        self.users[user.id] = user
        self.chats[user.id] = Chat(id=user.id, type="private", peer=user, started=started)
        return user

    def add_group(
        self,
        title: str,
        members: Iterable[User],
        *,
        admins: Iterable[User] = (),
        supergroup: bool = False,
        username: str | None = None,
        bot_is_admin: bool = False,
        chat_id: int | None = None,
        added_by: User | None = None,
    ) -> Chat:
        if chat_id is None:
            chat_id = -next(self._supergroup_ids if supergroup else self._group_ids)
        if chat_id in self.chats:
            raise ValueError(f"chat {chat_id} already exists")
        member_list = list(members)
        admin_list = list(admins)
        unknown = [user.id for user in member_list + admin_list if user.id not in self.users]
        if unknown:
            raise ValueError(f"add these users with add_user first: {unknown}")
        if added_by is not None and added_by.id not in {user.id for user in member_list + admin_list}:
            raise ValueError(f"added_by must be a member or admin of the group: {added_by.id}")
        admin_ids = {admin.id for admin in admin_list}
        statuses = {member.id: "administrator" if member.id in admin_ids else "member" for member in member_list}
        for admin in admin_list:
            statuses[admin.id] = "administrator"
        if statuses:
            creator = next((member.id for member in member_list if member.id in admin_ids), next(iter(statuses)))
            statuses[creator] = "creator"
        chat = Chat(
            id=chat_id,
            type="supergroup" if supergroup else "group",
            title=title,
            username=username,
            members=statuses,
            bot_status="administrator" if bot_is_admin else "member",
        )
        self.chats[chat_id] = chat
        if username:
            self._chats_by_username[username.lower()] = chat
        if added_by is not None:
            self.updates.push(
                "my_chat_member",
                {
                    "chat": chat.json,
                    "from": added_by.json,
                    "date": self.now(),
                    "old_chat_member": member_json(self.bot, "left"),
                    "new_chat_member": member_json(self.bot, chat.bot_status),
                },
            )
        return chat

    def resolve_chat(self, chat_id: int | str) -> Chat:
        chat = self._chats_by_username.get(chat_id[1:].lower()) if isinstance(chat_id, str) else self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def writable_chat(self, chat_id: int | str) -> Chat:
        """The chat, if the bot may post in it now; 403 otherwise, as Telegram answers."""
        chat = self.resolve_chat(chat_id)
        if chat.is_group:
            kind = "supergroup" if chat.type == "supergroup" else "group"
            if chat.bot_status == "kicked":
                raise forbidden(f"bot was kicked from the {kind} chat")
            if chat.bot_status == "left":
                raise forbidden(f"bot is not a member of the {kind} chat")
        elif chat.blocked:
            raise forbidden("bot was blocked by the user")
        elif not chat.started:
            raise forbidden("bot can't initiate conversation with a user")
        return chat

    @staticmethod
    def find_message(chat: Chat, message_id: int | None) -> StoredMessage | None:
        if message_id is None:
            return None
        message = chat.messages.get(message_id)
        return None if message is None or message.deleted else message

    # --- the bot's side ----------------------------------------------------

    def bot_sends(
        self,
        chat: Chat,
        content: dict[str, Any],
        *,
        markup: Markup | None = None,
        reply_to: StoredMessage | None = None,
        forward_origin: dict[str, Any] | None = None,
    ) -> StoredMessage:
        message = StoredMessage(
            chat=chat,
            message_id=chat.take_message_id(),
            sender=self.bot,
            date=self.now(),
            content=content,
            markup=markup,
            reply_to=reply_to,
            forward_origin=forward_origin,
        )
        chat.messages[message.message_id] = message
        if markup is not None and markup.kind == "reply_keyboard":
            chat.reply_keyboard = markup.keyboard
        elif markup is not None and markup.kind == "remove_keyboard":
            chat.reply_keyboard = None
        self.stats.sent_total += 1
        self.stats.sent_per_chat[chat.id] += 1
        self._record(chat, "sent", message)
        return message

    def bot_edits(
        self,
        message: StoredMessage,
        *,
        content: dict[str, Any],
        inline_markup: Markup | None,
        method: str,
    ) -> None:
        """Apply an edit; `inline_markup` replaces the inline keyboard (None removes it)."""
        old_inline = message.markup if message.markup and message.markup.inline else None
        same_markup = inline_markup.same_as(old_inline) if inline_markup is not None else old_inline is None
        content_changed = content != message.content
        if not content_changed and same_markup:
            raise bad_request(NOT_MODIFIED)
        before = message.raw
        message.content = content
        if inline_markup is not None or old_inline is not None:
            message.markup = inline_markup
        if content_changed:  # a keyboard-only change does not mark a message edited
            message.edit_date = self.now()
        message.rebuild()
        message.edits.append(EditRecord(self.now(), method, before, message.raw))
        self.stats.edited_total += 1
        self._record(message.chat, "edited", message)

    def delete(self, message: StoredMessage) -> None:
        message.deleted = True
        self.stats.deleted_total += 1
        self._record(message.chat, "deleted", message)

    def _record(self, chat: Chat, kind: EventKind, message: StoredMessage) -> None:
        view = MessageView(message.raw, message.markup, kind, message.deleted)
        event = BotEvent(len(self.events), kind, view)
        self.events.append(event)
        chat.events.append(event)
        chat.signal.notify()
        self.activity.notify()

    def answer_callback(self, answer: CallbackAnswer) -> None:
        pending = self.callbacks.get(answer.callback_query_id)
        if pending is None or pending.answer is not None:
            raise bad_request(CALLBACK_QUERY_INVALID)
        pending.answer = answer
        self.callback_answers.append(answer)
        self.callback_signal.notify()

    def note_error(self, method: str, chat_id: int | str | None, code: int, text: str) -> None:
        self.stats.errors_by_code[code] += 1
        self.api_errors.append(ApiErrorRecord(method, chat_id, code, text))

    # --- the users' side ---------------------------------------------------

    def user_sends(
        self,
        chat: Chat,
        sender: User,
        content: dict[str, Any],
        *,
        reply_to: StoredMessage | None = None,
    ) -> StoredMessage:
        if not chat.is_group:
            if chat.blocked:
                raise RuntimeError(f"{sender.full_name} has blocked the bot; call emu.unblock(user) first")
            chat.started = True
        message = StoredMessage(
            chat=chat,
            message_id=chat.take_message_id(),
            sender=sender,
            date=self.now(),
            content=content,
            reply_to=reply_to,
        )
        chat.messages[message.message_id] = message
        if self.bot_sees(chat, content, reply_to):
            self.updates.push("message", message.raw)
        return message

    def user_edits(self, message: StoredMessage, content: dict[str, Any]) -> None:
        before = message.raw
        message.content = content
        message.edit_date = self.now()
        message.rebuild()
        message.edits.append(EditRecord(self.now(), "user edit", before, message.raw))
        if self.bot_sees(message.chat, content, message.reply_to):
            self.updates.push("edited_message", message.raw)

    def bot_sees(self, chat: Chat, content: dict[str, Any], reply_to: StoredMessage | None) -> bool:
        """Whether Telegram would deliver this user message to the bot."""
        if not chat.is_group:
            return True
        if chat.bot_status not in ("member", "administrator"):
            return False
        if not self.config.group_privacy or chat.bot_status == "administrator":
            return True
        if reply_to is not None and reply_to.from_bot:
            return True
        text = content.get("text") or content.get("caption") or ""
        username = (self.bot.username or "").lower()
        if text.startswith("/"):
            _, at, target = text.split(maxsplit=1)[0].partition("@")
            return not at or target.lower() == username
        return f"@{username}" in text.lower()

    def press_callback(self, chat: Chat, sender: User, message: StoredMessage, data: str) -> str:
        query_id = str(next(self._callback_ids))
        self.callbacks[query_id] = PendingCallback(query_id, chat.id)
        chat.last_press_id = query_id
        self.updates.push(
            "callback_query",
            {
                "id": query_id,
                "from": sender.json,
                "message": message.raw,
                "chat_instance": self._chat_instance(chat),
                "data": data,
            },
        )
        return query_id

    def _chat_instance(self, chat: Chat) -> str:
        digest = hashlib.sha256(f"{self.bot.id}:{chat.id}".encode()).digest()
        return str(int.from_bytes(digest[:8], "big") >> 1)

    async def wait_callback_answer(self, query_id: str, timeout: float) -> CallbackAnswer | None:
        pending = self.callbacks.get(query_id)
        if pending is None:
            raise KeyError(f"no callback query {query_id}")
        await wait_for_condition(self.callback_signal, lambda: pending.answer is not None, timeout)
        return pending.answer

    def next_media_group_id(self) -> str:
        return str(next(self._media_group_ids))

    def set_blocked(self, user: User, blocked: bool, *, notify: bool) -> None:
        chat = self.chats[user.id]
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        if notify:
            old, new = ("member", "kicked") if blocked else ("kicked", "member")
            self.updates.push(
                "my_chat_member",
                {
                    "chat": chat.json,
                    "from": user.json,
                    "date": self.now(),
                    "old_chat_member": member_json(self.bot, old),
                    "new_chat_member": member_json(self.bot, new),
                },
            )

    # --- views ---------------------------------------------------------------

    @staticmethod
    def view(message: StoredMessage) -> MessageView:
        event = "current" if message.from_bot else "user"
        return MessageView(message.raw, message.markup, event, message.deleted)
