"""The `congdan` command as an IT team uses it: separate processes, real settings."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.emulators.telegram import BotApiEmulator
from bot.i18n import translator

ROOT = Path(__file__).resolve().parent.parent
DEMO_PROVINCE = ROOT / "examples" / "demo-province.yaml"


async def congdan(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out.decode(), err.decode()


def clean_env() -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": "", "DATABASE_URL": "", "CONGDAN_CONFIG": ""}


async def test_run_without_a_token_names_the_setting(tmp_path: Path) -> None:
    code, _out, err = await congdan("run", env=clean_env(), cwd=tmp_path)
    assert code == 2
    assert "TELEGRAM_BOT_TOKEN" in err and "Traceback" not in err


async def test_import_province_and_its_errors(tmp_path: Path) -> None:
    env = {**clean_env(), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'p.sqlite3'}"}
    code, out, err = await congdan("admin", "import-province", str(DEMO_PROVINCE), env=env, cwd=tmp_path)
    assert code == 0, err
    assert "imported" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("code: X\nagencies: []\ntopics: []\n", encoding="utf-8")
    code, _out, err = await congdan("admin", "import-province", str(bad), env=env, cwd=tmp_path)
    assert code == 2 and "name_vi" in err and "Traceback" not in err


async def test_migrate_brings_any_database_to_head(empty_database_url: str, tmp_path: Path) -> None:
    code, out, err = await congdan("migrate", env={**clean_env(), "DATABASE_URL": empty_database_url}, cwd=tmp_path)
    assert code == 0, err
    assert "database at head" in out


async def test_demo_runs_without_token_or_network(tmp_path: Path) -> None:
    code, out, err = await congdan("demo", env=clean_env(), cwd=tmp_path)
    assert code == 0, err
    assert "👤 Lan: /start" in out
    assert "demo finished: report PA-" in out


async def test_run_serves_a_citizen_and_stops_cleanly(tmp_path: Path) -> None:
    """`congdan run` as deployed: its own process, the emulator as Telegram, SIGTERM to stop."""
    database = tmp_path / "congdan.sqlite3"
    async with BotApiEmulator() as emu:
        env = {
            **clean_env(),
            "TELEGRAM_BOT_TOKEN": emu.token,
            "TELEGRAM_API_BASE_URL": emu.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "MEDIA_DIR": str(tmp_path / "media"),
            "POLLING_TIMEOUT": "2",
        }
        code, _out, err = await congdan("admin", "import-province", str(DEMO_PROVINCE), env=env, cwd=tmp_path)
        assert code == 0, err
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            chat = emu.private_chat(emu.add_user("Lan", "Nguyễn Thị"))
            await chat.send_text("/start")
            notice = await chat.expect(lambda m: translator("vi")("✅ I agree") in m.buttons, timeout=30)
            assert notice.from_bot
            # The command menu was published in both languages at start.
            assert emu.commands(language_code="en") and emu.commands(language_code="vi")
        finally:
            process.send_signal(signal.SIGTERM)
            _out, err_bytes = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, err_bytes.decode()[-2000:]
