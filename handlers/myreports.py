"""/myreports: the citizen's own reports, page by page, and one report in full."""

from __future__ import annotations

import asyncio
from datetime import datetime

from telegram import InputMediaPhoto, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.domain import reports
from bot.domain.drafts import DraftContent
from bot.domain.labels import EVENT_LABELS, STATE_LABELS
from bot.domain.reports import ReportDetail, ReportPage
from bot.domain.workflow import Action, State
from bot.i18n import N_, Translator
from handlers import followup
from handlers.keyboards import inline
from handlers.report import place_text
from handlers.scope import deps_of, user_scope
from storage.models import Report

PER_PAGE = 5
PAGE = "mr:p:"
OPEN = "mr:o:"
WITHDRAW = "mr:w:"
WITHDRAW_SURE = "mr:y:"


def state_label(state: str, _: Translator) -> str:
    return _(STATE_LABELS[State(state)])


def page_view(page: ReportPage, _: Translator, zone) -> tuple[str, object]:
    if page.total == 0:
        return _("You have not sent any report yet. Press “📝 Send a report” to send one."), None
    rows = [
        [(f"{r.code} · {state_label(r.state, _)} · {_.datetime(r.submitted_at, zone, 'dd/MM')}", f"{OPEN}{r.id}")]
        for r in page.reports
    ]
    nav = []
    if page.page > 0:
        nav.append((_("◀️ Newer"), f"{PAGE}{page.page - 1}"))
    if page.page < page.pages - 1:
        nav.append((_("Older ▶️"), f"{PAGE}{page.page + 1}"))
    if nav:
        rows.append(nav)
    text = _(
        "Your reports, newest first (page {page} of {pages}, {total} in all). Open one to see its progress.",
        page=page.page + 1,
        pages=page.pages,
        total=page.total,
    )
    return text, inline(rows)


async def show_list(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    deps = deps_of(context)
    async with user_scope(update, context) as s:
        page = await reports.citizen_reports(s.session, s.user.id, 0, PER_PAGE)
        _ = s._
    text, keyboard = page_view(page, _, deps.settings.zone)
    await message.reply_text(text, reply_markup=keyboard)


# What the citizen waits for in each stage with a running deadline (reports.due_at, which a pause,
# a resumption, a transfer and urgency move; bot/domain/casework.py).
DEADLINE_LABELS = {
    State.SUBMITTED: N_("To be received by: {at}"),
    State.RECEIVED: N_("To be assigned to an officer by: {at}"),
    State.ASSIGNED: N_("To be handled by: {at}"),
    State.PENDING_APPROVAL: N_("To be handled by: {at}"),
    State.CLARIFYING: N_("Your question to be answered by: {at}"),
}
PAUSED = N_("The agency's deadline is paused until you answer its question.")


def deadline_text(report: Report, _: Translator, zone) -> str | None:
    """The deadline of the stage the report is in now, in the reader's language and the province's time."""
    state = State(report.state)
    if state is State.NEEDS_INFO:
        return _(PAUSED)
    label = DEADLINE_LABELS.get(state)
    if label is None or report.due_at is None:
        return None
    return _(label, at=_.datetime(report.due_at, zone))


def detail_text(detail: ReportDetail, _: Translator, zone) -> str:
    r = detail.report
    content = DraftContent(latitude=r.latitude, longitude=r.longitude, address=r.address, place_title=r.place_title)
    lines = [
        _("Report {code}", code=r.code),
        _("Status: {state}", state=state_label(r.state, _)),
        _("Topic: {topic}", topic=_.pick(detail.topic.name_vi, detail.topic.name_en)),
        _("Agency: {agency}", agency=_.pick(detail.agency.name_vi, detail.agency.name_en)),
        _("Sent: {at}", at=_.datetime(r.submitted_at, zone)),
    ]
    deadline = deadline_text(r, _, zone)
    if deadline:
        lines.append(deadline)
    lines.append(_("Place: {place}", place=place_text(content, _, None)))
    lines.append(_("Your name: {identity}", identity=_("public") if r.identity_public else _("private")))
    lines.append("")
    lines.append(r.description)
    lines.append("")
    lines.append(_("History:"))
    for event in detail.events:
        label = EVENT_LABELS.get(Action(event.kind))
        if label is not None:
            lines.append(f"• {_.datetime(event.at, zone, 'HH:mm dd/MM/yyyy')} — {_(label)}")
    return "\n".join(lines)


def detail_keyboard(detail: ReportDetail, _: Translator, at: datetime | None = None):
    rows = []
    if detail.report.state == State.SUBMITTED:
        rows.append([(_("↩️ Withdraw this report"), f"{WITHDRAW}{detail.report.id}")])
    if at is not None:
        # What the citizen may do now: answer the agency, ask about the result, rate it, re-open it.
        rows += followup.step_buttons(detail.report, at, _)
    rows.append([(_("📋 Back to my reports"), f"{PAGE}0")])
    return inline(rows)


async def _send_detail(
    message: Message, context: ContextTypes.DEFAULT_TYPE, detail: ReportDetail, _: Translator
) -> None:
    deps = deps_of(context)
    files = await asyncio.to_thread(lambda: [deps.media.read(p.display_key) for p in detail.photos])
    # Telegram takes albums of 2 to 10 items; a single photo goes on its own.
    if len(files) == 1:
        await message.reply_photo(files[0])
    elif files:
        await message.reply_media_group([InputMediaPhoto(data) for data in files[:10]])
    await message.reply_text(
        detail_text(detail, _, deps.settings.zone), reply_markup=detail_keyboard(detail, _, deps.now())
    )


async def on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    await query.answer()
    deps = deps_of(context)
    data = query.data
    detail = None
    page = None
    outcome = None
    async with user_scope(update, context) as s:
        _ = s._
        number = _tail_int(data)
        if data.startswith(PAGE):
            page = await reports.citizen_reports(s.session, s.user.id, number, PER_PAGE)
        elif data.startswith((OPEN, WITHDRAW)):
            detail = await reports.citizen_report(s.session, s.user.id, number)
        elif data.startswith(WITHDRAW_SURE):
            outcome = await reports.withdraw(s.session, s.user, number, deps.now())
    message = query.message
    if page is not None:
        text, keyboard = page_view(page, _, deps.settings.zone)
        try:
            await query.edit_message_text(text, reply_markup=keyboard)
        except BadRequest:
            await message.reply_text(text, reply_markup=keyboard)
        return
    if data.startswith(OPEN):
        if detail is None:
            await message.reply_text(_("That report was not found among yours."))
            return
        await _send_detail(message, context, detail, _)
        return
    if data.startswith(WITHDRAW):
        if detail is None or detail.report.state != State.SUBMITTED:
            await message.reply_text(_("This report can no longer be withdrawn: the agency has already received it."))
            return
        await message.reply_text(
            _("Withdraw report {code}? The agency will not handle it.", code=detail.report.code),
            reply_markup=inline(
                [
                    [(_("Yes, withdraw it"), f"{WITHDRAW_SURE}{detail.report.id}")],
                    [(_("No, keep it"), f"{OPEN}{detail.report.id}")],
                ]
            ),
        )
        return
    if outcome is None:
        await message.reply_text(_("That report was not found among yours."))
        return
    await query.edit_message_reply_markup(reply_markup=None)
    if outcome.ok:
        await message.reply_text(_("Report {code} has been withdrawn.", code=outcome.report.code))
    else:
        await message.reply_text(_("This report can no longer be withdrawn: the agency has already received it."))


def _tail_int(data: str) -> int:
    try:
        return int(data.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return -1
