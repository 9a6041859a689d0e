"""/language and /help."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.domain import citizens
from bot.domain.citizens import OnboardingStep
from bot.i18n import N_, translator
from handlers.keyboards import inline, main_menu
from handlers.scope import user_scope

LANGUAGE = "lg:"


async def ask_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    async with user_scope(update, context) as s:
        _ = s._
    await message.reply_text(
        _("Choose your language:"),
        reply_markup=inline([[("🇻🇳 Tiếng Việt", f"{LANGUAGE}vi"), ("🇬🇧 English", f"{LANGUAGE}en")]]),
    )


async def on_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    await query.answer()
    language = query.data[len(LANGUAGE) :]
    if language not in ("vi", "en"):
        return
    async with user_scope(update, context) as s:
        citizens.set_language(s.user, language)
        registered = citizens.onboarding_step(s.user) is OnboardingStep.DONE
    _ = translator(language)
    await query.edit_message_reply_markup(reply_markup=None)
    await query.message.reply_text(
        _("Language changed to English."),
        reply_markup=main_menu(_) if registered else None,
    )


async def show_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    async with user_scope(update, context) as s:
        _ = s._
        registered = citizens.onboarding_step(s.user) is OnboardingStep.DONE
    await message.reply_text(_(HELP), reply_markup=main_menu(_) if registered else None)


HELP = N_(
    "This bot takes reports about problems in public life and passes them to the "
    "responsible agency of the province, and brings you the province's alerts.\n\n"
    "/report — send a report with photos and the place\n"
    "/myreports — follow your reports, withdraw one not yet received\n"
    "/alerts — the province's alerts in force\n"
    "/subscribe — choose which alerts you receive: the whole province or your communes\n"
    "/unsubscribe — stop all alerts at once\n"
    "/cancel — leave what you are doing\n"
    "/language — Tiếng Việt or English\n"
    "/start — register or see your details\n\n"
    "Not taken here: complaints and denunciations, disputes between people, "
    "and anything secret. In an emergency call 113 (police), 114 (fire) or 115 (ambulance)."
)
