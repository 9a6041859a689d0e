"""Stage limits in working time (003 Art. 9.2, 10.1) and the deadline of each stage."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.calendar import WorkingCalendar


@dataclass(frozen=True)
class StageLimits:
    receive_hours: float = 8.0
    dispatch_hours: float = 4.0
    handle_days: float = 7.0
    # 003 Art. 9.2: natural disaster, epidemic, accident, robbery, dangerous disorder.
    urgent_handle_hours: float = 4.0
    clarification_answer_days: float = 7.0
    # Whoever holds a stage is reminded when these shares of its time have
    # passed, then at the deadline (bot/reminders.py).
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


def receive_due(calendar: WorkingCalendar, submitted_at: datetime, limits: StageLimits) -> datetime:
    return calendar.add_hours(submitted_at, limits.receive_hours)


def dispatch_due(calendar: WorkingCalendar, received_at: datetime, limits: StageLimits) -> datetime:
    return calendar.add_hours(received_at, limits.dispatch_hours)


def handle_due(calendar: WorkingCalendar, assigned_at: datetime, limits: StageLimits, *,
               urgent: bool = False) -> datetime:
    if urgent:
        return calendar.add_hours(assigned_at, limits.urgent_handle_hours)
    return calendar.add_days(assigned_at, limits.handle_days)


def urgent_handle_due(calendar: WorkingCalendar, assigned_at: datetime, current_due: datetime | None,
                      marked_at: datetime, limits: StageLimits) -> datetime:
    """The handle deadline of a report found urgent after it was assigned.

    The 4 working hours count from the assignment, but not from before the
    decision (nobody can be late for a decision taken just now), and urgency
    never moves a deadline later.
    """
    due = calendar.add_hours(max(assigned_at, marked_at), limits.urgent_handle_hours)
    return min(due, current_due) if current_due is not None else due


def clarification_due(calendar: WorkingCalendar, asked_at: datetime, limits: StageLimits) -> datetime:
    return calendar.add_days(asked_at, limits.clarification_answer_days)
