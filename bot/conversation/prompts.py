"""What the bot has asked someone to type next, kept in the database (storage/models/prompts.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import PendingInput

# An unanswered question lapses: a day later the person has moved on, and a
# stray message must not be taken as the reason for rejecting a report.
LIFETIME = timedelta(hours=24)


async def ask(
    session: AsyncSession,
    user_id: int,
    purpose: str,
    at: datetime,
    *,
    report_id: int | None = None,
    version: int | None = None,
    data: dict[str, Any] | None = None,
) -> PendingInput:
    """Wait for this person's next text for `purpose`, replacing whatever was awaited before."""
    await session.execute(delete(PendingInput).where(PendingInput.user_id == user_id))
    row = PendingInput(
        user_id=user_id, purpose=purpose, report_id=report_id, version=version, data=dict(data or {}), created_at=at
    )
    session.add(row)
    await session.flush()
    return row


async def pending(session: AsyncSession, user_id: int, at: datetime) -> PendingInput | None:
    row = await session.scalar(select(PendingInput).where(PendingInput.user_id == user_id))
    if row is not None and at - row.created_at > LIFETIME:
        await session.delete(row)
        return None
    return row


def update(row: PendingInput, **data: Any) -> None:
    """Keep what has been given so far (e.g. a result's text, then its evidence)."""
    row.data = {**row.data, **data}


async def clear(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(PendingInput).where(PendingInput.user_id == user_id))
