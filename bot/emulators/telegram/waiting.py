"""A lock-free wake-up primitive for code that waits on emulator state.

Everything in the emulator runs on one event loop, so a waiter that checks
its condition and then awaits `Signal.wait` cannot miss a `notify` in
between (there is no await between the check and the wait). That makes a
plain shared future cheaper than `asyncio.Condition`, which needs a lock
round-trip on every notify; the broadcast benchmark notifies ~100k times.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Signal:
    __slots__ = ("_future",)

    def __init__(self) -> None:
        self._future: asyncio.Future[None] | None = None

    def notify(self) -> None:
        """Wake every coroutine currently blocked in `wait`."""
        future = self._future
        if future is not None:
            self._future = None
            if not future.done():
                future.set_result(None)

    async def wait(self, timeout: float | None) -> None:
        """Return on the next `notify`, or after `timeout` seconds, whichever is first."""
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
        # shield: a timed-out waiter must not cancel the future other waiters share.
        shared = asyncio.shield(self._future)
        try:
            async with asyncio.timeout(timeout):
                await shared
        except TimeoutError:
            pass


async def wait_for_condition(signal: Signal, condition: Callable[[], bool], timeout: float | None) -> bool:
    """Wait until `condition()` holds, re-checking each time `signal` fires.

    Returns False if `timeout` elapsed first.
    """
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while not condition():
        remaining = None if deadline is None else deadline - loop.time()
        if remaining is not None and remaining <= 0:
            return False
        await signal.wait(remaining)
    return True
