"""`congdan admin invite|suspend|revoke|reinstate|move|officials`: officials' accounts from the server.

The server's operator (the platform administrator at the focal unit,
003 Art. 5.4) uses these to create the first accounts, and to lock an account
at once when it is reported lost (000 Art. 5.3) even if nobody with the bot
at hand can. Every change is written to the access log with the operating
system user as the actor.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.deps import load_desk, system_clock
from bot.domain import calendars, officials
from bot.domain.officials import (
    DEFAULT_INVITATION_HOURS,
    Actor,
    InvitationRevokeProblem,
    InviteProblem,
    MoveProblem,
    OfficialStatus,
    Role,
    StatusChanged,
    StatusProblem,
)
from storage.db import create_engine, session_factory
from storage.models import Agency, Official
from storage.models.reminders import DayKind

ADMIN_COMMANDS = frozenset({"invite", "suspend", "revoke", "reinstate", "move", "officials", "calendar"})

_INVITE_PROBLEMS = {
    InviteProblem.AGENCY_INACTIVE: "the agency is not active in the province file",
    InviteProblem.ROLE_NOT_FOR_AGENCY: "this role cannot be held in this kind of agency "
    "(supervisor: the Provincial Office; focal unit and platform administrator: the focal unit)",
    InviteProblem.NOT_ALLOWED: "not allowed",
    InviteProblem.BAD_NAME: "--name must be the person's real full name: letters only, at least two words",
    InviteProblem.BAD_PHONE: "--phone is not a valid Vietnamese phone number",
    InviteProblem.BAD_HOURS: f"--hours must be between 1 and {officials.MAX_INVITATION_HOURS}",
}
_STATUS_PROBLEMS = {
    StatusProblem.ALREADY: "nothing to do, it is already {status}",
    StatusProblem.REVOKED_IS_FINAL: "the account is revoked; a person back in service needs a new invitation",
    StatusProblem.BAD_HANDOVER: "--handover-to must be another active handling officer of the same agency; "
    "nothing was changed",
}
_MOVE_PROBLEMS = {
    MoveProblem.SAME_AGENCY: "the official already works for that agency",
    MoveProblem.AGENCY_INACTIVE: "the agency is not active in the province file",
    MoveProblem.REVOKED: "the account is revoked",
    MoveProblem.BAD_HANDOVER: "--handover-to must be another active handling officer of the agency being left",
}
_INVITATION_REVOKE_PROBLEMS = {
    InvitationRevokeProblem.NOT_FOUND: "no such invitation",
    InvitationRevokeProblem.ALREADY_REDEEMED: "already used; revoke the official instead",
    InvitationRevokeProblem.ALREADY_REVOKED: "already revoked",
}


def _role(text: str) -> Role:
    try:
        return Role(text.strip().lower().replace("-", "_"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown role {text!r}; one of: {', '.join(role.value for role in Role)}"
        ) from None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_admin_commands(admin_subparsers: argparse._SubParsersAction) -> None:
    invite = admin_subparsers.add_parser(
        "invite", help="print a one-time Telegram link that makes its opener an official"
    )
    invite.add_argument("--agency", required=True, metavar="CODE", help="the agency's code in the province file")
    invite.add_argument(
        "--role", required=True, type=_role, metavar="ROLE", help=f"one of: {', '.join(role.value for role in Role)}"
    )
    invite.add_argument("--name", required=True, help="the person's real full name, as on their ID card")
    invite.add_argument("--phone", help="their phone number, to find the account by it later")
    invite.add_argument(
        "--hours",
        type=int,
        default=DEFAULT_INVITATION_HOURS,
        help=f"how long the link works (default {DEFAULT_INVITATION_HOURS})",
    )
    invite.add_argument("--bot-username", help="the bot's username; asked from Telegram with the token if omitted")

    for name, text in (
        ("suspend", "lock accounts at once, e.g. a lost or compromised phone (000 Art. 5.3)"),
        ("reinstate", "unlock suspended accounts"),
    ):
        command = admin_subparsers.add_parser(name, help=text)
        command.add_argument("--official", required=True, nargs="+", metavar="ID-or-phone")
        command.add_argument("--reason", help="recorded in the access log")
        if name == "suspend":
            command.add_argument(
                "--handover-to",
                metavar="ID-or-phone",
                help="colleague who takes over the open work (default: back to the agency's queue)",
            )

    revoke = admin_subparsers.add_parser(
        "revoke", help="close accounts of people who left the service (001 Art. 13.1.đ), or unused invitations"
    )
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--official", nargs="+", metavar="ID-or-phone")
    which.add_argument("--invitation", nargs="+", type=int, metavar="ID")
    revoke.add_argument("--reason", help="recorded in the access log")
    revoke.add_argument(
        "--handover-to",
        metavar="ID-or-phone",
        help="colleague who takes over the open work (default: back to the agency's queue)",
    )

    move = admin_subparsers.add_parser("move", help="move an official to another agency with their roles (002 Art. 11)")
    move.add_argument("--official", required=True, metavar="ID-or-phone")
    move.add_argument("--to", required=True, metavar="CODE", help="the new agency's code")
    move.add_argument(
        "--handover-to", metavar="ID-or-phone", help="colleague in the old agency who takes over the open work"
    )

    listing = admin_subparsers.add_parser("officials", help="list officials, or the pending invitations")
    listing.add_argument("--agency", metavar="CODE")
    listing.add_argument("--status", choices=[status.value for status in OfficialStatus])
    listing.add_argument("--invitations", action="store_true", help="list unused, unexpired invitations instead")

    calendar = admin_subparsers.add_parser(
        "calendar", help="days off and make-up working days beyond the holidays package and the province file"
    )
    days = calendar.add_subparsers(dest="calendar_command", required=True)
    for name, text in (
        ("add-day-off", "make DATE a day off (e.g. a substitute day the government announced)"),
        ("add-working-day", "make DATE a working day (e.g. a make-up Saturday)"),
    ):
        change = days.add_parser(name, help=text)
        change.add_argument("date", type=_date, metavar="DATE", help="YYYY-MM-DD")
        change.add_argument("--reason", help="e.g. the number of the government's notice")
    remove = days.add_parser("remove", help="undo an administrator's change of DATE")
    remove.add_argument("date", type=_date, metavar="DATE", help="YYYY-MM-DD")
    year = days.add_parser("list", help="the year's days off and make-up days, and where each comes from")
    year.add_argument("--year", type=int, help="default: this year")


async def run_admin_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run one of ADMIN_COMMANDS; 0 when everything asked for was done, 2 otherwise."""
    handlers: dict[str, Callable[[AsyncSession, argparse.Namespace, Settings, datetime], Awaitable[int]]] = {
        "suspend": _change_status,
        "reinstate": _change_status,
        "revoke": _revoke,
        "move": _move,
        "officials": _list,
        "calendar": _calendar,
    }
    bot_username = None
    if args.admin_command == "invite":
        bot_username = await _bot_username(settings, args.bot_username)
        if bot_username is None:
            return 2
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine).begin() as session:
            at = system_clock()
            if args.admin_command == "invite":
                assert bot_username is not None
                return await _invite(session, args, settings, at, bot_username)
            return await handlers[args.admin_command](session, args, settings, at)
    finally:
        await engine.dispose()


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


async def _bot_username(settings: Settings, given: str | None) -> str | None:
    if given:
        return given.lstrip("@")
    if not settings.telegram_bot_token:
        _fail("give --bot-username, or set TELEGRAM_BOT_TOKEN so the bot's username can be asked from Telegram")
        return None
    # Loaded only for this: the other commands never need Telegram's library.
    from bot.platforms.telegram.identity import IdentityUnavailable, bot_username

    try:
        return await bot_username(settings.telegram_bot_token, settings.telegram_api_base_url)
    except IdentityUnavailable as exc:
        _fail(f"could not ask Telegram for the bot's username ({exc}); give --bot-username")
        return None


def _when(at: datetime, settings: Settings) -> str:
    return at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M %Z")


async def _agency(session: AsyncSession, code: str) -> Agency | None:
    agency = await officials.agency_by_code(session, code)
    if agency is None:
        _fail(f"no agency with code {code!r}; see the province file")
    return agency


async def _official(session: AsyncSession, ref: str) -> Official | None:
    official = await officials.find_official(session, ref)
    if official is None:
        _fail(f"{ref}: no official with this id or phone number")
    return official


async def _invite(
    session: AsyncSession, args: argparse.Namespace, settings: Settings, at: datetime, bot_username: str
) -> int:
    agency = await _agency(session, args.agency)
    if agency is None:
        return 2
    issued = await officials.create_invitation(
        session,
        agency=agency,
        role=args.role,
        full_name=args.name,
        at=at,
        actor=Actor.command_line(),
        inviter=None,
        hours=args.hours,
        phone=args.phone,
    )
    if isinstance(issued, InviteProblem):
        return _fail(f"no invitation created: {_INVITE_PROBLEMS[issued]}")
    invitation = issued.invitation
    print(
        f"invitation {invitation.id}: {invitation.full_name}, {Role(invitation.role).value} of "
        f"{agency.name_vi} ({agency.code})"
    )
    print(f"works once, until {_when(invitation.expires_at, settings)}; send it to this person only, privately:")
    print(issued.link(bot_username))
    return 0


async def _handover(session: AsyncSession, args: argparse.Namespace) -> Official | None | bool:
    """The colleague named by --handover-to; None when not given, False when not found."""
    ref = getattr(args, "handover_to", None)
    if not ref:
        return None
    return await _official(session, ref) or False


async def _change_status(session: AsyncSession, args: argparse.Namespace, settings: Settings, at: datetime) -> int:
    if args.admin_command == "suspend":
        handover_to = await _handover(session, args)
        if handover_to is False:
            return 2
        desk = await load_desk(session, settings)
        suspend = functools.partial(officials.suspend, desk=desk, handover_to=handover_to)
        return await _each_official(session, args.official, "suspended", suspend, args.reason, at)
    return await _each_official(session, args.official, "reinstated", officials.reinstate, args.reason, at)


async def _each_official(
    session: AsyncSession,
    refs: list[str],
    verb: str,
    change: Callable[..., Awaitable[StatusChanged | StatusProblem]],
    reason: str | None,
    at: datetime,
) -> int:
    # Each account is handled on its own: one mistyped id must not keep the
    # others unlocked (000 Art. 5.3 asks for "at once").
    failed = False
    actor = Actor.command_line()
    for ref in refs:
        official = await _official(session, ref)
        if official is None:
            failed = True
            continue
        result = await change(session, official, at=at, actor=actor, reason=reason)
        if isinstance(result, StatusProblem):
            failed = True
            _fail(f"{ref}: {_STATUS_PROBLEMS[result].format(status=official.status)}")
            continue
        notes = []
        if result.ended_roles:
            notes.append("roles ended: " + ", ".join(result.ended_roles))
        if result.handed_over:
            notes.append(f"{result.handed_over} open assignment(s) handed over")
        if result.withdrawn_invitations or result.withdrawn_codes:
            notes.append(
                f"withdrew {result.withdrawn_invitations} unused invitation(s) and "
                f"{result.withdrawn_codes} group code(s) it issued"
            )
        suffix = f" ({'; '.join(notes)})" if notes else ""
        print(f"{verb}: official {official.id} {official.full_name}{suffix}")
    return 2 if failed else 0


async def _revoke(session: AsyncSession, args: argparse.Namespace, settings: Settings, at: datetime) -> int:
    if args.official:
        handover_to = await _handover(session, args)
        if handover_to is False:
            return 2
        revoke = functools.partial(officials.revoke, desk=await load_desk(session, settings), handover_to=handover_to)
        return await _each_official(session, args.official, "revoked", revoke, args.reason, at)
    failed = False
    for invitation_id in args.invitation:
        result = await officials.revoke_invitation(session, invitation_id, at=at, actor=Actor.command_line())
        if isinstance(result, InvitationRevokeProblem):
            failed = True
            _fail(f"invitation {invitation_id}: {_INVITATION_REVOKE_PROBLEMS[result]}")
        else:
            print(f"revoked: invitation {result.id} for {result.full_name}")
    return 2 if failed else 0


async def _move(session: AsyncSession, args: argparse.Namespace, settings: Settings, at: datetime) -> int:
    official = await _official(session, args.official)
    agency = await _agency(session, args.to)
    if official is None or agency is None:
        return 2
    handover_to = await _handover(session, args)
    if handover_to is False:
        return 2
    moved = await officials.move_official(
        session,
        official,
        agency,
        at=at,
        actor=Actor.command_line(),
        desk=await load_desk(session, settings),
        handover_to=handover_to,
    )
    if isinstance(moved, MoveProblem):
        return _fail(f"not moved: {_MOVE_PROBLEMS[moved]}")
    print(f"moved: official {official.id} {official.full_name} to {agency.name_vi} ({agency.code})")
    print("roles kept: " + (", ".join(moved.roles_moved) or "none"))
    if moved.roles_ended:
        print("roles ended (not held in this kind of agency): " + ", ".join(moved.roles_ended))
    print(f"open assignments handed over: {moved.reassigned}")
    return 0


async def _list(session: AsyncSession, args: argparse.Namespace, settings: Settings, at: datetime) -> int:
    agency = None
    if args.agency:
        agency = await _agency(session, args.agency)
        if agency is None:
            return 2
    if args.invitations:
        return await _list_invitations(session, agency, settings, at)
    summaries = await officials.list_officials(
        session,
        agency_id=agency.id if agency else None,
        statuses=[OfficialStatus(args.status)] if args.status else None,
    )
    if not summaries:
        print("no officials")
        return 0
    print(f"{'ID':>5}  {'STATUS':<9}  {'AGENCY':<10}  {'PHONE':<12}  {'NAME':<28}  ROLES")
    for s in summaries:
        print(
            f"{s.official.id:>5}  {s.official.status:<9}  {s.agency.code:<10}  {s.official.phone or '-':<12}  "
            f"{s.official.full_name:<28}  {', '.join(s.roles) or '-'}"
        )
    return 0


async def _list_invitations(session: AsyncSession, agency: Agency | None, settings: Settings, at: datetime) -> int:
    pending = await officials.pending_invitations(session, at=at, agency_id=agency.id if agency else None)
    if not pending:
        print("no pending invitations")
        return 0
    codes = {a.id: a.code for a in await officials.agencies_by_id(session, {i.agency_id for i in pending})}
    print(f"{'ID':>5}  {'AGENCY':<10}  {'ROLE':<18}  {'EXPIRES':<20}  NAME")
    for i in pending:
        print(f"{i.id:>5}  {codes[i.agency_id]:<10}  {i.role:<18}  {_when(i.expires_at, settings):<20}  {i.full_name}")
    return 0


async def _calendar(session: AsyncSession, args: argparse.Namespace, settings: Settings, at: datetime) -> int:
    """Running bots pick the change up within a tick (bot/calendars.CalendarCache); open deadlines across it move."""
    who = Actor.command_line().external_id
    if args.calendar_command == "list":
        year = args.year or at.astimezone(settings.zone).year
        for entry in await calendars.year_listing(session, year, settings.timezone):
            status = "working" if entry.working else "day off"
            note = f"  {entry.note}" if entry.note else ""
            print(f"{entry.day:%Y-%m-%d} {entry.day:%a}  {status:<8} {entry.source}{note}")
        return 0
    if args.calendar_command == "remove":
        removed = await calendars.remove_day(session, args.date, at=at, timezone_name=settings.timezone)
        if removed is None:
            return _fail(
                f"{args.date}: no change of this day was made here (province file and package days "
                "are changed in the file)"
            )
        print(
            f"removed: {args.date} is again as the province file and the holidays package say; "
            f"{removed.replanned} open deadline(s) moved"
        )
        return 0
    kind = DayKind.DAY_OFF if args.calendar_command == "add-day-off" else DayKind.WORKING_DAY
    change = await calendars.set_day(
        session, args.date, kind, reason=args.reason, by=who, at=at, timezone_name=settings.timezone
    )
    wanted_working = kind == DayKind.WORKING_DAY
    label = "a working day" if wanted_working else "a day off"
    if change.was_working == wanted_working:
        print(f"note: {args.date} already was {label}; recorded anyway")
    print(
        f"{args.date:%Y-%m-%d} ({args.date:%A}) is now {label}; running bots use it within a minute; "
        f"{change.replanned} open deadline(s) across it moved, keeping the working time they had left"
    )
    return 0
