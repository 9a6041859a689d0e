"""The `congdan` command: run, demo, migrate, admin."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings

log = logging.getLogger("congdan")


def _settings(require_token: bool) -> Settings:
    try:
        return load_settings(require_token=require_token)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from exc


async def _run(settings: Settings) -> None:
    from bot.deps import build_deps
    from bot.platforms.telegram.app import build_application, running
    from storage.db import is_sqlite
    from storage.migrate import upgrade_to_head
    from storage.schema import ensure_current

    if is_sqlite(settings.database_url):
        # The embedded store belongs to this one process: keep it current.
        await upgrade_to_head(settings.database_url)
    else:
        await ensure_current(settings.database_url)
    deps = await build_deps(settings)
    app = build_application(settings, deps)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(app, poll_timeout=settings.polling_timeout):
        log.info("congdan is running (long polling %s); Ctrl+C stops it", settings.telegram_api_base_url)
        await stop.wait()
    await deps.engine.dispose()


async def _import_province(settings: Settings, path: Path) -> None:
    from bot.domain.province import ProvinceFileError, import_province, load_province_file
    from storage.db import create_engine, is_sqlite, session_factory
    from storage.migrate import upgrade_to_head

    try:
        data = load_province_file(path)
    except ProvinceFileError as exc:
        print(f"{path}: the province file has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        raise SystemExit(2) from exc
    if is_sqlite(settings.database_url):
        await upgrade_to_head(settings.database_url)
    engine = create_engine(settings.database_url)
    async with session_factory(engine).begin() as session:
        summary = await import_province(session, data)
    await engine.dispose()
    print(f"imported {path}: {summary}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="congdan", description="Citizen feedback bot for a Vietnamese province")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot (long polling)")
    demo = sub.add_parser("demo", help="play a citizen through the bot on a local emulator; no token or network")
    demo.add_argument("--quiet", action="store_true", help="print only the summary line")
    sub.add_parser("migrate", help="bring the database schema up to date")
    admin = sub.add_parser("admin", help="administration")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    imp = admin_sub.add_parser("import-province", help="load agencies, topics and boundaries from a YAML or JSON file")
    imp.add_argument("file", type=Path)
    from bot.cli.admin import ADMIN_COMMANDS, add_admin_commands, run_admin_command

    add_admin_commands(admin_sub)
    args = parser.parse_args(argv)

    # The demo's output is its transcript; library chatter would bury it.
    quiet_demo = args.command == "demo" and not args.verbose
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING if quiet_demo else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    if args.command == "run":
        from storage.schema import SchemaNotCurrent

        try:
            asyncio.run(_run(_settings(require_token=True)))
        except SchemaNotCurrent as exc:
            print(exc, file=sys.stderr)
            return 2
    elif args.command == "demo":
        from bot.cli.demo import run_demo

        return asyncio.run(run_demo(quiet=args.quiet))
    elif args.command == "migrate":
        from storage.migrate import upgrade_to_head_sync

        settings = _settings(require_token=False)
        upgrade_to_head_sync(settings.database_url)
        print(f"database at head: {settings.database_url}")
    elif args.command == "admin" and args.admin_command == "import-province":
        asyncio.run(_import_province(_settings(require_token=False), args.file))
    elif args.command == "admin" and args.admin_command in ADMIN_COMMANDS:
        return asyncio.run(run_admin_command(args, _settings(require_token=False)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
