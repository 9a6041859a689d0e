"""The outbox sender in a process of its own, for tests/test_sender_crash.py to kill.

    python -m tests.sender_child DATABASE_URL API_BASE_URL TOKEN
        [--worker NAME] [--concurrency N] [--rate PER_SECOND]
        [--pause-after-send SECONDS] [--exit-when-settled]

`--pause-after-send` waits after each successful send before the sender may
record it, so that a SIGKILL lands between "delivered" and "marked sent".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from telegram import Bot

from bot.delivery.rendering import Rendered, Renderers
from bot.delivery.sender import ChatKind, Sender, SenderConfig
from bot.i18n import Translator
from bot.platforms.telegram.transport import TelegramTransport
from storage.db import create_engine, session_factory
from storage.models import OutboxMessage, OutboxStatus

KIND = "test.crash"


def render(params: Mapping[str, Any], _: Translator) -> Rendered:
    return Rendered(f"outbox row {params['row']}")


class PausingTransport:
    """Telegram, with a pause after each delivered message: the crash window made wide."""

    def __init__(self, inner: TelegramTransport, pause: float) -> None:
        self.inner = inner
        self.pause = pause
        self.platform = inner.platform

    def chat_kind(self, chat_id: str) -> ChatKind:
        return self.inner.chat_kind(chat_id)

    def weight(self, rendered: Rendered) -> int:
        return self.inner.weight(rendered)

    async def send(self, chat_id: str, rendered: Rendered) -> str:
        message_id = await self.inner.send(chat_id, rendered)
        await asyncio.sleep(self.pause)
        return message_id

    async def edit(self, chat_id: str, message_id: str, rendered: Rendered) -> None:
        await self.inner.edit(chat_id, message_id, rendered)
        await asyncio.sleep(self.pause)

    async def reachable(self) -> bool:
        return await self.inner.reachable()


async def _settled(sender: Sender) -> bool:
    async with sender.sessions() as session:
        left = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
        )
    return not left


async def main(args: argparse.Namespace) -> int:
    engine = create_engine(args.database_url)
    renderers = Renderers()
    renderers.register(KIND, render)
    async with Bot(args.token, base_url=args.api_base_url) as bot:
        transport = PausingTransport(TelegramTransport(bot), args.pause_after_send)
        config = SenderConfig(global_per_second=args.rate, concurrency=args.concurrency, poll_interval=0.05)
        sender = Sender(session_factory(engine), transport, renderers, config=config, worker=args.worker)
        stop = asyncio.Event()
        running = asyncio.create_task(sender.run(stop))
        while not running.done():
            await asyncio.sleep(0.1)
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
    parser.add_argument("--worker", default="crash-test")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--pause-after-send", type=float, default=0.0)
    parser.add_argument("--exit-when-settled", action="store_true")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
