"""Initial schema: audit log, approvals and votes, alerts, mutes, job runs, outbox, locks.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from infra.store import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False, index=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("model", sa.String(128), index=True),
        sa.Column("environment", sa.String(64)),
        sa.Column("subject", sa.String(128), index=True),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("model", sa.String(128), nullable=False, index=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("source_env", sa.String(64), nullable=False),
        sa.Column("target_env", sa.String(64), nullable=False),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False, index=True),
        sa.Column("required", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("channel", sa.String(64)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("reason", sa.Text()),
        sa.Column("rollout", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "approval_votes",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("approval_id", sa.String(32), nullable=False, index=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("approval_id", "user_id", name="uq_vote_per_user"),
    )
    op.create_table(
        "alerts",
        sa.Column("fingerprint", sa.String(255), primary_key=True),
        sa.Column("model", sa.String(128), nullable=False, index=True),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("signal", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("consecutive", sa.Integer(), nullable=False),
        sa.Column("breach_count", sa.Integer(), nullable=False),
        sa.Column("opened_at", UTCDateTime()),
        sa.Column("last_checked_at", UTCDateTime()),
        sa.Column("resolved_at", UTCDateTime()),
        sa.Column("acknowledged_by", sa.String(64)),
        sa.Column("channel", sa.String(64)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("flips", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "mutes",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("signal", sa.String(64), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("model", "signal", name="uq_mute"),
    )
    op.create_table(
        "job_runs",
        sa.Column("job_id", sa.String(128), primary_key=True),
        sa.Column("model", sa.String(128), nullable=False, index=True),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("channel", sa.String(64)),
        sa.Column("thread_ts", sa.String(32)),
        sa.Column("reported", sa.Boolean(), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("dedupe_key", sa.String(255), nullable=False, unique=True),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime()),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("claimed_until", UTCDateTime()),
    )
    op.create_index("ix_outbox_pending", "outbox", ["delivered_at", "next_attempt_at"])
    op.create_table(
        "locks",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "locks",
        "outbox",
        "job_runs",
        "mutes",
        "alerts",
        "approval_votes",
        "approvals",
        "audit_log",
    ):
        op.drop_table(table)
