"""Photo checks (bot/domain/photos.py) and the content-addressed store (storage/media.py)."""

from __future__ import annotations

import hashlib
import io
import os
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import EpsImagePlugin, ExifTags, Image, ImageCms, ImageFile
from PIL.TiffImagePlugin import IFDRational

import bot.domain.photos
from bot.domain.photos import (
    DISPLAY_SUFFIX,
    PhotoLimits,
    PhotoProblem,
    PhotoRejected,
    ProcessedPhoto,
    process_photo,
)
from storage.media import InvalidMediaKey, MediaKind, MediaStore
from tests import images

MIB = 1024 * 1024


def rejection(data: bytes, limits: PhotoLimits | None = None) -> PhotoRejected:
    with pytest.raises(PhotoRejected) as err:
        process_photo(data, limits or PhotoLimits())
    return err.value


def display_of(photo: ProcessedPhoto) -> Image.Image:
    image = Image.open(io.BytesIO(photo.display))
    image.load()
    return image


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    """JPEG is lossy: compare colours within a tolerance."""
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


@pytest.fixture
def load_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Records every pixel decode Pillow performs."""
    calls: list[object] = []
    original = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> object:
        calls.append(self)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return calls


# --- accepted photos ----------------------------------------------------------


def test_a_plain_jpeg_passes() -> None:
    data = images.jpeg(seed=1)
    photo = process_photo(data)
    assert photo.source_format == "JPEG"
    assert (photo.width, photo.height) == (64, 48)
    assert photo.original_sha256 == hashlib.sha256(data).hexdigest()
    assert photo.original_size == len(data)
    assert photo.display_sha256 == hashlib.sha256(photo.display).hexdigest()
    assert photo.captured_at is None and photo.gps is None and photo.camera is None
    assert photo.original_suffix == ".jpg"


@pytest.mark.parametrize(
    ("factory", "expected", "suffix"),
    [
        (lambda: images.png(seed=2), "PNG", ".png"),
        (lambda: images.webp(seed=3), "WEBP", ".webp"),
        (lambda: images.gif(), "GIF", ".gif"),
        (lambda: images.bmp(), "BMP", ".bmp"),
        (lambda: images.tiff(), "TIFF", ".tif"),
    ],
)
def test_other_photo_formats_are_detected_from_content(
    factory: Callable[[], bytes], expected: str, suffix: str
) -> None:
    photo = process_photo(factory())
    assert photo.source_format == expected
    assert photo.original_suffix == suffix
    assert (photo.width, photo.height) == (64, 48)
    assert display_of(photo).format == "JPEG"


def test_an_animated_gif_gives_its_first_frame() -> None:
    photo = process_photo(images.gif(frames=3))
    assert near(display_of(photo).getpixel((0, 47)), (200, 200, 30), tolerance=40)


def test_an_mpo_from_a_phone_is_a_jpeg_photo() -> None:
    out = io.BytesIO()
    frames = [images.picture(40, 30, (0, 200, 0)), images.picture(40, 30, (200, 0, 0))]
    frames[0].save(out, format="MPO", save_all=True, append_images=frames[1:])
    photo = process_photo(out.getvalue())
    assert photo.source_format == "MPO" and photo.original_suffix == ".jpg"
    assert near(display_of(photo).getpixel((5, 5)), (0, 200, 0))


def test_a_cmyk_jpeg_becomes_rgb() -> None:
    out = io.BytesIO()
    Image.new("CMYK", (30, 20), (0, 255, 255, 0)).save(out, format="JPEG")
    assert near(display_of(process_photo(out.getvalue())).getpixel((5, 5)), (255, 0, 0))


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    display = display_of(process_photo(images.grey16_png()))
    assert near(display.convert("RGB").getpixel((2, 2)), (0, 0, 0))
    assert near(display.convert("RGB").getpixel((30, 2)), (255, 255, 255))


# --- refusals -----------------------------------------------------------------


def test_too_large_is_refused_before_anything_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("an oversize file must not be parsed")

    monkeypatch.setattr(bot.domain.photos.Image, "open", no_open)
    data = images.oversize_jpeg(50_000)
    refused = rejection(data, PhotoLimits(max_bytes=40_000))
    assert refused.problem is PhotoProblem.TOO_LARGE
    assert (refused.size_bytes, refused.limit_bytes) == (len(data), 40_000)


def test_the_default_limit_is_ten_mebibytes() -> None:
    # A valid small JPEG padded after its end marker: only the size is wrong.
    padded = images.jpeg() + bytes(10 * MIB)
    assert rejection(padded).problem is PhotoProblem.TOO_LARGE
    exactly = images.jpeg()
    assert process_photo(exactly + bytes(10 * MIB - len(exactly))).source_format == "JPEG"


@pytest.mark.parametrize(
    "data",
    [
        images.not_an_image(),
        images.zip_bytes(),
        b"",
        b"\x00" * 100,
        bytes(range(256)) * 4,
    ],
    ids=["text", "zip", "empty", "zeros", "noise"],
)
def test_not_an_image(data: bytes) -> None:
    assert rejection(data).problem is PhotoProblem.NOT_AN_IMAGE


@pytest.mark.parametrize(
    ("data", "fmt"),
    [(images.ico_bytes(), "ICO"), (images.eps_bytes(), "EPS")],
    ids=["ico", "eps"],
)
def test_images_that_are_not_photos_are_unsupported(data: bytes, fmt: str) -> None:
    refused = rejection(data)
    assert refused.problem is PhotoProblem.UNSUPPORTED_FORMAT
    assert refused.source_format == fmt


def test_eps_is_never_parsed_nor_given_to_ghostscript(monkeypatch: pytest.MonkeyPatch) -> None:
    touched: list[str] = []

    def refuse_open(self: object) -> None:
        touched.append("parse")
        raise AssertionError("EPS parser reached")

    def refuse_gs(*args: object, **kwargs: object) -> None:
        touched.append("ghostscript")
        raise AssertionError("Ghostscript reached")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", refuse_open)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", refuse_gs)
    assert rejection(images.eps_bytes()).problem is PhotoProblem.UNSUPPORTED_FORMAT
    assert touched == []


@pytest.mark.parametrize(
    "data",
    [
        images.truncated_jpeg(),
        images.truncated_jpeg(keep=0.9),
        images.jpeg(seed=1)[:40],  # cut inside the headers
        images.png(400, 300, seed=4)[:-300],  # cut inside the pixel data
        images.webp(400, 300, seed=5)[:200],
    ],
    ids=["jpeg-data", "jpeg-tail", "jpeg-header", "png", "webp"],
)
def test_truncated_photos_are_refused(data: bytes) -> None:
    assert rejection(data).problem is PhotoProblem.TRUNCATED


def test_pillow_never_pads_truncated_images() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    process_photo(images.jpeg())
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_refuses_to_run_if_someone_enables_truncated_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError):
        process_photo(images.truncated_jpeg())


def test_too_many_pixels_by_our_own_limit() -> None:
    refused = rejection(images.jpeg(200, 100), PhotoLimits(max_pixels=10_000))
    assert refused.problem is PhotoProblem.TOO_MANY_PIXELS
    assert (refused.pixels, refused.limit_pixels) == (20_000, 10_000)
    assert process_photo(images.jpeg(100, 100), PhotoLimits(max_pixels=10_000)).width == 100


@pytest.mark.parametrize(
    ("data", "pillow_limit_hit"),
    [
        (images.bomb_png(), True),  # 900 M pixels, only the header is honest
        (images.bomb_png(100_000, 100_000), True),
        (images.bomb_png(30_000, 30_000, valid=True), True),  # a complete, valid image
        # Under Pillow's own bomb limit: only our check stands in the way.
        (images.bomb_png(8000, 6000, valid=True), False),
    ],
    ids=["header-30k", "header-100k", "valid-30k", "valid-48MP"],
)
def test_bombs_are_refused_fast_without_decoding(data: bytes, pillow_limit_hit: bool, load_calls: list[object]) -> None:
    assert len(data) < 200_000
    started = time.perf_counter()
    refused = rejection(data)
    assert time.perf_counter() - started < 1.0
    assert refused.problem is PhotoProblem.TOO_MANY_PIXELS
    assert load_calls == []
    assert refused.limit_pixels == 40_000_000
    if not pillow_limit_hit:
        assert refused.pixels == 48_000_000


def test_pillow_global_state_is_left_alone() -> None:
    max_pixels = Image.MAX_IMAGE_PIXELS
    filters = list(warnings.filters)
    rejection(images.bomb_png())
    rejection(images.bomb_png(8000, 6000, valid=True))
    process_photo(images.jpeg())
    assert Image.MAX_IMAGE_PIXELS == max_pixels
    assert warnings.filters == filters


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        PhotoLimits(max_bytes=0)
    with pytest.raises(ValueError):
        PhotoLimits(max_display_side=-1)


# --- evidence from EXIF -------------------------------------------------------


def test_capture_time_without_offset_is_naive_wall_clock() -> None:
    photo = process_photo(images.jpeg(exif_datetime="2024:05:17 08:30:15"))
    assert photo.captured_at == datetime(2024, 5, 17, 8, 30, 15)
    assert photo.captured_at.tzinfo is None


def test_capture_time_with_offset_is_aware() -> None:
    photo = process_photo(images.jpeg(exif_datetime="2024:05:17 08:30:15", offset="+07:00"))
    assert photo.captured_at == datetime(2024, 5, 17, 8, 30, 15, tzinfo=timezone(timedelta(hours=7)))
    assert photo.captured_at.utcoffset() == timedelta(hours=7)


def test_capture_time_falls_back_to_datetime() -> None:
    photo = process_photo(images.jpeg(modified="2023:12:31 23:59:59"))
    assert photo.captured_at == datetime(2023, 12, 31, 23, 59, 59)


def test_original_time_wins_over_modification_time() -> None:
    photo = process_photo(images.jpeg(exif_datetime="2024:01:02 03:04:05", modified="2024:06:01 00:00:00"))
    assert photo.captured_at == datetime(2024, 1, 2, 3, 4, 5)


@pytest.mark.parametrize("stamp", ["0000:00:00 00:00:00", "yesterday", "2024:13:01 10:00:00", "    "])
def test_nonsense_capture_time_is_none(stamp: str) -> None:
    assert process_photo(images.jpeg(exif_datetime=stamp)).captured_at is None


def test_nonsense_offset_leaves_the_time_naive() -> None:
    photo = process_photo(images.jpeg(exif_datetime="2024:05:17 08:30:15", offset="+99:00"))
    assert photo.captured_at == datetime(2024, 5, 17, 8, 30, 15)


def test_gps_from_degrees_minutes_seconds() -> None:
    # 21°1'30"N 105°51'0"E, central Hà Nội.
    assert process_photo(images.jpeg(gps=(21.025, 105.85))).gps == (21.025, 105.85)


def test_gps_south_and_west_are_negative() -> None:
    assert process_photo(images.jpeg(gps=(-33.5, -70.25))).gps == (-33.5, -70.25)


def test_gps_in_whole_degree_rationals() -> None:
    raw = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (IFDRational(21025, 1000),),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (IFDRational(10585, 100), IFDRational(0, 1), IFDRational(0, 1)),
    }
    assert process_photo(images.jpeg(gps_ifd=raw)).gps == (21.025, 105.85)


@pytest.mark.parametrize(
    "raw",
    [
        {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (IFDRational(95, 1), IFDRational(0, 1), IFDRational(0, 1)),
        },
        {ExifTags.GPS.GPSLatitude: (IFDRational(1, 0), IFDRational(0, 1), IFDRational(0, 1))},
        {ExifTags.GPS.GPSLatitudeRef: "Q"},
        {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (IFDRational(21, 1), IFDRational(75, 1), IFDRational(0, 1)),
        },
        {ExifTags.GPS.GPSStatus: "V"},
    ],
    ids=["latitude-95", "zero-denominator", "bad-ref", "75-minutes", "void-fix"],
)
def test_nonsense_gps_is_none(raw: dict[int, object]) -> None:
    assert process_photo(images.jpeg(gps=(21.025, 105.85), gps_ifd=raw)).gps is None


def test_gps_without_a_hemisphere_is_none() -> None:
    raw = {
        ExifTags.GPS.GPSLatitude: (IFDRational(21, 1), IFDRational(1, 1), IFDRational(30, 1)),
        ExifTags.GPS.GPSLongitude: (IFDRational(105, 1), IFDRational(51, 1), IFDRational(0, 1)),
    }
    assert process_photo(images.jpeg(gps_ifd=raw)).gps is None


def test_null_island_is_none() -> None:
    assert process_photo(images.jpeg(gps=(0.0, 0.0))).gps is None


def test_camera_make_and_model() -> None:
    assert process_photo(images.jpeg(camera=("samsung", "SM-A546E"))).camera == "samsung SM-A546E"
    # Many makers repeat the make in the model.
    assert process_photo(images.jpeg(camera=("Canon", "Canon EOS 80D"))).camera == "Canon EOS 80D"


def test_metadata_is_read_from_other_formats_too() -> None:
    photo = process_photo(images.png(metadata=images.exif(exif_datetime="2024:05:17 08:30:15", gps=(21.025, 105.85))))
    assert photo.captured_at == datetime(2024, 5, 17, 8, 30, 15) and photo.gps == (21.025, 105.85)
    assert process_photo(images.webp(metadata=images.exif(camera=("Apple", "iPhone 15")))).camera == "Apple iPhone 15"
    assert process_photo(images.tiff(metadata=images.exif(camera=("Nikon", "D750")))).camera == "Nikon D750"


# --- the display copy ---------------------------------------------------------


def test_display_copy_carries_no_metadata() -> None:
    data = images.jpeg(
        exif_datetime="2024:05:17 08:30:15",
        offset="+07:00",
        gps=(21.025, 105.85),
        camera=("SecretMake", "SecretModel"),
        orientation=1,
    )
    photo = process_photo(data)
    assert photo.gps is not None and photo.camera is not None  # the original had it all
    display = display_of(photo)
    assert display.format == "JPEG" and display.mode == "RGB"
    assert len(display.getexif()) == 0
    assert display.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert "exif" not in display.info and "icc_profile" not in display.info
    assert b"Exif\x00\x00" not in photo.display
    assert b"Secret" not in photo.display


def test_display_copy_drops_the_icc_profile() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = process_photo(images.jpeg(icc_profile=srgb))
    display = display_of(photo)
    assert "icc_profile" not in display.info
    assert near(display.getpixel((10, 10)), (200, 30, 30))
    # A broken profile is ignored, not fatal.
    assert process_photo(images.jpeg(icc_profile=b"not a profile" * 4)).source_format == "JPEG"


def test_display_copy_fits_the_longest_side() -> None:
    photo = process_photo(images.jpeg(400, 300, seed=1), PhotoLimits(max_display_side=100))
    assert (photo.width, photo.height) == (400, 300)  # the original's size
    assert display_of(photo).size == (100, 75)
    tall = process_photo(images.png(300, 400, seed=1), PhotoLimits(max_display_side=100))
    assert display_of(tall).size == (75, 100)


def test_a_large_camera_jpeg_is_shrunk_to_the_default_side() -> None:
    photo = process_photo(images.jpeg(6000, 4000, seed=3))
    assert (photo.width, photo.height) == (6000, 4000)
    assert display_of(photo).size == (2560, 1707)


def test_large_jpegs_are_decoded_at_reduced_scale(load_calls: list[object]) -> None:
    # libjpeg scales by 1/2 while decoding: 6000×4000 never exists in memory.
    process_photo(images.jpeg(6000, 4000, seed=3))
    decoded = load_calls[0]  # later calls are Pillow's idempotent re-checks
    assert isinstance(decoded, Image.Image) and decoded.size == (3000, 2000)


def test_small_photos_are_not_enlarged() -> None:
    assert display_of(process_photo(images.jpeg(64, 48))).size == (64, 48)


def test_orientation_is_applied() -> None:
    # Red left half, blue right half; orientation 6 = turn 90° clockwise to view.
    data = images.jpeg(60, 40, (255, 0, 0), right_color=(0, 0, 255), orientation=6)
    photo = process_photo(data)
    assert (photo.width, photo.height) == (40, 60)
    display = display_of(photo)
    assert display.size == (40, 60)
    assert near(display.getpixel((20, 5)), (255, 0, 0))  # left went to the top
    assert near(display.getpixel((20, 55)), (0, 0, 255))
    assert len(display.getexif()) == 0  # so viewers do not rotate it again


@pytest.mark.parametrize(
    ("orientation", "size", "red_at"),
    [(1, (60, 40), (5, 20)), (3, (60, 40), (55, 20)), (8, (40, 60), (20, 55))],
)
def test_other_orientations(orientation: int, size: tuple[int, int], red_at: tuple[int, int]) -> None:
    data = images.jpeg(60, 40, (255, 0, 0), right_color=(0, 0, 255), orientation=orientation)
    display = display_of(process_photo(data))
    assert display.size == size
    assert near(display.getpixel(red_at), (255, 0, 0))


def test_transparency_is_flattened_on_white() -> None:
    photo = process_photo(images.png(alpha=True))
    display = display_of(photo)
    assert display.mode == "RGB"
    assert near(display.getpixel((3, 3)), (255, 255, 255))
    assert near(display.getpixel((40, 40)), (30, 120, 200))


def test_same_bytes_same_hashes_different_photos_different_hashes() -> None:
    first, again = process_photo(images.jpeg(seed=1)), process_photo(images.jpeg(seed=1))
    other = process_photo(images.jpeg(seed=2))
    assert first.original_sha256 == again.original_sha256
    assert first.display_sha256 == again.display_sha256
    assert first.original_sha256 != other.original_sha256


def test_safe_to_run_in_parallel_threads() -> None:
    inputs = [images.jpeg(seed=n) for n in range(8)] + [images.bomb_png()] * 4
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(_outcome, inputs))
    assert outcomes[:8] == [process_photo(data).original_sha256 for data in inputs[:8]]
    assert outcomes[8:] == [PhotoProblem.TOO_MANY_PIXELS] * 4


def _outcome(data: bytes) -> str:
    try:
        return process_photo(data).original_sha256
    except PhotoRejected as refused:
        return refused.problem


# --- MediaStore -----------------------------------------------------------------


def test_put_and_read_back(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    data = images.jpeg(seed=1)
    digest = hashlib.sha256(data).hexdigest()
    key = store.put(data, kind="original", suffix=".jpg")
    assert key == f"original/{digest[:2]}/{digest[2:4]}/{digest}.jpg"
    assert store.exists(key)
    assert store.read(key) == data
    assert store.path(key) == tmp_path / "media" / key


def test_originals_and_display_copies_live_apart(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    photo = process_photo(images.jpeg(seed=1, gps=(21.025, 105.85)))
    original = store.put(
        images.jpeg(seed=1, gps=(21.025, 105.85)), kind=MediaKind.ORIGINAL, suffix=photo.original_suffix
    )
    display = store.put(photo.display, kind=MediaKind.DISPLAY, suffix=DISPLAY_SUFFIX)
    assert original.startswith("original/") and display.startswith("display/")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["display", "original"]


def test_put_is_idempotent_and_writes_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = MediaStore(tmp_path)
    data = images.jpeg(seed=2)
    key = store.put(data, kind="display", suffix=".jpg")
    stat = store.path(key).stat()

    def no_replace(*args: object) -> None:
        raise AssertionError("already stored: must not be written again")

    monkeypatch.setattr(os, "replace", no_replace)
    assert store.put(data, kind="display", suffix=".jpg") == key
    assert store.path(key).stat().st_mtime_ns == stat.st_mtime_ns
    assert store.path(key).stat().st_ino == stat.st_ino


def test_put_writes_atomically_and_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = MediaStore(tmp_path)
    synced: list[int] = []
    real_fsync = os.fsync

    def spy_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy_fsync)

    def crash(*args: object) -> None:
        raise OSError("disk gone")

    data = images.jpeg(seed=3)
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", crash)
        with pytest.raises(OSError):
            store.put(data, kind="original", suffix=".jpg")
    # Nothing half-written under the content address, no temporary left over.
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == []
    assert synced  # the file's data was flushed to disk before the rename

    key = store.put(data, kind="original", suffix=".jpg")
    assert store.read(key) == data
    assert [p for p in store.path(key).parent.iterdir()] == [store.path(key)]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_stored_files_are_private(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    key = store.put(b"evidence", kind="original", suffix=".jpg")
    assert store.path(key).stat().st_mode & 0o777 == 0o600


def test_same_bytes_in_different_kinds_are_separate(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    assert store.put(b"x", kind="original", suffix=".jpg") != store.put(b"x", kind="display", suffix=".jpg")


@pytest.mark.parametrize(
    "key",
    [
        "../etc/passwd",
        "/etc/passwd",
        "original/../../etc/passwd",
        "original/ab/cd/../../../../etc/passwd",
        "original\\ab\\cd\\x.jpg",
        "original/ab/cd/" + "0" * 64 + ".jpg",  # fan-out does not match the hash
        "secret/00/00/" + "0" * 64 + ".jpg",
        "original/00/00/" + "0" * 64 + ".jpg/..",
        "",
    ],
)
def test_keys_that_could_escape_the_store_are_refused(tmp_path: Path, key: str) -> None:
    store = MediaStore(tmp_path)
    for use in (store.path, store.read, store.exists):
        with pytest.raises(InvalidMediaKey):
            use(key)
    assert issubclass(InvalidMediaKey, ValueError)


@pytest.mark.parametrize(
    ("kind", "suffix"),
    [("secret", ".jpg"), ("../x", ".jpg"), ("display", "/../x"), ("display", "jpg"), ("display", ".JPG")],
)
def test_bad_kind_or_suffix_is_refused(tmp_path: Path, kind: str, suffix: str) -> None:
    with pytest.raises(ValueError):
        MediaStore(tmp_path).put(b"x", kind=kind, suffix=suffix)
    assert list(tmp_path.iterdir()) == []
