"""Cost of one reminder tick as the number of open reports grows, and of the calendar arithmetic.

The tick (bot/reminders.tick) must cost the same with 10 thousand or a million
open reports: it reads only the rows whose `next_reminder_at` has come, by
that index. This fills a fresh PostgreSQL database with N open reports
(COPY), their next reminders spread over the coming month, puts the same
small number of them (picked at random each round) just past their deadline
with a fresh clock, and times ticks that act on exactly those, and a tick
with nothing due. Every such tick does the same real work: for each report
the 50 % and 80 % reminders, the deadline and the escalation (4 steps, each
a `reminders` row and one outbox message), committed; it asserts so. Counts
are cumulative: 10k, then 90k more, then 900k more.

    python bench/sla_scan.py --postgres-url postgresql+asyncpg://postgres@127.0.0.1/test
    python bench/sla_scan.py --smoke      # CI: small counts, SQLite unless a PostgreSQL URL is known

Prints JSON: per count, the median and spread of the tick times, the steps
and messages each tick wrote, and the query plan of the due-row scan; then
calendar operations per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.databases import fresh_postgres
from bot.cli.sandbox import province_file
from bot.domain import reminders
from bot.domain.calendar import WorkingCalendar
from bot.domain.deadlines import StageLimits
from bot.domain.desk import Desk
from bot.domain.province import import_province
from storage.db import create_engine, is_sqlite, session_factory
from storage.migrate import upgrade_to_head
from storage.models import (
    Agency,
    GroupBinding,
    Official,
    OfficialRole,
    Report,
    Topic,
    User,
)
from storage.models.officials import Role

TZ = "Asia/Ho_Chi_Minh"
# The tick's batch, and how many reports are due at each measurement: the same
# work at every count, so any growth would come from the count alone.
BATCH = 200
DUE = 100
ROUNDS = 7
# CI's smoke run only proves the benchmark works: fewer, smaller rounds of the same work.
SMOKE_DUE, SMOKE_ROUNDS = 25, 3
# Steps a due report's fresh clock goes through in one tick: 50 %, 80 %, the deadline and the
# escalation (the next, a daily repeat, falls a working day later). Each is one outbox message
# here: the bench agency's group or its head, and a Provincial Office without officials.
STEPS_PER_DUE = 4
OPEN_STATES = ("submitted", "received", "assigned", "pending_approval", "clarifying")
STAGE_OF = {
    "submitted": "receive",
    "received": "dispatch",
    "assigned": "handle",
    "pending_approval": "handle",
    "clarifying": "clarify",
}
COLUMNS = (
    "code",
    "citizen_id",
    "topic_id",
    "description",
    "agency_id",
    "commune_id",
    "route_kind",
    "identity_public",
    "state",
    "version",
    "unsatisfied_count",
    "reopen_count",
    "submitted_at",
    "receive_due_at",
    "due_at",
    "urgent",
    "stage",
    "stage_seq",
    "stage_started_at",
    "reminder_step",
    "next_reminder_at",
    "updated_at",
)

Sessions = async_sessionmaker[AsyncSession]


def naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def rows(start: int, count: int, ids: dict[str, int], now: datetime, rng: random.Random) -> Iterator[tuple]:
    """Open reports, their next reminder somewhere in the coming month (never now: nothing is due)."""
    for number in range(start, start + count):
        state = OPEN_STATES[number % len(OPEN_STATES)]
        submitted = now - timedelta(hours=rng.uniform(1, 24 * 20))
        due = now + timedelta(hours=rng.uniform(2, 24 * 30))
        following = now + timedelta(hours=rng.uniform(1, 24 * 30))
        yield (
            f"PA-2025-{number:07d}",
            ids["citizen"],
            ids["topic"],
            "Rác thải đổ trộm cạnh mương.",
            ids["agency"],
            ids["agency"],
            "polygon",
            False,
            state,
            3,
            0,
            0,
            submitted,
            due,
            due,
            False,
            STAGE_OF[state],
            1,
            submitted,
            0,
            min(following, due),
            submitted,
        )


async def fill(engine: AsyncEngine, start: int, count: int, ids: dict[str, int], now: datetime) -> float:
    """Insert `count` reports (COPY on PostgreSQL); seconds it took."""
    rng = random.Random(start)
    began = time.perf_counter()
    chunk = 50_000
    for offset in range(0, count, chunk):
        batch = list(rows(start + offset, min(chunk, count - offset), ids, now, rng))
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                raw = await conn.get_raw_connection()
                # COPY bypasses the UTC column type: the database keeps naive UTC.
                records = [tuple(naive(v) if isinstance(v, datetime) else v for v in row) for row in batch]
                await raw.driver_connection.copy_records_to_table("reports", records=records, columns=list(COLUMNS))
            else:
                await conn.execute(insert(Report), [dict(zip(COLUMNS, row, strict=True)) for row in batch])
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE reports" if engine.dialect.name == "postgresql" else "ANALYZE"))
        await conn.commit()
    return time.perf_counter() - began


async def world(sessions: Sessions) -> dict[str, int]:
    async with sessions.begin() as session:
        await import_province(session, province_file())
        agency = await session.scalar(select(Agency).where(Agency.code == "XA-01"))
        topic = await session.scalar(select(Topic).where(Topic.code == "environment"))
        assert agency is not None and topic is not None
        citizen = User(platform="telegram", external_id="bench-citizen", chat_id="1", language="vi")
        head_user = User(platform="telegram", external_id="bench-head", chat_id="2", language="vi")
        session.add_all([citizen, head_user])
        await session.flush()
        head = Official(user_id=head_user.id, agency_id=agency.id, full_name="Phạm Thị Dung")
        session.add(head)
        await session.flush()
        session.add(OfficialRole(official_id=head.id, role=Role.AGENCY_HEAD))
        session.add(
            GroupBinding(
                platform="telegram", chat_id="-100501", agency_id=agency.id, title="XA-01", bound_by_official_id=head.id
            )
        )
        return {"citizen": citizen.id, "topic": topic.id, "agency": agency.id}


async def make_due(sessions: Sessions, total: int, now: datetime, rng: random.Random, due: int) -> None:
    """`due` reports picked at random get a new clock whose deadline passed a minute ago (in office hours).

    So every step of it up to the escalation is due and is sent: the same work
    at every round and every count, whatever each report's state and deadline were.
    """
    ids = rng.sample(range(1, total + 1), due)
    just_past = now - timedelta(minutes=1)
    async with sessions.begin() as session:
        await session.execute(
            update(Report)
            .where(Report.id.in_(ids))
            .values(due_at=just_past, next_reminder_at=just_past, reminder_step=0, stage_seq=Report.stage_seq + 1)
        )


async def timed_tick(sessions: Sessions, desk: Desk, now: datetime) -> tuple[float, reminders.TickResult]:
    began = time.perf_counter()
    async with sessions.begin() as session:
        result = await reminders.tick(session, desk, now, BATCH)
    return time.perf_counter() - began, result


async def plan(engine: AsyncEngine, now: datetime) -> str:
    """The plan of the due-row scan: an index range scan, whatever the count."""
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            query = (
                "EXPLAIN SELECT * FROM reports WHERE next_reminder_at <= :now "
                "ORDER BY next_reminder_at, id LIMIT 200 FOR UPDATE SKIP LOCKED"
            )
        else:
            query = "EXPLAIN QUERY PLAN SELECT * FROM reports WHERE next_reminder_at <= :now ORDER BY next_reminder_at, id LIMIT 200"
        lines = (await conn.execute(text(query), {"now": naive(now)})).all()
    return " | ".join(str(line[-1]).strip() for line in lines)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


async def bench_ticks(url: str, counts: list[int], rounds: int = ROUNDS, due: int = DUE) -> dict[str, object]:
    await upgrade_to_head(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    # A Wednesday morning: office hours, so every due reminder is sent rather than deferred.
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    desk = Desk(WorkingCalendar(tz=TZ), StageLimits(), TZ)
    rng = random.Random(7)
    results: dict[str, object] = {}
    try:
        ids = await world(sessions)
        total = 0
        for count in counts:
            fill_seconds = await fill(engine, total + 1, count - total, ids, now)
            total = count
            empty = []
            ticks = []
            work: set[tuple[int, int, int]] = set()
            for _ in range(rounds):
                seconds, result = await timed_tick(sessions, desk, now)
                assert result.reports == 0
                empty.append(seconds)
                await make_due(sessions, total, now, rng, due)
                seconds, result = await timed_tick(sessions, desk, now)
                assert (result.reports, result.steps, result.messages) == (
                    due,
                    STEPS_PER_DUE * due,
                    STEPS_PER_DUE * due,
                ), result
                work.add((result.reports, result.steps, result.messages))
                ticks.append(seconds)
            [(_, steps, messages)] = work
            results[str(count)] = {
                "insert_seconds": round(fill_seconds, 1),
                "due_per_tick": due,
                "steps_per_tick": steps,
                "messages_per_tick": messages,
                "tick_ms_median": ms(statistics.median(ticks)),
                "tick_ms_min": ms(min(ticks)),
                "tick_ms_max": ms(max(ticks)),
                "per_due_report_ms": ms(statistics.median(ticks) / due),
                "empty_tick_ms_median": ms(statistics.median(empty)),
                "plan": await plan(engine, now),
            }
    finally:
        await engine.dispose()
    return results


def bench_calendar(operations: int) -> dict[str, float]:
    """Operations per second of the working-time arithmetic over random instants of 2025-2027."""
    calendar = WorkingCalendar(tz=TZ)
    rng = random.Random(11)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    instants = [start + timedelta(minutes=rng.randrange(3 * 365 * 24 * 60)) for _ in range(operations)]
    amounts = [rng.uniform(0.25, 60.0) for _ in range(operations)]
    calendar.add_days(start, 3 * 260)  # lay the years out once, as a running bot has

    def rate(operation: Callable[[int], object]) -> float:
        began = time.perf_counter()
        for index in range(operations):
            operation(index)
        return round(operations / (time.perf_counter() - began))

    return {
        "operations": operations,
        "add_hours_per_second": rate(lambda i: calendar.add_hours(instants[i], amounts[i])),
        "add_days_7_per_second": rate(lambda i: calendar.add_days(instants[i], 7)),
        "between_per_second": rate(lambda i: calendar.between(instants[i], instants[-1 - i])),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", default=os.environ.get("CONGDAN_TEST_POSTGRES_URL"))
    parser.add_argument("--counts", default="10000,100000,1000000", help="cumulative open reports, comma-separated")
    parser.add_argument("--smoke", action="store_true", help="small counts, to prove the benchmark runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    counts = [300, 3000] if args.smoke else sorted(int(c) for c in args.counts.split(","))
    rounds, due = (SMOKE_ROUNDS, SMOKE_DUE) if args.smoke else (ROUNDS, DUE)
    results: dict[str, object] = {"smoke": args.smoke, "batch": BATCH, "rounds": rounds}
    if args.postgres_url:
        url, drop = await fresh_postgres(args.postgres_url, prefix="congdan_sla")
        try:
            results["postgresql"] = await bench_ticks(url, counts, rounds, due)
        finally:
            await drop()
    elif args.smoke:
        with tempfile.TemporaryDirectory(prefix="congdan-sla-") as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'sla.sqlite3'}"
            assert is_sqlite(url)
            results["sqlite"] = await bench_ticks(url, counts, rounds, due)
    else:
        results["postgresql"] = "skipped: no --postgres-url or CONGDAN_TEST_POSTGRES_URL"
    results["calendar"] = bench_calendar(2_000 if args.smoke else 100_000)
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
