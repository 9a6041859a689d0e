"""/start: greeting, privacy notice, consent, full name and phone."""

from __future__ import annotations

from telegram import Message, ReplyKeyboardRemove, Update
from telegram.ext import ContextTypes

from bot.domain import citizens, subscriptions
from bot.domain.citizens import NameProblem, OnboardingStep, PhoneProblem
from bot.i18n import Translator
from handlers.keyboards import inline, main_menu, share_phone
from handlers.scope import deps_of, user_scope

CONSENT_YES = "ob:yes"
CONSENT_NO = "ob:no"


def consent_keyboard(_: Translator):
    return inline([[(_("✅ I agree"), CONSENT_YES)], [(_("✖️ I do not agree"), CONSENT_NO)]])


def privacy_notice(_: Translator) -> str:
    return _(
        "Before you send reports, please read how your information is used.\n\n"
        "• We store your full name, phone number, your reports, their photos and "
        "places, and the history of how each report is handled.\n"
        "• The agency handling your report sees your name and phone so it can "
        "contact you. Other people see the report and its handling record, and "
        "your name only if you choose to make it public.\n"
        "• Each report lets you keep your identity private; private is the default.\n"
        "• Photos are published without their hidden data (place, camera, time); "
        "the originals are kept as evidence for the agency only.\n\n"
        "Do you agree?"
    )


async def send_step_prompt(message: Message, step: OnboardingStep, _: Translator, name: str | None) -> None:
    if step is OnboardingStep.CONSENT:
        await message.reply_text(privacy_notice(_), reply_markup=consent_keyboard(_))
    elif step is OnboardingStep.NAME:
        await message.reply_text(
            _("Please type your full name as on your ID card."),
            reply_markup=ReplyKeyboardRemove(),
        )
    elif step is OnboardingStep.PHONE:
        await message.reply_text(
            _(
                "Thank you, {name}. Now share your phone number with the button below, "
                "so the agency can reach you. You may also type a Vietnamese number; "
                "a typed number is marked as unverified.",
                name=name or "",
            ),
            reply_markup=share_phone(_),
        )
    else:
        await message.reply_text(
            _("You are registered. Use the menu below to send a report or follow yours."),
            reply_markup=main_menu(_),
        )


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    async with user_scope(update, context) as s:
        step = citizens.onboarding_step(s.user)
        name = s.user.full_name
        _ = s._
    if step is OnboardingStep.CONSENT:
        await message.reply_text(
            _(
                "Hello! This is the citizen feedback service of the province. "
                "You can report problems you see (traffic, environment, public order, "
                "food safety and more) with a photo and the place, and follow how "
                "the responsible agency handles them."
            )
        )
    await send_step_prompt(message, step, _, name)


async def on_consent(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer()
    deps = deps_of(context)
    agreed = query.data == CONSENT_YES
    async with user_scope(update, context) as s:
        if agreed:
            citizens.give_consent(s.user, deps.now())
            # Following the province's alerts is on by default from consent on (/subscribe changes it).
            await subscriptions.follow_by_default(s.session, s.user.id, deps.now())
        else:
            citizens.decline(s.user, deps.now())
        step = citizens.onboarding_step(s.user)
        name = s.user.full_name
        _ = s._
    await query.edit_message_reply_markup(reply_markup=None)
    message = query.message
    if not agreed:
        await message.reply_text(
            _(
                "Understood. Without your agreement we cannot take reports from you, "
                "and nothing more about you is stored. You can still read /help and "
                "change the language with /language. If you change your mind, send /start."
            ),
            reply_markup=ReplyKeyboardRemove(),
        )
        return
    await send_step_prompt(message, step, _, name)


async def on_input(update: Update, context: ContextTypes.DEFAULT_TYPE, step: OnboardingStep) -> None:
    """A message while registration is incomplete."""
    message = update.effective_message
    assert message is not None
    problem: NameProblem | PhoneProblem | None = None
    async with user_scope(update, context) as s:
        _ = s._
        if step is OnboardingStep.NAME and message.text:
            problem = citizens.set_full_name(s.user, message.text)
        elif step is OnboardingStep.PHONE and message.contact:
            owner = message.contact.user_id
            problem = citizens.set_shared_phone(
                s.user, message.contact.phone_number, contact_owner_id=str(owner) if owner else None
            )
        elif step is OnboardingStep.PHONE and message.text:
            problem = citizens.set_typed_phone(s.user, message.text)
        new_step = citizens.onboarding_step(s.user)
        name = s.user.full_name
        verified = s.user.phone_verified
    if problem is not None:
        await message.reply_text(_problem_text(problem, _))
        return
    if new_step == step:
        # Not the kind of message this step takes: say what it takes.
        await message.reply_text(_wrong_kind_text(step, _))
        await send_step_prompt(message, step, _, name)
        return
    if step is OnboardingStep.PHONE:
        note = "" if verified else "\n" + _("Your typed number is marked as unverified.")
        await message.reply_text(
            _("Registration complete. Thank you, {name}!", name=name or "") + note,
            reply_markup=main_menu(_),
        )
        await message.reply_text(_("Press “📝 Send a report” below whenever you want to report something."))
        return
    await send_step_prompt(message, new_step, _, name)


def _problem_text(problem: NameProblem | PhoneProblem, _: Translator) -> str:
    match problem:
        case NameProblem.TOO_SHORT:
            return _("That name is too short. Please type your full name.")
        case NameProblem.TOO_LONG:
            return _(
                "That name is too long (at most {max} characters). Please type your full name.", max=citizens.NAME_MAX
            )
        case NameProblem.NOT_A_NAME:
            return _("A name has letters only, without digits or symbols. Please type your full name.")
        case PhoneProblem.INVALID | PhoneProblem.NOT_VIETNAMESE:
            return _(
                "That is not a valid Vietnamese phone number. Type it like 0912 345 678 "
                "or +84 912 345 678, or press the button to share your number."
            )
        case PhoneProblem.NOT_OWN:
            return _("Please share your own phone number with the button, not someone else's contact.")
    raise ValueError(problem)


def _wrong_kind_text(step: OnboardingStep, _: Translator) -> str:
    if step is OnboardingStep.CONSENT:
        return _("Please answer with one of the buttons: “I agree” or “I do not agree”.")
    if step is OnboardingStep.NAME:
        return _("Please type your full name as text.")
    return _("Please share your phone number with the button, or type it.")
