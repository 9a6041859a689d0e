"""/report: topic → description → place → photos → privacy → summary → submit."""

from __future__ import annotations

from sqlalchemy import select
from telegram import CallbackQuery, Message, ReplyKeyboardRemove, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.domain import drafts, reports
from bot.domain.citizens import OnboardingStep, onboarding_step
from bot.domain.drafts import DraftContent, Problem, Step, Working
from bot.domain.reports import SubmitProblem, Submitted
from bot.domain.routing import RouteKind
from bot.i18n import N_, Translator
from handlers.keyboards import TYPE_ADDRESS, inline, labels, main_menu, share_place
from handlers.onboarding import send_step_prompt
from handlers.scope import deps_of, user_scope
from storage.models import Agency, Topic

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


async def topic_keyboard(session, _: Translator):
    rows = [[(_.pick(t.name_vi, t.name_en), f"{TOPIC}{t.code}")] for t in await reports.topics(session)]
    rows.append([(_("⚖️ A complaint or denunciation?"), COMPLAINT)])
    rows.append([(_("✖️ Cancel"), CANCEL)])
    return inline(rows)


def photos_keyboard(_: Translator, count: int):
    rows = [[(_("✅ Done with photos"), PHOTOS_DONE)]]
    if count:
        rows.append([(_("🗑 Remove all photos"), PHOTOS_CLEAR)])
    return inline(rows)


def privacy_keyboard(_: Translator):
    return inline([[(_("🔒 Keep my name private (recommended)"), PRIVATE)], [(_("👤 Show my name publicly"), PUBLIC)]])


def summary_keyboard(_: Translator, content: DraftContent | None = None):
    # One toggle, so that a real emergency costs the citizen one press and everyone else nothing.
    emergency = (
        _("↩️ It is not an emergency") if content is not None and content.emergency else _("🚨 It is an emergency")
    )
    return inline(
        [
            [(_("✏️ Topic"), f"{EDIT}{Step.TOPIC}"), (_("✏️ Description"), f"{EDIT}{Step.DESCRIPTION}")],
            [(_("✏️ Place"), f"{EDIT}{Step.PLACE}"), (_("✏️ Photos"), f"{EDIT}{Step.PHOTOS}")],
            [(_("✏️ Name shown or private"), f"{EDIT}{Step.PRIVACY}")],
            [(emergency, EMERGENCY)],
            [(_("📨 Submit"), SUBMIT)],
            [(_("✖️ Cancel"), CANCEL)],
        ]
    )


async def _topic_name(session, code: str | None, _: Translator) -> str:
    topic = await session.scalar(select(Topic).where(Topic.code == code)) if code else None
    return _.pick(topic.name_vi, topic.name_en) if topic else "—"


async def _commune_name(session, deps, content: DraftContent, _: Translator) -> str | None:
    if content.latitude is not None and content.longitude is not None:
        route = (await deps.routers.get(session)).locate(content.latitude, content.longitude)
    elif content.address:
        route = (await deps.routers.get(session)).locate_address(content.address)
    else:
        return None
    if not route.commune_code:
        return None
    agency = await session.scalar(select(Agency).where(Agency.code == route.commune_code))
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


async def summary_text(session, deps, content: DraftContent, _: Translator) -> str:
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


async def prompt(message: Message, context: ContextTypes.DEFAULT_TYPE, working: Working, _: Translator) -> None:
    """Ask for what the current step needs."""
    deps = deps_of(context)
    step = working.step
    if step is Step.TOPIC:
        async with deps.sessions() as session:
            keyboard = await topic_keyboard(session, _)
        await message.reply_text(
            _(
                "What is your report about? Choose a topic.\n"
                "Complaints and denunciations are not taken here: press the button below to see where they go."
            ),
            reply_markup=keyboard,
        )
    elif step is Step.DESCRIPTION:
        limits = deps.draft_limits
        await message.reply_text(
            _(
                DESCRIBE_PROMPT,
                min=limits.description_min,
                max=limits.description_max,
            ),
            reply_markup=ReplyKeyboardRemove(),
        )
    elif step is Step.PLACE:
        await message.reply_text(
            _(PLACE_PROMPT),
            reply_markup=share_place(_),
        )
    elif step is Step.PHOTOS:
        count = len(working.content.photos)
        await message.reply_text(
            _(
                "Send photos of what you saw: at least one, at most {max}. You can send them "
                "one by one, as an album, or as files. Photos must be your own, not from the "
                "internet and not edited. Press “Done” when finished.",
                max=deps.draft_limits.max_photos,
            )
            + ("\n" + _.ngettext("You have {n} photo so far.", "You have {n} photos so far.", count) if count else ""),
            reply_markup=photos_keyboard(_, count),
        )
    elif step is Step.PRIVACY:
        await message.reply_text(
            _(
                "Should your name be shown on the public record of this report? The agency "
                "always sees who you are; other people only if you choose to show it."
            ),
            reply_markup=privacy_keyboard(_),
        )
    else:
        async with deps.sessions() as session:
            text = await summary_text(session, deps, working.content, _)
        await message.reply_text(text, reply_markup=summary_keyboard(_, working.content))


async def _ensure_registered(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    message = update.effective_message
    assert message is not None
    async with user_scope(update, context) as s:
        step = onboarding_step(s.user)
        name = s.user.full_name
        _ = s._
    if step is OnboardingStep.DONE:
        return True
    await message.reply_text(_("First, a few details about you."))
    await send_step_prompt(message, step, _, name)
    return False


async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/report or the menu button: resume a draft in progress or start one."""
    message = update.effective_message
    assert message is not None
    if not await _ensure_registered(update, context):
        return
    async with user_scope(update, context) as s:
        working = await drafts.load(s.session, s.user.id)
        _ = s._
        if working is None or working.content == DraftContent():
            working = await drafts.start(s.session, s.user.id)
            fresh = True
        else:
            fresh = False
    if fresh:
        await prompt(message, context, working, _)
        return
    await message.reply_text(
        _("You have a report you have not sent yet. Continue it, or start a new one?"),
        reply_markup=inline([[(_("▶️ Continue"), RESUME)], [(_("🆕 Start over"), RESTART)]]),
    )


async def on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None and query.data is not None
    await query.answer()
    data = query.data
    deps = deps_of(context)
    message = query.message
    submitted: Submitted | None = None
    refused: SubmitProblem | None = None
    discarded: DraftContent | None = None
    problem: Problem | None = None
    stale = False
    async with user_scope(update, context) as s:
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
    # The pressed keyboard has done its job; remove it so old buttons are not pressed again.
    if not stale:
        await _drop_keyboard(query)
    if stale:
        await message.reply_text(_("That button is no longer active."))
        if working is not None:
            await prompt(message, context, working, _)
        return
    if discarded is not None:
        await message.reply_text(discarded_text(discarded, _), reply_markup=main_menu(_))
        return
    if data == COMPLAINT:
        await message.reply_text(complaints_text(_))
        await prompt(message, context, working, _)
        return
    if submitted is not None:
        await message.reply_text(submitted_text(submitted, deps, _), reply_markup=main_menu(_))
        return
    if refused is not None:
        await message.reply_text(refused_text(refused, _))
        return
    if problem is Problem.NO_PHOTOS:
        await message.reply_text(_("Please send at least one photo first."))
        return
    assert working is not None
    await prompt(message, context, working, _)


async def _drop_keyboard(query: CallbackQuery) -> None:
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest:
        # Already without buttons (a double press): nothing to remove.
        pass


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


def submitted_text(result: Submitted, deps, _: Translator) -> str:
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


async def on_input(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A message while a draft is open: the answer to the current step, or a wrong kind of input."""
    message = update.effective_message
    assert message is not None
    deps = deps_of(context)
    limits = deps.draft_limits
    problem: Problem | None = None
    outside = False
    wants_typing = False
    async with user_scope(update, context) as s:
        _ = s._
        working = await drafts.load(s.session, s.user.id)
        assert working is not None
        step = working.step
        location = message.venue.location if message.venue else message.location
        if step is Step.DESCRIPTION and message.text:
            problem = drafts.set_description(working, message.text, limits)
        elif step is Step.PLACE and location is not None:
            router = await deps.routers.get(s.session)
            route = router.locate(location.latitude, location.longitude)
            if route.kind is RouteKind.OUTSIDE:
                outside = True
            else:
                venue = message.venue
                drafts.set_location(
                    working,
                    location.latitude,
                    location.longitude,
                    venue.title if venue else None,
                    venue.address if venue else None,
                )
        elif step is Step.PLACE and message.text:
            if message.text in labels(TYPE_ADDRESS):
                wants_typing = True
            else:
                problem = drafts.set_address(working, message.text, limits)
        drafts.save(working)
        moved = working.step is not step
    if outside:
        await message.reply_text(
            _(
                "This place is outside the province, so no agency here can handle it. "
                "Please send a place inside the province, or type the address."
            )
        )
        return
    if wants_typing:
        await message.reply_text(
            _("Type the address: house number, street, village or quarter, commune or ward."),
            reply_markup=ReplyKeyboardRemove(),
        )
        return
    if problem is not None:
        await message.reply_text(_input_problem_text(step, problem, message.text or "", limits, _))
        return
    if moved:
        await prompt(message, context, working, _)
        return
    await message.reply_text(wrong_kind_text(step, _))
    await prompt(message, context, working, _)


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


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    async with user_scope(update, context) as s:
        _ = s._
        working = await drafts.load(s.session, s.user.id)
        discarded = await drafts.discard(s.session, working) if working else None
        registered = onboarding_step(s.user) is OnboardingStep.DONE
    if discarded is not None:
        await message.reply_text(discarded_text(discarded, _), reply_markup=main_menu(_))
    elif not registered:
        await message.reply_text(
            _("Registration paused. What you entered is kept; send /start to continue."),
            reply_markup=ReplyKeyboardRemove(),
        )
    else:
        await message.reply_text(_("There is nothing to cancel."), reply_markup=main_menu(_))
