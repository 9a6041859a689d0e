"""Child processes of the crash tests: a sender killed hard, then a second one that must finish."""

from __future__ import annotations

import asyncio


async def output_at_exit(child: asyncio.subprocess.Process, timeout: float) -> bytes:
    """What the child printed once it exits; killed if it has not within `timeout`, so a
    failing test never leaves a sender running (it would wait for the gone emulator forever)."""
    try:
        out, _ = await asyncio.wait_for(child.communicate(), timeout=timeout)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    return out
