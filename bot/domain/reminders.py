"""Reminders before a stage's deadline, escalation after it, and the province's periodic lists.

The stage clock
---------------
Every open stage of a report (receive, dispatch, handle, answer a
clarification) has a deadline in working time (`reports.due_at`, set by
bot/domain/casework.py). `schedule` is called in the same transaction whenever that
deadline is set and keeps the report's clock columns: which stage, the how
manyth clock of the report (`stage_seq`), the next step of its schedule
(`reminder_step`) and when that step falls due (`next_reminder_at`, indexed).

The steps of a clock, for a stage of working length L due at D, with the
configured shares (default 50 % and 80 %):

  share i   at D - (1 - share_i) × L  to whoever holds the stage
  deadline  at D                      to whoever holds the stage
  overdue   just after D              to the agency head and the Provincial Office, once
  daily     every working day after   to the holder and the head, while it stays overdue

Whoever holds a stage is read when the step is sent: the agency's group for
screening and dispatch, the handling officer privately for handling, the head
for approval, the handler (else the head) for a clarification.

A pause for the citizen's answer (needs_info) stops the clock and sends
nothing; the answer resumes it with the working time that was left, under the
same `stage_seq`, so what was already sent is not sent again. A new stage, or
a new deadline for the same stage (urgency), starts a new clock. A deadline
moved by a change of the calendar (`replan`, called by bot/domain/calendars.py)
keeps its clock too: only the times of the steps not yet sent move.

The tick
--------
`tick` reads only reports whose `next_reminder_at` has come, by that index, so
its cost does not grow with the number of open reports. For each, in one
transaction: a `reminders` row per step (unique per report, clock and step),
the outbox rows that carry it (dedupe keys per step and chat), and the clock
advanced. A crash before the commit leaves nothing; after it, the step is
done. So no step is sent twice and none is lost across restarts; steps that
fell due while the bot was down are sent when it is back, except repeated
daily reminders, of which only the latest is sent.

Outside the agency's office hours nothing is sent (the step waits for the
next working instant, with a few minutes' grace for a step that fell due at
closing time) unless the report is urgent, whose overdue repeats also run in
calendar days, weekends included.

Besides the clocks: the Provincial Office hears once of a report rated
unsatisfied or re-opened 5 times (003 Art. 9.3; `schedule` makes the tick look
at it; in the province's office hours unless the report is urgent), each
agency group gets a digest at the start of every working day, and the
Provincial Office a monthly list of the stages that were late.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import outbox
from bot.domain.calendar import WorkingCalendar
from bot.domain.cards import Verb, callback
from bot.domain.deadlines import StageLimits
from bot.domain.desk import Desk
from bot.domain.notices import WORK
from bot.domain.reminder_kinds import (
    CLOCKED,
    DAILY_DIGEST,
    DISSATISFIED_ALERT,
    MONTHLY_LATE,
    OVERDUE_ALERT,
    PAUSED,
    STAGE_OF_STATE,
    STAGE_REMINDER,
    Stage,
    StepKind,
)
from bot.domain.workflow import Action, State
from storage.models import (
    Agency,
    GroupBinding,
    LateStage,
    Official,
    OfficialRole,
    Reminder,
    Report,
    ReportEvent,
    ScheduledRun,
    Topic,
    User,
)
from storage.models.officials import OfficialStatus, Role
from storage.models.outbox import Priority
from storage.models.province import AgencyKind

log = logging.getLogger(__name__)

# A step that fell due at closing time (a deadline at 17:30) still goes with
# the tick that follows, instead of waiting for the next morning.
CLOSING_GRACE = timedelta(minutes=5)
# Urgent reports are followed in calendar time once overdue (003 Art. 9.2: disasters, accidents).
URGENT_REPEAT = timedelta(days=1)
# The step just after the deadline: the deadline instant itself still counts as in time.
JUST_AFTER = timedelta(microseconds=1)
# Lines a digest or a monthly list shows per section; the rest are counted.
DIGEST_ITEMS = 8
MONTHLY_ITEMS = 30
# Rows of the same report's clock caught up in one tick: a clock has a handful
# of steps, so this only bounds a corrupted row.
MAX_STEPS_PER_TICK = 16

DIGEST_JOB = "digest"
MONTHLY_JOB = "late_month"


def stage_length(stage: Stage, limits: StageLimits, calendar: WorkingCalendar, urgent: bool) -> timedelta:
    """The full working time a stage is given, against which the shares are measured."""
    match stage:
        case Stage.RECEIVE:
            return timedelta(hours=limits.receive_hours)
        case Stage.DISPATCH:
            return timedelta(hours=limits.dispatch_hours)
        case Stage.HANDLE if urgent:
            return timedelta(hours=limits.urgent_handle_hours)
        case Stage.HANDLE:
            return calendar.working_day_length * limits.handle_days
        case Stage.CLARIFY:
            return calendar.working_day_length * limits.clarification_answer_days


@dataclass(frozen=True)
class Clock:
    """The schedule of one stage clock: when each step falls due. Pure arithmetic."""

    stage: Stage
    due_at: datetime
    length: timedelta
    shares: tuple[float, ...]
    urgent: bool
    repeat_days: float
    calendar: WorkingCalendar

    @property
    def deadline_step(self) -> int:
        return len(self.shares)

    @property
    def overdue_step(self) -> int:
        return len(self.shares) + 1

    def kind(self, step: int) -> StepKind:
        if step < self.deadline_step:
            return StepKind.SHARE
        if step == self.deadline_step:
            return StepKind.DEADLINE
        return StepKind.OVERDUE if step == self.overdue_step else StepKind.DAILY

    def share(self, step: int) -> float | None:
        return self.shares[step] if 0 <= step < self.deadline_step else None

    def time_of(self, step: int) -> datetime:
        if step < self.deadline_step:
            return self.calendar.add(self.due_at, -(1 - self.shares[max(step, 0)]) * self.length)
        if step == self.deadline_step:
            return self.due_at
        if step == self.overdue_step:
            return self.due_at + JUST_AFTER
        repeats = step - self.overdue_step
        if self.urgent:
            return self.due_at + URGENT_REPEAT * repeats
        return self.calendar.add_days(self.due_at, self.repeat_days * repeats)

    def first_step_after(self, at: datetime) -> int:
        """The first step that falls due strictly after `at`."""
        for step in range(self.overdue_step + 1):
            if self.time_of(step) > at:
                return step
        return self.last_step_by(at) + 1

    def last_step_by(self, at: datetime) -> int:
        """The last step due at or before `at` (at least the overdue step; `at` is past the deadline)."""
        if self.urgent:
            repeats = (at - self.due_at) // URGENT_REPEAT
        else:
            overdue_for = self.calendar.between(self.due_at, at)
            repeats = math.floor(overdue_for / (self.calendar.working_day_length * self.repeat_days))
        step = self.overdue_step + max(0, repeats)
        # Rounding of working time at period ends: settle on the exact step.
        while step > self.overdue_step and self.time_of(step) > at:
            step -= 1
        while self.time_of(step + 1) <= at:
            step += 1
        return step

    def may_send(self, step_at: datetime, now: datetime) -> bool:
        """Not outside office hours, unless the report is urgent."""
        if self.urgent or self.calendar.is_working_instant(now):
            return True
        return self.calendar.is_working_instant(step_at) and now - step_at <= CLOSING_GRACE


def clock_of(report: Report, desk: Desk) -> Clock | None:
    """The running clock of a report, or None when its stage has no deadline running."""
    state = State(report.state)
    if state not in CLOCKED or report.due_at is None:
        return None
    stage = STAGE_OF_STATE[state]
    calendar = desk.calendar_for(report.agency_id)
    limits = desk.limits
    urgent = bool(report.urgent)
    return Clock(
        stage,
        report.due_at,
        stage_length(stage, limits, calendar, urgent),
        limits.reminder_shares,
        urgent,
        limits.overdue_repeat_days,
        calendar,
    )


# --- setting the clock (called by bot/casework.act and bot/reports.submit) ------------------------


async def schedule(
    session: AsyncSession, desk: Desk, report: Report, action: Action, previous_due: datetime | None, at: datetime
) -> None:
    """Keep the report's clock in step with the deadline `action` has just set, in the caller's transaction.

    `previous_due` is the deadline before the action: a stage that ends (or
    pauses) after it was late is recorded for the monthly list.
    """
    state = State(report.state)
    stage = STAGE_OF_STATE.get(state)
    clock = clock_of(report, desk)
    # A report being submitted has no row yet, so no column defaults either.
    seq = report.stage_seq or 0
    resumed = action is Action.PROVIDE_INFO and report.stage == Stage.RECEIVE
    new_clock = (
        clock is not None and not resumed and (report.due_at != previous_due or report.stage != stage or seq == 0)
    )
    ended = new_clock or stage is None
    if previous_due is not None and at > previous_due and seq > 0 and (ended or state in PAUSED):
        held_by = await _stage_agency(session, report, action)
        await _record_late(session, report, previous_due, at, finished=ended, agency_id=held_by)
    elif ended and seq > 0:
        await _finish_late(session, report, at)
    if new_clock:
        assert clock is not None
        report.stage = clock.stage
        report.stage_seq = seq + 1
        report.stage_started_at = at
        report.reminder_step = clock.first_step_after(at)
        report.next_reminder_at = clock.time_of(report.reminder_step)
    elif clock is not None and resumed:
        report.reminder_step = max(report.reminder_step or 0, clock.first_step_after(at))
        report.next_reminder_at = clock.time_of(report.reminder_step)
    elif clock is None:
        # Ended, or paused: the clock keeps its place and sends nothing.
        report.next_reminder_at = None
        if stage is None:
            report.stage = None
    if action in (Action.RATE, Action.REOPEN) and report.unsatisfied_count >= desk.limits.dissatisfaction_alert:
        # The tick tells the Provincial Office (once; the reminders row says whether it did).
        report.next_reminder_at = min(report.next_reminder_at or at, at)


def replan(report: Report, due_at: datetime, at: datetime) -> None:
    """The running stage's deadline moved to `due_at` because the calendar changed under it (bot/domain/calendars.py).

    The clock stays (same `stage_seq` and step), so no step already sent is
    sent again; the report is due for the tick now, which finds the time of
    its next step against the new deadline with the process's own reminder
    shares and sends it if that time has come (office hours permitting).
    """
    report.due_at = due_at
    report.next_reminder_at = at


async def _stage_agency(session: AsyncSession, report: Report, action: Action) -> int:
    """The agency that held the stage that just ended: a transfer has already moved the report on."""
    if action is not Action.TRANSFER:
        return report.agency_id
    details = await session.scalar(
        select(ReportEvent.details)
        .where(ReportEvent.report_id == report.id, ReportEvent.kind == Action.TRANSFER)
        .order_by(ReportEvent.id.desc())
        .limit(1)
    )
    held_by = (details or {}).get("from_agency_id")
    return held_by if isinstance(held_by, int) else report.agency_id


async def _record_late(
    session: AsyncSession, report: Report, due_at: datetime, at: datetime, *, finished: bool, agency_id: int
) -> None:
    """The stage is late: on the monthly list under `agency_id`, the agency that held it."""
    await insert_ignore(
        session,
        LateStage,
        {
            "report_id": report.id,
            "stage_seq": report.stage_seq,
            "stage": report.stage or Stage.RECEIVE,
            "agency_id": agency_id,
            "due_at": due_at,
            "detected_at": at,
            "finished_at": None,
        },
        ["report_id", "stage_seq"],
    )
    if finished:
        await _finish_late(session, report, at)


async def _finish_late(session: AsyncSession, report: Report, at: datetime) -> None:
    await session.execute(
        update(LateStage)
        .where(
            LateStage.report_id == report.id, LateStage.stage_seq == report.stage_seq, LateStage.finished_at.is_(None)
        )
        .values(finished_at=at)
        .execution_options(synchronize_session=False)
    )


async def insert_ignore(session: AsyncSession, model: type[Any], values: dict[str, Any], keys: Sequence[str]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on both backends; whether the row was new."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(model).values(**values).on_conflict_do_nothing(index_elements=list(keys))
    result = await session.execute(statement)
    return bool(result.rowcount)


# --- recipients -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chat:
    chat_id: str
    user_id: int | None  # None: a group
    official_id: int | None = None


@dataclass
class _Recipients:
    """Who is who, looked up once per tick."""

    groups: dict[int, str | None] = field(default_factory=dict)
    heads: dict[int, list[Chat]] = field(default_factory=dict)
    screeners: dict[int, list[Chat]] = field(default_factory=dict)
    office: list[Chat] | None = None

    async def group(self, session: AsyncSession, agency_id: int) -> str | None:
        if agency_id not in self.groups:
            self.groups[agency_id] = await session.scalar(
                select(GroupBinding.chat_id).where(GroupBinding.agency_id == agency_id)
            )
        return self.groups[agency_id]

    async def with_role(self, session: AsyncSession, agency_id: int, roles: Iterable[Role]) -> list[Chat]:
        rows = await session.execute(
            select(User.chat_id, User.id, Official.id)
            .join(Official, Official.user_id == User.id)
            .join(OfficialRole, OfficialRole.official_id == Official.id)
            .where(
                Official.agency_id == agency_id,
                Official.status == OfficialStatus.ACTIVE,
                OfficialRole.role.in_(list(roles)),
            )
            .distinct()
            .order_by(Official.id)
        )
        return [Chat(chat, user_id, official_id) for chat, user_id, official_id in rows.all()]

    async def agency(self, session: AsyncSession, agency_id: int) -> list[Chat]:
        """An agency as a whole: its group, else its screeners and head privately."""
        group = await self.group(session, agency_id)
        if group is not None:
            return [Chat(group, None)]
        if agency_id not in self.screeners:
            self.screeners[agency_id] = await self.with_role(
                session, agency_id, (Role.RECEIVING_OFFICER, Role.AGENCY_HEAD)
            )
        return self.screeners[agency_id]

    async def head(self, session: AsyncSession, agency_id: int) -> list[Chat]:
        """The agency's head privately; an agency without one hears it in its group."""
        if agency_id not in self.heads:
            self.heads[agency_id] = await self.with_role(session, agency_id, (Role.AGENCY_HEAD,))
        return self.heads[agency_id] or await self.agency(session, agency_id)

    async def provincial_office(self, session: AsyncSession) -> list[Chat]:
        """Văn phòng UBND tỉnh (003 Art. 9.3): its group, else its supervisors privately."""
        if self.office is None:
            office_id = await session.scalar(
                select(Agency.id)
                .where(Agency.kind == AgencyKind.PROVINCIAL_OFFICE, Agency.active.is_(True))
                .order_by(Agency.id)
                .limit(1)
            )
            if office_id is None:
                self.office = []
            else:
                group = await self.group(session, office_id)
                self.office = (
                    [Chat(group, None)]
                    if group is not None
                    else await self.with_role(session, office_id, (Role.SUPERVISOR,))
                )
        return self.office

    async def holder(self, session: AsyncSession, report: Report) -> list[Chat]:
        """Whoever the report waits for now."""
        state = State(report.state)
        if state in (State.ASSIGNED, State.CLARIFYING) and report.assignee_id is not None:
            assignee = await self._official(session, report.assignee_id, report.agency_id)
            if assignee:
                return assignee
        if state in (State.PENDING_APPROVAL, State.CLARIFYING):
            return await self.head(session, report.agency_id)
        return await self.agency(session, report.agency_id)

    async def _official(self, session: AsyncSession, official_id: int, agency_id: int) -> list[Chat]:
        # Only while they are active in the report's agency: a moved official
        # keeps the assignee mark on a resolved report, not its reminders.
        row = (
            await session.execute(
                select(User.chat_id, User.id)
                .join(Official, Official.user_id == User.id)
                .where(
                    Official.id == official_id,
                    Official.status == OfficialStatus.ACTIVE,
                    Official.agency_id == agency_id,
                )
            )
        ).first()
        return [Chat(row[0], row[1], official_id)] if row else []


def open_button(report: Report, chat: Chat) -> str | None:
    """The button that opens the report for this recipient (existing callbacks, see bot/domain/cards.py, bot/domain/notices.py)."""
    if chat.official_id is not None and chat.official_id == report.assignee_id:
        return f"{WORK}:op:{report.id}"
    return callback(Verb.TIMELINE, report.id, report.version)


# --- the tick --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TickResult:
    reports: int  # rows whose time had come
    steps: int  # steps recorded
    messages: int  # outbox rows written


@dataclass
class _Counts:
    steps: int = 0
    messages: int = 0


async def tick(session: AsyncSession, desk: Desk, now: datetime, limit: int = 200) -> TickResult:
    """Act on the reports whose next reminder has come, oldest first; the caller commits.

    On PostgreSQL the rows are locked (SKIP LOCKED): a second ticker, or a
    transition under way on the same report, is never acted on twice.
    """
    rows = (
        await session.scalars(
            select(Report)
            .where(Report.next_reminder_at <= now)
            .order_by(Report.next_reminder_at, Report.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    who = _Recipients()
    counts = _Counts()
    for report in rows:
        await _advance(session, desk, report, now, who, counts)
    return TickResult(len(rows), counts.steps, counts.messages)


async def _advance(
    session: AsyncSession, desk: Desk, report: Report, now: datetime, who: _Recipients, counts: _Counts
) -> None:
    held_until = None
    if report.unsatisfied_count >= desk.limits.dissatisfaction_alert:
        held_until = await _dissatisfied(session, desk, report, now, who, counts)
    clock = clock_of(report, desk)
    step, next_at = report.reminder_step, None
    if clock is not None:
        if step < 0:
            # Planned by the migration for a stage that was open before reminders existed:
            # nothing from the past, but an overdue stage is escalated once.
            step = min(clock.first_step_after(now), clock.overdue_step)
        for _ in range(MAX_STEPS_PER_TICK):
            step_at = clock.time_of(step)
            if step_at > now:
                next_at = step_at
                break
            if clock.kind(step) is StepKind.DAILY:
                # Days the bot was down are not made up with a burst of reminders.
                step = clock.last_step_by(now)
                step_at = clock.time_of(step)
            if not clock.may_send(step_at, now):
                next_at = clock.calendar.next_working_instant(now)
                break
            await _send_step(session, desk, report, clock, step, step_at, now, who, counts)
            step += 1
        else:
            next_at = clock.time_of(step)
    if held_until is not None:
        next_at = min(next_at or held_until, held_until)
    await session.execute(
        update(Report)
        .where(Report.id == report.id)
        # Reminders are not changes of the report: its updated_at stays.
        .values(reminder_step=step, next_reminder_at=next_at, updated_at=Report.updated_at)
        .execution_options(synchronize_session=False)
    )


async def _send_step(
    session: AsyncSession,
    desk: Desk,
    report: Report,
    clock: Clock,
    step: int,
    step_at: datetime,
    now: datetime,
    who: _Recipients,
    counts: _Counts,
) -> None:
    kind = clock.kind(step)
    recorded = await insert_ignore(
        session,
        Reminder,
        {
            "report_id": report.id,
            "stage_seq": report.stage_seq,
            "step": step,
            "kind": kind,
            "stage": clock.stage,
            "agency_id": report.agency_id,
            "due_at": clock.due_at,
            "planned_at": step_at,
            "sent_at": now,
            "messages": 0,
        },
        ["report_id", "stage_seq", "step"],
    )
    if not recorded:
        return
    counts.steps += 1
    if kind is StepKind.OVERDUE:
        await _record_late(session, report, clock.due_at, now, finished=False, agency_id=report.agency_id)
    audiences: list[tuple[str, list[Chat]]]
    if kind in (StepKind.SHARE, StepKind.DEADLINE):
        audiences = [("holder", await who.holder(session, report))]
    elif kind is StepKind.OVERDUE:
        audiences = [
            ("head", await who.head(session, report.agency_id)),
            ("office", await who.provincial_office(session)),
        ]
    else:
        audiences = [("holder", await who.holder(session, report)), ("head", await who.head(session, report.agency_id))]
    params = await _report_params(session, desk, report)
    params.update(
        stage=clock.stage,
        step=kind,
        share=clock.share(step),
        due_at=clock.due_at.isoformat(),
        days_overdue=max(0, step - clock.overdue_step),
    )
    message_kind = OVERDUE_ALERT if kind is StepKind.OVERDUE else STAGE_REMINDER
    priority = Priority.NORMAL if kind is not StepKind.SHARE or report.urgent else Priority.ROUTINE
    written = await _deliver(
        session, report, audiences, message_kind, params, priority, key=f"rem:{report.id}:{report.stage_seq}:{step}"
    )
    counts.messages += written
    await session.execute(
        update(Reminder)
        .where(Reminder.report_id == report.id, Reminder.stage_seq == report.stage_seq, Reminder.step == step)
        .values(messages=written)
        .execution_options(synchronize_session=False)
    )


async def _dissatisfied(
    session: AsyncSession, desk: Desk, report: Report, now: datetime, who: _Recipients, counts: _Counts
) -> datetime | None:
    """Tell the Provincial Office, once; outside its office hours (unless urgent) only when to try again."""
    threshold = desk.limits.dissatisfaction_alert
    office_hours = desk.calendar
    if not report.urgent and not office_hours.is_working_instant(now):
        told = await session.scalar(
            select(Reminder.id).where(
                Reminder.report_id == report.id, Reminder.stage_seq == 0, Reminder.step == threshold
            )
        )
        return None if told is not None else office_hours.next_working_instant(now)
    recorded = await insert_ignore(
        session,
        Reminder,
        {
            "report_id": report.id,
            "stage_seq": 0,
            "step": threshold,
            "kind": StepKind.DISSATISFIED,
            "stage": None,
            "agency_id": report.agency_id,
            "due_at": None,
            "planned_at": now,
            "sent_at": now,
            "messages": 0,
        },
        ["report_id", "stage_seq", "step"],
    )
    if not recorded:
        return None
    counts.steps += 1
    params = await _report_params(session, desk, report)
    params.update(unsatisfied=report.unsatisfied_count, reopened=report.reopen_count)
    written = await _deliver(
        session,
        report,
        [("office", await who.provincial_office(session))],
        DISSATISFIED_ALERT,
        params,
        Priority.NORMAL,
        key=f"rem:{report.id}:0:{threshold}",
    )
    counts.messages += written
    await session.execute(
        update(Reminder)
        .where(Reminder.report_id == report.id, Reminder.stage_seq == 0, Reminder.step == threshold)
        .values(messages=written)
        .execution_options(synchronize_session=False)
    )
    return None


async def _deliver(
    session: AsyncSession,
    report: Report,
    audiences: list[tuple[str, list[Chat]]],
    kind: str,
    params: dict[str, Any],
    priority: int,
    *,
    key: str,
) -> int:
    """One message per chat, to the first audience that names it; how many rows were written."""
    written = 0
    seen: set[str] = set()
    for audience, chats in audiences:
        for chat in chats:
            if chat.chat_id in seen:
                continue
            seen.add(chat.chat_id)
            # The Provincial Office reads timelines through the agency, not by buttons.
            button = None if audience == "office" else open_button(report, chat)
            row = await outbox.enqueue(
                session,
                chat_id=chat.chat_id,
                kind=kind,
                params={**params, "audience": audience, "open": button},
                recipient_user_id=chat.user_id,
                priority=priority,
                dedupe_key=f"{key}:{chat.chat_id}",
            )
            written += row is not None
    return written


async def _report_params(session: AsyncSession, desk: Desk, report: Report) -> dict[str, Any]:
    topic = await session.get(Topic, report.topic_id)
    agency = await session.get(Agency, report.agency_id)
    assert topic is not None and agency is not None
    return {
        "report_id": report.id,
        "code": report.code,
        "state": report.state,
        "urgent": report.urgent,
        "tz": desk.timezone,
        "topic_vi": topic.name_vi,
        "topic_en": topic.name_en,
        "agency_vi": agency.name_vi,
        "agency_en": agency.name_en,
    }


# --- the daily digest ------------------------------------------------------------------------------


def local_day(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return start, end


def office_opening(calendar: WorkingCalendar, day: date) -> datetime | None:
    """When the province's offices open on `day`, or None on a day off."""
    periods = calendar.periods_on(day)
    if not periods:
        return None
    return datetime.combine(day, periods[0].start, tzinfo=calendar.tz).astimezone(UTC)


def office_closing(calendar: WorkingCalendar, day: date) -> datetime | None:
    periods = calendar.periods_on(day)
    if not periods:
        return None
    return datetime.combine(day, periods[-1].end, tzinfo=calendar.tz).astimezone(UTC)


async def _claim_run(session: AsyncSession, job: str, period: str, now: datetime) -> bool:
    """Mark `job` done for `period` in the caller's transaction; False if it already was."""
    return await insert_ignore(
        session, ScheduledRun, {"job": job, "period": period, "done_at": now, "messages": 0}, ["job", "period"]
    )


async def _set_run_messages(session: AsyncSession, job: str, period: str, messages: int) -> None:
    await session.execute(
        update(ScheduledRun)
        .where(ScheduledRun.job == job, ScheduledRun.period == period)
        .values(messages=messages)
        .execution_options(synchronize_session=False)
    )


def digest_period(desk: Desk, now: datetime) -> str | None:
    """The day whose digest may go out at `now` (between the province's opening and closing), or None."""
    calendar = desk.calendar
    day = local_day(now, calendar.tz)
    opening, closing = office_opening(calendar, day), office_closing(calendar, day)
    if opening is None or closing is None or not opening <= now <= closing:
        return None
    return day.isoformat()


async def send_digests(session: AsyncSession, desk: Desk, now: datetime) -> int | None:
    """The start-of-day digest to every agency group; None when it is not the time or already done today.

    Sent on working days from the province's office opening to its closing,
    once a day (a `scheduled_runs` row written with the messages).
    """
    period = digest_period(desk, now)
    if period is None:
        return None
    calendar = desk.calendar
    day = date.fromisoformat(period)
    if not await _claim_run(session, DIGEST_JOB, period, now):
        return None
    _, end_of_day = _day_bounds(day, calendar.tz)
    bindings = (
        await session.execute(
            select(GroupBinding.agency_id, GroupBinding.chat_id)
            .join(Agency, Agency.id == GroupBinding.agency_id)
            .where(Agency.active.is_(True))
            .order_by(GroupBinding.agency_id)
        )
    ).all()
    written = 0
    for agency_id, chat_id in bindings:
        params = await _digest_params(session, agency_id, now, end_of_day)
        if params is None:
            continue
        params.update(day=period, tz=desk.timezone)
        row = await outbox.enqueue(
            session,
            chat_id=chat_id,
            kind=DAILY_DIGEST,
            params=params,
            priority=Priority.ROUTINE,
            dedupe_key=f"digest:{period}:{agency_id}",
        )
        written += row is not None
    await _set_run_messages(session, DIGEST_JOB, period, written)
    return written


async def _digest_params(
    session: AsyncSession, agency_id: int, now: datetime, end_of_day: datetime
) -> dict[str, Any] | None:
    mine = and_(Report.agency_id == agency_id, Report.state.in_([s.value for s in CLOCKED]))
    sections = {
        "overdue": (mine, Report.due_at < now),
        "due_today": (mine, Report.due_at >= now, Report.due_at < end_of_day),
        # Waiting to be screened and not already listed above.
        "to_screen": (
            Report.agency_id == agency_id,
            Report.state == State.SUBMITTED,
            or_(Report.due_at.is_(None), Report.due_at >= end_of_day),
        ),
    }
    params: dict[str, Any] = {}
    for name, where in sections.items():
        total = int(await session.scalar(select(func.count()).select_from(Report).where(*where)) or 0)
        rows = (
            await session.execute(
                select(Report.id, Report.code, Report.version, Report.state, Report.due_at, Report.urgent)
                .where(*where)
                .order_by(Report.due_at, Report.id)
                .limit(DIGEST_ITEMS)
            )
        ).all()
        params[name] = {
            "total": total,
            "items": [
                {
                    "report_id": r.id,
                    "code": r.code,
                    "version": r.version,
                    "state": r.state,
                    "due_at": r.due_at.isoformat() if r.due_at else None,
                    "urgent": r.urgent,
                }
                for r in rows
            ],
        }
    if not any(section["total"] for section in params.values()):
        # A quiet day needs no message.
        return None
    return params


# --- the monthly list of late stages ---------------------------------------------------------------


def previous_month(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    last_month_first = (first - timedelta(days=1)).replace(day=1)
    return last_month_first, first


def monthly_period(desk: Desk, now: datetime) -> str | None:
    """The month ("2026-11") whose list may go out at `now` (the province's office hours), or None."""
    calendar = desk.calendar
    if not calendar.is_working_instant(now):
        return None
    start_day, _ = previous_month(local_day(now, calendar.tz))
    return f"{start_day:%Y-%m}"


async def send_monthly_list(session: AsyncSession, desk: Desk, now: datetime) -> int | None:
    """Last month's late stages to the Provincial Office, on the first working day of the month it can.

    None when it is outside office hours or the list was already sent.
    """
    period = monthly_period(desk, now)
    if period is None:
        return None
    calendar = desk.calendar
    start_day, end_day = previous_month(local_day(now, calendar.tz))
    if not await _claim_run(session, MONTHLY_JOB, period, now):
        return None
    start, _ = _day_bounds(start_day, calendar.tz)
    end, _ = _day_bounds(end_day, calendar.tz)
    # Late in the month: the deadline passed before its end, and the stage was
    # still open at some point of the month.
    where = (LateStage.due_at < end, or_(LateStage.finished_at.is_(None), LateStage.finished_at >= start))
    stages = int(await session.scalar(select(func.count()).select_from(LateStage).where(*where)) or 0)
    reports = int(await session.scalar(select(func.count(func.distinct(LateStage.report_id))).where(*where)) or 0)
    by_agency = (
        await session.execute(
            select(Agency.name_vi, Agency.name_en, func.count())
            .join(LateStage, LateStage.agency_id == Agency.id)
            .where(*where)
            .group_by(Agency.id, Agency.name_vi, Agency.name_en)
            .order_by(func.count().desc(), Agency.name_vi)
        )
    ).all()
    items = (
        await session.execute(
            select(
                Report.code, LateStage.stage, LateStage.due_at, LateStage.finished_at, Agency.name_vi, Agency.name_en
            )
            .join(Report, Report.id == LateStage.report_id)
            .join(Agency, Agency.id == LateStage.agency_id)
            .where(*where)
            .order_by(LateStage.due_at, LateStage.id)
            .limit(MONTHLY_ITEMS)
        )
    ).all()
    params = {
        "month": period,
        "tz": desk.timezone,
        "stages": stages,
        "reports": reports,
        "by_agency": [[vi, en, count] for vi, en, count in by_agency],
        "items": [
            {
                "code": code,
                "stage": stage,
                "due_at": due.isoformat(),
                "finished_at": finished.isoformat() if finished else None,
                "agency_vi": vi,
                "agency_en": en,
            }
            for code, stage, due, finished, vi, en in items
        ],
    }
    written = 0
    for chat in await _Recipients().provincial_office(session):
        row = await outbox.enqueue(
            session,
            chat_id=chat.chat_id,
            kind=MONTHLY_LATE,
            params=params,
            recipient_user_id=chat.user_id,
            priority=Priority.ROUTINE,
            dedupe_key=f"late:{period}:{chat.chat_id}",
        )
        written += row is not None
    await _set_run_messages(session, MONTHLY_JOB, period, written)
    return written


# --- overdue reports for supervisors (/overdue) ------------------------------------------------------


@dataclass(frozen=True)
class Overdue:
    report_id: int
    code: str
    state: str
    due_at: datetime
    urgent: bool
    agency_vi: str
    agency_en: str


async def overdue_in_scope(
    session: AsyncSession, official: Official, roles: frozenset[Role], now: datetime, limit: int = 30
) -> tuple[int, list[Overdue]] | None:
    """Overdue reports an official supervises, oldest deadline first, with their total; None: no such role.

    The Provincial Office's supervisors see every agency; a commune's head sees
    every report in the commune; a department's head its sector: its own
    reports and those of the topics it supervises (003 Art. 9.3).
    """
    agency = await session.get(Agency, official.agency_id)
    if agency is None:
        return None
    if Role.SUPERVISOR in roles:
        scope: Any = true()
    elif Role.AGENCY_HEAD in roles and agency.kind == AgencyKind.COMMUNE:
        scope = or_(Report.agency_id == agency.id, Report.commune_id == agency.id)
    elif Role.AGENCY_HEAD in roles:
        sector = select(Topic.id).where(Topic.department_id == agency.id)
        scope = or_(Report.agency_id == agency.id, Report.topic_id.in_(sector))
    else:
        return None
    where = (Report.state.in_([s.value for s in CLOCKED]), Report.due_at < now, scope)
    total = int(await session.scalar(select(func.count()).select_from(Report).where(*where)) or 0)
    rows = (
        await session.execute(
            select(Report.id, Report.code, Report.state, Report.due_at, Report.urgent, Agency.name_vi, Agency.name_en)
            .join(Agency, Agency.id == Report.agency_id)
            .where(*where)
            .order_by(Report.due_at, Report.id)
            .limit(limit)
        )
    ).all()
    return total, [Overdue(*row) for row in rows]


# The renderers of the kinds above, registered wherever reminders are written or sent.
from bot.domain import reminder_texts  # noqa: E402, F401
