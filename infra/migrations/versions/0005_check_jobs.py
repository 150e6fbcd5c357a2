"""Monitoring checks run as jobs on the platform's compute: each submitted job recorded before
submission under its name, at most one in flight per model, environment and check kind.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from infra.store import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_jobs",
        sa.Column("job_name", sa.String(128), primary_key=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("in_flight", sa.String(255), unique=True),
        sa.Column("reported", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(32)),
        sa.Column("error", sa.Text()),
        sa.Column("row_version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_check_jobs_model", "check_jobs", ["model"])


def downgrade() -> None:
    op.drop_index("ix_check_jobs_model", table_name="check_jobs")
    op.drop_table("check_jobs")
