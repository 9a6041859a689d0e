"""End to end: the running bot's scheduler reminds and escalates, /overdue lists what is late, and the
platform administrator changes the working calendar with /calendar.

Once the officials are in, the bot's clock is moved to a Wednesday morning a
week or more ahead (never behind the real clock, which the outbox's own times
follow), so that office hours hold whatever the hour of the test run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.cli.sandbox import Sandbox, running_bot
from bot.config import Settings
from bot.delivery.sender import SenderConfig
from bot.domain import reports
from bot.domain.drafts import DraftContent, DraftPhoto
from bot.domain.officials import Refusal, RefusalReason, Role
from bot.domain.routing import Router
from bot.emulators.telegram import BotApiEmulator
from handlers import calendar_admin
from handlers.calendar_admin import day_text
from handlers.officials import refusal_text
from handlers.overdue import HEADING
from storage.models import Report, User
from tests.officials_world import VI, Clock, Person, bind_group, onboard
from tests.reminder_world import IN_WARD, a_quiet_wednesday, vn

WAIT = 10.0


@pytest.fixture
def settings_overrides() -> dict:
    return {"scheduler_enabled": True, "scheduler_tick_seconds": 0.2, "scheduler_lease_seconds": 1.0}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def bot(emu: BotApiEmulator, settings: Settings, clock: Clock) -> AsyncIterator[Sandbox]:
    # The test is about who hears what, not about Telegram's limits: no minute-long waits per group message.
    fast = SenderConfig(group_per_minute=1200, private_chat_per_second=20, poll_interval=0.1)
    async with running_bot(emu, settings, clock=clock, sender_config=fast) as sandbox:
        yield sandbox


async def file_report(bot: Sandbox, at: datetime) -> Report:
    """A citizen's report submitted at `at`, as the bot submits one."""
    photo = DraftPhoto(
        original_sha256="f" * 64,
        original_key="originals/f",
        display_key="display/f.jpg",
        file_id=None,
        file_platform=None,
        source_format="jpeg",
        width=800,
        height=600,
    )
    content = DraftContent(
        topic="environment",
        description="Rác thải đổ trộm cạnh mương thoát nước.",
        latitude=IN_WARD[0],
        longitude=IN_WARD[1],
        photos=(photo,),
        identity_public=False,
    )
    async with bot.deps.sessions.begin() as session:
        citizen = User(platform="telegram", external_id="citizen-1", chat_id="1", language="vi")
        session.add(citizen)
        await session.flush()
        done = await reports.submit(
            session, citizen, content, router=await Router.load(session), desk=bot.deps.desk, now=at, year=at.year
        )
        assert isinstance(done, reports.Submitted)
        return done.report


async def test_reminders_reach_people_and_overdue_lists_them(
    bot: Sandbox, settings: Settings, emu: BotApiEmulator, clock: Clock, capsys
) -> None:
    admin = await onboard(bot, settings, capsys, emu, "XA-01", Role.AGENCY_ADMIN, "Nguyễn Văn An", "An")
    head = await onboard(bot, settings, capsys, emu, "XA-01", Role.AGENCY_HEAD, "Phạm Thị Dung", "Dung")
    handler = await onboard(bot, settings, capsys, emu, "XA-01", Role.HANDLING_OFFICER, "Lê Thị Bình", "Binh")
    supervisor = await onboard(bot, settings, capsys, emu, "VP-UBND", Role.SUPERVISOR, "Trần Văn Sơn", "Son")
    group, _ = await bind_group(bot, admin, emu, head.user)
    # Invitations are made on the real clock; the week ahead starts once everyone is in.
    now = datetime.now(UTC)
    clock.offset = a_quiet_wednesday(now) - now
    # Submitted on Monday 10:00: to be received by Tuesday 10:00; a working day overdue now.
    report = await file_report(bot, clock() - timedelta(days=2))
    await group.expect(lambda m: report.code in m.content and m.has_inline_keyboard, timeout=WAIT)

    # The scheduler of the running bot: the group is reminded, the head and the Provincial Office are told.
    reminded = await group.expect(lambda m: report.code in m.content and m.content.startswith("⏰"), timeout=WAIT)
    assert VI("📜 Timeline") in reminded.buttons
    alert = await supervisor.chat.expect(lambda m: report.code in m.content and "🚨" in m.content, timeout=WAIT)
    assert not alert.has_inline_keyboard
    await head.chat.expect(lambda m: report.code in m.content and "🚨" in m.content, timeout=WAIT)

    for person in (supervisor, head):
        await person.chat.send_text("/overdue")
        listing = await person.chat.expect(lambda m: m.content.startswith(VI(HEADING, n=1)), timeout=WAIT)
        assert report.code in listing.content
    assert (await handler.say("/overdue")).content == refusal_text(Refusal(RefusalReason.MISSING_ROLE), VI)
    stranger = Person(emu, "Khách")
    assert (await stranger.say("/overdue")).content == refusal_text(Refusal(RefusalReason.NOT_AN_OFFICIAL), VI)
    async with bot.deps.sessions() as session:
        row = await session.scalar(select(Report).where(Report.id == report.id))
        assert row is not None and row.next_reminder_at is not None and row.next_reminder_at > clock()


async def test_the_platform_administrator_changes_the_calendar(
    bot: Sandbox, settings: Settings, emu: BotApiEmulator, clock: Clock, capsys
) -> None:
    admin = await onboard(bot, settings, capsys, emu, "SO-KHCN", Role.PLATFORM_ADMIN, "Vũ Thị Hoa", "Hoa")
    receiver = await onboard(bot, settings, capsys, emu, "XA-01", Role.RECEIVING_OFFICER, "Nguyễn Văn An", "An")
    assert (await Person(emu, "Khách").say("/calendar")).content == refusal_text(
        Refusal(RefusalReason.NOT_AN_OFFICIAL), VI
    )
    assert (await receiver.say("/calendar off 06/03/2030")).content == refusal_text(
        Refusal(RefusalReason.MISSING_ROLE), VI
    )

    # Tuesday 5/3/2030 10:00: a report to be received by Wednesday 10:00.
    clock.offset = vn(2030, 3, 5, 10) - datetime.now(UTC)
    report = await file_report(bot, clock())
    wednesday, zone = date(2030, 3, 6), bot.deps.settings.zone
    # The government makes Wednesday a day off: the report keeps its 8 working hours, due on Thursday.
    said = await admin.say("/calendar off 06/03/2030 Nghỉ bù theo QĐ 12/2030")
    assert said.content == "\n".join(
        [VI(calendar_admin.NOW_OFF, day=day_text(wednesday, VI, zone)), VI(calendar_admin.MOVED, n=1)]
    )
    assert not bot.deps.calendar.is_working_day(wednesday)
    assert (await _due(bot, report)) - report.due_at == timedelta(days=1)

    listing = await admin.say("/calendar 2030")
    assert (
        f"{day_text(wednesday, VI, zone)}: {VI('day off')}, {VI('administrator')}: Nghỉ bù theo QĐ 12/2030"
        in listing.content
    )
    assert f"{day_text(date(2030, 9, 2), VI, zone)}: {VI('day off')}, {VI('public holiday')}" in listing.content
    # Taken back from the listing's button: the deadline is Wednesday's again.
    await admin.chat.press(listing, "🗑 06/03/2030")
    undone = await admin.chat.expect(contains=VI(calendar_admin.MOVED, n=1), timeout=WAIT)
    assert day_text(wednesday, VI, zone) in undone.content
    assert await _due(bot, report) == report.due_at
    assert bot.deps.calendar.is_working_day(wednesday)
    relisted = await admin.chat.expect(lambda m: m.message_id == listing.message_id, edited=True, timeout=WAIT)
    assert "🗑 06/03/2030" not in relisted.buttons and "Nghỉ bù" not in relisted.content

    saturday = date(2030, 3, 9)
    said = await admin.say("/calendar work 2030-03-09")
    assert said.content.startswith(VI(calendar_admin.NOW_WORKING, day=day_text(saturday, VI, zone)))
    assert bot.deps.calendar.is_working_day(saturday)
    assert (await admin.say("/calendar off 31/02/2030")).content == VI(calendar_admin.NOT_A_DATE, text="31/02/2030")
    assert (await admin.say("/calendar remove 07/03/2030")).content == VI(
        calendar_admin.NOT_CHANGED, day=day_text(date(2030, 3, 7), VI, zone)
    )
    assert (await admin.say("/calendar sometime")).content == VI(calendar_admin.USAGE)


async def _due(bot: Sandbox, report: Report) -> datetime | None:
    async with bot.deps.sessions() as session:
        return await session.scalar(select(Report.due_at).where(Report.id == report.id))
