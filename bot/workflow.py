"""The report workflow: states, transitions, and who may fire each.

This module is the only place that changes a report's state. Handlers and
scheduled jobs name a transition; `fire` checks the role and the report's
current state, bumps the version guarded in the database (so of two officials
pressing the same button at once, exactly one wins), and appends a timeline
event in the same transaction.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Report, ReportEvent


class State(enum.StrEnum):
    # 003 Art. 9.1: a report waits to be screened by the receiving agency.
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"


class Role(enum.StrEnum):
    CITIZEN = "citizen"  # the report's own sender
    SYSTEM = "system"


class Action(enum.StrEnum):
    SUBMIT = "submit"
    WITHDRAW = "withdraw"


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[State]
    target: State
    roles: frozenset[Role]
    # Whether the event belongs to the public processing record (003 Art. 11.2).
    public: bool = True


TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        # A citizen may take back a report only until an agency has received it;
        # after that the agency's work is on the record.
        Transition(Action.WITHDRAW, frozenset({State.SUBMITTED}), State.WITHDRAWN, frozenset({Role.CITIZEN})),
    )
}

OPEN_STATES = frozenset({State.SUBMITTED})


class Refusal(enum.StrEnum):
    NOT_ALLOWED = "not_allowed"  # this role may not fire this action
    WRONG_STATE = "wrong_state"  # the report has moved on
    STALE = "stale"  # someone else changed it between reading and writing


@dataclass(frozen=True)
class Outcome:
    ok: bool
    report: Report
    refusal: Refusal | None = None
    event: ReportEvent | None = None


@dataclass(frozen=True)
class Actor:
    role: Role
    user_id: int | None = None


def allowed(action: Action, state: State, role: Role) -> bool:
    t = TRANSITIONS[action]
    return state in t.sources and role in t.roles


def record_submission(session: AsyncSession, report: Report, actor: Actor, at: datetime) -> ReportEvent:
    """The first event of every report; the report row is new, so no guard is needed."""
    report.state = State.SUBMITTED
    report.version = 1
    event = ReportEvent(
        report_id=report.id,
        at=at,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        kind=Action.SUBMIT,
        from_state=None,
        to_state=State.SUBMITTED,
        public=True,
        details={},
    )
    session.add(event)
    return event


async def fire(
    session: AsyncSession,
    report: Report,
    action: Action,
    actor: Actor,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> Outcome:
    """Apply `action` to `report` if `actor` may, in the caller's transaction."""
    t = TRANSITIONS[action]
    state = State(report.state)
    if actor.role not in t.roles:
        return Outcome(False, report, Refusal.NOT_ALLOWED)
    if state not in t.sources:
        return Outcome(False, report, Refusal.WRONG_STATE)
    result = await session.execute(
        update(Report)
        .where(Report.id == report.id, Report.version == report.version)
        .values(state=t.target, version=report.version + 1, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        await session.refresh(report)
        return Outcome(False, report, Refusal.STALE)
    event = ReportEvent(
        report_id=report.id,
        at=at,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        kind=action,
        from_state=state,
        to_state=t.target,
        public=t.public,
        details=details or {},
    )
    session.add(event)
    await session.flush()
    await session.refresh(report)
    return Outcome(True, report, None, event)


async def timeline(session: AsyncSession, report_id: int, *, public_only: bool) -> list[ReportEvent]:
    query = select(ReportEvent).where(ReportEvent.report_id == report_id)
    if public_only:
        query = query.where(ReportEvent.public.is_(True))
    return list((await session.scalars(query.order_by(ReportEvent.at, ReportEvent.id))).all())
