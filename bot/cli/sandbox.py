"""The real bot against the local Bot API emulator: for the demo, tests and benchmarks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.config import Settings
from bot.delivery.sender import SenderConfig
from bot.deps import Deps, build_deps, system_clock
from bot.domain.province import ProvinceFile, import_province, load_province_file
from bot.emulators.telegram import BotApiEmulator
from bot.platforms.telegram.app import build_application, running

DEMO_PROVINCE = Path(__file__).resolve().parents[2] / "examples" / "demo-province.yaml"


@cache
def province_file(path: Path = DEMO_PROVINCE) -> ProvinceFile:
    return load_province_file(path)


def sandbox_settings(emu: BotApiEmulator, database_url: str, media_dir: Path, **overrides: Any) -> Settings:
    settings = Settings(
        telegram_bot_token=emu.token,
        telegram_api_base_url=emu.base_url,
        telegram_api_file_url=emu.base_file_url,
        database_url=database_url,
        media_dir=str(media_dir),
        album_quiet_seconds=0.3,
        polling_timeout=10,
        # Reminders would land in the middle of scripted conversations; tests of them turn it on.
        scheduler_enabled=False,
    )
    return replace(settings, **overrides)


@dataclass
class Sandbox:
    emu: BotApiEmulator
    app: Application
    deps: Deps


async def load_province(settings: Settings, province: ProvinceFile) -> None:
    from storage.db import create_engine, session_factory

    engine = create_engine(settings.database_url)
    async with session_factory(engine).begin() as session:
        await import_province(session, province)
    await engine.dispose()


@asynccontextmanager
async def running_bot(
    emu: BotApiEmulator,
    settings: Settings,
    *,
    clock: Callable[[], datetime] = system_clock,
    sender_config: SenderConfig | None = None,
) -> AsyncIterator[Sandbox]:
    """Start the bot, with its outbox sender, on a database that already holds the schema and a province."""
    deps = await build_deps(settings, clock=clock)
    app = build_application(settings, deps, rate_limit=False, sender_config=sender_config)
    try:
        async with running(app, poll_timeout=settings.polling_timeout):
            yield Sandbox(emu, app, deps)
    finally:
        await deps.engine.dispose()
