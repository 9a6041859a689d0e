"""/language, /help, and which of the province's alerts the citizen follows (/subscribe, /unsubscribe)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.inputs import Sender
from bot.conversation.menus import main_menu
from bot.conversation.payloads import record_id
from bot.conversation.replies import EditButtons, Notice, Reply, Rows, Say, ShowInPlace
from bot.conversation.scope import user_scope
from bot.deps import Deps
from bot.domain import citizens, officials, subscriptions
from bot.domain.citizens import OnboardingStep
from bot.i18n import N_, Translator, translator
from storage.models import User

LANGUAGE = "lg:"
FOLLOW = "sb:"
COMMUNES_PER_PAGE = 8

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
STOPPED = N_("🔕 You will receive no more alerts. Send /subscribe to follow them again.")


# --- language and help ----------------------------------------------------------------------------


async def ask_language(deps: Deps, sender: Sender) -> list[Reply]:
    async with user_scope(deps, sender) as s:
        _ = s._
    return [Say(_("Choose your language:"), [[("🇻🇳 Tiếng Việt", f"{LANGUAGE}vi"), ("🇬🇧 English", f"{LANGUAGE}en")]])]


async def on_language(deps: Deps, sender: Sender, payload: str) -> list[Reply]:
    language = payload[len(LANGUAGE) :]
    if language not in ("vi", "en"):
        return []
    async with user_scope(deps, sender) as s:
        citizens.set_language(s.user, language)
        registered = citizens.onboarding_step(s.user) is OnboardingStep.DONE
    _ = translator(language)
    return [EditButtons([]), Say(_("Language changed to English."), keys=main_menu(_) if registered else None)]


async def show_help(deps: Deps, sender: Sender) -> list[Reply]:
    async with user_scope(deps, sender) as s:
        _ = s._
        registered = citizens.onboarding_step(s.user) is OnboardingStep.DONE
    return [Say(_(HELP), keys=main_menu(_) if registered else None)]


# --- following alerts -----------------------------------------------------------------------------


def _mark(on: bool) -> str:
    return "✅ " if on else "⬜ "


async def settings_screen(
    session: AsyncSession, user: User, _: Translator, page: int | None = None
) -> tuple[str, Rows]:
    """What the citizen follows, with a toggle per place: their reports' communes first, all communes by page."""
    following = await subscriptions.following(session, user.id)
    followed = {a.id for a in following.communes}
    if following.whole_province:
        state = _("You receive the province's alerts for every place.")
    elif following.communes:
        state = _(
            "You receive alerts for {communes}, and those for the whole province.",
            communes=", ".join(_.pick(a.name_vi, a.name_en) for a in following.communes),
        )
    else:
        state = _("You receive no alerts.")
    lines = [_("🔔 Alert settings"), state]
    rows = [[(_mark(following.whole_province) + _("Every place in the province"), f"{FOLLOW}p")]]
    if page is None:
        offered = await subscriptions.offered_communes(session, user.id)
        if offered:
            lines.append(_("The places of your reports are listed below: tap one to follow its alerts."))
        rows += [[(_mark(a.id in followed) + _.pick(a.name_vi, a.name_en), f"{FOLLOW}c:{a.id}")] for a in offered]
        rows.append([(_("➕ Other communes"), f"{FOLLOW}m:0")])
    else:
        communes = await subscriptions.communes(session)
        pages = max(1, -(-len(communes) // COMMUNES_PER_PAGE))
        page = min(max(page, 0), pages - 1)
        shown = communes[page * COMMUNES_PER_PAGE : (page + 1) * COMMUNES_PER_PAGE]
        rows += [[(_mark(a.id in followed) + _.pick(a.name_vi, a.name_en), f"{FOLLOW}c:{a.id}:{page}")] for a in shown]
        nav = ([("◀️", f"{FOLLOW}m:{page - 1}")] if page > 0 else []) + (
            [("▶️", f"{FOLLOW}m:{page + 1}")] if page + 1 < pages else []
        )
        if nav:
            rows.append(nav)
    if await officials.full_name_of_user(session, user.id) is not None:
        rows.append([(_mark(following.tester) + _("🧪 Exercise and test alerts"), f"{FOLLOW}t")])
    if following.follows_anything or following.tester:
        rows.append([(_("🔕 Stop all alerts"), f"{FOLLOW}off")])
    return "\n".join(lines), rows


async def subscribe(deps: Deps, sender: Sender) -> list[Reply]:
    """/subscribe: follow the province if nothing is followed yet, then show the settings."""
    replies: list[Reply] = []
    async with user_scope(deps, sender) as s:
        following = await subscriptions.following(s.session, s.user.id)
        if not following.follows_anything:
            await subscriptions.follow_province(s.session, s.user.id, deps.now())
            replies.append(Say(s._("✅ You now follow the province's alerts.")))
        text, rows = await settings_screen(s.session, s.user, s._)
    return [*replies, Say(text, rows)]


async def unsubscribe(deps: Deps, sender: Sender) -> list[Reply]:
    async with user_scope(deps, sender) as s:
        await subscriptions.unsubscribe(s.session, s.user.id, deps.now())
        _ = s._
    return [Say(_(STOPPED))]


async def on_follow(deps: Deps, sender: Sender, payload: str) -> list[Reply]:
    """A toggle of the settings screen; the screen is shown again as it now is."""
    now = deps.now()
    parts = payload[len(FOLLOW) :].split(":")
    page: int | None = None
    note: str | None = None
    async with user_scope(deps, sender) as s:
        match parts:
            case ["p"]:
                following = await subscriptions.following(s.session, s.user.id)
                await subscriptions.follow_province(s.session, s.user.id, now, on=not following.whole_province)
            case ["c", agency_id, *rest] if record_id(agency_id) is not None:
                if await subscriptions.toggle_commune(s.session, s.user.id, int(agency_id), now) is None:
                    note = s._("That commune is no longer available.")
                page = record_id(rest[0]) if rest else None
            case ["m", number] if record_id(number) is not None:
                page = int(number)
            case ["t"]:
                if await officials.full_name_of_user(s.session, s.user.id) is None:
                    note = s._("Test alerts are for officials.")
                else:
                    following = await subscriptions.following(s.session, s.user.id)
                    await subscriptions.set_tester(s.session, s.user.id, not following.tester, now)
            case ["off"]:
                await subscriptions.unsubscribe(s.session, s.user.id, now)
                note = s._(STOPPED)
        text, rows = await settings_screen(s.session, s.user, s._, page)
    notice: list[Reply] = [Notice(note)] if note else []
    return [*notice, ShowInPlace(text, rows)]
