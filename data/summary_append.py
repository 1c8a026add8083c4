"""The summary layer's upkeep when a write only ADDS connections and logins (issue 17).

A bundle of a million connections names most learners of a platform; recomputing every summary
of each of them (data/summaries.py `_refresh`) reads and rewrites the whole summary layer. New
connections and logins change far less, and only by adding:

- the per-user event tables: summary_user_module_days, summary_user_modules, summary_user_days
  and summary_session_users (counts, seconds, first and last connection);
- each pair's time spent (its training's modules), last active day, last activity day and
  activity days (summary_pair_days), and each counted learner's last active day;
- the groups' time: summary_group_status.time_spent, summary_group_modules.time_learners and
  time_spent;
- summary_active_periods (a learner active on a day, week or month they were not before) and
  summary_sessions (learners, players).

`apply` does it set-based, the same SQL on SQLite and PostgreSQL: the new rows go into two
temporary tables (one row per connection and login, with its local day and its length in whole
milliseconds, computed in Python with the rebuild's own functions; PostgreSQL loads them with
COPY), and each summary table then takes the new rows' share in one statement (INSERT ...
SELECT ... GROUP BY ... ON CONFLICT DO UPDATE, UPDATE ... FROM), joined to what is stored by
primary key. No learner is recomputed and no stored row goes through Python.

It is exact: times are summed in whole milliseconds (data/summaries.py `_ms`, `_to_ms`) and
stored as ms / 1000, so a stored sum plus the new terms is the same number a rebuild computes;
tests/integration/data/test_summaries.py (test_sum004, SQLite and PostgreSQL) compares every
summary table with a rebuild. Rows must be new (not stored before this write);
data/summaries.py `mark(connections=..., logins=...)` says so, and anything else a write
touched sends the learners through the full per-learner refresh instead.
"""

from __future__ import annotations

import calendar
import operator
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection as SqlConnection
from sqlalchemy.orm import Session

from data import summaries as sm

# A connection as summaries.mark takes it: (user_id, module_id, connected_at, disconnected_at,
# session_id), naive UTC instants (the columns of connections); a login: (user_id, logged_in_at).
Connection = tuple[str, str, datetime, datetime, str | None]
Login = tuple[str, datetime]

# Rows per executemany when the new rows are staged on SQLite.
STAGE_BATCH = 20_000
# SQLite's page cache for the temporary tables while they are used (KiB).
TEMP_CACHE_KIB = 128 * 1024

# The temporary tables, dropped when done (and before, should an earlier call have failed).
_TEMP = (
    "la_conn", "la_login", "la_um", "la_ud", "la_last", "la_periods", "la_gained",
    "la_pair", "la_grp", "la_status", "la_broken", "la_su",
)  # fmt: skip

# A sum of seconds stored as ms / 1000 plus another: whole milliseconds added, then / 1000.
_ADD_SECONDS = "(round({t}.{col} * 1000) + round(excluded.{col} * 1000)) / CAST(1000 AS DOUBLE PRECISION)"
# Whole milliseconds (an integer column or sum) as the seconds stored.
_SECONDS = "CAST({ms} AS DOUBLE PRECISION) / 1000"


def apply(session: Session, connections: Iterable[Connection], logins: Iterable[Login], tz: ZoneInfo) -> None:
    """Add new connections and logins (not stored before this write) to the summary tables."""
    connection = session.connection()
    stage = _Stage(connection, tz)
    _drop(stage)
    cache = None
    if stage.sqlite:  # the temporary tables' own page cache (SQLite's default: 2 MiB)
        (cache,) = connection.exec_driver_sql("PRAGMA temp.cache_size").one()
        connection.exec_driver_sql(f"PRAGMA temp.cache_size = -{TEMP_CACHE_KIB}")
    try:
        if stage.load(connections, logins):
            _apply(session, stage)
        # On an error the caller's rollback takes the temporary tables away with the rest.
        _drop(stage)
    finally:
        if cache is not None:
            connection.exec_driver_sql(f"PRAGMA temp.cache_size = {int(cache)}")


class _Stage:
    """The new rows in la_conn (user_id, module_id, day, ms, session_id, started, ended: the
    instants only for a connection in a session) and la_login (user_id, day)."""

    def __init__(self, connection: SqlConnection, tz: ZoneInfo):
        self.connection = connection
        self.sqlite = connection.dialect.name == "sqlite"
        self.tz = tz
        # Column types: SQLite stores what SQLAlchemy's dialect stores (dates and datetimes as
        # text, in the formats of summaries._sqlite_value), PostgreSQL its own types.
        text_, day, instant = ("TEXT", "TEXT", "TEXT") if self.sqlite else ("VARCHAR", "DATE", "TIMESTAMP")
        self.tables = {
            "la_conn": f"user_id {text_}, module_id {text_}, day {day}, ms BIGINT, session_id {text_}, "
            f"started {instant}, ended {instant}",
            "la_login": f"user_id {text_}, day {day}",
        }

    def load(self, connections: Iterable[Connection], logins: Iterable[Login]) -> int:
        for name, columns in self.tables.items():
            self.connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {name} ({columns})")
        day_of = sm._DayCache(self.tz)
        ms_of = sm._ms
        # A naive UTC instant's local day, memoised by UTC hour where the zone's offsets are
        # whole hours (summaries._DayCache, whose own cache this one fronts in one call); on
        # SQLite as the text SQLAlchemy's dialect stores (summaries._sqlite_value).
        whole_hours = day_of.whole_hours
        days: dict = {}
        sqlite = self.sqlite

        def day_value(at: datetime) -> str | date:
            key = (at.year, at.month, at.day, at.hour) if whole_hours else at
            found = days.get(key)
            if found is None:
                day = day_of(at)
                found = days[key] = day.isoformat() if sqlite else day
            return found

        text = operator.methodcaller("isoformat", " ", "microseconds")

        def instant(at: datetime | None) -> str | datetime | None:
            return at if at is None or not sqlite else text(at)

        def conn_batches() -> Iterator[list[tuple]]:
            # Column by column (map, zip): the per-row work is the day and the length only.
            for batch in _batches(connections, STAGE_BATCH):
                users, modules, starts, ends, sessions = zip(*batch, strict=True)
                del batch
                day_column = map(day_value, starts)
                ms_column = map(ms_of, starts, ends)
                if sessions.count(None) == len(sessions):  # the instants only serve sessions
                    firsts = lasts = [None] * len(sessions)
                else:
                    firsts = [
                        None if s is None else instant(a) for s, a in zip(sessions, starts, strict=True)
                    ]
                    lasts = [None if s is None else instant(a) for s, a in zip(sessions, ends, strict=True)]
                yield list(zip(users, modules, day_column, ms_column, sessions, firsts, lasts, strict=True))

        def login_batches() -> Iterator[list[tuple]]:
            for batch in _batches(logins, STAGE_BATCH):
                yield [(u, day_value(at)) for u, at in batch]

        staged = self._write("la_conn", 7, conn_batches()) + self._write("la_login", 2, login_batches())
        if not self.sqlite:
            self.connection.exec_driver_sql("ANALYZE la_conn")
            self.connection.exec_driver_sql("ANALYZE la_login")
        return staged

    def _write(self, table: str, width: int, batches: Iterable[list[tuple]]) -> int:
        count = 0
        if self.sqlite:
            sql = f"INSERT INTO {table} VALUES ({', '.join('?' * width)})"
            cursor = self.connection.connection.cursor()  # the driver's own executemany
            for batch in batches:
                cursor.executemany(sql, batch)
                count += len(batch)
            return count
        # PostgreSQL: COPY, on the session's own connection (the same transaction).
        raw = self.connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} FROM STDIN") as copy:  # type: ignore[union-attr]
            for batch in batches:
                for row in batch:
                    copy.write_row(row)
                count += len(batch)
        return count

    def period_rows(self, days: Iterable) -> list[tuple]:
        """(day, unit, start, last day) of each period (day, week, month) of the days given."""
        out = []
        for value in days:
            day = date.fromisoformat(value) if isinstance(value, str) else value
            for unit, start in sm._period_starts(day):
                if unit == "day":
                    last = start
                elif unit == "week":
                    last = start + timedelta(days=6)
                else:
                    last = start.replace(day=calendar.monthrange(start.year, start.month)[1])
                out.append((value, unit, *(v.isoformat() if self.sqlite else v for v in (start, last))))
        return out


def _batches(rows: Iterable[tuple], size: int) -> Iterable[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _drop(stage: _Stage) -> None:
    schema = "temp" if stage.sqlite else "pg_temp"  # never a table of the database itself
    for name in _TEMP:
        stage.connection.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}.{name}")


def _gained_periods(stage: _Stage) -> Counter:
    """(population, unit, start) -> the learners la_gained makes newly active in it. The
    populations each user is counted in ("" the platform, c:<class>, t:<training>) come in a
    few combinations: the periods are counted per combination, then spread over its members
    (a join of every gained period with every population of its user is several times larger)."""
    run = stage.connection.exec_driver_sql
    populations: dict[str, list[str]] = defaultdict(list)
    for user_id, population in run(
        "SELECT l.user_id, '' FROM summary_learners l JOIN la_last u ON u.user_id = l.user_id "
        "UNION ALL SELECT cl.user_id, 'c:' || cl.class_id FROM summary_class_learners cl "
        "JOIN la_last u ON u.user_id = cl.user_id "
        "UNION ALL SELECT p.user_id, 't:' || p.training_id FROM summary_pairs p "
        "JOIN la_last u ON u.user_id = p.user_id WHERE p.counted"
    ):
        populations[user_id].append(population)
    combinations: dict[tuple[str, ...], int] = {}
    combination_of = {
        user_id: combinations.setdefault(tuple(sorted(found)), len(combinations))
        for user_id, found in populations.items()
    }
    del populations
    per_combination: Counter = Counter()
    cursor = stage.connection.connection.cursor()  # plain tuples: no result rows to build
    cursor.execute("SELECT user_id, unit, start FROM la_gained")
    for user_id, unit, start in cursor:
        found = combination_of.get(user_id)
        if found is not None:
            per_combination[(found, unit, start)] += 1
    members = {i: found for found, i in combinations.items()}
    gained: Counter = Counter()
    for (i, unit, start), n in per_combination.items():
        for population in members[i]:
            gained[(population, unit, start)] += n
    return gained


def _apply(session: Session, stage: _Stage) -> None:
    run = stage.connection.exec_driver_sql

    def analyze(*tables: str) -> None:  # PostgreSQL plans temporary tables from statistics
        if not stage.sqlite:
            for name in tables:
                run(f"ANALYZE {name}")

    # What the new rows bring per (user, module) and (user, day), and whether the user had such
    # a row before (a learner new to a module; a day not active before).
    run(
        "CREATE TEMPORARY TABLE la_um AS SELECT c.user_id, c.module_id, count(*) AS n, sum(c.ms) AS ms, "
        "max(c.day) AS last_day, "
        "CASE WHEN EXISTS (SELECT 1 FROM summary_user_modules s WHERE s.user_id = c.user_id "
        "AND s.module_id = c.module_id) THEN 1 ELSE 0 END AS existed "
        "FROM la_conn c GROUP BY c.user_id, c.module_id"
    )
    run(
        "CREATE TEMPORARY TABLE la_ud AS SELECT x.user_id, x.day, sum(x.lg) AS lg, sum(x.n) AS n, "
        "CASE WHEN EXISTS (SELECT 1 FROM summary_user_days s WHERE s.user_id = x.user_id "
        "AND s.day = x.day) THEN 1 ELSE 0 END AS existed FROM ("
        "SELECT user_id, day, 0 AS lg, 1 AS n FROM la_conn UNION ALL "
        "SELECT user_id, day, 1 AS lg, 0 AS n FROM la_login) x GROUP BY x.user_id, x.day"
    )
    run("CREATE TEMPORARY TABLE la_last AS SELECT user_id, max(day) AS day FROM la_ud GROUP BY user_id")
    run("CREATE UNIQUE INDEX la_last_user ON la_last (user_id)")
    analyze("la_um", "la_ud", "la_last")

    # Active periods: the day, week and month of each day a user was not active before, less
    # those holding a day they were (read before the new days are stored).
    new_days = [day for (day,) in run("SELECT DISTINCT day FROM la_ud WHERE existed = 0")]
    unit, start, last = ("TEXT", "TEXT", "TEXT") if stage.sqlite else ("VARCHAR", "DATE", "DATE")
    run(f"CREATE TEMPORARY TABLE la_periods (day {start}, unit {unit}, start {start}, last {last})")
    rows = stage.period_rows(new_days)
    if rows:
        placeholders = "(?, ?, ?, ?)" if stage.sqlite else "(%s, %s, %s, %s)"
        run(f"INSERT INTO la_periods VALUES {placeholders}", rows)
    run("CREATE INDEX la_periods_day ON la_periods (day)")
    analyze("la_periods")
    run(
        "CREATE TEMPORARY TABLE la_gained AS SELECT DISTINCT u.user_id, p.unit, p.start "
        "FROM la_ud u JOIN la_periods p ON p.day = u.day WHERE u.existed = 0 AND (p.unit = 'day' OR "
        "NOT EXISTS (SELECT 1 FROM summary_user_days s WHERE s.user_id = u.user_id "
        "AND s.day >= p.start AND s.day <= p.last))"
    )
    analyze("la_gained")
    gained = _gained_periods(stage)

    # Pairs: the new milliseconds on their training's modules; the groups a counted pair is in
    # ("" and each class of the learner registered to the training).
    run(
        "CREATE TEMPORARY TABLE la_pair AS SELECT p.user_id, p.training_id, p.status, p.counted, "
        "sum(u.ms) AS ms, max(u.last_day) AS last_day "
        "FROM la_um u JOIN training_modules tm ON tm.module_id = u.module_id "
        "JOIN summary_pairs p ON p.user_id = u.user_id AND p.training_id = tm.training_id "
        "GROUP BY p.user_id, p.training_id, p.status, p.counted"
    )
    run("CREATE UNIQUE INDEX la_pair_key ON la_pair (user_id, training_id)")
    analyze("la_pair")
    run(
        "CREATE TEMPORARY TABLE la_grp AS "
        "SELECT d.user_id, d.training_id, '' AS class_id FROM la_pair d WHERE d.counted "
        "UNION ALL SELECT d.user_id, d.training_id, cm.class_id FROM la_pair d "
        "JOIN class_members cm ON cm.user_id = d.user_id "
        "JOIN class_trainings ct ON ct.class_id = cm.class_id AND ct.training_id = d.training_id "
        "WHERE d.counted"
    )
    run(
        "CREATE TEMPORARY TABLE la_status AS SELECT g.class_id, g.training_id, d.status, sum(d.ms) AS ms "
        "FROM la_grp g JOIN la_pair d ON d.user_id = g.user_id AND d.training_id = g.training_id "
        "WHERE d.ms <> 0 GROUP BY g.class_id, g.training_id, d.status"
    )
    # A group whose status row is missing is not as expected: its training is recomputed.
    run(
        "CREATE TEMPORARY TABLE la_broken AS SELECT DISTINCT s.training_id FROM la_status s "
        "WHERE NOT EXISTS (SELECT 1 FROM summary_group_status gs WHERE gs.class_id = s.class_id "
        "AND gs.training_id = s.training_id AND gs.status = s.status)"
    )
    analyze("la_grp", "la_status", "la_broken")
    run(
        "UPDATE summary_group_status SET time_spent = (round(time_spent * 1000) + s.ms) "
        "/ CAST(1000 AS DOUBLE PRECISION) FROM la_status s "
        "WHERE summary_group_status.class_id = s.class_id "
        "AND summary_group_status.training_id = s.training_id AND summary_group_status.status = s.status"
    )
    run(
        "INSERT INTO summary_group_modules (class_id, training_id, module_id, completed, passed, "
        f"score_sum, time_learners, time_spent) SELECT g.class_id, g.training_id, u.module_id, 0, 0, 0.0, "
        f"sum(1 - u.existed), {_SECONDS.format(ms='sum(u.ms)')} FROM la_grp g "
        "JOIN training_modules tm ON tm.training_id = g.training_id "
        "JOIN la_um u ON u.user_id = g.user_id AND u.module_id = tm.module_id "
        "WHERE g.training_id NOT IN (SELECT training_id FROM la_broken) "
        "GROUP BY g.class_id, g.training_id, u.module_id "
        "ON CONFLICT (class_id, training_id, module_id) DO UPDATE SET "
        "time_learners = summary_group_modules.time_learners + excluded.time_learners, "
        f"time_spent = {_ADD_SECONDS.format(t='summary_group_modules', col='time_spent')}"
    )
    run(
        "UPDATE summary_pairs SET time_spent = (round(time_spent * 1000) + d.ms) "
        "/ CAST(1000 AS DOUBLE PRECISION) FROM la_pair d WHERE summary_pairs.user_id = d.user_id "
        "AND summary_pairs.training_id = d.training_id AND d.ms <> 0"
    )
    # SPEC §9's activity in a training: a connection to one of its modules (at-risk learners).
    run(
        "UPDATE summary_pairs SET last_activity_day = d.last_day FROM la_pair d "
        "WHERE summary_pairs.user_id = d.user_id AND summary_pairs.training_id = d.training_id "
        "AND (summary_pairs.last_activity_day IS NULL OR summary_pairs.last_activity_day < d.last_day)"
    )
    run(
        "INSERT INTO summary_pair_days (user_id, training_id, day) SELECT DISTINCT c.user_id, d.training_id, "
        "c.day FROM la_conn c JOIN training_modules tm ON tm.module_id = c.module_id "
        "JOIN la_pair d ON d.user_id = c.user_id AND d.training_id = tm.training_id WHERE true "
        "ON CONFLICT (user_id, training_id, day) DO NOTHING"
    )
    for table in ("summary_pairs", "summary_learners"):
        run(
            f"UPDATE {table} SET last_active_day = u.day FROM la_last u WHERE {table}.user_id = u.user_id "
            f"AND ({table}.last_active_day IS NULL OR {table}.last_active_day < u.day)"
        )
    if gained:
        marks = "(?, ?, ?, ?)" if stage.sqlite else "(%s, %s, %s, %s)"
        run(
            f"INSERT INTO summary_active_periods (population, unit, start, learners) VALUES {marks} "
            "ON CONFLICT (population, unit, start) DO UPDATE SET "
            "learners = summary_active_periods.learners + excluded.learners",
            [(*key, n) for key, n in sorted(gained.items())],
        )

    # The per-user event tables (after every "existed" above was read).
    run(
        "INSERT INTO summary_user_module_days (user_id, module_id, day, connections, seconds) "
        f"SELECT user_id, module_id, day, count(*), {_SECONDS.format(ms='sum(ms)')} FROM la_conn "
        "GROUP BY user_id, module_id, day ON CONFLICT (user_id, module_id, day) DO UPDATE SET "
        "connections = summary_user_module_days.connections + excluded.connections, "
        f"seconds = {_ADD_SECONDS.format(t='summary_user_module_days', col='seconds')}"
    )
    run(
        "INSERT INTO summary_user_modules (user_id, module_id, connections, seconds) "
        f"SELECT user_id, module_id, n, {_SECONDS.format(ms='ms')} FROM la_um WHERE true "
        "ON CONFLICT (user_id, module_id) DO UPDATE SET "
        "connections = summary_user_modules.connections + excluded.connections, "
        f"seconds = {_ADD_SECONDS.format(t='summary_user_modules', col='seconds')}"
    )
    run(
        "INSERT INTO summary_user_days (user_id, day, logins, connections) "
        "SELECT user_id, day, lg, n FROM la_ud WHERE true ON CONFLICT (user_id, day) DO UPDATE SET "
        "logins = summary_user_days.logins + excluded.logins, "
        "connections = summary_user_days.connections + excluded.connections"
    )
    run(
        "CREATE TEMPORARY TABLE la_su AS SELECT session_id, user_id, count(*) AS n, sum(ms) AS ms, "
        "min(started) AS first, max(ended) AS last FROM la_conn WHERE session_id IS NOT NULL "
        "GROUP BY session_id, user_id"
    )
    sessions = [s for (s,) in run("SELECT DISTINCT session_id FROM la_su ORDER BY session_id")]
    if sessions:
        t = "summary_session_users"
        run(
            f"INSERT INTO {t} (session_id, user_id, registered, connections, first_connection, "
            f"last_connection, time_spent) SELECT session_id, user_id, FALSE, n, first, last, "
            f"{_SECONDS.format(ms='ms')} FROM la_su WHERE true ON CONFLICT (session_id, user_id) DO UPDATE SET "
            f"connections = {t}.connections + excluded.connections, "
            f"first_connection = CASE WHEN {t}.first_connection IS NULL "
            f"OR excluded.first_connection < {t}.first_connection "
            f"THEN excluded.first_connection ELSE {t}.first_connection END, "
            f"last_connection = CASE WHEN {t}.last_connection IS NULL "
            f"OR excluded.last_connection > {t}.last_connection "
            f"THEN excluded.last_connection ELSE {t}.last_connection END, "
            f"time_spent = {_ADD_SECONDS.format(t=t, col='time_spent')}"
        )
    broken = [t for (t,) in run("SELECT training_id FROM la_broken ORDER BY training_id")]
    if broken:
        sm._refresh_groups(session, broken)
    if sessions:
        sm._refresh_sessions(session, sessions)
