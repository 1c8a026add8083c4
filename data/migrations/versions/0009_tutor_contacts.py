"""Tutor contacts (SPEC §10: the proof of individual support, issue 19)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 17:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tutor_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("contacted_at", sa.DateTime(), nullable=False),
        sa.Column("tutor", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_tutor_contacts_user_id_users")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["program_sessions.id"],
            name=op.f("fk_tutor_contacts_session_id_program_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tutor_contacts")),
    )
    op.create_index(
        op.f("ix_tutor_contacts_session_id_user_id_contacted_at_tutor"),
        "tutor_contacts",
        ["session_id", "user_id", "contacted_at", "tutor"],
        unique=True,
    )
    op.create_index(op.f("ix_tutor_contacts_user_id"), "tutor_contacts", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_tutor_contacts_user_id"), table_name="tutor_contacts")
    op.drop_index(
        op.f("ix_tutor_contacts_session_id_user_id_contacted_at_tutor"), table_name="tutor_contacts"
    )
    op.drop_table("tutor_contacts")
