"""Test pictures, made on the spot: real photos, fakes, bombs and broken files."""
from __future__ import annotations

import io
import os
import random
import struct
import zlib
from fractions import Fraction

from PIL import ExifTags, Image, ImageDraw


def _picture(width: int, height: int, color: tuple[int, int, int], seed: int | None, mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, (width, height), color if mode == "RGB" else color + (255,))
    if seed is not None:
        rng = random.Random(seed)
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = rng.randrange(width), rng.randrange(height)
            fill = tuple(rng.randrange(256) for _ in range(3))
            draw.rectangle((x, y, x + width // 4, y + height // 4), fill=fill if mode == "RGB" else fill + (255,))
    return image


def _dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    value = abs(value)
    degrees = int(value)
    minutes_full = (value - degrees) * 60
    minutes = int(minutes_full)
    seconds = Fraction(round((minutes_full - minutes) * 60 * 100), 100)
    return Fraction(degrees), Fraction(minutes), seconds


def jpeg(
    width: int = 64,
    height: int = 48,
    color: tuple[int, int, int] = (200, 30, 30),
    *,
    exif_datetime: str | None = None,
    offset: str | None = None,
    gps: tuple[float, float] | None = None,
    camera: tuple[str, str] | None = None,
    orientation: int | None = None,
    seed: int | None = None,
) -> bytes:
    image = _picture(width, height, color, seed)
    exif = Image.Exif()
    if camera:
        exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = camera
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if exif_datetime or offset:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        if exif_datetime:
            sub[ExifTags.Base.DateTimeOriginal] = exif_datetime
        if offset:
            sub[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps:
        lat, lon = gps
        info = exif.get_ifd(ExifTags.IFD.GPSInfo)
        info[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        info[ExifTags.GPS.GPSLatitude] = _dms(lat)
        info[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        info[ExifTags.GPS.GPSLongitude] = _dms(lon)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, exif=exif)
    return out.getvalue()


def png(width: int = 64, height: int = 48, *, alpha: bool = False, seed: int | None = None) -> bytes:
    image = _picture(width, height, (30, 120, 200), seed, "RGBA" if alpha else "RGB")
    if alpha:
        # A transparent corner block, large enough to survive JPEG's 8×8 blocks.
        image.paste((0, 0, 0, 0), (0, 0, 16, 16))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def webp(width: int = 64, height: int = 48, *, seed: int | None = None) -> bytes:
    out = io.BytesIO()
    _picture(width, height, (30, 200, 60), seed).save(out, format="WEBP")
    return out.getvalue()


def gif(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    _picture(width, height, (200, 200, 30), 1).convert("P").save(out, format="GIF")
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A few hundred bytes that declare a huge image: a decompression bomb."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    # Only the first rows are given: the header alone must get it refused.
    data = compressor.compress(row * 4) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    whole = jpeg(400, 300, seed=99)
    return whole[: len(whole) // 2]


def not_an_image() -> bytes:
    return "Đây không phải là ảnh, chỉ là văn bản đặt tên .jpg\n".encode() * 20


def ico_bytes() -> bytes:
    out = io.BytesIO()
    _picture(32, 32, (10, 10, 10), 2).save(out, format="ICO")
    return out.getvalue()


def oversize_jpeg(min_bytes: int) -> bytes:
    """Noise, so it does not compress below `min_bytes`."""
    side = 256
    while True:
        image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=95)
        if out.tell() >= min_bytes:
            return out.getvalue()
        side *= 2
