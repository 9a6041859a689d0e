"""Photos for a draft: download, check, store, and acknowledge once per album."""

from __future__ import annotations

import asyncio

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.domain import drafts
from bot.domain.drafts import DraftPhoto, Problem, Step
from bot.domain.photos import (
    DISPLAY_SUFFIX,
    PhotoProblem,
    PhotoRejected,
    ProcessedPhoto,
    process_photo,
)
from bot.i18n import Translator
from handlers.report import photos_keyboard, prompt, wrong_kind_text
from handlers.scope import deps_of, user_scope

ALBUM_ACKS = "album_acks"


def _file_of(message: Message) -> tuple[str, int | None] | None:
    if message.photo:
        largest = message.photo[-1]
        return largest.file_id, largest.file_size
    if message.document:
        return message.document.file_id, message.document.file_size
    return None


async def _download(context: ContextTypes.DEFAULT_TYPE, file_id: str) -> bytes:
    tg_file = await context.bot.get_file(file_id)
    return bytes(await tg_file.download_as_bytearray())


async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    deps = deps_of(context)
    found = _file_of(message)
    assert found is not None
    file_id, declared_size = found
    limits = deps.photo_limits
    async with user_scope(update, context) as s:
        _ = s._
        working = await drafts.load(s.session, s.user.id)
    if working is None or working.step is not Step.PHOTOS:
        # A photo at another step: say what that step needs instead.
        if working is not None:
            await message.reply_text(wrong_kind_text(working.step, _))
            await prompt(message, context, working, _)
        return
    try:
        if declared_size is not None and declared_size > limits.max_bytes:
            raise PhotoRejected(PhotoProblem.TOO_LARGE, limit_bytes=limits.max_bytes, size_bytes=declared_size)
        try:
            data = await _download(context, file_id)
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise PhotoRejected(PhotoProblem.TOO_LARGE, limit_bytes=limits.max_bytes) from exc
            raise
        processed = await asyncio.to_thread(process_photo, data, limits)
    except PhotoRejected as rejected:
        await message.reply_text(rejection_text(rejected, _))
        return
    photo = await asyncio.to_thread(_store, deps.media, data, processed, file_id if message.photo else None)
    async with user_scope(update, context) as s:
        working = await drafts.load(s.session, s.user.id)
        if working is None or working.step is not Step.PHOTOS:
            return
        problem = drafts.add_photo(working, photo, deps.draft_limits)
        drafts.save(working)
        count = len(working.content.photos)
        user_row_id = s.user.id
    if problem is Problem.TOO_MANY_PHOTOS:
        await message.reply_text(
            _(
                "You already have {max} photos, the most a report can take. "
                "Press “Done”, or remove them and send others.",
                max=deps.draft_limits.max_photos,
            ),
            reply_markup=photos_keyboard(_, count),
        )
        return
    if message.media_group_id:
        _schedule_album_ack(context, message, user_row_id, _)
        return
    await message.reply_text(ack_text(count, deps.draft_limits.max_photos, _), reply_markup=photos_keyboard(_, count))


def _store(media, data: bytes, processed: ProcessedPhoto, file_id: str | None) -> DraftPhoto:
    original_key = media.put(data, kind="original", suffix=processed.original_suffix)
    display_key = media.put(processed.display, kind="display", suffix=DISPLAY_SUFFIX)
    captured = processed.captured_at.isoformat() if processed.captured_at else None
    return DraftPhoto(
        original_sha256=processed.original_sha256,
        original_key=original_key,
        display_key=display_key,
        file_id=file_id,
        source_format=processed.source_format,
        width=processed.width,
        height=processed.height,
        captured_at=captured,
        gps=processed.gps,
        camera=processed.camera,
    )


def _schedule_album_ack(context: ContextTypes.DEFAULT_TYPE, message: Message, user_id: int, _: Translator) -> None:
    """Answer an album once, after its last photo, rather than once per photo."""
    acks: dict[tuple[int, str], asyncio.Task] = context.application.bot_data.setdefault(ALBUM_ACKS, {})
    key = (user_id, message.media_group_id or "")
    previous = acks.get(key)
    if previous is not None:
        previous.cancel()
    deps = deps_of(context)

    async def ack_later() -> None:
        await asyncio.sleep(deps.settings.album_quiet_seconds)
        acks.pop(key, None)
        async with deps.sessions() as session:
            working = await drafts.load(session, user_id)
        if working is None or working.step is not Step.PHOTOS:
            return
        count = len(working.content.photos)
        await message.reply_text(
            ack_text(count, deps.draft_limits.max_photos, _), reply_markup=photos_keyboard(_, count)
        )

    acks[key] = context.application.create_task(ack_later(), name=f"album-ack-{key}")


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
