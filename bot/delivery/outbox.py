"""The durable outbox: enqueue in the caller's transaction; claim, settle and recover for the sender.

Every message to someone other than the person being answered is a row in
`outbox`, written by `enqueue` in the same transaction as the change that
caused it: a rolled-back change leaves no message, a committed one cannot
lose it. One sender per platform (bot/delivery/sender.py) claims due rows, renders
them in the recipient's language of the moment and hands them to a transport.
Nothing here imports a messaging platform.

Crash semantics: at most once per row, by default
-------------------------------------------------
Telegram has no idempotency key, so a message whose sender dies after the
request left but before the answer was recorded may or may not have arrived.
The order of events per row is therefore fixed:

1. `claim` commits `status = sending` (with a lease token in `claimed_by`)
   before the network call;
2. the sender calls the platform;
3. `mark_sent` (or another `mark_*`) commits right after the answer.

A row found in `sending` by `recover` (its lease expired, or it was claimed
by this very worker before it restarted) is NOT sent again: it becomes
`unconfirmed`, visible for audit. So no row is ever delivered twice, and the
price is that the few rows in flight at a crash may be lost. The same holds
for a send whose outcome is unknown without a crash (a read timeout, a failure
after the first part of a photo+text message went out).

Rows enqueued with `redeliver_unconfirmed=True` choose at least once instead:
recovery always puts them back to `pending`, whatever tries they have used
(an alert must not be lost to a crash), and the sender sends them again when
an outcome is unknown without a crash (a read timeout, a connection dropped
after the request left, a failure after the first part of a message in
several parts went out). Alerts about danger prefer a duplicate to a miss. A
duplicate needs the first copy, or its first part, to have gone out just
before the sender died or its request failed, so each such event duplicates
at most what was in flight then.

In-flight bound: a sender claims only as many rows as it has free send slots
(`SenderConfig.concurrency`, default 8) and starts each claimed row at once,
so at any moment at most `concurrency` rows per sender are `sending`, and a
crash can leave at most that many `unconfirmed` (or, for redeliver rows,
duplicated) messages.

Ordering: due rows go by priority, then due time, then id. Rows to one chat are
never in flight together (`claim` skips a chat with a row in `sending`, and
takes at most one row per chat per batch), a row waiting to be retried after
an error holds back later rows of the same or lower priority to the same chat,
and an edit waits until every earlier row of its edit chain has settled, so an
agency card never shows an older state over a newer one.

One sender per platform is the supported deployment. A second one never sends a
row twice (PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED; SQLite has a single
writer), but the rate limits are kept per sender.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Text,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models.base import utcnow
from storage.models.outbox import (
    DEDUPE_KEY_LENGTH,
    OutboxMessage,
    OutboxStatus,
    Priority,
)
from storage.models.users import TELEGRAM, User

log = logging.getLogger(__name__)

DEFAULT_PLATFORM = TELEGRAM
# At most this many rows are looked at per claimed row, so that one chat with a
# long queue (an agency group) cannot hide every other chat from a batch.
CANDIDATES_PER_SLOT = 4
ERROR_LENGTH = 1000
# Set in `session.info` by an enqueue that wrote a row to send: the COMMIT of
# that transaction wakes the sender of this process (storage.db.call_after_commit,
# wired up by bot.deps.Deps).
ENQUEUED_FLAG = "outbox.enqueued"

Sessions = async_sessionmaker[AsyncSession]

__all__ = [
    "ENQUEUED_FLAG",
    "Claimed",
    "OutboxMessage",
    "OutboxStatus",
    "Priority",
    "RecoveryReport",
    "claim",
    "clear_blocked",
    "enqueue",
    "mark_blocked",
    "mark_failed",
    "mark_retry",
    "mark_sent",
    "mark_sent_many",
    "mark_skipped",
    "mark_unconfirmed",
    "recover",
    "release",
]


# --- enqueue ------------------------------------------------------------------


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: str,
    kind: str,
    params: Mapping[str, Any],
    recipient_user_id: int | None = None,
    language: str | None = None,
    priority: int = Priority.ROUTINE,
    not_before: datetime | None = None,
    dedupe_key: str | None = None,
    edit_of_id: int | None = None,
    redeliver_unconfirmed: bool = False,
    platform: str = DEFAULT_PLATFORM,
) -> OutboxMessage | None:
    """Add a message to the caller's transaction (no commit); None if `dedupe_key` exists.

    `params` must hold plain JSON values only: the renderer makes the text at
    send time. A message for a user who has blocked the bot is written as
    `skipped`, so it stays visible but is never tried. Committing the
    transaction of a session from `Deps.sessions` wakes the running sender
    (see ENQUEUED_FLAG); elsewhere the sender's next poll finds the row.
    """
    _check_plain(params, "params")
    if not chat_id:
        raise ValueError("chat_id is required")
    if dedupe_key is not None and not 0 < len(dedupe_key) <= DEDUPE_KEY_LENGTH:
        raise ValueError(f"dedupe_key must have 1 to {DEDUPE_KEY_LENGTH} characters")
    status, error = OutboxStatus.PENDING, None
    if recipient_user_id is not None:
        blocked_at = await session.scalar(select(User.blocked_at).where(User.id == recipient_user_id))
        if blocked_at is not None:
            status, error = OutboxStatus.SKIPPED, "recipient has blocked the bot"
    now = utcnow()
    values = {
        "platform": platform,
        "chat_id": str(chat_id),
        "recipient_user_id": recipient_user_id,
        "language": language,
        "kind": kind,
        "params": dict(params),
        "priority": int(priority),
        "status": status,
        "redeliver_unconfirmed": redeliver_unconfirmed,
        "attempts": 0,
        "not_before": not_before or now,
        "edit_of_id": edit_of_id,
        "last_error": error,
        "dedupe_key": dedupe_key,
        "created_at": now,
    }
    insert = _dialect_insert(session)
    # INSERT ... ON CONFLICT DO NOTHING on both backends: a duplicate key is
    # not an error and does not spoil the caller's transaction.
    statement = (
        insert(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key])
        .returning(OutboxMessage)
    )
    row = (await session.scalars(statement)).first()
    if row is not None and row.status == OutboxStatus.PENDING:
        session.info[ENQUEUED_FLAG] = True
    return row


def _dialect_insert(
    session: AsyncSession,
) -> Callable[[type[OutboxMessage]], postgresql.Insert | sqlite.Insert]:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"the outbox does not support the {name} backend")


def _check_plain(value: object, where: str) -> None:
    """Only values that survive JSON unchanged: no datetimes, no ORM objects, no text to show."""
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} holds {value}, which JSON cannot store")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has a non-string key {key!r}")
            _check_plain(item, f"{where}[{key!r}]")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
        return
    raise TypeError(
        f"{where} is a {type(value).__name__}; outbox params hold plain values only "
        "(pass ids, codes, ISO dates as strings)"
    )


# --- claim ----------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A row a sender now holds: everything needed to render and deliver it."""

    id: int
    platform: str
    chat_id: str
    kind: str
    # The params as stored (JSON text): the sender renders rows with the same
    # text once, so a broadcast's 100,000 copies are not each decoded.
    params_json: str
    # The recipient's language now (users.language), else the row's; None: the default.
    language: str | None
    recipient_user_id: int | None
    # The recipient blocked the bot after this row was enqueued.
    recipient_blocked: bool
    priority: int
    # When it was due: its place in the queue.
    not_before: datetime
    attempts: int
    redeliver_unconfirmed: bool
    edit_of_id: int | None
    # The platform message an edit applies to: the newest message its chain
    # produced. None for a plain send, and for an edit whose original never
    # arrived (then it is sent as a new message).
    edit_target: str | None
    # The lease token; every mark_* checks it.
    claimed_by: str

    @functools.cached_property
    def params(self) -> Mapping[str, Any]:
        value: Mapping[str, Any] = json.loads(self.params_json)
        return value


async def claim(
    sessions: Sessions,
    *,
    worker: str,
    limit: int,
    now: datetime,
    platform: str = DEFAULT_PLATFORM,
    exclude_chats: Iterable[str] = (),
) -> list[Claimed]:
    """Atomically move up to `limit` due pending rows to `sending` and return them.

    `exclude_chats` are chats the sender must not write to yet (its per-chat
    rate limit or a 429 for that chat); their rows stay pending.
    """
    if limit <= 0:
        return []
    token = f"{worker[:80]}/{uuid.uuid4().hex[:12]}"
    excluded = sorted(set(exclude_chats))
    async with sessions.begin() as session:
        dialect = session.get_bind().dialect.name
        values: dict[str, Any] = {"platform": platform, "now": now, "candidates": limit * CANDIDATES_PER_SLOT}
        if excluded:
            values["excluded_chats"] = excluded if dialect == "postgresql" else json.dumps(excluded)
        candidates = (await session.execute(_candidates(dialect, bool(excluded)), values)).all()
        chosen = _one_per_chat(candidates, limit)
        if not chosen:
            return []
        claimed = (await session.execute(_claiming(dialect), {"ids": chosen, "claimed_at": now, "token": token})).all()
        return await _load_claimed(session, claimed, token)


@functools.cache
def _candidates(dialect: str, excluding: bool) -> Select[tuple[int, str]]:
    """The claim's candidate query, built once per backend: at 1000 messages a
    second, building it anew for every claim cost more than running it.
    Parameters: platform, now, candidates (how many), excluded_chats."""
    row = OutboxMessage.__table__
    other = row.alias("other")
    chain = row.alias("chain")
    # Something to this chat is in flight, or an earlier row of the same or a
    # more urgent priority is waiting to be retried: keep the chat's order.
    # Two lookups on (platform, chat_id, status) rather than one with an OR:
    # PostgreSQL answers each from the index, where the OR made it scan every
    # row of the table, sent history included, at every claim.
    in_flight = exists().where(
        other.c.platform == row.c.platform,
        other.c.chat_id == row.c.chat_id,
        other.c.status == OutboxStatus.SENDING,
    )
    # OFFSET 0 keeps PostgreSQL from turning this into one scan of every
    # pending row at each claim (its estimate for "retries waiting" is one
    # row); as a correlated subquery it is one index probe per candidate.
    waiting_retry = exists(
        select(other.c.id)
        .where(
            other.c.platform == row.c.platform,
            other.c.chat_id == row.c.chat_id,
            other.c.status == OutboxStatus.PENDING,
            other.c.id < row.c.id,
            other.c.priority <= row.c.priority,
            other.c.last_error.is_not(None),
        )
        .offset(0)
    )
    # An edit goes only after the original and every earlier edit of it settled.
    chain_unsettled = exists().where(
        or_(chain.c.id == row.c.edit_of_id, chain.c.edit_of_id == row.c.edit_of_id),
        chain.c.id < row.c.id,
        chain.c.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
    )
    conditions = [
        row.c.status == OutboxStatus.PENDING,
        row.c.platform == bindparam("platform"),
        row.c.not_before <= bindparam("now"),
        ~in_flight,
        ~waiting_retry,
        or_(row.c.edit_of_id.is_(None), ~chain_unsettled),
    ]
    if excluding:
        conditions.append(_not_among(row.c.chat_id, dialect))
    return (
        select(row.c.id, row.c.chat_id)
        .where(*conditions)
        .order_by(row.c.priority, row.c.not_before, row.c.id)
        .limit(bindparam("candidates", type_=Integer))
        # PostgreSQL: concurrent claimers skip each other's rows instead of
        # waiting; SQLite ignores it (one writer at a time anyway).
        .with_for_update(skip_locked=True, of=row)
    )


def _not_among(column: ColumnElement[str], dialect: str) -> ColumnElement[bool]:
    """`column NOT IN excluded_chats` as one bound parameter (an array, or a JSON
    list on SQLite): at 1000 messages a second about a thousand chats wait for
    their per-chat limit, and a thousand parameters per claim cost more to
    compile than the claim costs to run."""
    if dialect == "postgresql":
        return column != func.all(bindparam("excluded_chats", type_=postgresql.ARRAY(String)))
    listed = func.json_each(bindparam("excluded_chats", type_=String))
    return column.not_in(select(literal_column("value")).select_from(listed).scalar_subquery())


def _one_per_chat(candidates: Sequence[Any], limit: int) -> list[int]:
    chosen: list[int] = []
    chats: set[str] = set()
    for row_id, chat_id in candidates:
        if chat_id in chats:
            continue
        chats.add(chat_id)
        chosen.append(row_id)
        if len(chosen) == limit:
            break
    return chosen


_OUTBOX = OutboxMessage.__table__
# What the claiming UPDATE returns: everything a sender needs but the recipient's state.
_CLAIMED_COLUMNS = (
    _OUTBOX.c.id,
    _OUTBOX.c.platform,
    _OUTBOX.c.chat_id,
    _OUTBOX.c.kind,
    cast(_OUTBOX.c.params, Text).label("params_json"),
    _OUTBOX.c.language,
    _OUTBOX.c.recipient_user_id,
    _OUTBOX.c.priority,
    _OUTBOX.c.not_before,
    _OUTBOX.c.attempts,
    _OUTBOX.c.redeliver_unconfirmed,
    _OUTBOX.c.edit_of_id,
)


@functools.cache
def _claiming(dialect: str) -> Any:
    """UPDATE the chosen rows (still pending) to `sending`, returning them.

    On SQLite "status = 'pending'" is written "+status": otherwise SQLite looks
    the rows up through ix_outbox_claim, every pending row of a broadcast,
    instead of fetching the few chosen ids by primary key (20 ms a claim at
    100,000 rows, against a fraction of one).
    """
    status = literal_column(f"+{_OUTBOX.name}.status") if dialect == "sqlite" else _OUTBOX.c.status
    return (
        _OUTBOX.update()
        .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)), status == OutboxStatus.PENDING.value)
        .values(status=OutboxStatus.SENDING, claimed_at=bindparam("claimed_at"), claimed_by=bindparam("token"))
        .returning(*_CLAIMED_COLUMNS)
    )


async def _load_claimed(session: AsyncSession, rows: Sequence[Any], token: str) -> list[Claimed]:
    """Claimed rows with their recipients' language and block of the moment, in sending order."""
    recipient_ids = {row.recipient_user_id for row in rows if row.recipient_user_id is not None}
    recipients: dict[int, tuple[str | None, datetime | None]] = {}
    if recipient_ids:
        users = User.__table__
        found = await session.execute(
            select(users.c.id, users.c.language, users.c.blocked_at).where(users.c.id.in_(recipient_ids))
        )
        recipients = {user_id: (language, blocked_at) for user_id, language, blocked_at in found}
    claimed = []
    for row in sorted(rows, key=lambda row: (row.priority, row.not_before, row.id)):
        user_language, blocked_at = recipients.get(row.recipient_user_id, (None, None))
        target = await _edit_target(session, row.id, row.edit_of_id) if row.edit_of_id is not None else None
        claimed.append(
            Claimed(
                id=row.id,
                platform=row.platform,
                chat_id=row.chat_id,
                kind=row.kind,
                params_json=row.params_json,
                language=user_language or row.language,
                recipient_user_id=row.recipient_user_id,
                recipient_blocked=blocked_at is not None,
                priority=row.priority,
                not_before=row.not_before,
                attempts=row.attempts,
                redeliver_unconfirmed=row.redeliver_unconfirmed,
                edit_of_id=row.edit_of_id,
                edit_target=target,
                claimed_by=token,
            )
        )
    return claimed


async def _edit_target(session: AsyncSession, row_id: int, edit_of_id: int) -> str | None:
    # The newest message of the chain: the original's, or the one an earlier
    # edit posted anew when the original had been deleted.
    return await session.scalar(
        select(OutboxMessage.platform_message_id)
        .where(
            or_(OutboxMessage.id == edit_of_id, OutboxMessage.edit_of_id == edit_of_id),
            OutboxMessage.id < row_id,
            OutboxMessage.status == OutboxStatus.SENT,
            OutboxMessage.platform_message_id.is_not(None),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )


# --- settle -------------------------------------------------------------------


def _held(claimed: Claimed, *statuses: OutboxStatus) -> ColumnElement[bool]:
    """The row, if the lease `claimed` describes still holds it."""
    return and_(
        OutboxMessage.id == claimed.id,
        OutboxMessage.claimed_by == claimed.claimed_by,
        OutboxMessage.status.in_(statuses or (OutboxStatus.SENDING,)),
    )


async def _settle(sessions: Sessions, claimed: Claimed, values: dict[str, Any], *statuses: OutboxStatus) -> bool:
    async with sessions.begin() as session:
        result = await session.execute(
            update(OutboxMessage)
            .where(_held(claimed, *statuses))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def _error(text: str) -> str:
    return text[:ERROR_LENGTH]


async def mark_sent(sessions: Sessions, claimed: Claimed, *, message_id: str, now: datetime) -> bool:
    """The platform accepted it. Also upgrades a row that recovery had already
    given up on (`unconfirmed`, or requeued and not yet claimed again): the
    lease token proves this answer belongs to it."""
    return await _settle(
        sessions,
        claimed,
        {"status": OutboxStatus.SENT, "sent_at": now, "platform_message_id": message_id},
        OutboxStatus.SENDING,
        OutboxStatus.UNCONFIRMED,
        OutboxStatus.PENDING,
    )


# Built once: at 1000 messages a second the sender records tens of batches a second.
_MARK_SENT = (
    _OUTBOX.update()
    .where(
        _OUTBOX.c.id == bindparam("row_id"),
        _OUTBOX.c.claimed_by == bindparam("token"),
        # As mark_sent: also upgrades a row recovery had already given up on.
        or_(
            _OUTBOX.c.status == OutboxStatus.SENDING,
            _OUTBOX.c.status == OutboxStatus.UNCONFIRMED,
            _OUTBOX.c.status == OutboxStatus.PENDING,
        ),
    )
    .values(status=OutboxStatus.SENT, sent_at=bindparam("sent_at"), platform_message_id=bindparam("message_id"))
)


async def mark_sent_many(sessions: Sessions, sent: Sequence[tuple[Claimed, str]], *, now: datetime) -> int:
    """`mark_sent` for many rows in one transaction; how many were still held by their leases."""
    if not sent:
        return 0
    async with sessions.begin() as session:
        result = await session.execute(
            _MARK_SENT,
            [
                {"row_id": row.id, "token": row.claimed_by, "message_id": message_id, "sent_at": now}
                for row, message_id in sent
            ],
        )
    recorded = result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(sent)
    if recorded != len(sent):
        log.warning("outbox: %d of %d sends not recorded, their leases had passed on", len(sent) - recorded, len(sent))
    return recorded


async def mark_retry(
    sessions: Sessions, claimed: Claimed, *, not_before: datetime, error: str, count_attempt: bool
) -> bool:
    """Back to pending until `not_before`; `count_attempt=False` for flow control (429)."""
    values: dict[str, Any] = {
        "status": OutboxStatus.PENDING,
        "not_before": not_before,
        "last_error": _error(error),
    }
    if count_attempt:
        values["attempts"] = OutboxMessage.attempts + 1
    return await _settle(sessions, claimed, values)


async def mark_failed(sessions: Sessions, claimed: Claimed, *, error: str, count_attempt: bool = True) -> bool:
    values: dict[str, Any] = {"status": OutboxStatus.FAILED, "last_error": _error(error)}
    if count_attempt:
        values["attempts"] = OutboxMessage.attempts + 1
    return await _settle(sessions, claimed, values)


async def mark_unconfirmed(sessions: Sessions, claimed: Claimed, *, error: str) -> bool:
    """The outcome is unknown (a timeout after the request left); not resent."""
    return await _settle(
        sessions,
        claimed,
        {
            "status": OutboxStatus.UNCONFIRMED,
            "attempts": OutboxMessage.attempts + 1,
            "last_error": _error(error),
        },
    )


async def mark_skipped(sessions: Sessions, claimed: Claimed, *, reason: str) -> bool:
    return await _settle(sessions, claimed, {"status": OutboxStatus.SKIPPED, "last_error": _error(reason)})


async def release(sessions: Sessions, claimed: Claimed) -> bool:
    """Give a row back untouched: the sender is stopping and never called the platform."""
    return await _settle(sessions, claimed, {"status": OutboxStatus.PENDING, "claimed_by": None, "claimed_at": None})


async def mark_blocked(sessions: Sessions, claimed: Claimed, *, now: datetime, error: str) -> bool:
    """The chat cannot be written to (bot blocked, account deleted, bot removed from a group).

    The row is skipped, the recipient marked blocked (so later enqueues are
    written as skipped), and whatever else waits for this chat is skipped too.
    """
    async with sessions.begin() as session:
        result = await session.execute(
            update(OutboxMessage)
            .where(_held(claimed))
            .values(status=OutboxStatus.SKIPPED, last_error=_error(error))
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return False
        if claimed.recipient_user_id is not None:
            await session.execute(
                update(User)
                .where(User.id == claimed.recipient_user_id, User.blocked_at.is_(None))
                .values(blocked_at=now)
                .execution_options(synchronize_session=False)
            )
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.platform == claimed.platform,
                OutboxMessage.chat_id == claimed.chat_id,
                OutboxMessage.status == OutboxStatus.PENDING,
            )
            .values(
                status=OutboxStatus.SKIPPED,
                last_error=_error(f"chat unreachable (outbox #{claimed.id}): {error}"),
            )
            .execution_options(synchronize_session=False)
        )
        return True


async def clear_blocked(session: AsyncSession, user_id: int) -> None:
    """The person talks to the bot again (they unblocked it): write to them again.

    For the handlers that see them come back; in the caller's transaction.
    """
    await session.execute(
        update(User)
        .where(User.id == user_id, User.blocked_at.is_not(None))
        .values(blocked_at=None)
        .execution_options(synchronize_session=False)
    )


# --- recover ---------------------------------------------------------------------


@dataclass(frozen=True)
class RecoveryReport:
    # Left in `sending` by a sender that stopped; may or may not have arrived.
    unconfirmed: tuple[int, ...] = ()
    # `redeliver_unconfirmed` rows put back to pending.
    requeued: tuple[int, ...] = ()

    @property
    def total(self) -> int:
        return len(self.unconfirmed) + len(self.requeued)


async def recover(
    sessions: Sessions,
    *,
    now: datetime,
    lease: timedelta,
    worker: str | None = None,
    platform: str = DEFAULT_PLATFORM,
) -> RecoveryReport:
    """Settle rows a stopped sender left in `sending`.

    A row is stale when its lease expired (claimed longer than `lease` ago) or,
    given `worker`, when that worker claimed it: a sender restarting under its
    own name knows its previous life is over, so it need not wait for leases.
    Stale rows become `unconfirmed`; rows with `redeliver_unconfirmed` go back
    to pending instead, always: the interrupted try is counted in `attempts`,
    but it never makes such a row lost.
    """
    stale = [OutboxMessage.claimed_at < now - lease]
    if worker is not None:
        stale.append(OutboxMessage.claimed_by.startswith(f"{worker[:80]}/", autoescape=True))
    base = and_(
        OutboxMessage.status == OutboxStatus.SENDING,
        OutboxMessage.platform == platform,
        or_(*stale),
    )
    requeue = OutboxMessage.redeliver_unconfirmed.is_(True)
    note = "the sender stopped while sending; it may or may not have arrived"
    async with sessions.begin() as session:
        requeued = (
            await session.scalars(
                update(OutboxMessage)
                .where(base, requeue)
                .values(
                    status=OutboxStatus.PENDING,
                    not_before=now,
                    attempts=OutboxMessage.attempts + 1,
                    last_error=f"{note}; sending again",
                )
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
        unconfirmed = (
            await session.scalars(
                update(OutboxMessage)
                .where(base)
                .values(status=OutboxStatus.UNCONFIRMED, last_error=note)
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
    report = RecoveryReport(tuple(sorted(unconfirmed)), tuple(sorted(requeued)))
    if report.total:
        log.warning(
            "outbox recovery: %d row(s) unconfirmed %s, %d requeued %s",
            len(report.unconfirmed),
            list(report.unconfirmed),
            len(report.requeued),
            list(report.requeued),
        )
    return report
