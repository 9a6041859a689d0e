"""Officials in the bot: invitation links, /invite, /officials, agency group chats, refusals.

Private chat:
  /start inv_…       open an invitation link (bot/officials.redeem_invitation)
  /invite [CODE]     agency or platform administrator: role buttons, then the full name
  /bindgroup [CODE]  agency or platform administrator: a one-hour code for the agency's group
  /officials [CODE]  the agency's officials; a platform administrator gets suspend/reinstate buttons
Groups:
  /bind CODE         make this group the agency's group chat
  my_chat_member     whoever adds the bot must be an official, or the bot leaves; removal unbinds
  migrate_to_chat_id the binding follows a group upgraded to a supergroup
  other commands     in a group not bound to an agency: say so and do nothing

Every command and button checks the person who sent or pressed it with
`bot.domain.officials.authorise`; being in an agency's group gives no rights.
Workflow handlers use `refusal_text` to answer a refusal the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Chat, ChatMember, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes, filters

from bot.domain import officials
from bot.domain.officials import (
    ANY_ROLE,
    INVITING_ROLES,
    ROLE_LABELS,
    Actor,
    BindProblem,
    Bound,
    InviteProblem,
    OfficialStatus,
    Redeemed,
    RedeemProblem,
    Refusal,
    RefusalReason,
    Role,
    StatusProblem,
)
from bot.domain.roles import roles_of
from bot.i18n import N_, Translator, translator
from handlers.keyboards import inline
from handlers.scope import PLATFORM, Scope, deps_of, presser_translator, user_scope
from storage.models import Agency, Official, User

log = logging.getLogger(__name__)

# Callback data prefixes (each within Telegram's 64 bytes).
INVITE = "iv:"  # iv:<agency id>:<role>
INVITE_CANCEL = "iv:x"
OFFICIALS = "of:"  # of:s:<official id> suspend, of:r:<official id> reinstate
SUSPEND = "of:s:"
REINSTATE = "of:r:"
GROUP_INFO = "og:info"

# `/start inv_…` from an invitation deep link; any other /start is the citizen's.
INVITATION_START = filters.Regex(rf"^/start(@\w+)?\s+{officials.INVITATION_PREFIX}")

LEAVING = N_("I work only in agency groups set up by officials, so I am leaving this group.")
GROUP_HELLO = N_(
    "Hello. To make this the group chat of an agency, its administrator asks me for a code with "
    "/bindgroup in a private chat, then sends /bind CODE here. Until then I do nothing in this group."
)
NOT_BOUND = N_(
    "This group is not linked to an agency, so I do nothing here. An agency administrator can link it: "
    "/bindgroup in a private chat with me, then /bind CODE here."
)
INVITE_CANCELLED = N_("Invitation cancelled; no link was made.")

_PENDING = "officials.invite"
# An administrator who starts /invite and walks away should not find, hours
# later, that their next message became someone's name.
PENDING_LIFETIME = timedelta(minutes=30)


@dataclass(frozen=True)
class PendingInvite:
    agency_id: int
    role: Role
    started: datetime


def role_label(role: Role, _: Translator) -> str:
    return _(ROLE_LABELS[role])


def role_button(role: Role, _: Translator) -> str:
    label = role_label(role, _)
    return label[:1].upper() + label[1:]


def agency_name(agency: Agency, _: Translator) -> str:
    return _.pick(agency.name_vi, agency.name_en)


def refusal_text(refusal: Refusal, _: Translator) -> str:
    """What a person is told when `authorise` refuses them."""
    match refusal.reason:
        case RefusalReason.NOT_AN_OFFICIAL:
            return _(
                "This is for officials only. Officials join with a personal invitation link from their administrator."
            )
        case RefusalReason.SUSPENDED:
            return _(
                "Your official account is suspended, so this cannot be done. If your account was lost or "
                "misused, the suspension protects it; ask your administrator to reinstate it."
            )
        case RefusalReason.REVOKED:
            return _("Your official account has been closed, so officials' functions are no longer available to you.")
        case RefusalReason.OTHER_AGENCY:
            return _("This belongs to another agency; you act only for your own agency.")
        case RefusalReason.MISSING_ROLE:
            return _("Your role does not allow this.")
    raise ValueError(refusal)


def log_refusal(
    session: AsyncSession, update: Update, refusal: Refusal, what: str, at: datetime, agency_id: int | None = None
) -> None:
    """Log a refused command or button (`what`) of the person behind `update`."""
    tg_user, chat = update.effective_user, update.effective_chat
    assert tg_user is not None
    officials.record_refusal(
        session,
        refusal,
        Actor.of_account(tg_user.id, refusal.official, PLATFORM),
        at=at,
        what=what[:64],
        agency_id=agency_id,
        chat_id=str(chat.id) if chat else None,
    )


async def authorised(
    session: AsyncSession,
    update: Update,
    agency_id: int | None,
    roles: Iterable[Role],
    what: str,
    at: datetime,
    _: Translator,
) -> Official | str:
    """The official behind `update` if they may act for `agency_id` in one of `roles`, else the refusal (logged)."""
    assert update.effective_user is not None
    official = await officials.authorise(session, update.effective_user.id, agency_id, roles)
    if isinstance(official, Refusal):
        log_refusal(session, update, official, what, at, agency_id)
        return refusal_text(official, _)
    return official


# --- the invitation link ------------------------------------------------------------------


async def on_start_invitation(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    payload = context.args[0] if context.args else ""
    deps = deps_of(context)
    async with user_scope(update, context) as s:
        _ = s._
        result = await officials.redeem_invitation(s.session, payload, s.user, deps.now())
        if isinstance(result, Redeemed):
            roles = await roles_of(s.session, result.official.id)
    if isinstance(result, RedeemProblem):
        await message.reply_text(redeem_problem_text(result, _))
        return
    text = welcome_text(result, _)
    if roles & INVITING_ROLES:
        text += "\n\n" + _(
            "As an administrator you can:\n"
            "/invite — invite an official\n"
            "/bindgroup — link your agency's group chat to this service\n"
            "/officials — see your agency's officials"
        )
    await message.reply_text(text)


def welcome_text(result: Redeemed, _: Translator) -> str:
    role, agency = role_label(result.role, _), agency_name(result.agency, _)
    if result.already_held:
        return _("You already hold this role: {role} of {agency}.", role=role, agency=agency)
    return _(
        "Welcome, {name}. You are now {role} of {agency}.\n\n"
        "You act in this service under this name. Keep this Telegram account safe: if you lose it or "
        "someone else may use it, tell your administrator at once so that it is locked.",
        name=result.official.full_name,
        role=role,
        agency=agency,
    )


def redeem_problem_text(problem: RedeemProblem, _: Translator) -> str:
    match problem:
        case RedeemProblem.FORGED:
            return _(
                "This invitation link is not valid. Check that you opened the whole link you were sent, "
                "or ask your administrator for a new one."
            )
        case RedeemProblem.USED:
            return _(
                "This invitation link has already been used. Each link works only once; ask your administrator for a new one."
            )
        case RedeemProblem.EXPIRED:
            return _("This invitation link has expired. Ask your administrator for a new one.")
        case RedeemProblem.REVOKED:
            return _("This invitation link has been withdrawn. Ask your administrator for a new one.")
        case RedeemProblem.ACCOUNT_SUSPENDED:
            return _(
                "Your official account is suspended, so this invitation cannot be used. Contact your administrator."
            )
        case RedeemProblem.OTHER_AGENCY:
            return _(
                "You are already an official of another agency. To work for a new agency, ask the platform "
                "administrator to move your account."
            )
        case RedeemProblem.NAME_MISMATCH:
            return _(
                "This invitation is for another person. Invitations are personal; ask your administrator for your own."
            )
    raise ValueError(problem)


# --- /invite ---------------------------------------------------------------------------------


async def _target_agency(
    session: AsyncSession,
    update: Update,
    official: Official,
    code: str | None,
    what: str,
    at: datetime,
    _: Translator,
) -> Agency | str:
    """The agency an administrator's command is about (their own, or CODE), or the text refusing it."""
    agency = (
        await officials.agency_by_id(session, official.agency_id)
        if code is None
        else await officials.agency_by_code(session, code)
    )
    if agency is None or not agency.active:
        return _("No agency has the code {code}.", code=code or "")
    allowed = await authorised(session, update, agency.id, INVITING_ROLES, what, at, _)
    return allowed if isinstance(allowed, str) else agency


async def _command_target(
    s: Scope, update: Update, context: ContextTypes.DEFAULT_TYPE, what: str, now: datetime
) -> tuple[Official, Agency] | str:
    """The inviting official and the agency a command names (their own by default), or the refusal to show."""
    code = context.args[0] if context.args else None
    official = await authorised(s.session, update, None, INVITING_ROLES, what, now, s._)
    if isinstance(official, str):
        return official
    agency = await _target_agency(s.session, update, official, code, what, now, s._)
    return agency if isinstance(agency, str) else (official, agency)


async def invite_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    markup: InlineKeyboardMarkup | None = None
    async with user_scope(update, context) as s:
        _ = s._
        target = await _command_target(s, update, context, "/invite", deps_of(context).now())
        if isinstance(target, str):
            text = target
        else:
            official, agency = target
            roles = officials.grantable_roles(official, await roles_of(s.session, official.id), agency)
            rows = [[(role_button(role, _), f"{INVITE}{agency.id}:{role}")] for role in roles]
            rows.append([(_("✖️ Cancel"), INVITE_CANCEL)])
            markup = inline(rows)
            text = _("Invite an official to {agency}. Which role will they have?", agency=agency_name(agency, _))
    await message.reply_text(text, reply_markup=markup)


async def on_invite_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    assert update.effective_user is not None
    deps = deps_of(context)
    user_data = context.user_data if context.user_data is not None else {}
    if query.data == INVITE_CANCEL:
        user_data.pop(_PENDING, None)
        async with user_scope(update, context) as s:
            _ = s._
        await query.answer()
        await query.edit_message_reply_markup(reply_markup=None)
        await query.message.reply_text(_(INVITE_CANCELLED))
        return
    async with user_scope(update, context) as s:
        _ = s._
        chosen = await _choose_role(s.session, update, query.data, deps.now(), _)
    if isinstance(chosen, str):
        await query.answer(chosen, show_alert=True)
        return
    pending, prompt = chosen
    user_data[_PENDING] = pending
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    await query.message.reply_text(prompt)


async def _choose_role(
    session: AsyncSession, update: Update, data: str, now: datetime, _: Translator
) -> tuple[PendingInvite, str] | str:
    """The invitation in progress and the prompt for the name, or the text refusing the button."""
    parsed = _parse_invite_data(data)
    if parsed is None:
        return _("That button is no longer active.")
    agency_id, role = parsed
    # Checked again at the press: the administrator may have been suspended or moved since /invite.
    official = await authorised(session, update, agency_id, INVITING_ROLES, "/invite", now, _)
    if isinstance(official, str):
        return official
    agency = await officials.agency_by_id(session, agency_id)
    if agency is None or role not in officials.grantable_roles(official, await roles_of(session, official.id), agency):
        return _("Your role does not allow this.")
    prompt = _(
        "Type the full name of the person you invite as {role} of {agency}, as on their ID card. "
        "They will act in this service under this name. Send /cancel to stop.",
        role=role_label(role, _),
        agency=agency_name(agency, _),
    )
    return PendingInvite(agency_id, role, now), prompt


def _parse_invite_data(data: str) -> tuple[int, Role] | None:
    agency_id, _sep, role = data[len(INVITE) :].partition(":")
    try:
        return int(agency_id), Role(role)
    except ValueError:
        return None


async def on_pending_invite_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The full name after a role was chosen; runs before every other private-chat handler.

    Anything else (no invitation in progress, another command) is left to the
    citizen's handlers.
    """
    message = update.effective_message
    if context.user_data is None or message is None or message.text is None or update.effective_user is None:
        return
    pending: PendingInvite | None = context.user_data.get(_PENDING)
    if pending is None:
        return
    deps = deps_of(context)
    now = deps.now()
    if message.text.startswith("/"):
        context.user_data.pop(_PENDING, None)
        if message.text.split()[0].split("@")[0] != "/cancel":
            return
        async with user_scope(update, context) as s:
            _ = s._
        await message.reply_text(_(INVITE_CANCELLED))
        raise ApplicationHandlerStop
    if now - pending.started > PENDING_LIFETIME:
        context.user_data.pop(_PENDING, None)
        return
    async with user_scope(update, context) as s:
        _ = s._
        text, done = await _create_invitation(s.session, update, s.user, pending, message.text, now, context, _)
    if done:
        context.user_data.pop(_PENDING, None)
    await message.reply_text(text)
    raise ApplicationHandlerStop


async def _create_invitation(
    session: AsyncSession,
    update: Update,
    user: User,
    pending: PendingInvite,
    name: str,
    now: datetime,
    context: ContextTypes.DEFAULT_TYPE,
    _: Translator,
) -> tuple[str, bool]:
    """The reply to the typed name, and whether the /invite conversation is over."""
    official = await authorised(session, update, pending.agency_id, INVITING_ROLES, "/invite", now, _)
    if isinstance(official, str):
        return official, True
    agency = await officials.agency_by_id(session, pending.agency_id)
    assert agency is not None
    issued = await officials.create_invitation(
        session,
        agency=agency,
        role=pending.role,
        full_name=name,
        at=now,
        actor=Actor.of_user(user, official),
        inviter=official,
    )
    if issued is InviteProblem.BAD_NAME:
        return _(
            "Please type the person's real full name: family, middle and given names, letters only. "
            "Send /cancel to stop."
        ), False
    if isinstance(issued, InviteProblem):
        return _("Your role does not allow this."), True
    invitation = issued.invitation
    return _(
        "Invitation for {name}, {role} of {agency}:\n{link}\n\n"
        "The link works once, until {expires}. Send it to this person only, in a private message, "
        "never in a group.",
        name=invitation.full_name,
        role=role_label(pending.role, _),
        agency=agency_name(agency, _),
        link=issued.link(context.bot.username),
        expires=_.datetime(invitation.expires_at, deps_of(context).settings.zone),
    ), True


# --- /bindgroup and /bind --------------------------------------------------------------------------


async def bindgroup_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and update.effective_user is not None
    deps = deps_of(context)
    async with user_scope(update, context) as s:
        _ = s._
        now = deps.now()
        target = await _command_target(s, update, context, "/bindgroup", now)
        if isinstance(target, str):
            text = target
        else:
            official, agency = target
            issued = await officials.issue_bind_code(
                s.session, official, agency, at=now, actor=Actor.of_user(s.user, official)
            )
            text = _(
                "Code for linking the group chat of {agency}: {code}\n\n"
                "1. Add me to the agency's group yourself.\n"
                "2. In the group, send: /bind {code}\n\n"
                "The code works once, until {expires}. Being in the group gives nobody any rights: "
                "every button checks the person who presses it.",
                agency=agency_name(agency, _),
                code=issued.code,
                expires=_.datetime(issued.expires_at, deps.settings.zone),
            )
    await message.reply_text(text)


def group_info_keyboard(_: Translator) -> InlineKeyboardMarkup:
    return inline([[(_("ℹ️ Check my rights here"), GROUP_INFO)]])


async def bind_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat, tg_user = update.effective_message, update.effective_chat, update.effective_user
    assert message is not None and chat is not None and tg_user is not None
    deps = deps_of(context)
    _ = translator(deps.settings.default_language)
    async with deps.sessions.begin() as session:
        result = await officials.bind_group(
            session,
            code_text=" ".join(context.args or []),
            telegram_user_id=tg_user.id,
            chat_id=chat.id,
            title=chat.title or "",
            at=deps.now(),
        )
    if isinstance(result, Refusal):
        await message.reply_text(refusal_text(result, _))
        return
    if isinstance(result, BindProblem):
        await message.reply_text(bind_problem_text(result, _))
        return
    # The group it replaced (if any) is told through the outbox (bot/officials.bind_group).
    await message.reply_text(bound_text(result, _), reply_markup=None if result.already else group_info_keyboard(_))


def bound_text(result: Bound, _: Translator) -> str:
    agency = agency_name(result.agency, _)
    if result.already:
        return _("This group is already the group chat of {agency}.", agency=agency)
    return _(
        "This group is now the group chat of {agency}, linked by {name}. Reports and alerts for the "
        "agency will come here.\n\nBeing in this group gives no rights: every button checks the person "
        "who presses it. Press the button below to check yours.",
        agency=agency,
        name=result.official.full_name,
    )


def bind_problem_text(problem: BindProblem, _: Translator) -> str:
    match problem:
        case BindProblem.MALFORMED | BindProblem.UNKNOWN:
            return _(
                "This code is not valid. Send /bindgroup to me in a private chat to get a code, then /bind CODE here."
            )
        case BindProblem.USED:
            return _("This code has already been used. Send /bindgroup to me in a private chat for a new one.")
        case BindProblem.EXPIRED:
            return _("This code has expired. Send /bindgroup to me in a private chat for a new one.")
        case BindProblem.WITHDRAWN:
            return _("This code has been withdrawn. Send /bindgroup to me in a private chat for a new one.")
        case BindProblem.BOUND_TO_OTHER_AGENCY:
            return _(
                "This group is already the group chat of another agency. Use another group, or remove me from this one first."
            )
    raise ValueError(problem)


# --- the bot's own membership in groups ----------------------------------------------------------

_PRESENT = frozenset({ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED})


async def on_my_chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    change = update.my_chat_member
    if change is None or change.chat.type not in (Chat.GROUP, Chat.SUPERGROUP):
        return
    was_in = change.old_chat_member.status in _PRESENT
    is_in = change.new_chat_member.status in _PRESENT
    deps = deps_of(context)
    _ = translator(deps.settings.default_language)
    chat = change.chat
    if was_in and not is_in:
        async with deps.sessions.begin() as session:
            await officials.end_binding(
                session,
                chat.id,
                at=deps.now(),
                actor=Actor.of_account(change.from_user.id),
                reason="bot removed from the group",
            )
        return
    if was_in or not is_in:
        return
    async with deps.sessions.begin() as session:
        adder = await officials.bot_added_to_group(
            session, adder_telegram_id=change.from_user.id, chat_id=chat.id, title=chat.title or "", at=deps.now()
        )
    if isinstance(adder, Refusal):
        # A group set up by someone who is not an official could pass itself
        # off as an agency's channel; the bot does not stay in it.
        log.warning("leaving group %s (%s): added by %s, %s", chat.id, chat.title, change.from_user.id, adder.reason)
        try:
            await context.bot.send_message(chat.id, _(LEAVING))
        except TelegramError as exc:
            log.info("could not say goodbye in %s: %s", chat.id, exc)
        await context.bot.leave_chat(chat.id)
        return
    await context.bot.send_message(chat.id, _(GROUP_HELLO))


async def on_group_migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Telegram moved the group to a new id (upgraded to a supergroup): keep its binding."""
    message = update.effective_message
    if message is None or message.migrate_to_chat_id is None:
        return
    deps = deps_of(context)
    async with deps.sessions.begin() as session:
        await officials.follow_group_migration(session, message.chat.id, message.migrate_to_chat_id, at=deps.now())


async def on_group_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command in a group that no other handler took: refused in a group not bound to an agency."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    deps = deps_of(context)
    async with deps.sessions() as session:
        binding = await officials.binding_of_chat(session, chat.id)
    if binding is not None:
        return
    _ = translator(deps.settings.default_language)
    await message.reply_text(_(NOT_BOUND))


async def on_group_info(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The check button of an agency's group: answers only the person who pressed it."""
    query = update.callback_query
    assert query is not None and query.message is not None and update.effective_user is not None
    deps = deps_of(context)
    async with deps.sessions.begin() as session:
        _ = await presser_translator(session, update, deps.settings.default_language)
        binding = await officials.binding_of_chat(session, query.message.chat.id)
        if binding is None:
            text = _("This group is not linked to an agency.")
        else:
            official = await authorised(session, update, binding.agency_id, ANY_ROLE, GROUP_INFO, deps.now(), _)
            if isinstance(official, str):
                text = official
            else:
                roles = await roles_of(session, official.id)
                agency = await officials.agency_by_id(session, binding.agency_id)
                assert agency is not None
                text = _(
                    "{name}: {roles}, {agency}. You can act here.",
                    name=official.full_name,
                    agency=agency_name(agency, _),
                    roles=", ".join(role_label(role, _) for role in Role if role in roles),
                )
    await query.answer(text, show_alert=True)


# --- /officials ------------------------------------------------------------------------------------

_STATUS_LABELS = {
    OfficialStatus.ACTIVE: "",
    OfficialStatus.SUSPENDED: "⏸ ",
    OfficialStatus.REVOKED: "✖️ ",
}


async def _officials_view(
    session: AsyncSession, agency: Agency, viewer: Official, _: Translator
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The agency's officials; suspend/reinstate buttons for a platform administrator."""
    summaries = await officials.list_officials(session, agency_id=agency.id)
    lines = [_("Officials of {agency}:", agency=agency_name(agency, _))]
    if not summaries:
        lines.append(_("No officials yet. Invite one with /invite."))
    for s in summaries:
        roles = ", ".join(role_label(role, _) for role in s.roles) or "—"
        lines.append(
            f"{_STATUS_LABELS[OfficialStatus(s.official.status)]}#{s.official.id} {s.official.full_name}: {roles}"
        )
    if any(s.official.status != OfficialStatus.ACTIVE for s in summaries):
        lines.append(_("⏸ suspended, ✖️ closed"))
    if Role.PLATFORM_ADMIN not in await roles_of(session, viewer.id):
        return "\n".join(lines), None
    rows = []
    for s in summaries:
        if s.official.id == viewer.id:
            continue
        if s.official.status == OfficialStatus.ACTIVE:
            rows.append([(_("⏸ Suspend {name}", name=s.official.full_name), f"{SUSPEND}{s.official.id}")])
        elif s.official.status == OfficialStatus.SUSPENDED:
            rows.append([(_("▶️ Reinstate {name}", name=s.official.full_name), f"{REINSTATE}{s.official.id}")])
    return "\n".join(lines), inline(rows) if rows else None


async def officials_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    markup: InlineKeyboardMarkup | None = None
    async with user_scope(update, context) as s:
        target = await _command_target(s, update, context, "/officials", deps_of(context).now())
        if isinstance(target, str):
            text = target
        else:
            official, agency = target
            text, markup = await _officials_view(s.session, agency, official, s._)
    await message.reply_text(text, reply_markup=markup)


async def on_officials_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A platform administrator suspends (000 Art. 5.3) or reinstates an account from the list."""
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    assert update.effective_user is not None
    deps = deps_of(context)
    suspending = query.data.startswith(SUSPEND)
    target_id = query.data[len(SUSPEND if suspending else REINSTATE) :]
    view: tuple[str, InlineKeyboardMarkup | None] | None = None
    async with user_scope(update, context) as s:
        _ = s._
        now = deps.now()
        admin = await authorised(s.session, update, None, {Role.PLATFORM_ADMIN}, query.data, now, _)
        target = await officials.official_by_id(s.session, int(target_id)) if target_id.isdigit() else None
        if isinstance(admin, str):
            answer = admin
        elif target is None or not query.data.startswith((SUSPEND, REINSTATE)):
            answer = _("That button is no longer active.")
        elif target.id == admin.id:
            answer = _("You cannot suspend your own account here.")
        else:
            actor, reason = Actor.of_user(s.user, admin), f"in the bot by official {admin.id}"
            if suspending:
                result = await officials.suspend(
                    s.session, target, at=now, actor=actor, reason=reason, desk=deps_of(context).desk
                )
            else:
                result = await officials.reinstate(s.session, target, at=now, actor=actor, reason=reason)
            if isinstance(result, StatusProblem):
                answer = _("Nothing to change: the account is already so.")
            elif suspending:
                answer = _("Suspended: {name}. Their buttons and commands now do nothing.", name=target.full_name)
            else:
                answer = _("Reinstated: {name}.", name=target.full_name)
            agency = await officials.agency_by_id(s.session, target.agency_id)
            assert agency is not None
            view = await _officials_view(s.session, agency, admin, _)
    await query.answer(answer, show_alert=True)
    if view is not None:
        text, markup = view
        try:
            await query.edit_message_text(text, reply_markup=markup)
        except TelegramError as exc:
            log.info("could not refresh the officials list: %s", exc)
