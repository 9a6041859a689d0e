"""Read-only snapshots that tests get back from the emulator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .markup import Button, ButtonNotFound, Keyboard, Markup

EventKind = Literal["sent", "edited", "deleted"]


@dataclass(frozen=True, slots=True)
class MessageView:
    """One message as it was at some moment.

    `raw` is exactly the Message JSON the bot saw (or would see). `markup`
    also covers reply keyboards, which Telegram does not put into `raw`.
    `event` says why the view was taken: "sent"/"edited"/"deleted" for bot
    events, "user" for a message a test injected, "current" for history.
    """

    raw: Mapping[str, Any]
    markup: Markup | None = None
    event: str = "current"
    deleted: bool = False

    @property
    def is_edit(self) -> bool:
        return self.event == "edited"

    @property
    def message_id(self) -> int:
        return int(self.raw["message_id"])

    @property
    def chat_id(self) -> int:
        return int(self.raw["chat"]["id"])

    @property
    def sender_id(self) -> int:
        return int(self.raw["from"]["id"])

    @property
    def from_bot(self) -> bool:
        return bool(self.raw["from"]["is_bot"])

    @property
    def date(self) -> int:
        return int(self.raw["date"])

    @property
    def edit_date(self) -> int | None:
        return self.raw.get("edit_date")

    @property
    def text(self) -> str | None:
        return self.raw.get("text")

    @property
    def caption(self) -> str | None:
        return self.raw.get("caption")

    @property
    def content(self) -> str:
        """The text, or the caption of a media message; "" if neither."""
        return self.raw.get("text") or self.raw.get("caption") or ""

    @property
    def entities(self) -> list[dict[str, Any]]:
        return list(self.raw.get("entities") or self.raw.get("caption_entities") or [])

    @property
    def photo(self) -> list[dict[str, Any]] | None:
        return self.raw.get("photo")

    @property
    def largest_photo(self) -> dict[str, Any] | None:
        photo = self.raw.get("photo")
        return photo[-1] if photo else None

    @property
    def document(self) -> dict[str, Any] | None:
        return self.raw.get("document")

    @property
    def location(self) -> dict[str, Any] | None:
        return self.raw.get("location")

    @property
    def venue(self) -> dict[str, Any] | None:
        return self.raw.get("venue")

    @property
    def contact(self) -> dict[str, Any] | None:
        return self.raw.get("contact")

    @property
    def media_group_id(self) -> str | None:
        return self.raw.get("media_group_id")

    @property
    def reply_to_message_id(self) -> int | None:
        replied = self.raw.get("reply_to_message")
        return int(replied["message_id"]) if replied else None

    @property
    def keyboard(self) -> Keyboard | None:
        """The inline or reply keyboard sent with this message, if any."""
        return self.markup.keyboard if self.markup else None

    @property
    def has_inline_keyboard(self) -> bool:
        return self.markup is not None and self.markup.inline

    @property
    def removes_keyboard(self) -> bool:
        return self.markup is not None and self.markup.kind == "remove_keyboard"

    @property
    def force_reply(self) -> bool:
        return self.markup is not None and self.markup.kind == "force_reply"

    @property
    def buttons(self) -> list[str]:
        """Texts of every button (inline or reply keyboard), row by row."""
        keyboard = self.keyboard
        return keyboard.buttons if keyboard else []

    @property
    def button_rows(self) -> list[list[str]]:
        keyboard = self.keyboard
        return keyboard.button_rows if keyboard else []

    def button(self, text: str | None = None, *, callback_data: str | None = None) -> Button:
        """The button with this text (or callback_data); raises ButtonNotFound."""
        keyboard = self.keyboard
        if keyboard is None:
            raise ButtonNotFound(f"message #{self.message_id} has no keyboard")
        return keyboard.find(text, callback_data=callback_data)

    def summary(self, width: int = 80) -> str:
        """One line for error messages: who, what, which buttons."""
        who = "bot" if self.from_bot else f"user {self.sender_id}"
        body = self.content
        if not body:
            kinds = (
                "photo",
                "document",
                "venue",
                "location",
                "contact",
                "sticker",
                "voice",
                "video",
                "audio",
                "animation",
            )
            body = "<" + next((kind for kind in kinds if kind in self.raw), "message") + ">"
        body = body.replace("\n", " / ")
        if len(body) > width:
            body = body[: width - 1] + "…"
        line = f"#{self.message_id} {who}: {body!r}"
        if self.buttons:
            line += " [" + " | ".join(self.buttons) + "]"
        if self.event == "edited" or (self.event == "current" and self.edit_date):
            line += " (edited)"
        if self.deleted:
            line += " (deleted)"
        return line


@dataclass(frozen=True, slots=True)
class BotEvent:
    seq: int
    kind: EventKind
    view: MessageView


@dataclass(frozen=True)
class CallbackAnswer:
    callback_query_id: str
    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int | None = None


@dataclass(frozen=True)
class ApiErrorRecord:
    """An error the emulator answered the bot with; shown when `expect` times out."""

    method: str
    chat_id: int | str | None
    error_code: int
    description: str
