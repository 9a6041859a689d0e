"""The one rate-limited sender: outbox rows out to a messaging platform.

`Sender.run(stop)` is a long-running task. It claims due rows (bot/delivery/outbox.py),
renders each in the recipient's language of the moment (bot/delivery/rendering.py) and
hands it to a `Transport`, the only part that knows the platform
(bot/platforms/telegram/transport.py). What it keeps:

- a global rate (default 30 messages/s, up to 1000/s), evenly spaced;
- per chat: 1 message/s to a private chat, 20/min to a group (Telegram's
  documented limits); a chat that must wait is not even claimed, so waiting
  chats never occupy send slots;
- a 429's retry_after, for the whole sender (Telegram's flood control is
  global in practice) and for that chat; a 429 does not count as a failure;
- a network error first asks the platform whether it answers at all
  (`Transport.reachable`, one cheap call that sends nothing). If it does not,
  the failure was the network's or the platform's, not the row's: the whole
  sender pauses (an outage), the row goes back untouched in its place, rows
  waiting for their turn are given back, and nothing is claimed until a probe
  gets an answer (after 1, 2, 4 ... seconds, at most `outage_backoff_max`).
  So an outage of minutes costs no row a try and no row is failed by it;
- if the platform does answer, the failure was the row's own: exponential
  backoff (with jitter) and `failed` after `max_attempts` such tries;
- 403 (blocked, deactivated, removed from the group): `skipped`, the user marked
  blocked; 400 "not modified" on an edit counts as sent; an edit whose message
  is gone is sent as a new message;
- at most `concurrency` rows in flight, which bounds what a crash can leave
  `unconfirmed` (see bot/delivery/outbox.py for the crash semantics).

At 1000 messages a second every per-message cost counts: rows are claimed a
quarter of the slots at a time, rows with the same stored params and
language are rendered once (a broadcast's text is made once per language),
and successful sends are recorded in batches (`_SentRecorder`).

It polls the table every `poll_interval` seconds when idle; code that has just
committed an enqueue calls `wake()` to have it sent at once (in the bot, a
commit through `Deps.sessions` does so by itself, see bot/deps.py). A chat held
back by its per-chat limit is looked at again as soon as the limit allows, not
only at the next poll.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import outbox
from bot.delivery.outbox import Claimed
from bot.delivery.rendering import Rendered, Renderers
from bot.i18n import translator
from storage.models.base import utcnow

log = logging.getLogger(__name__)

MAX_GLOBAL_PER_SECOND = 1000.0
# Rendered messages kept for rows alike (a broadcast has one per language).
RENDERED_KEPT = 64
CHAT_READY_MARGIN = 0.01


# --- what a transport raises --------------------------------------------------------


class DeliveryError(Exception):
    """A platform-neutral delivery failure.

    `partial` is set when a message made of several platform messages (photos,
    then the text) failed after a part had been delivered: the row's outcome
    is then unknown, like a timeout's.
    """

    partial: bool = False

    def __init__(self, detail: str, *, partial: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.partial = partial


class RetryLater(DeliveryError):
    """Flood control (Telegram 429): nothing was delivered; try again after `seconds`."""

    def __init__(self, seconds: float, *, partial: bool = False) -> None:
        super().__init__(f"flood control: retry after {seconds:g}s", partial=partial)
        self.seconds = seconds


class Unreachable(DeliveryError):
    """The chat cannot be written to (Telegram 403): blocked, deactivated, bot removed."""


class RejectReason(StrEnum):
    # An edit changed nothing: the message already shows this.
    NOT_MODIFIED = "not_modified"
    # The message to edit is gone (deleted) or can no longer be edited.
    EDIT_TARGET_GONE = "edit_target_gone"
    # The request itself is wrong (bad text, unknown chat): retrying cannot help.
    INVALID = "invalid"


class Rejected(DeliveryError):
    """The platform refused the request (Telegram 400)."""

    def __init__(self, reason: RejectReason, detail: str, *, partial: bool = False) -> None:
        super().__init__(detail, partial=partial)
        self.reason = reason


class TemporaryFailure(DeliveryError):
    """The network or the platform failed.

    `maybe_delivered` is False when the request certainly did not get through
    (no connection, or the platform answered with an error) and a retry is
    safe; True when it may have arrived (the answer was lost on the way back).
    """

    def __init__(self, detail: str, *, maybe_delivered: bool, partial: bool = False) -> None:
        super().__init__(detail, partial=partial)
        self.maybe_delivered = maybe_delivered


class ChatKind(StrEnum):
    PRIVATE = "private"
    GROUP = "group"


class Transport(Protocol):
    """One messaging platform. Raises only the DeliveryError subclasses above."""

    platform: str

    def chat_kind(self, chat_id: str) -> ChatKind: ...

    def weight(self, rendered: Rendered) -> int:
        """How many platform messages sending `rendered` costs (an album counts each photo)."""
        ...

    async def send(self, chat_id: str, rendered: Rendered) -> str:
        """Deliver a new message; return the id later edits refer to."""
        ...

    async def edit(self, chat_id: str, message_id: str, rendered: Rendered) -> None:
        """Replace the text and buttons of a message `send` returned."""
        ...

    async def reachable(self) -> bool:
        """Whether the platform answers at all (a call that sends nothing to anyone).

        Asked after a network error, to tell an outage from a row's own failure.
        """
        ...


# --- configuration --------------------------------------------------------------------


@dataclass(frozen=True)
class SenderConfig:
    # Telegram's documented limits by default.
    global_per_second: float = 30.0
    private_chat_per_second: float = 1.0
    group_per_minute: float = 20.0
    # Rows in flight at once: also the most a crash can leave unconfirmed.
    # At 1000 messages/s about 64 are needed to keep the pace.
    concurrency: int = 8
    # Successful sends finishing within this many seconds of each other are
    # recorded in one transaction; their slots stay taken until it commits.
    record_batch_seconds: float = 0.01
    # Failed tries (429s excluded) before a row is marked failed.
    max_attempts: int = 5
    backoff_initial: float = 2.0
    backoff_max: float = 600.0
    # While the platform cannot be reached, it is asked again after this many
    # seconds, doubling up to the maximum: sending resumes at most that long
    # after it comes back.
    outage_backoff_initial: float = 1.0
    outage_backoff_max: float = 30.0
    # How long the question "does the platform answer at all?" may take.
    probe_timeout: float = 10.0
    # A `sending` row older than this belongs to a dead sender. Far longer than
    # a send can take (PTB's timeouts add up to about 20 s).
    lease: timedelta = timedelta(minutes=2)
    poll_interval: float = 0.5
    # How often a running sender also looks for rows other senders abandoned.
    recovery_interval: float = 60.0
    default_language: str = "vi"

    def __post_init__(self) -> None:
        if not 0 < self.global_per_second <= MAX_GLOBAL_PER_SECOND:
            raise ValueError(f"global_per_second must be in (0, {MAX_GLOBAL_PER_SECOND:g}]")
        if self.private_chat_per_second <= 0 or self.group_per_minute <= 0:
            raise ValueError("per-chat rates must be positive")
        if self.concurrency < 1 or self.max_attempts < 1:
            raise ValueError("concurrency and max_attempts must be at least 1")
        if self.backoff_initial <= 0 or self.backoff_max < self.backoff_initial:
            raise ValueError("backoff_initial must be positive and at most backoff_max")
        if self.outage_backoff_initial <= 0 or self.outage_backoff_max < self.outage_backoff_initial:
            raise ValueError("outage_backoff_initial must be positive and at most outage_backoff_max")
        if self.probe_timeout <= 0:
            raise ValueError("probe_timeout must be positive")
        if self.poll_interval <= 0 or self.recovery_interval <= 0 or self.lease <= timedelta(0):
            raise ValueError("poll_interval, recovery_interval and lease must be positive")
        if self.record_batch_seconds < 0:
            raise ValueError("record_batch_seconds must not be negative")

    def backoff(self, failures: int) -> float:
        """Seconds before try number `failures + 1`: doubling, capped, ±20% jitter
        so that rows failing together do not all come back together."""
        delay = min(self.backoff_max, self.backoff_initial * 2 ** (failures - 1))
        return delay * random.uniform(0.8, 1.2)


# --- rate limits -----------------------------------------------------------------------


class _GiveBack(Exception):
    """A claimed row goes back to pending untouched: it never reached the platform."""


class _Stopped(_GiveBack):
    """The sender is stopping while a row waits for its turn."""


class _PlatformDown(_GiveBack):
    """The platform stopped answering while a row waited for its turn."""


# Sleeps up to this long are plain sleeps, `stop` looked at when they end: a
# wait_for per send (a task and two callbacks) costs more than the sending
# itself at 1000 messages per second.
SHORT_SLEEP = 0.05


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    if stop.is_set():
        raise _Stopped
    if seconds <= SHORT_SLEEP:
        await asyncio.sleep(seconds)
        if stop.is_set():
            raise _Stopped
        return
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
    raise _Stopped


class GlobalPacer:
    """Sends evenly spaced at `rate` per second, all held back after a 429.

    Spacing rather than bursts: a burst of 30 followed by a second of silence
    is what draws 429s from a platform measuring over shorter windows.

    Each caller books the next free slot and sleeps until it: with many rows
    waiting, waking them all at every slot to see whose turn it is costs more
    than the sends at 1000 per second. A 429 arriving while it sleeps sends it
    back to book again after the pause.

    An event loop wakes a sleeper late: a fraction of a millisecond when the
    machine is idle, tens of milliseconds when it is busy. Up to
    `STRICT_UP_TO` per second the spacing is kept strictly (a late send still
    leaves a full interval after it: at 30 per second that costs about 1% of
    the pace). Above it, lateness would cost far more (at 1000 per second a
    10 ms stall is 10 sends), so there sends may come up to `CATCH_UP` early
    on their intervals to make up for it (a GCRA with that tolerance), while
    never more than `rate` of them go in any one second: the average is
    exactly the limit and the limit holds over every second.
    """

    STRICT_UP_TO = 100.0
    CATCH_UP = 0.05
    WINDOW = 1.0

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[asyncio.Event, float], Awaitable[None]] | None = None,
    ) -> None:
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep or _sleep_unless
        self._tolerance = self.CATCH_UP if rate > self.STRICT_UP_TO else 0.0
        self._capacity = rate * self.WINDOW
        # The next slot to book, and when the last send's interval ends.
        self._next = 0.0
        self._free_at = 0.0
        self._paused_until = 0.0
        # With a tolerance: the sends of the last second (when, weight) and their sum.
        self._recent: deque[tuple[float, int]] = deque()
        self._recent_weight = 0

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        # Slots booked before the pause ends are given up; booking restarts after it.
        self._next = max(self._next, self._paused_until)

    async def acquire(self, weight: int, stop: asyncio.Event) -> None:
        booked = False
        while True:
            now = self._clock()
            if self._paused_until > now:
                await self._sleep(stop, self._paused_until - now)
                booked = False
                continue
            if not booked:
                # With a tolerance the schedule may lag behind the clock by up
                # to it, so time lost to a stall is made up by the next sends.
                slot = max(self._next, now - self._tolerance)
                self._next = slot + weight * self._interval
                booked = True
            wait = max(slot, self._free_at - self._tolerance) - now
            if self._tolerance and wait <= 0:
                wait = self._window_wait(now, weight)
            if wait > 0:
                await self._sleep(stop, wait)
                continue
            self._free_at = max(self._free_at, now) + weight * self._interval
            if self._tolerance:
                self._recent.append((now, weight))
                self._recent_weight += weight
            return

    def _window_wait(self, now: float, weight: int) -> float:
        """Seconds until `weight` more sends fit in the second ending then."""
        recent = self._recent
        while recent and recent[0][0] <= now - self.WINDOW:
            self._recent_weight -= recent.popleft()[1]
        excess = self._recent_weight + min(weight, self._capacity) - self._capacity
        for sent_at, sent_weight in recent:
            if excess <= 0:
                break
            excess -= sent_weight
            if excess <= 0:
                return sent_at + self.WINDOW - now
        return 0.0


class ChatPacer:
    """When each chat may be written to next: per-chat spacing and per-chat 429s."""

    def __init__(
        self, private_interval: float, group_interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._intervals = {ChatKind.PRIVATE: private_interval, ChatKind.GROUP: group_interval}
        self._clock = clock
        self._ready: dict[str, float] = {}
        # (ready time, chat), earliest first; an entry a later send or hold
        # superseded is dropped when it comes up. At 1000 messages a second
        # about a thousand chats are held: no scanning them all per question.
        self._queue: list[tuple[float, str]] = []

    def ready_in(self, chat_id: str) -> float:
        return max(0.0, self._ready.get(chat_id, 0.0) - self._clock())

    def note_sent(self, chat_id: str, kind: ChatKind, weight: int) -> None:
        now = self._clock()
        self._set(chat_id, max(self._ready.get(chat_id, now), now) + weight * self._intervals[kind])

    def hold(self, chat_id: str, seconds: float) -> None:
        self._set(chat_id, max(self._ready.get(chat_id, 0.0), self._clock() + seconds))

    def _set(self, chat_id: str, ready: float) -> None:
        self._ready[chat_id] = ready
        heapq.heappush(self._queue, (ready, chat_id))

    def next_ready_in(self) -> float | None:
        """Seconds until the first held chat may be written to again; None if none is held."""
        self._forget_ready()
        return self._queue[0][0] - self._clock() if self._queue else None

    def waiting(self) -> set[str]:
        """Chats not writable yet; forgets the rest, so the map stays as small as
        the number of chats written to in the last interval."""
        self._forget_ready()
        return set(self._ready)

    def _forget_ready(self) -> None:
        now = self._clock()
        queue = self._queue
        while queue and (queue[0][0] <= now or self._ready.get(queue[0][1]) != queue[0][0]):
            ready, chat_id = heapq.heappop(queue)
            if ready <= now and self._ready.get(chat_id) == ready:
                del self._ready[chat_id]


# --- the sender ---------------------------------------------------------------------------


def default_worker_name(platform: str) -> str:
    # Stable across restarts on one host, so a restarted sender recovers its
    # own abandoned rows at once instead of waiting for their leases.
    return f"{platform}@{socket.gethostname()}"


class _SentRecorder:
    """Records successful sends in batches: one transaction for the sends of the last few milliseconds.

    A send waits here until its batch has committed, so its row stays in
    flight (and its slot taken) until then: the crash bound is unchanged, and
    at 1000 messages per second the database sees tens of commits a second
    instead of a thousand.
    """

    def __init__(self, sender: Sender) -> None:
        self._sender = sender
        self._waiting: list[tuple[Claimed, str, asyncio.Future[bool]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def record(self, row: Claimed, message_id: str) -> bool:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, message_id, done))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(), name="outbox-record")
        return await asyncio.shield(done)

    async def _flush(self) -> None:
        sender = self._sender
        while self._waiting:
            if sender.config.record_batch_seconds:
                await asyncio.sleep(sender.config.record_batch_seconds)
            batch, self._waiting = self._waiting, []
            recorded = False
            for attempt in range(1, 4):
                try:
                    await outbox.mark_sent_many(
                        sender.sessions, [(row, message_id) for row, message_id, _ in batch], now=sender.clock()
                    )
                    recorded = True
                    break
                except (SQLAlchemyError, OSError) as exc:
                    log.warning("outbox: recording %d sends failed (try %d): %s", len(batch), attempt, exc)
                    await asyncio.sleep(0.2 * attempt)
            if not recorded:
                log.error("outbox: %d sends not recorded; recovery will settle their rows", len(batch))
            for _row, _message_id, done in batch:
                if not done.done():
                    done.set_result(recorded)


@dataclass
class _Counters:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    unconfirmed: int = 0
    released: int = 0
    # Times the platform was found unreachable, and probes that found it so.
    outages: int = 0
    failed_probes: int = 0


@dataclass
class _Outage:
    """The platform does not answer: nothing is sent until a probe gets through."""

    since: float
    backoff: float
    probe_at: float


class Sender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        transport: Transport,
        renderers: Renderers,
        *,
        config: SenderConfig | None = None,
        worker: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.transport = transport
        self.renderers = renderers
        self.config = config or SenderConfig()
        self.worker = worker or default_worker_name(transport.platform)
        self.clock = clock
        self.counters = _Counters()
        self._global = GlobalPacer(self.config.global_per_second)
        self._chats = ChatPacer(1.0 / self.config.private_chat_per_second, 60.0 / self.config.group_per_minute)
        self._tasks: dict[asyncio.Task[None], str] = {}  # task -> chat it writes to
        self._sent = _SentRecorder(self)
        self._nudge = asyncio.Event()
        # Set when the current run ends: rows waiting for their turn give up.
        self._halt = asyncio.Event()
        self._outage: _Outage | None = None
        self._claim_batch = max(1, self.config.concurrency // 4)
        # Recently rendered messages (oldest first), see _render.
        self._rendered: dict[tuple[str, str, str], Rendered] = {}
        # The question "does the platform answer?" in progress, shared by every
        # row whose send failed meanwhile.
        self._check: asyncio.Future[bool] | None = None

    # --- public -----------------------------------------------------------------------

    def wake(self) -> None:
        """Something was just committed to the outbox: look now, not at the next poll."""
        self._nudge.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    @property
    def platform_down(self) -> bool:
        return self._outage is not None

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set, then finish or give back what is in flight.

        Rows still waiting for a rate limit when it stops (for `stop`, an error
        or a cancellation) are released to pending; sends already on the wire
        are awaited and recorded.
        """
        self._halt = asyncio.Event()
        watcher = asyncio.create_task(self._halt_on(stop))
        try:
            await self._recover(own=True)
            next_recovery = time.monotonic() + self.config.recovery_interval
            while not self._halt.is_set():
                if time.monotonic() >= next_recovery:
                    await self._recover(own=False)
                    next_recovery = time.monotonic() + self.config.recovery_interval
                if self._outage is not None:
                    await self._wait_for_platform(self._outage)
                    continue
                claimed = await self._fill()
                if claimed and self.in_flight < self.config.concurrency:
                    # A full batch may have left more due rows behind it.
                    continue
                if not claimed and not self._tasks:
                    # Idle: rendered texts are kept only while rows alike keep coming.
                    self._rendered.clear()
                await self._idle(self._idle_seconds())
        finally:
            self._halt.set()
            watcher.cancel()
            await self._finish()

    async def drain_once(self) -> int:
        """Send every row due now (one pass, for tests); returns how many were handled.

        Rows put back for a later retry, rows of chats that must wait for
        their per-chat limit, and everything while the platform is found
        unreachable, are left for a later pass.
        """
        self._halt = asyncio.Event()
        handled = 0
        while True:
            claimed = await self._fill()
            handled += claimed
            if not claimed and not self._tasks:
                return handled
            if not claimed:
                await asyncio.wait(list(self._tasks), return_when=asyncio.FIRST_COMPLETED)

    # --- the loop -----------------------------------------------------------------------

    async def _fill(self) -> int:
        free = self.config.concurrency - len(self._tasks)
        # Claim in batches, once a quarter of the slots is free, not once per
        # finished send: a claim costs about as much for one row as for sixteen.
        if free <= 0 or self._outage is not None or (self._tasks and free < self._claim_batch):
            return 0
        busy = self._chats.waiting() | set(self._tasks.values())
        try:
            rows = await outbox.claim(
                self.sessions,
                worker=self.worker,
                limit=free,
                now=self.clock(),
                platform=self.transport.platform,
                exclude_chats=busy,
            )
        except (SQLAlchemyError, OSError) as exc:
            # The database is away for a moment; the rows wait in it.
            log.warning("outbox claim failed: %s", exc)
            await self._idle(self.config.poll_interval)
            return 0
        for row in rows:
            task = asyncio.create_task(self._deliver(row), name=f"outbox-{row.id}")
            self._tasks[task] = row.chat_id
            task.add_done_callback(self._task_done)
        return len(rows)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("outbox delivery task crashed", exc_info=task.exception())
        # Wake the loop only when it would claim (see _fill).
        if not self._tasks or self.config.concurrency - len(self._tasks) >= self._claim_batch:
            self._nudge.set()

    def _idle_seconds(self) -> float:
        # A chat left out of the last claim for its rate limit may have rows
        # due: its next message should go when the limit allows, not a poll
        # later. The margin keeps a timer that fires a hair early from finding
        # the chat still held.
        ready_in = self._chats.next_ready_in()
        if ready_in is None:
            return self.config.poll_interval
        return min(self.config.poll_interval, ready_in + CHAT_READY_MARGIN)

    async def _halt_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._halt.set()
        self._nudge.set()

    async def _idle(self, seconds: float) -> None:
        """Until `seconds` pass, something is enqueued, slots free up, or the run halts."""
        if self._halt.is_set():
            return
        self._nudge.clear()
        # A timer rather than wait_for: no task per wait, and the loop waits often.
        timer = asyncio.get_running_loop().call_later(seconds, self._nudge.set)
        try:
            await self._nudge.wait()
        finally:
            timer.cancel()

    # --- outages ------------------------------------------------------------------------

    async def _reachable(self) -> bool:
        """After a network error: does the platform answer at all? If not, an outage begins."""
        if self._outage is not None:
            return False
        if self._check is None or self._check.done():
            self._check = asyncio.ensure_future(self._ask_platform())
        reachable = await asyncio.shield(self._check)
        if not reachable and self._outage is None:
            initial = self.config.outage_backoff_initial
            now = time.monotonic()
            self._outage = _Outage(since=now, backoff=initial, probe_at=now + initial)
            self.counters.outages += 1
            log.warning("outbox: the platform does not answer; sending paused until it does")
        return reachable

    async def _ask_platform(self) -> bool:
        try:
            return await asyncio.wait_for(self.transport.reachable(), timeout=self.config.probe_timeout)
        except TimeoutError:
            return False
        except Exception:
            # A bug here must not stop rows from failing after their bounded tries.
            log.exception("outbox: asking whether the platform answers failed")
            return True

    async def _wait_for_platform(self, outage: _Outage) -> None:
        """While the platform is down: probe it when due; sending resumes once it answers."""
        wait = outage.probe_at - time.monotonic()
        if wait > 0:
            await self._idle(wait)
            return
        if await self._ask_platform():
            log.warning(
                "outbox: the platform answers again after %.0fs; sending resumes", time.monotonic() - outage.since
            )
            self._outage = None
            return
        self.counters.failed_probes += 1
        outage.backoff = min(self.config.outage_backoff_max, outage.backoff * 2)
        outage.probe_at = time.monotonic() + outage.backoff

    async def _finish(self) -> None:
        # Shielded: a cancelled run still waits for its rows to be recorded or released.
        if self._tasks:
            await asyncio.shield(asyncio.gather(*self._tasks, return_exceptions=True))

    async def _recover(self, *, own: bool) -> None:
        try:
            await outbox.recover(
                self.sessions,
                now=self.clock(),
                lease=self.config.lease,
                worker=self.worker if own else None,
                platform=self.transport.platform,
            )
        except (SQLAlchemyError, OSError) as exc:
            log.warning("outbox recovery failed: %s", exc)

    # --- one row ------------------------------------------------------------------------

    async def _deliver(self, row: Claimed) -> None:
        if row.recipient_blocked:
            await self._record(lambda: outbox.mark_skipped(self.sessions, row, reason="recipient has blocked the bot"))
            self.counters.skipped += 1
            return
        try:
            rendered = self._render(row)
        except Exception as exc:  # any renderer bug fails this row only
            log.exception("outbox #%s: cannot render %r", row.id, row.kind)
            error = f"cannot render: {exc!r}"
            await self._record(lambda: outbox.mark_failed(self.sessions, row, error=error))
            self.counters.failed += 1
            return
        try:
            message_id = await self._transmit(row, rendered)
        except _GiveBack:
            await self._record(lambda: outbox.release(self.sessions, row))
            self.counters.released += 1
        except DeliveryError as exc:
            await self._on_error(row, exc)
        except Exception as exc:  # a transport bug: the outcome is unknown
            log.exception("outbox #%s: unexpected error from the transport", row.id)
            await self._on_uncertain(row, f"unexpected error: {exc!r}")
        else:
            await self._sent.record(row, message_id)
            self.counters.sent += 1

    def _render(self, row: Claimed) -> Rendered:
        language = row.language or self.config.default_language
        # Renderers make the text from the params and the language alone
        # (bot/delivery/rendering.py), so rows alike in both render alike: a broadcast's
        # text is made once per language, not once per recipient.
        key = (row.kind, language, row.params_json)
        rendered = self._rendered.get(key)
        if rendered is None:
            rendered = self.renderers.render(row.kind, row.params, translator(language))
            self._rendered[key] = rendered
            if len(self._rendered) > RENDERED_KEPT:
                del self._rendered[next(iter(self._rendered))]
        return rendered

    async def _transmit(self, row: Claimed, rendered: Rendered) -> str:
        if row.edit_target is not None:
            await self._pace(row.chat_id, 1)
            try:
                await self.transport.edit(row.chat_id, row.edit_target, rendered)
                return row.edit_target
            except Rejected as exc:
                if exc.reason is RejectReason.NOT_MODIFIED:
                    return row.edit_target
                if exc.reason is not RejectReason.EDIT_TARGET_GONE:
                    raise
                log.info("outbox #%s: message to edit is gone, sending it anew", row.id)
        await self._pace(row.chat_id, self.transport.weight(rendered))
        return await self.transport.send(row.chat_id, rendered)

    async def _pace(self, chat_id: str, weight: int) -> None:
        # The chat first (normally free already: waiting chats are not claimed),
        # then the global slot, re-checking the chat in case a 429 came meanwhile,
        # and giving the row back if the platform went down while it waited.
        while True:
            wait = self._chats.ready_in(chat_id)
            if wait > 0:
                await _sleep_unless(self._halt, wait)
            await self._global.acquire(weight, self._halt)
            if self._outage is not None:
                raise _PlatformDown
            if self._chats.ready_in(chat_id) <= 0:
                break
        self._chats.note_sent(chat_id, self.transport.chat_kind(chat_id), weight)

    async def _on_error(self, row: Claimed, exc: DeliveryError) -> None:
        if isinstance(exc, RetryLater):
            # Flood control is global in practice: everyone waits, and this chat too.
            self._global.pause(exc.seconds)
            self._chats.hold(row.chat_id, exc.seconds)
        if isinstance(exc, TemporaryFailure) and not await self._reachable():
            await self._on_outage(row, exc)
        elif exc.partial:
            await self._on_uncertain(row, f"failed after part of the message went out: {exc.detail}")
        elif isinstance(exc, RetryLater):
            await self._record(
                lambda: outbox.mark_retry(
                    self.sessions,
                    row,
                    not_before=self.clock() + timedelta(seconds=exc.seconds),
                    error=exc.detail,
                    count_attempt=False,
                )
            )
            self.counters.retried += 1
        elif isinstance(exc, Unreachable):
            await self._record(lambda: outbox.mark_blocked(self.sessions, row, now=self.clock(), error=exc.detail))
            self.counters.skipped += 1
        elif isinstance(exc, Rejected):
            await self._record(lambda: outbox.mark_failed(self.sessions, row, error=f"rejected: {exc.detail}"))
            self.counters.failed += 1
        elif isinstance(exc, TemporaryFailure) and exc.maybe_delivered:
            await self._on_uncertain(row, exc.detail)
        else:
            await self._retry_or_fail(row, exc.detail)

    async def _on_outage(self, row: Claimed, exc: TemporaryFailure) -> None:
        """The platform does not answer: not the row's failure, so no try is counted."""
        error = f"platform unreachable: {exc.detail}"
        if (exc.partial or exc.maybe_delivered) and not row.redeliver_unconfirmed:
            # It may have arrived: at most once still holds for this row.
            await self._record(lambda: outbox.mark_unconfirmed(self.sessions, row, error=error))
            self.counters.unconfirmed += 1
            return
        # Back in its place in the queue: it goes when sending resumes, in its turn.
        await self._record(
            lambda: outbox.mark_retry(self.sessions, row, not_before=row.not_before, error=error, count_attempt=False)
        )
        self.counters.retried += 1

    async def _on_uncertain(self, row: Claimed, error: str) -> None:
        """It may have arrived: at most once unless the row asked for at least once."""
        if row.redeliver_unconfirmed:
            await self._retry_or_fail(row, error)
            return
        await self._record(lambda: outbox.mark_unconfirmed(self.sessions, row, error=error))
        self.counters.unconfirmed += 1

    async def _retry_or_fail(self, row: Claimed, error: str) -> None:
        failures = row.attempts + 1
        if failures >= self.config.max_attempts:
            await self._record(
                lambda: outbox.mark_failed(self.sessions, row, error=f"gave up after {failures} attempts: {error}")
            )
            self.counters.failed += 1
            return
        delay = self.config.backoff(failures)
        await self._record(
            lambda: outbox.mark_retry(
                self.sessions,
                row,
                not_before=self.clock() + timedelta(seconds=delay),
                error=error,
                count_attempt=True,
            )
        )
        self.counters.retried += 1

    async def _record(self, settle: Callable[[], Awaitable[bool]]) -> None:
        """Write an outcome, retrying a database hiccup a few times. If it still
        fails the row stays `sending`, and recovery later makes it
        `unconfirmed`: never a second send."""
        for attempt in range(1, 4):
            try:
                if not await settle():
                    log.warning("outbox: outcome not recorded, the row's lease has passed on")
                return
            except (SQLAlchemyError, OSError) as exc:
                log.warning("outbox: recording an outcome failed (try %d): %s", attempt, exc)
                await asyncio.sleep(0.2 * attempt)
        log.error("outbox: outcome not recorded; recovery will mark the row unconfirmed")


async def supervise(sender: Sender, stop: asyncio.Event, *, restart_delay: float = 5.0) -> None:
    """Run `sender` until `stop` is set, restarting it after an unexpected error.

    A restart recovers what the failed run left in `sending` (as unconfirmed),
    so an error never turns into a second send.
    """
    while not stop.is_set():
        try:
            await sender.run(stop)
        except Exception:
            log.exception("the outbox sender failed; restarting in %gs", restart_delay)
            try:
                await asyncio.wait_for(stop.wait(), timeout=restart_delay)
            except TimeoutError:
                pass
