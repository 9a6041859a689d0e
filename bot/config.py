"""Settings, read from the environment and an optional `congdan.toml`.

The environment wins over the file, so a deployment can keep shared settings
in the file and secrets in the environment. Every problem is reported at once,
each naming the setting, so an IT team fixes a bad configuration in one pass.
"""
from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
SUPPORTED_LANGUAGES = ("vi", "en")
CONFIG_FILE_ENV = "CONGDAN_CONFIG"
DEFAULT_CONFIG_FILE = "congdan.toml"


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Settings:
    telegram_bot_token: str = ""
    telegram_api_base_url: str = DEFAULT_API_BASE_URL
    # Empty means "derived from the API base URL", which is right for Telegram,
    # a self-hosted Bot API server and the emulator alike.
    telegram_api_file_url: str = ""
    database_url: str = "sqlite+aiosqlite:///congdan.sqlite3"
    media_dir: str = "media"
    timezone: str = "Asia/Ho_Chi_Minh"
    default_language: str = "vi"
    max_photos: int = 6
    max_photo_bytes: int = 10 * 1024 * 1024
    max_photo_pixels: int = 40_000_000
    description_min_chars: int = 20
    description_max_chars: int = 2000
    address_min_chars: int = 10
    # Seconds of quiet after the last photo of an album before the bot answers
    # once for the whole album instead of once per photo.
    album_quiet_seconds: float = 1.2
    polling_timeout: int = 30

    @property
    def file_base_url(self) -> str:
        if self.telegram_api_file_url:
            return self.telegram_api_file_url
        base = self.telegram_api_base_url
        head, sep, tail = base.rpartition("/bot")
        if sep and tail == "":
            return f"{head}/file/bot"
        return base.rstrip("/") + "/file/bot"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _as_int(minimum: int) -> Callable[[Any], int]:
    def convert(raw: Any) -> int:
        value = int(raw)
        if value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return convert


def _as_float(raw: Any) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be positive")
    return value


def _as_str(raw: Any) -> str:
    return str(raw).strip()


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "max_photos": _as_int(1),
    "max_photo_bytes": _as_int(1024),
    "max_photo_pixels": _as_int(10_000),
    "description_min_chars": _as_int(1),
    "description_max_chars": _as_int(10),
    "address_min_chars": _as_int(1),
    "album_quiet_seconds": _as_float,
    "polling_timeout": _as_int(0),
}


def read_config_file(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {str(k).lower(): v for k, v in data.items()}


def load_settings(
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    *,
    require_token: bool = True,
) -> Settings:
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    if config_file is None:
        named = env.get(CONFIG_FILE_ENV)
        candidate = Path(named) if named else Path(DEFAULT_CONFIG_FILE)
        if named or candidate.exists():
            config_file = candidate
    problems: list[str] = []
    if config_file is not None:
        try:
            raw.update(read_config_file(config_file))
        except FileNotFoundError:
            problems.append(f"{CONFIG_FILE_ENV}: file {config_file} does not exist")
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"{config_file}: not valid TOML ({exc})")
    names = {f.name for f in fields(Settings)}
    for key in list(raw):
        if key not in names:
            problems.append(f"{config_file}: unknown setting {key!r}")
            del raw[key]
    for name in names:
        if name.upper() in env:
            raw[name] = env[name.upper()]
    values: dict[str, Any] = {}
    for name, value in raw.items():
        convert = CONVERTERS.get(name, _as_str)
        try:
            values[name] = convert(value)
        except (TypeError, ValueError) as exc:
            problems.append(f"{name.upper()}: {value!r} is not valid ({exc})")
    settings = Settings(**values)
    problems.extend(_check(settings, require_token))
    if problems:
        raise ConfigError(problems)
    return settings


def _check(s: Settings, require_token: bool) -> list[str]:
    problems = []
    if require_token and not s.telegram_bot_token:
        problems.append("TELEGRAM_BOT_TOKEN: not set (get one from @BotFather)")
    if s.telegram_bot_token and ":" not in s.telegram_bot_token:
        problems.append("TELEGRAM_BOT_TOKEN: does not look like a bot token (expected 123456:ABC...)")
    for name in ("telegram_api_base_url", "telegram_api_file_url"):
        value = getattr(s, name)
        if value and not value.startswith(("http://", "https://")):
            problems.append(f"{name.upper()}: {value!r} must start with http:// or https://")
    try:
        backend = make_url(s.database_url).get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            problems.append(f"DATABASE_URL: backend {backend!r} is not supported (use sqlite or postgresql)")
    except ArgumentError:
        problems.append(f"DATABASE_URL: {s.database_url!r} is not a database URL")
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"TIMEZONE: {s.timezone!r} is not a known time zone")
    if s.default_language not in SUPPORTED_LANGUAGES:
        problems.append(
            f"DEFAULT_LANGUAGE: {s.default_language!r} is not one of {', '.join(SUPPORTED_LANGUAGES)}"
        )
    if s.description_min_chars >= s.description_max_chars:
        problems.append("DESCRIPTION_MIN_CHARS: must be below DESCRIPTION_MAX_CHARS")
    if s.max_photos > 10:
        problems.append("MAX_PHOTOS: at most 10 (a Telegram album holds 10)")
    return problems


def database_url_for_driver(url: str) -> str:
    """Accept the plain URLs people copy from their hosting panel."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    if u.drivername == "sqlite":
        return u.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    return url
