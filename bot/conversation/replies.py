"""What the conversation answers, for any messenger to show in its own way.

Buttons are rows of `(label, payload)`; a pressed button comes back as
`inputs.Button(payload)`. Keyboards that ask the app for the person's phone
number or location are `Keys`; platforms without them show the labels as
buttons and take a typed answer. Each platform adapter checks its own limits
(payload length, how many buttons) when it renders.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# Buttons under a message: rows of (label, payload).
Rows = list[list[tuple[str, str]]]


@dataclass(frozen=True)
class MessageRef:
    """A message the bot sent earlier, to change its buttons or text."""

    chat_id: str
    message_id: str


class Ask(enum.StrEnum):
    """What a keyboard key asks the person's app to send."""

    CONTACT = "contact"
    LOCATION = "location"


@dataclass(frozen=True)
class Key:
    label: str
    asks: Ask | None = None


@dataclass(frozen=True)
class Keys:
    """A keyboard of answers to tap instead of typing; a key without `asks` sends its label as text."""

    rows: tuple[tuple[Key, ...], ...]
    # Stays up between messages (the main menu) rather than vanishing after one use.
    persistent: bool = False


@dataclass(frozen=True)
class RemoveKeys:
    """Take away the keyboard shown before (e.g. once the phone number is in)."""


REMOVE_KEYS = RemoveKeys()


@dataclass
class Say:
    """A message to the person: text, buttons under it, and what keyboard to show with it."""

    text: str
    buttons: Rows = field(default_factory=list)
    # None leaves whatever keyboard is showing.
    keys: Keys | RemoveKeys | None = None


@dataclass(frozen=True)
class Images:
    """Pictures to show, in order (a report's photos)."""

    images: tuple[bytes, ...]


@dataclass(frozen=True)
class EditButtons:
    """Change the buttons of the pressed message (`message` None) or of another one; no rows removes them."""

    rows: Rows
    message: MessageRef | None = None


@dataclass(frozen=True)
class ShowInPlace:
    """Replace the pressed message's text and buttons (paging); a new message where that cannot be done."""

    text: str
    buttons: Rows = field(default_factory=list)


@dataclass(frozen=True)
class Notice:
    """A short word to the one who pressed a button, shown on top of the chat where the platform can."""

    text: str


Reply = Say | Images | EditButtons | ShowInPlace | Notice

__all__ = [
    "REMOVE_KEYS",
    "Ask",
    "EditButtons",
    "Images",
    "Key",
    "Keys",
    "MessageRef",
    "Notice",
    "RemoveKeys",
    "Reply",
    "Rows",
    "Say",
    "ShowInPlace",
]
