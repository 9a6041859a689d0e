"""Bot API methods that change or delete existing messages."""

from __future__ import annotations

from .errors import bad_request
from .inputs import caption_params, inline_markup_param, target_chat, text_content
from .model import StoredMessage
from .registry import Call, api_method

MEDIA_KEYS = ("photo", "document", "video", "audio", "animation", "voice")


def _message_to_edit(call: Call) -> StoredMessage:
    if "inline_message_id" in call.params:
        # Inline mode is not emulated, so no inline message can exist.
        raise bad_request("MESSAGE_ID_INVALID")
    chat = target_chat(call)
    message_id = call.params.integer("message_id", missing="message identifier is not specified")
    message = call.state.find_message(chat, message_id)
    if message is None:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return message


@api_method("editMessageText")
async def edit_message_text(call: Call) -> object:
    message = _message_to_edit(call)
    if "text" not in message.content:
        raise bad_request("there is no text in the message to edit")
    content = {key: value for key, value in message.content.items() if key not in ("text", "entities")}
    content.update(text_content(call.params))
    markup = inline_markup_param(call.params, message.chat)
    call.state.bot_edits(message, content=content, inline_markup=markup, method="editMessageText")
    return message.raw


@api_method("editMessageCaption")
async def edit_message_caption(call: Call) -> object:
    message = _message_to_edit(call)
    if not any(key in message.content for key in MEDIA_KEYS):
        raise bad_request("there is no caption in the message to edit")
    content = {key: value for key, value in message.content.items() if key not in ("caption", "caption_entities")}
    content.update(caption_params(call.params))
    markup = inline_markup_param(call.params, message.chat)
    call.state.bot_edits(message, content=content, inline_markup=markup, method="editMessageCaption")
    return message.raw


@api_method("editMessageReplyMarkup")
async def edit_message_reply_markup(call: Call) -> object:
    message = _message_to_edit(call)
    markup = inline_markup_param(call.params, message.chat)
    call.state.bot_edits(message, content=message.content, inline_markup=markup, method="editMessageReplyMarkup")
    return message.raw


def _deletable(call: Call, message: StoredMessage) -> bool:
    chat = message.chat
    # Bots may delete anything in private chats and their own messages
    # anywhere; other people's group messages need admin rights.
    return message.from_bot or not chat.is_group or chat.bot_status == "administrator"


@api_method("deleteMessage")
async def delete_message(call: Call) -> object:
    chat = call.state.resolve_chat(call.params.chat_id())
    message_id = call.params.integer("message_id", missing="message identifier is not specified")
    message = call.state.find_message(chat, message_id)
    if message is None:
        raise bad_request("message to delete not found")
    if not _deletable(call, message):
        raise bad_request("message can't be deleted")
    call.state.delete(message)
    return True


@api_method("deleteMessages")
async def delete_messages(call: Call) -> object:
    chat = call.state.resolve_chat(call.params.chat_id())
    ids = call.params.structure("message_ids", invalid="can't parse message identifiers")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise bad_request("message identifiers are not specified")
    found = [
        message
        for message_id in ids
        if isinstance(message_id, int)
        and (message := call.state.find_message(chat, message_id)) is not None
        and _deletable(call, message)
    ]
    if not found:
        raise bad_request("message to delete not found")
    for message in found:
        call.state.delete(message)
    return True
