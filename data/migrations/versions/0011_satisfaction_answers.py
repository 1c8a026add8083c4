"""Satisfaction answers (SPEC §10: Qualiopi indicator 2, issue 19)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 17:15:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "satisfaction_answers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("training_id", sa.String(length=64), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_satisfaction_answers_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["training_id"], ["trainings.id"], name=op.f("fk_satisfaction_answers_training_id_trainings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_satisfaction_answers")),
    )
    op.create_index(
        op.f("ix_satisfaction_answers_user_id_training_id_answered_at"),
        "satisfaction_answers",
        ["user_id", "training_id", "answered_at"],
        unique=True,
    )
    op.create_index(
        op.f("ix_satisfaction_answers_training_id_answered_at"),
        "satisfaction_answers",
        ["training_id", "answered_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_satisfaction_answers_training_id_answered_at"), table_name="satisfaction_answers")
    op.drop_index(
        op.f("ix_satisfaction_answers_user_id_training_id_answered_at"), table_name="satisfaction_answers"
    )
    op.drop_table("satisfaction_answers")
