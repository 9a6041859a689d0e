"""The officials' side of end-to-end tests: an agency with its people and group chat, and reports on its cards.

Use from a test module (the fixtures must be imported by name for pytest to see them):

    from tests.officials_driver import Office, bot_fixture, clock_fixture, office_fixture  # noqa: F401

    async def test_something(office: Office) -> None:
        filed = await office.file_report()            # a citizen's report, its card in XA-01's group
        await office.press_card(office.receiver, filed, VI("✅ Receive"))
        filed = await office.resolve()                # or all the way to the citizen's result
        result = await filed.citizen.expect_buttons(VI("😊 Satisfied"))

`office` starts the real bot (with a movable `Clock`) and onboards, with
invitation links: for XA-01 a receiving officer, two handling officers, an
agency head and an agency administrator, all in XA-01's bound group (with a
stranger and XA-02's receiving officer, who are members but have no rights
there); for XA-02 a receiving officer and an administrator, in XA-02's own bound
group. Nothing is pressed on anyone's behalf beyond that.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bot.cli.sandbox import Sandbox, running_bot
from bot.config import Settings
from bot.delivery.sender import SenderConfig
from bot.domain.labels import CARD_STATE_LABELS
from bot.domain.officials import Role, agency_by_code
from bot.domain.workflow import State
from bot.emulators.telegram import BotApiEmulator, CallbackAnswer, ChatHandle, MessageView
from bot.i18n import translator
from storage.models import Agency, Official, Report
from tests import images
from tests.citizen import Citizen
from tests.officials_world import Clock, Person, bind_group, onboard

VI = translator("vi")
AGENCY = "XA-01"
OTHER_AGENCY = "XA-02"
# Real names the officials act under (000 Art. 5.2); their Telegram nicknames differ.
RECEIVER = "Nguyễn Văn An"
HANDLER = "Lê Thị Bình"
HANDLER_2 = "Trần Văn Cường"
HEAD = "Phạm Thị Dung"
ADMIN = "Hoàng Văn Em"
OTHER_RECEIVER = "Đỗ Thị Giang"
OTHER_ADMIN = "Vũ Văn Hải"
WAIT = 10.0

_photo_seeds = itertools.count(1000)


@dataclass
class Filed:
    """A citizen's report as the agency sees it: its code, row id and card in the group."""

    citizen: Citizen
    code: str
    report_id: int
    card: MessageView


@dataclass
class Office:
    bot: Sandbox
    emu: BotApiEmulator
    settings: Settings
    clock: Clock
    receiver: Person
    handler: Person
    handler2: Person
    head: Person
    admin: Person
    stranger: Person
    group: ChatHandle
    other_receiver: Person
    other_admin: Person
    other_group: ChatHandle
    agency_id: int
    other_agency_id: int

    def in_group(self, person: Person, group: ChatHandle | None = None) -> ChatHandle:
        """The agency's group (or `group`) as seen and acted in by `person`; the cursor is shared."""
        return (group or self.group).as_user(person.user)

    async def official(self, name: str) -> Official:
        async with self.bot.deps.sessions() as session:
            found = await session.scalar(select(Official).where(Official.full_name == name))
        assert found is not None, name
        return found

    async def report(self, report_id: int) -> Report:
        async with self.bot.deps.sessions() as session:
            found = await session.get(Report, report_id)
        assert found is not None
        return found

    async def card_of(self, code: str, group: ChatHandle | None = None) -> MessageView:
        """The new card (not an edit) of report `code` arriving in the group."""
        return await (group or self.group).expect(
            lambda m: code in m.content and m.has_inline_keyboard, edited=False, timeout=WAIT
        )

    async def card_edit(
        self, filed: Filed, contains: str | None = None, group: ChatHandle | None = None
    ) -> MessageView:
        """The next edit of the card of `filed` (containing `contains`)."""
        card_id = filed.card.message_id
        return await (group or self.group).expect(
            lambda m: m.message_id == card_id and (contains is None or contains in m.content), edited=True, timeout=WAIT
        )

    def current_card(self, filed: Filed, group: ChatHandle | None = None) -> MessageView:
        return (group or self.group).message(filed.card.message_id)

    async def press_card(
        self, person: Person, filed: Filed, label: str, group: ChatHandle | None = None
    ) -> CallbackAnswer:
        """`person` presses a button of the card as it is now; the bot's answer to the press."""
        chat = self.in_group(person, group)
        press = await chat.press(filed.card.message_id, label)
        return await press.answer(timeout=WAIT)

    # --- moving a report along, as the officials would -------------------------------------------

    async def receive(self, filed: Filed, person: Person | None = None) -> CallbackAnswer:
        answer = await self.press_card(person or self.receiver, filed, VI("✅ Receive"))
        await self.card_edit(filed, VI(CARD_STATE_LABELS[State.RECEIVED]))
        return answer

    async def assign(self, filed: Filed, name: str = HANDLER, by: Person | None = None) -> MessageView:
        """Assign from the card (the list comes privately); the handling officer's task message."""
        by = by or self.receiver
        label = VI("👤 Reassign") if VI("👤 Reassign") in self.current_card(filed).buttons else VI("👤 Assign")
        await self.press_card(by, filed, label)
        choice = await by.chat.expect(lambda m: name in m.buttons, timeout=WAIT)
        await by.chat.press(choice, name)
        await by.chat.expect(lambda m: m.message_id == choice.message_id, edited=True, timeout=WAIT)
        await self.card_edit(filed, name)
        return await self.person(name).chat.expect(
            lambda m: filed.code in m.content and VI("🛠 Open the report") in m.buttons, timeout=WAIT
        )

    def person(self, name: str) -> Person:
        return {
            RECEIVER: self.receiver,
            HANDLER: self.handler,
            HANDLER_2: self.handler2,
            HEAD: self.head,
            ADMIN: self.admin,
            OTHER_RECEIVER: self.other_receiver,
        }[name]

    async def open_work(self, person: Person, message: MessageView, code: str) -> MessageView:
        """Press "🛠 Open the report" (a task message) or a /queue button; the work view."""
        label = (
            VI("🛠 Open the report")
            if VI("🛠 Open the report") in message.buttons
            else next(b for b in message.buttons if code in b)
        )
        await person.chat.press(message, label)
        return await person.chat.expect(
            lambda m: code in m.content and VI("📜 Timeline") in m.buttons, edited=False, timeout=WAIT
        )

    async def start_result(
        self, filed: Filed, person: Person | None = None, task: MessageView | None = None
    ) -> MessageView:
        """Open the work view and press "🖊 Submit result"; the prompt for the result text."""
        person = person or self.handler
        view = await self.open_work(person, task or person.chat.bot_messages[-1], filed.code)
        await person.chat.press(view, VI("🖊 Submit result"))
        return await person.chat.expect(contains="/cancel", timeout=WAIT)

    async def submit_result(
        self,
        filed: Filed,
        text: str,
        photos: Sequence[bytes] = (),
        documents: Sequence[tuple[bytes, str]] = (),
        person: Person | None = None,
        task: MessageView | None = None,
    ) -> MessageView:
        """The whole result step in the handler's private chat; waits for the card to show it."""
        person = person or self.handler
        await self.start_result(filed, person, task)
        await person.chat.send_text(text)
        status = await person.chat.expect(timeout=WAIT)
        for photo in photos:
            await person.chat.send_photo(photo)
            status = await person.chat.expect(timeout=WAIT)
        for data, name in documents:
            await person.chat.send_document(data, file_name=name)
            status = await person.chat.expect(timeout=WAIT)
        await person.chat.press(status, VI("✅ Send for approval"))
        done = await person.chat.expect(lambda m: m.message_id == status.message_id, edited=True, timeout=WAIT)
        await self.card_edit(filed, VI(CARD_STATE_LABELS[State.PENDING_APPROVAL]))
        return done

    async def approve(self, filed: Filed) -> CallbackAnswer:
        answer = await self.press_card(self.head, filed, VI("✅ Approve and send"))
        await self.card_edit(filed, VI(CARD_STATE_LABELS[State.RESOLVED]))
        return answer

    async def resolve(
        self,
        filed: Filed | None = None,
        result: str = "Đã thu gom toàn bộ rác và khơi thông mương.",
    ) -> Filed:
        """A report taken all the way to the citizen's result (photo evidence); the citizen's messages are left
        for the caller to expect."""
        filed = filed or await self.file_report()
        await self.receive(filed)
        task = await self.assign(filed)
        await self.submit_result(filed, result, photos=[images.jpeg(seed=next(_photo_seeds))], task=task)
        await self.approve(filed)
        return filed

    async def new_citizen(self, first_name: str = "Lan", last_name: str = "Nguyễn Thị", **kwargs) -> Citizen:
        citizen = Citizen(self.emu, first_name, last_name, **kwargs)
        await citizen.register()
        return citizen

    async def file_report(self, citizen: Citizen | None = None, photos: Sequence[bytes] | None = None) -> Filed:
        """A registered citizen sends a report inside XA-01; its card arrives in XA-01's group."""
        citizen = citizen or await self.new_citizen()
        photos = photos or [images.jpeg(seed=next(_photo_seeds))]
        code = await citizen.full_report(photos)
        async with self.bot.deps.sessions() as session:
            report = await session.scalar(select(Report).where(Report.code == code))
            assert report is not None
            agency = await session.get(Agency, report.agency_id)
        assert agency is not None and agency.code == AGENCY, f"{code} went to {agency and agency.code}"
        card = await self.card_of(code)
        return Filed(citizen, code, report.id, card)


async def agency_id(sandbox: Sandbox, code: str) -> int:
    async with sandbox.deps.sessions() as session:
        agency = await agency_by_code(session, code)
    assert agency is not None, code
    return agency.id


async def open_office(
    sandbox: Sandbox, settings: Settings, emu: BotApiEmulator, bot_clock: Clock, capsys: pytest.CaptureFixture[str]
) -> Office:
    """Onboard XA-01's and XA-02's officials and bind both groups (see the module's docstring)."""

    async def person(agency: str, role: Role, name: str, nickname: str) -> Person:
        return await onboard(sandbox, settings, capsys, emu, agency, role, name, nickname)

    admin = await person(AGENCY, Role.AGENCY_ADMIN, ADMIN, "Em admin")
    receiver = await person(AGENCY, Role.RECEIVING_OFFICER, RECEIVER, "An 🍜")
    handler = await person(AGENCY, Role.HANDLING_OFFICER, HANDLER, "Bình")
    handler2 = await person(AGENCY, Role.HANDLING_OFFICER, HANDLER_2, "Cường")
    head = await person(AGENCY, Role.AGENCY_HEAD, HEAD, "Chị Dung")
    other_admin = await person(OTHER_AGENCY, Role.AGENCY_ADMIN, OTHER_ADMIN, "Hải")
    other_receiver = await person(OTHER_AGENCY, Role.RECEIVING_OFFICER, OTHER_RECEIVER, "Giang")
    stranger = Person(emu, "Người lạ")
    group, _bound = await bind_group(
        sandbox, admin, emu, receiver.user, handler.user, handler2.user, head.user, stranger.user, other_receiver.user
    )
    other_group, _other_bound = await bind_group(sandbox, other_admin, emu, other_receiver.user)
    return Office(
        bot=sandbox,
        emu=emu,
        settings=settings,
        receiver=receiver,
        handler=handler,
        handler2=handler2,
        head=head,
        admin=admin,
        stranger=stranger,
        group=group,
        clock=bot_clock,
        other_receiver=other_receiver,
        other_admin=other_admin,
        other_group=other_group,
        agency_id=await agency_id(sandbox, AGENCY),
        other_agency_id=await agency_id(sandbox, OTHER_AGENCY),
    )


# Fixture functions are named apart from their fixtures, so that a test module imports them
# without its test parameters (`office`, `bot`, `clock`) shadowing the imported names.


@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    return Clock()


@pytest.fixture(name="bot")
async def bot_fixture(emu: BotApiEmulator, settings: Settings, clock: Clock) -> AsyncIterator[Sandbox]:
    # Every step edits the card in the group; at Telegram's 20 a minute a test
    # would mostly wait. These tests are about what arrives; tests/test_outbox.py
    # covers the pacing.
    fast = SenderConfig(group_per_minute=1200)
    async with running_bot(emu, settings, clock=clock, sender_config=fast) as sandbox:
        yield sandbox


@pytest.fixture(name="bot")
async def fast_bot_fixture(emu: BotApiEmulator, settings: Settings, clock: Clock) -> AsyncIterator[Sandbox]:
    """The real bot, with the group limit raised: every step edits the card, and these tests are
    about what arrives, not how fast (tests/test_outbox.py covers the pacing)."""
    fast = SenderConfig(group_per_minute=1200)
    async with running_bot(emu, settings, clock=clock, sender_config=fast) as sandbox:
        yield sandbox


@pytest.fixture(name="office")
async def office_fixture(
    bot: Sandbox, settings: Settings, emu: BotApiEmulator, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> Office:
    return await open_office(bot, settings, emu, clock, capsys)
