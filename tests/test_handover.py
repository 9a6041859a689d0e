"""An official's open work is handed over when they are suspended, revoked or moved (002 Art. 11).

At the service level on both backends: every ASSIGNED and PENDING_APPROVAL
report of the official goes to the named colleague or back to the agency's
queue, with one timeline event each, an edit of its card in the agency's group
and a task message for the colleague. End to end: the command line suspends a
handling officer mid-workflow; the colleague gets the task in their private
chat and the suspended official's buttons do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain import cards, casework, deadlines, notices, officials
from bot.domain.calendar import WorkingCalendar
from bot.domain.deadlines import StageLimits
from bot.domain.desk import Desk
from bot.domain.labels import CARD_STATE_LABELS
from bot.domain.officials import Refusal, RefusalReason
from bot.domain.workflow import Action, State
from bot.emulators.telegram import MessageView
from handlers.officials import refusal_text
from storage.models import (
    GroupBinding,
    Official,
    OutboxMessage,
    Report,
    ReportEvent,
    User,
)
from storage.models.officials import OfficialStatus
from tests import images
from tests.officials_driver import (  # noqa: F401  (fixtures, used by name)
    HANDLER,
    HANDLER_2,
    RECEIVER,
    VI,
    Filed,
    Office,
    clock_fixture,
    fast_bot_fixture,
    office_fixture,
)
from tests.officials_world import admin
from tests.workflow_world import World, build_world, new_report

# A Wednesday, 10:00 in the province: inside office hours.
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)
DESK = Desk(WorkingCalendar(tz="Asia/Ho_Chi_Minh"), StageLimits(), "Asia/Ho_Chi_Minh")
CLI = officials.Actor("cli", "tester")
GROUP = "-100500"
CHANGES = {"suspend": "suspended", "revoke": "revoked", "move": "moved"}


@dataclass
class Desked:
    world: World
    assigned: Report
    pending: Report
    # Assigned to the same official but no longer open: nothing to hand over.
    resolved: Report
    first_cards: dict[int, int]


async def _handled_report(session: AsyncSession, world: World, *, with_result: bool) -> Report:
    """A report posted to the group and taken through the workflow to the handler."""
    report = await new_report(session, world, State.SUBMITTED)
    await cards.refresh(session, DESK, report, NOW)
    head = world.actors["head"]
    assert (await casework.act(session, DESK, report, Action.RECEIVE, head, NOW)).ok
    assert (await casework.act(session, DESK, report, Action.ASSIGN, head, NOW, {"assignee_id": world.handler.id})).ok
    if with_result:
        outcome = await casework.act(
            session,
            DESK,
            report,
            Action.SUBMIT_RESULT,
            world.actors["handling officer"],
            NOW,
            {"result": "Đã thu gom rác.", "evidence": [{"kind": "photo", "key": "k"}]},
        )
        assert outcome.ok
    return report


async def set_up(sessions: async_sessionmaker[AsyncSession]) -> Desked:
    async with sessions.begin() as session:
        world = await build_world(session)
        session.add(
            GroupBinding(
                platform="telegram",
                chat_id=GROUP,
                agency_id=world.agency.id,
                title="Cán bộ phường 1",
                bound_by_official_id=world.colleague.id,
            )
        )
        await session.flush()
        assigned = await _handled_report(session, world, with_result=False)
        pending = await _handled_report(session, world, with_result=True)
        resolved = await new_report(session, world, State.RESOLVED)
        first = {
            report.id: await session.scalar(
                select(OutboxMessage.id).where(OutboxMessage.dedupe_key == f"card:{report.id}:{world.agency.id}")
            )
            for report in (assigned, pending)
        }
        assert all(first.values())
        return Desked(world, assigned, pending, resolved, first)


async def change(session: AsyncSession, what: str, world: World, to: Official | None) -> int:
    official = await session.get(Official, world.handler.id)
    assert official is not None
    match what:
        case "suspend":
            result = await officials.suspend(session, official, at=LATER, actor=CLI, desk=DESK, handover_to=to)
        case "revoke":
            result = await officials.revoke(session, official, at=LATER, actor=CLI, desk=DESK, handover_to=to)
        case _:
            result = await officials.move_official(
                session, official, world.other_agency, at=LATER, actor=CLI, desk=DESK, handover_to=to
            )
            assert isinstance(result, officials.Moved), result
            return result.reassigned
    assert isinstance(result, officials.StatusChanged), result
    return result.handed_over


async def outbox_after(session: AsyncSession, since: int, kind: str) -> list[OutboxMessage]:
    return list(
        (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.id > since, OutboxMessage.kind == kind)
                .order_by(OutboxMessage.id)
            )
        ).all()
    )


@pytest.mark.parametrize("to_colleague", [True, False], ids=["to_colleague", "to_queue"])
@pytest.mark.parametrize("what", list(CHANGES))
async def test_open_work_is_handed_over(
    what: str, to_colleague: bool, sessions: async_sessionmaker[AsyncSession]
) -> None:
    desked = await set_up(sessions)
    world = desked.world
    async with sessions.begin() as session:
        mark = await session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) or 0
        due = {r.id: (await session.get(Report, r.id)).due_at for r in (desked.assigned, desked.pending)}
        colleague = await session.get(Official, world.colleague.id) if to_colleague else None
        assert await change(session, what, world, colleague) == 2

    async with sessions() as session:
        for before, state in ((desked.assigned, State.ASSIGNED), (desked.pending, State.PENDING_APPROVAL)):
            report = await session.get(Report, before.id)
            assert report is not None
            [event] = (
                await session.scalars(
                    select(ReportEvent).where(ReportEvent.report_id == report.id, ReportEvent.at == LATER)
                )
            ).all()
            assert event.details["from_official_id"] == world.handler.id
            assert event.details["reason"] == CHANGES[what]
            assert event.actor_role == "system" and not event.public
            if to_colleague:
                assert event.kind == Action.HANDOVER and event.details["assignee_id"] == world.colleague.id
                assert (report.state, report.assignee_id) == (state, world.colleague.id)
                # The handling clock started at assignment and keeps running.
                assert report.due_at == due[report.id]
            else:
                assert event.kind == Action.UNASSIGN
                assert (report.state, report.assignee_id) == (State.RECEIVED, None)
                assert report.due_at == deadlines.dispatch_due(DESK.calendar, LATER, DESK.limits)

        # The card in the agency's group is edited in place, once per report.
        edits = await outbox_after(session, mark, cards.KIND)
        assert sorted(e.edit_of_id for e in edits) == sorted(desked.first_cards.values())
        assert {e.chat_id for e in edits} == {GROUP}
        for edit in edits:
            assert edit.params["assignee"] == (world.colleague.full_name if to_colleague else None)
            assert edit.params["state"] in (
                {State.ASSIGNED, State.PENDING_APPROVAL} if to_colleague else {State.RECEIVED}
            )

        # The colleague is told of each report; nobody is told of work going back to the queue.
        tasks = await outbox_after(session, mark, notices.OFFICIAL_TASK)
        colleague_user = await session.get(User, world.colleague.user_id)
        assert colleague_user is not None
        if to_colleague:
            assert [(t.chat_id, t.params["code"], t.params["action"]) for t in tasks] == [
                (colleague_user.chat_id, desked.assigned.code, Action.HANDOVER),
                (colleague_user.chat_id, desked.pending.code, Action.HANDOVER),
            ]
        else:
            assert tasks == []
        # Only an official still in service hears that the work left them: a
        # suspended or revoked account's chat may be in the wrong hands.
        untasks = await outbox_after(session, mark, notices.OFFICIAL_UNTASK)
        assert len(untasks) == (2 if what == "move" else 0)

        # Work that is no longer open stays as it was.
        resolved = await session.get(Report, desked.resolved.id)
        assert resolved is not None and resolved.assignee_id == world.handler.id
        assert resolved.state == State.RESOLVED and resolved.version == 1


async def test_a_bad_colleague_hands_nothing_over(sessions: async_sessionmaker[AsyncSession]) -> None:
    desked = await set_up(sessions)
    world = desked.world
    async with sessions.begin() as session:
        handler = await session.get(Official, world.handler.id)
        assert handler is not None
        # Another agency's official, colleagues who cannot be assigned reports (a receiving officer,
        # the head) or cannot act (suspended), and the official themself.
        wrong = [
            await session.get(Official, world.actors[name].official_id)
            for name in ("other agency's officer", "receiving officer", "head", "suspended officer")
        ]
        for colleague in wrong:
            assert colleague is not None
            for method in (officials.suspend, officials.revoke):
                problem = await method(session, handler, at=LATER, actor=CLI, desk=DESK, handover_to=colleague)
                assert problem is officials.StatusProblem.BAD_HANDOVER, (method, colleague.full_name)
        for colleague in (*wrong, handler):
            moved = await officials.move_official(
                session, handler, world.other_agency, at=LATER, actor=CLI, desk=DESK, handover_to=colleague
            )
            assert moved is officials.MoveProblem.BAD_HANDOVER
        assert handler.status == OfficialStatus.ACTIVE and handler.agency_id == world.agency.id
    async with sessions() as session:
        for report_id in (desked.assigned.id, desked.pending.id):
            report = await session.get(Report, report_id)
            assert report is not None and report.assignee_id == world.handler.id
        events = (await session.scalars(select(ReportEvent).where(ReportEvent.at == LATER))).all()
        assert events == []


@pytest.mark.parametrize("what", list(CHANGES))
async def test_nothing_of_a_report_reaches_an_official_gone_from_its_agency(
    what: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The citizen's question on a result they handled, the answer to a coordination request they sent: the
    agency gets them instead, never the suspended, revoked or moved official's chat."""
    desked = await set_up(sessions)
    world = desked.world
    async with sessions.begin() as session:
        assigned = await session.get(Report, desked.assigned.id)
        assert assigned is not None
        asked, request = await casework.ask_coordination(
            session,
            DESK,
            assigned,
            world.actors["handling officer"],
            NOW,
            world.other_agency.id,
            "Lịch thu gom của phường?",
        )
        assert asked.ok and request is not None
        await change(session, what, world, None)
        mark = await session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) or 0
    async with sessions.begin() as session:
        resolved = await session.get(Report, desked.resolved.id)
        assert resolved is not None
        question = await casework.act(
            session,
            DESK,
            resolved,
            Action.ASK_CLARIFICATION,
            world.actors["citizen"],
            LATER,
            {"question": "Khi nào thu gom xong?"},
        )
        assert question.ok
        answered = await casework.answer_coordination(
            session, DESK, request.id, world.actors["other agency's officer"], LATER, "Thứ Ba."
        )
        assert answered is not None and answered[0].ok

    async with sessions() as session:
        handler = await session.get(User, world.handler.user_id)
        assert handler is not None
        sent = await outbox_after(session, mark, notices.AGENCY_TASK) + await outbox_after(
            session, mark, notices.COORDINATION_ANSWER
        )
        assert [(m.kind, m.chat_id, m.params.get("action")) for m in sent] == [
            (notices.AGENCY_TASK, GROUP, Action.ASK_CLARIFICATION),
            (notices.COORDINATION_ANSWER, GROUP, None),
        ]
        everything = (await session.scalars(select(OutboxMessage).where(OutboxMessage.id > mark))).all()
        assert everything and all(m.chat_id != handler.chat_id for m in everything)


async def test_work_the_colleague_cannot_take_goes_back_to_the_queue(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Whoever calls the handover, a report never stays with an official who is leaving."""
    desked = await set_up(sessions)
    world = desked.world
    async with sessions.begin() as session:
        receiver = world.actors["receiving officer"].official_id
        assert receiver is not None
        assert (
            await casework.hand_over(
                session, DESK, world.handler.id, receiver, LATER, officials.HandoverReason.SUSPENDED
            )
            == 2
        )
    async with sessions() as session:
        for report_id in (desked.assigned.id, desked.pending.id):
            report = await session.get(Report, report_id)
            assert report is not None and (report.state, report.assignee_id) == (State.RECEIVED, None)
            kinds = (
                await session.scalars(
                    select(ReportEvent.kind).where(ReportEvent.report_id == report_id, ReportEvent.at == LATER)
                )
            ).all()
            assert kinds == [Action.UNASSIGN]


# --- end to end -----------------------------------------------------------------------------------


def assert_task(message: MessageView, action: Action, code: str) -> None:
    """A task message (bot/domain/notices.py) about `code`, with the button that opens the work view."""
    template = VI(notices._TASK_TEXTS[action])
    before_topic, _, after_topic = template.partition("{topic}")
    assert before_topic.format(code=code) in message.content
    assert after_topic.partition("{due}")[0] in message.content
    assert VI("🛠 Open the report") in message.buttons


async def test_suspending_a_handler_hands_the_report_to_a_colleague(
    office: Office,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    filed = await office.file_report()
    await office.receive(filed)
    task = await office.assign(filed, HANDLER)
    handler = await office.official(HANDLER)
    colleague = await office.official(HANDLER_2)

    out = await admin(
        settings,
        capsys,
        "suspend",
        "--official",
        str(handler.id),
        "--handover-to",
        str(colleague.id),
        "--reason",
        "lost phone",
    )
    assert "1 open assignment(s) handed over" in out

    # The colleague's private chat gets the task; the card follows.
    handed = await office.handler2.chat.expect(contains=filed.code, timeout=10)
    assert_task(handed, Action.HANDOVER, filed.code)
    card = await office.card_edit(filed, VI("Handled by: {name}", name=HANDLER_2))
    assert HANDLER not in card.content
    report = await office.report(filed.report_id)
    assert (report.state, report.assignee_id) == (State.ASSIGNED, colleague.id)
    # The suspended account is not told anything: its chat may be in the wrong hands.
    await office.handler.chat.expect_no_message(within=0.5)

    # The suspended official's buttons do nothing: their old task and the group's card.
    suspended = refusal_text(Refusal(RefusalReason.SUSPENDED), VI)
    press = await office.handler.chat.press(task, VI("🛠 Open the report"))
    assert (await press.answer()).text == suspended
    assert (await office.press_card(office.handler, filed, VI("📜 Timeline"))).text == suspended
    after = await office.report(filed.report_id)
    assert (after.state, after.version, after.assignee_id) == (report.state, report.version, colleague.id)
    # The colleague works on it from the task they were given.
    view = await office.open_work(office.handler2, handed, filed.code)
    assert filed.code in view.content
    # Its latest steps give the handover's reason in the reader's language, not the code's word.
    assert VI(officials.HANDOVER_REASON_LABELS[officials.HandoverReason.SUSPENDED]) in view.content
    assert "“suspended”" not in view.content


async def test_a_suspended_handler_gets_nothing_of_the_citizens_question(
    office: Office,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    filed = await office.resolve()
    result = await filed.citizen.expect_buttons(VI("❔ Ask for clarification"))
    handler = await office.official(HANDLER)
    await admin(settings, capsys, "suspend", "--official", str(handler.id), "--reason", "lost phone")
    office.handler.chat.drain()

    question = "Rác ở đầu ngõ 12 đã được chở đi hết chưa?"
    await filed.citizen.chat.press(result, VI("❔ Ask for clarification"))
    await filed.citizen.expect("/cancel")
    await filed.citizen.chat.send_text(question)
    # The agency's group is told (a message, not only the card's silent edit); the account in
    # the wrong hands is not.
    told = await office.group.expect(lambda m: question in m.content, edited=False, timeout=10)
    assert told.content.startswith(
        VI(notices._AGENCY_TASK_TEXTS[Action.ASK_CLARIFICATION], code=filed.code, text=question).split("\n\n")[0]
    )
    assert VI("🛠 Open the report") in told.buttons
    card = await office.card_edit(filed, VI("❔ The citizen asks: {text}", text=question))
    assert VI("💬 Answer the clarification") in card.buttons
    await office.handler.chat.expect_no_message(within=0.5)

    # The head answers it from the card.
    await office.press_card(office.head, filed, VI("💬 Answer the clarification"))
    await office.head.chat.expect(contains="/cancel", timeout=10)
    await office.head.chat.send_text("Đã chở đi hết trong sáng 25/11.")
    await filed.citizen.expect("Đã chở đi hết trong sáng 25/11.")
    await office.handler.chat.expect_no_message(within=0.2)


async def test_moving_then_revoking_hands_work_to_a_colleague_then_to_the_queue(
    office: Office,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assigned = await office.file_report()
    await office.receive(assigned)
    await office.assign(assigned, HANDLER)
    pending = await office.file_report(await office.new_citizen("Hoa", "Trần Thị", phone="+84987654321"))
    await office.receive(pending)
    task = await office.assign(pending, HANDLER)
    await office.submit_result(pending, "Đã thu gom rác.", photos=[images.jpeg(seed=4242)], task=task)
    handler = await office.official(HANDLER)
    colleague = await office.official(HANDLER_2)

    # Moved to XA-02 (002 Art. 11): both reports go to the named colleague of XA-01.
    out = await admin(
        settings, capsys, "move", "--official", str(handler.id), "--to", "XA-02", "--handover-to", str(colleague.id)
    )
    assert "open assignments handed over: 2" in out
    for filed in (assigned, pending):
        assert_task(await office.handler2.chat.expect(contains=filed.code, timeout=10), Action.HANDOVER, filed.code)
        await office.handler.chat.expect(
            contains=VI("Report {code} is no longer assigned to you.", code=filed.code), timeout=10
        )
        await office.card_edit(filed, VI("Handled by: {name}", name=HANDLER_2))
    assert [
        (r.state, r.assignee_id)
        for r in (await office.report(assigned.report_id), await office.report(pending.report_id))
    ] == [(State.ASSIGNED, colleague.id), (State.PENDING_APPROVAL, colleague.id)]
    # The old agency's group and cards are no longer theirs.
    assert (await office.press_card(office.handler, assigned, VI("📜 Timeline"))).text == refusal_text(
        Refusal(RefusalReason.OTHER_AGENCY), VI
    )

    # The colleague leaves the service with no one named: the work goes back to the agency's queue.
    out = await admin(settings, capsys, "revoke", "--official", str(colleague.id))
    assert "2 open assignment(s) handed over" in out
    for filed in (assigned, pending):
        card = await office.card_edit(filed, VI(CARD_STATE_LABELS[State.RECEIVED]))
        assert VI("👤 Assign") in card.buttons and HANDLER_2 not in card.content
        report = await office.report(filed.report_id)
        assert (report.state, report.assignee_id) == (State.RECEIVED, None)
    await office.handler2.chat.expect_no_message(within=0.5)
    async with office.bot.deps.sessions() as session:
        kinds = [
            e.kind
            for e in (
                await session.scalars(
                    select(ReportEvent).where(ReportEvent.report_id == pending.report_id).order_by(ReportEvent.id)
                )
            ).all()
        ]
    assert kinds[-2:] == [Action.HANDOVER, Action.UNASSIGN]
