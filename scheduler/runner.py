"""The timed work of the bot, driven by APScheduler: reminders, the morning digest, the monthly list.

Jobs (AsyncIOScheduler, in-memory job store: what is due lives in the
database, so nothing is lost with the scheduler's own state):

  tick          every `tick_seconds`   reminders and escalations (bot/reminders.tick), in batches
  digest        at office opening      the daily digest to every agency group
  monthly       at office opening      last month's late stages to the Provincial Office, once
  calendars     every `tick_seconds`   reload the working calendars if the data changed

The first three are timed work, done only where SCHEDULER_ENABLED is true:
with several processes on one database only the holder of the lease
(scheduler/lease.py) does it; the others keep trying to take the lease and do
it when the holder stops renewing. The calendars are reloaded by every
process, SCHEDULER_ENABLED or not, since every process computes deadlines: a
process without timed work runs a scheduler with that one job.

Each job is idempotent on its own (reminder rows and runs are unique, outbox
rows deduplicated), so the lease is about not doing the work twice for
nothing, not about correctness: two holders for a moment (a holder stalled
past its lease) still send nothing twice.

When a process becomes the holder it catches up at once: today's digest if
it is office hours and the digest has not gone out yet, last month's list if
it has not, and every reminder whose time came while nobody held the lease.
It keeps catching up at every tick until each list is done for its period, so
a digest whose run failed goes out at the next tick rather than tomorrow.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import reminders
from bot.domain.calendar import WorkingCalendar
from bot.domain.calendars import CalendarCache
from bot.domain.desk import Desk
from scheduler.lease import Lease

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)

LEASE_NAME = "timed-work"
# How long `stop` waits for a job under way to finish its transaction.
STOP_TIMEOUT = 10.0
# When nothing in the coming weeks says otherwise (the civil-service morning).
DEFAULT_OPENING = time(7, 30)


@dataclass(frozen=True)
class SchedulerConfig:
    tick_seconds: float = 30.0
    # Three ticks: a holder that misses two renewals in a row still holds it.
    lease_seconds: float = 90.0
    # Reports acted on per transaction; a tick runs batches until none is due.
    batch: int = 200

    def __post_init__(self) -> None:
        if self.tick_seconds <= 0 or self.batch <= 0:
            raise ValueError("tick_seconds and batch must be positive")
        if self.lease_seconds < 2 * self.tick_seconds:
            raise ValueError("the lease must outlast two ticks, or the holder would lose it between renewals")


@dataclass(frozen=True)
class TickReport:
    leader: bool
    reports: int = 0
    steps: int = 0
    messages: int = 0


class TimedWork:
    """The jobs themselves, callable directly (tests, the benchmark) or by the scheduler."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        desk: Callable[[], Desk],
        clock: Callable[[], datetime],
        lease: Lease,
        *,
        calendars: CalendarCache | None = None,
        batch: int = 200,
    ) -> None:
        self.sessions = sessions
        self.desk = desk
        self.clock = clock
        self.lease = lease
        self.calendars = calendars
        self.batch = batch
        # The period each periodic list was last done (or found done) for by this process:
        # the catch-up at each tick tries a list again until then, and then leaves it alone.
        self._done: dict[str, str] = {}

    async def lead(self) -> bool:
        """Take or renew the lease; on becoming the holder, catch up on the periodic lists."""
        was_leader = self.lease.held()
        if not await self.lease.acquire():
            if was_leader:
                log.warning("lost the scheduler lease to another process")
            return False
        if not was_leader:
            log.info("this process now runs the timed work (%s)", self.lease.holder)
            await self._periodic()
        return True

    async def tick(self) -> TickReport:
        """Every reminder whose time has come, in batches, while this process holds the lease.

        Then the periodic lists not yet done for their period: a digest whose
        run failed (and was rolled back whole) goes out at the next tick.
        """
        if not await self.lead():
            return TickReport(leader=False)
        reports = steps = messages = 0
        while True:
            async with self.sessions.begin() as session:
                done = await reminders.tick(session, self.desk(), self.clock(), self.batch)
            reports, steps, messages = reports + done.reports, steps + done.steps, messages + done.messages
            # Renew between batches: a long backlog must not outlive the lease.
            if done.reports < self.batch or not await self.lease.acquire():
                break
        await self._periodic()
        return TickReport(True, reports, steps, messages)

    async def digest(self) -> int | None:
        if not await self.lead():
            return None
        async with self.sessions.begin() as session:
            return await reminders.send_digests(session, self.desk(), self.clock())

    async def monthly(self) -> int | None:
        if not await self.lead():
            return None
        async with self.sessions.begin() as session:
            return await reminders.send_monthly_list(session, self.desk(), self.clock())

    async def _periodic(self) -> None:
        """Each periodic list that is due now and not yet done for its period; a failure waits for the next try."""
        jobs = (
            (reminders.DIGEST_JOB, reminders.digest_period, reminders.send_digests),
            (reminders.MONTHLY_JOB, reminders.monthly_period, reminders.send_monthly_list),
        )
        for name, period_of, send in jobs:
            desk, now = self.desk(), self.clock()
            period = period_of(desk, now)
            if period is None or self._done.get(name) == period:
                continue
            try:
                async with self.sessions.begin() as session:
                    # None: another process, or an earlier run, did it already.
                    await send(session, desk, now)
            except Exception:
                log.exception("periodic job %s for %s failed; it is tried again at the next tick", name, period)
                continue
            self._done[name] = period

    async def refresh_calendars(self) -> bool:
        if self.calendars is None:
            return False
        async with self.sessions() as session:
            changed = await self.calendars.refresh(session)
        if changed:
            log.info("working calendars reloaded")
        return changed


def opening_times(calendar: WorkingCalendar, today: date | None = None) -> list[time]:
    """The distinct times offices open in the coming three weeks (weekdays, make-up days)."""
    first = today or datetime.now(calendar.tz).date()
    days = (first + timedelta(days=offset) for offset in range(21))
    starts = {periods[0].start for day in days if (periods := calendar.periods_on(day))}
    return sorted(starts) or [DEFAULT_OPENING]


class RunningScheduler:
    def __init__(
        self, work: TimedWork, config: SchedulerConfig, calendar: WorkingCalendar, *, timed_work: bool = True
    ) -> None:
        """The jobs on `work`; without `timed_work` only the calendars are reloaded (SCHEDULER_ENABLED=false)."""
        self.work = work
        self.config = config
        self._scheduler = AsyncIOScheduler(
            timezone=calendar.tz,
            job_defaults={
                # A job that could not run on time runs once, late, rather than being dropped or repeated.
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": None,
            },
        )
        self._busy = asyncio.Lock()
        self._stopping = False
        every = IntervalTrigger(seconds=config.tick_seconds, timezone=UTC)
        now = datetime.now(UTC)
        self._scheduler.add_job(self._guard("calendars", work.refresh_calendars), every, id="calendars")
        if not timed_work:
            return
        self._scheduler.add_job(self._guard("tick", work.tick), every, id="tick", next_run_time=now)
        for index, opening in enumerate(opening_times(calendar)):
            at = CronTrigger(hour=opening.hour, minute=opening.minute, timezone=calendar.tz)
            self._scheduler.add_job(self._guard("digest", work.digest), at, id=f"digest-{index}")
            self._scheduler.add_job(self._guard("monthly", work.monthly), at, id=f"monthly-{index}")

    def _guard(self, name: str, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if self._stopping:
                return
            # One job at a time: they share the database (one connection on SQLite).
            async with self._busy:
                if self._stopping:
                    return
                try:
                    await job()
                except Exception:
                    # The next run tries again; what failed was rolled back whole.
                    log.exception("scheduled job %s failed", name)

        return run

    def start(self) -> None:
        self._scheduler.start()

    async def stop(self) -> None:
        """Let a job under way finish, stop the scheduler and give up the lease."""
        if self._stopping:
            return
        self._stopping = True
        if self._scheduler.running:
            self._scheduler.pause()
        try:
            await asyncio.wait_for(self._busy.acquire(), STOP_TIMEOUT)
            self._busy.release()
        except TimeoutError:
            log.warning("a scheduled job did not finish within %ss; it is cancelled and rolled back", STOP_TIMEOUT)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
            # The shutdown is scheduled on the loop; let it run before the loop may close.
            await asyncio.sleep(0)
        if self.work.lease.held():
            await self.work.lease.release()


async def start_scheduler(deps: Deps, config: SchedulerConfig | None = None) -> RunningScheduler:
    """The bot's scheduler on `deps` (its sessions, calendars and clock), started.

    Every bot process starts one: the calendars are reloaded in each, and the
    timed work runs only where SCHEDULER_ENABLED is true.
    """
    settings = deps.settings
    config = config or SchedulerConfig(
        tick_seconds=settings.scheduler_tick_seconds, lease_seconds=settings.scheduler_lease_seconds
    )
    lease = Lease(deps.sessions, LEASE_NAME, timedelta(seconds=config.lease_seconds), deps.now)
    # deps.desk and deps.now are read at each run: tests move the clock, reloads replace calendars.
    work = TimedWork(deps.sessions, lambda: deps.desk, deps.now, lease, calendars=deps.calendars, batch=config.batch)
    running = RunningScheduler(work, config, deps.calendar, timed_work=settings.scheduler_enabled)
    running.start()
    return running
