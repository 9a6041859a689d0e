"""Citizens' reports: submission, the citizen's own list, details, withdrawal."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import cards, reminders, workflow
from bot.domain.deadlines import receive_due
from bot.domain.desk import Desk
from bot.domain.drafts import DraftContent, missing
from bot.domain.routing import Route, RouteKind, Router
from storage.models import (
    Agency,
    Counter,
    Report,
    ReportEvent,
    ReportPhoto,
    Topic,
    User,
)

CODE_PREFIX = "PA"


class SubmitProblem(enum.StrEnum):
    INCOMPLETE = "incomplete"
    OUTSIDE = "outside"
    UNKNOWN_TOPIC = "unknown_topic"
    NO_AGENCY = "no_agency"


@dataclass(frozen=True)
class Submitted:
    report: Report
    agency: Agency
    route: Route
    reused_photos: int


@dataclass(frozen=True)
class SubmitRefused:
    problem: SubmitProblem


async def next_number(session: AsyncSession, name: str) -> int:
    """Increment a named counter atomically, on SQLite and PostgreSQL alike."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Counter).values(name=name, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=[Counter.name], set_={"value": Counter.value + 1}).returning(
        Counter.value
    )
    return int((await session.execute(stmt)).scalar_one())


def tracking_code(year: int, number: int) -> str:
    return f"{CODE_PREFIX}-{year}-{number:06d}"


async def submit(
    session: AsyncSession,
    citizen: User,
    content: DraftContent,
    *,
    router: Router,
    desk: Desk,
    now: datetime,
    year: int,
) -> Submitted | SubmitRefused:
    """Make the report, its first timeline event and its card in the agency's group, or say why not."""
    if missing(content) is not None:
        return SubmitRefused(SubmitProblem.INCOMPLETE)
    topic = await session.scalar(select(Topic).where(Topic.code == content.topic, Topic.active.is_(True)))
    if topic is None:
        return SubmitRefused(SubmitProblem.UNKNOWN_TOPIC)
    try:
        route = router.route(
            topic_code=topic.code,
            lat=content.latitude,
            lon=content.longitude,
            address=content.address if content.latitude is None else None,
        )
    except ValueError:
        return SubmitRefused(SubmitProblem.UNKNOWN_TOPIC)
    if route.kind == RouteKind.OUTSIDE:
        return SubmitRefused(SubmitProblem.OUTSIDE)
    codes = {c for c in (route.agency_code, route.commune_code) if c}
    agencies = {a.code: a for a in await session.scalars(select(Agency).where(Agency.code.in_(codes)))}
    agency = agencies.get(route.agency_code or "")
    if agency is None:
        return SubmitRefused(SubmitProblem.NO_AGENCY)
    commune = agencies.get(route.commune_code or "")

    number = await next_number(session, f"report-{year}")
    report = Report(
        code=tracking_code(year, number),
        citizen_id=citizen.id,
        topic_id=topic.id,
        description=content.description or "",
        latitude=content.latitude,
        longitude=content.longitude,
        address=content.address,
        place_title=content.place_title,
        commune_id=commune.id if commune else None,
        agency_id=agency.id,
        route_kind=route.kind,
        identity_public=bool(content.identity_public),
        # Shown to the screeners; the deadlines stay those of any report until they mark it urgent.
        emergency_requested=content.emergency,
        state=workflow.State.SUBMITTED,
        version=1,
        submitted_at=now,
        receive_due_at=receive_due(desk.calendar_for(agency.id), now, desk.limits),
    )
    report.due_at = report.receive_due_at
    await reminders.schedule(session, desk, report, workflow.Action.SUBMIT, None, now)
    session.add(report)
    await session.flush()
    reused = await _reused_photos(session, citizen.id, [p.original_sha256 for p in content.photos])
    for position, photo in enumerate(content.photos):
        session.add(
            ReportPhoto(
                report_id=report.id,
                position=position,
                original_sha256=photo.original_sha256,
                original_key=photo.original_key,
                display_key=photo.display_key,
                file_platform=photo.file_platform,
                file_id=photo.file_id,
                source_format=photo.source_format,
                width=photo.width,
                height=photo.height,
                captured_at=photo.captured_at,
                gps_latitude=photo.gps[0] if photo.gps else None,
                gps_longitude=photo.gps[1] if photo.gps else None,
                camera=photo.camera,
                reused_from_report_id=reused.get(photo.original_sha256),
            )
        )
    workflow.record_submission(session, report, workflow.Actor.citizen(citizen.id), now)
    await session.flush()
    await cards.refresh(session, desk, report, now)
    return Submitted(report, agency, route, reused_photos=sum(1 for p in content.photos if p.original_sha256 in reused))


async def _reused_photos(session: AsyncSession, citizen_id: int, hashes: list[str]) -> dict[str, int]:
    """Photos already seen in another citizen's report (003 Art. 8.2: photos must be the sender's own)."""
    if not hashes:
        return {}
    rows = await session.execute(
        select(ReportPhoto.original_sha256, func.min(ReportPhoto.report_id))
        .join(Report, Report.id == ReportPhoto.report_id)
        .where(ReportPhoto.original_sha256.in_(hashes), Report.citizen_id != citizen_id)
        .group_by(ReportPhoto.original_sha256)
    )
    return {sha: report_id for sha, report_id in rows.all()}


@dataclass(frozen=True)
class ReportPage:
    reports: list[Report]
    page: int
    pages: int
    total: int


async def citizen_reports(session: AsyncSession, citizen_id: int, page: int, per_page: int) -> ReportPage:
    total = int(
        await session.scalar(select(func.count()).select_from(Report).where(Report.citizen_id == citizen_id)) or 0
    )
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 0), pages - 1)
    rows = await session.scalars(
        select(Report)
        .where(Report.citizen_id == citizen_id)
        .order_by(Report.id.desc())
        .offset(page * per_page)
        .limit(per_page)
    )
    return ReportPage(list(rows.all()), page, pages, total)


@dataclass(frozen=True)
class ReportDetail:
    report: Report
    topic: Topic
    agency: Agency
    photos: list[ReportPhoto]
    events: list[ReportEvent]


async def citizen_report(session: AsyncSession, citizen_id: int, report_id: int) -> ReportDetail | None:
    """A report as its sender sees it: the public part of the timeline only."""
    report = await session.get(Report, report_id)
    if report is None or report.citizen_id != citizen_id:
        return None
    topic = await session.get(Topic, report.topic_id)
    agency = await session.get(Agency, report.agency_id)
    assert topic is not None and agency is not None
    photos = list(
        (
            await session.scalars(
                select(ReportPhoto).where(ReportPhoto.report_id == report.id).order_by(ReportPhoto.position)
            )
        ).all()
    )
    events = await workflow.timeline(session, report.id, public_only=True)
    return ReportDetail(report, topic, agency, photos, events)


async def withdraw(session: AsyncSession, citizen: User, report_id: int, now: datetime) -> workflow.Outcome | None:
    report = await session.get(Report, report_id)
    if report is None or report.citizen_id != citizen.id:
        return None
    return await workflow.fire(session, report, workflow.Action.WITHDRAW, workflow.Actor.citizen(citizen.id), now)


async def topics(session: AsyncSession) -> list[Topic]:
    return list(
        (await session.scalars(select(Topic).where(Topic.active.is_(True)).order_by(Topic.position, Topic.id))).all()
    )


async def topic_by_code(session: AsyncSession, code: str) -> Topic | None:
    """The topic a draft names, offered or not (a draft may outlive a topic's withdrawal)."""
    return await session.scalar(select(Topic).where(Topic.code == code))
