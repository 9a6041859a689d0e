"""Interpreting the parameters that many Bot API methods share."""

from __future__ import annotations

from typing import Any

from .errors import bad_request
from .files import KINDS, PILLOW_AVAILABLE, StoredFile, image_size, photo_json
from .formatting import check_caption, check_message_text, parse_formatted
from .markup import Markup, parse_reply_markup
from .model import Chat, StoredMessage
from .params import Params, Upload
from .registry import Call

ATTACH_PREFIX = "attach://"

# A photo is several PhotoSize files; everything else is one file.
Media = StoredFile | tuple[StoredFile, ...]


def target_chat(call: Call, name: str = "chat_id") -> Chat:
    return call.state.writable_chat(call.params.chat_id(name))


def markup_param(params: Params, chat: Chat) -> Markup | None:
    value = params.structure("reply_markup", invalid="can't parse reply keyboard markup JSON object")
    return parse_reply_markup(value, private_chat=not chat.is_group)


def inline_markup_param(params: Params, chat: Chat) -> Markup | None:
    markup = markup_param(params, chat)
    if markup is not None and not markup.inline:
        raise bad_request("inline keyboard expected")
    return markup


def reply_target(call: Call, chat: Chat) -> StoredMessage | None:
    """The message a send replies to (reply_parameters or legacy reply_to_message_id)."""
    params = call.params
    reply = params.structure("reply_parameters", invalid="can't parse reply parameters JSON object")
    allow_missing = params.flag("allow_sending_without_reply")
    same_chat = True
    if isinstance(reply, dict):
        message_id = reply.get("message_id")
        allow_missing = bool(reply.get("allow_sending_without_reply"))
        # Replies across chats (quotes of other chats) are not emulated.
        same_chat = reply.get("chat_id") in (None, chat.id, str(chat.id))
    else:
        message_id = params.integer("reply_to_message_id")
    if message_id is None:
        return None
    message = None
    if same_chat and isinstance(message_id, int | str) and str(message_id).lstrip("-").isdigit():
        message = call.state.find_message(chat, int(message_id))
    if message is None and not allow_missing:
        raise bad_request("message to be replied not found")
    return message


def text_content(params: Params) -> dict[str, Any]:
    """{"text", "entities"} from text/parse_mode/entities, validated."""
    raw_text = params.string("text", missing="message text is empty")
    text, entities = parse_formatted(
        raw_text or "",
        params.string("parse_mode"),
        params.structure("entities", invalid="can't parse entities JSON object"),
    )
    check_message_text(text)
    content: dict[str, Any] = {"text": text}
    if entities:
        content["entities"] = entities
    return content


def caption_content(caption: str | None, parse_mode: str | None, explicit_entities: object | None) -> dict[str, Any]:
    """{"caption", "caption_entities"}, or {} for no caption."""
    if not caption:
        return {}
    text, entities = parse_formatted(caption, parse_mode, explicit_entities)
    check_caption(text)
    if not text.strip():
        return {}
    content: dict[str, Any] = {"caption": text}
    if entities:
        content["caption_entities"] = entities
    return content


def caption_params(params: Params) -> dict[str, Any]:
    return caption_content(
        params.string("caption"),
        params.string("parse_mode"),
        params.structure("caption_entities", invalid="can't parse entities JSON object"),
    )


def media_param(call: Call, name: str, kind: str) -> Media:
    """The file a send method got under `name`: an upload, a file_id or a URL."""
    params = call.params
    upload = params.uploads.get(name)
    reference = None if upload is not None else params.string(name)
    if upload is None and not reference:
        raise bad_request(f"there is no {name} in the request")
    return resolve_media(call, upload, reference, kind, params)


def resolve_media(call: Call, upload: Upload | None, reference: str | None, kind: str, params: Params) -> Media:
    if upload is None and reference and reference.startswith(ATTACH_PREFIX):
        upload = params.uploads.get(reference[len(ATTACH_PREFIX) :])
        if upload is None:
            raise bad_request("can't parse InputMedia: media not found")
    if upload is not None:
        call.state.stats.uploads += 1
        call.state.stats.uploaded_bytes += len(upload.data)
        return store_upload(call, upload.data, kind, upload.filename, upload.content_type, params)
    if not reference:
        raise bad_request("can't parse InputMedia: media not found")
    if reference.startswith(("http://", "https://")):
        fetched = call.state.files.url_content(reference)
        if fetched is None:
            raise bad_request("failed to get HTTP URL content")
        file_name = reference.rstrip("/").rpartition("/")[2] or None
        return store_upload(call, fetched[0], kind, file_name, fetched[1], params)
    existing = call.state.files.get(reference)
    if existing is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    if existing.kind != kind:
        raise bad_request(f"can't use file of type {existing.title} as {KINDS[kind].title}")
    if kind == "photo":
        return call.state.files.photo_sizes(reference) or (existing,)
    return existing


def store_upload(
    call: Call,
    data: bytes,
    kind: str,
    file_name: str | None,
    content_type: str | None,
    params: Params,
) -> Media:
    if not data:
        raise bad_request("file must be non-empty")
    files = call.state.files
    if kind == "photo":
        # Telegram re-encodes photos, so bytes that are not an image fail.
        # (Without Pillow we cannot tell, and accept them.)
        if PILLOW_AVAILABLE and image_size(data) is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        return files.add_photo(data)
    if kind == "document":
        return files.add(kind, data, file_name=file_name, mime_type=content_type)
    if kind in ("voice", "audio"):
        return files.add(
            kind, data, file_name=file_name if kind == "audio" else None, duration=params.integer("duration") or 0
        )
    default_size = (512, 512) if kind == "sticker" else (640, 360)
    width, height = image_size(data) or default_size
    if kind == "sticker":
        return files.add(kind, data, width=width, height=height, emoji=params.string("emoji"))
    return files.add(
        kind,
        data,
        file_name=file_name,
        width=params.integer("width") or width,
        height=params.integer("height") or height,
        duration=params.integer("duration") or 0,
    )


def media_content(kind: str, media: Media) -> dict[str, Any]:
    if isinstance(media, tuple):
        return {"photo": photo_json(media)}
    return {kind: media.as_object()}
