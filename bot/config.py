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
# CAP 1.2 forbids these (and white space) in `sender` and `identifier`.
CAP_FORBIDDEN = ",<&"


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
    # Timed work (scheduler/): reminders, escalations, the digest, the monthly list.
    scheduler_enabled: bool = True
    scheduler_tick_seconds: float = 30.0
    # With several bot processes on one database, the one holding this lease
    # does the timed work; another takes over this long after the holder died.
    scheduler_lease_seconds: float = 90.0
    # Reminders to whoever holds a stage when these shares of its time have passed.
    reminder_shares: tuple[float, ...] = (0.5, 0.8)
    # The outbox sender's overall rate: Telegram's 30/s, or up to 1000/s with paid broadcasts.
    outbox_per_second: float = 30.0
    # Messages in flight at once (0: 8, or 64 above 100/s); also the most a
    # crash can leave unconfirmed, or for alerts send twice.
    outbox_in_flight: int = 0
    # Alerts: channels the province's real alerts are also posted to ("@name" or "-100…").
    alert_channels: tuple[str, ...] = ()
    # CAP `sender`: a globally unique name of this system, e.g. "canhbao@caobang.gov.vn";
    # empty: "congdan@<province code>".
    alert_cap_sender: str = ""
    # How often scheduled alerts are looked for, and the approver's progress message edited.
    alert_tick_seconds: float = 1.0
    alert_progress_seconds: float = 3.0
    # CAP documents over HTTP for other systems (bot/interop/cap_http.py); 0: not served.
    cap_http_port: int = 0
    cap_http_host: str = "127.0.0.1"

    @property
    def sender_in_flight(self) -> int:
        if self.outbox_in_flight:
            return self.outbox_in_flight
        return 64 if self.outbox_per_second > 100 else 8

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


def _as_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _as_chats(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else str(raw).split(",")
    chats = tuple(str(item).strip() for item in items if str(item).strip())
    for chat in chats:
        if not (chat.startswith("@") and len(chat) > 1) and not chat.lstrip("-").isdigit():
            raise ValueError(f"{chat!r} is neither @channelname nor a numeric chat id")
    return chats


def _as_shares(raw: Any) -> tuple[float, ...]:
    items = raw if isinstance(raw, list) else [part for part in str(raw).split(",") if part.strip()]
    shares = tuple(float(item) for item in items)
    if any(not 0 < share < 1 for share in shares) or list(shares) != sorted(set(shares)):
        raise ValueError("must be rising fractions between 0 and 1, e.g. 0.5,0.8")
    return shares


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "max_photos": _as_int(1),
    "max_photo_bytes": _as_int(1024),
    "max_photo_pixels": _as_int(10_000),
    "description_min_chars": _as_int(1),
    "description_max_chars": _as_int(10),
    "address_min_chars": _as_int(1),
    "album_quiet_seconds": _as_float,
    "polling_timeout": _as_int(0),
    "scheduler_enabled": _as_bool,
    "scheduler_tick_seconds": _as_float,
    "scheduler_lease_seconds": _as_float,
    "reminder_shares": _as_shares,
    "outbox_per_second": _as_float,
    "outbox_in_flight": _as_int(0),
    "alert_channels": _as_chats,
    "alert_tick_seconds": _as_float,
    "alert_progress_seconds": _as_float,
    "cap_http_port": _as_int(0),
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
        problems.append(f"DEFAULT_LANGUAGE: {s.default_language!r} is not one of {', '.join(SUPPORTED_LANGUAGES)}")
    if s.description_min_chars >= s.description_max_chars:
        problems.append("DESCRIPTION_MIN_CHARS: must be below DESCRIPTION_MAX_CHARS")
    if s.scheduler_lease_seconds < 2 * s.scheduler_tick_seconds:
        problems.append("SCHEDULER_LEASE_SECONDS: must be at least twice SCHEDULER_TICK_SECONDS")
    if s.outbox_per_second > 1000:
        problems.append("OUTBOX_PER_SECOND: at most 1000 (Telegram's paid broadcast limit)")
    if s.max_photos > 10:
        problems.append("MAX_PHOTOS: at most 10 (a Telegram album holds 10)")
    if any(c.isspace() or c in CAP_FORBIDDEN for c in s.alert_cap_sender):
        problems.append(
            f"ALERT_CAP_SENDER: {s.alert_cap_sender!r} may not contain spaces, commas, "
            "'<' or '&' (CAP 1.2), e.g. canhbao@caobang.gov.vn"
        )
    if s.cap_http_port > 65535:
        problems.append("CAP_HTTP_PORT: at most 65535 (0 turns the CAP server off)")
    if s.cap_http_port and not s.cap_http_host:
        problems.append("CAP_HTTP_HOST: empty; 127.0.0.1 serves this machine only, 0.0.0.0 every interface")
    return problems


def database_url_for_driver(url: str) -> str:
    """Accept the plain URLs people copy from their hosting panel."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    if u.drivername == "sqlite":
        return u.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    return url
