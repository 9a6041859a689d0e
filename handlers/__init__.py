"""Telegram update handlers: parse, authorise, call a service, render."""
from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from handlers import errors, myreports, onboarding, private, report, settings
from handlers.scope import user_scope


def register(app: Application) -> None:
    only_private = filters.ChatType.PRIVATE
    app.add_handler(CommandHandler("start", onboarding.start, filters=only_private))
    app.add_handler(CommandHandler("report", report.begin, filters=only_private))
    app.add_handler(CommandHandler("myreports", myreports.show_list, filters=only_private))
    app.add_handler(CommandHandler("cancel", report.cancel, filters=only_private))
    app.add_handler(CommandHandler("language", settings.ask_language, filters=only_private))
    app.add_handler(CommandHandler("help", settings.show_help, filters=only_private))
    app.add_handler(CallbackQueryHandler(onboarding.on_consent, pattern=r"^ob:"))
    app.add_handler(CallbackQueryHandler(report.on_callback, pattern=r"^(dr|tp|ph|pv|ed):"))
    app.add_handler(CallbackQueryHandler(myreports.on_callback, pattern=r"^mr:"))
    app.add_handler(CallbackQueryHandler(settings.on_language, pattern=r"^lg:"))
    app.add_handler(CallbackQueryHandler(on_stale_button))
    app.add_handler(MessageHandler(only_private & filters.COMMAND, private.on_unknown_command))
    app.add_handler(MessageHandler(only_private & ~filters.COMMAND, private.on_message))
    app.add_error_handler(errors.on_error)


async def on_stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button from a message the bot no longer understands (old version, forged data)."""
    query = update.callback_query
    assert query is not None
    async with user_scope(update, context) as s:
        _ = s._
    await query.answer(_("That button is no longer active."), show_alert=True)
