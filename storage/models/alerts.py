"""Provincial alerts and announcements (003 Art. 3.9, 12-13) and who follows them.

An alert is written by an official with the author role, approved by a
different person of the alert focal unit, and published to everyone who
follows the province or one of the alert's communes. Its content follows CAP
1.2 (bot/interop/cap.py): category, severity, urgency and certainty take CAP's values,
and an update or a cancellation is a new alert that references the one it
changes. Exercises and tests are a mode chosen when the draft is made and
never changed afterwards; they go only to test subscribers.

Delivery writes one outbox row per recipient (dedupe key `alert:<id>:<user
id>`) in the publishing transaction; `first_outbox_id`..`last_outbox_id`
bounds those rows so progress is counted without scanning the whole outbox.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow
from storage.models.province import ID, _string_enum

HEADLINE_MAX = 160  # CAP 1.2 asks for a headline under 160 characters
DESCRIPTION_MAX = 2000
INSTRUCTION_MAX = 1000
FILENAME_MAX = 200


class AlertKind(StrEnum):
    # A danger to people: flood, landslide, epidemic, security warning.
    ALERT = "alert"
    # Official information: a power cut, a new regulation.
    ANNOUNCEMENT = "announcement"


class AlertMode(StrEnum):
    """CAP `status`: real, or a drill that must never be mistaken for one."""

    ACTUAL = "actual"
    EXERCISE = "exercise"
    TEST = "test"


class MessageType(StrEnum):
    """CAP `msgType`."""

    ALERT = "alert"
    UPDATE = "update"
    CANCEL = "cancel"


class Category(StrEnum):
    """CAP 1.2 `category` values, spelled as CAP spells them."""

    GEO = "Geo"
    MET = "Met"
    SAFETY = "Safety"
    SECURITY = "Security"
    RESCUE = "Rescue"
    FIRE = "Fire"
    HEALTH = "Health"
    ENV = "Env"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    CBRNE = "CBRNE"
    OTHER = "Other"


class Severity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Urgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


class AlertStatus(StrEnum):
    # Being written by its author.
    DRAFT = "draft"
    # Waiting for the focal unit's decision.
    SUBMITTED = "submitted"
    # Returned to the author with the approver's comment; the author may edit and submit again.
    REJECTED = "rejected"
    # Approved, to be published at `publish_at`.
    SCHEDULED = "scheduled"
    # Sent (or being sent) to its recipients.
    PUBLISHED = "published"
    # Discarded as a draft, or called off before it was published.
    WITHDRAWN = "withdrawn"


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        # The runner's questions: what is due to publish, what is still being delivered.
        Index("ix_alerts_status_publish_at", "status", "publish_at"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    # "CB-2026-000012": what people and the CAP identifier call it.
    code: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[AlertKind] = mapped_column(_string_enum(AlertKind))
    mode: Mapped[AlertMode] = mapped_column(_string_enum(AlertMode))
    msg_type: Mapped[MessageType] = mapped_column(_string_enum(MessageType))
    # The alert an update or a cancellation changes.
    references_id: Mapped[int | None] = mapped_column(ID, ForeignKey("alerts.id"), index=True)
    status: Mapped[AlertStatus] = mapped_column(_string_enum(AlertStatus), default=AlertStatus.DRAFT)
    # Bumped by every change; a decision applies only to the version it was made on.
    version: Mapped[int] = mapped_column(Integer, default=1)

    category: Mapped[Category] = mapped_column(_string_enum(Category))
    severity: Mapped[Severity] = mapped_column(_string_enum(Severity))
    urgency: Mapped[Urgency] = mapped_column(_string_enum(Urgency))
    certainty: Mapped[Certainty] = mapped_column(_string_enum(Certainty))
    headline_vi: Mapped[str | None] = mapped_column(String(HEADLINE_MAX))
    description_vi: Mapped[str | None] = mapped_column(Text)
    instruction_vi: Mapped[str | None] = mapped_column(Text)
    # English is optional: without it English readers get the Vietnamese text
    # under English labels, and the CAP document has the Vietnamese block only.
    headline_en: Mapped[str | None] = mapped_column(String(HEADLINE_MAX))
    description_en: Mapped[str | None] = mapped_column(Text)
    instruction_en: Mapped[str | None] = mapped_column(Text)

    # Everyone in the province, or only the communes in `alert_areas`.
    whole_province: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the event takes effect; None: from publication.
    onset_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When it stops being in force; None until chosen (a default is set at submission).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When to publish; None: as soon as it is approved.
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # One photo (display copy, no EXIF) or document, as a media-store key.
    attachment_key: Mapped[str | None] = mapped_column(String(128))
    attachment_name: Mapped[str | None] = mapped_column(String(FILENAME_MAX))
    attachment_is_photo: Mapped[bool] = mapped_column(Boolean, default=False)

    author_official_id: Mapped[int] = mapped_column(ID, ForeignKey("officials.id"), index=True)
    # The author's agency at the time of writing: it answers for the content (003 Art. 13).
    agency_id: Mapped[int] = mapped_column(ID, ForeignKey("agencies.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approver_official_id: Mapped[int | None] = mapped_column(ID, ForeignKey("officials.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The approver's comment on a rejection (or why it was called off).
    decision_comment: Mapped[str | None] = mapped_column(Text)

    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The update or cancellation that ended this alert's time in force.
    ended_by_id: Mapped[int | None] = mapped_column(ID, ForeignKey("alerts.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Delivery: the outbox rows written at publication, and how it went.
    first_outbox_id: Mapped[int | None] = mapped_column(ID)
    last_outbox_id: Mapped[int | None] = mapped_column(ID)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    # Set when no row is left to send; `delivery` then holds the final counts.
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The approver's progress message, edited in place while it is delivered: a chat
    # and message of `progress_platform` ("telegram", ...), meaningless on any other.
    progress_platform: Mapped[str | None] = mapped_column(String(16))
    progress_chat_id: Mapped[str | None] = mapped_column(String(64))
    progress_message_id: Mapped[str | None] = mapped_column(String(64))

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AlertArea(Base):
    """A commune an alert is for (when it is not for the whole province)."""

    __tablename__ = "alert_areas"

    alert_id: Mapped[int] = mapped_column(ID, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ID, ForeignKey("agencies.id"), primary_key=True)


class AlertFollower(Base):
    """A person's alert settings. A row exists from consent on (following is on by default)."""

    __tablename__ = "alert_followers"

    user_id: Mapped[int] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # Every alert anywhere in the province; communes followed are in `alert_follow_areas`.
    whole_province: Mapped[bool] = mapped_column(Boolean, default=True)
    # Also receives exercise and test alerts (officials who opt in).
    tester: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why the person follows nothing any more: "unsubscribed" or "blocked" (403 from the messenger).
    left_reason: Mapped[str | None] = mapped_column(String(16))
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AlertFollowArea(Base):
    """A commune a person follows; they get that commune's alerts and the province-wide ones."""

    __tablename__ = "alert_follow_areas"
    # Who follows a commune, for the recipients of that commune's alerts.
    __table_args__ = (Index("ix_alert_follow_areas_agency_id", "agency_id"),)

    user_id: Mapped[int] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ID, ForeignKey("agencies.id"), primary_key=True)
