"""Officials and citizens acting on a report, and everything that follows from it.

`act` fires a workflow transition (bot/domain/workflow.py decides whether it may
happen) and, in the same transaction, sets the new stage's deadline, edits the
agency cards and writes the messages to the people concerned into the outbox.
Handlers and scheduled jobs call this module; it never imports a messaging
platform.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import cards, deadlines, notices, reminders, workflow
from bot.domain.desk import Desk
from bot.domain.province import RejectReason, reject_reasons_from_json
from bot.domain.roles import roles_of
from bot.domain.workflow import Action, Actor, Need, Outcome, Refusal, State
from bot.i18n import nfc
from storage.models import (
    Agency,
    CoordinationRequest,
    Official,
    Province,
    Report,
    ReportEvent,
    User,
)
from storage.models.officials import OfficialStatus, Role

# Longest text an official or citizen may type into a step (a reason, a note, a result).
TEXT_MAX = 2000


async def actor_of(session: AsyncSession, user: User) -> Actor:
    """The workflow's actor for this account: an official with their roles, else a citizen."""
    official = await session.scalar(select(Official).where(Official.user_id == user.id))
    if official is None or official.status == OfficialStatus.REVOKED:
        return Actor.citizen(user.id)
    return Actor.official(official, await roles_of(session, official.id))


async def official_actor(session: AsyncSession, user: User) -> tuple[Official, Actor] | None:
    official = await session.scalar(select(Official).where(Official.user_id == user.id))
    if official is None:
        return None
    return official, Actor.official(official, await roles_of(session, official.id))


def clean_text(text: str | None) -> str:
    return nfc((text or "").strip())[:TEXT_MAX]


async def act(
    session: AsyncSession,
    desk: Desk,
    report: Report,
    action: Action,
    actor: Actor,
    at: datetime,
    details: dict[str, Any] | None = None,
    *,
    expected_version: int | None = None,
) -> Outcome:
    """Fire `action` and do what follows from it, all in the caller's transaction.

    `expected_version` is the version the person saw (a card's button carries
    it): a press on an older card is refused as stale even if the report has
    come back to the same state since.
    """
    details = {k: (clean_text(v) if isinstance(v, str) else v) for k, v in (details or {}).items()}
    if expected_version is not None and expected_version != report.version and workflow.TRANSITIONS[action].bumps:
        return Outcome(False, report, Refusal.STALE, latest=await workflow.latest_event(session, report.id))
    before = _Before(
        state=State(report.state), agency_id=report.agency_id, assignee_id=report.assignee_id, due_at=report.due_at
    )
    if action is Action.REQUEST_INFO and report.due_at is not None:
        # The receive clock pauses while the citizen is asked (docs/rules.md "Workflow and states");
        # what was left of it resumes when they answer.
        details["remaining_seconds"] = max(
            0, int(desk.calendar_for(report.agency_id).between(at, report.due_at).total_seconds())
        )
    if action is Action.PROVIDE_INFO:
        # What was left when the citizen was asked is on the question's event.
        asked = await latest_of(session, report.id, [Action.REQUEST_INFO])
        if asked is not None and isinstance(asked.details.get("remaining_seconds"), int):
            details["remaining_seconds"] = asked.details["remaining_seconds"]
    outcome = await workflow.fire(session, report, action, actor, at, details)
    if not outcome.ok or outcome.event is None:
        return outcome
    if workflow.TRANSITIONS[action].bumps:
        report.due_at = _next_due(desk, report, action, before, at, outcome.event)
        await reminders.schedule(session, desk, report, action, before.due_at, at)
    await _follow_up(session, desk, report, outcome.event, before, at)
    await session.flush()
    return outcome


@dataclass(frozen=True)
class _Before:
    state: State
    agency_id: int
    assignee_id: int | None
    due_at: datetime | None


def _next_due(
    desk: Desk, report: Report, action: Action, before: _Before, at: datetime, event: ReportEvent
) -> datetime | None:
    """The deadline of the stage the report has entered (docs/rules.md "Deadlines")."""
    cal, limits = desk.calendar_for(report.agency_id), desk.limits
    if action is Action.MARK_URGENT:
        # Only handling has an urgent limit; screening and dispatch keep theirs.
        if State(report.state) is State.ASSIGNED:
            return deadlines.urgent_handle_due(cal, report.stage_started_at or at, before.due_at, at, limits)
        return before.due_at
    match State(report.state):
        case State.SUBMITTED if action is Action.PROVIDE_INFO:
            asked = event.details.get("remaining_seconds")
            remaining = timedelta(seconds=asked) if isinstance(asked, int) else timedelta(hours=limits.receive_hours)
            return cal.add(at, remaining)
        case State.SUBMITTED:
            return deadlines.receive_due(cal, at, limits)
        case State.RECEIVED:
            return deadlines.dispatch_due(cal, at, limits)
        case State.ASSIGNED if action is Action.ASSIGN:
            return deadlines.handle_due(cal, at, limits, urgent=report.urgent)
        case State.ASSIGNED | State.PENDING_APPROVAL:
            # Reassignment, handover and rework keep the clock that started at assignment.
            return before.due_at
        case State.CLARIFYING:
            return deadlines.clarification_due(cal, at, limits)
    return None


async def _follow_up(
    session: AsyncSession, desk: Desk, report: Report, event: ReportEvent, before: _Before, at: datetime
) -> None:
    action = Action(event.kind)
    if workflow.TRANSITIONS[action].bumps:
        # A note or a look at the contact leaves the card as it was; coordination
        # refreshes it itself once its request row exists.
        await cards.refresh(session, desk, report, at)
    if action is Action.TRANSFER:
        await cards.show_transferred(session, desk, report, before.agency_id, at)
        await notices.tell_transferred_in(session, desk, report, event)
    citizen = await citizen_of(session, report)
    assert citizen is not None
    if action in notices.FOR_CITIZEN:
        await notices.tell_citizen(session, desk, report, citizen, event)
    if action in (Action.ASSIGN, Action.REASSIGN, Action.HANDOVER, Action.RETURN) and report.assignee_id:
        await notices.tell_assignee(session, desk, report, report.assignee_id, event)
    if action in (Action.REASSIGN, Action.HANDOVER, Action.UNASSIGN) and before.assignee_id not in (
        None,
        report.assignee_id,
    ):
        await notices.tell_unassigned(session, report, before.assignee_id, event)
    if action is Action.ASK_CLARIFICATION:
        # The officer who handled it answers; one who is gone from the agency
        # hears nothing, and the agency is asked instead (bot/domain/notices.py).
        await notices.tell_assignee(session, desk, report, report.assignee_id, event)


# --- annotations -----------------------------------------------------------------------------


async def ask_coordination(
    session: AsyncSession, desk: Desk, report: Report, actor: Actor, at: datetime, to_agency_id: int, question: str
) -> tuple[Outcome, CoordinationRequest | None]:
    """003 Art. 9.1.c: ask another agency for its part; its group gets the request."""
    target = await session.get(Agency, to_agency_id)
    if target is None or not target.active or target.id == report.agency_id:
        return Outcome(False, report, Refusal.INVALID), None
    outcome = await act(
        session,
        desk,
        report,
        Action.COORDINATE,
        actor,
        at,
        {Need.TARGET_AGENCY.value: to_agency_id, Need.QUESTION.value: question},
    )
    if not outcome.ok:
        return outcome, None
    assert actor.official_id is not None
    request = CoordinationRequest(
        report_id=report.id,
        from_agency_id=report.agency_id,
        to_agency_id=to_agency_id,
        asked_by_official_id=actor.official_id,
        question=clean_text(question),
        asked_at=at,
    )
    session.add(request)
    await session.flush()
    await notices.ask_agency(session, desk, report, request)
    await cards.refresh(session, desk, report, at)
    return outcome, request


class CoordinationProblem(Exception):
    """The request is unknown or already answered."""


async def answer_coordination(
    session: AsyncSession, desk: Desk, request_id: int, actor: Actor, at: datetime, answer: str
) -> tuple[Outcome, CoordinationRequest] | None:
    """The asked agency answers; the answer lands on the report and reaches its handler."""
    request = await session.get(CoordinationRequest, request_id, with_for_update=True)
    if request is None:
        return None
    report = await session.get(Report, request.report_id)
    assert report is not None
    if request.answered_at is not None:
        return Outcome(False, report, Refusal.WRONG_STATE), request
    outcome = await act(
        session,
        desk,
        report,
        Action.COORDINATION_ANSWER,
        actor,
        at,
        {
            Need.REQUEST_ID.value: request.id,
            Need.ANSWER.value: answer,
            "to_agency_id": request.to_agency_id,
        },
    )
    if not outcome.ok:
        return outcome, request
    request.answer = clean_text(answer)
    request.answered_at = at
    request.answered_by_official_id = actor.official_id
    await session.flush()
    await notices.tell_coordination_answer(session, desk, report, request)
    await cards.refresh(session, desk, report, at)
    return outcome, request


async def add_note(session: AsyncSession, desk: Desk, report: Report, actor: Actor, at: datetime, note: str) -> Outcome:
    return await act(session, desk, report, Action.NOTE, actor, at, {Need.NOTE.value: note})


@dataclass(frozen=True)
class Contact:
    full_name: str | None
    phone: str | None
    identity_public: bool


async def reveal_contact(
    session: AsyncSession, desk: Desk, report: Report, actor: Actor, at: datetime
) -> tuple[Outcome, Contact | None]:
    """Art. 8.5: the responsible agency may see who sent it; every look is on the timeline."""
    outcome = await act(session, desk, report, Action.REVEAL_CONTACT, actor, at, {})
    if not outcome.ok:
        return outcome, None
    citizen = await citizen_of(session, report)
    assert citizen is not None
    return outcome, Contact(citizen.full_name, citizen.phone, report.identity_public)


# --- handover (002 Art. 11) ------------------------------------------------------------------


async def hand_over(
    session: AsyncSession, desk: Desk, official_id: int, to_official_id: int | None, at: datetime, reason: str
) -> int:
    """Give an official's open assignments to a colleague, or back to the agency's queue.

    One timeline event per report. Returns how many were handed over. A report
    the colleague cannot take (the workflow assigns only active handling
    officers of its agency) goes back to the queue: it never stays with an
    official who is leaving.
    """
    reports = (
        await session.scalars(
            select(Report)
            .where(Report.assignee_id == official_id, Report.state.in_([State.ASSIGNED, State.PENDING_APPROVAL]))
            .order_by(Report.id)
        )
    ).all()
    moved = 0
    for report in reports:
        outcome = None
        if to_official_id is not None:
            outcome = await act(
                session,
                desk,
                report,
                Action.HANDOVER,
                Actor.system(),
                at,
                {Need.ASSIGNEE.value: to_official_id, Need.REASON.value: reason, "from_official_id": official_id},
            )
        if outcome is None or not outcome.ok:
            outcome = await act(
                session,
                desk,
                report,
                Action.UNASSIGN,
                Actor.system(),
                at,
                {Need.REASON.value: reason, "from_official_id": official_id},
            )
        moved += int(outcome.ok)
    return moved


# --- reading --------------------------------------------------------------------------------


async def report_by_id(session: AsyncSession, report_id: int) -> Report | None:
    return await session.get(Report, report_id)


async def citizen_of(session: AsyncSession, report: Report) -> User | None:
    """The account of the citizen who sent the report."""
    return await session.get(User, report.citizen_id)


async def coordination_request(session: AsyncSession, request_id: int) -> CoordinationRequest | None:
    return await session.get(CoordinationRequest, request_id)


async def handling_officers(session: AsyncSession, agency_id: int) -> list[Official]:
    """Who a report can be assigned to: the agency's active handling officers, by name."""
    from storage.models import OfficialRole

    rows = await session.scalars(
        select(Official)
        .join(OfficialRole, OfficialRole.official_id == Official.id)
        .where(
            Official.agency_id == agency_id,
            Official.status == OfficialStatus.ACTIVE,
            OfficialRole.role == Role.HANDLING_OFFICER,
        )
        .order_by(Official.full_name, Official.id)
    )
    return list(rows.unique().all())


async def other_agencies(session: AsyncSession, agency_id: int) -> list[Agency]:
    rows = await session.scalars(
        select(Agency).where(Agency.active.is_(True), Agency.id != agency_id).order_by(Agency.kind, Agency.name_vi)
    )
    return list(rows.all())


async def own_reject_reasons(session: AsyncSession, agency_id: int) -> dict[str, RejectReason]:
    """The province's and then the agency's own reasons for rejecting, from the province file.

    Keyed "p<index>" and "a<index>": short enough for a button's callback data
    (Telegram allows 64 bytes), where the text itself would not fit.
    """
    province = await session.scalar(select(Province.reject_reasons_json).limit(1))
    agency = await session.scalar(select(Agency.reject_reasons_json).where(Agency.id == agency_id))
    reasons = {f"p{i}": reason for i, reason in enumerate(reject_reasons_from_json(province))}
    reasons.update({f"a{i}": reason for i, reason in enumerate(reject_reasons_from_json(agency))})
    return reasons


async def latest_of(session: AsyncSession, report_id: int, kinds: Iterable[Action]) -> ReportEvent | None:
    return await session.scalar(
        select(ReportEvent)
        .where(ReportEvent.report_id == report_id, ReportEvent.kind.in_([k.value for k in kinds]))
        .order_by(ReportEvent.id.desc())
        .limit(1)
    )


async def pending_coordination(session: AsyncSession, report_id: int) -> list[CoordinationRequest]:
    rows = await session.scalars(
        select(CoordinationRequest).where(CoordinationRequest.report_id == report_id).order_by(CoordinationRequest.id)
    )
    return list(rows.all())
