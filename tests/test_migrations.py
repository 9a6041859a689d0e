"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import storage.models  # noqa: F401
from storage.db import create_engine
from storage.migrate import upgrade_to_head
from storage.models.base import Base
from storage.schema import SchemaNotCurrent, ensure_current


async def test_migrations_match_models(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)
    engine = create_engine(empty_database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
        )
    await engine.dispose()
    assert diff == []


async def test_upgrade_is_idempotent_and_checked(empty_database_url: str) -> None:
    with pytest.raises(SchemaNotCurrent):
        await ensure_current(empty_database_url)
    await upgrade_to_head(empty_database_url)
    await upgrade_to_head(empty_database_url)
    await ensure_current(empty_database_url)


async def test_upgrade_keeps_existing_reports(empty_database_url: str) -> None:
    """A deployment with reports upgrades in place: new NOT NULL columns get their defaults."""
    import asyncio

    from alembic import command
    from sqlalchemy import text

    from storage.migrate import alembic_config

    await asyncio.to_thread(command.upgrade, alembic_config(empty_database_url), "0002")
    engine = create_engine(empty_database_url)
    async with engine.begin() as conn:
        for statement in (
            "INSERT INTO users (id, platform, external_id, chat_id, display_name, language, language_chosen,"
            " phone_verified, created_at, updated_at) VALUES (1, 'telegram', '1', '1', '', 'vi', false, false,"
            " '2026-01-01', '2026-01-01')",
            "INSERT INTO agencies (id, code, kind, name_vi, name_en, active, updated_at)"
            " VALUES (1, 'XA-01', 'commune', 'Xã', 'Commune', true, '2026-01-01')",
            "INSERT INTO topics (id, code, name_vi, name_en, position, route_to, active, updated_at)"
            " VALUES (1, 'other', 'Khác', 'Other', 0, 'commune', true, '2026-01-01')",
            "INSERT INTO reports (id, code, citizen_id, topic_id, description, agency_id, route_kind,"
            " identity_public, state, version, submitted_at, updated_at) VALUES (1, 'PA-2026-000001', 1, 1,"
            " 'Rác', 1, 'polygon', false, 'submitted', 1, '2026-01-01', '2026-01-01')",
        ):
            await conn.execute(text(statement))
    await upgrade_to_head(empty_database_url)
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT unsatisfied_count, reopen_count, assignee_id FROM reports"))).one()
    await engine.dispose()
    assert tuple(row) == (0, 0, None)
