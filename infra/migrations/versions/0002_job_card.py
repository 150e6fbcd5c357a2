"""Where a retraining job's card is, so the job watcher edits it in place as the job moves.

Revision ID: 0002_job_card
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("card_channel", sa.String(64)))
        batch.add_column(sa.Column("card_ts", sa.String(32)))


def downgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("card_ts")
        batch.drop_column("card_channel")
