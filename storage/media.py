"""Photo files on the local disk, addressed by content.

The same bytes always land at the same key, so a photo is stored once however
many reports use it. Originals (with EXIF and GPS: private evidence) and
display copies (what others see) live under separate top-level folders.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

KINDS = ("original", "display")


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes, *, kind: str, suffix: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown media kind {kind!r}")
        if not suffix.startswith(".") or "/" in suffix or len(suffix) > 8:
            raise ValueError(f"bad suffix {suffix!r}")
        digest = hashlib.sha256(data).hexdigest()
        key = f"{kind}/{digest[:2]}/{digest[2:4]}/{digest}{suffix}"
        path = self.path(key)
        if path.exists():
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename: a crash leaves either no file
        # or the whole file, never half a photo under its content address.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def path(self, key: str) -> Path:
        candidate = Path(key)
        if candidate.is_absolute() or ".." in candidate.parts or not key:
            raise ValueError(f"media key {key!r} leaves the store")
        resolved = (self.root / candidate).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise ValueError(f"media key {key!r} leaves the store")
        return resolved

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).exists()
