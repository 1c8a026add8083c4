"""The learner page's figures (data.figures: time_spent_total, activity_series,
activity_trends), by hand, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from data.figures.activity import activity_series, activity_trends, time_spent_total
from data.figures.population import Population
from data.figures.tables import training_results
from data.scope import Scope, global_scope
from tests.learner_world import TZ, build_world, local

EVERYONE = global_scope()
HOUR = 3600.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dash_app(request, make_app):
    if request.param == "postgres":
        return make_app(database_url=request.getfixturevalue("pg_migrated_db_url"))
    return make_app()


def lea_page(user_id: str = "lea") -> Population:
    return Population(user_id=user_id, learners_only=False, include_self=True)


def test_lfig001_activity_series_by_day_of_connection_start(factory):
    w = build_world(factory)
    s = factory.s
    start = w.today - timedelta(days=29)
    frame = activity_series(s, EVERYONE, lea_page(), TZ, start, w.today)
    assert list(frame.columns) == ["bucket", "last_day", "time_spent", "connections", "modules_completed"]
    assert len(frame) == 30
    by_day = {(w.today - row.bucket).days: row for row in frame.itertuples()}
    # lea: M1 d-10 60 min, M2 d-3 30 min, M3 d-2 15 min, M4 d-1 20 min (d-40 is outside).
    spent = {days_ago: row.time_spent for days_ago, row in by_day.items() if row.time_spent}
    assert spent == {
        10: pytest.approx(HOUR),
        3: pytest.approx(1800),
        2: pytest.approx(900),
        1: pytest.approx(1200),
    }
    assert {k: r.connections for k, r in by_day.items() if r.connections} == {10: 1, 3: 1, 2: 1, 1: 1}
    # First finishes: M1 d-10, M2 d-3, M4 d-1 (M3 is unfinished).
    assert {k: r.modules_completed for k, r in by_day.items() if r.modules_completed} == {10: 1, 3: 1, 1: 1}


def test_lfig002_activity_series_is_scoped_to_the_viewers_trainings(factory):
    w = build_world(factory)
    s = factory.s
    start = w.today - timedelta(days=29)
    # Class manager of C1: lea's T1 and T2 only (the M4 connection and finish are T3's).
    cm = Scope(user_id="cm", classes=frozenset({"C1"}), class_trainings={"C1": frozenset({"T1", "T2"})})
    frame = activity_series(s, cm, lea_page(), TZ, start, w.today)
    assert frame["time_spent"].sum() == pytest.approx(HOUR + 1800 + 900)
    assert frame["modules_completed"].sum() == 2
    # Training manager of T1: M1 and M2 only.
    tm = Scope(user_id="tm", trainings=frozenset({"T1"}))
    frame = activity_series(s, tm, lea_page(), TZ, start, w.today)
    assert frame["time_spent"].sum() == pytest.approx(HOUR + 1800)
    assert frame["connections"].sum() == 2
    # Someone without rights over lea sees nothing of her.
    frame = activity_series(s, Scope(user_id="zoe"), lea_page(), TZ, start, w.today)
    assert frame["time_spent"].sum() == 0 and frame["modules_completed"].sum() == 0
    # Weekly buckets hold the same totals.
    weekly = activity_series(s, EVERYONE, lea_page(), TZ, w.today - timedelta(days=120), w.today, "week")
    assert weekly["time_spent"].sum() == pytest.approx(HOUR * 0.75 + HOUR + 1800 + 900 + 1200)
    assert weekly["modules_completed"].sum() == 3


def test_lfig003_time_spent_total_counts_each_connection_once_and_stops_at_as_of(factory):
    w = build_world(factory)
    s = factory.s
    # 45 + 60 + 30 + 15 + 20 min.
    assert time_spent_total(s, EVERYONE, lea_page(), TZ) == pytest.approx(170 * 60)
    # By the end of d-5: 45 + 60 min.
    assert time_spent_total(s, EVERYONE, lea_page(), TZ, as_of=w.today - timedelta(days=5)) == pytest.approx(
        105 * 60
    )
    # A module in two of her trainings: its connections still count once.
    factory.step(w.trainings["T2"], w.modules["M1"], 2)
    factory.s.commit()
    assert time_spent_total(s, EVERYONE, lea_page(), TZ) == pytest.approx(170 * 60)
    results, _ = training_results(s, EVERYONE, lea_page(), TZ)
    per_training = dict(zip(results.training_id, results.time_spent, strict=True))
    assert per_training["T2"] == pytest.approx((45 + 60 + 15) * 60)  # per training: M1 counts in T2 too


def test_lfig004_trends_against_the_previous_period(factory):
    w = build_world(factory)
    s = factory.s
    week = {t.measure: t for t in activity_trends(s, EVERYONE, lea_page(), TZ, 7, today=w.today)}
    # Active days d-6..d0: logins d-5, d-1; connections d-3, d-2, d-1 -> 4. Before (d-13..d-7): d-10.
    assert (week["active_days"].current, week["active_days"].previous) == (4, 1)
    assert week["active_days"].change_pct == pytest.approx(300.0)
    # Time spent: 30 + 15 + 20 = 65 min against 60 min.
    assert week["time_spent"].current == pytest.approx(65 * 60)
    assert week["time_spent"].previous == pytest.approx(60 * 60)
    assert week["time_spent"].change_pct == pytest.approx(100 * 5 / 60)
    assert (week["connections"].current, week["connections"].previous) == (3, 1)
    # Modules completed: M2 (d-3), M4 (d-1) against M1 (d-10).
    assert (week["modules_completed"].current, week["modules_completed"].previous) == (2, 1)
    month = {t.measure: t for t in activity_trends(s, EVERYONE, lea_page(), TZ, 30, today=w.today)}
    assert (month["active_days"].current, month["active_days"].previous) == (5, 1)  # d-40 is before
    assert month["time_spent"].current == pytest.approx(125 * 60)
    assert month["time_spent"].previous == pytest.approx(45 * 60)
    assert (month["connections"].current, month["connections"].previous) == (4, 1)
    assert (month["modules_completed"].current, month["modules_completed"].previous) == (3, 0)
    assert month["modules_completed"].change_pct is None
    with pytest.raises(ValueError):
        activity_trends(s, EVERYONE, lea_page(), TZ, 0)


def test_lfig005_activity_days_follow_the_platform_time_zone_across_dst(factory):
    t = factory.training()
    m = factory.module()
    factory.step(t, m)
    u = factory.user()
    factory.enroll(u, t, at="2026-03-01 09:00")
    # 28 Mar 23:30 UTC is 29 Mar 00:30 in Paris (UTC+1); 29 Mar 22:30 UTC is 30 Mar 00:30 (UTC+2).
    factory.connection(u, m, "2026-03-28 23:30", "2026-03-29 00:30")
    factory.connection(u, m, "2026-03-29 22:30", "2026-03-29 22:40")
    factory.login(u, "2026-03-29 21:59")  # 29 Mar 23:59 in Paris
    factory.s.commit()
    pop = Population(user_id=u.id, learners_only=False)
    frame = activity_series(factory.s, EVERYONE, pop, TZ, date(2026, 3, 28), date(2026, 3, 30))
    assert frame["time_spent"].tolist() == [0.0, pytest.approx(3600), pytest.approx(600)]
    assert frame["connections"].tolist() == [0, 1, 1]
    [active, spent, connections, done] = activity_trends(
        factory.s, EVERYONE, pop, TZ, 2, today=date(2026, 3, 30)
    )
    # Days 29 and 30 are active (the login on the 29th adds no day); 27 and 28 are not.
    assert (active.current, active.previous) == (2, 0)
    assert spent.current == pytest.approx(4200)
    assert (connections.current, connections.previous) == (2, 0)
    assert done.current == 0


def test_lfig006_active_days_of_a_limited_view_count_only_connections_to_the_trainings_in_view(factory):
    w = build_world(factory)
    s = factory.s
    cm = Scope(user_id="cm", classes=frozenset({"C1"}), class_trainings={"C1": frozenset({"T1", "T2"})})
    tm = Scope(user_id="tm", trainings=frozenset({"T1"}))

    def active_days(scope, days, user_id="lea"):
        trends = {t.measure: t for t in activity_trends(s, scope, lea_page(user_id), TZ, days, today=w.today)}
        return trends["active_days"].current, trends["active_days"].previous

    # Class manager of C1 (lea's T1, T2: M1, M2, M3): connections M2 d-3, M3 d-2 against M1
    # d-10. Her logins (d-5, d-1) and the M4 connection of d-1 (T3, outside the view) add no day.
    assert active_days(cm, 7) == (2, 1)
    assert active_days(cm, 30) == (3, 1)  # d-10, d-3, d-2 against d-40
    # Training manager of T1 (M1, M2): M2 d-3 against M1 d-10; a month: d-10, d-3 against d-40.
    assert active_days(tm, 7) == (1, 1)
    assert active_days(tm, 30) == (2, 1)
    # The learner herself, even without a global role, and global roles: logins and every
    # connection (SPEC §4's active user), as in test_lfig004.
    assert active_days(Scope(user_id="lea"), 7) == (4, 1)
    assert active_days(EVERYONE, 7) == (4, 1)
    # Only logins in the period: a day for a global viewer, none for the training manager,
    # whose time spent and connections are 0 too.
    factory.login(w.users["bob"], local(w.today, 2, 12))
    factory.s.commit()
    assert active_days(EVERYONE, 7, "bob") == (1, 0)
    assert active_days(tm, 7, "bob") == (0, 0)
    assert active_days(cm, 7, "bob") == (0, 0)
