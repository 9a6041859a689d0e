"""What a person sent, as any messenger can say it: who sent it and what kind of thing it is.

A platform adapter turns its own update into one of these before calling the
conversation; the conversation never sees a platform's objects. Identities,
chats and files are strings chosen by the platform, always next to the
platform's name, because an id means nothing without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.conversation.replies import MessageRef, Rows


@dataclass(frozen=True)
class Sender:
    """The person writing, as their platform names them."""

    platform: str
    user_id: str
    # The private chat the bot answers in; some platforms use the user id.
    chat_id: str
    display_name: str = ""
    # The language their app is set to, a hint until they choose one.
    client_language: str | None = None
    # A message in the private chat (not in a group) also means they have not blocked the bot.
    private: bool = True


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Command:
    """A command such as /report, without its slash; `args` are the words after it."""

    name: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Button:
    """A pressed button's payload and, where the platform says it, the message it sat on with its buttons."""

    payload: str
    message: MessageRef | None = None
    rows: Rows = field(default_factory=list)


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    # A named place picked from a map ("venue"), where the platform offers one.
    title: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Contact:
    phone: str
    # Whose contact card it is, as the platform names users: sharing one's own number says so.
    owner_id: str | None = None


@dataclass(frozen=True)
class FileRef:
    """A file kept by a platform, fetched only when needed."""

    platform: str
    file_id: str


@dataclass(frozen=True)
class Upload:
    """A photo or a document (an image sent as a file, or anything else)."""

    file: FileRef
    # As the platform declares it before download; None when it does not say.
    size: int | None = None
    # Sent as a photo (compressed by the app) rather than as a file.
    photo: bool = True
    # Several uploads sent together ("album"); the platform's grouping id.
    album: str | None = None


@dataclass(frozen=True)
class Other:
    """Anything the conversation does not take: a sticker, a voice note, a poll."""


Input = Text | Command | Button | Location | Contact | Upload | Other

__all__ = [
    "Button",
    "Command",
    "Contact",
    "FileRef",
    "Input",
    "Location",
    "MessageRef",
    "Other",
    "Sender",
    "Text",
    "Upload",
]
