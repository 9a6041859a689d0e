"""Provincial alerts: drafting, two-person approval, publication, updates, cancellation, delivery progress.

The rules (003 Art. 3.9, 12-13; docs/rules.md "Alerts"):

* An official with the author role (`alert_author`, or the focal unit itself)
  drafts an alert in a private chat: kind, CAP category, severity, urgency and
  certainty, headline, text and instructions in Vietnamese (English optional),
  the areas (whole province or communes), when it takes effect and expires,
  when to publish, one optional photo or document.
* Whether it is real, an exercise or a test is chosen first and never changed:
  an exercise or test is marked on every screen and in every delivered
  message (at the top and at the bottom), and goes to test subscribers only.
* The alert focal unit approves or rejects (with a comment). The approver must
  be another person than the author: the same official, or the same messenger
  account, is refused. A decision applies to the version it was made on.
* Approval publishes at once, or at `publish_at`. Publication writes one outbox
  row per recipient in the same transaction (`publish`), urgent alerts at
  `Priority.URGENT`, announcements at `Priority.ANNOUNCEMENT` (after every
  message to one person), with `redeliver_unconfirmed`: after a crash, or an
  answer lost on a broken connection, a subscriber may get a second copy of
  what was in flight (at most `OUTBOX_IN_FLIGHT` messages), never no copy.
  Messages to the people running an alert (review requests, decisions, lapses,
  delivery reports) go at `Priority.CONTROL`, ahead of every broadcast.
* The focal unit sees what waits for its decision and what is scheduled
  (`focal_work`), so an official who joined later, or whose review message
  was lost, can still act. A draft is seen only by its author, the authors of
  the agency that answers for it, and the focal unit (`may_see`).
* A scheduled alert that lapses before its time (expired, or the alert it
  changes ended) is not published; its author and approver are told.
* An update or a cancellation is a new alert referencing the one it changes;
  it reaches the same people (everyone the original was written for, plus, for
  an update, the current followers of its areas), ends the original, and
  withdraws the original's rows not yet sent. The approver of a published
  alert has a one-tap cancel (`cancel_now`): the lesson of the 2018 Hawaii
  false alarm, whose correction took 38 minutes.
* An alert leaves `/alerts` when it expires; rows still waiting then are
  withdrawn.

Nothing here talks to a messenger: handlers/alerts.py renders screens and
edits the approver's progress message; the outbox renderers below make the
delivered texts.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    ColumnElement,
    String,
    Subquery,
    case,
    cast,
    delete,
    func,
    literal,
    select,
    text,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from bot.delivery import outbox
from bot.delivery.rendering import RENDERERS, Attachment, Button, Rendered
from bot.domain import subscriptions
from bot.domain.notices import tell_official
from bot.domain.officials import roles_of
from bot.domain.reports import next_number
from bot.i18n import N_, Translator, nfc, translator
from storage.models import (
    Agency,
    Alert,
    AlertArea,
    Official,
    OfficialRole,
    OutboxMessage,
    User,
)
from storage.models.alerts import (
    DESCRIPTION_MAX,
    HEADLINE_MAX,
    INSTRUCTION_MAX,
    AlertKind,
    AlertMode,
    AlertStatus,
    Category,
    Certainty,
    MessageType,
    Severity,
    Urgency,
)
from storage.models.base import UTCDateTime
from storage.models.officials import OfficialStatus, Role
from storage.models.outbox import OutboxStatus, Priority
from storage.models.province import AgencyKind

log = logging.getLogger(__name__)

CODE_PREFIX = "CB"  # cảnh báo
DEFAULT_LIFETIME = timedelta(hours=24)
AUTHOR_ROLES: frozenset[Role] = frozenset({Role.ALERT_AUTHOR, Role.FOCAL_UNIT})
APPROVER_ROLES: frozenset[Role] = frozenset({Role.FOCAL_UNIT})
# PostgreSQL plans the sender's claim query from table statistics; after a
# large publication they are stale until autovacuum comes by (up to a minute),
# and the claim falls back to a plan that sorts every pending row.
ANALYZE_AFTER_ROWS = 1000

# Outbox kinds.
ALERT_MESSAGE = "alert.message"
ALERT_REVIEW = "alert.review"
ALERT_DECISION = "alert.decision"
ALERT_REPORT = "alert.report"

# Callback data of the buttons these messages carry (handled in handlers/alerts.py).
REVIEW = "al"  # al:pv:<id> preview, al:ap:<id>:<version> approve, al:rj:<id>:<version> reject
CANCEL_NOW = "al:x:"  # al:x:<id>: the approver's one-tap cancel

WITHDRAWN_MARK = "withdrawn:"
# A row that was tried before (a crash, a timeout) may have arrived: the
# people behind it also get the cancellation.
UNCERTAIN_MARK = "withdrawn after an uncertain try:"

KIND_LABELS = {AlertKind.ALERT: N_("Alert"), AlertKind.ANNOUNCEMENT: N_("Announcement")}
MODE_LABELS = {
    AlertMode.ACTUAL: N_("🔴 Real"),
    AlertMode.EXERCISE: N_("🧪 Exercise"),
    AlertMode.TEST: N_("🔧 Test"),
}
# On every screen and in every delivered message of an exercise or a test.
MODE_BANNERS = {
    AlertMode.EXERCISE: N_("🧪 EXERCISE — NOT A REAL ALERT"),
    AlertMode.TEST: N_("🔧 TEST — NOT A REAL ALERT"),
}
CATEGORY_LABELS = {
    Category.GEO: N_("Geological (landslide, earthquake)"),
    Category.MET: N_("Weather and floods"),
    Category.SAFETY: N_("Public safety"),
    Category.SECURITY: N_("Security and order"),
    Category.RESCUE: N_("Rescue and recovery"),
    Category.FIRE: N_("Fire"),
    Category.HEALTH: N_("Health and epidemics"),
    Category.ENV: N_("Environment and pollution"),
    Category.TRANSPORT: N_("Transport"),
    Category.INFRA: N_("Utilities (power, water, telecom)"),
    Category.CBRNE: N_("Chemical, biological, radiological"),
    Category.OTHER: N_("Other"),
}
SEVERITY_LABELS = {
    Severity.EXTREME: N_("Extreme"),
    Severity.SEVERE: N_("Severe"),
    Severity.MODERATE: N_("Moderate"),
    Severity.MINOR: N_("Minor"),
    Severity.UNKNOWN: N_("Severity unknown"),
}
URGENCY_LABELS = {
    Urgency.IMMEDIATE: N_("Act now"),
    Urgency.EXPECTED: N_("Act within the hour"),
    Urgency.FUTURE: N_("Act in the near future"),
    Urgency.PAST: N_("No longer needed"),
    Urgency.UNKNOWN: N_("Urgency unknown"),
}
CERTAINTY_LABELS = {
    Certainty.OBSERVED: N_("Observed"),
    Certainty.LIKELY: N_("Likely"),
    Certainty.POSSIBLE: N_("Possible"),
    Certainty.UNLIKELY: N_("Unlikely"),
    Certainty.UNKNOWN: N_("Certainty unknown"),
}
SEVERITY_ICONS = {
    Severity.EXTREME: "🟥",
    Severity.SEVERE: "🟧",
    Severity.MODERATE: "🟨",
    Severity.MINOR: "🟩",
    Severity.UNKNOWN: "⬜",
}

CHOICES: dict[str, type[enum.StrEnum]] = {
    "kind": AlertKind,
    "category": Category,
    "severity": Severity,
    "urgency": Urgency,
    "certainty": Certainty,
}
TEXT_LIMITS = {
    "headline_vi": HEADLINE_MAX,
    "description_vi": DESCRIPTION_MAX,
    "instruction_vi": INSTRUCTION_MAX,
    "headline_en": HEADLINE_MAX,
    "description_en": DESCRIPTION_MAX,
    "instruction_en": INSTRUCTION_MAX,
}
TIMES = ("onset_at", "expires_at", "publish_at")


class Problem(enum.StrEnum):
    NOT_FOUND = "not_found"
    # Not the author's own draft, or the role does not allow it.
    NOT_YOURS = "not_yours"
    # The alert is no longer at this step (decided, published, withdrawn).
    WRONG_STATE = "wrong_state"
    # Changed since the button was shown (the author edited it again).
    STALE = "stale"
    # The approver wrote it (two-person rule).
    SELF_APPROVAL = "self_approval"
    INCOMPLETE = "incomplete"
    TOO_LONG = "too_long"
    EMPTY = "empty"
    # A time in the past, or an expiry before the alert takes effect.
    BAD_TIME = "bad_time"
    # It expired before it could be published.
    EXPIRED = "expired"
    # Only alerts in force can be updated or cancelled.
    NOT_IN_FORCE = "not_in_force"


# --- drafting ---------------------------------------------------------------------------------------


async def alert_by_id(session: AsyncSession, alert_id: int) -> Alert | None:
    return await session.get(Alert, alert_id)


async def new_code(session: AsyncSession, at: datetime) -> str:
    return f"{CODE_PREFIX}-{at.year}-{await next_number(session, f'alert:{at.year}'):06d}"


async def _new_alert(session: AsyncSession, author: Official, at: datetime, **fields: Any) -> Alert:
    """A new alert of `author`'s agency, numbered, with nothing delivered yet; flushed, so it has its id."""
    alert = Alert(
        code=await new_code(session, at),
        version=1,
        author_official_id=author.id,
        agency_id=author.agency_id,
        recipients=0,
        delivery={},
        created_at=at,
        updated_at=at,
        **fields,
    )
    session.add(alert)
    await session.flush()
    return alert


def _changing(original: Alert, msg_type: MessageType) -> dict[str, Any]:
    """What an update or a cancellation takes over from the alert it changes."""
    return {
        "kind": original.kind,
        "mode": original.mode,
        "msg_type": msg_type,
        "references_id": original.id,
        "category": original.category,
        "severity": original.severity,
        "urgency": original.urgency,
        "certainty": original.certainty,
        "headline_vi": original.headline_vi,
        "headline_en": original.headline_en,
        "whole_province": original.whole_province,
    }


async def _copy_areas(session: AsyncSession, original: Alert, alert: Alert) -> None:
    for agency_id in await area_ids(session, original):
        session.add(AlertArea(alert_id=alert.id, agency_id=agency_id))


async def new_draft(session: AsyncSession, author: Official, mode: AlertMode, at: datetime) -> Alert:
    return await _new_alert(
        session,
        author,
        at,
        kind=AlertKind.ALERT,
        mode=mode,
        msg_type=MessageType.ALERT,
        status=AlertStatus.DRAFT,
        category=Category.OTHER,
        severity=Severity.UNKNOWN,
        urgency=Urgency.UNKNOWN,
        certainty=Certainty.UNKNOWN,
        whole_province=True,
        attachment_is_photo=False,
    )


async def draft_change(
    session: AsyncSession, author: Official, original: Alert, msg_type: MessageType, at: datetime
) -> Alert | Problem:
    """An update or a cancellation of an alert in force, prefilled from it, in the same mode."""
    if not is_in_force(original, at):
        return Problem.NOT_IN_FORCE
    is_update = msg_type is MessageType.UPDATE
    # A cancellation says only what it cancels.
    texts = msg_type is not MessageType.CANCEL
    alert = await _new_alert(
        session,
        author,
        at,
        **_changing(original, msg_type),
        status=AlertStatus.DRAFT,
        description_vi=original.description_vi if texts else None,
        instruction_vi=original.instruction_vi if texts else None,
        description_en=original.description_en if texts else None,
        instruction_en=original.instruction_en if texts else None,
        onset_at=original.onset_at,
        expires_at=original.expires_at if is_update else None,
        attachment_key=original.attachment_key if is_update else None,
        attachment_name=original.attachment_name if is_update else None,
        attachment_is_photo=original.attachment_is_photo and is_update,
    )
    await _copy_areas(session, original, alert)
    return alert


def editable(alert: Alert, author: Official) -> Problem | None:
    if alert.author_official_id != author.id:
        return Problem.NOT_YOURS
    if alert.status not in (AlertStatus.DRAFT, AlertStatus.REJECTED):
        return Problem.WRONG_STATE
    return None


def _touch(alert: Alert, at: datetime) -> None:
    alert.version += 1
    alert.updated_at = at
    if alert.status is AlertStatus.REJECTED:
        # Edited after a rejection: a draft again, to be submitted anew.
        alert.status = AlertStatus.DRAFT


def set_choice(alert: Alert, field: str, value: str, at: datetime) -> Problem | None:
    choices = CHOICES.get(field)
    if choices is None or value not in {member.value for member in choices}:
        return Problem.NOT_FOUND
    if field == "kind" and alert.msg_type is not MessageType.ALERT:
        # An update or a cancellation stays what the original was.
        return Problem.WRONG_STATE
    setattr(alert, field, choices(value))
    _touch(alert, at)
    return None


def clean_text(value: str) -> str:
    """NFC, trailing spaces gone, at most one empty line between paragraphs."""
    lines = [line.rstrip() for line in nfc(value).strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out)


def set_text(alert: Alert, field: str, value: str | None, at: datetime) -> Problem | None:
    """Set (or, with None, clear) a text field; the headline is one line."""
    limit = TEXT_LIMITS.get(field)
    if limit is None:
        return Problem.NOT_FOUND
    if value is None:
        if field == "headline_vi" or (field == "description_vi" and alert.msg_type is not MessageType.CANCEL):
            return Problem.EMPTY
        setattr(alert, field, None)
        _touch(alert, at)
        return None
    cleaned = clean_text(value)
    if field.startswith("headline"):
        cleaned = " ".join(cleaned.split())
    if not cleaned:
        return Problem.EMPTY
    if len(cleaned) > limit:
        return Problem.TOO_LONG
    setattr(alert, field, cleaned)
    _touch(alert, at)
    return None


def set_time(alert: Alert, field: str, value: datetime | None, at: datetime) -> Problem | None:
    if field not in TIMES:
        return Problem.NOT_FOUND
    if value is not None and value <= at and field != "onset_at":
        return Problem.BAD_TIME
    setattr(alert, field, value)
    _touch(alert, at)
    return None


def set_attachment(alert: Alert, key: str | None, name: str | None, is_photo: bool, at: datetime) -> None:
    alert.attachment_key, alert.attachment_name, alert.attachment_is_photo = key, name, is_photo and key is not None
    _touch(alert, at)


async def area_ids(session: AsyncSession, alert: Alert) -> list[int]:
    return list(
        (
            await session.scalars(
                select(AlertArea.agency_id).where(AlertArea.alert_id == alert.id).order_by(AlertArea.agency_id)
            )
        ).all()
    )


async def area_agencies(session: AsyncSession, alert: Alert) -> list[Agency]:
    return list(
        (
            await session.scalars(
                select(Agency)
                .join(AlertArea, AlertArea.agency_id == Agency.id)
                .where(AlertArea.alert_id == alert.id)
                .order_by(Agency.name_vi)
            )
        ).all()
    )


async def set_whole_province(session: AsyncSession, alert: Alert, at: datetime) -> None:
    alert.whole_province = True
    await session.execute(delete(AlertArea).where(AlertArea.alert_id == alert.id))
    _touch(alert, at)


async def toggle_area(session: AsyncSession, alert: Alert, agency_id: int, at: datetime) -> bool | None:
    """Add or remove a commune; the alert is then for its communes only. None: not an active commune."""
    agency = await session.get(Agency, agency_id)
    if agency is None or agency.kind != AgencyKind.COMMUNE or not agency.active:
        return None
    removed = await session.execute(
        delete(AlertArea).where(AlertArea.alert_id == alert.id, AlertArea.agency_id == agency_id)
    )
    added = not removed.rowcount
    if added:
        session.add(AlertArea(alert_id=alert.id, agency_id=agency_id))
    await session.flush()
    alert.whole_province = not await area_ids(session, alert)
    _touch(alert, at)
    return added


async def missing(session: AsyncSession, alert: Alert) -> list[str]:
    """What must be filled in before the alert can go to the focal unit (field names)."""
    needed = []
    if not alert.headline_vi:
        needed.append("headline_vi")
    if not alert.description_vi and alert.msg_type is not MessageType.CANCEL:
        needed.append("description_vi")
    if not alert.whole_province and not await area_ids(session, alert):
        needed.append("areas")
    return needed


def timing_problem(alert: Alert, at: datetime) -> Problem | None:
    """Expiry after the effective time and after publication; publication not in the past."""
    start = max(alert.publish_at or at, at)
    if alert.expires_at is not None and (
        alert.expires_at <= start or (alert.onset_at is not None and alert.expires_at <= alert.onset_at)
    ):
        return Problem.BAD_TIME
    return None


# --- approval ----------------------------------------------------------------------------------------


async def focal_officials(session: AsyncSession) -> list[tuple[Official, User]]:
    """Active officials of the focal unit role, with their accounts: who decides on alerts."""
    rows = await session.execute(
        select(Official, User)
        .join(User, User.id == Official.user_id)
        .join(OfficialRole, OfficialRole.official_id == Official.id)
        .where(OfficialRole.role == Role.FOCAL_UNIT, Official.status == OfficialStatus.ACTIVE)
        .order_by(Official.id)
    )
    return [(official, user) for official, user in rows.all()]


async def submit(session: AsyncSession, alert: Alert, author: Official, at: datetime) -> int | Problem:
    """Send the draft to the focal unit; how many officials were told."""
    problem = editable(alert, author)
    if problem is None and await missing(session, alert):
        problem = Problem.INCOMPLETE
    if problem is None:
        if alert.expires_at is None and alert.msg_type is not MessageType.CANCEL:
            alert.expires_at = max(alert.publish_at or at, alert.onset_at or at) + DEFAULT_LIFETIME
        problem = timing_problem(alert, at)
    if problem is None and alert.references_id is not None:
        original = await session.get(Alert, alert.references_id)
        if original is None or not is_in_force(original, at):
            problem = Problem.NOT_IN_FORCE
    if problem is not None:
        return problem
    _touch(alert, at)
    alert.status = AlertStatus.SUBMITTED
    alert.submitted_at = at
    alert.decision_comment = None
    deciders = [(o, u) for o, u in await focal_officials(session) if o.id != author.id]
    params = await review_params(session, alert)
    for official, _user in deciders:
        await _control(
            session, official.id, ALERT_REVIEW, at, f"alert-review:{alert.id}:{alert.version}:{official.id}", params
        )
    return len(deciders)


async def _control(
    session: AsyncSession, official_id: int, kind: str, at: datetime, dedupe_key: str, params: dict[str, Any]
) -> None:
    """A message of the alerts' own workflow to an official who may still hear it, ahead of any subscriber's."""
    await tell_official(
        session,
        official_id,
        None,
        kind=kind,
        params=params,
        dedupe_key=dedupe_key,
        priority=Priority.CONTROL,
        not_before=at,
    )


async def review_params(session: AsyncSession, alert: Alert) -> dict[str, Any]:
    """What the focal unit's review message says (ALERT_REVIEW), for the version waiting now."""
    author = await session.get(Official, alert.author_official_id)
    agency = await session.get(Agency, alert.agency_id)
    assert author is not None and agency is not None
    return {
        "alert_id": alert.id,
        "version": alert.version,
        "code": alert.code,
        "mode": alert.mode.value,
        "kind": alert.kind.value,
        "msg_type": alert.msg_type.value,
        "headline": alert.headline_vi,
        "headline_en": alert.headline_en,
        "author": author.full_name,
        "agency_vi": agency.name_vi,
        "agency_en": agency.name_en,
    }


async def _decider(session: AsyncSession, alert: Alert, approver: Official, version: int) -> Problem | None:
    if alert.status is not AlertStatus.SUBMITTED:
        return Problem.WRONG_STATE
    if version != alert.version:
        return Problem.STALE
    # Two people (one official per messenger account, storage/models/officials.py).
    if approver.id == alert.author_official_id:
        return Problem.SELF_APPROVAL
    if Role.FOCAL_UNIT not in await roles_of(session, approver.id):
        return Problem.NOT_YOURS
    return None


async def check_decision(session: AsyncSession, alert: Alert, approver: Official, version: int) -> Problem | None:
    """Why `approver` could not decide on this version now (before asking them to confirm or type)."""
    return await _decider(session, alert, approver, version)


async def audience_size(session: AsyncSession, alert: Alert) -> int:
    """How many people publishing it now would write to (channels not counted)."""
    areas = None if alert.whole_province else await area_ids(session, alert)
    original = await session.get(Alert, alert.references_id) if alert.references_id is not None else None
    audience = _audience(alert, original, test=alert.mode is not AlertMode.ACTUAL, areas=areas)
    return int(await session.scalar(select(func.count()).select_from(audience)) or 0)


async def open_work(session: AsyncSession, author: Official) -> list[Alert]:
    """The author's alerts not yet published: drafts, returned, waiting, scheduled."""
    return list(
        (
            await session.scalars(
                select(Alert)
                .where(
                    Alert.author_official_id == author.id,
                    Alert.status.in_(
                        [AlertStatus.DRAFT, AlertStatus.REJECTED, AlertStatus.SUBMITTED, AlertStatus.SCHEDULED]
                    ),
                )
                .order_by(Alert.id.desc())
                .limit(10)
            )
        ).all()
    )


@dataclass(frozen=True)
class FocalWork:
    # Waiting for a decision this official may take (not their own), oldest first.
    waiting: tuple[Alert, ...]
    # Approved, to be published later (any approver's): they can still be called off. Soonest first.
    scheduled: tuple[Alert, ...]


FOCAL_LIST_LIMIT = 20


async def focal_work(session: AsyncSession, official: Official) -> FocalWork:
    """What a focal unit official can act on, found without the review message that announced it.

    Their own alerts are left out: they are under "your alerts", and the two-person rule keeps
    their decision from them anyway. Empty for anyone without the focal unit role.
    """
    if Role.FOCAL_UNIT not in await roles_of(session, official.id):
        return FocalWork((), ())

    async def others(status: AlertStatus, first: InstrumentedAttribute[datetime | None]) -> tuple[Alert, ...]:
        rows = await session.scalars(
            select(Alert)
            .where(Alert.status == status, Alert.author_official_id != official.id)
            .order_by(first, Alert.id)
            .limit(FOCAL_LIST_LIMIT)
        )
        return tuple(rows.all())

    return FocalWork(
        await others(AlertStatus.SUBMITTED, Alert.submitted_at), await others(AlertStatus.SCHEDULED, Alert.publish_at)
    )


async def may_see(session: AsyncSession, alert: Alert, official: Official) -> bool:
    """Who may open or preview an alert before its publication.

    Its author; the other authors of the agency that answers for its content
    (003 Art. 13), who may have to take it over; and the focal unit, which decides.
    """
    if official.id == alert.author_official_id:
        return True
    roles = await roles_of(session, official.id)
    return Role.FOCAL_UNIT in roles or (Role.ALERT_AUTHOR in roles and official.agency_id == alert.agency_id)


async def reject(
    session: AsyncSession, alert: Alert, approver: Official, version: int, comment: str, at: datetime, zone_name: str
) -> Problem | None:
    problem = await _decider(session, alert, approver, version)
    cleaned = clean_text(comment)
    if problem is None and not cleaned:
        problem = Problem.EMPTY
    if problem is not None:
        return problem
    alert.status = AlertStatus.REJECTED
    alert.approver_official_id, alert.decided_at, alert.decision_comment = approver.id, at, cleaned
    alert.version += 1
    await _tell(session, alert, "rejected", approver, at, zone_name, to=[alert.author_official_id], comment=cleaned)
    return None


@dataclass(frozen=True)
class Approved:
    alert: Alert
    # Rows written now; None when publication is scheduled for later.
    recipients: int | None


async def approve(
    session: AsyncSession,
    alert: Alert,
    approver: Official,
    version: int,
    at: datetime,
    *,
    zone_name: str,
    channels: Sequence[str] = (),
) -> Approved | Problem:
    """Approve: publish now, or at `publish_at` if that is later."""
    problem = await _decider(session, alert, approver, version)
    if problem is None and alert.expires_at is not None and alert.expires_at <= at:
        problem = Problem.EXPIRED
    publish_now = alert.publish_at is None or alert.publish_at <= at
    if problem is None and alert.references_id is not None:
        original = await session.get(Alert, alert.references_id)
        if original is None or not is_in_force(original, at):
            problem = Problem.NOT_IN_FORCE
        elif publish_now and not await hold_in_force(session, original, at):
            # Published now, it ends the original; a cancel pressed at the same moment got there first.
            # (Scheduled, the publication holds the original when its time comes.)
            problem = Problem.NOT_IN_FORCE
    if problem is not None:
        return problem
    alert.approver_official_id, alert.decided_at = approver.id, at
    alert.version += 1
    if not publish_now:
        alert.status = AlertStatus.SCHEDULED
        await _tell(session, alert, "scheduled", approver, at, zone_name, to=[alert.author_official_id])
        return Approved(alert, None)
    count = await publish(session, alert, at, zone_name=zone_name, channels=channels)
    await _tell(session, alert, "published", approver, at, zone_name, to=[alert.author_official_id])
    return Approved(alert, count)


async def _tell(
    session: AsyncSession,
    alert: Alert,
    decision: str,
    by: Official | None,
    at: datetime,
    zone_name: str,
    *,
    to: Sequence[int | None],
    **extra: Any,
) -> None:
    """What happened to `alert` (ALERT_DECISION), to the officials `to` other than the one who did it."""
    for official_id in sorted({i for i in to if i is not None} - {by.id if by else None}):
        await _control(
            session,
            official_id,
            ALERT_DECISION,
            at,
            f"alert-decision:{alert.id}:{alert.version}:{official_id}",
            {
                "alert_id": alert.id,
                "code": alert.code,
                "mode": alert.mode.value,
                "decision": decision,
                "by": by.full_name if by else None,
                "tz": zone_name,
                "publish_at": (alert.publish_at or at).isoformat(),
                "headline": alert.headline_vi,
                **extra,
            },
        )


async def withdraw(
    session: AsyncSession, alert: Alert, by: Official, at: datetime, *, zone_name: str
) -> Problem | None:
    """Discard a draft, or call off an alert not yet published (the author, or the focal unit).

    Whoever else was part of it hears of it: the author, and for an approved alert its approver.
    """
    if alert.status not in (AlertStatus.DRAFT, AlertStatus.REJECTED, AlertStatus.SUBMITTED, AlertStatus.SCHEDULED):
        return Problem.WRONG_STATE
    if by.id != alert.author_official_id and Role.FOCAL_UNIT not in await roles_of(session, by.id):
        return Problem.NOT_YOURS
    approved = alert.status is AlertStatus.SCHEDULED
    alert.status = AlertStatus.WITHDRAWN
    alert.version += 1
    alert.updated_at = at
    await _tell(
        session,
        alert,
        "withdrawn",
        by,
        at,
        zone_name,
        to=[alert.author_official_id, alert.approver_official_id if approved else None],
    )
    return None


# --- publication ----------------------------------------------------------------------------------------


def is_in_force(alert: Alert, at: datetime) -> bool:
    return (
        alert.status is AlertStatus.PUBLISHED
        and alert.msg_type is not MessageType.CANCEL
        and alert.ended_by_id is None
        and (alert.expires_at is None or alert.expires_at > at)
    )


def priority_of(alert: Alert) -> Priority:
    return Priority.URGENT if alert.kind is AlertKind.ALERT else Priority.ANNOUNCEMENT


def dedupe_prefix(alert_id: int) -> str:
    return f"alert:{alert_id}:"


def _rows_of(alert: Alert):
    """The outbox rows written when `alert` was published (none before)."""
    return (
        OutboxMessage.id.between(alert.first_outbox_id or 0, alert.last_outbox_id or -1),
        OutboxMessage.kind == ALERT_MESSAGE,
        OutboxMessage.dedupe_key.like(f"{dedupe_prefix(alert.id)}%"),
    )


async def publish(
    session: AsyncSession, alert: Alert, at: datetime, *, zone_name: str, channels: Sequence[str] = ()
) -> int:
    """Write one outbox row per recipient, in the caller's transaction; how many rows.

    An INSERT ... SELECT per language, so 100,000 recipients are one pass in
    the database, not 100,000 round trips. Rows carry the text in the
    recipient's language of this moment (`message_params`).
    """
    areas = None if alert.whole_province else await area_ids(session, alert)
    test = alert.mode is not AlertMode.ACTUAL
    original = await session.get(Alert, alert.references_id) if alert.references_id is not None else None
    if original is not None:
        # First, so that a row the sender claims meanwhile is `sending`, and its person
        # counted among those the original reached, rather than withdrawn unseen.
        await _end(session, original, alert, at)
    before = await session.scalar(select(func.coalesce(func.max(OutboxMessage.id), 0)))
    alert.status = AlertStatus.PUBLISHED
    alert.published_at = at
    alert.updated_at = at
    params = {lang: await message_params(session, alert, lang, zone_name) for lang in ("vi", "en")}
    audience = _audience(alert, original, test=test, areas=areas)
    for lang, reads_it in (("en", audience.c.language == "en"), ("vi", audience.c.language != "en")):
        await _insert_rows(session, alert, audience, reads_it, params[lang], lang, at)
    if not test:
        for chat in channels:
            await outbox.enqueue(
                session,
                chat_id=chat,
                kind=ALERT_MESSAGE,
                params=params["vi"],
                language="vi",
                priority=priority_of(alert),
                redeliver_unconfirmed=True,
                dedupe_key=f"{dedupe_prefix(alert.id)}channel:{chat}"[:200],
                not_before=at,
            )
    first, last, count = (
        await session.execute(
            select(func.min(OutboxMessage.id), func.max(OutboxMessage.id), func.count()).where(
                OutboxMessage.id > before, OutboxMessage.dedupe_key.like(f"{dedupe_prefix(alert.id)}%")
            )
        )
    ).one()
    alert.first_outbox_id, alert.last_outbox_id, alert.recipients = first, last, int(count)
    if count:
        session.info[outbox.ENQUEUED_FLAG] = True
    else:
        alert.delivered_at = at
        alert.delivery = Progress(0, 0, 0, 0, 0, 0).as_dict()
    return int(count)


def _audience(alert: Alert, original: Alert | None, *, test: bool, areas: Sequence[int] | None) -> Subquery:
    """(id, chat_id, language) of the people the alert goes to."""
    current = subscriptions.recipients(test=test, area_ids=areas)
    if original is None:
        return current.subquery()
    # The people the original was written for, as far as they may still be written to.
    earlier_rows = [OutboxMessage.recipient_user_id.is_not(None), *_rows_of(original)]
    if alert.msg_type is MessageType.CANCEL:
        earlier_rows.append(
            OutboxMessage.status.in_(
                [OutboxStatus.SENT, OutboxStatus.SENDING, OutboxStatus.UNCONFIRMED, OutboxStatus.SKIPPED]
            )
        )
        earlier_rows.append(
            (OutboxMessage.status != OutboxStatus.SKIPPED) | OutboxMessage.last_error.like(f"{UNCERTAIN_MARK}%")
        )
    earlier = (
        select(User.id, User.chat_id, User.language)
        .join(OutboxMessage, OutboxMessage.recipient_user_id == User.id)
        .where(User.blocked_at.is_(None), *earlier_rows)
        .distinct()
    )
    if alert.msg_type is MessageType.CANCEL:
        return earlier.subquery()
    return union(earlier, current).subquery()


async def _insert_rows(
    session: AsyncSession,
    alert: Alert,
    source: Subquery,
    reads_it: ColumnElement[bool],
    params: Mapping[str, Any],
    language: str,
    at: datetime,
) -> None:
    table = OutboxMessage.__table__
    rows = select(
        literal(outbox.DEFAULT_PLATFORM),
        source.c.chat_id,
        source.c.id,
        literal(language),
        literal(ALERT_MESSAGE),
        literal(dict(params), JSON),
        literal(int(priority_of(alert))),
        literal(OutboxStatus.PENDING.value),
        literal(True),
        literal(0),
        literal(at, UTCDateTime()),
        literal(dedupe_prefix(alert.id)) + cast(source.c.id, String),
        literal(at, UTCDateTime()),
    ).where(reads_it)
    columns = [
        "platform",
        "chat_id",
        "recipient_user_id",
        "language",
        "kind",
        "params",
        "priority",
        "status",
        "redeliver_unconfirmed",
        "attempts",
        "not_before",
        "dedupe_key",
        "created_at",
    ]
    await session.execute(table.insert().from_select([table.c[name] for name in columns], rows))


async def _end(session: AsyncSession, original: Alert, by: Alert, at: datetime) -> None:
    """The update or cancellation `by` replaces `original`: its rows not yet sent are withdrawn."""
    original.ended_by_id, original.ended_at = by.id, at
    await withdraw_pending(session, original, f"{WITHDRAWN_MARK} replaced by {by.code}")


async def withdraw_pending(session: AsyncSession, alert: Alert, reason: str) -> int:
    """Rows of `alert` not sent yet will not be. A row tried before is marked as possibly delivered."""
    if alert.first_outbox_id is None:
        return 0
    pending = (*_rows_of(alert), OutboxMessage.status == OutboxStatus.PENDING)
    tried = await session.execute(
        update(OutboxMessage)
        .where(*pending, OutboxMessage.last_error.is_not(None))
        .values(status=OutboxStatus.SKIPPED, last_error=f"{UNCERTAIN_MARK} {reason}"[:1000])
        .execution_options(synchronize_session=False)
    )
    untried = await session.execute(
        update(OutboxMessage)
        .where(*pending)
        .values(status=OutboxStatus.SKIPPED, last_error=reason[:1000])
        .execution_options(synchronize_session=False)
    )
    return (tried.rowcount or 0) + (untried.rowcount or 0)


async def hold_in_force(session: AsyncSession, alert: Alert, at: datetime) -> bool:
    """Take `alert`, in force as this transaction read it, to be ended by the caller; False if it is not any more.

    A guarded UPDATE on its version: of two transactions that both read it in
    force (two approvers pressing cancel at once, or a cancel and an update's
    approval), the second finds the version moved (PostgreSQL makes it wait
    for the first to commit, then evaluates the condition again) and changes
    nothing. `alert` is reloaded either way, so the caller can say who ended it.
    """
    if not is_in_force(alert, at):
        return False
    held = await session.execute(
        update(Alert)
        .where(
            Alert.id == alert.id,
            Alert.version == alert.version,
            Alert.status == AlertStatus.PUBLISHED,
            Alert.ended_by_id.is_(None),
        )
        .values(version=Alert.version + 1, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(alert)
    return held.rowcount == 1 and is_in_force(alert, at)


async def cancel_now(
    session: AsyncSession,
    original: Alert,
    approver: Official,
    at: datetime,
    *,
    zone_name: str,
    channels: Sequence[str] = (),
) -> Alert | Problem:
    """The one-tap cancel: a cancellation, published at once to everyone the original reached.

    Exempt from the two-person rule: it only withdraws what two people published.
    """
    if Role.FOCAL_UNIT not in await roles_of(session, approver.id):
        return Problem.NOT_YOURS
    if not await hold_in_force(session, original, at):
        return Problem.NOT_IN_FORCE
    cancel = await _new_alert(
        session,
        approver,
        at,
        **_changing(original, MessageType.CANCEL),
        status=AlertStatus.SUBMITTED,
        approver_official_id=approver.id,
        decided_at=at,
        submitted_at=at,
        attachment_is_photo=False,
    )
    await _copy_areas(session, original, cancel)
    await session.flush()
    await publish(session, cancel, at, zone_name=zone_name, channels=channels)
    return cancel


async def due_for_publication(session: AsyncSession, at: datetime) -> list[int]:
    return list(
        (
            await session.scalars(
                select(Alert.id).where(Alert.status == AlertStatus.SCHEDULED, Alert.publish_at <= at).order_by(Alert.id)
            )
        ).all()
    )


async def publish_scheduled(
    session: AsyncSession, alert_id: int, at: datetime, *, zone_name: str, channels: Sequence[str] = ()
) -> Alert | None:
    """Publish one scheduled alert whose time has come; None if another worker did, or it lapsed."""
    claimed = await session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.status == AlertStatus.SCHEDULED)
        .values(status=AlertStatus.PUBLISHED)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    alert = await session.get(Alert, alert_id, populate_existing=True)
    assert alert is not None
    original = await session.get(Alert, alert.references_id) if alert.references_id is not None else None
    lapse: str | None = None
    if alert.expires_at is not None and alert.expires_at <= at:
        lapse = "expired"
    elif original is not None and not await hold_in_force(session, original, at):
        lapse = "ended"
    if lapse is not None:
        # The runner was stopped past its expiry, or the alert it changes was cancelled or
        # replaced meanwhile: nobody gets it, and the two people behind it are told so.
        alert.status = AlertStatus.WITHDRAWN
        alert.decision_comment = "lapsed before its publication time"
        alert.version += 1
        await _tell(
            session,
            alert,
            "lapsed",
            None,
            at,
            zone_name,
            to=[alert.author_official_id, alert.approver_official_id],
            lapse=lapse,
            expires=alert.expires_at.isoformat() if alert.expires_at else None,
            ref_code=original.code if original is not None else None,
        )
        return None
    await publish(session, alert, at, zone_name=zone_name, channels=channels)
    return alert


async def refresh_statistics(engine: AsyncEngine, rows: int) -> None:
    """After a large publication, let PostgreSQL plan the sender's claims with the new rows counted."""
    if rows < ANALYZE_AFTER_ROWS or engine.dialect.name != "postgresql":
        return
    async with engine.connect() as connection:
        await connection.execute(text("ANALYZE outbox"))
        await connection.commit()


# --- delivery progress -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int
    # Not delivered because the person blocked the bot (and is unsubscribed now).
    blocked: int
    # Not sent because the alert was updated, cancelled or expired first.
    withdrawn: int
    # Sent, as far as anyone can tell, but the answer was lost (a crash, a timeout).
    unconfirmed: int

    @property
    def left(self) -> int:
        return max(0, self.total - self.sent - self.failed - self.blocked - self.withdrawn - self.unconfirmed)

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "sent": self.sent,
            "failed": self.failed,
            "blocked": self.blocked,
            "withdrawn": self.withdrawn,
            "unconfirmed": self.unconfirmed,
        }


async def progress_reader(session: AsyncSession, alert: Alert) -> User | None:
    """The account whose chat holds the alert's progress message (for its language), if it is someone's."""
    return await session.scalar(
        select(User).where(User.platform == alert.progress_platform, User.chat_id == alert.progress_chat_id).limit(1)
    )


async def progress(session: AsyncSession, alert: Alert) -> Progress:
    withdrawn = OutboxMessage.last_error.like(f"{WITHDRAWN_MARK}%") | OutboxMessage.last_error.like(
        f"{UNCERTAIN_MARK}%"
    )
    rows = (
        await session.execute(
            select(OutboxMessage.status, func.count(), func.sum(case((withdrawn, 1), else_=0)))
            .where(*_rows_of(alert))
            .group_by(OutboxMessage.status)
        )
    ).all()
    counts = {"sent": 0, "failed": 0, "blocked": 0, "withdrawn": 0, "unconfirmed": 0}
    for status, count, withdrawn_count in rows:
        status = OutboxStatus(status)
        if status is OutboxStatus.SENT:
            counts["sent"] += count
        elif status is OutboxStatus.FAILED:
            counts["failed"] += count
        elif status is OutboxStatus.UNCONFIRMED:
            counts["unconfirmed"] += count
        elif status is OutboxStatus.SKIPPED:
            counts["withdrawn"] += int(withdrawn_count or 0)
            counts["blocked"] += count - int(withdrawn_count or 0)
    return Progress(total=alert.recipients, **counts)


async def deliveries_under_way(session: AsyncSession) -> list[int]:
    return list(
        (
            await session.scalars(
                select(Alert.id)
                .where(Alert.status == AlertStatus.PUBLISHED, Alert.delivered_at.is_(None))
                .order_by(Alert.id)
            )
        ).all()
    )


async def settle_delivery(session: AsyncSession, alert: Alert, at: datetime) -> Progress:
    """Where delivery stands; withdraws what is left of an expired alert, and closes a finished one."""
    if alert.expires_at is not None and alert.expires_at <= at and alert.delivered_at is None:
        await withdraw_pending(session, alert, f"{WITHDRAWN_MARK} expired")
    state = await progress(session, alert)
    if state.left == 0 and alert.delivered_at is None:
        alert.delivered_at = at
        alert.delivery = state.as_dict()
        await _report(session, alert, state, at)
    return state


@dataclass(frozen=True)
class Tick:
    # Scheduled alerts published by this tick: their approvers get a progress message.
    published: tuple[Alert, ...]
    # Deliveries looked at, with where they stand (`delivered_at` is set on the ones just finished).
    deliveries: tuple[tuple[Alert, Progress], ...]


async def tick(
    sessions: async_sessionmaker[AsyncSession], at: datetime, *, zone_name: str, channels: Sequence[str] = ()
) -> Tick:
    """The runner's round: publish what is due, then see how each delivery stands.

    Each alert in a transaction of its own, so one failing alert holds up no other.
    """
    published: list[Alert] = []
    async with sessions() as session:
        due = await due_for_publication(session, at)
    for alert_id in due:
        async with sessions.begin() as session:
            alert = await publish_scheduled(session, alert_id, at, zone_name=zone_name, channels=channels)
        if alert is not None:
            published.append(alert)
    deliveries: list[tuple[Alert, Progress]] = []
    async with sessions() as session:
        under_way = await deliveries_under_way(session)
    if under_way:
        async with sessions.begin() as session:
            await subscriptions.unsubscribe_blocked(session, at)
    for alert_id in under_way:
        async with sessions.begin() as session:
            alert = await session.get(Alert, alert_id)
            assert alert is not None
            deliveries.append((alert, await settle_delivery(session, alert, at)))
    return Tick(tuple(published), tuple(deliveries))


async def _report(session: AsyncSession, alert: Alert, state: Progress, at: datetime) -> None:
    """The final delivery report, to the approver and to the author."""
    seconds = max(0.0, (at - (alert.published_at or at)).total_seconds())
    official_ids = {i for i in (alert.approver_official_id, alert.author_official_id) if i is not None}
    for official_id in sorted(official_ids):
        await _control(
            session,
            official_id,
            ALERT_REPORT,
            at,
            f"alert-report:{alert.id}:{official_id}",
            {
                "alert_id": alert.id,
                "code": alert.code,
                "mode": alert.mode.value,
                "msg_type": alert.msg_type.value,
                "seconds": round(seconds, 1),
                **state.as_dict(),
                "cancel": official_id == alert.approver_official_id and is_in_force(alert, at),
            },
        )


# --- what people see ------------------------------------------------------------------------------------------


async def in_force(session: AsyncSession, at: datetime, *, with_drills: bool) -> list[Alert]:
    """Alerts in force, most severe first; exercises and tests only for test subscribers."""
    modes = list(AlertMode) if with_drills else [AlertMode.ACTUAL]
    order = case({s: i for i, s in enumerate(Severity)}, value=Alert.severity)
    return list(
        (
            await session.scalars(
                select(Alert)
                .where(
                    Alert.status == AlertStatus.PUBLISHED,
                    Alert.msg_type != MessageType.CANCEL,
                    Alert.ended_by_id.is_(None),
                    (Alert.expires_at.is_(None)) | (Alert.expires_at > at),
                    Alert.mode.in_(modes),
                )
                .order_by(order, Alert.published_at.desc())
            )
        ).all()
    )


def pick_text(language: str, vi: str | None, en: str | None) -> str | None:
    return (en or vi) if language == "en" else vi


async def message_params(session: AsyncSession, alert: Alert, language: str, zone_name: str) -> dict[str, Any]:
    """Everything the delivered message says, in `language`, as plain values."""
    agency = await session.get(Agency, alert.agency_id)
    assert agency is not None
    areas = (
        []
        if alert.whole_province
        else [pick_text(language, a.name_vi, a.name_en) for a in await area_agencies(session, alert)]
    )
    params: dict[str, Any] = {
        "alert_id": alert.id,
        "code": alert.code,
        "lang": language,
        "mode": alert.mode.value,
        "kind": alert.kind.value,
        "msg_type": alert.msg_type.value,
        "category": alert.category.value,
        "severity": alert.severity.value,
        "urgency": alert.urgency.value,
        "certainty": alert.certainty.value,
        "headline": pick_text(language, alert.headline_vi, alert.headline_en),
        "description": pick_text(language, alert.description_vi, alert.description_en),
        "instruction": pick_text(language, alert.instruction_vi, alert.instruction_en),
        "areas": areas,
        "sender": pick_text(language, agency.name_vi, agency.name_en),
        "onset": alert.onset_at.isoformat() if alert.onset_at else None,
        "expires": alert.expires_at.isoformat() if alert.expires_at else None,
        "published": alert.published_at.isoformat() if alert.published_at else None,
        "tz": zone_name,
    }
    if alert.references_id is not None:
        original = await session.get(Alert, alert.references_id)
        assert original is not None
        params["ref_code"] = original.code
        params["ref_headline"] = pick_text(language, original.headline_vi, original.headline_en)
        params["ref_published"] = original.published_at.isoformat() if original.published_at else None
    if alert.attachment_key:
        params["attachment"] = {
            "key": alert.attachment_key,
            "name": alert.attachment_name or "",
            "photo": alert.attachment_is_photo,
        }
    return params


def banner(mode: str, _: Translator) -> str | None:
    label = MODE_BANNERS.get(AlertMode(mode))
    return _(label) if label else None


def marked(mode: str, text: str, _: Translator) -> str:
    """`text` about an alert in `mode`; an exercise's or a test's between its banners, at the top and the bottom."""
    mark = banner(mode, _)
    return f"{mark}\n{text}\n{mark}" if mark else text


def _when(iso: str | None, _: Translator, zone: ZoneInfo) -> str | None:
    return _.datetime(datetime.fromisoformat(iso), zone, "HH:mm dd/MM/yyyy") if iso else None


def message_text(params: Mapping[str, Any], _: Translator, zone: ZoneInfo) -> str:
    """The delivered message: what subscribers see, and what the preview shows."""
    lines: list[str] = []
    mark = banner(params["mode"], _)
    if mark:
        lines += [mark, ""]
    msg_type, kind = MessageType(params["msg_type"]), AlertKind(params["kind"])
    severity = Severity(params["severity"])
    if msg_type is MessageType.CANCEL:
        lines.append(_("✅ CANCELLED: {code}", code=params.get("ref_code", "")))
        lines.append(
            _(
                "The alert “{headline}” ({code}, {time}) is cancelled. Disregard it.",
                headline=params.get("ref_headline") or params.get("headline") or "",
                code=params.get("ref_code", ""),
                time=_when(params.get("ref_published"), _, zone) or "—",
            )
        )
        if params.get("description"):
            lines += ["", params["description"]]
    else:
        head = _("🚨 ALERT") if kind is AlertKind.ALERT else _("📢 ANNOUNCEMENT")
        if msg_type is MessageType.UPDATE:
            head = _("🔄 UPDATE of {code}", code=params.get("ref_code", "")) + " · " + head
        lines.append(
            f"{head} · {SEVERITY_ICONS[severity]} {_(SEVERITY_LABELS[severity])}"
            f" · {_(URGENCY_LABELS[Urgency(params['urgency'])])}"
        )
        lines.append(params.get("headline") or "")
        if params.get("description"):
            lines += ["", params["description"]]
        if params.get("instruction"):
            lines += ["", _("👉 What to do: {text}", text=params["instruction"])]
        lines.append("")
        lines.append(
            _(
                "🏷 {category} · {certainty}",
                category=_(CATEGORY_LABELS[Category(params["category"])]),
                certainty=_(CERTAINTY_LABELS[Certainty(params["certainty"])]),
            )
        )
        areas = params.get("areas") or []
        lines.append(_("📍 Area: {areas}", areas=", ".join(areas) if areas else _("the whole province")))
        onset = _when(params.get("onset"), _, zone) or _when(params.get("published"), _, zone)
        expires = _when(params.get("expires"), _, zone)
        lines.append(_("⏱ In force from {start} until {end}", start=onset or _("publication"), end=expires or "—"))
    lines.append(_("🏛 From: {sender} · {code}", sender=params.get("sender", ""), code=params["code"]))
    if mark:
        lines += ["", mark]
    return "\n".join(lines)


def message_rendered(params: Mapping[str, Any]) -> Rendered:
    """The delivered message, wholly in the language its row was written in (labels and text alike)."""
    _ = translator(params["lang"])
    text_ = message_text(params, _, ZoneInfo(params["tz"]))
    attachment = params.get("attachment")
    if not attachment:
        return Rendered(text_)
    if attachment["photo"]:
        return Rendered(text_, photo_keys=(attachment["key"],))
    return Rendered(text_, documents=(Attachment(attachment["key"], attachment["name"] or "alert"),))


@RENDERERS.renderer(ALERT_MESSAGE)
def _render_message(params: Mapping[str, Any], _: Translator) -> Rendered:
    return message_rendered(params)


@RENDERERS.renderer(ALERT_REVIEW)
def review_rendered(params: Mapping[str, Any], _: Translator) -> Rendered:
    """The focal unit's review message (`review_params`): sent at submission, and again from /alerts."""
    lines = []
    what = {
        MessageType.ALERT: N_("📝 An alert waits for your approval: {code}"),
        MessageType.UPDATE: N_("📝 An update waits for your approval: {code}"),
        MessageType.CANCEL: N_("📝 A cancellation waits for your approval: {code}"),
    }
    lines.append(_(what[MessageType(params["msg_type"])], code=params["code"]))
    lines.append(_.pick(params["headline"], params.get("headline_en") or params["headline"]))
    lines.append(
        _("Written by {name}, {agency}", name=params["author"], agency=_.pick(params["agency_vi"], params["agency_en"]))
    )
    alert_id, version = params["alert_id"], params["version"]
    return Rendered(
        marked(params["mode"], "\n".join(lines), _),
        buttons=(
            (Button(_("👁 Preview"), f"{REVIEW}:pv:{alert_id}"),),
            (
                Button(_("✅ Approve"), f"{REVIEW}:ap:{alert_id}:{version}"),
                Button(_("⛔ Reject"), f"{REVIEW}:rj:{alert_id}:{version}"),
            ),
        ),
    )


@RENDERERS.renderer(ALERT_DECISION)
def _render_decision(params: Mapping[str, Any], _: Translator) -> Rendered:
    zone = ZoneInfo(params["tz"])
    code = params["code"]
    match params["decision"]:
        case "rejected":
            text_ = _(
                "⛔ {code} was returned by {name}: {comment}\nEdit it and submit it again, or discard it.",
                code=code,
                name=params["by"],
                comment=params.get("comment") or "",
            )
        case "scheduled":
            text_ = _(
                "✅ {code} was approved by {name}; it will be published at {time}.",
                code=code,
                name=params["by"],
                time=_when(params["publish_at"], _, zone),
            )
        case "withdrawn":
            text_ = _("🗑 {code} was called off by {name}; it will not be published.", code=code, name=params["by"])
        case "lapsed" if params.get("lapse") == "ended":
            text_ = _(
                "⌛ {code} was not published at {time}: the alert it changes, {ref}, had ended by then.",
                code=code,
                time=_when(params["publish_at"], _, zone),
                ref=params.get("ref_code") or "",
            )
        case "lapsed":
            text_ = _(
                "⌛ {code} was not published: it expired at {expires}, before its publication time {time}. "
                "Write it again if it is still needed.",
                code=code,
                expires=_when(params.get("expires"), _, zone) or "—",
                time=_when(params["publish_at"], _, zone),
            )
        case _:
            text_ = _("✅ {code} was approved by {name} and published.", code=code, name=params["by"])
    return Rendered(marked(params["mode"], text_, _))


def report_text(params: Mapping[str, Any], _: Translator) -> str:
    minutes, seconds = divmod(int(params["seconds"]), 60)
    lines = [
        _("📊 Delivery report for {code}", code=params["code"]),
        _("Sent: {sent} of {total}", sent=params["sent"], total=params["total"]),
        _(
            "Failed: {failed} · blocked the bot (now unsubscribed): {blocked}",
            failed=params["failed"],
            blocked=params["blocked"],
        ),
    ]
    if params.get("withdrawn"):
        lines.append(_("Not sent because it was replaced, cancelled or expired first: {n}", n=params["withdrawn"]))
    if params.get("unconfirmed"):
        lines.append(_("Unconfirmed (the answer was lost): {n}", n=params["unconfirmed"]))
    lines.append(_("Time: {minutes} min {seconds} s", minutes=minutes, seconds=seconds))
    return marked(params["mode"], "\n".join(lines), _)


@RENDERERS.renderer(ALERT_REPORT)
def _render_report(params: Mapping[str, Any], _: Translator) -> Rendered:
    buttons: tuple[tuple[Button, ...], ...] = ()
    if params.get("cancel"):
        buttons = ((Button(_("🛑 Cancel this alert"), f"{CANCEL_NOW}{params['alert_id']}"),),)
    return Rendered(report_text(params, _), buttons=buttons)


def progress_rendered(
    alert: Alert, state: Progress, rate: float | None, _: Translator, *, finished: bool, in_force_now: bool
) -> Rendered:
    """The approver's progress message, edited in place while the alert is delivered."""
    lines = [_("📤 Delivered {code}", code=alert.code) if finished else _("📤 Delivering {code}", code=alert.code)]
    lines.append(
        _(
            "Sent {sent} of {total} · failed {failed} · left {left}",
            sent=state.sent,
            total=state.total,
            failed=state.failed + state.blocked,
            left=state.left,
        )
    )
    if not finished and rate:
        eta = int(state.left / rate) if rate > 0 else 0
        lines.append(
            _(
                "{rate} per second · about {minutes} min {seconds} s to finish",
                rate=f"{rate:.1f}",
                minutes=eta // 60,
                seconds=eta % 60,
            )
        )
    if state.withdrawn:
        lines.append(_("Withdrawn before sending: {n}", n=state.withdrawn))
    buttons: tuple[tuple[Button, ...], ...] = ()
    if in_force_now:
        buttons = ((Button(_("🛑 Cancel this alert"), f"{CANCEL_NOW}{alert.id}"),),)
    return Rendered(marked(alert.mode.value, "\n".join(lines), _), buttons=buttons)
