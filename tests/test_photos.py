"""Photo checks and the content-addressed store."""
from __future__ import annotations

import io
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image

from bot.photos import PhotoLimits, PhotoProblem, PhotoRejected, process_photo
from storage.media import MediaStore
from tests import images


def rejected(data: bytes, limits: PhotoLimits = PhotoLimits()) -> PhotoProblem:
    with pytest.raises(PhotoRejected) as err:
        process_photo(data, limits)
    return err.value.problem


def test_a_plain_jpeg_passes() -> None:
    photo = process_photo(images.jpeg(seed=1))
    assert photo.source_format == "JPEG" and (photo.width, photo.height) == (64, 48)
    assert photo.captured_at is None and photo.gps is None and photo.camera is None


def test_each_problem_for_its_input() -> None:
    assert rejected(images.oversize_jpeg(50_000), PhotoLimits(max_bytes=40_000)) is PhotoProblem.TOO_LARGE
    assert rejected(images.not_an_image()) is PhotoProblem.NOT_AN_IMAGE
    assert rejected(b"") is PhotoProblem.NOT_AN_IMAGE
    assert rejected(images.ico_bytes()) is PhotoProblem.UNSUPPORTED_FORMAT
    assert rejected(images.bomb_png()) is PhotoProblem.TOO_MANY_PIXELS
    assert rejected(images.truncated_jpeg()) is PhotoProblem.TRUNCATED


def test_the_bomb_is_refused_without_decoding() -> None:
    data = images.bomb_png(60000, 60000)
    assert len(data) < 2000
    started = time.perf_counter()
    assert rejected(data) is PhotoProblem.TOO_MANY_PIXELS
    assert time.perf_counter() - started < 1.0


def test_other_formats_from_content_not_names() -> None:
    assert process_photo(images.png(seed=2)).source_format == "PNG"
    assert process_photo(images.webp(seed=3)).source_format == "WEBP"
    assert process_photo(images.gif()).source_format == "GIF"


def test_exif_time_gps_and_camera_are_kept_as_evidence() -> None:
    data = images.jpeg(
        exif_datetime="2026:11:20 08:15:30", gps=(21.025, 105.85), camera=("Samsung", "Galaxy A15")
    )
    photo = process_photo(data)
    assert photo.captured_at == datetime(2026, 11, 20, 8, 15, 30)
    assert photo.gps == pytest.approx((21.025, 105.85), abs=1e-5)
    assert photo.camera == "Samsung Galaxy A15"


def test_offset_makes_capture_time_aware_and_south_west_are_negative() -> None:
    photo = process_photo(images.jpeg(exif_datetime="2026:01:02 03:04:05", offset="+07:00", gps=(-33.5, -70.25)))
    assert photo.captured_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=7)))
    assert photo.gps == pytest.approx((-33.5, -70.25), abs=1e-5)


def test_the_display_copy_carries_no_metadata() -> None:
    photo = process_photo(images.jpeg(exif_datetime="2026:11:20 08:15:30", gps=(21.0, 105.8), camera=("A", "B")))
    shown = Image.open(io.BytesIO(photo.display))
    assert shown.format == "JPEG"
    assert not shown.getexif()
    assert "exif" not in shown.info


def test_display_copy_is_upright_and_bounded() -> None:
    photo = process_photo(images.jpeg(60, 40, orientation=6))
    assert (photo.width, photo.height) == (40, 60)
    assert Image.open(io.BytesIO(photo.display)).size == (40, 60)
    big = process_photo(images.jpeg(3000, 1000, seed=4), PhotoLimits(max_display_side=1000))
    assert max(Image.open(io.BytesIO(big.display)).size) == 1000


def test_alpha_is_flattened_on_white() -> None:
    photo = process_photo(images.png(alpha=True))
    shown = Image.open(io.BytesIO(photo.display))
    assert shown.mode == "RGB"
    assert all(c > 240 for c in shown.getpixel((0, 0)))


def test_same_bytes_same_hash() -> None:
    data = images.jpeg(seed=5)
    assert process_photo(data).original_sha256 == process_photo(data).original_sha256
    assert process_photo(data).original_sha256 != process_photo(images.jpeg(seed=6)).original_sha256


def test_store_is_idempotent_and_content_addressed(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    first = store.put(b"abc", kind="original", suffix=".jpg")
    second = store.put(b"abc", kind="original", suffix=".jpg")
    assert first == second and first.startswith("original/")
    assert store.read(first) == b"abc" and store.exists(first)
    assert store.put(b"abc", kind="display", suffix=".jpg").startswith("display/")
    assert not list(tmp_path.rglob(".tmp-*"))


def test_store_refuses_keys_outside_it(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    for key in ("../secret", "/etc/passwd", "display/../../x", ""):
        with pytest.raises(ValueError):
            store.path(key)
    with pytest.raises(ValueError):
        store.put(b"x", kind="elsewhere", suffix=".jpg")
