"""Wiring: a python-telegram-bot Application for our handlers and dependencies.

The application also runs the outbox sender (bot/delivery/sender.py), started in
`post_init` with the application's Deps and stopped before anything else at
shutdown. `app.bot_data["sender"]` holds the `RunningSender` while it runs;
commits that enqueue outbox rows wake it through `Deps.wake_sender`.
"""

from __future__ import annotations

import sys
from functools import partial
from types import TracebackType

from telegram import BotCommand
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from bot.config import Settings
from bot.delivery.sender import SenderConfig
from bot.deps import Deps, no_sender
from bot.i18n import N_, translator
from bot.interop.cap_http import Source, start_cap_server
from bot.platforms.telegram.ordering import PerUserUpdateProcessor
from bot.platforms.telegram.transport import RunningSender, start_sender
from scheduler import start_scheduler

COMMANDS = (
    ("report", N_("Send a report")),
    ("myreports", N_("My reports")),
    ("alerts", N_("Alerts in force")),
    ("subscribe", N_("Alert settings")),
    ("unsubscribe", N_("Stop all alerts")),
    ("cancel", N_("Cancel what I am doing")),
    ("language", N_("Language")),
    ("help", N_("Help")),
    ("start", N_("Register / my details")),
)

SENDER_KEY = "sender"
# The CAP documents' HTTP server (bot/interop/cap_http.py), when CAP_HTTP_PORT is set.
CAP_SERVER_KEY = "cap_server"
# The scheduler (calendar reloads, and the timed work where enabled), while it runs.
SCHEDULER_KEY = "scheduler"
# Commits in this process wake the sender at once; the poll is only the
# fallback, for rows enqueued by other processes (the command line) and rows
# whose retry time has come.
SENDER_IDLE_POLL = 1.0


def build_application(
    settings: Settings,
    deps: Deps,
    *,
    rate_limit: bool = True,
    sender_config: SenderConfig | None = None,
) -> Application:
    """The bot's Application; `sender_config` replaces the outbox sender's defaults."""
    config = sender_config or SenderConfig(
        default_language=settings.default_language,
        poll_interval=SENDER_IDLE_POLL,
        global_per_second=settings.outbox_per_second,
        concurrency=settings.sender_in_flight,
    )
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.file_base_url)
        .concurrent_updates(PerUserUpdateProcessor())
        .connection_pool_size(16)
        # PTB confirms the last offset with one more getUpdates on shutdown;
        # with a single polling connection that call waits for the cancelled
        # long poll and times out.
        .get_updates_connection_pool_size(2)
        .post_init(partial(_post_init, settings=settings, sender_config=config))
        # For run_polling, which calls it; `running` stops the sender earlier itself.
        .post_shutdown(stop_sender)
    )
    if rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    app = builder.build()
    app.bot_data["deps"] = deps
    from handlers import register

    register(app)
    return app


async def _post_init(app: Application, *, settings: Settings, sender_config: SenderConfig) -> None:
    # The command menu in each language the catalogues have.
    for language in ("vi", "en"):
        _ = translator(language)
        commands = [BotCommand(name, _(description)) for name, description in COMMANDS]
        await app.bot.set_my_commands(commands, language_code=language)
    await app.bot.set_my_commands([BotCommand(n, translator("vi")(d)) for n, d in COMMANDS])
    deps: Deps = app.bot_data["deps"]
    if settings.cap_http_port:
        # Before the sender: a port already taken stops the start with nothing left running.
        app.bot_data[CAP_SERVER_KEY] = await start_cap_server(
            Source(deps.sessions, settings.alert_cap_sender, settings.zone, deps.now),
            host=settings.cap_http_host,
            port=settings.cap_http_port,
        )
    # Last, so that a failure above leaves no sender task behind.
    sender = await start_sender(
        settings,
        deps.sessions,
        deps.media,
        config=sender_config,
        # deps.now, not deps.clock: tests replace the clock after the start.
        clock=deps.now,
    )
    app.bot_data[SENDER_KEY] = sender
    deps.wake_sender = sender.wake
    # Every process reloads its calendars there; only SCHEDULER_ENABLED ones also do the timed work.
    app.bot_data[SCHEDULER_KEY] = await start_scheduler(deps)


def running_sender(app: Application) -> RunningSender | None:
    """The application's outbox sender, while it runs."""
    return app.bot_data.get(SENDER_KEY)


async def stop_scheduler(app: Application) -> None:
    """Stop the timed work (scheduler/), if it runs, and give up its lease; calling it again does nothing."""
    scheduler = app.bot_data.pop(SCHEDULER_KEY, None)
    if scheduler is not None:
        await scheduler.stop()


async def stop_sender(app: Application) -> None:
    """Stop the application's outbox sender, if it runs; calling it again does nothing."""
    # The scheduler first: what it enqueues on its way out is still sent.
    await stop_scheduler(app)
    cap_server = app.bot_data.pop(CAP_SERVER_KEY, None)
    if cap_server is not None:
        await cap_server.stop()
    sender: RunningSender | None = app.bot_data.pop(SENDER_KEY, None)
    if sender is None:
        return
    deps: Deps | None = app.bot_data.get("deps")
    if deps is not None:
        deps.wake_sender = no_sender
    await sender.stop()


class running:
    """Run an Application's polling inside the current event loop.

    `run_polling` owns its own loop; the database engine, the emulator and the
    tests live in ours, so we drive PTB's lifecycle ourselves.
    """

    def __init__(self, app: Application, *, poll_timeout: int = 30, poll_interval: float = 0.0) -> None:
        self.app = app
        self.poll_timeout = poll_timeout
        self.poll_interval = poll_interval

    async def __aenter__(self) -> Application:
        try:
            await self.app.initialize()
            if self.app.post_init:
                await self.app.post_init(self.app)
            await self.app.start()
            assert self.app.updater is not None
            await self.app.updater.start_polling(
                timeout=self.poll_timeout, poll_interval=self.poll_interval, drop_pending_updates=False
            )
        except BaseException:
            # The caller's `async with` body never runs, so neither does __aexit__:
            # without this a started sender task would outlive the failed start.
            await self.__aexit__(*sys.exc_info())
            raise
        return self.app

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # The sender first: its last sends finish and are recorded while the
        # database and the network are still there.
        await stop_sender(self.app)
        assert self.app.updater is not None
        if self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        if self.app.post_shutdown:
            await self.app.post_shutdown(self.app)
