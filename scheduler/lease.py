"""Leader election through the database: one lease row, taken and renewed by a conditional UPDATE.

    UPDATE scheduler_leases SET holder = me, expires_at = now + length
     WHERE name = :name AND (holder = me OR expires_at <= now)

Both backends apply such an UPDATE atomically to the row (PostgreSQL
re-checks the condition on the newest version of a row another transaction
just changed), so of two processes that try at once exactly one gets a row
count of 1. The holder renews well before expiry; a holder that dies simply
stops renewing, and the first process to try after `expires_at` takes over.
A clean stop gives the lease up at once.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.reminders import insert_ignore
from storage.models import SchedulerLease

# Before any holder: an expiry long past, so the first try takes it.
_NEVER = datetime(2000, 1, 1, tzinfo=UTC)


def holder_name() -> str:
    """Unique per process and start: host, pid and a random tag (a restarted pid is a new holder)."""
    return f"{socket.gethostname()[:48]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        name: str,
        length: timedelta,
        clock: Callable[[], datetime],
        holder: str | None = None,
    ) -> None:
        if length <= timedelta():
            raise ValueError("a lease needs a positive length")
        self.sessions = sessions
        self.name = name
        self.length = length
        self.clock = clock
        self.holder = holder or holder_name()
        # Until when this process may act as the holder, by its own last renewal.
        self.held_until: datetime | None = None

    def held(self, now: datetime | None = None) -> bool:
        return self.held_until is not None and (now or self.clock()) < self.held_until

    async def acquire(self) -> bool:
        """Take the lease if it is free or expired, renew it if it is ours; whether we hold it now."""
        now = self.clock()
        async with self.sessions.begin() as session:
            await insert_ignore(
                session,
                SchedulerLease,
                {"name": self.name, "holder": None, "acquired_at": None, "expires_at": _NEVER},
                ["name"],
            )
            result = await session.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == self.name,
                    or_(SchedulerLease.holder == self.holder, SchedulerLease.expires_at <= now),
                )
                .values(
                    holder=self.holder,
                    expires_at=now + self.length,
                    acquired_at=case((SchedulerLease.holder == self.holder, SchedulerLease.acquired_at), else_=now),
                )
                .execution_options(synchronize_session=False)
            )
        self.held_until = now + self.length if result.rowcount == 1 else None
        return self.held_until is not None

    async def release(self) -> None:
        """Give the lease up (a clean stop), so another process need not wait for it to expire."""
        self.held_until = None
        async with self.sessions.begin() as session:
            await session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                .values(holder=None, expires_at=self.clock())
                .execution_options(synchronize_session=False)
            )
