"""A local Telegram Bot API emulator for the demo, end-to-end tests and benchmarks.

The bot talks to it over HTTP exactly as to api.telegram.org; tests act as
Telegram users through `ChatHandle`s. Typical use:

    async with BotApiEmulator() as emu:
        app = application_builder(emu).build()
        register_handlers(app)
        alice = emu.add_user("Lan", "Nguyễn")
        chat = emu.private_chat(alice)
        async with running_application(app):
            await chat.send_text("/start")
            menu = await chat.expect(contains="Xin chào")
            await chat.press(menu, "Gửi phản ánh")
            await chat.expect_callback_answer()

Module map: emulator (BotApiEmulator), client (ChatHandle), views (what
tests read), state/model/updates/files (the world), methods_* (the Bot API
methods), server/control (HTTP), formatting/markup (validation),
ratelimit, webhook, ptb (running a PTB Application against it).
"""

from .client import DEFAULT_TIMEOUT, CallbackPress, ChatHandle
from .emulator import DEFAULT_TOKEN, BotApiEmulator
from .errors import ApiError
from .markup import Button, ButtonNotFound, Keyboard, Markup
from .model import EditRecord, User
from .ptb import application_builder, running_application
from .state import Stats
from .views import ApiErrorRecord, CallbackAnswer, MessageView

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_TOKEN",
    "ApiError",
    "ApiErrorRecord",
    "BotApiEmulator",
    "Button",
    "ButtonNotFound",
    "CallbackAnswer",
    "CallbackPress",
    "ChatHandle",
    "EditRecord",
    "Keyboard",
    "Markup",
    "MessageView",
    "Stats",
    "User",
    "application_builder",
    "running_application",
]
