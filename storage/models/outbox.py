"""The durable outbox: every message to someone other than the person being answered.

A row is written in the same transaction as the change that caused it (a
report received, a reminder due, an alert approved), so a crash can neither
lose the message nor send one for a change that was rolled back. The sender
(bot/delivery/sender.py) renders each row in the recipient's language when it sends
it and records what happened here. bot/delivery/outbox.py holds the operations and
explains the crash semantics.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow

ID = BigInteger().with_variant(Integer, "sqlite")

KIND_LENGTH = 64
DEDUPE_KEY_LENGTH = 200


class OutboxStatus(StrEnum):
    # Waiting to be sent once `not_before` has passed.
    PENDING = "pending"
    # Claimed by a sender, which may be talking to the platform right now.
    SENDING = "sending"
    # The platform accepted it; `platform_message_id` says which message it became.
    SENT = "sent"
    # Given up: rejected by the platform, unrenderable, or out of attempts.
    FAILED = "failed"
    # A sender stopped (crash, timeout) while the message may or may not have
    # reached the platform. Not resent, so nobody gets it twice; kept for audit.
    UNCONFIRMED = "unconfirmed"
    # Deliberately not sent: the recipient blocked the bot or cannot be reached.
    SKIPPED = "skipped"


# A claimable row is PENDING; these never change again.
FINAL_STATUSES = frozenset({OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.UNCONFIRMED, OutboxStatus.SKIPPED})


class Priority(IntEnum):
    """Lower goes first when more is due than the rate limits let through.

    Stored as a plain integer, so a level can be added or moved without a
    migration (a row written before keeps the place its number gives it).

    Broadcasts are bulk: 100,000 rows take about 55 minutes at Telegram's 30
    a second. Everything addressed to one person or one agency is a trickle
    that someone is waiting for, so it goes first and delays a broadcast by
    seconds. An announcement (a power cut, a new regulation) therefore waits
    behind a citizen's result, an official's task and an agency card, which
    would otherwise wait up to an hour behind it; only alerts about danger go
    before them (docs/rules.md "Alerts": urgent alerts before announcements and
    before routine notifications).
    """

    # To the people running an alert: review requests, decisions, lapses and
    # delivery reports. Ahead of the broadcast they run, or a correction or a
    # cancellation would wait for the end of the alert it corrects.
    CONTROL = -10
    URGENT = 0  # alerts about danger to people
    NORMAL = 15  # a step someone must act on: a result, a question to answer, a task
    ROUTINE = 20  # status updates, agency cards, reminders
    ANNOUNCEMENT = 30  # broadcasts of information that is not about danger


def _string_enum(enum_class: type[StrEnum]) -> Enum:
    # Values as plain VARCHAR, as storage/models/province.py does: identical on
    # both backends, and a new status needs no ALTER TYPE.
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # The claim query: pending rows that are due, by priority, due time, id.
        Index("ix_outbox_claim", "status", "priority", "not_before", "id"),
        # Per-chat questions: "is something already in flight to this chat?",
        # "skip everything else queued for this blocked chat".
        Index("ix_outbox_platform_chat_id_status", "platform", "chat_id", "status"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    # Which transport delivers it ("telegram"; "zalo" later): one sender per platform.
    platform: Mapped[str] = mapped_column(String(16))
    # A private chat or an agency's group chat, as the platform names it.
    chat_id: Mapped[str] = mapped_column(String(64))
    # The person it is for, when it is for one person: their current language
    # is used at send time, and a block is recorded on them. Groups have none.
    recipient_user_id: Mapped[int | None] = mapped_column(ID, ForeignKey("users.id"))
    # The language when there is no recipient (an agency group), else a fallback.
    language: Mapped[str | None] = mapped_column(String(8))
    # Which renderer turns `params` into text (bot/delivery/rendering.py), e.g. "report.received".
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    # Plain values only (ids, codes, names): the text is made at send time.
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    priority: Mapped[int] = mapped_column(Integer, default=Priority.ROUTINE)
    status: Mapped[OutboxStatus] = mapped_column(_string_enum(OutboxStatus), default=OutboxStatus.PENDING)
    # At-least-once instead of at-most-once for this row: after a crash it is
    # sent again rather than left `unconfirmed` (alerts prefer a duplicate to a miss).
    redeliver_unconfirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Failed tries that count towards the sender's bound (a 429 does not count:
    # it is flow control, not failure).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Not sent before this time: scheduled sends, backoff and retry_after.
    not_before: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The lease: who claimed it and when. `claimed_by` is unique per claim, so
    # a sender's late answer never overwrites what a later claim decided.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(96))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The message this row became (opaque to everyone but the transport), so
    # later rows can edit it in place.
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    # "Edit the message that row produced" (an agency card moving through its
    # states) instead of posting a new one.
    edit_of_id: Mapped[int | None] = mapped_column(ID, ForeignKey("outbox.id", ondelete="SET NULL"), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Enqueueing a key that exists is a no-op ("reminder:report:12:receive:50%").
    dedupe_key: Mapped[str | None] = mapped_column(String(DEDUPE_KEY_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
