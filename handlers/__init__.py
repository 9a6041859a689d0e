"""Telegram update handlers: parse, authorise, call a service, render.

The citizen's dialogue is platform-neutral (bot/conversation/); `citizen`
hands it every private message and button of its own. The officials' side
(cards, work desk, invitations, alerts drafting, calendar) is handled here.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.conversation import dialogue
from handlers import (
    alerts,
    answers,
    calendar_admin,
    cards,
    citizen,
    errors,
    officials,
    overdue,
    workdesk,
)
from handlers.scope import user_scope


def register(app: Application) -> None:
    only_private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    # Answers to what the bot asked (a reason, a result with evidence, the citizen's answer) come first.
    # A result's text and evidence files, downloaded outside any transaction, before the answers above.
    app.add_handler(
        MessageHandler(only_private & (filters.TEXT | filters.PHOTO | filters.Document.ALL), workdesk.on_result_input),
        group=-3,
    )
    # An alert draft's photo or document, downloaded outside any transaction (handlers/alerts.py).
    app.add_handler(
        MessageHandler(only_private & (filters.PHOTO | filters.Document.ALL), alerts.on_attachment), group=-4
    )
    app.add_handler(MessageHandler(only_private & ~filters.StatusUpdate.ALL, answers.on_message), group=-2)
    # The full name an administrator types during /invite, before any citizen handler sees it.
    app.add_handler(MessageHandler(only_private & filters.TEXT, officials.on_pending_invite_text), group=-1)
    # An invitation deep link (/start inv_…) before the citizen's /start.
    app.add_handler(
        CommandHandler("start", officials.on_start_invitation, filters=only_private & officials.INVITATION_START)
    )
    app.add_handler(CommandHandler(list(dialogue.COMMANDS), citizen.on_message, filters=only_private))
    app.add_handler(CommandHandler("invite", officials.invite_command, filters=only_private))
    app.add_handler(CommandHandler("bindgroup", officials.bindgroup_command, filters=only_private))
    app.add_handler(CommandHandler("officials", officials.officials_command, filters=only_private))
    app.add_handler(CommandHandler("overdue", overdue.overdue_command, filters=only_private))
    # The platform administrator's extra days off and make-up working days (handlers/calendar_admin.py).
    app.add_handler(CommandHandler("calendar", calendar_admin.calendar_command, filters=only_private))
    app.add_handler(CallbackQueryHandler(calendar_admin.on_callback, pattern=r"^cal:"))
    app.add_handler(CommandHandler("bind", officials.bind_command, filters=groups))
    app.add_handler(ChatMemberHandler(officials.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, officials.on_group_migrated))
    # The citizen's buttons: consent, the draft, their reports, follow-up, language, alert settings.
    app.add_handler(CallbackQueryHandler(citizen.on_button, pattern=r"^(ob|dr|tp|ph|pv|ed|mr|lg|fu|sb):"))
    app.add_handler(CallbackQueryHandler(officials.on_invite_callback, pattern=r"^iv:"))
    app.add_handler(CallbackQueryHandler(officials.on_officials_callback, pattern=r"^of:"))
    app.add_handler(CallbackQueryHandler(officials.on_group_info, pattern=r"^og:"))
    # The agency card's buttons and the private choices they lead to (handlers/cards.py).
    app.add_handler(CallbackQueryHandler(cards.on_card, pattern=r"^rc:"))
    app.add_handler(CallbackQueryHandler(cards.on_choice, pattern=r"^ck:"))
    # The handling officer's work view, coordination answers and /queue (handlers/workdesk.py).
    app.add_handler(CallbackQueryHandler(workdesk.on_work, pattern=r"^cw:"))
    app.add_handler(CallbackQueryHandler(workdesk.on_coordination, pattern=r"^co:"))
    app.add_handler(CommandHandler("queue", workdesk.queue_command, filters=only_private))
    # Alerts: drafting, the focal unit's review, what is in force, following them (handlers/alerts.py).
    app.add_handler(CommandHandler("newalert", alerts.newalert_command, filters=only_private))
    app.add_handler(CommandHandler("alerts", alerts.alerts_command, filters=only_private))
    app.add_handler(CallbackQueryHandler(alerts.on_draft, pattern=r"^ad:"))
    app.add_handler(CallbackQueryHandler(alerts.on_review, pattern=r"^al:"))
    alerts.install(app)
    app.add_handler(CallbackQueryHandler(on_stale_button))
    # Unknown commands and every other private message: the conversation says what it takes.
    app.add_handler(MessageHandler(only_private, citizen.on_message))
    # Last: group commands no other handler took (refused in groups not bound to an agency).
    app.add_handler(MessageHandler(groups & filters.COMMAND, officials.on_group_command))
    app.add_error_handler(errors.on_error)


async def on_stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button from a message the bot no longer understands (old version, forged data)."""
    query = update.callback_query
    assert query is not None
    async with user_scope(update, context) as s:
        _ = s._
    await query.answer(_("That button is no longer active."), show_alert=True)
