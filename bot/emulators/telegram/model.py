"""The emulated world: users, chats and every message in them.

Messages are indexed by chat and id (dicts), never searched, so that a
request costs the same with ten messages stored or a million.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .markup import Keyboard, Markup
from .views import BotEvent
from .waiting import Signal

_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
)


@dataclass(frozen=True)
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    phone_number: str | None = field(default=None, compare=False)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    @cached_property
    def json(self) -> dict[str, Any]:
        """The Bot API User object (as it appears in `from`)."""
        result: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            result["last_name"] = self.last_name
        if self.username:
            result["username"] = self.username
        if self.language_code and not self.is_bot:
            result["language_code"] = self.language_code
        return result


@dataclass(eq=False, slots=True)
class Chat:
    id: int
    type: str  # "private", "group" or "supergroup"
    title: str | None = None
    username: str | None = None
    peer: User | None = None  # the user on the other side of a private chat
    members: dict[int, str] = field(default_factory=dict)  # user id -> ChatMember status
    bot_status: str = "member"
    blocked: bool = False
    started: bool = True
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    # Bot-side events (sent/edited/deleted) in order, consumed by `expect`.
    events: list[BotEvent] = field(default_factory=list)
    cursor: int = 0  # next event `expect` looks at
    deletion_cursor: int = 0  # next event `expect_deleted` looks at
    signal: Signal = field(default_factory=Signal)
    actions: list[str] = field(default_factory=list)
    reply_keyboard: Keyboard | None = None
    menu_button: dict[str, Any] | None = None
    last_press_id: str | None = None
    json: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.json = self._short_json()

    @property
    def is_group(self) -> bool:
        return self.type != "private"

    @property
    def display_name(self) -> str:
        if self.peer is not None:
            return self.peer.full_name
        return self.title or str(self.id)

    def _short_json(self) -> dict[str, Any]:
        """The short Chat object embedded in messages."""
        result: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.peer is not None:
            result["first_name"] = self.peer.first_name
            if self.peer.last_name:
                result["last_name"] = self.peer.last_name
            if self.peer.username:
                result["username"] = self.peer.username
        else:
            result["title"] = self.title
            if self.username:
                result["username"] = self.username
        return result

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass(frozen=True, slots=True)
class EditRecord:
    date: int
    method: str
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass(eq=False, slots=True)
class StoredMessage:
    chat: Chat
    message_id: int
    sender: User
    date: int
    content: dict[str, Any]
    markup: Markup | None = None
    reply_to: StoredMessage | None = None
    forward_origin: dict[str, Any] | None = None
    edit_date: int | None = None
    deleted: bool = False
    edits: list[EditRecord] = field(default_factory=list)
    # The Message JSON. Replaced, never mutated, on every change, so views
    # handed out earlier keep showing the state they were taken at.
    raw: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.rebuild()

    @property
    def from_bot(self) -> bool:
        return self.sender.is_bot

    def rebuild(self) -> None:
        raw: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender.json,
            "chat": self.chat.json,
            "date": self.date,
        }
        if self.edit_date is not None:
            raw["edit_date"] = self.edit_date
        if self.forward_origin is not None:
            raw["forward_origin"] = self.forward_origin
        if self.reply_to is not None:
            raw["reply_to_message"] = {
                key: value for key, value in self.reply_to.raw.items() if key != "reply_to_message"
            }
        raw.update(self.content)
        if self.markup is not None and self.markup.inline:
            raw["reply_markup"] = self.markup.raw
        self.raw = raw


def member_json(user: User, status: str) -> dict[str, Any]:
    """A ChatMember object with every field PTB requires for its status."""
    member: dict[str, Any] = {"status": status, "user": user.json}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update({"can_be_edited": False, "is_anonymous": False}, **{right: True for right in _ADMIN_RIGHTS})
    elif status == "kicked":
        member["until_date"] = 0
    return member
