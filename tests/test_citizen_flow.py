"""The citizen's flow end to end: the real bot, driven through the Bot API emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.cli.sandbox import Sandbox, province_file, running_bot
from bot.conversation import followup
from bot.conversation.drafting import DESCRIBE_PROMPT, EMERGENCY_SAID, PLACE_PROMPT
from bot.conversation.onboarding import privacy_notice
from bot.conversation.settings import HELP
from bot.domain import cards, casework
from bot.domain.cards import render_card
from bot.domain.drafts import DraftContent
from bot.domain.routing import RouteKind
from bot.domain.workflow import Action, State
from bot.emulators.telegram import BotApiEmulator
from bot.i18n import translator
from storage.models import Agency, Draft, Report, ReportEvent, ReportPhoto, User
from storage.models.officials import Role
from tests import images
from tests.citizen import IN_WARD, Citizen
from tests.officials_world import Clock
from tests.places import EAST_OF_XA_08, FOREST
from tests.reminder_world import _person, a_quiet_wednesday

VI = translator("vi")
EN = translator("en")


async def _one(sandbox: Sandbox, query):
    async with sandbox.deps.sessions() as session:
        return (await session.execute(query)).scalars().all()


async def test_onboarding_with_contact(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    lan = Citizen(emu)
    await lan.register()
    [user] = await _one(sandbox, select(User))
    assert user.full_name == "Nguyễn Thị Lan"
    assert user.phone == "+84912345678" and user.phone_verified
    assert user.consent_at is not None and user.language == "vi"
    # The privacy notice says what is stored and that identity may stay private.
    assert lan.chat.bot_messages[1].content == privacy_notice(VI)


async def test_typed_phone_is_unverified_and_bad_numbers_are_refused(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    c = Citizen(emu)
    await c.chat.send_text("/start")
    notice = await c.expect_buttons(VI("✅ I agree"))
    await c.chat.press(notice, VI("✅ I agree"))
    await c.expect(VI("Please type your full name as on your ID card."))
    await c.chat.send_text("Lan 123")
    await c.expect(VI("A name has letters only, without digits or symbols. Please type your full name."))
    await c.chat.send_text("Trần Văn Bình")
    await c.chat.expect(lambda m: m.keyboard is not None and not m.has_inline_keyboard)
    await c.chat.send_contact("+84987654321", own=False, user_id=999)
    await c.expect(VI("Please share your own phone number with the button, not someone else's contact."))
    await c.chat.send_text("12345")
    await c.expect(
        VI(
            "That is not a valid Vietnamese phone number. Type it like 0912 345 678 "
            "or +84 912 345 678, or press the button to share your number."
        )
    )
    await c.chat.send_text("0912 345 678")
    done = await c.expect(VI("Registration complete. Thank you, {name}!", name="Trần Văn Bình")[:20])
    assert VI("Your typed number is marked as unverified.") in done.content
    [user] = await _one(sandbox, select(User))
    assert user.phone == "+84912345678" and not user.phone_verified


async def test_declining_says_what_remains_and_takes_no_report(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    c = Citizen(emu)
    await c.chat.send_text("/start")
    notice = await c.expect_buttons(VI("✖️ I do not agree"))
    await c.chat.press(notice, VI("✖️ I do not agree"))
    said = await c.expect("/help")
    assert "/start" in said.content and "/language" in said.content
    await c.chat.send_text("/report")
    await c.expect_buttons(VI("✅ I agree"))
    assert await _one(sandbox, select(Draft)) == []


async def test_full_report_with_location_and_album(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    lan = Citizen(emu)
    await lan.register()
    code = await lan.full_report(
        [images.jpeg(seed=1, exif_datetime="2026:11:20 08:15:00", gps=(22.57, 106.07)), images.jpeg(seed=2)]
    )
    year = datetime.now().year
    assert code == f"PA-{year}-000001"
    [report] = await _one(sandbox, select(Report))
    assert report.state == State.SUBMITTED and report.route_kind == RouteKind.POLYGON
    assert (report.latitude, report.longitude) == IN_WARD
    assert not report.identity_public
    assert report.receive_due_at is not None and report.receive_due_at > report.submitted_at
    [agency] = await _one(sandbox, select(Agency).where(Agency.id == report.agency_id))
    assert agency.code == "XA-01"
    photos = await _one(sandbox, select(ReportPhoto).order_by(ReportPhoto.position))
    assert len(photos) == 2 and all(p.reused_from_report_id is None for p in photos)
    # The EXIF of the original is kept as private evidence; the display copy has none.
    assert photos[0].captured_at.startswith("2026-11-20T08:15") and photos[0].gps_latitude == pytest.approx(
        22.57, abs=1e-4
    )
    display = sandbox.deps.media.read(photos[0].display_key)
    import io

    from PIL import Image

    assert not Image.open(io.BytesIO(display)).getexif()
    [event] = await _one(sandbox, select(ReportEvent))
    assert event.kind == "submit" and event.to_state == State.SUBMITTED and event.public
    assert await _one(sandbox, select(Draft)) == []
    # The album was acknowledged once, not once per photo.
    assert sum("📷" in m.content for m in lan.chat.bot_messages) == 1
    done = lan.chat.last_bot_message
    assert agency.name_vi in done.content and code in done.content


async def test_typed_address_instead_of_location(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    c = Citizen(emu)
    await c.register()
    await c.reach_place()
    await c.chat.press_keyboard(VI("✍️ Type the address instead"))
    await c.expect(VI("Type the address: house number, street, village or quarter, commune or ward."))
    await c.chat.send_text("ngõ")
    await c.expect(
        VI("The address is too short. Please type at least {min} characters: street, village, commune.", min=10)
    )
    agency = province_commune(sandbox, 1)
    await c.chat.send_text(f"Số 5 ngõ 12, {agency}")
    ack = await c.send_photos([images.jpeg(seed=3)])
    summary = await c.keep_private(await c.done_with_photos(ack))
    assert f"Số 5 ngõ 12, {agency}" in summary.content
    await c.submit(summary)
    [report] = await _one(sandbox, select(Report))
    assert report.latitude is None and report.address == f"Số 5 ngõ 12, {agency}"
    assert report.route_kind == RouteKind.ADDRESS


def province_commune(sandbox: Sandbox, index: int) -> str:
    from storage.models.province import AgencyKind

    communes = [a for a in province_file().agencies if a.kind == AgencyKind.COMMUNE]
    return communes[index].name_vi


async def test_every_wrong_input_gets_a_prompt(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    c = Citizen(emu)
    await c.register()
    topics = await c.begin_report()
    # Topic step: text instead of a button.
    await c.chat.send_text("giao thông")
    await c.expect(VI("Please choose a topic with the buttons."))
    await c.choose_topic(topics)
    # Description step: a sticker, a voice note, a photo, too short, far too long.
    await c.chat.send_sticker()
    await c.expect(VI("Please describe the problem in a text message."))
    await c.chat.send_voice()
    await c.expect(VI("Please describe the problem in a text message."))
    await c.chat.send_photo(images.jpeg(seed=4))
    await c.expect(VI("Please describe the problem in a text message."))
    await c.chat.send_text("ổ gà")
    await c.expect(
        VI(
            "The description is too short ({n} characters). Please write at least {min} characters "
            "so the agency understands what happened.",
            n=4,
            min=20,
        )
    )
    await c.chat.send_text("x" * 4096)
    too_long = await c.expect(
        VI(
            "The description is too long ({n} characters). Please keep it under {max} characters; "
            "your photos can show the rest.",
            n=4096,
            max=2000,
        )
    )
    assert "4096" in too_long.content and len(too_long.content) < 500
    await c.describe()
    # Place step: a sticker and a photo.
    await c.chat.send_sticker()
    await c.expect(VI("Please send a location, or type the address as text."))
    await c.chat.send_photo(images.jpeg(seed=5))
    await c.expect(VI("Please send a location, or type the address as text."))
    await c.locate()
    # Photos step: text, a voice note, and "done" with no photo.
    await c.chat.send_text("xong")
    await c.expect(VI("Please send photos (as photos or image files), or press “Done”."))
    await c.chat.send_voice()
    await c.expect(VI("Please send photos (as photos or image files), or press “Done”."))
    prompt = await c.expect_buttons(VI("✅ Done with photos"))
    await c.chat.press(prompt, VI("✅ Done with photos"))
    await c.expect(VI("Please send at least one photo first."))
    ack = await c.send_photos([images.jpeg(seed=6)])
    question = await c.done_with_photos(ack)
    # Privacy step: text instead of a button.
    await c.chat.send_text("riêng tư")
    await c.expect(VI("Please choose with the buttons whether your name is shown."))
    summary = await c.keep_private(question)
    # Summary: a location instead of a button.
    await c.chat.send_location(*IN_WARD)
    await c.expect(VI("Please use the buttons under the summary to change or submit your report."))
    await c.submit(summary)
    assert len(await _one(sandbox, select(Report))) == 1


async def test_unknown_button_is_answered(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    c = Citizen(emu)
    await c.register()
    topics = await c.begin_report()
    await c.choose_topic(topics)
    # The topic keyboard is gone after the choice; a press with data the bot
    # does not know (an old client, a forged update) is answered clearly.
    press = await c.chat.press_stale(topics, "zz:nonsense")
    answer = await press.answer()
    assert answer.text == VI("That button is no longer active.") and answer.show_alert
    # A known kind of button from a step already passed is refused too, and the current step asked again.
    await c.chat.press_stale(topics, "tp:traffic_safety")
    await c.expect(VI("That button is no longer active."))
    await c.expect(VI(DESCRIBE_PROMPT, min=20, max=2000))


async def test_withdraw_before_it_is_received(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    c = Citizen(emu)
    await c.register()
    code = await c.full_report([images.jpeg(seed=7)])
    await c.chat.send_text("/myreports")
    listing = await c.chat.expect(lambda m: any(code in b for b in m.buttons))
    await c.chat.press(listing, next(b for b in listing.buttons if code in b))
    detail = await c.expect_buttons(VI("↩️ Withdraw this report"))
    assert code in detail.content and VI("⏳ waiting to be received") in detail.content
    await c.chat.press(detail, VI("↩️ Withdraw this report"))
    sure = await c.expect_buttons(VI("Yes, withdraw it"))
    await c.chat.press(sure, VI("Yes, withdraw it"))
    await c.expect(VI("Report {code} has been withdrawn.", code=code))
    [report] = await _one(sandbox, select(Report))
    assert report.state == State.WITHDRAWN and report.version == 2
    events = await _one(sandbox, select(ReportEvent).order_by(ReportEvent.id))
    assert [e.kind for e in events] == ["submit", "withdraw"]
    # Opened again, the report offers no withdrawal any more.
    await c.chat.press(listing, next(b for b in listing.buttons if code in b))
    again = await c.expect(VI("↩️ withdrawn"))
    assert VI("↩️ Withdraw this report") not in again.buttons


async def test_myreports_pages(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    c = Citizen(emu)
    await c.register()
    codes = [await c.full_report([images.jpeg(seed=10 + i)]) for i in range(7)]
    await c.chat.send_text("/myreports")
    first = await c.expect_buttons(VI("Older ▶️"))
    assert [b.split(" · ")[0] for b in first.buttons[:5]] == codes[::-1][:5]
    assert VI("◀️ Newer") not in first.buttons
    await c.chat.press(first, VI("Older ▶️"))
    second = await c.chat.expect(lambda m: m.message_id == first.message_id and VI("◀️ Newer") in m.buttons)
    assert [b.split(" · ")[0] for b in second.buttons[:2]] == codes[::-1][5:]
    assert VI("Older ▶️") not in second.buttons


async def test_english_speaker_and_language_switch(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    john = Citizen(emu, "John", "Smith", language="en", phone="+84901234567")
    await john.register()
    assert john.chat.bot_messages[0].content.startswith("Hello!")
    code = await john.full_report([images.jpeg(seed=20)])
    assert EN("✅ Your report has been sent.") in john.chat.last_bot_message.content and code
    await john.chat.send_text("/language")
    choice = await john.expect_buttons("🇻🇳 Tiếng Việt")
    await john.chat.press(choice, "🇻🇳 Tiếng Việt")
    await john.expect(VI("Language changed to English."))
    john.use_language("vi")
    await john.chat.send_text("/help")
    helped = await john.expect("/report")
    assert helped.content == VI(HELP)
    [user] = await _one(sandbox, select(User))
    assert user.language == "vi" and user.language_chosen


async def test_draft_survives_a_restart(emu: BotApiEmulator, settings, database_url: str) -> None:
    c = Citizen(emu)
    async with running_bot(emu, settings):
        await c.register()
        topics = await c.begin_report()
        await c.choose_topic(topics)
        await c.describe()
    # A new Application on the same database: the citizen goes on where they were.
    async with running_bot(emu, settings) as again:
        await c.locate()
        ack = await c.send_photos([images.jpeg(seed=30)])
        summary = await c.keep_private(await c.done_with_photos(ack))
        await c.submit(summary)
        [report] = await _one(again, select(Report))
        assert report.description.startswith("Rác thải")


async def test_cancel_says_what_was_discarded(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    c = Citizen(emu)
    await c.register()
    await c.reach_place()
    await c.locate()
    await c.send_photos([images.jpeg(seed=31)])
    await c.chat.send_text("/cancel")
    said = await c.expect(VI("Report cancelled. Discarded: {parts}. Nothing was sent.", parts="")[:20])
    for part in (VI("the topic"), VI("the description"), VI("the place"), VI.ngettext("{n} photo", "{n} photos", 1)):
        assert part in said.content
    assert await _one(sandbox, select(Draft)) == []
    await c.chat.send_text("/cancel")
    await c.expect(VI("There is nothing to cancel."))


async def test_complaints_are_explained_not_taken(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    c = Citizen(emu)
    await c.register()
    topics = await c.begin_report()
    await c.chat.press(topics, VI("⚖️ A complaint or denunciation?"))
    said = await c.expect("Ban Tiếp công dân")
    assert said.content.startswith("Khiếu nại về quyết định hành chính")
    await c.expect_buttons(VI("⚖️ A complaint or denunciation?"))


@pytest.mark.parametrize(
    ("where", "kind", "agency_code"),
    [
        (IN_WARD, RouteKind.POLYGON, "XA-01"),
        (EAST_OF_XA_08, RouteKind.NEAREST, "XA-08"),
        (FOREST, RouteKind.DEFAULT, None),
    ],
    ids=["polygon", "nearest", "default"],
)
async def test_routing_by_place(sandbox: Sandbox, emu: BotApiEmulator, where, kind, agency_code) -> None:
    lat, lon = where
    c = Citizen(emu)
    await c.register()
    await c.full_report([images.jpeg(seed=40)], where=(lat, lon))
    [report] = await _one(sandbox, select(Report))
    assert report.route_kind == kind
    [agency] = await _one(sandbox, select(Agency).where(Agency.id == report.agency_id))
    assert agency.code == (agency_code or province_file().default_agency)


async def test_place_outside_the_province_is_refused(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    c = Citizen(emu)
    await c.register()
    await c.reach_place()
    await c.chat.send_location(21.0285, 105.8542)  # Hà Nội
    await c.expect(
        VI(
            "This place is outside the province, so no agency here can handle it. "
            "Please send a place inside the province, or type the address."
        )
    )
    await c.locate()  # and a place inside is then taken


async def test_a_photo_from_another_citizens_report_is_flagged(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    photo = images.jpeg(seed=50)
    a = Citizen(emu, "An", "Lê", phone="+84911111111")
    await a.register()
    await a.full_report([photo])
    b = Citizen(emu, "Bình", "Phạm", phone="+84922222222")
    await b.register()
    await b.full_report([photo, images.jpeg(seed=51)])
    assert (
        VI("Note: {n} of your photos already appear in another person's report; the agency will see this.", n=1)
        in b.chat.last_bot_message.content
    )
    first, second = await _one(sandbox, select(Report).order_by(Report.id))
    flagged = await _one(
        sandbox, select(ReportPhoto).where(ReportPhoto.report_id == second.id).order_by(ReportPhoto.position)
    )
    assert flagged[0].reused_from_report_id == first.id and flagged[1].reused_from_report_id is None
    # Stored once: both reports point at the same content-addressed files.
    [original] = await _one(sandbox, select(ReportPhoto).where(ReportPhoto.report_id == first.id))
    assert original.original_key == flagged[0].original_key


@pytest.mark.parametrize("settings_overrides", [{"max_photo_bytes": 200_000}])
async def test_bombs_fakes_and_oversize_files_are_refused(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    c = Citizen(emu)
    await c.register()
    await c.reach_place()
    await c.locate()
    await c.chat.send_document(images.bomb_png(), file_name="anh.png", mime_type="image/png")
    await c.expect(VI("This image is far too large in pixels to be a photo. Please send a normal photo."))
    await c.chat.send_document(images.not_an_image(), file_name="anh.jpg", mime_type="image/jpeg")
    await c.expect(VI("This file is not a picture. Please send a photo (JPEG, PNG or WebP)."))
    await c.chat.send_document(images.truncated_jpeg(), file_name="anh.jpg", mime_type="image/jpeg")
    await c.expect(VI("This photo arrived damaged or incomplete. Please send it again."))
    await c.chat.send_document(images.oversize_jpeg(300_000), file_name="lon.jpg", mime_type="image/jpeg")
    await c.expect(VI("This file is too large. A photo may be at most {mb} MB. Please send a smaller photo.", mb=0.2))
    await c.chat.send_document(images.png(seed=1), file_name="ok.png", mime_type="image/png")
    ack = await c.expect("📷")
    assert ack.content == VI("📷 {count} of at most {max} photos received. Send more, or press “Done”.", count=1, max=6)
    async with sandbox.deps.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(Draft))
    assert count == 1


async def test_edit_any_part_from_the_summary(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    c = Citizen(emu)
    await c.register()
    await c.reach_place()
    await c.chat.send_venue(22.57, 106.07, title="Chợ Hòa Bình", address="Đường Lê Lợi")
    ack_prompt = await c.expect_buttons(VI("✅ Done with photos"))
    assert ack_prompt
    ack = await c.send_photos([images.jpeg(seed=60)])
    summary = await c.keep_private(await c.done_with_photos(ack))
    assert "Chợ Hòa Bình" in summary.content and "Đường Lê Lợi" in summary.content

    # The description: the new text replaces the old and the summary comes straight back.
    await c.chat.press(summary, VI("✏️ Description"))
    await c.expect(VI(DESCRIBE_PROMPT, min=20, max=2000))
    await c.chat.send_text("Cống thoát nước bị vỡ, nước thải tràn ra vỉa hè trước chợ.")
    summary = await c.expect_buttons(VI("📨 Submit"))
    assert "Cống thoát nước bị vỡ" in summary.content and "Rác thải" not in summary.content

    # The photos: remove them all, send two others, done.
    await c.chat.press(summary, VI("✏️ Photos"))
    photos_prompt = await c.expect_buttons(VI("🗑 Remove all photos"))
    await c.chat.press(photos_prompt, VI("🗑 Remove all photos"))
    await c.expect_buttons(VI("✅ Done with photos"))
    ack = await c.send_photos([images.jpeg(seed=61), images.jpeg(seed=62)])
    await c.chat.press(ack, VI("✅ Done with photos"))
    summary = await c.expect_buttons(VI("📨 Submit"))

    # The privacy choice and the topic.
    await c.chat.press(summary, VI("✏️ Name shown or private"))
    question = await c.expect_buttons(VI("👤 Show my name publicly"))
    await c.chat.press(question, VI("👤 Show my name publicly"))
    summary = await c.expect_buttons(VI("📨 Submit"))
    await c.chat.press(summary, VI("✏️ Topic"))
    topics = await c.expect_buttons(VI("⚖️ A complaint or denunciation?"))
    await c.chat.press(topics, topics.buttons[2])
    summary = await c.expect_buttons(VI("📨 Submit"))
    assert topics.buttons[2] in summary.content
    await c.submit(summary)

    [report] = await _one(sandbox, select(Report))
    assert report.description.startswith("Cống thoát nước") and report.identity_public
    assert report.place_title == "Chợ Hòa Bình" and report.address == "Đường Lê Lợi"
    assert len(await _one(sandbox, select(ReportPhoto))) == 2


async def test_resume_or_start_over_an_unfinished_report(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    c = Citizen(emu)
    await c.register()
    await c.reach_place()
    await c.chat.send_text("/report")
    choice = await c.expect_buttons(VI("▶️ Continue"))
    await c.chat.press(choice, VI("▶️ Continue"))
    await c.expect(VI(PLACE_PROMPT))
    await c.chat.send_text(VI("📝 Send a report"))
    choice = await c.expect_buttons(VI("🆕 Start over"))
    await c.chat.press(choice, VI("🆕 Start over"))
    await c.expect_buttons(VI("⚖️ A complaint or denunciation?"))
    [draft] = await _one(sandbox, select(Draft))
    assert draft.step == "topic" and DraftContent.from_dict(draft.data) == DraftContent()


async def test_a_reimported_province_reaches_the_running_bot(sandbox: Sandbox, emu: BotApiEmulator, settings) -> None:
    """The IT team re-imports the province (another process); the running bot routes by it at once."""
    from dataclasses import replace as dc_replace

    from bot.cli.sandbox import load_province

    c = Citizen(emu)
    await c.register()
    await c.full_report([images.jpeg(seed=70)])
    demo = province_file()
    by_code = {a.code: a for a in demo.agencies}
    first, second = by_code["XA-01"], by_code["XA-02"]
    # Swap the two communes' boundaries: the same point now lies in XA-02.
    swapped = tuple(
        dc_replace(a, boundary=second.boundary)
        if a.code == "XA-01"
        else dc_replace(a, boundary=first.boundary)
        if a.code == "XA-02"
        else a
        for a in demo.agencies
    )
    await load_province(settings, dc_replace(demo, agencies=swapped))
    await c.full_report([images.jpeg(seed=71)])
    assert second.name_vi in c.chat.last_bot_message.content
    reports = await _one(sandbox, select(Report).order_by(Report.id))
    agencies = {a.id: a.code for a in await _one(sandbox, select(Agency))}
    assert [agencies[r.agency_id] for r in reports] == ["XA-01", "XA-02"]


async def test_the_citizen_sees_the_deadline_after_a_pause_in_their_own_language(emu: BotApiEmulator, settings) -> None:
    """Asked for more, the citizen answers two days later: /myreports shows the deadline the answer set."""
    clock = Clock()
    async with running_bot(emu, settings, clock=clock) as bot:
        lan = Citizen(emu)
        await lan.register()
        now = datetime.now(UTC)
        clock.offset = a_quiet_wednesday(now) - now  # Wednesday 10:00: to be received by Thursday 10:00
        code = await lan.full_report([images.jpeg(seed=40)])
        async with bot.deps.sessions.begin() as session:
            report = await session.scalar(select(Report).where(Report.code == code))
            agency = await session.get(Agency, report.agency_id)
            receiver = await _person(session, "receiver", agency, [Role.RECEIVING_OFFICER])
            outcome = await casework.act(
                session,
                bot.deps.desk,
                report,
                Action.REQUEST_INFO,
                receiver.actor,
                clock(),
                {"question": "Xin cho biết số nhà."},
            )
            assert outcome.ok
        asked = await lan.expect_buttons(VI("✍️ Answer"))
        clock.offset += timedelta(days=2)  # Friday 10:00: the 8 working hours start again from there
        await lan.chat.press(asked, VI("✍️ Answer"))
        await lan.expect(code)
        await lan.chat.send_text("Trước số nhà 12, ngõ 34.")
        await lan.expect(VI(followup.INFO_SENT, agency=agency.name_vi, code=code))
        [report] = await _one(bot, select(Report))
        assert report.state == State.SUBMITTED and report.due_at - report.receive_due_at >= timedelta(days=2)
        zone = settings.zone

        async def detail(citizen: Citizen) -> str:
            await citizen.chat.send_text("/myreports")
            listing = await citizen.chat.expect(lambda m: any(code in b for b in m.buttons))
            await citizen.chat.press(listing, next(b for b in listing.buttons if code in b))
            return (await citizen.expect(code)).content

        seen = await detail(lan)
        assert VI("To be received by: {at}", at=VI.datetime(report.due_at, zone)) in seen
        assert VI.datetime(report.receive_due_at, zone) not in seen
        await lan.chat.send_text("/language")
        await lan.chat.press(await lan.expect_buttons("🇬🇧 English"), "🇬🇧 English")
        await lan.expect(EN("Language changed to English."))
        lan.use_language("en")
        seen = await detail(lan)
        # The same instant in the province's time, in English words ("10:00 Monday …", not "10:00 Thứ Hai …").
        assert EN("To be received by: {at}", at=EN.datetime(report.due_at, zone)) in seen
        assert EN.datetime(report.due_at, zone) != VI.datetime(report.due_at, zone)


async def test_the_citizen_may_say_it_is_an_emergency(sandbox: Sandbox, emu: BotApiEmulator) -> None:
    """One toggle on the summary: the screeners see the request on the card; the deadlines do not change."""
    c = Citizen(emu)
    await c.register()
    await c.reach_place()
    await c.locate()
    summary = await c.keep_private(await c.done_with_photos(await c.send_photos([images.jpeg(seed=41)])))
    assert VI(EMERGENCY_SAID) not in summary.content
    await c.chat.press(summary, VI("🚨 It is an emergency"))
    summary = await c.expect_buttons(VI("↩️ It is not an emergency"))
    assert VI(EMERGENCY_SAID) in summary.content
    [draft] = await _one(sandbox, select(Draft))
    assert draft.data["emergency"] is True
    await c.submit(summary)
    [report] = await _one(sandbox, select(Report))
    assert report.emergency_requested and not report.urgent
    assert report.due_at == sandbox.deps.desk.calendar.add_hours(report.submitted_at, 8)
    async with sandbox.deps.sessions() as session:
        params = await cards.snapshot(session, sandbox.deps.desk, report, report.submitted_at)
    card = render_card(params, VI)
    assert card.text.startswith(VI("🚨 The citizen says this is an emergency"))
    assert VI("🚨 Mark urgent") in [button.text for row in card.buttons for button in row]
