"""Decoding Bot API request parameters.

PTB sends every parameter as a form field: strings as they are, everything
else (numbers, booleans, reply_markup, media, allowed_updates) JSON-encoded.
Files travel as multipart parts, either under the parameter's own name
(sendPhoto's `photo`) or under a random name referenced as `attach://name`
(sendMediaGroup). Telegram also accepts query strings and JSON bodies, so we
do too; in a JSON body values arrive already typed, hence the two-way
conversions below.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import BodyPartReader, web

from .errors import ApiError, bad_request


@dataclass(frozen=True)
class Upload:
    """One file part of a multipart request."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Params:
    values: Mapping[str, object]
    uploads: Mapping[str, Upload] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.values or name in self.uploads

    def string(self, name: str, *, missing: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            if missing is not None:
                raise bad_request(missing)
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(value, ensure_ascii=False)

    def integer(self, name: str, *, missing: str | None = None, invalid: str | None = None) -> int | None:
        value = self.values.get(name)
        if value is None:
            if missing is not None:
                raise bad_request(missing)
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(invalid or f"invalid {name} specified") from None

    def number(self, name: str, *, missing: str | None = None, invalid: str | None = None) -> float | None:
        value = self.values.get(name)
        if value is None:
            if missing is not None:
                raise bad_request(missing)
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            return float(str(value).strip())
        except ValueError:
            raise bad_request(invalid or f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def structure(self, name: str, *, invalid: str) -> object | None:
        """A JSON-typed parameter (reply_markup, media, entities...)."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            decoded: object = json.loads(value)
        except ValueError:
            raise bad_request(invalid) from None
        return decoded

    def chat_id(self, name: str = "chat_id") -> int | str:
        """An integer chat id or a public `@username`."""
        value = self.values.get(name)
        if value is None or value == "":
            raise bad_request(f"{name} is empty")
        if isinstance(value, str) and value.startswith("@"):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request("chat not found") from None


async def read_params(request: web.Request, *, max_upload_size: int) -> Params:
    values: dict[str, object] = dict(request.query)
    uploads: dict[str, Upload] = {}
    content_type = request.content_type
    if content_type == "multipart/form-data":
        await _read_multipart(request, values, uploads, max_upload_size)
    elif content_type == "application/json":
        body = await request.read()
        if body:
            try:
                decoded = json.loads(body)
            except ValueError:
                raise bad_request("can't parse JSON encoded request parameters") from None
            if not isinstance(decoded, dict):
                raise bad_request("JSON object expected")
            values.update(decoded)
    elif request.body_exists:
        form = await request.post()
        values.update({key: value for key, value in form.items() if isinstance(value, str)})
    return Params(values, uploads)


async def _read_multipart(
    request: web.Request,
    values: dict[str, object],
    uploads: dict[str, Upload],
    max_upload_size: int,
) -> None:
    # Read parts ourselves rather than via request.post(): post() spools every
    # file to a temporary file on disk, and uploads are small and many here.
    reader = await request.multipart()
    total = 0
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.filename is None:
            values[part.name] = await part.text()
            continue
        data = bytes(await part.read(decode=False))
        total += len(data)
        if total > max_upload_size:
            raise ApiError(413, "Request Entity Too Large")
        uploads[part.name] = Upload(
            name=part.name,
            filename=part.filename,
            content_type=part.headers.get("Content-Type"),
            data=data,
        )
