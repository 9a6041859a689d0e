"""A small province for reminder tests: XA-01 with its people and group, the Provincial Office, reports.

Time is whatever the test says: every call takes `at`, and the tick is run
directly (bot/reminders.tick), so a week of deadlines takes milliseconds.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.sandbox import province_file
from bot.domain import casework, reminders, reports
from bot.domain.calendar import WorkingCalendar
from bot.domain.deadlines import StageLimits
from bot.domain.desk import Desk
from bot.domain.drafts import DraftContent, DraftPhoto
from bot.domain.province import import_province
from bot.domain.routing import Router
from bot.domain.workflow import Action, Actor, Outcome
from storage.models import (
    Agency,
    GroupBinding,
    Official,
    OfficialRole,
    OutboxMessage,
    Report,
    User,
)
from storage.models.officials import Role

TZ = "Asia/Ho_Chi_Minh"
VN = ZoneInfo(TZ)
GROUP = "-100501"
OFFICE_GROUP = "-100900"
# Inside XA-01 (tests/citizen.py).
IN_WARD = (22.57, 106.07)

_numbers = itertools.count(1)


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A local time in the province, as the aware instant it is."""
    return datetime(year, month, day, hour, minute, second, tzinfo=VN)


def a_quiet_wednesday(now: datetime) -> datetime:
    """10:00 on a Wednesday at least a week ahead, with Monday to Wednesday working days."""
    calendar = WorkingCalendar()
    day = now.astimezone(VN).date() + timedelta(days=7)
    while day.weekday() != 2 or not all(calendar.is_working_day(day - timedelta(days=k)) for k in range(3)):
        day += timedelta(days=1)
    return datetime.combine(day, time(10), tzinfo=VN)


def make_desk(limits: StageLimits | None = None) -> Desk:
    return Desk(WorkingCalendar(tz=TZ), limits or StageLimits(), TZ)


@dataclass
class Person:
    user: User
    official: Official
    actor: Actor


@dataclass
class World:
    agency: Agency
    office: Agency
    citizen: User
    receiver: Person
    handler: Person
    head: Person
    supervisor: Person


async def _person(session: AsyncSession, name: str, agency: Agency, roles: list[Role]) -> Person:
    user = User(platform="telegram", external_id=f"{name}-{next(_numbers)}", chat_id=f"chat-{name}", language="vi")
    session.add(user)
    await session.flush()
    official = Official(user_id=user.id, agency_id=agency.id, full_name=name)
    session.add(official)
    await session.flush()
    session.add_all([OfficialRole(official_id=official.id, role=role) for role in roles])
    await session.flush()
    return Person(user, official, Actor.official(official, frozenset(roles)))


async def build_world(sessions: async_sessionmaker[AsyncSession], *, office_group: bool = False) -> World:
    async with sessions.begin() as session:
        await import_province(session, province_file())
        agency = await session.scalar(select(Agency).where(Agency.code == "XA-01"))
        office = await session.scalar(select(Agency).where(Agency.code == "VP-UBND"))
        assert agency is not None and office is not None
        citizen = User(platform="telegram", external_id="citizen", chat_id="chat-citizen", language="vi")
        session.add(citizen)
        await session.flush()
        receiver = await _person(session, "receiver", agency, [Role.RECEIVING_OFFICER])
        handler = await _person(session, "handler", agency, [Role.HANDLING_OFFICER])
        head = await _person(session, "head", agency, [Role.AGENCY_HEAD])
        supervisor = await _person(session, "supervisor", office, [Role.SUPERVISOR])
        session.add(
            GroupBinding(
                platform="telegram",
                chat_id=GROUP,
                agency_id=agency.id,
                title="XA-01",
                bound_by_official_id=head.official.id,
            )
        )
        if office_group:
            session.add(
                GroupBinding(
                    platform="telegram",
                    chat_id=OFFICE_GROUP,
                    agency_id=office.id,
                    title="VP",
                    bound_by_official_id=supervisor.official.id,
                )
            )
        return World(agency, office, citizen, receiver, handler, head, supervisor)


async def submit(
    sessions: async_sessionmaker[AsyncSession],
    world: World,
    desk: Desk,
    at: datetime,
    where: tuple[float, float] = IN_WARD,
    topic: str = "environment",
) -> int:
    """A citizen's report, submitted the way the bot submits it; its id."""
    number = next(_numbers)
    photo = DraftPhoto(
        original_sha256=f"{number:064x}",
        original_key=f"originals/{number}",
        display_key=f"display/{number}.jpg",
        file_id=None,
        file_platform=None,
        source_format="jpeg",
        width=800,
        height=600,
    )
    content = DraftContent(
        topic=topic,
        description="Rác thải đổ trộm cạnh mương thoát nước.",
        latitude=where[0],
        longitude=where[1],
        photos=(photo,),
        identity_public=False,
    )
    async with sessions.begin() as session:
        citizen = await session.get(User, world.citizen.id)
        assert citizen is not None
        done = await reports.submit(
            session, citizen, content, router=await Router.load(session), desk=desk, now=at, year=at.year
        )
        assert isinstance(done, reports.Submitted), done
        return done.report.id


async def act(
    sessions: async_sessionmaker[AsyncSession],
    desk: Desk,
    report_id: int,
    action: Action,
    actor: Actor,
    at: datetime,
    **details: Any,
) -> Outcome:
    async with sessions.begin() as session:
        report = await session.get(Report, report_id)
        assert report is not None
        outcome = await casework.act(session, desk, report, action, actor, at, details)
        assert outcome.ok, (action, outcome.refusal, outcome.missing)
        return outcome


async def tick(sessions: async_sessionmaker[AsyncSession], desk: Desk, at: datetime) -> reminders.TickResult:
    async with sessions.begin() as session:
        return await reminders.tick(session, desk, at)


@dataclass(frozen=True)
class Sent:
    kind: str
    chat_id: str
    step: str | None
    audience: str | None
    open: str | None
    params: dict[str, Any]


async def reminder_rows(sessions: async_sessionmaker[AsyncSession], after_id: int = 0) -> list[Sent]:
    """Reminder messages in the outbox, in order, after the row `after_id`."""
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind.like("reminder.%"), OutboxMessage.id > after_id)
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [
        Sent(r.kind, r.chat_id, r.params.get("step"), r.params.get("audience"), r.params.get("open"), dict(r.params))
        for r in rows
    ]


async def last_outbox_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) or 0)
