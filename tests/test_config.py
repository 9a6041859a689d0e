"""Settings: defaults, the file, the environment, and errors naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

TOKEN = {"TELEGRAM_BOT_TOKEN": "123456:ABCDEF"}


def test_defaults_need_only_a_token(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(TOKEN)
    assert s.telegram_api_base_url == "https://api.telegram.org/bot"
    assert s.file_base_url == "https://api.telegram.org/file/bot"
    assert s.database_url.startswith("sqlite+aiosqlite:///")
    assert s.timezone == "Asia/Ho_Chi_Minh"
    assert s.default_language == "vi"


def test_file_url_follows_a_self_hosted_server(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings({**TOKEN, "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot"})
    assert s.file_base_url == "http://127.0.0.1:8081/file/bot"
    s = load_settings({**TOKEN, "TELEGRAM_API_BASE_URL": "http://x/bot", "TELEGRAM_API_FILE_URL": "http://y/f/bot"})
    assert s.file_base_url == "http://y/f/bot"


def test_missing_token_is_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_settings({})
    assert any(p.startswith("TELEGRAM_BOT_TOKEN") for p in err.value.problems)


def test_every_problem_is_reported_at_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_settings(
            {
                "TELEGRAM_BOT_TOKEN": "nonsense",
                "TIMEZONE": "Mars/Olympus",
                "DATABASE_URL": "mysql://x/y",
                "DEFAULT_LANGUAGE": "fr",
                "MAX_PHOTOS": "many",
            }
        )
    named = {p.split(":")[0] for p in err.value.problems}
    assert {"TELEGRAM_BOT_TOKEN", "TIMEZONE", "DATABASE_URL", "DEFAULT_LANGUAGE", "MAX_PHOTOS"} <= named


def test_file_then_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "congdan.toml").write_text(
        'telegram_bot_token = "1:FILE"\nmax_photos = 4\nmedia_dir = "/srv/media"\n', encoding="utf-8"
    )
    s = load_settings({"MAX_PHOTOS": "3"})
    assert s.telegram_bot_token == "1:FILE"
    assert s.max_photos == 3
    assert s.media_dir == "/srv/media"


def test_unknown_file_setting_is_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "congdan.toml").write_text('telegram_bot_tokn = "1:X"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(TOKEN)
    assert any("telegram_bot_tokn" in p for p in err.value.problems)
