"""Reminders, escalation, the digest and the monthly list (bot/domain/reminders.py), with a clock the test moves.

Default office hours throughout: Monday-Friday 07:30-11:30 and 13:30-17:30 in
Asia/Ho_Chi_Minh. The expected instants are worked out by hand in comments.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import pytest
import yaml
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.admin import run_admin_command
from bot.cli.sandbox import DEMO_PROVINCE
from bot.config import Settings
from bot.deps import build_deps, stage_limits
from bot.domain import reminders, urgency
from bot.domain.calendars import CalendarCache, set_day
from bot.domain.cards import Verb, callback
from bot.domain.desk import Desk
from bot.domain.office_hours import weekly_hours_from_json, weekly_hours_from_mapping, weekly_hours_to_json
from bot.domain.province import ProvinceFileError, import_province, parse_province
from bot.domain.reminder_texts import (
    render_digest,
    render_dissatisfied,
    render_monthly,
    render_overdue,
    render_stage_reminder,
)
from bot.domain.reminders import Stage, StepKind
from bot.domain.workflow import Action, Actor, Rating, Refusal, State
from bot.i18n import translator
from storage.db import create_engine, session_factory
from storage.migrate import alembic_config, upgrade_to_head
from storage.models import (
    Agency,
    LateStage,
    Reminder,
    Report,
    ReportEvent,
    ScheduledRun,
)
from storage.models.officials import Role
from storage.models.reminders import DayKind
from tests.officials_world import parse
from tests.reminder_world import (
    GROUP,
    TZ,
    Person,
    World,
    act,
    build_world,
    last_outbox_id,
    make_desk,
    reminder_rows,
    submit,
    tick,
    vn,
)
from tests.reminder_world import _person as make_person

VI = translator("vi")
EN = translator("en")
HEAD, HANDLER, SUPERVISOR = "chat-head", "chat-handler", "chat-supervisor"


async def clock_of(sessions: async_sessionmaker[AsyncSession], report_id: int) -> Report:
    async with sessions() as session:
        report = await session.get(Report, report_id)
        assert report is not None
        return report


async def count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_one_report_through_every_stage(sessions: async_sessionmaker[AsyncSession]) -> None:
    world = await build_world(sessions)
    desk = make_desk()
    citizen = Actor.citizen(world.citizen.id)
    # Wednesday 25/11/2026 08:00: to be received in 8 working hours, by Thursday 08:00.
    report_id = await submit(sessions, world, desk, vn(2026, 11, 25, 8))
    report = await clock_of(sessions, report_id)
    assert (report.stage, report.stage_seq, report.due_at) == (Stage.RECEIVE, 1, vn(2026, 11, 26, 8))
    # 50 %: 4 working hours before Thursday 08:00 is Wednesday 14:00.
    assert report.next_reminder_at == vn(2026, 11, 25, 14)

    await tick(sessions, desk, vn(2026, 11, 25, 13, 59))
    assert await reminder_rows(sessions) == []
    await tick(sessions, desk, vn(2026, 11, 25, 14))
    [half] = await reminder_rows(sessions)
    assert (half.kind, half.chat_id, half.step, half.params["share"]) == (
        reminders.STAGE_REMINDER,
        GROUP,
        StepKind.SHARE,
        0.5,
    )
    assert half.open == callback(Verb.TIMELINE, report_id, 1)

    # Asked for more at 15:00: 3 working hours were left (2.5 today, 0.5 tomorrow); the clock stops.
    await act(
        sessions,
        desk,
        report_id,
        Action.REQUEST_INFO,
        world.receiver.actor,
        vn(2026, 11, 25, 15),
        question="Xin cho biết số nhà.",
    )
    assert (await clock_of(sessions, report_id)).next_reminder_at is None
    await tick(sessions, desk, vn(2026, 11, 26, 10))
    assert len(await reminder_rows(sessions)) == 1

    # Answered on Friday 08:00: due at 11:00; the 50 % point lies in the past and was sent, 80 % is at 09:24.
    await act(sessions, desk, report_id, Action.PROVIDE_INFO, citizen, vn(2026, 11, 27, 8), answer="Số 12.")
    report = await clock_of(sessions, report_id)
    assert (report.stage_seq, report.due_at, report.next_reminder_at) == (
        1,
        vn(2026, 11, 27, 11),
        vn(2026, 11, 27, 9, 24),
    )
    for at in (
        vn(2026, 11, 27, 9, 23),
        vn(2026, 11, 27, 9, 24),
        vn(2026, 11, 27, 11),
        vn(2026, 11, 27, 11, 0, 30),
        vn(2026, 11, 27, 15),
        vn(2026, 11, 30, 10, 59),
        vn(2026, 11, 30, 11),
    ):
        await tick(sessions, desk, at)
    sent = await reminder_rows(sessions)
    assert [(s.kind, s.chat_id, s.step, s.audience) for s in sent[1:]] == [
        (reminders.STAGE_REMINDER, GROUP, StepKind.SHARE, "holder"),
        (reminders.STAGE_REMINDER, GROUP, StepKind.DEADLINE, "holder"),
        # Overdue: the head and the Provincial Office (its supervisor, as it has no group), once.
        (reminders.OVERDUE_ALERT, HEAD, StepKind.OVERDUE, "head"),
        (reminders.OVERDUE_ALERT, SUPERVISOR, StepKind.OVERDUE, "office"),
        # One working day later, over the weekend: Monday 11:00, the holder and the head.
        (reminders.STAGE_REMINDER, GROUP, StepKind.DAILY, "holder"),
        (reminders.STAGE_REMINDER, HEAD, StepKind.DAILY, "head"),
    ]
    assert sent[4].open is None  # the Provincial Office reads timelines through the agency
    alert = render_overdue(sent[4].params, EN).text
    assert report.code in alert and "Hoa Binh" in alert and "screening" in alert

    # Received on Monday 13:30 (late): 4 working hours to assign, due at 17:30; half of it is 15:30.
    await act(sessions, desk, report_id, Action.RECEIVE, world.receiver.actor, vn(2026, 11, 30, 13, 30))
    report = await clock_of(sessions, report_id)
    assert (report.stage, report.stage_seq, report.due_at, report.next_reminder_at) == (
        Stage.DISPATCH,
        2,
        vn(2026, 11, 30, 17, 30),
        vn(2026, 11, 30, 15, 30),
    )
    mark = await last_outbox_id(sessions)
    await tick(sessions, desk, vn(2026, 11, 30, 15, 30))
    [dispatch] = await reminder_rows(sessions, mark)
    assert (dispatch.kind, dispatch.chat_id, dispatch.step, dispatch.params["stage"], dispatch.open) == (
        reminders.STAGE_REMINDER,
        GROUP,
        StepKind.SHARE,
        Stage.DISPATCH,
        callback(Verb.TIMELINE, report_id, 4),
    )
    assert "assign" in render_stage_reminder(dispatch.params, EN).text

    # Assigned at 16:00, before the 80 % point (16:42): 7 working days, due Wednesday 9/12 16:00.
    await act(
        sessions,
        desk,
        report_id,
        Action.ASSIGN,
        world.receiver.actor,
        vn(2026, 11, 30, 16),
        assignee_id=world.handler.official.id,
    )
    report = await clock_of(sessions, report_id)
    assert (report.stage, report.stage_seq, report.due_at) == (Stage.HANDLE, 3, vn(2026, 12, 9, 16))
    # 50 %: 28 working hours after Monday 16:00 is Friday 4/12 10:00; 80 % (11.2 h before) Tuesday 8/12 10:48.
    assert report.next_reminder_at == vn(2026, 12, 4, 10)
    mark = await last_outbox_id(sessions)
    await tick(sessions, desk, vn(2026, 12, 4, 10))
    await act(
        sessions,
        desk,
        report_id,
        Action.SUBMIT_RESULT,
        world.handler.actor,
        vn(2026, 12, 7, 10),
        result="Đã thu gom.",
        evidence=[{"kind": "photo", "key": "display/x.jpg"}],
    )
    await tick(sessions, desk, vn(2026, 12, 8, 10, 48))
    await act(sessions, desk, report_id, Action.RETURN, world.head.actor, vn(2026, 12, 8, 11), comment="Thiếu ảnh.")
    # Still with the handler at the deadline, overdue just after it, and a working day later.
    for at in (vn(2026, 12, 9, 16), vn(2026, 12, 9, 16, 0, 30), vn(2026, 12, 10, 15, 59), vn(2026, 12, 10, 16)):
        await tick(sessions, desk, at)
    await act(
        sessions,
        desk,
        report_id,
        Action.SUBMIT_RESULT,
        world.handler.actor,
        vn(2026, 12, 10, 16, 20),
        result="Đã thu gom.",
        evidence=[{"kind": "photo", "key": "display/y.jpg"}],
    )
    await act(sessions, desk, report_id, Action.APPROVE, world.head.actor, vn(2026, 12, 10, 17))
    await tick(sessions, desk, vn(2026, 12, 11, 9))
    handling = await reminder_rows(sessions, mark)
    work = f"cw:op:{report_id}"
    assert [(s.kind, s.chat_id, s.step, s.params["state"], s.open) for s in handling] == [
        (reminders.STAGE_REMINDER, HANDLER, StepKind.SHARE, State.ASSIGNED, work),
        # Waiting for approval: the head holds it.
        (reminders.STAGE_REMINDER, HEAD, StepKind.SHARE, State.PENDING_APPROVAL, callback(Verb.TIMELINE, report_id, 6)),
        (reminders.STAGE_REMINDER, HANDLER, StepKind.DEADLINE, State.ASSIGNED, work),
        (reminders.OVERDUE_ALERT, HEAD, StepKind.OVERDUE, State.ASSIGNED, callback(Verb.TIMELINE, report_id, 7)),
        (reminders.OVERDUE_ALERT, SUPERVISOR, StepKind.OVERDUE, State.ASSIGNED, None),
        # One working day overdue: the handler, privately, and the head.
        (reminders.STAGE_REMINDER, HANDLER, StepKind.DAILY, State.ASSIGNED, work),
        (reminders.STAGE_REMINDER, HEAD, StepKind.DAILY, State.ASSIGNED, callback(Verb.TIMELINE, report_id, 7)),
    ]
    assert handling[-1].params["days_overdue"] == 1
    assert (await clock_of(sessions, report_id)).next_reminder_at is None

    # A clarification: 7 working days from Friday 11/12 09:00; half of it is Wednesday 16/12 15:00.
    await act(sessions, desk, report_id, Action.ASK_CLARIFICATION, citizen, vn(2026, 12, 11, 9), question="Khi nào?")
    mark = await last_outbox_id(sessions)
    await tick(sessions, desk, vn(2026, 12, 16, 14, 59))
    await tick(sessions, desk, vn(2026, 12, 16, 15))
    await act(
        sessions,
        desk,
        report_id,
        Action.ANSWER_CLARIFICATION,
        world.head.actor,
        vn(2026, 12, 17, 9),
        answer="Đã xong ngày 10/12.",
    )
    await tick(sessions, desk, vn(2026, 12, 31, 9))
    [clarify] = await reminder_rows(sessions, mark)
    assert (clarify.chat_id, clarify.params["stage"], clarify.open) == (HANDLER, Stage.CLARIFY, work)

    async with sessions() as session:
        late = (await session.scalars(select(LateStage).order_by(LateStage.stage_seq))).all()
        steps = (
            await session.execute(select(Reminder.stage_seq, Reminder.step, Reminder.messages).order_by(Reminder.id))
        ).all()
    assert [(row.stage_seq, row.stage, row.agency_id, row.due_at, row.finished_at) for row in late] == [
        (1, Stage.RECEIVE, world.agency.id, vn(2026, 11, 27, 11), vn(2026, 11, 30, 13, 30)),
        (3, Stage.HANDLE, world.agency.id, vn(2026, 12, 9, 16), vn(2026, 12, 10, 17)),
    ]
    assert [tuple(row) for row in steps] == [
        (1, 0, 1),
        (1, 1, 1),
        (1, 2, 1),
        (1, 3, 2),
        (1, 4, 2),
        (2, 0, 1),
        (3, 0, 1),
        (3, 1, 1),
        (3, 2, 1),
        (3, 3, 2),
        (3, 4, 2),
        (4, 0, 1),
    ]


async def test_a_restart_neither_repeats_nor_skips(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(sessions)
    report_id = await submit(sessions, world, make_desk(), vn(2026, 11, 25, 8))
    await tick(sessions, make_desk(), vn(2026, 11, 25, 14))
    assert len(await reminder_rows(sessions)) == 1

    # A tick that dies before its commit leaves nothing behind.
    class Crash(Exception):
        pass

    try:
        async with sessions.begin() as session:
            await reminders.tick(session, make_desk(), vn(2026, 11, 25, 16, 24))
            raise Crash
    except Crash:
        pass
    assert len(await reminder_rows(sessions)) == 1

    # A new process: its own engine, sessions and desk.
    engine = create_engine(database_url)
    try:
        again = session_factory(engine)
        desk = make_desk()
        await tick(again, desk, vn(2026, 11, 25, 14, 5))
        assert len(await reminder_rows(again)) == 1
        # Two ticks at once (two workers) still act once.
        await asyncio.gather(
            tick(again, desk, vn(2026, 11, 25, 16, 30)), tick(sessions, desk, vn(2026, 11, 25, 16, 30))
        )
        await tick(again, desk, vn(2026, 11, 25, 16, 31))
        sent = await reminder_rows(again)
        assert [(s.step, s.params.get("share")) for s in sent] == [(StepKind.SHARE, 0.5), (StepKind.SHARE, 0.8)]
        # Down over the deadline (Thursday 08:00): back at 08:05, the deadline and the escalation both go.
        await tick(again, desk, vn(2026, 11, 26, 8, 5))
        sent = await reminder_rows(again)
        assert [s.step for s in sent[2:]] == [StepKind.DEADLINE, StepKind.OVERDUE, StepKind.OVERDUE]
        # Down for a week: one daily reminder now, not one per missed day.
        await tick(again, desk, vn(2026, 12, 3, 9))
        await tick(again, desk, vn(2026, 12, 3, 9, 1))
        daily = [s for s in await reminder_rows(again) if s.step == StepKind.DAILY]
        assert [(s.chat_id, s.params["days_overdue"]) for s in daily] == [(GROUP, 5), (HEAD, 5)]
        assert (await clock_of(again, report_id)).next_reminder_at == vn(2026, 12, 4, 8)
    finally:
        await engine.dispose()


async def test_nothing_goes_out_after_office_hours_unless_urgent(sessions: async_sessionmaker[AsyncSession]) -> None:
    world = await build_world(sessions)
    desk = make_desk()
    normal = await submit(sessions, world, desk, vn(2026, 11, 25, 8))
    # The bot comes back at 19:00: the 14:00 and 16:24 reminders wait for the morning.
    result = await tick(sessions, desk, vn(2026, 11, 25, 19))
    assert result.steps == 0 and await reminder_rows(sessions) == []
    assert (await clock_of(sessions, normal)).next_reminder_at == vn(2026, 11, 26, 7, 30)
    await tick(sessions, desk, vn(2026, 11, 26, 7, 30))
    assert [s.params["share"] for s in await reminder_rows(sessions)] == [0.5, 0.8]

    # A deadline at closing time goes with the tick just after it; the escalation waits for the morning.
    closing = await submit(sessions, world, desk, vn(2026, 11, 25, 7, 30))
    assert (await clock_of(sessions, closing)).due_at == vn(2026, 11, 25, 17, 30)
    mark = await last_outbox_id(sessions)
    for at in (vn(2026, 11, 25, 11, 30), vn(2026, 11, 25, 15, 55), vn(2026, 11, 25, 17, 30, 20)):
        await tick(sessions, desk, at)
    assert [s.step for s in await reminder_rows(sessions, mark) if s.params["report_id"] == closing] == [
        StepKind.SHARE,
        StepKind.SHARE,
        StepKind.DEADLINE,
    ]
    assert (await clock_of(sessions, closing)).next_reminder_at == vn(2026, 11, 26, 7, 30)

    # Urgent: received, marked urgent, assigned on Wednesday 14:00: due in 4 working hours, Thursday 08:00.
    urgent = await submit(sessions, world, desk, vn(2026, 11, 25, 8))
    await act(sessions, desk, urgent, Action.RECEIVE, world.receiver.actor, vn(2026, 11, 25, 8, 10))
    async with sessions.begin() as session:
        report = await session.get(Report, urgent)
        assert report is not None
        outcome = await urgency.mark_urgent(session, desk, report, world.receiver.actor, vn(2026, 11, 25, 8, 20))
        assert outcome.ok and report.urgent and report.due_at == vn(2026, 11, 25, 14, 10)  # dispatch keeps its clock
    await act(
        sessions,
        desk,
        urgent,
        Action.ASSIGN,
        world.receiver.actor,
        vn(2026, 11, 25, 14),
        assignee_id=world.handler.official.id,
    )
    assert (await clock_of(sessions, urgent)).due_at == vn(2026, 11, 26, 8)
    mark = await last_outbox_id(sessions)
    for at in (vn(2026, 11, 25, 19), vn(2026, 11, 26, 8, 1), vn(2026, 11, 27, 8), vn(2026, 11, 28, 8)):
        await tick(sessions, desk, at)
    sent = [s for s in await reminder_rows(sessions, mark) if s.params["report_id"] == urgent]
    assert [(s.step, s.chat_id) for s in sent] == [
        (StepKind.SHARE, HANDLER),
        (StepKind.SHARE, HANDLER),
        (StepKind.DEADLINE, HANDLER),
        (StepKind.OVERDUE, HEAD),
        (StepKind.OVERDUE, SUPERVISOR),
        # Every 24 hours, Saturday included.
        (StepKind.DAILY, HANDLER),
        (StepKind.DAILY, HEAD),
        (StepKind.DAILY, HANDLER),
        (StepKind.DAILY, HEAD),
    ]
    assert all(s.params["urgent"] for s in sent)
    text = render_stage_reminder(sent[0].params, EN).text
    assert text.startswith("⚡") and "50%" in text and "handling" in text


async def test_marking_urgent_after_assignment(sessions: async_sessionmaker[AsyncSession]) -> None:
    world = await build_world(sessions)
    desk = make_desk()
    report_id = await submit(sessions, world, desk, vn(2026, 11, 25, 8))
    await act(sessions, desk, report_id, Action.RECEIVE, world.receiver.actor, vn(2026, 11, 25, 8, 30))
    await act(
        sessions,
        desk,
        report_id,
        Action.ASSIGN,
        world.receiver.actor,
        vn(2026, 11, 25, 9),
        assignee_id=world.handler.official.id,
    )
    async with sessions.begin() as session:
        report = await session.get(Report, report_id)
        assert report is not None
        version, seq = report.version, report.stage_seq
        refused = await urgency.mark_urgent(session, desk, report, world.handler.actor, vn(2026, 11, 25, 10))
        assert refused.refusal is Refusal.NOT_ALLOWED and not report.urgent
        stale = await urgency.mark_urgent(
            session, desk, report, world.head.actor, vn(2026, 11, 25, 10), expected_version=version - 1
        )
        assert stale.refusal is Refusal.STALE
        outcome = await urgency.mark_urgent(session, desk, report, world.head.actor, vn(2026, 11, 25, 10))
        # 4 working hours from the decision: 10:00-11:30 and 13:30-16:00.
        assert outcome.ok and report.due_at == vn(2026, 11, 25, 16)
        assert (report.version, report.stage_seq, report.urgent) == (version + 1, seq + 1, True)
        assert report.next_reminder_at == vn(2026, 11, 25, 14)  # half of it
        again = await urgency.mark_urgent(session, desk, report, world.head.actor, vn(2026, 11, 25, 10, 5))
        assert again.refusal is Refusal.WRONG_STATE and again.latest is not None
        event = await session.scalar(select(ReportEvent).where(ReportEvent.kind == Action.MARK_URGENT))
        assert event is not None and event.actor_user_id == world.head.user.id and not event.public


async def four_unsatisfied_marks(sessions: async_sessionmaker[AsyncSession]) -> tuple[World, Desk, int]:
    """A report resolved on Wednesday 25/11 at 09:00 that the citizen has been unsatisfied with four times."""
    world = await build_world(sessions, office_group=True)
    desk = make_desk()
    report_id = await submit(sessions, world, desk, vn(2026, 11, 25, 8))
    async with sessions.begin() as session:
        report = await session.get(Report, report_id)
        assert report is not None
        report.state, report.unsatisfied_count, report.resolved_at, report.due_at = (
            State.RESOLVED,
            4,
            vn(2026, 11, 25, 9),
            None,
        )
        report.next_reminder_at = None
    return world, desk, report_id


async def test_the_provincial_office_hears_of_five_unsatisfied_marks_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world, desk, report_id = await four_unsatisfied_marks(sessions)
    citizen = Actor.citizen(world.citizen.id)
    await act(sessions, desk, report_id, Action.RATE, citizen, vn(2026, 11, 25, 10), rating=Rating.UNSATISFIED)
    await tick(sessions, desk, vn(2026, 11, 25, 10, 0, 30))
    [alert] = await reminder_rows(sessions)
    assert (alert.kind, alert.chat_id, alert.params["unsatisfied"]) == (reminders.DISSATISFIED_ALERT, "-100900", 5)
    assert "5" in render_dissatisfied(alert.params, EN).text
    # Re-opened: the count stays at 5 (the rating counted already) and the alert is not repeated.
    await act(sessions, desk, report_id, Action.REOPEN, citizen, vn(2026, 11, 25, 11), reason="Vẫn còn rác.")
    await tick(sessions, desk, vn(2026, 11, 25, 11, 0, 30))
    assert [s.kind for s in await reminder_rows(sessions)] == [reminders.DISSATISFIED_ALERT]
    assert (await clock_of(sessions, report_id)).next_reminder_at is not None  # the new dispatch clock runs


async def test_the_dissatisfaction_alert_waits_for_office_hours(sessions: async_sessionmaker[AsyncSession]) -> None:
    world, desk, report_id = await four_unsatisfied_marks(sessions)
    # The fifth unsatisfied mark on Wednesday evening: the Provincial Office hears of it on Thursday at opening.
    await act(
        sessions,
        desk,
        report_id,
        Action.RATE,
        Actor.citizen(world.citizen.id),
        vn(2026, 11, 25, 19),
        rating=Rating.UNSATISFIED,
    )
    await tick(sessions, desk, vn(2026, 11, 25, 19, 0, 30))
    assert await reminder_rows(sessions) == []
    assert (await clock_of(sessions, report_id)).next_reminder_at == vn(2026, 11, 26, 7, 30)
    await tick(sessions, desk, vn(2026, 11, 26, 7, 30))
    [alert] = await reminder_rows(sessions)
    assert (alert.kind, alert.chat_id) == (reminders.DISSATISFIED_ALERT, "-100900")
    assert (await clock_of(sessions, report_id)).next_reminder_at is None


async def test_the_morning_digest(sessions: async_sessionmaker[AsyncSession]) -> None:
    world = await build_world(sessions)
    desk = make_desk()
    overdue = await submit(sessions, world, desk, vn(2026, 11, 24, 8))  # a holiday: due Wednesday 25/11 17:30
    due_today = await submit(sessions, world, desk, vn(2026, 11, 25, 16))  # due Thursday 16:00
    waiting = await submit(sessions, world, desk, vn(2026, 11, 26, 7, 45))  # due Friday 07:45
    other = await submit(sessions, world, desk, (vn(2026, 11, 26, 7, 45)), where=(22.57, 106.15))
    async with sessions() as session:
        assert (await session.get(Report, other)).agency_id != world.agency.id  # type: ignore[union-attr]

    assert await _digest(sessions, desk, vn(2026, 11, 26, 7, 29)) is None
    assert await _digest(sessions, desk, vn(2026, 11, 26, 7, 50)) == 1
    assert await _digest(sessions, desk, vn(2026, 11, 26, 9)) is None  # once a day
    assert await _digest(sessions, desk, vn(2026, 11, 28, 9)) is None  # Saturday
    [digest] = await reminder_rows(sessions)
    assert digest.chat_id == GROUP  # XA-02 has no group: it works from /queue
    ids = {
        name: [item["report_id"] for item in digest.params[name]["items"]]
        for name in ("overdue", "due_today", "to_screen")
    }
    assert ids == {"overdue": [overdue], "due_today": [due_today], "to_screen": [waiting]}
    rendered = render_digest(digest.params, VI)
    assert [b.callback_data for row in rendered.buttons for b in row] == [
        callback(Verb.TIMELINE, report_id, 1) for report_id in (overdue, due_today, waiting)
    ]
    assert VI("🚨 Overdue: {n}", n=1) in rendered.text
    async with sessions() as session:
        run = await session.get(ScheduledRun, ("digest", "2026-11-26"))
        assert run is not None and run.messages == 1


async def _digest(sessions: async_sessionmaker[AsyncSession], desk: Desk, at: datetime) -> int | None:
    async with sessions.begin() as session:
        return await reminders.send_digests(session, desk, at)


async def test_the_monthly_list_of_late_stages(sessions: async_sessionmaker[AsyncSession]) -> None:
    world = await build_world(sessions)
    desk = make_desk()
    late = await submit(sessions, world, desk, vn(2026, 11, 25, 8))
    in_time = await submit(sessions, world, desk, vn(2026, 11, 25, 8))
    await act(sessions, desk, in_time, Action.RECEIVE, world.receiver.actor, vn(2026, 11, 25, 9))
    await act(
        sessions,
        desk,
        in_time,
        Action.ASSIGN,
        world.receiver.actor,
        vn(2026, 11, 25, 10),
        assignee_id=world.handler.official.id,
    )
    await tick(sessions, desk, vn(2026, 11, 26, 9))  # `late` is overdue and still open
    # Tuesday 1/12/2026 is a working day: the list for November goes out in office hours, once.
    async with sessions.begin() as session:
        assert await reminders.send_monthly_list(session, desk, vn(2026, 12, 1, 6)) is None
    async with sessions.begin() as session:
        assert await reminders.send_monthly_list(session, desk, vn(2026, 12, 1, 8)) == 1
    async with sessions.begin() as session:
        assert await reminders.send_monthly_list(session, desk, vn(2026, 12, 2, 8)) is None
    [monthly] = [s for s in await reminder_rows(sessions) if s.kind == reminders.MONTHLY_LATE]
    assert (monthly.chat_id, monthly.params["month"], monthly.params["stages"]) == (SUPERVISOR, "2026-11", 1)
    assert [item["code"] for item in monthly.params["items"]] == [(await clock_of(sessions, late)).code]
    text = render_monthly(monthly.params, EN).text
    assert "11/2026" in text and "still open" in text and "receiving" in text


async def test_overdue_in_scope(sessions: async_sessionmaker[AsyncSession]) -> None:
    world = await build_world(sessions)
    desk = make_desk()
    mine = await submit(sessions, world, desk, vn(2026, 11, 25, 8))
    elsewhere = await submit(sessions, world, desk, vn(2026, 11, 25, 9), where=(22.57, 106.15))
    food = await submit(sessions, world, desk, vn(2026, 11, 25, 10), topic="food_safety")
    async with sessions.begin() as session:
        environment = await session.scalar(select(Agency).where(Agency.code == "SO-NNMT"))
        health = await session.scalar(select(Agency).where(Agency.code == "SO-YT"))
        assert environment is not None and health is not None
        env_head = await make_person(session, "env-head", environment, [Role.AGENCY_HEAD])
        health_head = await make_person(session, "health-head", health, [Role.AGENCY_HEAD])
    now = vn(2026, 12, 1, 9)

    async def scope(person: Person) -> list[int] | None:
        async with sessions() as session:
            found = await reminders.overdue_in_scope(session, person.official, person.actor.roles, now)
        return None if found is None else [item.report_id for item in found[1]]

    assert await scope(world.supervisor) == [mine, elsewhere, food]  # oldest deadline first
    assert await scope(world.head) == [mine, food]  # everything in the commune, its own or not
    assert await scope(env_head) == [mine, elsewhere]  # environment is its sector, in every commune
    assert await scope(health_head) == [food]  # food safety reports are its own
    assert await scope(world.handler) is None


async def test_calendar_days_reach_a_running_process(
    database_url: str, sessions: async_sessionmaker[AsyncSession], capsys: pytest.CaptureFixture[str]
) -> None:
    """`congdan admin calendar` changes a day; a running process's calendars pick it up without a restart."""
    await build_world(sessions)
    settings = Settings(database_url=database_url)
    cache = CalendarCache(TZ)
    async with sessions() as session:
        assert await cache.refresh(session)
        assert not await cache.refresh(session)  # nothing changed: nothing reloaded
    thursday, saturday = vn(2026, 11, 26).date(), vn(2026, 11, 28).date()
    assert cache.current.province.is_working_day(thursday)

    assert (
        await run_admin_command(parse("calendar", "add-day-off", "2026-11-26", "--reason", "QĐ 1/2026"), settings) == 0
    )
    assert await run_admin_command(parse("calendar", "add-working-day", "2026-11-28"), settings) == 0
    async with sessions() as session:
        assert await cache.refresh(session)
    calendar = cache.current.province
    assert not calendar.is_working_day(thursday) and calendar.is_working_day(saturday)
    # A receive deadline from Wednesday 08:00 skips Thursday; one from Friday 13:30 ends on the make-up Saturday.
    assert calendar.add_hours(vn(2026, 11, 25, 8), 8) == vn(2026, 11, 27, 8)
    assert calendar.add_hours(vn(2026, 11, 27, 13, 30), 8) == vn(2026, 11, 28, 11, 30)

    capsys.readouterr()
    assert await run_admin_command(parse("calendar", "list", "--year", "2026"), settings) == 0
    listing = capsys.readouterr().out
    assert "2026-11-26 Thu  day off  administrator  QĐ 1/2026" in listing
    assert "2026-11-16 Mon  day off  province file" in listing  # the demo file's own day
    assert "2026-09-02 Wed  day off  holidays package" in listing

    assert await run_admin_command(parse("calendar", "remove", "2026-11-26"), settings) == 0
    assert await run_admin_command(parse("calendar", "remove", "2026-11-26"), settings) == 2
    async with sessions() as session:
        assert await cache.refresh(session)
    assert cache.current.province.is_working_day(thursday)


async def test_an_agency_with_its_own_office_hours(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Hours from the province file (`office_hours`) count for that agency's deadlines and reminders."""
    world = await build_world(sessions)
    async with sessions.begin() as session:
        agency = await session.get(Agency, world.agency.id)
        assert agency is not None
        agency.office_hours_json = weekly_hours_to_json(
            weekly_hours_from_mapping({"mon-fri": ["07:00-11:00", "13:00-17:00"], "sat": ["07:00-11:00"]})
        )
    cache = CalendarCache(TZ)
    async with sessions() as session:
        await cache.refresh(session)
    desk = make_desk()
    desk = Desk(cache.current.province, desk.limits, TZ, cache.current.by_agency)
    # Friday 15:00: 2 hours on Friday, 4 on Saturday morning, 2 on Monday: due Monday 09:00.
    report_id = await submit(sessions, world, desk, vn(2026, 11, 27, 15))
    report = await clock_of(sessions, report_id)
    assert report.due_at == vn(2026, 11, 30, 9)
    assert report.next_reminder_at == vn(2026, 11, 28, 9)  # half of it: Saturday 09:00
    assert desk.calendar_for(world.office.id) is desk.calendar


async def test_the_province_file_sets_office_hours_and_limits_for_a_running_bot(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """`office_hours` and `deadlines` of the province file, re-imported while a bot runs, count for new deadlines."""
    world = await build_world(sessions)
    deps = await build_deps(Settings(database_url=database_url))
    try:
        # The demo file spells out the regulation's limits.
        assert deps.desk.limits == stage_limits(deps.settings)
        raw = yaml.safe_load(DEMO_PROVINCE.read_text(encoding="utf-8"))
        raw["office_hours"] = {"mon-fri": ["07:00-11:00", "13:00-17:00"]}
        raw["deadlines"] = {"receive_hours": 4, "handle_days": 2}
        next(a for a in raw["agencies"] if a["code"] == "XA-01")["office_hours"] = {
            "mon-fri": ["08:00-12:00", "13:00-17:00"]
        }
        async with sessions.begin() as session:
            await import_province(session, parse_province(raw, base_dir=DEMO_PROVINCE.parent))
        async with deps.sessions() as session:
            assert await deps.calendars.refresh(session)
        desk = deps.desk
        assert (
            desk.limits.receive_hours,
            desk.limits.dispatch_hours,
            desk.limits.handle_days,
            desk.limits.reminder_shares,
        ) == (4, 4, 2, deps.settings.reminder_shares)
        # XA-02 follows the province's hours: Wednesday 10:00 + 4 working hours = 11:00, then 13:00-16:00.
        elsewhere = await submit(sessions, world, desk, vn(2026, 11, 25, 10), where=(22.57, 106.15))
        assert (await clock_of(sessions, elsewhere)).due_at == vn(2026, 11, 25, 16)
        # XA-01 keeps its own hours: 10:00-12:00, then 13:00-15:00; half of the 4 hours is done at the lunch break.
        own = await submit(sessions, world, desk, vn(2026, 11, 25, 10))
        report = await clock_of(sessions, own)
        assert (report.due_at, report.next_reminder_at) == (vn(2026, 11, 25, 15), vn(2026, 11, 25, 13))
        # Handling: 2 working days (of 8 hours) from the assignment, Thursday 09:00 to Monday 09:00.
        await act(sessions, desk, own, Action.RECEIVE, world.receiver.actor, vn(2026, 11, 26, 8, 30))
        await act(
            sessions,
            desk,
            own,
            Action.ASSIGN,
            world.receiver.actor,
            vn(2026, 11, 26, 9),
            assignee_id=world.handler.official.id,
        )
        assert (await clock_of(sessions, own)).due_at == vn(2026, 11, 30, 9)
    finally:
        await deps.engine.dispose()


async def test_a_day_off_announced_later_moves_the_open_deadlines(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Thursday 26/11 becomes a day off on Wednesday at 15:00: each open stage keeps the working time it had left."""
    world = await build_world(sessions)
    desk = make_desk()
    receiving = await submit(sessions, world, desk, vn(2026, 11, 25, 8))  # due Thursday 08:00
    await tick(sessions, desk, vn(2026, 11, 25, 14))  # its 50 % reminder
    # Monday 10:00, and Tuesday 24/11 is a holiday: due Wednesday 10:00, already late.
    overdue = await submit(sessions, world, desk, vn(2026, 11, 23, 10))
    handling = await submit(sessions, world, desk, vn(2026, 11, 25, 8))
    await act(sessions, desk, handling, Action.RECEIVE, world.receiver.actor, vn(2026, 11, 25, 8, 10))
    await act(
        sessions,
        desk,
        handling,
        Action.ASSIGN,
        world.receiver.actor,
        vn(2026, 11, 25, 8, 20),
        assignee_id=world.handler.official.id,
    )  # 7 working days: Friday 4/12 08:20
    paused = await submit(sessions, world, desk, vn(2026, 11, 25, 9))
    await act(
        sessions,
        desk,
        paused,
        Action.REQUEST_INFO,
        world.receiver.actor,
        vn(2026, 11, 25, 10),
        question="Xin cho biết số nhà.",
    )  # 7 of its 8 hours left
    before = {report_id: await clock_of(sessions, report_id) for report_id in (receiving, overdue, handling)}

    at = vn(2026, 11, 25, 15)
    async with sessions.begin() as session:
        change = await set_day(
            session, date(2026, 11, 26), DayKind.DAY_OFF, reason="Nghỉ bù", by="test", at=at, timezone_name=TZ
        )
    assert (change.was_working, change.is_working, change.replanned) == (True, False, 2)
    moved = {report_id: await clock_of(sessions, report_id) for report_id in before}
    # 3 working hours were left (2.5 on Wednesday, 0.5 on Thursday): now Friday 08:00. Same clock, looked at now.
    assert (
        moved[receiving].due_at,
        moved[receiving].stage_seq,
        moved[receiving].reminder_step,
        moved[receiving].next_reminder_at,
    ) == (vn(2026, 11, 27, 8), 1, 1, at)
    assert moved[overdue].due_at == before[overdue].due_at == vn(2026, 11, 25, 10)
    assert moved[handling].due_at == vn(2026, 12, 7, 8, 20)
    assert (await clock_of(sessions, paused)).due_at is None

    cache = CalendarCache(TZ)
    async with sessions() as session:
        await cache.refresh(session)
    after = Desk(cache.current.province, desk.limits, TZ, cache.current.by_agency)
    mark = await last_outbox_id(sessions)
    await tick(sessions, after, vn(2026, 11, 25, 15, 0, 30))
    # 80 % of the receiving stage is still Wednesday 16:24; handling's 50 % moves a day, to Tuesday 1/12 14:20.
    assert (await clock_of(sessions, receiving)).next_reminder_at == vn(2026, 11, 25, 16, 24)
    assert (await clock_of(sessions, handling)).next_reminder_at == vn(2026, 12, 1, 14, 20)
    # The paused report resumes with its 7 hours in the new calendar: Wednesday 15:30-17:30, Friday to 14:30.
    await act(
        sessions,
        after,
        paused,
        Action.PROVIDE_INFO,
        Actor.citizen(world.citizen.id),
        vn(2026, 11, 25, 15, 30),
        answer="Số 12.",
    )
    assert (await clock_of(sessions, paused)).due_at == vn(2026, 11, 27, 14, 30)
    for now in (vn(2026, 11, 25, 16, 24), vn(2026, 11, 27, 7, 45), vn(2026, 11, 27, 8)):
        await tick(sessions, after, now)
    sent = [(s.params["report_id"], s.step) for s in await reminder_rows(sessions, mark)]
    assert [step for report_id, step in sent if report_id == receiving] == [StepKind.SHARE, StepKind.DEADLINE]


async def test_a_late_stage_is_blamed_on_the_agency_that_held_it(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Late at XA-01, then transferred to XA-02 before any tick noticed: the monthly list names XA-01."""
    world = await build_world(sessions)
    desk = make_desk()
    report_id = await submit(sessions, world, desk, vn(2026, 11, 25, 8))  # due Thursday 08:00 at XA-01
    async with sessions() as session:
        other = await session.scalar(select(Agency).where(Agency.code == "XA-02"))
        assert other is not None
    await act(
        sessions,
        desk,
        report_id,
        Action.TRANSFER,
        world.receiver.actor,
        vn(2026, 11, 26, 9),
        target_agency_id=other.id,
        reason="Thuộc địa bàn xã khác.",
    )
    assert (await clock_of(sessions, report_id)).agency_id == other.id
    async with sessions() as session:
        [late] = (await session.scalars(select(LateStage))).all()
    assert (late.agency_id, late.stage, late.due_at, late.finished_at) == (
        world.agency.id,
        Stage.RECEIVE,
        vn(2026, 11, 26, 8),
        vn(2026, 11, 26, 9),
    )
    async with sessions.begin() as session:
        assert await reminders.send_monthly_list(session, desk, vn(2026, 12, 1, 8)) == 1
    [monthly] = [s for s in await reminder_rows(sessions) if s.kind == reminders.MONTHLY_LATE]
    assert [agency[0] for agency in monthly.params["by_agency"]] == [world.agency.name_vi]


def test_office_hours_in_the_province_file() -> None:
    raw = yaml.safe_load(DEMO_PROVINCE.read_text(encoding="utf-8"))
    police = next(a for a in raw["agencies"] if a["code"] == "CA-TINH")
    police["office_hours"] = {"mon-fri": ["07:00-11:30", "13:00-17:00"], "sat,sun": ["08:00-11:00"]}
    data = parse_province(raw, base_dir=DEMO_PROVINCE.parent)
    hours = data.agency("CA-TINH").office_hours
    assert hours is not None and hours.total(5) == hours.total(6) == timedelta(hours=3)
    assert weekly_hours_from_json(weekly_hours_to_json(hours)) == hours

    police["office_hours"] = {"mon-fry": ["07:00-11:30"], "tue": ["11:00-09:00"]}
    with pytest.raises(ProvinceFileError) as refused:
        parse_province(raw, base_dir=DEMO_PROVINCE.parent)
    assert [p.split(":")[0] for p in refused.value.problems] == ["agencies[2].office_hours"]
    police["office_hours"] = ["07:00-11:30"]
    with pytest.raises(ProvinceFileError, match=r"agencies\[2\]\.office_hours: must map weekdays"):
        parse_province(raw, base_dir=DEMO_PROVINCE.parent)


_BEFORE_0005 = [
    (
        "INSERT INTO users (id, platform, external_id, chat_id, display_name, language, language_chosen, phone_verified,"
        " created_at, updated_at) VALUES (1, 'telegram', '1', '1', '', 'vi', false, false, '2026-11-01', '2026-11-01')"
    ),
    (
        "INSERT INTO agencies (id, code, kind, name_vi, name_en, active, updated_at)"
        " VALUES (1, 'XA-01', 'commune', 'Xã', 'Commune', true, '2026-11-01')"
    ),
    (
        "INSERT INTO topics (id, code, name_vi, name_en, position, route_to, active, updated_at)"
        " VALUES (1, 'other', 'Khác', 'Other', 0, 'commune', true, '2026-11-01')"
    ),
    *(
        (
            "INSERT INTO reports (id, code, citizen_id, topic_id, description, agency_id, route_kind, identity_public,"
            f" state, version, submitted_at, updated_at, due_at) VALUES ({i}, 'PA-2026-00000{i}', 1, 1, 'Rác', 1,"
            f" 'polygon', false, '{state}', 1, '2026-11-24 01:00', '2026-11-24 01:00', {due})"
        )
        for i, state, due in (
            (1, "submitted", "'2026-11-25 01:00'"),
            (2, "received", "'2026-11-27 09:00'"),
            (3, "needs_info", "NULL"),
            (4, "closed", "NULL"),
        )
    ),
]


async def test_reports_open_before_the_upgrade_get_a_clock(empty_database_url: str) -> None:
    """Migration 0005 plans open stages from the first tick on: no replay of the past, an overdue one escalated once."""
    await asyncio.to_thread(command.upgrade, alembic_config(empty_database_url), "0004")
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as conn:
            for statement in _BEFORE_0005:
                await conn.execute(text(statement))
        await upgrade_to_head(empty_database_url)
        sessions = session_factory(engine)
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(
                        Report.id, Report.stage, Report.stage_seq, Report.reminder_step, Report.next_reminder_at
                    ).order_by(Report.id)
                )
            ).all()
        assert [tuple(row)[:4] for row in rows] == [
            (1, "receive", 1, -1),
            (2, "dispatch", 1, -1),
            (3, "receive", 1, -1),
            (4, None, 0, 0),
        ]
        assert [row.next_reminder_at is not None for row in rows] == [True, True, False, False]
        # Wednesday 25/11 10:00 local: the first is overdue since 08:00, the second due on Friday.
        await tick(sessions, make_desk(), vn(2026, 11, 25, 10))
        async with sessions() as session:
            done = (await session.execute(select(Reminder.report_id, Reminder.kind))).all()
            second = await session.get(Report, 2)
        assert [tuple(row) for row in done] == [(1, StepKind.OVERDUE)]
        assert second is not None and second.reminder_step == 0  # its 50 % point is still ahead
    finally:
        await engine.dispose()
