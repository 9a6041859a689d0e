"""Telegram's flood limits, off by default.

Telegram documents roughly 30 messages/second overall, 1/second per chat
and 20/minute per group, and answers 429 with `retry_after` beyond that.
Each limit is a GCRA (virtual-scheduling leaky bucket): one float per key,
O(1) per check, and bursts up to the limit are allowed, which is how the
real limits behave in practice. A broadcast to 100k chats therefore keeps
100k floats, not 100k windows of timestamps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import too_many_requests


@dataclass(frozen=True)
class RateLimits:
    global_per_second: float | None = None
    per_chat_per_second: float | None = None
    per_group_per_minute: float | None = None

    @property
    def enabled(self) -> bool:
        return any(
            limit is not None for limit in (self.global_per_second, self.per_chat_per_second, self.per_group_per_minute)
        )


class _Bucket:
    """GCRA for `limit` events per `period` seconds, keyed (e.g. by chat id)."""

    __slots__ = ("_burst", "_due", "_interval", "_period")

    def __init__(self, limit: float, period: float) -> None:
        if limit <= 0:
            raise ValueError("a rate limit must be positive")
        self._interval = period / limit
        self._period = period
        # An album bigger than the whole allowance must still fit eventually.
        self._burst = max(1, math.floor(limit))
        self._due: dict[int, float] = {}  # key -> theoretical arrival time

    def wait_needed(self, key: int, now: float, weight: int) -> float:
        """Seconds until `weight` more events fit; 0 if they fit now."""
        due = max(self._due.get(key, now), now) + min(weight, self._burst) * self._interval
        return max(0.0, due - self._period - now)

    def take(self, key: int, now: float, weight: int) -> None:
        weight = min(weight, self._burst)
        self._due[key] = max(self._due.get(key, now), now) + weight * self._interval


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.limits = RateLimits()
        self._buckets: list[tuple[_Bucket, Callable[[int, bool], int | None]]] = []

    def configure(self, limits: RateLimits) -> None:
        self.limits = limits
        self._buckets = []
        if limits.global_per_second is not None:
            self._buckets.append((_Bucket(limits.global_per_second, 1.0), lambda chat, group: 0))
        if limits.per_chat_per_second is not None:
            self._buckets.append((_Bucket(limits.per_chat_per_second, 1.0), lambda chat, group: chat))
        if limits.per_group_per_minute is not None:
            self._buckets.append(
                (_Bucket(limits.per_group_per_minute, 60.0), lambda chat, group: chat if group else None)
            )

    def acquire(self, chat_id: int, *, is_group: bool, weight: int = 1) -> None:
        """Count `weight` messages to `chat_id`, or raise 429 without counting any."""
        if not self._buckets:
            return
        now = self._clock()
        applicable = [
            (bucket, key) for bucket, key_of in self._buckets if (key := key_of(chat_id, is_group)) is not None
        ]
        wait = max(bucket.wait_needed(key, now, weight) for bucket, key in applicable)
        if wait > 0:
            raise too_many_requests(max(1, math.ceil(wait)))
        for bucket, key in applicable:
            bucket.take(key, now, weight)
