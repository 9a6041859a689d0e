"""Bot API methods about chats and their members."""

from __future__ import annotations

from typing import Any

from .errors import bad_request
from .inputs import target_chat
from .model import Chat, User, member_json
from .registry import Call, api_method
from .state import EmulatorState

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_NO_GIFTS = {
    "unlimited_gifts": False,
    "limited_gifts": False,
    "unique_gifts": False,
    "premium_subscription": False,
    "gifts_from_channels": False,
}


def _member_status(state: EmulatorState, chat: Chat, user_id: int) -> tuple[User, str]:
    if user_id == state.bot.id:
        status = "kicked" if chat.blocked else chat.bot_status
        return state.bot, status
    user = state.users.get(user_id)
    if user is None:
        raise bad_request("user not found")
    if chat.is_group:
        return user, chat.members.get(user_id, "left")
    return user, "member" if user_id == chat.id else "left"


@api_method("getChat")
async def get_chat(call: Call) -> object:
    chat = call.state.resolve_chat(call.params.chat_id())
    result: dict[str, Any] = dict(chat.json)
    result.update(accent_color_id=0, max_reaction_count=11, accepted_gift_types=_NO_GIFTS)
    if chat.is_group:
        result["permissions"] = {"can_send_messages": True}
    return result


@api_method("getChatMember")
async def get_chat_member(call: Call) -> object:
    chat = call.state.resolve_chat(call.params.chat_id())
    user_id = call.params.integer("user_id", missing="user not found", invalid="user not found")
    assert user_id is not None
    user, status = _member_status(call.state, chat, user_id)
    return member_json(user, status)


@api_method("getChatAdministrators")
async def get_chat_administrators(call: Call) -> object:
    chat = call.state.resolve_chat(call.params.chat_id())
    if not chat.is_group:
        raise bad_request("there are no administrators in the private chat")
    admins = [
        member_json(call.state.users[user_id], status)
        for user_id, status in chat.members.items()
        if status in ("creator", "administrator")
    ]
    if chat.bot_status == "administrator":
        admins.append(member_json(call.state.bot, "administrator"))
    return admins


@api_method("getChatMemberCount", "getChatMembersCount")
async def get_chat_member_count(call: Call) -> object:
    chat = call.state.resolve_chat(call.params.chat_id())
    if not chat.is_group:
        return 2
    present = sum(1 for status in chat.members.values() if status not in ("left", "kicked"))
    return present + (1 if chat.bot_status in ("member", "administrator") else 0)


@api_method("leaveChat")
async def leave_chat(call: Call) -> object:
    chat = call.state.resolve_chat(call.params.chat_id())
    if not chat.is_group:
        raise bad_request("chat member status can't be changed in private chats")
    if chat.bot_status in ("left", "kicked"):
        raise bad_request("USER_NOT_PARTICIPANT")
    chat.bot_status = "left"
    return True


@api_method("sendChatAction")
async def send_chat_action(call: Call) -> object:
    chat = target_chat(call)
    action = call.params.string("action", missing="wrong parameter action in request")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    chat.actions.append(action)
    return True


@api_method("setChatMenuButton")
async def set_chat_menu_button(call: Call) -> object:
    button = call.params.structure("menu_button", invalid="can't parse menu button JSON object")
    if button is not None and (not isinstance(button, dict) or "type" not in button):
        raise bad_request("can't parse menu button JSON object")
    if "chat_id" in call.params:
        call.state.resolve_chat(call.params.chat_id()).menu_button = button
    else:
        call.state.default_menu_button = button
    return True


@api_method("getChatMenuButton")
async def get_chat_menu_button(call: Call) -> object:
    if "chat_id" in call.params:
        button = call.state.resolve_chat(call.params.chat_id()).menu_button
        if button is not None:
            return button
    return call.state.default_menu_button or {"type": "default"}
