"""Proof that a second platform is cheap: "Pigeon", a messenger in plain Python, in well under 200 lines.

The adapter turns what a person does into the conversation's inputs, shows the replies in an
in-memory chat log, fetches uploaded files, and is the outbox's transport. The tests then run a
citizen through registration, a report, the agency's steps and a rating, with no Telegram anywhere.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.conversation import dialogue, followup
from bot.conversation.inputs import Button, Command, Contact, FileRef, Input, Location, Sender, Text, Upload
from bot.conversation.menus import MENU_MY_REPORTS, MENU_REPORT, SHARE_LOCATION, SHARE_PHONE, main_menu
from bot.conversation.replies import Ask, EditButtons, Images, Keys, MessageRef, Notice, Reply, Rows, Say, ShowInPlace
from bot.delivery.rendering import RENDERERS, Rendered
from bot.delivery.sender import ChatKind, SenderConfig
from bot.delivery.sender import Sender as OutboxSender
from bot.deps import Deps
from bot.domain import casework, notices
from bot.domain.labels import STATE_LABELS
from bot.domain.workflow import Action, Rating, State
from bot.i18n import translator
from storage.models import OutboxMessage, Report, ReportPhoto, User
from storage.models.officials import Role
from tests import images
from tests.conversation_world import IN_WARD, Clock, official, world

PIGEON = "pigeon"


@dataclass
class Note:
    """One message in a chat log: who wrote it, its words, its buttons and its pictures."""

    id: str
    text: str = ""
    buttons: Rows = field(default_factory=list)
    pictures: tuple[bytes, ...] = ()

    @property
    def labels(self) -> list[str]:
        return [label for row in self.buttons for label, _ in row]


def rows_of(rendered: Rendered) -> Rows:
    return [[(b.text, b.callback_data or b.url or "") for b in row] for row in rendered.buttons]


class FakeFiles:
    """Every file the pigeon carried, by id, for the bot to fetch when it needs one."""

    def __init__(self) -> None:
        self.kept: dict[str, bytes] = {}

    def keep(self, data: bytes) -> FileRef:
        file_id = f"scroll-{len(self.kept) + 1}"
        self.kept[file_id] = data
        return FileRef(PIGEON, file_id)

    async def fetch(self, file: FileRef) -> bytes:
        return self.kept[file.file_id]


class Pigeon:
    """The platform: chat logs in memory, written by the conversation's replies and by the outbox."""

    platform = PIGEON

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.files = FakeFiles()
        self.logs: dict[str, list[Note]] = {}
        self.by_id: dict[str, Note] = {}
        self.keyboards: dict[str, Keys | None] = {}
        self.notices: list[str] = []
        self._ids = itertools.count(1)

    def person(self, user_id: str, name: str, phone: str) -> Person:
        return Person(self, Sender(PIGEON, user_id, f"loft-{user_id}", name, client_language="vi"), phone)

    def note(self, chat_id: str, text: str = "", buttons: Rows | None = None, pictures: tuple = ()) -> Note:
        note = Note(str(next(self._ids)), text, buttons or [], pictures)
        self.by_id[note.id] = note
        self.logs.setdefault(chat_id, []).append(note)
        return note

    async def carry(self, person: Person, received: Input, pressed: Note | None = None) -> None:
        """What the person sent goes to the conversation; its replies come back into the chat."""
        replies = await dialogue.handle(self.deps, person.sender, received, self.files)
        for reply in replies:
            self.show(person.sender.chat_id, reply, pressed)

    def show(self, chat_id: str, reply: Reply, pressed: Note | None) -> None:
        match reply:
            case Say(text=text, buttons=buttons, keys=keys):
                self.note(chat_id, text, buttons)
                if keys is not None:
                    self.keyboards[chat_id] = keys if isinstance(keys, Keys) else None
            case Images(images=images):
                self.note(chat_id, pictures=images)
            case EditButtons(rows=rows, message=target):
                edited = self.by_id.get(target.message_id) if target else pressed
                if edited is not None:
                    edited.buttons = rows
            case ShowInPlace(text=text, buttons=buttons):
                shown = pressed or self.note(chat_id)
                shown.text, shown.buttons = text, buttons
            case Notice(text=text):
                self.notices.append(text)

    # --- the outbox's transport (bot/delivery/sender.py `Transport`) ---

    def chat_kind(self, chat_id: str) -> ChatKind:
        return ChatKind.PRIVATE

    def weight(self, rendered: Rendered) -> int:
        return 1 + len(rendered.photo_keys)

    async def send(self, chat_id: str, rendered: Rendered) -> str:
        pictures = tuple(self.deps.media.read(key) for key in rendered.photo_keys)
        return self.note(chat_id, rendered.text, rows_of(rendered), pictures).id

    async def edit(self, chat_id: str, message_id: str, rendered: Rendered) -> None:
        note = self.by_id[message_id]
        note.text, note.buttons = rendered.text, rows_of(rendered)

    async def reachable(self) -> bool:
        return True


class Person:
    """Someone with the pigeon app: types, presses, taps keyboard keys, shares a place, sends photos."""

    def __init__(self, pigeon: Pigeon, sender: Sender, phone: str) -> None:
        self.pigeon, self.sender, self.phone = pigeon, sender, phone

    @property
    def log(self) -> list[Note]:
        return self.pigeon.logs.get(self.sender.chat_id, [])

    @property
    def last(self) -> Note:
        return self.log[-1]

    async def say(self, text: str) -> None:
        if text.startswith("/"):
            name, *args = text[1:].split()
            await self.pigeon.carry(self, Command(name, tuple(args)))
        else:
            await self.pigeon.carry(self, Text(text))

    async def press(self, label: str) -> None:
        """Press the button `label` on the latest message that shows one."""
        note = next(n for n in reversed(self.log) if label in n.labels)
        payload = next(p for row in note.buttons for text, p in row if text == label)
        pressed = Button(payload, MessageRef(self.sender.chat_id, note.id), [list(row) for row in note.buttons])
        await self.pigeon.carry(self, pressed, note)

    async def tap(self, label: str, *, here: tuple[float, float] = (0.0, 0.0)) -> None:
        """Tap a key of the keyboard shown: it shares the phone or the place, or sends its label."""
        keys = self.pigeon.keyboards.get(self.sender.chat_id)
        key = next(k for row in (keys.rows if keys else ()) for k in row if k.label == label)
        if key.asks is Ask.CONTACT:
            await self.pigeon.carry(self, Contact(self.phone, owner_id=self.sender.user_id))
        elif key.asks is Ask.LOCATION:
            await self.share_location(*here)
        else:
            await self.say(label)

    async def share_location(self, latitude: float, longitude: float) -> None:
        await self.pigeon.carry(self, Location(latitude, longitude))

    async def send_photo(self, data: bytes) -> None:
        await self.pigeon.carry(self, Upload(self.pigeon.files.keep(data), size=len(data), photo=True))


# --- the adapter ends here


VI = translator("vi")
CODE = re.compile(r"PA-\d{4}-\d{6}")
RESULT = "Đã thu gom toàn bộ rác và nhắc nhở hộ dân."


@pytest.fixture
async def deps(database_url: str, tmp_path: Path) -> AsyncIterator[Deps]:
    built = await world(database_url, tmp_path / "media", Clock())
    yield built
    await built.engine.dispose()


def test_the_adapter_is_well_under_200_lines() -> None:
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    start, end = lines.index('PIGEON = "pigeon"'), lines.index("# --- the adapter ends here")
    # Everything above the mark, docstring and the tests' imports included, and the adapter's own code.
    assert end < 200, f"{end} lines above the end of the adapter"
    assert end - start < 160, f"the Pigeon adapter takes {end - start} lines"


def test_the_adapter_needs_no_telegram() -> None:
    """Importing the pigeon platform and everything it drives loads no Telegram library nor its emulator."""
    check = (
        "import sys, tests.test_second_platform; "
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'telegram' or 'emulators' in m]; "
        "assert not loaded, loaded"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", check], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


async def register_and_report(pigeon: Pigeon) -> tuple[Person, Report]:
    """Lan registers on Pigeon, sharing her phone with the keyboard, and reports with a place and two photos."""
    lan = pigeon.person("p-1", "Lan", "+84912345678")
    await lan.say("/start")
    await lan.press(VI("✅ I agree"))
    await lan.say("Nguyễn Thị Lan")
    await lan.tap(VI(SHARE_PHONE))
    assert lan.last.text == VI("Press “📝 Send a report” below whenever you want to report something.")

    await lan.tap(VI(MENU_REPORT))
    await lan.press("Vệ sinh môi trường")
    await lan.say("Rác thải đổ trộm cạnh mương thoát nước đầu ngõ 12, bốc mùi.")
    await lan.tap(VI(SHARE_LOCATION), here=IN_WARD)
    await lan.send_photo(images.jpeg(seed=1))
    await lan.send_photo(images.jpeg(seed=2))
    assert lan.last.text == VI(
        "📷 {count} of at most {max} photos received. Send more, or press “Done”.", count=2, max=6
    )
    await lan.press(VI("✅ Done with photos"))
    await lan.press(VI("🔒 Keep my name private (recommended)"))
    summary = lan.last
    await lan.press(VI("📨 Submit"))
    # The summary's buttons were taken off its message once pressed.
    assert summary.buttons == []
    code = CODE.search(lan.last.text)
    assert code is not None and "/myreports" in lan.last.text and pigeon.keyboards[lan.sender.chat_id] == main_menu(VI)
    async with pigeon.deps.sessions() as session:
        report = await session.scalar(select(Report).where(Report.code == code.group(0)))
    assert report is not None
    return lan, report


async def resolve(deps: Deps, report_id: int, clock: Clock) -> None:
    """The agency receives, assigns, handles (with an evidence photo) and approves, through the domain."""
    evidence = deps.media.put(images.jpeg(seed=99), kind="display", suffix=".jpg")
    async with deps.sessions.begin() as session:
        _, receiver = await official(session, "receiver", [Role.RECEIVING_OFFICER])
        handler, handling = await official(session, "handler", [Role.HANDLING_OFFICER])
        _, head = await official(session, "head", [Role.AGENCY_HEAD])
    steps = [
        (Action.RECEIVE, receiver, {}),
        (Action.ASSIGN, receiver, {"assignee_id": handler.id}),
        (Action.SUBMIT_RESULT, handling, {"result": RESULT, "evidence": [{"kind": "photo", "key": evidence}]}),
        (Action.APPROVE, head, {}),
    ]
    for action, actor, details in steps:
        clock.advance(minutes=30)
        async with deps.sessions.begin() as session:
            report = await session.get(Report, report_id)
            assert report is not None
            outcome = await casework.act(session, deps.desk, report, action, actor, deps.now(), details)
            assert outcome.ok, (action, outcome.refusal)


async def citizen_rows(deps: Deps, user: User) -> list[OutboxMessage]:
    async with deps.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.recipient_user_id == user.id).order_by(OutboxMessage.id)
        return list((await session.scalars(query)).all())


async def test_a_citizen_on_pigeon_reports_follows_and_rates(deps: Deps) -> None:
    pigeon = Pigeon(deps)
    lan, report = await register_and_report(pigeon)
    async with deps.sessions() as session:
        user = await session.get(User, report.citizen_id)
        photos = list((await session.scalars(select(ReportPhoto).order_by(ReportPhoto.position))).all())
    assert user is not None
    assert (user.platform, user.external_id, user.chat_id) == (PIGEON, "p-1", "loft-p-1")
    assert (user.full_name, user.phone, user.phone_verified) == ("Nguyễn Thị Lan", "+84912345678", True)
    assert (report.state, report.latitude, report.longitude) == (State.SUBMITTED, *IN_WARD)
    # The photos keep the pigeon's own ids, valid on Pigeon only, and their bytes in the media store.
    assert [(p.file_platform, p.file_id) for p in photos] == [(PIGEON, "scroll-1"), (PIGEON, "scroll-2")]
    assert [p.original_key for p in photos] == [
        deps.media.put(images.jpeg(seed=s), kind="original", suffix=".jpg") for s in (1, 2)
    ]

    clock = deps.clock
    assert isinstance(clock, Clock)
    await resolve(deps, report.id, clock)

    # /myreports shows the report with its photos and the rating buttons that work now.
    await lan.tap(VI(MENU_MY_REPORTS))
    [entry] = [label for label in lan.last.labels if report.code in label]
    await lan.press(entry)
    pictures, detail = lan.log[-2:]
    assert len(pictures.pictures) == 2 and pictures.pictures[0] == deps.media.read(photos[0].display_key)
    assert VI("Status: {state}", state=VI(STATE_LABELS[State.RESOLVED])) in detail.text
    ratings = [VI(label) for label in followup.RATING_LABELS.values()]
    assert set(ratings) <= set(detail.labels) and VI(followup.CLARIFY_BUTTON) in detail.labels

    # Each step was written to the outbox for Lan's chat; rendered as the sender renders them, Pigeon shows them.
    rows = await citizen_rows(deps, user)
    assert [(r.kind, r.params["action"], r.chat_id) for r in rows] == [
        (notices.CITIZEN_STEP, action, "loft-p-1") for action in ("receive", "assign", "approve")
    ]
    for row in rows:
        await pigeon.send(row.chat_id, RENDERERS.render(row.kind, row.params, translator(user.language)))
    result = lan.last
    assert RESULT in result.text and report.code in result.text and len(result.pictures) == 1
    assert result.labels == [*ratings, VI(followup.CLARIFY_BUTTON)]

    # Lan rates the result from the step message: the report closes, and its buttons go.
    await lan.press(VI(followup.RATING_LABELS[Rating.SATISFIED]))
    assert lan.last.text == VI(followup.RATED, code=report.code, rating=VI(followup.RATING_LABELS[Rating.SATISFIED]))
    assert result.buttons == []
    async with deps.sessions() as session:
        rated = await session.get(Report, report.id)
    assert rated is not None and (rated.state, rated.rating) == (State.CLOSED, Rating.SATISFIED)
    # The detail's rating button, pressed now, is refused and taken off.
    await lan.press(VI(followup.RATING_LABELS[Rating.NORMAL]))
    assert lan.last.text == VI(
        followup.ALREADY_RATED, code=report.code, rating=VI(followup.RATING_LABELS[Rating.SATISFIED])
    )
    assert not set(ratings) & set(detail.labels)


async def test_the_step_messages_reach_the_pigeon_citizen_through_the_outbox_sender(deps: Deps) -> None:
    pigeon = Pigeon(deps)
    lan, report = await register_and_report(pigeon)
    clock = deps.clock
    assert isinstance(clock, Clock)
    await resolve(deps, report.id, clock)
    async with deps.sessions() as session:
        user = await session.get(User, report.citizen_id)
    assert user is not None
    rows = await citizen_rows(deps, user)
    assert len(rows) == 3
    assert {r.platform for r in rows} == {PIGEON}
    # The real outbox sender, with Pigeon as its transport, delivers them.
    sender = OutboxSender(deps.sessions, pigeon, RENDERERS, config=SenderConfig(private_chat_per_second=1000))
    assert await sender.drain_once() == 3
    await lan.press(VI(followup.RATING_LABELS[Rating.NORMAL]))
    async with deps.sessions() as session:
        rated = await session.get(Report, report.id)
    assert rated is not None and (rated.state, rated.rating) == (State.CLOSED, Rating.NORMAL)
