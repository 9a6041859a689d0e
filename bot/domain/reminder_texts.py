"""What reminders, escalations, digests and the monthly list say: renderers for bot/domain/reminders.py's outbox kinds.

Rendered when sent, in the recipient's language (a group's: the default), as
every outbox message is. Buttons reuse the callbacks officials already have:
`cw:op:<id>` opens the handling officer's work view, `rc:tl:<id>:<version>`
sends a report's timeline privately to whoever presses it (and may read it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.delivery.rendering import RENDERERS, Button, Rendered
from bot.domain.cards import Verb, callback
from bot.domain.notices import WORK
from bot.domain.reminder_kinds import (
    DAILY_DIGEST,
    DISSATISFIED_ALERT,
    MONTHLY_LATE,
    OVERDUE_ALERT,
    STAGE_REMINDER,
    Stage,
    StepKind,
)
from bot.domain.workflow import State
from bot.i18n import N_, Translator

# Telegram refuses longer texts; lists are cut well before.
TEXT_MAX = 4000
SHORT = "HH:mm dd/MM"

# What the report waits for, as "the time for …" continues.
TASKS = {
    State.SUBMITTED: N_("screening"),
    State.NEEDS_INFO: N_("screening"),
    State.RECEIVED: N_("assignment"),
    State.ASSIGNED: N_("handling"),
    State.PENDING_APPROVAL: N_("approval of the result"),
    State.CLARIFYING: N_("answering the citizen's clarification"),
}
STAGES = {
    Stage.RECEIVE: N_("receiving"),
    Stage.DISPATCH: N_("assignment"),
    Stage.HANDLE: N_("handling"),
    Stage.CLARIFY: N_("clarification answer"),
}
URGENT_LINE = N_("⚡ Urgent report")
OPEN_WORK = N_("🛠 Open the report")
TIMELINE = N_("📜 Timeline")
MORE = N_("…and {n} more")


def _when(value: str, params: Mapping[str, Any], _: Translator, fmt: str | None = None) -> str:
    at, zone = datetime.fromisoformat(value), ZoneInfo(params["tz"])
    return _.datetime(at, zone, fmt) if fmt else _.datetime(at, zone)


def _names(params: Mapping[str, Any], _: Translator) -> dict[str, str]:
    return {
        "code": params["code"],
        "topic": _.pick(params["topic_vi"], params["topic_en"]),
        "agency": _.pick(params["agency_vi"], params["agency_en"]),
    }


def _open(params: Mapping[str, Any], _: Translator) -> tuple[tuple[Button, ...], ...]:
    data = params.get("open")
    if not data:
        return ()
    label = OPEN_WORK if data.startswith(f"{WORK}:") else TIMELINE
    return ((Button(_(label), callback_data=data),),)


def _with_urgency(params: Mapping[str, Any], text: str, _: Translator) -> str:
    return f"{_(URGENT_LINE)}\n{text}" if params.get("urgent") else text


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


@RENDERERS.renderer(STAGE_REMINDER)
def render_stage_reminder(params: Mapping[str, Any], _: Translator) -> Rendered:
    names = _names(params, _)
    task = _(TASKS[State(params["state"])])
    due = _when(params["due_at"], params, _)
    match StepKind(params["step"]):
        case StepKind.SHARE:
            text = _(
                "⏰ Report {code} ({topic}): {percent}% of the time for {task} has passed. Due: {due}.",
                percent=round(params["share"] * 100),
                task=task,
                due=due,
                **names,
            )
        case StepKind.DEADLINE:
            text = _("⏰ Report {code} ({topic}): the time for {task} ends now, at {due}.", task=task, due=due, **names)
        case _step:
            text = _(
                "🚨 Report {code} ({topic}) is still overdue: {task} was due at {due}.", task=task, due=due, **names
            )
    return Rendered(_with_urgency(params, text, _), buttons=_open(params, _))


@RENDERERS.renderer(OVERDUE_ALERT)
def render_overdue(params: Mapping[str, Any], _: Translator) -> Rendered:
    text = _(
        "🚨 Overdue: report {code} ({topic}) at {agency}. The time for {task} ended at {due}.",
        task=_(TASKS[State(params["state"])]),
        due=_when(params["due_at"], params, _),
        **_names(params, _),
    )
    return Rendered(_with_urgency(params, text, _), buttons=_open(params, _))


@RENDERERS.renderer(DISSATISFIED_ALERT)
def render_dissatisfied(params: Mapping[str, Any], _: Translator) -> Rendered:
    text = _(
        "😞 Report {code} ({topic}) at {agency}: the citizen has been unsatisfied {n} times (unsatisfied "
        "ratings and re-openings, {reopened} of them re-openings). Please review how it is handled.",
        n=params["unsatisfied"],
        reopened=params["reopened"],
        **_names(params, _),
    )
    return Rendered(text, buttons=_open(params, _))


_DIGEST_SECTIONS = (
    ("overdue", N_("🚨 Overdue: {n}")),
    ("due_today", N_("⏰ Due today: {n}")),
    ("to_screen", N_("🆕 Waiting to be screened: {n}")),
)


@RENDERERS.renderer(DAILY_DIGEST)
def render_digest(params: Mapping[str, Any], _: Translator) -> Rendered:
    day = datetime.fromisoformat(params["day"])
    lines = [_("📋 Good morning. The agency's reports for {day}:", day=f"{day:%d/%m/%Y}")]
    buttons: list[Button] = []
    for name, heading in _DIGEST_SECTIONS:
        section = params[name]
        if not section["total"]:
            continue
        lines += ["", _(heading, n=section["total"])]
        for item in section["items"]:
            due = _when(item["due_at"], params, _, SHORT) if item.get("due_at") else "—"
            mark = "⚡ " if item.get("urgent") else ""
            lines.append(f"• {mark}{item['code']} · {_(TASKS[State(item['state'])])} · {due}")
            buttons.append(
                Button(f"📜 {item['code']}", callback_data=callback(Verb.TIMELINE, item["report_id"], item["version"]))
            )
        if section["total"] > len(section["items"]):
            lines.append(_(MORE, n=section["total"] - len(section["items"])))
    rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
    return Rendered(_clip("\n".join(lines)), buttons=rows)


@RENDERERS.renderer(MONTHLY_LATE)
def render_monthly(params: Mapping[str, Any], _: Translator) -> Rendered:
    month = datetime.strptime(params["month"], "%Y-%m").strftime("%m/%Y")
    if not params["stages"]:
        return Rendered(_("📊 No report was late at any stage in {month}.", month=month))
    lines = [
        _(
            "📊 Late reports in {month}: {stages} late stages in {reports} reports.",
            month=month,
            stages=params["stages"],
            reports=params["reports"],
        ),
        "",
        _("By agency:"),
    ]
    lines += [f"• {_.pick(vi, en)}: {count}" for vi, en, count in params["by_agency"]]
    lines += ["", _("Late stages, oldest deadline first:")]
    for item in params["items"]:
        due = _when(item["due_at"], params, _, SHORT)
        status = (
            _("done {when}", when=_when(item["finished_at"], params, _, SHORT))
            if item.get("finished_at")
            else _("still open")
        )
        lines.append(
            f"• {item['code']} · {_.pick(item['agency_vi'], item['agency_en'])} · "
            f"{_(STAGES[Stage(item['stage'])])} · {due} · {status}"
        )
    if params["stages"] > len(params["items"]):
        lines.append(_(MORE, n=params["stages"] - len(params["items"])))
    return Rendered(_clip("\n".join(lines)))
