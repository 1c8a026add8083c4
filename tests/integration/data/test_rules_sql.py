"""The SQL forms of data/rules.py's rules, run by the database, agree with the rules on the same
values: progress (data/figures/_pairs.py progress_column), the score tolerance (data/sql.py
_reaches) and certificate expiry (data/figures/population.py _expiry_case, the status with
expiry of _pairs.status_column)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Integer, String, literal, select, union_all
from sqlalchemy.types import DateTime

from data import rules
from data.figures._pairs import progress_column, status_column
from data.figures.days import day_start_utc
from data.sql import _reaches

TZ = ZoneInfo("Europe/Paris")


def _rows(*spec):
    """A subquery of literal rows (SQLite has no VALUES list with column names)."""
    *columns, cases = spec
    selects = [
        select(*(literal(value, kind).label(name) for (name, kind), value in zip(columns, case, strict=True)))
        for case in cases
    ]
    return union_all(*selects).subquery("rows")


def test_progress_column_is_training_progress(factory):
    cases = [(0, 0), (0, 3), (1, 3), (2, 3), (3, 3), (1, 7), (5, 8)]
    rows = _rows(("completed_modules", Integer), ("modules", Integer), cases)
    got = factory.s.execute(select(rows.c.completed_modules, rows.c.modules, progress_column(rows))).all()
    assert len(got) == len(cases)
    for done, modules, progress in got:
        assert progress == rules.training_progress(done, modules), (done, modules)
    assert rules.training_progress(1, 3) == 100.0 / 3  # hand-computed


def test_reaches_in_sql_forgives_the_same_noise(factory):
    cases = [
        (100 * 0.29 / 1, 29.0),
        (50.0, 50.0),
        (49.99, 50.0),
        (50.0 - 1e-6, 50.0),
        (80.5, 80.5),
        (0.0, 0.0),
    ]
    for score, minimum in cases:
        in_sql = factory.s.scalar(select(_reaches(literal(score, Float), literal(minimum, Float))))
        assert bool(in_sql) == rules.reaches(score, minimum), (score, minimum)
    assert [rules.reaches(s, m) for s, m in cases] == [True, True, False, False, True, True]


def test_status_with_expiry_in_sql_is_status_on(factory):
    factory.training("t12", validity_months=12)
    factory.training("t1", validity_months=1)
    factory.training("t0")
    factory.s.flush()
    today = date(2026, 3, 1)
    # Completions around each threshold (local midnight in Paris), and statuses that never expire.
    instants = []
    for months in (12, 1):
        first_valid = day_start_utc(rules.expiry_threshold(today, months), TZ)
        instants += [first_valid - timedelta(seconds=1), first_valid, first_valid + timedelta(hours=30)]
    cases = [
        (training, status, at)
        for training in ("t12", "t1", "t0")
        for status in ("passed", "failed", "in progress")
        for at in instants
    ]
    rows = _rows(("training_id", String), ("status", String), ("completed_at", DateTime), cases)
    got = factory.s.execute(
        select(
            rows.c.training_id, rows.c.status, rows.c.completed_at, status_column(factory.s, rows, today, TZ)
        )
    ).all()
    assert len(got) == len(cases)
    validity = {"t12": 12, "t1": 1, "t0": None}
    expired = 0
    for training, status, at, shown in got:
        at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        on_day = at.replace(tzinfo=ZoneInfo("UTC")).astimezone(TZ).date()
        expected = rules.status_on(status, on_day, validity[training], today)
        assert shown == expected, (training, status, at)
        expired += shown == "expired"
    # Passed only: t12 (first valid day 1 Mar 2025) one second before it; t1 (1 Feb 2026) one
    # second before it and the three 2025 instants. Failed and in progress never expire.
    assert expired == 1 + 4
