"""The workflow's authorisation matrix and its guards, on both backends.

Every transition is tried by every kind of actor on a report in a state the
transition starts from: the allowed ones move the report and write one
timeline event; the refused ones change nothing at all.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.sandbox import DEMO_PROVINCE, province_file
from bot.domain import casework, workflow, worklist
from bot.domain.province import ProvinceFileError, parse_province
from bot.domain.workflow import Action, Need, Rating, Refusal, State
from bot.domain.worklist import Task
from storage.models import (
    CoordinationRequest,
    Official,
    Report,
    ReportEvent,
)
from storage.models.officials import Role
from tests.workflow_world import NOW, build_world, make_official, new_report

# Details that satisfy each action's needs; assignee and target filled per test.
DETAILS: dict[Action, dict] = {
    Action.REJECT: {"reason": "Nội dung là khiếu nại, không thuộc phạm vi."},
    Action.REQUEST_INFO: {"question": "Xin cho biết số nhà cụ thể."},
    Action.PROVIDE_INFO: {"answer": "Số 12."},
    Action.TRANSFER: {"reason": "Thuộc thẩm quyền phường bên cạnh."},
    Action.SUBMIT_RESULT: {"result": "Đã thu gom rác.", "evidence": ["display/aa/bb/x.jpg"]},
    Action.RETURN: {"comment": "Cần ảnh sau khi xử lý."},
    Action.ASK_CLARIFICATION: {"question": "Khi nào hoàn thành?"},
    Action.ANSWER_CLARIFICATION: {"answer": "Đã hoàn thành ngày 24/11."},
    Action.RATE: {"rating": Rating.UNSATISFIED},
    Action.REOPEN: {"reason": "Rác vẫn còn."},
    Action.HANDOVER: {"reason": "moved"},
    Action.UNASSIGN: {"reason": "suspended"},
    Action.NOTE: {"note": "Đã gọi tổ dân phố."},
    Action.COORDINATE: {"question": "Đề nghị phường bên cạnh cho biết lịch thu gom."},
    Action.COORDINATION_ANSWER: {"request_id": 1, "answer": "Thứ Ba hằng tuần."},
}


# Who may fire each action: the expected half of the matrix, written out by hand.
EXPECTED: dict[Action, set[str]] = {
    Action.WITHDRAW: {"citizen"},
    Action.RECEIVE: {"receiving officer", "head"},
    Action.REJECT: {"receiving officer", "head"},
    Action.REQUEST_INFO: {"receiving officer", "head"},
    Action.PROVIDE_INFO: {"citizen"},
    Action.TRANSFER: {"receiving officer", "head"},
    Action.ASSIGN: {"receiving officer", "head"},
    Action.REASSIGN: {"receiving officer", "head"},
    Action.SUBMIT_RESULT: {"handling officer"},
    Action.APPROVE: {"head"},
    Action.RETURN: {"head"},
    Action.ASK_CLARIFICATION: {"citizen"},
    Action.ANSWER_CLARIFICATION: {"handling officer", "head"},
    Action.RATE: {"citizen"},
    Action.REOPEN: {"citizen"},
    Action.CLOSE: {"system"},
    Action.HANDOVER: {"system"},
    Action.UNASSIGN: {"system"},
    Action.NOTE: {"receiving officer", "handling officer", "head"},
    Action.COORDINATE: {"handling officer", "head"},
    # Only the agency the request went to answers it (here: the other agency).
    Action.COORDINATION_ANSWER: {"other agency's officer"},
    Action.REVEAL_CONTACT: {"receiving officer", "handling officer", "head"},
    Action.MARK_URGENT: {"receiving officer", "head"},
}
# Actions a handling officer may fire only on a report assigned to them.
ASSIGNEE_ONLY = {Action.NOTE, Action.REVEAL_CONTACT}
ACTORS = [
    "citizen",
    "other citizen",
    "system",
    "nobody",
    "receiving officer",
    "handling officer",
    "another handling officer",
    "head",
    "agency admin",
    "supervisor",
    "focal unit",
    "platform admin",
    "alert author",
    "other agency's officer",
    "suspended officer",
    "revoked officer",
]


def test_every_action_has_an_expectation() -> None:
    assert set(EXPECTED) == set(workflow.TRANSITIONS)


@pytest.mark.parametrize("action", list(EXPECTED), ids=str)
async def test_authorisation_matrix(
    action: Action, sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.domain.workflow")
    async with sessions.begin() as session:
        world = await build_world(session)
    # Every role there is, held by an active official, is tried.
    assert set().union(*(world.actors[name].roles for name in ACTORS)) == set(Role)
    t = workflow.TRANSITIONS[action]
    for source in sorted(t.sources):
        for name in ACTORS:
            async with sessions.begin() as session:
                report = await new_report(session, world, source)
                details = dict(DETAILS.get(action, {}))
                if Need.ASSIGNEE in t.needs:
                    details["assignee_id"] = world.colleague.id
                if Need.TARGET_AGENCY in t.needs:
                    details["target_agency_id"] = world.other_agency.id
                if action is Action.COORDINATION_ANSWER:
                    details["to_agency_id"] = world.other_agency.id
                before = (report.state, report.version, report.agency_id, report.assignee_id)
                outcome = await workflow.fire(session, report, action, world.actors[name], NOW, details)
                events = await session.scalar(
                    select(func.count()).select_from(ReportEvent).where(ReportEvent.report_id == report.id)
                )
                expected = name in EXPECTED[action]
                if name == "handling officer" and action in ASSIGNEE_ONLY and before[3] is None:
                    # A handling officer acts only on the reports assigned to them.
                    expected = False
                assert outcome.ok is expected, f"{action} from {source} by {name}: {outcome.refusal}"
                if expected:
                    # Annotations keep the state and the version: they must not make a card stale.
                    assert report.state == (t.target or source) and events == 1
                    assert report.version == (2 if t.bumps else 1)
                else:
                    assert outcome.refusal is Refusal.NOT_ALLOWED
                    # Every refusal is logged with the report and who tried.
                    logged = caplog.records[-1]
                    assert logged.name == "bot.domain.workflow" and f"refused {action}" in logged.getMessage()
                    assert f"report {report.id} " in logged.getMessage()
                    await session.refresh(report)
                    assert (report.state, report.version, report.agency_id, report.assignee_id) == before
                    assert events == 0


async def test_every_other_state_is_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        world = await build_world(session)
        for action, t in workflow.TRANSITIONS.items():
            allowed_actor = world.actors[sorted(EXPECTED[action])[0]]
            for state in set(State) - t.sources:
                report = await new_report(session, world, state)
                outcome = await workflow.fire(session, report, action, allowed_actor, NOW, DETAILS.get(action, {}))
                assert not outcome.ok and outcome.refusal in (Refusal.WRONG_STATE, Refusal.NOT_ALLOWED), (action, state)


async def test_what_an_action_needs(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        world = await build_world(session)
        head = world.actors["head"]
        report = await new_report(session, world, State.SUBMITTED)
        outcome = await workflow.fire(session, report, Action.REJECT, head, NOW, {"reason": "  "})
        assert outcome.refusal is Refusal.MISSING and outcome.missing is Need.REASON
        assigned = await new_report(session, world, State.ASSIGNED)
        no_evidence = {"result": "Đã xử lý.", "evidence": []}
        outcome = await workflow.fire(
            session, assigned, Action.SUBMIT_RESULT, world.actors["handling officer"], NOW, no_evidence
        )
        assert outcome.refusal is Refusal.MISSING and outcome.missing is Need.EVIDENCE
        received = await new_report(session, world, State.RECEIVED)
        # Only an active handling officer of the report's own agency can be assigned.
        for bad in (world.actors["head"].official_id, world.actors["other agency's officer"].official_id, 999999):
            outcome = await workflow.fire(session, received, Action.ASSIGN, head, NOW, {"assignee_id": bad})
            assert outcome.refusal is Refusal.INVALID
        outcome = await workflow.fire(
            session, received, Action.TRANSFER, head, NOW, {"target_agency_id": world.agency.id, "reason": "x"}
        )
        assert outcome.refusal is Refusal.INVALID


async def test_clarification_window_and_reopen_counts(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        world = await build_world(session)
        citizen = world.actors["citizen"]
        report = await new_report(session, world, State.RESOLVED)
        late = NOW + timedelta(days=3)
        outcome = await workflow.fire(session, report, Action.ASK_CLARIFICATION, citizen, late, {"question": "?"})
        assert outcome.refusal is Refusal.TOO_LATE
        outcome = await workflow.fire(session, report, Action.RATE, citizen, NOW, {"rating": Rating.UNSATISFIED})
        assert outcome.ok and report.unsatisfied_count == 1 and report.state == State.CLOSED
        outcome = await workflow.fire(session, report, Action.REOPEN, citizen, NOW, {"reason": "Vẫn còn rác."})
        # The unsatisfied rating already counted: re-opening after it does not count twice.
        assert outcome.ok and report.reopen_count == 1 and report.unsatisfied_count == 1
        assert report.state == State.RECEIVED and report.assignee_id is None
        satisfied = await new_report(session, world, State.RESOLVED)
        await workflow.fire(session, satisfied, Action.RATE, citizen, NOW, {"rating": Rating.SATISFIED})
        outcome = await workflow.fire(session, satisfied, Action.REOPEN, citizen, NOW, {"reason": "x"})
        assert outcome.refusal is Refusal.TOO_LATE

        # Only after an unsatisfied rating: a re-open of an unrated result (an old or crafted
        # button) is refused before and at firing, and changes nothing.
        for state in (State.RESOLVED, State.CLARIFYING):
            unrated = await new_report(session, world, state)
            assert workflow.precheck(unrated, Action.REOPEN, citizen, NOW) is not None
            outcome = await workflow.fire(session, unrated, Action.REOPEN, citizen, NOW, {"reason": "Vẫn còn rác."})
            assert not outcome.ok and outcome.refusal is Refusal.WRONG_STATE
            await session.refresh(unrated)
            assert (unrated.state, unrated.version, unrated.reopen_count, unrated.unsatisfied_count) == (state, 1, 0, 0)


async def test_transfer_moves_the_report_and_the_loser_learns_who_won(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        world = await build_world(session)
        report = await new_report(session, world, State.SUBMITTED)
        report_id = report.id
    # Two officials read the same version, then both press; the second write finds the version gone.
    copies = []
    for _ in range(2):
        async with sessions() as session:
            copy = await session.get(Report, report_id)
            assert copy is not None
            session.expunge(copy)
            copies.append(copy)
    outcomes = []
    for copy, who in zip(copies, ("receiving officer", "head"), strict=True):
        async with sessions.begin() as session:
            session.add(copy)
            outcomes.append(await workflow.fire(session, copy, Action.RECEIVE, world.actors[who], NOW))
    won, lost = outcomes
    assert won.ok and not lost.ok and lost.refusal is Refusal.STALE
    assert lost.latest is not None and lost.latest.kind == Action.RECEIVE
    assert lost.latest.actor_user_id == world.actors["receiving officer"].user_id


async def test_queue_holds_only_what_can_still_be_done(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        world = await build_world(session)
        # A head who also handles reports answers every clarification of the agency, not only their own.
        both = frozenset({Role.AGENCY_HEAD, Role.HANDLING_OFFICER})
        head_handler, _ = await make_official(session, "hh", world.agency, list(both))
        clarifying = await new_report(session, world, State.CLARIFYING)
        assert clarifying.assignee_id == world.handler.id
        items = await worklist.queue_for(session, head_handler, both)
        assert [i.report_id for i in items if i.task is Task.CLARIFY] == [clarifying.id]
        handler_items = await worklist.queue_for(session, world.handler, frozenset({Role.HANDLING_OFFICER}))
        assert [i.report_id for i in handler_items if i.task is Task.CLARIFY] == [clarifying.id]
        colleague_items = await worklist.queue_for(session, world.colleague, frozenset({Role.HANDLING_OFFICER}))
        assert [i for i in colleague_items if i.task is Task.CLARIFY] == []

        # Requests to another agency stay in its queue only while the report is open: the
        # workflow refuses answers on a closed one.
        requests = {}
        for state in (State.ASSIGNED, State.CLOSED, State.REJECTED):
            report = await new_report(session, world, state)
            request = CoordinationRequest(
                report_id=report.id,
                from_agency_id=world.agency.id,
                to_agency_id=world.other_agency.id,
                asked_by_official_id=world.handler.id,
                question="Lịch thu gom?",
                asked_at=NOW,
            )
            session.add(request)
            await session.flush()
            requests[state] = request.id
        asked = world.actors["other agency's officer"]
        other = await session.get(Official, asked.official_id)
        assert other is not None
        items = await worklist.queue_for(session, other, asked.roles)
        assert [i.request_id for i in items if i.task is Task.COORDINATE] == [requests[State.ASSIGNED]]


async def test_the_provinces_and_agencys_own_reject_reasons(sessions: async_sessionmaker[AsyncSession]) -> None:
    """`reject_reasons` in the province file: checked on import, stored, offered to the agency's screeners."""
    raw = yaml.safe_load(DEMO_PROVINCE.read_text(encoding="utf-8"))
    raw["reject_reasons"] = [
        {"vi": "Đã giải quyết."},
        "Trùng lặp",
        {"vi": "Đã giải quyết.", "en": "Settled.", "fr": "x"},
        {"vi": "a" * 501, "en": "b"},
        {"vi": "Đã  giải quyết. ", "en": "Settled."},
    ]
    raw["agencies"][0]["reject_reasons"] = {"vi": "x", "en": "y"}
    with pytest.raises(ProvinceFileError) as err:
        parse_province(raw, base_dir=DEMO_PROVINCE.parent)
    assert set(err.value.problems) == {
        "reject_reasons[0].en: missing required field",
        'reject_reasons[1]: must be a mapping {vi: "...", en: "..."}, got str \'Trùng lặp\'',
        "reject_reasons[2].fr: unknown field (expected one of: en, vi)",
        "reject_reasons[3].vi: longer than 500 characters",
        "reject_reasons[4].vi: repeats reject_reasons[2]",
        'agencies[0].reject_reasons: must be a list of {vi: "...", en: "..."}, got a mapping',
    }

    async with sessions.begin() as session:
        world = await build_world(session)
        demo = province_file()
        ward = await casework.own_reject_reasons(session, world.agency.id)
        assert ward == {"p0": demo.reject_reasons[0], "a0": demo.agency("XA-01").reject_reasons[0]}
        assert await casework.own_reject_reasons(session, world.other_agency.id) == {"p0": demo.reject_reasons[0]}
