"""alerts, their areas, and who follows them

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 15:30:00

The new role `alert_author` needs nothing here: roles are stored as plain
strings (storage/models/province.py `_string_enum`). Everyone who has already
agreed to the privacy notice follows the province's alerts, as new citizens
do from their consent on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("kind", _enum("alertkind", "alert", "announcement"), nullable=False),
        sa.Column("mode", _enum("alertmode", "actual", "exercise", "test"), nullable=False),
        sa.Column("msg_type", _enum("messagetype", "alert", "update", "cancel"), nullable=False),
        sa.Column("references_id", ID, nullable=True),
        sa.Column(
            "status",
            _enum("alertstatus", "draft", "submitted", "rejected", "scheduled", "published", "withdrawn"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "category",
            _enum(
                "category",
                "Geo",
                "Met",
                "Safety",
                "Security",
                "Rescue",
                "Fire",
                "Health",
                "Env",
                "Transport",
                "Infra",
                "CBRNE",
                "Other",
            ),
            nullable=False,
        ),
        sa.Column("severity", _enum("severity", "Extreme", "Severe", "Moderate", "Minor", "Unknown"), nullable=False),
        sa.Column("urgency", _enum("urgency", "Immediate", "Expected", "Future", "Past", "Unknown"), nullable=False),
        sa.Column(
            "certainty", _enum("certainty", "Observed", "Likely", "Possible", "Unlikely", "Unknown"), nullable=False
        ),
        sa.Column("headline_vi", sa.String(length=160), nullable=True),
        sa.Column("description_vi", sa.Text(), nullable=True),
        sa.Column("instruction_vi", sa.Text(), nullable=True),
        sa.Column("headline_en", sa.String(length=160), nullable=True),
        sa.Column("description_en", sa.Text(), nullable=True),
        sa.Column("instruction_en", sa.Text(), nullable=True),
        sa.Column("whole_province", sa.Boolean(), nullable=False),
        sa.Column("onset_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("publish_at", sa.DateTime(), nullable=True),
        sa.Column("attachment_key", sa.String(length=128), nullable=True),
        sa.Column("attachment_name", sa.String(length=200), nullable=True),
        sa.Column("attachment_is_photo", sa.Boolean(), nullable=False),
        sa.Column("author_official_id", ID, nullable=False),
        sa.Column("agency_id", ID, nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("approver_official_id", ID, nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("ended_by_id", ID, nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("first_outbox_id", ID, nullable=True),
        sa.Column("last_outbox_id", ID, nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("delivery", sa.JSON(), nullable=False),
        sa.Column("progress_chat_id", sa.String(length=64), nullable=True),
        sa.Column("progress_message_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_alerts_agency_id_agencies")),
        sa.ForeignKeyConstraint(
            ["approver_official_id"], ["officials.id"], name=op.f("fk_alerts_approver_official_id_officials")
        ),
        sa.ForeignKeyConstraint(
            ["author_official_id"], ["officials.id"], name=op.f("fk_alerts_author_official_id_officials")
        ),
        sa.ForeignKeyConstraint(["ended_by_id"], ["alerts.id"], name=op.f("fk_alerts_ended_by_id_alerts")),
        sa.ForeignKeyConstraint(["references_id"], ["alerts.id"], name=op.f("fk_alerts_references_id_alerts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("code", name=op.f("uq_alerts_code")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_author_official_id"), ["author_official_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_references_id"), ["references_id"], unique=False)
        batch_op.create_index("ix_alerts_status_publish_at", ["status", "publish_at"], unique=False)

    op.create_table(
        "alert_areas",
        sa.Column("alert_id", ID, nullable=False),
        sa.Column("agency_id", ID, nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_alert_areas_agency_id_agencies")),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_areas_alert_id_alerts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("alert_id", "agency_id", name=op.f("pk_alert_areas")),
    )
    op.create_table(
        "alert_followers",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("whole_province", sa.Boolean(), nullable=False),
        sa.Column("tester", sa.Boolean(), nullable=False),
        sa.Column("left_reason", sa.String(length=16), nullable=True),
        sa.Column("left_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_alert_followers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_alert_followers")),
    )
    op.create_table(
        "alert_follow_areas",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("agency_id", ID, nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_alert_follow_areas_agency_id_agencies")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_alert_follow_areas_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "agency_id", name=op.f("pk_alert_follow_areas")),
    )
    with op.batch_alter_table("alert_follow_areas", schema=None) as batch_op:
        batch_op.create_index("ix_alert_follow_areas_agency_id", ["agency_id"], unique=False)

    # Citizens who consented before alerts existed follow the province, as new ones do.
    op.execute(
        "INSERT INTO alert_followers (user_id, whole_province, tester, created_at, updated_at) "
        "SELECT id, true, false, consent_at, consent_at FROM users WHERE consent_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("alert_follow_areas", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_follow_areas_agency_id")
    op.drop_table("alert_follow_areas")
    op.drop_table("alert_followers")
    op.drop_table("alert_areas")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_status_publish_at")
        batch_op.drop_index(batch_op.f("ix_alerts_references_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_author_official_id"))
    op.drop_table("alerts")
