"""The report workflow: states, transitions, and who may fire each.

This module is the only place that changes a report's state. Handlers and
scheduled jobs name an action; `fire` checks who is acting against the
transition's roles and scope, checks what the action requires (a reason, an
assignee, evidence), bumps the report's version with a guarded UPDATE (so of
two officials pressing the same button at once exactly one wins, on any
number of processes), and appends a timeline event in the same transaction.

The steps are those of 003 Art. 9: screen (receive, reject, ask for more
information, transfer), dispatch (assign), handle (result with evidence),
approve (or return for rework); then the citizen's clarification and rating
(Art. 10-11).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Agency, Official, OfficialRole, Report, ReportEvent
from storage.models.officials import OfficialStatus, Role

log = logging.getLogger(__name__)


class State(enum.StrEnum):
    SUBMITTED = "submitted"  # waiting to be screened by the receiving agency
    NEEDS_INFO = "needs_info"  # the agency asked the citizen for more; its clock pauses
    RECEIVED = "received"  # accepted, waiting to be assigned (Art. 9.1.b)
    ASSIGNED = "assigned"  # a handling officer works on it
    PENDING_APPROVAL = "pending_approval"  # a result waits for the agency head (Art. 9.1.d)
    RESOLVED = "resolved"  # the result went to the citizen
    CLARIFYING = "clarifying"  # the citizen asked for clarification of the result
    CLOSED = "closed"  # rated, or the time for questions has passed
    REJECTED = "rejected"  # fails Art. 8; the citizen was told why
    WITHDRAWN = "withdrawn"  # taken back by the citizen before it was received


class Party(enum.StrEnum):
    """Who acts besides officials, whose roles are `storage.models.officials.Role`."""

    CITIZEN = "citizen"  # the report's own sender
    SYSTEM = "system"  # scheduled jobs


Who = Party | Role


class Scope(enum.StrEnum):
    """Whose report an actor may touch, beyond holding the role."""

    OWN_REPORT = "own_report"  # the citizen who sent it
    AGENCY = "agency"  # an official of the agency now responsible for it
    ASSIGNEE = "assignee"  # the handling officer it is assigned to
    ASKED_AGENCY = "asked_agency"  # an official of the agency a coordination request went to
    ANY = "any"  # the system


class Need(enum.StrEnum):
    """What an action must carry in its details."""

    REASON = "reason"
    QUESTION = "question"
    ANSWER = "answer"
    ASSIGNEE = "assignee_id"
    TARGET_AGENCY = "target_agency_id"
    RESULT = "result"
    # 003 Art. 9.1.d: a result carries evidence (media keys of photos or files).
    EVIDENCE = "evidence"
    COMMENT = "comment"
    RATING = "rating"
    NOTE = "note"
    REQUEST_ID = "request_id"


class Rating(enum.StrEnum):
    SATISFIED = "satisfied"
    NORMAL = "normal"
    UNSATISFIED = "unsatisfied"


class Action(enum.StrEnum):
    SUBMIT = "submit"
    WITHDRAW = "withdraw"
    RECEIVE = "receive"
    REJECT = "reject"
    REQUEST_INFO = "request_info"
    PROVIDE_INFO = "provide_info"
    TRANSFER = "transfer"
    ASSIGN = "assign"
    REASSIGN = "reassign"
    SUBMIT_RESULT = "submit_result"
    APPROVE = "approve"
    RETURN = "return"
    ASK_CLARIFICATION = "ask_clarification"
    ANSWER_CLARIFICATION = "answer_clarification"
    RATE = "rate"
    REOPEN = "reopen"
    CLOSE = "close"
    # Open work of an official who is moved, suspended or revoked (002 Art. 11).
    HANDOVER = "handover"
    UNASSIGN = "unassign"
    # Annotations: on the timeline, the state stays.
    NOTE = "note"
    COORDINATE = "coordinate"
    COORDINATION_ANSWER = "coordination_answer"
    REVEAL_CONTACT = "reveal_contact"
    # The receiving officer or the head decides a report is urgent (003 Art. 9.2: 4 working hours to handle).
    MARK_URGENT = "mark_urgent"


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[State]
    # None: the state stays (reassignment, annotations).
    target: State | None
    who: frozenset[Who]
    scope: Scope
    needs: frozenset[Need] = frozenset()
    # Whether the event belongs to the public processing record (003 Art. 11.2).
    public: bool = True
    # Annotations (notes, coordination, revealing the contact) change no column
    # of the report, so they neither bump its version nor lose to a concurrent
    # transition: a note must not make the head's "Approve" stale.
    bumps: bool = True


def _t(
    action: Action,
    sources: set[State] | frozenset[State],
    target: State | None,
    who: set[Who],
    scope: Scope,
    needs: frozenset[Need] | set[Need] = frozenset(),
    public: bool = True,
    bumps: bool = True,
) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(who), scope, frozenset(needs), public, bumps)


S = State
OPEN_STATES = frozenset({S.SUBMITTED, S.NEEDS_INFO, S.RECEIVED, S.ASSIGNED, S.PENDING_APPROVAL, S.CLARIFYING})
SCREENERS: set[Who] = {Role.RECEIVING_OFFICER, Role.AGENCY_HEAD}
CITIZEN: set[Who] = {Party.CITIZEN}

TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        # A citizen may take a report back only until the agency has it; after
        # that the agency's work is on the record.
        _t(Action.WITHDRAW, {S.SUBMITTED, S.NEEDS_INFO}, S.WITHDRAWN, CITIZEN, Scope.OWN_REPORT),
        _t(Action.RECEIVE, {S.SUBMITTED}, S.RECEIVED, SCREENERS, Scope.AGENCY),
        _t(Action.REJECT, {S.SUBMITTED, S.NEEDS_INFO}, S.REJECTED, SCREENERS, Scope.AGENCY, {Need.REASON}),
        _t(Action.REQUEST_INFO, {S.SUBMITTED}, S.NEEDS_INFO, SCREENERS, Scope.AGENCY, {Need.QUESTION}),
        _t(Action.PROVIDE_INFO, {S.NEEDS_INFO}, S.SUBMITTED, CITIZEN, Scope.OWN_REPORT, {Need.ANSWER}, public=False),
        # Art. 9.1.b: no jurisdiction → the competent or higher-level agency screens it anew.
        _t(
            Action.TRANSFER,
            {S.SUBMITTED, S.NEEDS_INFO, S.RECEIVED},
            S.SUBMITTED,
            SCREENERS,
            Scope.AGENCY,
            {Need.TARGET_AGENCY, Need.REASON},
        ),
        _t(Action.ASSIGN, {S.RECEIVED}, S.ASSIGNED, SCREENERS, Scope.AGENCY, {Need.ASSIGNEE}),
        _t(Action.REASSIGN, {S.ASSIGNED}, S.ASSIGNED, SCREENERS, Scope.AGENCY, {Need.ASSIGNEE}, public=False),
        _t(
            Action.SUBMIT_RESULT,
            {S.ASSIGNED},
            S.PENDING_APPROVAL,
            {Role.HANDLING_OFFICER},
            Scope.ASSIGNEE,
            {Need.RESULT, Need.EVIDENCE},
            public=False,
        ),
        _t(Action.APPROVE, {S.PENDING_APPROVAL}, S.RESOLVED, {Role.AGENCY_HEAD}, Scope.AGENCY),
        _t(
            Action.RETURN,
            {S.PENDING_APPROVAL},
            S.ASSIGNED,
            {Role.AGENCY_HEAD},
            Scope.AGENCY,
            {Need.COMMENT},
            public=False,
        ),
        _t(Action.ASK_CLARIFICATION, {S.RESOLVED}, S.CLARIFYING, CITIZEN, Scope.OWN_REPORT, {Need.QUESTION}),
        _t(
            Action.ANSWER_CLARIFICATION,
            {S.CLARIFYING},
            S.RESOLVED,
            {Role.HANDLING_OFFICER, Role.AGENCY_HEAD},
            Scope.AGENCY,
            {Need.ANSWER},
        ),
        _t(Action.RATE, {S.RESOLVED, S.CLARIFYING}, S.CLOSED, CITIZEN, Scope.OWN_REPORT, {Need.RATING}),
        # Only a citizen who rated the result unsatisfied may re-open it, with a
        # reason (Art. 9.3 counts both: five marks alert the Provincial Office).
        # Rating closes the report, so a re-open always starts from CLOSED.
        _t(Action.REOPEN, {S.CLOSED}, S.RECEIVED, CITIZEN, Scope.OWN_REPORT, {Need.REASON}),
        _t(Action.CLOSE, {S.RESOLVED}, S.CLOSED, {Party.SYSTEM}, Scope.ANY),
        # 002 Art. 11: an official who leaves the agency hands over; a result
        # still waiting for approval goes with the work.
        _t(
            Action.HANDOVER,
            {S.ASSIGNED, S.PENDING_APPROVAL},
            None,
            {Party.SYSTEM},
            Scope.ANY,
            {Need.ASSIGNEE, Need.REASON},
            public=False,
        ),
        _t(
            Action.UNASSIGN,
            {S.ASSIGNED, S.PENDING_APPROVAL},
            S.RECEIVED,
            {Party.SYSTEM},
            Scope.ANY,
            {Need.REASON},
            public=False,
        ),
        _t(
            Action.NOTE,
            OPEN_STATES,
            None,
            {Role.HANDLING_OFFICER, *SCREENERS},
            Scope.AGENCY,
            {Need.NOTE},
            public=False,
            bumps=False,
        ),
        # Art. 9.1.c: the lead agency's handler asks other agencies for their part.
        _t(
            Action.COORDINATE,
            {S.ASSIGNED, S.CLARIFYING},
            None,
            {Role.HANDLING_OFFICER, Role.AGENCY_HEAD},
            Scope.AGENCY,
            {Need.TARGET_AGENCY, Need.QUESTION},
            public=False,
            bumps=False,
        ),
        _t(
            Action.COORDINATION_ANSWER,
            OPEN_STATES,
            None,
            {*SCREENERS, Role.HANDLING_OFFICER},
            Scope.ASKED_AGENCY,
            {Need.REQUEST_ID, Need.ANSWER},
            public=False,
            bumps=False,
        ),
        # Art. 8.5: only the responsible agency sees a private sender, and each look is on record.
        _t(
            Action.REVEAL_CONTACT,
            frozenset(State),
            None,
            {*SCREENERS, Role.HANDLING_OFFICER},
            Scope.AGENCY,
            public=False,
            bumps=False,
        ),
        # Urgency changes the deadline, so it bumps the version like a transition (bot/domain/urgency.py).
        _t(
            Action.MARK_URGENT,
            {S.SUBMITTED, S.NEEDS_INFO, S.RECEIVED, S.ASSIGNED},
            None,
            SCREENERS,
            Scope.AGENCY,
            public=False,
        ),
    )
}
# docs/rules.md "Deadlines": the citizen may ask for clarification within 2 days of the result.
CLARIFICATION_WINDOW = timedelta(days=2)


@dataclass(frozen=True)
class Actor:
    """Who fires an action: a citizen, an official (with roles in one agency), or the system."""

    party: Party | None
    user_id: int | None = None
    official_id: int | None = None
    agency_id: int | None = None
    roles: frozenset[Role] = frozenset()

    @classmethod
    def citizen(cls, user_id: int) -> Actor:
        return cls(Party.CITIZEN, user_id)

    @classmethod
    def system(cls) -> Actor:
        return cls(Party.SYSTEM)

    @classmethod
    def official(cls, official: Official, roles: frozenset[Role]) -> Actor:
        # A suspended or revoked official keeps their rows but acts with no role
        # (000 Art. 5.3), whatever the caller passed.
        usable = roles if official.status == OfficialStatus.ACTIVE else frozenset()
        return cls(None, official.user_id, official.id, official.agency_id, usable)

    @property
    def parties(self) -> frozenset[Who]:
        return frozenset({self.party} if self.party else set()) | self.roles

    @property
    def label(self) -> str:
        return self.party.value if self.party else ",".join(sorted(self.roles)) or "nobody"

    def acting_as(self, t: Transition) -> str:
        """The one role this action is taken in, for the timeline (the first that qualifies)."""
        for who in (*Party, *Role):
            if who in t.who and who in self.parties:
                return who.value
        return self.label[:24]


class Refusal(enum.StrEnum):
    NOT_ALLOWED = "not_allowed"  # this actor may not fire this action on this report
    WRONG_STATE = "wrong_state"  # the report has moved on
    STALE = "stale"  # someone else changed it between reading and writing
    MISSING = "missing"  # a reason, an assignee, evidence... is missing
    INVALID = "invalid"  # the assignee or target agency does not qualify
    TOO_LATE = "too_late"  # e.g. the window for clarification has closed


@dataclass(frozen=True)
class Outcome:
    ok: bool
    report: Report
    refusal: Refusal | None = None
    event: ReportEvent | None = None
    # On a refusal because the report moved on: the event that moved it, so the
    # loser of a race is told who acted first and when.
    latest: ReportEvent | None = None
    missing: Need | None = None


def allowed(action: Action, state: State, who: Who) -> bool:
    """The table alone: may `who` fire `action` from `state` (scope aside)?"""
    t = TRANSITIONS[action]
    return state in t.sources and who in t.who


def _in_scope(t: Transition, actor: Actor, report: Report, details: dict[str, Any]) -> bool:
    match t.scope:
        case Scope.OWN_REPORT:
            return actor.party is Party.CITIZEN and actor.user_id == report.citizen_id
        case Scope.AGENCY:
            if actor.agency_id is None or actor.agency_id != report.agency_id:
                return False
            # A handling officer acts only on the reports assigned to them
            # (003 Art. 3.6); the agency's other roles act on all of its reports.
            if actor.parties & t.who == {Role.HANDLING_OFFICER}:
                return actor.official_id is not None and actor.official_id == report.assignee_id
            return True
        case Scope.ASSIGNEE:
            return actor.official_id is not None and actor.official_id == report.assignee_id
        case Scope.ASKED_AGENCY:
            # The caller passes the agency the request went to, read from the request row.
            return actor.agency_id is not None and actor.agency_id == details.get("to_agency_id")
        case Scope.ANY:
            return actor.party is Party.SYSTEM
    return False


def _missing(t: Transition, details: dict[str, Any]) -> Need | None:
    for need in sorted(t.needs):
        value = details.get(need.value)
        if value is None or (isinstance(value, (str, list, tuple)) and not value):
            return need
        if isinstance(value, str) and not value.strip():
            return need
    if Need.RATING in t.needs and details.get(Need.RATING.value) not in {r.value for r in Rating}:
        return Need.RATING
    return None


async def _qualifies(session: AsyncSession, t: Transition, report: Report, details: dict[str, Any]) -> bool:
    """What the table cannot say: the assignee and the target agency must be real and fit."""
    if Need.ASSIGNEE in t.needs:
        official = await session.get(Official, details[Need.ASSIGNEE.value])
        if official is None or official.agency_id != report.agency_id or official.status != OfficialStatus.ACTIVE:
            return False
        has_role = await session.scalar(
            select(OfficialRole.id).where(
                OfficialRole.official_id == official.id, OfficialRole.role == Role.HANDLING_OFFICER
            )
        )
        if has_role is None:
            return False
    if Need.TARGET_AGENCY in t.needs:
        target = await session.get(Agency, details[Need.TARGET_AGENCY.value])
        if target is None or not target.active or target.id == report.agency_id:
            return False
    return True


def _effects(t: Transition, report: Report, details: dict[str, Any], at: datetime) -> dict[str, Any]:
    """Columns that change with the state, beyond state and version."""
    match t.action:
        case Action.TRANSFER:
            return {"agency_id": details[Need.TARGET_AGENCY.value], "assignee_id": None}
        case Action.ASSIGN | Action.REASSIGN | Action.HANDOVER:
            return {"assignee_id": details[Need.ASSIGNEE.value]}
        case Action.UNASSIGN:
            return {"assignee_id": None}
        case Action.APPROVE:
            return {"resolved_at": at}
        case Action.MARK_URGENT:
            return {"urgent": True}
        case Action.RATE:
            unsatisfied = details[Need.RATING.value] == Rating.UNSATISFIED
            return {
                "rating": details[Need.RATING.value],
                "unsatisfied_count": report.unsatisfied_count + (1 if unsatisfied else 0),
            }
        case Action.REOPEN:
            # The unsatisfied rating that allowed the re-open already counted
            # its mark; the re-open is counted on its own.
            return {
                "reopen_count": report.reopen_count + 1,
                "assignee_id": None,
                "resolved_at": None,
                "rating": None,
            }
    return {}


def _too_late(t: Transition, report: Report, at: datetime) -> bool:
    if t.action is Action.ASK_CLARIFICATION:
        return report.resolved_at is None or at > report.resolved_at + CLARIFICATION_WINDOW
    if t.action is Action.REOPEN:
        # Only an unsatisfied rating re-opens a report, whatever button was pressed.
        return report.rating != Rating.UNSATISFIED
    return False


def precheck(report: Report, action: Action, actor: Actor, at: datetime) -> Refusal | None:
    """What `fire` would refuse before looking at the details.

    For buttons that ask for words first (a question, a reason): the person
    is told at the press, not after typing, that it cannot be done.
    """
    t = TRANSITIONS[action]
    if not (actor.parties & t.who) or not _in_scope(t, actor, report, {}):
        return Refusal.NOT_ALLOWED
    if State(report.state) not in t.sources:
        return Refusal.WRONG_STATE
    if _too_late(t, report, at):
        return Refusal.TOO_LATE
    return None


async def latest_event(session: AsyncSession, report_id: int) -> ReportEvent | None:
    return await session.scalar(
        select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.id.desc()).limit(1)
    )


def record_submission(session: AsyncSession, report: Report, actor: Actor, at: datetime) -> ReportEvent:
    """The first event of every report; the report row is new, so no guard is needed."""
    report.state = State.SUBMITTED
    report.version = 1
    event = ReportEvent(
        report_id=report.id,
        at=at,
        actor_user_id=actor.user_id,
        actor_role=actor.label,
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
    """Apply `action` to `report` if `actor` may, in the caller's transaction.

    `report` is the row as the caller read it; its `version` is what the
    decision was based on. A refusal changes nothing and is logged.
    """
    details = dict(details or {})
    t = TRANSITIONS[action]
    state = State(report.state)

    def refuse(refusal: Refusal, **extra: Any) -> Outcome:
        log.info("refused %s on report %s (%s) by %s: %s", action, report.id, state, actor.label, refusal)
        return Outcome(False, report, refusal, **extra)

    if not (actor.parties & t.who) or not _in_scope(t, actor, report, details):
        return refuse(Refusal.NOT_ALLOWED)
    if state not in t.sources:
        return refuse(Refusal.WRONG_STATE, latest=await latest_event(session, report.id))
    missing = _missing(t, details)
    if missing is not None:
        return refuse(Refusal.MISSING, missing=missing)
    if _too_late(t, report, at):
        return refuse(Refusal.TOO_LATE)
    if not await _qualifies(session, t, report, details):
        return refuse(Refusal.INVALID)
    target = t.target or state
    if not t.bumps:
        return await _annotate(session, report, t, actor, at, state, details)
    values = {"state": target, "version": report.version + 1, "updated_at": at, **_effects(t, report, details, at)}
    result = await session.execute(
        update(Report)
        .where(Report.id == report.id, Report.version == report.version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        await session.refresh(report)
        return refuse(Refusal.STALE, latest=await latest_event(session, report.id))
    if action is Action.TRANSFER:
        details["from_agency_id"] = report.agency_id
    event = ReportEvent(
        report_id=report.id,
        at=at,
        actor_user_id=actor.user_id,
        actor_role=actor.acting_as(t),
        kind=action,
        from_state=state,
        to_state=target,
        public=t.public,
        details=details,
    )
    session.add(event)
    await session.flush()
    await session.refresh(report)
    return Outcome(True, report, None, event)


async def _annotate(
    session: AsyncSession,
    report: Report,
    t: Transition,
    actor: Actor,
    at: datetime,
    state: State,
    details: dict[str, Any],
) -> Outcome:
    event = ReportEvent(
        report_id=report.id,
        at=at,
        actor_user_id=actor.user_id,
        actor_role=actor.acting_as(t),
        kind=t.action,
        from_state=state,
        to_state=state,
        public=t.public,
        details=details,
    )
    session.add(event)
    await session.flush()
    return Outcome(True, report, None, event)


async def timeline(session: AsyncSession, report_id: int, *, public_only: bool) -> list[ReportEvent]:
    query = select(ReportEvent).where(ReportEvent.report_id == report_id)
    if public_only:
        query = query.where(ReportEvent.public.is_(True))
    return list((await session.scalars(query.order_by(ReportEvent.at, ReportEvent.id))).all())
