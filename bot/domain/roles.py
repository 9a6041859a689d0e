"""The roles an official holds, as the workflow and the alerts ask for them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OfficialRole
from storage.models.officials import Role

__all__ = ["roles_of"]


async def roles_of(session: AsyncSession, official_id: int) -> frozenset[Role]:
    rows = await session.scalars(select(OfficialRole.role).where(OfficialRole.official_id == official_id))
    return frozenset(Role(r) for r in rows)
