"""Alerts in the bot: drafting, review, publication, progress, and what citizens follow.

Private chat:
  /newalert          an author: real, exercise or test (chosen once), then the draft card
  /alerts            alerts in force (test subscribers also see drills); an author's open drafts
  /subscribe         the settings screen: whole province, communes, test alerts, stop all
  /unsubscribe       stop every alert at once
Buttons:
  ad:…   the author's draft card (bot/domain/alerts.py does the work)
  al:…   the focal unit's review (preview, approve with a confirmation, reject with a
         comment), the one-tap cancel, viewing an alert, its CAP document, preparing an
         update or a cancellation
  sb:…   the settings screen

A job of the application's job queue (`install`) publishes scheduled alerts
when their time comes, and edits each approver's progress message in place
while their alert is delivered.

Every button checks who pressed it (bot.domain.officials.authorise); a refusal is
logged and explained, and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes

from bot.conversation import prompts
from bot.conversation.photos import rejection_text
from bot.delivery.rendering import Rendered
from bot.delivery.sender import DeliveryError
from bot.deps import Deps
from bot.domain import alerts, citizens, officials, subscriptions
from bot.domain.alerts import (
    CATEGORY_LABELS,
    CERTAINTY_LABELS,
    KIND_LABELS,
    MODE_LABELS,
    SEVERITY_ICONS,
    SEVERITY_LABELS,
    URGENCY_LABELS,
    Problem,
)
from bot.domain.officials import Refusal, Role
from bot.domain.photos import DISPLAY_SUFFIX, PhotoProblem, PhotoRejected, process_photo
from bot.i18n import N_, Translator, translator
from bot.interop import cap
from bot.platforms.telegram.transport import TelegramTransport
from handlers.answers import answerer
from handlers.keyboards import inline
from handlers.officials import refusal_text
from handlers.scope import PLATFORM, Scope, deps_of, user_scope
from storage.media import MediaKind
from storage.models import Alert, Official, PendingInput
from storage.models.alerts import FILENAME_MAX, AlertMode, AlertStatus, MessageType

log = logging.getLogger(__name__)

DRAFT = "ad:"
REVIEW = "al:"
FOLLOW = "sb:"
TEXT_PURPOSE = "alert.text"
TIME_PURPOSE = "alert.time"
FILE_PURPOSE = "alert.file"
REJECT_PURPOSE = "alert.reject"
COMMUNES_PER_PAGE = 8
DOCUMENT_MAX_BYTES = 20 * 1024 * 1024
PROGRESS_KEY = "alert_progress"
PREVIEW_HEADER = N_("👁 Preview: what subscribers will see, in Vietnamese and in English. Nothing has been sent.")
INACTIVE = N_("This alert is no longer at this step.")
NOT_SEEN = N_("Only the authors of the agency that wrote this alert and the focal unit can open it.")

FIELD_LABELS = {
    "headline_vi": N_("Headline (Vietnamese)"),
    "description_vi": N_("Text (Vietnamese)"),
    "instruction_vi": N_("What to do (Vietnamese)"),
    "headline_en": N_("Headline (English)"),
    "description_en": N_("Text (English)"),
    "instruction_en": N_("What to do (English)"),
    "onset_at": N_("Takes effect"),
    "expires_at": N_("Expires"),
    "publish_at": N_("Publish at"),
    "kind": N_("Kind"),
    "category": N_("Category"),
    "severity": N_("Severity"),
    "urgency": N_("Urgency"),
    "certainty": N_("Certainty"),
    "areas": N_("Area"),
}
CHOICE_LABELS: dict[str, dict[Any, str]] = {
    "kind": KIND_LABELS,
    "category": CATEGORY_LABELS,
    "severity": SEVERITY_LABELS,
    "urgency": URGENCY_LABELS,
    "certainty": CERTAINTY_LABELS,
}
# Quick choices of the time fields: hours from now (0: none, i.e. the default).
QUICK_TIMES = {"onset_at": (0,), "expires_at": (6, 24, 72), "publish_at": (0, 1)}
OPTIONAL_TEXTS = {"instruction_vi", "headline_en", "description_en", "instruction_en"}

PROBLEM_TEXTS = {
    Problem.NOT_FOUND: N_("This alert no longer exists."),
    Problem.NOT_YOURS: N_("This alert is not yours to change."),
    Problem.WRONG_STATE: N_(INACTIVE),
    Problem.STALE: N_("The author changed this alert since; look at the newest version."),
    Problem.SELF_APPROVAL: N_("You wrote this alert, so another official of the focal unit must approve it."),
    Problem.INCOMPLETE: N_("Fill in the headline, the text and the area first."),
    Problem.TOO_LONG: N_("That is too long."),
    Problem.EMPTY: N_("That is empty."),
    Problem.BAD_TIME: N_(
        "That time does not fit: publication and expiry must be in the future, and expiry after it takes effect."
    ),
    Problem.EXPIRED: N_("It expired before it could be published; ask the author to set a new expiry."),
    Problem.NOT_IN_FORCE: N_("The alert it changes is no longer in force."),
}


def problem_text(problem: Problem, _: Translator) -> str:
    return _(PROBLEM_TEXTS[problem])


# --- who pressed ---------------------------------------------------------------------------------


async def _official(s: Scope, update: Update, deps: Deps, roles: frozenset[Role], what: str) -> Official | str:
    assert update.effective_user is not None
    result = await officials.authorise(s.session, update.effective_user.id, None, roles)
    if isinstance(result, Refusal):
        chat = update.effective_chat
        officials.record_refusal(
            s.session,
            result,
            officials.Actor.of_user(s.user, result.official),
            at=deps.now(),
            what=what[:64],
            chat_id=str(chat.id) if chat else None,
        )
        return refusal_text(result, s._)
    return result


def _zone(deps: Deps):
    return deps.settings.zone


def _when(at: datetime | None, _: Translator, deps: Deps) -> str | None:
    return _.datetime(at, _zone(deps), "HH:mm dd/MM/yyyy") if at else None


def _short(text: str | None, limit: int = 160) -> str:
    if not text:
        return "—"
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the draft card --------------------------------------------------------------------------------


async def draft_card(
    session: AsyncSession, alert: Alert, deps: Deps, _: Translator
) -> tuple[str, InlineKeyboardMarkup | None]:
    lines = []
    banner = alerts.banner(alert.mode.value, _)
    if banner:
        lines.append(banner)
    what = {
        MessageType.ALERT: _("📝 Draft {code}", code=alert.code),
        MessageType.UPDATE: _("📝 Draft update {code}", code=alert.code),
        MessageType.CANCEL: _("📝 Draft cancellation {code}", code=alert.code),
    }[alert.msg_type]
    lines.append(f"{what} · {_(MODE_LABELS[alert.mode])} · {_(KIND_LABELS[alert.kind])}")
    if alert.references_id is not None:
        original = await alerts.alert_by_id(session, alert.references_id)
        if original is not None:
            lines.append(_("Changes {code}: {headline}", code=original.code, headline=_short(original.headline_vi, 80)))
    lines.append(_("Category: {value}", value=_(CATEGORY_LABELS[alert.category])))
    lines.append(
        _(
            "Severity: {icon} {severity} · Urgency: {urgency} · Certainty: {certainty}",
            icon=SEVERITY_ICONS[alert.severity],
            severity=_(SEVERITY_LABELS[alert.severity]),
            urgency=_(URGENCY_LABELS[alert.urgency]),
            certainty=_(CERTAINTY_LABELS[alert.certainty]),
        )
    )
    areas = await alerts.area_agencies(session, alert)
    lines.append(
        _(
            "Area: {areas}",
            areas=", ".join(_.pick(a.name_vi, a.name_en) for a in areas) if areas else _("the whole province"),
        )
    )
    for name in ("headline_vi", "description_vi", "instruction_vi", "headline_en", "description_en", "instruction_en"):
        lines.append(f"{_(FIELD_LABELS[name])}: {_short(getattr(alert, name))}")
    lines.append(_("Takes effect: {time}", time=_when(alert.onset_at, _, deps) or _("on publication")))
    lines.append(
        _(
            "Expires: {time}",
            time=_when(alert.expires_at, _, deps)
            or _("{hours} hours after it takes effect", hours=int(alerts.DEFAULT_LIFETIME.total_seconds() // 3600)),
        )
    )
    lines.append(_("Publish: {time}", time=_when(alert.publish_at, _, deps) or _("as soon as it is approved")))
    lines.append(_("Attachment: {name}", name=alert.attachment_name or _("none")))
    status = {
        AlertStatus.DRAFT: _("Status: draft"),
        AlertStatus.REJECTED: _("Status: returned: {comment}", comment=alert.decision_comment or ""),
        AlertStatus.SUBMITTED: _("Status: waiting for the focal unit's approval"),
        AlertStatus.SCHEDULED: _(
            "Status: approved, to be published at {time}", time=_when(alert.publish_at, _, deps) or ""
        ),
        AlertStatus.PUBLISHED: _("Status: published"),
        AlertStatus.WITHDRAWN: _("Status: withdrawn"),
    }[alert.status]
    lines.append(status)
    needed = await alerts.missing(session, alert)
    if needed and alert.status in (AlertStatus.DRAFT, AlertStatus.REJECTED):
        lines.append(_("Still needed: {fields}", fields=", ".join(_(FIELD_LABELS[n]) for n in needed)))
    if banner:
        lines.append(banner)
    return "\n".join(lines), _draft_buttons(alert, _)


def _draft_buttons(alert: Alert, _: Translator) -> InlineKeyboardMarkup | None:
    i = alert.id
    if alert.status in (AlertStatus.SUBMITTED, AlertStatus.SCHEDULED):
        return inline([[(_("👁 Preview"), f"{DRAFT}pv:{i}"), (_("🗑 Withdraw"), f"{DRAFT}x:{i}")]])
    if alert.status not in (AlertStatus.DRAFT, AlertStatus.REJECTED):
        return None
    rows: list[list[tuple[str, str]]] = []
    if alert.msg_type is MessageType.ALERT:
        rows.append([(_("Kind"), f"{DRAFT}c:{i}:kind"), (_("Category"), f"{DRAFT}c:{i}:category")])
    rows.append(
        [
            (_("Severity"), f"{DRAFT}c:{i}:severity"),
            (_("Urgency"), f"{DRAFT}c:{i}:urgency"),
            (_("Certainty"), f"{DRAFT}c:{i}:certainty"),
        ]
    )
    rows.append(
        [
            (_("✏️ Headline"), f"{DRAFT}t:{i}:headline_vi"),
            (_("✏️ Text"), f"{DRAFT}t:{i}:description_vi"),
            (_("✏️ What to do"), f"{DRAFT}t:{i}:instruction_vi"),
        ]
    )
    rows.append(
        [
            (_("✏️ EN headline"), f"{DRAFT}t:{i}:headline_en"),
            (_("✏️ EN text"), f"{DRAFT}t:{i}:description_en"),
            (_("✏️ EN what to do"), f"{DRAFT}t:{i}:instruction_en"),
        ]
    )
    rows.append(
        [(_("📍 Area"), f"{DRAFT}a:{i}:0"), (_("⏱ Times"), f"{DRAFT}w:{i}"), (_("📎 Attachment"), f"{DRAFT}f:{i}")]
    )
    rows.append([(_("👁 Preview"), f"{DRAFT}pv:{i}"), (_("📨 Send for approval"), f"{DRAFT}sb:{i}")])
    rows.append([(_("🗑 Discard"), f"{DRAFT}x:{i}")])
    return inline(rows)


def _back(alert_id: int, _: Translator) -> list[tuple[str, str]]:
    return [(_("↩️ Back to the draft"), f"{DRAFT}o:{alert_id}")]


# --- /newalert and the draft card's buttons ------------------------------------------------------------


async def newalert_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    deps = deps_of(context)
    async with user_scope(update, context) as s:
        author = await _official(s, update, deps, alerts.AUTHOR_ROLES, "/newalert")
        _ = s._
    if isinstance(author, str):
        await message.reply_text(author)
        return
    await message.reply_text(
        _(
            "Is this a real alert, or an exercise or a test? This cannot be changed later. "
            "Exercises and tests go only to test subscribers and are marked as such everywhere."
        ),
        reply_markup=inline(
            [
                [(_(MODE_LABELS[AlertMode.ACTUAL]), f"{DRAFT}new:{AlertMode.ACTUAL.value}")],
                [
                    (_(MODE_LABELS[AlertMode.EXERCISE]), f"{DRAFT}new:{AlertMode.EXERCISE.value}"),
                    (_(MODE_LABELS[AlertMode.TEST]), f"{DRAFT}new:{AlertMode.TEST.value}"),
                ],
            ]
        ),
    )


Outgoing = tuple[str, InlineKeyboardMarkup | None] | Rendered


@dataclass
class Answer:
    """What a press leads to: a short answer on the button, the pressed message replaced, new messages.

    `send` holds plain texts with buttons, and rendered alert messages (a
    preview: exactly what subscribers get, photo or document included).
    """

    text: str | None = None
    alert: bool = False
    edit: tuple[str, InlineKeyboardMarkup | None] | None = None
    send: list[Outgoing] = field(default_factory=list)
    document: tuple[bytes, str] | None = None


async def _reply(update: Update, context: ContextTypes.DEFAULT_TYPE, answer: Answer, *, answered: bool = False) -> None:
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    if not answered:
        await query.answer(answer.text, show_alert=answer.alert)
    elif answer.text:
        await context.bot.send_message(update.effective_chat.id, answer.text)
    chat_id = update.effective_chat.id
    if answer.edit is not None:
        try:
            await query.edit_message_text(answer.edit[0], reply_markup=answer.edit[1])
        except BadRequest as exc:
            log.info("could not edit the pressed message: %s", exc)
    await send_all(context, chat_id, answer.send)
    if answer.document is not None:
        data, name = answer.document
        await context.bot.send_document(chat_id, data, filename=name)


async def send_all(context: ContextTypes.DEFAULT_TYPE, chat_id: int, messages: Sequence[Outgoing]) -> None:
    transport = TelegramTransport(context.bot, deps_of(context).media)
    for message in messages:
        if isinstance(message, Rendered):
            try:
                await transport.send(str(chat_id), message)
            except DeliveryError as exc:
                log.warning("preview not sent: %s", exc.detail)
        else:
            await context.bot.send_message(chat_id, message[0], reply_markup=message[1])


async def on_draft(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    deps = deps_of(context)
    parts = query.data[len(DRAFT) :].split(":")
    verb, args = parts[0], parts[1:]
    async with user_scope(update, context) as s:
        answer = await _draft_action(s, update, deps, verb, args)
    await _reply(update, context, answer)


async def _draft_action(s: Scope, update: Update, deps: Deps, verb: str, args: list[str]) -> Answer:
    _ = s._
    author = await _official(s, update, deps, alerts.AUTHOR_ROLES, f"{DRAFT}{verb}")
    if isinstance(author, str):
        return Answer(author, alert=True)
    now = deps.now()
    if verb == "new":
        try:
            mode = AlertMode(args[0])
        except (IndexError, ValueError):
            return Answer(_(INACTIVE), alert=True)
        alert = await alerts.new_draft(s.session, author, mode, now)
        return Answer(edit=await draft_card(s.session, alert, deps, _))
    alert = await alerts.alert_by_id(s.session, int(args[0])) if args and args[0].isdigit() else None
    if alert is None:
        return Answer(problem_text(Problem.NOT_FOUND, _), alert=True)
    refused = await _unseen(s, alert, author, deps, f"{DRAFT}{verb}")
    if refused is not None:
        return refused
    if verb == "pv":
        return await _preview(s.session, alert, deps, _)
    if verb == "x":
        problem = await alerts.withdraw(s.session, alert, author, now, zone_name=deps.settings.timezone)
        if problem is not None:
            return Answer(problem_text(problem, _), alert=True)
        return Answer(_("Withdrawn."), edit=await draft_card(s.session, alert, deps, _))
    if verb == "o":
        return Answer(edit=await draft_card(s.session, alert, deps, _))
    problem = alerts.editable(alert, author)
    if problem is not None:
        return Answer(problem_text(problem, _), alert=True)
    return await _edit_step(s, alert, author, deps, verb, args[1:], now)


async def _unseen(s: Scope, alert: Alert, official: Official, deps: Deps, what: str) -> Answer | None:
    """A refusal, logged, if `official` may not open this alert (bot.domain.alerts.may_see)."""
    if await alerts.may_see(s.session, alert, official):
        return None
    officials.audit(
        s.session,
        officials.AuditAction.REFUSED,
        Problem.NOT_YOURS.value,
        officials.Actor.of_user(s.user, official),
        at=deps.now(),
        subject_official_id=official.id,
        what=what[:64],
        alert=alert.code,
    )
    return Answer(s._(NOT_SEEN), alert=True)


async def _edit_step(
    s: Scope, alert: Alert, author: Official, deps: Deps, verb: str, args: list[str], now: datetime
) -> Answer:
    _ = s._

    def mark(text: str) -> str:
        # Every screen about an exercise or a test says so, at the top and the bottom.
        return alerts.marked(alert.mode.value, text, _)

    async def ask(purpose: str, text: str, markup: InlineKeyboardMarkup | None = None, **data: Any) -> Answer:
        """Wait for what the author types or sends next, and tell them what it is for."""
        await prompts.ask(s.session, s.user.id, purpose, now, data={"alert_id": alert.id, **data})
        return Answer(send=[(mark(text), markup)])

    match verb, args:
        case "c", [name] if name in alerts.CHOICES:
            options = [
                (_(CHOICE_LABELS[name][member]), f"{DRAFT}s:{alert.id}:{name}:{member.value}")
                for member in alerts.CHOICES[name]
            ]
            rows = [options[i : i + 2] for i in range(0, len(options), 2)] + [_back(alert.id, _)]
            return Answer(edit=(mark(_("Choose: {field}", field=_(FIELD_LABELS[name]))), inline(rows)))
        case "s", [name, value]:
            problem = alerts.set_choice(alert, name, value, now)
            if problem is not None:
                return Answer(problem_text(problem, _), alert=True)
            return Answer(edit=await draft_card(s.session, alert, deps, _))
        case "t", [name] if name in alerts.TEXT_LIMITS:
            hint = _("Type “-” to leave it empty.") if name in OPTIONAL_TEXTS else ""
            prompt = _(
                "Type the text for “{field}” (at most {max} characters).",
                field=_(FIELD_LABELS[name]),
                max=alerts.TEXT_LIMITS[name],
            )
            return await ask(
                TEXT_PURPOSE, " ".join(filter(None, [prompt, hint, _("Send /cancel to stop.")])), field=name
            )
        case "a", [page]:
            return Answer(edit=await _areas(s.session, alert, int(page) if page.isdigit() else 0, _))
        case "ac", [agency_id, page]:
            if await alerts.toggle_area(s.session, alert, int(agency_id), now) is None:
                return Answer(_(INACTIVE), alert=True)
            return Answer(edit=await _areas(s.session, alert, int(page) if page.isdigit() else 0, _))
        case "aw", []:
            await alerts.set_whole_province(s.session, alert, now)
            return Answer(edit=await draft_card(s.session, alert, deps, _))
        case "w", []:
            rows = [[(_(FIELD_LABELS[name]), f"{DRAFT}wt:{alert.id}:{name}")] for name in alerts.TIMES]
            return Answer(edit=(mark(_("Which time?")), inline([*rows, _back(alert.id, _)])))
        case "wt", [name] if name in alerts.TIMES:
            return Answer(
                edit=(
                    mark(_("{field}: choose, or type a time.", field=_(FIELD_LABELS[name]))),
                    inline(_time_options(alert.id, name, _)),
                )
            )
        case "wq", [name, hours] if name in alerts.TIMES and hours.isdigit():
            value = now + timedelta(hours=int(hours)) if int(hours) else None
            problem = alerts.set_time(alert, name, value, now)
            if problem is not None:
                return Answer(problem_text(problem, _), alert=True)
            return Answer(edit=await draft_card(s.session, alert, deps, _))
        case "wk", [name] if name in alerts.TIMES:
            return await ask(
                TIME_PURPOSE,
                _(
                    "Type the time as HH:MM DD/MM/YYYY, for example {example}. Send /cancel to stop.",
                    example=_.datetime(now + timedelta(hours=2), _zone(deps), "HH:mm dd/MM/yyyy"),
                ),
                field=name,
            )
        case "f", []:
            rows = [[(_("🗑 Remove the attachment"), f"{DRAFT}fx:{alert.id}")]] if alert.attachment_key else []
            return await ask(
                FILE_PURPOSE,
                _("Send one photo or one document (a PDF, for example). Send /cancel to stop."),
                inline(rows) if rows else None,
            )
        case "fx", []:
            alerts.set_attachment(alert, None, None, False, now)
            await prompts.clear(s.session, s.user.id)
            return Answer(_("Attachment removed."), send=[await draft_card(s.session, alert, deps, _)])
        case "sb", []:
            told = await alerts.submit(s.session, alert, author, now)
            if isinstance(told, Problem):
                return Answer(problem_text(told, _), alert=True)
            note = (
                _("Sent to the focal unit for approval.")
                if told
                else _("Sent for approval, but no other official of the focal unit can approve it yet.")
            )
            return Answer(note, alert=not told, edit=await draft_card(s.session, alert, deps, _))
    return Answer(_(INACTIVE), alert=True)


def _time_options(alert_id: int, name: str, _: Translator) -> list[list[tuple[str, str]]]:
    quick = []
    for hours in QUICK_TIMES[name]:
        if hours == 0:
            label = {"onset_at": _("On publication"), "publish_at": _("As soon as approved")}.get(name, "")
        else:
            label = _("In {hours} h", hours=hours)
        quick.append((label, f"{DRAFT}wq:{alert_id}:{name}:{hours}"))
    return [quick, [(_("⌨️ Type a time"), f"{DRAFT}wk:{alert_id}:{name}")], _back(alert_id, _)]


async def _areas(session: AsyncSession, alert: Alert, page: int, _: Translator) -> tuple[str, InlineKeyboardMarkup]:
    chosen = set(await alerts.area_ids(session, alert))
    communes = await subscriptions.communes(session)
    pages = max(1, -(-len(communes) // COMMUNES_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = communes[page * COMMUNES_PER_PAGE : (page + 1) * COMMUNES_PER_PAGE]
    rows = [
        [(("✅ " if c.id in chosen else "⬜ ") + _.pick(c.name_vi, c.name_en), f"{DRAFT}ac:{alert.id}:{c.id}:{page}")]
        for c in shown
    ]
    nav = []
    if page > 0:
        nav.append(("◀️", f"{DRAFT}a:{alert.id}:{page - 1}"))
    if page + 1 < pages:
        nav.append(("▶️", f"{DRAFT}a:{alert.id}:{page + 1}"))
    if nav:
        rows.append(nav)
    rows.append([(("✅ " if alert.whole_province else "⬜ ") + _("The whole province"), f"{DRAFT}aw:{alert.id}")])
    rows.append(_back(alert.id, _))
    return alerts.marked(
        alert.mode.value, _("Choose the communes the alert is for, or the whole province."), _
    ), inline(rows)


async def _preview(session: AsyncSession, alert: Alert, deps: Deps, _: Translator) -> Answer:
    rendered: list[Outgoing] = [(alerts.marked(alert.mode.value, _(PREVIEW_HEADER), _), None)]
    for language in ("vi", "en"):
        params = await alerts.message_params(session, alert, language, deps.settings.timezone)
        rendered.append(alerts.message_rendered(params))
    return Answer(send=rendered)


# --- what the author types or sends ------------------------------------------------------------------------


async def _own_draft(s: Scope, update: Update, deps: Deps, row: PendingInput) -> tuple[Alert, Official] | str:
    """The draft a typed answer is for, if its author may still change it."""
    await prompts.clear(s.session, s.user.id)
    author = await _official(s, update, deps, alerts.AUTHOR_ROLES, row.purpose)
    if isinstance(author, str):
        return author
    alert = await alerts.alert_by_id(s.session, int(row.data.get("alert_id", 0)))
    if alert is None:
        return problem_text(Problem.NOT_FOUND, s._)
    problem = alerts.editable(alert, author)
    if problem is not None:
        return problem_text(problem, s._)
    return alert, author


@answerer(TEXT_PURPOSE)
async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE, s: Scope, row: PendingInput) -> str | None:
    message = update.effective_message
    assert message is not None
    deps = deps_of(context)
    if not message.text:
        return s._("Please type it as text. Send /cancel to stop.")
    found = await _own_draft(s, update, deps, row)
    if isinstance(found, str):
        return found
    alert, _author = found
    name = str(row.data.get("field"))
    value = None if message.text.strip() == "-" and name in OPTIONAL_TEXTS else message.text
    problem = alerts.set_text(alert, name, value, deps.now())
    if problem is not None:
        # Keep waiting for a better answer.
        await prompts.ask(s.session, s.user.id, TEXT_PURPOSE, deps.now(), data=dict(row.data))
        if problem is Problem.TOO_LONG:
            return s._(
                "That is too long: at most {max} characters. Type it again, shorter.", max=alerts.TEXT_LIMITS[name]
            )
        return problem_text(problem, s._)
    text, markup = await draft_card(s.session, alert, deps, s._)
    await message.reply_text(text, reply_markup=markup)
    return None


def parse_time(text: str, now: datetime, deps: Deps) -> datetime | None:
    """ "HH:MM DD/MM/YYYY", "DD/MM/YYYY HH:MM", "HH:MM DD/MM" (this year) or "HH:MM" (today), province time."""
    zone = _zone(deps)
    local_now = now.astimezone(zone)
    parts = text.replace(",", " ").split()
    clock = next((p for p in parts if ":" in p or p.lower().endswith("h")), None)
    day = next((p for p in parts if "/" in p or "-" in p), None)
    if clock is None or len(parts) > 2:
        return None
    try:
        hour, _sep, minute = clock.lower().rstrip("h").replace("h", ":").partition(":")
        hh, mm = int(hour), int(minute or 0)
        if day is None:
            d, m, y = local_now.day, local_now.month, local_now.year
        else:
            pieces = [int(x) for x in day.replace("-", "/").split("/")]
            d, m = pieces[0], pieces[1]
            y = pieces[2] if len(pieces) > 2 else local_now.year
            y = y + 2000 if y < 100 else y
        return datetime(y, m, d, hh, mm, tzinfo=zone)
    except (ValueError, IndexError):
        return None


@answerer(TIME_PURPOSE)
async def on_time(update: Update, context: ContextTypes.DEFAULT_TYPE, s: Scope, row: PendingInput) -> str | None:
    message = update.effective_message
    assert message is not None
    deps = deps_of(context)
    found = await _own_draft(s, update, deps, row)
    if isinstance(found, str):
        return found
    alert, _author = found
    at = parse_time(message.text or "", deps.now(), deps)
    problem = Problem.BAD_TIME if at is None else alerts.set_time(alert, str(row.data.get("field")), at, deps.now())
    if problem is not None:
        await prompts.ask(s.session, s.user.id, TIME_PURPOSE, deps.now(), data=dict(row.data))
        return s._("I could not use that time. Type it as HH:MM DD/MM/YYYY, in the future. Send /cancel to stop.")
    text, markup = await draft_card(s.session, alert, deps, s._)
    await message.reply_text(text, reply_markup=markup)
    return None


@answerer(FILE_PURPOSE)
async def on_other_file_input(
    update: Update, context: ContextTypes.DEFAULT_TYPE, s: Scope, row: PendingInput
) -> str | None:
    """What `on_attachment` does not take (text, a sticker...)."""
    return s._("Send one photo or one document. Send /cancel to stop.")


async def on_attachment(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo or document for a draft: downloaded outside any transaction, then attached."""
    message = update.effective_message
    if message is None or update.effective_user is None or not (message.photo or message.document):
        return
    deps = deps_of(context)
    async with deps.sessions() as session:
        user = await citizens.find(session, PLATFORM, str(update.effective_user.id))
        row = await prompts.pending(session, user.id, deps.now()) if user else None
        if user is None or row is None or row.purpose != FILE_PURPOSE:
            return
        _ = translator(user.language)
    stored = await _store(context, deps, message, _)
    reply: Outgoing
    async with user_scope(update, context) as s:
        row = await prompts.pending(s.session, s.user.id, deps.now())
        found = await _own_draft(s, update, deps, row) if row is not None and row.purpose == FILE_PURPOSE else None
        if isinstance(stored, str):
            reply = (stored, None)
            if row is not None:
                await prompts.ask(s.session, s.user.id, FILE_PURPOSE, deps.now(), data=dict(row.data))
        elif found is None:
            reply = (s._("Cancelled. Nothing was changed."), None)
        elif isinstance(found, str):
            reply = (found, None)
        else:
            alert, _author = found
            alerts.set_attachment(alert, stored[0], stored[1], stored[2], deps.now())
            reply = await draft_card(s.session, alert, deps, s._)
    await message.reply_text(reply[0], reply_markup=reply[1])
    raise ApplicationHandlerStop


async def _store(
    context: ContextTypes.DEFAULT_TYPE, deps: Deps, message: Message, _: Translator
) -> tuple[str, str, bool] | str:
    """(media key, file name, is a photo), or why it was refused."""
    if message.photo:
        largest = message.photo[-1]
        try:
            if largest.file_size is not None and largest.file_size > deps.photo_limits.max_bytes:
                raise PhotoRejected(
                    PhotoProblem.TOO_LARGE, limit_bytes=deps.photo_limits.max_bytes, size_bytes=largest.file_size
                )
            data = await _download(context, largest.file_id)
            processed = await asyncio.to_thread(process_photo, data, deps.photo_limits)
        except PhotoRejected as rejected:
            return rejection_text(rejected, _)
        # Subscribers get the display copy: no EXIF, no GPS of whoever took it.
        key = await asyncio.to_thread(deps.media.put, processed.display, kind=MediaKind.DISPLAY, suffix=DISPLAY_SUFFIX)
        return key, "photo.jpg", True
    document = message.document
    assert document is not None
    too_large = _("This file is too large. A document may be at most {mb} MB.", mb=DOCUMENT_MAX_BYTES // 1_048_576)
    if document.file_size is not None and document.file_size > DOCUMENT_MAX_BYTES:
        return too_large
    try:
        data = await _download(context, document.file_id)
    except BadRequest:
        return too_large
    name = _file_name(document.file_name)
    dot = name.rfind(".")
    suffix = name[dot:].lower() if dot > 0 and len(name) - dot <= 9 and name[dot + 1 :].isalnum() else ""
    key = await asyncio.to_thread(deps.media.put, data, kind=MediaKind.EVIDENCE, suffix=suffix)
    return key, name, False


def _file_name(name: str | None) -> str:
    """A name subscribers can save the file as: no path, no control characters, not too long."""
    cleaned = "".join(c for c in (name or "") if c.isprintable() and c not in "/\\").strip()
    return cleaned[-FILENAME_MAX:] or "alert"


async def _download(context: ContextTypes.DEFAULT_TYPE, file_id: str) -> bytes:
    tg_file = await context.bot.get_file(file_id)
    return bytes(await tg_file.download_as_bytearray())


# --- the focal unit: review, approval, rejection, cancel -------------------------------------------------------


async def on_review(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    deps = deps_of(context)
    parts = query.data[len(REVIEW) :].split(":")
    verb, numbers = parts[0], [int(p) for p in parts[1:] if p.isdigit()]
    if not numbers:
        await query.answer()
        return
    if verb == "ok":
        # Publication writes a row per recipient, which may take a second: answer the press first.
        await query.answer()
    async with user_scope(update, context) as s:
        answer, published = await _review_action(s, update, deps, verb, numbers)
    await _reply(update, context, answer, answered=verb == "ok")
    if published is not None:
        await _start_progress(context, published, update.effective_chat.id if update.effective_chat else None)


async def _review_action(
    s: Scope, update: Update, deps: Deps, verb: str, numbers: list[int]
) -> tuple[Answer, Alert | None]:
    _ = s._
    now = deps.now()
    alert = await alerts.alert_by_id(s.session, numbers[0])
    if alert is None:
        return Answer(problem_text(Problem.NOT_FOUND, _), alert=True), None
    if verb in ("v", "cap"):
        return await _view(s, alert, deps, verb), None
    if verb in ("up", "cn"):
        author = await _official(s, update, deps, alerts.AUTHOR_ROLES, f"{REVIEW}{verb}")
        if isinstance(author, str):
            return Answer(author, alert=True), None
        kind = MessageType.UPDATE if verb == "up" else MessageType.CANCEL
        draft = await alerts.draft_change(s.session, author, alert, kind, now)
        if isinstance(draft, Problem):
            return Answer(problem_text(draft, _), alert=True), None
        return Answer(send=[await draft_card(s.session, draft, deps, _)]), None
    if verb == "pv":
        viewer = await _official(s, update, deps, alerts.AUTHOR_ROLES | alerts.APPROVER_ROLES, f"{REVIEW}pv")
        if isinstance(viewer, str):
            return Answer(viewer, alert=True), None
        return await _unseen(s, alert, viewer, deps, f"{REVIEW}pv") or await _preview(s.session, alert, deps, _), None
    approver = await _official(s, update, deps, alerts.APPROVER_ROLES, f"{REVIEW}{verb}")
    if isinstance(approver, str):
        return Answer(approver, alert=True), None

    def mark(text: str) -> str:
        return alerts.marked(alert.mode.value, text, _)

    if verb == "x":
        cancel = await alerts.cancel_now(
            s.session, alert, approver, now, zone_name=deps.settings.timezone, channels=deps.settings.alert_channels
        )
        if isinstance(cancel, Problem):
            return Answer(await _ended_text(s.session, alert, deps, _) or problem_text(cancel, _), alert=True), None
        return Answer(
            mark(_("🛑 {code} is cancelled; the cancellation goes to everyone it reached.", code=alert.code)),
            alert=True,
        ), cancel
    if verb == "r":
        # From /alerts: the review message again, for whoever did not get it or lost it.
        if alert.status is not AlertStatus.SUBMITTED:
            return Answer(_(INACTIVE), alert=True), None
        rendered = alerts.review_rendered(await alerts.review_params(s.session, alert), _)
        return Answer(send=[rendered]), None
    version = numbers[1] if len(numbers) > 1 else -1
    problem = await alerts.check_decision(s.session, alert, approver, version)
    if problem is not None:
        if problem is Problem.SELF_APPROVAL:
            officials.audit(
                s.session,
                officials.AuditAction.REFUSED,
                problem.value,
                officials.Actor.of_user(s.user, approver),
                at=now,
                subject_official_id=approver.id,
                what=f"{REVIEW}{verb}",
                alert=alert.code,
            )
        return Answer(problem_text(problem, _), alert=True), None
    match verb:
        case "ap":
            return Answer(edit=await _confirmation(s.session, alert, deps, _)), None
        case "bk":
            return Answer(
                edit=(
                    mark(_("Not published yet. {code} still waits for a decision.", code=alert.code)),
                    _review_buttons(alert, _),
                )
            ), None
        case "rj":
            await prompts.ask(
                s.session, s.user.id, REJECT_PURPOSE, now, data={"alert_id": alert.id, "version": alert.version}
            )
            return Answer(
                send=[
                    (mark(_("Type why you return {code} to its author. Send /cancel to stop.", code=alert.code)), None)
                ]
            ), None
        case "ok":
            approved = await alerts.approve(
                s.session,
                alert,
                approver,
                version,
                now,
                zone_name=deps.settings.timezone,
                channels=deps.settings.alert_channels,
            )
            if isinstance(approved, Problem):
                return Answer(problem_text(approved, _), alert=True), None
            if approved.recipients is None:
                return Answer(
                    edit=(
                        mark(
                            _(
                                "✅ Approved. {code} will be published at {time}.",
                                code=alert.code,
                                time=_when(alert.publish_at, _, deps),
                            )
                        ),
                        None,
                    )
                ), None
            return Answer(edit=(mark(_("✅ Approved and published: {code}.", code=alert.code)), None)), alert
    return Answer(_(INACTIVE), alert=True), None


def _review_buttons(alert: Alert, _: Translator) -> InlineKeyboardMarkup:
    return inline(
        [
            [(_("👁 Preview"), f"{REVIEW}pv:{alert.id}")],
            [
                (_("✅ Approve"), f"{REVIEW}ap:{alert.id}:{alert.version}"),
                (_("⛔ Reject"), f"{REVIEW}rj:{alert.id}:{alert.version}"),
            ],
        ]
    )


async def _confirmation(
    session: AsyncSession, alert: Alert, deps: Deps, _: Translator
) -> tuple[str, InlineKeyboardMarkup]:
    """The last look before publishing: what mode, how many people, when."""
    people = await alerts.audience_size(session, alert)
    when = _when(alert.publish_at, _, deps) if alert.publish_at and alert.publish_at > deps.now() else None
    if alert.mode is AlertMode.ACTUAL:
        text = _(
            "⚠️ {code} is a REAL alert: “{headline}”. It will go to {n} people {when}.",
            code=alert.code,
            headline=alert.headline_vi or "",
            n=people,
            when=_("at {time}", time=when) if when else _("now"),
        )
        button = _("🚨 Publish the REAL alert")
    else:
        text = alerts.marked(
            alert.mode.value,
            _(
                "{code} will go to {n} test subscribers {when}.",
                code=alert.code,
                n=people,
                when=_("at {time}", time=when) if when else _("now"),
            ),
            _,
        )
        button = _("🧪 Publish the exercise") if alert.mode is AlertMode.EXERCISE else _("🔧 Publish the test")
    return text, inline(
        [
            [(button, f"{REVIEW}ok:{alert.id}:{alert.version}")],
            [(_("↩️ Back"), f"{REVIEW}bk:{alert.id}:{alert.version}")],
        ]
    )


async def _ended_text(session: AsyncSession, alert: Alert, deps: Deps, _: Translator) -> str | None:
    """Who ended an alert and when, for whoever presses cancel on it afterwards."""
    if alert.ended_by_id is None:
        return None
    ender = await alerts.alert_by_id(session, alert.ended_by_id)
    if ender is None or ender.approver_official_id is None:
        return None
    name = await officials.official_name(session, ender.approver_official_id)
    if name is None:
        name = "?"
    label = (
        N_("Already cancelled by {name} at {time}.")
        if ender.msg_type is MessageType.CANCEL
        else N_("Already replaced by {code}, approved by {name} at {time}.")
    )
    return _(label, name=name, code=ender.code, time=_when(alert.ended_at, _, deps) or "")


@answerer(REJECT_PURPOSE)
async def on_reject_comment(
    update: Update, context: ContextTypes.DEFAULT_TYPE, s: Scope, row: PendingInput
) -> str | None:
    message = update.effective_message
    assert message is not None
    deps = deps_of(context)
    await prompts.clear(s.session, s.user.id)
    approver = await _official(s, update, deps, alerts.APPROVER_ROLES, REJECT_PURPOSE)
    if isinstance(approver, str):
        return approver
    alert = await alerts.alert_by_id(s.session, int(row.data.get("alert_id", 0)))
    if alert is None:
        return problem_text(Problem.NOT_FOUND, s._)
    problem = await alerts.reject(
        s.session,
        alert,
        approver,
        int(row.data.get("version", -1)),
        message.text or "",
        deps.now(),
        deps.settings.timezone,
    )
    if problem is Problem.EMPTY:
        await prompts.ask(s.session, s.user.id, REJECT_PURPOSE, deps.now(), data=dict(row.data))
        return s._("Type the reason as text. Send /cancel to stop.")
    if problem is not None:
        return problem_text(problem, s._)
    return alerts.marked(
        alert.mode.value, s._("⛔ {code} was returned to its author with your comment.", code=alert.code), s._
    )


# --- /alerts: what is in force ------------------------------------------------------------------------------


async def alerts_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and update.effective_user is not None
    deps = deps_of(context)
    now = deps.now()
    async with user_scope(update, context) as s:
        _ = s._
        following = await subscriptions.following(s.session, s.user.id)
        current = await alerts.in_force(s.session, now, with_drills=following.tester)
        lines = [_("🚨 Alerts in force") if current else _("No alert is in force now.")]
        rows = []
        for alert in current:
            mark = _mode_mark(alert, _)
            headline = alert.headline_en if _.language == "en" and alert.headline_en else alert.headline_vi
            lines.append(
                f"{SEVERITY_ICONS[alert.severity]} {mark}{headline} ({alert.code}) — "
                + _("until {time}", time=_when(alert.expires_at, _, deps) or "—")
            )
            rows.append([(f"{SEVERITY_ICONS[alert.severity]} {alert.code}", f"{REVIEW}v:{alert.id}")])
        official = await officials.authorise(s.session, update.effective_user.id, None, alerts.AUTHOR_ROLES)
        if isinstance(official, Official):
            work = await alerts.open_work(s.session, official)
            if work:
                lines += ["", _("Your alerts not yet published:")]
                rows += [
                    [(f"📝 {_mode_mark(a, _)}{a.code} · {_short(a.headline_vi, 40)}", f"{DRAFT}o:{a.id}")] for a in work
                ]
            focal = await alerts.focal_work(s.session, official)
            if focal.waiting:
                lines += ["", _("Waiting for the focal unit's approval:")]
                rows += [
                    [(f"⏳ {_mode_mark(a, _)}{a.code} · {_short(a.headline_vi, 40)}", f"{REVIEW}r:{a.id}")]
                    for a in focal.waiting
                ]
            if focal.scheduled:
                lines += ["", _("Approved, to be published later (open one to call it off):")]
                rows += [
                    [(f"⏰ {_mode_mark(a, _)}{a.code} · {_when(a.publish_at, _, deps)}", f"{DRAFT}o:{a.id}")]
                    for a in focal.scheduled
                ]
    await message.reply_text("\n".join(lines), reply_markup=inline(rows) if rows else None)


def _mode_mark(alert: Alert, _: Translator) -> str:
    return "" if alert.mode is AlertMode.ACTUAL else f"{_(MODE_LABELS[alert.mode])} · "


async def _view(s: Scope, alert: Alert, deps: Deps, verb: str) -> Answer:
    _ = s._
    now = deps.now()
    following = await subscriptions.following(s.session, s.user.id)
    drills_ok = following.tester or isinstance(
        await officials.authorise(
            s.session, str(s.user.external_id), None, alerts.AUTHOR_ROLES | alerts.APPROVER_ROLES
        ),
        Official,
    )
    if alert.status is not AlertStatus.PUBLISHED or (alert.mode is not AlertMode.ACTUAL and not drills_ok):
        return Answer(_(INACTIVE), alert=True)
    if verb == "cap":
        sender = await cap.sender_of(s.session, deps.settings.alert_cap_sender)
        document = await cap.document(s.session, alert, sender=sender, zone=_zone(deps), at=now)
        return Answer(document=(document, f"{alert.code}.xml"))
    language = s.user.language if s.user.language in ("vi", "en") else "vi"
    params = await alerts.message_params(s.session, alert, language, deps.settings.timezone)
    rows = [[(_("📄 CAP 1.2 (XML)"), f"{REVIEW}cap:{alert.id}")]]
    if alerts.is_in_force(alert, now):
        if isinstance(
            await officials.authorise(s.session, str(s.user.external_id), None, alerts.AUTHOR_ROLES), Official
        ):
            rows.append(
                [
                    (_("✏️ Prepare an update"), f"{REVIEW}up:{alert.id}"),
                    (_("🛑 Prepare a cancellation"), f"{REVIEW}cn:{alert.id}"),
                ]
            )
        if isinstance(
            await officials.authorise(s.session, str(s.user.external_id), None, alerts.APPROVER_ROLES), Official
        ):
            rows.append([(_("🛑 Cancel this alert"), f"{alerts.CANCEL_NOW}{alert.id}")])
    rendered = alerts.message_rendered(params)
    return Answer(
        send=[
            Rendered(rendered.text, photo_keys=rendered.photo_keys, documents=rendered.documents),
            (alerts.marked(alert.mode.value, _("{code}: more", code=alert.code), _), inline(rows)),
        ]
    )


# --- the runner: scheduled publication and the approver's progress message ------------------------------------


@dataclass
class _Sample:
    """The last look at a delivery: for the rate, and to edit the progress message at most so often."""

    at: float
    sent: int
    edited_at: float


async def _start_progress(context: ContextTypes.DEFAULT_TYPE, alert: Alert, chat_id: int | None) -> None:
    """The progress message, to the approver, edited in place by the runner from now on."""
    deps = deps_of(context)
    await alerts.refresh_statistics(deps.engine, alert.recipients)
    async with deps.sessions.begin() as session:
        fresh = await alerts.alert_by_id(session, alert.id)
        assert fresh is not None
        user = await officials.account_of(session, fresh.approver_official_id)
        target = str(chat_id) if chat_id is not None else (user.chat_id if user else None)
        if target is None:
            return
        state = await alerts.progress(session, fresh)
        _ = translator(user.language if user else deps.settings.default_language)
        rendered = alerts.progress_rendered(
            fresh,
            state,
            None,
            _,
            finished=fresh.delivered_at is not None,
            in_force_now=alerts.is_in_force(fresh, deps.now()),
        )
    transport = TelegramTransport(context.bot, deps.media)
    try:
        message_id = await transport.send(target, rendered)
    except DeliveryError as exc:
        log.warning("progress message for %s not sent: %s", alert.code, exc.detail)
        return
    async with deps.sessions.begin() as session:
        fresh = await alerts.alert_by_id(session, alert.id)
        assert fresh is not None
        fresh.progress_platform = PLATFORM
        fresh.progress_chat_id, fresh.progress_message_id = target, message_id
    context.application.bot_data.setdefault(PROGRESS_KEY, {})[alert.id] = _Sample(time.monotonic(), state.sent, 0.0)


async def run_tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = deps_of(context)
    settings = deps.settings
    result = await alerts.tick(deps.sessions, deps.now(), zone_name=settings.timezone, channels=settings.alert_channels)
    for alert in result.published:
        await _start_progress(context, alert, None)
    samples: dict[int, _Sample] = context.application.bot_data.setdefault(PROGRESS_KEY, {})
    now = time.monotonic()
    for alert, state in result.deliveries:
        finished = alert.delivered_at is not None
        sample = samples.get(alert.id)
        if sample is None:
            samples[alert.id] = _Sample(now, state.sent, 0.0)
            if not finished:
                continue
            sample = samples[alert.id]
        if not finished and now - sample.edited_at < settings.alert_progress_seconds:
            continue
        elapsed = now - sample.at
        rate = (state.sent - sample.sent) / elapsed if elapsed > 0 else None
        samples[alert.id] = _Sample(now, state.sent, now)
        if finished:
            samples.pop(alert.id, None)
        await _edit_progress(context, alert, state, rate, finished)


async def _edit_progress(
    context: ContextTypes.DEFAULT_TYPE, alert: Alert, state: alerts.Progress, rate: float | None, finished: bool
) -> None:
    if alert.progress_chat_id is None or alert.progress_message_id is None:
        return
    deps = deps_of(context)
    async with deps.sessions() as session:
        user = await alerts.progress_reader(session, alert)
    _ = translator(user.language if user else deps.settings.default_language)
    rendered = alerts.progress_rendered(
        alert, state, rate, _, finished=finished, in_force_now=alerts.is_in_force(alert, deps.now())
    )
    try:
        await TelegramTransport(context.bot, deps.media).edit(
            alert.progress_chat_id, alert.progress_message_id, rendered
        )
    except DeliveryError as exc:
        log.info("progress of %s not edited: %s", alert.code, exc.detail)


def install(app: Application) -> None:
    """Run the alerts' runner on the application's job queue (started and stopped with the application)."""
    deps: Deps = app.bot_data["deps"]
    if app.job_queue is None:
        raise RuntimeError("alerts need python-telegram-bot's job queue (APScheduler)")
    app.job_queue.run_repeating(
        run_tick,
        interval=deps.settings.alert_tick_seconds,
        first=0.5,
        name="alerts",
        job_kwargs={"max_instances": 1, "coalesce": True},
    )
