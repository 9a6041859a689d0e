"""Messages about a report to the people it concerns, through the outbox.

The citizen hears of every step that concerns them (003 Art. 10-11): received,
rejected with the reason, asked for more, transferred, being handled, the
result with its evidence, a clarification. Officials hear of work given to or
taken from them, while they are active in the report's agency (else the agency
hears instead), and agencies of coordination requests and of reports
transferred to them. Each function enqueues
in the caller's transaction; the renderers below make the text at send time in
the recipient's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import outbox
from bot.delivery.rendering import RENDERERS, Attachment, Button, Rendered
from bot.domain.workflow import Action, Need, Rating
from bot.i18n import N_, Translator
from storage.models import (
    Agency,
    CoordinationRequest,
    GroupBinding,
    Official,
    OfficialRole,
    Report,
    ReportEvent,
    Topic,
    User,
)
from storage.models.officials import OfficialStatus, Role
from storage.models.outbox import Priority

if TYPE_CHECKING:
    from bot.domain.desk import Desk

CITIZEN_STEP = "citizen.step"
OFFICIAL_TASK = "official.task"
# A task for a handling officer who is no longer active in the report's agency goes to the agency instead.
AGENCY_TASK = "agency.task"
OFFICIAL_UNTASK = "official.untask"
AGENCY_COORDINATION = "agency.coordination"
# A report transferred to an agency with no group chat: its screeners hear of it privately.
AGENCY_TRANSFERRED = "agency.transferred"
# The agency bound another group; the one it replaced is told.
GROUP_REPLACED = "agency.group_replaced"
COORDINATION_ANSWER = "official.coordination_answer"

# Callback prefixes of the buttons these messages carry (handled in handlers/).
FOLLOW_UP = "fu"  # the citizen's answers: fu:inf:<id>, fu:cl:<id>, fu:rt:<id>:<rating>, fu:ro:<id>
WORK = "cw"  # the handling officer's private work view: cw:op:<id>
COORDINATION = "co"  # co:<request id>

FOR_CITIZEN = frozenset(
    {
        Action.RECEIVE,
        Action.REJECT,
        Action.REQUEST_INFO,
        Action.TRANSFER,
        Action.ASSIGN,
        Action.APPROVE,
        Action.ANSWER_CLARIFICATION,
    }
)


def _when(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


async def _names(session: AsyncSession, report: Report) -> dict[str, Any]:
    agency = await session.get(Agency, report.agency_id)
    topic = await session.get(Topic, report.topic_id)
    assert agency is not None and topic is not None
    return {
        "agency_vi": agency.name_vi,
        "agency_en": agency.name_en,
        "topic_vi": topic.name_vi,
        "topic_en": topic.name_en,
    }


async def _step(session: AsyncSession, desk: Desk, report: Report, event: ReportEvent) -> dict[str, Any]:
    """What a message about a step of a report says of it: which report, what happened, the next deadline."""
    return {
        "report_id": report.id,
        "code": report.code,
        "action": Action(event.kind).value,
        "tz": desk.timezone,
        "due_at": _when(report.due_at),
        **await _names(session, report),
    }


async def _to_chats(
    session: AsyncSession, chats: list[tuple[str, int | None]], kind: str, params: dict[str, Any], dedupe: str
) -> None:
    """The same message to each of an agency's chats (`_agency_chats`), once per chat."""
    for chat_id, user_id in chats:
        await outbox.enqueue(
            session,
            chat_id=chat_id,
            kind=kind,
            params=params,
            recipient_user_id=user_id,
            priority=Priority.NORMAL,
            dedupe_key=f"{dedupe}:{chat_id}",
        )


async def tell_citizen(session: AsyncSession, desk: Desk, report: Report, citizen: User, event: ReportEvent) -> None:
    action = Action(event.kind)
    params: dict[str, Any] = {
        **await _step(session, desk, report, event),
        "text": event.details.get(Need.REASON.value)
        or event.details.get(Need.QUESTION.value)
        or event.details.get(Need.ANSWER.value),
    }
    if action is Action.APPROVE:
        result = await session.scalar(
            select(ReportEvent)
            .where(ReportEvent.report_id == report.id, ReportEvent.kind == Action.SUBMIT_RESULT)
            .order_by(ReportEvent.id.desc())
            .limit(1)
        )
        assert result is not None, "approve follows a submitted result"
        params["text"] = result.details[Need.RESULT.value]
        params["evidence"] = result.details[Need.EVIDENCE.value]
    # A result or a question to answer matters more than routine progress.
    priority = Priority.ROUTINE if action in (Action.RECEIVE, Action.ASSIGN) else Priority.NORMAL
    await outbox.enqueue(
        session,
        chat_id=citizen.chat_id,
        # The citizen's own messenger, whichever it is; its sender delivers the row.
        platform=citizen.platform,
        kind=CITIZEN_STEP,
        params=params,
        recipient_user_id=citizen.id,
        priority=priority,
        dedupe_key=f"step:{event.id}",
    )


async def reachable(session: AsyncSession, official_id: int | None, agency_id: int | None) -> User | None:
    """The account of an official who may still hear about work of `agency_id` (None: of any agency).

    Nothing reaches an official who is suspended or revoked, and nothing of a
    report one who has moved to another agency: a suspended account's chat may
    be in the wrong hands (000 Art. 5.3), and a moved official no longer answers
    for the agency's reports.
    """
    official = await session.get(Official, official_id) if official_id is not None else None
    if official is None or official.status != OfficialStatus.ACTIVE:
        return None
    if agency_id is not None and official.agency_id != agency_id:
        return None
    return await session.get(User, official.user_id)


async def tell_official(
    session: AsyncSession,
    official_id: int | None,
    agency_id: int | None,
    *,
    kind: str,
    params: Mapping[str, Any],
    dedupe_key: str,
    priority: int = Priority.ROUTINE,
    not_before: datetime | None = None,
) -> bool:
    """A private message to an official who may still hear about work of `agency_id` (`reachable`); whether one may."""
    user = await reachable(session, official_id, agency_id)
    if user is None:
        return False
    await outbox.enqueue(
        session,
        chat_id=user.chat_id,
        kind=kind,
        params=params,
        recipient_user_id=user.id,
        priority=priority,
        not_before=not_before,
        dedupe_key=dedupe_key,
    )
    return True


async def tell_assignee(
    session: AsyncSession, desk: Desk, report: Report, official_id: int | None, event: ReportEvent
) -> None:
    params = {
        **await _step(session, desk, report, event),
        "text": event.details.get(Need.COMMENT.value)
        or event.details.get(Need.QUESTION.value)
        or event.details.get(Need.REASON.value),
        "description": report.description[:500],
    }
    told = await tell_official(
        session,
        official_id,
        report.agency_id,
        kind=OFFICIAL_TASK,
        params=params,
        dedupe_key=f"task:{event.id}",
        priority=Priority.NORMAL,
    )
    # The workflow only assigns active officials of the agency; what reaches a
    # past assignee later (a citizen's question, a returned result) goes to the agency.
    if not told and Action(event.kind) in _AGENCY_TASK_TEXTS:
        await _to_chats(
            session, await _agency_chats(session, report.agency_id), AGENCY_TASK, params, f"agencytask:{event.id}"
        )


async def tell_unassigned(session: AsyncSession, report: Report, official_id: int, event: ReportEvent) -> None:
    # The work is no longer theirs whatever agency they are in now.
    await tell_official(
        session,
        official_id,
        None,
        kind=OFFICIAL_UNTASK,
        params={"code": report.code, "action": event.kind},
        dedupe_key=f"untask:{event.id}",
    )


async def _agency_chats(session: AsyncSession, agency_id: int) -> list[tuple[str, int | None]]:
    """Where to reach an agency: its group, else its screeners and head privately."""
    group = await session.scalar(select(GroupBinding.chat_id).where(GroupBinding.agency_id == agency_id))
    if group is not None:
        return [(group, None)]
    rows = await session.execute(
        select(User.chat_id, User.id)
        .join(Official, Official.user_id == User.id)
        .join(OfficialRole, OfficialRole.official_id == Official.id)
        .where(
            Official.agency_id == agency_id,
            Official.status == OfficialStatus.ACTIVE,
            OfficialRole.role.in_([Role.RECEIVING_OFFICER, Role.AGENCY_HEAD]),
        )
        .distinct()
    )
    return [(chat, user_id) for chat, user_id in rows.all()]


async def tell_transferred_in(session: AsyncSession, desk: Desk, report: Report, event: ReportEvent) -> None:
    """The agency a report was transferred to screens it anew; without a group (no card) it is told privately."""
    chats = await _agency_chats(session, report.agency_id)
    if any(user_id is None for _chat, user_id in chats):
        # Its group has the card (bot/domain/cards.py).
        return
    source = await session.get(Agency, event.details.get("from_agency_id"))
    params = {
        "report_id": report.id,
        "code": report.code,
        "tz": desk.timezone,
        "due_at": _when(report.due_at),
        "reason": event.details.get(Need.REASON.value) or "",
        "description": report.description[:500],
        "from_vi": source.name_vi if source else "",
        "from_en": source.name_en if source else "",
        **await _names(session, report),
    }
    await _to_chats(session, chats, AGENCY_TRANSFERRED, params, f"transferred:{event.id}")


async def tell_replaced_group(session: AsyncSession, chat_id: str, agency: Agency) -> None:
    await outbox.enqueue(
        session, chat_id=chat_id, kind=GROUP_REPLACED, params={"agency_vi": agency.name_vi, "agency_en": agency.name_en}
    )


async def ask_agency(session: AsyncSession, desk: Desk, report: Report, request: CoordinationRequest) -> None:
    asker = await session.get(Official, request.asked_by_official_id)
    assert asker is not None
    params = {
        "request_id": request.id,
        "code": report.code,
        "question": request.question,
        "asked_by": asker.full_name,
        "description": report.description[:500],
        **await _names(session, report),
    }
    await _to_chats(
        session, await _agency_chats(session, request.to_agency_id), AGENCY_COORDINATION, params, f"coord:{request.id}"
    )


async def tell_coordination_answer(
    session: AsyncSession, desk: Desk, report: Report, request: CoordinationRequest
) -> None:
    to_agency = await session.get(Agency, request.to_agency_id)
    assert to_agency is not None
    params = {
        "report_id": report.id,
        "code": report.code,
        "answer": request.answer or "",
        "from_vi": to_agency.name_vi,
        "from_en": to_agency.name_en,
    }
    # The handler who works on it now, else the official who asked, else (both
    # gone from the agency) the agency itself.
    for official_id in (report.assignee_id, request.asked_by_official_id):
        if await tell_official(
            session,
            official_id,
            report.agency_id,
            kind=COORDINATION_ANSWER,
            params=params,
            dedupe_key=f"coordans:{request.id}",
            priority=Priority.NORMAL,
        ):
            return
    await _to_chats(
        session, await _agency_chats(session, report.agency_id), COORDINATION_ANSWER, params, f"coordans:{request.id}"
    )


# --- renderers -------------------------------------------------------------------------------

_CITIZEN_TEXTS = {
    Action.RECEIVE: N_("📥 Your report {code} was received by {agency}. It will be assigned for handling."),
    Action.REJECT: N_("⛔ Your report {code} was not accepted by {agency}.\nReason: {text}"),
    Action.REQUEST_INFO: N_(
        "❔ {agency} needs more information about your report {code}:\n{text}\n\n"
        "Press “✍️ Answer” and write your answer."
    ),
    Action.TRANSFER: N_("↪️ Your report {code} was transferred to {agency}, the competent agency.\nReason: {text}"),
    Action.ASSIGN: N_("🛠 Your report {code} is being handled by {agency}."),
    Action.APPROVE: N_("✅ The result for your report {code}, from {agency}:\n{text}"),
    Action.ANSWER_CLARIFICATION: N_("💬 {agency} answers your question about report {code}:\n{text}"),
}


def rating_buttons(report_id: int, _: Translator) -> tuple[Button, ...]:
    labels = {
        Rating.SATISFIED: N_("😊 Satisfied"),
        Rating.NORMAL: N_("😐 Normal"),
        Rating.UNSATISFIED: N_("😞 Unsatisfied"),
    }
    return tuple(
        Button(_(label), callback_data=f"{FOLLOW_UP}:rt:{report_id}:{rating.value}") for rating, label in labels.items()
    )


@RENDERERS.renderer(CITIZEN_STEP)
def render_citizen_step(params: Mapping[str, Any], _: Translator) -> Rendered:
    action = Action(params["action"])
    text = _(
        _CITIZEN_TEXTS[action],
        code=params["code"],
        agency=_.pick(params["agency_vi"], params["agency_en"]),
        text=params.get("text") or "",
    )
    report_id = params["report_id"]
    buttons: tuple[tuple[Button, ...], ...] = ()
    photos: tuple[str, ...] = ()
    documents: tuple[Attachment, ...] = ()
    if action is Action.ASSIGN and params.get("due_at"):
        when = _.datetime(datetime.fromisoformat(params["due_at"]), ZoneInfo(params["tz"]))
        text += "\n" + _("Expected by {when}.", when=when)
    if action is Action.REQUEST_INFO:
        buttons = ((Button(_("✍️ Answer"), callback_data=f"{FOLLOW_UP}:inf:{report_id}"),),)
    if action in (Action.APPROVE, Action.ANSWER_CLARIFICATION):
        text += "\n\n" + _("How was it handled? Your rating goes to the province.")
        rows = [rating_buttons(report_id, _)]
        if action is Action.APPROVE:
            text += " " + _("Within 2 days you may ask a question about the result.")
            rows.append((Button(_("❔ Ask for clarification"), callback_data=f"{FOLLOW_UP}:cl:{report_id}"),))
        buttons = tuple(rows)
    for item in params.get("evidence") or ():
        if item.get("kind") == "photo":
            photos += (item["key"],)
        else:
            documents += (Attachment(item["key"], item.get("filename") or "evidence"),)
    return Rendered(text, buttons=buttons, photo_keys=photos, documents=documents)


_TASK_TEXTS = {
    Action.ASSIGN: N_("🛠 Report {code} ({topic}) is assigned to you. Due: {due}."),
    Action.REASSIGN: N_("🛠 Report {code} ({topic}) is now assigned to you. Due: {due}."),
    Action.HANDOVER: N_("🛠 Report {code} ({topic}) was handed over to you. Due: {due}."),
    Action.RETURN: N_("↩️ The head returned your result for report {code} for rework:\n{text}"),
    Action.ASK_CLARIFICATION: N_("❔ The citizen asks for clarification of the result of report {code}:\n{text}"),
}


def _with_open_button(text: str, params: Mapping[str, Any], _: Translator) -> Rendered:
    """The text with the button that opens the report's work view (handlers/workdesk.py)."""
    open_button = Button(_("🛠 Open the report"), callback_data=f"{WORK}:op:{params['report_id']}")
    return Rendered(text, buttons=((open_button,),))


@RENDERERS.renderer(OFFICIAL_TASK)
def render_task(params: Mapping[str, Any], _: Translator) -> Rendered:
    due = _.datetime(datetime.fromisoformat(params["due_at"]), ZoneInfo(params["tz"])) if params.get("due_at") else "—"
    text = _(
        _TASK_TEXTS[Action(params["action"])],
        code=params["code"],
        topic=_.pick(params["topic_vi"], params["topic_en"]),
        due=due,
        text=params.get("text") or "",
    )
    text += "\n\n" + params["description"]
    return _with_open_button(text, params, _)


_AGENCY_TASK_TEXTS = {
    Action.ASK_CLARIFICATION: N_(
        "❔ The citizen asks for clarification of the result of report {code}:\n{text}\n\n"
        "Its handling officer is no longer available: the head answers from the card."
    ),
    Action.RETURN: N_(
        "↩️ The result of report {code} was returned for rework, but its handling officer is no "
        "longer available: reassign it from the card.\n{text}"
    ),
}


@RENDERERS.renderer(AGENCY_TASK)
def render_agency_task(params: Mapping[str, Any], _: Translator) -> Rendered:
    text = _(_AGENCY_TASK_TEXTS[Action(params["action"])], code=params["code"], text=params.get("text") or "")
    text += "\n\n" + params["description"]
    return _with_open_button(text, params, _)


@RENDERERS.renderer(OFFICIAL_UNTASK)
def render_untask(params: Mapping[str, Any], _: Translator) -> Rendered:
    return Rendered(_("Report {code} is no longer assigned to you.", code=params["code"]))


@RENDERERS.renderer(AGENCY_TRANSFERRED)
def render_transferred(params: Mapping[str, Any], _: Translator) -> Rendered:
    due = _.datetime(datetime.fromisoformat(params["due_at"]), ZoneInfo(params["tz"])) if params.get("due_at") else "—"
    text = _(
        "↪️ Report {code} ({topic}) was transferred to your agency by {source}, to be screened by {due}.\n"
        "Reason: {reason}\n\n{description}",
        code=params["code"],
        topic=_.pick(params["topic_vi"], params["topic_en"]),
        source=_.pick(params["from_vi"], params["from_en"]),
        due=due,
        reason=params["reason"],
        description=params["description"],
    )
    return _with_open_button(text, params, _)


@RENDERERS.renderer(GROUP_REPLACED)
def render_group_replaced(params: Mapping[str, Any], _: Translator) -> Rendered:
    return Rendered(
        _(
            "This group is no longer the group chat of {agency}: another group has taken over.",
            agency=_.pick(params["agency_vi"], params["agency_en"]),
        )
    )


@RENDERERS.renderer(AGENCY_COORDINATION)
def render_coordination(params: Mapping[str, Any], _: Translator) -> Rendered:
    text = _(
        "🤝 Coordination request from {agency} ({name}) about report {code}:\n{question}\n\nThe report: {description}",
        agency=_.pick(params["agency_vi"], params["agency_en"]),
        name=params["asked_by"],
        code=params["code"],
        question=params["question"],
        description=params["description"],
    )
    answer = Button(_("💬 Answer"), callback_data=f"{COORDINATION}:{params['request_id']}")
    return Rendered(text, buttons=((answer,),))


@RENDERERS.renderer(COORDINATION_ANSWER)
def render_coordination_answer(params: Mapping[str, Any], _: Translator) -> Rendered:
    text = _(
        "🤝 {agency} answered the coordination request on report {code}:\n{answer}",
        agency=_.pick(params["from_vi"], params["from_en"]),
        code=params["code"],
        answer=params["answer"],
    )
    return _with_open_button(text, params, _)
