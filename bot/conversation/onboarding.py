"""Registration: greeting, privacy notice, consent, full name and phone."""

from __future__ import annotations

from bot.conversation.followup import INACTIVE
from bot.conversation.inputs import Contact, Input, Sender, Text
from bot.conversation.menus import main_menu, share_phone
from bot.conversation.replies import REMOVE_KEYS, EditButtons, Reply, Rows, Say
from bot.conversation.scope import user_scope
from bot.deps import Deps
from bot.domain import citizens, subscriptions
from bot.domain.citizens import NameProblem, OnboardingStep, PhoneProblem
from bot.i18n import Translator

CONSENT_YES = "ob:yes"
CONSENT_NO = "ob:no"


def consent_buttons(_: Translator) -> Rows:
    return [[(_("✅ I agree"), CONSENT_YES)], [(_("✖️ I do not agree"), CONSENT_NO)]]


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


def step_prompt(step: OnboardingStep, _: Translator, name: str | None) -> Say:
    """What registration asks for at `step`."""
    if step is OnboardingStep.CONSENT:
        return Say(privacy_notice(_), consent_buttons(_))
    if step is OnboardingStep.NAME:
        return Say(_("Please type your full name as on your ID card."), keys=REMOVE_KEYS)
    if step is OnboardingStep.PHONE:
        return Say(
            _(
                "Thank you, {name}. Now share your phone number with the button below, "
                "so the agency can reach you. You may also type a Vietnamese number; "
                "a typed number is marked as unverified.",
                name=name or "",
            ),
            keys=share_phone(_),
        )
    return Say(_("You are registered. Use the menu below to send a report or follow yours."), keys=main_menu(_))


async def start(deps: Deps, sender: Sender) -> list[Reply]:
    """/start: greet a newcomer, or say where registration stands."""
    async with user_scope(deps, sender) as s:
        step = citizens.onboarding_step(s.user)
        name = s.user.full_name
        _ = s._
    replies: list[Reply] = []
    if step is OnboardingStep.CONSENT:
        replies.append(
            Say(
                _(
                    "Hello! This is the citizen feedback service of the province. "
                    "You can report problems you see (traffic, environment, public order, "
                    "food safety and more) with a photo and the place, and follow how "
                    "the responsible agency handles them."
                )
            )
        )
    replies.append(step_prompt(step, _, name))
    return replies


async def on_consent(deps: Deps, sender: Sender, payload: str) -> list[Reply]:
    if payload not in (CONSENT_YES, CONSENT_NO):
        # A forged or garbled press must not take back a consent given.
        async with user_scope(deps, sender) as s:
            _ = s._
        return [Say(_(INACTIVE))]
    agreed = payload == CONSENT_YES
    async with user_scope(deps, sender) as s:
        if agreed:
            citizens.give_consent(s.user, deps.now())
            # Following the province's alerts is on by default from consent on (/subscribe changes it).
            await subscriptions.follow_by_default(s.session, s.user.id, deps.now())
        else:
            citizens.decline(s.user, deps.now())
        step = citizens.onboarding_step(s.user)
        name = s.user.full_name
        _ = s._
    if not agreed:
        declined = _(
            "Understood. Without your agreement we cannot take reports from you, "
            "and nothing more about you is stored. You can still read /help and "
            "change the language with /language. If you change your mind, send /start."
        )
        return [EditButtons([]), Say(declined, keys=REMOVE_KEYS)]
    return [EditButtons([]), step_prompt(step, _, name)]


async def on_input(deps: Deps, sender: Sender, step: OnboardingStep, received: Input) -> list[Reply]:
    """A message while registration is incomplete."""
    problem: NameProblem | PhoneProblem | None = None
    async with user_scope(deps, sender) as s:
        _ = s._
        if step is OnboardingStep.NAME and isinstance(received, Text):
            problem = citizens.set_full_name(s.user, received.text)
        elif step is OnboardingStep.PHONE and isinstance(received, Contact):
            problem = citizens.set_shared_phone(s.user, received.phone, contact_owner_id=received.owner_id)
        elif step is OnboardingStep.PHONE and isinstance(received, Text):
            problem = citizens.set_typed_phone(s.user, received.text)
        new_step = citizens.onboarding_step(s.user)
        name = s.user.full_name
        verified = s.user.phone_verified
    if problem is not None:
        return [Say(problem_text(problem, _))]
    if new_step == step:
        # Not the kind of message this step takes: say what it takes.
        return [Say(wrong_kind_text(step, _)), step_prompt(step, _, name)]
    if step is OnboardingStep.PHONE:
        note = "" if verified else "\n" + _("Your typed number is marked as unverified.")
        return [
            Say(_("Registration complete. Thank you, {name}!", name=name or "") + note, keys=main_menu(_)),
            Say(_("Press “📝 Send a report” below whenever you want to report something.")),
        ]
    return [step_prompt(new_step, _, name)]


def problem_text(problem: NameProblem | PhoneProblem, _: Translator) -> str:
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


def wrong_kind_text(step: OnboardingStep, _: Translator) -> str:
    if step is OnboardingStep.CONSENT:
        return _("Please answer with one of the buttons: “I agree” or “I do not agree”.")
    if step is OnboardingStep.NAME:
        return _("Please type your full name as text.")
    return _("Please share your phone number with the button, or type it.")
