"""The bot's pending updates and getUpdates long polling.

Semantics follow the Bot API: an update stays pending until a later
getUpdates call passes an `offset` above its id (fetching alone does not
confirm it); a newer getUpdates call terminates one still waiting with 409;
`allowed_updates` persists between calls and filters updates created after
it was set.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

from .errors import GET_UPDATES_CONFLICT, conflict
from .waiting import Signal, wait_for_condition

# Telegram's default when allowed_updates was never set (or set to []).
DEFAULT_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
MAX_LIMIT = 100

Update = dict[str, Any]


class UpdateQueue:
    def __init__(self, first_update_id: int = 100_000_001) -> None:
        self._pending: deque[Update] = deque()
        self._ids = itertools.count(first_update_id)
        self._allowed: frozenset[str] | None = None
        self._arrived = Signal()
        self._delivered = Signal()
        self._poll_generation = 0
        self._fetched_upto = 0
        self._closed = False
        self.queued_total = 0

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def closed(self) -> bool:
        return self._closed

    def set_allowed(self, allowed: Iterable[str] | None) -> None:
        names = frozenset(allowed or ())
        self._allowed = names or None

    def allows(self, kind: str) -> bool:
        if self._allowed is None:
            return kind not in DEFAULT_EXCLUDED
        return kind in self._allowed

    def push(self, kind: str, payload: dict[str, Any]) -> int | None:
        """Queue an update; None if `allowed_updates` filters this kind out."""
        if not self.allows(kind):
            return None
        update_id = next(self._ids)
        self._pending.append({"update_id": update_id, kind: payload})
        self.queued_total += 1
        self._arrived.notify()
        return update_id

    def confirm(self, offset: int) -> None:
        """Forget updates below `offset`; a negative offset keeps the last -offset."""
        if offset < 0:
            while len(self._pending) > -offset:
                self._pending.popleft()
        else:
            while self._pending and self._pending[0]["update_id"] < offset:
                self._pending.popleft()
        self._delivered.notify()

    def drop_all(self) -> None:
        self._pending.clear()
        self._delivered.notify()

    def peek(self) -> Update | None:
        return self._pending[0] if self._pending else None

    def mark_delivered(self, update_id: int) -> None:
        if update_id > self._fetched_upto:
            self._fetched_upto = update_id
            self._delivered.notify()

    async def wait_pending(self, timeout: float | None) -> bool:
        return await wait_for_condition(self._arrived, lambda: bool(self._pending) or self._closed, timeout)

    async def fetch(
        self,
        offset: int | None,
        limit: int,
        timeout: float,
        client_alive: Callable[[], bool],
    ) -> list[Update]:
        if offset is not None:
            self.confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._arrived.notify()  # a poll still waiting must now end with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._pending and not self._closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await self._arrived.wait(remaining)
            if generation != self._poll_generation:
                raise conflict(GET_UPDATES_CONFLICT)
        batch = list(islice(self._pending, max(1, min(limit, MAX_LIMIT))))
        # PTB abandons its pending poll on shutdown; what a dead connection
        # "receives" was not delivered, so it must not satisfy wait_delivered.
        if batch and client_alive():
            self.mark_delivered(batch[-1]["update_id"])
        return batch

    def all_delivered(self) -> bool:
        return not self._pending or self._pending[-1]["update_id"] <= self._fetched_upto

    async def wait_delivered(self, timeout: float | None) -> bool:
        return await wait_for_condition(self._delivered, self.all_delivered, timeout)

    def close(self) -> None:
        """Release every waiting poll (emulator shutdown)."""
        self._closed = True
        self._arrived.notify()

    def reopen(self) -> None:
        self._closed = False
