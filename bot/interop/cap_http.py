"""The alerts' CAP 1.2 documents over HTTP, for other systems (001 Art. 10.4; docs/rules.md "Alerts").

Started with the bot when `CAP_HTTP_PORT` is set (bot/platforms/telegram/app.py), on
`CAP_HTTP_HOST` (127.0.0.1 by default: a reverse proxy with TLS in front
publishes it). Read-only, and only what was published: never a draft, a
message waiting for approval or one called off.

    GET /cap/feed.atom              Atom index of the published messages, newest first
    GET /cap/feed.atom?status=all   the same with exercises and tests
    GET /cap/<identifier>.xml       one message's CAP document (application/cap+xml)

The index holds every alert in force and every alert, update and cancellation
published in the last `FEED_WINDOW`, so a system that polls it also learns of
cancellations. It lists real alerts only unless asked, because a consumer
that ignores CAP's `status` must not relay an exercise; a document asked for
by its identifier is served whatever its status, which it carries. Each entry
links to its document and repeats the fields consumers filter on
(identifier, sender, sent, status, msgType, urgency, severity, certainty,
expires) in the CAP namespace, as the Atom indexes of national alert hubs do.
Links are relative, so the feed still works when a proxy mounts it under
another path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import alerts
from bot.i18n import N_, translator
from bot.interop import cap
from storage.models import Agency, Alert
from storage.models.alerts import AlertMode, AlertStatus, MessageType

log = logging.getLogger(__name__)

FEED_PATH = "/cap/feed.atom"
DOCUMENT_SUFFIX = ".xml"
ATOM = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml"
CAP_TYPE = "application/cap+xml"
FEED_WINDOW = timedelta(days=7)
FEED_LIMIT = 200
STATUS_ALL = "all"
STATUS_ACTUAL = "actual"
FEED_TITLE = N_("Provincial alerts (CAP 1.2)")
CANCELLED = N_("Cancelled: {headline}")


@dataclass(frozen=True)
class Source:
    sessions: async_sessionmaker[AsyncSession]
    # ALERT_CAP_SENDER; empty: "congdan@<province code>".
    sender: str
    zone: ZoneInfo
    clock: Callable[[], datetime]


SOURCE = web.AppKey("cap_source", Source)


async def feed_alerts(session: AsyncSession, at: datetime, *, drills: bool) -> list[Alert]:
    """The published messages the index lists: in force, or published within `FEED_WINDOW`; newest first."""
    in_force = (
        (Alert.msg_type != MessageType.CANCEL)
        & Alert.ended_by_id.is_(None)
        & (Alert.expires_at.is_(None) | (Alert.expires_at > at))
    )
    modes = list(AlertMode) if drills else [AlertMode.ACTUAL]
    return list(
        (
            await session.scalars(
                select(Alert)
                .where(
                    Alert.status == AlertStatus.PUBLISHED,
                    Alert.mode.in_(modes),
                    or_(Alert.published_at >= at - FEED_WINDOW, in_force),
                )
                .order_by(Alert.published_at.desc(), Alert.id.desc())
                .limit(FEED_LIMIT)
            )
        ).all()
    )


async def by_identifier(session: AsyncSession, identifier: str) -> Alert | None:
    """The published message with this CAP identifier ("<province code>-<alert code>")."""
    prefix = f"{await cap.province_code(session)}-"
    if not identifier.startswith(prefix):
        return None
    return await session.scalar(
        select(Alert).where(Alert.code == identifier[len(prefix) :], Alert.status == AlertStatus.PUBLISHED)
    )


def _atom(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def _cap(parent: ET.Element, tag: str, text: str | None) -> None:
    if text:
        ET.SubElement(parent, f"{{{cap.NAMESPACE}}}{tag}").text = text


def feed_document(
    messages: Sequence[Alert],
    agencies: dict[int, Agency],
    *,
    province_code: str,
    sender: str,
    feed_id: str,
    entry_base: str,
    zone: ZoneInfo,
    at: datetime,
) -> bytes:
    """The Atom index; `entry_base` + "<identifier>.xml" is each entry's absolute address (its Atom id)."""
    vi = translator("vi")
    ET.register_namespace("", ATOM)
    ET.register_namespace("cap", cap.NAMESPACE)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _atom(feed, "id", feed_id)
    _atom(feed, "title", vi(FEED_TITLE))
    newest = max((m.published_at for m in messages if m.published_at), default=at)
    _atom(feed, "updated", cap.cap_time(newest, zone))
    _atom(_atom(feed, "author"), "name", sender)
    _atom(feed, "link", rel="self", href=FEED_PATH.rsplit("/", 1)[-1])
    for message in messages:
        identifier = cap.identifier(message, province_code)
        sent = cap.cap_time(message.published_at or at, zone)
        entry = _atom(feed, "entry")
        _atom(entry, "id", f"{entry_base}{identifier}{DOCUMENT_SUFFIX}")
        headline = message.headline_vi or message.code
        if message.msg_type is MessageType.CANCEL:
            headline = vi(CANCELLED, headline=headline)
        mark = alerts.banner(message.mode.value, vi)
        _atom(entry, "title", f"{mark}: {headline}" if mark else headline)
        _atom(entry, "updated", sent)
        _atom(entry, "published", sent)
        agency = agencies.get(message.agency_id)
        _atom(_atom(entry, "author"), "name", agency.name_vi if agency else sender)
        _atom(entry, "link", rel="alternate", type=CAP_TYPE, href=f"{identifier}{DOCUMENT_SUFFIX}")
        _cap(entry, "identifier", identifier)
        _cap(entry, "sender", sender)
        _cap(entry, "sent", sent)
        _cap(entry, "status", cap.STATUS[message.mode])
        _cap(entry, "msgType", cap.MSG_TYPE[message.msg_type])
        _cap(entry, "urgency", message.urgency.value)
        _cap(entry, "severity", message.severity.value)
        _cap(entry, "certainty", message.certainty.value)
        if message.expires_at is not None:
            _cap(entry, "expires", cap.cap_time(message.expires_at, zone))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


async def _feed(request: web.Request) -> web.Response:
    source = request.app[SOURCE]
    status = request.query.get("status", STATUS_ACTUAL)
    if status not in (STATUS_ACTUAL, STATUS_ALL):
        raise web.HTTPBadRequest(text=f"status must be {STATUS_ACTUAL!r} (the default) or {STATUS_ALL!r}\n")
    at = source.clock()
    async with source.sessions() as session:
        messages = await feed_alerts(session, at, drills=status == STATUS_ALL)
        agency_ids = {m.agency_id for m in messages}
        agencies = {a.id: a for a in (await session.scalars(select(Agency).where(Agency.id.in_(agency_ids)))).all()}
        code = await cap.province_code(session)
        sender = await cap.sender_of(session, source.sender)
    body = feed_document(
        messages,
        agencies,
        province_code=code,
        sender=sender,
        feed_id=str(request.url),
        entry_base=f"{request.url.with_query(None).parent}/",
        zone=source.zone,
        at=at,
    )
    return web.Response(body=body, content_type=ATOM_TYPE, charset="utf-8")


async def _document(request: web.Request) -> web.Response:
    source = request.app[SOURCE]
    name = request.match_info["name"]
    if not name.endswith(DOCUMENT_SUFFIX):
        raise web.HTTPNotFound()
    async with source.sessions() as session:
        message = await by_identifier(session, name[: -len(DOCUMENT_SUFFIX)])
        if message is None:
            raise web.HTTPNotFound(text="no published alert has this identifier\n")
        sender = await cap.sender_of(session, source.sender)
        body = await cap.document(session, message, sender=sender, zone=source.zone, at=source.clock())
    return web.Response(body=body, content_type=CAP_TYPE, charset="utf-8")


def application(source: Source) -> web.Application:
    app = web.Application()
    app[SOURCE] = source
    app.router.add_get(FEED_PATH, _feed)
    app.router.add_get("/cap/{name}", _document)
    return app


@dataclass
class CapServer:
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_cap_server(source: Source, *, host: str, port: int) -> CapServer:
    """Serve on host:port (port 0: any free one, for tests); stop with `CapServer.stop`."""
    runner = web.AppRunner(application(source))
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    log.info("CAP documents served on http://%s:%s%s", host, bound, FEED_PATH)
    return CapServer(runner, host, bound)
