"""`BotApiEmulator`: a local Telegram Bot API server plus the handles to drive it."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from aiohttp import web

from .client import ChatHandle
from .errors import ApiError
from .model import User
from .ratelimit import RateLimits
from .server import ApiServer
from .state import MB, EmulatorConfig, EmulatorState, Stats, command_scope_key
from .views import ApiErrorRecord, CallbackAnswer, MessageView
from .waiting import wait_for_condition

DEFAULT_TOKEN = "123456:TEST-TOKEN"


class BotApiEmulator:
    """Serves the Bot API on 127.0.0.1 for a bot under test.

    Point the bot at `base_url` / `base_file_url`; create users and groups
    with `add_user` / `add_group`; talk to the bot through the returned
    `ChatHandle`s. Everything runs on the caller's event loop.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_username: str = "congdan_test_bot",
        bot_first_name: str = "Công dân",
        group_privacy: bool = True,
        max_download_size: int = 20 * MB,
        max_upload_size: int = 50 * MB,
        photo_thumbnails: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = EmulatorState(
            EmulatorConfig(
                token=token,
                bot_username=bot_username,
                bot_first_name=bot_first_name,
                group_privacy=group_privacy,
                max_download_size=max_download_size,
                max_upload_size=max_upload_size,
                photo_thumbnails=photo_thumbnails,
                clock=clock,
            )
        )
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    # --- lifecycle -----------------------------------------------------------

    async def start(self) -> BotApiEmulator:
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        runner = web.AppRunner(ApiServer(self.state).app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
            # 200 simulated citizens means bursts of many connections at once.
            await web.SockSite(runner, sock, backlog=1024).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._port = sock.getsockname()[1]
        self._runner = runner
        self.state.updates.reopen()
        return self

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        # Release long polls first, or cleanup would wait for them to time out.
        self.state.updates.close()
        await self.state.webhook_delivery.wait_stopped()
        await runner.cleanup()

    async def __aenter__(self) -> BotApiEmulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- where the bot connects ------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def base_url(self) -> str:
        """For ApplicationBuilder().base_url(...): PTB appends the token."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ApplicationBuilder().base_file_url(...)."""
        return f"{self.url}/file/bot"

    @property
    def token(self) -> str:
        return self.state.config.token

    @property
    def bot_user(self) -> User:
        return self.state.bot

    # --- the world ---------------------------------------------------------------

    def add_user(
        self,
        first_name: str = "Người dùng",
        last_name: str | None = None,
        *,
        username: str | None = None,
        language_code: str | None = "vi",
        phone_number: str | None = None,
        user_id: int | None = None,
        started: bool = True,
    ) -> User:
        """A Telegram user with a private chat with the bot (chat id == user id).

        started=False means the user never opened the bot: the bot's sends
        get 403 "bot can't initiate conversation" until the user writes.
        """
        return self.state.add_user(
            first_name,
            last_name,
            username=username,
            language_code=language_code,
            phone_number=phone_number,
            user_id=user_id,
            started=started,
        )

    def add_group(
        self,
        title: str,
        members: Iterable[User] = (),
        *,
        admins: Iterable[User] = (),
        supergroup: bool = False,
        username: str | None = None,
        bot_is_admin: bool = False,
        chat_id: int | None = None,
        added_by: User | None = None,
    ) -> ChatHandle:
        """A group the bot is in; the handle sends as the first member (see as_user).

        The first admin (else the first member) is the group's creator; other
        admins are administrators. bot_is_admin=True also lifts privacy mode.
        added_by=member queues the my_chat_member update Telegram sends when
        that member adds the bot (old status "left", `from` the member);
        without it the bot is simply there, as if added before the test.
        """
        member_list = list(members)
        chat = self.state.add_group(
            title,
            member_list,
            admins=admins,
            supergroup=supergroup,
            username=username,
            bot_is_admin=bot_is_admin,
            chat_id=chat_id,
            added_by=added_by,
        )
        return ChatHandle(self.state, chat, member_list[0] if member_list else None)

    def private_chat(self, user: User) -> ChatHandle:
        return ChatHandle(self.state, self.state.chats[user.id], user)

    def chat(self, chat: ChatHandle | int, sender: User | None = None) -> ChatHandle:
        """A handle to any chat by id (or another handle), acting as `sender`."""
        chat_id = chat.id if isinstance(chat, ChatHandle) else chat
        stored = self.state.chats[chat_id]
        return ChatHandle(self.state, stored, sender or stored.peer)

    def block(self, user: User, *, notify: bool = True) -> None:
        """The user blocks the bot: sends to them get 403 "bot was blocked by the user".

        notify=True also queues the my_chat_member update Telegram sends.
        """
        self.state.set_blocked(user, True, notify=notify)

    def unblock(self, user: User, *, notify: bool = True) -> None:
        self.state.set_blocked(user, False, notify=notify)

    def set_rate_limit(
        self,
        global_per_second: float | None = None,
        per_chat_per_second: float | None = None,
        per_group_per_minute: float | None = None,
    ) -> None:
        """Enable Telegram-like flood limits (429 + retry_after); None leaves one off."""
        self.state.limiter.configure(RateLimits(global_per_second, per_chat_per_second, per_group_per_minute))

    def clear_rate_limit(self) -> None:
        self.state.limiter.configure(RateLimits())

    def fail_chat(
        self,
        chat: ChatHandle | User | int | str,
        error_code: int = 500,
        description: str = "Internal Server Error",
    ) -> None:
        """Answer every Bot API call about this chat with an error (a 5xx by default),
        as Telegram sometimes does for one chat while the rest works."""
        chat_id = chat if isinstance(chat, int | str) else chat.id
        self.state.failing_chats[chat_id] = ApiError(error_code, description)

    def heal_chat(self, chat: ChatHandle | User | int | str) -> None:
        chat_id = chat if isinstance(chat, int | str) else chat.id
        self.state.failing_chats.pop(chat_id, None)

    def register_url(self, url: str, data: bytes, mime_type: str | None = None) -> None:
        """Let the bot send this URL as a photo/document (Telegram would download it)."""
        self.state.files.register_url(url, data, mime_type)

    def inject_update(self, kind: str, payload: dict[str, Any]) -> int | None:
        """Queue a raw update, e.g. inject_update("message", {...}); returns its update_id."""
        return self.state.updates.push(kind, payload)

    # --- waiting and observing -----------------------------------------------------

    async def wait_delivered(self, timeout: float = 10.0) -> None:
        """Wait until the bot has fetched every update queued so far."""
        if not await self.state.updates.wait_delivered(timeout):
            raise AssertionError(
                f"the bot did not fetch {self.state.updates.pending_count} pending update(s) "
                f"within {timeout:g}s; is it polling {self.base_url}?"
            )

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `condition()` holds.

        It is re-checked whenever the bot does something visible here (any
        Bot API call), so it suits conditions like `emu.sent_count >= n`; a
        condition on state the bot changes without calling the API is only
        re-checked at the next call or at the timeout.
        """
        if not await wait_for_condition(self.state.activity, condition, timeout):
            raise AssertionError(f"condition not met within {timeout:g}s")

    def mark(self) -> int:
        """A point in the bot's activity, for bot_messages_since."""
        return len(self.state.events)

    def bot_messages_since(self, mark: int, chat: ChatHandle | int | None = None) -> list[MessageView]:
        """Bot messages and edits after `mark`, optionally in one chat (not consumed)."""
        chat_id = chat.id if isinstance(chat, ChatHandle) else chat
        return [
            event.view
            for event in self.state.events[mark:]
            if event.kind != "deleted" and (chat_id is None or event.view.chat_id == chat_id)
        ]

    @property
    def stats(self) -> Stats:
        return self.state.stats

    @property
    def sent_count(self) -> int:
        """Messages the bot sent successfully (an album counts each item)."""
        return self.state.stats.sent_total

    def sent_to(self, chat: ChatHandle | User | int) -> int:
        chat_id = chat if isinstance(chat, int) else chat.id
        return self.state.stats.sent_per_chat[chat_id]

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        return list(self.state.callback_answers)

    @property
    def api_errors(self) -> list[ApiErrorRecord]:
        """The latest error answers the bot received (up to 1000)."""
        return list(self.state.api_errors)

    @property
    def internal_errors(self) -> list[str]:
        """Tracebacks of emulator bugs (answered as 500); should stay empty."""
        return list(self.state.internal_errors)

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[dict[str, str]]:
        """What the bot set with setMyCommands for this scope and language."""
        return list(self.state.commands.get((command_scope_key(scope), language_code), []))

    def file_bytes(self, file_id: str) -> bytes:
        stored = self.state.files.get(file_id)
        if stored is None:
            raise KeyError(f"no file {file_id}")
        return stored.data
