"""Stage limits in working time (003 Art. 9.2, 10.1) and the deadline of each stage.

The limits are the regulation's by default; a province may set its own in the
`deadlines` block of its province file (stored in `provinces.deadlines_json`,
applied by `with_province`), which running bots pick up with the calendars
(bot/domain/calendars.py), for deadlines set from then on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.domain.calendar import WorkingCalendar


@dataclass(frozen=True)
class StageLimits:
    receive_hours: float = 8.0
    dispatch_hours: float = 4.0
    handle_days: float = 7.0
    # 003 Art. 9.2: natural disaster, epidemic, accident, robbery, dangerous disorder.
    urgent_handle_hours: float = 4.0
    clarification_answer_days: float = 7.0
    # Whoever holds a stage is reminded when these shares of its time have
    # passed, then at the deadline (bot/domain/reminders.py).
    reminder_shares: tuple[float, ...] = (0.5, 0.8)
    # While a stage is overdue, its holder and the agency head hear of it
    # again every this many working days.
    overdue_repeat_days: float = 1.0
    # 003 Art. 9.3: the Provincial Office is alerted when a report has been
    # rated unsatisfied or re-opened this many times.
    dissatisfaction_alert: int = 5

    def __post_init__(self) -> None:
        shares = self.reminder_shares
        if any(not 0 < share < 1 for share in shares) or list(shares) != sorted(set(shares)):
            raise ValueError(f"reminder shares must rise strictly between 0 and 1, got {shares}")


# The limits a province file may set, with their unit and the most that makes sense:
# a limit beyond a working year is a typo (hours given as days), not a rule.
PROVINCE_LIMITS: dict[str, tuple[str, float]] = {
    "receive_hours": ("working hours", 2000.0),
    "dispatch_hours": ("working hours", 2000.0),
    "handle_days": ("working days", 250.0),
    "urgent_handle_hours": ("working hours", 2000.0),
    "clarification_answer_days": ("working days", 250.0),
}


def parse_province_limits(raw: Mapping[Any, Any]) -> tuple[dict[str, float], list[tuple[str, str]]]:
    """The province file's `deadlines` block: the limits it sets, and (field, problem) for each mistake."""
    limits: dict[str, float] = {}
    problems: list[tuple[str, str]] = []
    for key, value in raw.items():
        if key not in PROVINCE_LIMITS:
            problems.append((str(key), f"unknown field (expected one of: {', '.join(sorted(PROVINCE_LIMITS))})"))
            continue
        unit, most = PROVINCE_LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            problems.append((key, f"must be a number of {unit}, got {value!r}"))
        elif not 0 < value <= most:
            problems.append((key, f"must be more than 0 and at most {most:g} {unit}, got {value:g}"))
        else:
            limits[key] = float(value)
    return limits, problems


def province_limits_to_json(limits: Mapping[str, float]) -> str | None:
    return json.dumps(dict(limits), sort_keys=True) if limits else None


def province_limits_from_json(text: str | None) -> dict[str, float]:
    """What `provinces.deadlines_json` sets; fields this version does not know are ignored."""
    if not text:
        return {}
    return {key: float(value) for key, value in json.loads(text).items() if key in PROVINCE_LIMITS}


def with_province(limits: StageLimits, province: Mapping[str, float]) -> StageLimits:
    """`limits` (the regulation's, with the operator's reminder shares) with the province's own on top."""
    return replace(limits, **province) if province else limits


def receive_due(calendar: WorkingCalendar, submitted_at: datetime, limits: StageLimits) -> datetime:
    return calendar.add_hours(submitted_at, limits.receive_hours)


def dispatch_due(calendar: WorkingCalendar, received_at: datetime, limits: StageLimits) -> datetime:
    return calendar.add_hours(received_at, limits.dispatch_hours)


def handle_due(
    calendar: WorkingCalendar, assigned_at: datetime, limits: StageLimits, *, urgent: bool = False
) -> datetime:
    if urgent:
        return calendar.add_hours(assigned_at, limits.urgent_handle_hours)
    return calendar.add_days(assigned_at, limits.handle_days)


def urgent_handle_due(
    calendar: WorkingCalendar,
    assigned_at: datetime,
    current_due: datetime | None,
    marked_at: datetime,
    limits: StageLimits,
) -> datetime:
    """The handle deadline of a report found urgent after it was assigned.

    The 4 working hours count from the assignment, but not from before the
    decision (nobody can be late for a decision taken just now), and urgency
    never moves a deadline later.
    """
    due = calendar.add_hours(max(assigned_at, marked_at), limits.urgent_handle_hours)
    return min(due, current_due) if current_due is not None else due


def clarification_due(calendar: WorkingCalendar, asked_at: datetime, limits: StageLimits) -> datetime:
    return calendar.add_days(asked_at, limits.clarification_answer_days)
