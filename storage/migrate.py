"""Alembic migrations, run from code so `congdan migrate` needs no alembic.ini in the working folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade_to_head(url: str) -> None:
    # Alembic's command API is synchronous and our env.py runs its own event
    # loop for the async engine, so it runs in a worker thread.
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


def upgrade_to_head_sync(url: str) -> None:
    command.upgrade(alembic_config(url), "head")
