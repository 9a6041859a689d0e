"""Officials' accounts, roles, invitations and group bindings, at the service level, on both backends."""

from __future__ import annotations

import argparse
import ast
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.admin import add_admin_commands, run_admin_command
from bot.cli.sandbox import province_file
from bot.config import Settings
from bot.domain import citizens, notices, officials
from bot.domain.calendar import WorkingCalendar
from bot.domain.deadlines import StageLimits
from bot.domain.desk import Desk
from bot.domain.officials import (
    ANY_ROLE,
    Actor,
    AuditAction,
    BindProblem,
    Bound,
    InviteProblem,
    IssuedInvitation,
    Moved,
    MoveProblem,
    OfficialStatus,
    Redeemed,
    RedeemProblem,
    Refusal,
    RefusalReason,
    Role,
    StatusChanged,
    StatusProblem,
)
from bot.domain.province import import_province
from bot.domain.roles import roles_of
from storage.models import (
    AccessAudit,
    Agency,
    BindCode,
    GroupBinding,
    Invitation,
    Official,
    OfficialRole,
    OutboxMessage,
    User,
)

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
CLI = Actor("cli", "tester")
# Acting on reports needs a calendar; these tests have no reports to hand over.
DESK = Desk(WorkingCalendar(tz="Asia/Ho_Chi_Minh"), StageLimits(), "Asia/Ho_Chi_Minh")
AN = "Nguyễn Văn An"
BOT_DIR = Path(officials.__file__).parent


@pytest.fixture
async def db(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session on a database holding the demo province."""
    async with sessions.begin() as session:
        await import_province(session, province_file())
    async with sessions() as session:
        yield session


async def agency(session: AsyncSession, code: str) -> Agency:
    found = await officials.agency_by_code(session, code)
    assert found is not None
    return found


async def account(session: AsyncSession, telegram_id: int) -> User:
    return await citizens.get_or_create(
        session,
        platform="telegram",
        external_id=str(telegram_id),
        chat_id=str(telegram_id),
        display_name="nick",
        client_language="vi",
        default_language="vi",
    )


async def invite(
    session: AsyncSession,
    code: str,
    role: Role,
    name: str = AN,
    *,
    at: datetime = NOW,
    inviter: Official | None = None,
    **kwargs,
) -> IssuedInvitation:
    issued = await officials.create_invitation(
        session,
        agency=await agency(session, code),
        role=role,
        full_name=name,
        at=at,
        actor=CLI,
        inviter=inviter,
        **kwargs,
    )
    assert isinstance(issued, IssuedInvitation), issued
    return issued


async def onboard(session: AsyncSession, code: str, role: Role, telegram_id: int, name: str = AN) -> Official:
    issued = await invite(session, code, role, name)
    redeemed = await officials.redeem_invitation(session, issued.payload, await account(session, telegram_id), NOW)
    assert isinstance(redeemed, Redeemed), redeemed
    return redeemed.official


async def audit_rows(session: AsyncSession, action: AuditAction) -> list[AccessAudit]:
    await session.flush()
    return list(
        (await session.scalars(select(AccessAudit).where(AccessAudit.action == action).order_by(AccessAudit.id))).all()
    )


# --- invitations --------------------------------------------------------------------------


async def test_invitation_link_fits_telegram_and_only_its_hash_is_stored(db: AsyncSession) -> None:
    issued = await invite(db, "XA-01", Role.RECEIVING_OFFICER, "  nguyễn   văn an ", phone="0912 345 678")
    payload = issued.payload
    assert len(payload) <= 64 and payload.startswith("inv_")
    assert all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in payload)
    assert issued.link("congdan_bot") == f"https://t.me/congdan_bot?start={payload}"
    row = issued.invitation
    assert row.token_hash == hashlib.sha256(payload.encode()).hexdigest()
    assert row.expires_at == NOW + timedelta(hours=72)
    assert row.full_name == "nguyễn văn an" and row.phone == "+84912345678"
    await db.flush()
    stored = (await db.execute(select(Invitation.__table__))).one()
    assert all(payload not in str(value) and payload[4:] not in str(value) for value in stored)
    [logged] = await audit_rows(db, AuditAction.INVITE)
    assert (logged.outcome, logged.actor_platform, logged.actor_external_id) == ("ok", "cli", "tester")


async def test_opening_an_invitation_makes_the_account_that_official(db: AsyncSession) -> None:
    issued = await invite(db, "XA-01", Role.RECEIVING_OFFICER, phone="0912345678")
    user = await account(db, 501)
    redeemed = await officials.redeem_invitation(db, issued.payload, user, NOW + timedelta(hours=1))
    assert isinstance(redeemed, Redeemed)
    official = redeemed.official
    # The invitation's real name, never the messenger's display name (000 Art. 5.2).
    assert official.full_name == AN and user.display_name == "nick"
    assert official.user_id == user.id and official.status == OfficialStatus.ACTIVE
    assert redeemed.agency.code == "XA-01" and official.phone == "+84912345678"
    assert await roles_of(db, official.id) == {Role.RECEIVING_OFFICER}
    await db.refresh(issued.invitation)
    assert issued.invitation.redeemed_by_user_id == user.id and issued.invitation.official_id == official.id
    [logged] = await audit_rows(db, AuditAction.REDEEM)
    assert (logged.outcome, logged.actor_external_id, logged.subject_official_id) == ("ok", "501", official.id)


async def test_reused_expired_revoked_and_forged_links_are_refused_and_logged(db: AsyncSession) -> None:
    used = await invite(db, "XA-01", Role.RECEIVING_OFFICER)
    await officials.redeem_invitation(db, used.payload, await account(db, 501), NOW)
    stranger = await account(db, 666)
    assert await officials.redeem_invitation(db, used.payload, stranger, NOW) is RedeemProblem.USED

    expiring = await invite(db, "XA-01", Role.HANDLING_OFFICER, "Lê Thị Bình", hours=2)
    later = NOW + timedelta(hours=2)
    assert await officials.redeem_invitation(db, expiring.payload, stranger, later) is RedeemProblem.EXPIRED

    revoked = await invite(db, "XA-01", Role.HANDLING_OFFICER, "Lê Thị Bình")
    withdrawn = await officials.revoke_invitation(db, revoked.invitation.id, at=NOW, actor=CLI)
    assert isinstance(withdrawn, Invitation)
    assert await officials.revoke_invitation(db, used.invitation.id, at=NOW, actor=CLI) == "already_redeemed"
    assert await officials.redeem_invitation(db, revoked.payload, stranger, NOW) is RedeemProblem.REVOKED

    forged = "inv_" + "A" * 43
    for payload in (forged, "inv_short", used.payload[:-1] + ("B" if used.payload[-1] != "B" else "C")):
        assert await officials.redeem_invitation(db, payload, stranger, NOW) is RedeemProblem.FORGED

    refused = [row for row in await audit_rows(db, AuditAction.REDEEM) if row.outcome != "ok"]
    assert [row.outcome for row in refused] == ["used", "expired", "revoked", "forged", "forged", "forged"]
    assert {row.actor_external_id for row in refused} == {"666"}
    assert all(row.at is not None for row in refused)
    assert await db.scalar(select(Official).where(Official.user_id == stranger.id)) is None


async def test_one_person_holds_several_roles_in_one_agency(db: AsyncSession) -> None:
    official = await onboard(db, "XA-01", Role.RECEIVING_OFFICER, 501)
    user = await db.get(User, official.user_id)
    assert user is not None
    second = await invite(db, "XA-01", Role.AGENCY_HEAD, "NGUYỄN VĂN  AN")
    redeemed = await officials.redeem_invitation(db, second.payload, user, NOW)
    assert isinstance(redeemed, Redeemed) and redeemed.official.id == official.id
    assert await roles_of(db, official.id) == {Role.RECEIVING_OFFICER, Role.AGENCY_HEAD}
    again = await invite(db, "XA-01", Role.AGENCY_HEAD)
    assert isinstance(redeemed := await officials.redeem_invitation(db, again.payload, user, NOW), Redeemed)
    assert redeemed.already_held
    # Another agency is a move, not an invitation; another name is the wrong person.
    elsewhere = await invite(db, "XA-02", Role.HANDLING_OFFICER)
    assert await officials.redeem_invitation(db, elsewhere.payload, user, NOW) is RedeemProblem.OTHER_AGENCY
    someone_else = await invite(db, "XA-01", Role.HANDLING_OFFICER, "Trần Thị Cúc")
    assert await officials.redeem_invitation(db, someone_else.payload, user, NOW) is RedeemProblem.NAME_MISMATCH
    # Refused links stay usable by the right person.
    cuc = await officials.redeem_invitation(db, someone_else.payload, await account(db, 502), NOW)
    assert isinstance(cuc, Redeemed) and cuc.official.full_name == "Trần Thị Cúc"


async def test_roles_belong_to_the_right_kind_of_agency_and_inviters_are_limited(db: AsyncSession) -> None:
    xa01 = await agency(db, "XA-01")
    for code, role in (("XA-01", Role.SUPERVISOR), ("XA-01", Role.PLATFORM_ADMIN), ("VP-UBND", Role.FOCAL_UNIT)):
        problem = await officials.create_invitation(
            db, agency=await agency(db, code), role=role, full_name=AN, at=NOW, actor=CLI, inviter=None
        )
        assert problem is InviteProblem.ROLE_NOT_FOR_AGENCY
    for name in ("An", "Nguyễn Văn 4n", "x" * 200):
        problem = await officials.create_invitation(
            db, agency=xa01, role=Role.HANDLING_OFFICER, full_name=name, at=NOW, actor=CLI, inviter=None
        )
        assert problem is InviteProblem.BAD_NAME
    assert (
        await officials.create_invitation(
            db,
            agency=xa01,
            role=Role.HANDLING_OFFICER,
            full_name=AN,
            at=NOW,
            actor=CLI,
            inviter=None,
            phone="12",
        )
        is InviteProblem.BAD_PHONE
    )
    assert (
        await officials.create_invitation(
            db,
            agency=xa01,
            role=Role.HANDLING_OFFICER,
            full_name=AN,
            at=NOW,
            actor=CLI,
            inviter=None,
            hours=0,
        )
        is InviteProblem.BAD_HOURS
    )

    admin = await onboard(db, "XA-01", Role.AGENCY_ADMIN, 501)
    platform = await onboard(db, "SO-KHCN", Role.PLATFORM_ADMIN, 502, "Phạm Quốc Dũng")
    admin_roles = await roles_of(db, admin.id)
    assert Role.AGENCY_ADMIN in officials.grantable_roles(admin, admin_roles, xa01)
    assert officials.grantable_roles(admin, admin_roles, await agency(db, "XA-02")) == []
    # Even the focal unit's own administrator cannot make platform administrators.
    khcn = await agency(db, "SO-KHCN")
    khcn_admin = await onboard(db, "SO-KHCN", Role.AGENCY_ADMIN, 503, "Lê Văn Hùng")
    assert Role.PLATFORM_ADMIN not in officials.grantable_roles(khcn_admin, await roles_of(db, khcn_admin.id), khcn)
    assert (
        await officials.create_invitation(
            db,
            agency=khcn,
            role=Role.PLATFORM_ADMIN,
            full_name=AN,
            at=NOW,
            actor=CLI,
            inviter=khcn_admin,
        )
        is InviteProblem.NOT_ALLOWED
    )
    assert Role.PLATFORM_ADMIN in officials.grantable_roles(
        platform, await roles_of(db, platform.id), await agency(db, "SO-KHCN")
    )
    await invite(db, "XA-01", Role.HANDLING_OFFICER, "Lê Thị Bình", inviter=admin)
    assert (
        await officials.create_invitation(
            db,
            agency=await agency(db, "XA-02"),
            role=Role.HANDLING_OFFICER,
            full_name=AN,
            at=NOW,
            actor=CLI,
            inviter=admin,
        )
        is InviteProblem.NOT_ALLOWED
    )
    await invite(db, "XA-02", Role.AGENCY_ADMIN, "Lê Thị Bình", inviter=platform)
    await officials.suspend(db, admin, at=NOW, actor=CLI, desk=DESK)
    assert (
        await officials.create_invitation(
            db,
            agency=xa01,
            role=Role.HANDLING_OFFICER,
            full_name=AN,
            at=NOW,
            actor=CLI,
            inviter=admin,
        )
        is InviteProblem.NOT_ALLOWED
    )


# --- authorisation ------------------------------------------------------------------------


async def test_authorise_checks_account_status_role_and_current_agency(db: AsyncSession) -> None:
    xa01, xa02 = await agency(db, "XA-01"), await agency(db, "XA-02")
    receiver = await onboard(db, "XA-01", Role.RECEIVING_OFFICER, 501)
    supervisor = await onboard(db, "VP-UBND", Role.SUPERVISOR, 502, "Phạm Quốc Dũng")
    await account(db, 503)

    got = await officials.authorise(db, 501, xa01.id, {Role.RECEIVING_OFFICER})
    assert isinstance(got, Official) and got.id == receiver.id
    assert await officials.authorise(db, "501", None, ANY_ROLE) == receiver

    def reason(result: Official | Refusal) -> RefusalReason:
        assert isinstance(result, Refusal), result
        return result.reason

    assert reason(await officials.authorise(db, 503, xa01.id, ANY_ROLE)) is RefusalReason.NOT_AN_OFFICIAL
    assert reason(await officials.authorise(db, 999, xa01.id, ANY_ROLE)) is RefusalReason.NOT_AN_OFFICIAL
    assert reason(await officials.authorise(db, 501, xa01.id, {Role.AGENCY_HEAD})) is RefusalReason.MISSING_ROLE
    assert reason(await officials.authorise(db, 501, xa02.id, {Role.RECEIVING_OFFICER})) is RefusalReason.OTHER_AGENCY
    # The Provincial Office supervises every agency (003 Art. 9.3).
    assert await officials.authorise(db, 502, xa02.id, {Role.SUPERVISOR}) == supervisor
    assert reason(await officials.authorise(db, 502, xa02.id, {Role.RECEIVING_OFFICER})) is RefusalReason.MISSING_ROLE

    await officials.suspend(db, receiver, at=NOW, actor=CLI, desk=DESK, reason="lost phone")
    refusal = await officials.authorise(db, 501, xa01.id, {Role.RECEIVING_OFFICER})
    assert isinstance(refusal, Refusal) and refusal.reason is RefusalReason.SUSPENDED and refusal.official == receiver
    await officials.revoke(db, supervisor, at=NOW, actor=CLI, desk=DESK)
    assert reason(await officials.authorise(db, 502, None, ANY_ROLE)) is RefusalReason.REVOKED
    with pytest.raises(ValueError):
        await officials.authorise(db, 501, xa01.id, set())


# --- suspension, revocation, reinstatement --------------------------------------------------------


async def test_suspension_is_immediate_and_withdraws_what_the_account_issued(db: AsyncSession) -> None:
    admin = await onboard(db, "XA-01", Role.AGENCY_ADMIN, 501)
    xa01 = await agency(db, "XA-01")
    pending = await invite(db, "XA-01", Role.HANDLING_OFFICER, "Lê Thị Bình", inviter=admin)
    code = await officials.issue_bind_code(db, admin, xa01, at=NOW, actor=CLI)

    changed = await officials.suspend(db, admin, at=NOW, actor=CLI, desk=DESK, reason="phone stolen")
    assert isinstance(changed, StatusChanged)
    assert (changed.withdrawn_invitations, changed.withdrawn_codes) == (1, 1)
    assert admin.status == OfficialStatus.SUSPENDED and admin.status_reason == "phone stolen"
    # Roles are kept through a suspension; only the account is locked.
    assert await roles_of(db, admin.id) == {Role.AGENCY_ADMIN}
    assert await officials.suspend(db, admin, at=NOW, actor=CLI, desk=DESK) is StatusProblem.ALREADY
    bina = await account(db, 502)
    assert await officials.redeem_invitation(db, pending.payload, bina, NOW) is RedeemProblem.REVOKED
    # A locked account cannot pick up roles by opening a fresh link either.
    fresh = await invite(db, "XA-01", Role.HANDLING_OFFICER)
    admin_user = await db.get(User, admin.user_id)
    assert admin_user is not None
    assert await officials.redeem_invitation(db, fresh.payload, admin_user, NOW) is RedeemProblem.ACCOUNT_SUSPENDED

    assert isinstance(await officials.reinstate(db, admin, at=NOW, actor=CLI), StatusChanged)
    assert admin.status == OfficialStatus.ACTIVE
    assert await officials.reinstate(db, admin, at=NOW, actor=CLI) is StatusProblem.ALREADY
    # The withdrawn code stays withdrawn after the reinstatement.
    result = await officials.bind_group(db, code_text=code.code, telegram_user_id=501, chat_id=-100, title="g", at=NOW)
    assert result is BindProblem.WITHDRAWN
    [suspended] = await audit_rows(db, AuditAction.SUSPEND)
    assert suspended.details["reason"] == "phone stolen" and suspended.subject_official_id == admin.id


async def test_revocation_ends_roles_for_good_and_a_new_invitation_brings_the_person_back(db: AsyncSession) -> None:
    official = await onboard(db, "XA-01", Role.RECEIVING_OFFICER, 501)
    changed = await officials.revoke(db, official, at=NOW, actor=CLI, desk=DESK, reason="retired")
    assert isinstance(changed, StatusChanged) and changed.ended_roles == (Role.RECEIVING_OFFICER,)
    assert await roles_of(db, official.id) == frozenset()
    assert await officials.reinstate(db, official, at=NOW, actor=CLI) is StatusProblem.REVOKED_IS_FINAL
    assert await officials.suspend(db, official, at=NOW, actor=CLI, desk=DESK) is StatusProblem.REVOKED_IS_FINAL
    back = await invite(db, "XA-03", Role.HANDLING_OFFICER)
    user = await db.get(User, official.user_id)
    assert user is not None
    redeemed = await officials.redeem_invitation(db, back.payload, user, NOW)
    assert isinstance(redeemed, Redeemed) and redeemed.reactivated and redeemed.official.id == official.id
    assert official.status == OfficialStatus.ACTIVE and redeemed.agency.code == "XA-03"
    assert await roles_of(db, official.id) == {Role.HANDLING_OFFICER}


async def test_find_official_by_id_or_phone(db: AsyncSession) -> None:
    issued = await invite(db, "XA-01", Role.RECEIVING_OFFICER, phone="+84 912 345 678")
    redeemed = await officials.redeem_invitation(db, issued.payload, await account(db, 501), NOW)
    assert isinstance(redeemed, Redeemed)
    assert await officials.find_official(db, str(redeemed.official.id)) == redeemed.official
    assert await officials.find_official(db, "0912 345 678") == redeemed.official
    assert await officials.find_official(db, "0987654321") is None
    assert await officials.find_official(db, "nobody") is None


# --- moves (002 Art. 11) ------------------------------------------------------------------------


async def test_move_takes_the_roles_along_and_ends_the_old_agency_rights(db: AsyncSession) -> None:
    xa01, xa02, office = await agency(db, "XA-01"), await agency(db, "XA-02"), await agency(db, "VP-UBND")
    mover = await onboard(db, "VP-UBND", Role.SUPERVISOR, 501)
    user = await db.get(User, mover.user_id)
    assert user is not None
    head = await invite(db, "VP-UBND", Role.AGENCY_HEAD)
    assert isinstance(await officials.redeem_invitation(db, head.payload, user, NOW), Redeemed)
    colleague = await onboard(db, "VP-UBND", Role.HANDLING_OFFICER, 502, "Lê Thị Bình")
    stranger = await onboard(db, "XA-02", Role.HANDLING_OFFICER, 503, "Trần Thị Cúc")
    # A colleague who cannot be assigned reports would leave the work with the mover.
    receiver = await onboard(db, "VP-UBND", Role.RECEIVING_OFFICER, 504, "Đỗ Văn Dũng")

    assert await officials.move_official(db, mover, office, at=NOW, actor=CLI, desk=DESK) is MoveProblem.SAME_AGENCY
    for wrong in (mover, stranger, receiver):
        assert (
            await officials.move_official(db, mover, xa01, at=NOW, actor=CLI, desk=DESK, handover_to=wrong)
            is MoveProblem.BAD_HANDOVER
        )

    moved = await officials.move_official(db, mover, xa01, at=NOW, actor=CLI, desk=DESK, handover_to=colleague)
    assert isinstance(moved, Moved)
    assert moved.roles_moved == (Role.AGENCY_HEAD,)
    # A supervisor is one only inside the Provincial Office.
    assert moved.roles_ended == (Role.SUPERVISOR,)
    assert moved.from_agency_id == office.id and mover.agency_id == xa01.id
    # Reports carry no individual assignment yet: nothing to hand over.
    assert moved.reassigned == 0
    old = await officials.authorise(db, 501, office.id, {Role.AGENCY_HEAD})
    assert isinstance(old, Refusal) and old.reason is RefusalReason.OTHER_AGENCY
    assert await officials.authorise(db, 501, xa01.id, {Role.AGENCY_HEAD}) == mover
    assert isinstance(await officials.authorise(db, 501, xa02.id, {Role.SUPERVISOR}), Refusal)
    logged = [row for row in await audit_rows(db, AuditAction.MOVE) if row.outcome == "ok"]
    assert len(logged) == 1
    assert logged[0].details == {
        "from_agency_id": office.id,
        "roles_moved": ["agency_head"],
        "roles_ended": ["supervisor"],
        "handover_to": colleague.id,
        "reassigned": 0,
    }
    assert (
        await officials.reassign_open_work(db, DESK, mover, colleague, NOW, officials.HandoverReason.MOVED) == 0
    )  # no open work


# --- group chats ------------------------------------------------------------------------------


async def test_binding_a_group_takes_a_fresh_code_from_the_agency_administrator(db: AsyncSession) -> None:
    xa01 = await agency(db, "XA-01")
    admin = await onboard(db, "XA-01", Role.AGENCY_ADMIN, 501)
    await onboard(db, "XA-02", Role.AGENCY_ADMIN, 502, "Lê Thị Bình")
    await onboard(db, "XA-01", Role.RECEIVING_OFFICER, 503, "Trần Thị Cúc")
    issued = await officials.issue_bind_code(db, admin, xa01, at=NOW, actor=CLI)
    assert len(issued.code) == 8 and issued.expires_at == NOW + timedelta(hours=1)
    row = await db.scalar(select(BindCode))
    assert row is not None and row.code_hash == hashlib.sha256(issued.code.encode()).hexdigest()

    async def bind(user_id: int, code: str = issued.code, chat: int = -100, at: datetime = NOW):
        return await officials.bind_group(
            db, code_text=code, telegram_user_id=user_id, chat_id=chat, title="Cán bộ xã 01", at=at
        )

    # Strangers and non-administrators are refused before any code is looked up.
    stranger = await bind(999)
    assert isinstance(stranger, Refusal) and stranger.reason is RefusalReason.NOT_AN_OFFICIAL
    receiver = await bind(503)
    assert isinstance(receiver, Refusal) and receiver.reason is RefusalReason.MISSING_ROLE
    other = await bind(502)
    assert isinstance(other, Refusal) and other.reason is RefusalReason.OTHER_AGENCY
    assert await bind(501, "abc") is BindProblem.MALFORMED
    assert await bind(501, "ZZZZ2222") is BindProblem.UNKNOWN
    assert await bind(501, at=NOW + timedelta(hours=1)) is BindProblem.EXPIRED

    bound = await bind(501, issued.code.lower()[:4] + " " + issued.code[4:])
    assert isinstance(bound, Bound) and bound.agency.id == xa01.id and bound.replaced_chat_id is None
    assert await bind(501) is BindProblem.USED
    assert (await officials.binding_of_chat(db, -100)) is bound.binding

    # One group per agency: a new group replaces the old one.
    second = await officials.issue_bind_code(db, admin, xa01, at=NOW, actor=CLI)
    replaced = await bind(501, second.code, chat=-200)
    assert isinstance(replaced, Bound) and replaced.replaced_chat_id == "-100"
    assert await officials.binding_of_chat(db, -100) is None
    # The old group is told, through the outbox in the same transaction.
    told = (await db.scalars(select(OutboxMessage).where(OutboxMessage.kind == notices.GROUP_REPLACED))).all()
    assert [(row.chat_id, row.params["agency_vi"]) for row in told] == [("-100", xa01.name_vi)]
    assert (await officials.group_of_agency(db, xa01.id)) is replaced.binding

    # A group bound to one agency is not taken over by another's code.
    other_admin = await db.scalar(select(Official).where(Official.full_name == "Lê Thị Bình"))
    assert other_admin is not None
    theirs = await officials.issue_bind_code(db, other_admin, await agency(db, "XA-02"), at=NOW, actor=CLI)
    assert await bind(502, theirs.code, chat=-200) is BindProblem.BOUND_TO_OTHER_AGENCY

    # Upgraded to a supergroup, the group gets a new id and keeps its binding.
    migrated = await officials.follow_group_migration(db, -200, -100200, at=NOW)
    assert migrated is replaced.binding and await officials.binding_of_chat(db, -100200) is migrated
    assert await officials.follow_group_migration(db, -999, -100999, at=NOW) is None

    ended = await officials.end_binding(db, -100200, at=NOW, actor=CLI, reason="bot removed")
    assert ended is not None and await db.scalar(select(GroupBinding)) is None
    outcomes = [row.outcome for row in await audit_rows(db, AuditAction.BIND_GROUP)]
    assert outcomes == ["malformed", "unknown", "expired", "ok", "used", "ok", "bound_to_other_agency", "ok"]
    refused = await audit_rows(db, AuditAction.REFUSED)
    assert [(row.actor_external_id, row.outcome) for row in refused] == [
        ("999", "not_an_official"),
        ("503", "missing_role"),
        ("502", "other_agency"),
    ]


async def test_adding_the_bot_to_a_group_is_checked_and_logged(db: AsyncSession) -> None:
    await onboard(db, "XA-01", Role.HANDLING_OFFICER, 501)
    assert isinstance(
        await officials.bot_added_to_group(db, adder_telegram_id=501, chat_id=-5, title="Tổ xử lý", at=NOW), Official
    )
    refusal = await officials.bot_added_to_group(db, adder_telegram_id=777, chat_id=-6, title="Nhóm lạ", at=NOW)
    assert isinstance(refusal, Refusal)
    rows = await audit_rows(db, AuditAction.GROUP_ADDED)
    assert [(r.actor_external_id, r.outcome, r.chat_id) for r in rows] == [
        ("501", "ok", "-5"),
        ("777", "not_an_official", "-6"),
    ]


async def test_the_access_log_is_append_only(db: AsyncSession) -> None:
    await invite(db, "XA-01", Role.RECEIVING_OFFICER)
    [row] = await audit_rows(db, AuditAction.INVITE)
    row.outcome = "tampered"
    with pytest.raises(RuntimeError, match="append-only"):
        await db.flush()


# --- the command line -----------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="admin_command", required=True)
    add_admin_commands(sub)
    return parser.parse_args(list(argv))


async def test_admin_commands(sessions: async_sessionmaker[AsyncSession], database_url: str, capsys) -> None:
    async with sessions.begin() as session:
        await import_province(session, province_file())
    settings = Settings(database_url=database_url)

    assert (
        await run_admin_command(
            parse(
                "invite",
                "--agency",
                "xa-01",
                "--role",
                "receiving-officer",
                "--name",
                AN,
                "--phone",
                "0912345678",
                "--bot-username",
                "@cd_bot",
            ),
            settings,
        )
        == 0
    )
    out = capsys.readouterr().out
    link = out.strip().splitlines()[-1]
    assert link.startswith("https://t.me/cd_bot?start=inv_") and AN in out
    payload = link.split("start=")[1]
    assert await run_admin_command(parse("officials", "--invitations"), settings) == 0
    assert AN in capsys.readouterr().out

    async with sessions.begin() as session:
        redeemed = await officials.redeem_invitation(session, payload, await account(session, 501), datetime.now(UTC))
        assert isinstance(redeemed, Redeemed)
        official_id = redeemed.official.id
        bina = await invite(session, "XA-01", Role.HANDLING_OFFICER, "Lê Thị Bình", at=datetime.now(UTC))
        redeemed = await officials.redeem_invitation(
            session, bina.payload, await account(session, 502), datetime.now(UTC)
        )
        assert isinstance(redeemed, Redeemed)
        bina_id = redeemed.official.id

    assert (
        await run_admin_command(parse("suspend", "--official", "0912 345 678", "999", "--reason", "lost"), settings)
        == 2
    )
    captured = capsys.readouterr()
    assert f"suspended: official {official_id} {AN}" in captured.out and "999: no official" in captured.err
    assert await run_admin_command(parse("officials", "--agency", "XA-01", "--status", "suspended"), settings) == 0
    listing = capsys.readouterr().out
    assert AN in listing and "Lê Thị Bình" not in listing and "receiving_officer" in listing
    assert await run_admin_command(parse("reinstate", "--official", str(official_id)), settings) == 0
    # Only an active handling officer of the agency can take over open work; anyone else is refused
    # before anything changes.
    assert (
        await run_admin_command(
            parse("suspend", "--official", str(bina_id), "--handover-to", str(official_id)), settings
        )
        == 2
    )
    assert "--handover-to must be another active handling officer" in capsys.readouterr().err
    assert (
        await run_admin_command(
            parse("move", "--official", str(bina_id), "--to", "XA-02", "--handover-to", str(official_id)), settings
        )
        == 2
    )
    assert "--handover-to must be another active handling officer" in capsys.readouterr().err
    assert (
        await run_admin_command(
            parse("move", "--official", str(official_id), "--to", "XA-02", "--handover-to", str(bina_id)), settings
        )
        == 0
    )
    assert "open assignments handed over: 0" in capsys.readouterr().out
    assert await run_admin_command(parse("revoke", "--official", str(official_id)), settings) == 0
    assert await run_admin_command(parse("revoke", "--invitation", "12345"), settings) == 2
    assert "no such invitation" in capsys.readouterr().err
    assert (
        await run_admin_command(
            parse("invite", "--agency", "XA-01", "--role", "supervisor", "--name", AN, "--bot-username", "cd_bot"),
            settings,
        )
        == 2
    )
    assert (
        await run_admin_command(
            parse("invite", "--agency", "NOPE", "--role", "agency_head", "--name", AN, "--bot-username", "cd_bot"),
            settings,
        )
        == 2
    )
    with pytest.raises(SystemExit):
        parse("invite", "--agency", "XA-01", "--role", "mayor", "--name", AN)

    async with sessions() as session:
        official = await session.get(Official, official_id)
        assert official is not None and official.status == OfficialStatus.REVOKED
        assert await session.scalar(select(OfficialRole).where(OfficialRole.official_id == official_id)) is None
        actions = [
            (row.action, row.actor_platform)
            for row in await session.scalars(
                select(AccessAudit)
                .where(AccessAudit.subject_official_id == official_id, AccessAudit.outcome == "ok")
                .order_by(AccessAudit.id)
            )
        ]
    assert [a for a, _ in actions] == ["redeem", "suspend", "reinstate", "move", "revoke"]
    assert {p for a, p in actions if a != "redeem"} == {"cli"}


def test_services_in_bot_never_import_telegram() -> None:
    """Domain modules stay platform-neutral (bot/telegram_*.py and handlers/ hold the Telegram code)."""
    # The Bot API emulator's test harness and python-telegram-bot's update processor are Telegram's by nature.
    telegram_bound = {"sandbox.py", "ordering.py"}
    offenders = []
    for path in sorted(BOT_DIR.glob("*.py")):
        if path.name.startswith("telegram_") or path.name in telegram_bound:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{path.name}:{node.lineno} {name}"
                for name in names
                if name == "telegram" or name.startswith("telegram.")
            ]
    assert offenders == []
