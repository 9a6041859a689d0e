"""A small world for workflow tests at the service level: the demo province's XA-01 and XA-02,
two citizens, and an actor of every kind (officials of each role, suspended and revoked ones,
the system, nobody); `new_report` puts a report of XA-01 in any state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.sandbox import province_file
from bot.domain.province import import_province
from bot.domain.workflow import Actor, Rating, State
from storage.models import Agency, Official, OfficialRole, Report, Topic, User
from storage.models.officials import OfficialStatus, Role

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


@dataclass
class World:
    citizen: User
    other_citizen: User
    agency: Agency
    other_agency: Agency
    actors: dict[str, Actor]
    handler: Official
    colleague: Official


async def make_official(
    session: AsyncSession, name: str, agency: Agency, roles: list[Role], status: OfficialStatus = OfficialStatus.ACTIVE
) -> tuple[Official, Actor]:
    user = User(platform="telegram", external_id=name, chat_id=name, language="vi")
    session.add(user)
    await session.flush()
    official = Official(user_id=user.id, agency_id=agency.id, full_name=name, status=status)
    session.add(official)
    await session.flush()
    for role in roles:
        session.add(OfficialRole(official_id=official.id, role=role))
    await session.flush()
    return official, Actor.official(official, frozenset(roles))


async def build_world(session: AsyncSession) -> World:
    await import_province(session, province_file())
    agency = await session.scalar(select(Agency).where(Agency.code == "XA-01"))
    other = await session.scalar(select(Agency).where(Agency.code == "XA-02"))
    assert agency is not None and other is not None
    citizen = User(platform="telegram", external_id="c1", chat_id="c1", language="vi")
    other_citizen = User(platform="telegram", external_id="c2", chat_id="c2", language="vi")
    session.add_all([citizen, other_citizen])
    await session.flush()
    actors: dict[str, Actor] = {
        "citizen": Actor.citizen(citizen.id),
        "other citizen": Actor.citizen(other_citizen.id),
        "system": Actor.system(),
        "nobody": Actor(None),
    }
    _, actors["receiving officer"] = await make_official(session, "recv", agency, [Role.RECEIVING_OFFICER])
    handler, actors["handling officer"] = await make_official(session, "hand", agency, [Role.HANDLING_OFFICER])
    colleague, actors["another handling officer"] = await make_official(session, "col", agency, [Role.HANDLING_OFFICER])
    _, actors["head"] = await make_official(session, "head", agency, [Role.AGENCY_HEAD])
    _, actors["agency admin"] = await make_official(session, "adm", agency, [Role.AGENCY_ADMIN])
    _, actors["supervisor"] = await make_official(session, "sup", agency, [Role.SUPERVISOR])
    _, actors["other agency's officer"] = await make_official(
        session, "other", other, [Role.RECEIVING_OFFICER, Role.HANDLING_OFFICER, Role.AGENCY_HEAD]
    )
    suspended, actors["suspended officer"] = await make_official(
        session, "susp", agency, [Role.RECEIVING_OFFICER, Role.AGENCY_HEAD], OfficialStatus.SUSPENDED
    )
    # Revocation normally deletes the roles too; kept here, the status alone must refuse them.
    _, actors["revoked officer"] = await make_official(
        session,
        "revk",
        agency,
        [Role.RECEIVING_OFFICER, Role.HANDLING_OFFICER, Role.AGENCY_HEAD],
        OfficialStatus.REVOKED,
    )
    # Province-wide roles and the alert author, held in the report's own agency so
    # that only the role can refuse them: none of them works reports.
    _, actors["focal unit"] = await make_official(session, "focal", agency, [Role.FOCAL_UNIT])
    _, actors["platform admin"] = await make_official(session, "padm", agency, [Role.PLATFORM_ADMIN])
    _, actors["alert author"] = await make_official(session, "auth", agency, [Role.ALERT_AUTHOR])
    return World(citizen, other_citizen, agency, other, actors, handler, colleague)


async def new_report(session: AsyncSession, world: World, state: State) -> Report:
    topic = await session.scalar(select(Topic).limit(1))
    assert topic is not None
    report = Report(
        code=f"PA-2026-{await session.scalar(select(func.count()).select_from(Report)) + 1:06d}",
        citizen_id=world.citizen.id,
        topic_id=topic.id,
        description="Rác thải ven mương",
        agency_id=world.agency.id,
        route_kind="polygon",
        state=state,
        version=1,
        submitted_at=NOW - timedelta(days=1),
        assignee_id=world.handler.id
        if state in (State.ASSIGNED, State.PENDING_APPROVAL, State.RESOLVED, State.CLARIFYING, State.CLOSED)
        else None,
        resolved_at=NOW - timedelta(hours=2) if state in (State.RESOLVED, State.CLARIFYING, State.CLOSED) else None,
        rating=Rating.UNSATISFIED if state == State.CLOSED else None,
    )
    session.add(report)
    await session.flush()
    return report
