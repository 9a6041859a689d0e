"""Alerts as CAP 1.2 documents (OASIS Common Alerting Protocol), for other systems.

One `<alert>` per message: identifier, sender, sent, status (Actual,
Exercise, Test; Draft before publication), msgType (Alert, Update, Cancel)
with `references` to every earlier message of the chain, scope Public; one
`<info>` block per language the alert is written in (Vietnamese always,
English when given), and in each an `<area>` with the communes' polygons (the
province's outline for a province-wide alert). CAP polygons have no holes, so
only outer rings are given, as "lat,lon" pairs closed on the first point.

`tests/test_alerts.py` validates the output against the OASIS schema;
bot/interop/cap_http.py serves it to other systems.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import CAP_FORBIDDEN
from bot.domain import alerts
from bot.i18n import translator
from storage.models import Agency, Alert, Province
from storage.models.alerts import AlertMode, AlertStatus, MessageType
from storage.models.province import AgencyKind

NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
LANGUAGES = {"vi": "vi-VN", "en": "en-US"}
STATUS = {AlertMode.ACTUAL: "Actual", AlertMode.EXERCISE: "Exercise", AlertMode.TEST: "Test"}
MSG_TYPE = {MessageType.ALERT: "Alert", MessageType.UPDATE: "Update", MessageType.CANCEL: "Cancel"}
# CAP coordinates in WGS 84 degrees; six decimals is about ten centimetres.
DECIMALS = 6


@dataclass(frozen=True)
class Area:
    description_vi: str
    description_en: str
    geometry: BaseGeometry | None


def cap_time(at: datetime, zone: ZoneInfo) -> str:
    """CAP's dateTime: local time with its offset, whole seconds, never "Z"."""
    return at.astimezone(zone).replace(microsecond=0).isoformat()


def identifier(alert: Alert, province_code: str) -> str:
    return f"{province_code}-{alert.code}"


def _safe(value: str) -> str:
    """CAP forbids spaces, commas, "<" and "&" in `sender` and `identifier`."""
    return "".join(c for c in value if not c.isspace() and c not in CAP_FORBIDDEN)


async def province_code(session: AsyncSession) -> str:
    code = await session.scalar(select(Province.code).limit(1))
    return _safe(code or "") or "CONGDAN"


async def sender_of(session: AsyncSession, configured: str) -> str:
    """`ALERT_CAP_SENDER` (checked at start), else "congdan@<province code>"."""
    return configured or f"congdan@{(await province_code(session)).lower()}"


def _rings(geometry: BaseGeometry | None) -> Iterator[str]:
    if geometry is None or geometry.is_empty:
        return
    parts: Sequence[Polygon]
    if isinstance(geometry, Polygon):
        parts = [geometry]
    elif isinstance(geometry, MultiPolygon):
        parts = list(geometry.geoms)
    else:
        return
    for polygon in parts:
        points = [f"{round(lat, DECIMALS)},{round(lon, DECIMALS)}" for lon, lat, *_ in polygon.exterior.coords]
        if points[0] != points[-1]:
            points.append(points[0])
        if len(points) >= 4:
            yield " ".join(points)


async def area_of(session: AsyncSession, alert: Alert) -> Area:
    """What the alert covers: its communes, or the province (its outline, else the union of its communes)."""
    if not alert.whole_province:
        communes = await alerts.area_agencies(session, alert)
        shapes = [shape(json.loads(a.boundary_geojson)) for a in communes if a.boundary_geojson]
        return Area(
            ", ".join(a.name_vi for a in communes),
            ", ".join(a.name_en for a in communes),
            unary_union(shapes) if shapes else None,
        )
    province = await session.scalar(select(Province).limit(1))
    if province is not None and province.boundary_geojson:
        geometry: BaseGeometry | None = shape(json.loads(province.boundary_geojson))
    else:
        outlines = (
            await session.scalars(
                select(Agency.boundary_geojson).where(
                    Agency.kind == AgencyKind.COMMUNE, Agency.active.is_(True), Agency.boundary_geojson.is_not(None)
                )
            )
        ).all()
        geometry = unary_union([shape(json.loads(o)) for o in outlines]) if outlines else None
    name_vi = province.name_vi if province else translator("vi")("the whole province")
    name_en = province.name_en if province else translator("en")("the whole province")
    return Area(name_vi, name_en, geometry)


async def chain(session: AsyncSession, alert: Alert) -> list[Alert]:
    """Every earlier message this one updates or cancels, oldest first."""
    earlier: list[Alert] = []
    current = alert
    while current.references_id is not None:
        previous = await session.get(Alert, current.references_id)
        if previous is None or previous in earlier:
            break
        earlier.append(previous)
        current = previous
    return list(reversed(earlier))


async def document(session: AsyncSession, alert: Alert, *, sender: str, zone: ZoneInfo, at: datetime) -> bytes:
    """The CAP 1.2 XML of `alert` (UTF-8, with the XML declaration)."""
    code = await province_code(session)
    agency = await session.get(Agency, alert.agency_id)
    assert agency is not None
    area = await area_of(session, alert)
    earlier = await chain(session, alert)
    return build(alert, sender=sender, province_code=code, agency=agency, area=area, earlier=earlier, zone=zone, at=at)


def _sub(parent: ET.Element, tag: str, value: str | None) -> None:
    if value:
        ET.SubElement(parent, f"{{{NAMESPACE}}}{tag}").text = value


def build(
    alert: Alert,
    *,
    sender: str,
    province_code: str,
    agency: Agency,
    area: Area,
    earlier: Sequence[Alert],
    zone: ZoneInfo,
    at: datetime,
) -> bytes:
    root = ET.Element(f"{{{NAMESPACE}}}alert")
    sent = alert.published_at or at
    _sub(root, "identifier", identifier(alert, province_code))
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(sent, zone))
    published = alert.status is AlertStatus.PUBLISHED
    _sub(root, "status", STATUS[alert.mode] if published else "Draft")
    _sub(root, "msgType", MSG_TYPE[alert.msg_type])
    _sub(root, "scope", "Public")
    _sub(root, "code", f"congdan:{alert.kind.value}")
    english = translator("en")
    banner = alerts.banner(alert.mode.value, english)
    _sub(root, "note", banner)
    if earlier:
        _sub(
            root,
            "references",
            " ".join(
                f"{sender},{identifier(e, province_code)},{cap_time(e.published_at or e.created_at, zone)}"
                for e in earlier
            ),
        )
    for language in ("vi", "en"):
        if language == "en" and not alert.headline_en:
            continue
        _info(root, alert, language, agency, area, sent, zone)
    ET.register_namespace("", NAMESPACE)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _info(
    root: ET.Element, alert: Alert, language: str, agency: Agency, area: Area, sent: datetime, zone: ZoneInfo
) -> None:
    _ = translator(language)
    pick = alerts.pick_text
    info = ET.SubElement(root, f"{{{NAMESPACE}}}info")
    _sub(info, "language", LANGUAGES[language])
    _sub(info, "category", alert.category.value)
    _sub(info, "event", _(alerts.CATEGORY_LABELS[alert.category]))
    _sub(info, "urgency", alert.urgency.value)
    _sub(info, "severity", alert.severity.value)
    _sub(info, "certainty", alert.certainty.value)
    _sub(info, "effective", cap_time(sent, zone))
    if alert.onset_at:
        _sub(info, "onset", cap_time(alert.onset_at, zone))
    if alert.expires_at:
        _sub(info, "expires", cap_time(alert.expires_at, zone))
    _sub(info, "senderName", pick(language, agency.name_vi, agency.name_en))
    headline = pick(language, alert.headline_vi, alert.headline_en)
    description = pick(language, alert.description_vi, alert.description_en)
    if alert.msg_type is MessageType.CANCEL:
        headline = _("Cancelled: {headline}", headline=headline or "")
        description = description or _("This alert is cancelled. Disregard it.")
    _sub(info, "headline", headline)
    _sub(info, "description", description)
    _sub(info, "instruction", pick(language, alert.instruction_vi, alert.instruction_en))
    area_element = ET.SubElement(info, f"{{{NAMESPACE}}}area")
    _sub(area_element, "areaDesc", area.description_vi if language == "vi" else area.description_en)
    for ring in _rings(area.geometry):
        _sub(area_element, "polygon", ring)
