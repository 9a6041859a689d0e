"""The citizen conversation without any messenger: `Deps` on a test database holding the demo province.

Nothing here imports a platform (no python-telegram-bot, no emulator): the
province is loaded with bot/domain/province.py and the dependencies are built
with bot/deps.py, as any platform's start-up would. Officials are made in the
database and act through bot/domain/casework.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.deps import Deps, build_deps
from bot.domain.province import ProvinceFile, import_province, load_province_file
from bot.domain.workflow import Actor
from storage.db import create_engine, session_factory
from storage.models import Agency, Official, OfficialRole, User
from storage.models.officials import OfficialStatus, Role

DEMO_PROVINCE = Path(__file__).resolve().parents[1] / "examples" / "demo-province.yaml"
# Inside the demo province's first commune, XA-01; Hà Nội is far outside it (tests/places.py).
IN_WARD = (22.57, 106.07)
HANOI = (21.0285, 105.8542)
# A Wednesday, 10:00 in the province: a working day, far from any holiday of the demo calendar.
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


@cache
def demo_province() -> ProvinceFile:
    return load_province_file(DEMO_PROVINCE)


class Clock:
    """The time the bot sees: still unless a test moves it."""

    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


async def world(database_url: str, media_dir: Path, clock: Clock | None = None, **overrides: Any) -> Deps:
    """The bot's dependencies on `database_url` (which has the schema), after the demo province is imported."""
    settings = replace(
        Settings(database_url=database_url, media_dir=str(media_dir), scheduler_enabled=False), **overrides
    )
    engine = create_engine(database_url)
    async with session_factory(engine).begin() as session:
        await import_province(session, demo_province())
    await engine.dispose()
    return await build_deps(settings, clock=clock or Clock())


async def official(
    session: AsyncSession, name: str, roles: list[Role], agency_code: str = "XA-01"
) -> tuple[Official, Actor]:
    """An active official of the agency, with an account of their own (on Telegram, where officials are)."""
    agency = await session.scalar(select(Agency).where(Agency.code == agency_code))
    assert agency is not None
    user = User(platform="telegram", external_id=f"official-{name}", chat_id=f"official-{name}", language="vi")
    session.add(user)
    await session.flush()
    row = Official(user_id=user.id, agency_id=agency.id, full_name=name, status=OfficialStatus.ACTIVE)
    session.add(row)
    await session.flush()
    for role in roles:
        session.add(OfficialRole(official_id=row.id, role=role))
    await session.flush()
    return row, Actor.official(row, frozenset(roles))
