"""Bot API methods about the bot itself: identity, updates, settings, files."""

from __future__ import annotations

import re
from typing import Any

from .errors import WEBHOOK_ACTIVE_CONFLICT, bad_request, conflict
from .registry import Call, api_method
from .state import command_scope_key
from .views import CallbackAnswer

MAX_POLL_TIMEOUT = 50.0  # Telegram holds a long poll for at most about 50 s
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


@api_method("getMe")
async def get_me(call: Call) -> object:
    state = call.state
    return {
        **state.bot.json,
        "can_join_groups": True,
        "can_read_all_group_messages": not state.config.group_privacy,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@api_method("logOut", "close")
async def log_out(call: Call) -> object:
    return True


@api_method("getUpdates")
async def get_updates(call: Call) -> object:
    state, params = call.state, call.params
    if state.webhook.url:
        raise conflict(WEBHOOK_ACTIVE_CONFLICT)
    allowed = params.structure("allowed_updates", invalid="can't parse allowed_updates")
    if isinstance(allowed, list):
        state.updates.set_allowed(str(kind) for kind in allowed)
    timeout = min(max(params.number("timeout") or 0.0, 0.0), MAX_POLL_TIMEOUT)
    return await state.updates.fetch(
        offset=params.integer("offset"),
        limit=params.integer("limit") or 100,
        timeout=timeout,
        client_alive=call.client_alive,
    )


@api_method("setWebhook")
async def set_webhook(call: Call) -> object:
    state, params = call.state, call.params
    url = params.string("url") or ""
    if url and not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    if params.flag("drop_pending_updates"):
        state.updates.drop_all()
    allowed = params.structure("allowed_updates", invalid="can't parse allowed_updates")
    if isinstance(allowed, list):
        state.updates.set_allowed(str(kind) for kind in allowed)
        state.webhook.allowed_updates = [str(kind) for kind in allowed]
    state.webhook.url = url
    state.webhook.secret_token = params.string("secret_token")
    state.webhook.max_connections = params.integer("max_connections") or 40
    state.webhook.last_error_date = state.webhook.last_error_message = None
    state.webhook_delivery.restart()
    return True


@api_method("deleteWebhook")
async def delete_webhook(call: Call) -> object:
    state = call.state
    if call.params.flag("drop_pending_updates"):
        state.updates.drop_all()
    state.webhook.url = ""
    state.webhook_delivery.stop()
    return True


@api_method("getWebhookInfo")
async def get_webhook_info(call: Call) -> object:
    webhook = call.state.webhook
    info: dict[str, Any] = {
        "url": webhook.url,
        "has_custom_certificate": False,
        "pending_update_count": call.state.updates.pending_count,
    }
    if webhook.url:
        info["max_connections"] = webhook.max_connections
        if webhook.allowed_updates is not None:
            info["allowed_updates"] = webhook.allowed_updates
        if webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message
    return info


def _scope_key(call: Call) -> tuple[str, str]:
    scope = call.params.structure("scope", invalid="can't parse BotCommandScope JSON object")
    if scope is not None and not (isinstance(scope, dict) and "type" in scope):
        raise bad_request("can't parse BotCommandScope JSON object")
    return command_scope_key(scope), call.params.string("language_code") or ""


@api_method("setMyCommands")
async def set_my_commands(call: Call) -> object:
    commands = call.params.structure("commands", invalid="can't parse commands JSON object")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    cleaned = []
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand JSON object")
        name = str(command.get("command", "")).lstrip("/")
        description = str(command.get("description", ""))
        if not _COMMAND_NAME.match(name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        cleaned.append({"command": name, "description": description})
    call.state.commands[_scope_key(call)] = cleaned
    return True


@api_method("getMyCommands")
async def get_my_commands(call: Call) -> object:
    return call.state.commands.get(_scope_key(call), [])


@api_method("deleteMyCommands")
async def delete_my_commands(call: Call) -> object:
    call.state.commands.pop(_scope_key(call), None)
    return True


def _bot_text(field: str, call: Call, limit: int) -> bool:
    value = call.params.string(field) or ""
    if len(value) > limit:
        raise bad_request(f"{field.upper()}_INVALID")
    key = (field, call.params.string("language_code") or "")
    if value:
        call.state.bot_texts[key] = value
    else:
        call.state.bot_texts.pop(key, None)
    return True


@api_method("setMyDescription")
async def set_my_description(call: Call) -> object:
    return _bot_text("description", call, 512)


@api_method("setMyShortDescription")
async def set_my_short_description(call: Call) -> object:
    return _bot_text("short_description", call, 120)


@api_method("setMyName")
async def set_my_name(call: Call) -> object:
    return _bot_text("name", call, 64)


def _get_bot_text(field: str, call: Call, default: str = "") -> dict[str, str]:
    language = call.params.string("language_code") or ""
    texts = call.state.bot_texts
    value = texts.get((field, language)) or texts.get((field, "")) or default
    return {field: value}


@api_method("getMyDescription")
async def get_my_description(call: Call) -> object:
    return _get_bot_text("description", call)


@api_method("getMyShortDescription")
async def get_my_short_description(call: Call) -> object:
    return _get_bot_text("short_description", call)


@api_method("getMyName")
async def get_my_name(call: Call) -> object:
    return _get_bot_text("name", call, call.state.bot.first_name)


@api_method("getFile")
async def get_file(call: Call) -> object:
    file_id = call.params.string("file_id", missing="invalid file_id")
    stored = call.state.files.get(file_id or "")
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.file_size > call.state.config.max_download_size:
        raise bad_request("file is too big")
    return stored.as_file()


@api_method("answerCallbackQuery")
async def answer_callback_query(call: Call) -> object:
    params = call.params
    query_id = params.string("callback_query_id", missing="QUERY_ID_INVALID") or ""
    text = params.string("text")
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    call.state.answer_callback(
        CallbackAnswer(
            callback_query_id=query_id,
            text=text,
            show_alert=params.flag("show_alert"),
            url=params.string("url"),
            cache_time=params.integer("cache_time"),
        )
    )
    return True
