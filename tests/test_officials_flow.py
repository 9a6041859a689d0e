"""Officials end to end: the real bot through the emulator, invitations made with the command line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.cli.sandbox import Sandbox, running_bot
from bot.config import Settings
from bot.domain.officials import (
    ROLE_LABELS,
    BindProblem,
    RedeemProblem,
    Refusal,
    RefusalReason,
    Role,
)
from bot.emulators.telegram import BotApiEmulator
from handlers.officials import (
    GROUP_HELLO,
    INVITE_CANCELLED,
    LEAVING,
    NOT_BOUND,
    bind_problem_text,
    redeem_problem_text,
    refusal_text,
    role_button,
)
from storage.models import AccessAudit, GroupBinding, Invitation, Official
from storage.models import User as Account
from tests.officials_world import (
    CODE,
    VI,
    Clock,
    Person,
    admin,
    bind_group,
    eventually,
    invite,
    onboard,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def bot(emu: BotApiEmulator, settings: Settings, clock: Clock) -> AsyncIterator[Sandbox]:
    async with running_bot(emu, settings, clock=clock) as sandbox:
        yield sandbox


def refused(reason: RefusalReason) -> str:
    return refusal_text(Refusal(reason), VI)


async def official_named(sandbox: Sandbox, name: str) -> Official:
    async with sandbox.deps.sessions() as session:
        official = await session.scalar(select(Official).where(Official.full_name == name))
    assert official is not None
    return official


async def test_an_invitation_link_binds_the_account_once(
    bot: Sandbox, settings: Settings, emu: BotApiEmulator, capsys
) -> None:
    link = await invite(settings, capsys, "XA-01", Role.RECEIVING_OFFICER, "Nguyễn Văn An", "--phone", "0912345678")
    an = Person(emu, "An béo 🍜")
    welcome = await an.open(link)
    # The real name from the invitation; the Telegram display name plays no part.
    assert "Nguyễn Văn An" in welcome.content and "béo" not in welcome.content
    assert VI("receiving officer") in welcome.content
    official = await official_named(bot, "Nguyễn Văn An")
    async with bot.deps.sessions() as session:
        account = await session.get(Account, official.user_id)
        assert account is not None and account.external_id == str(an.user.id)
        assert official.phone == "+84912345678"

    binh = Person(emu, "Bình")
    assert (await binh.open(link)).content == redeem_problem_text(RedeemProblem.USED, VI)
    assert (await an.open(link)).content == redeem_problem_text(RedeemProblem.USED, VI)
    forged = "https://t.me/congdan_test_bot?start=inv_" + "Q" * 43
    assert (await binh.open(forged)).content == redeem_problem_text(RedeemProblem.FORGED, VI)
    assert (await binh.open("https://t.me/x?start=inv_oops")).content == redeem_problem_text(RedeemProblem.FORGED, VI)
    async with bot.deps.sessions() as session:
        refusals = (
            await session.scalars(
                select(AccessAudit)
                .where(AccessAudit.action == "redeem", AccessAudit.outcome != "ok")
                .order_by(AccessAudit.id)
            )
        ).all()
        assert [(r.actor_external_id, r.outcome) for r in refusals] == [
            (str(binh.user.id), "used"),
            (str(an.user.id), "used"),
            (str(binh.user.id), "forged"),
            (str(binh.user.id), "forged"),
        ]
        assert await session.scalar(select(Official).where(Official.full_name != "Nguyễn Văn An")) is None

    # Any other /start parameter is still the citizen's.
    await binh.chat.send_text("/start hello")
    await binh.chat.expect(lambda m: VI("✅ I agree") in m.buttons, timeout=10)


async def test_expired_and_revoked_links_are_refused(
    bot: Sandbox, settings: Settings, emu: BotApiEmulator, clock: Clock, capsys
) -> None:
    short = await invite(settings, capsys, "XA-01", Role.HANDLING_OFFICER, "Lê Thị Bình", "--hours", "1")
    withdrawn = await invite(settings, capsys, "XA-01", Role.HANDLING_OFFICER, "Trần Văn Cường")
    async with bot.deps.sessions() as session:
        invitation_id = await session.scalar(select(Invitation.id).where(Invitation.full_name == "Trần Văn Cường"))
    assert "revoked: invitation" in await admin(settings, capsys, "revoke", "--invitation", str(invitation_id))
    person = Person(emu, "B")
    assert (await person.open(withdrawn)).content == redeem_problem_text(RedeemProblem.REVOKED, VI)
    clock.offset = timedelta(hours=1, minutes=1)
    assert (await person.open(short)).content == redeem_problem_text(RedeemProblem.EXPIRED, VI)
    async with bot.deps.sessions() as session:
        assert await session.scalar(select(Official)) is None


async def test_an_agency_administrator_invites_from_the_bot(
    bot: Sandbox, settings: Settings, emu: BotApiEmulator, capsys
) -> None:
    boss = await onboard(bot, settings, capsys, emu, "XA-01", Role.AGENCY_ADMIN, "Nguyễn Văn An", "An")
    citizen = Person(emu, "Citizen")
    assert (await citizen.say("/invite")).content == refused(RefusalReason.NOT_AN_OFFICIAL)
    assert (await boss.say("/invite XA-02")).content == refused(RefusalReason.OTHER_AGENCY)

    roles = await boss.say("/invite")
    assert role_button(Role.HANDLING_OFFICER, VI) in roles.buttons
    assert role_button(Role.PLATFORM_ADMIN, VI) not in roles.buttons
    assert role_button(Role.SUPERVISOR, VI) not in roles.buttons  # not in a commune
    await boss.chat.press(roles, role_button(Role.HANDLING_OFFICER, VI))
    await boss.chat.expect(contains=VI(ROLE_LABELS[Role.HANDLING_OFFICER]), timeout=10)
    assert "/cancel" in (await boss.say("Bình")).content  # one word is not a full name
    made = await boss.say("Lê   Thị Bình")
    assert "Lê Thị Bình" in made.content
    binh = Person(emu, "Binh")
    welcome = await binh.open(made.content)
    assert "Lê Thị Bình" in welcome.content and VI(ROLE_LABELS[Role.HANDLING_OFFICER]) in welcome.content
    an, bình = await official_named(bot, "Nguyễn Văn An"), await official_named(bot, "Lê Thị Bình")
    assert bình.agency_id == an.agency_id
    async with bot.deps.sessions() as session:
        invitation = await session.scalar(select(Invitation).where(Invitation.official_id == bình.id))
        assert invitation is not None and invitation.created_by_official_id == an.id

    # /cancel leaves the flow; the next text goes back to the citizen's handlers.
    roles = await boss.say("/invite")
    await boss.chat.press(roles, role_button(Role.RECEIVING_OFFICER, VI))
    await boss.chat.expect(contains="/cancel", timeout=10)
    assert (await boss.say("/cancel")).content == VI(INVITE_CANCELLED)
    async with bot.deps.sessions() as session:
        assert len((await session.scalars(select(Invitation))).all()) == 2


async def test_a_suspended_official_is_refused_until_reinstated(
    bot: Sandbox, settings: Settings, emu: BotApiEmulator, capsys
) -> None:
    boss = await onboard(bot, settings, capsys, emu, "XA-01", Role.AGENCY_ADMIN, "Nguyễn Văn An", "An")
    platform = await onboard(bot, settings, capsys, emu, "SO-KHCN", Role.PLATFORM_ADMIN, "Phạm Quốc Dũng", "Dung")
    an = await official_named(bot, "Nguyễn Văn An")

    # An agency administrator sees the agency's officials but gets no buttons to change them.
    listing = await boss.say("/officials")
    assert "Nguyễn Văn An" in listing.content and not listing.has_inline_keyboard

    # The command line, e.g. when the phone was reported stolen (000 Art. 5.3).
    assert "suspended" in await admin(settings, capsys, "suspend", "--official", str(an.id), "--reason", "lost")
    for command in ("/invite", "/bindgroup", "/officials"):
        assert (await boss.say(command)).content == refused(RefusalReason.SUSPENDED)
    await admin(settings, capsys, "reinstate", "--official", str(an.id))
    assert role_button(Role.HANDLING_OFFICER, VI) in (await boss.say("/invite")).buttons

    # A platform administrator in the bot.
    listing = await platform.say("/officials XA-01")
    assert "Nguyễn Văn An" in listing.content
    press = await platform.chat.press(listing, VI("⏸ Suspend {name}", name="Nguyễn Văn An"))
    answer = await press.answer()
    assert answer.text == VI("Suspended: {name}. Their buttons and commands now do nothing.", name="Nguyễn Văn An")
    refreshed = await platform.chat.expect(edited=True, timeout=10)
    assert VI("▶️ Reinstate {name}", name="Nguyễn Văn An") in refreshed.buttons
    assert (await boss.say("/bindgroup")).content == refused(RefusalReason.SUSPENDED)
    assert "revoked" in await admin(settings, capsys, "revoke", "--official", str(an.id))
    assert (await boss.say("/invite")).content == refused(RefusalReason.REVOKED)


async def test_a_group_is_bound_with_a_one_time_code(
    bot: Sandbox, settings: Settings, emu: BotApiEmulator, capsys
) -> None:
    boss = await onboard(bot, settings, capsys, emu, "XA-01", Role.AGENCY_ADMIN, "Nguyễn Văn An", "An")
    group, bound = await bind_group(bot, boss, emu)
    an = await official_named(bot, "Nguyễn Văn An")
    assert "Nguyễn Văn An" in bound.content and VI("ℹ️ Check my rights here") in bound.buttons
    async with bot.deps.sessions() as session:
        binding = await session.scalar(select(GroupBinding))
        assert binding is not None and binding.chat_id == str(group.id) and binding.agency_id == an.agency_id
    answer = await (await group.press(bound, VI("ℹ️ Check my rights here"))).answer()
    assert answer.show_alert and "Nguyễn Văn An" in (answer.text or "")

    # The code worked once; a made-up one does nothing either.
    used = CODE.search(boss.chat.bot_messages[-1].content)
    assert used
    await group.send_text(f"/bind {used.group(0)}")
    assert (await group.expect(timeout=10)).content == bind_problem_text(BindProblem.USED, VI)
    await group.send_text("/bind 2222ZZZZ")
    assert (await group.expect(timeout=10)).content == bind_problem_text(BindProblem.UNKNOWN, VI)

    # Upgraded to a supergroup, the group has a new id; the binding follows it.
    supergroup = {"id": -1009999, "type": "supergroup", "title": "Cán bộ phường 1"}
    emu.inject_update(
        "message",
        {
            "message_id": 99,
            "from": boss.user.json,
            "chat": group.chat.json,
            "date": 0,
            "migrate_to_chat_id": supergroup["id"],
        },
    )
    await eventually(bot, lambda session: session.scalar(select(GroupBinding.chat_id)), str(supergroup["id"]))

    # Removing the bot ends the binding.
    emu.inject_update(
        "my_chat_member",
        {
            "chat": supergroup,
            "from": boss.user.json,
            "date": 0,
            "old_chat_member": {"status": "member", "user": emu.bot_user.json},
            "new_chat_member": {"status": "kicked", "user": emu.bot_user.json, "until_date": 0},
        },
    )
    await eventually(bot, lambda session: session.scalar(select(GroupBinding)), None)


async def test_the_bot_leaves_groups_that_strangers_add_it_to(
    bot: Sandbox, settings: Settings, emu: BotApiEmulator, capsys
) -> None:
    stranger = emu.add_user("Người lạ")
    group = emu.add_group("Hội buôn chuyện", members=[stranger], added_by=stranger)
    assert (await group.expect(timeout=10)).content == VI(LEAVING)
    await emu.wait_until(lambda: group.chat.bot_status == "left")
    async with bot.deps.sessions() as session:
        [row] = (await session.scalars(select(AccessAudit).where(AccessAudit.action == "group_added"))).all()
        assert (row.actor_external_id, row.outcome) == (str(stranger.id), "not_an_official")

    # Added by an official, the bot stays but does nothing until the group is bound.
    worker = await onboard(bot, settings, capsys, emu, "XA-01", Role.HANDLING_OFFICER, "Lê Thị Bình", "Binh")
    team = emu.add_group("Tổ xử lý", members=[worker.user], added_by=worker.user)
    assert (await team.expect(timeout=10)).content == VI(GROUP_HELLO)
    await team.send_text("/report")
    assert (await team.expect(timeout=10)).content == VI(NOT_BOUND)
    assert team.chat.bot_status == "member"


async def test_being_in_a_bound_group_gives_no_rights(
    bot: Sandbox, settings: Settings, emu: BotApiEmulator, capsys
) -> None:
    boss = await onboard(bot, settings, capsys, emu, "XA-01", Role.AGENCY_ADMIN, "Nguyễn Văn An", "An")
    member = Person(emu, "Hàng xóm")
    group, bound = await bind_group(bot, boss, emu, member.user)
    as_member = group.as_user(member.user)

    answer = await (await as_member.press(bound, VI("ℹ️ Check my rights here"))).answer()
    assert answer.text == refused(RefusalReason.NOT_AN_OFFICIAL)
    # A fresh code in a stranger's hands binds nothing.
    fresh = CODE.search((await boss.say("/bindgroup")).content)
    assert fresh
    await as_member.send_text(f"/bind {fresh.group(0)}")
    assert (await group.expect(timeout=10)).content == refused(RefusalReason.NOT_AN_OFFICIAL)

    # Moved to another agency (002 Art. 11), the administrator's rights in the old group end.
    an = await official_named(bot, "Nguyễn Văn An")
    assert "moved" in await admin(settings, capsys, "move", "--official", str(an.id), "--to", "XA-02")
    answer = await (await group.press(bound, VI("ℹ️ Check my rights here"))).answer()
    assert answer.text == refused(RefusalReason.OTHER_AGENCY)
    await group.send_text(f"/bind {fresh.group(0)}")
    assert (await group.expect(timeout=10)).content == refused(RefusalReason.OTHER_AGENCY)
    async with bot.deps.sessions() as session:
        refusals = (
            await session.scalars(select(AccessAudit).where(AccessAudit.action == "refused").order_by(AccessAudit.id))
        ).all()
        assert [(r.actor_external_id, r.outcome) for r in refusals] == [
            (str(member.user.id), "not_an_official"),
            (str(member.user.id), "not_an_official"),
            (str(boss.user.id), "other_agency"),
            (str(boss.user.id), "other_agency"),
        ]
