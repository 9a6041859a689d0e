"""Officials: who they are, what they may do, and how they get and lose access.

Platform-neutral services (no messenger library here); handlers/officials.py
and bot/cli/admin.py call them and render the results.

The rules, and where they come from:

* Onboarding is by one-time invitation only (003 Art. 5.4: accounts are
  created by the administrator). An invitation names the agency, one role and
  the person's real full name (000 Art. 5.2); whoever opens its deep link
  becomes that official. Only a hash of the link's secret is stored.
* A platform administrator may invite anyone to any agency; an agency
  administrator only to their own agency and never as platform administrator;
  the server's operator (command line) may do anything.
* An account can be suspended at once when lost or compromised (000 Art. 5.3)
  and reinstated later; it is revoked when the person leaves (001 Art. 13.1.đ),
  which ends their roles for good (a returning person gets a new invitation).
* An official belongs to one agency at a time. `authorise` checks agency-bound
  roles against that current agency, so a move (002 Art. 11) ends the rights
  in the old agency and its group chat without anything else to clean up.
* Roles that are about the whole province (Provincial Office supervisor,
  alert focal unit, platform administrator) pass for any agency, and may only
  be held in the agency that carries that function.
* Every grant, change and refused attempt is written to `access_audit`.
"""

from __future__ import annotations

import enum
import getpass
import hashlib
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import notices
from bot.domain.casework import hand_over
from bot.domain.citizens import NAME_MAX, NAME_MIN, NameProblem, parse_vietnamese_phone
from bot.domain.desk import Desk
from bot.domain.roles import roles_of
from bot.i18n import N_, nfc
from storage.models import (
    AccessAudit,
    Agency,
    BindCode,
    GroupBinding,
    Invitation,
    Official,
    OfficialRole,
    User,
)
from storage.models.officials import OfficialStatus, Role
from storage.models.province import AgencyKind
from storage.models.users import TELEGRAM

log = logging.getLogger(__name__)

PLATFORM = TELEGRAM
CLI_PLATFORM = "cli"
OK = "ok"

# Telegram's /start parameter: at most 64 characters of [A-Za-z0-9_-].
# 32 random bytes in URL-safe base64 are 43 characters; with the prefix, 47.
INVITATION_PREFIX = "inv_"
_INVITATION_TOKEN_BYTES = 32
_INVITATION_PAYLOAD = re.compile(r"^inv_[A-Za-z0-9_-]{43}$")
DEFAULT_INVITATION_HOURS = 72
MAX_INVITATION_HOURS = 24 * 30

# Short enough to type in a group; no 0/O or 1/I to confuse. 32^8 = 2^40
# codes, valid one hour, and only an agency or platform administrator's
# attempts are even looked up, so guessing is hopeless.
BIND_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
BIND_CODE_LENGTH = 8
BIND_CODE_LIFETIME = timedelta(hours=1)

ANY_ROLE: frozenset[Role] = frozenset(Role)
INVITING_ROLES: frozenset[Role] = frozenset({Role.AGENCY_ADMIN, Role.PLATFORM_ADMIN})


class Reach(enum.StrEnum):
    AGENCY = "agency"  # acts for the official's own agency only
    PROVINCE = "province"  # acts across every agency of the province


ROLE_REACH: dict[Role, Reach] = {
    Role.RECEIVING_OFFICER: Reach.AGENCY,
    Role.HANDLING_OFFICER: Reach.AGENCY,
    Role.AGENCY_HEAD: Reach.AGENCY,
    Role.AGENCY_ADMIN: Reach.AGENCY,
    # 003 Art. 9.3, 14: the Provincial Office supervises all agencies.
    Role.SUPERVISOR: Reach.PROVINCE,
    # 003 Art. 12-13: alerts from any agency go to the focal unit.
    Role.FOCAL_UNIT: Reach.PROVINCE,
    # 003 Art. 13: an agency drafts the alerts it answers for; the focal unit publishes them.
    Role.ALERT_AUTHOR: Reach.AGENCY,
    # 003 Art. 5.4: the platform's administrator manages every agency's accounts.
    Role.PLATFORM_ADMIN: Reach.PROVINCE,
}

# Province-wide roles belong to the agency that carries the function; the
# agency-bound roles may be held in any agency (the Provincial Office and the
# focal unit also receive reports and have heads and administrators).
ROLE_AGENCY_KINDS: dict[Role, frozenset[AgencyKind]] = {
    Role.SUPERVISOR: frozenset({AgencyKind.PROVINCIAL_OFFICE}),
    Role.FOCAL_UNIT: frozenset({AgencyKind.FOCAL_UNIT}),
    # 003 Art. 5.4: the focal unit administers the platform and its accounts.
    Role.PLATFORM_ADMIN: frozenset({AgencyKind.FOCAL_UNIT}),
}

ROLE_LABELS: dict[Role, str] = {
    Role.RECEIVING_OFFICER: N_("receiving officer"),
    Role.HANDLING_OFFICER: N_("handling officer"),
    Role.AGENCY_HEAD: N_("agency head"),
    Role.AGENCY_ADMIN: N_("agency administrator"),
    Role.SUPERVISOR: N_("Provincial Office supervisor"),
    Role.FOCAL_UNIT: N_("alert focal unit officer"),
    Role.ALERT_AUTHOR: N_("alert author"),
    Role.PLATFORM_ADMIN: N_("platform administrator"),
}


def role_allowed_in(role: Role, kind: AgencyKind) -> bool:
    kinds = ROLE_AGENCY_KINDS.get(role)
    return kinds is None or kind in kinds


# --- the access log -------------------------------------------------------------------


class AuditAction(enum.StrEnum):
    INVITE = "invite"
    REVOKE_INVITATION = "revoke_invitation"
    REDEEM = "redeem"
    SUSPEND = "suspend"
    REVOKE = "revoke"
    REINSTATE = "reinstate"
    MOVE = "move"
    BIND_CODE = "bind_code"
    BIND_GROUP = "bind_group"
    UNBIND_GROUP = "unbind_group"
    GROUP_ADDED = "group_added"
    # An official's command or button refused by `authorise`.
    REFUSED = "refused"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a messenger account, or the operator at the server's command line."""

    platform: str
    external_id: str | None
    user_id: int | None = None
    official_id: int | None = None

    @classmethod
    def command_line(cls) -> Actor:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = None
        return cls(CLI_PLATFORM, who)

    @classmethod
    def of_user(cls, user: User, official: Official | None = None) -> Actor:
        return cls(user.platform, user.external_id, user.id, official.id if official else None)

    @classmethod
    def of_account(cls, external_id: int | str, official: Official | None = None, platform: str = PLATFORM) -> Actor:
        if official is None:
            return cls(platform, str(external_id))
        return cls(platform, str(external_id), official.user_id, official.id)


def audit(
    session: AsyncSession,
    action: AuditAction,
    outcome: str,
    actor: Actor,
    *,
    at: datetime,
    subject_official_id: int | None = None,
    agency_id: int | None = None,
    invitation_id: int | None = None,
    chat_id: str | None = None,
    **details: Any,
) -> AccessAudit:
    row = AccessAudit(
        at=at,
        action=action,
        outcome=outcome,
        actor_platform=actor.platform,
        actor_external_id=actor.external_id,
        actor_user_id=actor.user_id,
        actor_official_id=actor.official_id,
        subject_official_id=subject_official_id,
        agency_id=agency_id,
        invitation_id=invitation_id,
        chat_id=chat_id,
        details=details,
    )
    session.add(row)
    if outcome != OK:
        log.warning("%s refused for %s:%s: %s %s", action, actor.platform, actor.external_id, outcome, details)
    return row


# --- who an official is, and what they may do ----------------------------------------------


class RefusalReason(enum.StrEnum):
    NOT_AN_OFFICIAL = "not_an_official"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    OTHER_AGENCY = "other_agency"
    MISSING_ROLE = "missing_role"


@dataclass(frozen=True)
class Refusal:
    reason: RefusalReason
    official: Official | None = None


async def official_of_account(
    session: AsyncSession, external_id: int | str, platform: str = PLATFORM
) -> Official | None:
    return await session.scalar(
        select(Official)
        .join(User, Official.user_id == User.id)
        .where(User.platform == platform, User.external_id == str(external_id))
    )


def _refusal_for_status(official: Official) -> Refusal | None:
    if official.status == OfficialStatus.SUSPENDED:
        return Refusal(RefusalReason.SUSPENDED, official)
    if official.status == OfficialStatus.REVOKED:
        return Refusal(RefusalReason.REVOKED, official)
    return None


async def authorise(
    session: AsyncSession,
    telegram_user_id: int | str,
    agency_id: int | None,
    roles: Iterable[Role],
    *,
    platform: str = PLATFORM,
) -> Official | Refusal:
    """The official behind this account if they may act for `agency_id` in one of `roles`.

    Every button and command of officials calls this with the person who
    pressed or sent it: being in an agency's group chat gives no rights.
    `agency_id` None means the action is not about one agency (e.g. publishing
    an alert); otherwise an agency-bound role counts only in the official's
    current agency, and a province-wide role counts for any agency.
    """
    wanted = frozenset(roles)
    if not wanted:
        raise ValueError("authorise needs at least one role; use ANY_ROLE for any official")
    official = await official_of_account(session, telegram_user_id, platform)
    if official is None:
        return Refusal(RefusalReason.NOT_AN_OFFICIAL)
    blocked = _refusal_for_status(official)
    if blocked is not None:
        return blocked
    usable = wanted & await roles_of(session, official.id)
    if not usable:
        return Refusal(RefusalReason.MISSING_ROLE, official)
    if agency_id is None or official.agency_id == agency_id:
        return official
    if any(ROLE_REACH[role] is Reach.PROVINCE for role in usable):
        return official
    return Refusal(RefusalReason.OTHER_AGENCY, official)


def record_refusal(
    session: AsyncSession,
    refusal: Refusal,
    actor: Actor,
    *,
    at: datetime,
    what: str,
    agency_id: int | None = None,
    chat_id: str | None = None,
) -> AccessAudit:
    """Log a refused command or button (`what` names it, e.g. "/invite")."""
    return audit(
        session,
        AuditAction.REFUSED,
        refusal.reason,
        actor,
        at=at,
        subject_official_id=refusal.official.id if refusal.official else None,
        agency_id=agency_id,
        chat_id=chat_id,
        what=what,
    )


async def agency_by_code(session: AsyncSession, code: str) -> Agency | None:
    return await session.scalar(select(Agency).where(Agency.code == code.strip().upper()))


async def agencies_by_id(session: AsyncSession, ids: Iterable[int]) -> list[Agency]:
    wanted = set(ids)
    if not wanted:
        return []
    return list((await session.scalars(select(Agency).where(Agency.id.in_(wanted)))).all())


async def agency_by_id(session: AsyncSession, agency_id: int) -> Agency | None:
    return await session.get(Agency, agency_id)


async def official_by_id(session: AsyncSession, official_id: int) -> Official | None:
    return await session.get(Official, official_id)


async def official_name(session: AsyncSession, official_id: int | None) -> str | None:
    """An official's full name; None for no official, or one not found."""
    official = await session.get(Official, official_id) if official_id is not None else None
    return official.full_name if official is not None else None


async def account_of(session: AsyncSession, official_id: int | None) -> User | None:
    """The account an official acts from; None for no official, or one not found."""
    official = await session.get(Official, official_id) if official_id is not None else None
    return await session.get(User, official.user_id) if official is not None else None


async def full_name_of_user(session: AsyncSession, user_id: int) -> str | None:
    """The full name of the official behind this account; None if it is no official's."""
    return await session.scalar(select(Official.full_name).where(Official.user_id == user_id))


async def names_by_user(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, str]:
    """The officials' full names by their accounts' ids; accounts of no official are left out."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    return dict(
        (await session.execute(select(Official.user_id, Official.full_name).where(Official.user_id.in_(wanted)))).all()
    )


async def names_by_id(session: AsyncSession, official_ids: Iterable[int]) -> dict[int, str]:
    """The officials' full names by their ids; unknown ids are left out."""
    wanted = set(official_ids)
    if not wanted:
        return {}
    return dict((await session.execute(select(Official.id, Official.full_name).where(Official.id.in_(wanted)))).all())


async def find_official(session: AsyncSession, ref: str) -> Official | None:
    """An official by id ("12") or by the phone number on their invitation ("0912 345 678")."""
    ref = ref.strip()
    if ref.isdigit() and len(ref) < 9:
        return await session.get(Official, int(ref))
    phone = parse_vietnamese_phone(ref)
    if phone is None:
        return None
    return await session.scalar(select(Official).where(Official.phone == phone).order_by(Official.id.desc()).limit(1))


@dataclass(frozen=True)
class OfficialSummary:
    official: Official
    agency: Agency
    roles: tuple[Role, ...]


async def list_officials(
    session: AsyncSession, *, agency_id: int | None = None, statuses: Iterable[OfficialStatus] | None = None
) -> list[OfficialSummary]:
    query = select(Official, Agency).join(Agency, Official.agency_id == Agency.id)
    if agency_id is not None:
        query = query.where(Official.agency_id == agency_id)
    if statuses is not None:
        query = query.where(Official.status.in_(list(statuses)))
    rows = (await session.execute(query.order_by(Agency.code, Official.full_name, Official.id))).all()
    ids = [official.id for official, _ in rows]
    held: dict[int, list[Role]] = {i: [] for i in ids}
    if ids:
        for official_id, role in await session.execute(
            select(OfficialRole.official_id, OfficialRole.role).where(OfficialRole.official_id.in_(ids))
        ):
            held[official_id].append(Role(role))
    order = list(Role)
    return [
        OfficialSummary(official, agency, tuple(sorted(held[official.id], key=order.index)))
        for official, agency in rows
    ]


# --- names -----------------------------------------------------------------------------


def clean_full_name(text: str) -> str | NameProblem:
    """A real full name as officials must use (000 Art. 5.2): letters, at least two words."""
    name = " ".join(nfc(text).split())
    if len(name) < NAME_MIN:
        return NameProblem.TOO_SHORT
    if len(name) > NAME_MAX:
        return NameProblem.TOO_LONG
    if len(name.split()) < 2 or not all(ch.isalpha() or ch in " -'." for ch in name):
        return NameProblem.NOT_A_NAME
    return name


def _same_name(a: str, b: str) -> bool:
    return " ".join(nfc(a).casefold().split()) == " ".join(nfc(b).casefold().split())


# --- invitations -------------------------------------------------------------------------


def hash_secret(secret: str) -> str:
    # Tokens and codes are random, so a plain SHA-256 is enough: there is no
    # dictionary to try, and the database never holds the secret itself.
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_invitation(payload: str) -> bool:
    """Whether a /start parameter is meant as an invitation (well formed or not)."""
    return payload.startswith(INVITATION_PREFIX)


def deep_link(bot_username: str, payload: str) -> str:
    return f"https://t.me/{bot_username}?start={payload}"


class InviteProblem(enum.StrEnum):
    AGENCY_INACTIVE = "agency_inactive"
    ROLE_NOT_FOR_AGENCY = "role_not_for_agency"
    NOT_ALLOWED = "not_allowed"
    BAD_NAME = "bad_name"
    BAD_PHONE = "bad_phone"
    BAD_HOURS = "bad_hours"


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    # The secret part of the link; shown once, never stored.
    payload: str

    def link(self, bot_username: str) -> str:
        return deep_link(bot_username, self.payload)


def grantable_roles(inviter: Official | None, inviter_roles: frozenset[Role], agency: Agency) -> list[Role]:
    """Roles `inviter` may give in `agency`; None is the server's operator."""
    possible = [role for role in Role if role_allowed_in(role, agency.kind)]
    if inviter is None or Role.PLATFORM_ADMIN in inviter_roles:
        return possible
    if Role.AGENCY_ADMIN in inviter_roles and inviter.agency_id == agency.id:
        return [role for role in possible if role is not Role.PLATFORM_ADMIN]
    return []


async def create_invitation(
    session: AsyncSession,
    *,
    agency: Agency,
    role: Role,
    full_name: str,
    at: datetime,
    actor: Actor,
    inviter: Official | None,
    hours: int = DEFAULT_INVITATION_HOURS,
    phone: str | None = None,
) -> IssuedInvitation | InviteProblem:
    """A new one-time invitation; `inviter` None means the command line."""
    problem: InviteProblem | None = None
    name = clean_full_name(full_name)
    normalised_phone = parse_vietnamese_phone(phone) if phone else None
    if not agency.active:
        problem = InviteProblem.AGENCY_INACTIVE
    elif not role_allowed_in(role, agency.kind):
        problem = InviteProblem.ROLE_NOT_FOR_AGENCY
    elif inviter is not None and (
        inviter.status != OfficialStatus.ACTIVE
        or role not in grantable_roles(inviter, await roles_of(session, inviter.id), agency)
    ):
        problem = InviteProblem.NOT_ALLOWED
    elif isinstance(name, NameProblem):
        problem = InviteProblem.BAD_NAME
    elif phone and normalised_phone is None:
        problem = InviteProblem.BAD_PHONE
    elif not 1 <= hours <= MAX_INVITATION_HOURS:
        problem = InviteProblem.BAD_HOURS
    if problem is not None:
        audit(session, AuditAction.INVITE, problem, actor, at=at, agency_id=agency.id, role=role)
        return problem
    assert isinstance(name, str)
    payload = INVITATION_PREFIX + secrets.token_urlsafe(_INVITATION_TOKEN_BYTES)
    invitation = Invitation(
        token_hash=hash_secret(payload),
        agency_id=agency.id,
        role=role,
        full_name=name,
        phone=normalised_phone,
        created_at=at,
        expires_at=at + timedelta(hours=hours),
        created_by_official_id=inviter.id if inviter else None,
    )
    session.add(invitation)
    await session.flush()
    audit(
        session,
        AuditAction.INVITE,
        OK,
        actor,
        at=at,
        agency_id=agency.id,
        invitation_id=invitation.id,
        role=role,
        full_name=name,
        hours=hours,
    )
    return IssuedInvitation(invitation, payload)


class InvitationRevokeProblem(enum.StrEnum):
    NOT_FOUND = "not_found"
    ALREADY_REDEEMED = "already_redeemed"
    ALREADY_REVOKED = "already_revoked"


async def revoke_invitation(
    session: AsyncSession, invitation_id: int, *, at: datetime, actor: Actor
) -> Invitation | InvitationRevokeProblem:
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None:
        return InvitationRevokeProblem.NOT_FOUND
    if invitation.redeemed_at is not None:
        return InvitationRevokeProblem.ALREADY_REDEEMED
    if invitation.revoked_at is not None:
        return InvitationRevokeProblem.ALREADY_REVOKED
    invitation.revoked_at = at
    audit(
        session,
        AuditAction.REVOKE_INVITATION,
        OK,
        actor,
        at=at,
        agency_id=invitation.agency_id,
        invitation_id=invitation.id,
    )
    return invitation


async def pending_invitations(session: AsyncSession, *, at: datetime, agency_id: int | None = None) -> list[Invitation]:
    query = select(Invitation).where(
        Invitation.redeemed_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > at
    )
    if agency_id is not None:
        query = query.where(Invitation.agency_id == agency_id)
    return list((await session.scalars(query.order_by(Invitation.id))).all())


class RedeemProblem(enum.StrEnum):
    # Not a link we issued: mistyped, truncated or made up.
    FORGED = "forged"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    # A locked account (000 Art. 5.3) cannot be given roles by opening a link.
    ACCOUNT_SUSPENDED = "account_suspended"
    # Already an official of another agency: that is a move, not an invitation.
    OTHER_AGENCY = "other_agency"
    # Already an official under another name: the link reached the wrong person.
    NAME_MISMATCH = "name_mismatch"


@dataclass(frozen=True)
class Redeemed:
    official: Official
    agency: Agency
    role: Role
    # The account already held this role (the invitation is used up anyway).
    already_held: bool = False
    # The account belonged to a revoked official who is back in service.
    reactivated: bool = False


def _check_existing(official: Official, invitation: Invitation) -> RedeemProblem | None:
    if official.status == OfficialStatus.SUSPENDED:
        return RedeemProblem.ACCOUNT_SUSPENDED
    if official.status == OfficialStatus.REVOKED:
        return None
    if official.agency_id != invitation.agency_id:
        return RedeemProblem.OTHER_AGENCY
    if not _same_name(official.full_name, invitation.full_name):
        return RedeemProblem.NAME_MISMATCH
    return None


async def redeem_invitation(session: AsyncSession, payload: str, user: User, at: datetime) -> Redeemed | RedeemProblem:
    """Bind the account that opened an invitation link to the official it names."""
    actor = Actor.of_user(user)
    invitation = None
    if _INVITATION_PAYLOAD.match(payload):
        invitation = await session.scalar(select(Invitation).where(Invitation.token_hash == hash_secret(payload)))
    if invitation is None:
        # The payload itself is not logged: it might be a real link with a typo.
        audit(session, AuditAction.REDEEM, RedeemProblem.FORGED, actor, at=at, length=len(payload))
        return RedeemProblem.FORGED
    existing = await session.scalar(select(Official).where(Official.user_id == user.id))
    problem: RedeemProblem | None = None
    if invitation.revoked_at is not None:
        problem = RedeemProblem.REVOKED
    elif invitation.redeemed_at is not None:
        problem = RedeemProblem.USED
    elif at >= invitation.expires_at:
        problem = RedeemProblem.EXPIRED
    elif existing is not None:
        problem = _check_existing(existing, invitation)
    if problem is None:
        # Claim the invitation guarded in the database: of two accounts opening
        # the same link at once, exactly one gets it.
        claimed = await session.execute(
            update(Invitation)
            .where(Invitation.id == invitation.id, Invitation.redeemed_at.is_(None), Invitation.revoked_at.is_(None))
            .values(redeemed_at=at, redeemed_by_user_id=user.id)
        )
        if claimed.rowcount != 1:
            problem = RedeemProblem.USED
    if problem is not None:
        audit(
            session,
            AuditAction.REDEEM,
            problem,
            actor,
            at=at,
            agency_id=invitation.agency_id,
            invitation_id=invitation.id,
            subject_official_id=existing.id if existing else None,
        )
        return problem

    role = Role(invitation.role)
    reactivated = existing is not None and existing.status == OfficialStatus.REVOKED
    if existing is None:
        official = Official(
            user_id=user.id,
            agency_id=invitation.agency_id,
            full_name=invitation.full_name,
            phone=invitation.phone,
            status=OfficialStatus.ACTIVE,
            status_changed_at=at,
            created_at=at,
        )
        session.add(official)
        await session.flush()
    else:
        official = existing
        if reactivated:
            # Back in service: the new invitation says who and where they are now.
            official.status = OfficialStatus.ACTIVE
            official.status_reason = None
            official.status_changed_at = at
            official.agency_id = invitation.agency_id
            official.full_name = invitation.full_name
        if invitation.phone:
            official.phone = invitation.phone
    already_held = role in await roles_of(session, official.id)
    if not already_held:
        session.add(OfficialRole(official_id=official.id, role=role, granted_at=at, invitation_id=invitation.id))
    invitation.official_id = official.id
    await session.flush()
    audit(
        session,
        AuditAction.REDEEM,
        OK,
        Actor.of_user(user, official),
        at=at,
        agency_id=invitation.agency_id,
        invitation_id=invitation.id,
        subject_official_id=official.id,
        role=role,
        already_held=already_held,
        reactivated=reactivated,
    )
    agency = await session.get(Agency, invitation.agency_id)
    assert agency is not None
    return Redeemed(official, agency, role, already_held, reactivated)


# --- suspension, revocation, reinstatement ------------------------------------------------------


class HandoverReason(enum.StrEnum):
    """Why an official's open work was handed over; kept on the timeline events."""

    SUSPENDED = "suspended"
    REVOKED = "revoked"
    MOVED = "moved"


HANDOVER_REASON_LABELS: dict[HandoverReason, str] = {
    HandoverReason.SUSPENDED: N_("the official's account was suspended"),
    HandoverReason.REVOKED: N_("the official left the service"),
    HandoverReason.MOVED: N_("the official moved to another agency"),
}


class StatusProblem(enum.StrEnum):
    ALREADY = "already"
    # Revocation is final: a person back in service gets a new invitation.
    REVOKED_IS_FINAL = "revoked_is_final"
    # The colleague named to take over is not an active handling officer of the same agency.
    BAD_HANDOVER = "bad_handover"


@dataclass(frozen=True)
class StatusChanged:
    official: Official
    withdrawn_invitations: int = 0
    withdrawn_codes: int = 0
    ended_roles: tuple[Role, ...] = ()
    # Open assignments handed to a colleague or back to the agency's queue.
    handed_over: int = 0


async def _withdraw_issued(session: AsyncSession, official: Official, at: datetime) -> tuple[int, int]:
    """Withdraw the unused invitations and binding codes this official issued.

    A lost or compromised account may have issued them to the wrong hands
    (000 Art. 5.3); whoever needs one gets a fresh one from another administrator.
    """
    invitations = await session.execute(
        update(Invitation)
        .where(
            Invitation.created_by_official_id == official.id,
            Invitation.redeemed_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > at,
        )
        .values(revoked_at=at)
    )
    codes = await session.execute(
        update(BindCode)
        .where(
            BindCode.created_by_official_id == official.id,
            BindCode.used_at.is_(None),
            BindCode.revoked_at.is_(None),
            BindCode.expires_at > at,
        )
        .values(revoked_at=at)
    )
    return invitations.rowcount or 0, codes.rowcount or 0


def _set_status(official: Official, status: OfficialStatus, at: datetime, reason: str | None) -> None:
    official.status = status
    official.status_changed_at = at
    official.status_reason = nfc(reason)[:500] if reason else None


def _audit_status(
    session: AsyncSession,
    action: AuditAction,
    official: Official,
    actor: Actor,
    at: datetime,
    reason: str | None,
    **details: Any,
) -> None:
    """Log a change of an official's status (suspended, revoked, reinstated)."""
    audit(
        session,
        action,
        OK,
        actor,
        at=at,
        subject_official_id=official.id,
        agency_id=official.agency_id,
        reason=reason,
        **details,
    )


async def suspend(
    session: AsyncSession,
    official: Official,
    *,
    at: datetime,
    actor: Actor,
    desk: Desk,
    reason: str | None = None,
    handover_to: Official | None = None,
) -> StatusChanged | StatusProblem:
    """Lock an account at once, e.g. reported lost or compromised (000 Art. 5.3). Roles are kept.

    Its open work goes to `handover_to` or back to the agency's queue: nobody
    knows when the account will be back, and the citizen's deadline runs on.
    """
    if official.status == OfficialStatus.SUSPENDED:
        return StatusProblem.ALREADY
    if official.status == OfficialStatus.REVOKED:
        return StatusProblem.REVOKED_IS_FINAL
    if await _bad_handover(session, official, handover_to):
        return StatusProblem.BAD_HANDOVER
    _set_status(official, OfficialStatus.SUSPENDED, at, reason)
    invitations, codes = await _withdraw_issued(session, official, at)
    handed = await reassign_open_work(session, desk, official, handover_to, at, HandoverReason.SUSPENDED)
    _audit_status(
        session,
        AuditAction.SUSPEND,
        official,
        actor,
        at,
        reason,
        withdrawn_invitations=invitations,
        withdrawn_codes=codes,
        handed_over=handed,
        handover_to=handover_to.id if handover_to else None,
    )
    return StatusChanged(official, invitations, codes, handed_over=handed)


async def revoke(
    session: AsyncSession,
    official: Official,
    *,
    at: datetime,
    actor: Actor,
    desk: Desk,
    reason: str | None = None,
    handover_to: Official | None = None,
) -> StatusChanged | StatusProblem:
    """The person left the service (001 Art. 13.1.đ): the account loses every role for good."""
    if official.status == OfficialStatus.REVOKED:
        return StatusProblem.ALREADY
    if await _bad_handover(session, official, handover_to):
        return StatusProblem.BAD_HANDOVER
    # Revoked first, so the handover does not message an account that is leaving.
    _set_status(official, OfficialStatus.REVOKED, at, reason)
    handed = await reassign_open_work(session, desk, official, handover_to, at, HandoverReason.REVOKED)
    roles = await roles_of(session, official.id)
    await session.execute(delete(OfficialRole).where(OfficialRole.official_id == official.id))
    invitations, codes = await _withdraw_issued(session, official, at)
    ended = tuple(role for role in Role if role in roles)
    _audit_status(
        session,
        AuditAction.REVOKE,
        official,
        actor,
        at,
        reason,
        ended_roles=list(ended),
        withdrawn_invitations=invitations,
        withdrawn_codes=codes,
        handed_over=handed,
    )
    return StatusChanged(official, invitations, codes, ended, handed_over=handed)


async def reinstate(
    session: AsyncSession, official: Official, *, at: datetime, actor: Actor, reason: str | None = None
) -> StatusChanged | StatusProblem:
    """Lift a suspension, e.g. once the person has their account back."""
    if official.status == OfficialStatus.ACTIVE:
        return StatusProblem.ALREADY
    if official.status == OfficialStatus.REVOKED:
        return StatusProblem.REVOKED_IS_FINAL
    _set_status(official, OfficialStatus.ACTIVE, at, reason)
    _audit_status(session, AuditAction.REINSTATE, official, actor, at, reason)
    return StatusChanged(official)


# --- moving between agencies (002 Art. 11) ------------------------------------------------------


class MoveProblem(enum.StrEnum):
    SAME_AGENCY = "same_agency"
    AGENCY_INACTIVE = "agency_inactive"
    REVOKED = "revoked"
    # The colleague taking over must be an active handling officer of the old agency, not the mover.
    BAD_HANDOVER = "bad_handover"


@dataclass(frozen=True)
class Moved:
    official: Official
    from_agency_id: int
    to_agency: Agency
    # Roles the official keeps in the new agency.
    roles_moved: tuple[Role, ...]
    # Province-wide roles the new agency does not carry (e.g. supervisor
    # leaving the Provincial Office): they end with the move.
    roles_ended: tuple[Role, ...]
    # Open assignments handed to the colleague (see reassign_open_work).
    reassigned: int


async def reassign_open_work(
    session: AsyncSession,
    desk: Desk,
    official: Official,
    handover_to: Official | None,
    at: datetime,
    reason: HandoverReason,
) -> int:
    """Hand an official's open assignments to a colleague, or back to the agency's queue (002 Art. 11).

    The report workflow does it (one timeline event per report); returns how many.
    """
    return await hand_over(session, desk, official.id, handover_to.id if handover_to else None, at, reason)


async def _bad_handover(session: AsyncSession, official: Official, handover_to: Official | None) -> bool:
    """The colleague taking over must be another active handling officer of the same agency.

    Anyone else could not be given the reports (bot/domain/workflow.py assigns only
    handling officers), so the work would stay with the official who is leaving.
    """
    if handover_to is None:
        return False
    if (
        handover_to.id == official.id
        or handover_to.agency_id != official.agency_id
        or handover_to.status != OfficialStatus.ACTIVE
    ):
        return True
    return Role.HANDLING_OFFICER not in await roles_of(session, handover_to.id)


async def move_official(
    session: AsyncSession,
    official: Official,
    to_agency: Agency,
    *,
    at: datetime,
    actor: Actor,
    desk: Desk,
    handover_to: Official | None = None,
) -> Moved | MoveProblem:
    """Move an official to another agency with their roles; the old agency's rights end with it."""
    problem: MoveProblem | None = None
    if official.status == OfficialStatus.REVOKED:
        problem = MoveProblem.REVOKED
    elif official.agency_id == to_agency.id:
        problem = MoveProblem.SAME_AGENCY
    elif not to_agency.active:
        problem = MoveProblem.AGENCY_INACTIVE
    elif await _bad_handover(session, official, handover_to):
        problem = MoveProblem.BAD_HANDOVER
    if problem is not None:
        audit(session, AuditAction.MOVE, problem, actor, at=at, subject_official_id=official.id, agency_id=to_agency.id)
        return problem
    from_agency_id = official.agency_id
    roles = await roles_of(session, official.id)
    ordered = [role for role in Role if role in roles]
    ended = tuple(role for role in ordered if not role_allowed_in(role, to_agency.kind))
    if ended:
        await session.execute(
            delete(OfficialRole).where(OfficialRole.official_id == official.id, OfficialRole.role.in_(ended))
        )
    reassigned = await reassign_open_work(session, desk, official, handover_to, at, HandoverReason.MOVED)
    official.agency_id = to_agency.id
    moved = tuple(role for role in ordered if role not in ended)
    audit(
        session,
        AuditAction.MOVE,
        OK,
        actor,
        at=at,
        subject_official_id=official.id,
        agency_id=to_agency.id,
        from_agency_id=from_agency_id,
        roles_moved=list(moved),
        roles_ended=list(ended),
        handover_to=handover_to.id if handover_to else None,
        reassigned=reassigned,
    )
    await session.flush()
    return Moved(official, from_agency_id, to_agency, moved, ended, reassigned)


# --- agency group chats ---------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedBindCode:
    code: str
    agency: Agency
    expires_at: datetime


def new_bind_code() -> str:
    return "".join(secrets.choice(BIND_CODE_ALPHABET) for _ in range(BIND_CODE_LENGTH))


def normalise_bind_code(text: str) -> str | None:
    code = re.sub(r"[\s-]", "", text).upper()
    if len(code) != BIND_CODE_LENGTH or any(ch not in BIND_CODE_ALPHABET for ch in code):
        return None
    return code


async def issue_bind_code(
    session: AsyncSession, official: Official, agency: Agency, *, at: datetime, actor: Actor
) -> IssuedBindCode:
    """A one-hour code for binding `agency`'s group; the caller has authorised `official`."""
    code = new_bind_code()
    row = BindCode(
        code_hash=hash_secret(code),
        agency_id=agency.id,
        created_by_official_id=official.id,
        created_at=at,
        expires_at=at + BIND_CODE_LIFETIME,
    )
    session.add(row)
    await session.flush()
    audit(session, AuditAction.BIND_CODE, OK, actor, at=at, agency_id=agency.id, code_id=row.id)
    return IssuedBindCode(code, agency, row.expires_at)


class BindProblem(enum.StrEnum):
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    BOUND_TO_OTHER_AGENCY = "bound_to_other_agency"


@dataclass(frozen=True)
class Bound:
    binding: GroupBinding
    agency: Agency
    official: Official
    # The chat that was the agency's group until now, if another one.
    replaced_chat_id: str | None = None
    # The group was already this agency's group.
    already: bool = False


async def binding_of_chat(session: AsyncSession, chat_id: int | str, platform: str = PLATFORM) -> GroupBinding | None:
    return await session.scalar(
        select(GroupBinding).where(GroupBinding.platform == platform, GroupBinding.chat_id == str(chat_id))
    )


async def group_of_agency(session: AsyncSession, agency_id: int) -> GroupBinding | None:
    return await session.scalar(select(GroupBinding).where(GroupBinding.agency_id == agency_id))


async def bind_group(
    session: AsyncSession,
    *,
    code_text: str,
    telegram_user_id: int | str,
    chat_id: int | str,
    title: str,
    at: datetime,
    platform: str = PLATFORM,
) -> Bound | BindProblem | Refusal:
    """Make a group chat the agency's group with a code from /bindgroup."""
    chat = str(chat_id)
    # Only administrators get their codes looked up: nobody else can probe for codes.
    admin = await authorise(session, telegram_user_id, None, INVITING_ROLES, platform=platform)
    if isinstance(admin, Refusal):
        record_refusal(
            session,
            admin,
            Actor.of_account(telegram_user_id, admin.official, platform),
            at=at,
            what="/bind",
            chat_id=chat,
        )
        return admin
    actor = Actor.of_account(telegram_user_id, admin, platform)
    code = normalise_bind_code(code_text)
    row = None
    if code is not None:
        row = await session.scalar(select(BindCode).where(BindCode.code_hash == hash_secret(code)))
    problem: BindProblem | None = None
    if code is None:
        problem = BindProblem.MALFORMED
    elif row is None:
        problem = BindProblem.UNKNOWN
    elif row.revoked_at is not None:
        problem = BindProblem.WITHDRAWN
    elif row.used_at is not None:
        problem = BindProblem.USED
    elif at >= row.expires_at:
        problem = BindProblem.EXPIRED
    if problem is not None:
        audit(
            session,
            AuditAction.BIND_GROUP,
            problem,
            actor,
            at=at,
            chat_id=chat,
            agency_id=row.agency_id if row else None,
        )
        return problem
    assert row is not None
    official = await authorise(session, telegram_user_id, row.agency_id, INVITING_ROLES, platform=platform)
    if isinstance(official, Refusal):
        record_refusal(session, official, actor, at=at, what="/bind", agency_id=row.agency_id, chat_id=chat)
        return official
    agency = await session.get(Agency, row.agency_id)
    assert agency is not None
    current = await binding_of_chat(session, chat, platform)
    if current is not None and current.agency_id != agency.id:
        audit(
            session,
            AuditAction.BIND_GROUP,
            BindProblem.BOUND_TO_OTHER_AGENCY,
            actor,
            at=at,
            chat_id=chat,
            agency_id=agency.id,
            bound_agency_id=current.agency_id,
        )
        return BindProblem.BOUND_TO_OTHER_AGENCY
    used = await session.execute(
        update(BindCode)
        .where(BindCode.id == row.id, BindCode.used_at.is_(None))
        .values(used_at=at, used_platform=platform, used_chat_id=chat)
    )
    if used.rowcount != 1:
        audit(session, AuditAction.BIND_GROUP, BindProblem.USED, actor, at=at, chat_id=chat, agency_id=agency.id)
        return BindProblem.USED
    if current is not None:
        current.title = nfc(title)[:256]
        audit(session, AuditAction.BIND_GROUP, OK, actor, at=at, chat_id=chat, agency_id=agency.id, already=True)
        return Bound(current, agency, official, already=True)
    replaced = await group_of_agency(session, agency.id)
    replaced_chat_id = None
    if replaced is not None:
        # One group per agency: the new group takes over from the old one.
        replaced_chat_id = replaced.chat_id
        await _unbind(session, replaced, actor, at, "replaced", by_chat_id=chat)
        await session.flush()
        await notices.tell_replaced_group(session, replaced_chat_id, agency)
    binding = GroupBinding(
        platform=platform,
        chat_id=chat,
        agency_id=agency.id,
        title=nfc(title)[:256],
        bound_by_official_id=official.id,
        bound_at=at,
    )
    session.add(binding)
    await session.flush()
    audit(
        session,
        AuditAction.BIND_GROUP,
        OK,
        actor,
        at=at,
        chat_id=chat,
        agency_id=agency.id,
        replaced_chat_id=replaced_chat_id,
    )
    return Bound(binding, agency, official, replaced_chat_id)


async def end_binding(
    session: AsyncSession, chat_id: int | str, *, at: datetime, actor: Actor, reason: str, platform: str = PLATFORM
) -> GroupBinding | None:
    """The group is no longer the agency's (e.g. the bot was removed from it)."""
    binding = await binding_of_chat(session, chat_id, platform)
    if binding is None:
        return None
    await _unbind(session, binding, actor, at, reason)
    return binding


async def _unbind(
    session: AsyncSession, binding: GroupBinding, actor: Actor, at: datetime, reason: str, **details: Any
) -> None:
    """The group is no longer its agency's: the binding goes, and the access log says why."""
    await session.delete(binding)
    audit(
        session,
        AuditAction.UNBIND_GROUP,
        OK,
        actor,
        at=at,
        chat_id=binding.chat_id,
        agency_id=binding.agency_id,
        reason=reason,
        **details,
    )


async def follow_group_migration(
    session: AsyncSession,
    old_chat_id: int | str,
    new_chat_id: int | str,
    *,
    at: datetime,
    platform: str = PLATFORM,
) -> GroupBinding | None:
    """A group upgraded to a supergroup gets a new chat id; its binding follows, or it would go silent."""
    binding = await binding_of_chat(session, old_chat_id, platform)
    if binding is None:
        return None
    binding.chat_id = str(new_chat_id)
    audit(
        session,
        AuditAction.BIND_GROUP,
        OK,
        Actor(platform, None),
        at=at,
        chat_id=str(new_chat_id),
        agency_id=binding.agency_id,
        migrated_from=str(old_chat_id),
    )
    return binding


async def bot_added_to_group(
    session: AsyncSession,
    *,
    adder_telegram_id: int | str,
    chat_id: int | str,
    title: str,
    at: datetime,
    platform: str = PLATFORM,
) -> Official | Refusal:
    """Whoever adds the bot to a group must be an active official; otherwise the bot leaves."""
    official = await authorise(session, adder_telegram_id, None, ANY_ROLE, platform=platform)
    outcome = OK if isinstance(official, Official) else official.reason
    who = official if isinstance(official, Official) else official.official
    audit(
        session,
        AuditAction.GROUP_ADDED,
        outcome,
        Actor.of_account(adder_telegram_id, who, platform),
        at=at,
        chat_id=str(chat_id),
        title=nfc(title)[:256],
    )
    return official
