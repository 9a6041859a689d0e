"""The province file: agencies, commune outlines and topics, read and imported.

`congdan admin import-province FILE` calls `load_province_file` and then
`import_province`. The format is documented at the top of
`examples/demo-province.yaml`.

A file is checked completely before anything is written, and every problem is
reported at once with its place in the file (`agencies[3].code: ...`), so the
IT team fixes a file in one pass instead of one error per run. Error texts are
for them, not for citizens, and are in English.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import shapely
import yaml
from shapely.errors import GEOSException
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.calendar import WeeklyHours
from bot.domain.deadlines import parse_province_limits, province_limits_to_json
from bot.domain.office_hours import weekly_hours_from_mapping, weekly_hours_to_json
from storage.models.base import utcnow
from storage.models.province import (
    CODE_LENGTH,
    NAME_LENGTH,
    Agency,
    AgencyKind,
    Province,
    RouteTo,
    Topic,
)

DEFAULT_NEAREST_KM = 3.0
# Beyond this a "nearest commune" is no longer a GPS or outline error but a guess.
MAX_NEAREST_KM = 50.0
# Outlines from different surveys overlap by thin slivers; more than this
# share of the smaller commune means the data is wrong (e.g. a pasted duplicate).
MAX_OVERLAP_SHARE = 0.01

POLYGONAL = ("Polygon", "MultiPolygon")
GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", *POLYGONAL, "GeometryCollection")

PROVINCE_FIELDS = frozenset(
    {
        "code",
        "name_vi",
        "name_en",
        "default_agency",
        "boundary",
        "nearest_km",
        "calendar",
        "agencies",
        "topics",
        "office_hours",
        "deadlines",
        "reject_reasons",
    }
)
AGENCY_FIELDS = frozenset({"code", "kind", "name_vi", "name_en", "boundary", "office_hours", "reject_reasons"})
REJECT_REASON_FIELDS = frozenset({"vi", "en"})
# The rejection picker shows these beside the standard reasons; a long list is no longer a choice.
MAX_REJECT_REASONS = 10
# What the citizen reads; a button shows its start.
REJECT_REASON_MAX = 500
TOPIC_FIELDS = frozenset({"code", "name_vi", "name_en", "route_to", "department"})
CALENDAR_FIELDS = frozenset({"extra_days_off", "extra_working_days"})

_Choice = TypeVar("_Choice", AgencyKind, RouteTo)

# Why GEOS calls a polygon invalid, in words an operator can act on. Keys are
# the start of shapely's `is_valid_reason`.
INVALID_REASONS = {
    "Self-intersection": "the outline crosses itself (often two vertices in the wrong order)",
    "Ring Self-intersection": "a ring touches itself at a point, making a figure-eight",
    "Too few points": "a ring needs at least 3 distinct corners",
    "Hole lies outside shell": "a hole (inner ring) lies outside its outer ring",
    "Nested shells": "one part of the MultiPolygon lies inside another",
    "Nested holes": "one hole lies inside another",
    "Interior is disconnected": "the holes cut the polygon into separate pieces",
    "Duplicate Rings": "the same ring is given twice",
    "Invalid Coordinate": "a coordinate is not a finite number",
}


class ProvinceFileError(Exception):
    """Everything wrong with a province file, one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class AgencySpec:
    code: str
    kind: AgencyKind
    name_vi: str
    name_en: str
    boundary: BaseGeometry | None = None
    # Office hours of its own, when they differ from the province's.
    office_hours: WeeklyHours | None = None
    # Its own reasons for rejecting a report, offered after the province's.
    reject_reasons: tuple[RejectReason, ...] = ()


@dataclass(frozen=True)
class RejectReason:
    """A reason for rejecting a report (003 Art. 8), kept ready in both languages."""

    vi: str
    en: str


@dataclass(frozen=True)
class TopicSpec:
    code: str
    name_vi: str
    name_en: str
    route_to: RouteTo
    department: str | None
    position: int


@dataclass(frozen=True)
class ProvinceFile:
    code: str
    name_vi: str
    name_en: str
    default_agency: str
    agencies: tuple[AgencySpec, ...]
    topics: tuple[TopicSpec, ...]
    boundary: BaseGeometry | None = None
    nearest_km: float = DEFAULT_NEAREST_KM
    extra_days_off: tuple[date, ...] = ()
    extra_working_days: tuple[date, ...] = ()
    # The province's office hours; None: Monday-Friday 07:30-11:30, 13:30-17:30.
    office_hours: WeeklyHours | None = None
    # Stage limits the province sets itself (bot/domain/deadlines.py PROVINCE_LIMITS); the rest are the regulation's.
    deadlines: Mapping[str, float] = field(default_factory=dict)
    # Reasons for rejecting a report that every agency is offered beside the standard ones.
    reject_reasons: tuple[RejectReason, ...] = ()
    # Where the file was read from; not part of the data.
    source: Path | None = field(default=None, compare=False)

    def agency(self, code: str) -> AgencySpec:
        for spec in self.agencies:
            if spec.code == code:
                return spec
        raise KeyError(code)


@dataclass(frozen=True)
class ChangeCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0

    def __str__(self) -> str:
        return f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, {self.deactivated} deactivated"


@dataclass(frozen=True)
class ImportSummary:
    province: ChangeCounts
    agencies: ChangeCounts
    topics: ChangeCounts

    @property
    def changed(self) -> bool:
        return any(
            counts.added or counts.updated or counts.deactivated
            for counts in (self.province, self.agencies, self.topics)
        )

    def __str__(self) -> str:
        return f"province: {self.province}\nagencies: {self.agencies}\ntopics: {self.topics}"


# --- text and geometry helpers shared with the router ------------------------


def clean_text(text: str) -> str:
    """NFC (TCVN 6909:2011) with runs of whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def geometry_to_geojson(geometry: BaseGeometry) -> str:
    # Python's float repr round-trips exactly, so a geometry read back from
    # the database equals the one parsed from the file.
    return json.dumps(mapping(geometry), separators=(",", ":"))


def geometry_from_geojson(text: str) -> BaseGeometry:
    return shape(json.loads(text))


def calendar_to_json(extra_days_off: Iterable[date], extra_working_days: Iterable[date]) -> str:
    return json.dumps(
        {
            "extra_days_off": [day.isoformat() for day in extra_days_off],
            "extra_working_days": [day.isoformat() for day in extra_working_days],
        }
    )


def reject_reasons_to_json(reasons: Sequence[RejectReason]) -> str | None:
    return json.dumps([{"vi": r.vi, "en": r.en} for r in reasons], ensure_ascii=False) if reasons else None


def reject_reasons_from_json(text: str | None) -> tuple[RejectReason, ...]:
    """The reasons stored in `Province.reject_reasons_json` or `Agency.reject_reasons_json`."""
    if not text:
        return ()
    return tuple(RejectReason(item["vi"], item["en"]) for item in json.loads(text))


# --- reading ------------------------------------------------------------------


def load_province_file(path: Path) -> ProvinceFile:
    """Read and check a province file (YAML, or JSON by extension or content)."""
    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProvinceFileError([f"{path}: cannot read file: {exc}"]) from exc
    raw = _parse_document(content, path)
    return parse_province(raw, base_dir=path.parent, source=path)


def _parse_document(content: str, path: Path) -> Any:
    looks_like_json = path.suffix.lower() in (".json", ".geojson") or content.lstrip().startswith("{")
    if looks_like_json:
        try:
            return json.loads(content)
        except json.JSONDecodeError as exc:
            if path.suffix.lower() in (".json", ".geojson"):
                raise ProvinceFileError([f"{path}: invalid JSON: {exc}"]) from exc
            # A YAML flow mapping also starts with "{"; let YAML have a go.
    try:
        return yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise ProvinceFileError([f"{path}: invalid YAML: {exc}"]) from exc


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def _join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def parse_province(raw: Any, *, base_dir: Path, source: Path | None = None) -> ProvinceFile:
    """Check a decoded province document; boundary paths resolve against `base_dir`."""
    problems = _Problems()
    if not isinstance(raw, Mapping):
        raise ProvinceFileError([f"(top level): expected a mapping of province fields, got {_kind_of(raw)}"])
    _check_fields(raw, PROVINCE_FIELDS, "", problems)

    code = _code(raw, "code", "", problems)
    name_vi = _name(raw, "name_vi", "", problems)
    name_en = _name(raw, "name_en", "", problems)
    default_agency = _code(raw, "default_agency", "", problems)
    boundary = _optional_boundary(raw, "", base_dir, problems)
    nearest_km = _nearest_km(raw, problems)
    days_off, working_days = _calendar(raw.get("calendar"), problems)
    office_hours = _office_hours(raw.get("office_hours"), "office_hours", problems)
    deadlines = _deadlines(raw.get("deadlines"), problems)
    reject_reasons = _reject_reasons(raw.get("reject_reasons"), "reject_reasons", problems)
    agencies, agency_kinds = _agencies(raw, base_dir, problems)
    topics = _topics(raw, problems)

    _check_references(agency_kinds, topics, default_agency, problems)
    _check_communes(agencies, boundary, problems)

    if problems.items:
        raise ProvinceFileError(problems.items)
    assert code and name_vi and name_en and default_agency  # guaranteed when no problems
    return ProvinceFile(
        code=code,
        name_vi=name_vi,
        name_en=name_en,
        default_agency=default_agency,
        agencies=tuple(spec for _, spec in agencies),
        topics=tuple(spec for _, spec in topics),
        boundary=boundary,
        nearest_km=nearest_km,
        extra_days_off=days_off,
        extra_working_days=working_days,
        office_hours=office_hours,
        deadlines=deadlines,
        reject_reasons=reject_reasons,
        source=source,
    )


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _check_fields(raw: Mapping, allowed: frozenset[str], where: str, problems: _Problems) -> None:
    # A misspelt optional field (e.g. "boundry") would otherwise be silently ignored.
    expected = ", ".join(sorted(allowed))
    for key in raw:
        if key not in allowed:
            problems.add(_join(where, str(key)), f"unknown field (expected one of: {expected})")


def _required(raw: Mapping, key: str, where: str, problems: _Problems) -> Any:
    value = raw.get(key)
    if value is None or value == "":
        problems.add(_join(where, key), "missing required field")
        return None
    return value


def _string(raw: Mapping, key: str, where: str, problems: _Problems) -> str | None:
    value = _required(raw, key, where, problems)
    if value is None:
        return None
    if not isinstance(value, str):
        # YAML turns 01 into 1 and NO into False; quoting keeps the text.
        problems.add(_join(where, key), f"must be text, got {_kind_of(value)} (quote it in YAML)")
        return None
    text = clean_text(value)
    if not text:
        problems.add(_join(where, key), "missing required field")
        return None
    return text


def _code(raw: Mapping, key: str, where: str, problems: _Problems) -> str | None:
    text = _string(raw, key, where, problems)
    if text is None:
        return None
    if len(text) > CODE_LENGTH:
        problems.add(_join(where, key), f'code "{text}" is longer than {CODE_LENGTH} characters')
        return None
    if not all(ch.isascii() and (ch.isalnum() or ch in "-_.") for ch in text):
        # Codes travel in button data and URLs; keep them plain ASCII.
        problems.add(_join(where, key), f'code "{text}" may use only ASCII letters, digits, "-", "_" and "."')
        return None
    return text


def _name(raw: Mapping, key: str, where: str, problems: _Problems) -> str | None:
    text = _string(raw, key, where, problems)
    if text is not None and len(text) > NAME_LENGTH:
        problems.add(_join(where, key), f"longer than {NAME_LENGTH} characters")
        return None
    return text


def _choice(raw: Mapping, key: str, where: str, enum_class: type[_Choice], problems: _Problems) -> _Choice | None:
    text = _string(raw, key, where, problems)
    if text is None:
        return None
    try:
        return enum_class(text)
    except ValueError:
        choices = ", ".join(member.value for member in enum_class)
        problems.add(_join(where, key), f'unknown value "{text}" (expected one of: {choices})')
        return None


def _list(raw: Mapping, key: str, problems: _Problems) -> list[Any]:
    value = raw.get(key)
    if value is None:
        problems.add(key, "missing required field")
        return []
    if not isinstance(value, list):
        problems.add(key, f"must be a list, got {_kind_of(value)}")
        return []
    if not value:
        problems.add(key, "must list at least one entry")
    return value


def _nearest_km(raw: Mapping, problems: _Problems) -> float:
    value = raw.get("nearest_km")
    if value is None:
        return DEFAULT_NEAREST_KM
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.add("nearest_km", f"must be a number of kilometres, got {_kind_of(value)}")
        return DEFAULT_NEAREST_KM
    if not 0 <= value <= MAX_NEAREST_KM:
        problems.add("nearest_km", f"must be between 0 and {MAX_NEAREST_KM:g} km, got {value}")
        return DEFAULT_NEAREST_KM
    return float(value)


def _calendar(raw: Any, problems: _Problems) -> tuple[tuple[date, ...], tuple[date, ...]]:
    if raw is None:
        return (), ()
    if not isinstance(raw, Mapping):
        problems.add("calendar", f"must be a mapping, got {_kind_of(raw)}")
        return (), ()
    _check_fields(raw, CALENDAR_FIELDS, "calendar", problems)
    days_off = _dates(raw.get("extra_days_off"), "calendar.extra_days_off", problems)
    working_days = _dates(raw.get("extra_working_days"), "calendar.extra_working_days", problems)
    for day in sorted(set(days_off) & set(working_days)):
        problems.add("calendar", f"{day.isoformat()} is both an extra day off and an extra working day")
    return days_off, working_days


def _deadlines(raw: Any, problems: _Problems) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.add("deadlines", f"must map limits to numbers, e.g. receive_hours: 8; got {_kind_of(raw)}")
        return {}
    limits, found = parse_province_limits(raw)
    for key, message in found:
        problems.add(_join("deadlines", key), message)
    return limits


def _dates(raw: Any, where: str, problems: _Problems) -> tuple[date, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(where, f"must be a list of dates (YYYY-MM-DD), got {_kind_of(raw)}")
        return ()
    days: set[date] = set()
    for index, value in enumerate(raw):
        day = _date(value)
        if day is None:
            problems.add(_join(where, index), f"not a date (YYYY-MM-DD): {value!r}")
        else:
            days.add(day)
    return tuple(sorted(days))


def _date(value: Any) -> date | None:
    # YAML already yields dates; JSON yields text. A datetime is a date
    # subclass but a time of day means the author meant something else.
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _entries(raw: Mapping, key: str, fields: frozenset[str], problems: _Problems) -> Iterator[tuple[int, str, Mapping]]:
    """The mappings listed under `key`, each with its index and place in the file; anything else is a problem."""
    for index, item in enumerate(_list(raw, key, problems)):
        where = _join(key, index)
        if not isinstance(item, Mapping):
            problems.add(where, f"must be a mapping, got {_kind_of(item)}")
            continue
        _check_fields(item, fields, where, problems)
        yield index, where, item


def _agencies(
    raw: Mapping, base_dir: Path, problems: _Problems
) -> tuple[list[tuple[str, AgencySpec]], dict[str, AgencyKind | None]]:
    """Valid agencies with their place in the file, and the kind of every code listed.

    An agency with a problem still counts as listed, so references to it do
    not add a misleading "unknown agency" to its own problem.
    """
    parsed: list[tuple[str, AgencySpec]] = []
    kinds: dict[str, AgencyKind | None] = {}
    for _index, where, item in _entries(raw, "agencies", AGENCY_FIELDS, problems):
        code = _code(item, "code", where, problems)
        kind = _choice(item, "kind", where, AgencyKind, problems)
        name_vi = _name(item, "name_vi", where, problems)
        name_en = _name(item, "name_en", where, problems)
        boundary = _optional_boundary(item, where, base_dir, problems)
        office_hours = _office_hours(item.get("office_hours"), _join(where, "office_hours"), problems)
        reasons = _reject_reasons(item.get("reject_reasons"), _join(where, "reject_reasons"), problems)
        if code is not None:
            kinds.setdefault(code, kind)
        if boundary is not None and kind is not None and kind is not AgencyKind.COMMUNE:
            problems.add(_join(where, "boundary"), f'only communes have a boundary (kind is "{kind.value}")')
            continue
        if code and kind and name_vi and name_en:
            parsed.append((where, AgencySpec(code, kind, name_vi, name_en, boundary, office_hours, reasons)))
    _check_duplicates(parsed, problems)
    return parsed, kinds


def _office_hours(raw: Any, where: str, problems: _Problems) -> WeeklyHours | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        problems.add(
            where, f'must map weekdays to periods, e.g. mon-fri: ["07:30-11:30", "13:30-17:30"]; got {_kind_of(raw)}'
        )
        return None
    try:
        return weekly_hours_from_mapping(raw)
    except (TypeError, ValueError) as exc:
        problems.add(where, str(exc))
        return None


def _reject_reasons(raw: Any, where: str, problems: _Problems) -> tuple[RejectReason, ...]:
    """`reject_reasons: [{vi: "...", en: "..."}, ...]`: each in Vietnamese and English, for the citizen's language."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(where, f'must be a list of {{vi: "...", en: "..."}}, got {_kind_of(raw)}')
        return ()
    if len(raw) > MAX_REJECT_REASONS:
        problems.add(where, f"at most {MAX_REJECT_REASONS} reasons, got {len(raw)}")
    reasons: list[RejectReason] = []
    seen: dict[str, str] = {}
    for index, item in enumerate(raw):
        at = _join(where, index)
        if not isinstance(item, Mapping):
            problems.add(at, f'must be a mapping {{vi: "...", en: "..."}}, got {_kind_of(item)}')
            continue
        _check_fields(item, REJECT_REASON_FIELDS, at, problems)
        texts = [_string(item, language, at, problems) for language in ("vi", "en")]
        for language, text in zip(("vi", "en"), texts, strict=True):
            if text is not None and len(text) > REJECT_REASON_MAX:
                problems.add(_join(at, language), f"longer than {REJECT_REASON_MAX} characters")
        vi, en = texts
        if vi is None or en is None or max(len(vi), len(en)) > REJECT_REASON_MAX:
            continue
        if vi.casefold() in seen:
            problems.add(_join(at, "vi"), f"repeats {seen[vi.casefold()]}")
            continue
        seen[vi.casefold()] = at
        reasons.append(RejectReason(vi, en))
    return tuple(reasons)


def _topics(raw: Mapping, problems: _Problems) -> list[tuple[str, TopicSpec]]:
    parsed: list[tuple[str, TopicSpec]] = []
    for index, where, item in _entries(raw, "topics", TOPIC_FIELDS, problems):
        code = _code(item, "code", where, problems)
        name_vi = _name(item, "name_vi", where, problems)
        name_en = _name(item, "name_en", where, problems)
        route_to = _choice(item, "route_to", where, RouteTo, problems)
        department = None
        if item.get("department") is not None:
            department = _code(item, "department", where, problems)
        elif route_to is RouteTo.DEPARTMENT:
            problems.add(_join(where, "department"), "required when route_to is department")
        if code and name_vi and name_en and route_to:
            # The file's order is the keyboard's order.
            parsed.append((where, TopicSpec(code, name_vi, name_en, route_to, department, index + 1)))
    _check_duplicates(parsed, problems)
    return parsed


def _check_duplicates(parsed: Sequence[tuple[str, AgencySpec | TopicSpec]], problems: _Problems) -> None:
    # Case-insensitive: "xa-05" next to "XA-05" is a typo, not a second agency.
    first_seen: dict[str, str] = {}
    for where, spec in parsed:
        key = spec.code.casefold()
        if key in first_seen:
            problems.add(_join(where, "code"), f'duplicate code "{spec.code}" (first at {first_seen[key]})')
        else:
            first_seen[key] = where


def _check_references(
    kinds: Mapping[str, AgencyKind | None],
    topics: Sequence[tuple[str, TopicSpec]],
    default_agency: str | None,
    problems: _Problems,
) -> None:
    if default_agency is not None and default_agency not in kinds:
        problems.add("default_agency", f'unknown agency "{default_agency}"')
    for where, topic in topics:
        if topic.department is None:
            continue
        if topic.department not in kinds:
            problems.add(_join(where, "department"), f'unknown agency "{topic.department}"')
        elif kinds[topic.department] is AgencyKind.COMMUNE:
            problems.add(
                _join(where, "department"),
                f'"{topic.department}" is a commune; a topic\'s department must be a provincial agency',
            )


def _check_communes(
    agencies: Sequence[tuple[str, AgencySpec]], province_boundary: BaseGeometry | None, problems: _Problems
) -> None:
    """Catch outlines that would silently misroute: duplicates, and communes in another place."""
    located = [(where, spec) for where, spec in agencies if spec.boundary is not None]
    geometries = [spec.boundary for _, spec in located]
    tree = shapely.STRtree(geometries)
    for i, (where, spec) in enumerate(located):
        geometry = geometries[i]
        for j in tree.query(geometry, predicate="intersects"):
            if j <= i:
                continue
            other = geometries[j]
            overlap = shapely.area(shapely.intersection(geometry, other))
            smaller = min(shapely.area(geometry), shapely.area(other))
            if smaller > 0 and overlap / smaller > MAX_OVERLAP_SHARE:
                other_where, other_spec = located[j]
                problems.add(
                    _join(where, "boundary"),
                    f'overlaps {other_where} ("{other_spec.code}") by {overlap / smaller:.0%} '
                    "of the smaller commune; a place must belong to one commune",
                )
        if province_boundary is not None and not shapely.intersects(geometry, province_boundary):
            problems.add(_join(where, "boundary"), f'commune "{spec.code}" lies entirely outside the province boundary')


# --- geometry -------------------------------------------------------------------


def _optional_boundary(raw: Mapping, where: str, base_dir: Path, problems: _Problems) -> BaseGeometry | None:
    value = raw.get("boundary")
    if value is None:
        return None
    return _boundary(value, _join(where, "boundary"), base_dir, problems)


def _boundary(value: Any, where: str, base_dir: Path, problems: _Problems) -> BaseGeometry | None:
    """A polygonal area from a GeoJSON geometry, Feature, FeatureCollection or a file holding one."""
    if isinstance(value, str):
        path = base_dir / value
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            problems.add(where, f'cannot read "{path}": {exc.__class__.__name__}: {exc}')
            return None
        except json.JSONDecodeError as exc:
            problems.add(where, f'"{path}" is not valid GeoJSON: {exc}')
            return None
    geometry = _geojson_area(value, where, problems)
    if geometry is None or not _check_area(geometry, where, problems):
        return None
    return geometry


def _geojson_area(value: Any, where: str, problems: _Problems) -> BaseGeometry | None:
    if not isinstance(value, Mapping):
        problems.add(
            where,
            f"must be a GeoJSON geometry, Feature, FeatureCollection or a file path, got {_kind_of(value)}",
        )
        return None
    kind = value.get("type")
    if kind == "Feature":
        return _geojson_area(value.get("geometry"), f"{where}.geometry", problems)
    if kind == "FeatureCollection":
        features = value.get("features")
        if not isinstance(features, list) or not features:
            problems.add(where, "FeatureCollection has no features")
            return None
        parts = [_geojson_area(feature, _join(f"{where}.features", i), problems) for i, feature in enumerate(features)]
        if any(part is None for part in parts):
            return None
        # Parts of one area (islands, exclaves) may share edges, which a
        # MultiPolygon forbids; dissolving them gives a valid single area.
        return parts[0] if len(parts) == 1 else shapely.union_all(parts)
    if kind not in POLYGONAL:
        expected = "a Polygon or MultiPolygon" if kind in GEOMETRY_TYPES else "a GeoJSON geometry"
        problems.add(where, f"must be {expected}, got type {kind!r}")
        return None
    try:
        geometry = shape(value)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, GEOSException) as exc:
        problems.add(where, f"malformed {kind} coordinates: {exc}")
        return None
    return geometry


def _check_area(geometry: BaseGeometry, where: str, problems: _Problems) -> bool:
    if geometry.is_empty:
        problems.add(where, "the area is empty")
        return False
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        problems.add(
            where,
            f"coordinates out of range (lon {min_lon:g}..{max_lon:g}, lat {min_lat:g}..{max_lat:g}); "
            "GeoJSON order is [longitude, latitude] in WGS 84 degrees",
        )
        return False
    if not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        problems.add(where, f"invalid polygon: {reason}: {_explain(reason)}")
        return False
    if geometry.area == 0:
        problems.add(where, "the area is zero (all corners on one line)")
        return False
    return True


def _explain(reason: str) -> str:
    for prefix, explanation in INVALID_REASONS.items():
        if reason.startswith(prefix):
            return explanation
    return "see the GEOS validity rules for polygons"


# --- import ---------------------------------------------------------------------


async def import_province(session: AsyncSession, data: ProvinceFile) -> ImportSummary:
    """Write a checked province file into the database, in place by code.

    Runs in the caller's transaction and only flushes: the CLI commits, or
    rolls back for a dry run. Rows are never deleted because reports point at
    them; agencies and topics the file no longer lists are deactivated.
    """
    existing_provinces = list(await session.scalars(select(Province)))
    others = [row.code for row in existing_provinces if row.code != data.code]
    if others:
        raise ProvinceFileError(
            [f'code: the database serves province "{others[0]}"; refusing to import "{data.code}" over it']
        )
    now = utcnow()
    agencies, agency_counts = await _import_agencies(session, data.agencies, now)
    topic_counts = await _import_topics(session, data.topics, agencies, now)
    any_change = _counts_changed(agency_counts) or _counts_changed(topic_counts)
    province_counts = _import_province_row(
        session, existing_provinces[0] if existing_provinces else None, data, agencies, now, any_change
    )
    await session.flush()
    return ImportSummary(province=province_counts, agencies=agency_counts, topics=topic_counts)


def _counts_changed(counts: ChangeCounts) -> bool:
    return bool(counts.added or counts.updated or counts.deactivated)


def _assign(row: object, values: Mapping[str, Any]) -> bool:
    """Set the values that differ; whether anything did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


_Row = TypeVar("_Row", Agency, Topic)
_Spec = TypeVar("_Spec", AgencySpec, TopicSpec)


async def _upsert_by_code(
    session: AsyncSession,
    model: type[_Row],
    specs: Sequence[_Spec],
    values_of: Callable[[_Spec], dict[str, Any]],
    now: datetime,
) -> tuple[dict[str, _Row], ChangeCounts]:
    """A row per spec, added or updated in place by code; the active rows the file no longer lists are deactivated."""
    rows = {row.code: row for row in await session.scalars(select(model))}
    added = updated = unchanged = deactivated = 0
    listed = set()
    for spec in specs:
        listed.add(spec.code)
        values = values_of(spec)
        row = rows.get(spec.code)
        if row is None:
            row = model(code=spec.code, updated_at=now, **values)
            session.add(row)
            rows[spec.code] = row
            added += 1
        elif _assign(row, values):
            row.updated_at = now
            updated += 1
        else:
            unchanged += 1
    for code, row in rows.items():
        if code not in listed and row.active:
            row.active = False
            row.updated_at = now
            deactivated += 1
    return rows, ChangeCounts(added, updated, unchanged, deactivated)


def _agency_values(spec: AgencySpec) -> dict[str, Any]:
    return {
        "kind": spec.kind,
        "name_vi": spec.name_vi,
        "name_en": spec.name_en,
        "boundary_geojson": geometry_to_geojson(spec.boundary) if spec.boundary is not None else None,
        "office_hours_json": weekly_hours_to_json(spec.office_hours) if spec.office_hours is not None else None,
        "reject_reasons_json": reject_reasons_to_json(spec.reject_reasons),
        "active": True,
    }


async def _import_agencies(
    session: AsyncSession, specs: Sequence[AgencySpec], now: datetime
) -> tuple[dict[str, Agency], ChangeCounts]:
    rows, counts = await _upsert_by_code(session, Agency, specs, _agency_values, now)
    # New agencies need their ids before topics and the province refer to them.
    await session.flush()
    return rows, counts


async def _import_topics(
    session: AsyncSession, specs: Sequence[TopicSpec], agencies: Mapping[str, Agency], now: datetime
) -> ChangeCounts:
    def values_of(spec: TopicSpec) -> dict[str, Any]:
        return {
            "name_vi": spec.name_vi,
            "name_en": spec.name_en,
            "position": spec.position,
            "route_to": spec.route_to,
            "department_id": agencies[spec.department].id if spec.department else None,
            "active": True,
        }

    _rows, counts = await _upsert_by_code(session, Topic, specs, values_of, now)
    return counts


def _import_province_row(
    session: AsyncSession,
    row: Province | None,
    data: ProvinceFile,
    agencies: Mapping[str, Agency],
    now: datetime,
    others_changed: bool,
) -> ChangeCounts:
    values = {
        "name_vi": data.name_vi,
        "name_en": data.name_en,
        "default_agency_id": agencies[data.default_agency].id,
        "boundary_geojson": geometry_to_geojson(data.boundary) if data.boundary is not None else None,
        "nearest_km": data.nearest_km,
        "calendar_json": calendar_to_json(data.extra_days_off, data.extra_working_days),
        "office_hours_json": weekly_hours_to_json(data.office_hours) if data.office_hours is not None else None,
        "deadlines_json": province_limits_to_json(data.deadlines),
        "reject_reasons_json": reject_reasons_to_json(data.reject_reasons),
    }
    if row is None:
        session.add(Province(code=data.code, updated_at=now, **values))
        return ChangeCounts(added=1)
    changed = _assign(row, values)
    if changed or others_changed:
        # The province row's timestamp is the version of the whole import,
        # which running bots compare to know their router is stale.
        row.updated_at = now
    return ChangeCounts(updated=1) if changed else ChangeCounts(unchanged=1)
