"""Messages about a report to the people it concerns, through the outbox.

The citizen hears of every step that concerns them (003 Art. 10-11): received,
rejected with the reason, asked for more, transferred, being handled, the
result with its evidence, a clarification. Officials hear of work given to or
taken from them, and agencies of coordination requests. Each function enqueues
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

from bot import outbox
from bot.i18n import N_, Translator
from bot.rendering import RENDERERS, Attachment, Button, Rendered
from bot.workflow import Action, Need, Rating
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
    from bot.casework import Desk

CITIZEN_STEP = "citizen.step"
OFFICIAL_TASK = "official.task"
OFFICIAL_UNTASK = "official.untask"
AGENCY_COORDINATION = "agency.coordination"
COORDINATION_ANSWER = "official.coordination_answer"

# Callback prefixes of the buttons these messages carry (handled in handlers/).
FOLLOW_UP = "fu"  # the citizen's answers: fu:inf:<id>, fu:cl:<id>, fu:rt:<id>:<rating>, fu:ro:<id>
WORK = "cw"  # the handling officer's private work view: cw:op:<id>
COORDINATION = "co"  # co:<request id>

FOR_CITIZEN = frozenset({
    Action.RECEIVE, Action.REJECT, Action.REQUEST_INFO, Action.TRANSFER, Action.ASSIGN, Action.APPROVE,
    Action.ANSWER_CLARIFICATION,
})


def _when(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


async def _names(session: AsyncSession, report: Report) -> dict[str, Any]:
    agency = await session.get(Agency, report.agency_id)
    topic = await session.get(Topic, report.topic_id)
    assert agency is not None and topic is not None
    return {"agency_vi": agency.name_vi, "agency_en": agency.name_en,
            "topic_vi": topic.name_vi, "topic_en": topic.name_en}


async def tell_citizen(session: AsyncSession, desk: Desk, report: Report, citizen: User, event: ReportEvent) -> None:
    action = Action(event.kind)
    params: dict[str, Any] = {
        "report_id": report.id, "code": report.code, "action": action.value, "tz": desk.timezone,
        "due_at": _when(report.due_at), **await _names(session, report),
        "text": event.details.get(Need.REASON.value) or event.details.get(Need.QUESTION.value)
        or event.details.get(Need.ANSWER.value),
    }
    if action is Action.APPROVE:
        result = await session.scalar(
            select(ReportEvent).where(ReportEvent.report_id == report.id, ReportEvent.kind == Action.SUBMIT_RESULT)
            .order_by(ReportEvent.id.desc()).limit(1)
        )
        assert result is not None, "approve follows a submitted result"
        params["text"] = result.details[Need.RESULT.value]
        params["evidence"] = result.details[Need.EVIDENCE.value]
    # A result or a question to answer matters more than routine progress.
    priority = Priority.ROUTINE if action in (Action.RECEIVE, Action.ASSIGN) else Priority.NORMAL
    await outbox.enqueue(session, chat_id=citizen.chat_id, kind=CITIZEN_STEP, params=params,
                         recipient_user_id=citizen.id, priority=priority,
                         dedupe_key=f"step:{event.id}")


async def tell_assignee(session: AsyncSession, desk: Desk, report: Report, official_id: int,
                        event: ReportEvent) -> None:
    official = await session.get(Official, official_id)
    if official is None:
        return
    user = await session.get(User, official.user_id)
    assert user is not None
    params = {
        "report_id": report.id, "code": report.code, "action": event.kind, "tz": desk.timezone,
        "due_at": _when(report.due_at), **await _names(session, report),
        "text": event.details.get(Need.COMMENT.value) or event.details.get(Need.QUESTION.value)
        or event.details.get(Need.REASON.value),
        "description": report.description[:500],
    }
    await outbox.enqueue(session, chat_id=user.chat_id, kind=OFFICIAL_TASK, params=params,
                         recipient_user_id=user.id, priority=Priority.NORMAL, dedupe_key=f"task:{event.id}")


async def tell_unassigned(session: AsyncSession, report: Report, official_id: int, event: ReportEvent) -> None:
    official = await session.get(Official, official_id)
    if official is None or official.status != OfficialStatus.ACTIVE:
        # A suspended or revoked account's chat may be in the wrong hands.
        return
    user = await session.get(User, official.user_id)
    assert user is not None
    await outbox.enqueue(session, chat_id=user.chat_id, kind=OFFICIAL_UNTASK,
                         params={"code": report.code, "action": event.kind},
                         recipient_user_id=user.id, dedupe_key=f"untask:{event.id}")


async def _agency_chats(session: AsyncSession, agency_id: int) -> list[tuple[str, int | None]]:
    """Where to reach an agency: its group, else its screeners and head privately."""
    group = await session.scalar(select(GroupBinding.chat_id).where(GroupBinding.agency_id == agency_id))
    if group is not None:
        return [(group, None)]
    rows = await session.execute(
        select(User.chat_id, User.id)
        .join(Official, Official.user_id == User.id)
        .join(OfficialRole, OfficialRole.official_id == Official.id)
        .where(Official.agency_id == agency_id, Official.status == OfficialStatus.ACTIVE,
               OfficialRole.role.in_([Role.RECEIVING_OFFICER, Role.AGENCY_HEAD]))
        .distinct()
    )
    return [(chat, user_id) for chat, user_id in rows.all()]


async def ask_agency(session: AsyncSession, desk: Desk, report: Report, request: CoordinationRequest) -> None:
    asker = await session.get(Official, request.asked_by_official_id)
    assert asker is not None
    params = {
        "request_id": request.id, "code": report.code, "question": request.question,
        "asked_by": asker.full_name, "description": report.description[:500], **await _names(session, report),
    }
    for chat_id, user_id in await _agency_chats(session, request.to_agency_id):
        await outbox.enqueue(session, chat_id=chat_id, kind=AGENCY_COORDINATION, params=params,
                             recipient_user_id=user_id, priority=Priority.NORMAL,
                             dedupe_key=f"coord:{request.id}:{chat_id}")


async def tell_coordination_answer(session: AsyncSession, desk: Desk, report: Report,
                                   request: CoordinationRequest) -> None:
    to_agency = await session.get(Agency, request.to_agency_id)
    assert to_agency is not None
    # The handler who works on it now, else the official who asked.
    recipient_id = report.assignee_id or request.asked_by_official_id
    official = await session.get(Official, recipient_id)
    if official is None:
        return
    user = await session.get(User, official.user_id)
    assert user is not None
    await outbox.enqueue(session, chat_id=user.chat_id, kind=COORDINATION_ANSWER, params={
        "report_id": report.id, "code": report.code, "answer": request.answer or "",
        "from_vi": to_agency.name_vi, "from_en": to_agency.name_en,
    }, recipient_user_id=user.id, priority=Priority.NORMAL, dedupe_key=f"coordans:{request.id}")


# --- renderers -------------------------------------------------------------------------------

_CITIZEN_TEXTS = {
    Action.RECEIVE: N_("📥 Your report {code} was received by {agency}. It will be assigned for handling."),
    Action.REJECT: N_("⛔ Your report {code} was not accepted by {agency}.\nReason: {text}"),
    Action.REQUEST_INFO: N_("❔ {agency} needs more information about your report {code}:\n{text}\n\n"
                            "Press “✍️ Answer” and write your answer."),
    Action.TRANSFER: N_("↪️ Your report {code} was transferred to {agency}, the competent agency.\nReason: {text}"),
    Action.ASSIGN: N_("🛠 Your report {code} is being handled by {agency}."),
    Action.APPROVE: N_("✅ The result for your report {code}, from {agency}:\n{text}"),
    Action.ANSWER_CLARIFICATION: N_("💬 {agency} answers your question about report {code}:\n{text}"),
}


def rating_buttons(report_id: int, _: Translator) -> tuple[Button, ...]:
    labels = {Rating.SATISFIED: N_("😊 Satisfied"), Rating.NORMAL: N_("😐 Normal"),
              Rating.UNSATISFIED: N_("😞 Unsatisfied")}
    return tuple(Button(_(label), callback_data=f"{FOLLOW_UP}:rt:{report_id}:{rating.value}")
                 for rating, label in labels.items())


@RENDERERS.renderer(CITIZEN_STEP)
def render_citizen_step(params: Mapping[str, Any], _: Translator) -> Rendered:
    action = Action(params["action"])
    text = _(_CITIZEN_TEXTS[action], code=params["code"], agency=_.pick(params["agency_vi"], params["agency_en"]),
             text=params.get("text") or "")
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


@RENDERERS.renderer(OFFICIAL_TASK)
def render_task(params: Mapping[str, Any], _: Translator) -> Rendered:
    due = (_.datetime(datetime.fromisoformat(params["due_at"]), ZoneInfo(params["tz"]))
           if params.get("due_at") else "—")
    text = _(_TASK_TEXTS[Action(params["action"])], code=params["code"],
             topic=_.pick(params["topic_vi"], params["topic_en"]), due=due, text=params.get("text") or "")
    text += "\n\n" + params["description"]
    open_button = Button(_("🛠 Open the report"), callback_data=f"{WORK}:op:{params['report_id']}")
    return Rendered(text, buttons=((open_button,),))


@RENDERERS.renderer(OFFICIAL_UNTASK)
def render_untask(params: Mapping[str, Any], _: Translator) -> Rendered:
    return Rendered(_("Report {code} is no longer assigned to you.", code=params["code"]))


@RENDERERS.renderer(AGENCY_COORDINATION)
def render_coordination(params: Mapping[str, Any], _: Translator) -> Rendered:
    text = _(
        "🤝 Coordination request from {agency} ({name}) about report {code}:\n{question}\n\nThe report: {description}",
        agency=_.pick(params["agency_vi"], params["agency_en"]), name=params["asked_by"], code=params["code"],
        question=params["question"], description=params["description"],
    )
    answer = Button(_("💬 Answer"), callback_data=f"{COORDINATION}:{params['request_id']}")
    return Rendered(text, buttons=((answer,),))


@RENDERERS.renderer(COORDINATION_ANSWER)
def render_coordination_answer(params: Mapping[str, Any], _: Translator) -> Rendered:
    text = _("🤝 {agency} answered the coordination request on report {code}:\n{answer}",
             agency=_.pick(params["from_vi"], params["from_en"]), code=params["code"], answer=params["answer"])
    open_button = Button(_("🛠 Open the report"), callback_data=f"{WORK}:op:{params['report_id']}")
    return Rendered(text, buttons=((open_button,),))
