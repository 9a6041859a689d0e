"""The citizen's side after the agency acts, end to end through the emulator.

The officials bring each report where the test needs it with their own buttons
(tests/officials_driver.py): asking for more information, a result with an
evidence photo, answering a clarification. The citizen answers with the
buttons of the step messages, the prompts and typed texts (bot/conversation/followup.py).
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import select

from bot.conversation import followup
from bot.domain.workflow import Action, Rating, State
from bot.emulators.telegram import MessageView
from storage.models import Agency, PendingInput, ReportEvent
from tests import images
from tests.citizen import Citizen
from tests.officials_driver import (  # noqa: F401  (fixtures, used by name)
    HANDLER,
    HEAD,
    RECEIVER,
    VI,
    Filed,
    Office,
    clock_fixture,
    fast_bot_fixture,
    office_fixture,
)
from tests.officials_world import Person

QUESTION = "Xin cho biết số nhà cụ thể nơi đổ rác."
ANSWER = "Trước số nhà 12, ngõ 34 đường Lê Lợi."
RESULT = "Đã thu gom toàn bộ rác và nhắc nhở hộ dân."
CLARIFY = "Rác được thu gom vào ngày nào?"
CLARIFIED = "Ngày 24/11, đội vệ sinh phường thu gom."
REASON = "Rác lại bị đổ ở chỗ cũ, chưa được xử lý dứt điểm."

_evidence_seeds = itertools.count(5000)


async def agency_vi(office: Office) -> str:
    async with office.bot.deps.sessions() as session:
        agency = await session.get(Agency, office.agency_id)
    assert agency is not None
    return agency.name_vi


def rating_label(rating: Rating) -> str:
    return VI(followup.RATING_LABELS[rating])


async def wait_for_buttons(office: Office, citizen: Citizen, message: MessageView, wanted: list[str]) -> None:
    """The message's buttons become `wanted` (the bot edits them after the press)."""
    await office.emu.wait_until(lambda: citizen.chat.message(message).buttons == wanted)


async def to_resolved(office: Office, filed: Filed) -> MessageView:
    """Received (unless re-opened), assigned, handled with an evidence photo and approved, all from the
    officials' buttons; the citizen's result message."""
    if (await office.report(filed.report_id)).state == State.SUBMITTED:
        await office.receive(filed)
    task = await office.assign(filed, HANDLER)
    await office.submit_result(filed, RESULT, photos=[images.jpeg(seed=next(_evidence_seeds))], task=task)
    await office.approve(filed)
    return await filed.citizen.expect_buttons(rating_label(Rating.SATISFIED))


async def official_types(office: Office, person: Person, filed: Filed, button: str, text: str) -> None:
    """An official presses a card button that asks for words, and types them in their private chat."""
    await office.press_card(person, filed, button)
    await person.chat.expect(contains="/cancel", timeout=10)
    await person.chat.send_text(text)
    await person.chat.expect(contains=filed.code, timeout=10)


async def press(citizen: Citizen, message: MessageView, label: str) -> MessageView:
    """Press a button; the press is answered at once, and the bot's next message is returned."""
    pressed = await citizen.chat.press(message, label)
    assert (await pressed.answer()).text is None
    return await citizen.expect(edited=False)


async def test_the_citizen_answers_a_request_for_information(office: Office) -> None:
    filed = await office.file_report()
    citizen = filed.citizen
    await official_types(office, office.receiver, filed, VI("❔ Ask for information"), QUESTION)
    asked = await citizen.expect_buttons(VI("✍️ Answer"))
    assert QUESTION in asked.content
    await office.card_edit(filed, VI("❔ Asked of the citizen: {text}", text=QUESTION))

    agency = await agency_vi(office)
    prompt = await press(citizen, asked, VI("✍️ Answer"))
    assert prompt.content == VI(followup.INFO_PROMPT, agency=agency, code=filed.code, question=QUESTION)
    # A photo is not an answer; the question stays open.
    await citizen.chat.send_photo(images.jpeg(seed=7))
    assert (await citizen.expect(edited=False)).content == VI(followup.TEXT_ONLY)
    await citizen.chat.send_text(ANSWER)
    assert (await citizen.expect(edited=False)).content == VI(followup.INFO_SENT, agency=agency, code=filed.code)

    # The answer lands on the agency's card, which is back to screening.
    card = await office.card_edit(filed, VI("💬 The citizen answered: {text}", text=ANSWER))
    assert VI("✅ Receive") in card.buttons
    report = await office.report(filed.report_id)
    assert report.state == State.SUBMITTED
    async with office.bot.deps.sessions() as session:
        event = await session.scalar(
            select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id.desc()).limit(1)
        )
        assert event is not None and event.kind == Action.PROVIDE_INFO and event.details["answer"] == ANSWER
        assert await session.scalar(select(PendingInput)) is None

    # The answered question's button is gone; pressed from an old copy, it explains.
    await wait_for_buttons(office, citizen, asked, [])
    late = await citizen.chat.press_stale(asked, followup.callback(followup.ANSWER, filed.report_id))
    await late.answer()
    assert (await citizen.expect(edited=False)).content == VI(
        followup.MOVED_ON, code=filed.code, state=VI("⏳ waiting to be received")
    )
    # The next text is the citizen's own again, not an answer.
    await citizen.chat.send_text("xin chào")
    assert (await citizen.expect(edited=False)).content != VI(followup.INFO_SENT, agency=agency, code=filed.code)
    assert (await office.report(filed.report_id)).version == report.version


async def test_result_clarification_and_rating_close_the_report(office: Office) -> None:
    filed = await office.file_report()
    citizen = filed.citizen
    result = await to_resolved(office, filed)
    assert RESULT in result.content and result.photo, "the result comes with its evidence photo"
    ratings = [rating_label(r) for r in Rating]
    assert result.buttons == [*ratings, VI("❔ Ask for clarification")]
    agency = await agency_vi(office)

    # Re-opening needs an unsatisfied rating first: an old or crafted re-open press is refused,
    # opens no prompt and changes nothing.
    before = await office.report(filed.report_id)
    crafted = await citizen.chat.press_stale(result, followup.callback(followup.REOPEN, filed.report_id))
    assert (await crafted.answer()).text is None
    refused = await citizen.expect(edited=False)
    assert refused.content == VI(followup.REOPEN_ONLY_UNSATISFIED, code=filed.code)
    after = await office.report(filed.report_id)
    assert (after.state, after.version, after.reopen_count) == (State.RESOLVED, before.version, 0)
    async with office.bot.deps.sessions() as session:
        assert await session.scalar(select(PendingInput)) is None
    assert citizen.chat.message(result).buttons == result.buttons

    prompt = await press(citizen, result, VI("❔ Ask for clarification"))
    assert prompt.content == VI(followup.CLARIFY_PROMPT, agency=agency, code=filed.code)
    await citizen.chat.send_text(CLARIFY)
    assert (await citizen.expect(edited=False)).content == VI(followup.CLARIFY_SENT, agency=agency, code=filed.code)
    # Asked once: the question button goes, the rating stays.
    await wait_for_buttons(office, citizen, result, ratings)

    # The agency sees the question on the card, and the handling officer is told.
    card = await office.card_edit(filed, VI("❔ The citizen asks: {text}", text=CLARIFY))
    assert VI("💬 Answer the clarification") in card.buttons
    await office.handler.chat.expect(contains=CLARIFY, timeout=10)
    assert (await office.report(filed.report_id)).state == State.CLARIFYING

    await official_types(office, office.head, filed, VI("💬 Answer the clarification"), CLARIFIED)
    answered = await citizen.expect_buttons(rating_label(Rating.SATISFIED))
    assert CLARIFIED in answered.content and answered.buttons == ratings

    thanks = await press(citizen, answered, rating_label(Rating.SATISFIED))
    assert thanks.content == VI(followup.RATED, code=filed.code, rating=rating_label(Rating.SATISFIED))
    assert not thanks.has_inline_keyboard
    await wait_for_buttons(office, citizen, answered, [])
    report = await office.report(filed.report_id)
    assert (report.state, report.rating, report.unsatisfied_count) == (State.CLOSED, Rating.SATISFIED, 0)
    await office.card_edit(filed, VI("🏁 closed"))

    # A second rating, from the result's own buttons, is not taken.
    again = await press(citizen, result, rating_label(Rating.UNSATISFIED))
    assert again.content == VI(followup.ALREADY_RATED, code=filed.code, rating=rating_label(Rating.SATISFIED))
    await wait_for_buttons(office, citizen, result, [])
    after = await office.report(filed.report_id)
    assert (after.rating, after.version, after.unsatisfied_count) == (Rating.SATISFIED, report.version, 0)


async def test_an_unsatisfied_citizen_reopens_the_report(office: Office) -> None:
    filed = await office.file_report()
    citizen = filed.citizen
    agency = await agency_vi(office)
    for round_ in (1, 2):
        result = await to_resolved(office, filed)
        thanks = await press(citizen, result, rating_label(Rating.UNSATISFIED))
        assert thanks.content == (
            VI(followup.RATED, code=filed.code, rating=rating_label(Rating.UNSATISFIED))
            + "\n\n"
            + VI(followup.REOPEN_OFFER)
        )
        assert thanks.buttons == [VI("🔁 Re-open")]
        prompt = await press(citizen, thanks, VI("🔁 Re-open"))
        assert prompt.content == VI(followup.REOPEN_PROMPT, code=filed.code, agency=agency)
        await citizen.chat.send_text(f"{REASON} (lần {round_})")
        assert (await citizen.expect(edited=False)).content == VI(followup.REOPENED, code=filed.code, agency=agency)
        await wait_for_buttons(office, citizen, thanks, [])

        # Back to the agency's queue, with the dissatisfaction counted (003 Art. 9.3).
        report = await office.report(filed.report_id)
        assert (report.state, report.assignee_id, report.rating) == (State.RECEIVED, None, None)
        assert (report.unsatisfied_count, report.reopen_count) == (round_, round_)
        card = await office.card_edit(filed, VI("🔁 Re-opened by the citizen: {text}", text=f"{REASON} (lần {round_})"))
        assert VI("😞 Unsatisfied: {n} times", n=round_) in card.content
        assert VI("👤 Assign") in card.buttons


async def test_clarification_after_two_days_is_refused(office: Office) -> None:
    filed = await office.file_report()
    citizen = filed.citizen
    result = await to_resolved(office, filed)
    resolved_at = (await office.report(filed.report_id)).resolved_at
    assert resolved_at is not None

    # Pressed in time, written too late: the question is not sent.
    office.clock.offset = timedelta(days=1, hours=23)
    prompt = await press(citizen, result, VI("❔ Ask for clarification"))
    assert filed.code in prompt.content
    office.clock.offset = timedelta(days=2, minutes=1)
    await citizen.chat.send_text(CLARIFY)
    too_late = VI(followup.CLARIFY_TOO_LATE, code=filed.code, when=VI.datetime(resolved_at, office.settings.zone))
    assert (await citizen.expect(edited=False)).content == too_late + "\n" + VI(followup.NOT_SENT)

    refused = await press(citizen, result, VI("❔ Ask for clarification"))
    assert refused.content == too_late
    ratings = [rating_label(r) for r in Rating]
    await wait_for_buttons(office, citizen, result, ratings)
    report = await office.report(filed.report_id)
    assert report.state == State.RESOLVED

    # Rating is still open to them, also from the report's page in /myreports.
    await citizen.chat.send_text("/myreports")
    listing = await citizen.chat.expect(lambda m: any(filed.code in b for b in m.buttons), edited=False)
    await citizen.chat.press(listing, listing.buttons[0])
    page = await citizen.chat.expect(lambda m: m.has_inline_keyboard and filed.code in m.content, edited=False)
    back = VI("📋 Back to my reports")
    assert page.buttons == [*ratings, back]
    thanks = await press(citizen, page, rating_label(Rating.NORMAL))
    assert thanks.content == VI(followup.RATED, code=filed.code, rating=rating_label(Rating.NORMAL))
    assert (await office.report(filed.report_id)).state == State.CLOSED
    await wait_for_buttons(office, citizen, page, [back])


async def test_only_the_reports_citizen_may_use_its_buttons(office: Office) -> None:
    filed = await office.file_report()
    result = await to_resolved(office, filed)
    before = await office.report(filed.report_id)
    neighbour = await office.new_citizen("Hoa", "Trần Thị", phone="+84987654321")
    # As from a forwarded copy of the result: the same callback data, pressed by someone else.
    for chat in (neighbour.chat, office.receiver.chat):
        for data in (
            followup.callback(followup.RATE, filed.report_id, Rating.UNSATISFIED),
            followup.callback(followup.CLARIFY, filed.report_id),
            followup.callback(followup.REOPEN, filed.report_id),
            followup.callback(followup.ANSWER, filed.report_id),
        ):
            message = chat.last_bot_message
            assert message is not None
            pressed = await chat.press_stale(message, data)
            assert (await pressed.answer()).text is None
            reply = await chat.expect(contains=VI(followup.NOT_YOURS), timeout=10)
            assert reply.content == VI(followup.NOT_YOURS)
    # Nothing changed, and no question was opened for them.
    after = await office.report(filed.report_id)
    assert (after.state, after.version, after.rating) == (before.state, before.version, None)
    async with office.bot.deps.sessions() as session:
        assert (await session.scalars(select(PendingInput))).all() == []
    assert filed.citizen.chat.message(result).buttons == result.buttons

    # A button naming no report, or forged, is refused too.
    message = neighbour.chat.last_bot_message
    assert message is not None
    for data in ("fu:rt:999999:satisfied", f"fu:rt:{filed.report_id}:great", "fu:xx:1"):
        pressed = await neighbour.chat.press_stale(message, data)
        await pressed.answer()
        assert (await neighbour.expect(edited=False)).content == VI(followup.INACTIVE)
