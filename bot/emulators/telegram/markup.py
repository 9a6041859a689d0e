"""Reply markup: validating what the bot sends and reading it from tests.

Only inline keyboards are part of a Message object in the Bot API; reply
keyboards, ReplyKeyboardRemove and ForceReply change the user's client
instead. We keep all four so that tests can see and press what a real user
would see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import bad_request

INLINE_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "web_app",
    "copy_text",
)
MAX_CALLBACK_DATA_BYTES = 64
MAX_BUTTONS = 100

MarkupKind = Literal["inline_keyboard", "reply_keyboard", "remove_keyboard", "force_reply"]


class ButtonNotFound(AssertionError, LookupError):
    """A test tried to press a button that the message does not have."""


@dataclass(frozen=True)
class Button:
    text: str
    callback_data: str | None = None
    url: str | None = None
    request_contact: bool = False
    request_location: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def kind(self) -> str:
        """What pressing it does: callback, url, request_contact, text..."""
        if self.callback_data is not None:
            return "callback"
        if self.request_contact:
            return "request_contact"
        if self.request_location:
            return "request_location"
        for action in INLINE_ACTIONS[1:]:
            if action in self.raw:
                return action
        return "text"


@dataclass(frozen=True)
class Keyboard:
    inline: bool
    rows: tuple[tuple[Button, ...], ...]
    one_time: bool = False
    placeholder: str | None = None

    @property
    def buttons(self) -> list[str]:
        """Every button's text, row by row, left to right."""
        return [button.text for row in self.rows for button in row]

    @property
    def button_rows(self) -> list[list[str]]:
        return [[button.text for button in row] for row in self.rows]

    def all_buttons(self) -> list[Button]:
        return [button for row in self.rows for button in row]

    def find(self, text: str | None = None, *, callback_data: str | None = None) -> Button:
        if text is None and callback_data is None:
            raise ValueError("give the button's text or its callback_data")
        for button in self.all_buttons():
            if text is not None and button.text != text:
                continue
            if callback_data is not None and button.callback_data != callback_data:
                continue
            return button
        wanted = repr(text) if text is not None else f"callback_data={callback_data!r}"
        available = ", ".join(
            f"{button.text!r}" + (f" ({button.callback_data!r})" if button.callback_data else "")
            for button in self.all_buttons()
        )
        raise ButtonNotFound(f"no button {wanted}; the keyboard has: {available or 'nothing'}")


@dataclass(frozen=True)
class Markup:
    kind: MarkupKind
    raw: Mapping[str, Any]
    keyboard: Keyboard | None = None

    @property
    def inline(self) -> bool:
        return self.kind == "inline_keyboard"

    def same_as(self, other: Markup | None) -> bool:
        return other is not None and self.kind == other.kind and self.raw == other.raw


def parse_reply_markup(value: object, *, private_chat: bool) -> Markup | None:
    """Validate and normalise a `reply_markup` parameter like Telegram does.

    Returns None for an inline keyboard without buttons: Telegram treats that
    as "no markup", which is how bots remove a keyboard when editing.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in value:
        return _inline_markup(value["inline_keyboard"], private_chat=private_chat)
    if "keyboard" in value:
        return _reply_keyboard(value)
    if value.get("remove_keyboard"):
        return Markup("remove_keyboard", {"remove_keyboard": True})
    if value.get("force_reply"):
        raw = {"force_reply": True}
        if value.get("input_field_placeholder"):
            raw["input_field_placeholder"] = value["input_field_placeholder"]
        return Markup("force_reply", raw)
    raise bad_request("can't parse reply keyboard markup JSON object")


def _rows(value: object, field_name: str, type_name: str) -> Sequence[Sequence[object]]:
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise bad_request(f'field "{field_name}" of the {type_name} must be an Array of Arrays')
    if sum(len(row) for row in value) > MAX_BUTTONS:
        raise bad_request("BUTTONS_TOO_MUCH")
    return value


def _inline_markup(value: object, *, private_chat: bool) -> Markup | None:
    rows = tuple(
        tuple(_inline_button(item, private_chat=private_chat) for item in row)
        for row in _rows(value, "inline_keyboard", "InlineKeyboardMarkup")
    )
    rows = tuple(row for row in rows if row)
    if not rows:
        return None
    raw = {"inline_keyboard": [[dict(button.raw) for button in row] for row in rows]}
    return Markup("inline_keyboard", raw, Keyboard(inline=True, rows=rows))


def _inline_button(item: object, *, private_chat: bool) -> Button:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(item, dict):
        raise bad_request(prefix + "InlineKeyboardButton must be an Object")
    text = item.get("text")
    if not isinstance(text, str):
        raise bad_request(prefix + 'Field "text" must be of type String')
    actions = [name for name in INLINE_ACTIONS if item.get(name) is not None]
    if not actions:
        raise bad_request(prefix + "Text buttons are unallowed in the inline keyboard")
    callback_data = item.get("callback_data")
    if callback_data is not None:
        size = len(str(callback_data).encode("utf-8"))
        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    url = item.get("url")
    if url is not None and not str(url).startswith(("http://", "https://", "tg://")):
        raise bad_request("BUTTON_URL_INVALID")
    if "web_app" in actions and not private_chat:
        raise bad_request("BUTTON_TYPE_INVALID")
    raw = {"text": text, **{name: item[name] for name in actions}}
    return Button(
        text=text,
        callback_data=None if callback_data is None else str(callback_data),
        url=None if url is None else str(url),
        raw=raw,
    )


def _reply_keyboard(value: dict[str, Any]) -> Markup:
    rows = tuple(
        tuple(_reply_button(item) for item in row)
        for row in _rows(value["keyboard"], "keyboard", "ReplyKeyboardMarkup")
    )
    keyboard = Keyboard(
        inline=False,
        rows=rows,
        one_time=bool(value.get("one_time_keyboard")),
        placeholder=value.get("input_field_placeholder"),
    )
    raw = {key: item for key, item in value.items() if key != "keyboard" and item is not None}
    raw["keyboard"] = [[dict(button.raw) for button in row] for row in rows]
    return Markup("reply_keyboard", raw, keyboard)


def _reply_button(item: object) -> Button:
    if isinstance(item, str):
        return Button(text=item, raw={"text": item})
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise bad_request("can't parse keyboard button: KeyboardButton must be a String or an Object")
    raw = {key: value for key, value in item.items() if value is not None}
    return Button(
        text=item["text"],
        request_contact=bool(item.get("request_contact")),
        request_location=bool(item.get("request_location")),
        raw=raw,
    )
