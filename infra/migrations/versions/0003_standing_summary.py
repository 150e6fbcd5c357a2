"""The standing summary message of each model and environment, edited in place by scheduled
checks, with each check kind's last verdict (a new message only when a verdict changes).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from infra.store import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "standing_summaries",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime()),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("model", "environment", name="uq_standing_summary"),
    )


def downgrade() -> None:
    op.drop_table("standing_summaries")
