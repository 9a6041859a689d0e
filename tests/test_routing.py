"""Routing a report to its agency by place and topic, on the fictional demo province."""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import pytest
import shapely
import yaml
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.province import (
    AgencySpec,
    ProvinceFile,
    TopicSpec,
    import_province,
    load_province_file,
    parse_province,
)
from bot.domain.routing import Route, RouteKind, Router, RouterCache, fold
from storage.models.province import Agency, AgencyKind, RouteTo
from tests.places import EAST_OF_XA_08, FOREST, HANOI, IN_XA_01, NORTH_FOREST

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEMO = EXAMPLES / "demo-province.yaml"


@pytest.fixture(scope="module")
def demo() -> ProvinceFile:
    return load_province_file(DEMO)


@pytest.fixture(scope="module")
def router(demo: ProvinceFile) -> Router:
    return Router.from_file(demo)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


# --- place rule ---------------------------------------------------------------------------


def test_every_commune_owns_a_point_inside_it(demo: ProvinceFile, router: Router) -> None:
    for spec in demo.agencies:
        if spec.kind is not AgencyKind.COMMUNE:
            continue
        inside = spec.boundary.representative_point()
        assert router.locate(inside.y, inside.x) == Route(RouteKind.POLYGON, spec.code, spec.code, 0.0)


def test_point_on_a_shared_edge_goes_to_the_same_commune_every_time(router: Router) -> None:
    # The corner (106.101, 22.603) is shared by XA-01, XA-02, XA-05 and XA-06;
    # the lowest code takes it, whatever the order of the file.
    assert router.locate(22.603, 106.101) == Route(RouteKind.POLYGON, "XA-01", "XA-01", 0.0)
    # A point on an outer edge counts as inside.
    assert router.locate(22.52, 106.05).agency_code == "XA-01"


def test_the_order_of_the_file_does_not_matter(demo: ProvinceFile, router: Router) -> None:
    reordered = ProvinceFile(**{**demo.__dict__, "agencies": demo.agencies[::-1], "topics": demo.topics[::-1]})
    assert Router.from_file(reordered) == router
    assert Router.from_file(reordered).locate(22.603, 106.101).agency_code == "XA-01"


def test_nearest_commune_within_reach(router: Router) -> None:
    route = router.locate(*EAST_OF_XA_08)
    assert route.kind is RouteKind.NEAREST
    assert route.agency_code == route.commune_code == "XA-08"
    # The grid's east edge is the meridian 106.30 there.
    assert route.distance_km == pytest.approx(haversine_km(22.65, 106.31, 22.65, 106.30), rel=1e-3)
    assert route.distance_km == pytest.approx(1.03, abs=0.01)


def test_nearest_uses_kilometres_not_degrees(router: Router) -> None:
    # 0.028° of longitude is 2.9 km here but 0.028° of latitude is 3.1 km:
    # a point is in reach east of the grid and out of reach at the same
    # number of degrees north of it.
    east = router.locate(22.65, 106.328)
    north = router.locate(22.818, 106.05)
    assert east.kind is RouteKind.NEAREST and east.distance_km == pytest.approx(2.87, abs=0.01)
    assert north.kind is RouteKind.DEFAULT


def test_nearest_picks_the_closest_commune(router: Router) -> None:
    # North of the grid, closer to XA-10 (edge at 22.79) than to anything else.
    route = router.locate(22.80, 106.12)
    assert route.kind is RouteKind.NEAREST and route.agency_code == "XA-10"
    assert route.distance_km == pytest.approx(haversine_km(22.80, 106.12, 22.79, 106.12), rel=1e-3)


def test_default_agency_inside_the_boundary_far_from_communes(router: Router) -> None:
    for place in (FOREST, NORTH_FOREST, (22.65, 106.34)):
        assert router.locate(*place) == Route(RouteKind.DEFAULT, "VP-UBND", None, None)


def test_outside_the_province(router: Router) -> None:
    assert router.locate(*HANOI) == Route(RouteKind.OUTSIDE, None, None, None)
    # West of the boundary and more than 3 km from the nearest commune.
    assert router.locate(22.66, 105.95).kind is RouteKind.OUTSIDE


def test_just_across_the_border_still_reaches_the_commune(router: Router) -> None:
    # 2.6 km from XA-01 but outside the outline: GPS error near a border
    # should not refuse a report about the commune next to it.
    route = router.locate(22.56, 105.995)
    assert route.kind is RouteKind.NEAREST and route.agency_code == "XA-01"


def test_without_explicit_boundary_the_communes_are_the_province(demo: ProvinceFile) -> None:
    router = Router.from_file(ProvinceFile(**{**demo.__dict__, "boundary": None}))
    assert router.locate(*FOREST).kind is RouteKind.OUTSIDE
    assert router.locate(*EAST_OF_XA_08).kind is RouteKind.NEAREST
    # A hole between communes is inside their union's outline only if
    # enclosed; the demo grid has none, so inside means inside a commune.
    assert router.locate(*IN_XA_01).kind is RouteKind.POLYGON


def test_nearest_can_be_turned_off(demo: ProvinceFile) -> None:
    router = Router.from_file(ProvinceFile(**{**demo.__dict__, "nearest_km": 0.0}))
    assert router.locate(*EAST_OF_XA_08).kind is RouteKind.DEFAULT


def test_a_province_without_outlines_refuses_nothing() -> None:
    data = ProvinceFile(
        code="X",
        name_vi="Tỉnh X",
        name_en="X Province",
        default_agency="VP",
        agencies=(
            AgencySpec("VP", AgencyKind.PROVINCIAL_OFFICE, "Văn phòng", "Office"),
            AgencySpec("XA-1", AgencyKind.COMMUNE, "UBND xã Yên Bình", "Yen Binh Commune"),
        ),
        topics=(TopicSpec("other", "Khác", "Other", RouteTo.COMMUNE, None, 1),),
    )
    router = Router.from_file(data)
    assert router.locate(*HANOI) == Route(RouteKind.DEFAULT, "VP", None, None)
    assert router.route(topic_code="other", lat=None, lon=None, address="xa yen binh").agency_code == "XA-1"


def test_invalid_positions_are_refused(router: Router) -> None:
    for lat, lon in ((91.0, 106.0), (22.0, 181.0), (math.nan, 106.0), (22.0, math.inf)):
        with pytest.raises(ValueError):
            router.locate(lat, lon)


# --- topic rule ---------------------------------------------------------------------------


def test_commune_topic_follows_the_place(router: Router) -> None:
    for place in (IN_XA_01, EAST_OF_XA_08, FOREST, HANOI):
        routed = router.route(topic_code="environment", lat=place[0], lon=place[1], address=None)
        assert routed == router.locate(*place)


def test_department_topic_goes_to_its_department_anywhere_in_the_province(router: Router) -> None:
    in_commune = router.route(topic_code="food_safety", lat=IN_XA_01[0], lon=IN_XA_01[1], address=None)
    assert in_commune == Route(RouteKind.DEPARTMENT, "SO-YT", "XA-01", 0.0)
    in_forest = router.route(topic_code="food_safety", lat=FOREST[0], lon=FOREST[1], address=None)
    assert in_forest == Route(RouteKind.DEPARTMENT, "SO-YT", None, None)
    office = router.route(topic_code="culture_office", lat=None, lon=None, address="UBND xã Yên Lạc")
    assert office == Route(RouteKind.DEPARTMENT, "VP-UBND", "XA-11", None)


def test_department_topic_outside_the_province_is_refused(router: Router) -> None:
    route = router.route(topic_code="food_safety", lat=HANOI[0], lon=HANOI[1], address=None)
    assert route == Route(RouteKind.OUTSIDE, None, None, None)


def test_unknown_topic(router: Router) -> None:
    with pytest.raises(ValueError, match="unknown topic"):
        router.route(topic_code="khieu_nai", lat=IN_XA_01[0], lon=IN_XA_01[1], address=None)


def test_latitude_without_longitude(router: Router) -> None:
    with pytest.raises(ValueError):
        router.route(topic_code="other", lat=22.6, lon=None, address=None)


def test_no_place_at_all_goes_to_the_default_agency(router: Router) -> None:
    assert router.route(topic_code="other", lat=None, lon=None, address=None) == Route(
        RouteKind.DEFAULT, "VP-UBND", None, None
    )


def test_point_wins_over_address_except_in_the_gaps(router: Router) -> None:
    inside = router.route(topic_code="other", lat=IN_XA_01[0], lon=IN_XA_01[1], address="xã Tân Việt")
    assert inside.agency_code == "XA-01"
    in_gap = router.route(topic_code="other", lat=FOREST[0], lon=FOREST[1], address="thôn Nà Khoang")
    assert in_gap == Route(RouteKind.ADDRESS, "XA-07", "XA-07", None)
    outside = router.route(topic_code="other", lat=HANOI[0], lon=HANOI[1], address="thôn Nà Khoang")
    assert outside.kind is RouteKind.OUTSIDE


def test_topic_codes(router: Router) -> None:
    assert len(router.topic_codes) == 9 and "food_safety" in router.topic_codes


# --- typed addresses ---------------------------------------------------------------------


def test_fold() -> None:
    assert fold("Phường Hoà Bình!") == fold("PHƯỜNG HÒA BÌNH") == "phuong hoa binh"
    assert fold("Đồng Tâm") == "dong tam"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Phường Hoà Bình", "XA-01"),  # old-style tone mark
        ("số 12 đường Lê Lợi, phường Hòa Bình", "XA-01"),
        ("to 5 hoa binh", "XA-01"),
        ("thôn Nà Pầu, xã Hòa Bình Thượng", "XA-03"),  # longest name wins
        ("hoa binh thuong", "XA-03"),
        ("HÒA BÌNH THƯỢNG, tỉnh Minh Họa", "XA-03"),
        ("Ủy ban nhân dân xã Đồng Tâm", "XA-04"),
        ("dong tam", "XA-04"),
        ("ngõ 3, P. Minh Họa", "XA-02"),
        ("xã Yên Lạc, tỉnh Minh Họa", "XA-11"),  # the province's name is not the ward's
        ("phường Minh Họa, tỉnh Minh Họa", "XA-02"),
        ("Bản Chang", "XA-08"),
    ],
)
def test_address_names_a_commune(router: Router, text: str, code: str) -> None:
    assert router.locate_address(text) == Route(RouteKind.ADDRESS, code, code, None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "gần chợ trung tâm",
        "hoabinh",  # no word boundary
        "hoa binhthuong",
        "xuân",  # part of a name is not the name
        "Bình",
        "tỉnh Minh Họa",
        "huyện Đồng Tâm cũ",
    ],
)
def test_address_without_a_commune_goes_to_the_default_agency(router: Router, text: str) -> None:
    assert router.locate_address(text) == Route(RouteKind.DEFAULT, "VP-UBND", None, None)


def test_a_name_two_communes_share_decides_nothing(demo: ProvinceFile) -> None:
    namesake = AgencySpec("XA-13", AgencyKind.COMMUNE, "UBND xã Hòa Bình", "Hoa Binh Commune")
    agencies = (*demo.agencies, namesake)
    router = Router.from_file(ProvinceFile(**{**demo.__dict__, "agencies": agencies}))
    assert router.locate_address("hoa binh").kind is RouteKind.DEFAULT
    assert router.locate_address("xã Hòa Bình").agency_code == "XA-13"
    assert router.locate_address("phường Hòa Bình").agency_code == "XA-01"


# --- building from the database ----------------------------------------------------------


async def test_router_from_database_equals_router_from_file(session: AsyncSession, demo: ProvinceFile) -> None:
    await import_province(session, demo)
    await session.commit()
    loaded = await Router.load(session)
    assert loaded == Router.from_file(demo)
    for place in (IN_XA_01, EAST_OF_XA_08, FOREST, HANOI):
        assert loaded.locate(*place) == Router.from_file(demo).locate(*place)


async def test_router_skips_deactivated_rows(session: AsyncSession, demo: ProvinceFile) -> None:
    await import_province(session, demo)
    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    smaller = copy.deepcopy(raw)
    smaller["agencies"] = [item for item in smaller["agencies"] if item["code"] != "XA-01"]
    smaller["topics"] = [item for item in smaller["topics"] if item["code"] != "ideas"]
    smaller_file = parse_province(smaller, base_dir=EXAMPLES)
    await import_province(session, smaller_file)
    loaded = await Router.load(session)
    assert loaded == Router.from_file(smaller_file)
    # XA-01's ground is now a gap: near XA-02 it goes there, further west to the default.
    assert loaded.locate(22.56, 106.08).kind is RouteKind.NEAREST
    assert loaded.locate(22.56, 106.08).agency_code == "XA-02"
    assert loaded.locate(*IN_XA_01).kind is RouteKind.DEFAULT
    assert "ideas" not in loaded.topic_codes


async def test_load_without_a_province(session: AsyncSession) -> None:
    with pytest.raises(LookupError):
        await Router.load(session)


async def test_cache_rebuilds_after_an_import(sessions: async_sessionmaker[AsyncSession], demo: ProvinceFile) -> None:
    cache = RouterCache()
    async with sessions() as session:
        await import_province(session, demo)
        await session.commit()
        first = await cache.get(session)
        assert await cache.get(session) is first

    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    raw["default_agency"] = "SO-KHCN"
    async with sessions() as session:
        await import_province(session, parse_province(raw, base_dir=EXAMPLES))
        await session.commit()
    async with sessions() as session:
        second = await cache.get(session)
        assert second is not first
        assert second.locate(*FOREST).agency_code == "SO-KHCN"
        cache.invalidate()
        assert await cache.get(session) == second


async def test_router_ignores_commune_rows_deactivated_by_hand(session: AsyncSession, demo: ProvinceFile) -> None:
    await import_province(session, demo)
    await session.execute(update(Agency).where(Agency.code == "XA-08").values(active=False))
    loaded = await Router.load(session)
    assert loaded.locate(*EAST_OF_XA_08).kind is RouteKind.DEFAULT


# --- scale -----------------------------------------------------------------------------------


def test_thousands_of_communes_stay_fast() -> None:
    # A 60 × 60 grid of 1 km communes: 3,600, more than any province has.
    step = 0.01
    agencies = [AgencySpec("VP", AgencyKind.PROVINCIAL_OFFICE, "Văn phòng", "Office")]
    for row in range(60):
        for col in range(60):
            lon, lat = 105.0 + col * step, 21.0 + row * step
            agencies.append(
                AgencySpec(
                    f"X{row:02d}{col:02d}",
                    AgencyKind.COMMUNE,
                    f"UBND xã Ô {row} {col}",
                    f"Cell {row} {col}",
                    shapely.box(lon, lat, lon + step, lat + step),
                )
            )
    data = ProvinceFile(
        code="BIG",
        name_vi="Tỉnh Lưới",
        name_en="Grid Province",
        default_agency="VP",
        agencies=tuple(agencies),
        topics=(TopicSpec("other", "Khác", "Other", RouteTo.COMMUNE, None, 1),),
    )
    router = Router.from_file(data)
    started = time.perf_counter()
    for i in range(2_000):
        row, col = (i * 7) % 60, (i * 13) % 60
        route = router.locate(21.0 + (row + 0.5) * step, 105.0 + (col + 0.5) * step)
        assert route.agency_code == f"X{row:02d}{col:02d}"
        assert router.locate(20.99, 105.0 + (col + 0.5) * step).kind is RouteKind.NEAREST
    assert time.perf_counter() - started < 5.0
