"""Every non-command message in a private chat goes to whatever the person is in the middle of."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.domain import citizens, drafts
from bot.domain.citizens import OnboardingStep
from handlers import myreports, onboarding, photos, report, settings
from handlers.keyboards import (
    MENU_HELP,
    MENU_LANGUAGE,
    MENU_MY_REPORTS,
    MENU_REPORT,
    labels,
    main_menu,
)
from handlers.scope import user_scope

MENU = {
    MENU_REPORT: report.begin,
    MENU_MY_REPORTS: myreports.show_list,
    MENU_LANGUAGE: settings.ask_language,
    MENU_HELP: settings.show_help,
}


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or update.effective_user is None:
        return
    if message.text:
        for label, handler in MENU.items():
            if message.text in labels(label):
                await handler(update, context)
                return
    async with user_scope(update, context) as s:
        step = citizens.onboarding_step(s.user)
        working = await drafts.load(s.session, s.user.id) if step is OnboardingStep.DONE else None
        declined = s.user.declined_at is not None and step is OnboardingStep.CONSENT
        _ = s._
    if declined:
        await message.reply_text(
            _("You have not agreed to the privacy notice, so reports cannot be taken. Send /start to read it again.")
        )
        return
    if step is not OnboardingStep.DONE:
        await onboarding.on_input(update, context, step)
        return
    if working is not None:
        if message.photo or message.document:
            await photos.on_photo(update, context)
        else:
            await report.on_input(update, context)
        return
    if message.photo or message.document or message.location or message.venue:
        await message.reply_text(
            _("To report something, press “📝 Send a report” first; I will then ask for the photos and the place."),
            reply_markup=main_menu(_),
        )
        return
    await message.reply_text(
        _("I did not understand that. Use the menu below, or /help."),
        reply_markup=main_menu(_),
    )


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    async with user_scope(update, context) as s:
        _ = s._
    await message.reply_text(_("Unknown command. Send /help to see what I can do."))
