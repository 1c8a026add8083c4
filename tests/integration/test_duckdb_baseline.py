"""`make bench`'s DuckDB baseline (bench/duckdb_baseline.py) computes what our readers compute.

The baseline is only fair if DuckDB's one SQL script gives the global page's figures exactly:
on the demo platform, at its last day and at a later one (certificates expired meanwhile,
nobody active in the period), each figure must equal the reader's.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from auth.roles import load_scope
from bench import duckdb_baseline
from data.db import Database
from data.demo import generate_demo_data
from data.figures.cards import (
    active_users_count,
    completions_count,
    learner_count,
    new_users_count,
    status_summary,
)
from data.figures.population import ALL, training_count

TZ = ZoneInfo("Europe/Paris")
TODAY = date(2026, 5, 4)


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    path = tmp_path_factory.mktemp("duckdb") / "demo.sqlite3"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    generate_demo_data(database, learners=400, seed=11, tz=TZ, today=TODAY)
    with database.engine.connect() as connection:  # the file alone holds the platform
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    yield database, path
    database.engine.dispose()


def readers_figures(database: Database, today: date) -> dict:
    """The figures of the admin's global page for the 30 days ending on `today`, by our readers."""
    start = today - timedelta(days=29)
    first, last = start - timedelta(days=30), start - timedelta(days=1)
    with database.session() as s:
        scope = load_scope(s, "demo-admin")
        summary = status_summary(s, scope, ALL, TZ, as_of=today)
        return {
            "learners": learner_count(s, scope, ALL, TZ, as_of=today),
            "learners_before": learner_count(s, scope, ALL, TZ, as_of=last),
            "new_users": new_users_count(s, scope, ALL, TZ, start, today),
            "new_users_before": new_users_count(s, scope, ALL, TZ, first, last),
            "active_users": active_users_count(s, scope, ALL, TZ, start, today),
            "active_users_before": active_users_count(s, scope, ALL, TZ, first, last),
            "completions": completions_count(s, scope, ALL, TZ, start, today),
            "completions_before": completions_count(s, scope, ALL, TZ, first, last),
            "trainings": training_count(s, scope, ALL),
            "pairs": summary.pairs,
            "passed": summary.counts["passed"],
            "failed": summary.counts["failed"],
            "expired": summary.counts["expired"],
            "in_progress": summary.counts["in progress"],
            "not_started": summary.counts["not started"],
            "average_progress": summary.average_progress,
            "average_score": summary.average_score,
        }


@pytest.mark.parametrize("later", [0, 200], ids=["last-day", "200-days-later"])
def test_ddb001_duckdb_figures_equal_the_readers(platform, later):
    database, path = platform
    today = TODAY + timedelta(days=later)
    con = duckdb_baseline.load(path)
    try:
        duck = duckdb_baseline.global_figures(con, today, TZ)
    finally:
        con.close()
    ours = readers_figures(database, today)
    assert set(duck) == set(ours)
    for name, value in ours.items():
        assert duck[name] == pytest.approx(value, rel=1e-12, abs=0), name
    # The platform is not trivial: every status and both periods have learners in them.
    if later == 0:
        assert all(ours[s] > 0 for s in ("passed", "failed", "expired", "in_progress", "not_started"))
        assert ours["active_users"] > 0 and ours["completions"] > 0 and ours["new_users"] > 0
    else:
        assert ours["active_users"] == 0 and ours["expired"] > 0


def test_ddb002_measure_times_the_script_on_a_copy(platform):
    database, path = platform
    result = duckdb_baseline.measure(path, TODAY, TZ, repeat=2)
    assert result["runs"] == 2 and 0 < result["seconds"] < 60
    assert result["figures"] == pytest.approx(readers_figures(database, TODAY), rel=1e-12, abs=0)
