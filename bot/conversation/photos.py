"""Photos for a draft: fetch from the platform, check, store, and acknowledge.

Fetching is the platform's (`Files`); an album's single acknowledgement after
its last photo is timed by the platform adapter, which knows how its albums
arrive, and asks `album_ack` for the words.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from bot.conversation.drafting import photos_buttons, prompt, wrong_kind_text
from bot.conversation.inputs import FileRef, Sender, Upload
from bot.conversation.replies import Reply, Say
from bot.conversation.scope import user_scope
from bot.deps import Deps
from bot.domain import drafts
from bot.domain.drafts import DraftPhoto, Problem, Step
from bot.domain.photos import DISPLAY_SUFFIX, PhotoProblem, PhotoRejected, ProcessedPhoto, process_photo
from bot.i18n import Translator
from storage.media import MediaStore


class FileTooLarge(Exception):
    """The platform will not hand over a file this large."""


class Files(Protocol):
    """A platform's way to fetch a file someone sent."""

    async def fetch(self, file: FileRef) -> bytes:
        """The file's bytes; raises FileTooLarge when the platform refuses for its size."""
        ...


async def on_upload(deps: Deps, sender: Sender, upload: Upload, files: Files) -> list[Reply]:
    """A photo or file while a draft is open."""
    limits = deps.photo_limits
    async with user_scope(deps, sender) as s:
        _ = s._
        working = await drafts.load(s.session, s.user.id)
    if working is None or working.step is not Step.PHOTOS:
        # A photo at another step: say what that step needs instead.
        if working is None:
            return []
        return [Say(wrong_kind_text(working.step, _)), await prompt(deps, working, _)]
    try:
        if upload.size is not None and upload.size > limits.max_bytes:
            raise PhotoRejected(PhotoProblem.TOO_LARGE, limit_bytes=limits.max_bytes, size_bytes=upload.size)
        try:
            data = await files.fetch(upload.file)
        except FileTooLarge as exc:
            raise PhotoRejected(PhotoProblem.TOO_LARGE, limit_bytes=limits.max_bytes) from exc
        processed = await asyncio.to_thread(process_photo, data, limits)
    except PhotoRejected as rejected:
        return [Say(rejection_text(rejected, _))]
    # A photo's platform id lets the platform show it again without an upload; a document's does not.
    reusable = upload.file if upload.photo else None
    photo = await asyncio.to_thread(_store, deps.media, data, processed, reusable)
    async with user_scope(deps, sender) as s:
        working = await drafts.load(s.session, s.user.id)
        if working is None or working.step is not Step.PHOTOS:
            return []
        problem = drafts.add_photo(working, photo, deps.draft_limits)
        drafts.save(working)
        count = len(working.content.photos)
    if problem is Problem.TOO_MANY_PHOTOS:
        too_many = _(
            "You already have {max} photos, the most a report can take. Press “Done”, or remove them and send others.",
            max=deps.draft_limits.max_photos,
        )
        return [Say(too_many, photos_buttons(_, count))]
    if upload.album is not None:
        # One acknowledgement for the whole album, asked for by the adapter after its last photo.
        return []
    return [Say(ack_text(count, deps.draft_limits.max_photos, _), photos_buttons(_, count))]


async def album_ack(deps: Deps, sender: Sender) -> list[Reply]:
    """The acknowledgement once an album's photos are all in, if the draft still takes photos."""
    async with user_scope(deps, sender) as s:
        _ = s._
        working = await drafts.load(s.session, s.user.id)
    if working is None or working.step is not Step.PHOTOS:
        return []
    count = len(working.content.photos)
    return [Say(ack_text(count, deps.draft_limits.max_photos, _), photos_buttons(_, count))]


def _store(media: MediaStore, data: bytes, processed: ProcessedPhoto, file: FileRef | None) -> DraftPhoto:
    original_key = media.put(data, kind="original", suffix=processed.original_suffix)
    display_key = media.put(processed.display, kind="display", suffix=DISPLAY_SUFFIX)
    captured = processed.captured_at.isoformat() if processed.captured_at else None
    return DraftPhoto(
        original_sha256=processed.original_sha256,
        original_key=original_key,
        display_key=display_key,
        file_platform=file.platform if file else None,
        file_id=file.file_id if file else None,
        source_format=processed.source_format,
        width=processed.width,
        height=processed.height,
        captured_at=captured,
        gps=processed.gps,
        camera=processed.camera,
    )


def ack_text(count: int, maximum: int, _: Translator) -> str:
    return _(
        "📷 {count} of at most {max} photos received. Send more, or press “Done”.",
        count=count,
        max=maximum,
    )


def rejection_text(rejected: PhotoRejected, _: Translator) -> str:
    match rejected.problem:
        case PhotoProblem.TOO_LARGE:
            return _(
                "This file is too large. A photo may be at most {mb} MB. Please send a smaller photo.",
                mb=round((rejected.limit_bytes or 0) / 1_048_576, 1),
            )
        case PhotoProblem.NOT_AN_IMAGE:
            return _("This file is not a picture. Please send a photo (JPEG, PNG or WebP).")
        case PhotoProblem.UNSUPPORTED_FORMAT:
            return _("This kind of image file is not accepted. Please send a photo (JPEG, PNG or WebP).")
        case PhotoProblem.TOO_MANY_PIXELS:
            return _("This image is far too large in pixels to be a photo. Please send a normal photo.")
        case PhotoProblem.TRUNCATED:
            return _("This photo arrived damaged or incomplete. Please send it again.")
    raise ValueError(rejected.problem)
