"""The working calendars a running bot uses: the province's, and each agency's own office hours.

What makes a calendar lives in three places: the `holidays` package, the
province file (its `calendar` days, its `office_hours` and an agency's own
`office_hours`), and the days the platform administrator adds with `congdan
admin calendar` or `/calendar` in the bot (table `calendar_days`).
`load_calendars` combines them, with the province's stage limits (its
`deadlines`); `CalendarCache` keeps the result in a long-running process and
reloads it when any of them changed, possibly from another process (the
command line), as bot/domain/routing.py's RouterCache does for the router. Every bot
process reloads (scheduler/runner.py), whether or not it runs the timed work.
A reload builds a new immutable `Calendars` and swaps one reference, so a
deadline computed meanwhile uses either the old calendars or the new ones,
never a mixture.

A day the administrator changes moves the deadlines already running across
it (`set_day`, `remove_day`): each open stage due after that day keeps the
working time it had left, counted in the new calendar, and its reminders are
planned again (bot/reminders.replan), in the transaction of the change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from types import MappingProxyType

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.calendar import WeeklyHours, WorkingCalendar
from bot.domain.deadlines import province_limits_from_json
from bot.domain.office_hours import calendar_from_json, weekly_hours_from_json
from storage.models import Agency, CalendarDay, Province, Report
from storage.models.reminders import DayKind

# --- the calendars ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendars:
    """The province's calendar, the calendars of the agencies that keep their own hours, and its stage limits."""

    province: WorkingCalendar
    by_agency: Mapping[int, WorkingCalendar] = field(default_factory=lambda: MappingProxyType({}))
    # The stage limits the province file sets (bot/domain/deadlines.py `with_province`); empty: the regulation's.
    deadlines: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def for_agency(self, agency_id: int | None) -> WorkingCalendar:
        if agency_id is None:
            return self.province
        return self.by_agency.get(agency_id, self.province)


@dataclass(frozen=True)
class ExtraDays:
    days_off: frozenset[date]
    working_days: frozenset[date]


def combine_days(
    file_off: Iterable[date], file_working: Iterable[date], admin: Iterable[tuple[date, DayKind]]
) -> ExtraDays:
    """The file's extra days with the administrator's on top: a day the administrator set wins."""
    off, working = set(file_off), set(file_working)
    for day, kind in admin:
        off.discard(day)
        working.discard(day)
        (off if kind == DayKind.DAY_OFF else working).add(day)
    return ExtraDays(frozenset(off), frozenset(working))


async def extra_days(session: AsyncSession) -> ExtraDays:

    province = await session.scalar(select(Province).limit(1))
    file_off, file_working = calendar_from_json(province.calendar_json if province else None)
    admin = (await session.execute(select(CalendarDay.day, CalendarDay.kind))).all()
    return combine_days(file_off, file_working, [(day, DayKind(kind)) for day, kind in admin])


async def load_calendars(session: AsyncSession, timezone_name: str) -> Calendars:
    days = await extra_days(session)
    province = await session.scalar(select(Province).limit(1))
    # The province's own office hours, else the civil-service week; an agency's own hours win over both.
    province_hours = (
        weekly_hours_from_json(province.office_hours_json)
        if province is not None and province.office_hours_json
        else None
    )

    def calendar(hours: WeeklyHours | None) -> WorkingCalendar:
        return WorkingCalendar(
            tz=timezone_name, hours=hours, extra_days_off=days.days_off, extra_working_days=days.working_days
        )

    own_hours = (
        await session.execute(select(Agency.id, Agency.office_hours_json).where(Agency.office_hours_json.is_not(None)))
    ).all()
    return Calendars(
        province=calendar(province_hours),
        by_agency=MappingProxyType(
            {agency_id: calendar(weekly_hours_from_json(text)) for agency_id, text in own_hours}
        ),
        deadlines=MappingProxyType(province_limits_from_json(province.deadlines_json if province else None)),
    )


# What tells a process that its calendars are stale: an import (which bumps the
# province row) or an administrator's day added or removed.
_Version = tuple[datetime | None, int, datetime | None]


async def _version(session: AsyncSession) -> _Version:
    row = (
        await session.execute(
            select(
                select(Province.updated_at).limit(1).scalar_subquery(),
                select(func.count()).select_from(CalendarDay).scalar_subquery(),
                select(func.max(CalendarDay.created_at)).scalar_subquery(),
            )
        )
    ).one()
    return row[0], int(row[1] or 0), row[2]


class CalendarCache:
    """The calendars of this process, reloaded when the data behind them changed."""

    def __init__(self, timezone_name: str, current: Calendars | None = None) -> None:
        self.timezone_name = timezone_name
        self._current = current or Calendars(WorkingCalendar(tz=timezone_name))
        self._version: _Version | None = None
        self._lock = asyncio.Lock()

    @property
    def current(self) -> Calendars:
        return self._current

    async def refresh(self, session: AsyncSession) -> bool:
        """Reload if anything changed since the last load; whether it did. One small query otherwise."""
        version = await _version(session)
        if version == self._version:
            return False
        async with self._lock:
            if version == self._version:
                return False
            self._current = await load_calendars(session, self.timezone_name)
            self._version = version
            return True


# --- the platform administrator's days (`congdan admin calendar`, `/calendar`) ---------------------


@dataclass(frozen=True)
class DayChange:
    day: date
    # What the administrator made of it; None: their change was removed.
    kind: DayKind | None
    # What the day was before the change and is after it, in the province's calendar.
    was_working: bool
    is_working: bool
    # The administrator's earlier change of the same day, if any.
    replaced: DayKind | None
    # Open stages whose deadline moved with the change.
    replanned: int


async def set_day(
    session: AsyncSession,
    day: date,
    kind: DayKind,
    *,
    reason: str | None,
    by: str | None,
    at: datetime,
    timezone_name: str,
) -> DayChange:
    """Make `day` a day off or a working day, and move the open deadlines that run across it."""
    before = await load_calendars(session, timezone_name)
    row = await session.get(CalendarDay, day)
    replaced = DayKind(row.kind) if row is not None else None
    if row is None:
        session.add(CalendarDay(day=day, kind=kind, reason=reason, created_by=by, created_at=at))
    else:
        row.kind, row.reason, row.created_by, row.created_at = kind, reason, by, at
    await session.flush()
    return await _after_change(session, before, day, kind, replaced, at, timezone_name)


async def remove_day(session: AsyncSession, day: date, *, at: datetime, timezone_name: str) -> DayChange | None:
    """Forget the administrator's change of `day` (the file and the package decide it again); None: there was none."""
    row = await session.get(CalendarDay, day)
    if row is None:
        return None
    before = await load_calendars(session, timezone_name)
    replaced = DayKind(row.kind)
    await session.delete(row)
    await session.flush()
    return await _after_change(session, before, day, None, replaced, at, timezone_name)


async def _after_change(
    session: AsyncSession,
    before: Calendars,
    day: date,
    kind: DayKind | None,
    replaced: DayKind | None,
    at: datetime,
    timezone_name: str,
) -> DayChange:
    after = await load_calendars(session, timezone_name)
    replanned = await replan_open_stages(session, before, after, day, at)
    return DayChange(
        day, kind, before.province.is_working_day(day), after.province.is_working_day(day), replaced, replanned
    )


async def replan_open_stages(
    session: AsyncSession, before: Calendars, after: Calendars, day: date, at: datetime
) -> int:
    """Move the running deadlines due after `day` to the new calendars; how many moved.

    Each keeps the working time it had left at `at` (a day off added
    tomorrow gives a stage due the day after one more day, a make-up day one
    less): due' = new.add(at, old.between(at, due)), in its agency's
    calendars. A stage paused for the citizen's answer has no running
    deadline; what it had left is working time, counted in the calendar of
    the day the citizen answers. One query finds the stages (the rows are
    locked, so a transition under way waits), in the caller's transaction.
    """
    from bot.domain.reminders import CLOCKED, replan

    start_of_day = datetime.combine(day, time.min, tzinfo=after.province.tz).astimezone(UTC)
    reports = (
        await session.scalars(
            select(Report)
            .where(
                Report.state.in_([state.value for state in CLOCKED]), Report.due_at > at, Report.due_at > start_of_day
            )
            .order_by(Report.id)
            .with_for_update()
        )
    ).all()
    moved = 0
    for report in reports:
        assert report.due_at is not None
        old, new = before.for_agency(report.agency_id), after.for_agency(report.agency_id)
        due = new.add(at, old.between(at, report.due_at))
        if due != report.due_at:
            replan(report, due, at)
            moved += 1
    await session.flush()
    return moved


@dataclass(frozen=True)
class DayEntry:
    day: date
    working: bool
    source: str  # "holidays package", "province file", "administrator"
    note: str


async def year_listing(session: AsyncSession, year: int, timezone_name: str) -> list[DayEntry]:
    """Every day of `year` that differs from an ordinary week, and who says so."""

    calendar = (await load_calendars(session, timezone_name)).province
    entries: dict[date, DayEntry] = {}
    for day, name in calendar.public_holidays(year).items():
        entries[day] = DayEntry(day, False, "holidays package", name)
    for day in calendar.public_makeup_days(year):
        entries[day] = DayEntry(day, True, "holidays package", "make-up working day")
    province = await session.scalar(select(Province).limit(1))
    file_off, file_working = calendar_from_json(province.calendar_json if province else None)
    for days, working in ((file_off, False), (file_working, True)):
        for day in days:
            if day.year == year:
                entries[day] = DayEntry(day, working, "province file", "")
    rows = await session.scalars(
        select(CalendarDay).where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
    )
    for row in rows:
        entries[row.day] = DayEntry(row.day, row.kind == DayKind.WORKING_DAY, "administrator", row.reason or "")
    return [entries[day] for day in sorted(entries)]
