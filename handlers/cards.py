"""The agency card's buttons (bot/domain/cards.py) and the private choices they lead to.

Where the card is (the agency's bound group, or an official's private work view):
  rc:<verb>:<report id>:<version>   receive, reject, ask for information, transfer, (re)assign,
                                    approve, return, answer a clarification, timeline, contact
In the presser's private chat with the bot:
  ck:rj:<report id>:<version>:<reason>     reject with a standard reason ("cd"...), the province's ("p0"...)
                                           or the agency's ("a0"...) from the province file; "*": type another
  ck:tf:<report id>:<version>:<agency id>  transfer to this agency, then type the reason
  ck:tp:<report id>:<version>:<page>       another page of agencies
  ck:as:<report id>:<version>:<official>   assign (or reassign) to this handling officer
  ck:x                                     cancel the choice
Typed answers (handlers/answers.py): a rejection reason, the question to the citizen, a
transfer reason, the head's comment when returning a result, a clarification answer.

Every press checks the person who pressed it (being in the group gives no rights) with
`bot.domain.officials.authorise`; refusals are answered in the presser's language and logged.
What only the presser may read (reason templates, the timeline, the citizen's contact)
goes to their private chat, never to the group. The workflow (bot/domain/workflow.py, through
bot/domain/casework.py) has the last word on every transition.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Chat, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import ContextTypes

from bot.conversation import prompts
from bot.deps import Deps
from bot.domain import cards, casework, citizens, officials, urgency, workflow
from bot.domain.labels import OFFICIAL_EVENT_LABELS
from bot.domain.officials import HANDOVER_REASON_LABELS, HandoverReason, Refusal, RefusalReason
from bot.domain.roles import roles_of
from bot.domain.workflow import SCREENERS, Action, Actor, Need, Party, Rating, State
from bot.i18n import N_, Translator, translator
from handlers.answers import answerer
from handlers.keyboards import inline
from handlers.officials import NOT_BOUND, agency_name, log_refusal, refusal_text
from handlers.scope import PLATFORM, Scope, deps_of, presser_translator
from storage.models import Agency, Official, PendingInput, Report, ReportEvent, User
from storage.models.officials import Role

log = logging.getLogger(__name__)

CHOICE = "ck"
CANCEL_CHOICE = "ck:x"
# Agencies shown per page when choosing where to transfer or whom to ask.
PAGE_SIZE = 8
# Telegram's limit for one text message, with room for nothing else.
MESSAGE_MAX = 4000

WROTE_PRIVATELY = N_("I wrote to you in our private chat.")
OPEN_BOT_FIRST = N_(
    "I cannot write to you privately yet. Open a chat with me (tap my name, then Start), then press the button again."
)
INACTIVE = N_("That button is no longer active.")
CANCELLED = N_("Cancelled. Nothing was changed.")
TYPE_AS_TEXT = N_("Please type it as a text message, or send /cancel to stop.")
TOO_LONG = N_("That is too long ({n} characters). Please keep it under {max} characters.")
NOT_ASSIGNED_TO_YOU = N_("This report is not assigned to you.")

HEAD: frozenset[Role] = frozenset({Role.AGENCY_HEAD})
SCREENING: frozenset[Role] = frozenset(r for r in SCREENERS if isinstance(r, Role))
# Who of the agency may read a report's timeline and open its work view.
READERS: frozenset[Role] = SCREENING | {Role.HANDLING_OFFICER}


# --- reason templates (003 Art. 1.3, 3.3, 8) ---------------------------------------------------


@dataclass(frozen=True)
class ReasonTemplate:
    key: str
    label: str  # the button
    reason: str  # what the citizen reads


REASON_TEMPLATES: tuple[ReasonTemplate, ...] = (
    ReasonTemplate(
        "cd",
        N_("⚖️ Complaint or denunciation"),
        N_(
            "It is a complaint or a denunciation, which this channel does not take (003 Art. 1.3). "
            "Please send it to the competent agency under the Law on Complaints or the Law on Denunciations."
        ),
    ),
    ReasonTemplate(
        "dp",
        N_("🤝 Dispute between parties"),
        N_(
            "It is a dispute between parties, which this channel does not settle. Please ask the commune's "
            "mediation team or the competent court."
        ),
    ),
    ReasonTemplate(
        "ni",
        N_("❓ Not enough information"),
        N_(
            "There is not enough information to identify the place or the event. You may send a new report "
            "with the exact place, the time and photos."
        ),
    ),
    ReasonTemplate("op", N_("🗺 Not in this province"), N_("The place is not in this province.")),
    ReasonTemplate(
        "du",
        N_("🔁 Duplicate report"),
        N_("It repeats an earlier report about the same matter, which is already being handled."),
    ),
    ReasonTemplate(
        "nt",
        N_("🚫 Not truthful / not own photos"),
        N_("The content is not truthful, or the photos are not the sender's own (003 Art. 8.2)."),
    ),
)
TEMPLATES = {t.key: t for t in REASON_TEMPLATES}
TYPE_REASON = "*"
# A reason from the province file is its own button's text; a long one is cut there, never for the citizen.
REASON_BUTTON_MAX = 60


def reason_button(text: str) -> str:
    return text if len(text) <= REASON_BUTTON_MAX else text[: REASON_BUTTON_MAX - 1].rstrip() + "…"


# --- who pressed -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Presser:
    """An official allowed to press: their row, their account, the workflow's actor, their language."""

    official: Official
    user: User
    actor: Actor
    _: Translator

    @property
    def roles(self) -> frozenset[Role]:
        return self.actor.roles


async def authorise_presser(
    session: AsyncSession, update: Update, deps: Deps, agency_id: int, roles: frozenset[Role], what: str
) -> Presser | str:
    """The official who pressed (or typed), if they may act for `agency_id` in one of `roles`; else why not."""
    tg_user = update.effective_user
    assert tg_user is not None
    result = await officials.authorise(session, tg_user.id, agency_id, roles)
    if isinstance(result, Refusal):
        log_refusal(session, update, result, what, deps.now(), agency_id)
        return refusal_text(result, await presser_translator(session, update, deps.settings.default_language))
    user = await officials.account_of(session, result.id)
    assert user is not None
    actor = Actor.official(result, await roles_of(session, result.id))
    return Presser(result, user, actor, translator(user.language))


async def authorise_press(
    session: AsyncSession, update: Update, deps: Deps, agency_id: int, roles: frozenset[Role], what: str
) -> Presser | Reply:
    """`authorise_presser` for a button: the official who pressed it, or the refused press to deliver."""
    presser = await authorise_presser(session, update, deps, agency_id, roles, what)
    if isinstance(presser, str):
        return refuse(await presser_translator(session, update, deps.settings.default_language), presser)
    return presser


async def refuse_press(session: AsyncSession, update: Update, deps: Deps, message: str) -> Reply:
    """A press refused with `message` (an N_ text), in the presser's language."""
    _ = await presser_translator(session, update, deps.settings.default_language)
    return refuse(_, _(message))


async def in_unbound_group(session: AsyncSession, update: Update) -> bool:
    """Whether the press came from a group chat no agency has bound, where the bot does nothing."""
    chat = update.effective_chat
    in_group = chat is not None and chat.type in (Chat.GROUP, Chat.SUPERGROUP)
    return in_group and await officials.binding_of_chat(session, chat.id) is None


def may_read(presser: Presser, report: Report) -> bool:
    """Screeners and the head read every report of the agency; a handling officer only theirs."""
    return bool(presser.roles & SCREENING) or presser.official.id == report.assignee_id


# --- what a refused action says --------------------------------------------------------------------

_ALREADY = {
    Action.RECEIVE: N_("Already received by {name} at {time}."),
    Action.REJECT: N_("Already rejected by {name} at {time}."),
    Action.REQUEST_INFO: N_("The citizen was already asked for more information by {name} at {time}."),
    Action.PROVIDE_INFO: N_("The citizen answered at {time}; look at the card again."),
    Action.TRANSFER: N_("Already transferred by {name} at {time}."),
    Action.ASSIGN: N_("Already assigned by {name} at {time}."),
    Action.REASSIGN: N_("Already reassigned by {name} at {time}."),
    Action.SUBMIT_RESULT: N_("A result was already submitted by {name} at {time}."),
    Action.APPROVE: N_("Already approved by {name} at {time}."),
    Action.RETURN: N_("Already returned for rework by {name} at {time}."),
    Action.ANSWER_CLARIFICATION: N_("The clarification was already answered by {name} at {time}."),
    Action.WITHDRAW: N_("The citizen withdrew the report at {time}."),
}
MISSING_TEXTS = {
    Need.REASON: N_("A reason is needed."),
    Need.QUESTION: N_("A question is needed."),
    Need.ANSWER: N_("An answer is needed."),
    Need.ASSIGNEE: N_("Choose a handling officer."),
    Need.TARGET_AGENCY: N_("Choose an agency."),
    Need.RESULT: N_("Type the result first."),
    Need.EVIDENCE: N_(
        "A result needs at least one photo or document as evidence (003 Art. 9.1.d). "
        "Send one, then press “✅ Send for approval”."
    ),
    Need.COMMENT: N_("A comment is needed."),
    Need.NOTE: N_("The note is empty."),
}
# Transitions that move a report on (annotations such as notes do not make a press stale).
_MOVES = tuple(a for a, t in workflow.TRANSITIONS.items() if t.bumps) + (Action.SUBMIT,)


def when(at: datetime, _: Translator, zone: ZoneInfo) -> str:
    return _.datetime(at, zone, "HH:mm dd/MM/yyyy")


async def actor_name(session: AsyncSession, event: ReportEvent, _: Translator) -> str:
    if event.actor_user_id is not None:
        name = await officials.full_name_of_user(session, event.actor_user_id)
        if name:
            return name
    if event.actor_role == Party.SYSTEM or event.actor_user_id is None:
        return _("the system")
    return _("the citizen")


async def moved_on_text(session: AsyncSession, report: Report, _: Translator, zone: ZoneInfo) -> str:
    """The loser of a race, or the presser of an old card, learns who acted and when."""
    latest = await casework.latest_of(session, report.id, _MOVES)
    if latest is None or Action(latest.kind) not in _ALREADY:
        if latest is not None:
            return _(
                "This report has moved on: {event}, {name}, {time}.",
                event=_(OFFICIAL_EVENT_LABELS.get(Action(latest.kind), latest.kind)),
                name=await actor_name(session, latest, _),
                time=when(latest.at, _, zone),
            )
        return _("This report is no longer at this step.")
    return _(_ALREADY[Action(latest.kind)], name=await actor_name(session, latest, _), time=when(latest.at, _, zone))


async def refused_text(
    session: AsyncSession,
    update: Update,
    presser: Presser,
    report: Report,
    outcome: workflow.Outcome,
    what: str,
    at: datetime,
    zone: ZoneInfo,
) -> str:
    _ = presser._
    match outcome.refusal:
        case workflow.Refusal.STALE | workflow.Refusal.WRONG_STATE:
            return await moved_on_text(session, report, _, zone)
        case workflow.Refusal.NOT_ALLOWED:
            log_refusal(
                session, update, Refusal(RefusalReason.MISSING_ROLE, presser.official), what, at, report.agency_id
            )
            if Role.HANDLING_OFFICER in presser.roles and report.assignee_id != presser.official.id:
                return _(NOT_ASSIGNED_TO_YOU)
            return _("Your role does not allow this.")
        case workflow.Refusal.MISSING:
            return _(
                MISSING_TEXTS.get(outcome.missing, N_("Something needed is missing."))
                if outcome.missing
                else N_("Something needed is missing.")
            )
        case workflow.Refusal.INVALID:
            return _("That choice is no longer possible: the official or agency cannot take it. Choose again.")
        case workflow.Refusal.TOO_LATE:
            return _("It is too late for this.")
    return _("This cannot be done now.")


async def preflight(
    session: AsyncSession,
    update: Update,
    presser: Presser,
    report: Report,
    action: Action,
    version: int | None,
    what: str,
    at: datetime,
    zone: ZoneInfo,
) -> str | None:
    """Why `action` could not be fired now, before asking the presser to type or choose anything."""
    t = workflow.TRANSITIONS[action]
    if (version is not None and t.bumps and version != report.version) or State(report.state) not in t.sources:
        return await moved_on_text(session, report, presser._, zone)
    allowed = presser.actor.parties & t.who
    if not allowed or (allowed == {Role.HANDLING_OFFICER} and report.assignee_id != presser.official.id):
        return await refused_text(
            session,
            update,
            presser,
            report,
            workflow.Outcome(False, report, workflow.Refusal.NOT_ALLOWED),
            what,
            at,
            zone,
        )
    return None


# --- replies -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Private:
    text: str
    markup: InlineKeyboardMarkup | None = None


@dataclass
class Reply:
    """What a press leads to: a short answer on the button, and messages in the presser's private chat."""

    _: Translator
    answer: str | None = None
    alert: bool = False
    private: list[Private] = field(default_factory=list)
    # A question set for the presser, withdrawn if they cannot be reached.
    prompt_user_id: int | None = None
    # The private message that held the choice, replaced by this text (without buttons unless `markup`).
    edit: Private | None = None


def refuse(_: Translator, text: str) -> Reply:
    return Reply(_, text, alert=True)


def chunks(lines: Sequence[str], limit: int = MESSAGE_MAX) -> list[str]:
    """Lines joined into messages no longer than Telegram takes."""
    out: list[str] = []
    current = ""
    for line in lines:
        line = line if len(line) <= limit else line[: limit - 1] + "…"
        if current and len(current) + 1 + len(line) > limit:
            out.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        out.append(current)
    return out


async def deliver(update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> None:
    """Send the private messages, then answer the press (saying where to look, or why it failed)."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    _ = reply._
    in_private = query.message is not None and query.message.chat.type == Chat.PRIVATE
    try:
        for message in reply.private:
            await context.bot.send_message(update.effective_user.id, message.text, reply_markup=message.markup)
    except Forbidden:
        # Never opened (or blocked) the bot: Telegram lets no bot start a conversation.
        if reply.prompt_user_id is not None:
            async with deps_of(context).sessions.begin() as session:
                await prompts.clear(session, reply.prompt_user_id)
        await query.answer(_(OPEN_BOT_FIRST), show_alert=True)
        return
    answer = reply.answer
    if answer is None and reply.private and not in_private:
        answer = _(WROTE_PRIVATELY)
    await query.answer(answer, show_alert=reply.alert)
    if reply.edit is not None:
        try:
            await query.edit_message_text(reply.edit.text, reply_markup=reply.edit.markup)
        except BadRequest as exc:
            log.info("could not edit the choice message: %s", exc)


# --- the card's buttons -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Press:
    """One press of a card button, authorised, with everything a step needs."""

    session: AsyncSession
    update: Update
    deps: Deps
    presser: Presser
    report: Report
    version: int
    what: str

    @property
    def _(self) -> Translator:
        return self.presser._

    @property
    def now(self) -> datetime:
        return self.deps.now()

    @property
    def zone(self) -> ZoneInfo:
        return self.deps.settings.zone

    async def preflight(self, action: Action) -> str | None:
        return await preflight(
            self.session, self.update, self.presser, self.report, action, self.version, self.what, self.now, self.zone
        )

    async def refused(self, outcome: workflow.Outcome) -> Reply:
        return refuse(
            self._,
            await refused_text(
                self.session, self.update, self.presser, self.report, outcome, self.what, self.now, self.zone
            ),
        )

    async def act(self, action: Action, done: str, details: dict | None = None, **values: object) -> Reply:
        """Fire `action` as pressed; `done` (with the report's code and `values`) tells the presser it happened."""
        outcome = await casework.act(
            self.session,
            self.deps.desk,
            self.report,
            action,
            self.presser.actor,
            self.now,
            details,
            expected_version=self.version,
        )
        if not outcome.ok:
            return await self.refused(outcome)
        return Reply(self._, self._(done, code=self.report.code, **values))

    async def ask(self, action: Action, purpose: str, text: str) -> Reply:
        """Ask the presser, privately, to type what `action` needs."""
        problem = await self.preflight(action)
        if problem is not None:
            return refuse(self._, problem)
        await prompts.ask(
            self.session, self.presser.user.id, purpose, self.now, report_id=self.report.id, version=self.report.version
        )
        return Reply(
            self._,
            private=[Private(text + "\n\n" + self._("Send /cancel to stop."))],
            prompt_user_id=self.presser.user.id,
        )


async def _receive(p: Press) -> Reply:
    return await p.act(Action.RECEIVE, N_("📥 {code} received. Assign it from the card."))


async def _approve(p: Press) -> Reply:
    return await p.act(Action.APPROVE, N_("✅ {code} approved: the result and its evidence go to the citizen."))


async def _reject(p: Press) -> Reply:
    problem = await p.preflight(Action.REJECT)
    if problem is not None:
        return refuse(p._, problem)
    _ = p._
    data = f"{CHOICE}:rj:{p.report.id}:{p.report.version}:"
    rows = [[(_(t.label), data + t.key)] for t in REASON_TEMPLATES]
    # The province's and the agency's own reasons, in the presser's language.
    own = await casework.own_reject_reasons(p.session, p.report.agency_id)
    rows += [[(reason_button(_.pick(reason.vi, reason.en)), data + key)] for key, reason in own.items()]
    rows.append([(_("✍️ Type another reason"), data + TYPE_REASON)])
    rows.append([(_("✖️ Cancel"), CANCEL_CHOICE)])
    text = _("Reject {code}: choose the reason. The citizen will read it.", code=p.report.code)
    return Reply(_, private=[Private(text, inline(rows))])


async def _ask_info(p: Press) -> Reply:
    return await p.ask(
        Action.REQUEST_INFO,
        ASK_INFO,
        p._(
            "Type the question for the sender of {code}: what is missing to handle it? The receiving clock "
            "pauses until they answer.",
            code=p.report.code,
        ),
    )


async def _return(p: Press) -> Reply:
    return await p.ask(
        Action.RETURN,
        RETURN,
        p._(
            "Type your comment for the handling officer: why is the result of {code} returned, and what "
            "should be redone?",
            code=p.report.code,
        ),
    )


async def _clarify(p: Press) -> Reply:
    question = await casework.latest_of(p.session, p.report.id, [Action.ASK_CLARIFICATION])
    asked = question.details.get(Need.QUESTION.value, "") if question else ""
    return await p.ask(
        Action.ANSWER_CLARIFICATION,
        CLARIFY,
        p._(
            "The citizen asks about the result of {code}:\n{question}\n\nType the answer; it goes to the citizen.",
            code=p.report.code,
            question=asked,
        ),
    )


async def _transfer(p: Press) -> Reply:
    problem = await p.preflight(Action.TRANSFER)
    if problem is not None:
        return refuse(p._, problem)
    text, markup = await transfer_page(p.session, p.report, 0, p._)
    return Reply(p._, private=[Private(text, markup)])


async def agency_rows(
    session: AsyncSession, agency_id: int, page: int, choose: str, turn: str, _: Translator
) -> tuple[list[list[tuple[str, str]]], int, int]:
    """Buttons for the other agencies, one page; `choose` + agency id picks one, `turn` + page turns."""
    agencies = await casework.other_agencies(session, agency_id)
    pages = max(1, -(-len(agencies) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = agencies[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    rows = [[(agency_name(a, _), f"{choose}{a.id}")] for a in shown]
    turns = []
    if page > 0:
        turns.append((_("◀️ Previous"), f"{turn}{page - 1}"))
    if page < pages - 1:
        turns.append((_("Next ▶️"), f"{turn}{page + 1}"))
    if turns:
        rows.append(turns)
    rows.append([(_("✖️ Cancel"), CANCEL_CHOICE)])
    return rows, page, pages


async def transfer_page(
    session: AsyncSession, report: Report, page: int, _: Translator
) -> tuple[str, InlineKeyboardMarkup]:
    base = f"{CHOICE}:%s:{report.id}:{report.version}:"
    rows, page, pages = await agency_rows(session, report.agency_id, page, base % "tf", base % "tp", _)
    text = _("Transfer {code} to which agency? (page {page} of {pages})", code=report.code, page=page + 1, pages=pages)
    return text, inline(rows)


async def _assign(p: Press) -> Reply:
    action = Action.REASSIGN if p.report.state == State.ASSIGNED else Action.ASSIGN
    problem = await p.preflight(action)
    if problem is not None:
        return refuse(p._, problem)
    _ = p._
    officers = [
        o for o in await casework.handling_officers(p.session, p.report.agency_id) if o.id != p.report.assignee_id
    ]
    if not officers:
        return refuse(_, _("Your agency has no other active handling officer. Ask your administrator to invite one."))
    data = f"{CHOICE}:as:{p.report.id}:{p.report.version}:"
    rows = [[(o.full_name, f"{data}{o.id}")] for o in officers]
    rows.append([(_("✖️ Cancel"), CANCEL_CHOICE)])
    text = (
        _("Reassign {code} to which handling officer?", code=p.report.code)
        if action is Action.REASSIGN
        else _("Assign {code} to which handling officer?", code=p.report.code)
    )
    return Reply(_, private=[Private(text, inline(rows))])


async def _urgent(p: Press) -> Reply:
    outcome = await urgency.mark_urgent(
        p.session, p.deps.desk, p.report, p.presser.actor, p.now, expected_version=p.version
    )
    if not outcome.ok:
        return await p.refused(outcome)
    hours = p.deps.desk.limits.urgent_handle_hours
    return Reply(
        p._, p._("🚨 {code} is marked urgent: {hours} working hours to handle.", code=p.report.code, hours=f"{hours:g}")
    )


async def _timeline(p: Press) -> Reply:
    if not may_read(p.presser, p.report):
        return refuse(p._, p._(NOT_ASSIGNED_TO_YOU))
    lines = await timeline_lines(p.session, p.report, p._, p.zone)
    return Reply(p._, private=[Private(text) for text in chunks(lines)])


async def _contact(p: Press) -> Reply:
    outcome, contact = await casework.reveal_contact(p.session, p.deps.desk, p.report, p.presser.actor, p.now)
    if not outcome.ok or contact is None:
        return await p.refused(outcome)
    _ = p._
    lines = [_("📞 Sender of {code}:", code=p.report.code), contact.full_name or "—", contact.phone or "—"]
    if not contact.identity_public:
        lines += [
            "",
            _(
                "🔒 The sender asked to keep their identity private. Use it only to handle this report "
                "and do not pass it on (003 Art. 8.5)."
            ),
        ]
    lines += ["", _("This look is recorded on the report's timeline.")]
    return Reply(_, private=[Private("\n".join(lines))])


_STEPS = {
    cards.Verb.RECEIVE: (_receive, SCREENING),
    cards.Verb.REJECT: (_reject, SCREENING),
    cards.Verb.ASK_INFO: (_ask_info, SCREENING),
    cards.Verb.TRANSFER: (_transfer, SCREENING),
    cards.Verb.ASSIGN: (_assign, SCREENING),
    cards.Verb.APPROVE: (_approve, HEAD),
    cards.Verb.RETURN: (_return, HEAD),
    cards.Verb.ANSWER_CLARIFICATION: (_clarify, frozenset({Role.HANDLING_OFFICER, Role.AGENCY_HEAD})),
    cards.Verb.URGENT: (_urgent, SCREENING),
    cards.Verb.TIMELINE: (_timeline, READERS),
    cards.Verb.CONTACT: (_contact, READERS),
}


async def answer_press(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    press: Callable[[AsyncSession, Update, Deps, str], Awaitable[Reply]],
) -> None:
    """Take a button press in one transaction, then deliver what it leads to."""
    query = update.callback_query
    assert query is not None and query.data is not None
    deps = deps_of(context)
    async with deps.sessions.begin() as session:
        reply = await press(session, update, deps, query.data)
    await deliver(update, context, reply)


async def on_card(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await answer_press(update, context, _press)


async def _press(session: AsyncSession, update: Update, deps: Deps, data: str) -> Reply:
    parsed = cards.parse_callback(data)
    if parsed is None or parsed[0] not in _STEPS:
        return await refuse_press(session, update, deps, INACTIVE)
    verb, report_id, version = parsed
    if await in_unbound_group(session, update):
        return await refuse_press(session, update, deps, NOT_BOUND)
    report = await casework.report_by_id(session, report_id)
    if report is None:
        return await refuse_press(session, update, deps, INACTIVE)
    step, roles = _STEPS[verb]
    presser = await authorise_press(session, update, deps, report.agency_id, roles, data)
    if isinstance(presser, Reply):
        return presser
    return await step(Press(session, update, deps, presser, report, version, data))


# --- choices in the private chat ------------------------------------------------------------------------


async def on_choice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await answer_press(update, context, _choose)


def parse_choice(data: str) -> tuple[str, int, int, str] | None:
    parts = data.split(":")
    if len(parts) != 5 or parts[0] != CHOICE or not parts[2].isdigit() or not parts[3].isdigit():
        return None
    return parts[1], int(parts[2]), int(parts[3]), parts[4]


async def _choose(session: AsyncSession, update: Update, deps: Deps, data: str) -> Reply:
    if data == CANCEL_CHOICE:
        return await cancel_choice(session, update, deps)
    parsed = parse_choice(data)
    report = await casework.report_by_id(session, parsed[1]) if parsed else None
    if parsed is None or report is None or parsed[0] not in ("rj", "tf", "tp", "as"):
        return await refuse_press(session, update, deps, INACTIVE)
    kind, _report_id, version, arg = parsed
    presser = await authorise_press(session, update, deps, report.agency_id, SCREENING, data)
    if isinstance(presser, Reply):
        return presser
    press = Press(session, update, deps, presser, report, version, data)
    match kind:
        case "rj":
            return await _choose_reason(press, arg)
        case "tf":
            return await _choose_agency(press, arg)
        case "tp":
            return await _turn_agencies(press, arg)
    return await _choose_assignee(press, arg)


async def cancel_choice(session: AsyncSession, update: Update, deps: Deps) -> Reply:
    _ = await presser_translator(session, update, deps.settings.default_language)
    user = await citizens.find(session, PLATFORM, str(update.effective_user.id))
    if user is not None:
        await prompts.clear(session, user.id)
    return Reply(_, edit=Private(_(CANCELLED)))


def _finished(p: Press, reply: Reply) -> Reply:
    """The choice message keeps what was decided (or why not), without its buttons."""
    if reply.answer:
        reply.edit = Private(reply.answer)
    return reply


async def _choose_reason(p: Press, key: str) -> Reply:
    _ = p._
    if key == TYPE_REASON:
        reply = await p.ask(
            Action.REJECT,
            REJECT,
            _("Type the reason for rejecting {code}. The citizen will read it.", code=p.report.code),
        )
        if reply.private:
            # The prompt replaces the list in place rather than arriving as a new message.
            reply.edit, reply.private = reply.private[0], []
        return _finished(p, reply) if reply.alert else reply
    template = TEMPLATES.get(key)
    own = None if template else (await casework.own_reject_reasons(p.session, p.report.agency_id)).get(key)
    if template is None and own is None:
        return refuse(_, _(INACTIVE))
    # The citizen reads the reason, in their own language.
    citizen = await casework.citizen_of(p.session, p.report)
    theirs = translator(citizen.language if citizen else "vi")
    reason = theirs(template.reason) if template else theirs.pick(own.vi, own.en)
    return _finished(
        p,
        await p.act(
            Action.REJECT,
            N_("⛔ {code} rejected. The citizen is told the reason."),
            {Need.REASON.value: reason, "template": key},
        ),
    )


async def _choose_agency(p: Press, arg: str) -> Reply:
    _ = p._
    agency = await officials.agency_by_id(p.session, int(arg)) if arg.isdigit() else None
    if agency is None or not agency.active or agency.id == p.report.agency_id:
        return refuse(_, _(INACTIVE))
    problem = await p.preflight(Action.TRANSFER)
    if problem is not None:
        return _finished(p, refuse(_, problem))
    await prompts.ask(
        p.session,
        p.presser.user.id,
        TRANSFER,
        p.now,
        report_id=p.report.id,
        version=p.report.version,
        data={"to": agency.id},
    )
    text = _(
        "Transfer {code} to {agency}. Type the reason; the citizen will read it.\n\nSend /cancel to stop.",
        code=p.report.code,
        agency=agency_name(agency, _),
    )
    return Reply(_, edit=Private(text))


async def _turn_agencies(p: Press, arg: str) -> Reply:
    if not arg.isdigit():
        return refuse(p._, p._(INACTIVE))
    problem = await p.preflight(Action.TRANSFER)
    if problem is not None:
        return _finished(p, refuse(p._, problem))
    text, markup = await transfer_page(p.session, p.report, int(arg), p._)
    return Reply(p._, edit=Private(text, markup))


async def _choose_assignee(p: Press, arg: str) -> Reply:
    if not arg.isdigit():
        return refuse(p._, p._(INACTIVE))
    action = Action.REASSIGN if p.report.state == State.ASSIGNED else Action.ASSIGN
    name = await officials.official_name(p.session, int(arg))
    return _finished(
        p,
        await p.act(
            action,
            N_("👤 {code} assigned to {name}."),
            {Need.ASSIGNEE.value: int(arg)},
            name=name if name is not None else "?",
        ),
    )


# --- typed answers -----------------------------------------------------------------------------------

REJECT = "card.reject"
ASK_INFO = "card.ask_info"
TRANSFER = "card.transfer"
RETURN = "card.return"
CLARIFY = "card.clarify"


@dataclass(frozen=True)
class Typed:
    action: Action
    need: Need
    roles: frozenset[Role]
    done: str


_TYPED = {
    REJECT: Typed(Action.REJECT, Need.REASON, SCREENING, N_("⛔ {code} rejected. The citizen is told the reason.")),
    ASK_INFO: Typed(
        Action.REQUEST_INFO,
        Need.QUESTION,
        SCREENING,
        N_("❔ Your question about {code} was sent to the citizen. Their answer will show on the card."),
    ),
    TRANSFER: Typed(
        Action.TRANSFER,
        Need.REASON,
        SCREENING,
        N_("↪️ {code} transferred. The new agency's group has the card, and the citizen is told."),
    ),
    RETURN: Typed(
        Action.RETURN,
        Need.COMMENT,
        HEAD,
        N_("↩️ The result of {code} was returned to the handling officer with your comment."),
    ),
    CLARIFY: Typed(
        Action.ANSWER_CLARIFICATION,
        Need.ANSWER,
        frozenset({Role.HANDLING_OFFICER, Role.AGENCY_HEAD}),
        N_("💬 Your answer about {code} was sent to the citizen."),
    ),
}


def typed_text(update: Update, _: Translator) -> str | tuple[str]:
    """The text typed, or (why it cannot be taken,)."""
    message = update.effective_message
    text = (message.text or "").strip() if message else ""
    if not text:
        return (_(TYPE_AS_TEXT),)
    if len(text) > casework.TEXT_MAX:
        return (_(TOO_LONG, n=len(text), max=casework.TEXT_MAX),)
    return text


async def _take_typed(update: Update, context: ContextTypes.DEFAULT_TYPE, s: Scope, row: PendingInput) -> str | None:
    typed = _TYPED[row.purpose]
    text = typed_text(update, s._)
    if isinstance(text, tuple):
        return text[0]
    details: dict = {typed.need.value: text}
    if typed.action is Action.TRANSFER:
        details[Need.TARGET_AGENCY.value] = row.data.get("to")

    async def run(deps: Deps, report: Report, presser: Presser) -> workflow.Outcome:
        return await casework.act(
            s.session, deps.desk, report, typed.action, presser.actor, deps.now(), details, expected_version=row.version
        )

    return await act_on_typed(update, context, s, row, typed.roles, run, typed.done)


async def act_on_typed(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    s: Scope,
    row: PendingInput,
    roles: frozenset[Role],
    run: Callable[[Deps, Report, Presser], Awaitable[workflow.Outcome]],
    done: str,
) -> str:
    """Act on the report a typed answer is for, if whoever typed it still may; `done` tells them it happened."""
    deps = deps_of(context)
    await prompts.clear(s.session, s.user.id)
    report = await casework.report_by_id(s.session, row.report_id) if row.report_id else None
    if report is None:
        return s._(INACTIVE)
    presser = await authorise_presser(s.session, update, deps, report.agency_id, roles, row.purpose)
    if isinstance(presser, str):
        return presser
    outcome = await run(deps, report, presser)
    if not outcome.ok:
        return await refused_text(
            s.session, update, presser, report, outcome, row.purpose, deps.now(), deps.settings.zone
        )
    return s._(done, code=report.code)


for _purpose in _TYPED:
    answerer(_purpose)(_take_typed)


# --- the timeline ------------------------------------------------------------------------------------

_RATING_LABELS = {
    Rating.SATISFIED: N_("😊 Satisfied"),
    Rating.NORMAL: N_("😐 Normal"),
    Rating.UNSATISFIED: N_("😞 Unsatisfied"),
}
_SAID = (Need.REASON, Need.QUESTION, Need.ANSWER, Need.RESULT, Need.COMMENT, Need.NOTE)
HANDOVER_REASONS = frozenset(reason.value for reason in HandoverReason)


async def timeline_lines(session: AsyncSession, report: Report, _: Translator, zone: ZoneInfo) -> list[str]:
    """The report's whole timeline as officials read it: when, what, who, and what was said."""
    lines = [_("📜 Timeline of {code}", code=report.code)]
    for block in await timeline_blocks(session, report, _, zone):
        lines += ["", *block]
    return lines


async def timeline_blocks(session: AsyncSession, report: Report, _: Translator, zone: ZoneInfo) -> list[list[str]]:
    """One block of lines per event, oldest first."""
    events = await workflow.timeline(session, report.id, public_only=False)
    user_ids = {e.actor_user_id for e in events if e.actor_user_id is not None}
    official_ids = {
        v
        for e in events
        for k, v in e.details.items()
        if k in (Need.ASSIGNEE.value, "from_official_id") and isinstance(v, int)
    }
    agency_ids = {
        v
        for e in events
        for k, v in e.details.items()
        if k in (Need.TARGET_AGENCY.value, "from_agency_id") and isinstance(v, int)
    }
    by_user = await officials.names_by_user(session, user_ids)
    by_id = await officials.names_by_id(session, official_ids)
    agencies = {a.id: a for a in await officials.agencies_by_id(session, agency_ids)}
    blocks = []
    for event in events:
        action = Action(event.kind)
        if event.actor_user_id in by_user:
            who = by_user[event.actor_user_id]
        elif event.actor_role == Party.CITIZEN:
            who = _("the citizen")
        else:
            who = _("the system")
        label = _(OFFICIAL_EVENT_LABELS[action]) if action in OFFICIAL_EVENT_LABELS else action.value
        blocks.append(
            [
                f"🕒 {when(event.at, _, zone)} · {label} · {who}",
                *("   " + line for line in _details(event, by_id, agencies, _)),
            ]
        )
    return blocks


def _details(event: ReportEvent, names: dict[int, str], agencies: dict[int, Agency], _: Translator) -> list[str]:
    d = event.details
    out: list[str] = []
    if isinstance(d.get("from_agency_id"), int) and isinstance(d.get(Need.TARGET_AGENCY.value), int):
        source, target = agencies.get(d["from_agency_id"]), agencies.get(d[Need.TARGET_AGENCY.value])
        out.append(f"{agency_name(source, _) if source else '?'} → {agency_name(target, _) if target else '?'}")
    elif isinstance(d.get(Need.TARGET_AGENCY.value), int):
        target = agencies.get(d[Need.TARGET_AGENCY.value])
        out.append(f"→ {agency_name(target, _) if target else '?'}")
    if isinstance(d.get(Need.ASSIGNEE.value), int):
        before = names.get(d["from_official_id"]) if isinstance(d.get("from_official_id"), int) else None
        after = names.get(d[Need.ASSIGNEE.value], "?")
        out.append(f"{before} → {after}" if before else f"→ {after}")
    elif isinstance(d.get("from_official_id"), int):
        out.append(f"{names.get(d['from_official_id'], '?')} →")
    for need in _SAID:
        value = d.get(need.value)
        if not value:
            continue
        if need is Need.REASON and event.kind in (Action.HANDOVER, Action.UNASSIGN) and value in HANDOVER_REASONS:
            # The system's own reason (bot/domain/officials.py), not words someone typed.
            out.append(_(HANDOVER_REASON_LABELS[HandoverReason(value)]))
        else:
            out.append(f"“{value}”")
    if d.get(Need.EVIDENCE.value):
        n = len(d[Need.EVIDENCE.value])
        out.append(_.ngettext("📎 {n} evidence file", "📎 {n} evidence files", n))
    if d.get(Need.RATING.value) in _RATING_LABELS:
        out.append(_(_RATING_LABELS[Rating(d[Need.RATING.value])]))
    return out
