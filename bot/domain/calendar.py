"""Working-time calendar: deadlines counted in office hours (003 Art. 9.2).

Provincial regulations set every processing limit in *working* time: a report
is received within 8 working hours, handled within 7 working days, and so on.
This module turns such amounts into instants and back. It is pure: no I/O, no
database; the holiday data comes from the `holidays` package, and the
province's own changes (extra days off, make-up working days) are passed in.

Conventions
-----------
* Every instant taken must be timezone-aware (any zone); naive -> ValueError.
  Every instant returned is an aware datetime in UTC (the database stores
  UTC); use `WorkingCalendar.local()` to show it in the calendar's zone.
* Office hours are closed intervals: the end of a period is inside office
  hours, so a deadline may be 17:30 rather than the next morning's 07:30.
* A "working day" as an amount is `working_day_length` of working time
  (8 h by default), not "until a midnight": 7 working days from Tuesday 15:00
  end on Thursday 15:00 of the next week.
* Arithmetic is exact to the microsecond and in elapsed (UTC) time, so it is
  right in zones with daylight-saving time too (Vietnam has none).

How it is fast
--------------
Each calendar year is laid out once (lazily, then cached per instance) as the
absolute office-hour spans of each day plus a running total of working time
at the start of each day. A "position" is (year, working microseconds since
the year began); `between` subtracts positions, and `add` moves a position
and finds the day by bisection. Adding 2000 working days therefore costs the
layout of ~8 years (a few milliseconds) and a few bisections. Construction
does no work beyond validation, so a calendar can be rebuilt whenever the
administrator edits the province's table of extra days.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays as holidays_package

__all__ = [
    "DEFAULT_TIMEZONE",
    "WeeklyHours",
    "WorkPeriod",
    "WorkingCalendar",
]

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
# Holiday names are kept in the package's original language so that they do
# not change with the server's locale (the package reads LANG otherwise).
DEFAULT_HOLIDAY_LANGUAGE = "vi"
HOLIDAY_COUNTRY = "VN"

_ONE_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A calendar whose every day is closed would make `add` search forever; give
# up after this many consecutive years without a single working minute.
_MAX_EMPTY_YEARS = 10

# An absolute instant, in microseconds since the Unix epoch. Integers keep the
# running totals exact and cheap to add and compare.
_Micros = int
_Span = tuple[_Micros, _Micros]


def _micros(amount: timedelta) -> _Micros:
    return amount // _ONE_MICROSECOND


def _instant(micros: _Micros) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _require_aware(at: datetime) -> None:
    if not isinstance(at, datetime):
        raise TypeError(f"expected a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: working-time arithmetic needs a timezone")


def _require_date(d: date) -> None:
    # A datetime is a date subclass; accepting one would silently drop its time
    # and zone, which is almost always a caller's mistake.
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"expected a date, got {type(d).__name__}")


@dataclass(frozen=True)
class WorkPeriod:
    """One stretch of office hours within a day, in local wall-clock time."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("work period times are local wall-clock times, without tzinfo")
        if not self.start < self.end:
            raise ValueError(f"work period must end after it starts: {self.start}-{self.end}")

    @property
    def duration(self) -> timedelta:
        return datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)

    @classmethod
    def parse(cls, text: str) -> WorkPeriod:
        """Read "07:30-11:30" (ISO times around a hyphen), as configuration spells it."""
        start_text, separator, end_text = text.partition("-")
        if not separator:
            raise ValueError(f"work period {text!r} is not of the form HH:MM-HH:MM")
        return cls(time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip()))


def _ordered_periods(periods: Iterable[WorkPeriod]) -> tuple[WorkPeriod, ...]:
    ordered = tuple(sorted(periods, key=lambda p: (p.start, p.end)))
    for period in ordered:
        if not isinstance(period, WorkPeriod):
            raise TypeError(f"expected WorkPeriod, got {type(period).__name__}")
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        # Touching periods are allowed (they simply join); overlapping ones
        # would count the same minutes twice.
        if later.start < earlier.end:
            raise ValueError(f"work periods overlap: {earlier} and {later}")
    return ordered


def _total(periods: Iterable[WorkPeriod]) -> timedelta:
    return sum((p.duration for p in periods), timedelta())


@dataclass(frozen=True)
class WeeklyHours:
    """Office hours for each weekday (0 = Monday ... 6 = Sunday).

    Weekdays missing from `by_weekday` have no office hours. The mapping is
    normalised to all seven weekdays, each with its periods sorted.
    """

    by_weekday: Mapping[int, tuple[WorkPeriod, ...]]

    def __post_init__(self) -> None:
        normalised: dict[int, tuple[WorkPeriod, ...]] = {weekday: () for weekday in range(7)}
        for weekday, periods in self.by_weekday.items():
            if not isinstance(weekday, int) or weekday not in normalised:
                raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday!r}")
            normalised[weekday] = _ordered_periods(periods)
        object.__setattr__(self, "by_weekday", MappingProxyType(normalised))

    def __hash__(self) -> int:
        return hash(tuple(self.by_weekday.items()))

    @classmethod
    def default(cls) -> WeeklyHours:
        """Monday-Friday 07:30-11:30 and 13:30-17:30: the civil-service week."""
        day = (WorkPeriod(time(7, 30), time(11, 30)), WorkPeriod(time(13, 30), time(17, 30)))
        return cls({weekday: day for weekday in range(5)})

    def periods(self, weekday: int) -> tuple[WorkPeriod, ...]:
        return self.by_weekday[weekday]

    def total(self, weekday: int) -> timedelta:
        return _total(self.by_weekday[weekday])


@dataclass(frozen=True)
class _PackageYear:
    """What the `holidays` package says about one year in Vietnam."""

    days_off: Mapping[date, str]
    # Weekend dates the government turned into working days, in exchange for a
    # weekday off (the package's "substituted" holidays, e.g. Saturday
    # 2026-08-22 worked for Monday 2026-08-31 off).
    makeup_days: frozenset[date]


@lru_cache(maxsize=512)
def _package_year(year: int, language: str) -> _PackageYear:
    # Shared by every calendar: the package data never changes at run time,
    # and building it costs milliseconds, which rebuilt calendars should not pay.
    national = holidays_package.country_holidays(HOLIDAY_COUNTRY, years=year, language=language)
    days_off = {day: national[day] for day in sorted(national)}
    makeup = frozenset(day for day in national.weekend_workdays if day.year == year)
    return _PackageYear(MappingProxyType(days_off), makeup)


@dataclass(frozen=True)
class _YearLayout:
    """One calendar year, laid out for bisection.

    `spans[i]` are the absolute office-hour intervals of the i-th day of the
    year; `running[i]` is the working time before that day (so it has one
    entry more than there are days, and `running[-1]` is the year's total).
    """

    first_ordinal: int
    spans: tuple[tuple[_Span, ...], ...]
    running: tuple[_Micros, ...]

    @property
    def total(self) -> _Micros:
        return self.running[-1]


def _days_in_year(year: int) -> int:
    return date(year, 12, 31).timetuple().tm_yday


class WorkingCalendar:
    """Office hours, public holidays and the province's own changes to them.

    Which dates are working days, highest priority first:
    1. `extra_working_days` (configured make-up days) are working, even if the
       package calls them holidays; configuration overrides the package
       because the package lags behind official notices.
    2. `extra_days_off` are not working.
    3. With `use_public_holidays`, Vietnam's public holidays from `holidays`
       are not working, and the weekend days it lists as swapped working days
       are working.
    4. Otherwise the weekday's regular office hours decide.
    A working day whose weekday has no regular hours (a make-up Saturday) uses
    `makeup_day_hours`; otherwise it uses its weekday's regular hours.
    """

    def __init__(
        self,
        *,
        tz: str | ZoneInfo = DEFAULT_TIMEZONE,
        hours: WeeklyHours | None = None,
        extra_days_off: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        makeup_day_hours: tuple[WorkPeriod, ...] | None = None,
        working_day_length: timedelta | None = None,
        use_public_holidays: bool = True,
        holiday_language: str = DEFAULT_HOLIDAY_LANGUAGE,
    ) -> None:
        self._tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self._hours = hours if hours is not None else WeeklyHours.default()
        self._extra_days_off = _date_set(extra_days_off)
        self._extra_working_days = _date_set(extra_working_days)
        if clash := self._extra_days_off & self._extra_working_days:
            raise ValueError(f"dates both extra day off and extra working day: {sorted(clash)}")
        self._makeup_hours = (
            _ordered_periods(makeup_day_hours) if makeup_day_hours is not None else self._default_makeup_hours()
        )
        self._working_day_length = working_day_length if working_day_length is not None else self._standard_day_length()
        if self._working_day_length <= timedelta():
            raise ValueError("working_day_length must be positive (no weekday has office hours?)")
        self._use_public_holidays = use_public_holidays
        self._holiday_language = holiday_language
        self._layouts: dict[int, _YearLayout] = {}

    def _default_makeup_hours(self) -> tuple[WorkPeriod, ...]:
        # Official make-up days are worked "like a normal working day"; Monday
        # is the normal day, and if it is closed the longest weekday stands in.
        monday = self._hours.periods(0)
        if monday:
            return monday
        longest = max(range(7), key=self._hours.total)
        return self._hours.periods(longest)

    def _standard_day_length(self) -> timedelta:
        # "N working days" means N standard days of office hours (003 Art. 9.2),
        # the standard being the fullest weekday: 8 h for the civil service.
        # Only a week with no office hours at all falls back to the make-up day.
        longest = max(self._hours.total(weekday) for weekday in range(7))
        return longest or _total(self._makeup_hours)

    # ----- properties -----------------------------------------------------

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    @property
    def working_day_length(self) -> timedelta:
        return self._working_day_length

    def local(self, at: datetime) -> datetime:
        """The same instant in the calendar's zone (for display)."""
        _require_aware(at)
        return at.astimezone(self._tz)

    # ----- days -------------------------------------------------------------

    def public_holidays(self, year: int) -> dict[date, str]:
        """Vietnam's days off in `year` as the `holidays` package gives them.

        Includes the package's substituted weekdays off; does not apply this
        calendar's extra days (see `is_working_day` for the effective answer).
        Empty when the calendar does not use public holidays.
        """
        if not self._use_public_holidays:
            return {}
        return dict(_package_year(year, self._holiday_language).days_off)

    def public_makeup_days(self, year: int) -> frozenset[date]:
        """Weekend days the package lists as swapped working days in `year`."""
        if not self._use_public_holidays:
            return frozenset()
        return _package_year(year, self._holiday_language).makeup_days

    def periods_on(self, d: date) -> tuple[WorkPeriod, ...]:
        """The office hours of date `d` in local time; empty on a day off."""
        _require_date(d)
        regular = self._hours.periods(d.weekday())
        if d in self._extra_working_days:
            return regular or self._makeup_hours
        if d in self._extra_days_off:
            return ()
        if self._use_public_holidays:
            national = _package_year(d.year, self._holiday_language)
            if d in national.days_off:
                return ()
            if d in national.makeup_days:
                return regular or self._makeup_hours
        return regular

    def is_working_day(self, d: date) -> bool:
        return bool(self.periods_on(d))

    def working_time_on(self, d: date) -> timedelta:
        """Office hours on `d` as elapsed time (differs from wall time only on DST days)."""
        _require_date(d)
        layout = self._layout(d.year)
        index = d.toordinal() - layout.first_ordinal
        return timedelta(microseconds=layout.running[index + 1] - layout.running[index])

    # ----- instants ---------------------------------------------------------

    def is_working_instant(self, at: datetime) -> bool:
        """Whether `at` is within office hours; a period's start and end both count."""
        micros, day = self._split(at)
        return self._inside(micros, day)

    def next_working_instant(self, at: datetime) -> datetime:
        """`at` itself (in UTC) if within office hours, else the next period's start."""
        micros, day = self._split(at)
        if self._inside(micros, day):
            return _instant(micros)
        year, offset = self._position(micros, day)
        return _instant(self._resume_point(year, offset))

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant `amount` of working time after `start`, in UTC.

        Counting starts at the next working instant when `start` is outside
        office hours. A result on a period boundary is the period's end (the
        deadline is met by then), never the next period's start. Adding zero
        gives `next_working_instant(start)`. A negative amount counts backwards
        and, mirroring the forward rule, lands on a period's start rather than
        the previous period's end.
        """
        micros, day = self._split(start)
        if amount == timedelta():
            return self.next_working_instant(start)
        year, offset = self._position(micros, day)
        target = offset + _micros(amount)
        if amount > timedelta():
            return _instant(self._reach_point(year, target))
        return _instant(self._resume_point(year, target))

    def add_hours(self, start: datetime, hours: float) -> datetime:
        """`add` with an amount in working hours (rounded to the microsecond)."""
        return self.add(start, timedelta(hours=hours))

    def add_days(self, start: datetime, days: float) -> datetime:
        """`add` with `days` × `working_day_length` (003 Art. 9.2: a day is 8 office hours).

        So 7 working days from Tuesday 15:00 end on Thursday 15:00 a week
        later, not at a midnight.
        """
        return self.add(start, self._working_day_length * days)

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from `a` to `b`; negative when `b` is before `a`."""
        micros_a, day_a = self._split(a)
        micros_b, day_b = self._split(b)
        if micros_b < micros_a:
            return -self.between(b, a)
        year_a, offset_a = self._position(micros_a, day_a)
        year_b, offset_b = self._position(micros_b, day_b)
        whole_years = sum(self._layout(year).total for year in range(year_a, year_b))
        return timedelta(microseconds=whole_years + offset_b - offset_a)

    # ----- internals ----------------------------------------------------------

    def _split(self, at: datetime) -> tuple[_Micros, date]:
        """The instant as epoch microseconds, and its local date in this calendar."""
        _require_aware(at)
        return _micros(at - _EPOCH), at.astimezone(self._tz).date()

    def _day_spans(self, day: date) -> tuple[_Span, ...]:
        layout = self._layout(day.year)
        return layout.spans[day.toordinal() - layout.first_ordinal]

    def _inside(self, micros: _Micros, day: date) -> bool:
        return any(start <= micros <= end for start, end in self._day_spans(day))

    def _position(self, micros: _Micros, day: date) -> tuple[int, _Micros]:
        """(year, working time from the start of that year up to the instant)."""
        layout = self._layout(day.year)
        index = day.toordinal() - layout.first_ordinal
        offset = layout.running[index]
        for start, end in layout.spans[index]:
            if micros <= start:
                break
            offset += min(micros, end) - start
        return day.year, offset

    def _reach_point(self, year: int, offset: _Micros) -> _Micros:
        """The earliest instant at which `offset` of the year's working time is done.

        On a boundary this is a period's end: the deadline falls at 17:30, not
        at the next 07:30 (003 Art. 9.2 counts the last office minute). Needs
        offset > 0, which forward counting guarantees.
        """
        year, offset = self._normalise(year, offset, include_end=True)
        layout = self._layout(year)
        index = bisect_left(layout.running, offset, 1) - 1
        remaining = offset - layout.running[index]
        for start, end in layout.spans[index]:
            if remaining <= end - start:
                return start + remaining
            remaining -= end - start
        raise AssertionError("running totals and spans disagree")

    def _resume_point(self, year: int, offset: _Micros) -> _Micros:
        """The latest instant at which exactly `offset` of the year's working time is done.

        On a boundary this is the next period's start: where counting resumes.
        """
        year, offset = self._normalise(year, offset, include_end=False)
        layout = self._layout(year)
        index = bisect_right(layout.running, offset) - 1
        remaining = offset - layout.running[index]
        for start, end in layout.spans[index]:
            if remaining < end - start:
                return start + remaining
            remaining -= end - start
        raise AssertionError("running totals and spans disagree")

    def _normalise(self, year: int, offset: _Micros, *, include_end: bool) -> tuple[int, _Micros]:
        """Move (year, offset) to the year that holds it.

        With `include_end` the offset must satisfy 0 < offset <= total (the
        point is reached at the end of some period); without it,
        0 <= offset < total (the point is the start of some working time).
        """
        empty_years = 0
        while True:
            total = self._layout(year).total
            if offset > total or (offset == total and not include_end):
                offset -= total
                year += 1
            elif offset < 0 or (offset == 0 and include_end):
                year -= 1
                offset += self._layout(year).total
            else:
                return year, offset
            empty_years = empty_years + 1 if total == 0 else 0
            if empty_years > _MAX_EMPTY_YEARS:
                raise ValueError(f"no working time in the {_MAX_EMPTY_YEARS} years around {year}")

    def _layout(self, year: int) -> _YearLayout:
        layout = self._layouts.get(year)
        if layout is None:
            layout = self._layouts[year] = self._build_layout(year)
        return layout

    def _build_layout(self, year: int) -> _YearLayout:
        first = date(year, 1, 1)
        all_spans: list[tuple[_Span, ...]] = []
        running: list[_Micros] = [0]
        total = 0
        floor: _Micros | None = None
        for index in range(_days_in_year(year)):
            day = first + timedelta(days=index)
            spans: list[_Span] = []
            for period in self.periods_on(day):
                start = self._wall_to_micros(day, period.start)
                end = self._wall_to_micros(day, period.end)
                # Around a DST change, wall-clock periods can overlap or turn
                # inside out in real time; never count the same instant twice.
                if floor is not None and start < floor:
                    start = floor
                if end <= start:
                    continue
                spans.append((start, end))
                total += end - start
                floor = end
            all_spans.append(tuple(spans))
            running.append(total)
        return _YearLayout(first.toordinal(), tuple(all_spans), tuple(running))

    def _wall_to_micros(self, day: date, wall: time) -> _Micros:
        return _micros(datetime.combine(day, wall, tzinfo=self._tz) - _EPOCH)


def _date_set(days: Iterable[date]) -> frozenset[date]:
    collected = frozenset(days)
    for day in collected:
        _require_date(day)
    return collected
