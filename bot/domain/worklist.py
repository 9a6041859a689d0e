"""What waits for an official (/queue): to screen, assign, handle, approve, answer; oldest deadline first."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.workflow import OPEN_STATES, SCREENERS, State
from storage.models import CoordinationRequest, Official, Report
from storage.models.officials import Role


class Task(enum.StrEnum):
    SCREEN = "screen"
    ASSIGN = "assign"
    HANDLE = "handle"
    APPROVE = "approve"
    CLARIFY = "clarify"
    COORDINATE = "coordinate"


@dataclass(frozen=True)
class Item:
    task: Task
    report_id: int
    code: str
    due_at: datetime | None
    # For a coordination request: the request to answer.
    request_id: int | None = None


async def queue_for(session: AsyncSession, official: Official, roles: frozenset[Role], limit: int = 50) -> list[Item]:
    items: list[Item] = []
    mine = Report.agency_id == official.agency_id
    if roles & SCREENERS:
        for task, state in ((Task.SCREEN, State.SUBMITTED), (Task.ASSIGN, State.RECEIVED)):
            items += await _reports(session, task, mine, Report.state == state, limit=limit)
    if Role.HANDLING_OFFICER in roles:
        items += await _reports(
            session, Task.HANDLE, mine, Report.state == State.ASSIGNED, Report.assignee_id == official.id, limit=limit
        )
    if Role.AGENCY_HEAD in roles:
        items += await _reports(session, Task.APPROVE, mine, Report.state == State.PENDING_APPROVAL, limit=limit)
        # The head answers any of the agency's clarifications (bot/domain/workflow.py),
        # also while holding the handling officer's role.
        items += await _reports(session, Task.CLARIFY, mine, Report.state == State.CLARIFYING, limit=limit)
    elif Role.HANDLING_OFFICER in roles:
        items += await _reports(
            session,
            Task.CLARIFY,
            mine,
            Report.state == State.CLARIFYING,
            Report.assignee_id == official.id,
            limit=limit,
        )
    if roles & {*SCREENERS, Role.HANDLING_OFFICER}:
        rows = await session.execute(
            select(CoordinationRequest.id, Report.id, Report.code, Report.due_at)
            .join(Report, Report.id == CoordinationRequest.report_id)
            .where(
                CoordinationRequest.to_agency_id == official.agency_id,
                CoordinationRequest.answered_at.is_(None),
                # The workflow takes answers only while the report is open.
                Report.state.in_(list(OPEN_STATES)),
            )
            .order_by(CoordinationRequest.asked_at)
            .limit(limit)
        )
        items += [
            Item(Task.COORDINATE, report_id, code, due, request_id) for request_id, report_id, code, due in rows.all()
        ]
    # Oldest deadline first; nothing due goes last, in report order.
    items.sort(key=lambda i: (i.due_at is None, i.due_at or datetime.max, i.report_id))
    return items[:limit]


async def _reports(session: AsyncSession, task: Task, *where, limit: int) -> list[Item]:
    rows = await session.execute(
        select(Report.id, Report.code, Report.due_at).where(*where).order_by(Report.due_at, Report.id).limit(limit)
    )
    return [Item(task, report_id, code, due) for report_id, code, due in rows.all()]
