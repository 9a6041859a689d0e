"""What every handler needs, built once at start and shared."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.delivery import outbox
from bot.domain.calendar import WorkingCalendar
from bot.domain.calendars import CalendarCache, load_calendars
from bot.domain.deadlines import StageLimits, with_province
from bot.domain.desk import Desk
from bot.domain.drafts import Limits
from bot.domain.photos import PhotoLimits
from bot.domain.routing import RouterCache
from storage.db import call_after_commit, create_engine, session_factory
from storage.media import MediaStore


def system_clock() -> datetime:
    return datetime.now(UTC)


def no_sender() -> None:
    """No sender runs in this process (the command line, a test): its poll finds the rows."""


@dataclass
class Deps:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    media: MediaStore
    # Rebuilt when a province import (possibly from the CLI, another process)
    # changes the province, so a running bot routes by the new boundaries.
    routers: RouterCache
    # The working calendars and the province's stage limits, reloaded by every
    # process (scheduler/runner.py) when the province file, an agency's office
    # hours or the administrator's days change.
    calendars: CalendarCache
    draft_limits: Limits
    photo_limits: PhotoLimits
    # The regulation's limits with the operator's reminder shares; the
    # province's own limits go on top at each use (`desk`).
    stage_limits: StageLimits = field(default_factory=StageLimits)
    # Replaced by tests and the demo to move time without waiting for it.
    clock: Callable[[], datetime] = system_clock
    # The outbox sender of this process, told that rows were committed; set
    # while bot.platforms.telegram.app runs one. Called from the after-commit hook that
    # __post_init__ registers, so handlers never call it themselves.
    wake_sender: Callable[[], None] = no_sender

    def __post_init__(self) -> None:
        # Looked up at each commit, not bound now: the sender starts (and
        # stops) after the sessions are made.
        call_after_commit(self.sessions, outbox.ENQUEUED_FLAG, lambda: self.wake_sender())

    def now(self) -> datetime:
        return self.clock()

    @property
    def calendar(self) -> WorkingCalendar:
        """The province's working calendar as it is now."""
        return self.calendars.current.province

    @property
    def desk(self) -> Desk:
        # Built at each use from the current calendars, so a reload reaches
        # the next action without anyone holding on to an old one.
        current = self.calendars.current
        return Desk(
            current.province,
            with_province(self.stage_limits, current.deadlines),
            self.settings.timezone,
            current.by_agency,
        )


async def load_calendar(session: AsyncSession, timezone_name: str) -> WorkingCalendar:
    """The province's calendar: public holidays, the province file's and the administrator's extra days."""
    return (await load_calendars(session, timezone_name)).province


def stage_limits(settings: Settings) -> StageLimits:
    return StageLimits(reminder_shares=settings.reminder_shares)


async def load_desk(session: AsyncSession, settings: Settings) -> Desk:
    """For the command line, which acts on reports without a running bot."""
    calendars = await load_calendars(session, settings.timezone)
    return Desk(
        calendars.province,
        with_province(stage_limits(settings), calendars.deadlines),
        settings.timezone,
        calendars.by_agency,
    )


async def build_deps(settings: Settings, *, clock: Callable[[], datetime] = system_clock) -> Deps:
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    routers = RouterCache()
    calendars = CalendarCache(settings.timezone)
    async with sessions() as session:
        await routers.get(session)
        await calendars.refresh(session)
    return Deps(
        settings=settings,
        engine=engine,
        sessions=sessions,
        media=MediaStore(Path(settings.media_dir)),
        routers=routers,
        calendars=calendars,
        stage_limits=stage_limits(settings),
        draft_limits=Limits(
            description_min=settings.description_min_chars,
            description_max=settings.description_max_chars,
            address_min=settings.address_min_chars,
            max_photos=settings.max_photos,
        ),
        photo_limits=PhotoLimits(max_bytes=settings.max_photo_bytes, max_pixels=settings.max_photo_pixels),
        clock=clock,
    )
