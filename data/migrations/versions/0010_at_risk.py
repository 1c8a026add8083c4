"""At-risk learners (issue 18, SPEC §9): each pair's activity days, last activity day and
failed mandatory modules (now and in its history)

The new summary columns and table are filled by rebuilding the summaries: the recorded time
zone is forgotten, so `migrate` (data/db.py ensure_summaries) rebuilds them once.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 17:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "summary_pair_days",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("training_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "training_id", "day", name=op.f("pk_summary_pair_days")),
    )
    with op.batch_alter_table("summary_pairs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_activity_day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("failed_modules", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("summary_pair_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_modules", sa.Text(), nullable=False, server_default=""))
    op.execute("DELETE FROM summary_meta WHERE key = 'timezone'")


def downgrade() -> None:
    with op.batch_alter_table("summary_pair_history", schema=None) as batch_op:
        batch_op.drop_column("failed_modules")
    with op.batch_alter_table("summary_pairs", schema=None) as batch_op:
        batch_op.drop_column("failed_modules")
        batch_op.drop_column("last_activity_day")
    op.drop_table("summary_pair_days")
