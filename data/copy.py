"""Copy a whole platform to another database (`flask --app app copy-database --to URL`).

The usual move is from the embedded SQLite file to PostgreSQL; any supported database to any
other works the same way. Steps:

1. The source is migrated to the newest schema (the command does it, as every command), the
   target is upgraded to the same Alembic revision (its `alembic_version` then names it).
2. The target must be empty: no row in any table (summary_meta apart: a server started on it
   once only recorded its time zone there; those rows are replaced).
3. Every table of data.models, parents before children, summary tables and summary_meta (the
   data version and the summaries' time zone) included, is streamed in batches in ONE target
   transaction: a failure leaves the target without any copied row. PostgreSQL targets are
   written with COPY; others with batched INSERTs. Sequences (connections.id) are moved past
   the copied ids and the target's planner statistics refreshed (ANALYZE).
4. Checks: each table's row count, the Alembic revision, and the figures of the global page
   (learners, status donuts, completions and active users over all time, the trainings
   table, the sessions table) computed on both databases must be equal; a mismatch is
   reported table by table / figure by figure and the command fails.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Integer, Table, func, select, text

from data.db import Database
from data.errors import LearnstatsError
from data.models import Base

BATCH = 5000


class CopyError(LearnstatsError):
    """A copy that cannot be made or did not come out equal; the message says why."""


@dataclass
class CopyReport:
    revision: str = ""
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    mismatched_counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)  # names of the figures compared
    mismatched_figures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.mismatched_counts and not self.mismatched_figures

    @property
    def total(self) -> int:
        return sum(self.rows.values())


# Running state of this server, not platform data: never copied, may hold rows in the target.
NOT_COPIED = ("job_locks",)


def tables() -> list[Table]:
    """Every table of the schema, parents before children (NOT_COPIED apart)."""
    return [t for t in Base.metadata.sorted_tables if t.name not in NOT_COPIED]


def _revision(connection: Connection) -> str:
    try:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    except Exception as error:  # no table, or no row
        raise CopyError(f"the database has no Alembic revision ({type(error).__name__})") from None


def _count(connection: Connection, table: Table) -> int:
    return connection.execute(select(func.count()).select_from(table)).scalar_one()


def _stream(connection: Connection, table: Table) -> Iterator[list[tuple]]:
    """The table's rows in batches, in primary-key order (a stable order for any reader)."""
    columns = list(table.columns)
    query = select(*columns).order_by(*table.primary_key.columns)
    result = connection.execution_options(stream_results=True, yield_per=BATCH).execute(query)
    for partition in result.partitions(BATCH):
        yield [tuple(row) for row in partition]


def _write_copy(connection: Connection, table: Table, batches: Iterator[list[tuple]]) -> int:
    """PostgreSQL: COPY ... FROM STDIN on the transaction's own connection."""
    from psycopg import sql

    names = [c.name for c in table.columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(n) for n in names)
    )
    written = 0
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for batch in batches:
            for row in batch:
                copy.write_row(row)
            written += len(batch)
    return written


def _write_insert(connection: Connection, table: Table, batches: Iterator[list[tuple]]) -> int:
    names = [c.name for c in table.columns]
    written = 0
    for batch in batches:
        connection.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in batch])
        written += len(batch)
    return written


def _reset_sequences(connection: Connection) -> None:
    """PostgreSQL: each integer autoincrement key's sequence continues after the copied ids."""
    for table in tables():
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer) or keys[0].autoincrement is False:
            continue
        sequence = connection.execute(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": keys[0].name}
        ).scalar()
        if sequence:
            connection.execute(
                text(
                    f'SELECT setval(:s, coalesce((SELECT max("{keys[0].name}") FROM "{table.name}"), 0) + 1, false)'
                ),
                {"s": sequence},
            )


def copy_database(
    source: Database,
    target_url: str,
    tz: ZoneInfo,
    say: Callable[[str], None] = lambda _m: None,
) -> CopyReport:
    """Copy every row of `source` (migrated) into the empty database at target_url, then check
    counts and figures. Raises CopyError when the copy cannot be made; returns the report (its
    `ok` says whether the checks passed)."""
    started = time.perf_counter()
    report = CopyReport()
    source_url = source.engine.url.render_as_string(hide_password=False)
    if _same_database(source_url, target_url):
        raise CopyError("--to names the database being copied; give another database")
    target = Database(target_url, tz)
    try:
        try:
            target.upgrade_schema()
        except Exception as error:
            raise CopyError(f"cannot prepare the target database: {type(error).__name__}: {error}") from None
        with source.engine.connect() as src, target.engine.connect() as dst:
            report.revision = _revision(src)
            if _revision(dst) != report.revision:
                raise CopyError(
                    f"the target's schema revision {_revision(dst)!r} is not the source's {report.revision!r}"
                )
            filled = [(t.name, n) for t in tables() if t.name != "summary_meta" and (n := _count(dst, t))]
            if filled:
                listed = ", ".join(f"{name} ({n} rows)" for name, n in filled[:5])
                raise CopyError(
                    f"the target database is not empty: {listed}; copy-database only fills an empty "
                    "database (create a new one, e.g. createdb learnstats)"
                )
            write = _write_copy if dst.dialect.name == "postgresql" else _write_insert
            dst.rollback()  # end the checks' transaction: the copy is one transaction of its own
            with dst.begin():
                dst.execute(Base.metadata.tables["summary_meta"].delete())
                for table in tables():
                    n = write(dst, table, _stream(src, table))
                    report.rows[table.name] = n
                    say(f"  {table.name}: {n:,} rows")
                if dst.dialect.name == "postgresql":
                    _reset_sequences(dst)
            if dst.dialect.name == "postgresql":
                dst.execute(text("ANALYZE"))
                dst.commit()
            for table in tables():
                counts = (_count(src, table), _count(dst, table))
                if counts[0] != counts[1]:
                    report.mismatched_counts[table.name] = counts
        say("Comparing the figures on both databases ...")
        with source.session() as s_src, target.session() as s_dst:
            mine, theirs = global_figures(s_src, tz), global_figures(s_dst, tz)
        report.figures = list(mine)
        report.mismatched_figures = [name for name in mine if normal(mine[name]) != normal(theirs[name])]
    finally:
        target.engine.dispose()
    report.seconds = time.perf_counter() - started
    return report


def _same_database(a: str, b: str) -> bool:
    from sqlalchemy.engine import make_url

    x, y = make_url(a), make_url(b)
    return (x.get_backend_name(), x.host, x.port, x.database) == (
        y.get_backend_name(),
        y.host,
        y.port,
        y.database,
    )


def global_figures(session, tz: ZoneInfo) -> dict[str, Any]:
    """The global page's figures as an admin sees them (unmemoized readers)."""
    from data.figures import cards, sessions
    from data.figures import tables as figure_tables
    from data.figures.days import today_in
    from data.figures.population import ALL
    from data.scope import global_scope

    scope = global_scope()
    today = today_in(tz)
    first = cards.first_activity_date(session, scope, ALL, tz) or today
    status = cards.status_summary(session, scope, ALL, tz)
    return {
        "learners": cards.learner_count(session, scope, ALL, tz),
        "status donuts": status,
        "completions, all time": cards.completions_count(session, scope, ALL, tz, first, today),
        "active users, all time": cards.active_users_count(session, scope, ALL, tz, first, today),
        "new users, all time": cards.new_users_count(session, scope, ALL, tz, first, today),
        "trainings table": figure_tables.trainings_table(session, scope, ALL, tz),
        "sessions table": sessions.sessions_table(session, scope, tz),
    }


def normal(value: Any) -> Any:
    """A plain, comparable form: frames as records, numbers as floats to 9 significant digits
    (databases return Decimal or float for the same average), NaN and None alike."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return [normal(list(row)) for row in value.itertuples(index=False)], list(value.columns)
    if hasattr(value, "__dataclass_fields__"):
        return {name: normal(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normal(v) for v in value]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, bool | str | date):
        return value
    if isinstance(value, int | float | Decimal) or hasattr(value, "item"):
        number = float(value)
        if math.isnan(number):
            return None
        return float(f"{number:.9g}")
    return value


__all__ = ["CopyError", "CopyReport", "copy_database", "global_figures", "normal", "tables"]
