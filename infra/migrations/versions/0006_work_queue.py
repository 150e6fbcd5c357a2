"""The monitoring work queue (issue 15, item 1): scheduled runs wait here for worker processes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from infra.store import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "work_items",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("slot", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claim_expires", UTCDateTime()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("covers", sa.Integer(), nullable=False),
        sa.Column("enqueued_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("late_seconds", sa.Integer()),
        sa.Column("note", sa.Text()),
        sa.UniqueConstraint("kind", "model", "environment", "slot", name="uq_work_item_slot"),
    )
    op.create_index("ix_work_items_queue", "work_items", ["state", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_work_items_queue", table_name="work_items")
    op.drop_table("work_items")
