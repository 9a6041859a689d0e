"""The citizen's side of the bot, from any messenger: one input in, the replies out.

A platform adapter calls `handle` for everything a person sends in their
private chat with the bot. Officials' commands and buttons (cards, invitations,
alerts drafting) are the adapter's own and never reach here; anything the
conversation does not know is answered as unknown.
"""

from __future__ import annotations

from bot.conversation import drafting, followup, myreports, onboarding, photos, prompts, settings
from bot.conversation.inputs import Button, Command, Input, Location, Sender, Text, Upload
from bot.conversation.menus import MENU_HELP, MENU_LANGUAGE, MENU_MY_REPORTS, MENU_REPORT, labels, main_menu
from bot.conversation.photos import Files
from bot.conversation.replies import Reply, Say
from bot.conversation.scope import Scope, user_scope
from bot.deps import Deps
from bot.domain import citizens, drafts
from bot.domain.citizens import OnboardingStep
from bot.i18n import N_
from storage.models import PendingInput

UNKNOWN_COMMAND = N_("Unknown command. Send /help to see what I can do.")
CANCELLED = N_("Cancelled. Nothing was changed.")

COMMANDS = {
    "start": onboarding.start,
    "report": drafting.begin,
    "myreports": myreports.show_list,
    "cancel": drafting.cancel,
    "language": settings.ask_language,
    "help": settings.show_help,
    "subscribe": settings.subscribe,
    "unsubscribe": settings.unsubscribe,
}
MENU = {
    MENU_REPORT: drafting.begin,
    MENU_MY_REPORTS: myreports.show_list,
    MENU_LANGUAGE: settings.ask_language,
    MENU_HELP: settings.show_help,
}
# The prompt purposes whose answer the conversation takes (bot/conversation/prompts.py).
PURPOSES = frozenset(followup.PURPOSES.values())


async def handle(deps: Deps, sender: Sender, received: Input, files: Files) -> list[Reply]:
    """Everything a citizen sends: the answer to a question asked, a command, a button, or a message."""
    if not isinstance(received, Button) and not (isinstance(received, Command) and received.name != "cancel"):
        answered = await answer(deps, sender, received)
        if answered is not None:
            return answered
    return await route(deps, sender, received, files)


async def route(deps: Deps, sender: Sender, received: Input, files: Files) -> list[Reply]:
    """What `handle` does once no question of the conversation's is waiting for this input.

    For adapters that look up what a person was asked themselves, before this (the Telegram adapter
    answers the officials' questions and the conversation's in one place).
    """
    if isinstance(received, Command):
        return await command(deps, sender, received)
    if isinstance(received, Button):
        return await button(deps, sender, received)
    return await message(deps, sender, received, files)


async def answer(deps: Deps, sender: Sender, received: Input) -> list[Reply] | None:
    """The reply to what the bot asked this person to type, or None when nothing of the conversation's is asked."""
    async with user_scope(deps, sender) as s:
        row = await prompts.pending(s.session, s.user.id, deps.now())
        if row is None or row.purpose not in PURPOSES:
            return None
        return await take(deps, s, row, received)


async def take(deps: Deps, s: Scope, row: PendingInput, received: Input) -> list[Reply]:
    """The answer to the conversation's question `row`, inside the caller's transaction; /cancel drops it."""
    if isinstance(received, Command) and received.name == "cancel":
        await prompts.clear(s.session, s.user.id)
        return [Say(s._(CANCELLED))]
    return await followup.take(deps, s, row, received)


async def command(deps: Deps, sender: Sender, received: Command) -> list[Reply]:
    run = COMMANDS.get(received.name)
    if run is None:
        async with user_scope(deps, sender) as s:
            _ = s._
        return [Say(_(UNKNOWN_COMMAND))]
    return await run(deps, sender)


async def button(deps: Deps, sender: Sender, pressed: Button) -> list[Reply]:
    payload = pressed.payload
    if payload.startswith("ob:"):
        return await onboarding.on_consent(deps, sender, payload)
    if payload.startswith(drafting.PREFIXES):
        return await drafting.on_button(deps, sender, payload)
    if payload.startswith(myreports.PREFIX):
        return await myreports.on_button(deps, sender, payload)
    if payload.startswith(settings.LANGUAGE):
        return await settings.on_language(deps, sender, payload)
    if payload.startswith(settings.FOLLOW):
        return await settings.on_follow(deps, sender, payload)
    async with user_scope(deps, sender) as s:
        if payload.startswith(f"{followup.PREFIX}:"):
            return await followup.on_button(deps, s, pressed)
        return [Say(s._(followup.INACTIVE))]


async def message(deps: Deps, sender: Sender, received: Input, files: Files) -> list[Reply]:
    """Every non-command message goes to whatever the person is in the middle of."""
    if isinstance(received, Text):
        for label, run in MENU.items():
            if received.text in labels(label):
                return await run(deps, sender)
    async with user_scope(deps, sender) as s:
        step = citizens.onboarding_step(s.user)
        working = await drafts.load(s.session, s.user.id) if step is OnboardingStep.DONE else None
        declined = s.user.declined_at is not None and step is OnboardingStep.CONSENT
        _ = s._
    if declined:
        return [
            Say(
                _(
                    "You have not agreed to the privacy notice, so reports cannot be taken. "
                    "Send /start to read it again."
                )
            )
        ]
    if step is not OnboardingStep.DONE:
        return await onboarding.on_input(deps, sender, step, received)
    if working is not None:
        if isinstance(received, Upload):
            return await photos.on_upload(deps, sender, received, files)
        return await drafting.on_input(deps, sender, received)
    if isinstance(received, Upload | Location):
        return [
            Say(
                _("To report something, press “📝 Send a report” first; I will then ask for the photos and the place."),
                keys=main_menu(_),
            )
        ]
    return [Say(_("I did not understand that. Use the menu below, or /help."), keys=main_menu(_))]
