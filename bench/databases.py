"""Throw-away PostgreSQL databases for one benchmark run."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import create_engine

__all__ = ["fresh_postgres"]


async def fresh_postgres(base: str, prefix: str = "congdan_bench") -> tuple[str, Callable[[], Awaitable[None]]]:
    """Create an empty database on the server of `base`; return its URL and the coroutine that drops it."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))

    async def drop() -> None:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()

    return make_url(base).set(database=name).render_as_string(hide_password=False), drop
