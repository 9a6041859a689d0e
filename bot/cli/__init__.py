"""The `congdan` command line: run, demo, migrate, import a province file, administer.

`main` is the console entry point; `admin` holds the administrators' commands,
`demo` and `sandbox` run the real bot against the bundled emulator.
"""

from bot.cli.main import main

__all__ = ["main"]
