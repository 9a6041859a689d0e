"""Deadline reminders, late stages, the scheduler's lease and the administrator's calendar days.

A reminder row is written in the same transaction as the outbox rows that
carry it, and is unique per report, stage clock and step: whatever runs the
tick (a restart, a second process), a step is recorded, and so sent, once.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow
from storage.models.province import ID, _string_enum


class Reminder(Base):
    """One step of a stage clock that was acted on: a share of the time, the deadline, overdue, a daily repeat.

    `stage_seq` 0 is not a clock but the report itself: the Provincial Office's
    alert about repeated dissatisfaction (003 Art. 9.3), step = the threshold.
    """

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("report_id", "stage_seq", "step", name="uq_reminders_report_id_stage_seq_step"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    report_id: Mapped[int] = mapped_column(ID, ForeignKey("reports.id"))
    stage_seq: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    # share | deadline | overdue | daily | dissatisfied
    kind: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str | None] = mapped_column(String(16))
    agency_id: Mapped[int] = mapped_column(ID, ForeignKey("agencies.id"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the step fell due, and when the tick acted on it.
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # How many outbox rows carried it (0: nobody could be reached).
    messages: Mapped[int] = mapped_column(Integer, default=0)


class LateStage(Base):
    """A stage clock whose deadline passed before the stage ended: the monthly list (003 Art. 9.3)."""

    __tablename__ = "late_stages"
    __table_args__ = (
        UniqueConstraint("report_id", "stage_seq", name="uq_late_stages_report_id_stage_seq"),
        Index("ix_late_stages_due_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    report_id: Mapped[int] = mapped_column(ID, ForeignKey("reports.id"))
    stage_seq: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))
    agency_id: Mapped[int] = mapped_column(ID, ForeignKey("agencies.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the late stage ended; None while it is still open.
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SchedulerLease(Base):
    """Who runs the timed work: the holder renews before `expires_at`, anyone may take it after.

    Taken and renewed by a conditional UPDATE (scheduler/lease.py), which both
    backends apply atomically, so two processes never both hold it.
    """

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(96))
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScheduledRun(Base):
    """A periodic job done for a period ("digest", "2026-11-25"): written with its messages, so never twice."""

    __tablename__ = "scheduled_runs"

    job: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime())
    messages: Mapped[int] = mapped_column(Integer, default=0)


class DayKind(StrEnum):
    # A weekday the government or the province gave off (a swapped day, a local anniversary).
    DAY_OFF = "day_off"
    # A weekend day worked instead (a make-up Saturday).
    WORKING_DAY = "working_day"


class CalendarDay(Base):
    """A day the platform administrator changed in the working calendar (`congdan admin calendar`).

    Added on top of the province file's `calendar` and of the `holidays`
    package, and kept across re-imports of the file; it wins over both.
    """

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[DayKind] = mapped_column(_string_enum(DayKind))
    reason: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
