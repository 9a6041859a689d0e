"""Is a database at the schema this code expects?"""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.db import create_engine
from storage.migrate import alembic_config


class SchemaNotCurrent(RuntimeError):
    pass


async def ensure_current(url: str) -> None:
    """Refuse to serve a shared database that `congdan migrate` has not brought up to date."""
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    engine = create_engine(url)
    async with engine.connect() as conn:
        current = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    await engine.dispose()
    if current != head:
        raise SchemaNotCurrent(
            f"database schema is at {current or 'nothing'}, this version needs {head}: run `congdan migrate`"
        )
