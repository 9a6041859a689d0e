"""platform is data: every stored reference to a messenger's file, chat or message names its platform

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 12:00:00

Until now the bot spoke only Telegram, and four places held Telegram ids with
nothing saying so. Each gets the platform beside it, and every reference
already stored is Telegram's:

  report_photos.telegram_file_id        becomes file_id, beside file_platform
  drafts.data photos[].file_id          gains "file_platform" (rewritten in
                                        Python, the same on both backends)
  alerts.progress_chat_id, _message_id  gain progress_platform
  group_bind_codes.used_chat_id         gains used_platform

A platform is set only where there is a reference. Nothing else is touched
(not even `updated_at`). Ids that already sit beside a platform need nothing:
users, outbox, group_bindings, and access_audit (its chat is the actor's, on
actor_platform); pending_inputs.data names a message in the private chat of
its user, on that user's platform.

On SQLite nothing is rebuilt (recreate="never"): the column is renamed and the
new ones added in place (SQLite 3.25 or later), so a table other rows refer to
is never dropped and copied, which foreign keys refuse (or answer with
ON DELETE CASCADE). The downgrade drops columns in place too (SQLite 3.35).

The downgrade drops the platforms again. A file id or progress message of
another platform is then removed with it, or the old code would take it for
Telegram's; a bind code keeps its `used_chat_id`, which the old code only shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# storage.models.users.TELEGRAM, as it was when this revision was written.
TELEGRAM = "telegram"

drafts = sa.table("drafts", sa.column("user_id", sa.Integer()), sa.column("data", sa.JSON()))


def upgrade() -> None:
    with op.batch_alter_table("report_photos", schema=None, recreate="never") as batch_op:
        batch_op.alter_column("telegram_file_id", new_column_name="file_id", existing_type=sa.String(length=256))
        batch_op.add_column(sa.Column("file_platform", sa.String(length=16), nullable=True))
    op.execute(f"UPDATE report_photos SET file_platform = '{TELEGRAM}' WHERE file_id IS NOT NULL")

    with op.batch_alter_table("alerts", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("progress_platform", sa.String(length=16), nullable=True))
    op.execute(
        f"UPDATE alerts SET progress_platform = '{TELEGRAM}' "
        "WHERE progress_chat_id IS NOT NULL OR progress_message_id IS NOT NULL"
    )

    with op.batch_alter_table("group_bind_codes", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("used_platform", sa.String(length=16), nullable=True))
    op.execute(f"UPDATE group_bind_codes SET used_platform = '{TELEGRAM}' WHERE used_chat_id IS NOT NULL")

    _rewrite_drafts(_with_platform)


def downgrade() -> None:
    _rewrite_drafts(_without_platform)

    with op.batch_alter_table("group_bind_codes", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("used_platform")

    op.execute(
        "UPDATE alerts SET progress_chat_id = NULL, progress_message_id = NULL "
        f"WHERE progress_platform IS NOT NULL AND progress_platform <> '{TELEGRAM}'"
    )
    with op.batch_alter_table("alerts", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("progress_platform")

    op.execute(
        f"UPDATE report_photos SET file_id = NULL WHERE file_platform IS NOT NULL AND file_platform <> '{TELEGRAM}'"
    )
    with op.batch_alter_table("report_photos", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("file_platform")
        batch_op.alter_column("file_id", new_column_name="telegram_file_id", existing_type=sa.String(length=256))


def _with_platform(photo: dict[str, Any]) -> dict[str, Any]:
    if "file_platform" in photo:
        return photo
    platform = TELEGRAM if photo.get("file_id") is not None else None
    # Next to file_id, as bot/domain/drafts.py writes it.
    out: dict[str, Any] = {}
    for key, value in photo.items():
        out[key] = value
        if key == "file_id":
            out["file_platform"] = platform
    out.setdefault("file_platform", platform)
    return out


def _without_platform(photo: dict[str, Any]) -> dict[str, Any]:
    if "file_platform" not in photo:
        return photo
    out = {key: value for key, value in photo.items() if key != "file_platform"}
    if photo["file_platform"] not in (None, TELEGRAM):
        out["file_id"] = None
    return out


def _rewrite_drafts(change) -> None:
    """Each draft's photos through `change`; a row is written only if it changed."""
    conn = op.get_bind()
    rows = conn.execute(sa.select(drafts.c.user_id, drafts.c.data)).all()
    for user_id, data in rows:
        if not isinstance(data, dict) or not isinstance(data.get("photos"), list):
            continue
        photos = [change(photo) if isinstance(photo, dict) else photo for photo in data["photos"]]
        # `change` gives a photo back as it is when it has nothing to change.
        if any(new is not old for new, old in zip(photos, data["photos"], strict=True)):
            conn.execute(drafts.update().where(drafts.c.user_id == user_id).values(data={**data, "photos": photos}))
