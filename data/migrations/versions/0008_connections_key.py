"""Connections' indexes: the unique key again where 0006 lost it; no duplicate of its start

On SQLite, the first version of 0006 copied the connections table to add the xapi column, and
the copy could not carry an index on an expression (coalesce(session_id, '')): the unique key
of SPEC §3 (all five columns, no session = '') was gone from databases migrated with it. It
is created again where it is missing; PostgreSQL kept it. The bundle importer relies on it (data/importer.py
append_events).

The index on (user_id, module_id) goes: the unique key begins with the same two columns and
serves the same lookups, and each index costs every inserted connection (a 1,000,000-row
import spends a fifth of its insert time less, docs/performance.md).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 14:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        present = bind.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'uq_connections_key'"
        ).first()
    else:
        present = bind.execute(
            sa.text("SELECT 1 FROM pg_indexes WHERE indexname = 'uq_connections_key'")
        ).first()
    if not present:
        op.create_index(
            "uq_connections_key",
            "connections",
            ["user_id", "module_id", "connected_at", "disconnected_at", sa.text("coalesce(session_id, '')")],
            unique=True,
        )
    op.drop_index("ix_connections_user_id_module_id", table_name="connections")


def downgrade() -> None:
    op.create_index("ix_connections_user_id_module_id", "connections", ["user_id", "module_id"], unique=False)
