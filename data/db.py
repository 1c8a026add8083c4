"""Engine, sessions and migrations, bound to the Flask app in init_app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Seconds a write waits for another writer's lock before it fails (sqlalchemy OperationalError,
# answered with a sentence: auth/faults.py). Writes are short except imports, which are
# command-line jobs: a page never waits behind one for long, a second import fails fast.
DB_LOCK_TIMEOUT = 5.0


class Database:
    """One engine and session factory per app."""

    def __init__(self, url: str, tz: ZoneInfo | None = None):
        self.url = url
        # The platform time zone: the summary layer's local days are in it.
        self.tz = tz or ZoneInfo("Europe/Paris")
        kwargs: dict = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": DB_LOCK_TIMEOUT}
        else:
            kwargs["pool_pre_ping"] = True
            if url.startswith("postgresql"):
                # A write waiting for a row or table lock gives up after DB_LOCK_TIMEOUT.
                kwargs["connect_args"] = {"options": f"-c lock_timeout={int(DB_LOCK_TIMEOUT * 1000)}"}
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "checkin", _sqlite_default_timeout)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self, lock_timeout: float | None = None) -> Iterator[Session]:
        """A session that commits when the block ends normally and rolls back otherwise.

        lock_timeout: give up (sqlalchemy.exc.OperationalError) after that many seconds of
        waiting for a lock held by another writer, instead of the default DB_LOCK_TIMEOUT
        — for writes a person is waiting for (sign-out)."""
        with self.sessionmaker() as session:
            try:
                if lock_timeout is not None:
                    _set_lock_timeout(session, lock_timeout)
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (new or old database), and the
        summaries to the platform time zone."""
        self.upgrade_schema()
        from data.summaries import ensure_summaries

        with self.session() as session:
            ensure_summaries(session, self.tz)

    def upgrade_schema(self) -> None:
        """Only the Alembic upgrade to the newest revision (copy-database fills the rest)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")


SQLITE_BUSY_TIMEOUT_MS = int(DB_LOCK_TIMEOUT * 1000)


def _set_lock_timeout(session: Session, seconds: float) -> None:
    milliseconds = max(1, int(seconds * 1000))
    if session.get_bind().dialect.name == "sqlite":
        # Per connection; set back to the default when the connection returns to the pool.
        session.connection().exec_driver_sql(f"PRAGMA busy_timeout = {milliseconds}")
    elif session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(f"SET LOCAL lock_timeout = {milliseconds}")
        session.connection().exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds * 5}")


def _sqlite_default_timeout(dbapi_connection, _record) -> None:
    if dbapi_connection is None:  # invalidated: nothing to set back
        return
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_app(app: Flask, url: str, tz: ZoneInfo | None = None) -> Database:
    db = Database(url, tz)
    app.extensions["learnstats_db"] = db
    return db


def get_db() -> Database:
    """The database bound to the current Flask app."""
    return current_app.extensions["learnstats_db"]
