"""A small HTTP API for driving the emulator from another process.

All bodies are JSON; answers are {"ok": true, "result": ...} or
{"ok": false, "description": ...} with status 400.

    GET  /_emulator/state                      bot, users, chats, counters
    POST /_emulator/users                      {first_name, last_name?, username?,
                                                language_code?, phone_number?}
    POST /_emulator/messages                   {user_id, text, chat_id?}
    POST /_emulator/callbacks                  {user_id, message_id, chat_id?,
                                                text? | callback_data?}
    GET  /_emulator/chats/{chat_id}/messages   ?after=<message_id>
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from .client import ChatHandle
from .model import User
from .state import EmulatorState
from .views import MessageView


class _ControlError(Exception):
    pass


def _ok(result: object) -> web.Response:
    return web.json_response({"ok": True, "result": result}, dumps=lambda value: json.dumps(value, ensure_ascii=False))


def _message_json(view: MessageView) -> dict[str, Any]:
    result = dict(view.raw)
    if view.markup is not None and not view.markup.inline:
        result["client_reply_markup"] = view.markup.raw  # not part of a real Message
    if view.deleted:
        result["deleted"] = True
    return result


def add_control_routes(app: web.Application, state: EmulatorState) -> None:
    async def body(request: web.Request) -> dict[str, Any]:
        try:
            value = await request.json()
        except ValueError:
            raise _ControlError("body must be a JSON object") from None
        if not isinstance(value, dict):
            raise _ControlError("body must be a JSON object")
        return value

    def user_of(payload: dict[str, Any]) -> User:
        user = state.users.get(int(payload.get("user_id", 0)))
        if user is None:
            raise _ControlError("unknown user_id")
        return user

    def handle_for(payload: dict[str, Any]) -> ChatHandle:
        user = user_of(payload)
        chat = state.chats.get(int(payload.get("chat_id", user.id)))
        if chat is None:
            raise _ControlError("unknown chat_id")
        return ChatHandle(state, chat, user)

    async def get_state(request: web.Request) -> web.Response:
        return _ok(
            {
                "bot": state.bot.json,
                "users": [user.json for user in state.users.values()],
                "chats": [chat.json for chat in state.chats.values()],
                "sent_total": state.stats.sent_total,
                "pending_updates": state.updates.pending_count,
            }
        )

    async def add_user(request: web.Request) -> web.Response:
        payload = await body(request)
        user = state.add_user(
            str(payload.get("first_name") or "User"),
            payload.get("last_name"),
            username=payload.get("username"),
            language_code=payload.get("language_code", "vi"),
            phone_number=payload.get("phone_number"),
        )
        return _ok(user.json)

    async def send_message(request: web.Request) -> web.Response:
        payload = await body(request)
        text = payload.get("text")
        if not isinstance(text, str) or not text:
            raise _ControlError("text is required")
        view = await handle_for(payload).send_text(text)
        return _ok(_message_json(view))

    async def press(request: web.Request) -> web.Response:
        payload = await body(request)
        pressed = await handle_for(payload).press(
            int(payload.get("message_id", 0)),
            payload.get("text"),
            callback_data=payload.get("callback_data"),
        )
        return _ok({"callback_query_id": pressed.query_id, "data": pressed.data})

    async def history(request: web.Request) -> web.Response:
        chat = state.chats.get(int(request.match_info["chat_id"]))
        if chat is None:
            raise _ControlError("unknown chat_id")
        after = int(request.query.get("after", 0))
        return _ok(
            [_message_json(state.view(message)) for message in chat.messages.values() if message.message_id > after]
        )

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except (_ControlError, AssertionError, LookupError, TypeError, ValueError, RuntimeError) as error:
            return web.json_response({"ok": False, "description": str(error)}, status=400)

    control = web.Application(middlewares=[errors])
    control.router.add_get("/state", get_state)
    control.router.add_post("/users", add_user)
    control.router.add_post("/messages", send_message)
    control.router.add_post("/callbacks", press)
    control.router.add_get("/chats/{chat_id}/messages", history)
    app.add_subapp("/_emulator", control)
