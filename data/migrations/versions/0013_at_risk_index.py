"""An index covering the at-risk readers (SPEC §9, issue 18: data/figures/at_risk.py)

The card and the list judge every pair of a population from these columns of summary_pairs:
read from the index alone, without the table's wide rows.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 19:55:00
"""

from alembic import op


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COLUMNS = [
    "training_id",
    "counted",
    "status",
    "user_id",
    "enrolled_at",
    "enrolled_day",
    "last_event_at",
    "last_activity_day",
    "failed_modules",
]


def upgrade() -> None:
    op.create_index("ix_summary_pairs_at_risk", "summary_pairs", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_summary_pairs_at_risk", table_name="summary_pairs")
