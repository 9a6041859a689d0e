"""Alerts in the domain layer, on both backends: who gets what, updates and cancellations, progress, CAP.

The end-to-end flow through the emulator is in tests/test_alerts_flow.py;
here the rules are checked directly and quickly.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from capvalidator import Validator
from lxml import etree
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import alerts, cap, subscriptions
from bot.alerts import ALERT_MESSAGE, Problem
from bot.i18n import translator
from bot.province import import_province
from bot.rendering import RENDERERS
from bot.sandbox import province_file
from storage.models import (
    Agency,
    Alert,
    AlertFollower,
    Official,
    OfficialRole,
    OutboxMessage,
    User,
)
from storage.models.alerts import (
    AlertMode,
    AlertStatus,
    Category,
    MessageType,
    Severity,
    Urgency,
)
from storage.models.officials import Role
from storage.models.outbox import OutboxStatus, Priority

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
ZONE = "Asia/Ho_Chi_Minh"
Sessions = async_sessionmaker[AsyncSession]


@dataclass
class World:
    author: Official
    approver: Official
    xa01: Agency
    xa02: Agency
    # name -> user id
    people: dict[str, int]


async def _person(session: AsyncSession, name: str, language: str = "vi") -> User:
    user = User(platform="telegram", external_id=name, chat_id=f"9{len(name)}{abs(hash(name)) % 10**6}",
                language=language, consent_at=NOW)
    session.add(user)
    await session.flush()
    return user


async def _official(session: AsyncSession, name: str, agency: Agency, role: Role) -> Official:
    user = await _person(session, name)
    official = Official(user_id=user.id, agency_id=agency.id, full_name=name)
    session.add(official)
    await session.flush()
    session.add(OfficialRole(official_id=official.id, role=role))
    await session.flush()
    return official


async def _world(sessions: Sessions) -> World:
    async with sessions.begin() as session:
        await import_province(session, province_file())
        agencies = {a.code: a for a in (await session.scalars(select(Agency))).all()}
        author = await _official(session, "Tác giả", agencies["SO-NNMT"], Role.ALERT_AUTHOR)
        approver = await _official(session, "Người duyệt", agencies["SO-KHCN"], Role.FOCAL_UNIT)
        people: dict[str, int] = {}
        # Follows the province (the default after consent).
        for name, language in (("province-vi", "vi"), ("province-en", "en")):
            user = await _person(session, name, language)
            await subscriptions.follow_by_default(session, user.id, NOW)
            people[name] = user.id
        # Follows XA-01 only; XA-02 only; nothing; blocked; a tester who follows nothing else.
        for name in ("xa01-only", "xa02-only", "nobody", "blocked", "tester"):
            user = await _person(session, name)
            people[name] = user.id
        await subscriptions.follow_by_default(session, people["xa01-only"], NOW)
        await subscriptions.follow_province(session, people["xa01-only"], NOW, on=False)
        assert await subscriptions.toggle_commune(session, people["xa01-only"], agencies["XA-01"].id, NOW)
        await subscriptions.follow_province(session, people["xa02-only"], NOW, on=False)
        assert await subscriptions.toggle_commune(session, people["xa02-only"], agencies["XA-02"].id, NOW)
        await subscriptions.follow_by_default(session, people["nobody"], NOW)
        assert await subscriptions.unsubscribe(session, people["nobody"], NOW)
        await subscriptions.follow_by_default(session, people["blocked"], NOW)
        await session.execute(update(User).where(User.id == people["blocked"]).values(blocked_at=NOW))
        await subscriptions.set_tester(session, people["tester"], True, NOW)
        return World(author, approver, agencies["XA-01"], agencies["XA-02"], people)


async def _draft(sessions: Sessions, world: World, mode: AlertMode = AlertMode.ACTUAL,
                 communes: tuple[Agency, ...] = ()) -> int:
    async with sessions.begin() as session:
        alert = await alerts.new_draft(session, world.author, mode, NOW)
        assert alerts.set_choice(alert, "category", Category.MET, NOW) is None
        assert alerts.set_choice(alert, "severity", Severity.SEVERE, NOW) is None
        assert alerts.set_choice(alert, "urgency", Urgency.IMMEDIATE, NOW) is None
        assert alerts.set_text(alert, "headline_vi", "Lũ quét trên suối Nậm Cắt", NOW) is None
        assert alerts.set_text(alert, "description_vi", "Mưa lớn gây lũ quét.\n\n\n  Nước dâng nhanh.  ", NOW) is None
        assert alerts.set_text(alert, "instruction_vi", "Không qua ngầm tràn.", NOW) is None
        assert alerts.set_text(alert, "headline_en", "Flash flood on the Nam Cat stream", NOW) is None
        for commune in communes:
            assert await alerts.toggle_area(session, alert, commune.id, NOW) is True
        assert await alerts.submit(session, alert, world.author, NOW) == 1
        return alert.id


async def _approve(sessions: Sessions, alert_id: int, approver: Official, at: datetime = NOW
                   ) -> alerts.Approved | Problem:
    async with sessions.begin() as session:
        alert = await session.get(Alert, alert_id)
        assert alert is not None
        return await alerts.approve(session, alert, approver, alert.version, at, zone_name=ZONE)


async def _rows(sessions: Sessions, alert_id: int) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"alert:{alert_id}:%"))
            .order_by(OutboxMessage.id))).all())


def _recipients(rows: list[OutboxMessage]) -> set[int]:
    return {r.recipient_user_id for r in rows if r.recipient_user_id is not None}


async def test_drafting_rules(sessions: Sessions) -> None:
    world = await _world(sessions)
    async with sessions.begin() as session:
        alert = await alerts.new_draft(session, world.author, AlertMode.ACTUAL, NOW)
        assert alert.code == "CB-2026-000001"
        assert await alerts.missing(session, alert) == ["headline_vi", "description_vi"]
        assert await alerts.submit(session, alert, world.author, NOW) is Problem.INCOMPLETE
        assert alerts.set_text(alert, "headline_vi", "x" * 161, NOW) is Problem.TOO_LONG
        assert alerts.set_text(alert, "headline_vi", "  Mất   điện\n khu vực trung tâm ", NOW) is None
        assert alert.headline_vi == "Mất điện khu vực trung tâm"
        assert alerts.set_text(alert, "description_vi", "   ", NOW) is Problem.EMPTY
        assert alerts.set_choice(alert, "severity", "Catastrophic", NOW) is Problem.NOT_FOUND
        assert alerts.set_time(alert, "publish_at", NOW - timedelta(minutes=1), NOW) is Problem.BAD_TIME
        # Choosing a commune makes it a commune alert; removing the last one makes it province-wide again.
        assert await alerts.toggle_area(session, alert, world.xa01.id, NOW) is True
        assert not alert.whole_province
        assert await alerts.toggle_area(session, alert, world.xa01.id, NOW) is False
        assert alert.whole_province
        assert await alerts.toggle_area(session, alert, world.author.agency_id, NOW) is None
        assert alerts.set_text(alert, "description_vi", "Cắt điện để sửa chữa đường dây.", NOW) is None
        alert.expires_at = NOW + timedelta(hours=1)
        alert.onset_at = NOW + timedelta(hours=2)
        assert await alerts.submit(session, alert, world.author, NOW) is Problem.BAD_TIME
        alert.expires_at = None
        assert await alerts.submit(session, alert, world.author, NOW) == 1
        # The default lifetime counts from when it takes effect.
        assert alert.expires_at == NOW + timedelta(hours=2) + alerts.DEFAULT_LIFETIME
        assert alerts.editable(alert, world.author) is Problem.WRONG_STATE


async def test_self_approval_is_refused_and_changes_nothing(sessions: Sessions) -> None:
    world = await _world(sessions)
    async with sessions.begin() as session:
        # The author also holds the focal unit role: still not their own approver.
        session.add(OfficialRole(official_id=world.author.id, role=Role.FOCAL_UNIT))
    alert_id = await _draft(sessions, world)
    assert await _approve(sessions, alert_id, world.author) is Problem.SELF_APPROVAL
    async with sessions.begin() as session:
        alert = await session.get(Alert, alert_id)
        assert alert is not None and alert.status is AlertStatus.SUBMITTED
    assert await _rows(sessions, alert_id) == []


async def test_a_stale_decision_is_refused(sessions: Sessions) -> None:
    world = await _world(sessions)
    alert_id = await _draft(sessions, world)
    async with sessions.begin() as session:
        alert = await session.get(Alert, alert_id)
        assert alert is not None
        old = alert.version
        assert await alerts.reject(session, alert, world.approver, old, "Ghi rõ tên xã.", NOW, ZONE) is None
        assert alert.status is AlertStatus.REJECTED
        assert await alerts.approve(session, alert, world.approver, old, NOW, zone_name=ZONE) is Problem.WRONG_STATE
        # The author edits and submits again; a decision on the old version is stale.
        assert alerts.set_text(alert, "headline_vi", "Lũ quét trên suối Nậm Cắt, xã Hòa Bình Thượng", NOW) is None
        assert await alerts.submit(session, alert, world.author, NOW) == 1
        assert await alerts.approve(session, alert, world.approver, old, NOW, zone_name=ZONE) is Problem.STALE


async def test_publication_reaches_exactly_the_followers_of_its_areas(sessions: Sessions) -> None:
    world = await _world(sessions)
    everywhere = await _draft(sessions, world)
    approved = await _approve(sessions, everywhere, world.approver)
    assert isinstance(approved, alerts.Approved) and approved.recipients == 4
    rows = await _rows(sessions, everywhere)
    people = world.people
    # A province-wide alert reaches the followers of any commune too; not the blocked, not who left.
    assert _recipients(rows) == {people["province-vi"], people["province-en"], people["xa01-only"],
                                 people["xa02-only"]}
    assert all(r.priority == Priority.URGENT and r.redeliver_unconfirmed for r in rows)
    assert {r.language for r in rows if r.recipient_user_id == people["province-en"]} == {"en"}

    in_xa01 = await _draft(sessions, world, communes=(world.xa01,))
    await _approve(sessions, in_xa01, world.approver)
    assert _recipients(await _rows(sessions, in_xa01)) == {
        people["province-vi"], people["province-en"], people["xa01-only"]}

    drill = await _draft(sessions, world, mode=AlertMode.EXERCISE)
    await _approve(sessions, drill, world.approver)
    rows = await _rows(sessions, drill)
    assert _recipients(rows) == {people["tester"]}
    rendered = RENDERERS.render(ALERT_MESSAGE, rows[0].params, translator("vi"))
    banner = translator("vi")(alerts.MODE_BANNERS[AlertMode.EXERCISE])
    assert rendered.text.startswith(banner) and rendered.text.endswith(banner)


async def test_update_and_cancel_reach_the_same_people_and_withdraw_what_is_left(sessions: Sessions) -> None:
    world = await _world(sessions)
    original_id = await _draft(sessions, world, communes=(world.xa01,))
    await _approve(sessions, original_id, world.approver)
    original_rows = await _rows(sessions, original_id)
    # One row went out, one was tried and came back (may have arrived), the rest wait.
    async with sessions.begin() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == original_rows[0].id)
                              .values(status=OutboxStatus.SENT))
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == original_rows[1].id)
                              .values(last_error="the sender stopped while sending; sending again"))
        # Someone moves their following to XA-02 after the original went out.
        await subscriptions.toggle_commune(session, world.people["xa01-only"], world.xa01.id, NOW)
        await subscriptions.toggle_commune(session, world.people["xa01-only"], world.xa02.id, NOW)
        original = await session.get(Alert, original_id)
        assert original is not None
        change = await alerts.draft_change(session, world.author, original, MessageType.UPDATE, NOW)
        assert isinstance(change, Alert)
        assert await alerts.toggle_area(session, change, world.xa02.id, NOW) is True
        assert alerts.set_text(change, "description_vi", "Nước đã dâng tới xã bên cạnh.", NOW) is None
        assert await alerts.submit(session, change, world.author, NOW) == 1
        update_id = change.id
    later = NOW + timedelta(minutes=5)
    assert isinstance(await _approve(sessions, update_id, world.approver, later), alerts.Approved)
    # Everyone the original was for, and the followers of the new commune.
    assert _recipients(await _rows(sessions, update_id)) == {
        world.people["province-vi"], world.people["province-en"], world.people["xa01-only"],
        world.people["xa02-only"]}
    async with sessions() as session:
        original = await session.get(Alert, original_id)
        assert original is not None and original.ended_by_id == update_id
        assert not alerts.is_in_force(original, later)
        state = await alerts.progress(session, original)
    assert (state.sent, state.withdrawn, state.left) == (1, 2, 0)

    rows = await _rows(sessions, update_id)
    async with sessions.begin() as session:
        current = await session.get(Alert, update_id)
        assert current is not None
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == rows[0].id)
                              .values(status=OutboxStatus.SENT))
        cancel = await alerts.cancel_now(session, current, world.approver, later, zone_name=ZONE)
        assert isinstance(cancel, Alert) and cancel.msg_type is MessageType.CANCEL
        assert await alerts.cancel_now(session, current, world.approver, later, zone_name=ZONE) is Problem.NOT_IN_FORCE
        assert await alerts.in_force(session, later, with_drills=True) == []
    # The cancellation goes only to whoever the update may have reached.
    assert _recipients(await _rows(sessions, cancel.id)) == {rows[0].recipient_user_id}
    text = RENDERERS.render(ALERT_MESSAGE, (await _rows(sessions, cancel.id))[0].params, translator("vi")).text
    assert current.code in text


async def test_progress_expiry_and_blocked_followers(sessions: Sessions) -> None:
    world = await _world(sessions)
    alert_id = await _draft(sessions, world)
    await _approve(sessions, alert_id, world.approver)
    rows = await _rows(sessions, alert_id)
    async with sessions.begin() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == rows[0].id)
                              .values(status=OutboxStatus.SENT))
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == rows[1].id)
                              .values(status=OutboxStatus.SKIPPED, last_error="Forbidden: bot was blocked"))
        await session.execute(update(User).where(User.id == rows[1].recipient_user_id).values(blocked_at=NOW))
    later = NOW + alerts.DEFAULT_LIFETIME + timedelta(seconds=1)
    result = await alerts.tick(sessions, NOW, zone_name=ZONE)
    [(alert, state)] = result.deliveries
    assert (state.total, state.sent, state.blocked, state.left) == (4, 1, 1, 2)
    assert alert.delivered_at is None
    async with sessions() as session:
        left = await session.get(AlertFollower, rows[1].recipient_user_id)
        assert left is not None and left.left_reason == subscriptions.BLOCKED and not left.whole_province
        assert [a.id for a in await alerts.in_force(session, NOW, with_drills=False)] == [alert_id]
        assert await alerts.in_force(session, later, with_drills=False) == []
    # Expired before the last row went: it is withdrawn, and delivery closes with a report.
    result = await alerts.tick(sessions, later, zone_name=ZONE)
    [(alert, state)] = result.deliveries
    assert alert.delivered_at == later and state.withdrawn == 2 and state.left == 0
    assert alert.delivery["sent"] == 1
    async with sessions() as session:
        reports = (await session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == alerts.ALERT_REPORT))).all()
    assert len(reports) == 2  # the approver and the author
    assert (await alerts.tick(sessions, later, zone_name=ZONE)).deliveries == ()


async def test_scheduled_publication(sessions: Sessions) -> None:
    world = await _world(sessions)
    async with sessions.begin() as session:
        alert = await alerts.new_draft(session, world.author, AlertMode.ACTUAL, NOW)
        alerts.set_choice(alert, "kind", "announcement", NOW)
        alerts.set_text(alert, "headline_vi", "Lịch cắt điện ngày mai", NOW)
        alerts.set_text(alert, "description_vi", "Cắt điện từ 7 giờ đến 11 giờ.", NOW)
        assert alerts.set_time(alert, "publish_at", NOW + timedelta(hours=1), NOW) is None
        await alerts.submit(session, alert, world.author, NOW)
        alert_id = alert.id
    approved = await _approve(sessions, alert_id, world.approver)
    assert isinstance(approved, alerts.Approved) and approved.recipients is None
    assert (await alerts.tick(sessions, NOW + timedelta(minutes=59), zone_name=ZONE)).published == ()
    assert await _rows(sessions, alert_id) == []
    ticked = await alerts.tick(sessions, NOW + timedelta(hours=1), zone_name=ZONE)
    assert [a.id for a in ticked.published] == [alert_id]
    rows = await _rows(sessions, alert_id)
    assert len(rows) == 4 and {r.priority for r in rows} == {Priority.ANNOUNCEMENT}
    # Published once only.
    assert (await alerts.tick(sessions, NOW + timedelta(hours=1), zone_name=ZONE)).published == ()


async def test_cap_document_is_valid_cap_1_2(sessions: Sessions) -> None:
    world = await _world(sessions)
    original_id = await _draft(sessions, world, communes=(world.xa01, world.xa02))
    await _approve(sessions, original_id, world.approver)
    async with sessions.begin() as session:
        original = await session.get(Alert, original_id)
        assert original is not None
        cancel = await alerts.cancel_now(session, original, world.approver, NOW + timedelta(minutes=3),
                                         zone_name=ZONE)
        assert isinstance(cancel, Alert)
        documents = [await cap.document(session, a, sender="congdan@demo", zone=ZoneInfo(ZONE), at=NOW)
                     for a in (original, cancel)]
    schema = Validator(documents[0]).get_schema_parser()
    namespaces = {"cap": cap.NAMESPACE}
    for document in documents:
        assert Validator(document).schema()[0], document.decode()
        etree.fromstring(document, schema)
    first, second = (etree.fromstring(d) for d in documents)
    assert first.findtext("cap:status", namespaces=namespaces) == "Actual"
    assert first.findtext("cap:sent", namespaces=namespaces) == "2026-11-25T10:00:00+07:00"
    assert [i.findtext("cap:language", namespaces=namespaces) for i in first.findall("cap:info", namespaces)] == [
        "vi-VN", "en-US"]
    polygons = first.findall("cap:info/cap:area/cap:polygon", namespaces)
    assert len(polygons) >= 2 and all(p.text.split()[0] == p.text.split()[-1] for p in polygons)
    assert second.findtext("cap:msgType", namespaces=namespaces) == "Cancel"
    references = second.findtext("cap:references", namespaces=namespaces)
    assert references == f"congdan@demo,DEMO-{original.code},2026-11-25T10:00:00+07:00"


async def test_a_draft_cap_document_says_draft(sessions: Sessions) -> None:
    world = await _world(sessions)
    async with sessions.begin() as session:
        alert = await alerts.new_draft(session, world.author, AlertMode.TEST, NOW)
        alerts.set_text(alert, "headline_vi", "Thử nghiệm hệ thống", NOW)
        document = await cap.document(session, alert, sender="congdan@demo", zone=ZoneInfo(ZONE), at=NOW)
        count = await session.scalar(select(func.count()).select_from(Alert))
    assert count == 1
    root = etree.fromstring(document)
    assert root.findtext("{urn:oasis:names:tc:emergency:cap:1.2}status") == "Draft"
    assert b"TEST" in document and Validator(document).schema()[0]


@pytest.mark.parametrize("mode", list(AlertMode))
def test_every_mode_has_a_label(mode: AlertMode) -> None:
    assert mode in alerts.MODE_LABELS
    assert (mode is AlertMode.ACTUAL) == (mode not in alerts.MODE_BANNERS)
