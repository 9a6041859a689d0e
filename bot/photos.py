"""Check and process one citizen photo.

Photos must be the sender's own and unedited (003 Art. 8.2). The system cannot
prove that, but it keeps the evidence: the hash of the bytes as received and
the original's capture time, GPS and camera from EXIF. Others only ever see a
re-encoded copy without any of that metadata.

Everything here is synchronous and CPU-bound; callers use asyncio.to_thread.
"""
from __future__ import annotations

import enum
import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

# Formats a phone or a messenger produces. EPS/PS are never opened (they run
# Ghostscript), nor anything else Pillow can read but no camera writes.
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
DISPLAY_QUALITY = 85


class PhotoProblem(enum.StrEnum):
    TOO_LARGE = "too_large"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_MANY_PIXELS = "too_many_pixels"
    TRUNCATED = "truncated"


class PhotoRejected(Exception):
    def __init__(
        self,
        problem: PhotoProblem,
        *,
        limit_bytes: int | None = None,
        size_bytes: int | None = None,
        limit_pixels: int | None = None,
        pixels: int | None = None,
    ) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.limit_bytes = limit_bytes
        self.size_bytes = size_bytes
        self.limit_pixels = limit_pixels
        self.pixels = pixels


@dataclass(frozen=True)
class PhotoLimits:
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_display_side: int = 2560


@dataclass(frozen=True)
class ProcessedPhoto:
    original_sha256: str
    original_size: int
    source_format: str
    width: int
    height: int
    display: bytes
    display_sha256: str
    # Aware when EXIF gives the offset, naive (the camera's wall clock) otherwise.
    captured_at: datetime | None
    gps: tuple[float, float] | None
    camera: str | None


def process_photo(data: bytes, limits: PhotoLimits = PhotoLimits()) -> ProcessedPhoto:
    if len(data) > limits.max_bytes:
        raise PhotoRejected(PhotoProblem.TOO_LARGE, limit_bytes=limits.max_bytes, size_bytes=len(data))
    image = _open(data)
    pixels = image.width * image.height
    # Checked from the header, before any pixel is decoded: a few kilobytes
    # can declare gigabytes of pixels.
    if pixels > limits.max_pixels:
        raise PhotoRejected(PhotoProblem.TOO_MANY_PIXELS, limit_pixels=limits.max_pixels, pixels=pixels)
    source_format = image.format or "UNKNOWN"
    exif = image.getexif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        if isinstance(exc, (Image.DecompressionBombWarning, Image.DecompressionBombError)):
            raise PhotoRejected(PhotoProblem.TOO_MANY_PIXELS, limit_pixels=limits.max_pixels, pixels=pixels) from exc
        raise PhotoRejected(PhotoProblem.TRUNCATED) from exc
    upright = ImageOps.exif_transpose(image)
    display = _display_copy(upright, limits.max_display_side)
    return ProcessedPhoto(
        original_sha256=hashlib.sha256(data).hexdigest(),
        original_size=len(data),
        source_format=source_format,
        width=upright.width,
        height=upright.height,
        display=display,
        display_sha256=hashlib.sha256(display).hexdigest(),
        captured_at=_captured_at(exif),
        gps=_gps(exif),
        camera=_camera(exif),
    )


def _open(data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=PHOTO_FORMATS)
    except UnidentifiedImageError:
        pass
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoRejected(PhotoProblem.TRUNCATED) from exc
    except Image.DecompressionBombError as exc:
        raise PhotoRejected(PhotoProblem.TOO_MANY_PIXELS) from exc
    # Not one of ours: tell "some other image" from "not an image at all",
    # still without letting Pillow decode anything.
    try:
        with Image.open(io.BytesIO(data)) as other:
            other_format = other.format
    except Exception:  # noqa: BLE001 - any failure here means "not an image"
        other_format = None
    if other_format:
        raise PhotoRejected(PhotoProblem.UNSUPPORTED_FORMAT)
    raise PhotoRejected(PhotoProblem.NOT_AN_IMAGE)


def _display_copy(image: Image.Image, max_side: int) -> bytes:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        rgb = background
    else:
        rgb = image.convert("RGB")
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # No exif= argument: the copy others see carries no metadata at all.
    rgb.save(out, format="JPEG", quality=DISPLAY_QUALITY, optimize=True)
    return out.getvalue()


def _exif_ifd(exif: Image.Exif, tag: int) -> dict:
    try:
        return dict(exif.get_ifd(tag))
    except (KeyError, ValueError, TypeError, OSError):
        return {}


def _captured_at(exif: Image.Exif) -> datetime | None:
    sub = _exif_ifd(exif, ExifTags.IFD.Exif)
    raw = sub.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.strptime(raw.strip("\x00 ").strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(ExifTags.Base.OffsetTimeOriginal) or sub.get(ExifTags.Base.OffsetTime)
    if isinstance(offset, str):
        parsed = _parse_offset(offset.strip("\x00 "))
        if parsed is not None:
            return moment.replace(tzinfo=parsed)
    return moment


def _parse_offset(text: str) -> timezone | None:
    if len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        return None
    try:
        hours, minutes = int(text[1:3]), int(text[4:6])
    except ValueError:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(delta if text[0] == "+" else -delta)


def _gps(exif: Image.Exif) -> tuple[float, float] | None:
    gps = _exif_ifd(exif, ExifTags.IFD.GPSInfo)
    try:
        lat = _degrees(gps[ExifTags.GPS.GPSLatitude], gps.get(ExifTags.GPS.GPSLatitudeRef, "N"), "S")
        lon = _degrees(gps[ExifTags.GPS.GPSLongitude], gps.get(ExifTags.GPS.GPSLongitudeRef, "E"), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return round(lat, 7), round(lon, 7)


def _degrees(dms, ref, negative: str) -> float:
    d, m, s = (float(x) for x in dms)
    value = d + m / 60 + s / 3600
    ref = ref.decode() if isinstance(ref, bytes) else str(ref)
    return -value if ref.strip("\x00 ").upper() == negative else value


def _camera(exif: Image.Exif) -> str | None:
    parts = [exif.get(ExifTags.Base.Make), exif.get(ExifTags.Base.Model)]
    text = " ".join(str(p).strip("\x00 ").strip() for p in parts if p)
    return text[:128] or None
