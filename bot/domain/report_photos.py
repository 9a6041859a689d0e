"""The photos a citizen sent with a report, as stored (bot/domain/reports.py writes them)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ReportPhoto


async def display_keys(session: AsyncSession, report_id: int) -> list[str]:
    """The media keys of the report's display copies, in the order the citizen sent them."""
    rows = await session.scalars(
        select(ReportPhoto.display_key).where(ReportPhoto.report_id == report_id).order_by(ReportPhoto.position)
    )
    return list(rows.all())
