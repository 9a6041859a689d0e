"""The durable outbox and its sender, on both backends, delivering through the Bot API emulator."""

from __future__ import annotations

import asyncio
import bisect
import io
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import sqlalchemy
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError, TimedOut

from bot.config import Settings
from bot.delivery import outbox
from bot.delivery.outbox import Priority
from bot.delivery.rendering import Button, Rendered, Renderers, UnknownKind
from bot.delivery.sender import (
    ChatKind,
    DeliveryError,
    GlobalPacer,
    Rejected,
    RejectReason,
    RetryLater,
    Sender,
    SenderConfig,
    TemporaryFailure,
    Unreachable,
)
from bot.emulators.telegram import BotApiEmulator
from bot.emulators.telegram import User as EmuUser
from bot.i18n import Translator, translator
from bot.platforms.telegram import transport as telegram_transport
from bot.platforms.telegram.transport import CAPTION_SUFFIX, AiohttpRequest, TelegramTransport, start_sender
from storage.media import MediaKind, MediaStore
from storage.models import OutboxMessage, OutboxStatus, User

Sessions = async_sessionmaker[AsyncSession]

STALE_BUTTON = "That button is no longer active."
EN = translator("en")
VI = translator("vi")


# --- renderers for these tests --------------------------------------------------------


def _echo(params: Mapping[str, Any], _: Translator) -> Rendered:
    return Rendered(str(params["text"]))


# How often each language's text was made by `_stale`.
STALE_RENDERS: Counter[str] = Counter()


def _stale(params: Mapping[str, Any], _: Translator) -> Rendered:
    STALE_RENDERS[_.language] += 1
    return Rendered(_(STALE_BUTTON))


def _card(params: Mapping[str, Any], _: Translator) -> Rendered:
    buttons = tuple((Button(label, callback_data=f"card:{label}"),) for label in params.get("buttons", ()))
    return Rendered(str(params["text"]), buttons=buttons, photo_keys=tuple(params.get("photos", ())))


def renderers() -> Renderers:
    registry = Renderers()
    registry.register("test.echo", _echo)
    registry.register("test.stale", _stale)
    registry.register("test.card", _card)
    return registry


# --- a transport that remembers what it was asked to do -----------------------------------


@dataclass
class Call:
    method: str
    chat_id: str
    started: float
    ended: float = 0.0
    error: DeliveryError | None = None


@dataclass
class Recording:
    """Wraps a transport and timestamps every call, to check the pacing from outside."""

    inner: TelegramTransport
    calls: list[Call] = field(default_factory=list)
    probes: int = 0

    @property
    def platform(self) -> str:
        return self.inner.platform

    def chat_kind(self, chat_id: str) -> ChatKind:
        return self.inner.chat_kind(chat_id)

    def weight(self, rendered: Rendered) -> int:
        return self.inner.weight(rendered)

    async def send(self, chat_id: str, rendered: Rendered) -> str:
        return await self._timed("send", chat_id, self.inner.send(chat_id, rendered))

    async def edit(self, chat_id: str, message_id: str, rendered: Rendered) -> None:
        await self._timed("edit", chat_id, self.inner.edit(chat_id, message_id, rendered))

    async def reachable(self) -> bool:
        self.probes += 1
        return await self.inner.reachable()

    async def _timed(self, method: str, chat_id: str, request):
        call = Call(method, chat_id, time.monotonic())
        self.calls.append(call)
        try:
            return await request
        except DeliveryError as exc:
            call.error = exc
            raise
        finally:
            call.ended = time.monotonic()

    def starts(self, chat_id: str | None = None) -> list[float]:
        return [c.started for c in self.calls if chat_id is None or c.chat_id == chat_id]


# --- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    # As the application's sender: HTTP through aiohttp.
    request = AiohttpRequest(8)
    async with Bot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url, request=request) as b:
        yield b


@pytest.fixture
def transport(bot: Bot, tmp_path: Path) -> Recording:
    return Recording(TelegramTransport(bot, MediaStore(tmp_path / "media")))


def fast(**overrides: Any) -> SenderConfig:
    """Test timings: quick polls and backoffs; rate limits as given."""
    values: dict[str, Any] = {"poll_interval": 0.02, "backoff_initial": 0.02, "backoff_max": 0.1}
    values.update(overrides)
    return SenderConfig(**values)


def make_sender(sessions: Sessions, transport: Any, config: SenderConfig | None = None) -> Sender:
    return Sender(sessions, transport, renderers(), config=config or fast(), worker="test-sender")


async def add_user(sessions: Sessions, person: EmuUser, language: str = "vi") -> int:
    async with sessions.begin() as session:
        user = User(
            platform="telegram",
            external_id=str(person.id),
            chat_id=str(person.id),
            display_name=person.first_name,
            language=language,
        )
        session.add(user)
        await session.flush()
        return user.id


async def enqueue(sessions: Sessions, chat: int | str, kind: str = "test.echo", **kwargs: Any) -> OutboxMessage | None:
    params = kwargs.pop("params", None)
    if params is None:
        params = {"text": kwargs.pop("text", "hello")}
    async with sessions.begin() as session:
        return await outbox.enqueue(session, chat_id=str(chat), kind=kind, params=params, **kwargs)


async def rows(sessions: Sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def unsettled(sessions: Sessions) -> int:
    async with sessions() as session:
        return (
            await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
            )
            or 0
        )


async def run_until_settled(sender: Sender, sessions: Sessions, timeout: float = 15.0) -> float:
    """Run the sender until no row is pending or sending; returns the seconds it took."""
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(sender.run(stop))
    try:
        while await unsettled(sessions):
            if task.done():
                await task
                raise AssertionError("the sender stopped by itself")
            if time.monotonic() - started > timeout:
                raise AssertionError(f"outbox not settled within {timeout}s: {await rows(sessions)}")
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    return time.monotonic() - started


def jpeg(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "JPEG")
    return buffer.getvalue()


# --- enqueueing ------------------------------------------------------------------------------


async def test_rolled_back_enqueue_sends_nothing(sessions: Sessions, emu: BotApiEmulator, transport: Recording) -> None:
    lan, binh = emu.add_user("Lan"), emu.add_user("Bình")

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with sessions.begin() as session:
            await outbox.enqueue(session, chat_id=str(lan.id), kind="test.echo", params={"text": "never"})
            raise Abort
    await enqueue(sessions, binh.id, text="committed")

    assert await make_sender(sessions, transport).drain_once() == 1
    assert emu.sent_to(lan) == 0
    assert [m.text for m in emu.private_chat(binh).bot_messages] == ["committed"]
    assert [r.status for r in await rows(sessions)] == [OutboxStatus.SENT]


async def test_dedupe_key_enqueues_once(sessions: Sessions, emu: BotApiEmulator, transport: Recording) -> None:
    lan = emu.add_user("Lan")
    key = "reminder:report:12:receive:50%"
    first = await enqueue(sessions, lan.id, text="first", dedupe_key=key)
    assert first is not None and first.id is not None
    assert await enqueue(sessions, lan.id, text="second", dedupe_key=key) is None
    # In one transaction too, without spoiling it.
    async with sessions.begin() as session:
        assert (
            await outbox.enqueue(
                session, chat_id=str(lan.id), kind="test.echo", params={"text": "third"}, dedupe_key=key
            )
            is None
        )
        other = await outbox.enqueue(
            session, chat_id=str(lan.id), kind="test.echo", params={"text": "other"}, dedupe_key=key + ":b"
        )
        assert other is not None
    assert [r.params["text"] for r in await rows(sessions)] == ["first", "other"]


async def test_params_must_be_plain_values(session: AsyncSession) -> None:
    with pytest.raises(TypeError, match="plain values"):
        await outbox.enqueue(session, chat_id="1", kind="test.echo", params={"at": datetime.now(UTC)})
    with pytest.raises(TypeError, match="plain values"):
        await outbox.enqueue(session, chat_id="1", kind="test.echo", params={"ids": [1, {2, 3}]})


# --- sending ------------------------------------------------------------------------------------


async def test_priority_then_age_decides_the_order(
    sessions: Sessions, emu: BotApiEmulator, transport: Recording
) -> None:
    people = [emu.add_user(f"P{i}") for i in range(5)]
    queued = [
        ("routine 1", Priority.ROUTINE),
        ("routine 2", Priority.ROUTINE),
        ("announcement", Priority.ANNOUNCEMENT),
        ("urgent", Priority.URGENT),
    ]
    for person, (text, priority) in zip(people, queued, strict=False):
        await enqueue(sessions, person.id, text=text, priority=priority)
    later = datetime.now(UTC) + timedelta(hours=1)
    await enqueue(sessions, people[4].id, text="scheduled urgent", priority=Priority.URGENT, not_before=later)

    await make_sender(sessions, transport, fast(concurrency=1)).drain_once()

    texts = [m.text for m in emu.bot_messages_since(0)]
    # By priority (the levels are storage.models.outbox.Priority's), then by age: a stable sort.
    assert texts == [text for text, _ in sorted(queued, key=lambda item: item[1])]
    assert texts[0] == "urgent"
    assert (await rows(sessions))[-1].status is OutboxStatus.PENDING  # not due yet


async def test_language_is_chosen_when_sending(sessions: Sessions, emu: BotApiEmulator, transport: Recording) -> None:
    lan, group_member = emu.add_user("Lan"), emu.add_user("Cán bộ")
    agency = emu.add_group("UBND phường", [group_member])
    lan_id = await add_user(sessions, lan, language="vi")
    await enqueue(sessions, lan.id, "test.stale", params={}, recipient_user_id=lan_id, language="vi")
    await enqueue(sessions, agency.id, "test.stale", params={}, language="en")
    await enqueue(sessions, group_member.id, "test.stale", params={})  # no language at all: the default
    # Lan switches to English after the message was queued, before it goes out.
    async with sessions.begin() as session:
        await session.execute(update(User).where(User.id == lan_id).values(language="en"))

    STALE_RENDERS.clear()
    await make_sender(sessions, transport).drain_once()

    assert EN(STALE_BUTTON) != VI(STALE_BUTTON)
    assert emu.private_chat(lan).last_bot_message.text == EN(STALE_BUTTON)
    assert agency.last_bot_message.text == EN(STALE_BUTTON)
    assert emu.private_chat(group_member).last_bot_message.text == VI(STALE_BUTTON)
    # Rows alike (same kind, params and language) are rendered once: a broadcast's text per language.
    assert STALE_RENDERS == {"en": 1, "vi": 1}


async def test_the_claim_fetches_rows_by_primary_key(sessions: Sessions, engine: Any, backend: str) -> None:
    """SQLite looked the chosen rows up through the status index: every pending row, at every claim."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL plans the claim from its statistics")
    async with sessions.begin() as session:
        for chat in range(40):
            await outbox.enqueue(session, chat_id=str(chat), kind="test.echo", params={"text": "x"})
    statements: list[tuple[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    sqlalchemy.event.listen(engine.sync_engine, "before_cursor_execute", remember)
    try:
        assert len(await outbox.claim(sessions, worker="w", limit=4, now=datetime.now(UTC))) == 4
    finally:
        sqlalchemy.event.remove(engine.sync_engine, "before_cursor_execute", remember)
    [(claiming, parameters)] = [(sql, p) for sql, p in statements if sql.startswith("UPDATE")]
    async with engine.connect() as connection:
        plan = (await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {claiming}", parameters)).all()
    assert any("PRIMARY KEY" in str(step) for step in plan), plan
    assert not any("ix_outbox_claim" in str(step) for step in plan), plan


async def test_edit_of_changes_the_card_in_place(sessions: Sessions, emu: BotApiEmulator, transport: Recording) -> None:
    member = emu.add_user("Cán bộ")
    group = emu.add_group("UBND xã", [member])
    card = await enqueue(sessions, group.id, "test.card", params={"text": "PA-1: new", "buttons": ["Receive"]})
    assert card is not None
    # Queued before the card itself went out: the edit waits for it.
    await enqueue(
        sessions,
        group.id,
        "test.card",
        params={"text": "PA-1: received", "buttons": ["Resolve"]},
        edit_of_id=card.id,
    )
    await enqueue(sessions, group.id, "test.card", params={"text": "PA-1: resolved"}, edit_of_id=card.id)

    sender = make_sender(sessions, transport, fast(group_per_minute=600))
    await run_until_settled(sender, sessions)

    [message] = group.bot_messages
    assert message.text == "PA-1: resolved" and not message.has_inline_keyboard
    assert [e.view.text for e in group.chat.events] == ["PA-1: new", "PA-1: received", "PA-1: resolved"]
    stored = await rows(sessions)
    assert {r.status for r in stored} == {OutboxStatus.SENT}
    assert {r.platform_message_id for r in stored} == {str(message.message_id)}
    assert [c.method for c in transport.calls] == ["send", "edit", "edit"]


async def test_edit_of_a_deleted_message_posts_it_anew(
    sessions: Sessions, emu: BotApiEmulator, bot: Bot, transport: Recording
) -> None:
    member = emu.add_user("Cán bộ")
    group = emu.add_group("UBND xã", [member])
    sender = make_sender(sessions, transport, fast(group_per_minute=600))
    card = await enqueue(sessions, group.id, "test.card", params={"text": "PA-2: new"})
    await run_until_settled(sender, sessions)
    [original] = group.bot_messages
    # Someone deletes the card in the group; the next state is posted as a new message...
    await bot.delete_message(group.id, original.message_id)
    assert card is not None
    await enqueue(sessions, group.id, "test.card", params={"text": "PA-2: received"}, edit_of_id=card.id)
    await run_until_settled(sender, sessions)
    [reposted] = group.bot_messages
    assert reposted.text == "PA-2: received" and reposted.message_id != original.message_id
    # ...and the one after that edits the new message, not the deleted one.
    await enqueue(sessions, group.id, "test.card", params={"text": "PA-2: resolved"}, edit_of_id=card.id)
    # Same content as shown: "message is not modified" counts as sent.
    await enqueue(sessions, group.id, "test.card", params={"text": "PA-2: resolved"}, edit_of_id=card.id)
    await run_until_settled(sender, sessions)
    [current] = group.bot_messages
    assert current.message_id == reposted.message_id and current.text == "PA-2: resolved"
    stored = await rows(sessions)
    assert [r.status for r in stored] == [OutboxStatus.SENT] * 4
    assert [r.platform_message_id for r in stored[1:]] == [str(reposted.message_id)] * 3
    assert [e.description for e in emu.api_errors] == [
        "Bad Request: message to edit not found",
        "Bad Request: message is not modified: specified new message content and reply markup are "
        "exactly the same as a current content and reply markup of the message",
    ]


async def test_photos_as_caption_or_album_then_text(
    sessions: Sessions, emu: BotApiEmulator, transport: Recording, tmp_path: Path
) -> None:
    media = transport.inner.media
    assert media is not None
    keys = [media.put(jpeg((40 * i, 90, 120)), kind=MediaKind.DISPLAY, suffix=".jpg") for i in range(3)]
    lan, binh = emu.add_user("Lan"), emu.add_user("Bình")
    one = await enqueue(
        sessions, lan.id, "test.card", params={"text": "one photo", "photos": keys[:1], "buttons": ["Open"]}
    )
    await enqueue(sessions, binh.id, "test.card", params={"text": "three photos", "photos": keys, "buttons": ["Open"]})
    await make_sender(sessions, transport).drain_once()

    [single] = emu.private_chat(lan).bot_messages
    assert single.caption == "one photo" and single.photo and single.has_inline_keyboard
    album = emu.private_chat(binh).bot_messages
    assert [bool(m.photo) for m in album] == [True, True, True, False]
    assert len({m.media_group_id for m in album[:3]}) == 1 and album[0].media_group_id
    assert album[3].text == "three photos" and album[3].has_inline_keyboard
    stored = await rows(sessions)
    assert stored[0].platform_message_id == f"{single.message_id}{CAPTION_SUFFIX}"
    assert stored[1].platform_message_id == str(album[3].message_id)

    # Editing a photo's caption goes through editMessageCaption.
    assert one is not None
    await enqueue(sessions, lan.id, "test.card", params={"text": "one photo, received"}, edit_of_id=one.id)
    await run_until_settled(make_sender(sessions, transport), sessions)
    [edited] = emu.private_chat(lan).bot_messages
    assert edited.caption == "one photo, received" and not edited.has_inline_keyboard


async def test_unknown_kind_fails_the_row_only(sessions: Sessions, emu: BotApiEmulator, transport: Recording) -> None:
    lan = emu.add_user("Lan")
    await enqueue(sessions, lan.id, "report.from_the_future", params={})
    await enqueue(sessions, emu.add_user("Bình").id, text="fine")
    await make_sender(sessions, transport).drain_once()
    bad, good = await rows(sessions)
    assert bad.status is OutboxStatus.FAILED and "report.from_the_future" in (bad.last_error or "")
    assert good.status is OutboxStatus.SENT
    with pytest.raises(UnknownKind):
        renderers().render("report.from_the_future", {}, EN)


# --- errors -------------------------------------------------------------------------------------


# PTB itself warns about RetryAfter.retry_after becoming a timedelta when it builds one.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_control_storm_delivers_everything_once(
    sessions: Sessions, emu: BotApiEmulator, transport: Recording
) -> None:
    people = [emu.add_user(f"P{i}") for i in range(10)]
    for person in people:
        await enqueue(sessions, person.id, text=f"for {person.first_name}")
    # The platform allows 5/s; the sender is told it may do 200/s.
    emu.set_rate_limit(global_per_second=5)

    await run_until_settled(make_sender(sessions, transport, fast(global_per_second=200)), sessions)

    assert [emu.sent_to(person) for person in people] == [1] * len(people)
    assert {r.status for r in await rows(sessions)} == {OutboxStatus.SENT}
    assert {r.attempts for r in await rows(sessions)} == {0}  # a 429 is not a failure
    floods = [c for c in transport.calls if isinstance(c.error, RetryLater)]
    assert floods, "the emulator should have answered 429 at least once"
    # After a 429, nothing new starts until retry_after has passed.
    for flood in floods:
        assert isinstance(flood.error, RetryLater)
        quiet_until = flood.ended + flood.error.seconds
        early = [c for c in transport.calls if flood.ended < c.started < quiet_until - 0.05]
        assert early == [], f"calls started {[(c.started - flood.ended) for c in early]}s after a 429"


async def test_blocked_user_is_skipped_now_and_later(
    sessions: Sessions, emu: BotApiEmulator, transport: Recording
) -> None:
    lan = emu.add_user("Lan")
    lan_id = await add_user(sessions, lan)
    await enqueue(sessions, lan.id, text="one", recipient_user_id=lan_id)
    await enqueue(sessions, lan.id, text="two", recipient_user_id=lan_id)
    emu.block(lan)

    await make_sender(sessions, transport).drain_once()

    first, second = await rows(sessions)
    assert first.status is OutboxStatus.SKIPPED and "blocked" in (first.last_error or "")
    assert second.status is OutboxStatus.SKIPPED  # not tried: the chat is known unreachable
    assert len(transport.calls) == 1
    async with sessions() as session:
        assert (await session.get(User, lan_id)).blocked_at is not None
    later = await enqueue(sessions, lan.id, text="three", recipient_user_id=lan_id)
    assert later is not None and later.status is OutboxStatus.SKIPPED
    await make_sender(sessions, transport).drain_once()
    assert len(transport.calls) == 1 and emu.sent_to(lan) == 0

    # Lan unblocks the bot and writes again: the handlers clear the mark.
    async with sessions.begin() as session:
        await outbox.clear_blocked(session, lan_id)
    await enqueue(sessions, lan.id, text="welcome back", recipient_user_id=lan_id)
    emu.unblock(lan)
    await make_sender(sessions, transport).drain_once()
    assert [m.text for m in emu.private_chat(lan).bot_messages] == ["welcome back"]


async def test_a_rows_own_failure_is_retried_then_failed(
    sessions: Sessions, emu: BotApiEmulator, transport: Recording
) -> None:
    lan, binh = emu.add_user("Lan"), emu.add_user("Bình")
    # Telegram answers 500 for Lan's chat only: the platform itself answers, so each try counts.
    emu.fail_chat(lan)
    await enqueue(sessions, lan.id, text="nobody listens")
    await enqueue(sessions, binh.id, text="fine")
    sender = make_sender(sessions, transport, fast(max_attempts=3, private_chat_per_second=100))
    await run_until_settled(sender, sessions)

    failed, sent = await rows(sessions)
    assert failed.status is OutboxStatus.FAILED and failed.attempts == 3
    assert "gave up after 3 attempts" in (failed.last_error or "")
    assert "Internal Server Error" in (failed.last_error or "")
    assert sent.status is OutboxStatus.SENT and emu.sent_to(binh) == 1
    tries = [c for c in transport.calls if c.chat_id == str(lan.id)]
    assert len(tries) == 3 and transport.probes == 3 and sender.counters.outages == 0
    gaps = [b.started - a.ended for a, b in pairwise(tries)]
    assert all(gap >= 0.015 for gap in gaps), gaps  # backed off between tries


async def test_an_outage_pauses_the_sender_and_loses_nothing(
    sessions: Sessions, emu: BotApiEmulator, transport: Recording
) -> None:
    people = [emu.add_user(f"P{i}") for i in range(40)]
    for person in people:
        await enqueue(sessions, person.id, text="flood warning", priority=Priority.URGENT, redeliver_unconfirmed=True)
    # Two tries 20 ms apart: before outages paused the sender, an outage failed every row it reached.
    config = fast(global_per_second=100, max_attempts=2, outage_backoff_initial=0.05, outage_backoff_max=0.2)
    due = {row.id: row.not_before for row in await rows(sessions)}
    sender = make_sender(sessions, transport, config)
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        await emu.wait_until(lambda: emu.sent_count >= 10)
        await emu.stop()  # the Bot API is gone: connections are refused
        down_at = len(transport.calls)
        await asyncio.sleep(1.0)
        assert sender.platform_down and sender.counters.failed_probes >= 3
        # Only what was already on the wire or waiting for its slot went out, no new row.
        assert len(transport.calls) - down_at <= config.concurrency
        await emu.start()
        while await unsettled(sessions):
            assert not task.done()
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)

    received = [emu.sent_to(person) for person in people]
    assert min(received) == 1, "someone lost the alert"
    # A copy is duplicated only if it was on the wire when the connection broke.
    assert sum(received) - len(people) <= config.concurrency
    stored = await rows(sessions)
    assert {r.status for r in stored} == {OutboxStatus.SENT}
    assert {r.attempts for r in stored} == {0}  # an outage costs no row a try
    assert {r.id: r.not_before for r in stored} == due  # nor its place in the queue
    assert any("platform unreachable" in (r.last_error or "") for r in stored)
    assert sender.counters.outages == 1 and not sender.platform_down


# --- rate limits ------------------------------------------------------------------------------------


async def test_global_rate_is_kept(sessions: Sessions, emu: BotApiEmulator, transport: Recording) -> None:
    people = [emu.add_user(f"P{i}") for i in range(40)]
    for person in people:
        await enqueue(sessions, person.id, text="announcement")
    await run_until_settled(make_sender(sessions, transport, fast(global_per_second=20)), sessions)
    starts = sorted(transport.starts())
    assert len(starts) == 40 and emu.sent_count == 40
    assert starts[-1] - starts[0] >= 39 / 20 - 0.05
    # Evenly spaced, not in bursts: no second holds more than 20 starts.
    assert max(sum(1 for s in starts if t <= s < t + 1.0) for t in starts) <= 20


async def test_the_fast_pace_makes_up_for_stalls_but_keeps_every_second() -> None:
    now = [0.0]

    async def sleep(_: asyncio.Event, seconds: float) -> None:
        now[0] += seconds

    pacer = GlobalPacer(1000, clock=lambda: now[0], sleep=sleep)
    sent = []
    for index in range(3000):
        if index % 100 == 50:
            now[0] += 0.03  # the event loop was busy elsewhere for 30 ms
        await pacer.acquire(1, asyncio.Event())
        sent.append(now[0])
    # Thirty stalls of 30 ms cost nothing overall (strictly spaced, they cost 0.9 s)...
    assert sent[-1] < 3.0
    # ...and no second ever holds more than the limit.
    assert max(bisect.bisect_left(sent, t + 1.0) - i for i, t in enumerate(sent)) <= 1000


async def test_per_chat_rates_are_kept(sessions: Sessions, emu: BotApiEmulator, transport: Recording) -> None:
    lan, member = emu.add_user("Lan"), emu.add_user("Cán bộ")
    group = emu.add_group("UBND xã", [member])
    for i in range(2):
        await enqueue(sessions, lan.id, text=f"private {i}")
    for i in range(4):
        await enqueue(sessions, group.id, text=f"group {i}")
    # 1/s per private chat (Telegram's); 240/min for the group keeps the test short.
    await run_until_settled(make_sender(sessions, transport, fast(group_per_minute=240)), sessions)

    private = transport.starts(str(lan.id))
    in_group = transport.starts(str(group.id))
    assert [b - a >= 0.99 for a, b in pairwise(private)] == [True]
    assert [b - a >= 0.249 for a, b in pairwise(in_group)] == [True, True, True]
    # Per chat, in the order they were queued.
    assert [m.text for m in emu.private_chat(lan).bot_messages] == [f"private {i}" for i in range(2)]
    assert [m.text for m in group.bot_messages] == [f"group {i}" for i in range(4)]


async def test_a_channel_named_by_its_username_is_paced_as_a_group(
    sessions: Sessions, emu: BotApiEmulator, transport: Recording
) -> None:
    channel = emu.add_group(
        "Kênh cảnh báo tỉnh", [emu.add_user("Quản trị")], supergroup=True, username="canhbao_tinh", bot_is_admin=True
    )
    for i in range(2):
        await enqueue(sessions, "@canhbao_tinh", text=f"alert {i}")
    # A private chat could take 20 a second here; a group or channel 4 (240/min).
    config = fast(group_per_minute=240, private_chat_per_second=20)
    await run_until_settled(make_sender(sessions, transport, config), sessions)
    first, second = transport.starts("@canhbao_tinh")
    assert second - first >= 0.249
    assert [m.text for m in channel.bot_messages] == ["alert 0", "alert 1"]
    assert transport.chat_kind("@canhbao_tinh") is ChatKind.GROUP
    assert transport.chat_kind("-1001234") is ChatKind.GROUP
    assert transport.chat_kind("700000001") is ChatKind.PRIVATE


# --- recovery ----------------------------------------------------------------------------------------


async def test_recovery_after_a_crash(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        for chat, redeliver in (("1", False), ("2", True), ("3", False)):
            await outbox.enqueue(
                session,
                chat_id=chat,
                kind="test.echo",
                params={"text": chat},
                redeliver_unconfirmed=redeliver,
            )
    now = datetime.now(UTC)
    lease = timedelta(minutes=2)
    dead = await outbox.claim(sessions, worker="dead-host", limit=2, now=now)
    mine = await outbox.claim(sessions, worker="me", limit=5, now=now)
    assert len(dead) == 2 and len(mine) == 1
    assert all(r.status is OutboxStatus.SENDING for r in await rows(sessions))

    # Within the lease nothing is touched: that sender may still be working.
    assert (await outbox.recover(sessions, now=now + timedelta(seconds=30), lease=lease)).total == 0
    # A restarted worker recovers its own rows without waiting for the lease.
    own = await outbox.recover(sessions, now=now, lease=lease, worker="me")
    assert own.unconfirmed == (mine[0].id,) and own.requeued == ()
    # Past the lease, the dead sender's rows: unconfirmed, or back to pending when asked.
    report = await outbox.recover(sessions, now=now + lease + timedelta(seconds=1), lease=lease)
    assert report.unconfirmed == (1,) and report.requeued == (2,)
    by_id = {r.id: r for r in await rows(sessions)}
    assert by_id[1].status is OutboxStatus.UNCONFIRMED and "may or may not" in (by_id[1].last_error or "")
    assert by_id[2].status is OutboxStatus.PENDING and by_id[2].attempts == 1

    # The dead sender's late answer still upgrades its unconfirmed row (the lease token
    # proves it is the same claim); an outdated claim can change nothing else.
    first = next(r for r in dead if r.id == 1)
    assert await outbox.mark_sent(sessions, first, message_id="77", now=now)
    second = next(r for r in dead if r.id == 2)
    [again] = await outbox.claim(sessions, worker="new", limit=5, now=now + lease * 2)
    assert again.id == 2 and again.claimed_by != second.claimed_by
    assert not await outbox.mark_sent(sessions, second, message_id="78", now=now)
    assert not await outbox.mark_failed(sessions, second, error="late")
    by_id = {r.id: r for r in await rows(sessions)}
    assert by_id[1].status is OutboxStatus.SENT and by_id[1].platform_message_id == "77"
    assert by_id[2].status is OutboxStatus.SENDING and by_id[2].claimed_by == again.claimed_by


async def test_recovery_requeues_an_alert_whatever_its_tries(
    sessions: Sessions, emu: BotApiEmulator, transport: Recording
) -> None:
    lan = emu.add_user("Lan")
    await enqueue(sessions, lan.id, text="flood warning", redeliver_unconfirmed=True)
    async with sessions.begin() as session:
        await session.execute(update(OutboxMessage).values(attempts=4))
    # This sender claimed it in a previous life and died mid-send, its last try left.
    await outbox.claim(sessions, worker="test-sender", limit=1, now=datetime.now(UTC))
    sender = make_sender(sessions, transport, fast(max_attempts=5))
    await run_until_settled(sender, sessions)
    [row] = await rows(sessions)
    assert row.status is OutboxStatus.SENT and row.attempts == 5
    assert emu.sent_to(lan) == 1


async def test_claim_keeps_one_row_per_chat_in_flight(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        for chat in ("10", "10", "11", "10", "12"):
            await outbox.enqueue(session, chat_id=chat, kind="test.echo", params={"text": chat})
    now = datetime.now(UTC)
    first = await outbox.claim(sessions, worker="w", limit=10, now=now)
    assert [(r.id, r.chat_id) for r in first] == [(1, "10"), (3, "11"), (5, "12")]
    assert await outbox.claim(sessions, worker="w", limit=10, now=now) == []
    # A row waiting for a retry holds back the rows queued after it for its chat.
    await outbox.mark_retry(sessions, first[0], not_before=now + timedelta(seconds=5), error="x", count_attempt=True)
    assert await outbox.claim(sessions, worker="w", limit=10, now=now) == []
    [retried] = await outbox.claim(sessions, worker="w", limit=10, now=now + timedelta(seconds=6))
    assert retried.id == 1 and retried.attempts == 1
    # Chats the sender must not write to yet are left alone.
    await outbox.mark_sent(sessions, retried, message_id="1", now=now)
    assert await outbox.claim(sessions, worker="w", limit=10, now=now, exclude_chats={"10"}) == []
    assert [r.id for r in await outbox.claim(sessions, worker="w", limit=10, now=now)] == [2]


async def test_graceful_stop_gives_back_waiting_rows(
    sessions: Sessions, emu: BotApiEmulator, transport: Recording
) -> None:
    people = [emu.add_user(f"P{i}") for i in range(6)]
    for person in people:
        await enqueue(sessions, person.id, text="slow")
    sender = make_sender(sessions, transport, fast(global_per_second=2, concurrency=4))
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    await emu.wait_until(lambda: emu.sent_count >= 1)
    stop.set()
    await asyncio.wait_for(task, 5)
    statuses = [r.status for r in await rows(sessions)]
    assert OutboxStatus.SENDING not in statuses
    assert statuses.count(OutboxStatus.SENT) == emu.sent_count
    assert statuses.count(OutboxStatus.PENDING) == 6 - emu.sent_count


async def test_application_sender_starts_wakes_and_stops(
    sessions: Sessions, database_url: str, emu: BotApiEmulator, tmp_path: Path
) -> None:
    settings = Settings(
        telegram_bot_token=emu.token,
        telegram_api_base_url=emu.base_url,
        telegram_api_file_url=emu.base_file_url,
        database_url=database_url,
        media_dir=str(tmp_path / "media"),
    )
    registry = renderers()
    running = await start_sender(
        settings,
        sessions,
        MediaStore(tmp_path / "media"),
        renderers=registry,
        config=SenderConfig(poll_interval=30),
    )
    try:
        lan = emu.add_user("Lan")
        await enqueue(sessions, lan.id, text="woken")
        # The poll is 30 s away: only wake() can make this arrive in time.
        running.wake()
        await emu.wait_until(lambda: emu.sent_to(lan) == 1, timeout=5)
    finally:
        await running.stop(timeout=5)
    assert running.task.done() and [r.status for r in await rows(sessions)] == [OutboxStatus.SENT]
    assert emu.stats.paid_broadcasts == 0  # 30 a second: Telegram's free limit

    # Above the free limit every message must be a paid broadcast, or Telegram holds it to 30/s.
    fast_sender = await start_sender(
        settings,
        sessions,
        MediaStore(tmp_path / "media"),
        renderers=registry,
        config=SenderConfig(poll_interval=30, global_per_second=1000),
    )
    try:
        await enqueue(sessions, lan.id, text="paid")
        fast_sender.wake()
        await emu.wait_until(lambda: emu.sent_to(lan) == 2, timeout=5)
    finally:
        await fast_sender.stop(timeout=5)
    assert emu.stats.paid_broadcasts == 1


@dataclass
class TimesOutOnce:
    """A transport whose first send to each chat loses its answer: it may have arrived."""

    platform: str = "telegram"
    tried: set[str] = field(default_factory=set)

    def chat_kind(self, chat_id: str) -> ChatKind:
        return ChatKind.PRIVATE

    def weight(self, rendered: Rendered) -> int:
        return 1

    async def send(self, chat_id: str, rendered: Rendered) -> str:
        if chat_id not in self.tried:
            self.tried.add(chat_id)
            raise TemporaryFailure("TimedOut: read timeout", maybe_delivered=True)
        return f"{chat_id}-1"

    async def edit(self, chat_id: str, message_id: str, rendered: Rendered) -> None:
        raise AssertionError("no edits here")

    async def reachable(self) -> bool:
        return True


async def test_unknown_outcome_is_unconfirmed_unless_the_row_wants_redelivery(sessions: Sessions) -> None:
    await enqueue(sessions, "1", text="status update")
    await enqueue(sessions, "2", text="flood warning", priority=Priority.URGENT, redeliver_unconfirmed=True)
    await run_until_settled(make_sender(sessions, TimesOutOnce()), sessions)
    update_row, alert_row = await rows(sessions)
    assert update_row.status is OutboxStatus.UNCONFIRMED and "read timeout" in (update_row.last_error or "")
    assert alert_row.status is OutboxStatus.SENT and alert_row.attempts == 1
    assert alert_row.platform_message_id == "2-1"


def _network_error(cause: Exception) -> NetworkError:
    try:
        raise NetworkError(f"{type(cause).__name__}") from cause
    except NetworkError as exc:
        return exc


def _timed_out(cause: Exception) -> TimedOut:
    try:
        raise TimedOut(f"{type(cause).__name__}") from cause
    except TimedOut as exc:
        return exc


_CONNECTION = aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 1, False, True, None, None, None)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (Forbidden("Forbidden: bot was blocked by the user"), Unreachable),
        (BadRequest("Bad Request: message is not modified: ..."), RejectReason.NOT_MODIFIED),
        (BadRequest("Bad Request: message to edit not found"), RejectReason.EDIT_TARGET_GONE),
        (BadRequest("Bad Request: chat not found"), RejectReason.INVALID),
        (_network_error(httpx.ConnectError("refused")), False),  # never reached Telegram
        (_network_error(httpx.ReadError("reset")), True),  # may have been delivered
        (_network_error(aiohttp.ClientConnectorError(_CONNECTION, OSError(111, "refused"))), False),
        (_timed_out(aiohttp.ConnectionTimeoutError("connect")), False),
        (_timed_out(aiohttp.SocketTimeoutError("read")), True),
        (_network_error(aiohttp.ServerDisconnectedError()), True),
        (NetworkError("Bad Gateway"), False),  # Telegram answered 5xx
    ],
)
def test_telegram_errors_map_to_neutral_ones(error: TelegramError, expected: object) -> None:
    neutral = telegram_transport._neutral(error, partial=False, idempotent=False)
    if isinstance(expected, RejectReason):
        assert isinstance(neutral, Rejected) and neutral.reason is expected
    elif isinstance(expected, bool):
        assert isinstance(neutral, TemporaryFailure) and neutral.maybe_delivered is expected
        # Repeating an edit is harmless, so an edit's unknown outcome is always retried.
        edit = telegram_transport._neutral(error, partial=False, idempotent=True)
        assert isinstance(edit, TemporaryFailure) and not edit.maybe_delivered
    else:
        assert isinstance(neutral, Unreachable)


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_plain_api_answers_map_as_ptbs_do() -> None:
    """The sender's own sendMessage (AiohttpRequest.call) raises what PTB would for each answer."""

    def neutral(status: int, **answer: Any) -> DeliveryError:
        error = telegram_transport._api_error(status, {"ok": False, "error_code": status, **answer})
        return telegram_transport._neutral(error, partial=False, idempotent=False)

    flood = neutral(429, description="Too Many Requests: retry after 7", parameters={"retry_after": 7})
    assert isinstance(flood, RetryLater) and flood.seconds == 7
    assert isinstance(neutral(403, description="Forbidden: bot was blocked by the user"), Unreachable)
    rejected = neutral(400, description="Bad Request: chat not found")
    assert isinstance(rejected, Rejected) and rejected.reason is RejectReason.INVALID
    moved = neutral(400, description="Bad Request: group chat was upgraded", parameters={"migrate_to_chat_id": -100})
    assert isinstance(moved, Rejected) and "-100" in moved.detail
    down = neutral(502, description="Bad Gateway")
    assert isinstance(down, TemporaryFailure) and not down.maybe_delivered
