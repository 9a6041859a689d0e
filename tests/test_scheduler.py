"""The scheduler: one holder of the timed work at a time, taken over when it dies; catching up on becoming it."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.sandbox import running_bot
from bot.config import ConfigError, Settings, load_settings
from bot.deps import stage_limits
from bot.domain import calendars, reminders
from bot.domain.desk import Desk
from bot.emulators.telegram import BotApiEmulator
from scheduler.lease import Lease
from scheduler.runner import (
    LEASE_NAME,
    RunningScheduler,
    SchedulerConfig,
    TimedWork,
    opening_times,
)
from storage.db import create_engine, session_factory
from storage.models import Reminder, Report, ScheduledRun, SchedulerLease
from storage.models.reminders import DayKind
from tests.reminder_world import (
    World,
    build_world,
    make_desk,
    reminder_rows,
    submit,
    vn,
)

ROOT = Path(__file__).resolve().parent.parent
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def settings_overrides() -> dict:
    # For the running bot: the timed work off, the calendars reloaded every 0.2 s.
    return {"scheduler_enabled": False, "scheduler_tick_seconds": 0.2, "scheduler_lease_seconds": 1.0}


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


async def test_the_lease_has_one_holder_and_passes_on_when_it_expires(sessions: Sessions) -> None:
    clock = FakeClock(datetime(2026, 11, 25, 3, tzinfo=UTC))
    first = Lease(sessions, "test", timedelta(seconds=90), clock, holder="first")
    second = Lease(sessions, "test", timedelta(seconds=90), clock, holder="second")
    assert await first.acquire() and not await second.acquire()
    clock.at += timedelta(seconds=60)
    assert await first.acquire()  # renewed until +150 s
    clock.at += timedelta(seconds=89)
    assert not await second.acquire() and first.held()
    # The first holder stops renewing (it died): once its lease has run out, the second takes it.
    clock.at += timedelta(seconds=2)
    assert not first.held() and await second.acquire()
    assert not await first.acquire()
    await second.release()
    assert await first.acquire()
    async with sessions() as session:
        row = await session.get(SchedulerLease, "test")
        assert row is not None and row.holder == "first"


async def test_concurrent_takers_get_it_once(sessions: Sessions) -> None:
    clock = FakeClock(datetime(2026, 11, 25, 3, tzinfo=UTC))
    leases = [Lease(sessions, "race", timedelta(seconds=30), clock, holder=f"p{i}") for i in range(6)]
    won = await asyncio.gather(*(lease.acquire() for lease in leases))
    assert sum(won) == 1


async def test_a_new_holder_catches_up_on_the_morning(sessions: Sessions) -> None:
    world = await build_world(sessions)
    desk = make_desk()
    await submit(sessions, world, desk, vn(2026, 11, 30, 8))
    await submit(sessions, world, desk, vn(2026, 12, 1, 7, 40))
    clock = FakeClock(vn(2026, 12, 1, 10))  # the process starts on Tuesday 1/12 at 10:00
    lease = Lease(sessions, LEASE_NAME, timedelta(seconds=90), clock, holder="me")
    work = TimedWork(sessions, lambda: desk, clock, lease)
    report = await work.tick()
    # The first report is overdue since Tuesday 08:00: 50 %, 80 %, deadline, overdue; the second is at 50 % at 11:40.
    assert report.leader and report.steps == 4
    kinds = [s.kind for s in await reminder_rows(sessions)]
    assert kinds.count(reminders.DAILY_DIGEST) == 1 and kinds.count(reminders.MONTHLY_LATE) == 1
    # Renewing is not becoming the holder: no second digest; the cron jobs find it done.
    clock.at += timedelta(seconds=30)
    assert (await work.tick()).steps == 0
    assert await work.digest() is None and await work.monthly() is None
    async with sessions() as session:
        runs = (await session.execute(select(ScheduledRun.job, ScheduledRun.period).order_by(ScheduledRun.job))).all()
    assert [tuple(run) for run in runs] == [("digest", "2026-12-01"), ("late_month", "2026-11")]
    assert opening_times(desk.calendar, vn(2026, 12, 1).date()) == [vn(2026, 12, 1, 7, 30).time()]


async def test_a_failed_morning_digest_is_tried_again_at_the_next_tick(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await build_world(sessions)
    desk = make_desk()
    await submit(sessions, world, desk, vn(2026, 11, 30, 8))
    clock = FakeClock(vn(2026, 12, 1, 7))  # before opening: nothing periodic is due yet
    # A lease long enough to stand for the ticks of the half hour this test skips.
    work = TimedWork(sessions, lambda: desk, clock, Lease(sessions, LEASE_NAME, timedelta(hours=1), clock))
    assert (await work.tick()).leader

    send_digests = reminders.send_digests

    async def database_gone_once(session: AsyncSession, desk: Desk, now: datetime) -> int | None:
        monkeypatch.setattr(reminders, "send_digests", send_digests)
        raise ConnectionError("the database went away")

    monkeypatch.setattr(reminders, "send_digests", database_gone_once)
    clock.at = vn(2026, 12, 1, 7, 30)
    with pytest.raises(ConnectionError):
        await work.digest()  # the opening's run fails and is rolled back
    clock.at += timedelta(seconds=30)
    await work.tick()
    assert [s.kind for s in await reminder_rows(sessions)].count(reminders.DAILY_DIGEST) == 1
    async with sessions() as session:
        assert await session.get(ScheduledRun, ("digest", "2026-12-01")) is not None


async def test_a_process_without_timed_work_still_reloads_its_calendars(
    emu: BotApiEmulator, settings: Settings, sessions: Sessions
) -> None:
    """SCHEDULER_ENABLED=false: no reminders here, but a day changed elsewhere reaches this process within a tick."""
    day = date(2030, 3, 6)  # a Wednesday
    async with running_bot(emu, settings) as bot:
        assert bot.deps.calendar.is_working_day(day)
        # Another process (the command line) changes the day.
        async with sessions.begin() as session:
            await calendars.set_day(
                session,
                day,
                DayKind.DAY_OFF,
                reason=None,
                by="cli",
                at=datetime.now(UTC),
                timezone_name=settings.timezone,
            )

        async def reloaded() -> bool:
            return not bot.deps.calendar.is_working_day(day)

        await _until(reloaded)
    assert await _holder(sessions) is None  # and it never took on the timed work


async def _holder(sessions: Sessions) -> str | None:
    async with sessions() as session:
        return await session.scalar(select(SchedulerLease.holder).where(SchedulerLease.name == LEASE_NAME))


async def _steps(sessions: Sessions, report_id: int) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(Reminder).where(Reminder.report_id == report_id)) or 0
        )


async def _until(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _overdue_urgent_report(sessions: Sessions, world: World, at: datetime) -> int:
    """A report whose reminders are all due, urgent so that they go at any hour of the real clock."""
    report_id = await submit(sessions, world, make_desk(), at)
    async with sessions.begin() as session:
        await session.execute(update(Report).where(Report.id == report_id).values(urgent=True))
    return report_id


async def test_two_processes_one_killed_the_other_takes_over(
    backend: str, database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    if backend == "sqlite":
        pytest.skip("several bot processes share a PostgreSQL database; SQLite serves one process")
    world = await build_world(sessions)
    now = datetime.now(UTC)
    first = await _overdue_urgent_report(sessions, world, now - timedelta(days=3))
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.scheduler_child",
        database_url,
        "child",
        "--tick",
        "0.2",
        "--lease",
        "1.0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=(tmp_path / "child.log").open("wb"),
    )
    engine = create_engine(database_url)
    running: RunningScheduler | None = None
    try:
        await _until(lambda: _holder_is(sessions, "child"), timeout=30)
        await _until(lambda: _has_steps(sessions, first))
        # A second process: its own engine and scheduler, the same database.
        own = session_factory(engine)
        desk = make_desk()
        lease = Lease(own, LEASE_NAME, timedelta(seconds=1.0), lambda: datetime.now(UTC), holder="parent")
        running = RunningScheduler(
            TimedWork(own, lambda: desk, lambda: datetime.now(UTC), lease),
            SchedulerConfig(tick_seconds=0.2, lease_seconds=1.0),
            desk.calendar,
        )
        running.start()
        await asyncio.sleep(1.5)
        assert await _holder(sessions) == "child" and not lease.held()

        child.send_signal(signal.SIGKILL)
        await child.wait()
        second = await _overdue_urgent_report(sessions, world, datetime.now(UTC) - timedelta(days=3))
        await _until(lambda: _holder_is(sessions, "parent"), timeout=5)
        await _until(lambda: _has_steps(sessions, second))
        # Nothing the dead holder did is done again.
        async with sessions() as session:
            keys = (await session.execute(select(Reminder.report_id, Reminder.stage_seq, Reminder.step))).all()
        assert len(keys) == len(set(keys)) and await _steps(sessions, first) == await _steps(sessions, second)
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGKILL)
            await child.wait()
        if running is not None:
            await running.stop()
        await engine.dispose()
    assert await _holder(sessions) is None  # a clean stop gives the lease up


async def _holder_is(sessions: Sessions, holder: str) -> bool:
    return await _holder(sessions) == holder


async def _has_steps(sessions: Sessions, report_id: int) -> bool:
    return await _steps(sessions, report_id) > 0


def test_scheduler_settings() -> None:
    settings = load_settings(
        {
            "REMINDER_SHARES": "0.25, 0.5,0.9",
            "SCHEDULER_TICK_SECONDS": "10",
            "SCHEDULER_LEASE_SECONDS": "25",
            "SCHEDULER_ENABLED": "off",
        },
        require_token=False,
    )
    assert (settings.reminder_shares, settings.scheduler_enabled) == ((0.25, 0.5, 0.9), False)
    assert stage_limits(settings).reminder_shares == (0.25, 0.5, 0.9)
    with pytest.raises(ConfigError) as bad:
        load_settings(
            {"REMINDER_SHARES": "0.8,0.5", "SCHEDULER_TICK_SECONDS": "60", "SCHEDULER_ENABLED": "maybe"},
            require_token=False,
        )
    assert sorted(problem.split(":")[0] for problem in bad.value.problems) == [
        "REMINDER_SHARES",
        "SCHEDULER_ENABLED",
        "SCHEDULER_LEASE_SECONDS",
    ]
