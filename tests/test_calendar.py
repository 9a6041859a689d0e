"""Working-time calendar (bot/domain/calendar.py): deadlines in office hours, 003 Art. 9.2.

Known cases are worked out by hand in the comment above each; the property
tests check the arithmetic against itself and against a deliberately naive
day-by-day reference. Default hours throughout: Monday-Friday 07:30-11:30 and
13:30-17:30 (8 h a day), zone Asia/Ho_Chi_Minh (UTC+7 all year).

Vietnamese public holidays as `holidays` 0.109 gives them for 2026 (asserted
in `test_package_data_for_2026`, so a package upgrade that changes them shows
up here first):
  2026-01-01 Thu  New Year
  2026-02-16 Mon .. 2026-02-20 Fri  Tết Nguyên Đán (eve, mùng 1-4; with the
                  weekends around it: off Sat 14 Feb .. Sun 22 Feb)
  2026-04-26 Sun  Hùng Kings; observed Mon 2026-04-27
  2026-04-30 Thu  Reunification Day; 2026-05-01 Fri Labour Day
  2026-08-31 Mon  day off swapped for Saturday 2026-08-22, which is worked
  2026-09-01 Tue, 2026-09-02 Wed  National Day
  2026-11-24 Tue  Vietnam Cultural Day
"""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.domain.calendar import WeeklyHours, WorkingCalendar, WorkPeriod

VN = ZoneInfo("Asia/Ho_Chi_Minh")
PARIS = ZoneInfo("Europe/Paris")
UTC = UTC
H = timedelta(hours=1)

CAL = WorkingCalendar()


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, 0, micro, tzinfo=VN)


def local(at: datetime) -> datetime:
    return at.astimezone(VN)


# ----- package data ---------------------------------------------------------


def test_package_data_for_2026() -> None:
    days_off = set(CAL.public_holidays(2026))
    assert days_off == {
        date(2026, 1, 1),
        *(date(2026, 2, d) for d in range(16, 21)),
        date(2026, 4, 26),
        date(2026, 4, 27),
        date(2026, 4, 30),
        date(2026, 5, 1),
        date(2026, 8, 31),
        date(2026, 9, 1),
        date(2026, 9, 2),
        date(2026, 11, 24),
    }
    assert CAL.public_makeup_days(2026) == {date(2026, 8, 22)}
    # Names stay Vietnamese whatever the server locale.
    assert CAL.public_holidays(2026)[date(2026, 9, 2)] == "Quốc khánh"


def test_package_makeup_days_of_other_years() -> None:
    # Swapped Saturdays the package knows: 4 May 2024 (for 29 Apr), 26 Apr 2025 (for 2 May).
    assert CAL.public_makeup_days(2024) == {date(2024, 5, 4)}
    assert CAL.public_makeup_days(2025) == {date(2025, 4, 26)}
    assert CAL.is_working_day(date(2025, 4, 26))
    assert not CAL.is_working_day(date(2025, 5, 2))


# ----- known cases ------------------------------------------------------------


def test_seven_working_days_from_tuesday_afternoon() -> None:
    # 7 days = 56 h. Tue 10 Mar 15:00-17:30 = 2.5 h; Wed, Thu, Fri, Mon, Tue,
    # Wed = 48 h (50.5); Thu 19 Mar 07:30-11:30 = 4 h (54.5); 13:30-15:00 = 1.5 h.
    assert local(CAL.add_days(vn(2026, 3, 10, 15), 7)) == vn(2026, 3, 19, 15)


def test_across_the_lunch_break() -> None:
    # Mon 10:30-11:30 = 1 h, then 13:30-14:30 = 1 h.
    assert local(CAL.add_hours(vn(2026, 3, 9, 10, 30), 2)) == vn(2026, 3, 9, 14, 30)
    # Started at lunch: counting starts at 13:30.
    assert local(CAL.add_hours(vn(2026, 3, 9, 12), 1)) == vn(2026, 3, 9, 14, 30)
    # Exactly 11:30 is reached by the morning: it is not pushed to 13:30.
    assert local(CAL.add_hours(vn(2026, 3, 9, 10, 30), 1)) == vn(2026, 3, 9, 11, 30)


def test_friday_afternoon_plus_eight_hours_is_monday_afternoon() -> None:
    # Fri 16:00-17:30 = 1.5 h; Mon 07:30-11:30 = 4 h (5.5); 13:30-16:00 = 2.5 h.
    assert local(CAL.add_hours(vn(2026, 3, 13, 16), 8)) == vn(2026, 3, 16, 16)


def test_across_tet_2026() -> None:
    # Fri 13 Feb 15:30-17:30 = 2 h; Tết: Mon 16 - Fri 20 Feb off, weekends off;
    # Mon 23 Feb 07:30-11:30 = 4 h (6); 13:30-15:30 = 2 h.
    assert local(CAL.add_hours(vn(2026, 2, 13, 15, 30), 8)) == vn(2026, 2, 23, 15, 30)
    # Nine days off in a row: no working time from Friday close to Monday opening.
    assert CAL.between(vn(2026, 2, 13, 17, 30), vn(2026, 2, 23, 7, 30)) == timedelta()
    # 7 working days (56 h) from Thu 12 Feb 10:00: 5.5 h Thu, 8 h Fri (13.5),
    # Mon 23 - Fri 27 Feb 40 h (53.5), Mon 2 Mar 07:30-10:00 = 2.5 h.
    assert local(CAL.add_days(vn(2026, 2, 12, 10), 7)) == vn(2026, 3, 2, 10)


def test_across_30_april_and_1_may_2026() -> None:
    # Wed 29 Apr 14:00-17:30 = 3.5 h; Thu 30 Apr, Fri 1 May, weekend off;
    # Mon 4 May 07:30-11:30 = 4 h (7.5); 13:30-14:00 = 0.5 h.
    assert local(CAL.add_days(vn(2026, 4, 29, 14), 1)) == vn(2026, 5, 4, 14)
    # Hùng Kings' day fell on Sun 26 Apr and is observed Mon 27 Apr:
    # Fri 24 Apr 17:00-17:30 = 0.5 h, Tue 28 Apr 07:30-08:00 = 0.5 h.
    assert local(CAL.add_hours(vn(2026, 4, 24, 17), 1)) == vn(2026, 4, 28, 8)


def test_across_national_day_2026() -> None:
    # Off: Sat 29 Aug - Wed 2 Sep (Mon 31 Aug swapped, Tue 1 and Wed 2 Sep holidays).
    # 16 h from Fri 28 Aug 09:00: 2.5 h + 4 h Fri (6.5); Thu 3 Sep 8 h (14.5);
    # Fri 4 Sep 07:30-09:00 = 1.5 h.
    assert local(CAL.add_days(vn(2026, 8, 28, 9), 2)) == vn(2026, 9, 4, 9)


def test_package_swapped_saturday_2026_is_worked() -> None:
    # Sat 22 Aug 2026 is worked (for Mon 31 Aug off), with Monday's hours:
    # Fri 21 Aug 17:00-17:30 = 0.5 h, Sat 07:30-08:00 = 0.5 h.
    assert CAL.periods_on(date(2026, 8, 22)) == WeeklyHours.default().periods(0)
    assert local(CAL.add_hours(vn(2026, 8, 21, 17), 1)) == vn(2026, 8, 22, 8)


def test_configured_makeup_saturday_is_worked() -> None:
    # Sat 6 Mar 2027 made a working day by configuration (no holiday that month):
    # Fri 5 Mar 17:00-17:30 = 0.5 h, Sat 07:30-08:00 = 0.5 h.
    saturday = date(2027, 3, 6)
    assert not CAL.is_working_day(saturday)
    cal = WorkingCalendar(extra_working_days=[saturday])
    assert cal.is_working_day(saturday)
    assert local(cal.add_hours(vn(2027, 3, 5, 17), 1)) == vn(2027, 3, 6, 8)
    # With a morning-only make-up day: Sat 11:00-11:30 = 0.5 h, Mon 07:30-08:00.
    morning = WorkingCalendar(extra_working_days=[saturday], makeup_day_hours=(WorkPeriod(time(7, 30), time(11, 30)),))
    assert local(morning.add_hours(vn(2027, 3, 6, 11), 1)) == vn(2027, 3, 8, 8)
    # The standard day stays 8 h: a short make-up day does not shrink "a day".
    assert morning.working_day_length == 8 * H


def test_configured_working_day_overrides_package_holiday() -> None:
    # Fri 20 Feb 2026 (mùng 4 Tết) declared working: Fri 13 Feb 17:00-17:30 = 0.5 h,
    # Fri 20 Feb 07:30-08:00 = 0.5 h.
    cal = WorkingCalendar(extra_working_days=[date(2026, 2, 20)])
    assert local(cal.add_hours(vn(2026, 2, 13, 17), 1)) == vn(2026, 2, 20, 8)


def test_configured_day_off_is_skipped() -> None:
    # Wed 11 Mar 2026 off by configuration: Tue 17:00-17:30 = 0.5 h, Thu 07:30-08:00.
    cal = WorkingCalendar(extra_days_off=[date(2026, 3, 11)])
    assert not cal.is_working_day(date(2026, 3, 11))
    assert local(cal.add_hours(vn(2026, 3, 10, 17), 1)) == vn(2026, 3, 12, 8)


def test_year_end() -> None:
    # Wed 31 Dec 2025 16:30-17:30 = 1 h; Thu 1 Jan 2026 holiday; Fri 2 Jan 07:30-08:30.
    assert local(CAL.add_hours(vn(2025, 12, 31, 16, 30), 2)) == vn(2026, 1, 2, 8, 30)
    assert CAL.between(vn(2025, 12, 31, 16, 30), vn(2026, 1, 2, 8, 30)) == 2 * H
    # Thu 31 Dec 2026 17:00-17:30 = 0.5 h; Fri 1 Jan 2027 holiday, weekend; Mon 4 Jan 07:30-08:00.
    assert local(CAL.add_hours(vn(2026, 12, 31, 17), 1)) == vn(2027, 1, 4, 8)


def test_between_across_a_weekend() -> None:
    # Fri 16:00-17:30 = 1.5 h, Mon 07:30-09:00 = 1.5 h.
    friday, monday = vn(2026, 3, 13, 16), vn(2026, 3, 16, 9)
    assert CAL.between(friday, monday) == 3 * H
    assert CAL.between(monday, friday) == -3 * H
    assert CAL.between(vn(2026, 3, 14, 9), vn(2026, 3, 15, 17)) == timedelta()


def test_deadline_exactly_at_close_stays_at_close() -> None:
    # Mon 13:30 + 4 h = 17:30 exactly; 09:30 + 6 h: 2 h morning + 4 h afternoon = 17:30.
    assert local(CAL.add_hours(vn(2026, 3, 9, 13, 30), 4)) == vn(2026, 3, 9, 17, 30)
    assert local(CAL.add_hours(vn(2026, 3, 9, 9, 30), 6)) == vn(2026, 3, 9, 17, 30)
    # A whole day from opening ends at that day's close, not next morning.
    assert local(CAL.add_days(vn(2026, 3, 9, 7, 30), 1)) == vn(2026, 3, 9, 17, 30)
    assert CAL.is_working_instant(vn(2026, 3, 9, 17, 30))
    assert not CAL.is_working_instant(vn(2026, 3, 9, 17, 30, micro=1))


def test_adding_zero() -> None:
    # Inside (period ends included): the start itself; outside: the next opening.
    assert local(CAL.add(vn(2026, 3, 9, 10), timedelta())) == vn(2026, 3, 9, 10)
    assert local(CAL.add(vn(2026, 3, 9, 17, 30), timedelta())) == vn(2026, 3, 9, 17, 30)
    assert local(CAL.add(vn(2026, 3, 9, 11, 30), timedelta())) == vn(2026, 3, 9, 11, 30)
    assert local(CAL.add(vn(2026, 3, 9, 12), timedelta())) == vn(2026, 3, 9, 13, 30)
    assert local(CAL.add(vn(2026, 3, 9, 17, 30, 1), timedelta())) == vn(2026, 3, 10, 7, 30)
    assert local(CAL.add(vn(2026, 3, 14, 10), timedelta())) == vn(2026, 3, 16, 7, 30)


def test_start_outside_hours_counts_from_next_opening() -> None:
    # Saturday night: counting starts Mon 07:30; 1 h later is 08:30.
    assert local(CAL.add_hours(vn(2026, 3, 14, 22), 1)) == vn(2026, 3, 16, 8, 30)
    # Before opening on a working day.
    assert local(CAL.add_hours(vn(2026, 3, 9, 6), 0.5)) == vn(2026, 3, 9, 8)


def test_negative_amount_counts_backwards_to_an_opening() -> None:
    # Mon 14:30 - 1 h: 13:30 (the afternoon opening, not 11:30, where counting resumes).
    assert local(CAL.add_hours(vn(2026, 3, 9, 14, 30), -1)) == vn(2026, 3, 9, 13, 30)
    # Mon 08:00 - 1 h: 0.5 h Monday morning, then Fri 17:00.
    assert local(CAL.add_hours(vn(2026, 3, 16, 8), -1)) == vn(2026, 3, 13, 17)


def test_fractional_and_microsecond_amounts() -> None:
    # Half a working day = 4 h: Mon 09:00-11:30 = 2.5 h, 13:30-15:00 = 1.5 h.
    assert local(CAL.add_days(vn(2026, 3, 9, 9), 0.5)) == vn(2026, 3, 9, 15)
    # One microsecond past the morning close is the first microsecond of the afternoon.
    assert local(CAL.add(vn(2026, 3, 9, 11, 30), timedelta(microseconds=1))) == vn(2026, 3, 9, 13, 30, micro=1)


def test_results_are_utc_and_any_input_zone_works() -> None:
    start_vn = vn(2026, 3, 13, 16)
    start_utc = start_vn.astimezone(UTC)
    result = CAL.add_hours(start_utc, 8)
    assert result.tzinfo is UTC
    assert result == vn(2026, 3, 16, 16)
    assert CAL.add_hours(start_vn, 8) == result
    assert CAL.next_working_instant(vn(2026, 3, 9, 10)).tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 9, 10)
    with pytest.raises(ValueError):
        CAL.add_hours(naive, 1)
    with pytest.raises(ValueError):
        CAL.between(naive, vn(2026, 3, 9, 11))
    with pytest.raises(ValueError):
        CAL.is_working_instant(naive)
    with pytest.raises(ValueError):
        CAL.next_working_instant(naive)


def test_touching_periods_join() -> None:
    # 07:30-11:30 then 11:30-12:00: 11:00 + 1 h = 0.5 h + 0.5 h = 12:00.
    day = (
        WorkPeriod(time(13, 30), time(17, 30)),
        WorkPeriod.parse("07:30-11:30"),
        WorkPeriod.parse("11:30-12:00"),
    )
    cal = WorkingCalendar(hours=WeeklyHours({0: day}), use_public_holidays=False)
    assert cal.periods_on(date(2026, 3, 9))[0] == WorkPeriod(time(7, 30), time(11, 30))
    assert cal.working_day_length == 8.5 * H
    assert local(cal.add_hours(vn(2026, 3, 9, 11), 1)) == vn(2026, 3, 9, 12)
    assert local(cal.add_hours(vn(2026, 3, 9, 11), 0.5)) == vn(2026, 3, 9, 11, 30)


def test_configuration_errors() -> None:
    with pytest.raises(ValueError):
        WorkPeriod(time(11, 30), time(7, 30))
    with pytest.raises(ValueError):
        WorkPeriod.parse("07:30 11:30")
    with pytest.raises(ValueError):
        WeeklyHours({0: (WorkPeriod.parse("07:30-11:30"), WorkPeriod.parse("11:00-12:00"))})
    with pytest.raises(ValueError):
        WeeklyHours({7: ()})
    with pytest.raises(ValueError):
        WorkingCalendar(extra_days_off=[date(2026, 3, 9)], extra_working_days=[date(2026, 3, 9)])
    with pytest.raises(ValueError):
        WorkingCalendar(hours=WeeklyHours({}), makeup_day_hours=())
    with pytest.raises(TypeError):
        CAL.is_working_day(vn(2026, 3, 9))  # type: ignore[arg-type]


def test_no_working_time_at_all_is_an_error_not_a_hang() -> None:
    cal = WorkingCalendar(hours=WeeklyHours({}), working_day_length=8 * H, use_public_holidays=False)
    with pytest.raises(ValueError):
        cal.add_hours(vn(2026, 3, 9, 10), 1)


def test_without_public_holidays_tet_is_worked() -> None:
    cal = WorkingCalendar(use_public_holidays=False)
    assert cal.public_holidays(2026) == {}
    assert local(cal.add_hours(vn(2026, 2, 13, 17), 1)) == vn(2026, 2, 16, 8)


def test_daylight_saving_counts_elapsed_time() -> None:
    # Paris, Sundays 01:00-04:00. On 29 Mar 2026 02:00-03:00 does not exist
    # (2 h elapsed); on 25 Oct 2026 02:00-03:00 happens twice (4 h elapsed).
    sunday = (WorkPeriod(time(1), time(4)),)
    cal = WorkingCalendar(tz="Europe/Paris", hours=WeeklyHours({6: sunday}), use_public_holidays=False)
    assert cal.working_time_on(date(2026, 3, 22)) == 3 * H
    assert cal.working_time_on(date(2026, 3, 29)) == 2 * H
    assert cal.working_time_on(date(2026, 10, 25)) == 4 * H
    start = datetime(2026, 3, 29, 1, tzinfo=PARIS)
    assert cal.add_hours(start, 2) == datetime(2026, 3, 29, 4, tzinfo=PARIS)


def test_adding_2000_working_days_is_fast() -> None:
    # A fresh calendar, so the timing includes laying out ~8 years and loading
    # the package's holidays for them. Takes a few tens of milliseconds.
    cal = WorkingCalendar()
    start = vn(2026, 3, 10, 15)
    began = clock.perf_counter()
    end = cal.add_days(start, 2000)
    span = cal.between(start, end)
    elapsed = clock.perf_counter() - began
    assert span == 2000 * cal.working_day_length
    assert end.year >= 2033
    assert elapsed < 1.0


# ----- properties -------------------------------------------------------------


def reference_add(cal: WorkingCalendar, start: datetime, amount: timedelta) -> datetime:
    """Naive day-by-day walk in local wall time (exact for UTC+7, which has no DST); amount > 0."""
    cursor = start.astimezone(VN).replace(tzinfo=None)
    day, remaining = cursor.date(), amount
    while True:
        for period in cal.periods_on(day):
            begin = max(datetime.combine(day, period.start), cursor)
            end = datetime.combine(day, period.end)
            if begin >= end:
                continue
            if remaining <= end - begin:
                return (begin + remaining).replace(tzinfo=VN)
            remaining -= end - begin
        day += timedelta(days=1)


def reference_between(cal: WorkingCalendar, a: datetime, b: datetime) -> timedelta:
    """Sum of the overlaps of [a, b] with each day's periods, a <= b."""
    lo, hi = (x.astimezone(VN).replace(tzinfo=None) for x in (a, b))
    total, day = timedelta(), lo.date()
    while day <= hi.date():
        for period in cal.periods_on(day):
            begin = max(datetime.combine(day, period.start), lo)
            end = min(datetime.combine(day, period.end), hi)
            total += max(end - begin, timedelta())
        day += timedelta(days=1)
    return total


instants = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2027, 12, 31, 23, 59, 59),
    timezones=st.sampled_from([VN, UTC, PARIS]),
    allow_imaginary=False,
)
minute_instants = st.builds(
    lambda d: d.replace(second=0, microsecond=0),
    st.datetimes(
        min_value=datetime(2024, 1, 1),
        max_value=datetime(2027, 12, 31, 23, 59),
        timezones=st.just(VN),
    ),
)
amounts = st.integers(0, 400 * 3600 * 10**6).map(lambda us: timedelta(microseconds=us))
minute_amounts = st.integers(0, 400 * 60).map(lambda m: timedelta(minutes=m))
few_dates = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))


@st.composite
def calendars(draw: st.DrawFn) -> WorkingCalendar:
    """Default calendar, or random weekly hours and extra days on top of the holidays."""
    if draw(st.booleans()):
        return CAL
    by_weekday: dict[int, tuple[WorkPeriod, ...]] = {}
    for weekday in range(7):
        marks = sorted(draw(st.lists(st.integers(0, 1439), max_size=6, unique=True)))
        by_weekday[weekday] = tuple(
            WorkPeriod(time(a // 60, a % 60), time(b // 60, b % 60))
            for a, b in zip(marks[::2], marks[1::2], strict=False)
        )
    hours = WeeklyHours(by_weekday)
    assume(any(hours.total(weekday) for weekday in range(7)))
    off = draw(st.sets(few_dates, max_size=20))
    working = draw(st.sets(few_dates, max_size=20)) - off
    return WorkingCalendar(hours=hours, extra_days_off=off, extra_working_days=working)


@settings(deadline=None, max_examples=300)
@given(cal=calendars(), start=instants, amount=amounts)
def test_between_undoes_add(cal: WorkingCalendar, start: datetime, amount: timedelta) -> None:
    end = cal.add(start, amount)
    assert cal.between(start, end) == amount
    assert cal.between(end, start) == -amount
    assert cal.is_working_instant(end)
    assert end.tzinfo is UTC
    assert end >= start


@settings(deadline=None, max_examples=200)
@given(cal=calendars(), start=instants, first=amounts, second=amounts)
def test_add_is_monotonic_and_additive(
    cal: WorkingCalendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    small, large = sorted((first, second))
    assert cal.add(start, small) <= cal.add(start, large)
    assert cal.add(cal.add(start, first), second) == cal.add(start, first + second)


@settings(deadline=None, max_examples=200)
@given(cal=calendars(), start=instants, amount=amounts)
def test_backwards_then_between(cal: WorkingCalendar, start: datetime, amount: timedelta) -> None:
    earlier = cal.add(start, -amount)
    assert cal.between(earlier, start) == amount
    assert cal.is_working_instant(earlier)


@settings(deadline=None, max_examples=200)
@given(cal=calendars(), start=minute_instants, amount=minute_amounts)
def test_add_matches_reference(cal: WorkingCalendar, start: datetime, amount: timedelta) -> None:
    assume(amount > timedelta())
    assert cal.add(start, amount) == reference_add(cal, start, amount)


@settings(deadline=None, max_examples=200)
@given(cal=calendars(), a=instants, b=instants)
def test_between_matches_reference(cal: WorkingCalendar, a: datetime, b: datetime) -> None:
    lo, hi = sorted((a, b))
    assert cal.between(lo, hi) == reference_between(cal, lo, hi)
    assert cal.between(a, b) == -cal.between(b, a)
    assert cal.between(lo, hi) <= hi - lo


@settings(deadline=None, max_examples=200)
@given(cal=calendars(), at=instants)
def test_next_working_instant(cal: WorkingCalendar, at: datetime) -> None:
    nxt = cal.next_working_instant(at)
    assert cal.is_working_instant(nxt)
    assert nxt >= at
    assert cal.between(at, nxt) == timedelta()
    assert (nxt == at) == cal.is_working_instant(at)
