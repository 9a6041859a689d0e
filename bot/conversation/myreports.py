"""/myreports: the citizen's own reports, page by page, and one report in full."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.conversation import followup
from bot.conversation.drafting import place_text
from bot.conversation.inputs import Sender
from bot.conversation.payloads import record_id
from bot.conversation.replies import EditButtons, Images, Reply, Rows, Say, ShowInPlace
from bot.conversation.scope import user_scope
from bot.deps import Deps
from bot.domain import reports
from bot.domain.drafts import DraftContent
from bot.domain.labels import EVENT_LABELS, STATE_LABELS
from bot.domain.reports import ReportDetail, ReportPage
from bot.domain.workflow import Action, State
from bot.i18n import N_, Translator
from storage.models import Report

PER_PAGE = 5
PREFIX = "mr:"
PAGE = "mr:p:"
OPEN = "mr:o:"
WITHDRAW = "mr:w:"
WITHDRAW_SURE = "mr:y:"
NOT_FOUND = N_("That report was not found among yours.")
TOO_LATE = N_("This report can no longer be withdrawn: the agency has already received it.")

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


def state_label(state: str, _: Translator) -> str:
    return _(STATE_LABELS[State(state)])


def page_view(page: ReportPage, _: Translator, zone: ZoneInfo) -> tuple[str, Rows]:
    if page.total == 0:
        return _("You have not sent any report yet. Press “📝 Send a report” to send one."), []
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
    return text, rows


async def show_list(deps: Deps, sender: Sender) -> list[Reply]:
    async with user_scope(deps, sender) as s:
        page = await reports.citizen_reports(s.session, s.user.id, 0, PER_PAGE)
        _ = s._
    text, rows = page_view(page, _, deps.settings.zone)
    return [Say(text, rows)]


def deadline_text(report: Report, _: Translator, zone: ZoneInfo) -> str | None:
    """The deadline of the stage the report is in now, in the reader's language and the province's time."""
    state = State(report.state)
    if state is State.NEEDS_INFO:
        return _(PAUSED)
    label = DEADLINE_LABELS.get(state)
    if label is None or report.due_at is None:
        return None
    return _(label, at=_.datetime(report.due_at, zone))


def detail_text(detail: ReportDetail, _: Translator, zone: ZoneInfo) -> str:
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


def detail_buttons(detail: ReportDetail, _: Translator, at: datetime | None = None) -> Rows:
    rows: Rows = []
    if detail.report.state == State.SUBMITTED:
        rows.append([(_("↩️ Withdraw this report"), f"{WITHDRAW}{detail.report.id}")])
    if at is not None:
        # What the citizen may do now: answer the agency, ask about the result, rate it, re-open it.
        rows += followup.step_buttons(detail.report, at, _)
    rows.append([(_("📋 Back to my reports"), f"{PAGE}0")])
    return rows


async def _detail(deps: Deps, detail: ReportDetail, _: Translator) -> list[Reply]:
    images = await asyncio.to_thread(lambda: tuple(deps.media.read(p.display_key) for p in detail.photos))
    shown: list[Reply] = [Images(images)] if images else []
    return [*shown, Say(detail_text(detail, _, deps.settings.zone), detail_buttons(detail, _, deps.now()))]


async def on_button(deps: Deps, sender: Sender, data: str) -> list[Reply]:
    detail = None
    page = None
    outcome = None
    async with user_scope(deps, sender) as s:
        _ = s._
        number = _tail_int(data)
        if data.startswith(PAGE):
            page = await reports.citizen_reports(s.session, s.user.id, number, PER_PAGE)
        elif data.startswith((OPEN, WITHDRAW)):
            detail = await reports.citizen_report(s.session, s.user.id, number)
        elif data.startswith(WITHDRAW_SURE):
            outcome = await reports.withdraw(s.session, s.user, number, deps.now())
    if page is not None:
        text, rows = page_view(page, _, deps.settings.zone)
        return [ShowInPlace(text, rows)]
    if data.startswith(OPEN):
        if detail is None:
            return [Say(_(NOT_FOUND))]
        return await _detail(deps, detail, _)
    if data.startswith(WITHDRAW):
        if detail is None or detail.report.state != State.SUBMITTED:
            return [Say(_(TOO_LATE))]
        sure = [
            [(_("Yes, withdraw it"), f"{WITHDRAW_SURE}{detail.report.id}")],
            [(_("No, keep it"), f"{OPEN}{detail.report.id}")],
        ]
        return [Say(_("Withdraw report {code}? The agency will not handle it.", code=detail.report.code), sure)]
    if outcome is None:
        return [Say(_(NOT_FOUND))]
    if outcome.ok:
        return [EditButtons([]), Say(_("Report {code} has been withdrawn.", code=outcome.report.code))]
    return [EditButtons([]), Say(_(TOO_LATE))]


def _tail_int(data: str) -> int:
    found = record_id(data.rsplit(":", 1)[-1])
    return -1 if found is None else found
