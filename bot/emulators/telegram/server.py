"""HTTP routes: the Bot API, file downloads and the control API.

POST {base}/bot{token}/{method}        Bot API (form, multipart, JSON or query)
GET  {base}/file/bot{token}/{path}     file downloads
     {base}/_emulator/...              control API, see control.py
"""

from __future__ import annotations

import json
import logging
import traceback

from aiohttp import web

# Imported for their side effect: each registers its methods in HANDLERS.
from . import methods_bot, methods_chat, methods_edit, methods_send  # noqa: F401
from .control import add_control_routes
from .errors import ApiError, not_found, unauthorized
from .params import Params, read_params
from .registry import HANDLERS, Call
from .state import EmulatorState

_LOGGER = logging.getLogger(__name__)


def _json_response(status: int, body: object) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        content_type="application/json",
    )


class ApiServer:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.app = web.Application(client_max_size=state.config.max_upload_size + 1024 * 1024)
        self.app.router.add_route("*", "/bot{token}/{method}", self.handle_api)
        self.app.router.add_get("/file/bot{token}/{path:.+}", self.handle_file)
        add_control_routes(self.app, state)

    async def handle_api(self, request: web.Request) -> web.Response:
        state = self.state
        method = request.match_info["method"]
        if request.match_info["token"] != state.config.token:
            return _json_response(401, unauthorized().payload())
        handler = HANDLERS.get(method.lower())
        if handler is None:
            return _json_response(404, not_found().payload())
        state.stats.method_calls[method] += 1
        params: Params | None = None

        def client_alive() -> bool:
            transport = request.transport
            return transport is not None and not transport.is_closing()

        try:
            params = await read_params(request, max_upload_size=state.config.max_upload_size)
            target = _chat_id_for_log(params.values.get("chat_id"))
            if target is not None and target in state.failing_chats:
                raise state.failing_chats[target]
            result = await handler(Call(state, params, client_alive))
        except ApiError as error:
            if client_alive():  # an abandoned poll ending in 409 is nobody's error
                chat_id = params.values.get("chat_id") if params is not None else None
                state.note_error(method, _chat_id_for_log(chat_id), error.error_code, error.description)
            return _json_response(error.error_code, error.payload())
        except Exception:  # an emulator bug must not look like a Telegram answer
            _LOGGER.exception("emulator failed in %s", method)
            state.internal_errors.append(f"{method}: {traceback.format_exc()}")
            return _json_response(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
        finally:
            state.activity.notify()
        return _json_response(200, {"ok": True, "result": result})

    async def handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.state.config.token:
            return _json_response(401, unauthorized().payload())
        stored = self.state.files.by_path(request.match_info["path"])
        if stored is None:
            return _json_response(404, not_found().payload())
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")


def _chat_id_for_log(value: object) -> int | str | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    return None
