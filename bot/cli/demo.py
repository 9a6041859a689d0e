"""`congdan demo`: a citizen's first report, played through the real bot on the local emulator."""

from __future__ import annotations

import io
import re
import sys
import tempfile
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw

from bot.cli.sandbox import load_province, province_file, running_bot, sandbox_settings
from bot.conversation.drafting import DESCRIBE_PROMPT
from bot.emulators.telegram import BotApiEmulator, ChatHandle, MessageView
from bot.i18n import translator
from storage.migrate import upgrade_to_head

# A point inside the demo province's first ward (examples/demo-province.yaml).
DEMO_PLACE = (22.57, 106.07)
CODE = re.compile(r"PA-\d{4}-\d{6}")


def demo_photo(seed: int) -> bytes:
    """A small picture with camera metadata, as a phone would send."""
    image = Image.new("RGB", (640, 480), (90 + seed * 40, 140, 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((120 + seed * 30, 200, 420, 400), fill=(110, 80, 50))
    exif = Image.Exif()
    exif[0x010F] = "Demo"  # Make
    exif[0x0110] = "Phone"  # Model
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80, exif=exif)
    return out.getvalue()


class Transcript:
    """The conversation as the citizen saw it, with the buttons they pressed."""

    def __init__(self, chat: ChatHandle, citizen: str) -> None:
        self.chat = chat
        self.citizen = citizen
        self.pressed: dict[int, list[str]] = {}

    async def press(self, message: MessageView, label: str) -> None:
        self.pressed.setdefault(message.message_id, []).append(label)
        await self.chat.press(message, label)

    async def press_keyboard(self, label: str) -> None:
        await self.chat.press_keyboard(label)

    def offered(self, message: MessageView) -> list[str]:
        # Keyboards are removed once used; show what was on offer at the time.
        edits = self.chat.edits_of(message)
        if not edits:
            return message.buttons
        rows = (edits[0].before.get("reply_markup") or {}).get("inline_keyboard") or []
        return [button["text"] for row in rows for button in row]

    def lines(self) -> list[str]:
        out: list[str] = []
        for message in self.chat.history:
            who = "🤖 bot" if message.from_bot else f"👤 {self.citizen}"
            pad = " " * (len(who) + 2)
            out.append(f"{who}: " + textwrap.indent(_body(message), pad).lstrip())
            buttons = self.offered(message) if message.from_bot else []
            if buttons:
                out.append(pad + " ".join(f"[{b}]" for b in buttons))
            for label in self.pressed.get(message.message_id, []):
                out.append(f"👤 {self.citizen}: (presses [{label}])")
            out.append("")
        return out


def _body(message: MessageView) -> str:
    raw = message.raw
    if message.content:
        return message.content
    if "contact" in raw:
        return f"[shares contact {raw['contact']['phone_number']}]"
    if "location" in raw:
        return f"[shares location {raw['location']['latitude']}, {raw['location']['longitude']}]"
    if "photo" in raw:
        return "[photo]"
    return "[message]"


async def play(emu: BotApiEmulator, language: str) -> tuple[Transcript, str | None]:
    _ = translator(language)
    lan = emu.add_user("Lan", "Nguyễn Thị", language_code=language, phone_number="+84912345678")
    chat = emu.private_chat(lan)
    log = Transcript(chat, "Lan")

    await chat.send_text("/start")
    notice = await _expect_buttons(chat, _("✅ I agree"))
    await log.press(notice, _("✅ I agree"))
    await chat.expect(contains=_("Please type your full name as on your ID card."))
    await chat.send_text("Nguyễn Thị Lan")
    await _expect_reply_keyboard(chat)
    await log.press_keyboard(_("📱 Share my phone number"))
    await chat.expect(contains=_("Press “📝 Send a report” below whenever you want to report something."))

    await chat.send_text(_("📝 Send a report"))
    topics = await _expect_buttons(chat, _("✖️ Cancel"))
    await log.press(topics, topics.buttons[3])
    await chat.expect(contains=_(DESCRIBE_PROMPT, min=20, max=2000)[:12])
    await chat.send_text("Rác thải đổ trộm cạnh mương thoát nước đầu ngõ 12 đã một tuần, bốc mùi và tràn ra đường.")
    await _expect_reply_keyboard(chat)
    await chat.send_location(*DEMO_PLACE)
    await _expect_buttons(chat, _("✅ Done with photos"))
    await chat.send_album([demo_photo(1), demo_photo(2)])
    ack = await chat.expect(contains="📷")
    await log.press(ack, _("✅ Done with photos"))
    privacy = await _expect_buttons(chat, _("🔒 Keep my name private (recommended)"))
    await log.press(privacy, _("🔒 Keep my name private (recommended)"))
    summary = await _expect_buttons(chat, _("📨 Submit"))
    await log.press(summary, _("📨 Submit"))
    done = await chat.expect(contains="PA-")
    found = CODE.search(done.content)
    await emu.wait_delivered()
    return log, found.group(0) if found else None


async def _expect_buttons(chat: ChatHandle, label: str) -> MessageView:
    return await chat.expect(lambda m: label in m.buttons, timeout=10)


async def _expect_reply_keyboard(chat: ChatHandle) -> MessageView:
    return await chat.expect(lambda m: m.keyboard is not None and not m.has_inline_keyboard, timeout=10)


async def run_demo(*, quiet: bool = False, language: str = "vi") -> int:
    with tempfile.TemporaryDirectory(prefix="congdan-demo-") as tmp:
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'demo.sqlite3'}"
        await upgrade_to_head(database_url)
        async with BotApiEmulator() as emu:
            settings = sandbox_settings(emu, database_url, Path(tmp) / "media")
            await load_province(settings, province_file())
            async with running_bot(emu, settings):
                transcript, code = await play(emu, language)
    if not quiet:
        print("— congdan demo: a citizen registers and sends one report (local emulator, demo province) —\n")
        print("\n".join(transcript.lines()))
    if code is None:
        print("demo failed: no tracking code was issued", file=sys.stderr)
        return 1
    print(f"demo finished: report {code} submitted through the local Bot API emulator")
    return 0
