"""The officials' world for end-to-end tests: people with Telegram, invitations made with the command line.

`Clock` is the bot's movable clock; `admin` runs `congdan admin ...` in process
(`parse` builds its arguments, `invite` makes an invitation link); `Person` is
someone with a private chat with the bot, `onboard` makes one an official with
an invitation link and `bind_group` binds a new group with a one-time code;
`eventually` waits for an effect the bot has no reply for.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.cli.admin import add_admin_commands, run_admin_command
from bot.cli.sandbox import Sandbox
from bot.config import Settings
from bot.domain.officials import ROLE_LABELS, Role
from bot.emulators.telegram import BotApiEmulator, ChatHandle, MessageView, User
from bot.i18n import translator
from handlers.officials import GROUP_HELLO

VI = translator("vi")
CODE = re.compile(r"\b[A-HJ-NP-Z2-9]{8}\b")
LINK = re.compile(r"https://t\.me/\S+\?start=(inv_[A-Za-z0-9_-]+)")


@dataclass
class Clock:
    """The bot's clock, which a test may move forward without waiting."""

    offset: timedelta = field(default=timedelta(0))

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def eventually(sandbox: Sandbox, query, expected: object, timeout: float = 10.0) -> None:
    """Wait until `query(session)` gives `expected`: for effects the bot has no reply for."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with sandbox.deps.sessions() as session:
            got = await query(session)
        if got == expected:
            return
        assert loop.time() < deadline, f"still {got!r}, expected {expected!r}"
        await asyncio.sleep(0.05)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_admin_commands(parser.add_subparsers(dest="admin_command", required=True))
    return parser.parse_args(list(argv))


async def admin(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run `congdan admin ...` in process; its standard output."""
    code = await run_admin_command(parse(*argv), settings)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


async def invite(settings: Settings, capsys, agency: str, role: Role, name: str, *extra: str) -> str:
    """An invitation link made on the command line (the bot's username comes from getMe)."""
    out = await admin(settings, capsys, "invite", "--agency", agency, "--role", role, "--name", name, *extra)
    link = out.strip().splitlines()[-1]
    assert link.startswith("https://t.me/congdan_test_bot?start=inv_"), out
    return link


def payload(link: str) -> str:
    found = LINK.search(link)
    assert found, link
    return found.group(1)


class Person:
    """Someone with Telegram; their display name is not their real name."""

    def __init__(self, emu: BotApiEmulator, nickname: str) -> None:
        self.user: User = emu.add_user(nickname, language_code="vi")
        self.chat: ChatHandle = emu.private_chat(self.user)

    async def open(self, link: str) -> MessageView:
        await self.chat.send_text(f"/start {payload(link)}")
        return await self.chat.expect(timeout=10)

    async def say(self, text: str) -> MessageView:
        await self.chat.send_text(text)
        return await self.chat.expect(timeout=10)


async def onboard(
    sandbox: Sandbox, settings: Settings, capsys, emu: BotApiEmulator, agency: str, role: Role, name: str, nickname: str
) -> Person:
    person = Person(emu, nickname)
    welcome = await person.open(await invite(settings, capsys, agency, role, name))
    assert name in welcome.content and VI(ROLE_LABELS[role]) in welcome.content
    return person


async def bind_group(
    sandbox: Sandbox, boss: Person, emu: BotApiEmulator, *others: User
) -> tuple[ChatHandle, MessageView]:
    """The administrator gets a code, adds the bot to a new group and binds it."""
    code_message = await boss.say("/bindgroup")
    found = CODE.search(code_message.content)
    assert found, code_message.content
    group = emu.add_group("Cán bộ phường 1", members=[boss.user, *others], added_by=boss.user)
    assert (await group.expect(timeout=10)).content == VI(GROUP_HELLO)
    await group.send_text(f"/bind {found.group(0)}")
    bound = await group.expect(timeout=10)
    return group, bound
