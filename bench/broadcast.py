"""A provincial alert to 100,000 subscribers: enqueueing it, and the sender's pace.

For each backend (SQLite, and PostgreSQL when a URL is known) it loads the
demo province, writes N subscribers, and approves one real alert: the time to
enqueue is that approval, which writes one outbox row per subscriber in one
pass. Then the application's sender (bot/delivery/sender.py, with the alerts'
renderers) delivers the rows for a while at each rate:

  30/s      Telegram's default limit           achieved rate and its share of the limit
  1000/s    Telegram's paid broadcasts          (target: at least 95 % of the limit)
  no limit  our own ceiling

twice over: through the Bot API emulator running in a process of its own
(`emulator`: HTTP, PTB and all, as in production but for the network), and
with a transport that only counts (`pipeline`: claim, render, record; what
the database and our code can do). Each run starts from the same rows, all
pending again. Each backend is measured in a process of its own, so its peak
memory (the process's resident peak) is its own, not the earlier backend's.
Prints JSON.

    python bench/broadcast.py                      # 100,000 subscribers, SQLite (+ PostgreSQL if a URL is known)
    python bench/broadcast.py --subscribers 20000 --seconds 10 --postgres-url postgresql+asyncpg://…/test
    python bench/broadcast.py --smoke              # CI: a few thousand subscribers, proves it still runs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram import Bot

from bench.databases import fresh_postgres
from bot.cli.sandbox import province_file
from bot.delivery.rendering import RENDERERS, Rendered
from bot.delivery.sender import ChatKind, Sender, SenderConfig
from bot.domain import alerts
from bot.domain.province import import_province
from bot.emulators.telegram import DEFAULT_TOKEN, BotApiEmulator
from bot.platforms.telegram.transport import AiohttpRequest, TelegramTransport
from storage.db import create_engine, session_factory
from storage.media import MediaStore
from storage.migrate import upgrade_to_head
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

FIRST_ID = 10_000_000
BATCH = 5_000
LIMITS: tuple[float | None, ...] = (30.0, 1000.0, None)
Sessions = async_sessionmaker[AsyncSession]


class CountingTransport:
    """Takes every message at once and remembers nothing but how many: the pipeline without a network."""

    platform = "telegram"

    def __init__(self) -> None:
        self.sent = 0

    def chat_kind(self, chat_id: str) -> ChatKind:
        return ChatKind.GROUP if chat_id.startswith("-") else ChatKind.PRIVATE

    def weight(self, rendered: Rendered) -> int:
        return 1

    async def send(self, chat_id: str, rendered: Rendered) -> str:
        self.sent += 1
        return str(self.sent)

    async def edit(self, chat_id: str, message_id: str, rendered: Rendered) -> None:
        return None

    async def reachable(self) -> bool:
        return True


class Unlimited:
    """Any transport, with every message weighing nothing: the sender's global pacer never waits."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.platform = inner.platform

    def chat_kind(self, chat_id: str) -> ChatKind:
        return self.inner.chat_kind(chat_id)

    def weight(self, rendered: Rendered) -> int:
        return 0

    async def send(self, chat_id: str, rendered: Rendered) -> str:
        return await self.inner.send(chat_id, rendered)

    async def edit(self, chat_id: str, message_id: str, rendered: Rendered) -> None:
        await self.inner.edit(chat_id, message_id, rendered)

    async def reachable(self) -> bool:
        return await self.inner.reachable()


def peak_memory_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# --- the world ------------------------------------------------------------------------------------


async def populate(sessions: Sessions, subscribers: int) -> tuple[Official, Official]:
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        await import_province(session, province_file())
        focal_unit = await session.scalar(select(Agency).where(Agency.code == "SO-KHCN"))
        assert focal_unit is not None
        staff = []
        for index, (name, role) in enumerate((("Lê Văn Tác", Role.ALERT_AUTHOR), ("Trần Thị Duyệt", Role.FOCAL_UNIT))):
            user = User(
                platform="telegram", external_id=f"staff{index}", chat_id=str(FIRST_ID - 1 - index), language="vi"
            )
            session.add(user)
            await session.flush()
            official = Official(user_id=user.id, agency_id=focal_unit.id, full_name=name)
            session.add(official)
            await session.flush()
            session.add(OfficialRole(official_id=official.id, role=role))
            staff.append(official)
    for start in range(0, subscribers, BATCH):
        ids = range(FIRST_ID + start, FIRST_ID + min(subscribers, start + BATCH))
        async with sessions.begin() as session:
            await session.execute(
                insert(User),
                [
                    {
                        "id": i,
                        "platform": "telegram",
                        "external_id": str(i),
                        "chat_id": str(i),
                        "language": "en" if i % 10 == 0 else "vi",
                        "language_chosen": False,
                        "phone_verified": False,
                        "consent_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
            await session.execute(
                insert(AlertFollower),
                [
                    {"user_id": i, "whole_province": True, "tester": False, "created_at": now, "updated_at": now}
                    for i in ids
                ],
            )
    return staff[0], staff[1]


async def enqueue(engine: AsyncEngine, sessions: Sessions, author: Official, approver: Official) -> dict[str, Any]:
    """Approve one real alert; the approval writes every subscriber's outbox row."""
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        alert = await alerts.new_draft(session, author, AlertMode.ACTUAL, now)
        alerts.set_choice(alert, "category", "Met", now)
        alerts.set_choice(alert, "severity", "Extreme", now)
        alerts.set_choice(alert, "urgency", "Immediate", now)
        alerts.set_text(alert, "headline_vi", "Bão số 3 đổ bộ: sơ tán ngay khỏi vùng trũng thấp", now)
        alerts.set_text(
            alert,
            "description_vi",
            "Bão mạnh cấp 12, giật cấp 15, mưa rất to 200–300 mm. "
            "Nguy cơ cao lũ quét và sạt lở đất tại các xã vùng núi.",
            now,
        )
        alerts.set_text(alert, "instruction_vi", "Di chuyển đến nơi trú ẩn của xã; không qua ngầm tràn.", now)
        alerts.set_text(alert, "headline_en", "Typhoon No. 3 makes landfall: leave low-lying areas now", now)
        await alerts.submit(session, alert, author, now)
        version = alert.version
        alert_id = alert.id
    tracemalloc.start()
    started = time.perf_counter()
    async with sessions.begin() as session:
        alert = await session.get(Alert, alert_id)
        approved = await alerts.approve(
            session, alert, approver, version, datetime.now(UTC), zone_name="Asia/Ho_Chi_Minh"
        )
    seconds = time.perf_counter() - started
    _current, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    analyze_started = time.perf_counter()
    await alerts.refresh_statistics(engine, approved.recipients or 0)
    return {
        "rows": approved.recipients,
        "seconds": round(seconds, 3),
        "rows_per_second": round((approved.recipients or 0) / seconds) if seconds else None,
        "python_heap_peak_mb": round(heap_peak / 1_048_576, 1),
        "statistics_refresh_seconds": round(time.perf_counter() - analyze_started, 3),
    }


async def reset(engine: AsyncEngine, sessions: Sessions) -> None:
    """Every alert row pending again, as right after the approval."""
    async with sessions.begin() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.kind == alerts.ALERT_MESSAGE)
            .values(
                status=OutboxStatus.PENDING,
                claimed_at=None,
                claimed_by=None,
                sent_at=None,
                platform_message_id=None,
                attempts=0,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        )
    await alerts.refresh_statistics(engine, alerts.ANALYZE_AFTER_ROWS)


async def sent_rows(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == alerts.ALERT_MESSAGE, OutboxMessage.status == OutboxStatus.SENT)
            )
            or 0
        )


async def deliver(
    sessions: Sessions, transport: Any, limit: float | None, seconds: float, total: int
) -> dict[str, Any]:
    """Run the sender for `seconds` (or until every row is sent); its rate once under way."""
    in_flight = 8 if limit is not None and limit <= 100 else 64
    config = SenderConfig(global_per_second=limit or 1000.0, concurrency=in_flight, poll_interval=0.05)
    sender = Sender(
        sessions,
        transport if limit else Unlimited(transport),
        RENDERERS,
        config=config,
        worker=f"bench-{uuid.uuid4().hex[:6]}",
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    # The first second fills the pipeline; the rate is measured after it.
    warmup = min(1.0, seconds / 4)
    await asyncio.sleep(warmup)
    first, started = sender.counters.sent, time.perf_counter()
    while time.perf_counter() - started < seconds - warmup and sender.counters.sent < total:
        await asyncio.sleep(0.1)
    measured, elapsed = sender.counters.sent - first, time.perf_counter() - started
    stop.set()
    await task
    rate = measured / elapsed if elapsed else 0.0
    result: dict[str, Any] = {
        "limit_per_second": limit,
        "in_flight": in_flight,
        "seconds": round(elapsed, 2),
        "messages": measured,
        "sends_per_second": round(rate, 1),
    }
    if limit:
        result["share_of_limit"] = round(rate / limit, 3)
    result["recorded_sent"] = await sent_rows(sessions)
    return result


# --- the emulator in a process of its own -----------------------------------------------------------


async def serve_emulator(subscribers: int) -> None:
    """Child process: an emulator with the subscribers' chats, until its standard input closes."""
    async with BotApiEmulator() as emu:
        for offset in range(subscribers):
            emu.add_user(f"N{offset}", user_id=FIRST_ID + offset)
        for index in range(2):
            emu.add_user(f"Staff{index}", user_id=FIRST_ID - 1 - index)
        print(emu.base_url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def start_emulator(subscribers: int) -> tuple[asyncio.subprocess.Process, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve-emulator",
        str(subscribers),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), timeout=300)
    return child, line.decode().strip()


async def stop_emulator(child: asyncio.subprocess.Process) -> None:
    assert child.stdin is not None
    child.stdin.close()
    try:
        await asyncio.wait_for(child.wait(), timeout=30)
    except TimeoutError:
        child.kill()
        await child.wait()


# --- one backend -------------------------------------------------------------------------------------


async def bench_backend(url: str, subscribers: int, seconds: float, emulator_url: str, media: Path) -> dict[str, Any]:
    await upgrade_to_head(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        started = time.perf_counter()
        author, approver = await populate(sessions, subscribers)
        result: dict[str, Any] = {
            "subscribers": subscribers,
            "populate_seconds": round(time.perf_counter() - started, 1),
        }
        result["enqueue"] = await enqueue(engine, sessions, author, approver)
        total = result["enqueue"]["rows"]
        pipeline: dict[str, Any] = {}
        for limit in LIMITS:
            await reset(engine, sessions)
            pipeline[_name(limit)] = await deliver(sessions, CountingTransport(), limit, seconds, total)
        result["pipeline"] = pipeline
        through_emulator: dict[str, Any] = {}
        request = AiohttpRequest(72)
        async with Bot(DEFAULT_TOKEN, base_url=emulator_url, request=request) as telegram:
            for limit in LIMITS:
                await reset(engine, sessions)
                transport = TelegramTransport(telegram, MediaStore(media), paid_broadcast=(limit or 1000) > 30)
                through_emulator[_name(limit)] = await deliver(sessions, transport, limit, seconds, total)
        result["emulator"] = through_emulator
        result["peak_memory_mb"] = peak_memory_mb()
        return result
    finally:
        await engine.dispose()


def _name(limit: float | None) -> str:
    return f"limit_{int(limit)}_per_second" if limit else "no_limit"


async def bench_in_child(url: str, subscribers: int, seconds: float, emulator_url: str, media: Path) -> dict[str, Any]:
    """`bench_backend` in a fresh process: its peak memory is that backend's alone."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        "--backend-url",
        url,
        "--subscribers",
        str(subscribers),
        "--seconds",
        str(seconds),
        "--emulator-url",
        emulator_url,
        "--media",
        str(media),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"the benchmark of {make_url(url).get_backend_name()} failed ({child.returncode})")
    result: dict[str, Any] = json.loads(out)
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=15.0, help="how long each rate is measured")
    parser.add_argument("--postgres-url", default=os.environ.get("CONGDAN_TEST_POSTGRES_URL"))
    parser.add_argument("--smoke", action="store_true", help="a few thousand subscribers, to prove the benchmark runs")
    parser.add_argument("--serve-emulator", type=int, help=argparse.SUPPRESS)
    # One backend's run, in the child process `bench_in_child` starts.
    parser.add_argument("--backend-url", help=argparse.SUPPRESS)
    parser.add_argument("--emulator-url", help=argparse.SUPPRESS)
    parser.add_argument("--media", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.serve_emulator is not None:
        await serve_emulator(args.serve_emulator)
        return
    if args.backend_url is not None:
        result = await bench_backend(
            args.backend_url, args.subscribers, args.seconds, args.emulator_url, Path(args.media)
        )
        print(json.dumps(result))
        return
    # Enough rows that even the unlimited run is still sending when it is measured.
    subscribers, seconds = (3000, 1.5) if args.smoke else (args.subscribers, args.seconds)
    child, emulator_url = await start_emulator(subscribers)
    results: dict[str, Any] = {
        "subscribers": subscribers,
        "seconds_per_rate": seconds,
        "smoke": args.smoke,
        "cpus": os.cpu_count(),
    }
    try:
        with tempfile.TemporaryDirectory(prefix="congdan-bench-") as tmp:
            media = Path(tmp) / "media"
            results["sqlite"] = await bench_in_child(
                f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}", subscribers, seconds, emulator_url, media
            )
            if args.postgres_url:
                url, drop = await fresh_postgres(args.postgres_url)
                try:
                    results["postgresql"] = await bench_in_child(url, subscribers, seconds, emulator_url, media)
                finally:
                    await drop()
            else:
                results["postgresql"] = "skipped: no --postgres-url or CONGDAN_TEST_POSTGRES_URL"
    finally:
        await stop_emulator(child)
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
