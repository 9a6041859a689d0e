"""The names the reminders share with their texts: outbox kinds, deadline stages, step kinds.

bot/domain/reminders.py plans and sends the steps, bot/domain/reminder_texts.py renders them;
both read these names from here so neither imports the other's internals.
"""

from __future__ import annotations

import enum

from bot.domain.workflow import State

__all__ = [
    "CLOCKED",
    "DAILY_DIGEST",
    "DISSATISFIED_ALERT",
    "MONTHLY_LATE",
    "OVERDUE_ALERT",
    "PAUSED",
    "STAGE_OF_STATE",
    "STAGE_REMINDER",
    "Stage",
    "StepKind",
]

# Outbox kinds (renderers in bot/domain/reminder_texts.py).
STAGE_REMINDER = "reminder.stage"
OVERDUE_ALERT = "reminder.overdue"
DISSATISFIED_ALERT = "reminder.dissatisfied"
DAILY_DIGEST = "reminder.digest"
MONTHLY_LATE = "reminder.late_month"


class Stage(enum.StrEnum):
    RECEIVE = "receive"  # screen and receive, 8 working hours (Art. 9.2)
    DISPATCH = "dispatch"  # assign, 4 working hours
    HANDLE = "handle"  # handle and approve, 7 working days (urgent: 4 working hours)
    CLARIFY = "clarify"  # answer the citizen's clarification, 7 working days (Art. 10.1)


STAGE_OF_STATE: dict[State, Stage] = {
    State.SUBMITTED: Stage.RECEIVE,
    State.NEEDS_INFO: Stage.RECEIVE,
    State.RECEIVED: Stage.DISPATCH,
    State.ASSIGNED: Stage.HANDLE,
    State.PENDING_APPROVAL: Stage.HANDLE,
    State.CLARIFYING: Stage.CLARIFY,
}
# The clock stops while the agency waits for the citizen (docs/rules.md "Deadlines").
PAUSED = frozenset({State.NEEDS_INFO})
# States whose deadline is running.
CLOCKED = frozenset(STAGE_OF_STATE) - PAUSED


class StepKind(enum.StrEnum):
    SHARE = "share"
    DEADLINE = "deadline"
    OVERDUE = "overdue"
    DAILY = "daily"
    DISSATISFIED = "dissatisfied"
