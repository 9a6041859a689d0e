"""End-to-end cost of a citizen's report, through the Bot API emulator.

N citizens (default 200) each register, then all of them send one complete
report at once: menu button, topic, description, location, photo, done,
privacy, submit — eight updates, each answered by the bot. We measure
updates per second over the whole run and the latency of each step (from the
update being offered to the bot to the bot's answer), on SQLite and on
PostgreSQL. The same N users then talk to a bare python-telegram-bot echo bot
on the same emulator, eight messages each: the ratio shows what our own code
costs on top of the library and the emulator.

    python bench/report_flow.py                 # 200 citizens, SQLite (+ PostgreSQL if a URL is known)
    python bench/report_flow.py --citizens 50 --postgres-url postgresql+asyncpg://postgres@127.0.0.1/test
    python bench/report_flow.py --smoke         # CI: a handful of citizens, proves it still runs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram import Update
from telegram.ext import ContextTypes, MessageHandler, filters

from bench.databases import fresh_postgres
from bot.cli.sandbox import load_province, province_file, running_bot, sandbox_settings
from bot.emulators.telegram import BotApiEmulator, application_builder, running_application
from storage.migrate import upgrade_to_head
from tests import images
from tests.citizen import Citizen

UPDATES_PER_REPORT = 8
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Nông")
GIVEN = (
    "An",
    "Bình",
    "Chi",
    "Dũng",
    "Giang",
    "Hà",
    "Hải",
    "Hạnh",
    "Hùng",
    "Lan",
    "Linh",
    "Mai",
    "Minh",
    "Nam",
    "Nga",
    "Phúc",
    "Quân",
    "Sơn",
    "Thảo",
    "Trang",
    "Tuấn",
    "Vân",
    "Yến",
)


def person(index: int) -> tuple[str, str]:
    """A distinct, plausible full name for citizen `index` (names carry no digits)."""
    family = FAMILY[index % len(FAMILY)]
    given = GIVEN[(index // len(FAMILY)) % len(GIVEN)]
    middle = GIVEN[(index // (len(FAMILY) * len(GIVEN))) % len(GIVEN)]
    return given, f"{family} {middle}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summary(latencies: list[float], updates: int, seconds: float) -> dict[str, float]:
    return {
        "updates": updates,
        "seconds": round(seconds, 3),
        "updates_per_second": round(updates / seconds, 1) if seconds else 0.0,
        "latency_p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "latency_mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else 0.0,
    }


async def timed(latencies: list[float], step: Callable[[], Awaitable]) -> object:
    started = time.perf_counter()
    result = await step()
    latencies.append(time.perf_counter() - started)
    return result


async def one_report(citizen: Citizen, seed: int, latencies: list[float], totals: list[float]) -> None:
    started = time.perf_counter()
    topics = await timed(latencies, citizen.begin_report)
    await timed(latencies, lambda: citizen.choose_topic(topics))
    await timed(latencies, citizen.describe)
    await timed(latencies, citizen.locate)
    ack = await timed(latencies, lambda: citizen.send_photos([images.jpeg(320, 240, seed=seed)]))
    question = await timed(latencies, lambda: citizen.done_with_photos(ack))
    summary_message = await timed(latencies, lambda: citizen.keep_private(question))
    await timed(latencies, lambda: citizen.submit(summary_message))
    totals.append(time.perf_counter() - started)


async def bench_bot(database_url: str, citizens: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="congdan-bench-") as tmp:
        await upgrade_to_head(database_url)
        async with BotApiEmulator() as emu:
            settings = sandbox_settings(emu, database_url, Path(tmp) / "media", album_quiet_seconds=0.3)
            await load_province(settings, province_file())
            async with running_bot(emu, settings):
                people = [Citizen(emu, *person(i), phone=f"+8491{i:07d}") for i in range(citizens)]
                await asyncio.gather(*(p.register() for p in people))
                latencies: list[float] = []
                totals: list[float] = []
                started = time.perf_counter()
                await asyncio.gather(*(one_report(p, i, latencies, totals) for i, p in enumerate(people)))
                seconds = time.perf_counter() - started
    result = summary(latencies, citizens * UPDATES_PER_REPORT, seconds)
    result["reports"] = citizens
    result["report_p50_ms"] = round(percentile(totals, 0.5) * 1000, 1)
    result["report_p99_ms"] = round(percentile(totals, 0.99) * 1000, 1)
    return result


async def bench_echo(citizens: int) -> dict:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(update.message.text or "")

    async with BotApiEmulator() as emu:
        app = application_builder(emu).concurrent_updates(True).connection_pool_size(16).build()
        app.add_handler(MessageHandler(filters.TEXT, echo))
        chats = [emu.private_chat(emu.add_user(f"Dân{i}")) for i in range(citizens)]
        latencies: list[float] = []

        async def talk(index: int) -> None:
            chat = chats[index]
            for n in range(UPDATES_PER_REPORT):
                said = f"tin nhắn {index}-{n}"
                started = time.perf_counter()
                await chat.send_text(said)
                await chat.expect(contains=said, timeout=60)
                latencies.append(time.perf_counter() - started)

        async with running_application(app):
            started = time.perf_counter()
            await asyncio.gather(*(talk(i) for i in range(citizens)))
            seconds = time.perf_counter() - started
    return summary(latencies, citizens * UPDATES_PER_REPORT, seconds)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--postgres-url", default=os.environ.get("CONGDAN_TEST_POSTGRES_URL"))
    parser.add_argument("--smoke", action="store_true", help="a few citizens only, to prove the benchmark runs")
    args = parser.parse_args()
    citizens = 5 if args.smoke else args.citizens
    logging.basicConfig(level=logging.WARNING)

    results: dict[str, object] = {"citizens": citizens, "updates_per_report": UPDATES_PER_REPORT, "smoke": args.smoke}
    echo = await bench_echo(citizens)
    results["echo_bot"] = echo
    with tempfile.TemporaryDirectory(prefix="congdan-bench-db-") as tmp:
        sqlite = await bench_bot(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}", citizens)
    sqlite["ratio_to_echo"] = round(sqlite["updates_per_second"] / echo["updates_per_second"], 3)
    results["sqlite"] = sqlite
    if args.postgres_url:
        url, drop = await fresh_postgres(args.postgres_url)
        try:
            pg = await bench_bot(url, citizens)
        finally:
            await drop()
        pg["ratio_to_echo"] = round(pg["updates_per_second"] / echo["updates_per_second"], 3)
        results["postgresql"] = pg
    else:
        results["postgresql"] = "skipped: no --postgres-url or CONGDAN_TEST_POSTGRES_URL"
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
