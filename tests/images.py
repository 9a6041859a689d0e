"""Test pictures made on the spot: real photos, fakes, bombs and broken files.

Every factory is a pure function returning bytes: the same arguments give
the same bytes (so hashes are stable), and a different `seed` gives different
pixels (so two "photos" are not accidental duplicates).
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from collections.abc import Mapping

from PIL import ExifTags, Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational

Color = tuple[int, int, int]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- pictures ---------------------------------------------------------------


def picture(
    width: int = 64,
    height: int = 48,
    color: Color = (200, 30, 30),
    *,
    seed: int | None = None,
    right_color: Color | None = None,
    mode: str = "RGB",
) -> Image.Image:
    """A solid picture; `right_color` paints the right half (to see rotations),
    `seed` adds a few random rectangles."""
    image = Image.new("RGB", (width, height), color)
    draw = ImageDraw.Draw(image)
    if right_color is not None:
        draw.rectangle((width // 2, 0, width, height), fill=right_color)
    if seed is not None:
        rng = random.Random(seed)
        for _ in range(6):
            x, y = rng.randrange(width), rng.randrange(height)
            fill = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            draw.rectangle((x, y, x + width // 4, y + height // 4), fill=fill)
    return image if mode == "RGB" else image.convert(mode)


def exif(
    *,
    exif_datetime: str | None = None,
    offset: str | None = None,
    modified: str | None = None,
    gps: tuple[float, float] | None = None,
    gps_ifd: Mapping[int, object] | None = None,
    camera: tuple[str, str] | None = None,
    orientation: int | None = None,
) -> Image.Exif:
    """An EXIF block as a camera writes it.

    exif_datetime → DateTimeOriginal ("YYYY:MM:DD HH:MM:SS"), offset →
    OffsetTimeOriginal ("+07:00"), modified → IFD0 DateTime, gps → decimal
    (lat, lon) written as N/S/E/W plus rational degrees/minutes/seconds,
    gps_ifd → raw GPS tags written as given (for malformed values).
    """
    block = Image.Exif()
    if camera is not None:
        block[ExifTags.Base.Make], block[ExifTags.Base.Model] = camera
    if orientation is not None:
        block[ExifTags.Base.Orientation] = orientation
    if modified is not None:
        block[ExifTags.Base.DateTime] = modified
    if exif_datetime is not None or offset is not None:
        sub = block.get_ifd(ExifTags.IFD.Exif)
        if exif_datetime is not None:
            sub[ExifTags.Base.DateTimeOriginal] = exif_datetime
        if offset is not None:
            sub[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps is not None or gps_ifd is not None:
        info = block.get_ifd(ExifTags.IFD.GPSInfo)
        if gps is not None:
            lat, lon = gps
            info[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
            info[ExifTags.GPS.GPSLatitude] = dms(lat)
            info[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
            info[ExifTags.GPS.GPSLongitude] = dms(lon)
        info.update(gps_ifd or {})
    return block


def dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    """Decimal degrees → EXIF degrees, minutes, seconds (to 1/1000 second)."""
    # In whole milliseconds of arc, so 105.85 gives 105°51'0" and not 105°50'60".
    total = round(abs(value) * 3600 * 1000)
    degrees, rest = divmod(total, 3600 * 1000)
    minutes, milliseconds = divmod(rest, 60 * 1000)
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(milliseconds, 1000)


def encode(image: Image.Image, fmt: str, *, metadata: Image.Exif | None = None, **options: object) -> bytes:
    out = io.BytesIO()
    if metadata is not None and metadata.tobytes() != Image.Exif().tobytes():
        options["exif"] = metadata.tobytes()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def jpeg(
    width: int = 64,
    height: int = 48,
    color: Color = (200, 30, 30),
    *,
    exif_datetime: str | None = None,
    offset: str | None = None,
    modified: str | None = None,
    gps: tuple[float, float] | None = None,
    gps_ifd: Mapping[int, object] | None = None,
    camera: tuple[str, str] | None = None,
    orientation: int | None = None,
    seed: int | None = None,
    right_color: Color | None = None,
    icc_profile: bytes | None = None,
    quality: int = 85,
) -> bytes:
    """A camera-like JPEG; the keyword arguments become its EXIF."""
    metadata = exif(
        exif_datetime=exif_datetime,
        offset=offset,
        modified=modified,
        gps=gps,
        gps_ifd=gps_ifd,
        camera=camera,
        orientation=orientation,
    )
    options: dict[str, object] = {"quality": quality}
    if icc_profile is not None:
        options["icc_profile"] = icc_profile
    image = picture(width, height, color, seed=seed, right_color=right_color)
    return encode(image, "JPEG", metadata=metadata, **options)


def png(
    width: int = 64,
    height: int = 48,
    color: Color = (30, 120, 200),
    *,
    alpha: bool = False,
    seed: int | None = None,
    metadata: Image.Exif | None = None,
) -> bytes:
    """With `alpha`, the top-left 16×16 block is fully transparent."""
    image = picture(width, height, color, seed=seed, mode="RGBA" if alpha else "RGB")
    if alpha:
        # Large enough to survive JPEG's 8×8 blocks when checked on the copy.
        image.paste((0, 0, 0, 0), (0, 0, 16, 16))
    return encode(image, "PNG", metadata=metadata)


def webp(
    width: int = 64,
    height: int = 48,
    color: Color = (30, 200, 60),
    *,
    seed: int | None = None,
    metadata: Image.Exif | None = None,
) -> bytes:
    return encode(picture(width, height, color, seed=seed), "WEBP", metadata=metadata, quality=90)


def gif(width: int = 64, height: int = 48, color: Color = (200, 200, 30), *, frames: int = 1) -> bytes:
    """A palette GIF in `color`; with frames > 1 an animation whose later
    frames are other colours."""
    first = picture(width, height, color).convert("P")
    rest = [picture(width, height, (40 * n % 256, 40, 200)).convert("P") for n in range(1, frames)]
    if not rest:
        return encode(first, "GIF")
    return encode(first, "GIF", save_all=True, append_images=rest, duration=100, loop=0)


def bmp(width: int = 64, height: int = 48, color: Color = (90, 90, 200)) -> bytes:
    return encode(picture(width, height, color), "BMP")


def tiff(
    width: int = 64, height: int = 48, color: Color = (90, 200, 200), *, metadata: Image.Exif | None = None
) -> bytes:
    image = picture(width, height, color)
    out = io.BytesIO()
    if metadata is not None:
        image.save(out, format="TIFF", exif=metadata)
    else:
        image.save(out, format="TIFF")
    return out.getvalue()


def grey16_png(width: int = 32, height: int = 16) -> bytes:
    """16-bit greyscale: the left half black, the right half full white."""
    image = Image.new("I;16", (width, height), 0)
    image.paste(65535, (width // 2, 0, width, height))
    return encode(image, "PNG")


# --- hostile and broken files -----------------------------------------------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def bomb_png(width: int = 30000, height: int = 30000, *, valid: bool = False) -> bytes:
    """A decompression bomb: a small file declaring width × height pixels.

    By default only the header is honest and a few rows follow (a few hundred
    bytes): the header alone must get it refused. With `valid`, the whole
    1-bit black image is there, deflated ~1000:1 (30000² is ~110 KB), so it
    is refused for its size and not for being damaged.
    """
    bit_depth = 1 if valid else 8
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)  # greyscale
    compressor = zlib.compressobj(9)
    if valid:
        row = b"\x00" * (1 + (width + 7) // 8)  # filter byte 0, then black pixels
        chunk_rows = max(1, (1 << 20) // len(row))
        parts = []
        for start in range(0, height, chunk_rows):
            parts.append(compressor.compress(row * min(chunk_rows, height - start)))
        body = b"".join(parts) + compressor.flush()
    else:
        body = compressor.compress(b"\x00" * (1 + width) * 4) + compressor.flush()
    return PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def truncated_jpeg(keep: float = 0.5) -> bytes:
    """A detailed JPEG cut inside its compressed pixel data."""
    whole = jpeg(400, 300, seed=99, quality=95)
    return whole[: int(len(whole) * keep)]


def not_an_image() -> bytes:
    """Text that a citizen's phone might label .jpg."""
    return "Đây không phải là ảnh, chỉ là văn bản đặt tên .jpg\n".encode() * 20


def zip_bytes() -> bytes:
    """A zip archive holding a 'photo', the kind of thing sent as anh.jpg."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        entry = zipfile.ZipInfo("anh.jpg", date_time=(2024, 1, 1, 0, 0, 0))
        archive.writestr(entry, jpeg(seed=7))
    return out.getvalue()


def ico_bytes() -> bytes:
    """An icon: an image Pillow reads that no camera writes."""
    return encode(picture(32, 32, (10, 10, 10), seed=2), "ICO")


def eps_bytes() -> bytes:
    """Encapsulated PostScript. Opening it in Pillow would run Ghostscript."""
    return (
        b"%!PS-Adobe-3.0 EPSF-3.0\n"
        b"%%BoundingBox: 0 0 64 48\n"
        b"%%EndComments\n"
        b"newpath 0 0 moveto 64 48 lineto stroke showpage\n"
        b"%%EOF\n"
    )


def oversize_jpeg(min_bytes: int) -> bytes:
    """Random noise, so it does not compress below `min_bytes`."""
    rng = random.Random(min_bytes)
    side = 256
    while True:
        noise = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        data = encode(noise, "JPEG", quality=95)
        if len(data) >= min_bytes:
            return data
        side *= 2
