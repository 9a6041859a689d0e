"""People who talk to the bot: citizens today, officials share the table later."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow

# The platforms people reach the bot on, as `User.platform`, `OutboxMessage.platform`
# and the like spell them: the one place these names are written.
TELEGRAM = "telegram"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_users_platform_external_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # Platform-neutral identity: ("telegram", "123456789"); Zalo would add its own rows.
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    # Where to write to this person privately (for Telegram the private chat id).
    chat_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(256), default="")
    language: Mapped[str] = mapped_column(String(8))
    # Set once the person picks a language with /language; until then the
    # messenger's language is followed as it changes.
    language_chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    full_name: Mapped[str | None] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(20))
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def is_registered(self) -> bool:
        return self.consent_at is not None and bool(self.full_name) and bool(self.phone)
