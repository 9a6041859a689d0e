"""The outbox sender inside the running bot: started with it, woken by commits, stopped first."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.sandbox import Sandbox, running_bot
from bot.config import Settings
from bot.delivery import outbox
from bot.delivery.rendering import RENDERERS, Rendered
from bot.delivery.sender import SenderConfig
from bot.deps import build_deps, no_sender
from bot.emulators.telegram import BotApiEmulator
from bot.i18n import Translator
from bot.platforms.telegram.app import build_application, running_sender
from bot.platforms.telegram.transport import RunningSender
from storage.db import call_after_commit, create_engine, session_factory
from storage.models import OutboxMessage, OutboxStatus
from storage.models import User as Account

Sessions = async_sessionmaker[AsyncSession]

PING = "test.ping"
# Far beyond every wait below: only a wake-up can deliver within them.
NO_POLL = SenderConfig(poll_interval=60)
ARRIVES_WITHIN = 3.0


def _ping(params: Mapping[str, Any], _: Translator) -> Rendered:
    return Rendered(f"ping {params['n']}")


# The application's registry, as production renderers use it; other test
# modules may have registered the kind already in this process.
if PING not in RENDERERS:
    RENDERERS.register(PING, _ping)


@dataclass
class Clock:
    offset: timedelta = field(default=timedelta(0))

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def enqueue_ping(sessions: Sessions, chat_id: int, n: int) -> None:
    async with sessions.begin() as session:
        await outbox.enqueue(session, chat_id=str(chat_id), kind=PING, params={"n": n})


async def rows(sessions: Sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


def sender_of(sandbox: Sandbox) -> RunningSender:
    sender = running_sender(sandbox.app)
    assert sender is not None, "the bot runs no outbox sender"
    return sender


# --- the running bot ------------------------------------------------------------------


async def test_a_commit_wakes_the_bots_sender(emu: BotApiEmulator, settings: Settings) -> None:
    clock = Clock(offset=timedelta(days=3))
    async with running_bot(emu, settings, clock=clock, sender_config=NO_POLL) as sandbox:
        sender = sender_of(sandbox)
        assert sandbox.app.bot_data["sender"] is sender and not sender.task.done()
        assert sandbox.deps.wake_sender == sender.wake
        lan = emu.add_user("Lan")
        chat = emu.private_chat(lan)
        # Let the sender reach its idle wait, so only the commit can end it.
        await asyncio.sleep(0.2)

        started = asyncio.get_running_loop().time()
        await enqueue_ping(sandbox.deps.sessions, lan.id, 1)
        message = await chat.expect(contains="ping 1", timeout=ARRIVES_WITHIN)
        assert asyncio.get_running_loop().time() - started < ARRIVES_WITHIN
        assert message.from_bot

        # Past Lan's per-chat second the sender sleeps for the whole poll again;
        # the next commit wakes it again.
        await asyncio.sleep(1.3)
        binh = emu.add_user("Bình")
        started = asyncio.get_running_loop().time()
        await enqueue_ping(sandbox.deps.sessions, binh.id, 2)
        await emu.private_chat(binh).expect(contains="ping 2", timeout=ARRIVES_WITHIN)
        assert asyncio.get_running_loop().time() - started < ARRIVES_WITHIN

        await emu.wait_until(lambda: sender.sender.counters.sent == 2, timeout=ARRIVES_WITHIN)
        stored = await rows(sandbox.deps.sessions)
        assert [r.status for r in stored] == [OutboxStatus.SENT] * 2
        # The sender keeps the bot's clock, not the wall clock.
        for row in stored:
            assert row.sent_at is not None
            sent_at = row.sent_at if row.sent_at.tzinfo else row.sent_at.replace(tzinfo=UTC)
            assert sent_at - datetime.now(UTC) > timedelta(days=2)


async def test_a_chat_held_by_its_limit_is_served_when_it_frees(emu: BotApiEmulator, settings: Settings) -> None:
    async with running_bot(emu, settings, sender_config=NO_POLL) as sandbox:
        lan = emu.add_user("Lan")
        chat = emu.private_chat(lan)
        async with sandbox.deps.sessions.begin() as session:
            for n in (1, 2):
                await outbox.enqueue(session, chat_id=str(lan.id), kind=PING, params={"n": n})
        first = await chat.expect(contains="ping 1", timeout=ARRIVES_WITHIN)
        # One second apart (Telegram's limit for a private chat), not a minute's poll.
        second = await chat.expect(contains="ping 2", timeout=ARRIVES_WITHIN)
        assert first.message_id < second.message_id


async def test_the_sender_uses_the_bots_api_server(emu: BotApiEmulator, settings: Settings) -> None:
    async with running_bot(emu, settings) as sandbox:
        sender = sender_of(sandbox)
        assert sender.bot.base_url == sandbox.app.bot.base_url == f"{emu.base_url}{emu.token}"
        assert sender.sender.sessions is sandbox.deps.sessions
        transport = sender.sender.transport
        assert getattr(transport, "media", None) is sandbox.deps.media
        # Without a wake-up the poll still finds a row, within about a second.
        async with sandbox.deps.sessions.begin() as session:
            await outbox.enqueue(session, chat_id=str(emu.add_user("Bình").id), kind=PING, params={"n": 3})
            session.info.pop(outbox.ENQUEUED_FLAG)
        await emu.wait_until(lambda: sender.sender.counters.sent == 1, timeout=ARRIVES_WITHIN)


async def test_shutdown_stops_the_sender_first_and_cleanly(
    emu: BotApiEmulator, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    before = asyncio.all_tasks()
    people = [emu.add_user(f"P{i}") for i in range(5)]
    try:
        async with running_bot(emu, settings) as sandbox:
            sender = sender_of(sandbox)
            deps = sandbox.deps
            for n, person in enumerate(people):
                await enqueue_ping(deps.sessions, person.id, n)
            # Leave while the sender is busy with them.
            await emu.wait_until(lambda: emu.sent_count >= 1, timeout=ARRIVES_WITHIN)
        assert sender.task.done() and not sender.task.cancelled()
        assert sender.task.exception() is None
        assert running_sender(sandbox.app) is None and deps.wake_sender is no_sender
        # Nothing is left in flight: every row was either sent and recorded, or given back.
        engine = create_engine(settings.database_url)
        try:
            statuses = [r.status for r in await rows(session_factory(engine))]
        finally:
            await engine.dispose()
        assert OutboxStatus.SENDING not in statuses
        assert set(statuses) <= {OutboxStatus.SENT, OutboxStatus.PENDING}
        assert statuses.count(OutboxStatus.SENT) == emu.sent_count
        for _ in range(3):  # cancelled helpers need a turn of the loop to finish
            await asyncio.sleep(0)
        leftover = asyncio.all_tasks() - before - {asyncio.current_task()}
        assert [task for task in leftover if not task.done()] == []
    finally:
        loop.set_exception_handler(None)
    assert reported == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith(("bot.", "telegram"))] == []


async def test_a_failed_start_leaves_no_sender_behind(
    emu: BotApiEmulator, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from telegram.ext import Updater

    async def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("polling refused")

    monkeypatch.setattr(Updater, "start_polling", refuse)
    before = asyncio.all_tasks()
    with pytest.raises(RuntimeError, match="polling refused"):
        async with running_bot(emu, settings):
            raise AssertionError("must not start")
    await asyncio.sleep(0)
    leftover = asyncio.all_tasks() - before - {asyncio.current_task()}
    assert [task.get_name() for task in leftover if not task.done()] == []


async def test_run_polling_stops_the_sender_in_post_shutdown(emu: BotApiEmulator, settings: Settings) -> None:
    """run_polling owns its loop, so the bot runs in a thread of its own here."""
    lan = emu.add_user("Lan")
    chat = emu.private_chat(lan)
    started = threading.Event()
    state: dict[str, Any] = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            deps = loop.run_until_complete(build_deps(settings))
            app = build_application(settings, deps, rate_limit=False, sender_config=NO_POLL)
            state.update(loop=loop, app=app, deps=deps)

            async def ready(_: object) -> None:
                state["sender"] = running_sender(app)
                started.set()

            # The test may enqueue once the application's own post_init has run.
            post_init = app.post_init
            assert post_init is not None

            async def post_init_then_signal(application: Any) -> None:
                await post_init(application)
                await ready(application)

            app.post_init = post_init_then_signal
            app.run_polling(stop_signals=None, close_loop=False, timeout=1)
            loop.run_until_complete(deps.engine.dispose())
        finally:
            started.set()
            asyncio.set_event_loop(None)
            loop.close()

    thread = asyncio.create_task(asyncio.to_thread(serve))
    try:
        await asyncio.to_thread(started.wait, 10)
        sender = state.get("sender")
        assert isinstance(sender, RunningSender)
        loop: asyncio.AbstractEventLoop = state["loop"]
        deps = state["deps"]
        # A commit in the bot's loop wakes the bot's sender there too.
        await asyncio.sleep(0.5)  # the sender is idle by now
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(enqueue_ping(deps.sessions, lan.id, 7), loop))
        await chat.expect(contains="ping 7", timeout=ARRIVES_WITHIN)
        loop.call_soon_threadsafe(state["app"].stop_running)
        await asyncio.wait_for(thread, 20)
    finally:
        if not thread.done():
            state["loop"].call_soon_threadsafe(state["app"].stop_running)
            await asyncio.wait_for(thread, 20)
    assert sender.task.done() and not sender.task.cancelled()
    assert running_sender(state["app"]) is None and deps.wake_sender is no_sender


# --- the after-commit hook ------------------------------------------------------------------


@pytest.fixture
def wakes(sessions: Sessions) -> list[int]:
    calls: list[int] = []
    call_after_commit(sessions, outbox.ENQUEUED_FLAG, lambda: calls.append(1))
    return calls


async def test_only_a_commit_with_a_new_row_wakes(sessions: Sessions, wakes: list[int]) -> None:
    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with sessions.begin() as session:
            await outbox.enqueue(session, chat_id="1", kind=PING, params={"n": 1})
            raise Abort
    assert wakes == []

    async with sessions() as session:
        async with session.begin():
            await outbox.enqueue(session, chat_id="1", kind=PING, params={"n": 2})
            await session.rollback()
        # The same session's next transaction starts without the rolled-back flag.
        async with session.begin():
            await session.execute(select(1))
    assert wakes == []

    async with sessions.begin() as session:
        await outbox.enqueue(session, chat_id="1", kind=PING, params={"n": 3}, dedupe_key="once")
        await outbox.enqueue(session, chat_id="1", kind=PING, params={"n": 4})
    assert wakes == [1]  # once per commit, however many rows

    # A duplicate writes nothing, so there is nothing to send.
    async with sessions.begin() as session:
        assert await outbox.enqueue(session, chat_id="1", kind=PING, params={"n": 5}, dedupe_key="once") is None
    assert wakes == [1]


async def test_a_skipped_row_does_not_wake(sessions: Sessions, wakes: list[int]) -> None:
    async with sessions.begin() as session:
        account = Account(
            platform="telegram",
            external_id="42",
            chat_id="42",
            display_name="Lan",
            language="vi",
            blocked_at=datetime.now(UTC),
        )
        session.add(account)
    async with sessions.begin() as session:
        row = await outbox.enqueue(session, chat_id="42", kind=PING, params={"n": 1}, recipient_user_id=account.id)
        assert row is not None and row.status == OutboxStatus.SKIPPED
    assert wakes == []


async def test_a_savepoint_waits_for_the_outer_commit(sessions: Sessions, wakes: list[int]) -> None:
    async with sessions() as session:
        async with session.begin():
            async with session.begin_nested():
                await outbox.enqueue(session, chat_id="1", kind=PING, params={"n": 1})
            assert wakes == []  # released, not committed
        assert wakes == [1]


async def test_a_failing_wake_does_not_undo_the_commit(sessions: Sessions, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("no sender here")

    call_after_commit(sessions, outbox.ENQUEUED_FLAG, broken)
    async with sessions.begin() as session:
        await outbox.enqueue(session, chat_id="1", kind=PING, params={"n": 1})
    assert [r.status for r in await rows(sessions)] == [OutboxStatus.PENDING]
    assert "after-commit callback" in caplog.text


async def test_other_factories_are_not_affected(engine: Any, sessions: Sessions, wakes: list[int]) -> None:
    other = session_factory(engine)
    async with other.begin() as session:
        await outbox.enqueue(session, chat_id="1", kind=PING, params={"n": 1})
    assert wakes == []
    with pytest.raises(ValueError, match="session_factory"):
        call_after_commit(async_sessionmaker(engine), outbox.ENQUEUED_FLAG, lambda: None)
