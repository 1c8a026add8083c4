"""Scheduled reports and their run log (SPEC §9, issue 18: jobs/reports.py)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 17:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduled_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("frequency", sa.String(length=16), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("day", sa.Integer(), nullable=True),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_due_at", sa.DateTime(), nullable=True),
        sa.Column("send_now_at", sa.DateTime(), nullable=True),
        sa.Column("builtin", sa.String(length=32), nullable=True),
        sa.Column("base_url", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_scheduled_reports_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_reports")),
    )
    op.create_index(op.f("ix_scheduled_reports_owner_id"), "scheduled_reports", ["owner_id"], unique=False)
    op.create_table(
        "scheduled_report_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.String(length=64), nullable=False),
        sa.Column("recipient_email", sa.String(length=320), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("delivery", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["scheduled_reports.id"],
            name=op.f("fk_scheduled_report_runs_report_id_scheduled_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_report_runs")),
    )
    op.create_index(
        op.f("ix_scheduled_report_runs_report_id_started_at"),
        "scheduled_report_runs",
        ["report_id", "started_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_scheduled_report_runs_report_id_started_at"), table_name="scheduled_report_runs")
    op.drop_table("scheduled_report_runs")
    op.drop_index(op.f("ix_scheduled_reports_owner_id"), table_name="scheduled_reports")
    op.drop_table("scheduled_reports")
