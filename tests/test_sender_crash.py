"""A real crash: the sender is SIGKILLed mid-way in a child process, and a new one finishes.

Every row ends `sent` or `unconfirmed`, nobody gets a row's message twice,
and no more rows are unconfirmed than the sender had in flight. The first
child pauses after each delivered message before recording it, so the kill
lands between "delivered" and "marked sent"; those rows must come out
`unconfirmed`, never delivered a second time.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import outbox
from bot.emulators.telegram import BotApiEmulator
from storage.models import OutboxMessage, OutboxStatus
from tests.children import output_at_exit
from tests.sender_child import KIND

ROOT = Path(__file__).resolve().parent.parent
ROWS = 200
CONCURRENCY = 8
KILL_AFTER = 40

Sessions = async_sessionmaker[AsyncSession]


async def _start_child(database_url: str, emu: BotApiEmulator, log: Path, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.sender_child",
        database_url,
        emu.base_url,
        emu.token,
        "--worker",
        "crash-test",
        "--concurrency",
        str(CONCURRENCY),
        *extra,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("wb"),
    )


async def _rows(sessions: Sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_sigkill_mid_way_sends_nothing_twice(
    database_url: str, sessions: Sessions, emu: BotApiEmulator, tmp_path: Path
) -> None:
    people = [emu.add_user(f"Người {i}") for i in range(ROWS)]
    async with sessions.begin() as session:
        for index, person in enumerate(people):
            await outbox.enqueue(session, chat_id=str(person.id), kind=KIND, params={"row": index})

    first = await _start_child(database_url, emu, tmp_path / "first.log", "--pause-after-send", "0.2")
    try:
        await emu.wait_until(lambda: emu.sent_count >= KILL_AFTER, timeout=30)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert first.returncode == -signal.SIGKILL

    at_kill = await _rows(sessions)
    in_flight = [r for r in at_kill if r.status is OutboxStatus.SENDING]
    delivered_unmarked = [r.id for r in in_flight if emu.sent_to(int(r.chat_id)) == 1]
    assert 0 < len(in_flight) <= CONCURRENCY
    assert delivered_unmarked, "the kill should have landed between a send and its mark"
    pending_at_kill = sum(1 for r in at_kill if r.status is OutboxStatus.PENDING)
    assert pending_at_kill, "killed too late to test anything"

    second = await _start_child(database_url, emu, tmp_path / "second.log", "--exit-when-settled")
    out = await output_at_exit(second, timeout=60)
    assert second.returncode == 0, (tmp_path / "second.log").read_text()

    final = await _rows(sessions)
    by_status = {status: [r for r in final if r.status is status] for status in OutboxStatus}
    assert len(by_status[OutboxStatus.SENT]) + len(by_status[OutboxStatus.UNCONFIRMED]) == ROWS
    # Nobody received a row's message twice; every sent row arrived exactly once, as recorded.
    assert max(emu.sent_to(person) for person in people) == 1
    for row in by_status[OutboxStatus.SENT]:
        chat = emu.private_chat(people[row.params["row"]])
        [message] = chat.bot_messages
        assert str(message.message_id) == row.platform_message_id
        assert message.text == f"outbox row {row.params['row']}"
    # What was in flight at the kill, and only that, is unconfirmed; delivered or not, never resent.
    unconfirmed = [r.id for r in by_status[OutboxStatus.UNCONFIRMED]]
    assert len(unconfirmed) <= CONCURRENCY
    assert sorted(unconfirmed) == sorted(r.id for r in in_flight)
    assert set(delivered_unmarked) <= set(unconfirmed)
    assert emu.sent_count == len(by_status[OutboxStatus.SENT]) + len(delivered_unmarked)
    assert b"Traceback" not in (tmp_path / "second.log").read_bytes()
    assert json.loads(out)["sent"] == len(by_status[OutboxStatus.SENT]) - (ROWS - len(in_flight) - pending_at_kill)
