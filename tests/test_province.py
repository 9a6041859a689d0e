"""The province file: reading, checking, and importing it (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import json
import unicodedata
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import shapely
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.deadlines import province_limits_from_json
from bot.domain.office_hours import calendar_from_json, weekly_hours_from_json
from bot.domain.province import (
    ChangeCounts,
    ProvinceFile,
    ProvinceFileError,
    geometry_from_geojson,
    import_province,
    load_province_file,
    parse_province,
)
from storage.models.province import Agency, AgencyKind, Province, RouteTo, Topic

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEMO = EXAMPLES / "demo-province.yaml"

ART_3_3_TOPICS = (
    "security_order",
    "urban_order",
    "traffic_safety",
    "environment",
    "food_safety",
    "culture_public",
    "culture_office",
    "ideas",
    "other",
)


def demo_raw() -> dict[str, Any]:
    return yaml.safe_load(DEMO.read_text(encoding="utf-8"))


def parse(raw: Any) -> ProvinceFile:
    return parse_province(raw, base_dir=EXAMPLES)


def problems_of(raw: Any) -> tuple[str, ...]:
    with pytest.raises(ProvinceFileError) as caught:
        parse(raw)
    return caught.value.problems


def agency_index(raw: dict[str, Any], code: str) -> int:
    return next(i for i, item in enumerate(raw["agencies"]) if item["code"] == code)


def square(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


# Corners in the wrong order: the outline crosses itself.
BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[106.0, 22.0], [106.1, 22.1], [106.1, 22.0], [106.0, 22.1], [106.0, 22.0]]],
}


# --- the demo file ------------------------------------------------------------------


def test_demo_file_is_a_complete_fictional_province() -> None:
    data = load_province_file(DEMO)

    assert data.code == "DEMO"
    assert "hư cấu" in data.name_vi and "fictional" in data.name_en
    kinds = [spec.kind for spec in data.agencies]
    assert kinds.count(AgencyKind.PROVINCIAL_OFFICE) == 1
    assert kinds.count(AgencyKind.FOCAL_UNIT) == 1
    assert data.agency("SO-KHCN").kind is AgencyKind.FOCAL_UNIT
    assert 4 <= kinds.count(AgencyKind.DEPARTMENT) <= 5
    assert kinds.count(AgencyKind.COMMUNE) == 12
    assert data.agency(data.default_agency).kind is AgencyKind.PROVINCIAL_OFFICE
    assert tuple(topic.code for topic in data.topics) == ART_3_3_TOPICS
    assert [topic.position for topic in data.topics] == list(range(1, 10))
    assert data.nearest_km == 3.0
    assert data.extra_days_off == (date(2026, 11, 16),)
    assert data.extra_working_days == (date(2026, 11, 21),)
    assert data.extra_working_days[0].weekday() == 5  # a make-up Saturday


def test_demo_communes_do_not_overlap_and_leave_forest_inside_the_boundary() -> None:
    data = load_province_file(DEMO)
    communes = [spec.boundary for spec in data.agencies if spec.kind is AgencyKind.COMMUNE]
    union = shapely.union_all(communes)
    assert union.area == pytest.approx(sum(area.area for area in communes))
    assert data.boundary is not None and data.boundary.contains(union)
    assert data.boundary.area > 2 * union.area


def test_every_text_is_nfc() -> None:
    data = load_province_file(DEMO)
    texts = [data.name_vi, data.name_en]
    texts += [name for spec in data.agencies for name in (spec.name_vi, spec.name_en)]
    texts += [name for spec in data.topics for name in (spec.name_vi, spec.name_en)]
    assert all(unicodedata.is_normalized("NFC", text) for text in texts)


def test_decomposed_and_spaced_input_is_normalised() -> None:
    raw = demo_raw()
    raw["agencies"][0]["name_vi"] = unicodedata.normalize("NFD", "  Văn phòng   UBND tỉnh ")
    data = parse(raw)
    assert data.agencies[0].name_vi == unicodedata.normalize("NFC", "Văn phòng UBND tỉnh")


# --- equivalent inputs ----------------------------------------------------------------


def test_json_file_is_equivalent_to_yaml(tmp_path: Path) -> None:
    path = tmp_path / "province.json"
    path.write_text(json.dumps(demo_raw(), default=str, ensure_ascii=False), encoding="utf-8")
    assert load_province_file(path) == load_province_file(DEMO)


def test_json_content_is_recognised_without_extension(tmp_path: Path) -> None:
    path = tmp_path / "province.txt"
    path.write_text(json.dumps(demo_raw(), default=str), encoding="utf-8")
    assert load_province_file(path) == load_province_file(DEMO)


def test_boundary_accepts_feature_collection_and_relative_path(tmp_path: Path) -> None:
    raw = demo_raw()
    province_outline = raw["boundary"]
    commune = raw["agencies"][agency_index(raw, "XA-01")]
    commune_outline = commune["boundary"]
    (tmp_path / "shapes").mkdir()
    (tmp_path / "shapes" / "demo.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {}, "geometry": province_outline}],
            }
        )
    )
    raw["boundary"] = "shapes/demo.geojson"
    commune["boundary"] = {"type": "Feature", "properties": {"ten": "Hòa Bình"}, "geometry": commune_outline}
    path = tmp_path / "province.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")

    assert load_province_file(path) == load_province_file(DEMO)


def test_feature_collection_parts_are_dissolved_into_one_area() -> None:
    raw = demo_raw()
    west, east = square(106.0, 22.5, 106.25, 22.9), square(106.25, 22.5, 106.5, 22.9)
    raw["boundary"] = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": west}, {"type": "Feature", "geometry": east}],
    }
    boundary = parse(raw).boundary
    assert boundary is not None and boundary.is_valid
    assert boundary.area == pytest.approx(0.5 * 0.4)


# --- validation ----------------------------------------------------------------------------


def test_all_problems_are_reported_at_once_with_their_place() -> None:
    raw = demo_raw()
    xa05 = agency_index(raw, "XA-05")
    raw["agencies"][xa05 + 1]["code"] = "XA-05"
    del raw["agencies"][0]["name_en"]
    raw["agencies"][1]["kind"] = "ministry"
    raw["topics"][2]["department"] = "SO-XYZ"
    raw["topics"][4]["route_to"] = "department"
    del raw["topics"][4]["department"]
    raw["topics"][1]["department"] = "XA-01"
    raw["default_agency"] = "NOPE"
    raw["nearest_km"] = -1
    raw["agencies"][2]["boundary"] = raw["agencies"][xa05]["boundary"]
    raw["calendar"]["extra_days_off"].append("2026-02-30")
    raw["topics"][0]["name_vn"] = "typo"

    problems = problems_of(raw)

    assert f'agencies[{xa05 + 1}].code: duplicate code "XA-05" (first at agencies[{xa05}])' in problems
    assert "agencies[0].name_en: missing required field" in problems
    assert (
        'agencies[1].kind: unknown value "ministry" '
        "(expected one of: department, commune, provincial_office, focal_unit)"
    ) in problems
    assert 'topics[2].department: unknown agency "SO-XYZ"' in problems
    assert "topics[4].department: required when route_to is department" in problems
    assert any(p.startswith('topics[1].department: "XA-01" is a commune') for p in problems)
    assert 'default_agency: unknown agency "NOPE"' in problems
    assert "nearest_km: must be between 0 and 50 km, got -1" in problems
    assert 'agencies[2].boundary: only communes have a boundary (kind is "department")' in problems
    assert "calendar.extra_days_off[1]: not a date (YYYY-MM-DD): '2026-02-30'" in problems
    assert any(p.startswith("topics[0].name_vn: unknown field") for p in problems)
    assert len(problems) == 11, problems


def test_invalid_polygon_is_explained() -> None:
    raw = demo_raw()
    index = agency_index(raw, "XA-03")
    raw["agencies"][index]["boundary"] = BOWTIE
    (problem,) = problems_of(raw)
    assert problem.startswith(f"agencies[{index}].boundary: invalid polygon: Self-intersection")
    assert "crosses itself" in problem


def test_swapped_coordinates_are_caught() -> None:
    raw = demo_raw()
    ring = raw["boundary"]["coordinates"][0]
    raw["boundary"]["coordinates"][0] = [[lat, lon] for lon, lat in ring]
    (problem,) = problems_of(raw)
    assert problem.startswith("boundary: coordinates out of range")
    assert "[longitude, latitude]" in problem


def test_malformed_and_wrong_geometries() -> None:
    raw = demo_raw()
    point, line, absent = agency_index(raw, "XA-01"), agency_index(raw, "XA-02"), agency_index(raw, "XA-03")
    raw["agencies"][point]["boundary"] = {"type": "Point", "coordinates": [106.1, 22.6]}
    raw["agencies"][line]["boundary"] = {"type": "Polygon", "coordinates": [[[106.1, 22.6]]]}
    raw["agencies"][absent]["boundary"] = "missing.geojson"
    problems = problems_of(raw)
    assert f"agencies[{point}].boundary: must be a Polygon or MultiPolygon, got type 'Point'" in problems
    assert any(p.startswith(f"agencies[{line}].boundary: malformed Polygon coordinates") for p in problems)
    assert any(p.startswith(f"agencies[{absent}].boundary: cannot read") for p in problems)
    assert len(problems) == 3


def test_overlapping_communes_and_communes_elsewhere() -> None:
    raw = demo_raw()
    first, second, last = agency_index(raw, "XA-01"), agency_index(raw, "XA-02"), agency_index(raw, "XA-12")
    raw["agencies"][second]["boundary"] = raw["agencies"][first]["boundary"]
    raw["agencies"][last]["boundary"] = square(105.0, 21.0, 105.1, 21.1)
    problems = problems_of(raw)
    assert problems == (
        f'agencies[{first}].boundary: overlaps agencies[{second}] ("XA-02") by 100% of the smaller commune; '
        "a place must belong to one commune",
        f'agencies[{last}].boundary: commune "XA-12" lies entirely outside the province boundary',
    )


def test_yaml_types_that_are_not_text() -> None:
    raw = demo_raw()
    raw["code"] = 1
    raw["agencies"] = "none"
    raw["topics"] = []
    problems = problems_of(raw)
    assert "code: must be text, got int 1 (quote it in YAML)" in problems
    assert "agencies: must be a list, got str 'none'" in problems
    assert "topics: must list at least one entry" in problems


def test_codes_must_be_plain_ascii() -> None:
    raw = demo_raw()
    raw["topics"][0]["code"] = "an ninh"
    raw["agencies"][0]["code"] = "X" * 40
    problems = problems_of(raw)
    assert 'topics[0].code: code "an ninh" may use only ASCII letters, digits, "-", "_" and "."' in problems
    assert any(p.startswith("agencies[0].code: code") and "longer than 32" in p for p in problems)


def test_calendar_day_cannot_be_off_and_working() -> None:
    raw = demo_raw()
    raw["calendar"]["extra_working_days"].append(date(2026, 11, 16))
    assert problems_of(raw) == ("calendar: 2026-11-16 is both an extra day off and an extra working day",)


def test_province_office_hours_and_deadlines_are_checked() -> None:
    raw = demo_raw()
    raw["office_hours"] = {"mon-fri": ["07:00-11:00", "13:00-17:00"], "sat": ["07:30-11:30"]}
    raw["deadlines"] = {"receive_hours": 4, "handle_days": 5.5}
    data = parse(raw)
    assert data.office_hours is not None and data.office_hours.total(5) == timedelta(hours=4)
    assert data.deadlines == {"receive_hours": 4.0, "handle_days": 5.5}

    raw["office_hours"] = {"mon-fry": ["07:00-11:00"]}
    raw["deadlines"] = {
        "receive_hours": 0,
        "handle_days": "7",
        "urgent_handle_hours": True,
        "dispatch_hours": 5000,
        "answer_days": 7,
    }
    assert problems_of(raw) == (
        "office_hours: 'mon-fry' is not a weekday or range of weekdays (mon, tue, wed, thu, fri, sat, sun)",
        "deadlines.receive_hours: must be more than 0 and at most 2000 working hours, got 0",
        "deadlines.handle_days: must be a number of working days, got '7'",
        "deadlines.urgent_handle_hours: must be a number of working hours, got True",
        "deadlines.dispatch_hours: must be more than 0 and at most 2000 working hours, got 5000",
        "deadlines.answer_days: unknown field (expected one of: clarification_answer_days, dispatch_hours, "
        "handle_days, receive_hours, urgent_handle_hours)",
    )
    raw["office_hours"], raw["deadlines"] = ["07:30-11:30"], [8]
    assert [p.split(":")[0] for p in problems_of(raw)] == ["office_hours", "deadlines"]


def test_unreadable_or_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ProvinceFileError, match="cannot read file"):
        load_province_file(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("code: DEMO\nagencies: [\n", encoding="utf-8")
    with pytest.raises(ProvinceFileError, match="invalid YAML"):
        load_province_file(broken)
    broken_json = tmp_path / "broken.json"
    broken_json.write_text('{"code": ', encoding="utf-8")
    with pytest.raises(ProvinceFileError, match="invalid JSON"):
        load_province_file(broken_json)
    with pytest.raises(ProvinceFileError, match="expected a mapping"):
        parse(["not", "a", "mapping"])


# --- import --------------------------------------------------------------------------------


async def count(session: AsyncSession, model: type) -> int:
    return await session.scalar(select(func.count()).select_from(model))


async def test_import_creates_every_row(session: AsyncSession) -> None:
    data = load_province_file(DEMO)
    summary = await import_province(session, data)
    await session.commit()

    assert summary.province == ChangeCounts(added=1)
    assert summary.agencies == ChangeCounts(added=19)
    assert summary.topics == ChangeCounts(added=9)
    assert summary.changed

    province = await session.scalar(select(Province))
    assert province is not None and province.code == "DEMO"
    default = await session.get(Agency, province.default_agency_id)
    assert default is not None and default.code == "VP-UBND"
    assert province.nearest_km == 3.0
    assert calendar_from_json(province.calendar_json) == ((date(2026, 11, 16),), (date(2026, 11, 21),))
    assert geometry_from_geojson(province.boundary_geojson) == data.boundary

    commune = await session.scalar(select(Agency).where(Agency.code == "XA-03"))
    assert commune is not None and commune.kind is AgencyKind.COMMUNE and commune.active
    assert commune.name_vi == "UBND xã Hòa Bình Thượng"
    assert geometry_from_geojson(commune.boundary_geojson) == data.agency("XA-03").boundary

    food = await session.scalar(select(Topic).where(Topic.code == "food_safety"))
    assert food is not None and food.route_to is RouteTo.DEPARTMENT and food.position == 5
    health = await session.get(Agency, food.department_id)
    assert health is not None and health.code == "SO-YT"


async def test_reimport_updates_in_place_and_deactivates(sessions: async_sessionmaker[AsyncSession]) -> None:
    original = demo_raw()
    async with sessions() as session:
        await import_province(session, parse(original))
        await session.commit()
        ids = dict((await session.execute(select(Agency.code, Agency.id))).all())
        first_version = await session.scalar(select(Province.updated_at))

    async with sessions() as session:
        unchanged = await import_province(session, parse(original))
        await session.commit()
        assert not unchanged.changed
        assert unchanged.agencies == ChangeCounts(unchanged=19)
        assert await session.scalar(select(Province.updated_at)) == first_version

    changed = copy.deepcopy(original)
    changed["agencies"][agency_index(changed, "XA-02")]["name_vi"] = "UBND phường Minh Họa Mới"
    del changed["agencies"][agency_index(changed, "XA-12")]
    changed["topics"] = [topic for topic in changed["topics"] if topic["code"] != "ideas"]
    async with sessions() as session:
        summary = await import_province(session, parse(changed))
        await session.commit()
        assert summary.agencies == ChangeCounts(updated=1, unchanged=17, deactivated=1)
        # "other" moved up one place in the keyboard.
        assert summary.topics == ChangeCounts(updated=1, unchanged=7, deactivated=1)
        assert summary.province == ChangeCounts(unchanged=1)
        assert await session.scalar(select(Province.updated_at)) > first_version

        assert await count(session, Agency) == 19
        assert await count(session, Topic) == 9
        assert await count(session, Province) == 1
        assert dict((await session.execute(select(Agency.code, Agency.id))).all()) == ids
        renamed = await session.scalar(select(Agency).where(Agency.code == "XA-02"))
        assert renamed is not None and renamed.name_vi == "UBND phường Minh Họa Mới" and renamed.active
        gone = await session.scalar(select(Agency).where(Agency.code == "XA-12"))
        assert gone is not None and not gone.active
        ideas = await session.scalar(select(Topic).where(Topic.code == "ideas"))
        assert ideas is not None and not ideas.active

    async with sessions() as session:
        restored = await import_province(session, parse(original))
        await session.commit()
        assert restored.agencies == ChangeCounts(updated=2, unchanged=17)
        assert restored.topics == ChangeCounts(added=0, updated=2, unchanged=7)
        assert await count(session, Agency) == 19
        back = await session.scalar(select(Agency).where(Agency.code == "XA-12"))
        assert back is not None and back.active and back.id == ids["XA-12"]


async def test_province_settings_update(session: AsyncSession) -> None:
    raw = demo_raw()
    await import_province(session, parse(raw))
    raw["nearest_km"] = 1.5
    raw["name_en"] = "Demo Province (fictional, renamed)"
    del raw["boundary"]
    del raw["calendar"]
    summary = await import_province(session, parse(raw))
    assert summary.province == ChangeCounts(updated=1)
    province = await session.scalar(select(Province))
    assert province is not None
    assert province.nearest_km == 1.5 and province.boundary_geojson is None
    assert province.name_en == "Demo Province (fictional, renamed)"
    assert calendar_from_json(province.calendar_json) == ((), ())

    # The province's own office hours and limits are stored with it, and forgotten when the file drops them.
    raw["office_hours"] = {"mon-fri": ["07:00-11:00", "13:00-17:00"]}
    raw["deadlines"] = {"dispatch_hours": 2}
    assert (await import_province(session, parse(raw))).province == ChangeCounts(updated=1)
    assert weekly_hours_from_json(province.office_hours_json or "") == parse(raw).office_hours
    assert province_limits_from_json(province.deadlines_json) == {"dispatch_hours": 2.0}
    del raw["office_hours"], raw["deadlines"]
    await import_province(session, parse(raw))
    assert province.office_hours_json is None and province.deadlines_json is None


async def test_import_refuses_another_province(session: AsyncSession) -> None:
    await import_province(session, load_province_file(DEMO))
    raw = demo_raw()
    raw["code"] = "OTHER"
    with pytest.raises(ProvinceFileError, match='serves province "DEMO"'):
        await import_province(session, parse(raw))


async def test_nfc_is_what_the_database_stores(session: AsyncSession) -> None:
    raw = demo_raw()
    decomposed = unicodedata.normalize("NFD", "UBND xã Đồng Tâm")
    raw["agencies"][agency_index(raw, "XA-04")]["name_vi"] = decomposed
    await import_province(session, parse(raw))
    stored = await session.scalar(select(Agency.name_vi).where(Agency.code == "XA-04"))
    assert stored == unicodedata.normalize("NFC", decomposed) != decomposed
