"""The DuckDB baseline of `make bench` (issue 22 point 5): the global page's figures computed by
an analytical engine from the raw tables, as a data-minded user would compute them instead.

    python -m bench duckdb [--learners N] [--seed S] [--repeat R]

The platform's raw tables (users, roles, training_learners, trainings, training_modules,
modules, activities, attempts, answers, connections, logins) are copied once into DuckDB's
memory through its SQLite scanner (the extension file the PyPI package
duckdb-extension-sqlite-scanner ships: `INSTALL sqlite` would need the network); then one SQL
script (GLOBAL_SQL) computes the admin's global page for the last 30 days, as SPEC §4 and the
readers define them: learners, new users, active users and completions over the period and
the one before it (the cards and their previous values), trainings, the status counts,
average progress and average score (the donuts). Only the script is timed, best of R runs (wall time, and the process's CPU time: DuckDB's
threads included, less sensitive to a shared machine's load);
tests/integration/test_duckdb_baseline.py checks that its figures equal our readers', so
that the baseline is a fair one. duckdb is a benchmark-only dependency (requirements-test.txt).
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

TABLES = (
    "users",
    "roles",
    "training_learners",
    "trainings",
    "training_modules",
    "modules",
    "activities",
    "attempts",
    "answers",
    "connections",
    "logins",
)

# One script, one row. Parameters: $today and $start (local days of the period), $last and
# $first (the previous period of the same length), $tz (the platform's zone). Instants are
# stored as naive UTC; local(x) is their local day. The definitions are SPEC §4's, in the
# order of tests/reference.py: attempt score, module score (best or newest finished attempt by
# keep_results; the kept attempt's xAPI verdict, else the min score, decides passed), training
# progress, score, status (passed then expired past its validity on $today), completion
# instant (the later of completion and enrollment).
GLOBAL_SQL = """
WITH
learners AS (
    SELECT id AS user_id, created_at FROM users
    WHERE status = 'active' AND id NOT IN (SELECT user_id FROM roles WHERE role = 'admin')
),
pairs AS MATERIALIZED (
    SELECT tl.user_id, tl.training_id, tl.enrolled_at
    FROM training_learners tl JOIN learners l ON l.user_id = tl.user_id
),
steps AS (
    SELECT tm.training_id, tm.module_id, tm.mandatory <> 0 AS mandatory, tm.min_score,
           m.keep_results,
           SUM(CAST(tm.mandatory <> 0 AS INTEGER)) OVER (PARTITION BY tm.training_id) AS mandatory_count
    FROM training_modules tm JOIN modules m ON m.id = tm.module_id
),
possible AS (
    SELECT module_id, SUM(max_score) AS points FROM activities WHERE max_score > 0 GROUP BY module_id
),
got AS (
    SELECT an.attempt_id, SUM(an.score) AS points
    FROM answers an JOIN activities ac ON ac.id = an.activity_id
    WHERE an.evaluated <> 0 AND ac.max_score > 0
    GROUP BY an.attempt_id
),
tried AS (
    SELECT user_id, training_id, module_id, COUNT(*) AS attempts FROM attempts GROUP BY ALL
),
finished AS (
    SELECT a.user_id, a.training_id, a.module_id, a.id, a.started_at, a.finished_at, a.verdict,
           CASE WHEN a.score_override IS NOT NULL THEN a.score_override
                WHEN p.points IS NULL THEN 100.0
                ELSE 100.0 * COALESCE(g.points, 0.0) / p.points END AS score
    FROM attempts a
    LEFT JOIN possible p ON p.module_id = a.module_id
    LEFT JOIN got g ON g.attempt_id = a.id
    WHERE a.finished_at IS NOT NULL
),
kept AS (
    SELECT user_id, training_id, module_id,
           MIN(finished_at) AS completed_at,
           arg_max_null(score, (finished_at, started_at, id)) AS newest_score,
           arg_max_null(verdict, (finished_at, started_at, id)) AS newest_verdict,
           arg_max_null(score, (score, finished_at, started_at, id)) AS best_score,
           arg_max_null(verdict, (score, finished_at, started_at, id)) AS best_verdict
    FROM finished GROUP BY ALL
),
grid AS (
    SELECT p.user_id, p.training_id, s.module_id, s.mandatory,
           s.mandatory OR s.mandatory_count = 0 AS required,
           k.completed_at,
           COALESCE(t.attempts, 0) AS attempts,
           CASE WHEN k.completed_at IS NULL THEN 0.0
                WHEN s.keep_results = 'newest' THEN k.newest_score ELSE k.best_score END AS score,
           CASE WHEN s.keep_results = 'newest' THEN k.newest_verdict ELSE k.best_verdict END AS verdict,
           s.min_score
    FROM pairs p
    LEFT JOIN steps s ON s.training_id = p.training_id
    LEFT JOIN kept k
           ON k.user_id = p.user_id AND k.training_id = p.training_id AND k.module_id = s.module_id
    LEFT JOIN tried t
           ON t.user_id = p.user_id AND t.training_id = p.training_id AND t.module_id = s.module_id
),
per_pair AS (
    SELECT user_id, training_id,
           COUNT(module_id) AS modules,
           COUNT(completed_at) AS completed_modules,
           AVG(score) FILTER (WHERE mandatory) AS score,
           COUNT(*) FILTER (WHERE required) AS required_count,
           COUNT(completed_at) FILTER (WHERE required) AS required_done,
           bool_and(completed_at IS NOT NULL AND CASE
               WHEN verdict IN ('passed', 'failed') THEN verdict = 'passed'
               ELSE score >= min_score - 1e-9 END) FILTER (WHERE required) AS required_passed,
           MAX(completed_at) FILTER (WHERE required) AS completed_at,
           SUM(attempts) AS attempts
    FROM grid GROUP BY ALL
),
results AS (
    SELECT r.*, p.enrolled_at,
           CASE WHEN r.modules = 0 THEN 0.0 ELSE 100.0 * r.completed_modules / r.modules END AS progress,
           CASE WHEN r.required_count > 0 AND r.required_done = r.required_count THEN
                    CASE WHEN NOT r.required_passed THEN 'failed'
                         WHEN COALESCE(tr.validity_months, 0) > 0
                              AND CAST(CAST(timezone($tz, timezone('UTC', r.completed_at)) AS DATE)
                                       + to_months(tr.validity_months) AS DATE) < $today
                              THEN 'expired'
                         ELSE 'passed' END
                WHEN r.attempts > 0 THEN 'in progress'
                ELSE 'not started' END AS status,
           CASE WHEN r.required_count > 0 AND r.required_done = r.required_count THEN
                CAST(timezone($tz, timezone('UTC', greatest(r.completed_at, COALESCE(p.enrolled_at, r.completed_at))))
                     AS DATE) END AS completed_day
    FROM per_pair r
    JOIN pairs p ON p.user_id = r.user_id AND p.training_id = r.training_id
    JOIN trainings tr ON tr.id = r.training_id
),
counted AS MATERIALIZED (
    SELECT DISTINCT p.user_id, CAST(timezone($tz, timezone('UTC', l.created_at)) AS DATE) AS created_day
    FROM pairs p JOIN learners l ON l.user_id = p.user_id
),
active_days AS (
    SELECT user_id, CAST(timezone($tz, timezone('UTC', logged_in_at)) AS DATE) AS day FROM logins
    WHERE logged_in_at >= $from_utc
    UNION ALL
    SELECT user_id, CAST(timezone($tz, timezone('UTC', connected_at)) AS DATE) AS day FROM connections
    WHERE connected_at >= $from_utc
),
enrolled AS (
    SELECT
        COUNT(DISTINCT user_id) FILTER (WHERE enrolled_at IS NULL OR enrolled_day <= $today) AS learners,
        COUNT(DISTINCT user_id) FILTER (WHERE enrolled_at IS NULL OR enrolled_day <= $last) AS learners_before
    FROM (SELECT user_id, enrolled_at,
                 CAST(timezone($tz, timezone('UTC', enrolled_at)) AS DATE) AS enrolled_day FROM pairs)
),
created AS (
    SELECT COUNT(*) FILTER (WHERE created_day BETWEEN $start AND $today) AS new_users,
           COUNT(*) FILTER (WHERE created_day BETWEEN $first AND $last) AS new_users_before
    FROM counted
),
active AS (
    SELECT COUNT(DISTINCT a.user_id) FILTER (WHERE a.day BETWEEN $start AND $today) AS active_users,
           COUNT(DISTINCT a.user_id) FILTER (WHERE a.day BETWEEN $first AND $last) AS active_users_before
    FROM active_days a SEMI JOIN counted c ON c.user_id = a.user_id
),
statuses AS (
    SELECT COUNT(*) FILTER (WHERE completed_day BETWEEN $start AND $today) AS completions,
           COUNT(*) FILTER (WHERE completed_day BETWEEN $first AND $last) AS completions_before,
           COUNT(*) AS pairs,
           COUNT(*) FILTER (WHERE status = 'passed') AS passed,
           COUNT(*) FILTER (WHERE status = 'failed') AS failed,
           COUNT(*) FILTER (WHERE status = 'expired') AS expired,
           COUNT(*) FILTER (WHERE status = 'in progress') AS in_progress,
           COUNT(*) FILTER (WHERE status = 'not started') AS not_started,
           AVG(progress) AS average_progress,
           AVG(score) AS average_score
    FROM results
)
SELECT enrolled.*, created.*, active.*, (SELECT COUNT(*) FROM trainings) AS trainings, statuses.*
FROM enrolled, created, active, statuses
"""


def _scanner_extension() -> Path:
    """The sqlite_scanner extension file shipped by duckdb-extension-sqlite-scanner."""
    import duckdb
    import duckdb_extension_sqlite_scanner as package

    folder = Path(package.__file__).parent / "extensions"
    wanted = folder / f"v{duckdb.__version__}" / "sqlite_scanner.duckdb_extension"
    if wanted.exists():
        return wanted
    found = sorted(folder.glob("*/sqlite_scanner.duckdb_extension"))
    if not found:
        raise SystemExit(f"no sqlite_scanner extension under {folder}: pip install -r requirements-test.txt")
    return found[-1]


def load(db_path: Path | str):
    """An in-memory DuckDB holding a copy of the platform's raw tables."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute(f"LOAD '{_scanner_extension()}'")
    con.execute(f"ATTACH '{db_path}' AS platform (TYPE sqlite, READ_ONLY)")
    for table in TABLES:
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM platform.{table}")
    con.execute("DETACH platform")
    return con


def global_figures(con, today: date, tz: ZoneInfo, days: int = 30) -> dict:
    """The global page's figures for the `days` days ending on `today` (GLOBAL_SQL)."""
    start = today - timedelta(days=days - 1)
    first, last = start - timedelta(days=days), start - timedelta(days=1)
    # Rows before the previous period's first local day cannot be active in either period
    # (a day ahead for any UTC offset).
    from_utc = datetime.combine(first - timedelta(days=1), datetime.min.time())
    cursor = con.execute(
        GLOBAL_SQL,
        {"today": today, "start": start, "first": first, "last": last, "tz": tz.key, "from_utc": from_utc},
    )
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def measure(db_path: Path | str, today: date, tz: ZoneInfo, repeat: int = 3) -> dict:
    """Copy once, then time the script: best of `repeat` runs (seconds), and its figures."""
    started = time.perf_counter()
    con = load(db_path)
    copy_seconds = time.perf_counter() - started
    best, cpu, figures = float("inf"), float("inf"), {}
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        figures = global_figures(con, today, tz)
        best = min(best, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - cpu_started)  # DuckDB's threads included
    con.close()
    return {
        "seconds": best,
        "cpu_seconds": cpu,
        "runs": repeat,
        "copy_seconds": copy_seconds,
        "figures": figures,
    }


def main(argv: list[str] | None = None) -> int:
    import os

    from bench.app import TZ, ensure_platform

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=int(os.environ.get("BENCH_LEARNERS", "100000")))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    path = ensure_platform(args.learners, args.seed)
    result = measure(path, datetime.now(TZ).date(), TZ, args.repeat)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        (learners,) = con.execute("SELECT COUNT(*) FROM users WHERE id LIKE 'u%'").fetchone()
    print(
        f"DuckDB baseline, {learners:,} learners: global page's figures in {result['seconds'] * 1000:.0f} ms "
        f"(best of {result['runs']}; {result['cpu_seconds'] * 1000:.0f} ms of CPU; tables copied in "
        f"{result['copy_seconds']:.1f} s)"
    )
    print(result["figures"])
    return 0
