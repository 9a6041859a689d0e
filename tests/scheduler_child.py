"""The scheduler in a process of its own, for tests/test_scheduler.py to kill.

    python -m tests.scheduler_child DATABASE_URL HOLDER [--tick SECONDS] [--lease SECONDS]

Runs the timed work on the database with the default calendar until killed;
its lease holder is HOLDER, so the test can tell who holds the lease.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta

from bot.deps import system_clock
from scheduler.lease import Lease
from scheduler.runner import LEASE_NAME, RunningScheduler, SchedulerConfig, TimedWork
from storage.db import create_engine, session_factory
from tests.reminder_world import make_desk


async def main(args: argparse.Namespace) -> int:
    engine = create_engine(args.database_url)
    sessions = session_factory(engine)
    desk = make_desk()
    config = SchedulerConfig(tick_seconds=args.tick, lease_seconds=args.lease)
    lease = Lease(sessions, LEASE_NAME, timedelta(seconds=args.lease), system_clock, holder=args.holder)
    running = RunningScheduler(TimedWork(sessions, lambda: desk, system_clock, lease), config, desk.calendar)
    running.start()
    print("started", flush=True)
    await asyncio.Event().wait()
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("holder")
    parser.add_argument("--tick", type=float, default=0.2)
    parser.add_argument("--lease", type=float, default=1.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
