"""A citizen's report in the making: the steps, what each accepts, and where it goes next.

The draft lives in the database, so a citizen continues where they were after
the bot restarts. Each setter validates and returns a problem for the handler
to explain, leaving everything already given untouched.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import nfc
from storage.models import Draft


class Step(enum.StrEnum):
    TOPIC = "topic"
    DESCRIPTION = "description"
    PLACE = "place"
    PHOTOS = "photos"
    PRIVACY = "privacy"
    CONFIRM = "confirm"


ORDER = (Step.TOPIC, Step.DESCRIPTION, Step.PLACE, Step.PHOTOS, Step.PRIVACY, Step.CONFIRM)
EDITABLE = frozenset({Step.TOPIC, Step.DESCRIPTION, Step.PLACE, Step.PHOTOS, Step.PRIVACY})


class Problem(enum.StrEnum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    UNKNOWN_TOPIC = "unknown_topic"
    TOO_MANY_PHOTOS = "too_many_photos"
    NO_PHOTOS = "no_photos"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class DraftPhoto:
    original_sha256: str
    original_key: str
    display_key: str
    # The messenger's own id of the file, to send it again without uploading it: valid
    # only on `file_platform` (storage.models.users.TELEGRAM, ...). Both None when the
    # messenger gave none worth keeping (a photo sent as a document).
    file_id: str | None
    file_platform: str | None
    source_format: str
    width: int
    height: int
    captured_at: str | None = None
    gps: tuple[float, float] | None = None
    camera: str | None = None

    def __post_init__(self) -> None:
        if self.file_id is not None and self.file_platform is None:
            raise ValueError("a file id needs the platform it belongs to")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DraftPhoto:
        gps = raw.get("gps")
        values = {**raw, "gps": tuple(gps) if gps else None}
        if "file_platform" not in values:
            # Saved before file ids named their platform, and not rewritten by migration
            # 0008 (which gives every stored one its platform): an id of no known platform
            # is no reference at all, so it is dropped; the photo is in the media store.
            values.update(file_id=None, file_platform=None)
        return cls(**values)


@dataclass(frozen=True)
class DraftContent:
    topic: str | None = None
    description: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    place_title: str | None = None
    photos: tuple[DraftPhoto, ...] = ()
    identity_public: bool | None = None
    # The citizen says it is an emergency: a request the screeners see on the
    # card, not a decision; only the agency marks a report urgent (003 Art. 9.2).
    emergency: bool = False
    # Set while the citizen changes one part from the summary: the next valid
    # input returns to the summary instead of walking the remaining steps.
    editing: bool = False

    @property
    def has_place(self) -> bool:
        return (self.latitude is not None and self.longitude is not None) or bool(self.address)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["photos"] = [asdict(p) for p in self.photos]
        return data

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DraftContent:
        photos = tuple(DraftPhoto.from_dict(p) for p in raw.get("photos", ()))
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__ and k != "photos"}
        return cls(**known, photos=photos)


@dataclass(frozen=True)
class Limits:
    description_min: int
    description_max: int
    address_min: int
    max_photos: int


@dataclass
class Working:
    """A loaded draft: its step and content, saved back with `save`."""

    row: Draft
    step: Step
    content: DraftContent = field(default_factory=DraftContent)


async def load(session: AsyncSession, user_id: int) -> Working | None:
    row = await session.get(Draft, user_id)
    if row is None:
        return None
    return Working(row, Step(row.step), DraftContent.from_dict(row.data or {}))


async def start(session: AsyncSession, user_id: int) -> Working:
    row = await session.get(Draft, user_id)
    if row is None:
        row = Draft(user_id=user_id, step=Step.TOPIC, data={})
        session.add(row)
    else:
        row.step = Step.TOPIC
        row.data = {}
    await session.flush()
    return Working(row, Step.TOPIC, DraftContent())


def save(working: Working) -> None:
    working.row.step = working.step
    # A new dict object, so SQLAlchemy sees the JSON column changed.
    working.row.data = working.content.to_dict()


async def discard(session: AsyncSession, working: Working) -> DraftContent:
    await session.delete(working.row)
    return working.content


def _advance(working: Working, done: Step) -> None:
    if working.content.editing:
        working.content = replace(working.content, editing=False)
        working.step = Step.CONFIRM
        return
    working.step = ORDER[ORDER.index(done) + 1]


def choose_topic(working: Working, code: str, known: set[str]) -> Problem | None:
    if code not in known:
        return Problem.UNKNOWN_TOPIC
    working.content = replace(working.content, topic=code)
    _advance(working, Step.TOPIC)
    return None


def set_description(working: Working, text: str, limits: Limits) -> Problem | None:
    description = nfc(text).strip()
    if len(description) < limits.description_min:
        return Problem.TOO_SHORT
    if len(description) > limits.description_max:
        return Problem.TOO_LONG
    working.content = replace(working.content, description=description)
    _advance(working, Step.DESCRIPTION)
    return None


def set_location(working: Working, latitude: float, longitude: float, title: str | None, address: str | None) -> None:
    """A point on the map; the caller has already refused points outside the province."""
    working.content = replace(
        working.content,
        latitude=latitude,
        longitude=longitude,
        place_title=nfc(title) if title else None,
        address=nfc(address) if address else None,
    )
    _advance(working, Step.PLACE)


def set_address(working: Working, text: str, limits: Limits) -> Problem | None:
    address = " ".join(nfc(text).split())
    if len(address) < limits.address_min:
        return Problem.TOO_SHORT
    if len(address) > 500:
        return Problem.TOO_LONG
    working.content = replace(working.content, latitude=None, longitude=None, place_title=None, address=address)
    _advance(working, Step.PLACE)
    return None


def add_photo(working: Working, photo: DraftPhoto, limits: Limits) -> Problem | None:
    if len(working.content.photos) >= limits.max_photos:
        return Problem.TOO_MANY_PHOTOS
    if any(p.original_sha256 == photo.original_sha256 for p in working.content.photos):
        # The same picture twice adds nothing; accept silently.
        return None
    working.content = replace(working.content, photos=working.content.photos + (photo,))
    return None


def clear_photos(working: Working) -> None:
    working.content = replace(working.content, photos=())


def finish_photos(working: Working) -> Problem | None:
    if not working.content.photos:
        return Problem.NO_PHOTOS
    _advance(working, Step.PHOTOS)
    return None


def set_privacy(working: Working, public: bool) -> None:
    working.content = replace(working.content, identity_public=public)
    _advance(working, Step.PRIVACY)


def toggle_emergency(working: Working) -> bool:
    """From the summary: say it is an emergency, or take that back; whether it now is one."""
    working.content = replace(working.content, emergency=not working.content.emergency)
    return working.content.emergency


def edit(working: Working, step: Step) -> None:
    if step not in EDITABLE:
        raise ValueError(f"{step} cannot be edited")
    working.content = replace(working.content, editing=True)
    working.step = step


def missing(content: DraftContent) -> Step | None:
    """The first part a submission still lacks, if any."""
    if content.topic is None:
        return Step.TOPIC
    if not content.description:
        return Step.DESCRIPTION
    if not content.has_place:
        return Step.PLACE
    if not content.photos:
        return Step.PHOTOS
    if content.identity_public is None:
        return Step.PRIVACY
    return None
