"""The handling officer's private work view, coordination answers, and /queue.

Private chat:
  cw:op:<report>            the work view: the report, its photos, its latest steps, what the viewer can do
  cw:nt:<report>            add a note (typed)
  cw:co:<report>            a coordination request: choose the agency…
  cw:cp:<report>:<page>     …another page of agencies…
  cw:ca:<report>:<agency>   …then type the question (003 Art. 9.1.c)
  cw:rs:<report>            submit a result: type its text, send photos or documents as evidence…
  cw:sb:<report>            …then send it to the head for approval (003 Art. 9.1.d)
  /queue                    what waits for the official, oldest deadline first
Wherever the request is shown (the asked agency's group, or its screeners' private chats):
  co:<request>              answer a coordination request (typed, in private)

The result's text and evidence are gathered in the person's pending prompt (bot/conversation/prompts.py);
`on_result_input` takes them before the generic answer dispatcher so that files are downloaded
outside any database transaction. The workflow refuses a result without evidence.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, InputMediaPhoto, Message, Update
from telegram.error import BadRequest
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.conversation import prompts
from bot.conversation.photos import rejection_text
from bot.deps import Deps
from bot.domain import cards, casework, citizens, officials, report_photos, workflow, worklist
from bot.domain.officials import ANY_ROLE, Refusal
from bot.domain.photos import DISPLAY_SUFFIX, PhotoProblem, PhotoRejected, process_photo
from bot.domain.roles import roles_of
from bot.domain.workflow import OPEN_STATES, Action, Need, Outcome, State
from bot.domain.worklist import Task
from bot.i18n import N_, Translator, translator
from handlers.answers import answerer
from handlers.cards import (
    CANCEL_CHOICE,
    CANCELLED,
    INACTIVE,
    MESSAGE_MAX,
    NOT_ASSIGNED_TO_YOU,
    READERS,
    SCREENING,
    Presser,
    Private,
    Reply,
    act_on_typed,
    agency_rows,
    answer_press,
    authorise_press,
    authorise_presser,
    deliver,
    in_unbound_group,
    may_read,
    preflight,
    presser_translator,
    refuse,
    refuse_press,
    refused_text,
    timeline_blocks,
    typed_text,
    when,
)
from handlers.keyboards import inline
from handlers.officials import NOT_BOUND, agency_name, authorised, log_refusal
from handlers.scope import PLATFORM, Scope, deps_of
from storage.media import MediaKind
from storage.models import (
    CoordinationRequest,
    PendingInput,
    Report,
)
from storage.models.officials import Role

WORK = "cw"
COORDINATION = "co"
NOTE = "work.note"
ASK_AGENCY = "work.coord"
RESULT = "work.result"
COORDINATION_ANSWER = "work.coord_answer"
# Who may ask another agency for its part (bot/domain/workflow.py COORDINATE) and who may answer.
ASKERS = frozenset({Role.HANDLING_OFFICER, Role.AGENCY_HEAD})
ANSWERERS = SCREENING | {Role.HANDLING_OFFICER}
LATEST_SHOWN = 5
# Telegram's album holds at most 10 items.
ALBUM_MAX = 10
QUEUE_BUTTONS = 20
# A result carries a handful of files, not an archive (an album holds 10).
EVIDENCE_MAX = 10
# Telegram lets a bot download files up to 20 MB.
DOCUMENT_MAX_BYTES = 20 * 1024 * 1024
_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")

TASK_LABELS = {
    Task.SCREEN: N_("to screen"),
    Task.ASSIGN: N_("to assign"),
    Task.HANDLE: N_("to handle"),
    Task.APPROVE: N_("to approve"),
    Task.CLARIFY: N_("clarification to answer"),
    Task.COORDINATE: N_("coordination request to answer"),
}


# --- the work view ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    text: str
    markup: InlineKeyboardMarkup | None
    # Display copies of the citizen's photos.
    photo_keys: list[str]
    # The proposed result's evidence, while it waits for approval: the head sees what the citizen will get.
    evidence: list[dict[str, Any]]


async def work_view(session: AsyncSession, deps: Deps, presser: Presser, report: Report) -> View:
    """The report as the viewer works on it."""
    _ = presser._
    params = await cards.snapshot(session, deps.desk, report, deps.now())
    lines = [cards.render_card(params, _).text]
    requests = await casework.pending_coordination(session, report.id)
    if requests:
        names = {a.id: a for a in await officials.agencies_by_id(session, {r.to_agency_id for r in requests})}
        lines += ["", _("🤝 Coordination requests:")]
        for request in requests:
            lines.append(f"• {agency_name(names[request.to_agency_id], _)}: {request.question}")
            lines.append("   ↳ " + (request.answer if request.answer is not None else _("waiting for the answer")))
    blocks = await timeline_blocks(session, report, _, deps.settings.zone)
    lines += ["", _("Latest steps:")]
    for block in blocks[-LATEST_SHOWN:]:
        lines += block
    photos = await report_photos.display_keys(session, report.id)
    evidence: list[dict[str, Any]] = []
    if report.state == State.PENDING_APPROVAL:
        result = await casework.latest_of(session, report.id, [Action.SUBMIT_RESULT])
        evidence = list(result.details.get(Need.EVIDENCE.value) or []) if result else []
    return View("\n".join(lines)[:MESSAGE_MAX], _work_buttons(presser, report, params), list(photos), evidence)


def _work_buttons(presser: Presser, report: Report, params: dict[str, Any]) -> InlineKeyboardMarkup | None:
    _ = presser._
    state = State(report.state)
    mine = report.assignee_id == presser.official.id
    screener = bool(presser.roles & SCREENING)
    rid = report.id
    rows: list[list[tuple[str, str]]] = []
    work: list[tuple[str, str]] = []
    if state in OPEN_STATES and (mine or screener):
        work.append((_("📝 Note"), f"{WORK}:nt:{rid}"))
    if state in (State.ASSIGNED, State.CLARIFYING) and (mine or Role.AGENCY_HEAD in presser.roles):
        work.append((_("🤝 Coordination request"), f"{WORK}:co:{rid}"))
    if work:
        rows.append(work)
    if mine and state is State.ASSIGNED:
        rows.append([(_("🖊 Submit result"), f"{WORK}:rs:{rid}")])
    if screener:
        # The card's own buttons: a screener or the head acts here as in the group.
        rows += [[(b.text, b.callback_data or "") for b in row] for row in cards.card_buttons(params, _)]
        return _inline(rows)
    if mine and state is State.CLARIFYING:
        rows.append(
            [(_("💬 Answer the clarification"), cards.callback(cards.Verb.ANSWER_CLARIFICATION, rid, report.version))]
        )
    rows.append(
        [
            (_("📜 Timeline"), cards.callback(cards.Verb.TIMELINE, rid, report.version)),
            (_("📞 Contact"), cards.callback(cards.Verb.CONTACT, rid, report.version)),
        ]
    )
    return _inline(rows)


def _inline(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    return inline(rows) if rows else None


async def _send_view(context: ContextTypes.DEFAULT_TYPE, deps: Deps, chat_id: int, view: View) -> None:
    """The photos, the evidence waiting for approval, then the text with the buttons."""
    photo_keys = view.photo_keys + [item["key"] for item in view.evidence if item.get("kind") == "photo"]
    documents = [item for item in view.evidence if item.get("kind") != "photo"]
    photos = await asyncio.to_thread(lambda: [deps.media.read(key) for key in photo_keys])
    for start in range(0, len(photos), ALBUM_MAX):
        chunk = photos[start : start + ALBUM_MAX]
        if len(chunk) == 1:
            await context.bot.send_photo(chat_id, chunk[0])
        else:
            await context.bot.send_media_group(chat_id, [InputMediaPhoto(item) for item in chunk])
    for item in documents:
        data = await asyncio.to_thread(deps.media.read, item["key"])
        await context.bot.send_document(chat_id, data, filename=item.get("filename") or "evidence")
    await context.bot.send_message(chat_id, view.text, reply_markup=view.markup)


# --- cw: buttons ---------------------------------------------------------------------------------------


async def on_work(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    deps = deps_of(context)
    parts = query.data.split(":")
    view: View | None = None
    async with deps.sessions.begin() as session:
        report = await casework.report_by_id(session, int(parts[2])) if len(parts) >= 3 and parts[2].isdigit() else None
        if report is None or len(parts) < 3:
            reply = await refuse_press(session, update, deps, INACTIVE)
        elif parts[1] == "op":
            presser = await authorise_press(session, update, deps, report.agency_id, READERS, query.data)
            if isinstance(presser, Reply):
                reply = presser
            elif not may_read(presser, report):
                log_refusal(
                    session,
                    update,
                    Refusal(officials.RefusalReason.MISSING_ROLE, presser.official),
                    query.data,
                    deps.now(),
                    report.agency_id,
                )
                reply = refuse(presser._, presser._(NOT_ASSIGNED_TO_YOU))
            else:
                view = await work_view(session, deps, presser, report)
                reply = Reply(presser._)
        else:
            reply = await _work_step(session, update, deps, report, parts)
    if view is not None:
        await query.answer()
        await _send_view(context, deps, update.effective_user.id, view)
        return
    await deliver(update, context, reply)


async def _work_step(session: AsyncSession, update: Update, deps: Deps, report: Report, parts: list[str]) -> Reply:
    data = ":".join(parts)
    verb, arg = parts[1], (parts[3] if len(parts) > 3 else None)
    roles = {
        "nt": READERS,
        "co": ASKERS,
        "cp": ASKERS,
        "ca": ASKERS,
        "rs": frozenset({Role.HANDLING_OFFICER}),
        "sb": frozenset({Role.HANDLING_OFFICER}),
    }.get(verb)
    if roles is None:
        return await refuse_press(session, update, deps, INACTIVE)
    presser = await authorise_press(session, update, deps, report.agency_id, roles, data)
    if isinstance(presser, Reply):
        return presser
    _ = presser._
    action = {"nt": Action.NOTE, "rs": Action.SUBMIT_RESULT, "sb": Action.SUBMIT_RESULT}.get(verb, Action.COORDINATE)
    if verb != "sb":
        problem = await preflight(session, update, presser, report, action, None, data, deps.now(), deps.settings.zone)
        if problem is not None:
            return refuse(_, problem)
    match verb:
        case "nt":
            return await _ask(
                session,
                deps,
                presser,
                report,
                NOTE,
                _("Type the note for {code}. Only officials see notes.", code=report.code),
            )
        case "co" | "cp":
            page = int(arg) if arg and arg.isdigit() else 0
            rows, page, pages = await agency_rows(
                session, report.agency_id, page, f"{WORK}:ca:{report.id}:", f"{WORK}:cp:{report.id}:", _
            )
            text = _(
                "Ask which agency for its part in {code}? (page {page} of {pages})",
                code=report.code,
                page=page + 1,
                pages=pages,
            )
            markup = _inline(rows)
            if verb == "cp":
                return Reply(_, edit=Private(text, markup))
            return Reply(_, private=[Private(text, markup)])
        case "ca":
            agency = await officials.agency_by_id(session, int(arg)) if arg and arg.isdigit() else None
            if agency is None or not agency.active or agency.id == report.agency_id:
                return refuse(_, _(INACTIVE))
            await prompts.ask(
                session,
                presser.user.id,
                ASK_AGENCY,
                deps.now(),
                report_id=report.id,
                version=report.version,
                data={"to": agency.id},
            )
            return Reply(
                _,
                edit=Private(
                    _(
                        "Type your question to {agency} about {code}. Their answer will come to you here and show "
                        "on the card.\n\nSend /cancel to stop.",
                        agency=agency_name(agency, _),
                        code=report.code,
                    )
                ),
            )
        case "rs":
            return await _ask(
                session,
                deps,
                presser,
                report,
                RESULT,
                _(
                    "Type the result of handling {code}: what was done and the outcome. Then send at least one "
                    "photo or document as evidence (an inspection record, a site photo, a reply letter).",
                    code=report.code,
                ),
            )
    return await _submit(session, update, deps, presser, report)


async def _ask(session: AsyncSession, deps: Deps, presser: Presser, report: Report, purpose: str, text: str) -> Reply:
    await prompts.ask(session, presser.user.id, purpose, deps.now(), report_id=report.id, version=report.version)
    return Reply(
        presser._, private=[Private(text + "\n\n" + presser._("Send /cancel to stop."))], prompt_user_id=presser.user.id
    )


async def _submit(session: AsyncSession, update: Update, deps: Deps, presser: Presser, report: Report) -> Reply:
    """Send the gathered result for approval; the workflow refuses one without evidence."""
    _ = presser._
    row = await prompts.pending(session, presser.user.id, deps.now())
    if row is None or row.purpose != RESULT or row.report_id != report.id:
        return refuse(_, _("Nothing to send: press “🖊 Submit result” in the report first."))
    details = {Need.RESULT.value: row.data.get("text") or "", Need.EVIDENCE.value: list(row.data.get("evidence") or [])}
    outcome = await casework.act(
        session,
        deps.desk,
        report,
        Action.SUBMIT_RESULT,
        presser.actor,
        deps.now(),
        details,
        expected_version=row.version,
    )
    if not outcome.ok:
        text = await refused_text(session, update, presser, report, outcome, RESULT, deps.now(), deps.settings.zone)
        if outcome.refusal is not workflow.Refusal.MISSING:
            await prompts.clear(session, presser.user.id)
        return refuse(_, text)
    await prompts.clear(session, presser.user.id)
    done = _("🖊 The result of {code} was sent to the head for approval.", code=report.code)
    return Reply(_, done, edit=Private(done))


# --- the result's text and evidence ------------------------------------------------------------------


def result_status(row: PendingInput, code: str, _: Translator) -> tuple[str, InlineKeyboardMarkup | None]:
    """Where the result being gathered stands, with the button to send it once it is complete."""
    text, evidence = row.data.get("text"), row.data.get("evidence") or []
    cancel = (_("✖️ Cancel"), CANCEL_CHOICE)
    if text and evidence:
        status = _.ngettext(
            "🖊 Result of {code} with {n} evidence file. Send more, or press “✅ Send for approval”.",
            "🖊 Result of {code} with {n} evidence files. Send more, or press “✅ Send for approval”.",
            len(evidence),
            code=code,
        )
        return status, _inline([[(_("✅ Send for approval"), f"{WORK}:sb:{row.report_id}")], [cancel]])
    if text:
        return _(
            "Result text saved. Now send at least one photo or document as evidence "
            "(an inspection record, a site photo, a reply letter)."
        ), _inline([[cancel]])
    return _.ngettext(
        "{n} evidence file received. Now type the result text.",
        "{n} evidence files received. Now type the result text.",
        len(evidence),
    ), _inline([[cancel]])


async def on_result_input(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Text, photos and documents for a result being gathered; anything else goes on to other handlers."""
    message = update.effective_message
    if message is None or update.effective_user is None or (message.text or "").startswith("/"):
        return
    if not (message.text or message.photo or message.document):
        return
    deps = deps_of(context)
    async with deps.sessions.begin() as session:
        user = await citizens.find(session, PLATFORM, str(update.effective_user.id))
        row = await prompts.pending(session, user.id, deps.now()) if user else None
        if user is None or row is None or row.purpose != RESULT:
            return
        _ = translator(user.language)
        report = await casework.report_by_id(session, row.report_id)
        code = report.code if report else ""
        user_id, report_id = user.id, row.report_id
        reply: str | tuple[str, InlineKeyboardMarkup | None] | None = None
        if message.text:
            text = typed_text(update, _)
            if isinstance(text, tuple):
                reply = text[0]
            else:
                prompts.update(row, text=text)
                reply = result_status(row, code, _)
        elif len(row.data.get("evidence") or []) >= EVIDENCE_MAX:
            reply = _("A result takes at most {max} evidence files.", max=EVIDENCE_MAX)
    if reply is None:
        item = await _store_evidence(context, deps, message, _)
        async with deps.sessions.begin() as session:
            row = await prompts.pending(session, user_id, deps.now())
            if isinstance(item, str):
                reply = item
            elif row is None or row.purpose != RESULT or row.report_id != report_id:
                # Cancelled while the file was downloading.
                reply = _(CANCELLED)
            else:
                prompts.update(row, evidence=[*(row.data.get("evidence") or []), item])
                reply = result_status(row, code, _)
    text, markup = reply if isinstance(reply, tuple) else (reply, None)
    await message.reply_text(text, reply_markup=markup)
    raise ApplicationHandlerStop


async def _store_evidence(
    context: ContextTypes.DEFAULT_TYPE, deps: Deps, message: Message, _: Translator
) -> dict[str, Any] | str:
    """Download a photo or document and keep it in the media store; the evidence item, or why not."""
    if message.photo:
        largest = message.photo[-1]
        limits = deps.photo_limits
        try:
            if largest.file_size is not None and largest.file_size > limits.max_bytes:
                raise PhotoRejected(PhotoProblem.TOO_LARGE, limit_bytes=limits.max_bytes, size_bytes=largest.file_size)
            data = await _download(context, largest.file_id)
            processed = await asyncio.to_thread(process_photo, data, limits)
        except PhotoRejected as rejected:
            return rejection_text(rejected, _)

        def store_photo() -> dict[str, Any]:
            # The original (with its capture metadata) is evidence; the citizen gets the display copy.
            original = deps.media.put(data, kind=MediaKind.EVIDENCE, suffix=processed.original_suffix)
            display = deps.media.put(processed.display, kind=MediaKind.DISPLAY, suffix=DISPLAY_SUFFIX)
            return {"kind": "photo", "key": display, "original_key": original, "sha256": processed.original_sha256}

        return await asyncio.to_thread(store_photo)
    document = message.document
    assert document is not None
    if document.file_size is not None and document.file_size > DOCUMENT_MAX_BYTES:
        return _("This file is too large. A document may be at most {mb} MB.", mb=DOCUMENT_MAX_BYTES // 1_048_576)
    try:
        data = await _download(context, document.file_id)
    except BadRequest:
        return _("This file is too large. A document may be at most {mb} MB.", mb=DOCUMENT_MAX_BYTES // 1_048_576)
    filename = clean_filename(document.file_name)
    dot = filename.rfind(".")
    suffix = filename[dot:].lower() if dot > 0 and _SUFFIX.fullmatch(filename[dot:].lower()) else ""
    key = await asyncio.to_thread(deps.media.put, data, kind=MediaKind.EVIDENCE, suffix=suffix)
    return {"kind": "document", "key": key, "filename": filename, "sha256": hashlib.sha256(data).hexdigest()}


def clean_filename(name: str | None) -> str:
    """A name the recipient can save the file as: no path, no control characters."""
    cleaned = "".join(c for c in (name or "") if c.isprintable() and c not in "/\\").strip()
    return cleaned[-200:] or "evidence"


async def _download(context: ContextTypes.DEFAULT_TYPE, file_id: str) -> bytes:
    tg_file = await context.bot.get_file(file_id)
    return bytes(await tg_file.download_as_bytearray())


@answerer(RESULT)
async def on_other_result_input(
    update: Update, context: ContextTypes.DEFAULT_TYPE, s: Scope, row: PendingInput
) -> str | None:
    """What `on_result_input` does not take (a sticker, a voice note...)."""
    return s._("Type the result as text, or send photos or documents as evidence. Send /cancel to stop.")


# --- typed notes, questions to other agencies, answers to them -------------------------------------------


@answerer(NOTE)
async def on_note(update: Update, context: ContextTypes.DEFAULT_TYPE, s: Scope, row: PendingInput) -> str | None:
    text = typed_text(update, s._)
    if isinstance(text, tuple):
        return text[0]
    return await act_on_typed(
        update,
        context,
        s,
        row,
        READERS,
        lambda deps, report, presser: casework.add_note(s.session, deps.desk, report, presser.actor, deps.now(), text),
        N_("📝 Note added to {code}."),
    )


@answerer(ASK_AGENCY)
async def on_coordination_question(
    update: Update, context: ContextTypes.DEFAULT_TYPE, s: Scope, row: PendingInput
) -> str | None:
    text = typed_text(update, s._)
    if isinstance(text, tuple):
        return text[0]

    async def ask(deps: Deps, report: Report, presser: Presser) -> Outcome:
        outcome, _request = await casework.ask_coordination(
            s.session, deps.desk, report, presser.actor, deps.now(), int(row.data.get("to", 0)), text
        )
        return outcome

    return await act_on_typed(
        update,
        context,
        s,
        row,
        ASKERS,
        ask,
        N_("🤝 Your request about {code} was sent. The answer will come to you here and show on the card."),
    )


async def on_coordination(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`co:<request>`: an official of the asked agency starts answering."""
    await answer_press(update, context, _start_answer)


async def _start_answer(session: AsyncSession, update: Update, deps: Deps, data: str) -> Reply:
    number = data.partition(":")[2]
    request = await casework.coordination_request(session, int(number)) if number.isdigit() else None
    report = await casework.report_by_id(session, request.report_id) if request else None
    if await in_unbound_group(session, update):
        return await refuse_press(session, update, deps, NOT_BOUND)
    if request is None or report is None:
        return await refuse_press(session, update, deps, INACTIVE)
    presser = await authorise_press(session, update, deps, request.to_agency_id, ANSWERERS, data)
    if isinstance(presser, Reply):
        return presser
    _ = presser._
    if request.answered_at is not None:
        return refuse(_, await _answered_text(session, request, _, deps))
    asking = await officials.agency_by_id(session, request.from_agency_id)
    assert asking is not None
    await prompts.ask(
        session, presser.user.id, COORDINATION_ANSWER, deps.now(), report_id=report.id, data={"request_id": request.id}
    )
    text = _(
        "{agency} asks about report {code}:\n{question}\n\nType your agency's answer; it goes to their "
        "handling officer and onto the report.\n\nSend /cancel to stop.",
        agency=agency_name(asking, _),
        code=report.code,
        question=request.question,
    )
    return Reply(_, private=[Private(text)], prompt_user_id=presser.user.id)


async def _answered_text(session: AsyncSession, request: CoordinationRequest, _: Translator, deps: Deps) -> str:
    name = await officials.official_name(session, request.answered_by_official_id)
    assert request.answered_at is not None
    return _(
        "This request was already answered by {name} at {time}.",
        name=name or "?",
        time=when(request.answered_at, _, deps.settings.zone),
    )


@answerer(COORDINATION_ANSWER)
async def on_coordination_answer(
    update: Update, context: ContextTypes.DEFAULT_TYPE, s: Scope, row: PendingInput
) -> str | None:
    text = typed_text(update, s._)
    if isinstance(text, tuple):
        return text[0]
    deps = deps_of(context)
    await prompts.clear(s.session, s.user.id)
    request = await casework.coordination_request(s.session, int(row.data.get("request_id", 0)))
    if request is None:
        return s._(INACTIVE)
    presser = await authorise_presser(s.session, update, deps, request.to_agency_id, ANSWERERS, row.purpose)
    if isinstance(presser, str):
        return presser
    result = await casework.answer_coordination(s.session, deps.desk, request.id, presser.actor, deps.now(), text)
    if result is None:
        return s._(INACTIVE)
    outcome, request = result
    report = outcome.report
    if outcome.ok:
        return s._("🤝 Your answer was added to report {code} and sent to its handling officer.", code=report.code)
    if request.answered_at is not None:
        return await _answered_text(s.session, request, s._, deps)
    return await refused_text(s.session, update, presser, report, outcome, row.purpose, deps.now(), deps.settings.zone)


# --- /queue --------------------------------------------------------------------------------------------


async def queue_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and update.effective_user is not None
    deps = deps_of(context)
    markup: InlineKeyboardMarkup | None = None
    async with deps.sessions.begin() as session:
        _ = await presser_translator(session, update, deps.settings.default_language)
        official = await authorised(session, update, None, ANY_ROLE, "/queue", deps.now(), _)
        if isinstance(official, str):
            text = official
        else:
            items = await worklist.queue_for(session, official, await roles_of(session, official.id))
            text, markup = queue_view(items, _, deps)
    await message.reply_text(text, reply_markup=markup)


def queue_view(items: list[worklist.Item], _: Translator, deps: Deps) -> tuple[str, InlineKeyboardMarkup | None]:
    if not items:
        return _("Nothing waits for you now."), None
    now = deps.now()
    lines = [_("🗂 Waiting for you ({n}), oldest deadline first:", n=len(items))]
    rows: list[list[tuple[str, str]]] = []
    for number, item in enumerate(items, 1):
        due = when(item.due_at, _, deps.settings.zone) if item.due_at else "—"
        late = " ⏰" if item.due_at is not None and item.due_at < now else ""
        task = _(TASK_LABELS[item.task])
        lines.append(
            _("{number}. {code} · {task} · due {when}", number=number, code=item.code, task=task, when=due) + late
        )
        if number <= QUEUE_BUTTONS:
            data = (
                f"{COORDINATION}:{item.request_id}" if item.task is Task.COORDINATE else f"{WORK}:op:{item.report_id}"
            )
            rows.append([(f"{number}. {item.code} · {task}", data)])
    return "\n".join(lines), _inline(rows)
