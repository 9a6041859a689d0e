"""What the bot waits for someone to type in their private chat, kept in the database.

A button often starts something that needs words (a reason to reject, the
answer the agency asked for, a result with its evidence). What was asked, and
what has been given so far, survives a restart and a second worker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow

ID = BigInteger().with_variant(Integer, "sqlite")


class PendingInput(Base):
    __tablename__ = "pending_inputs"

    # One question open per person: a new one replaces the old.
    user_id: Mapped[int] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    report_id: Mapped[int | None] = mapped_column(ID, ForeignKey("reports.id"))
    # The report's version when it was asked: an answer to a report that has
    # moved on in the meantime is refused, not applied to the new state.
    version: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
