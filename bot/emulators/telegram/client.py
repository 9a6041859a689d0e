"""The test-side API: act as a user in a chat and watch what the bot does.

A `ChatHandle` injects what a Telegram client would send (texts, contacts,
locations, photos, button presses) and waits for the bot's answers.
`expect` keeps a per-chat cursor over the bot's messages and edits, so each
one is consumed once and a test reads the conversation in order.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .files import photo_json
from .formatting import command_entities
from .markup import Button, ButtonNotFound, Keyboard
from .model import Chat, EditRecord, StoredMessage, User
from .state import EmulatorState
from .views import CallbackAnswer, MessageView

DEFAULT_TIMEOUT = 10.0
HISTORY_SHOWN_ON_FAILURE = 12

_fake_media_numbers = itertools.count(1)

MessageRef = MessageView | int


@dataclass(frozen=True)
class CallbackPress:
    """A pressed inline button; the bot should answer it with answerCallbackQuery."""

    query_id: str
    data: str
    message: MessageView
    handle: ChatHandle = field(repr=False, compare=False)

    async def answer(self, timeout: float = DEFAULT_TIMEOUT) -> CallbackAnswer:
        return await self.handle.expect_callback_answer(self, timeout=timeout)


def _fake_media(kind: str) -> bytes:
    # Unique per call, so each fake file gets its own file_unique_id.
    return f"emulated {kind} #{next(_fake_media_numbers)}".encode()


class ChatHandle:
    """One chat seen by one user (`sender`); group handles can switch sender."""

    def __init__(self, state: EmulatorState, chat: Chat, sender: User | None) -> None:
        self._state = state
        self.chat = chat
        self._sender = sender

    def __repr__(self) -> str:
        return f"<ChatHandle {self.chat.type} {self.chat.id} {self.chat.display_name!r}>"

    @property
    def id(self) -> int:
        return self.chat.id

    @property
    def sender(self) -> User:
        if self._sender is None:
            raise ValueError(f"{self!r} has no sender; use .as_user(user)")
        return self._sender

    def as_user(self, user: User) -> ChatHandle:
        """The same chat, acting as another member (the expect cursor is shared)."""
        return ChatHandle(self._state, self.chat, user)

    # --- what a user sends ---------------------------------------------------

    async def send_text(self, text: str, *, reply_to: MessageRef | None = None) -> MessageView:
        content: dict[str, Any] = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        return self._inject(content, reply_to)

    async def send_contact(
        self,
        phone_number: str | None = None,
        *,
        own: bool = True,
        first_name: str | None = None,
        last_name: str | None = None,
        user_id: int | None = None,
        reply_to: MessageRef | None = None,
    ) -> MessageView:
        """Share a contact; own=True shares the sender's own (contact.user_id = sender)."""
        sender = self.sender
        phone = phone_number or (sender.phone_number if own else None)
        if not phone:
            raise ValueError("give phone_number, or create the user with phone_number=...")
        contact: dict[str, Any] = {"phone_number": phone}
        if own:
            contact["first_name"] = first_name or sender.first_name
            if last_name or sender.last_name:
                contact["last_name"] = last_name or sender.last_name
            contact["user_id"] = sender.id
        else:
            contact["first_name"] = first_name or "Contact"
            if last_name:
                contact["last_name"] = last_name
            if user_id is not None:
                contact["user_id"] = user_id
        return self._inject({"contact": contact}, reply_to)

    async def send_location(
        self,
        latitude: float,
        longitude: float,
        *,
        horizontal_accuracy: float | None = None,
        reply_to: MessageRef | None = None,
    ) -> MessageView:
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        return self._inject({"location": location}, reply_to)

    async def send_venue(
        self,
        latitude: float,
        longitude: float,
        *,
        title: str,
        address: str,
        reply_to: MessageRef | None = None,
    ) -> MessageView:
        location = {"latitude": latitude, "longitude": longitude}
        venue = {"location": location, "title": title, "address": address}
        return self._inject({"venue": venue, "location": location}, reply_to)

    async def send_photo(
        self,
        data: bytes | Sequence[bytes],
        *,
        caption: str | None = None,
        media_group_id: str | None = None,
        reply_to: MessageRef | None = None,
    ) -> MessageView:
        """Send a photo: original bytes (sizes are derived) or explicit sizes, smallest first."""
        files = self._state.files
        sizes = files.add_photo(data) if isinstance(data, bytes) else files.add_photo_sizes(data)
        content: dict[str, Any] = {"photo": photo_json(sizes)}
        return self._inject(self._with_caption(content, caption, media_group_id), reply_to)

    async def send_album(self, photos: Sequence[bytes], *, caption: str | None = None) -> list[MessageView]:
        """Several photos as Telegram delivers an album: one update each, one media_group_id."""
        if len(photos) < 2:
            raise ValueError("an album has at least two items")
        group_id = self._state.next_media_group_id()
        return [
            await self.send_photo(photo, caption=caption if index == 0 else None, media_group_id=group_id)
            for index, photo in enumerate(photos)
        ]

    async def send_document(
        self,
        data: bytes,
        *,
        file_name: str = "document.pdf",
        mime_type: str | None = None,
        caption: str | None = None,
        media_group_id: str | None = None,
        reply_to: MessageRef | None = None,
    ) -> MessageView:
        stored = self._state.files.add("document", data, file_name=file_name, mime_type=mime_type)
        content: dict[str, Any] = {"document": stored.as_object()}
        return self._inject(self._with_caption(content, caption, media_group_id), reply_to)

    async def send_sticker(self, data: bytes | None = None, *, emoji: str = "👍") -> MessageView:
        stored = self._state.files.add("sticker", data or _fake_media("sticker"), width=512, height=512, emoji=emoji)
        return self._inject({"sticker": stored.as_object()}, None)

    async def send_voice(self, data: bytes | None = None, *, duration: int = 3) -> MessageView:
        stored = self._state.files.add("voice", data or _fake_media("voice"), duration=duration)
        return self._inject({"voice": stored.as_object()}, None)

    async def send_video(
        self,
        data: bytes | None = None,
        *,
        duration: int = 5,
        width: int = 640,
        height: int = 360,
        caption: str | None = None,
    ) -> MessageView:
        stored = self._state.files.add(
            "video", data or _fake_media("video"), width=width, height=height, duration=duration, file_name="video.mp4"
        )
        return self._inject(self._with_caption({"video": stored.as_object()}, caption, None), None)

    async def edit_text(self, message: MessageRef, text: str) -> MessageView:
        """The user edits one of their own text messages (an edited_message update)."""
        stored = self._stored(message)
        if stored.sender.id != self.sender.id or "text" not in stored.content:
            raise ValueError("a user can only edit their own text messages")
        content: dict[str, Any] = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        self._state.user_edits(stored, content)
        return self._state.view(stored)

    async def press(
        self,
        message: MessageRef,
        text: str | None = None,
        *,
        callback_data: str | None = None,
    ) -> CallbackPress:
        """Press an inline button, found by text or callback_data, on the message as it is now.

        Raises ButtonNotFound (an AssertionError) if the message, in its
        current state, has no such button.
        """
        stored = self._stored(message)
        markup = stored.markup
        if markup is None or markup.keyboard is None:
            summary = self._state.view(stored).summary()
            raise ButtonNotFound(f"message has no keyboard now: {summary}")
        if not markup.inline:
            raise ButtonNotFound(f"message #{stored.message_id} has a reply keyboard; use press_keyboard(text)")
        button = markup.keyboard.find(text, callback_data=callback_data)
        if button.callback_data is None:
            raise AssertionError(
                f"button {button.text!r} is a {button.kind} button; pressing it does not reach the bot"
            )
        query_id = self._state.press_callback(self.chat, self.sender, stored, button.callback_data)
        return CallbackPress(query_id, button.callback_data, self._state.view(stored), self)

    async def press_stale(self, message: MessageRef, callback_data: str) -> CallbackPress:
        """A press carrying data that no current button has.

        Telegram delivers these for buttons of old messages whose keyboard the
        bot has since changed, and for clients that forge callback data; the
        bot must answer them like any other press.
        """
        stored = self._stored(message)
        query_id = self._state.press_callback(self.chat, self.sender, stored, callback_data)
        return CallbackPress(query_id, callback_data, self._state.view(stored), self)

    async def press_keyboard(self, text: str, *, location: tuple[float, float] | None = None) -> MessageView:
        """Tap a button of the reply keyboard currently shown in this chat.

        A request_contact button shares the sender's own contact (the user
        needs a phone_number); a request_location button needs `location`.
        """
        keyboard = self.reply_keyboard
        if keyboard is None:
            raise ButtonNotFound("no reply keyboard is shown in this chat")
        button = keyboard.find(text)
        if keyboard.one_time:
            self.chat.reply_keyboard = None
        return await self._tap(button, location)

    async def _tap(self, button: Button, location: tuple[float, float] | None) -> MessageView:
        if button.request_contact:
            return await self.send_contact(own=True)
        if button.request_location:
            if location is None:
                raise ValueError(f"button {button.text!r} shares a location: pass location=")
            return await self.send_location(*location)
        return await self.send_text(button.text)

    # --- what the bot does ---------------------------------------------------

    async def expect(
        self,
        predicate: Callable[[MessageView], bool] | None = None,
        *,
        contains: str | None = None,
        edited: bool | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> MessageView:
        """Wait for the bot's next message or edit in this chat that matches.

        `contains` looks in the text or caption; `edited` restricts to edits
        (True) or to new messages (False). Bot messages that arrive and do not
        match are consumed (skipped); on timeout the AssertionError lists them
        along with recent history.
        """

        def matches(view: MessageView) -> bool:
            if edited is not None and (view.event == "edited") != edited:
                return False
            if contains is not None and contains not in view.content:
                return False
            return predicate is None or predicate(view)

        chat = self.chat
        skipped: list[MessageView] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            while chat.cursor < len(chat.events):
                event = chat.events[chat.cursor]
                chat.cursor += 1
                if event.kind == "deleted":
                    continue
                if matches(event.view):
                    return event.view
                skipped.append(event.view)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(self._report(_describe(predicate, contains, edited), timeout, skipped))
            await chat.signal.wait(remaining)

    async def expect_deleted(
        self, message: MessageRef | None = None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> MessageView:
        """Wait until the bot deletes a message (this one, if given)."""
        wanted = message.message_id if isinstance(message, MessageView) else message
        chat = self.chat
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            while chat.deletion_cursor < len(chat.events):
                event = chat.events[chat.deletion_cursor]
                chat.deletion_cursor += 1
                if event.kind == "deleted" and wanted in (None, event.view.message_id):
                    return event.view
            remaining = deadline - loop.time()
            if remaining <= 0:
                what = f"deletion of #{wanted}" if wanted else "deletion"
                raise AssertionError(self._report(what, timeout, []))
            await chat.signal.wait(remaining)

    async def expect_callback_answer(
        self, press: CallbackPress | str | None = None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> CallbackAnswer:
        """Wait for the bot to answer a press (by default the latest one in this chat)."""
        query_id = press.query_id if isinstance(press, CallbackPress) else press
        query_id = query_id or self.chat.last_press_id
        if query_id is None:
            raise AssertionError("no inline button was pressed in this chat")
        answer = await self._state.wait_callback_answer(query_id, timeout)
        if answer is None:
            raise AssertionError(self._report(f"answerCallbackQuery for query {query_id}", timeout, []))
        return answer

    async def expect_no_message(self, within: float = 0.3) -> None:
        """Assert the bot sends or edits nothing here for `within` seconds."""
        chat = self.chat
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            unexpected = [event.view for event in chat.events[chat.cursor :] if event.kind != "deleted"]
            if unexpected:
                chat.cursor = len(chat.events)
                listed = "\n".join("  " + view.summary() for view in unexpected)
                raise AssertionError(f"expected no bot message in {self!r}, got:\n{listed}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await chat.signal.wait(remaining)

    def drain(self) -> list[MessageView]:
        """Consume and return every bot message/edit not yet expected."""
        chat = self.chat
        views = [event.view for event in chat.events[chat.cursor :] if event.kind != "deleted"]
        chat.cursor = len(chat.events)
        return views

    def mark(self) -> int:
        return len(self.chat.events)

    def since(self, mark: int) -> list[MessageView]:
        """The bot's messages and edits in this chat after `mark()` (not consumed)."""
        return [event.view for event in self.chat.events[mark:] if event.kind != "deleted"]

    # --- state -----------------------------------------------------------------

    @property
    def history(self) -> list[MessageView]:
        """Every message in both directions, in its current state (deleted ones flagged)."""
        return [self._state.view(message) for message in self.chat.messages.values()]

    @property
    def bot_messages(self) -> list[MessageView]:
        """The bot's messages that still exist, in their current state."""
        return [
            self._state.view(message)
            for message in self.chat.messages.values()
            if message.from_bot and not message.deleted
        ]

    @property
    def last_bot_message(self) -> MessageView | None:
        for message in reversed(self.chat.messages.values()):
            if message.from_bot and not message.deleted:
                return self._state.view(message)
        return None

    @property
    def reply_keyboard(self) -> Keyboard | None:
        """The reply keyboard the user currently sees, if any."""
        return self.chat.reply_keyboard

    @property
    def actions(self) -> list[str]:
        """Chat actions (typing, upload_photo...) the bot sent, in order."""
        return list(self.chat.actions)

    def message(self, message: MessageRef) -> MessageView:
        """A message's current state."""
        return self._state.view(self._stored(message, allow_deleted=True))

    def edits_of(self, message: MessageRef) -> list[EditRecord]:
        return list(self._stored(message, allow_deleted=True).edits)

    # --- internals -------------------------------------------------------------

    def _inject(self, content: dict[str, Any], reply_to: MessageRef | None) -> MessageView:
        replied = self._stored(reply_to) if reply_to is not None else None
        message = self._state.user_sends(self.chat, self.sender, content, reply_to=replied)
        return self._state.view(message)

    @staticmethod
    def _with_caption(content: dict[str, Any], caption: str | None, media_group_id: str | None) -> dict[str, Any]:
        if caption:
            content["caption"] = caption
            entities = command_entities(caption)
            if entities:
                content["caption_entities"] = entities
        if media_group_id:
            content["media_group_id"] = media_group_id
        return content

    def _stored(self, message: MessageRef, *, allow_deleted: bool = False) -> StoredMessage:
        if isinstance(message, MessageView):
            if message.chat_id != self.chat.id:
                raise ValueError(f"message #{message.message_id} belongs to chat {message.chat_id}, not {self.chat.id}")
            message_id = message.message_id
        else:
            message_id = message
        stored = self.chat.messages.get(message_id)
        if stored is None or (stored.deleted and not allow_deleted):
            raise AssertionError(f"message #{message_id} does not exist (any more) in {self!r}")
        return stored

    def _report(self, what: str, timeout: float, skipped: list[MessageView]) -> str:
        chat = self.chat
        lines = [f"no {what} from the bot in chat {chat.id} ({chat.display_name}) within {timeout:g}s"]
        if skipped:
            lines.append("bot messages/edits that arrived but did not match:")
            lines.extend("  " + view.summary() for view in skipped)
        else:
            lines.append("no new bot messages or edits arrived")
        recent = list(chat.messages.values())[-HISTORY_SHOWN_ON_FAILURE:]
        lines.append("recent history:" if recent else "history: empty")
        lines.extend("  " + self._state.view(message).summary() for message in recent)
        errors = [error for error in self._state.api_errors if error.chat_id == chat.id][-5:]
        if errors:
            lines.append("Bot API errors returned to the bot for this chat:")
            lines.extend(f"  {error.method}: {error.error_code} {error.description}" for error in errors)
        if self._state.internal_errors:
            lines.append(f"emulator internal errors: {len(self._state.internal_errors)} (see emu.internal_errors)")
        pending = self._state.updates.pending_count
        if pending:
            lines.append(f"updates not yet confirmed by the bot: {pending} (is it polling? did a handler hang?)")
        return "\n".join(lines)


def _describe(predicate: Callable[[MessageView], bool] | None, contains: str | None, edited: bool | None) -> str:
    parts = []
    if edited is not None:
        parts.append("that is an edit" if edited else "that is new (not an edit)")
    if contains is not None:
        parts.append(f"containing {contains!r}")
    if predicate is not None:
        parts.append(f"matching {getattr(predicate, '__name__', repr(predicate))}")
    return "message " + " and ".join(parts) if parts else "message or edit"
