"""/report: topic → description → place → photos → privacy → summary → submit.

The draft's rules (what each step takes, what may be edited, when it may be
submitted) are in bot/domain/drafts.py and bot/domain/reports.py; this module
asks for each step, takes the answers and says what went wrong.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.followup import INACTIVE
from bot.conversation.inputs import Input, Location, Sender, Text
from bot.conversation.menus import TYPE_ADDRESS, labels, main_menu, share_place
from bot.conversation.onboarding import step_prompt
from bot.conversation.replies import REMOVE_KEYS, EditButtons, Reply, Rows, Say
from bot.conversation.scope import user_scope
from bot.deps import Deps
from bot.domain import drafts, officials, reports
from bot.domain.citizens import OnboardingStep, onboarding_step
from bot.domain.drafts import DraftContent, Problem, Step, Working
from bot.domain.reports import SubmitProblem, Submitted
from bot.domain.routing import RouteKind
from bot.i18n import N_, Translator

RESUME = "dr:resume"
RESTART = "dr:new"
CANCEL = "dr:cancel"
SUBMIT = "dr:submit"
EMERGENCY = "dr:emergency"
TOPIC = "tp:"
COMPLAINT = "tp:?"
PHOTOS_DONE = "ph:done"
PHOTOS_CLEAR = "ph:clear"
PRIVATE = "pv:0"
PUBLIC = "pv:1"
EDIT = "ed:"
# The payload prefixes this module answers.
PREFIXES = ("dr:", "tp:", "ph:", "pv:", "ed:")

DESCRIBE_PROMPT = N_(
    "Describe what happened, in your own words: what, when, and who is affected ({min} to {max} characters)."
)
EMERGENCY_SAID = N_(
    "🚨 You say this is an emergency. The agency sees it first and decides whether to handle it "
    "as urgent. If lives are in danger, call 113 (police), 114 (fire and rescue) or 115 (ambulance) now."
)
PLACE_PROMPT = N_(
    "Where is it? Press the button to send your current location, or send another "
    "place with 📎 → Location. If you cannot share a location, type the address."
)


# --- the buttons of each step -------------------------------------------------------------------


async def topic_buttons(session: AsyncSession, _: Translator) -> Rows:
    rows = [[(_.pick(t.name_vi, t.name_en), f"{TOPIC}{t.code}")] for t in await reports.topics(session)]
    rows.append([(_("⚖️ A complaint or denunciation?"), COMPLAINT)])
    rows.append([(_("✖️ Cancel"), CANCEL)])
    return rows


def photos_buttons(_: Translator, count: int) -> Rows:
    rows = [[(_("✅ Done with photos"), PHOTOS_DONE)]]
    if count:
        rows.append([(_("🗑 Remove all photos"), PHOTOS_CLEAR)])
    return rows


def privacy_buttons(_: Translator) -> Rows:
    return [[(_("🔒 Keep my name private (recommended)"), PRIVATE)], [(_("👤 Show my name publicly"), PUBLIC)]]


def summary_buttons(_: Translator, content: DraftContent | None = None) -> Rows:
    # One toggle, so that a real emergency costs the citizen one press and everyone else nothing.
    emergency = (
        _("↩️ It is not an emergency") if content is not None and content.emergency else _("🚨 It is an emergency")
    )
    return [
        [(_("✏️ Topic"), f"{EDIT}{Step.TOPIC}"), (_("✏️ Description"), f"{EDIT}{Step.DESCRIPTION}")],
        [(_("✏️ Place"), f"{EDIT}{Step.PLACE}"), (_("✏️ Photos"), f"{EDIT}{Step.PHOTOS}")],
        [(_("✏️ Name shown or private"), f"{EDIT}{Step.PRIVACY}")],
        [(emergency, EMERGENCY)],
        [(_("📨 Submit"), SUBMIT)],
        [(_("✖️ Cancel"), CANCEL)],
    ]


# --- the summary --------------------------------------------------------------------------------


async def _topic_name(session: AsyncSession, code: str | None, _: Translator) -> str:
    topic = await reports.topic_by_code(session, code) if code else None
    return _.pick(topic.name_vi, topic.name_en) if topic else "—"


async def _commune_name(session: AsyncSession, deps: Deps, content: DraftContent, _: Translator) -> str | None:
    if content.latitude is not None and content.longitude is not None:
        route = (await deps.routers.get(session)).locate(content.latitude, content.longitude)
    elif content.address:
        route = (await deps.routers.get(session)).locate_address(content.address)
    else:
        return None
    if not route.commune_code:
        return None
    agency = await officials.agency_by_code(session, route.commune_code)
    return _.pick(agency.name_vi, agency.name_en) if agency else None


def place_text(content: DraftContent, _: Translator, commune: str | None) -> str:
    parts = []
    if content.latitude is not None and content.longitude is not None:
        parts.append(content.place_title or _("Location on the map"))
        if content.address:
            parts.append(content.address)
        parts.append(f"({content.latitude:.5f}, {content.longitude:.5f})")
    elif content.address:
        parts.append(content.address)
    if commune:
        parts.append(_("— in {commune}", commune=commune))
    return " ".join(parts) or "—"


async def summary_text(session: AsyncSession, deps: Deps, content: DraftContent, _: Translator) -> str:
    commune = await _commune_name(session, deps, content, _)
    identity = _("public (your name is shown)") if content.identity_public else _("private (your name is hidden)")
    description = content.description or "—"
    return _(
        "Please check your report:\n\n"
        "Topic: {topic}\n"
        "Description: {description}\n"
        "Place: {place}\n"
        "Photos: {photos}\n"
        "Your identity: {identity}\n\n"
        "Change any part, or submit it.",
        topic=await _topic_name(session, content.topic, _),
        description=description,
        place=place_text(content, _, commune),
        photos=len(content.photos),
        identity=identity,
    ) + ("\n\n" + _(EMERGENCY_SAID) if content.emergency else "")


# --- asking for the current step ------------------------------------------------------------------


async def prompt(deps: Deps, working: Working, _: Translator) -> Say:
    """Ask for what the current step needs."""
    step = working.step
    if step is Step.TOPIC:
        async with deps.sessions() as session:
            buttons = await topic_buttons(session, _)
        return Say(
            _(
                "What is your report about? Choose a topic.\n"
                "Complaints and denunciations are not taken here: press the button below to see where they go."
            ),
            buttons,
        )
    if step is Step.DESCRIPTION:
        limits = deps.draft_limits
        return Say(
            _(DESCRIBE_PROMPT, min=limits.description_min, max=limits.description_max),
            keys=REMOVE_KEYS,
        )
    if step is Step.PLACE:
        return Say(_(PLACE_PROMPT), keys=share_place(_))
    if step is Step.PHOTOS:
        count = len(working.content.photos)
        return Say(
            _(
                "Send photos of what you saw: at least one, at most {max}. You can send them "
                "one by one, as an album, or as files. Photos must be your own, not from the "
                "internet and not edited. Press “Done” when finished.",
                max=deps.draft_limits.max_photos,
            )
            + ("\n" + _.ngettext("You have {n} photo so far.", "You have {n} photos so far.", count) if count else ""),
            photos_buttons(_, count),
        )
    if step is Step.PRIVACY:
        return Say(
            _(
                "Should your name be shown on the public record of this report? The agency "
                "always sees who you are; other people only if you choose to show it."
            ),
            privacy_buttons(_),
        )
    async with deps.sessions() as session:
        text = await summary_text(session, deps, working.content, _)
    return Say(text, summary_buttons(_, working.content))


# --- starting, pressing, typing, cancelling ---------------------------------------------------------


async def _unregistered(deps: Deps, sender: Sender) -> list[Reply] | None:
    """What to say to someone who has not finished registering, or None when they have."""
    async with user_scope(deps, sender) as s:
        step = onboarding_step(s.user)
        name = s.user.full_name
        _ = s._
    if step is OnboardingStep.DONE:
        return None
    return [Say(_("First, a few details about you.")), step_prompt(step, _, name)]


async def begin(deps: Deps, sender: Sender) -> list[Reply]:
    """/report or the menu key: resume a draft in progress or start one."""
    unregistered = await _unregistered(deps, sender)
    if unregistered is not None:
        return unregistered
    async with user_scope(deps, sender) as s:
        working = await drafts.load(s.session, s.user.id)
        _ = s._
        if working is None or working.content == DraftContent():
            working = await drafts.start(s.session, s.user.id)
            fresh = True
        else:
            fresh = False
    if fresh:
        return [await prompt(deps, working, _)]
    return [
        Say(
            _("You have a report you have not sent yet. Continue it, or start a new one?"),
            [[(_("▶️ Continue"), RESUME)], [(_("🆕 Start over"), RESTART)]],
        )
    ]


async def on_button(deps: Deps, sender: Sender, data: str) -> list[Reply]:
    """A button of the draft's messages: each is taken only at the step that shows it."""
    submitted: Submitted | None = None
    refused: SubmitProblem | None = None
    discarded: DraftContent | None = None
    problem: Problem | None = None
    stale = False
    async with user_scope(deps, sender) as s:
        _ = s._
        working = await drafts.load(s.session, s.user.id)
        if data == RESTART or (working is None and data == RESUME):
            working = await drafts.start(s.session, s.user.id)
        elif working is None:
            stale = True
        elif data == RESUME:
            pass
        elif data == CANCEL:
            discarded = await drafts.discard(s.session, working)
        elif data == COMPLAINT:
            pass
        elif data.startswith(TOPIC) and working.step is Step.TOPIC:
            known = {t.code for t in await reports.topics(s.session)}
            problem = drafts.choose_topic(working, data[len(TOPIC) :], known)
        elif data == PHOTOS_DONE and working.step is Step.PHOTOS:
            problem = drafts.finish_photos(working)
        elif data == PHOTOS_CLEAR and working.step is Step.PHOTOS:
            drafts.clear_photos(working)
        elif data in (PRIVATE, PUBLIC) and working.step is Step.PRIVACY:
            drafts.set_privacy(working, data == PUBLIC)
        elif data == EMERGENCY and working.step is Step.CONFIRM:
            drafts.toggle_emergency(working)
        elif (
            data.startswith(EDIT)
            and working.step is Step.CONFIRM
            and data[len(EDIT) :] in {str(x) for x in drafts.EDITABLE}
        ):
            drafts.edit(working, Step(data[len(EDIT) :]))
        elif data == SUBMIT and working.step is Step.CONFIRM:
            now = deps.now()
            result = await reports.submit(
                s.session,
                s.user,
                working.content,
                router=await deps.routers.get(s.session),
                desk=deps.desk,
                now=now,
                year=now.astimezone(deps.settings.zone).year,
            )
            if isinstance(result, Submitted):
                submitted = result
                await drafts.discard(s.session, working)
            else:
                refused = result.problem
        else:
            stale = True
        if working is not None and discarded is None and submitted is None:
            drafts.save(working)
    if stale:
        replies: list[Reply] = [Say(_(INACTIVE))]
        if working is not None:
            replies.append(await prompt(deps, working, _))
        return replies
    # The pressed message's buttons have done their job; remove them so they are not pressed again.
    done: list[Reply] = [EditButtons([])]
    if discarded is not None:
        return [*done, Say(discarded_text(discarded, _), keys=main_menu(_))]
    assert working is not None
    if data == COMPLAINT:
        return [*done, Say(complaints_text(_)), await prompt(deps, working, _)]
    if submitted is not None:
        return [*done, Say(submitted_text(submitted, deps, _), keys=main_menu(_))]
    if refused is not None:
        return [*done, Say(refused_text(refused, _))]
    if problem is Problem.NO_PHOTOS:
        return [*done, Say(_("Please send at least one photo first."))]
    return [*done, await prompt(deps, working, _)]


def complaints_text(_: Translator) -> str:
    return _(
        "Complaints (khiếu nại) about an administrative decision and denunciations (tố cáo) "
        "of a person's wrongdoing follow the Law on Complaints and the Law on Denunciations, "
        "not this service. Submit them in person or in writing at the Citizen Reception "
        "Office (Ban Tiếp công dân) of the province or at your commune People's Committee. "
        "Disputes between people go to your commune's mediation team. "
        "Here you can report problems you see in public life."
    )


def discarded_text(content: DraftContent, _: Translator) -> str:
    parts = []
    if content.topic:
        parts.append(_("the topic"))
    if content.description:
        parts.append(_("the description"))
    if content.has_place:
        parts.append(_("the place"))
    if content.photos:
        parts.append(_.ngettext("{n} photo", "{n} photos", len(content.photos)))
    if not parts:
        return _("Report cancelled. Nothing had been entered yet.")
    return _("Report cancelled. Discarded: {parts}. Nothing was sent.", parts=", ".join(parts))


def submitted_text(result: Submitted, deps: Deps, _: Translator) -> str:
    report = result.report
    text = _(
        "✅ Your report has been sent.\n\n"
        "Tracking code: {code}\n"
        "Sent to: {agency}\n"
        "It must be received by: {due}\n\n"
        "Follow it with /myreports.",
        code=report.code,
        agency=_.pick(result.agency.name_vi, result.agency.name_en),
        due=_.datetime(report.receive_due_at, deps.settings.zone) if report.receive_due_at else "—",
    )
    if result.route.kind is RouteKind.DEFAULT or result.route.kind is RouteKind.ADDRESS:
        text += "\n" + _("The province's receiving office will pass it to the right agency if needed.")
    if result.reused_photos:
        text += "\n" + _(
            "Note: {n} of your photos already appear in another person's report; the agency will see this.",
            n=result.reused_photos,
        )
    return text


def refused_text(problem: SubmitProblem, _: Translator) -> str:
    match problem:
        case SubmitProblem.OUTSIDE:
            return _("The place of this report is outside the province. Please change the place.")
        case SubmitProblem.UNKNOWN_TOPIC:
            return _("This topic is no longer offered. Please choose the topic again.")
        case _problem:
            return _("Something is missing from the report. Please check the summary.")


async def on_input(deps: Deps, sender: Sender, received: Input) -> list[Reply]:
    """A message while a draft is open (not an upload): the current step's answer, or the wrong kind of input."""
    limits = deps.draft_limits
    problem: Problem | None = None
    outside = False
    wants_typing = False
    text = received.text if isinstance(received, Text) else ""
    async with user_scope(deps, sender) as s:
        _ = s._
        working = await drafts.load(s.session, s.user.id)
        assert working is not None
        step = working.step
        if step is Step.DESCRIPTION and text:
            problem = drafts.set_description(working, text, limits)
        elif step is Step.PLACE and isinstance(received, Location):
            route = (await deps.routers.get(s.session)).locate(received.latitude, received.longitude)
            if route.kind is RouteKind.OUTSIDE:
                outside = True
            else:
                drafts.set_location(working, received.latitude, received.longitude, received.title, received.address)
        elif step is Step.PLACE and text:
            if text in labels(TYPE_ADDRESS):
                wants_typing = True
            else:
                problem = drafts.set_address(working, text, limits)
        drafts.save(working)
        moved = working.step is not step
    if outside:
        return [
            Say(
                _(
                    "This place is outside the province, so no agency here can handle it. "
                    "Please send a place inside the province, or type the address."
                )
            )
        ]
    if wants_typing:
        return [
            Say(_("Type the address: house number, street, village or quarter, commune or ward."), keys=REMOVE_KEYS)
        ]
    if problem is not None:
        return [Say(_input_problem_text(step, problem, text, limits, _))]
    if moved:
        return [await prompt(deps, working, _)]
    return [Say(wrong_kind_text(step, _)), await prompt(deps, working, _)]


def _input_problem_text(step: Step, problem: Problem, text: str, limits: drafts.Limits, _: Translator) -> str:
    if step is Step.DESCRIPTION and problem is Problem.TOO_SHORT:
        return _(
            "The description is too short ({n} characters). Please write at least {min} characters "
            "so the agency understands what happened.",
            n=len(text.strip()),
            min=limits.description_min,
        )
    if step is Step.DESCRIPTION:
        return _(
            "The description is too long ({n} characters). Please keep it under {max} characters; "
            "your photos can show the rest.",
            n=len(text.strip()),
            max=limits.description_max,
        )
    if problem is Problem.TOO_SHORT:
        return _(
            "The address is too short. Please type at least {min} characters: street, village, commune.",
            min=limits.address_min,
        )
    return _("The address is too long. Please type at most 500 characters.")


def wrong_kind_text(step: Step, _: Translator) -> str:
    match step:
        case Step.TOPIC:
            return _("Please choose a topic with the buttons.")
        case Step.DESCRIPTION:
            return _("Please describe the problem in a text message.")
        case Step.PLACE:
            return _("Please send a location, or type the address as text.")
        case Step.PHOTOS:
            return _("Please send photos (as photos or image files), or press “Done”.")
        case Step.PRIVACY:
            return _("Please choose with the buttons whether your name is shown.")
        case _step:
            return _("Please use the buttons under the summary to change or submit your report.")


async def cancel(deps: Deps, sender: Sender) -> list[Reply]:
    """/cancel outside any question: drop the draft, or pause registration."""
    async with user_scope(deps, sender) as s:
        _ = s._
        working = await drafts.load(s.session, s.user.id)
        discarded = await drafts.discard(s.session, working) if working else None
        registered = onboarding_step(s.user) is OnboardingStep.DONE
    if discarded is not None:
        return [Say(discarded_text(discarded, _), keys=main_menu(_))]
    if not registered:
        return [Say(_("Registration paused. What you entered is kept; send /start to continue."), keys=REMOVE_KEYS)]
    return [Say(_("There is nothing to cancel."), keys=main_menu(_))]
