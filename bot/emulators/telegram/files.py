"""Stored files: what getFile describes and the download route serves.

file_unique_id is derived from the content (sha256), so the same bytes
always get the same unique id, as on Telegram where it identifies the file
across bots and time. file_id is opaque and new for every stored copy.
Contents are kept once per (kind, digest), so a broadcast that resends one
photo by file_id 100k times stores nothing new.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Image: Any
try:
    from PIL import Image
except ImportError:  # without Pillow photos keep a single, nominal size
    Image = None

PILLOW_AVAILABLE = Image is not None
THUMBNAIL_SIDE = 320
NOMINAL_PHOTO_SIZE = (1280, 960)


@dataclass(frozen=True)
class FileKind:
    directory: str
    id_prefix: str
    unique_prefix: str
    title: str
    extension: str
    mime_type: str | None


KINDS: dict[str, FileKind] = {
    "photo": FileKind("photos", "AgACAgUAAxkBAAI", "AQAD", "Photo", "jpg", None),
    "document": FileKind("documents", "BQACAgUAAxkBAAI", "AgAD", "Document", "bin", None),
    "voice": FileKind("voice", "AwACAgUAAxkBAAI", "AwAD", "Voice", "oga", "audio/ogg"),
    "video": FileKind("videos", "BAACAgUAAxkBAAI", "BAAD", "Video", "mp4", "video/mp4"),
    "audio": FileKind("music", "CQACAgUAAxkBAAI", "CQAD", "Audio", "mp3", "audio/mpeg"),
    "sticker": FileKind("stickers", "CAACAgUAAxkBAAI", "CAAD", "Sticker", "webp", "image/webp"),
    "animation": FileKind("animations", "CgACAgUAAxkBAAI", "CgAD", "Animation", "mp4", "video/mp4"),
}


def _extension(file_name: str | None, spec: FileKind) -> str:
    # Paths end up in URLs, so only keep a plain extension from the user's name.
    extension = file_name.rpartition(".")[2].lower() if file_name and "." in file_name else ""
    if extension.isascii() and extension.isalnum() and len(extension) <= 8:
        return extension
    return spec.extension


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes = field(repr=False)
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    emoji: str | None = None

    @property
    def file_size(self) -> int:
        return len(self.data)

    @property
    def title(self) -> str:
        return KINDS[self.kind].title

    def as_file(self, *, with_path: bool = True) -> dict[str, Any]:
        """The Bot API File object returned by getFile."""
        result: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
        }
        if with_path:
            result["file_path"] = self.file_path
        return result

    def as_object(self) -> dict[str, Any]:
        """The kind-specific object (PhotoSize, Document, Voice...) put in a Message."""
        result = self.as_file(with_path=False)
        if self.kind == "photo":
            result.update(width=self.width, height=self.height)
        elif self.kind == "sticker":
            result.update(type="regular", width=self.width, height=self.height, is_animated=False, is_video=False)
            if self.emoji:
                result["emoji"] = self.emoji
        elif self.kind in ("video", "animation"):
            result.update(width=self.width, height=self.height, duration=self.duration)
        elif self.kind in ("voice", "audio"):
            result["duration"] = self.duration
        if self.file_name and self.kind != "photo":
            result["file_name"] = self.file_name
        if self.mime_type and self.kind not in ("photo", "sticker"):
            result["mime_type"] = self.mime_type
        return result


def image_size(data: bytes) -> tuple[int, int] | None:
    if Image is None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            return int(width), int(height)
    except Exception:  # any undecodable input: Pillow raises many types
        return None


def _thumbnail(data: bytes, side: int) -> bytes | None:
    if Image is None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (side, side))  # lets JPEG decode at reduced scale
            image.thumbnail((side, side))
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=80)
            return out.getvalue()
    except Exception:
        return None


class FileStore:
    def __init__(self, *, thumbnails: bool = True) -> None:
        self.thumbnails = thumbnails
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._contents: dict[tuple[str, bytes], tuple[str, str]] = {}
        self._photo_sets: dict[str, tuple[StoredFile, ...]] = {}
        self._urls: dict[str, tuple[bytes, str | None]] = {}
        self._ids = itertools.count(1)
        self._paths = itertools.count(1)

    def add(
        self,
        kind: str,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
        duration: int | None = None,
        emoji: str | None = None,
    ) -> StoredFile:
        spec = KINDS[kind]
        digest = hashlib.sha256(data).digest()
        unique_id, path = self._contents.get((kind, digest), ("", ""))
        if not unique_id:
            unique_id = spec.unique_prefix + _b64(digest[:9])
            path = f"{spec.directory}/file_{next(self._paths)}.{_extension(file_name, spec)}"
            self._contents[(kind, digest)] = (unique_id, path)
        if mime_type is None and kind == "document" and file_name:
            mime_type = mimetypes.guess_type(file_name, strict=False)[0]
        stored = StoredFile(
            file_id=spec.id_prefix + _b64(next(self._ids).to_bytes(6, "big") + digest[:18]),
            file_unique_id=unique_id,
            kind=kind,
            data=data,
            file_path=path,
            mime_type=mime_type or spec.mime_type,
            file_name=file_name,
            width=width,
            height=height,
            duration=duration,
            emoji=emoji,
        )
        self._by_id[stored.file_id] = stored
        self._by_path.setdefault(path, stored)
        return stored

    def add_photo(self, data: bytes) -> tuple[StoredFile, ...]:
        """Store one photo as Telegram would: a thumbnail plus the full size.

        Undecodable bytes (tests often pass b"fake-jpeg") get one nominal size.
        """
        size = image_size(data)
        width, height = size or NOMINAL_PHOTO_SIZE
        sizes: list[StoredFile] = []
        if size and self.thumbnails and max(width, height) > THUMBNAIL_SIDE:
            small = _thumbnail(data, THUMBNAIL_SIDE)
            small_size = image_size(small) if small else None
            if small and small_size:
                sizes.append(self.add("photo", small, width=small_size[0], height=small_size[1]))
        sizes.append(self.add("photo", data, width=width, height=height))
        return self._remember_set(sizes)

    def add_photo_sizes(self, images: Sequence[bytes]) -> tuple[StoredFile, ...]:
        """Store explicitly given sizes, smallest first."""
        sizes = []
        for step, data in enumerate(images, start=1):
            width, height = image_size(data) or (320 * step, 240 * step)
            sizes.append(self.add("photo", data, width=width, height=height))
        return self._remember_set(sizes)

    def _remember_set(self, sizes: list[StoredFile]) -> tuple[StoredFile, ...]:
        photo = tuple(sizes)
        for item in photo:
            self._photo_sets[item.file_id] = photo
        return photo

    def get(self, file_id: str) -> StoredFile | None:
        return self._by_id.get(file_id)

    def photo_sizes(self, file_id: str) -> tuple[StoredFile, ...] | None:
        return self._photo_sets.get(file_id)

    def by_path(self, path: str) -> StoredFile | None:
        return self._by_path.get(path)

    def register_url(self, url: str, data: bytes, mime_type: str | None = None) -> None:
        self._urls[url] = (data, mime_type)

    def url_content(self, url: str) -> tuple[bytes, str | None] | None:
        return self._urls.get(url)


def photo_json(sizes: Sequence[StoredFile]) -> list[dict[str, Any]]:
    return [size.as_object() for size in sizes]
