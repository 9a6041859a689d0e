"""Alerts end to end: the real bot through the emulator.

An alert author of the Department of Agriculture drafts; two officials of the
focal unit (Department of Science and Technology) review; citizens registered
through the bot follow the province or one commune. Subscribers of the
delivery tests that only need to exist (the 429 storm) are written straight
into the database.
"""

from __future__ import annotations

import asyncio
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from capvalidator import Validator
from lxml import etree
from sqlalchemy import select

from bot.cli.sandbox import Sandbox
from bot.config import Settings
from bot.conversation.settings import HELP
from bot.domain import alerts
from bot.domain.alerts import (
    CATEGORY_LABELS,
    MODE_BANNERS,
    MODE_LABELS,
    SEVERITY_LABELS,
    URGENCY_LABELS,
)
from bot.domain.officials import Role
from bot.emulators.telegram import BotApiEmulator, ChatHandle, MessageView
from bot.i18n import translator
from handlers.alerts import NOT_SEEN, PREVIEW_HEADER, PROBLEM_TEXTS
from storage.models import Agency, Alert, AlertFollower, OutboxMessage, User
from storage.models.alerts import AlertMode, AlertStatus, Category, Severity, Urgency
from storage.models.outbox import OutboxStatus
from tests.citizen import Citizen
from tests.officials_driver import bot_fixture, clock_fixture  # noqa: F401
from tests.officials_world import Clock, Person, onboard

VI = translator("vi")
EN = translator("en")
WAIT = 15.0
HEADLINE = "Lũ quét trên suối Nậm Cắt"
TEXT = "Mưa lớn kéo dài gây lũ quét; nước dâng nhanh ở các ngầm tràn."


@dataclass
class Desk:
    bot: Sandbox
    emu: BotApiEmulator
    clock: Clock
    author: Person
    approver: Person
    # Another focal unit official, who also writes alerts (and may not approve their own).
    focal: Person

    async def draft(self, person: Person, mode: AlertMode = AlertMode.ACTUAL) -> MessageView:
        await person.chat.send_text("/newalert")
        question = await person.chat.expect(lambda m: VI(MODE_LABELS[mode]) in m.buttons, timeout=WAIT)
        await person.chat.press(question, VI(MODE_LABELS[mode]))
        return await person.chat.expect(
            lambda m: m.message_id == question.message_id and "CB-" in m.content, edited=True, timeout=WAIT
        )

    async def press(self, person: Person | Citizen, message: MessageView, label: str) -> MessageView:
        """Press a button of `message`; the message as the bot edited it."""
        await person.chat.press(message, label)
        return await person.chat.expect(lambda m: m.message_id == message.message_id, edited=True, timeout=WAIT)

    async def choose(self, person: Person, card: MessageView, field: str, value: str) -> MessageView:
        picker = await self.press(person, card, VI(field))
        return await self.press(person, picker, value)

    async def type(self, person: Person, card: MessageView, label: str, text: str) -> MessageView:
        await person.chat.press(card, label)
        await person.chat.expect(contains="/cancel", timeout=WAIT)
        await person.chat.send_text(text)
        return await person.chat.expect(
            lambda m: "CB-" in m.content and m.has_inline_keyboard, edited=False, timeout=WAIT
        )

    async def area(self, person: Person, card: MessageView, *communes: str) -> MessageView:
        picker = await self.press(person, card, VI("📍 Area"))
        for name in communes:
            picker = await self.press(person, picker, next(b for b in picker.buttons if name in b))
        return await self.press(person, picker, VI("↩️ Back to the draft"))

    async def write(
        self,
        person: Person,
        *,
        mode: AlertMode = AlertMode.ACTUAL,
        communes: tuple[str, ...] = (),
        headline: str = HEADLINE,
        english: bool = True,
    ) -> MessageView:
        card = await self.draft(person, mode)
        card = await self.choose(person, card, "Category", VI(CATEGORY_LABELS[Category.MET]))
        card = await self.choose(person, card, "Severity", VI(SEVERITY_LABELS[Severity.SEVERE]))
        card = await self.choose(person, card, "Urgency", VI(URGENCY_LABELS[Urgency.IMMEDIATE]))
        card = await self.type(person, card, VI("✏️ Headline"), headline)
        card = await self.type(person, card, VI("✏️ Text"), TEXT)
        card = await self.type(person, card, VI("✏️ What to do"), "Không đi qua ngầm tràn; di chuyển lên chỗ cao.")
        if english:
            card = await self.type(person, card, VI("✏️ EN headline"), "Flash flood on the Nam Cat stream")
        if communes:
            card = await self.area(person, card, *communes)
        return card

    async def submit(self, person: Person, card: MessageView) -> MessageView:
        return await self.press(person, card, VI("📨 Send for approval"))

    async def review(self, code: str) -> MessageView:
        return await self.approver.chat.expect(
            lambda m: code in m.content and VI("✅ Approve") in m.buttons, timeout=WAIT
        )

    async def approve(self, code: str, publish_label: str = VI("🚨 Publish the REAL alert")) -> MessageView:
        """Approve from the review message, confirm; the approver's progress message (or the scheduled note)."""
        review = await self.review(code)
        confirmation = await self.press(self.approver, review, VI("✅ Approve"))
        done = await self.press(self.approver, confirmation, publish_label)
        return done

    async def alert_row(self, code: str) -> Alert:
        async with self.bot.deps.sessions() as session:
            found = await session.scalar(select(Alert).where(Alert.code == code))
        assert found is not None, code
        return found


def code_of(card: MessageView) -> str:
    return next(word for word in card.content.split() if word.startswith("CB-"))


async def registered(emu: BotApiEmulator, name: str, language: str = "vi") -> Citizen:
    citizen = Citizen(emu, name, "Nguyễn", language=language)
    await citizen.register()
    return citizen


async def follow_only(citizen: Citizen, commune: str) -> None:
    """Through the settings screen: stop following every place, follow one commune."""
    _ = citizen._
    await citizen.chat.send_text("/subscribe")
    screen = await citizen.chat.expect(contains=_("🔔 Alert settings"), timeout=WAIT)
    await citizen.chat.press(screen, "✅ " + _("Every place in the province"))
    screen = await citizen.chat.expect(lambda m: m.message_id == screen.message_id, edited=True, timeout=WAIT)
    await citizen.chat.press(screen, _("➕ Other communes"))
    screen = await citizen.chat.expect(lambda m: m.message_id == screen.message_id, edited=True, timeout=WAIT)
    await citizen.chat.press(screen, next(b for b in screen.buttons if commune in b))
    screen = await citizen.chat.expect(lambda m: m.message_id == screen.message_id, edited=True, timeout=WAIT)
    assert any(b.startswith("✅") and commune in b for b in screen.buttons)


async def delivered(chat: ChatHandle, contains: str, timeout: float = WAIT) -> MessageView:
    return await chat.expect(contains=contains, edited=False, timeout=timeout)


async def eventually(condition, timeout: float = WAIT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def settled(bot: Sandbox, code: str) -> Alert:
    async def done() -> bool:
        async with bot.deps.sessions() as session:
            alert = await session.scalar(select(Alert).where(Alert.code == code))
        return alert is not None and alert.delivered_at is not None

    await eventually(done, timeout=30)
    async with bot.deps.sessions() as session:
        alert = await session.scalar(select(Alert).where(Alert.code == code))
    assert alert is not None
    return alert


# In `settings_overrides` of a test: CAP_HTTP_PORT on a port free when its bot starts.
FREE_PORT = -1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict:
    """Settings of one test, by indirect parametrisation (tests/e2e_fixtures.py has the default: none)."""
    overrides = dict(getattr(request, "param", {}))
    if overrides.get("cap_http_port") == FREE_PORT:
        overrides["cap_http_port"] = free_port()
    return overrides


def pattern(template: str, **groups: str) -> re.Pattern[str]:
    """A Vietnamese text of the bot as a regular expression, its placeholders as named groups."""
    markers = {name: f"@@{name}@@" for name in groups}
    expression = re.escape(VI(template, **markers))
    for name, group in groups.items():
        expression = expression.replace(re.escape(markers[name]), f"(?P<{name}>{group})")
    return re.compile(expression)


@pytest.fixture
async def desk(
    bot: Sandbox, settings: Settings, emu: BotApiEmulator, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> Desk:
    author = await onboard(bot, settings, capsys, emu, "SO-NNMT", Role.ALERT_AUTHOR, "Lê Văn Tác", "Tác")
    approver = await onboard(bot, settings, capsys, emu, "SO-KHCN", Role.FOCAL_UNIT, "Trần Thị Duyệt", "Duyệt")
    focal = await onboard(bot, settings, capsys, emu, "SO-KHCN", Role.FOCAL_UNIT, "Phạm Văn Đầu", "Đầu")
    return Desk(bot, emu, clock, author, approver, focal)


@pytest.mark.parametrize("settings_overrides", [{"cap_http_port": FREE_PORT}], indirect=True, ids=["cap_http"])
async def test_draft_preview_approve_deliver_update_cancel(desk: Desk, emu: BotApiEmulator) -> None:
    province = await registered(emu, "Lan")
    english = await registered(emu, "Mary", language="en")
    elsewhere = await registered(emu, "Bình")
    await follow_only(elsewhere, "phường Minh Họa")
    gone = await registered(emu, "Cường")
    await gone.chat.send_text("/unsubscribe")
    await gone.expect("/subscribe")
    in_ward = await registered(emu, "Dung")
    await follow_only(in_ward, "phường Hòa Bình")

    card = await desk.write(desk.author, communes=("phường Hòa Bình",))
    code = code_of(card)
    assert VI("Still needed: {fields}", fields="")[:10] not in card.content

    # The preview: exactly what subscribers will get, in Vietnamese then in English.
    await desk.author.chat.press(card, VI("👁 Preview"))
    await desk.author.chat.expect(contains=VI(PREVIEW_HEADER), timeout=WAIT)
    vi_preview = await desk.author.chat.expect(edited=False, timeout=WAIT)
    en_preview = await desk.author.chat.expect(edited=False, timeout=WAIT)
    assert HEADLINE in vi_preview.content and TEXT in vi_preview.content
    assert "Flash flood on the Nam Cat stream" in en_preview.content and EN("🚨 ALERT") in en_preview.content

    await desk.submit(desk.author, card)
    confirmation_label = VI("🚨 Publish the REAL alert")
    progress_wait = desk.approve(code, confirmation_label)
    done = await progress_wait
    assert code in done.content
    progress = await desk.approver.chat.expect(contains=code, edited=False, timeout=WAIT)
    assert VI("🛑 Cancel this alert") in progress.buttons

    # Delivered to exactly the followers of XA-01 and of the whole province.
    vi_message = await delivered(province.chat, HEADLINE)
    # As previewed, but for the start, which is now the time of publication.
    in_force = VI("⏱ In force from {start} until {end}", start="", end="")[:4]
    assert [line for line in vi_message.content.splitlines() if not line.startswith(in_force)] == [
        line for line in vi_preview.content.splitlines() if not line.startswith(in_force)
    ]
    await delivered(in_ward.chat, HEADLINE)
    await delivered(english.chat, "Flash flood on the Nam Cat stream")
    alert = await settled(desk.bot, code)
    assert alert.delivery["sent"] == 3 and alert.recipients == 3
    for outsider in (elsewhere, gone):
        assert not [m for m in outsider.chat.bot_messages if HEADLINE in m.content]
    # The approver's progress message says it is done, and the final report comes (in either order:
    # the runner edits the one while the sender sends the other).
    report = await desk.approver.chat.expect(contains=VI("📊 Delivery report for {code}", code=code), timeout=WAIT)

    async def progress_done() -> bool:
        return VI("📤 Delivered {code}", code=code) in desk.approver.chat.message(progress).content

    await eventually(progress_done)
    assert VI("Sent: {sent} of {total}", sent=3, total=3) in report.content
    await desk.author.chat.expect(contains=VI("📊 Delivery report for {code}", code=code), timeout=WAIT)

    # /alerts shows it; its CAP document is valid CAP 1.2.
    await province.chat.send_text("/alerts")
    listing = await province.chat.expect(contains=code, timeout=WAIT)
    await province.chat.press(listing, next(b for b in listing.buttons if code in b))
    await province.chat.expect(contains=HEADLINE, timeout=WAIT)
    more = await province.chat.expect(lambda m: VI("📄 CAP 1.2 (XML)") in m.buttons, timeout=WAIT)
    assert VI("🛑 Cancel this alert") not in more.buttons
    await province.chat.press(more, VI("📄 CAP 1.2 (XML)"))
    document = await province.chat.expect(lambda m: m.document is not None, timeout=WAIT)
    xml = emu.file_bytes(document.document["file_id"])
    assert Validator(xml).schema()[0]
    assert etree.fromstring(xml).findtext("{urn:oasis:names:tc:emergency:cap:1.2}identifier") == f"DEMO-{code}"

    # An update, prepared by the author from /alerts, for a wider area: the same people and the new ones.
    await desk.author.chat.send_text("/alerts")
    listing = await desk.author.chat.expect(contains=code, timeout=WAIT)
    await desk.author.chat.press(listing, next(b for b in listing.buttons if code in b))
    more = await desk.author.chat.expect(lambda m: VI("✏️ Prepare an update") in m.buttons, timeout=WAIT)
    await desk.author.chat.press(more, VI("✏️ Prepare an update"))
    update_card = await desk.author.chat.expect(lambda m: VI("📨 Send for approval") in m.buttons, timeout=WAIT)
    update_card = await desk.type(desk.author, update_card, VI("✏️ Text"), "Nước đã lan sang phường Minh Họa.")
    update_card = await desk.area(desk.author, update_card, "phường Minh Họa")
    update_code = code_of(update_card)
    await desk.submit(desk.author, update_card)
    await desk.approve(update_code)
    update_line = VI("🔄 UPDATE of {code}", code=code)
    for citizen in (province, in_ward, elsewhere):
        await delivered(citizen.chat, update_line)
    await delivered(english.chat, EN("🔄 UPDATE of {code}", code=code))
    assert not [m for m in gone.chat.bot_messages if code in m.content]

    # The approver's one tap cancels the update for everyone it reached.
    updated = await settled(desk.bot, update_code)
    update_progress = desk.approver.chat.bot_messages
    with_cancel = [m for m in update_progress if update_code in m.content and VI("🛑 Cancel this alert") in m.buttons]
    await desk.approver.chat.press(with_cancel[-1], VI("🛑 Cancel this alert"))
    answer = await desk.approver.chat.expect_callback_answer(timeout=WAIT)
    assert update_code in (answer.text or "")
    cancelled = VI("✅ CANCELLED: {code}", code=update_code)
    for citizen in (province, in_ward, elsewhere):
        await delivered(citizen.chat, cancelled)
    # A second tap learns who cancelled it, and nothing more is sent.
    await desk.approver.chat.press(with_cancel[-1], VI("🛑 Cancel this alert"))
    again = await desk.approver.chat.expect_callback_answer(timeout=WAIT)
    assert "Trần Thị Duyệt" in (again.text or "")
    await province.chat.send_text("/alerts")
    await province.chat.expect(contains=VI("No alert is in force now."), timeout=WAIT)
    assert updated.recipients == 4

    # Other systems read the same CAP documents over HTTP, from the server started with the bot:
    # the index lists the cancellation, the update and the alert, newest first; each is valid CAP 1.2.
    base = f"http://127.0.0.1:{desk.bot.deps.settings.cap_http_port}/cap/"
    async with aiohttp.ClientSession() as client:
        async with client.get(base + "feed.atom") as response:
            assert response.status == 200
            feed = etree.fromstring(await response.read())
        links = [
            link.get("href")
            for link in feed.iter("{http://www.w3.org/2005/Atom}link")
            if link.get("rel") == "alternate"
        ]
        assert links[1:] == [f"DEMO-{update_code}.xml", f"DEMO-{code}.xml"] and len(links) == 3
        for link in links:
            async with client.get(base + link) as response:
                assert Validator(await response.read()).schema()[0], link


async def test_self_approval_is_refused(desk: Desk) -> None:
    card = await desk.write(desk.focal, english=False)
    code = code_of(card)
    await desk.submit(desk.focal, card)
    # The review goes to the other focal unit official only.
    review = await desk.review(code)
    alert = await desk.alert_row(code)
    press = await desk.focal.chat.press_stale(card, f"al:ap:{alert.id}:{alert.version}")
    refusal = await press.answer(timeout=WAIT)
    assert refusal.text == VI(PROBLEM_TEXTS[alerts.Problem.SELF_APPROVAL])
    press = await desk.focal.chat.press_stale(card, f"al:ok:{alert.id}:{alert.version}")
    await press.answer(timeout=WAIT)
    assert (await desk.alert_row(code)).status is AlertStatus.SUBMITTED
    # The author role alone cannot approve either.
    press = await desk.author.chat.press_stale(desk.author.chat.bot_messages[-1], f"al:ap:{alert.id}:{alert.version}")
    assert (await press.answer(timeout=WAIT)).text == VI("Your role does not allow this.")
    # Nor can an author of another agency open or preview it.
    for data in (f"ad:o:{alert.id}", f"ad:pv:{alert.id}", f"al:pv:{alert.id}"):
        press = await desk.author.chat.press_stale(desk.author.chat.bot_messages[-1], data)
        assert (await press.answer(timeout=WAIT)).text == VI(NOT_SEEN), data
    await desk.author.chat.expect_no_message(within=0.3)
    # Rejected with a comment, it goes back to its author.
    await desk.approver.chat.press(review, VI("⛔ Reject"))
    await desk.approver.chat.expect(contains="/cancel", timeout=WAIT)
    await desk.approver.chat.send_text("Cần ghi rõ tên các xã bị ảnh hưởng.")
    await desk.approver.chat.expect(contains=code, timeout=WAIT)
    returned = await desk.focal.chat.expect(contains="Cần ghi rõ tên các xã bị ảnh hưởng.", timeout=WAIT)
    assert code in returned.content
    assert (await desk.alert_row(code)).status is AlertStatus.REJECTED


async def test_exercise_goes_to_test_subscribers_only_and_says_so(desk: Desk, emu: BotApiEmulator) -> None:
    citizen = await registered(emu, "Lan")
    await desk.approver.chat.send_text("/subscribe")
    screen = await desk.approver.chat.expect(contains=VI("🔔 Alert settings"), timeout=WAIT)
    label = "⬜ " + VI("🧪 Exercise and test alerts")
    screen = await desk.press(desk.approver, screen, label)
    assert "✅ " + VI("🧪 Exercise and test alerts") in screen.buttons

    card = await desk.write(desk.author, mode=AlertMode.EXERCISE)
    banner = VI(MODE_BANNERS[AlertMode.EXERCISE])

    def says_so(text: str | None) -> bool:
        return bool(text) and text.startswith(banner) and text.endswith(banner)  # type: ignore[union-attr]

    assert says_so(card.content)
    code = code_of(card)
    # Every screen of the draft says so, the pickers too.
    for label, deeper in (("Category", None), ("📍 Area", None), ("⏱ Times", "Expires")):
        picker = await desk.press(desk.author, card, VI(label))
        assert says_so(picker.content), label
        if deeper:
            picker = await desk.press(desk.author, picker, VI(deeper))
            assert says_so(picker.content), deeper
        card = await desk.press(desk.author, picker, VI("↩️ Back to the draft"))
    await desk.submit(desk.author, card)

    # Returned once: the prompt and the confirmation say so.
    review = await desk.review(code)
    assert says_so(review.content)
    await desk.approver.chat.press(review, VI("⛔ Reject"))
    assert says_so((await desk.approver.chat.expect(contains="/cancel", timeout=WAIT)).content)
    await desk.approver.chat.send_text("Ghi rõ giờ bắt đầu diễn tập.")
    assert says_so((await desk.approver.chat.expect(contains=code, timeout=WAIT)).content)
    assert says_so((await desk.author.chat.expect(contains="Ghi rõ giờ bắt đầu diễn tập.", timeout=WAIT)).content)
    # The author sends it again from /alerts; this time it is approved and published.
    await desk.author.chat.send_text("/alerts")
    listing = await desk.author.chat.expect(lambda m: any(code in b for b in m.buttons), timeout=WAIT)
    card = await desk.press(desk.author, listing, next(b for b in listing.buttons if code in b))
    await desk.submit(desk.author, card)
    review = await desk.review(code)
    confirmation = await desk.press(desk.approver, review, VI("✅ Approve"))
    assert says_so(confirmation.content) and VI("🚨 Publish the REAL alert") not in confirmation.buttons
    done = await desk.press(desk.approver, confirmation, VI("🧪 Publish the exercise"))
    assert says_so(done.content) and VI("✅ Approved and published: {code}.", code=code) in done.content
    message = await delivered(desk.approver.chat, HEADLINE)
    assert says_so(message.content)
    alert = await settled(desk.bot, code)
    assert alert.recipients == 1
    assert not [m for m in citizen.chat.bot_messages if HEADLINE in m.content]
    # The one-tap cancel's answer says so as well.
    progress = next(
        m for m in desk.approver.chat.bot_messages if code in m.content and VI("🛑 Cancel this alert") in m.buttons
    )
    assert says_so(progress.content)
    await desk.approver.chat.press(progress, VI("🛑 Cancel this alert"))
    assert says_so((await desk.approver.chat.expect_callback_answer(timeout=WAIT)).text)
    await citizen.chat.send_text("/alerts")
    await citizen.chat.expect(contains=VI("No alert is in force now."), timeout=WAIT)


async def test_scheduled_publication_and_expiry(desk: Desk, emu: BotApiEmulator) -> None:
    citizen = await registered(emu, "Lan")
    card = await desk.write(desk.author, english=False)
    code = code_of(card)
    times = await desk.press(desk.author, card, VI("⏱ Times"))
    publish = await desk.press(desk.author, times, VI("Publish at"))
    card = await desk.press(desk.author, publish, VI("In {hours} h", hours=1))
    times = await desk.press(desk.author, card, VI("⏱ Times"))
    expiry = await desk.press(desk.author, times, VI("Expires"))
    await desk.author.chat.press(expiry, VI("⌨️ Type a time"))
    await desk.author.chat.expect(contains="/cancel", timeout=WAIT)
    expires = (datetime.now(UTC) + timedelta(hours=7)).astimezone(desk.bot.deps.settings.zone)
    await desk.author.chat.send_text(expires.strftime("%H:%M %d/%m/%Y"))
    card = await desk.author.chat.expect(contains=code, edited=False, timeout=WAIT)
    assert expires.strftime("%H:%M %d/%m/%Y") in card.content
    await desk.submit(desk.author, card)
    done = await desk.approve(code)
    assert VI("✅ Approved. {code} will be published at {time}.", code=code, time="")[:12] in done.content
    await asyncio.sleep(1.5)
    assert not [m for m in citizen.chat.bot_messages if HEADLINE in m.content]

    desk.clock.offset = timedelta(hours=1, minutes=1)
    await delivered(citizen.chat, HEADLINE)
    # The approver gets the progress message when the runner publishes it (for one subscriber the
    # sender may have finished before it is written: then it says so at once).
    await desk.approver.chat.expect(
        lambda m: (
            VI("📤 Delivering {code}", code=code) in m.content or VI("📤 Delivered {code}", code=code) in m.content
        ),
        timeout=WAIT,
    )
    await citizen.chat.send_text("/alerts")
    await citizen.chat.expect(contains=code, timeout=WAIT)

    desk.clock.offset = timedelta(hours=7, minutes=1)
    await citizen.chat.send_text("/alerts")
    await citizen.chat.expect(contains=VI("No alert is in force now."), timeout=WAIT)


async def test_blocked_subscribers_are_unsubscribed(desk: Desk, emu: BotApiEmulator) -> None:
    stays = await registered(emu, "Lan")
    leaves = await registered(emu, "Bình")
    emu.block(leaves.user, notify=False)
    card = await desk.write(desk.author, english=False)
    code = code_of(card)
    await desk.submit(desk.author, card)
    await desk.approve(code)
    await delivered(stays.chat, HEADLINE)
    alert = await settled(desk.bot, code)
    assert (alert.delivery["sent"], alert.delivery["blocked"]) == (1, 1)
    async with desk.bot.deps.sessions() as session:
        user = await session.scalar(select(User).where(User.external_id == str(leaves.user.id)))
        assert user is not None
        follower = await session.get(AlertFollower, user.id)
    assert follower is not None and follower.left_reason == "blocked" and not follower.whole_province
    report = await desk.approver.chat.expect(contains=VI("📊 Delivery report for {code}", code=code), timeout=WAIT)
    assert VI("Failed: {failed} · blocked the bot (now unsubscribed): {blocked}", failed=0, blocked=1) in report.content


SUBSCRIBERS = 40


async def _subscribers(bot: Sandbox, emu: BotApiEmulator, count: int) -> list[int]:
    """People who registered long ago and follow the province (written directly: many, quickly)."""
    people = [emu.add_user(f"Người {i}") for i in range(count)]
    now = datetime.now(UTC)
    async with bot.deps.sessions.begin() as session:
        for person in people:
            user = User(
                platform="telegram",
                external_id=str(person.id),
                chat_id=str(person.id),
                language="vi",
                full_name=f"Nguyễn Văn {person.id}",
                phone="+84912345678",
                consent_at=now,
            )
            session.add(user)
            await session.flush()
            session.add(
                AlertFollower(user_id=user.id, whole_province=True, tester=False, created_at=now, updated_at=now)
            )
    return [person.id for person in people]


RATE_LINE = pattern(
    "{rate} per second · about {minutes} min {seconds} s to finish", rate=r"\d+\.\d", minutes=r"\d+", seconds=r"\d+"
)
LEFT_LINE = pattern(
    "Sent {sent} of {total} · failed {failed} · left {left}", sent=r"\d+", total=r"\d+", failed=r"\d+", left=r"\d+"
)


@pytest.mark.parametrize("settings_overrides", [{"alert_progress_seconds": 0.5}], indirect=True, ids=["progress"])
async def test_429_storm(desk: Desk, emu: BotApiEmulator) -> None:
    people = await _subscribers(desk.bot, emu, SUBSCRIBERS)
    card = await desk.write(desk.author, english=False)
    code = code_of(card)
    await desk.submit(desk.author, card)
    # Telegram allows far less than the sender's 30/s today: 429s with retry_after come back.
    emu.set_rate_limit(global_per_second=8)
    await desk.approve(code)
    progress = await desk.approver.chat.expect(
        contains=VI("📤 Delivering {code}", code=code), edited=False, timeout=WAIT
    )
    alert = await settled(desk.bot, code)
    emu.clear_rate_limit()
    # While it went, the approver's progress message said how fast and how long it would still take.
    samples = []
    for edit in desk.approver.chat.edits_of(progress):
        text = edit.after.get("text", "")
        rate, left = RATE_LINE.search(text), LEFT_LINE.search(text)
        if rate and left:
            samples.append((float(rate["rate"]), int(rate["minutes"]) * 60 + int(rate["seconds"]), int(left["left"])))
    assert samples, [edit.after.get("text") for edit in desk.approver.chat.edits_of(progress)]
    for per_second, eta, left in samples:
        # Messages a second over the last half second (bursts after a retry_after included), never
        # per minute; the shown rate is rounded to a tenth.
        assert 0 < per_second < 100 and 0 < left < SUBSCRIBERS
        assert abs(eta - left / per_second) <= max(1.5, 0.1 * left / per_second), (per_second, eta, left)
    assert alert.delivery["sent"] == SUBSCRIBERS and alert.delivery["failed"] == 0
    assert [emu.sent_to(person) for person in people] == [1] * SUBSCRIBERS
    assert any(error.error_code == 429 for error in emu.api_errors)
    async with desk.bot.deps.sessions() as session:
        rows = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"alert:{alert.id}:%")))
        ).all()
    assert {row.status for row in rows} == {OutboxStatus.SENT}


async def test_citizen_settings_offer_the_communes_of_their_reports(desk: Desk, emu: BotApiEmulator) -> None:
    from tests import images

    citizen = await registered(emu, "Lan")
    # Leaving is in the command menu and in /help, with the other alert commands.
    for language, _ in (("vi", VI), ("en", EN)):
        assert [
            c["command"]
            for c in emu.commands(language_code=language)
            if c["command"] in ("alerts", "subscribe", "unsubscribe")
        ] == ["alerts", "subscribe", "unsubscribe"]
    await citizen.chat.send_text("/help")
    helped = await citizen.expect("/unsubscribe")
    assert helped.content == VI(HELP) and "/alerts" in helped.content and "/subscribe" in helped.content
    await citizen.full_report([images.jpeg(seed=77)])
    await citizen.chat.send_text("/subscribe")
    screen = await citizen.chat.expect(contains=VI("🔔 Alert settings"), timeout=WAIT)
    async with desk.bot.deps.sessions() as session:
        ward = await session.scalar(select(Agency).where(Agency.code == "XA-01"))
    assert ward is not None and "⬜ " + ward.name_vi in screen.buttons
    screen = await desk.press(citizen, screen, "⬜ " + ward.name_vi)
    assert "✅ " + ward.name_vi in screen.buttons
    screen = await desk.press(citizen, screen, VI("🔕 Stop all alerts"))
    assert VI("You receive no alerts.") in screen.content


async def test_the_focal_unit_lists_what_waits_for_it(
    desk: Desk, settings: Settings, emu: BotApiEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """An official who joins the focal unit after an alert was submitted got no review message:
    /alerts lists it, and every scheduled alert, which any of them can still call off."""
    card = await desk.write(desk.author, mode=AlertMode.EXERCISE, english=False)
    code = code_of(card)
    banner = VI(MODE_BANNERS[AlertMode.EXERCISE])
    times = await desk.press(desk.author, card, VI("⏱ Times"))
    publish = await desk.press(desk.author, times, VI("Publish at"))
    card = await desk.press(desk.author, publish, VI("In {hours} h", hours=1))
    await desk.submit(desk.author, card)
    late = await onboard(desk.bot, settings, capsys, emu, "SO-KHCN", Role.FOCAL_UNIT, "Vũ Thị Muộn", "Muộn")

    await late.chat.send_text("/alerts")
    listing = await late.chat.expect(contains=VI("Waiting for the focal unit's approval:"), timeout=WAIT)
    await late.chat.press(listing, next(b for b in listing.buttons if code in b))
    review = await late.chat.expect(lambda m: VI("✅ Approve") in m.buttons, edited=False, timeout=WAIT)
    assert code in review.content and review.content.startswith(banner) and review.content.endswith(banner)
    confirmation = await desk.press(late, review, VI("✅ Approve"))
    done = await desk.press(late, confirmation, VI("🧪 Publish the exercise"))
    assert VI("✅ Approved. {code} will be published at {time}.", code=code, time="")[:12] in done.content
    assert done.content.startswith(banner) and done.content.endswith(banner)

    await desk.approver.chat.send_text("/alerts")
    listing = await desk.approver.chat.expect(
        contains=VI("Approved, to be published later (open one to call it off):"), timeout=WAIT
    )
    assert VI("Waiting for the focal unit's approval:") not in listing.content
    card = await desk.press(desk.approver, listing, next(b for b in listing.buttons if code in b))
    assert VI("Status: approved, to be published at {time}", time="")[:20] in card.content
    card = await desk.press(desk.approver, card, VI("🗑 Withdraw"))
    assert VI("Status: withdrawn") in card.content
    called_off = VI("🗑 {code} was called off by {name}; it will not be published.", code=code, name="Trần Thị Duyệt")
    for person in (desk.author, late):
        assert (await person.chat.expect(contains=called_off, timeout=WAIT)).content.startswith(banner)
    assert (await desk.alert_row(code)).status is AlertStatus.WITHDRAWN
