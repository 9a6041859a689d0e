"""Who follows the province's alerts, and for which places (storage/models/alerts.py).

A citizen follows the whole province from their consent on, and can narrow it
to chosen communes (offered from the places of their own reports), stop
following with one tap, and come back. Officials may also opt in to exercise
and test alerts ("test subscribers"). A person who blocked the bot is
unsubscribed by the delivery (`unsubscribe_blocked`), and comes back only by
following again.

Who receives an alert (`recipients`): for a real alert, everyone following the
whole province plus everyone following one of its communes (a province-wide
alert reaches every follower); for an exercise or a test, the test
subscribers only, wherever they are. People who blocked the bot never.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, delete, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Agency, AlertFollowArea, AlertFollower, Report, User
from storage.models.province import AgencyKind

UNSUBSCRIBED = "unsubscribed"
BLOCKED = "blocked"


@dataclass(frozen=True)
class Following:
    """One person's alert settings as the settings screen shows them."""

    whole_province: bool
    communes: tuple[Agency, ...]
    tester: bool
    left_reason: str | None

    @property
    def follows_anything(self) -> bool:
        return self.whole_province or bool(self.communes)


def _insert(session: AsyncSession):
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def follow_by_default(session: AsyncSession, user_id: int, at: datetime) -> None:
    """Consent given: follow the whole province, unless the person has settings already."""
    statement = _insert(session)(AlertFollower).values(
        user_id=user_id, whole_province=True, tester=False, created_at=at, updated_at=at
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=[AlertFollower.user_id]))


async def _row(session: AsyncSession, user_id: int, at: datetime) -> AlertFollower:
    row = await session.get(AlertFollower, user_id)
    if row is None:
        # Settings opened before any default was written (e.g. an official): start from nothing followed.
        row = AlertFollower(user_id=user_id, whole_province=False, tester=False, created_at=at, updated_at=at)
        session.add(row)
        await session.flush()
    return row


async def following(session: AsyncSession, user_id: int) -> Following:
    row = await session.get(AlertFollower, user_id)
    communes = tuple(
        (
            await session.scalars(
                select(Agency)
                .join(AlertFollowArea, AlertFollowArea.agency_id == Agency.id)
                .where(AlertFollowArea.user_id == user_id)
                .order_by(Agency.name_vi)
            )
        ).all()
    )
    if row is None:
        return Following(False, communes, False, None)
    return Following(row.whole_province, communes, row.tester, row.left_reason)


async def follow_province(session: AsyncSession, user_id: int, at: datetime, on: bool = True) -> None:
    row = await _row(session, user_id, at)
    row.whole_province = on
    row.updated_at = at
    if on:
        row.left_reason, row.left_at = None, None


async def toggle_commune(session: AsyncSession, user_id: int, agency_id: int, at: datetime) -> bool | None:
    """Follow the commune, or stop following it; the new state, None if it is not an active commune."""
    agency = await session.get(Agency, agency_id)
    if agency is None or agency.kind != AgencyKind.COMMUNE or not agency.active:
        return None
    row = await _row(session, user_id, at)
    row.updated_at = at
    removed = await session.execute(
        delete(AlertFollowArea).where(AlertFollowArea.user_id == user_id, AlertFollowArea.agency_id == agency_id)
    )
    if removed.rowcount:
        return False
    session.add(AlertFollowArea(user_id=user_id, agency_id=agency_id))
    row.left_reason, row.left_at = None, None
    return True


async def set_tester(session: AsyncSession, user_id: int, on: bool, at: datetime) -> None:
    row = await _row(session, user_id, at)
    row.tester = on
    row.updated_at = at


async def unsubscribe(session: AsyncSession, user_id: int, at: datetime, reason: str = UNSUBSCRIBED) -> bool:
    """Stop every alert (test ones too); False if the person followed nothing already."""
    row = await session.get(AlertFollower, user_id)
    removed = await session.execute(delete(AlertFollowArea).where(AlertFollowArea.user_id == user_id))
    if row is None:
        return bool(removed.rowcount)
    changed = row.whole_province or row.tester or bool(removed.rowcount)
    row.whole_province, row.tester = False, False
    row.left_reason, row.left_at, row.updated_at = reason, at, at
    return changed


async def unsubscribe_blocked(session: AsyncSession, at: datetime) -> int:
    """Followers who blocked the bot (the sender marked them on a 403) follow nothing any more."""
    blocked = select(User.id).where(User.blocked_at.is_not(None))
    await session.execute(delete(AlertFollowArea).where(AlertFollowArea.user_id.in_(blocked)))
    result = await session.execute(
        update(AlertFollower)
        .where(AlertFollower.user_id.in_(blocked), AlertFollower.left_at.is_(None))
        .values(whole_province=False, tester=False, left_reason=BLOCKED, left_at=at, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def offered_communes(session: AsyncSession, user_id: int) -> list[Agency]:
    """Communes to offer: those followed, then those where the person's reports took place."""
    followed = select(AlertFollowArea.agency_id).where(AlertFollowArea.user_id == user_id)
    reported = select(Report.commune_id).where(Report.citizen_id == user_id, Report.commune_id.is_not(None))
    return list(
        (
            await session.scalars(
                select(Agency)
                .where(
                    Agency.kind == AgencyKind.COMMUNE,
                    Agency.active.is_(True),
                    or_(Agency.id.in_(followed), Agency.id.in_(reported)),
                )
                .order_by(Agency.name_vi)
            )
        ).all()
    )


async def communes(session: AsyncSession) -> list[Agency]:
    """Every active commune, for choosing one that is not offered."""
    return list(
        (
            await session.scalars(
                select(Agency)
                .where(Agency.kind == AgencyKind.COMMUNE, Agency.active.is_(True))
                .order_by(Agency.name_vi)
            )
        ).all()
    )


# --- who receives an alert -------------------------------------------------------------------


def _audience(*, test: bool, area_ids: Sequence[int] | None) -> ColumnElement[bool]:
    if test:
        return AlertFollower.tester.is_(True)
    follows_area = exists().where(AlertFollowArea.user_id == AlertFollower.user_id)
    if area_ids is not None:
        follows_area = follows_area.where(AlertFollowArea.agency_id.in_(list(area_ids)))
    return or_(AlertFollower.whole_province.is_(True), follows_area)


def recipients(*, test: bool, area_ids: Sequence[int] | None) -> Select[tuple[int, str, str]]:
    """(user id, chat id, language) of everyone an alert goes to.

    `area_ids` None is a province-wide alert. Blocked people are left out.
    """
    return (
        select(User.id, User.chat_id, User.language)
        .join(AlertFollower, AlertFollower.user_id == User.id)
        .where(User.blocked_at.is_(None), _audience(test=test, area_ids=area_ids))
    )
