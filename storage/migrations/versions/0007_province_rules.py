"""the province's own office hours, stage limits and reasons; the citizen's emergency request

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 12:00:00

All new columns are optional or have a server default, so rows written by an
older release keep their meaning: no limits or hours of their own (the
regulation's defaults) and no emergency asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("provinces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("office_hours_json", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("deadlines_json", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reject_reasons_json", sa.Text(), nullable=True))

    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reject_reasons_json", sa.Text(), nullable=True))

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("emergency_requested", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("emergency_requested")

    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_column("reject_reasons_json")

    with op.batch_alter_table("provinces", schema=None) as batch_op:
        batch_op.drop_column("reject_reasons_json")
        batch_op.drop_column("deadlines_json")
        batch_op.drop_column("office_hours_json")
