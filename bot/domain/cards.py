"""The agency card: one message per report in the agency's group chat, edited in place.

The first card of a report in an agency is an outbox row with a dedupe key
naming both; every later change enqueues an edit of that row, so the group sees
one message that follows the report (state, who holds it, next deadline) rather
than a stream of new ones. The card's parameters are a snapshot taken in the
transaction of the change; the text is made in the group's language when sent.

Buttons carry the report's version: a press on a card older than the report is
refused as stale (bot/domain/workflow.py), whoever pressed it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import outbox
from bot.delivery.rendering import RENDERERS, Button, Rendered
from bot.domain import report_photos
from bot.domain.deadlines import StageLimits
from bot.domain.labels import CARD_STATE_LABELS
from bot.domain.workflow import Action, State
from bot.i18n import N_, Translator
from storage.models import (
    Agency,
    CoordinationRequest,
    GroupBinding,
    Official,
    OutboxMessage,
    Report,
    ReportEvent,
    ReportPhoto,
    Topic,
    User,
)

if TYPE_CHECKING:
    from bot.domain.desk import Desk

KIND = "agency.card"
PREFIX = "rc"
DESCRIPTION_MAX = 700
EXTRA_MAX = 400


class Verb:
    """What a card button asks for; the callback is `rc:<verb>:<report id>:<version>`."""

    RECEIVE = "rcv"
    REJECT = "rej"
    ASK_INFO = "inf"
    TRANSFER = "trf"
    ASSIGN = "asg"
    APPROVE = "apr"
    RETURN = "ret"
    ANSWER_CLARIFICATION = "cla"
    TIMELINE = "tl"
    CONTACT = "ct"
    URGENT = "urg"


def callback(verb: str, report_id: int, version: int) -> str:
    return f"{PREFIX}:{verb}:{report_id}:{version}"


def parse_callback(data: str) -> tuple[str, int, int] | None:
    parts = data.split(":")
    if len(parts) != 4 or parts[0] != PREFIX or not parts[2].isdigit() or not parts[3].isdigit():
        return None
    return parts[1], int(parts[2]), int(parts[3])


def _dedupe_key(report_id: int, agency_id: int, chat_id: str | None = None) -> str:
    """The first card of a report in an agency; a card in a later group of the agency names that chat."""
    key = f"card:{report_id}:{agency_id}"
    return key if chat_id is None else f"{key}:{chat_id}"


async def _group_chat(session: AsyncSession, agency_id: int) -> str | None:
    return await session.scalar(select(GroupBinding.chat_id).where(GroupBinding.agency_id == agency_id))


async def _card_in(session: AsyncSession, report_id: int, agency_id: int, chat_id: str) -> OutboxMessage | None:
    """The report's card in this chat of the agency, if one was posted there.

    The agency's first card keeps the plain key; when the group's chat changes
    (a group upgraded to a supergroup gets a new id, or the agency binds another
    group), the card posted in the new chat carries a key naming it, and every
    later step edits that one.
    """
    rows = (
        await session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.dedupe_key.in_(
                    [_dedupe_key(report_id, agency_id), _dedupe_key(report_id, agency_id, chat_id)]
                )
            )
        )
    ).all()
    return next((row for row in rows if row.chat_id == chat_id), None)


async def _latest_card(session: AsyncSession, report_id: int, agency_id: int) -> OutboxMessage | None:
    """The report's card in the agency's current group, else its first card there."""
    chat_id = await _group_chat(session, agency_id)
    current = await _card_in(session, report_id, agency_id, chat_id) if chat_id is not None else None
    return current or await session.scalar(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == _dedupe_key(report_id, agency_id))
    )


async def refresh(session: AsyncSession, desk: Desk, report: Report, at: datetime) -> None:
    """Post the report's card to its agency's group, or edit the card already there."""
    chat_id = await _group_chat(session, report.agency_id)
    if chat_id is None:
        # An agency without a bound group works from /queue (bot/domain/notices.py tells it of transfers).
        return
    params = await snapshot(session, desk, report, at)
    card = await _card_in(session, report.id, report.agency_id, chat_id)
    if card is not None:
        await outbox.enqueue(session, chat_id=chat_id, kind=KIND, params=params, edit_of_id=card.id)
        return
    photos = await report_photos.display_keys(session, report.id)
    first = await session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == _dedupe_key(report.id, report.agency_id))
    )
    key = _dedupe_key(report.id, report.agency_id, None if first is None else chat_id)
    await outbox.enqueue(
        session, chat_id=chat_id, kind=KIND, params={**params, "photo_keys": list(photos)}, dedupe_key=key
    )


async def show_transferred(session: AsyncSession, desk: Desk, report: Report, old_agency_id: int, at: datetime) -> None:
    """The old agency's card says where the report went and loses its buttons."""
    card = await _latest_card(session, report.id, old_agency_id)
    if card is None:
        return
    params = await snapshot(session, desk, report, at)
    await outbox.enqueue(
        session, chat_id=card.chat_id, kind=KIND, params={**params, "transferred_away": True}, edit_of_id=card.id
    )


async def snapshot(session: AsyncSession, desk: Desk, report: Report, at: datetime) -> dict[str, Any]:
    """Everything the card shows, as plain values."""
    topic = await session.get(Topic, report.topic_id)
    agency = await session.get(Agency, report.agency_id)
    assert topic is not None and agency is not None
    assignee = await session.get(Official, report.assignee_id) if report.assignee_id else None
    citizen = await session.get(User, report.citizen_id) if report.identity_public else None
    reused = await session.scalar(
        select(ReportPhoto.id)
        .where(ReportPhoto.report_id == report.id, ReportPhoto.reused_from_report_id.is_not(None))
        .limit(1)
    )
    coordination = (
        await session.scalars(select(CoordinationRequest).where(CoordinationRequest.report_id == report.id))
    ).all()
    return {
        "report_id": report.id,
        "version": report.version,
        "code": report.code,
        "state": report.state,
        "tz": desk.timezone,
        "topic_vi": topic.name_vi,
        "topic_en": topic.name_en,
        "agency_vi": agency.name_vi,
        "agency_en": agency.name_en,
        "assignee": assignee.full_name if assignee else None,
        "due_at": report.due_at.isoformat() if report.due_at else None,
        "submitted_at": report.submitted_at.isoformat(),
        "description": _clip(report.description, DESCRIPTION_MAX),
        "place": report.address or report.place_title,
        "latitude": report.latitude,
        "longitude": report.longitude,
        "sender": citizen.full_name if citizen else None,
        "reused_photo": reused is not None,
        "coordination_open": sum(1 for c in coordination if c.answered_at is None),
        "coordination_answered": sum(1 for c in coordination if c.answered_at is not None),
        "latest": await _latest_words(session, report),
        "unsatisfied_count": report.unsatisfied_count,
        "urgent": report.urgent,
        "urgent_hours": desk.limits.urgent_handle_hours,
        "emergency_requested": report.emergency_requested,
    }


# The last thing said on the timeline that the people at the card need in front of them.
_WORDS = {
    Action.REQUEST_INFO: "question",
    Action.PROVIDE_INFO: "answer",
    Action.REJECT: "reason",
    Action.TRANSFER: "reason",
    Action.SUBMIT_RESULT: "result",
    Action.RETURN: "comment",
    Action.ASK_CLARIFICATION: "question",
    Action.ANSWER_CLARIFICATION: "answer",
    Action.REOPEN: "reason",
    Action.COORDINATION_ANSWER: "answer",
}


async def _latest_words(session: AsyncSession, report: Report) -> list[str] | None:
    event = await session.scalar(
        select(ReportEvent)
        .where(ReportEvent.report_id == report.id, ReportEvent.kind.in_(list(_WORDS)))
        .order_by(ReportEvent.id.desc())
        .limit(1)
    )
    if event is None:
        return None
    text = event.details.get(_WORDS[Action(event.kind)])
    return [event.kind, _clip(str(text), EXTRA_MAX)] if text else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- rendering -----------------------------------------------------------------------------

_LATEST_LABELS = {
    Action.REQUEST_INFO: N_("❔ Asked of the citizen: {text}"),
    Action.PROVIDE_INFO: N_("💬 The citizen answered: {text}"),
    Action.REJECT: N_("⛔ Reason: {text}"),
    Action.TRANSFER: N_("↪️ Transfer reason: {text}"),
    Action.SUBMIT_RESULT: N_("🖊 Proposed result: {text}"),
    Action.RETURN: N_("↩️ Returned by the head: {text}"),
    Action.ASK_CLARIFICATION: N_("❔ The citizen asks: {text}"),
    Action.ANSWER_CLARIFICATION: N_("💬 Clarification sent: {text}"),
    Action.REOPEN: N_("🔁 Re-opened by the citizen: {text}"),
    Action.COORDINATION_ANSWER: N_("🤝 Coordination answer: {text}"),
}


def due_text(params: Mapping[str, Any], _: Translator) -> str | None:
    if not params.get("due_at"):
        return None
    return _.datetime(datetime.fromisoformat(params["due_at"]), ZoneInfo(params["tz"]))


@RENDERERS.renderer(KIND)
def render_card(params: Mapping[str, Any], _: Translator) -> Rendered:
    state = State(params["state"])
    lines = [
        _("📋 {code} · {topic}", code=params["code"], topic=_.pick(params["topic_vi"], params["topic_en"])),
        _("Status: {state}", state=_(CARD_STATE_LABELS[state])),
    ]
    if params.get("urgent"):
        # Rows queued by an older release carry no limit: theirs was the regulation's.
        hours = params.get("urgent_hours", StageLimits.urgent_handle_hours)
        lines.insert(0, _("🚨 URGENT: {hours} working hours to handle", hours=f"{hours:g}"))
    elif params.get("emergency_requested"):
        # The citizen's word, for the screeners to weigh; "🚨 Mark urgent" decides.
        lines.insert(0, _("🚨 The citizen says this is an emergency"))
    if params.get("transferred_away"):
        lines.append(_("↪️ Transferred to {agency}", agency=_.pick(params["agency_vi"], params["agency_en"])))
    if params.get("assignee"):
        lines.append(_("Handled by: {name}", name=params["assignee"]))
    due = due_text(params, _)
    if due and not params.get("transferred_away"):
        lines.append(_("Due: {when}", when=due))
    if params.get("place"):
        lines.append(f"📍 {params['place']}")
    elif params.get("latitude") is not None:
        lines.append(f"📍 {params['latitude']:.5f}, {params['longitude']:.5f}")
    if params.get("sender"):
        lines.append(_("Sender: {name}", name=params["sender"]))
    lines.append("")
    lines.append(params["description"])
    if params.get("reused_photo"):
        lines.append(_("⚠️ A photo was already seen in another citizen's report."))
    if params.get("coordination_open") or params.get("coordination_answered"):
        lines.append(
            _(
                "🤝 Coordination: {open} waiting, {answered} answered",
                open=params.get("coordination_open", 0),
                answered=params.get("coordination_answered", 0),
            )
        )
    if params.get("unsatisfied_count"):
        lines.append(_("😞 Unsatisfied: {n} times", n=params["unsatisfied_count"]))
    latest = params.get("latest")
    if latest:
        lines.append("")
        lines.append(_(_LATEST_LABELS[Action(latest[0])], text=latest[1]))
    photo_keys = tuple(params.get("photo_keys") or ())
    return Rendered(
        "\n".join(lines),
        buttons=() if params.get("transferred_away") else card_buttons(params, _),
        photo_keys=photo_keys,
    )


URGENT_FROM = frozenset({State.SUBMITTED, State.NEEDS_INFO, State.RECEIVED, State.ASSIGNED})


def card_buttons(params: Mapping[str, Any], _: Translator) -> tuple[tuple[Button, ...], ...]:
    report_id, version = params["report_id"], params["version"]

    def b(label: str, verb: str) -> Button:
        return Button(_(label), callback_data=callback(verb, report_id, version))

    rows: list[tuple[Button, ...]] = []
    match State(params["state"]):
        case State.SUBMITTED:
            rows += [
                (b(N_("✅ Receive"), Verb.RECEIVE), b(N_("⛔ Reject"), Verb.REJECT)),
                (b(N_("❔ Ask for information"), Verb.ASK_INFO), b(N_("↪️ Transfer"), Verb.TRANSFER)),
            ]
        case State.NEEDS_INFO:
            rows += [(b(N_("⛔ Reject"), Verb.REJECT), b(N_("↪️ Transfer"), Verb.TRANSFER))]
        case State.RECEIVED:
            rows += [(b(N_("👤 Assign"), Verb.ASSIGN), b(N_("↪️ Transfer"), Verb.TRANSFER))]
        case State.ASSIGNED:
            rows += [(b(N_("👤 Reassign"), Verb.ASSIGN),)]
        case State.PENDING_APPROVAL:
            rows += [(b(N_("✅ Approve and send"), Verb.APPROVE), b(N_("↩️ Return"), Verb.RETURN))]
        case State.CLARIFYING:
            rows += [(b(N_("💬 Answer the clarification"), Verb.ANSWER_CLARIFICATION),)]
    # 003 Art. 9.2: disasters, accidents, loss of safety are handled within hours, not days.
    if not params.get("urgent") and State(params["state"]) in URGENT_FROM:
        rows.append((b(N_("🚨 Mark urgent"), Verb.URGENT),))
    rows.append((b(N_("📜 Timeline"), Verb.TIMELINE), b(N_("📞 Contact"), Verb.CONTACT)))
    return tuple(rows)
