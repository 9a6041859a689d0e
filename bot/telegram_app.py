"""Wiring: a python-telegram-bot Application for our handlers and dependencies."""
from __future__ import annotations

from telegram import BotCommand
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from bot.config import Settings
from bot.deps import Deps
from bot.i18n import N_, translator
from bot.ordering import PerUserUpdateProcessor

COMMANDS = (
    ("report", N_("Send a report")),
    ("myreports", N_("My reports")),
    ("cancel", N_("Cancel what I am doing")),
    ("language", N_("Language")),
    ("help", N_("Help")),
    ("start", N_("Register / my details")),
)


def build_application(settings: Settings, deps: Deps, *, rate_limit: bool = True) -> Application:
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
        .post_init(_post_init)
    )
    if rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    app = builder.build()
    app.bot_data["deps"] = deps
    from handlers import register

    register(app)
    return app


async def _post_init(app: Application) -> None:
    # The command menu in each language the catalogues have.
    for language in ("vi", "en"):
        _ = translator(language)
        commands = [BotCommand(name, _(description)) for name, description in COMMANDS]
        await app.bot.set_my_commands(commands, language_code=language)
    await app.bot.set_my_commands([BotCommand(n, translator("vi")(d)) for n, d in COMMANDS])


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
        await self.app.initialize()
        if self.app.post_init:
            await self.app.post_init(self.app)
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(
            timeout=self.poll_timeout, poll_interval=self.poll_interval, drop_pending_updates=False
        )
        return self.app

    async def __aexit__(self, *exc) -> None:
        assert self.app.updater is not None
        if self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
