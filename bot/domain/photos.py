"""Validate one citizen photo and make the copy other people may see.

003 Art. 8.2: photos must be the sender's own and unedited. So we keep the
bytes exactly as received (their SHA-256 is the content address and the key
for spotting a photo reused from someone else's report) and read the capture
metadata (time, GPS, camera) as evidence for staff. Other citizens only ever
see the *display* copy: re-encoded JPEG with no EXIF, no GPS, no camera data.

Everything here is pure, synchronous and CPU-bound; callers run
`process_photo` with `asyncio.to_thread`.

Safety rules, in the order they apply:

* the byte size is checked before anything is parsed;
* the format is detected from content by Pillow, restricted to an allow-list,
  so Pillow never even tries plugins such as EPS (which would run Ghostscript);
* width × height is checked against the limit after reading the header and
  before decoding pixels, so a tiny file declaring a huge image costs nothing;
* truncated data is an error, never silently padded (we refuse to run if
  `ImageFile.LOAD_TRUNCATED_IMAGES` has been switched on anywhere);
* JPEGs are decoded at a reduced scale (libjpeg DCT scaling) when the display
  copy is much smaller, which bounds memory for large camera photos.

Memory is bounded by `PhotoLimits.max_pixels`. Pillow's own global bomb limit
(`Image.MAX_IMAGE_PIXELS`) still applies on top and is left untouched; a file
beyond twice that limit is refused as TOO_MANY_PIXELS whatever our limit is.
"""

from __future__ import annotations

import enum
import hashlib
import io
import math
import numbers
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

try:  # Colour management is optional in Pillow builds; without it we convert naively.
    from PIL import ImageCms
except ImportError:  # pragma: no cover - every Pillow wheel ships littlecms
    ImageCms = None  # type: ignore[assignment]

MIB = 1024 * 1024

# Formats a phone or camera photo plausibly arrives in. HEIF and AVIF count
# only when a Pillow plugin for them is registered (pillow-heif, or Pillow
# built with libavif); otherwise Pillow cannot identify them at all.
# MPO is what Pillow calls a JPEG carrying extra frames (many phones write
# these); it is opened through the JPEG plugin.
ACCEPTED_FORMATS: tuple[str, ...] = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF")

DISPLAY_FORMAT = "JPEG"
DISPLAY_SUFFIX = ".jpg"
DISPLAY_QUALITY = 85
_WHITE = (255, 255, 255)

# A file suffix for storing the original under its real type.
_ORIGINAL_SUFFIXES: Mapping[str, str] = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tif",
    "HEIF": ".heic",
    "AVIF": ".avif",
}

# Column widths of report_photos (storage/models/reports.py).
CAMERA_MAX_CHARS = 128

# Errors Pillow's parsers and decoders raise on damaged input.
_DECODE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    TypeError,
    struct.error,
)


class PhotoProblem(enum.StrEnum):
    TOO_LARGE = "too_large"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_MANY_PIXELS = "too_many_pixels"
    TRUNCATED = "truncated"


class PhotoRejected(Exception):
    """The photo cannot be accepted. The caller renders the message from
    `problem` and whichever numbers are set for it."""

    def __init__(
        self,
        problem: PhotoProblem,
        *,
        size_bytes: int | None = None,
        limit_bytes: int | None = None,
        pixels: int | None = None,
        limit_pixels: int | None = None,
        source_format: str | None = None,
    ) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes
        # None for TOO_MANY_PIXELS when Pillow's own bomb guard refused the
        # header before we could read the dimensions.
        self.pixels = pixels
        self.limit_pixels = limit_pixels
        # Set for UNSUPPORTED_FORMAT when the format is known (e.g. "ICO").
        self.source_format = source_format


@dataclass(frozen=True)
class PhotoLimits:
    max_bytes: int = 10 * MIB
    max_pixels: int = 40_000_000
    max_display_side: int = 2560

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_display_side"):
            if getattr(self, name) < 1:
                raise ValueError(f"PhotoLimits.{name} must be positive")


@dataclass(frozen=True)
class ProcessedPhoto:
    original_sha256: str
    original_size: int
    source_format: str
    # Of the original, after its EXIF orientation is applied.
    width: int
    height: int
    display: bytes
    display_sha256: str
    # Aware when the EXIF names the UTC offset (OffsetTime* tags); otherwise
    # naive: the camera's wall clock in a zone we do not know. Callers that
    # need an instant should read a naive value in the province's time zone
    # and treat it as an assumption.
    captured_at: datetime | None
    gps: tuple[float, float] | None
    camera: str | None

    @property
    def original_suffix(self) -> str:
        """File suffix for storing the original bytes under their real type."""
        return _ORIGINAL_SUFFIXES.get(self.source_format, ".bin")


def process_photo(data: bytes, limits: PhotoLimits = PhotoLimits()) -> ProcessedPhoto:
    """Check one photo against `limits` and build its display copy.

    Raises PhotoRejected; never returns a partially processed photo.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched Pillow into padding damaged images with grey; we
        # would then accept truncated photos as evidence. Fail loudly.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    if len(data) > limits.max_bytes:
        raise PhotoRejected(PhotoProblem.TOO_LARGE, size_bytes=len(data), limit_bytes=limits.max_bytes)

    with _open(data, limits) as image:
        # Read before decoding: draft() below may shrink image.size.
        header_size = image.size
        _check_pixels(header_size, limits)
        source_format = image.format or "UNKNOWN"
        _decode_first_frame(image, limits)
        # After decoding: PNG keeps its eXIf chunk behind the pixel data and
        # getexif() would otherwise decode on its own.
        exif = _exif(image)
        orientation = _orientation(exif)
        width, height = _upright(header_size, orientation)
        display = _render_display(image, orientation, limits)

    return ProcessedPhoto(
        original_sha256=hashlib.sha256(data).hexdigest(),
        original_size=len(data),
        source_format=source_format,
        width=width,
        height=height,
        display=display,
        display_sha256=hashlib.sha256(display).hexdigest(),
        captured_at=_captured_at(exif),
        gps=_gps(exif),
        camera=_camera(exif),
    )


# --- identification -------------------------------------------------------


def _allowed_formats() -> tuple[str, ...]:
    # Image.open raises KeyError for a format no plugin registered, so ask
    # only for those present. Computed per call: a HEIF plugin may register
    # itself after this module is imported.
    Image.init()
    return tuple(name for name in ACCEPTED_FORMATS if name in Image.OPEN)


def _open(data: bytes, limits: PhotoLimits) -> ImageFile.ImageFile:
    """Identify the image from its header only; no pixel is decoded here."""
    try:
        return Image.open(io.BytesIO(data), formats=_allowed_formats())
    except Image.DecompressionBombError:
        # Pillow's global guard (twice Image.MAX_IMAGE_PIXELS) refused the
        # header before we saw the dimensions: far beyond any sane photo.
        raise PhotoRejected(PhotoProblem.TOO_MANY_PIXELS, limit_pixels=limits.max_pixels) from None
    except UnidentifiedImageError:
        raise _unidentified(data) from None
    except _DECODE_ERRORS:
        # A parser accepted the signature and then hit the end of the data
        # or a broken header.
        raise PhotoRejected(PhotoProblem.TRUNCATED) from None


def _unidentified(data: bytes) -> PhotoRejected:
    """Tell a damaged photo from a non-photo image from something else.

    Only the plugins' signature checks run on the first 16 bytes (what
    Image.open itself looks at): no foreign parser is ever invoked.
    """
    recognised = _signature_matches(data[:16])
    allowed = set(_allowed_formats())
    if recognised & allowed:
        return PhotoRejected(PhotoProblem.TRUNCATED)
    if recognised:
        return PhotoRejected(PhotoProblem.UNSUPPORTED_FORMAT, source_format=min(recognised))
    return PhotoRejected(PhotoProblem.NOT_AN_IMAGE)


def _signature_matches(prefix: bytes) -> set[str]:
    Image.init()
    found: set[str] = set()
    # A snapshot: a plugin registering from another thread must not break the loop.
    for name, (_factory, accept) in list(Image.OPEN.items()):
        # Plugins without a signature check (e.g. TGA) can only be identified
        # by parsing, which is exactly what we do not want for foreign formats.
        if accept is None:
            continue
        try:
            # A string result means "recognised but this build cannot read it".
            if accept(prefix):
                found.add(name)
        except _DECODE_ERRORS:
            continue
    return found


def _check_pixels(size: tuple[int, int], limits: PhotoLimits) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise PhotoRejected(PhotoProblem.TRUNCATED)
    pixels = width * height
    if pixels > limits.max_pixels:
        raise PhotoRejected(PhotoProblem.TOO_MANY_PIXELS, pixels=pixels, limit_pixels=limits.max_pixels)


# --- decoding -------------------------------------------------------------


def _decode_first_frame(image: ImageFile.ImageFile, limits: PhotoLimits) -> None:
    """Decode frame 0 (animated GIF/WebP/PNG and MPO open on it), at reduced
    scale for big JPEGs, raising TRUNCATED on damaged data."""
    target = _fit(image.size, limits.max_display_side)
    if target != image.size:
        # Only the JPEG plugin acts on this: libjpeg then decodes at 1/2, 1/4
        # or 1/8 scale, never below the display size. Others ignore it.
        image.draft(image.mode, target)
    try:
        image.load()
    except _DECODE_ERRORS:
        raise PhotoRejected(PhotoProblem.TRUNCATED) from None


def _exif(image: Image.Image) -> Image.Exif | None:
    try:
        return image.getexif()
    except _DECODE_ERRORS + (KeyError, ZeroDivisionError):
        # Broken metadata is missing evidence, not a broken photo.
        return None


def _upright(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    width, height = size
    return (height, width) if orientation in _SWAPS_AXES else (width, height)


# --- display copy ---------------------------------------------------------

# EXIF orientation → the transposition that shows the picture upright.
_TRANSPOSE: Mapping[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = frozenset({5, 6, 7, 8})


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """Scale (width, height) so the longer side is at most max_side."""
    width, height = size
    longest = max(width, height)
    if longest <= max_side:
        return size
    ratio = max_side / longest
    return max(1, round(width * ratio)), max(1, round(height * ratio))


def _render_display(image: Image.Image, orientation: int, limits: PhotoLimits) -> bytes:
    icc_profile = image.info.get("icc_profile")
    working = _working_mode(image)
    target = _fit(working.size, limits.max_display_side)
    if target != working.size:
        # Resize before rotating and flattening so those run on the small image.
        working = working.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if orientation in _TRANSPOSE:
        working = working.transpose(_TRANSPOSE[orientation])
    if working.mode == "RGBA":
        working = _flatten_on_white(working)
    rgb = _to_srgb(working, icc_profile if isinstance(icc_profile, bytes) else None)
    return _encode_jpeg(rgb)


def _working_mode(image: Image.Image) -> Image.Image:
    """Bring any decoded mode to L, RGB, RGBA or CMYK, keeping transparency."""
    mode = image.mode
    if mode in ("L", "RGB", "RGBA", "CMYK"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode in ("LA", "PA", "RGBa"):
        return image.convert("RGBA")
    if mode.startswith("I") or mode == "F":
        return _high_depth_to_l(image)
    try:
        return image.convert("RGB")
    except ValueError:
        raise PhotoRejected(PhotoProblem.UNSUPPORTED_FORMAT, source_format=image.format) from None


def _high_depth_to_l(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit or float greyscale to 8 bits by scaling, not clipping
    (clipping turns a normal 16-bit scan almost white)."""
    values = image.convert("F")
    if image.mode.startswith("I;16"):
        scale, low = 1 / 257, 0.0
    else:
        low, high = values.getextrema()
        if not (math.isfinite(low) and math.isfinite(high)):
            return Image.new("L", image.size, 0)
        if low >= 0 and high <= 255:
            return values.convert("L")
        scale = 255 / (high - low) if high > low else 0.0
    return values.point(lambda v: v * scale - low * scale).convert("L")


def _flatten_on_white(image: Image.Image) -> Image.Image:
    background = Image.new("RGB", image.size, _WHITE)
    background.paste(image, mask=image.getchannel("A"))
    return background


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """RGB in sRGB. The display copy carries no ICC profile (it could name
    the device), so colours from wide-gamut phones are converted instead."""
    if icc_profile and ImageCms is not None:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken or mismatched profile: fall back to plain conversion
    return image if image.mode == "RGB" else image.convert("RGB")


def _encode_jpeg(image: Image.Image) -> bytes:
    # A fresh image carries no info dict, so nothing (EXIF, XMP, ICC,
    # comments) can leak from the original into the copy.
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    out = io.BytesIO()
    clean.save(out, DISPLAY_FORMAT, quality=DISPLAY_QUALITY, optimize=True)
    return out.getvalue()


# --- EXIF evidence ----------------------------------------------------------

_ORIENTATION = ExifTags.Base.Orientation
_MAKE = ExifTags.Base.Make
_MODEL = ExifTags.Base.Model
_DATETIME = ExifTags.Base.DateTime
_DATETIME_ORIGINAL = ExifTags.Base.DateTimeOriginal
_DATETIME_DIGITIZED = ExifTags.Base.DateTimeDigitized
_OFFSET_TIME = ExifTags.Base.OffsetTime
_OFFSET_ORIGINAL = ExifTags.Base.OffsetTimeOriginal
_OFFSET_DIGITIZED = ExifTags.Base.OffsetTimeDigitized

_DATETIME_RE = re.compile(r"(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET_RE = re.compile(r"([+-])(\d{2}):?(\d{2})")


def _orientation(exif: Image.Exif | None) -> int:
    value = exif.get(_ORIENTATION) if exif is not None else None
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _sub_ifd(exif: Image.Exif, ifd: ExifTags.IFD) -> Mapping[int, Any]:
    try:
        return exif.get_ifd(ifd)
    except _DECODE_ERRORS + (KeyError, ZeroDivisionError):
        return {}


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    # EXIF ASCII fields are NUL-terminated and often space-padded.
    cleaned = "".join(ch for ch in value.split("\x00", 1)[0] if ch.isprintable()).strip()
    return cleaned or None


def _captured_at(exif: Image.Exif | None) -> datetime | None:
    """DateTimeOriginal, else DateTimeDigitized, else DateTime (last change),
    each with its own OffsetTime* tag when present."""
    if exif is None:
        return None
    sub = _sub_ifd(exif, ExifTags.IFD.Exif)
    candidates = (
        (sub.get(_DATETIME_ORIGINAL), sub.get(_OFFSET_ORIGINAL)),
        (sub.get(_DATETIME_DIGITIZED), sub.get(_OFFSET_DIGITIZED)),
        (exif.get(_DATETIME), sub.get(_OFFSET_TIME)),
    )
    for stamp, offset in candidates:
        parsed = _parse_exif_datetime(_text(stamp))
        if parsed is not None:
            zone = _parse_offset(_text(offset))
            return parsed.replace(tzinfo=zone) if zone is not None else parsed
    return None


def _parse_exif_datetime(text: str | None) -> datetime | None:
    match = _DATETIME_RE.fullmatch(text) if text else None
    if match is None:
        return None
    try:
        # Cameras with an unset clock write "0000:00:00 00:00:00": invalid.
        return datetime(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _parse_offset(text: str | None) -> timezone | None:
    match = _OFFSET_RE.fullmatch(text) if text else None
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    if int(hours) > 14 or int(minutes) > 59:
        return None
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)


_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
_GPS_STATUS = 9
_GPS_DECIMALS = 7  # ~1 cm; keeps 21°1'30" exactly 21.025


def _gps(exif: Image.Exif | None) -> tuple[float, float] | None:
    """(lat, lon) in decimal degrees, or None when absent or nonsense."""
    if exif is None:
        return None
    gps = _sub_ifd(exif, ExifTags.IFD.GPSInfo)
    if not gps or _text(gps.get(_GPS_STATUS)) == "V":  # V: receiver reported a void fix
        return None
    lat = _coordinate(gps.get(_GPS_LAT), _text(gps.get(_GPS_LAT_REF)), positive="N", negative="S", limit=90)
    lon = _coordinate(gps.get(_GPS_LON), _text(gps.get(_GPS_LON_REF)), positive="E", negative="W", limit=180)
    if lat is None or lon is None or (lat == 0 and lon == 0):
        # 0,0 is what broken receivers write when they have no fix.
        return None
    return lat, lon


def _coordinate(value: Any, ref: str | None, *, positive: str, negative: str, limit: float) -> float | None:
    parts = _dms_parts(value)
    if parts is None or ref is None or ref.upper() not in (positive, negative):
        return None
    degrees, minutes, seconds = parts
    # 60 itself is tolerated: writers that round 59.9999" produce it.
    if minutes > 60 or seconds > 60:
        return None
    decimal = degrees + minutes / 60 + seconds / 3600
    if decimal > limit:
        return None
    return round(-decimal if ref.upper() == negative else decimal, _GPS_DECIMALS)


def _dms_parts(value: Any) -> tuple[float, float, float] | None:
    """Degrees, minutes, seconds from EXIF rationals (1 to 3 of them; Pillow
    gives a single one as a bare number)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not 1 <= len(value) <= 3:
        return None
    parts: list[float] = []
    for part in value:
        try:
            number = float(part)  # IFDRational with a zero denominator gives nan
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        if not math.isfinite(number) or number < 0:
            return None
        parts.append(number)
    parts += [0.0] * (3 - len(parts))
    return parts[0], parts[1], parts[2]


def _camera(exif: Image.Exif | None) -> str | None:
    if exif is None:
        return None
    make, model = _text(exif.get(_MAKE)), _text(exif.get(_MODEL))
    if make and model and model.lower().startswith(make.lower()):
        make = None  # "Canon" + "Canon EOS 80D": don't say Canon twice
    camera = " ".join(part for part in (make, model) if part)
    return camera[:CAMERA_MAX_CHARS] or None
