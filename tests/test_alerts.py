"""Alerts in the domain layer, on both backends: who gets what, updates and cancellations, progress, CAP.

The end-to-end flow through the emulator is in tests/test_alerts_flow.py;
here the rules are checked directly and quickly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from capvalidator import Validator
from lxml import etree
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.sandbox import province_file
from bot.config import ConfigError, load_settings
from bot.delivery import outbox
from bot.delivery.rendering import RENDERERS
from bot.domain import alerts, subscriptions
from bot.domain.alerts import ALERT_MESSAGE, Problem
from bot.domain.province import import_province
from bot.i18n import translator
from bot.interop import cap, cap_http
from storage.db import create_engine, session_factory
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
    AlertKind,
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
    user = User(
        platform="telegram",
        external_id=name,
        chat_id=f"9{len(name)}{abs(hash(name)) % 10**6}",
        language=language,
        consent_at=NOW,
    )
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


async def _draft(
    sessions: Sessions,
    world: World,
    mode: AlertMode = AlertMode.ACTUAL,
    communes: tuple[Agency, ...] = (),
    *,
    kind: AlertKind = AlertKind.ALERT,
    publish_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> int:
    async with sessions.begin() as session:
        alert = await alerts.new_draft(session, world.author, mode, NOW)
        assert alerts.set_choice(alert, "kind", kind, NOW) is None
        assert alerts.set_time(alert, "publish_at", publish_at, NOW) is None
        assert alerts.set_time(alert, "expires_at", expires_at, NOW) is None
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


async def _approve(
    sessions: Sessions, alert_id: int, approver: Official, at: datetime = NOW
) -> alerts.Approved | Problem:
    async with sessions.begin() as session:
        alert = await session.get(Alert, alert_id)
        assert alert is not None
        return await alerts.approve(session, alert, approver, alert.version, at, zone_name=ZONE)


async def _rows(sessions: Sessions, alert_id: int) -> list[OutboxMessage]:
    async with sessions() as session:
        return list(
            (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.dedupe_key.like(f"alert:{alert_id}:%"))
                    .order_by(OutboxMessage.id)
                )
            ).all()
        )


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
    assert _recipients(rows) == {people["province-vi"], people["province-en"], people["xa01-only"], people["xa02-only"]}
    assert all(r.priority == Priority.URGENT and r.redeliver_unconfirmed for r in rows)
    assert {r.language for r in rows if r.recipient_user_id == people["province-en"]} == {"en"}

    in_xa01 = await _draft(sessions, world, communes=(world.xa01,))
    await _approve(sessions, in_xa01, world.approver)
    assert _recipients(await _rows(sessions, in_xa01)) == {
        people["province-vi"],
        people["province-en"],
        people["xa01-only"],
    }

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
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == original_rows[0].id).values(status=OutboxStatus.SENT)
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == original_rows[1].id)
            .values(last_error="the sender stopped while sending; sending again")
        )
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
        world.people["province-vi"],
        world.people["province-en"],
        world.people["xa01-only"],
        world.people["xa02-only"],
    }
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
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == rows[0].id).values(status=OutboxStatus.SENT)
        )
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
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == rows[0].id).values(status=OutboxStatus.SENT)
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == rows[1].id)
            .values(status=OutboxStatus.SKIPPED, last_error="Forbidden: bot was blocked")
        )
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
        reports = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == alerts.ALERT_REPORT))).all()
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
        cancel = await alerts.cancel_now(session, original, world.approver, NOW + timedelta(minutes=3), zone_name=ZONE)
        assert isinstance(cancel, Alert)
        documents = [
            await cap.document(session, a, sender="congdan@demo", zone=ZoneInfo(ZONE), at=NOW)
            for a in (original, cancel)
        ]
    schema = Validator(documents[0]).get_schema_parser()
    namespaces = {"cap": cap.NAMESPACE}
    for document in documents:
        assert Validator(document).schema()[0], document.decode()
        etree.fromstring(document, schema)
    first, second = (etree.fromstring(d) for d in documents)
    assert first.findtext("cap:status", namespaces=namespaces) == "Actual"
    assert first.findtext("cap:sent", namespaces=namespaces) == "2026-11-25T10:00:00+07:00"
    assert [i.findtext("cap:language", namespaces=namespaces) for i in first.findall("cap:info", namespaces)] == [
        "vi-VN",
        "en-US",
    ]
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


# --- who goes first, who may look, races, lapses, CAP over HTTP ---------------------------------------------


async def test_the_alert_desk_goes_first_and_announcements_last(sessions: Sessions) -> None:
    """While an announcement and an urgent alert are being broadcast, the sender takes first the
    messages to the people running alerts (a new review, the decisions), then the urgent alert,
    then what one person waits for (a citizen's result, an agency card), the announcement last."""
    world = await _world(sessions)
    announcement = await _draft(sessions, world, kind=AlertKind.ANNOUNCEMENT)
    await _approve(sessions, announcement, world.approver)
    urgent = await _draft(sessions, world)
    await _approve(sessions, urgent, world.approver, NOW + timedelta(minutes=1))
    async with sessions.begin() as session:
        later = NOW + timedelta(minutes=2)
        await outbox.enqueue(
            session, chat_id="citizen", kind="test.result", params={}, priority=Priority.NORMAL, not_before=later
        )
        await outbox.enqueue(
            session, chat_id="agency-group", kind="test.card", params={}, priority=Priority.ROUTINE, not_before=later
        )
        # A correction submitted while both broadcasts are under way.
        correction = await alerts.new_draft(session, world.author, AlertMode.ACTUAL, NOW)
        alerts.set_text(correction, "headline_vi", "Đính chính: lũ quét ở suối Nậm Cắt", NOW)
        alerts.set_text(correction, "description_vi", "Thời gian lũ dự kiến là 15 giờ.", NOW)
        assert await alerts.submit(session, correction, world.author, NOW + timedelta(minutes=3)) == 1

    def label(row: outbox.Claimed) -> str:
        if row.kind in (alerts.ALERT_REVIEW, alerts.ALERT_DECISION):
            return "desk"
        if row.kind == ALERT_MESSAGE:
            return row.params["kind"]
        return row.kind

    order: list[str] = []
    while claimed := await outbox.claim(sessions, worker="test", limit=1, now=NOW + timedelta(hours=1)):
        order += [label(row) for row in claimed]
        for row in claimed:
            assert await outbox.mark_sent(sessions, row, message_id="1", now=NOW)
    assert order == ["desk"] * 5 + ["alert"] * 4 + ["test.result", "test.card"] + ["announcement"] * 4


async def test_drafts_are_seen_by_their_agency_and_the_focal_unit_only(sessions: Sessions) -> None:
    world = await _world(sessions)
    async with sessions.begin() as session:
        colleague = await _official(
            session, "Đồng nghiệp", await session.get(Agency, world.author.agency_id), Role.ALERT_AUTHOR
        )
        stranger = await _official(session, "Người ngoài", world.xa01, Role.ALERT_AUTHOR)
        alert = await alerts.new_draft(session, world.author, AlertMode.ACTUAL, NOW)
        seen = {
            name: await alerts.may_see(session, alert, official)
            for name, official in (
                ("author", world.author),
                ("colleague", colleague),
                ("focal", world.approver),
                ("stranger", stranger),
            )
        }
    assert seen == {"author": True, "colleague": True, "focal": True, "stranger": False}


async def test_two_cancels_at_once_publish_one(sessions: Sessions, database_url: str) -> None:
    """Two approvers press cancel at the same moment: both read the alert in force, one cancellation goes out."""
    world = await _world(sessions)
    alert_id = await _draft(sessions, world)
    await _approve(sessions, alert_id, world.approver)
    async with sessions.begin() as session:
        second_approver = await _official(
            session, "Người duyệt thứ hai", await session.get(Agency, world.approver.agency_id), Role.FOCAL_UNIT
        )
    later = NOW + timedelta(minutes=2)
    # The other press comes through a connection of its own, as from another process.
    other_engine = create_engine(database_url)
    try:
        async with sessions.begin() as first:
            read_first = await first.get(Alert, alert_id)
            assert read_first is not None and alerts.is_in_force(read_first, later)
            async with session_factory(other_engine).begin() as second:
                read_second = await second.get(Alert, alert_id)
                assert read_second is not None
                cancel = await alerts.cancel_now(second, read_second, second_approver, later, zone_name=ZONE)
            assert isinstance(cancel, Alert)
            again = await alerts.cancel_now(first, read_first, world.approver, later, zone_name=ZONE)
            assert again is Problem.NOT_IN_FORCE
            # Reloaded: the refusal can say who cancelled it.
            assert read_first.ended_by_id == cancel.id
    finally:
        await other_engine.dispose()
    async with sessions() as session:
        cancels = (await session.scalars(select(Alert).where(Alert.references_id == alert_id))).all()
    assert [c.id for c in cancels] == [cancel.id]


async def _decisions(sessions: Sessions, alert_id: int) -> dict[int, str]:
    """recipient user id -> the decision message's text (Vietnamese)."""
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == alerts.ALERT_DECISION))).all()
    return {
        r.recipient_user_id: RENDERERS.render(alerts.ALERT_DECISION, r.params, translator("vi")).text
        for r in rows
        if r.params["alert_id"] == alert_id and r.params["decision"] == "lapsed"
    }


async def _submitted_update(sessions: Sessions, world, original: int, edit) -> int:
    """An update of the published alert `original`, changed by `edit` and sent for approval; its id."""
    async with sessions.begin() as session:
        first = await session.get(Alert, original)
        assert first is not None
        change = await alerts.draft_change(session, world.author, first, MessageType.UPDATE, NOW)
        assert isinstance(change, Alert)
        assert edit(change) is None
        assert await alerts.submit(session, change, world.author, NOW) == 1
        return change.id


async def test_a_scheduled_alert_that_lapses_is_reported_to_its_author_and_approver(sessions: Sessions) -> None:
    world = await _world(sessions)
    # Due in an hour, expiring in two; the runner is down until three hours from now.
    lapses = await _draft(sessions, world, publish_at=NOW + timedelta(hours=1), expires_at=NOW + timedelta(hours=2))
    assert (await _approve(sessions, lapses, world.approver)).recipients is None  # type: ignore[union-attr]
    # An update due in an hour, of an alert cancelled before then.
    original = await _draft(sessions, world)
    await _approve(sessions, original, world.approver)
    update_id = await _submitted_update(
        sessions, world, original, lambda change: alerts.set_time(change, "publish_at", NOW + timedelta(hours=1), NOW)
    )
    assert (await _approve(sessions, update_id, world.approver)).recipients is None  # type: ignore[union-attr]
    async with sessions.begin() as session:
        first = await session.get(Alert, original)
        assert isinstance(
            await alerts.cancel_now(session, first, world.approver, NOW + timedelta(minutes=30), zone_name=ZONE), Alert
        )

    ticked = await alerts.tick(sessions, NOW + timedelta(hours=3), zone_name=ZONE)
    assert ticked.published == ()
    async with sessions() as session:
        codes = {}
        for alert_id in (lapses, update_id):
            alert = await session.get(Alert, alert_id)
            assert alert is not None and alert.status is AlertStatus.WITHDRAWN
            codes[alert_id] = alert.code
        author = await session.get(Official, world.author.id)
        approver = await session.get(Official, world.approver.id)
        assert author is not None and approver is not None
        people = {author.user_id, approver.user_id}
    assert await _rows(sessions, lapses) == [] and await _rows(sessions, update_id) == []
    expired = await _decisions(sessions, lapses)
    assert set(expired) == people
    assert all(codes[lapses] in text and "12:00 25/11/2026" in text for text in expired.values())
    ended = await _decisions(sessions, update_id)
    assert set(ended) == people
    async with sessions() as session:
        original_code = (await session.get(Alert, original)).code  # type: ignore[union-attr]
    assert all(codes[update_id] in text and original_code in text for text in ended.values())


ATOM = "{http://www.w3.org/2005/Atom}"


async def test_cap_documents_over_http(sessions: Sessions) -> None:
    """Other systems poll the Atom index and fetch each valid CAP 1.2 document; drills only when asked."""
    world = await _world(sessions)
    original = await _draft(sessions, world, communes=(world.xa01,))
    await _approve(sessions, original, world.approver)
    update_id = await _submitted_update(
        sessions,
        world,
        original,
        lambda change: alerts.set_text(change, "description_vi", "Nước đã rút một phần.", NOW),
    )
    await _approve(sessions, update_id, world.approver, NOW + timedelta(minutes=5))
    drill = await _draft(sessions, world, mode=AlertMode.EXERCISE)
    await _approve(sessions, drill, world.approver, NOW + timedelta(minutes=6))
    waiting = await _draft(sessions, world)
    async with sessions() as session:
        code = {i: (await session.get(Alert, i)).code for i in (original, update_id, drill, waiting)}  # type: ignore

    source = cap_http.Source(sessions, "", ZoneInfo(ZONE), lambda: NOW + timedelta(minutes=10))
    server = await cap_http.start_cap_server(source, host="127.0.0.1", port=0)
    try:
        async with aiohttp.ClientSession() as client:

            async def get(path: str) -> tuple[int, str, bytes]:
                async with client.get(f"{server.url}/cap/{path}") as response:
                    return response.status, response.content_type, await response.read()

            status, kind, body = await get("feed.atom")
            assert (status, kind) == (200, cap_http.ATOM_TYPE)
            feed = etree.fromstring(body)
            links = [e.find(f"{ATOM}link").get("href") for e in feed.iter(f"{ATOM}entry")]
            assert links == [f"DEMO-{code[update_id]}.xml", f"DEMO-{code[original]}.xml"]
            assert feed.find(f"{ATOM}entry/{{{cap.NAMESPACE}}}msgType").text == "Update"
            everything = etree.fromstring((await get("feed.atom?status=all"))[2])
            assert [e.find(f"{ATOM}link").get("href") for e in everything.iter(f"{ATOM}entry")][0] == (
                f"DEMO-{code[drill]}.xml"
            )
            assert (await get("feed.atom?status=bogus"))[0] == 400

            status, kind, document = await get(links[0])
            assert (status, kind) == (200, cap_http.CAP_TYPE)
            valid, errors = Validator(document).schema()
            assert valid, errors
            root = etree.fromstring(document)
            namespaces = {"cap": cap.NAMESPACE}
            assert root.findtext("cap:msgType", namespaces=namespaces) == "Update"
            assert root.findtext("cap:sender", namespaces=namespaces) == "congdan@demo"
            assert root.findtext("cap:references", namespaces=namespaces) == (
                f"congdan@demo,DEMO-{code[original]},2026-11-25T10:00:00+07:00"
            )
            assert Validator((await get(links[1]))[2]).schema()[0]
            assert (await get(f"DEMO-{code[drill]}.xml"))[0] == 200
            # Nothing that was not published.
            assert (await get(f"DEMO-{code[waiting]}.xml"))[0] == 404
            assert (await get("XX-CB-2026-000001.xml"))[0] == 404
    finally:
        await server.stop()


def test_the_cap_sender_is_checked_at_start() -> None:
    with pytest.raises(ConfigError, match="ALERT_CAP_SENDER"):
        load_settings({"ALERT_CAP_SENDER": "Sở KHCN, Cao Bằng"}, require_token=False)
    with pytest.raises(ConfigError, match="ALERT_CAP_SENDER"):
        load_settings({"ALERT_CAP_SENDER": "a&b<c"}, require_token=False)
    settings = load_settings(
        {"ALERT_CAP_SENDER": "canhbao@caobang.gov.vn", "CAP_HTTP_PORT": "8088"}, require_token=False
    )
    assert (settings.alert_cap_sender, settings.cap_http_port, settings.cap_http_host) == (
        "canhbao@caobang.gov.vn",
        8088,
        "127.0.0.1",
    )
