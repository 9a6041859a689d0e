"""Bot API methods that create messages."""

from __future__ import annotations

from typing import Any

from .errors import bad_request
from .inputs import (
    Media,
    caption_content,
    caption_params,
    markup_param,
    media_content,
    media_param,
    reply_target,
    resolve_media,
    target_chat,
    text_content,
)
from .markup import Markup
from .model import Chat, StoredMessage
from .registry import Call, api_method

MEDIA_GROUP_TYPES = ("photo", "video", "document", "audio")
MIN_ALBUM, MAX_ALBUM = 2, 10


def _send(
    call: Call,
    chat: Chat,
    content: dict[str, Any],
    *,
    markup: Markup | None = None,
    reply_to: StoredMessage | None = None,
    forward_origin: dict[str, Any] | None = None,
) -> StoredMessage:
    # Flood limits are checked last, after validation: a rejected request
    # should not use up the chat's allowance.
    call.state.limiter.acquire(chat.id, is_group=chat.is_group)
    _count_paid(call, 1)
    return call.state.bot_sends(chat, content, markup=markup, reply_to=reply_to, forward_origin=forward_origin)


def _count_paid(call: Call, messages: int) -> None:
    if call.params.flag("allow_paid_broadcast"):
        call.state.stats.paid_broadcasts += messages


@api_method("sendMessage")
async def send_message(call: Call) -> object:
    chat = target_chat(call)
    content = text_content(call.params)
    markup = markup_param(call.params, chat)
    reply_to = reply_target(call, chat)
    return _send(call, chat, content, markup=markup, reply_to=reply_to).raw


async def _send_media(call: Call, kind: str) -> object:
    chat = target_chat(call)
    media = media_param(call, kind, kind)
    content = media_content(kind, media)
    if kind != "sticker":
        content.update(caption_params(call.params))
    markup = markup_param(call.params, chat)
    reply_to = reply_target(call, chat)
    return _send(call, chat, content, markup=markup, reply_to=reply_to).raw


@api_method("sendPhoto")
async def send_photo(call: Call) -> object:
    return await _send_media(call, "photo")


@api_method("sendDocument")
async def send_document(call: Call) -> object:
    return await _send_media(call, "document")


@api_method("sendVideo")
async def send_video(call: Call) -> object:
    return await _send_media(call, "video")


@api_method("sendVoice")
async def send_voice(call: Call) -> object:
    return await _send_media(call, "voice")


@api_method("sendAudio")
async def send_audio(call: Call) -> object:
    return await _send_media(call, "audio")


@api_method("sendAnimation")
async def send_animation(call: Call) -> object:
    return await _send_media(call, "animation")


@api_method("sendSticker")
async def send_sticker(call: Call) -> object:
    return await _send_media(call, "sticker")


@api_method("sendMediaGroup")
async def send_media_group(call: Call) -> object:
    chat = target_chat(call)
    items = call.params.structure("media", invalid="can't parse media JSON object")
    if items is None:
        raise bad_request('parameter "media" is required')
    if not isinstance(items, list):
        raise bad_request("can't parse media JSON object")
    if not MIN_ALBUM <= len(items) <= MAX_ALBUM:
        raise bad_request("media group must contain between 2 and 10 items")
    contents = [_album_item(call, item) for item in items]
    _check_album_mix([content_kind for content_kind, _ in contents])
    reply_to = reply_target(call, chat)
    call.state.limiter.acquire(chat.id, is_group=chat.is_group, weight=len(contents))
    _count_paid(call, len(contents))
    group_id = call.state.next_media_group_id()
    sent = []
    for _, content in contents:
        content["media_group_id"] = group_id
        sent.append(call.state.bot_sends(chat, content, reply_to=reply_to).raw)
    return sent


def _album_item(call: Call, item: object) -> tuple[str, dict[str, Any]]:
    if not isinstance(item, dict) or item.get("type") not in MEDIA_GROUP_TYPES:
        raise bad_request("can't parse InputMedia: unsupported media type")
    kind = str(item["type"])
    reference = item.get("media")
    media: Media = resolve_media(call, None, str(reference) if reference else None, kind, call.params)
    content = media_content(kind, media)
    content.update(caption_content(item.get("caption"), item.get("parse_mode"), item.get("caption_entities")))
    return kind, content


def _check_album_mix(kinds: list[str]) -> None:
    for exclusive in ("document", "audio"):
        if exclusive in kinds and any(kind != exclusive for kind in kinds):
            raise bad_request(f"{exclusive} can't be mixed with other media types")


def _coordinates(call: Call) -> dict[str, Any]:
    params = call.params
    latitude = params.number("latitude", missing="wrong latitude", invalid="wrong latitude")
    longitude = params.number("longitude", missing="wrong longitude", invalid="wrong longitude")
    assert latitude is not None and longitude is not None
    if not -90 <= latitude <= 90:
        raise bad_request("wrong latitude")
    if not -180 <= longitude <= 180:
        raise bad_request("wrong longitude")
    location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    for optional in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
        value = params.number(optional)
        if value is not None:
            location[optional] = value
    return location


@api_method("sendLocation")
async def send_location(call: Call) -> object:
    chat = target_chat(call)
    content = {"location": _coordinates(call)}
    markup = markup_param(call.params, chat)
    reply_to = reply_target(call, chat)
    return _send(call, chat, content, markup=markup, reply_to=reply_to).raw


@api_method("sendVenue")
async def send_venue(call: Call) -> object:
    chat = target_chat(call)
    params = call.params
    location = _coordinates(call)
    venue: dict[str, Any] = {
        "location": location,
        "title": params.string("title", missing="venue title is empty"),
        "address": params.string("address", missing="venue address is empty"),
    }
    for optional in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
        if params.string(optional):
            venue[optional] = params.string(optional)
    # A venue message carries the bare location as well, as on Telegram.
    content = {"venue": venue, "location": location}
    markup = markup_param(params, chat)
    reply_to = reply_target(call, chat)
    return _send(call, chat, content, markup=markup, reply_to=reply_to).raw


@api_method("sendContact")
async def send_contact(call: Call) -> object:
    chat = target_chat(call)
    params = call.params
    contact: dict[str, Any] = {
        "phone_number": params.string("phone_number", missing="phone number is empty"),
        "first_name": params.string("first_name", missing="contact first name is empty"),
    }
    for optional in ("last_name", "vcard"):
        if params.string(optional):
            contact[optional] = params.string(optional)
    markup = markup_param(params, chat)
    reply_to = reply_target(call, chat)
    return _send(call, chat, {"contact": contact}, markup=markup, reply_to=reply_to).raw


def _source_message(call: Call, missing: str) -> StoredMessage:
    source_chat = call.state.resolve_chat(call.params.chat_id("from_chat_id"))
    message_id = call.params.integer("message_id", missing="message identifier is not specified")
    message = call.state.find_message(source_chat, message_id)
    if message is None:
        raise bad_request(missing)
    return message


@api_method("copyMessage")
async def copy_message(call: Call) -> object:
    chat = target_chat(call)
    source = _source_message(call, "message to copy not found")
    content = {key: value for key, value in source.content.items() if key != "media_group_id"}
    if "caption" in call.params and "text" not in content:
        content.pop("caption", None)
        content.pop("caption_entities", None)
        content.update(caption_params(call.params))
    markup = markup_param(call.params, chat)
    reply_to = reply_target(call, chat)
    message = _send(call, chat, content, markup=markup, reply_to=reply_to)
    return {"message_id": message.message_id}


@api_method("forwardMessage")
async def forward_message(call: Call) -> object:
    chat = target_chat(call)
    source = _source_message(call, "message to forward not found")
    origin = source.forward_origin or {
        "type": "user",
        "sender_user": source.sender.json,
        "date": source.date,
    }
    content = {key: value for key, value in source.content.items() if key != "media_group_id"}
    return _send(call, chat, content, forward_origin=origin).raw
