"""Officials: their accounts and roles, one-time invitations, agency group chats, and the access log.

An official is a person who talks to the bot (a `users` row, the same table as
citizens) and who redeemed an invitation naming their real full name, their
agency and a role (000 Art. 5.2). Nothing else creates an `officials` row.

Each official belongs to exactly one agency at a time: the one whose work they
do now. Rights are always checked against that current agency, so moving an
official (002 Art. 11) is enough to end their rights in the old agency and its
group chat. Roles that are not about one agency's reports (Provincial Office
supervisor, alert focal unit, platform administrator) are still held by an
official of a real agency (the Provincial Office, the focal unit), which keeps
one simple invariant: every official has an agency.

Secrets (invitation tokens, group binding codes) are stored only as SHA-256
hashes, so a copy of the database does not yield a usable link or code.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow
from storage.models.province import ID, _string_enum

NAME_LENGTH = 128
HASH_LENGTH = 64  # hex SHA-256


class Role(StrEnum):
    # 003 Art. 3.5: screens and receives reports for the agency.
    RECEIVING_OFFICER = "receiving_officer"
    # 003 Art. 3.6: handles the reports assigned to them.
    HANDLING_OFFICER = "handling_officer"
    # 003 Art. 9.1.d: approves results before they go to the citizen.
    AGENCY_HEAD = "agency_head"
    # Invites the agency's officials and binds its group chat.
    AGENCY_ADMIN = "agency_admin"
    # Văn phòng UBND tỉnh: supervises every agency, 003 Art. 9.3, 14.
    SUPERVISOR = "supervisor"
    # Sở KH&CN: approves and publishes alerts, 003 Art. 12-13.
    FOCAL_UNIT = "focal_unit"
    # An agency's official who drafts alerts for the focal unit to approve (003 Art. 13, step 1).
    ALERT_AUTHOR = "alert_author"
    # Administers the platform and every agency's accounts, 003 Art. 5.4.
    PLATFORM_ADMIN = "platform_admin"


class OfficialStatus(StrEnum):
    ACTIVE = "active"
    # Locked at once when the account is lost or compromised (000 Art. 5.3);
    # reinstated when the person has their account back.
    SUSPENDED = "suspended"
    # The person left the service (001 Art. 13.1.đ); their roles are gone.
    REVOKED = "revoked"


class Official(Base):
    __tablename__ = "officials"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    # One official per messenger account: the account that redeemed the invitation.
    user_id: Mapped[int] = mapped_column(ID, ForeignKey("users.id"), unique=True)
    agency_id: Mapped[int] = mapped_column(ID, ForeignKey("agencies.id"), index=True)
    # The real birth name from the invitation (000 Art. 5.2), never the display name.
    full_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    # E.164, from the invitation when the administrator gave one: lets the
    # administrator find the account by phone when it is reported lost.
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    status: Mapped[OfficialStatus] = mapped_column(_string_enum(OfficialStatus), default=OfficialStatus.ACTIVE)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class OfficialRole(Base):
    """A role an official holds in their current agency; one person may hold several."""

    __tablename__ = "official_roles"
    __table_args__ = (UniqueConstraint("official_id", "role", name="uq_official_roles_official_id_role"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    official_id: Mapped[int] = mapped_column(ID, ForeignKey("officials.id"), index=True)
    role: Mapped[Role] = mapped_column(_string_enum(Role))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The invitation that granted it; None for a role carried over by a move.
    invitation_id: Mapped[int | None] = mapped_column(ID, ForeignKey("invitations.id"))


class Invitation(Base):
    """A one-time deep link that makes its opener an official with one role."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), unique=True)
    agency_id: Mapped[int] = mapped_column(ID, ForeignKey("agencies.id"))
    role: Mapped[Role] = mapped_column(_string_enum(Role))
    full_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # None: created on the command line by the server's operator.
    created_by_official_id: Mapped[int | None] = mapped_column(ID, ForeignKey("officials.id"), index=True)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    redeemed_by_user_id: Mapped[int | None] = mapped_column(ID, ForeignKey("users.id"))
    official_id: Mapped[int | None] = mapped_column(ID, ForeignKey("officials.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BindCode(Base):
    """A short one-time code that binds a group chat to an agency."""

    __tablename__ = "group_bind_codes"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), unique=True)
    agency_id: Mapped[int] = mapped_column(ID, ForeignKey("agencies.id"))
    created_by_official_id: Mapped[int] = mapped_column(ID, ForeignKey("officials.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The group chat it bound, as `used_platform` ("telegram", ...) names it.
    used_platform: Mapped[str | None] = mapped_column(String(16))
    used_chat_id: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class GroupBinding(Base):
    """The agency's group chat. One group per agency, one agency per group.

    A row exists only while the binding holds; binding, replacing and ending
    are kept in `access_audit`.
    """

    __tablename__ = "group_bindings"
    __table_args__ = (UniqueConstraint("platform", "chat_id", name="uq_group_bindings_platform_chat_id"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    agency_id: Mapped[int] = mapped_column(ID, ForeignKey("agencies.id"), unique=True)
    title: Mapped[str] = mapped_column(String(256), default="")
    bound_by_official_id: Mapped[int] = mapped_column(ID, ForeignKey("officials.id"))
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AccessAudit(Base):
    """Who did or tried what with officials' access, when, and how it ended.

    Rows are only ever inserted: the log is the evidence for the yearly review
    of risky access (001 Art. 13.1.e) and for lost-account reports (000 Art. 5.3).
    """

    __tablename__ = "access_audit"
    __table_args__ = (Index("ix_access_audit_at", "at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    # "ok", or why it was refused.
    outcome: Mapped[str] = mapped_column(String(32))
    # Who: ("telegram", "<user id>") in the bot, ("cli", "<OS user>") on the command line.
    actor_platform: Mapped[str] = mapped_column(String(16))
    actor_external_id: Mapped[str | None] = mapped_column(String(64))
    actor_user_id: Mapped[int | None] = mapped_column(ID, ForeignKey("users.id"))
    actor_official_id: Mapped[int | None] = mapped_column(ID, ForeignKey("officials.id"))
    # What it was about.
    subject_official_id: Mapped[int | None] = mapped_column(ID, ForeignKey("officials.id"), index=True)
    agency_id: Mapped[int | None] = mapped_column(ID, ForeignKey("agencies.id"))
    invitation_id: Mapped[int | None] = mapped_column(ID, ForeignKey("invitations.id"))
    # The chat the actor acted in (or the group the action was about), on `actor_platform`:
    # only a messenger's account acts in a chat, the command line never names one.
    chat_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@event.listens_for(AccessAudit, "before_update")
@event.listens_for(AccessAudit, "before_delete")
def _audit_is_append_only(_mapper, _connection, target: AccessAudit) -> None:
    raise RuntimeError(f"access audit row {target.id} is part of an append-only log")
