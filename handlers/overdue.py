"""/overdue: the overdue reports a supervisor is responsible for, oldest deadline first (003 Art. 9.3).

The Provincial Office's supervisors see every agency; a commune's head every
report in the commune; a department's head its sector (bot/domain/reminders.py
`overdue_in_scope`). Anyone else is refused, and the refusal is logged.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import ContextTypes

from bot.domain import officials, reminders
from bot.domain.officials import Refusal, Role
from bot.domain.reminder_texts import MORE, TASKS
from bot.domain.reminders import Overdue
from bot.domain.roles import roles_of
from bot.domain.workflow import State
from bot.i18n import N_, Translator
from handlers.officials import authorised, refusal_text
from handlers.scope import deps_of, user_scope

SUPERVISING = frozenset({Role.SUPERVISOR, Role.AGENCY_HEAD})
# Telegram's limit is 4096; the list stops well before it.
TEXT_MAX = 4000

NONE_OVERDUE = N_("✅ No report you supervise is overdue.")
HEADING = N_("🚨 Overdue reports you supervise: {n}, oldest deadline first.")


def overdue_text(total: int, items: list[Overdue], _: Translator, zone: ZoneInfo) -> str:
    if not total:
        return _(NONE_OVERDUE)
    lines = [_(HEADING, n=total), ""]
    for item in items:
        urgent = "⚡ " if item.urgent else ""
        due = _.datetime(item.due_at, zone, "HH:mm dd/MM/yyyy")
        lines.append(
            f"• {urgent}{item.code} · {_.pick(item.agency_vi, item.agency_en)} · "
            f"{_(TASKS[State(item.state)])} · {_('due {when}', when=due)}"
        )
    if total > len(items):
        lines.append(_(MORE, n=total - len(items)))
    text = "\n".join(lines)
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


async def overdue_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    tg_user = update.effective_user
    assert message is not None and tg_user is not None
    deps = deps_of(context)
    async with user_scope(update, context) as s:
        _ = s._
        now = deps.now()
        official = await authorised(s.session, update, None, SUPERVISING, "/overdue", now, _)
        if isinstance(official, str):
            text = official
        else:
            roles = await roles_of(s.session, official.id)
            found = await reminders.overdue_in_scope(s.session, official, roles, now)
            text = (
                overdue_text(*found, _, deps.settings.zone)
                if found
                else refusal_text(Refusal(officials.RefusalReason.MISSING_ROLE, official), _)
            )
    await message.reply_text(text)
