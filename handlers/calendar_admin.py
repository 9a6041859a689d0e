"""/calendar: the platform administrator edits the province's extra days off and make-up working days.

  /calendar [YEAR]                 the year's days that differ from an ordinary week, and where each comes from
  /calendar off DATE [reason]      a day off (e.g. a substitute day the government announced)
  /calendar work DATE [reason]     a make-up working day
  /calendar remove DATE            undo an administrator's change of DATE
  cal:y:<year>                     the listing of another year
  cal:rm:<YYYY-MM-DD>              undo an administrator's change from the listing

The same service as `congdan admin calendar` (bot/domain/calendars.py `set_day`,
`remove_day`): the change applies at once, open deadlines across the day move
with it in the same transaction, this process reloads its calendars right
after the commit and the others within a tick. Only platform administrators
may (003 Art. 5.4: the focal unit administers the platform); anyone else is
refused, and the refusal is logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.deps import Deps
from bot.domain import calendars
from bot.domain.calendars import DayChange, DayEntry
from bot.domain.officials import Role
from bot.i18n import N_, Translator
from handlers.keyboards import inline
from handlers.officials import authorised
from handlers.scope import Scope, deps_of, user_scope
from storage.models import Official
from storage.models.reminders import DayKind

PREFIX = "cal:"
YEAR = "cal:y:"
REMOVE = "cal:rm:"
ADMINS = frozenset({Role.PLATFORM_ADMIN})
# Years the `holidays` package and the listing make sense for.
FIRST_YEAR, LAST_YEAR = 2000, 2100
REASON_MAX = 255

HEADING = N_("📅 Days off and make-up working days in {year}:")
NOTHING = N_("No day of {year} differs from the ordinary week.")
USAGE = N_(
    "To change a day, send:\n"
    "/calendar off DATE reason: a day off (e.g. a substitute day the government announced)\n"
    "/calendar work DATE reason: a make-up working day\n"
    "/calendar remove DATE: undo an administrator's change\n"
    "DATE as 26/11/2026 or 2026-11-26; the reason is optional. "
    "Open deadlines across the day move with it, keeping the working time they had left."
)
NOT_A_DATE = N_("“{text}” is not a date. Write it as 26/11/2026 or 2026-11-26.")
NOW_OFF = N_("✅ {day} is now a day off.")
NOW_WORKING = N_("✅ {day} is now a working day.")
ALREADY = N_("It already was; your change is recorded anyway.")
REMOVED = N_(
    "✅ Your change of {day} is removed: the public holidays and the province file decide it again (now a {state})."
)
NOT_CHANGED = N_(
    "No administrator's change of {day} to remove. Public holidays and the province file's days "
    "are changed in the province file."
)
MOVED = N_("Open deadlines moved: {n}.")
DAY_OFF = N_("day off")
WORKING_DAY = N_("working day")
SOURCE_LABELS = {
    "holidays package": N_("public holiday"),
    "province file": N_("province file"),
    "administrator": N_("administrator"),
}

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LOCAL = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_day(text: str) -> date | None:
    """26/11/2026 (as Vietnamese write it) or 2026-11-26; None for anything else."""
    text = text.strip()
    try:
        if _ISO.match(text):
            return date.fromisoformat(text)
        local = _LOCAL.match(text)
        if local:
            return date(int(local[3]), int(local[2]), int(local[1]))
    except ValueError:
        return None
    return None


def day_text(day: date, _: Translator, zone: ZoneInfo) -> str:
    return _.datetime(datetime.combine(day, time(12), tzinfo=zone), zone, "EEEE dd/MM/yyyy")


def listing_text(year: int, entries: list[DayEntry], _: Translator, zone: ZoneInfo) -> str:
    lines = [_(HEADING, year=year) if entries else _(NOTHING, year=year)]
    for entry in entries:
        what = _(WORKING_DAY) if entry.working else _(DAY_OFF)
        note = f": {entry.note}" if entry.note else ""
        lines.append(f"• {day_text(entry.day, _, zone)}: {what}, {_(SOURCE_LABELS[entry.source])}{note}")
    lines += ["", _(USAGE)]
    return "\n".join(lines)


def listing_keyboard(year: int, entries: list[DayEntry], _: Translator) -> InlineKeyboardMarkup:
    rows = [
        [(f"🗑 {entry.day:%d/%m/%Y}", f"{REMOVE}{entry.day.isoformat()}")]
        for entry in entries
        if entry.source == "administrator"
    ]
    nav = []
    if year > FIRST_YEAR:
        nav.append((f"◀️ {year - 1}", f"{YEAR}{year - 1}"))
    if year < LAST_YEAR:
        nav.append((f"{year + 1} ▶️", f"{YEAR}{year + 1}"))
    return inline([*rows, nav])


def change_text(change: DayChange, _: Translator, zone: ZoneInfo) -> str:
    day = day_text(change.day, _, zone)
    if change.kind is None:
        lines = [_(REMOVED, day=day, state=_(WORKING_DAY) if change.is_working else _(DAY_OFF))]
    else:
        lines = [_(NOW_WORKING if change.kind == DayKind.WORKING_DAY else NOW_OFF, day=day)]
        if change.was_working == change.is_working:
            lines.append(_(ALREADY))
    lines.append(_(MOVED, n=change.replanned))
    return "\n".join(lines)


@dataclass(frozen=True)
class _Command:
    """What `/calendar ...` asks for: a year to list, or a change of a day."""

    year: int | None = None
    kind: DayKind | None = None
    remove: bool = False
    day: date | None = None
    reason: str | None = None
    bad_date: str | None = None


_VERBS = {"off": DayKind.DAY_OFF, "work": DayKind.WORKING_DAY}


def parse_command(args: list[str], this_year: int) -> _Command | None:
    """The command's arguments; None when they are not one of the forms in USAGE."""
    if not args:
        return _Command(year=this_year)
    verb = args[0].lower()
    if len(args) == 1 and verb.isdigit():
        year = int(verb)
        return _Command(year=year) if FIRST_YEAR <= year <= LAST_YEAR else None
    if verb not in (*_VERBS, "remove") or len(args) < 2 or (verb == "remove" and len(args) > 2):
        return None
    day = parse_day(args[1])
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        return _Command(bad_date=args[1])
    reason = " ".join(args[2:]).strip()[:REASON_MAX] or None
    return _Command(kind=_VERBS.get(verb), remove=verb == "remove", day=day, reason=reason)


async def _authorised(s: Scope, update: Update, deps: Deps, what: str) -> Official | str:
    """The platform administrator behind the update, or the refusal to say (logged)."""
    return await authorised(s.session, update, None, ADMINS, what, deps.now(), s._)


async def _reload(deps: Deps) -> None:
    # This process sees its own change at once; the others reload within a tick.
    async with deps.sessions() as session:
        await deps.calendars.refresh(session)


async def calendar_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    deps = deps_of(context)
    zone = deps.settings.zone
    markup: InlineKeyboardMarkup | None = None
    changed = False
    async with user_scope(update, context) as s:
        _ = s._
        admin = await _authorised(s, update, deps, "/calendar")
        now = deps.now()
        command = parse_command(list(context.args or []), now.astimezone(zone).year)
        if isinstance(admin, str):
            text = admin
        elif command is None:
            text = _(USAGE)
        elif command.bad_date is not None:
            text = _(NOT_A_DATE, text=command.bad_date)
        elif command.year is not None:
            entries = await calendars.year_listing(s.session, command.year, deps.settings.timezone)
            text, markup = listing_text(command.year, entries, _, zone), listing_keyboard(command.year, entries, _)
        else:
            assert command.day is not None
            change = await _change(s.session, deps, admin, command, now)
            text = change_text(change, _, zone) if change else _(NOT_CHANGED, day=day_text(command.day, _, zone))
            changed = change is not None
    if changed:
        await _reload(deps)
    await message.reply_text(text, reply_markup=markup)


async def _change(
    session: AsyncSession, deps: Deps, admin: Official, command: _Command, now: datetime
) -> DayChange | None:
    assert command.day is not None
    if command.remove:
        return await calendars.remove_day(session, command.day, at=now, timezone_name=deps.settings.timezone)
    assert command.kind is not None
    return await calendars.set_day(
        session,
        command.day,
        command.kind,
        reason=command.reason,
        by=f"official:{admin.id}",
        at=now,
        timezone_name=deps.settings.timezone,
    )


async def on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Another year's listing, or the removal of an administrator's change from the listing."""
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    deps = deps_of(context)
    zone = deps.settings.zone
    data = query.data
    refused: str | None = None
    said: str | None = None
    view: tuple[str, InlineKeyboardMarkup] | None = None
    async with user_scope(update, context) as s:
        _ = s._
        admin = await _authorised(s, update, deps, data)
        year = int(data[len(YEAR) :]) if data.startswith(YEAR) and data[len(YEAR) :].isdigit() else None
        day = parse_day(data[len(REMOVE) :]) if data.startswith(REMOVE) else None
        if isinstance(admin, str):
            refused = admin
        elif day is not None:
            change = await calendars.remove_day(s.session, day, at=deps.now(), timezone_name=deps.settings.timezone)
            said = change_text(change, _, zone) if change else _(NOT_CHANGED, day=day_text(day, _, zone))
            year = day.year
        elif year is None or not FIRST_YEAR <= year <= LAST_YEAR:
            refused = _("That button is no longer active.")
        if refused is None:
            assert year is not None
            entries = await calendars.year_listing(s.session, year, deps.settings.timezone)
            view = listing_text(year, entries, _, zone), listing_keyboard(year, entries, _)
    if refused is not None:
        await query.answer(refused, show_alert=True)
        return
    await query.answer()
    if said is not None:
        await _reload(deps)
        await query.message.reply_text(said)
    assert view is not None
    try:
        await query.edit_message_text(view[0], reply_markup=view[1])
    except BadRequest:
        # The listing is unchanged (a second press): nothing to edit.
        pass
