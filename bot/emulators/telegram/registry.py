"""The table of Bot API methods the emulator answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .params import Params
from .state import EmulatorState


@dataclass(frozen=True)
class Call:
    """One Bot API request, as method implementations see it."""

    state: EmulatorState
    params: Params
    client_alive: Callable[[], bool] = lambda: True


Handler = Callable[[Call], Awaitable[object]]

# Method names are case-insensitive on Telegram, so keys are lower-case.
HANDLERS: dict[str, Handler] = {}


def api_method(*names: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in names:
            HANDLERS[name.lower()] = handler
        return handler

    return register
