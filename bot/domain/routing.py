"""Which agency receives a report: by the place of the event and its topic.

003 Art. 3.4: reports are received by the provincial departments and the
commune/ward People's Committees, each within its remit. The place decides the
commune; some topics (e.g. food safety) belong to a sector department wherever
they happen.

Place rule, in order:
1. POLYGON: the commune whose outline contains the point;
2. NEAREST: else the closest commune within `nearest_km` — phone GPS and
   surveyed outlines both err near edges, and a point in a river or on a
   border road still belongs to someone;
3. DEFAULT: else, inside the province (its explicit boundary, or the union of
   the communes), the province's default receiving agency;
4. OUTSIDE: else nobody; the bot refuses the report.

The router is built once from the database and kept in memory; shapely's
STRtree keeps lookups fast for a province's thousands of communes.
"""

from __future__ import annotations

import asyncio
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.province import ProvinceFile, geometry_from_geojson
from storage.models.province import Agency, AgencyKind, Province, RouteTo, Topic

# Kilometres per degree of latitude on the mean Earth sphere (IUGG radius).
KM_PER_DEGREE = 6371.0088 * math.pi / 180

# Administrative words in front of a commune's name, folded (see `fold`).
# People write "phường Hòa Bình", "P. Hoà Bình" or just "hoa binh".
COMMITTEE_PREFIXES = (("uy", "ban", "nhan", "dan"), ("ubnd",))
UNIT_PREFIXES = (("thi", "tran"), ("dac", "khu"), ("phuong",), ("xa",))
# Words that make the name after them something else than the commune: many
# capital wards share the province's name ("phường Minh Họa, tỉnh Minh Họa"),
# and people still write the districts abolished in 2025.
OTHER_PLACE_MARKERS = (("tinh",), ("huyen",), ("quan",), ("thanh", "pho"), ("tp",), ("thi", "xa"))


class RouteKind(StrEnum):
    POLYGON = "polygon"
    NEAREST = "nearest"
    DEFAULT = "default"
    OUTSIDE = "outside"
    ADDRESS = "address"
    DEPARTMENT = "department"


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    # The receiving agency; None only for OUTSIDE (or a province with no default agency).
    agency_code: str | None
    # The commune where the event happened, when known: it supervises the
    # report even when a department handles it (003 Art. 9.3).
    commune_code: str | None
    # From the point to the commune's outline; 0 inside it.
    distance_km: float | None


@dataclass(frozen=True)
class CommunePlace:
    code: str
    name_vi: str
    area: BaseGeometry | None


@dataclass(frozen=True)
class TopicRule:
    code: str
    route_to: RouteTo
    department: str | None


@dataclass(frozen=True)
class RoutingData:
    """Everything routing depends on; two routers with equal data route alike."""

    communes: tuple[CommunePlace, ...]
    topics: tuple[TopicRule, ...]
    default_agency: str | None
    boundary: BaseGeometry | None
    nearest_km: float

    @classmethod
    def build(
        cls,
        communes: Iterable[CommunePlace],
        topics: Iterable[TopicRule],
        default_agency: str | None,
        boundary: BaseGeometry | None,
        nearest_km: float,
    ) -> RoutingData:
        # Sorted by code: the file's order and the database's must not matter,
        # and ties (a point on a shared edge) go to the same commune every time.
        return cls(
            communes=tuple(sorted(communes, key=lambda place: place.code)),
            topics=tuple(sorted(topics, key=lambda rule: rule.code)),
            default_agency=default_agency,
            boundary=boundary,
            nearest_km=nearest_km,
        )


def fold(text: str) -> str:
    """Lower case without diacritics or punctuation: "Phường Hoà Bình!" -> "phuong hoa binh".

    Old-style ("Hoà") and new-style ("Hòa") tone placement and text typed
    without marks all fold the same.
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in bare).split())


def _strip_prefix(tokens: tuple[str, ...], prefixes: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    for prefix in prefixes:
        if tokens[: len(prefix)] == prefix and len(tokens) > len(prefix):
            return tokens[len(prefix) :]
    return tokens


def _address_keys(name_vi: str) -> set[tuple[str, ...]]:
    """The ways a commune's name may appear in a typed address, as folded tokens."""
    full = tuple(fold(name_vi).split())
    unit = _strip_prefix(full, COMMITTEE_PREFIXES)  # "phuong hoa binh"
    core = _strip_prefix(unit, UNIT_PREFIXES)  # "hoa binh"
    keys = {full, unit}
    # A one-syllable core ("Na") is an everyday word; only its prefixed form counts.
    if len(core) >= 2:
        keys.add(core)
    return keys


class Router:
    def __init__(self, data: RoutingData) -> None:
        self.data = data
        self._topics = {rule.code: rule for rule in data.topics}
        self._located = [place for place in data.communes if place.area is not None]
        areas = [place.area for place in self._located]
        self._tree = shapely.STRtree(areas)
        self._province_area = self._province(data.boundary, areas)
        self._address_index = self._index_names(data.communes)
        self._longest_key = max((len(key) for key in self._address_index), default=0)

    @staticmethod
    def _province(boundary: BaseGeometry | None, areas: Sequence[BaseGeometry]) -> BaseGeometry | None:
        area = boundary if boundary is not None else (shapely.union_all(areas) if areas else None)
        if area is not None:
            shapely.prepare(area)
        return area

    @staticmethod
    def _index_names(communes: Iterable[CommunePlace]) -> dict[tuple[str, ...], frozenset[str]]:
        index: dict[tuple[str, ...], set[str]] = {}
        for place in communes:
            for key in _address_keys(place.name_vi):
                index.setdefault(key, set()).add(place.code)
        return {key: frozenset(codes) for key, codes in index.items()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Router) and self.data == other.data

    __hash__ = None  # type: ignore[assignment]

    @property
    def topic_codes(self) -> frozenset[str]:
        return frozenset(self._topics)

    # --- building -------------------------------------------------------------

    @classmethod
    async def load(cls, session: AsyncSession) -> Router:
        """The router for the imported province: active communes and topics only."""
        province = await session.scalar(select(Province))
        if province is None:
            raise LookupError("no province imported yet (congdan admin import-province FILE)")
        agencies = list(await session.scalars(select(Agency)))
        codes = {agency.id: agency.code for agency in agencies}
        topics = await session.scalars(select(Topic).where(Topic.active))
        return cls(
            RoutingData.build(
                communes=(
                    CommunePlace(agency.code, agency.name_vi, _geometry(agency.boundary_geojson))
                    for agency in agencies
                    if agency.active and agency.kind is AgencyKind.COMMUNE
                ),
                topics=(TopicRule(topic.code, topic.route_to, codes.get(topic.department_id)) for topic in topics),
                default_agency=codes.get(province.default_agency_id),
                boundary=_geometry(province.boundary_geojson),
                nearest_km=province.nearest_km,
            )
        )

    @classmethod
    def from_file(cls, data: ProvinceFile) -> Router:
        return cls(
            RoutingData.build(
                communes=(
                    CommunePlace(spec.code, spec.name_vi, spec.boundary)
                    for spec in data.agencies
                    if spec.kind is AgencyKind.COMMUNE
                ),
                topics=(TopicRule(spec.code, spec.route_to, spec.department) for spec in data.topics),
                default_agency=data.default_agency,
                boundary=data.boundary,
                nearest_km=data.nearest_km,
            )
        )

    # --- routing ----------------------------------------------------------------

    def route(self, *, topic_code: str, lat: float | None, lon: float | None, address: str | None) -> Route:
        """The receiving agency for a report on `topic_code` at a point and/or typed address."""
        rule = self._topics.get(topic_code)
        if rule is None:
            raise ValueError(f"unknown topic {topic_code!r}")
        place = self._place(lat, lon, address)
        if rule.route_to is RouteTo.DEPARTMENT and place.kind is not RouteKind.OUTSIDE:
            return Route(RouteKind.DEPARTMENT, rule.department, place.commune_code, place.distance_km)
        return place

    def _place(self, lat: float | None, lon: float | None, address: str | None) -> Route:
        if (lat is None) != (lon is None):
            raise ValueError("latitude and longitude must be given together")
        if lat is None or lon is None:
            return self.locate_address(address) if address else self._default()
        place = self.locate(lat, lon)
        if place.kind is RouteKind.DEFAULT and address:
            # Every place in Vietnam lies in some commune; a point that falls
            # between our outlines is better placed by the address the citizen typed.
            by_address = self.locate_address(address)
            if by_address.kind is RouteKind.ADDRESS:
                return by_address
        return place

    def locate(self, lat: float, lon: float) -> Route:
        """The place rule for a point (WGS 84 degrees)."""
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"not a WGS 84 position: lat={lat!r}, lon={lon!r}")
        point = shapely.Point(lon, lat)  # GeoJSON and shapely order: x = longitude
        containing = self._tree.query(point, predicate="intersects")
        if len(containing):
            code = self._located[int(containing.min())].code
            return Route(RouteKind.POLYGON, code, code, 0.0)
        nearest = self._nearest(lat, lon)
        if nearest is not None:
            code, distance = nearest
            return Route(RouteKind.NEAREST, code, code, distance)
        # Without any outline we cannot tell inside from outside, so nothing is refused.
        if self._province_area is None or self._province_area.intersects(point):
            return self._default()
        return Route(RouteKind.OUTSIDE, None, None, None)

    def _nearest(self, lat: float, lon: float) -> tuple[str, float] | None:
        reach = self.data.nearest_km
        if reach <= 0 or not self._located:
            return None
        km_per_lon = KM_PER_DEGREE * max(math.cos(math.radians(lat)), 1e-6)
        half_width, half_height = reach / km_per_lon, reach / KM_PER_DEGREE
        window = shapely.box(lon - half_width, lat - half_height, lon + half_width, lat + half_height)
        best: tuple[float, str] | None = None
        for index in self._tree.query(window):
            place = self._located[int(index)]
            distance = _distance_km(lat, lon, km_per_lon, place.area)
            if distance <= reach and (best is None or (distance, place.code) < best):
                best = (distance, place.code)
        return None if best is None else (best[1], best[0])

    def locate_address(self, text: str) -> Route:
        """The commune named in a typed address; DEFAULT when none is.

        Names are compared folded (no case, no diacritics) on word boundaries.
        The longest name found wins, so "Hòa Bình Thượng" beats "Hòa Bình";
        a name two communes share decides nothing, and neither does one that
        follows "tỉnh", "huyện", "thành phố"... (another place of that name).
        """
        tokens = tuple(fold(text).split())
        best: tuple[int, int, str] | None = None  # (-length, start, code)
        for start in range(len(tokens)):
            for size in range(1, min(self._longest_key, len(tokens) - start) + 1):
                codes = self._address_index.get(tokens[start : start + size])
                if codes is None or len(codes) != 1 or _names_another_place(tokens, start):
                    continue
                length = sum(map(len, tokens[start : start + size])) + size - 1
                candidate = (-length, start, next(iter(codes)))
                if best is None or candidate < best:
                    best = candidate
        if best is None:
            return self._default()
        return Route(RouteKind.ADDRESS, best[2], best[2], None)

    def _default(self) -> Route:
        return Route(RouteKind.DEFAULT, self.data.default_agency, None, None)


def _names_another_place(tokens: tuple[str, ...], start: int) -> bool:
    return any(start >= len(marker) and tokens[start - len(marker) : start] == marker for marker in OTHER_PLACE_MARKERS)


def _geometry(geojson: str | None) -> BaseGeometry | None:
    return geometry_from_geojson(geojson) if geojson else None


def _distance_km(lat: float, lon: float, km_per_lon: float, area: BaseGeometry) -> float:
    """Kilometres from the point to the area.

    Shapely measures in the coordinates' units, and a degree of longitude is
    shorter than one of latitude away from the equator. Projecting the area
    onto a plane centred on the point (equirectangular) is exact enough over
    the few kilometres `nearest_km` allows.
    """
    origin = np.array([lon, lat])
    scale = np.array([km_per_lon, KM_PER_DEGREE])
    projected = shapely.transform(area, lambda coords: (coords - origin) * scale)
    return float(shapely.distance(projected, shapely.Point(0.0, 0.0)))


class RouterCache:
    """One router per process, rebuilt when an import has changed the province.

    The import may run in another process (the CLI), so the cache compares the
    province row's `updated_at`, which every changing import bumps: one tiny
    query per lookup instead of a rebuild.
    """

    def __init__(self) -> None:
        self._router: Router | None = None
        self._version: datetime | None = None
        self._lock = asyncio.Lock()

    async def get(self, session: AsyncSession) -> Router:
        version = await session.scalar(select(Province.updated_at))
        if self._router is not None and version == self._version:
            return self._router
        async with self._lock:
            if self._router is None or version != self._version:
                self._router = await Router.load(session)
                self._version = version
            return self._router

    def invalidate(self) -> None:
        self._router = None
        self._version = None
