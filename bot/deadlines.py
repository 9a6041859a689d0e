"""Stage limits in working time (003 Art. 9.2)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.calendar import WorkingCalendar


@dataclass(frozen=True)
class StageLimits:
    receive_hours: float = 8.0


def receive_due(calendar: WorkingCalendar, submitted_at: datetime, limits: StageLimits) -> datetime:
    return calendar.add_hours(submitted_at, limits.receive_hours)
