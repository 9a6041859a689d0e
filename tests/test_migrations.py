"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import sys
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import storage.models  # noqa: F401
from bot.domain import alerts, drafts
from bot.domain.drafts import DraftContent
from storage.db import create_engine, session_factory
from storage.migrate import alembic_config, upgrade_to_head
from storage.models import Alert, ReportPhoto
from storage.models.base import Base
from storage.models.users import TELEGRAM
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


# --- a database filled at 0007 by the real product, upgraded ----------------------------------------------

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "head_0007.json"


def _fixture() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (tests/fixtures/make_head_0007.py made it), JSON-safe."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert data["revision"] == "0007"
    return data["tables"]


def _typed(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """A fixture row as the database takes it: ISO strings back to datetimes and dates."""
    out = dict(row)
    for name, value in row.items():
        kind = table.c[name].type
        if value is not None and isinstance(kind, sa.DateTime):
            out[name] = datetime.fromisoformat(value)
        elif value is not None and isinstance(kind, sa.Date):
            out[name] = date.fromisoformat(value)
    return out


def _plain(value: Any) -> Any:
    """A value read back, as the fixture holds it (booleans, numbers and JSON are alike on both backends)."""
    return value.isoformat() if isinstance(value, date) else value


def _key(table: sa.Table, row: dict[str, Any]) -> tuple:
    return tuple(row[column.name] for column in table.primary_key.columns)


async def _reflect(conn) -> sa.MetaData:
    metadata = sa.MetaData()
    await conn.run_sync(metadata.reflect)
    return metadata


async def _fill_at_0007(url: str) -> None:
    """An empty database brought to 0007 and given every row of the fixture, with SQLAlchemy Core."""
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0007")
    rows = _fixture()
    engine = create_engine(url)
    async with engine.begin() as conn:
        metadata = await _reflect(conn)
        assert set(rows) == set(metadata.tables) - {"alembic_version"}, "the fixture must cover every table of 0007"
        # Parents before children; a row's reference to its own table (an alert's update, a
        # card's edit) is set once every row of that table is in.
        for table in metadata.sorted_tables:
            if table.name == "alembic_version" or not rows[table.name]:
                continue
            own = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
            typed = [_typed(table, row) for row in rows[table.name]]
            await conn.execute(table.insert(), [{**row, **dict.fromkeys(own)} for row in typed])
            for row in typed:
                if any(row[name] is not None for name in own):
                    where = [column == row[column.name] for column in table.primary_key.columns]
                    await conn.execute(table.update().where(*where).values({name: row[name] for name in own}))
        if conn.dialect.name == "postgresql":
            # The ids were given explicitly: the next row must not take one of them.
            for table in metadata.sorted_tables:
                if [column.name for column in table.primary_key.columns] == ["id"] and rows.get(table.name):
                    await conn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))"
                        )
                    )
    await engine.dispose()


def _after_0008(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A 0007 row as revision 0008 must leave it: the platform beside every messenger reference, nothing else."""
    new = dict(row)
    if table == "report_photos":
        new["file_id"] = new.pop("telegram_file_id")
        new["file_platform"] = TELEGRAM if new["file_id"] is not None else None
    elif table == "alerts":
        referenced = row["progress_chat_id"] is not None or row["progress_message_id"] is not None
        new["progress_platform"] = TELEGRAM if referenced else None
    elif table == "group_bind_codes":
        new["used_platform"] = TELEGRAM if row["used_chat_id"] is not None else None
    elif table == "drafts":
        data = copy.deepcopy(row["data"])
        for photo in data.get("photos", []):
            photo["file_platform"] = TELEGRAM if photo["file_id"] is not None else None
        new["data"] = data
    return new


CHANGED_BY_0008 = {"report_photos", "alerts", "group_bind_codes", "drafts"}


async def _read_back(url: str) -> tuple[sa.MetaData, dict[str, dict[tuple, dict[str, Any]]]]:
    engine = create_engine(url)
    async with engine.connect() as conn:
        metadata = await _reflect(conn)
        tables = {}
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            rows = (await conn.execute(sa.select(table))).mappings().all()
            read = [{name: _plain(value) for name, value in row.items()} for row in rows]
            tables[table.name] = {_key(table, row): row for row in read}
    await engine.dispose()
    return metadata, tables


def _assert_rows(metadata: sa.MetaData, got: dict[str, dict[tuple, dict[str, Any]]], expect) -> int:
    """Every table has exactly the fixture's rows, each equal to `expect(table, fixture row)`; how many rows."""
    rows = _fixture()
    assert set(got) == set(rows)
    checked = 0
    for name, fixture_rows in rows.items():
        table = metadata.tables[name]
        wanted = {_key(table, row): expect(name, row) for row in fixture_rows}
        assert len(got[name]) == len(fixture_rows), name
        assert set(got[name]) == set(wanted), name
        for key, row in wanted.items():
            assert got[name][key] == row, (name, key)
            checked += 1
    return checked


async def _migrate_command(url: str, tmp_path: Path) -> None:
    """`congdan migrate`, as the IT team runs it: its own process, the database from DATABASE_URL."""
    root = Path(__file__).resolve().parent.parent
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "migrate",
        env={
            **os.environ,
            "PYTHONPATH": str(root),
            "DATABASE_URL": url,
            "TELEGRAM_BOT_TOKEN": "",
            "CONGDAN_CONFIG": "",
        },
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    assert "database at head" in out.decode()


@pytest.mark.parametrize("how", ["upgrade_to_head", "congdan migrate"])
async def test_a_database_filled_at_0007_upgrades_and_loses_nothing(
    empty_database_url: str, tmp_path: Path, how: str
) -> None:
    """The issue's acceptance test: existing databases upgrade with `congdan migrate` and lose nothing.

    tests/fixtures/head_0007.json holds every row of a database the product
    filled at 0007 (tests/fixtures/make_head_0007.py says how to make it again):
    officials, groups, reports with photos at every stage, drafts with photos,
    pending inputs, an alert delivered, reminders. After the upgrade every row of
    every table is still there with every value it had, except exactly what 0008
    changes: the platform beside each file, chat and message id.
    """
    await _fill_at_0007(empty_database_url)
    if how == "upgrade_to_head":
        await upgrade_to_head(empty_database_url)
    else:
        await _migrate_command(empty_database_url, tmp_path)
    metadata, got = await _read_back(empty_database_url)
    checked = _assert_rows(metadata, got, _after_0008)
    assert checked == sum(len(rows) for rows in _fixture().values())
    # The fixture has what the migration is about, so the checks above checked something.
    photos = list(got["report_photos"].values())
    assert any(p["file_id"] for p in photos) and any(p["file_id"] is None for p in photos)
    assert any(photo["file_id"] for draft in got["drafts"].values() for photo in draft["data"]["photos"])
    await ensure_current(empty_database_url)

    # The current models and domain code work on the upgraded rows.
    engine = create_engine(empty_database_url)
    async with session_factory(engine)() as session:
        for mapper in Base.registry.mappers:
            loaded = (await session.scalars(sa.select(mapper.class_))).all()
            assert len(loaded) == len(got[mapper.local_table.name]), mapper.class_.__name__
        photo = await session.scalar(sa.select(ReportPhoto).where(ReportPhoto.file_id.is_not(None)).limit(1))
        assert photo is not None and photo.file_platform == TELEGRAM
        old = {p["id"]: p for p in _fixture()["report_photos"]}[photo.id]
        assert photo.file_id == old["telegram_file_id"]
        for user_id in got["drafts"]:
            working = await drafts.load(session, *user_id)
            assert working is not None and working.content.photos
            for draft_photo in working.content.photos:
                assert draft_photo.file_platform == (TELEGRAM if draft_photo.file_id else None)
        alert = await session.scalar(sa.select(Alert).where(Alert.progress_chat_id.is_not(None)).limit(1))
        assert alert is not None and alert.progress_platform == TELEGRAM
        reader = await alerts.progress_reader(session, alert)
        assert reader is not None and reader.chat_id == alert.progress_chat_id
        # New rows take new ids (the sequences went on past the fixture's ids on PostgreSQL).
        added = ReportPhoto(
            report_id=photo.report_id,
            position=99,
            original_sha256="0" * 64,
            original_key="originals/new",
            display_key="display/new.jpg",
            file_platform=TELEGRAM,
            file_id="new-file-id",
            source_format="jpeg",
            width=1,
            height=1,
        )
        session.add(added)
        await session.flush()
        assert added.id > max(p["id"] for p in photos)
        await session.rollback()
    await engine.dispose()


async def test_0008_downgrades_to_the_rows_of_0007(empty_database_url: str) -> None:
    """Down again, every row is as the product wrote it at 0007; and up again, as after the first upgrade."""
    await _fill_at_0007(empty_database_url)
    await upgrade_to_head(empty_database_url)
    await asyncio.to_thread(command.downgrade, alembic_config(empty_database_url), "0007")
    metadata, got = await _read_back(empty_database_url)
    _assert_rows(metadata, got, lambda _table, row: row)
    await upgrade_to_head(empty_database_url)
    metadata, got = await _read_back(empty_database_url)
    _assert_rows(metadata, got, _after_0008)


def test_a_draft_saved_before_0008_loads_without_its_file_id() -> None:
    """A photo with a file id and no platform (never left by 0008, which names it) is not taken for Telegram's."""
    draft = next(row for row in _fixture()["drafts"] if len(row["data"]["photos"]) > 1)
    content = DraftContent.from_dict(draft["data"])
    assert [p.file_id for p in content.photos] == [None] * len(content.photos)
    assert [p.file_platform for p in content.photos] == [None] * len(content.photos)
    assert [p.original_key for p in content.photos] == [p["original_key"] for p in draft["data"]["photos"]]
    upgraded = DraftContent.from_dict(_after_0008("drafts", draft)["data"])
    assert [p.file_id for p in upgraded.photos] == [p["file_id"] for p in draft["data"]["photos"]]
    assert DraftContent.from_dict(upgraded.to_dict()) == upgraded
    with pytest.raises(ValueError, match="platform"):
        replace(upgraded.photos[0], file_platform=None)
