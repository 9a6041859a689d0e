"""The application's outbox sender, alerts' renderers included, in a process of its own to be killed.

    python -m tests.alerts_child DATABASE_URL API_BASE_URL TOKEN MEDIA_DIR
        [--concurrency N] [--rate PER_SECOND] [--exit-when-settled]

Prints the sender's counters as JSON when it stops. Used by tests/test_alerts_crash.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from sqlalchemy import func, select
from telegram import Bot

import bot.domain.alerts  # noqa: F401  (registers the alert renderers)
from bot.delivery.rendering import RENDERERS
from bot.delivery.sender import Sender, SenderConfig
from bot.platforms.telegram.transport import AiohttpRequest, TelegramTransport
from storage.db import create_engine, session_factory
from storage.media import MediaStore
from storage.models import OutboxMessage, OutboxStatus

WORKER = "alerts-crash-test"


async def _settled(sender: Sender) -> bool:
    async with sender.sessions() as session:
        left = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
        )
    return not left


async def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    engine = create_engine(args.database_url)
    request = AiohttpRequest(args.concurrency + 4)
    async with Bot(args.token, base_url=args.api_base_url, request=request) as telegram:
        transport = TelegramTransport(telegram, MediaStore(Path(args.media_dir)), paid_broadcast=args.rate > 30)
        config = SenderConfig(global_per_second=args.rate, concurrency=args.concurrency, poll_interval=0.05)
        sender = Sender(session_factory(engine), transport, RENDERERS, config=config, worker=WORKER)
        stop = asyncio.Event()
        running = asyncio.create_task(sender.run(stop))
        while not running.done():
            await asyncio.sleep(0.2)
            if args.exit_when_settled and await _settled(sender):
                stop.set()
        await running
    await engine.dispose()
    counters = sender.counters
    print(json.dumps({"sent": counters.sent, "unconfirmed": counters.unconfirmed, "failed": counters.failed}))
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("api_base_url")
    parser.add_argument("token")
    parser.add_argument("media_dir")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--exit-when-settled", action="store_true")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
