"""Fixtures for end-to-end tests: the emulator, and the real bot on a database of each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli.sandbox import (
    Sandbox,
    load_province,
    province_file,
    running_bot,
    sandbox_settings,
)
from bot.config import Settings
from bot.emulators.telegram import BotApiEmulator


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator() as emulator:
        yield emulator
    assert emulator.internal_errors == []


@pytest.fixture
def settings_overrides() -> dict:
    return {}


@pytest.fixture
async def settings(emu: BotApiEmulator, database_url: str, tmp_path: Path, settings_overrides: dict) -> Settings:
    s = sandbox_settings(emu, database_url, tmp_path / "media", **settings_overrides)
    await load_province(s, province_file())
    return s


@pytest.fixture
async def sandbox(emu: BotApiEmulator, settings: Settings) -> AsyncIterator[Sandbox]:
    async with running_bot(emu, settings) as sb:
        yield sb
