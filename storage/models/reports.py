"""Reports, their photos and their append-only timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, UTCDateTime, utcnow

ID = BigInteger().with_variant(Integer, "sqlite")


class Counter(Base):
    """Named sequences, e.g. the yearly tracking-code number."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_citizen_id_id", "citizen_id", "id"),
        Index("ix_reports_agency_id_state", "agency_id", "state"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    citizen_id: Mapped[int] = mapped_column(ID, ForeignKey("users.id"))
    topic_id: Mapped[int] = mapped_column(ID, ForeignKey("topics.id"))
    description: Mapped[str] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(Text)
    place_title: Mapped[str | None] = mapped_column(String(256))
    commune_id: Mapped[int | None] = mapped_column(ID, ForeignKey("agencies.id"))
    agency_id: Mapped[int] = mapped_column(ID, ForeignKey("agencies.id"))
    route_kind: Mapped[str] = mapped_column(String(16))
    identity_public: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(24), index=True)
    # Bumped by every transition; a transition applies only to the version it
    # was decided on, so two concurrent presses cannot both take effect.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The handling officer it is assigned to (003 Art. 3.6), while it is being handled.
    assignee_id: Mapped[int | None] = mapped_column(ID, ForeignKey("officials.id"), index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rating: Mapped[str | None] = mapped_column(String(16))
    # 003 Art. 9.3: repeated dissatisfaction is escalated to the Provincial Office.
    unsatisfied_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    receive_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # The deadline of the stage the report is in now (receive, dispatch,
    # handle, answer a clarification), in working time; None when nothing is due.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Decided by the receiving officer or the head (a citizen's "emergency" is
    # only a request): handling is due in 4 working hours instead of 7 days.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The citizen said it is an emergency: shown to the screeners, decides nothing.
    emergency_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The stage clock behind `due_at` (bot/domain/reminders.py): which stage, the how
    # manyth clock of the report it is, and when it started. A pause for the
    # citizen's answer keeps the clock; a new stage or a new deadline starts one.
    stage: Mapped[str | None] = mapped_column(String(16))
    stage_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stage_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The next reminder of the clock (index into its schedule) and when it is
    # due: the scheduler's tick reads only rows whose time has come, by index.
    reminder_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    photos: Mapped[list[ReportPhoto]] = relationship(
        back_populates="report",
        order_by="ReportPhoto.position",
        lazy="raise",
        foreign_keys="ReportPhoto.report_id",
    )


class ReportPhoto(Base):
    __tablename__ = "report_photos"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    report_id: Mapped[int] = mapped_column(ID, ForeignKey("reports.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    # The content address of the bytes the citizen sent: the key for spotting
    # a photo reused from another citizen's report (003 Art. 8.2).
    original_sha256: Mapped[str] = mapped_column(String(64), index=True)
    original_key: Mapped[str] = mapped_column(String(160))
    display_key: Mapped[str] = mapped_column(String(160))
    # The platform's own id of the file, kept to send it again without uploading it: a
    # reference only on `file_platform` ("telegram", ...), never valid on another.
    file_platform: Mapped[str | None] = mapped_column(String(16))
    file_id: Mapped[str | None] = mapped_column(String(256))
    source_format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    # Private evidence from the original's EXIF; never shown to other citizens.
    captured_at: Mapped[str | None] = mapped_column(String(40))
    gps_latitude: Mapped[float | None] = mapped_column(Float)
    gps_longitude: Mapped[float | None] = mapped_column(Float)
    camera: Mapped[str | None] = mapped_column(String(128))
    reused_from_report_id: Mapped[int | None] = mapped_column(ID, ForeignKey("reports.id"))

    report: Mapped[Report] = relationship(back_populates="photos", foreign_keys=[report_id])


class CoordinationRequest(Base):
    """The lead agency asks another agency for its part (003 Art. 9.1.c); the answer lands on the report."""

    __tablename__ = "coordination_requests"
    __table_args__ = (Index("ix_coordination_requests_to_agency_id_answered_at", "to_agency_id", "answered_at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    report_id: Mapped[int] = mapped_column(ID, ForeignKey("reports.id"), index=True)
    from_agency_id: Mapped[int] = mapped_column(ID, ForeignKey("agencies.id"))
    to_agency_id: Mapped[int] = mapped_column(ID, ForeignKey("agencies.id"))
    asked_by_official_id: Mapped[int] = mapped_column(ID, ForeignKey("officials.id"))
    question: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_official_id: Mapped[int | None] = mapped_column(ID, ForeignKey("officials.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReportEvent(Base):
    """One step of a report's history. Rows are only ever inserted."""

    __tablename__ = "report_events"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    report_id: Mapped[int] = mapped_column(ID, ForeignKey("reports.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(ID, ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    # Part of the public processing record (003 Art. 11.2) or internal only.
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@event.listens_for(ReportEvent, "before_update")
@event.listens_for(ReportEvent, "before_delete")
def _timeline_is_append_only(_mapper, _connection, target: ReportEvent) -> None:
    raise RuntimeError(f"report event {target.id} is part of an append-only timeline")
