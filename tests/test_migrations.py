"""The Alembic migrations build exactly the schema the models describe, on both backends."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import storage.models  # noqa: F401
from storage.db import create_engine
from storage.migrate import upgrade_to_head
from storage.models.base import Base
from storage.schema import SchemaNotCurrent, ensure_current

import pytest


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
