"""SPEC §4, one definition at a time, against values computed by hand in each test."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from data import rules
from data.figures.cards import (
    active_users_count,
    active_users_series,
    completions_count,
    completions_series,
    learner_count,
    new_users_count,
    progress_series,
    status_summary,
)
from data.figures.days import choose_unit, day_start_utc, make_buckets
from data.figures.module_summary import module_attempts
from data.figures.population import ALL, Population, training_count
from data.figures.tables import learner_modules, training_content, training_results, trainings_table
from data.scope import Forbidden, Scope, global_scope

TZ = ZoneInfo("Europe/Paris")
EVERYONE = global_scope()


def results(s, training, today=date(2026, 11, 24)):
    frame, total = training_results(s, EVERYONE, Population(training_id=training.id), TZ, today=today)
    assert total == len(frame)
    return {row.user_id: row for row in frame.itertuples()}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dash_app(request, make_app):
    """Every figure is checked on SQLite and on a real PostgreSQL server."""
    if request.param == "postgres":
        return make_app(database_url=request.getfixturevalue("pg_migrated_db_url"))
    return make_app()


@pytest.fixture
def s(factory):
    return factory.s


def test_fig001_zero_max_score_module_scores_100_once_finished(factory, s):
    t = factory.training()
    video = factory.module(max_scores=(0, 0))
    factory.step(t, video)
    done, doing = factory.user(last="A"), factory.user(last="B")
    factory.enroll(done, t)
    factory.enroll(doing, t)
    factory.attempt(done, t, video, finished="2026-01-03 10:00", scores=(0, 0))
    factory.attempt(doing, t, video, finished=None, scores=(0,))
    rows = results(s, t)
    assert rows[done.id].score == pytest.approx(100.0)
    assert rows[done.id].status == "passed"
    assert rows[doing.id].score == pytest.approx(0.0)
    assert rows[doing.id].status == "in progress"
    modules = learner_modules(s, EVERYONE, TZ, t.id, done.id)
    assert modules.iloc[0]["score"] == pytest.approx(100.0)


def test_fig002_attempt_score_counts_only_positive_max_and_awaiting_grading_as_zero(factory, s):
    t = factory.training()
    quiz = factory.module(max_scores=(10, 0, 30))
    factory.step(t, quiz)
    u = factory.user()
    factory.enroll(u, t)
    # 5 + 0 + 30 (awaiting grading) -> 5 / 40 = 12.5 %
    factory.attempt(u, t, quiz, finished="2026-01-03 10:00", scores=(5, 0, 30), evaluated=(True, True, False))
    assert results(s, t)[u.id].score == pytest.approx(12.5)
    [summary] = module_attempts(s, EVERYONE, t.id, u.id, quiz.id)
    assert (summary.points, summary.max_points, summary.awaiting_grading) == (5, 40, 1)
    assert summary.score == pytest.approx(12.5)
    # 5 of 10 is partly correct, not failed (issue 12).
    assert [a.state for a in summary.activities] == ["partly correct", "passed", "awaiting grading"]


def test_fig003_optional_modules_are_outside_the_training_score(factory, s):
    t = factory.training()
    m1, m2, opt = factory.module(), factory.module(), factory.module()
    factory.step(t, m1, 1)
    factory.step(t, m2, 2)
    factory.step(t, opt, 3, mandatory=False)
    u = factory.user()
    factory.enroll(u, t)
    factory.attempt(u, t, m1, finished="2026-01-03 10:00", scores=(8,))  # 80
    factory.attempt(u, t, opt, finished="2026-01-04 10:00", scores=(10,))  # 100, optional
    row = results(s, t)[u.id]
    # mandatory: m1 80, m2 not attempted 0 -> (80 + 0) / 2 = 40
    assert row.score == pytest.approx(40.0)
    # progress counts every module: 2 of 3 completed
    assert row.progress == pytest.approx(200 / 3)
    assert row.status == "in progress"


def test_fig004_best_versus_newest_attempt(factory, s):
    t = factory.training()
    best = factory.module(keep_results="best")
    newest = factory.module(keep_results="newest")
    factory.step(t, best, 1)
    factory.step(t, newest, 2)
    u = factory.user()
    factory.enroll(u, t)
    for module in (best, newest):
        factory.attempt(u, t, module, started="2026-01-02 10:00", finished="2026-01-02 11:00", scores=(9,))
        factory.attempt(u, t, module, started="2026-01-05 10:00", finished="2026-01-05 11:00", scores=(4,))
        # a newer unfinished attempt is not the newest *finished* one
        factory.attempt(u, t, module, started="2026-01-06 10:00", finished=None, scores=(0,))
    modules = learner_modules(s, EVERYONE, TZ, t.id, u.id).set_index("module_id")
    assert modules.loc[best.id, "score"] == pytest.approx(90.0)
    assert modules.loc[newest.id, "score"] == pytest.approx(40.0)
    # completion date is the first finish, in the platform zone
    assert modules.loc[newest.id, "completed_on"] == date(2026, 1, 2)
    assert modules.loc[newest.id, "attempts"] == 3
    assert results(s, t)[u.id].score == pytest.approx(65.0)


def test_fig005_unfinished_attempts_are_in_progress_not_completed(factory, s):
    t = factory.training()
    m1, m2 = factory.module(), factory.module()
    factory.step(t, m1, 1)
    factory.step(t, m2, 2)
    u, idle = factory.user(last="A"), factory.user(last="B")
    factory.enroll(u, t)
    factory.enroll(idle, t)
    factory.attempt(u, t, m1, finished=None, scores=(10,))
    rows = results(s, t)
    assert (rows[u.id].status, rows[u.id].progress, rows[u.id].score) == ("in progress", 0.0, 0.0)
    assert rows[idle.id].status == "not started"
    modules = learner_modules(s, EVERYONE, TZ, t.id, u.id)
    assert list(modules["status"]) == ["in progress", "not started"]
    assert modules.iloc[0]["score"] is None


def test_fig006_min_score_decides_passed_or_failed_and_completion_date_is_latest(factory, s):
    t = factory.training()
    m1, m2, opt = factory.module(), factory.module(), factory.module()
    factory.step(t, m1, 1, min_score=50)
    factory.step(t, m2, 2, min_score=80)
    factory.step(t, opt, 3, mandatory=False)
    ok, ko = factory.user(last="A"), factory.user(last="B")
    for u in (ok, ko):
        factory.enroll(u, t)
        factory.attempt(u, t, m1, finished="2026-02-01 10:00", scores=(5,))  # 50 >= 50
    factory.attempt(ok, t, m2, finished="2026-02-10 22:30", scores=(8,))  # 80 >= 80
    factory.attempt(ko, t, m2, finished="2026-02-03 10:00", scores=(7,))  # 70 < 80
    rows = results(s, t)
    assert rows[ok.id].status == "passed"
    # 22:30 UTC on 10 Feb is 23:30 in Paris: still the 10th
    assert rows[ok.id].completed_on == date(2026, 2, 10)
    assert rows[ko.id].status == "failed"
    assert rows[ko.id].completed_on == date(2026, 2, 3)
    assert rows[ok.id].progress == pytest.approx(200 / 3)


def test_fig007_training_without_mandatory_modules(factory, s):
    t = factory.training()
    m1, m2 = factory.module(), factory.module()
    factory.step(t, m1, 1, mandatory=False)
    factory.step(t, m2, 2, mandatory=False)
    u, v = factory.user(last="A"), factory.user(last="B")
    for x in (u, v):
        factory.enroll(x, t)
        factory.attempt(x, t, m1, finished="2026-03-01 10:00", scores=(10,))
    factory.attempt(u, t, m2, finished="2026-03-05 10:00", scores=(2,))
    rows = results(s, t)
    assert rows[u.id].score is None or rows[u.id].score != rows[u.id].score  # no score
    # every module completed (none is mandatory) -> completed on the latest completion
    assert rows[u.id].status == "passed"
    assert rows[u.id].completed_on == date(2026, 3, 5)
    assert rows[v.id].status == "in progress"
    table = trainings_table(s, EVERYONE, ALL, TZ, today=date(2026, 11, 24)).set_index("training_id")
    assert (
        table.loc[t.id, "average_score"] is None
        or table.loc[t.id, "average_score"] != table.loc[t.id, "average_score"]
    )
    assert table.loc[t.id, "completed"] == 1


def test_fig008_expired_certificates(factory, s):
    t = factory.training(validity_months=12)
    m = factory.module()
    factory.step(t, m, 1)
    old, recent, edge = factory.user(last="A"), factory.user(last="B"), factory.user(last="C")
    for u in (old, recent, edge):
        factory.enroll(u, t, at="2024-01-01 09:00")
    factory.attempt(old, t, m, finished="2025-11-20 10:00", scores=(10,))  # + 12 months = 2026-11-20 < today
    factory.attempt(recent, t, m, finished="2026-01-15 10:00", scores=(10,))
    factory.attempt(
        edge, t, m, finished="2025-11-24 10:00", scores=(10,)
    )  # expires on 2026-11-24: not before today
    rows = results(s, t, today=date(2026, 11, 24))
    assert rows[old.id].status == "expired"
    assert rows[recent.id].status == "passed"
    assert rows[edge.id].status == "passed"
    assert results(s, t, today=date(2026, 11, 25))[edge.id].status == "expired"
    # 29, 30 and 31 Jan + 1 month are all 28 Feb, before 1 Mar: the first valid day is 1 Feb.
    assert rules.expiry_threshold(date(2026, 3, 1), 1) == date(2026, 2, 1)
    assert rules.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)


def test_fig009_past_day_progress_ignores_later_completions(factory, s):
    t = factory.training()
    m1, m2 = factory.module(), factory.module()
    factory.step(t, m1, 1)
    factory.step(t, m2, 2)
    u, v = factory.user(last="A"), factory.user(last="B")
    factory.enroll(u, t, at="2026-04-01 08:00")
    factory.enroll(v, t, at="2026-04-03 08:00")
    factory.attempt(u, t, m1, finished="2026-04-02 10:00", scores=(10,))
    factory.attempt(u, t, m2, finished="2026-04-04 10:00", scores=(10,))
    series = progress_series(s, EVERYONE, ALL, TZ, date(2026, 4, 1), date(2026, 4, 5)).set_index("bucket")
    # 1 Apr: u enrolled, nothing completed -> 0 %; 2 Apr: u 1/2 -> 50 %;
    # 3 Apr: u 50 %, v 0 % -> 25 %; 4 Apr: u 100 %, v 0 % -> 50 %
    assert list(series["learners"]) == [1, 1, 2, 2, 2]
    assert list(series["average_progress"]) == pytest.approx([0.0, 50.0, 25.0, 50.0, 50.0])
    summary = status_summary(s, EVERYONE, ALL, TZ, as_of=date(2026, 4, 2))
    assert summary.pairs == 1
    assert summary.average_progress == pytest.approx(50.0)
    assert summary.counts["in progress"] == 1
    completions = completions_series(s, EVERYONE, ALL, TZ, date(2026, 4, 1), date(2026, 4, 5))
    assert list(completions["completions"]) == [0, 0, 0, 1, 0]
    assert list(completions["completion_rate"]) == pytest.approx([0.0, 0.0, 0.0, 50.0, 50.0])
    assert completions_count(s, EVERYONE, ALL, TZ, date(2026, 4, 1), date(2026, 4, 3)) == 0
    assert completions_count(s, EVERYONE, ALL, TZ, date(2026, 4, 4), date(2026, 4, 30)) == 1


def test_fig010_active_users_per_day_across_daylight_saving_change(factory, s):
    t = factory.training()
    m = factory.module()
    factory.step(t, m, 1)
    a, b, c = factory.user(last="A"), factory.user(last="B"), factory.user(last="C")
    for u in (a, b, c):
        factory.enroll(u, t, at="2026-01-01 08:00")
    # Paris switches to summer time on Sunday 29 March 2026 at 01:00 UTC.
    factory.login(a, "2026-03-28 23:30")  # 29 Mar 00:30 CET -> 29 Mar
    factory.login(b, "2026-03-29 22:30")  # 30 Mar 00:30 CEST -> 30 Mar
    factory.connection(c, m, "2026-03-29 21:30", "2026-03-29 21:45")  # 23:30 CEST -> 29 Mar
    factory.login(c, "2026-03-27 23:10")  # 28 Mar 00:10 CET -> 28 Mar
    factory.login(a, "2026-03-29 10:00")  # a again on the 29th: counted once
    series = active_users_series(s, EVERYONE, ALL, TZ, date(2026, 3, 27), date(2026, 3, 30))
    assert list(series["active_users"]) == [0, 1, 2, 1]
    assert active_users_count(s, EVERYONE, ALL, TZ, date(2026, 3, 27), date(2026, 3, 30)) == 3
    assert active_users_count(s, EVERYONE, ALL, TZ, date(2026, 3, 29), date(2026, 3, 29)) == 2


def test_fig011_connection_spanning_daylight_saving_change_counts_real_duration(factory, s):
    t = factory.training()
    m = factory.module()
    factory.step(t, m, 1)
    u = factory.user()
    factory.enroll(u, t)
    # 00:30 UTC -> 01:45 UTC on 29 Mar: local 01:30 CET -> 03:45 CEST, really 75 minutes.
    factory.connection(u, m, "2026-03-29 00:30", "2026-03-29 01:45")
    row = results(s, t)[u.id]
    assert row.time_spent == pytest.approx(75 * 60, abs=0.01)


def test_fig012_learners_enrolled_through_a_class(factory, s):
    t = factory.training()
    m = factory.module()
    factory.step(t, m, 1)
    direct, via_class, both = factory.user(last="A"), factory.user(last="B"), factory.user(last="C")
    factory.enroll(direct, t, at="2026-05-01 08:00")
    factory.enroll(both, t, at="2026-05-20 08:00")
    factory.klass(
        members=[via_class, both],
        trainings=[t],
        joined_at="2026-05-10 08:00",
        registered_at="2026-05-05 08:00",
    )
    # class: later of joining (10 May) and registration (5 May) = 10 May; both: earlier of 20 May and 10 May
    assert learner_count(s, EVERYONE, ALL, TZ) == 3
    assert learner_count(s, EVERYONE, ALL, TZ, as_of=date(2026, 5, 9)) == 1
    assert learner_count(s, EVERYONE, ALL, TZ, as_of=date(2026, 5, 10)) == 3
    frame, _ = training_results(s, EVERYONE, Population(training_id=t.id), TZ)
    assert len(frame) == 3  # "both" counted once


def test_fig013_blocked_users_and_admins_are_left_out(factory, s):
    t = factory.training()
    m = factory.module()
    factory.step(t, m, 1)
    active = factory.user(last="A")
    blocked = factory.user(last="B", status="blocked")
    admin = factory.user(last="C", roles=["admin"])
    manager = factory.user(last="D", roles=["training_manager:" + t.id])  # not enrolled: not a learner
    for u in (active, blocked, admin):
        factory.enroll(u, t)
        factory.login(u, "2026-06-01 10:00")
    factory.login(manager, "2026-06-01 10:00")
    assert learner_count(s, EVERYONE, ALL, TZ) == 1
    assert set(results(s, t)) == {active.id}
    assert active_users_count(s, EVERYONE, ALL, TZ, date(2026, 6, 1), date(2026, 6, 1)) == 1


def test_fig014_scope_limits_every_figure(factory, s):
    t1, t2 = factory.training(name="Alpha"), factory.training(name="Beta")
    m = factory.module()
    factory.step(t1, m, 1)
    factory.step(t2, m, 1)
    u1, u2 = factory.user(last="A"), factory.user(last="B")
    factory.enroll(u1, t1)
    factory.enroll(u2, t2)
    manager = Scope(user_id="mgr", trainings=frozenset({t1.id}))
    assert learner_count(s, manager, ALL, TZ) == 1
    assert list(trainings_table(s, manager, ALL, TZ)["training_id"]) == [t1.id]
    _frame, total = training_results(s, manager, Population(training_id=t2.id), TZ)
    assert total == 0
    with pytest.raises(Forbidden):
        learner_modules(s, manager, TZ, t2.id, u2.id)
    learner = Scope(user_id=u1.id)
    assert learner_count(s, learner, ALL, TZ) == 0
    own = learner_modules(s, learner, TZ, t1.id, u1.id)
    assert len(own) == 1
    with pytest.raises(Forbidden):
        module_attempts(s, learner, t2.id, u2.id, m.id)


def test_fig015_people_are_ordered_by_last_first_email_ignoring_case_and_accents(factory, s):
    t = factory.training()
    factory.step(t, factory.module(), 1)
    names = [("Bernard", "Zoé", "z@x.org"), ("Àlvarez", "Luc", "l@x.org"), ("bernard", "Anne", "a@x.org"),
             ("Œuvre", "Paul", "p@x.org"), ("Oeuvre", "Ana", "b@x.org"), ("Dupont-Aignan", "Jo", "j@x.org"),
             ("Dupont", "Yves", "y@x.org")]  # fmt: skip
    for last, first, email in names:
        factory.enroll(factory.user(last=last, first=first, email=email), t)
    frame, _ = training_results(s, EVERYONE, Population(training_id=t.id), TZ)
    assert list(frame["last_name"]) == [
        "Àlvarez",
        "bernard",
        "Bernard",
        "Dupont",
        "Dupont-Aignan",
        "Oeuvre",
        "Œuvre",
    ]


def test_fig016_results_table_sorts_searches_and_pages_in_sql(factory, s):
    t = factory.training()
    m = factory.module()
    factory.step(t, m, 1)
    users = []
    for i, (last, score) in enumerate([("Élise", 3), ("Martin", 9), ("Noël", 6), ("Petit", None)]):
        u = factory.user(last=last, first="X", email=f"p{i}@x.org")
        factory.enroll(u, t)
        if score is not None:
            factory.attempt(u, t, m, finished="2026-01-03 10:00", scores=(score,))
        users.append(u)
    pop = Population(training_id=t.id)
    frame, total = training_results(s, EVERYONE, pop, TZ, sort=[("score", False)], offset=0, limit=2)
    assert total == 4
    assert list(frame["last_name"]) == ["Martin", "Noël"]
    frame, total = training_results(s, EVERYONE, pop, TZ, search="NOEL")
    assert (total, list(frame["last_name"])) == (1, ["Noël"])
    frame, total = training_results(s, EVERYONE, pop, TZ, search="elise")
    assert list(frame["last_name"]) == ["Élise"]
    with pytest.raises(ValueError):
        training_results(s, EVERYONE, pop, TZ, sort=[("password", True)])


def test_fig017_training_content_table(factory, s):
    t = factory.training()
    m1, m2 = factory.module(name="Intro"), factory.module(name="Quiz")
    factory.step(t, m1, 1)
    factory.step(t, m2, 2, mandatory=False, min_score=50)
    a, b = factory.user(last="A"), factory.user(last="B")
    for u in (a, b):
        factory.enroll(u, t)
        factory.attempt(u, t, m1, finished="2026-01-03 10:00", scores=(10,))
    factory.attempt(a, t, m2, finished="2026-01-04 10:00", scores=(4,))  # 40 < 50: completed, not passed
    factory.connection(a, m1, "2026-01-03 09:00", "2026-01-03 09:30")
    factory.connection(b, m1, "2026-01-03 09:00", "2026-01-03 10:30")
    content = training_content(s, EVERYONE, Population(training_id=t.id), TZ).set_index("module")
    assert content.loc["Intro", "completed_pct"] == pytest.approx(100.0)
    assert content.loc["Quiz", "completed_pct"] == pytest.approx(50.0)
    assert content.loc["Quiz", "passed_pct"] == pytest.approx(0.0)
    assert content.loc["Quiz", "average_score"] == pytest.approx(40.0)
    assert content.loc["Intro", "average_time_spent"] == pytest.approx(3600.0, abs=0.01)  # (30 + 90) / 2 min
    assert not content.loc["Quiz", "mandatory"]


def test_fig018_trainings_table_and_cards(factory, s):
    t = factory.training(name="Sécurité")
    m = factory.module()
    factory.step(t, m, 1)
    a = factory.user(last="A", created_at=day_start_utc(date(2026, 6, 10), TZ))
    b = factory.user(last="B", created_at=day_start_utc(date(2026, 5, 1), TZ))
    factory.enroll(a, t)
    factory.enroll(b, t)
    factory.attempt(a, t, m, finished="2026-06-12 10:00", scores=(6,))
    factory.connection(a, m, "2026-06-12 09:00", "2026-06-12 10:00")
    table = trainings_table(s, EVERYONE, ALL, TZ).set_index("training")
    row = table.loc["Sécurité"]
    assert (row.learners, row.completed, row.not_started) == (2, 1, 1)
    assert row.completion_rate == pytest.approx(50.0)
    assert row.average_progress == pytest.approx(50.0)
    assert row.average_score == pytest.approx(30.0)  # (60 + 0) / 2
    assert row.average_time_spent == pytest.approx(1800.0, abs=0.01)
    assert new_users_count(s, EVERYONE, ALL, TZ, date(2026, 6, 1), date(2026, 6, 30)) == 1
    assert training_count(s, EVERYONE, ALL) == 1


def test_fig019_buckets(s):
    assert choose_unit(date(2026, 1, 1), date(2026, 4, 2)) == "day"  # 92 days
    assert choose_unit(date(2026, 1, 1), date(2026, 4, 3)) == "week"
    assert choose_unit(date(2026, 1, 1), date(2027, 12, 31)) == "week"  # 730 days
    assert choose_unit(date(2026, 1, 1), date(2028, 1, 1)) == "week"  # 731 days
    assert choose_unit(date(2026, 1, 1), date(2028, 1, 2)) == "month"  # 732 days
    buckets = make_buckets(date(2026, 11, 4), date(2026, 11, 24), "week")  # Wed 4 Nov
    assert buckets.starts == (date(2026, 11, 4), date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23))
    assert buckets.last_days[-1] == date(2026, 11, 24)
    months = make_buckets(date(2025, 12, 15), date(2026, 2, 3), "month")
    assert months.starts == (date(2025, 12, 15), date(2026, 1, 1), date(2026, 2, 1))


def test_fig020_a_score_at_the_minimum_passes_despite_floating_point(factory, s):
    t = factory.training()
    m = factory.module(max_scores=(1,))
    factory.step(t, m, 1, min_score=29)
    u = factory.user()
    factory.enroll(u, t)
    factory.attempt(u, t, m, finished="2026-03-02 10:00", scores=(0.29,))  # 100 x 0.29 = 28.999999999999996
    row = results(s, t)[u.id]
    assert row.status == "passed"
    assert learner_modules(s, EVERYONE, TZ, t.id, u.id).iloc[0]["status"] == "passed"
    content = training_content(s, EVERYONE, Population(training_id=t.id), TZ)
    assert content.iloc[0]["passed_pct"] == pytest.approx(100.0)


def test_fig021_newest_attempt_is_the_latest_finished_in_the_summary_too(factory, s):
    t = factory.training()
    m = factory.module(keep_results="newest")
    factory.step(t, m, 1)
    u = factory.user()
    factory.enroll(u, t)
    # x1 started first but finished last: it is the newest finished attempt.
    factory.attempt(
        u, t, m, started="2026-03-01 10:00", finished="2026-03-10 10:00", scores=(10,), attempt_id="x1"
    )
    factory.attempt(
        u, t, m, started="2026-03-05 10:00", finished="2026-03-06 10:00", scores=(2.5,), attempt_id="x2"
    )
    assert learner_modules(s, EVERYONE, TZ, t.id, u.id).iloc[0]["score"] == pytest.approx(100.0)
    attempts = module_attempts(s, EVERYONE, t.id, u.id, m.id)
    assert [a.attempt_id for a in attempts] == ["x1", "x2"]


def test_fig022_enrollment_and_completion_days_are_local(factory, s):
    t = factory.training()
    m = factory.module()
    factory.step(t, m, 1)
    u = factory.user()
    factory.enroll(u, t, at="2025-05-31 22:30")  # 1 June 00:30 in Paris
    factory.attempt(u, t, m, finished="2025-12-31 23:30", scores=(10,))  # 1 January 00:30
    frame, _ = training_results(s, EVERYONE, Population(training_id=t.id), TZ)
    assert frame.iloc[0]["enrolled_on"] == date(2025, 6, 1)
    assert frame.iloc[0]["completed_on"] == date(2026, 1, 1)
