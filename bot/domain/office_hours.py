"""Office hours and calendar days as the province file and the database spell them.

Parsing and serialising only: `bot/domain/calendars.py` builds the working calendars from
these values and `bot/domain/province.py` reads them from the province file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from bot.domain.calendar import WeeklyHours, WorkPeriod

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --- office hours as the province file and the database spell them --------------------------


def parse_weekdays(key: str) -> list[int]:
    """ "mon", "mon-fri", "sat,sun" -> weekday numbers (0 = Monday); ValueError otherwise."""
    days: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        first, dash, last = part.partition("-")
        if first not in WEEKDAYS or (dash and last not in WEEKDAYS):
            raise ValueError(f"{key!r} is not a weekday or range of weekdays ({', '.join(WEEKDAYS)})")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last if dash else first)
        if end < start:
            raise ValueError(f"{key!r}: a range of weekdays runs from Monday towards Sunday")
        days.extend(range(start, end + 1))
    return days


def weekly_hours_from_mapping(raw: Mapping[Any, Any]) -> WeeklyHours:
    """{"mon-fri": ["07:30-11:30", "13:30-17:30"], "sat": ["07:30-11:30"]} -> WeeklyHours.

    Weekdays not named have no office hours. TypeError or ValueError says what is wrong.
    """
    by_weekday: dict[int, list[WorkPeriod]] = {}
    for key, periods in raw.items():
        if not isinstance(key, str):
            raise TypeError(f"{key!r} is not a weekday name")
        if not isinstance(periods, list) or not all(isinstance(p, str) for p in periods):
            raise TypeError(f'{key}: expected a list of periods like "07:30-11:30"')
        parsed = [WorkPeriod.parse(p) for p in periods]
        for weekday in parse_weekdays(key):
            if weekday in by_weekday:
                raise ValueError(f"{WEEKDAYS[weekday]} is given twice")
            by_weekday[weekday] = parsed
    hours = WeeklyHours({weekday: tuple(periods) for weekday, periods in by_weekday.items()})
    if not any(hours.total(weekday) for weekday in range(7)):
        raise ValueError("no weekday has office hours")
    return hours


def weekly_hours_to_json(hours: WeeklyHours) -> str:
    return json.dumps(
        {
            str(weekday): [f"{p.start:%H:%M}-{p.end:%H:%M}" for p in periods]
            for weekday, periods in hours.by_weekday.items()
            if periods
        },
        sort_keys=True,
    )


def weekly_hours_from_json(text: str) -> WeeklyHours:
    raw = json.loads(text)
    return WeeklyHours({int(weekday): tuple(WorkPeriod.parse(p) for p in periods) for weekday, periods in raw.items()})


def calendar_from_json(text: str | None) -> tuple[tuple[date, ...], tuple[date, ...]]:
    """(extra_days_off, extra_working_days) from `Province.calendar_json`."""
    if not text:
        return (), ()
    raw = json.loads(text)
    return (
        tuple(date.fromisoformat(day) for day in raw.get("extra_days_off", ())),
        tuple(date.fromisoformat(day) for day in raw.get("extra_working_days", ())),
    )
