"""What every handler needs, built once at start and shared."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.calendar import WorkingCalendar
from bot.config import Settings
from bot.deadlines import StageLimits
from bot.drafts import Limits
from bot.photos import PhotoLimits
from bot.routing import RouterCache
from storage.db import create_engine, session_factory
from storage.media import MediaStore
from storage.models import Province


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    media: MediaStore
    # Rebuilt when a province import (possibly from the CLI, another process)
    # changes the province, so a running bot routes by the new boundaries.
    routers: RouterCache
    calendar: WorkingCalendar
    draft_limits: Limits
    photo_limits: PhotoLimits
    stage_limits: StageLimits = field(default_factory=StageLimits)
    # Replaced by tests and the demo to move time without waiting for it.
    clock: Callable[[], datetime] = system_clock

    def now(self) -> datetime:
        return self.clock()


async def load_calendar(session: AsyncSession, timezone_name: str) -> WorkingCalendar:
    """The province's calendar: public holidays plus the province file's extra days."""
    province = await session.scalar(select(Province).limit(1))
    extra_off: list[date] = []
    extra_working: list[date] = []
    if province is not None and province.calendar_json:
        raw = json.loads(province.calendar_json)
        extra_off = [date.fromisoformat(d) for d in raw.get("extra_days_off", [])]
        extra_working = [date.fromisoformat(d) for d in raw.get("extra_working_days", [])]
    return WorkingCalendar(tz=timezone_name, extra_days_off=extra_off, extra_working_days=extra_working)


async def build_deps(settings: Settings, *, clock: Callable[[], datetime] = system_clock) -> Deps:
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    routers = RouterCache()
    async with sessions() as session:
        await routers.get(session)
        calendar = await load_calendar(session, settings.timezone)
    return Deps(
        settings=settings,
        engine=engine,
        sessions=sessions,
        media=MediaStore(Path(settings.media_dir)),
        routers=routers,
        calendar=calendar,
        draft_limits=Limits(
            description_min=settings.description_min_chars,
            description_max=settings.description_max_chars,
            address_min=settings.address_min_chars,
            max_photos=settings.max_photos,
        ),
        photo_limits=PhotoLimits(max_bytes=settings.max_photo_bytes, max_pixels=settings.max_photo_pixels),
        clock=clock,
    )
