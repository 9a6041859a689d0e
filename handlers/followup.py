"""The citizen's side after the agency acts: the buttons of the step messages (bot/domain/notices.py).

  fu:inf:<id>           the agency asked for more information: the citizen types the answer
  fu:cl:<id>            ask for clarification of the result, within 2 days of it (docs/rules.md "Deadlines")
  fu:rt:<id>:<rating>   rate the result: satisfied / normal / unsatisfied (003 Art. 10)
  fu:ro:<id>            re-open after an unsatisfied rating, with a reason

Only the report's own citizen may use them: a forwarded message's buttons do
nothing for anyone else. A button that needs words opens a prompt
(bot/conversation/prompts.py); the typed text fires the transition through bot/domain/casework.py,
which edits the agency's card and tells the officials. Buttons that can no
longer work are taken off the message they were pressed on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.conversation import prompts
from bot.domain import casework, notices, workflow
from bot.domain.labels import STATE_LABELS
from bot.domain.workflow import Action, Actor, Need, Rating, Refusal, State
from bot.i18n import N_, Translator, nfc
from handlers.answers import answerer
from handlers.keyboards import (
    MENU_HELP,
    MENU_LANGUAGE,
    MENU_MY_REPORTS,
    MENU_REPORT,
    inline,
    labels,
)
from handlers.scope import Scope, deps_of, user_scope
from storage.models import Agency, PendingInput, Report, User

log = logging.getLogger(__name__)

PREFIX = notices.FOLLOW_UP
ANSWER, CLARIFY, RATE, REOPEN = "inf", "cl", "rt", "ro"
VERBS: dict[str, Action] = {
    ANSWER: Action.PROVIDE_INFO,
    CLARIFY: Action.ASK_CLARIFICATION,
    RATE: Action.RATE,
    REOPEN: Action.REOPEN,
}
# What the citizen types for each action that needs words, and the prompt purpose that waits for it.
WORDS: dict[Action, Need] = {
    Action.PROVIDE_INFO: Need.ANSWER,
    Action.ASK_CLARIFICATION: Need.QUESTION,
    Action.REOPEN: Need.REASON,
}
PURPOSES: dict[Action, str] = {
    Action.PROVIDE_INFO: "followup.info",
    Action.ASK_CLARIFICATION: "followup.clarify",
    Action.REOPEN: "followup.reopen",
}

RATING_LABELS: dict[Rating, str] = {
    Rating.SATISFIED: N_("😊 Satisfied"),
    Rating.NORMAL: N_("😐 Normal"),
    Rating.UNSATISFIED: N_("😞 Unsatisfied"),
}
ANSWER_BUTTON = N_("✍️ Answer")
CLARIFY_BUTTON = N_("❔ Ask for clarification")
REOPEN_BUTTON = N_("🔁 Re-open")

INACTIVE = N_("That button is no longer active.")
NOT_YOURS = N_("Only the citizen who sent this report can use its buttons.")
MOVED_ON = N_("Report {code} has moved on (now: {state}), so this button no longer applies.")
ALREADY_RATED = N_("You have already rated report {code}: {rating}. Thank you!")
ALREADY_ASKED = N_("You have already asked for clarification of report {code}; the agency's answer will come here.")
CLARIFY_TOO_LATE = N_(
    "The 2 days for asking about the result of report {code} have passed (the result was sent at {when}). "
    "You can still rate it."
)
REOPEN_ONLY_UNSATISFIED = N_("Report {code} can be re-opened only after an “😞 Unsatisfied” rating.")
NOT_DONE = N_("That could not be done; nothing was changed.")
NOT_SENT = N_("Your text was not sent.")

INFO_PROMPT = N_(
    "✍️ Write your answer to {agency} about report {code} in one message.\nTheir question: {question}\n\n"
    "Send /cancel to stop."
)
CLARIFY_PROMPT = N_(
    "❔ What should {agency} clarify about the result of report {code}? Write your question in one message.\n\n"
    "Send /cancel to stop."
)
REOPEN_PROMPT = N_(
    "🔁 Why are you re-opening report {code}? Write in one message what is still wrong; {agency} will handle "
    "it again.\n\nSend /cancel to stop."
)
TEXT_ONLY = N_("Please write it as a text message (photos and files cannot be added here), or send /cancel to stop.")
MENU_NOT_ANSWER = N_("That is a menu button, not an answer. Please write your text, or send /cancel to stop.")
TOO_LONG = N_("That is too long: please keep it within {max} characters, or send /cancel to stop.")

INFO_SENT = N_("✅ Thank you. Your answer was sent to {agency}, which will now screen report {code}.")
CLARIFY_SENT = N_("✅ Your question was sent to {agency}. Their answer about report {code} will come here.")
RATED = N_("🙏 Thank you for rating report {code}: {rating}.")
REOPEN_OFFER = N_("If the problem is not solved, you can re-open the report and say what is still wrong.")
REOPENED = N_("🔁 Report {code} is re-opened: {agency} will handle it again. You will be told of each step.")

PROMPTS = {Action.PROVIDE_INFO: INFO_PROMPT, Action.ASK_CLARIFICATION: CLARIFY_PROMPT, Action.REOPEN: REOPEN_PROMPT}
DONE = {Action.PROVIDE_INFO: INFO_SENT, Action.ASK_CLARIFICATION: CLARIFY_SENT, Action.REOPEN: REOPENED}

# Inline keyboard rows as (text, callback data), the form kept in a prompt's data.
Rows = list[list[tuple[str, str]]]


# --- callback data ----------------------------------------------------------------------------


def callback(verb: str, report_id: int, rating: Rating | None = None) -> str:
    return f"{PREFIX}:{verb}:{report_id}" + (f":{rating.value}" if rating else "")


@dataclass(frozen=True)
class Press:
    action: Action
    report_id: int
    rating: Rating | None = None


def parse(data: str) -> Press | None:
    parts = data.split(":")
    if len(parts) < 3 or parts[0] != PREFIX or parts[1] not in VERBS or not parts[2].isdigit():
        return None
    action, report_id = VERBS[parts[1]], int(parts[2])
    if action is Action.RATE:
        if len(parts) != 4 or parts[3] not in {r.value for r in Rating}:
            return None
        return Press(action, report_id, Rating(parts[3]))
    return Press(action, report_id) if len(parts) == 3 else None


def live_callbacks(report: Report, at: datetime) -> frozenset[str]:
    """The follow-up buttons that can still work for the report's citizen now."""
    citizen = Actor.citizen(report.citizen_id)
    live: set[str] = set()
    for verb, action in VERBS.items():
        if workflow.precheck(report, action, citizen, at) is not None:
            continue
        if action is Action.RATE:
            live |= {callback(RATE, report.id, rating) for rating in Rating}
        else:
            # The workflow offers re-opening only after an unsatisfied rating (which closed the report).
            live.add(callback(verb, report.id))
    return frozenset(live)


def step_buttons(report: Report, at: datetime, _: Translator) -> Rows:
    """Every follow-up button that works now, e.g. for the report's page in /myreports."""
    offer: Rows = [
        [(_(ANSWER_BUTTON), callback(ANSWER, report.id))],
        [(_(label), callback(RATE, report.id, rating)) for rating, label in RATING_LABELS.items()],
        [(_(CLARIFY_BUTTON), callback(CLARIFY, report.id))],
        [(_(REOPEN_BUTTON), callback(REOPEN, report.id))],
    ]
    return pruned(offer, live_callbacks(report, at))


def pruned(rows: Rows, live: frozenset[str]) -> Rows:
    """The rows without the follow-up buttons that no longer work; other buttons stay."""
    kept = [[(text, data) for text, data in row if not data.startswith(f"{PREFIX}:") or data in live] for row in rows]
    return [row for row in kept if row]


def rows_of(message: Message | None) -> Rows:
    markup = message.reply_markup if message is not None else None
    if markup is None:
        return []
    return [
        [(b.text, b.callback_data) for b in row if isinstance(b.callback_data, str)] for row in markup.inline_keyboard
    ]


# --- what the citizen is told -------------------------------------------------------------------


async def agency_name(session: AsyncSession, report: Report, _: Translator) -> str:
    agency = await session.get(Agency, report.agency_id)
    assert agency is not None
    return _.pick(agency.name_vi, agency.name_en)


def refusal_text(report: Report, action: Action, refusal: Refusal, _: Translator, zone: ZoneInfo) -> str:
    state = State(report.state)
    match refusal:
        case Refusal.NOT_ALLOWED:
            return _(NOT_YOURS)
        case Refusal.TOO_LATE if action is Action.ASK_CLARIFICATION and report.resolved_at is not None:
            return _(CLARIFY_TOO_LATE, code=report.code, when=_.datetime(report.resolved_at, zone))
        case Refusal.TOO_LATE if action is Action.REOPEN:
            return _(REOPEN_ONLY_UNSATISFIED, code=report.code)
        case Refusal.WRONG_STATE if action is Action.REOPEN and state in (State.RESOLVED, State.CLARIFYING):
            # An old or crafted re-open press before any rating.
            return _(REOPEN_ONLY_UNSATISFIED, code=report.code)
        case Refusal.WRONG_STATE | Refusal.STALE | Refusal.TOO_LATE:
            if action is Action.RATE and report.rating in {r.value for r in Rating}:
                return _(ALREADY_RATED, code=report.code, rating=_(RATING_LABELS[Rating(report.rating)]))
            if action is Action.ASK_CLARIFICATION and state is State.CLARIFYING:
                return _(ALREADY_ASKED, code=report.code)
            return _(MOVED_ON, code=report.code, state=_(STATE_LABELS[state]))
    return _(NOT_DONE)


def refused(report: Report, action: Action, refusal: Refusal, user: User) -> None:
    log.info("refused follow-up %s on report %s by user %s: %s", action, report.id, user.id, refusal)


# --- pressing a button --------------------------------------------------------------------------


@dataclass
class Reply:
    text: str
    buttons: Rows = field(default_factory=list)


@dataclass(frozen=True)
class KeyboardEdit:
    """The pressed message's buttons, once some of them no longer work."""

    chat_id: int
    message_id: int
    rows: Rows


@dataclass(frozen=True)
class Pressed:
    chat_id: int
    message_id: int | None
    rows: Rows

    def edit_for(self, report: Report, at: datetime) -> KeyboardEdit | None:
        rows = pruned(self.rows, live_callbacks(report, at))
        if self.message_id is None or rows == self.rows:
            return None
        return KeyboardEdit(self.chat_id, self.message_id, rows)


async def on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await query.answer()
    message = query.message if isinstance(query.message, Message) else None
    pressed = Pressed(
        message.chat.id if message else update.effective_user.id,
        message.message_id if message else None,
        rows_of(message),
    )
    press = parse(query.data)
    async with user_scope(update, context) as s:
        reply, edit = await _on_press(s, context, press, pressed)
    await context.bot.send_message(
        pressed.chat_id, reply.text, reply_markup=inline(reply.buttons) if reply.buttons else None
    )
    await apply_edit(context.bot, edit)


async def _on_press(
    s: Scope, context: ContextTypes.DEFAULT_TYPE, press: Press | None, pressed: Pressed
) -> tuple[Reply, KeyboardEdit | None]:
    _ = s._
    deps = deps_of(context)
    now = deps.now()
    report = await s.session.get(Report, press.report_id) if press else None
    if press is None or report is None:
        return Reply(_(INACTIVE)), None
    refusal = workflow.precheck(report, press.action, Actor.citizen(s.user.id), now)
    if refusal is not None:
        refused(report, press.action, refusal, s.user)
        mine = report.citizen_id == s.user.id
        return (
            Reply(refusal_text(report, press.action, refusal, _, deps.settings.zone)),
            pressed.edit_for(report, now) if mine else None,
        )
    if press.rating is not None:
        return await _rate(s, context, report, press.rating, pressed)
    await prompts.ask(
        s.session,
        s.user.id,
        PURPOSES[press.action],
        now,
        report_id=report.id,
        version=report.version,
        data={"chat_id": pressed.chat_id, "message_id": pressed.message_id, "rows": pressed.rows},
    )
    question = None
    if press.action is Action.PROVIDE_INFO:
        asked = await casework.latest_of(s.session, report.id, [Action.REQUEST_INFO])
        question = asked.details.get(Need.QUESTION.value) if asked else None
    text = _(
        PROMPTS[press.action],
        code=report.code,
        agency=await agency_name(s.session, report, _),
        question=question or "—",
    )
    return Reply(text), None


async def _rate(
    s: Scope, context: ContextTypes.DEFAULT_TYPE, report: Report, rating: Rating, pressed: Pressed
) -> tuple[Reply, KeyboardEdit | None]:
    _ = s._
    deps = deps_of(context)
    now = deps.now()
    outcome = await casework.act(
        s.session, deps.desk, report, Action.RATE, Actor.citizen(s.user.id), now, {Need.RATING.value: rating.value}
    )
    if not outcome.ok:
        assert outcome.refusal is not None
        refused(report, Action.RATE, outcome.refusal, s.user)
        return (
            Reply(refusal_text(outcome.report, Action.RATE, outcome.refusal, _, deps.settings.zone)),
            pressed.edit_for(outcome.report, now),
        )
    await _drop_prompt_about(s, report, now)
    reply = Reply(_(RATED, code=report.code, rating=_(RATING_LABELS[rating])))
    if rating is Rating.UNSATISFIED:
        reply.text += "\n\n" + _(REOPEN_OFFER)
        reply.buttons = [[(_(REOPEN_BUTTON), callback(REOPEN, report.id))]]
    return reply, pressed.edit_for(report, now)


async def _drop_prompt_about(s: Scope, report: Report, now: datetime) -> None:
    """A question the citizen was about to type on this report is moot once it is rated."""
    row = await prompts.pending(s.session, s.user.id, now)
    if row is not None and row.report_id == report.id and row.purpose in PURPOSES.values():
        await prompts.clear(s.session, s.user.id)


async def apply_edit(bot: Bot, edit: KeyboardEdit | None) -> None:
    if edit is None:
        return
    try:
        await bot.edit_message_reply_markup(
            edit.chat_id, edit.message_id, reply_markup=inline(edit.rows) if edit.rows else None
        )
    except TelegramError as exc:
        # An old message may be beyond editing; its buttons are refused when pressed anyway.
        log.info("could not update the buttons of message %s: %s", edit.message_id, exc)


# --- the typed answer ---------------------------------------------------------------------------


_MENU_LABELS = frozenset().union(*(labels(label) for label in (MENU_REPORT, MENU_MY_REPORTS, MENU_LANGUAGE, MENU_HELP)))


async def _take(
    update: Update, context: ContextTypes.DEFAULT_TYPE, s: Scope, row: PendingInput, action: Action
) -> str | None:
    """The citizen's text for `action`: fire it, or say why not (the prompt stays for a fixable text)."""
    _ = s._
    deps = deps_of(context)
    now = deps.now()
    message = update.effective_message
    text = nfc((message.text or "").strip()) if message is not None else ""
    if not text:
        return _(TEXT_ONLY)
    if text in _MENU_LABELS:
        return _(MENU_NOT_ANSWER)
    if len(text) > casework.TEXT_MAX:
        return _(TOO_LONG, max=casework.TEXT_MAX)
    report = await s.session.get(Report, row.report_id) if row.report_id is not None else None
    await prompts.clear(s.session, s.user.id)
    if report is None:
        return _(INACTIVE)
    outcome = await casework.act(
        s.session,
        deps.desk,
        report,
        action,
        Actor.citizen(s.user.id),
        now,
        {WORDS[action].value: text},
        expected_version=row.version,
    )
    if not outcome.ok:
        assert outcome.refusal is not None
        refused(report, action, outcome.refusal, s.user)
        return refusal_text(outcome.report, action, outcome.refusal, _, deps.settings.zone) + "\n" + _(NOT_SENT)
    edit = _asked_from(row).edit_for(report, now)
    if edit is not None:
        # No database work in it, so it need not wait for the commit.
        context.application.create_task(apply_edit(context.bot, edit), update=update)
    return _(DONE[action], code=report.code, agency=await agency_name(s.session, report, _))


def _asked_from(row: PendingInput) -> Pressed:
    """The message whose button opened the prompt, as it was pressed."""
    data = row.data or {}
    rows = [[(str(text), str(cb)) for text, cb in r] for r in data.get("rows") or []]
    chat_id = data.get("chat_id")
    message_id = data.get("message_id")
    return Pressed(
        int(chat_id) if chat_id is not None else 0,
        int(message_id) if message_id is not None and chat_id is not None else None,
        rows,
    )


@answerer(PURPOSES[Action.PROVIDE_INFO])
async def take_information(
    update: Update, context: ContextTypes.DEFAULT_TYPE, s: Scope, row: PendingInput
) -> str | None:
    return await _take(update, context, s, row, Action.PROVIDE_INFO)


@answerer(PURPOSES[Action.ASK_CLARIFICATION])
async def take_question(update: Update, context: ContextTypes.DEFAULT_TYPE, s: Scope, row: PendingInput) -> str | None:
    return await _take(update, context, s, row, Action.ASK_CLARIFICATION)


@answerer(PURPOSES[Action.REOPEN])
async def take_reopen_reason(
    update: Update, context: ContextTypes.DEFAULT_TYPE, s: Scope, row: PendingInput
) -> str | None:
    return await _take(update, context, s, row, Action.REOPEN)
