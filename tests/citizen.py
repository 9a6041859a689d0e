"""A citizen who talks to the bot through the emulator, as a person would: by texts and buttons."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.conversation.drafting import DESCRIBE_PROMPT, PLACE_PROMPT
from bot.emulators.telegram import BotApiEmulator, MessageView
from bot.i18n import translator

CODE = re.compile(r"PA-\d{4}-\d{6}")
# Inside the demo province's first commune, XA-01 (examples/demo-province.yaml).
IN_WARD = (22.57, 106.07)


class Citizen:
    def __init__(
        self,
        emu: BotApiEmulator,
        first_name: str = "Lan",
        last_name: str = "Nguyễn Thị",
        *,
        language: str = "vi",
        phone: str = "+84912345678",
    ) -> None:
        self.emu = emu
        self.user = emu.add_user(first_name, last_name, language_code=language, phone_number=phone)
        self.chat = emu.private_chat(self.user)
        self._ = translator(language)
        self.full_name = f"{last_name} {first_name}"

    def use_language(self, language: str) -> None:
        self._ = translator(language)

    async def expect(self, contains: str | None = None, **kwargs) -> MessageView:
        return await self.chat.expect(contains=contains, timeout=kwargs.pop("timeout", 10), **kwargs)

    async def expect_buttons(self, label: str) -> MessageView:
        return await self.chat.expect(lambda m: label in m.buttons, timeout=10)

    async def register(self) -> None:
        _ = self._
        await self.chat.send_text("/start")
        notice = await self.expect_buttons(_("✅ I agree"))
        await self.chat.press(notice, _("✅ I agree"))
        await self.expect(_("Please type your full name as on your ID card."))
        await self.chat.send_text(self.full_name)
        await self.chat.expect(lambda m: m.keyboard is not None and not m.has_inline_keyboard, timeout=10)
        await self.chat.press_keyboard(_("📱 Share my phone number"))
        await self.expect(_("Press “📝 Send a report” below whenever you want to report something."))

    async def begin_report(self) -> MessageView:
        await self.chat.send_text(self._("📝 Send a report"))
        return await self.expect_buttons(self._("⚖️ A complaint or denunciation?"))

    async def choose_topic(self, topics: MessageView, name: str | None = None) -> MessageView:
        await self.chat.press(topics, name or topics.buttons[3])
        return await self.expect(self._(DESCRIBE_PROMPT, min=20, max=2000)[:12])

    async def describe(self, text: str = "Rác thải đổ trộm cạnh mương thoát nước đầu ngõ 12, bốc mùi.") -> MessageView:
        await self.chat.send_text(text)
        return await self.expect(self._(PLACE_PROMPT))

    async def reach_place(self) -> MessageView:
        """Start a report and answer topic and description: the bot now asks where."""
        topics = await self.begin_report()
        await self.choose_topic(topics)
        return await self.describe()

    async def locate(self, lat: float = IN_WARD[0], lon: float = IN_WARD[1]) -> MessageView:
        await self.chat.send_location(lat, lon)
        return await self.expect_buttons(self._("✅ Done with photos"))

    async def send_photos(self, photos: Sequence[bytes]) -> MessageView:
        if len(photos) == 1:
            await self.chat.send_photo(photos[0])
        else:
            await self.chat.send_album(list(photos))
        return await self.expect("📷")

    async def done_with_photos(self, ack: MessageView) -> MessageView:
        await self.chat.press(ack, self._("✅ Done with photos"))
        return await self.expect_buttons(self._("🔒 Keep my name private (recommended)"))

    async def keep_private(self, question: MessageView) -> MessageView:
        await self.chat.press(question, self._("🔒 Keep my name private (recommended)"))
        return await self.expect_buttons(self._("📨 Submit"))

    async def submit(self, summary: MessageView) -> str:
        await self.chat.press(summary, self._("📨 Submit"))
        done = await self.expect("PA-")
        found = CODE.search(done.content)
        assert found, done.content
        return found.group(0)

    async def full_report(
        self, photos: Sequence[bytes], *, where: tuple[float, float] = IN_WARD, topic: str | None = None
    ) -> str:
        topics = await self.begin_report()
        await self.choose_topic(topics, topic)
        await self.describe()
        await self.locate(*where)
        ack = await self.send_photos(photos)
        question = await self.done_with_photos(ack)
        summary = await self.keep_private(question)
        return await self.submit(summary)
