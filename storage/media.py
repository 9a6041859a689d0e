"""Photo and document files on the local disk, addressed by content.

A key is `<kind>/<h0h1>/<h2h3>/<sha256><suffix>`: the same bytes always land
at the same key, so a photo is written once however many reports use it, and
the two fan-out levels keep any one directory small.

Originals (with EXIF and GPS: private evidence under 003 Art. 8.2) and
display copies (what other people see) live under separate top-level
folders, so they can be backed up, served and permissioned differently.
Evidence is what officials attach to their answers (scans of inspection
records, reply letters): official papers, not citizens' photos, so it gets
a folder of its own rather than sharing the display copies' permissions.
Files are created owner-only (0600).

Synchronous on purpose: callers run it with `asyncio.to_thread`.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
import tempfile
from pathlib import Path


class MediaKind(enum.StrEnum):
    ORIGINAL = "original"
    DISPLAY = "display"
    EVIDENCE = "evidence"


KINDS: tuple[str, ...] = tuple(kind.value for kind in MediaKind)

_SUFFIX_RE = re.compile(r"(\.[a-z0-9]{1,8})?")
# Every key put() can return, and nothing else: no "..", no absolute path,
# no separator tricks can get through a pattern this narrow.
_KEY_RE = re.compile(
    r"(?P<kind>" + "|".join(KINDS) + r")/(?P<a>[0-9a-f]{2})/(?P<b>[0-9a-f]{2})/"
    r"(?P<digest>[0-9a-f]{64})(\.[a-z0-9]{1,8})?"
)
_TEMP_PREFIX = ".tmp-"


class InvalidMediaKey(ValueError):
    """A key that put() could not have returned (possibly an escape attempt)."""


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes, *, kind: str, suffix: str) -> str:
        """Store `data` once and return its key; the same bytes, kind and
        suffix always give the same key."""
        if kind not in KINDS:
            raise ValueError(f"unknown media kind {kind!r}")
        if not _SUFFIX_RE.fullmatch(suffix):
            raise ValueError(f"media suffix must be '' or like '.jpg', got {suffix!r}")
        digest = hashlib.sha256(data).hexdigest()
        key = f"{kind}/{digest[:2]}/{digest[2:4]}/{digest}{suffix}"
        target = self.path(key)
        if target.exists():
            # Content-addressed: an existing file already holds these bytes,
            # because files only ever appear whole (see _write_atomically).
            return key
        _make_directories(target.parent)
        _write_atomically(target, data)
        return key

    def path(self, key: str) -> Path:
        match = _KEY_RE.fullmatch(key) if isinstance(key, str) else None
        if match is None or not match["digest"].startswith(match["a"] + match["b"]):
            raise InvalidMediaKey(f"not a media key: {key!r}")
        return self.root / key

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()


def _write_atomically(target: Path, data: bytes) -> None:
    """Write beside the target, fsync, then rename over it.

    A crash leaves either no file or the whole file, never half a photo
    under its content address. Two writers of the same bytes race harmlessly:
    both rename identical content onto the same name.
    """
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=_TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


def _make_directories(directory: Path) -> None:
    """mkdir -p, making each new directory entry durable like the file's."""
    missing: list[Path] = []
    current = directory
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        _fsync_directory(new.parent)


def _fsync_directory(directory: Path) -> None:
    # The rename itself is durable only once the directory entry is on disk.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
