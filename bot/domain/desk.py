"""What acting on reports needs besides the database: the working calendars and the stage limits.

Its own module so that the workflow's consequences (cards, notices, reminders)
can name it without importing the module that acts (bot/domain/casework.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.domain.calendar import WorkingCalendar
from bot.domain.deadlines import StageLimits

__all__ = ["Desk"]


@dataclass(frozen=True)
class Desk:
    """What acting on reports needs besides the database: the calendar and the stage limits."""

    calendar: WorkingCalendar
    limits: StageLimits
    timezone: str
    # Agencies that keep office hours of their own (bot/domain/calendars.py); the
    # others use the province's `calendar`.
    agency_calendars: Mapping[int, WorkingCalendar] = field(default_factory=dict)

    def calendar_for(self, agency_id: int | None) -> WorkingCalendar:
        """The calendar an agency's deadlines are counted in."""
        return self.agency_calendars.get(agency_id, self.calendar) if agency_id is not None else self.calendar
