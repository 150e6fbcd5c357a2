"""Exactly once at the edges: the inbox of acked interactions, replay memory shared by replicas,
one rollout in flight per endpoint, at most one open promotion request per model and target.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from infra.store import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")
OPEN = "state IN ('pending', 'approved', 'rolling_out')"


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("key", sa.String(255), nullable=False, unique=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claimed_until", UTCDateTime()),
        sa.Column("done_at", UTCDateTime()),
        sa.Column("last_error", sa.Text()),
    )
    op.create_index("ix_inbox_pending", "inbox", ["done_at", "next_attempt_at"])
    op.create_table(
        "seen_requests",
        sa.Column("signature", sa.String(128), primary_key=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    )
    op.create_table(
        "endpoint_rollouts",
        sa.Column("endpoint", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    # Requests opened twice before this index existed: keep the oldest open, close the others
    # as canceled so the index can be built (the cards of the closed ones say so on refresh).
    op.execute(
        f"""
        UPDATE approvals SET state = 'canceled', row_version = row_version + 1,
               reason = 'closed as a duplicate of an earlier open request'
        WHERE {OPEN} AND EXISTS (
            SELECT 1 FROM approvals AS older
            WHERE older.model = approvals.model AND older.target_env = approvals.target_env
              AND older.state IN ('pending', 'approved', 'rolling_out')
              AND (older.created_at < approvals.created_at
                   OR (older.created_at = approvals.created_at AND older.id < approvals.id))
        )
        """
    )
    op.create_index(
        "uq_open_approval",
        "approvals",
        ["model", "target_env"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("uq_open_approval", table_name="approvals")
    op.drop_table("endpoint_rollouts")
    op.drop_table("seen_requests")
    op.drop_index("ix_inbox_pending", table_name="inbox")
    op.drop_table("inbox")
