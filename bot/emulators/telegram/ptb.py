"""Running a python-telegram-bot Application against the emulator.

async with BotApiEmulator() as emu:
    app = application_builder(emu).build()
    app.add_handler(...)
    async with running_application(app):
        ...  # drive it through emu's chat handles
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from telegram.ext import Application, ApplicationBuilder

from .emulator import BotApiEmulator

AppT = TypeVar("AppT", bound="Application[Any, Any, Any, Any, Any, Any]")

# Every request is local; a bug should fail fast rather than wait PTB's 5 s.
LOCAL_TIMEOUT = 5.0


def application_builder(
    emu: BotApiEmulator, *, timeout: float = LOCAL_TIMEOUT
) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    """An ApplicationBuilder already pointed at the emulator (token and URLs)."""
    return (
        ApplicationBuilder()
        .token(emu.token)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .connect_timeout(timeout)
        .read_timeout(timeout)
        .write_timeout(timeout)
        .pool_timeout(timeout)
        .get_updates_connect_timeout(timeout)
        .get_updates_read_timeout(timeout)
        .get_updates_pool_timeout(timeout)
    )


@contextlib.asynccontextmanager
async def running_application(
    app: AppT,
    *,
    poll_timeout: float = 10.0,
    drop_pending_updates: bool = False,
    allowed_updates: list[str] | None = None,
) -> AsyncIterator[AppT]:
    """Initialise `app`, poll the emulator with no interval, and shut down cleanly.

    This is what Application.run_polling does, minus signal handling and
    the blocking loop, so tests can run the bot inside their own event loop.
    Stopping cancels the pending long poll at once; it does not wait for
    `poll_timeout`.
    """
    await app.initialize()
    try:
        assert app.updater is not None, "build the Application with an Updater"
        await app.updater.start_polling(
            poll_interval=0.0,
            timeout=int(poll_timeout),
            drop_pending_updates=drop_pending_updates,
            allowed_updates=allowed_updates,
        )
        await app.start()
        try:
            yield app
        finally:
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
    finally:
        await app.shutdown()
