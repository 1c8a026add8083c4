"""The migrated schema keeps every index the models declare (an ALTER in batch mode on SQLite
recreates a table and silently drops its expression indexes)."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from data.db import MIGRATIONS
from data.models import Base


def _sqlite_indexes(engine) -> set[str]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")
        return {name for (name,) in rows if not name.startswith("sqlite_")}


def _declared_indexes() -> set[str]:
    return {index.name for table in Base.metadata.tables.values() for index in table.indexes}


def test_mig001_every_declared_index_exists_after_migrating(db):
    missing = _declared_indexes() - _sqlite_indexes(db.engine)
    assert "uq_connections_key" in _declared_indexes()
    assert missing == set()


def test_mig002_the_connections_key_refuses_a_duplicate(db, factory):
    user = factory.user(email="dup@example.org")
    module = factory.module()
    start, end = datetime(2026, 3, 2, 9, 0), datetime(2026, 3, 2, 10, 0)
    row = {"user_id": user.id, "module_id": module.id, "connected_at": start, "disconnected_at": end}
    insert = sa.text(
        "INSERT INTO connections (user_id, module_id, connected_at, disconnected_at, session_id) "
        "VALUES (:user_id, :module_id, :connected_at, :disconnected_at, NULL)"
    )
    factory.s.commit()
    with db.engine.begin() as connection:
        connection.execute(insert, row)
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
        connection.execute(insert, row)


def test_mig003_downgrading_below_xapi_keeps_the_connections_key(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'down.sqlite3'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "0005")
    assert "uq_connections_key" in _sqlite_indexes(engine)
