"""A broadcast to 20,000 subscribers, the sender killed hard mid-way and restarted.

Alert rows are at-least-once (`redeliver_unconfirmed`): every subscriber gets
the alert, and the only duplicates are rows that were on the wire when the
process died, at most the sender's `concurrency` (the in-flight bound).

Marked `heavy`: it runs in CI (about half a minute per backend); skip it
locally with `-m "not heavy"`.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli.sandbox import province_file
from bot.domain import alerts
from bot.domain.province import import_province
from bot.emulators.telegram import BotApiEmulator
from storage.models import (
    Agency,
    Alert,
    AlertFollower,
    Official,
    OfficialRole,
    OutboxMessage,
    User,
)
from storage.models.alerts import AlertMode
from storage.models.officials import Role
from storage.models.outbox import OutboxStatus
from tests.children import output_at_exit

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIBERS = 20_000
CONCURRENCY = 64
KILL_AFTER = 6_000
FIRST_ID = 5_000_000
HEADLINE = "Bão số 3 đổ bộ: sơ tán khỏi vùng trũng"
NOW = datetime.now(UTC)

Sessions = async_sessionmaker[AsyncSession]
pytestmark = pytest.mark.heavy


async def _world(sessions: Sessions, emu: BotApiEmulator) -> list[int]:
    for offset in range(SUBSCRIBERS):
        emu.add_user(f"N{offset}", user_id=FIRST_ID + offset)
    async with sessions.begin() as session:
        await import_province(session, province_file())
        focal_unit = await session.scalar(select(Agency).where(Agency.code == "SO-KHCN"))
        assert focal_unit is not None
        ids = [FIRST_ID + offset for offset in range(SUBSCRIBERS)]
        await session.execute(
            insert(User),
            [
                {
                    "id": i,
                    "platform": "telegram",
                    "external_id": str(i),
                    "chat_id": str(i),
                    "language": "vi",
                    "language_chosen": False,
                    "phone_verified": False,
                    "consent_at": NOW,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in ids
            ],
        )
        await session.execute(
            insert(AlertFollower),
            [
                {"user_id": i, "whole_province": True, "tester": False, "created_at": NOW, "updated_at": NOW}
                for i in ids
            ],
        )
        staff = []
        for name, role in (("Tác giả", Role.ALERT_AUTHOR), ("Người duyệt", Role.FOCAL_UNIT)):
            account = emu.add_user(name)
            user = User(platform="telegram", external_id=str(account.id), chat_id=str(account.id), language="vi")
            session.add(user)
            await session.flush()
            official = Official(user_id=user.id, agency_id=focal_unit.id, full_name=name)
            session.add(official)
            await session.flush()
            session.add(OfficialRole(official_id=official.id, role=role))
            staff.append(official)
        author, approver = staff
        alert = await alerts.new_draft(session, author, AlertMode.ACTUAL, NOW)
        alerts.set_text(alert, "headline_vi", HEADLINE, NOW)
        alerts.set_text(alert, "description_vi", "Gió mạnh cấp 12, mưa rất to.", NOW)
        assert await alerts.submit(session, alert, author, NOW) == 1
        approved = await alerts.approve(session, alert, approver, alert.version, NOW, zone_name="Asia/Ho_Chi_Minh")
        assert isinstance(approved, alerts.Approved) and approved.recipients == SUBSCRIBERS
    return ids


async def _child(
    database_url: str, emu: BotApiEmulator, media: Path, log: Path, *extra: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.alerts_child",
        database_url,
        emu.base_url,
        emu.token,
        str(media),
        "--concurrency",
        str(CONCURRENCY),
        "--rate",
        "1000",
        *extra,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("wb"),
    )


async def _count(sessions: Sessions, status: OutboxStatus) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == status))
            or 0
        )


async def test_broadcast_survives_a_hard_kill(
    database_url: str, engine: AsyncEngine, sessions: Sessions, emu: BotApiEmulator, tmp_path: Path
) -> None:
    ids = await _world(sessions, emu)
    # As the bot does after a large publication (PostgreSQL plans the claims from fresh statistics).
    await alerts.refresh_statistics(engine, SUBSCRIBERS)
    started = time.monotonic()
    first = await _child(database_url, emu, tmp_path, tmp_path / "first.log")
    try:
        await emu.wait_until(lambda: emu.sent_count >= KILL_AFTER, timeout=60)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert first.returncode == -signal.SIGKILL
    # Requests on the wire when the process died end as dropped connections on the emulator's side.
    dropped = emu.state.internal_errors
    assert all("Connection lost" in error or "ConnectionResetError" in error for error in dropped), dropped
    dropped.clear()
    in_flight = await _count(sessions, OutboxStatus.SENDING)
    assert in_flight <= CONCURRENCY
    assert await _count(sessions, OutboxStatus.PENDING) > 0, "killed too late to test anything"

    second = await _child(database_url, emu, tmp_path, tmp_path / "second.log", "--exit-when-settled")
    out = await output_at_exit(second, timeout=90)
    assert second.returncode == 0, (tmp_path / "second.log").read_text()
    assert json.loads(out)["failed"] == 0

    received = [emu.sent_to(i) for i in ids]
    assert min(received) == 1, "someone lost the alert"
    duplicates = sum(received) - len(ids)
    # Only what was on the wire at the kill can have arrived twice.
    assert duplicates <= in_flight <= CONCURRENCY
    sample = emu.private_chat(emu.state.users[ids[-1]]).bot_messages[-1]
    assert HEADLINE in sample.content
    async with sessions() as session:
        alert = await session.scalar(select(Alert))
        assert alert is not None
        state = await alerts.progress(session, alert)
    assert (state.sent, state.left) == (SUBSCRIBERS, 0)
    print(f"in flight at the kill: {in_flight}, delivered twice: {duplicates}, {time.monotonic() - started:.1f}s")
