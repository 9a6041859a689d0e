"""The province the bot serves: its receiving agencies and report topics.

One deployment serves one province, so `provinces` holds a single row. The
rows are written by `congdan admin import-province` (bot/domain/province.py) and read
by the router (bot/domain/routing.py). Reports point at agencies and topics, so rows
are never deleted: a re-import updates them in place by code and deactivates
the ones the file no longer lists.

Geometries are stored as GeoJSON geometry text (WGS 84, [lon, lat] order)
rather than with PostGIS, so the embedded SQLite deployment works the same and
the router does its spatial work in memory with shapely.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow

ID = BigInteger().with_variant(Integer, "sqlite")

CODE_LENGTH = 32
NAME_LENGTH = 255


class AgencyKind(StrEnum):
    # A provincial department (Sở, ban, ngành), 003 Art. 3.4.
    DEPARTMENT = "department"
    # A commune or ward People's Committee (UBND xã, phường), 003 Art. 3.4.
    COMMUNE = "commune"
    # Văn phòng UBND tỉnh: supervises and gets escalations, 003 Art. 9.3, 14.
    PROVINCIAL_OFFICE = "provincial_office"
    # Sở Khoa học và Công nghệ: approves alerts, administers accounts, 003 Art. 5.4, 12.
    FOCAL_UNIT = "focal_unit"


class RouteTo(StrEnum):
    # The commune where the event happens handles it.
    COMMUNE = "commune"
    # The topic's department handles it wherever it happens.
    DEPARTMENT = "department"


def _string_enum(enum_class: type[StrEnum]) -> Enum:
    # Values, not member names, go into the column, as a plain VARCHAR with no
    # database enum type: the same on SQLite and PostgreSQL, and adding a kind
    # later needs no ALTER TYPE.
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=CODE_LENGTH,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True, index=True)
    kind: Mapped[AgencyKind] = mapped_column(_string_enum(AgencyKind))
    name_vi: Mapped[str] = mapped_column(String(NAME_LENGTH))
    name_en: Mapped[str] = mapped_column(String(NAME_LENGTH))
    # Communes only: GeoJSON Polygon or MultiPolygon geometry.
    boundary_geojson: Mapped[str | None] = mapped_column(Text)
    # The agency's own office hours when they differ from the province's:
    # {"0": ["07:00-11:30", "13:00-17:00"], ...} by weekday (0 = Monday); a
    # weekday left out has none. Its deadlines and reminders follow them.
    office_hours_json: Mapped[str | None] = mapped_column(Text)
    # The agency's own reasons for rejecting a report, offered beside the
    # standard ones: [{"vi": "...", "en": "..."}, ...].
    reject_reasons_json: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True, index=True)
    name_vi: Mapped[str] = mapped_column(String(NAME_LENGTH))
    name_en: Mapped[str] = mapped_column(String(NAME_LENGTH))
    # Order of the topic keyboard.
    position: Mapped[int] = mapped_column(Integer, default=0)
    route_to: Mapped[RouteTo] = mapped_column(_string_enum(RouteTo))
    # The sector department that handles (route_to=department) or supervises
    # (route_to=commune, 003 Art. 9.3: departments see their sector) the topic.
    department_id: Mapped[int | None] = mapped_column(ID, ForeignKey("agencies.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Province(Base):
    __tablename__ = "provinces"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True)
    name_vi: Mapped[str] = mapped_column(String(NAME_LENGTH))
    name_en: Mapped[str] = mapped_column(String(NAME_LENGTH))
    # Receives reports placed inside the province but in no commune's reach.
    default_agency_id: Mapped[int | None] = mapped_column(ID, ForeignKey("agencies.id"))
    # Explicit province outline (GeoJSON geometry); when absent the union of
    # the commune polygons is the province.
    boundary_geojson: Mapped[str | None] = mapped_column(Text)
    # A point this close (km) to a commune polygon goes to that commune:
    # phone GPS and commune outlines are both imprecise near the edges.
    nearest_km: Mapped[float] = mapped_column(Float, default=3.0)
    # {"extra_days_off": ["YYYY-MM-DD", ...], "extra_working_days": [...]}:
    # the province's own changes to the national working calendar.
    calendar_json: Mapped[str | None] = mapped_column(Text)
    # The province's office hours, in the agencies' format; None: the default
    # Monday-Friday 07:30-11:30 and 13:30-17:30.
    office_hours_json: Mapped[str | None] = mapped_column(Text)
    # The province's own stage limits when they differ from 003 Art. 9.2
    # (bot/domain/deadlines.py): {"receive_hours": 8, "handle_days": 7, ...}.
    deadlines_json: Mapped[str | None] = mapped_column(Text)
    # Reasons for rejecting a report that every agency of the province offers.
    reject_reasons_json: Mapped[str | None] = mapped_column(Text)
    # Bumped by every import that changes anything, so long-running processes
    # know when to rebuild their cached router.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
