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
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import prompts
from bot.conversation.inputs import Button, Input, Text
from bot.conversation.menus import MENU_LABELS
from bot.conversation.payloads import record_id
from bot.conversation.replies import EditButtons, MessageRef, Reply, Rows, Say
from bot.conversation.scope import Scope
from bot.deps import Deps
from bot.domain import casework, notices, officials, workflow
from bot.domain.labels import STATE_LABELS
from bot.domain.workflow import Action, Actor, Need, Rating, Refusal, State
from bot.i18n import N_, Translator, nfc
from storage.models import PendingInput, Report, User

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
    report_id = record_id(parts[2]) if len(parts) >= 3 else None
    if report_id is None or parts[0] != PREFIX or parts[1] not in VERBS:
        return None
    action = VERBS[parts[1]]
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


# --- what the citizen is told -------------------------------------------------------------------


async def agency_name(session: AsyncSession, report: Report, _: Translator) -> str:
    agency = await officials.agency_by_id(session, report.agency_id)
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


@dataclass(frozen=True)
class Pressed:
    """The message a button was pressed on, with its buttons as they were."""

    message: MessageRef | None
    rows: Rows

    def edit_for(self, report: Report, at: datetime) -> EditButtons | None:
        rows = pruned(self.rows, live_callbacks(report, at))
        if self.message is None or rows == self.rows:
            return None
        return EditButtons(rows, self.message)


async def on_button(deps: Deps, s: Scope, button: Button) -> list[Reply]:
    """A follow-up button: refused, rated at once, or a prompt for the words it needs."""
    _ = s._
    now = deps.now()
    pressed = Pressed(button.message, button.rows)
    press = parse(button.payload)
    report = await casework.report_by_id(s.session, press.report_id) if press else None
    if press is None or report is None:
        return [Say(_(INACTIVE))]
    refusal = workflow.precheck(report, press.action, Actor.citizen(s.user.id), now)
    if refusal is not None:
        refused(report, press.action, refusal, s.user)
        edit = pressed.edit_for(report, now) if report.citizen_id == s.user.id else None
        return _with_edit([Say(refusal_text(report, press.action, refusal, _, deps.settings.zone))], edit)
    if press.rating is not None:
        return await _rate(deps, s, report, press.rating, pressed)
    asked = pressed.message
    await prompts.ask(
        s.session,
        s.user.id,
        PURPOSES[press.action],
        now,
        report_id=report.id,
        version=report.version,
        data={
            "chat_id": asked.chat_id if asked else None,
            "message_id": asked.message_id if asked else None,
            "rows": pressed.rows,
        },
    )
    question = None
    if press.action is Action.PROVIDE_INFO:
        request = await casework.latest_of(s.session, report.id, [Action.REQUEST_INFO])
        question = request.details.get(Need.QUESTION.value) if request else None
    text = _(
        PROMPTS[press.action],
        code=report.code,
        agency=await agency_name(s.session, report, _),
        question=question or "—",
    )
    return [Say(text)]


def _with_edit(replies: list[Reply], edit: EditButtons | None) -> list[Reply]:
    return [*replies, edit] if edit is not None else replies


async def _rate(deps: Deps, s: Scope, report: Report, rating: Rating, pressed: Pressed) -> list[Reply]:
    _ = s._
    now = deps.now()
    outcome = await casework.act(
        s.session, deps.desk, report, Action.RATE, Actor.citizen(s.user.id), now, {Need.RATING.value: rating.value}
    )
    if not outcome.ok:
        assert outcome.refusal is not None
        refused(report, Action.RATE, outcome.refusal, s.user)
        text = refusal_text(outcome.report, Action.RATE, outcome.refusal, _, deps.settings.zone)
        return _with_edit([Say(text)], pressed.edit_for(outcome.report, now))
    await _drop_prompt_about(s, report, now)
    reply = Say(_(RATED, code=report.code, rating=_(RATING_LABELS[rating])))
    if rating is Rating.UNSATISFIED:
        reply.text += "\n\n" + _(REOPEN_OFFER)
        reply.buttons = [[(_(REOPEN_BUTTON), callback(REOPEN, report.id))]]
    return _with_edit([reply], pressed.edit_for(report, now))


async def _drop_prompt_about(s: Scope, report: Report, now: datetime) -> None:
    """A question the citizen was about to type on this report is moot once it is rated."""
    row = await prompts.pending(s.session, s.user.id, now)
    if row is not None and row.report_id == report.id and row.purpose in PURPOSES.values():
        await prompts.clear(s.session, s.user.id)


# --- the typed answer ---------------------------------------------------------------------------


ACTIONS: dict[str, Action] = {purpose: action for action, purpose in PURPOSES.items()}


async def take(deps: Deps, s: Scope, row: PendingInput, received: Input) -> list[Reply]:
    """The citizen's text for the prompt `row`: fire it, or say why not (the prompt stays for a fixable text)."""
    _ = s._
    action = ACTIONS[row.purpose]
    now = deps.now()
    text = nfc(received.text.strip()) if isinstance(received, Text) else ""
    if not text:
        return [Say(_(TEXT_ONLY))]
    if text in MENU_LABELS:
        return [Say(_(MENU_NOT_ANSWER))]
    if len(text) > casework.TEXT_MAX:
        return [Say(_(TOO_LONG, max=casework.TEXT_MAX))]
    report = await casework.report_by_id(s.session, row.report_id) if row.report_id is not None else None
    await prompts.clear(s.session, s.user.id)
    if report is None:
        return [Say(_(INACTIVE))]
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
        why = refusal_text(outcome.report, action, outcome.refusal, _, deps.settings.zone)
        return [Say(why + "\n" + _(NOT_SENT))]
    done = Say(_(DONE[action], code=report.code, agency=await agency_name(s.session, report, _)))
    # The asking message's buttons first: the question they offered is now asked.
    edit = _asked_from(row).edit_for(report, now)
    return [edit, done] if edit is not None else [done]


def _asked_from(row: PendingInput) -> Pressed:
    """The message whose button opened the prompt, as it was pressed."""
    data = row.data or {}
    rows = [[(str(text), str(cb)) for text, cb in r] for r in data.get("rows") or []]
    chat_id = data.get("chat_id")
    message_id = data.get("message_id")
    message = MessageRef(str(chat_id), str(message_id)) if chat_id is not None and message_id is not None else None
    return Pressed(message, rows)
