"""Pushing updates to a webhook, for bots that run in webhook mode.

Updates go one at a time, in order, and leave the queue only once the bot
answered 2xx; failures are recorded for getWebhookInfo and retried with a
growing delay, as Telegram does. Unlike Telegram we accept plain-http URLs,
since a bot under test listens on localhost without TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp

if TYPE_CHECKING:
    from .updates import UpdateQueue

FIRST_RETRY_DELAY = 0.2
MAX_RETRY_DELAY = 5.0
REQUEST_TIMEOUT = 10.0


@dataclass
class WebhookSettings:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


class WebhookDelivery:
    def __init__(self, queue: UpdateQueue, settings: WebhookSettings, clock: Callable[[], float]) -> None:
        self._queue = queue
        self._settings = settings
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def restart(self) -> None:
        """Apply the current settings: deliver if a URL is set, stop otherwise."""
        self.stop()
        if self._settings.url:
            self._task = asyncio.get_running_loop().create_task(self._run(self._settings.url), name="emulator-webhook")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def wait_stopped(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, url: str) -> None:
        delay = FIRST_RETRY_DELAY
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                await self._queue.wait_pending(None)
                update = self._queue.peek()
                if update is None or self._queue.closed:
                    return
                error = await self._post(session, url, update)
                if error is None:
                    self._queue.mark_delivered(update["update_id"])
                    self._queue.confirm(update["update_id"] + 1)
                    delay = FIRST_RETRY_DELAY
                    continue
                self._settings.last_error_date = int(self._clock())
                self._settings.last_error_message = error
                await asyncio.sleep(delay)  # retry back-off, not polling
                delay = min(delay * 2, MAX_RETRY_DELAY)

    async def _post(self, session: aiohttp.ClientSession, url: str, update: dict[str, object]) -> str | None:
        headers = {}
        if self._settings.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self._settings.secret_token
        try:
            async with session.post(url, json=update, headers=headers) as response:
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"Connection failed: {exc.__class__.__name__}"
