"""Fixtures shared by every test.

Every test that touches the database runs twice: on SQLite and on PostgreSQL.
PostgreSQL runs when CONGDAN_TEST_POSTGRES_URL is set (CI sets it) and is
skipped with that reason otherwise.

The schema is built once per run into a template (a file for SQLite, a
template database for PostgreSQL) and cloned for each test, so every test
starts from an empty database without paying for the schema each time.
`tests/test_migrations.py` checks that the Alembic migrations build exactly
this schema.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import storage.models  # noqa: F401  (registers every table on Base.metadata)
from storage.db import create_engine, session_factory
from storage.models.base import Base

POSTGRES_URL_ENV = "CONGDAN_TEST_POSTGRES_URL"

pytest_plugins = ["tests.e2e_fixtures"]


def run_outside_loop(coro) -> None:
    """Run a coroutine to completion from sync code that may sit inside a running loop.

    Session-scoped templates are first requested from inside async fixtures,
    where asyncio.run() is not allowed; a worker thread has no loop of its own.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_URL_ENV) or None


async def _create_schema(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


async def _admin_execute(statement: str) -> None:
    base = postgres_url()
    assert base is not None
    # CREATE/DROP DATABASE cannot run inside a transaction.
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


def _database_url(base: str, name: str) -> str:
    return make_url(base).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    run_outside_loop(_create_schema(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    base = postgres_url()
    assert base is not None
    name = f"congdan_tpl_{uuid.uuid4().hex[:10]}"
    run_outside_loop(_admin_execute(f'CREATE DATABASE "{name}"'))
    run_outside_loop(_create_schema(_database_url(base, name)))
    yield name
    run_outside_loop(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    if request.param == "postgresql" and not postgres_url():
        pytest.skip(f"PostgreSQL run needs {POSTGRES_URL_ENV}, e.g. postgresql+asyncpg://postgres@127.0.0.1/test")
    return request.param


@pytest.fixture
async def database_url(backend: str, request, tmp_path) -> AsyncIterator[str]:
    """An empty database with the full schema, on the chosen backend."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"congdan_t_{uuid.uuid4().hex[:12]}"
    await _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    try:
        yield _database_url(postgres_url() or "", name)
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as s:
        yield s


@pytest.fixture
async def empty_database_url(backend: str, tmp_path) -> AsyncIterator[str]:
    """A database with no tables at all, for migration tests."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    name = f"congdan_e_{uuid.uuid4().hex[:12]}"
    await _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield _database_url(postgres_url() or "", name)
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
