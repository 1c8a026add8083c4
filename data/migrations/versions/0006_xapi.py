"""xAPI statements, import runs, LRS cursors; xapi markers on derived rows (issue 17)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs, not batch_alter_table: on SQLite a batch recreates the table and drops
    # expression indexes such as uq_connections_key (the connections' five-column key).

    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("added", sa.Text(), nullable=False),
        sa.Column("skipped", sa.Text(), nullable=False),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
    )
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_runs_started_at"), ["started_at"], unique=False)

    op.create_table(
        "lrs_cursors",
        sa.Column("endpoint", sa.String(length=500), nullable=False),
        sa.Column("last_stored", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("endpoint", name=op.f("pk_lrs_cursors")),
    )
    op.create_table(
        "xapi_statements",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("stored", sa.DateTime(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("verb", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("course", sa.String(length=64), nullable=True),
        sa.Column("module", sa.String(length=64), nullable=True),
        sa.Column("question", sa.String(length=64), nullable=True),
        sa.Column("registration", sa.String(length=36), nullable=True),
        sa.Column("score_raw", sa.Float(), nullable=True),
        sa.Column("score_scaled", sa.Float(), nullable=True),
        sa.Column("score_max", sa.Float(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("voids", sa.String(length=36), nullable=True),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.Column("ignored", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xapi_statements")),
    )
    with op.batch_alter_table("xapi_statements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_xapi_statements_actor_at"), ["actor", "at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_xapi_statements_course_module"), ["course", "module"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_xapi_statements_question"), ["question"], unique=False)
        batch_op.create_index(batch_op.f("ix_xapi_statements_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_xapi_statements_voids"), ["voids"], unique=False)

    op.add_column("activities", sa.Column("xapi", sa.Boolean(), server_default=sa.false(), nullable=False))

    op.add_column("attempts", sa.Column("xapi", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("attempts", sa.Column("score_override", sa.Float(), nullable=True))
    op.add_column("attempts", sa.Column("verdict", sa.String(length=8), nullable=True))

    op.add_column("connections", sa.Column("xapi", sa.Boolean(), server_default=sa.false(), nullable=False))

    op.add_column("enrollments", sa.Column("xapi", sa.Boolean(), server_default=sa.false(), nullable=False))

    op.add_column("logins", sa.Column("xapi", sa.Boolean(), server_default=sa.false(), nullable=False))

    op.add_column("modules", sa.Column("xapi", sa.Boolean(), server_default=sa.false(), nullable=False))

    op.add_column(
        "training_modules", sa.Column("xapi", sa.Boolean(), server_default=sa.false(), nullable=False)
    )

    op.add_column("trainings", sa.Column("xapi", sa.Boolean(), server_default=sa.false(), nullable=False))

    op.add_column("users", sa.Column("xapi", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("xapi")

    with op.batch_alter_table("trainings", schema=None) as batch_op:
        batch_op.drop_column("xapi")

    with op.batch_alter_table("training_modules", schema=None) as batch_op:
        batch_op.drop_column("xapi")

    with op.batch_alter_table("modules", schema=None) as batch_op:
        batch_op.drop_column("xapi")

    with op.batch_alter_table("logins", schema=None) as batch_op:
        batch_op.drop_column("xapi")

    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_column("xapi")

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("xapi")
    if op.get_bind().dialect.name == "sqlite":
        # The batch recreates the table on SQLite, which drops its expression index.
        op.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS uq_connections_key ON connections "
            "(user_id, module_id, connected_at, disconnected_at, coalesce(session_id, ''))"
        )

    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("verdict")
        batch_op.drop_column("score_override")
        batch_op.drop_column("xapi")

    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_column("xapi")

    with op.batch_alter_table("xapi_statements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_xapi_statements_voids"))
        batch_op.drop_index(batch_op.f("ix_xapi_statements_run_id"))
        batch_op.drop_index(batch_op.f("ix_xapi_statements_question"))
        batch_op.drop_index(batch_op.f("ix_xapi_statements_course_module"))
        batch_op.drop_index(batch_op.f("ix_xapi_statements_actor_at"))

    op.drop_table("xapi_statements")
    op.drop_table("lrs_cursors")
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_runs_started_at"))

    op.drop_table("import_runs")
