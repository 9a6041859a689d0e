"""The officials' side of the workflow end to end: the real bot through the emulator.

A citizen's report lands on XA-01; its card comes to XA-01's group, where the
receiving officer, two handling officers and the head work it with buttons,
choices and typed texts in their private chats; XA-02 gets transfers and
coordination requests; a stranger and XA-02's official press XA-01's buttons
and are refused. (The citizen's answers and ratings are tested with the
citizen's follow-up.)
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.cli.sandbox import province_file
from bot.domain.labels import CARD_STATE_LABELS, OFFICIAL_EVENT_LABELS
from bot.domain.officials import Refusal, RefusalReason, Role
from bot.domain.workflow import Action, Need, State
from bot.domain.worklist import Task
from bot.emulators.telegram import MessageView
from bot.i18n import translator
from handlers.cards import (
    MISSING_TEXTS,
    NOT_ASSIGNED_TO_YOU,
    OPEN_BOT_FIRST,
    REASON_TEMPLATES,
    WROTE_PRIVATELY,
    reason_button,
    when,
)
from handlers.officials import NOT_BOUND, refusal_text
from handlers.workdesk import TASK_LABELS
from storage.models import AccessAudit, Agency, CoordinationRequest, GroupBinding, Report, ReportEvent
from tests import images
from tests.officials_driver import (
    HANDLER,
    HANDLER_2,
    HEAD,
    OTHER_RECEIVER,
    RECEIVER,
    Filed,
    Office,
    Person,
    bot_fixture,  # noqa: F401
    clock_fixture,  # noqa: F401
    office_fixture,  # noqa: F401
)
from tests.officials_world import admin, eventually, onboard

VI = translator("vi")
WAIT = 10.0
PDF = b"%PDF-1.4\n% bien ban kiem tra hien truong\n"


def refused(reason: RefusalReason) -> str:
    return refusal_text(Refusal(reason), VI)


async def events(office: Office, report_id: int) -> list[ReportEvent]:
    async with office.bot.deps.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.id)
                )
            ).all()
        )


async def kinds(office: Office, report_id: int) -> list[str]:
    return [e.kind for e in await events(office, report_id)]


async def refusals(office: Office) -> list[tuple[str | None, str]]:
    async with office.bot.deps.sessions() as session:
        rows = (
            await session.scalars(select(AccessAudit).where(AccessAudit.action == "refused").order_by(AccessAudit.id))
        ).all()
    return [(r.actor_external_id, r.outcome) for r in rows]


def card_messages(office: Office, filed: Filed, group=None) -> list[MessageView]:
    """Every message (not edit) in the group that is a card of this report."""
    return [m for m in (group or office.group).bot_messages if filed.code in m.content]


async def typed(person: Person, text: str) -> MessageView:
    await person.chat.send_text(text)
    return await person.chat.expect(timeout=WAIT)


async def choose_agency(person: Person, message: MessageView, name: str) -> MessageView:
    """Turn the pages of an agency list until `name` shows, then press it; the edited message."""
    same = message.message_id
    for _page in range(10):
        if name in message.buttons:
            await person.chat.press(message, name)
            return await person.chat.expect(lambda m: m.message_id == same, edited=True, timeout=WAIT)
        await person.chat.press(message, VI("Next ▶️"))
        message = await person.chat.expect(lambda m: m.message_id == same, edited=True, timeout=WAIT)
    raise AssertionError(f"{name} not in any page")


async def other_agency_name(office: Office) -> str:
    async with office.bot.deps.sessions() as session:
        agency = await session.get(Agency, office.other_agency_id)
    assert agency is not None
    return agency.name_vi


# --- the happy path ----------------------------------------------------------------------------------


async def test_a_report_goes_from_the_card_to_the_citizens_result(office: Office) -> None:
    filed = await office.file_report()
    card = filed.card
    assert VI(CARD_STATE_LABELS[State.SUBMITTED]) in card.content and VI("✅ Receive") in card.buttons

    answer = await office.press_card(office.receiver, filed, VI("✅ Receive"))
    assert answer.text == VI("📥 {code} received. Assign it from the card.", code=filed.code)
    received = await office.card_edit(filed, VI(CARD_STATE_LABELS[State.RECEIVED]))
    assert VI("👤 Assign") in received.buttons and VI("✅ Receive") not in received.buttons
    await filed.citizen.expect(
        VI(
            "📥 Your report {code} was received by {agency}. It will be assigned for handling.",
            code=filed.code,
            agency="",
        )[:30]
    )

    # The list of handling officers comes privately; the group sees only the card change.
    answer = await office.press_card(office.receiver, filed, VI("👤 Assign"))
    assert answer.text == VI(WROTE_PRIVATELY)
    choice = await office.receiver.chat.expect(lambda m: HANDLER in m.buttons, timeout=WAIT)
    assert HANDLER_2 in choice.buttons and HEAD not in choice.buttons
    await office.receiver.chat.press(choice, HANDLER)
    chosen = await office.receiver.chat.expect(edited=True, timeout=WAIT)
    assert chosen.content == VI("👤 {code} assigned to {name}.", code=filed.code, name=HANDLER)
    assert not chosen.has_inline_keyboard
    await office.card_edit(filed, HANDLER)
    task = await office.handler.chat.expect(lambda m: VI("🛠 Open the report") in m.buttons, timeout=WAIT)
    assert filed.code in task.content

    # The handler's work view: the photos, then the report with what they can do.
    view = await office.open_work(office.handler, task, filed.code)
    assert office.handler.chat.bot_messages[-2].photo is not None
    for label in ("📝 Note", "🤝 Coordination request", "🖊 Submit result", "📜 Timeline", "📞 Contact"):
        assert VI(label) in view.buttons
    assert VI("✅ Receive") not in view.buttons
    await office.handler.chat.press(view, VI("📝 Note"))
    await office.handler.chat.expect(contains="/cancel", timeout=WAIT)
    noted = await typed(office.handler, "Đã gọi tổ dân phố số 3 hẹn kiểm tra lúc 14h.")
    assert noted.content == VI("📝 Note added to {code}.", code=filed.code)

    done = await office.submit_result(
        filed,
        "Đã thu gom rác và khơi thông mương.",
        photos=[images.jpeg(seed=77)],
        documents=[(PDF, "bien-ban.pdf")],
        task=task,
    )
    assert done.content == VI("🖊 The result of {code} was sent to the head for approval.", code=filed.code)
    pending = office.current_card(filed)
    assert VI("🖊 Proposed result: {text}", text="Đã thu gom rác và khơi thông mương.") in pending.content
    assert VI("✅ Approve and send") in pending.buttons

    # The head sees the evidence before approving: from /queue, the report with its evidence files.
    queue = await typed(office.head, "/queue")
    assert VI(TASK_LABELS[Task.APPROVE]) in queue.content and filed.code in queue.content
    mark = office.head.chat.mark()
    view = await office.open_work(office.head, queue, filed.code)
    assert VI("✅ Approve and send") in view.buttons and VI("↩️ Return") in view.buttons
    shown = office.head.chat.since(mark)
    [document] = [m for m in shown if m.document is not None]
    assert office.emu.file_bytes(document.document["file_id"]) == PDF
    assert sum(m.photo is not None for m in shown) == 2  # the citizen's photo and the evidence photo

    answer = await office.press_card(office.head, filed, VI("✅ Approve and send"))
    assert answer.text == VI("✅ {code} approved: the result and its evidence go to the citizen.", code=filed.code)
    resolved = await office.card_edit(filed, VI(CARD_STATE_LABELS[State.RESOLVED]))
    assert VI("✅ Approve and send") not in resolved.buttons

    # The citizen gets the evidence, then the result with the rating buttons.
    result = await filed.citizen.expect_buttons(VI("😊 Satisfied"))
    assert "Đã thu gom rác và khơi thông mương." in result.content and VI("😞 Unsatisfied") in result.buttons
    before = filed.citizen.chat.bot_messages[-3:-1]
    assert before[0].photo is not None
    assert before[1].document is not None
    assert office.emu.file_bytes(before[1].document["file_id"]) == PDF
    assert before[1].document["file_name"] == "bien-ban.pdf"

    # One card, edited in place at every step.
    assert len(card_messages(office, filed)) == 1
    assert len(office.group.edits_of(card)) >= 4
    assert await kinds(office, filed.report_id) == [
        Action.SUBMIT,
        Action.RECEIVE,
        Action.ASSIGN,
        Action.NOTE,
        Action.SUBMIT_RESULT,
        Action.APPROVE,
    ]
    report = await office.report(filed.report_id)
    assert report.state == State.RESOLVED
    [submitted] = [e for e in await events(office, filed.report_id) if e.kind == Action.SUBMIT_RESULT]
    evidence = submitted.details[Need.EVIDENCE.value]
    assert [item["kind"] for item in evidence] == ["photo", "document"]
    assert all(office.bot.deps.media.exists(item["key"]) for item in evidence)
    assert evidence[0]["original_key"].startswith("evidence/") and evidence[1]["key"].startswith("evidence/")

    # The head reads the full timeline privately, notes and names included.
    answer = await office.press_card(office.head, filed, VI("📜 Timeline"))
    assert answer.text == VI(WROTE_PRIVATELY)
    timeline = await office.head.chat.expect(contains=filed.code, timeout=WAIT)
    for action in (Action.RECEIVE, Action.ASSIGN, Action.NOTE, Action.SUBMIT_RESULT, Action.APPROVE):
        assert VI(OFFICIAL_EVENT_LABELS[action]) in timeline.content
    assert "Đã gọi tổ dân phố số 3" in timeline.content and RECEIVER in timeline.content
    assert (
        HEAD in timeline.content and VI.ngettext("📎 {n} evidence file", "📎 {n} evidence files", 2) in timeline.content
    )


# --- screening: reject, ask, transfer -----------------------------------------------------------------


async def test_reject_with_a_template_or_a_typed_reason(office: Office) -> None:
    first = await office.file_report()
    answer = await office.press_card(office.receiver, first, VI("⛔ Reject"))
    assert answer.text == VI(WROTE_PRIVATELY)
    reasons = await office.receiver.chat.expect(lambda m: VI("✍️ Type another reason") in m.buttons, timeout=WAIT)
    assert [VI(t.label) for t in REASON_TEMPLATES] == reasons.buttons[: len(REASON_TEMPLATES)]
    complaint = REASON_TEMPLATES[0]
    await office.receiver.chat.press(reasons, VI(complaint.label))
    done = await office.receiver.chat.expect(edited=True, timeout=WAIT)
    assert done.content == VI("⛔ {code} rejected. The citizen is told the reason.", code=first.code)
    told = await first.citizen.expect(first.code)
    assert VI(complaint.reason) in told.content
    rejected = await office.card_edit(first, VI(CARD_STATE_LABELS[State.REJECTED]))
    assert rejected.buttons == [VI("📜 Timeline"), VI("📞 Contact")]
    assert VI("⛔ Reason: {text}", text=VI(complaint.reason)) in rejected.content

    second = await office.file_report(first.citizen)
    await office.press_card(office.head, second, VI("⛔ Reject"))
    reasons = await office.head.chat.expect(lambda m: VI("✍️ Type another reason") in m.buttons, timeout=WAIT)
    await office.head.chat.press(reasons, VI("✍️ Type another reason"))
    prompt = await office.head.chat.expect(edited=True, timeout=WAIT)
    assert prompt.content.startswith(
        VI("Type the reason for rejecting {code}. The citizen will read it.", code=second.code)
    )
    done = await typed(office.head, "Vị trí nằm trong khu quân sự, không thuộc thẩm quyền của phường.")
    assert done.content == VI("⛔ {code} rejected. The citizen is told the reason.", code=second.code)
    told = await second.citizen.expect(second.code)
    assert "Vị trí nằm trong khu quân sự" in told.content
    await office.card_edit(second, VI(CARD_STATE_LABELS[State.REJECTED]))
    [reject] = [e for e in await events(office, second.report_id) if e.kind == Action.REJECT]
    assert reject.actor_role == "agency_head"

    # The province's and the agency's own reasons (the province file) follow the standard ones, in the
    # official's language; the citizen reads the chosen one in theirs.
    ours = province_file()
    province_reason, [ward_reason] = ours.reject_reasons[0], ours.agency("XA-01").reject_reasons
    english = await office.new_citizen("Mary", "Smith", phone="+84987650000", language="en")
    third = await office.file_report(english)
    await office.press_card(office.receiver, third, VI("⛔ Reject"))
    reasons = await office.receiver.chat.expect(lambda m: VI("✍️ Type another reason") in m.buttons, timeout=WAIT)
    own = reasons.buttons[len(REASON_TEMPLATES) : -2]
    assert own == [reason_button(province_reason.vi), reason_button(ward_reason.vi)]
    await office.receiver.chat.press(reasons, own[1])
    done = await office.receiver.chat.expect(edited=True, timeout=WAIT)
    assert done.content == VI("⛔ {code} rejected. The citizen is told the reason.", code=third.code)
    told = await english.expect(third.code)
    assert ward_reason.en in told.content and ward_reason.vi not in told.content
    rejected = await office.card_edit(third, VI(CARD_STATE_LABELS[State.REJECTED]))
    assert VI("⛔ Reason: {text}", text=ward_reason.en) in rejected.content


async def test_asking_the_citizen_for_more_information(office: Office) -> None:
    filed = await office.file_report()
    await office.press_card(office.receiver, filed, VI("❔ Ask for information"))
    prompt = await office.receiver.chat.expect(contains="/cancel", timeout=WAIT)
    assert filed.code in prompt.content
    done = await typed(office.receiver, "Xin cho biết số nhà gần nhất với điểm đổ rác?")
    assert done.content == VI(
        "❔ Your question about {code} was sent to the citizen. Their answer will show on the card.", code=filed.code
    )
    asked = await filed.citizen.expect_buttons(VI("✍️ Answer"))
    assert "Xin cho biết số nhà gần nhất" in asked.content and filed.code in asked.content
    card = await office.card_edit(filed, VI(CARD_STATE_LABELS[State.NEEDS_INFO]))
    assert VI("❔ Asked of the citizen: {text}", text="Xin cho biết số nhà gần nhất với điểm đổ rác?") in card.content
    assert (await office.report(filed.report_id)).state == State.NEEDS_INFO


async def test_transfer_to_another_agency(office: Office, capsys) -> None:
    filed = await office.file_report()
    target = await other_agency_name(office)
    answer = await office.press_card(office.receiver, filed, VI("↪️ Transfer"))
    assert answer.text == VI(WROTE_PRIVATELY)
    agencies = await office.receiver.chat.expect(contains=filed.code, timeout=WAIT)
    assert VI("Next ▶️") in agencies.buttons  # the province has more agencies than one page holds
    prompt = await choose_agency(office.receiver, agencies, target)
    assert target in prompt.content and not prompt.has_inline_keyboard
    done = await typed(office.receiver, "Địa điểm thuộc địa bàn phường bên cạnh.")
    assert done.content == VI(
        "↪️ {code} transferred. The new agency's group has the card, and the citizen is told.", code=filed.code
    )

    # The new agency's group gets a card of its own; the old one says where it went and loses its buttons.
    new_card = await office.card_of(filed.code, group=office.other_group)
    assert VI("✅ Receive") in new_card.buttons
    old = await office.card_edit(filed, VI("↪️ Transferred to {agency}", agency=target))
    assert not old.has_inline_keyboard
    told = await filed.citizen.expect(filed.code)
    assert target in told.content and "Địa điểm thuộc địa bàn phường bên cạnh." in told.content
    report = await office.report(filed.report_id)
    assert report.agency_id == office.other_agency_id and report.state == State.SUBMITTED

    # XA-01's receiver has no rights on it any more, even with the old button.
    old_receive = filed.card.button(VI("✅ Receive")).callback_data
    assert old_receive is not None
    stale = await office.in_group(office.receiver).press_stale(filed.card, old_receive)
    assert (await stale.answer()).text == refused(RefusalReason.OTHER_AGENCY)
    # XA-02's receiver takes it in their own group.
    moved = Filed(filed.citizen, filed.code, filed.report_id, new_card)
    answer = await office.press_card(office.other_receiver, moved, VI("✅ Receive"), group=office.other_group)
    assert answer.text == VI("📥 {code} received. Assign it from the card.", code=filed.code)
    assert (await office.report(filed.report_id)).state == State.RECEIVED
    # The next press must be on the card as the receipt left it, not on the buttons it replaced.
    await office.card_edit(moved, VI(CARD_STATE_LABELS[State.RECEIVED]), group=office.other_group)

    # On to XA-03, which has bound no group: its receiving officer hears of it privately and acts from
    # there; its handling officer hears nothing.
    async def xa03(role: Role, name: str, nickname: str) -> Person:
        return await onboard(office.bot, office.settings, capsys, office.emu, "XA-03", role, name, nickname)

    screener = await xa03(Role.RECEIVING_OFFICER, "Ngô Thị Hạnh", "Hạnh")
    worker = await xa03(Role.HANDLING_OFFICER, "Đinh Văn Khoa", "Khoa")
    async with office.bot.deps.sessions() as session:
        third = await session.scalar(select(Agency).where(Agency.code == "XA-03"))
    assert third is not None
    await office.press_card(office.other_receiver, moved, VI("↪️ Transfer"), group=office.other_group)
    agencies = await office.other_receiver.chat.expect(contains=filed.code, timeout=WAIT)
    await choose_agency(office.other_receiver, agencies, third.name_vi)
    await typed(office.other_receiver, "Điểm đổ rác thuộc địa bàn xã Hòa Bình Thượng.")
    told = await screener.chat.expect(contains=filed.code, timeout=WAIT)
    assert "Điểm đổ rác thuộc địa bàn xã Hòa Bình Thượng." in told.content
    view = await office.open_work(screener, told, filed.code)
    await screener.chat.press(view, VI("✅ Receive"))
    assert (await screener.chat.expect_callback_answer()).text == VI(
        "📥 {code} received. Assign it from the card.", code=filed.code
    )
    report = await office.report(filed.report_id)
    assert (report.agency_id, report.state) == (third.id, State.RECEIVED)
    await worker.chat.expect_no_message(within=0.3)


# --- handling: coordination, return, evidence ----------------------------------------------------------


async def test_a_coordination_request_and_its_answer(office: Office) -> None:
    filed = await office.file_report()
    await office.receive(filed)
    task = await office.assign(filed)
    view = await office.open_work(office.handler, task, filed.code)
    await office.handler.chat.press(view, VI("🤝 Coordination request"))
    agencies = await office.handler.chat.expect(contains=filed.code, timeout=WAIT)
    prompt = await choose_agency(office.handler, agencies, await other_agency_name(office))
    assert "/cancel" in prompt.content
    sent = await typed(office.handler, "Đề nghị cho biết mương đầu ngõ 12 thuộc địa bàn nào quản lý?")
    assert sent.content == VI(
        "🤝 Your request about {code} was sent. The answer will come to you here and show on the card.", code=filed.code
    )
    waiting = await office.card_edit(
        filed, VI("🤝 Coordination: {open} waiting, {answered} answered", open=1, answered=0)
    )
    assert VI(CARD_STATE_LABELS[State.ASSIGNED]) in waiting.content

    # XA-02's group gets the request; its official answers privately.
    request = await office.other_group.expect(contains="mương đầu ngõ 12", timeout=WAIT)
    assert HANDLER in request.content and filed.code in request.content
    press = await office.in_group(office.other_receiver, office.other_group).press(request, VI("💬 Answer"))
    assert (await press.answer()).text == VI(WROTE_PRIVATELY)
    await office.other_receiver.chat.expect(contains="/cancel", timeout=WAIT)
    answered = await typed(office.other_receiver, "Mương thuộc phường Hòa Bình quản lý; chúng tôi sẽ phối hợp nạo vét.")
    assert answered.content == VI(
        "🤝 Your answer was added to report {code} and sent to its handling officer.", code=filed.code
    )

    # The answer lands on the report: the handler hears of it and the card shows it.
    heard = await office.handler.chat.expect(contains="chúng tôi sẽ phối hợp nạo vét", timeout=WAIT)
    assert VI("🛠 Open the report") in heard.buttons
    card = await office.card_edit(filed, VI("🤝 Coordination: {open} waiting, {answered} answered", open=0, answered=1))
    assert (
        VI("🤝 Coordination answer: {text}", text="Mương thuộc phường Hòa Bình quản lý; chúng tôi sẽ phối hợp nạo vét.")
        in card.content
    )
    assert await kinds(office, filed.report_id) == [
        Action.SUBMIT,
        Action.RECEIVE,
        Action.ASSIGN,
        Action.COORDINATE,
        Action.COORDINATION_ANSWER,
    ]

    # A second press on the answered request says who answered and when.
    again = await office.in_group(office.other_receiver, office.other_group).press(request, VI("💬 Answer"))
    async with office.bot.deps.sessions() as session:
        row = await session.scalar(select(CoordinationRequest))
    assert row is not None and row.answered_at is not None
    assert (await again.answer()).text == VI(
        "This request was already answered by {name} at {time}.",
        name=OTHER_RECEIVER,
        time=when(row.answered_at, VI, office.settings.zone),
    )


async def test_the_head_returns_a_result_and_the_handler_resubmits(office: Office) -> None:
    filed = await office.file_report()
    await office.receive(filed)
    task = await office.assign(filed)
    await office.submit_result(filed, "Đã nhắc nhở hộ dân.", photos=[images.jpeg(seed=91)], task=task)

    answer = await office.press_card(office.head, filed, VI("↩️ Return"))
    assert answer.text == VI(WROTE_PRIVATELY)
    await office.head.chat.expect(contains="/cancel", timeout=WAIT)
    done = await typed(office.head, "Cần ảnh hiện trường sau khi thu gom, không chỉ nhắc nhở.")
    assert done.content == VI(
        "↩️ The result of {code} was returned to the handling officer with your comment.", code=filed.code
    )
    returned = await office.handler.chat.expect(contains="Cần ảnh hiện trường", timeout=WAIT)
    assert VI("🛠 Open the report") in returned.buttons
    card = await office.card_edit(filed, VI(CARD_STATE_LABELS[State.ASSIGNED]))
    assert (
        VI("↩️ Returned by the head: {text}", text="Cần ảnh hiện trường sau khi thu gom, không chỉ nhắc nhở.")
        in card.content
    )

    await office.submit_result(
        filed,
        "Đã thu gom rác, ảnh hiện trường kèm theo.",
        photos=[images.jpeg(seed=92), images.jpeg(seed=93)],
        task=returned,
    )
    await office.approve(filed)
    result = await filed.citizen.expect_buttons(VI("😊 Satisfied"))
    assert "Đã thu gom rác, ảnh hiện trường kèm theo." in result.content
    assert "Đã nhắc nhở hộ dân." not in result.content
    assert await kinds(office, filed.report_id) == [
        Action.SUBMIT,
        Action.RECEIVE,
        Action.ASSIGN,
        Action.SUBMIT_RESULT,
        Action.RETURN,
        Action.SUBMIT_RESULT,
        Action.APPROVE,
    ]


async def test_a_result_without_evidence_is_refused(office: Office) -> None:
    filed = await office.file_report()
    await office.receive(filed)
    task = await office.assign(filed)
    await office.start_result(filed, task=task)
    status = await typed(office.handler, "Đã xử lý xong.")
    assert VI("✅ Send for approval") not in status.buttons
    # An old or forged "Send for approval" press is refused by the workflow, and nothing changes.
    press = await office.handler.chat.press_stale(status, f"cw:sb:{filed.report_id}")
    answer = await press.answer()
    assert answer.text == VI(MISSING_TEXTS[Need.EVIDENCE]) and answer.show_alert
    report = await office.report(filed.report_id)
    assert report.state == State.ASSIGNED
    assert Action.SUBMIT_RESULT not in await kinds(office, filed.report_id)
    # The result being gathered is kept: one photo later it goes.
    await office.handler.chat.send_photo(images.jpeg(seed=95))
    status = await office.handler.chat.expect(lambda m: VI("✅ Send for approval") in m.buttons, timeout=WAIT)
    await office.handler.chat.press(status, VI("✅ Send for approval"))
    await office.card_edit(filed, VI(CARD_STATE_LABELS[State.PENDING_APPROVAL]))


# --- who may press ---------------------------------------------------------------------------------


async def test_strangers_other_agencies_and_wrong_roles_are_refused(office: Office, capsys) -> None:
    filed = await office.file_report()
    edits = len(office.group.edits_of(filed.card))
    for person, label, reason in (
        (office.stranger, "✅ Receive", RefusalReason.NOT_AN_OFFICIAL),
        (office.stranger, "📞 Contact", RefusalReason.NOT_AN_OFFICIAL),
        (office.other_receiver, "✅ Receive", RefusalReason.OTHER_AGENCY),
        (office.other_receiver, "⛔ Reject", RefusalReason.OTHER_AGENCY),
        (office.handler, "✅ Receive", RefusalReason.MISSING_ROLE),
        (office.admin, "↪️ Transfer", RefusalReason.MISSING_ROLE),
    ):
        answer = await office.press_card(person, filed, VI(label))
        assert answer.text == refused(reason), (person, label)
        assert answer.show_alert

    receiver = await office.official(RECEIVER)
    assert "suspended" in await admin(
        office.settings, capsys, "suspend", "--official", str(receiver.id), "--reason", "lost phone"
    )
    answer = await office.press_card(office.receiver, filed, VI("✅ Receive"))
    assert answer.text == refused(RefusalReason.SUSPENDED)

    # Nothing changed: no event, no card edit, nothing sent privately to anyone who pressed.
    assert await kinds(office, filed.report_id) == [Action.SUBMIT]
    report = await office.report(filed.report_id)
    assert report.state == State.SUBMITTED and report.version == 1
    await asyncio.sleep(0.3)
    assert len(office.group.edits_of(filed.card)) == edits
    for person in (office.stranger, office.other_receiver, office.handler, office.admin):
        assert not any(filed.code in m.content for m in person.chat.bot_messages)
    ids = {
        p: str(p.user.id)
        for p in (office.stranger, office.other_receiver, office.handler, office.admin, office.receiver)
    }
    assert await refusals(office) == [
        (ids[office.stranger], "not_an_official"),
        (ids[office.stranger], "not_an_official"),
        (ids[office.other_receiver], "other_agency"),
        (ids[office.other_receiver], "other_agency"),
        (ids[office.handler], "missing_role"),
        (ids[office.admin], "missing_role"),
        (ids[office.receiver], "suspended"),
    ]

    # A handling officer works only on what is assigned to them.
    await office.receive(filed, office.head)
    task = await office.assign(filed, HANDLER, by=office.head)
    press = await office.handler2.chat.press_stale(await typed(office.handler2, "/queue"), f"cw:op:{filed.report_id}")
    assert (await press.answer()).text == VI(NOT_ASSIGNED_TO_YOU)
    press = await office.handler2.chat.press_stale(office.handler2.chat.bot_messages[-1], f"cw:rs:{filed.report_id}")
    assert (await press.answer()).text == VI(NOT_ASSIGNED_TO_YOU)
    assert task is not None


async def test_buttons_do_nothing_in_a_group_not_bound_to_an_agency(office: Office) -> None:
    filed = await office.file_report()
    loose = office.emu.add_group("Nhóm riêng", members=[office.receiver.user], added_by=office.receiver.user)
    hello = await loose.expect(timeout=WAIT)
    press = await loose.press_stale(hello, f"rc:rcv:{filed.report_id}:1")
    assert (await press.answer()).text == VI(NOT_BOUND)
    assert await kinds(office, filed.report_id) == [Action.SUBMIT]


async def test_a_stale_press_says_who_acted_and_when(office: Office) -> None:
    filed = await office.file_report()
    old = filed.card.button(VI("✅ Receive")).callback_data
    await office.receive(filed)
    press = await office.in_group(office.head).press_stale(filed.card, old)
    answer = await press.answer()
    [received] = [e for e in await events(office, filed.report_id) if e.kind == Action.RECEIVE]
    assert answer.text == VI(
        "Already received by {name} at {time}.", name=RECEIVER, time=when(received.at, VI, office.settings.zone)
    )
    # The same for a choice made from an old private list after someone else assigned it.
    await office.press_card(office.receiver, filed, VI("👤 Assign"))
    choice = await office.receiver.chat.expect(lambda m: HANDLER in m.buttons, timeout=WAIT)
    await office.assign(filed, HANDLER_2, by=office.head)
    await office.receiver.chat.press(choice, HANDLER)
    answer = await office.receiver.chat.expect_callback_answer()
    [assigned] = [e for e in await events(office, filed.report_id) if e.kind == Action.ASSIGN]
    assert answer.text == VI(
        "Already assigned by {name} at {time}.", name=HEAD, time=when(assigned.at, VI, office.settings.zone)
    )
    assert (await office.report(filed.report_id)).assignee_id == (await office.official(HANDLER_2)).id


async def test_two_receive_presses_at_once_make_one_transition(office: Office) -> None:
    filed = await office.file_report()
    data = filed.card.button(VI("✅ Receive")).callback_data
    assert data is not None
    first = await office.in_group(office.receiver).press_stale(filed.card, data)
    second = await office.in_group(office.head).press_stale(filed.card, data)
    answers = [(await first.answer()).text, (await second.answer()).text]
    [received] = [e for e in await events(office, filed.report_id) if e.kind == Action.RECEIVE]
    winner = RECEIVER if received.actor_user_id == (await office.official(RECEIVER)).user_id else HEAD
    won = VI("📥 {code} received. Assign it from the card.", code=filed.code)
    lost = VI("Already received by {name} at {time}.", name=winner, time=when(received.at, VI, office.settings.zone))
    assert sorted(answers) == sorted([won, lost])
    report = await office.report(filed.report_id)
    assert report.state == State.RECEIVED and report.version == 2


# --- the contact, the timeline, /queue ---------------------------------------------------------------


async def test_revealing_the_contact_is_private_and_on_the_timeline(office: Office) -> None:
    filed = await office.file_report()
    group_before = len(office.group.bot_messages)
    edits_before = len(office.group.edits_of(filed.card))
    answer = await office.press_card(office.receiver, filed, VI("📞 Contact"))
    assert answer.text == VI(WROTE_PRIVATELY)
    contact = await office.receiver.chat.expect(contains=filed.code, timeout=WAIT)
    assert filed.citizen.full_name in contact.content and "+84912345678" in contact.content
    # Never in the group.
    await asyncio.sleep(0.3)
    assert all(
        "+84912345678" not in m.content and filed.citizen.full_name not in m.content for m in office.group.bot_messages
    )
    assert len(office.group.bot_messages) == group_before
    assert len(office.group.edits_of(filed.card)) == edits_before  # a look changes nothing on the card
    [revealed] = [e for e in await events(office, filed.report_id) if e.kind == Action.REVEAL_CONTACT]
    assert revealed.actor_user_id == (await office.official(RECEIVER)).user_id and not revealed.public

    # The timeline shows who looked.
    await office.press_card(office.head, filed, VI("📜 Timeline"))
    timeline = await office.head.chat.expect(contains=filed.code, timeout=WAIT)
    assert VI(OFFICIAL_EVENT_LABELS[Action.REVEAL_CONTACT]) in timeline.content and RECEIVER in timeline.content

    # Someone who blocked the bot is told to open it; nothing is revealed to them.
    office.emu.block(office.head.user)
    answer = await office.press_card(office.head, filed, VI("📜 Timeline"))
    assert answer.text == VI(OPEN_BOT_FIRST) and answer.show_alert


async def test_queue_lists_what_waits_oldest_deadline_first(office: Office) -> None:
    office.clock.offset = timedelta(days=7)
    later = await office.file_report()
    office.clock.offset = timedelta(0)
    citizen = later.citizen
    sooner = await office.file_report(citizen)
    received = await office.file_report(citizen)
    await office.receive(received)
    async with office.bot.deps.sessions() as session:
        dues = dict((await session.execute(select(Report.code, Report.due_at))).all())
    assert dues[sooner.code] < dues[later.code]

    listing = await typed(office.receiver, "/queue")
    lines = listing.content.splitlines()[1:]
    order = [next(code for code in dues if code in line) for line in lines]
    assert order == sorted(dues, key=lambda code: dues[code])
    assert VI(TASK_LABELS[Task.ASSIGN]) in lines[order.index(received.code)]

    # A button opens the report privately with the card's own buttons, which act as in the group.
    view = await office.open_work(office.receiver, listing, sooner.code)
    assert VI("✅ Receive") in view.buttons
    await office.receiver.chat.press(view, VI("✅ Receive"))
    assert (await office.receiver.chat.expect_callback_answer()).text == VI(
        "📥 {code} received. Assign it from the card.", code=sooner.code
    )
    await office.card_edit(sooner, VI(CARD_STATE_LABELS[State.RECEIVED]))

    # The handler's queue holds what is assigned to them; a stranger has none.
    await office.assign(received)
    mine = await typed(office.handler, "/queue")
    assert received.code in mine.content and sooner.code not in mine.content
    nothing = await typed(office.stranger, "/queue")
    assert nothing.content == refused(RefusalReason.NOT_AN_OFFICIAL)
    async with office.bot.deps.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(ReportEvent).where(ReportEvent.kind == Action.RECEIVE)
        )
    assert count == 2


async def test_reassigning_moves_the_work_to_the_colleague(office: Office) -> None:
    filed = await office.file_report()
    await office.receive(filed)
    await office.assign(filed, HANDLER)
    # While it is handled, the card offers reassignment.
    assert VI("👤 Reassign") in office.current_card(filed).buttons
    task = await office.assign(filed, HANDLER_2)
    assert VI("🛠 Open the report") in task.buttons
    gone = await office.handler.chat.expect(contains=filed.code, timeout=WAIT)
    assert gone.content == VI("Report {code} is no longer assigned to you.", code=filed.code)
    report = await office.report(filed.report_id)
    assert report.assignee_id == (await office.official(HANDLER_2)).id and report.state == State.ASSIGNED
    assert await kinds(office, filed.report_id) == [Action.SUBMIT, Action.RECEIVE, Action.ASSIGN, Action.REASSIGN]


async def test_the_agency_answers_a_clarification_from_the_card(office: Office) -> None:
    filed = await office.resolve()
    result = await filed.citizen.expect_buttons(VI("❔ Ask for clarification"))
    await filed.citizen.chat.press(result, VI("❔ Ask for clarification"))
    await filed.citizen.expect("/cancel")
    await filed.citizen.chat.send_text("Mương đã được khơi thông đến đoạn nào?")
    card = await office.card_edit(filed, VI(CARD_STATE_LABELS[State.CLARIFYING]))
    assert VI("💬 Answer the clarification") in card.buttons

    answer = await office.press_card(office.head, filed, VI("💬 Answer the clarification"))
    assert answer.text == VI(WROTE_PRIVATELY)
    prompt = await office.head.chat.expect(contains="/cancel", timeout=WAIT)
    assert "Mương đã được khơi thông đến đoạn nào?" in prompt.content
    done = await typed(office.head, "Đã khơi thông toàn bộ 50 m mương đầu ngõ 12.")
    assert done.content == VI("💬 Your answer about {code} was sent to the citizen.", code=filed.code)
    told = await filed.citizen.expect("Đã khơi thông toàn bộ 50 m")
    assert VI("😊 Satisfied") in told.buttons
    await office.card_edit(filed, VI(CARD_STATE_LABELS[State.RESOLVED]))
    assert (await kinds(office, filed.report_id))[-2:] == [Action.ASK_CLARIFICATION, Action.ANSWER_CLARIFICATION]


async def test_marking_an_assigned_report_urgent_brings_its_deadline_forward(office: Office) -> None:
    filed = await office.file_report()
    await office.receive(filed)
    await office.assign(filed)
    seven_days = (await office.report(filed.report_id)).due_at
    # A handling officer may not decide urgency (003 Art. 9.2 leaves it to the receiving agency).
    refused = await office.press_card(office.handler, filed, VI("🚨 Mark urgent"))
    assert refused.text == refusal_text(Refusal(RefusalReason.MISSING_ROLE), VI)
    assert not (await office.report(filed.report_id)).urgent
    answer = await office.press_card(office.receiver, filed, VI("🚨 Mark urgent"))
    assert answer.text == VI("🚨 {code} is marked urgent: {hours} working hours to handle.", code=filed.code, hours="4")
    card = await office.card_edit(filed, VI("🚨 URGENT: {hours} working hours to handle", hours="4"))
    assert VI("🚨 Mark urgent") not in card.buttons
    report = await office.report(filed.report_id)
    assert report.urgent and report.due_at is not None and seven_days is not None and report.due_at < seven_days
    assert await kinds(office, filed.report_id) == [Action.SUBMIT, Action.RECEIVE, Action.ASSIGN, Action.MARK_URGENT]


# --- the card follows the agency's group ------------------------------------------------------------


async def test_after_a_group_becomes_a_supergroup_one_card_there_follows_the_report(office: Office) -> None:
    filed = await office.file_report()
    people = (office.admin, office.receiver, office.handler, office.handler2, office.head)
    supergroup = office.emu.add_group("Cán bộ phường 1", members=[p.user for p in people], supergroup=True)
    office.emu.inject_update(
        "message",
        {
            "message_id": 999,
            "from": office.admin.user.json,
            "chat": office.group.chat.json,
            "date": 0,
            "migrate_to_chat_id": supergroup.id,
        },
    )
    await eventually(
        office.bot,
        lambda session: session.scalar(select(GroupBinding.chat_id).where(GroupBinding.agency_id == office.agency_id)),
        str(supergroup.id),
    )
    old_edits = len(office.group.edits_of(filed.card))

    # The old group is gone; the receiver receives from their /queue, and the card comes to the supergroup.
    view = await office.open_work(office.receiver, await typed(office.receiver, "/queue"), filed.code)
    await office.receiver.chat.press(view, VI("✅ Receive"))
    await office.receiver.chat.expect_callback_answer()
    card = await office.card_of(filed.code, group=supergroup)
    assert VI(CARD_STATE_LABELS[State.RECEIVED]) in card.content
    moved = Filed(filed.citizen, filed.code, filed.report_id, card)

    # Every later step edits that card in place, whichever group it was first posted in.
    await office.press_card(office.receiver, moved, VI("👤 Assign"), group=supergroup)
    choice = await office.receiver.chat.expect(lambda m: HANDLER in m.buttons, timeout=WAIT)
    await office.receiver.chat.press(choice, HANDLER)
    await office.card_edit(moved, HANDLER, group=supergroup)
    await office.press_card(office.head, moved, VI("🚨 Mark urgent"), group=supergroup)
    await office.card_edit(moved, VI("🚨 URGENT: {hours} working hours to handle", hours="4"), group=supergroup)
    assert len(card_messages(office, filed, supergroup)) == 1
    assert len(office.group.edits_of(filed.card)) == old_edits
