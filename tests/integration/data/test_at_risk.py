"""SPEC §9's at-risk learners, hand-computed at each reason's boundary, on SQLite and PostgreSQL:
the reader (data/figures/at_risk.py), the CSV of export-at-risk and the words of each row."""

from __future__ import annotations

import csv
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from data.figures.at_risk import at_risk_count, at_risk_rows
from data.figures.population import Population
from data.scope import Forbidden, Scope, global_scope
from exports.at_risk import AT_RISK_COLUMNS, at_risk_csv_bytes, reasons_text, training_at_risk_records
from exports.formatting import use_language

TZ = ZoneInfo("Europe/Paris")
EVERYONE = global_scope()
ON = date(2026, 3, 20)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dash_app(request, make_app):
    if request.param == "postgres":
        return make_app(database_url=request.getfixturevalue("pg_migrated_db_url"))
    return make_app()


def rows(s, training, on=ON, days=14, scope=EVERYONE):
    found, total = at_risk_rows(s, scope, Population(training_id=training.id), TZ, on, days)
    assert total == len(found)
    return {r.user_id: r for r in found}


def test_inactive_at_13_and_14_days_since_the_last_activity_else_the_enrollment(factory):
    s = factory.s
    t = factory.training()
    mod = factory.module(max_scores=(10,))
    factory.step(t, mod)
    # 14 days before ON (6 March, local) and 13 days (7 March): connections in Paris time.
    fourteen, thirteen, never, never_recent = (factory.user(last=n) for n in ("A", "B", "C", "D"))
    for u in (fourteen, thirteen, never):
        factory.enroll(u, t, at="2026-01-05 09:00")
    factory.enroll(never_recent, t, at="2026-03-07 09:00")
    factory.connection(fourteen, mod, "2026-03-06 08:00", "2026-03-06 09:00")
    factory.connection(thirteen, mod, "2026-03-07 08:00", "2026-03-07 09:00")
    factory.refresh()
    found = rows(s, t)
    assert found[fourteen.id].reasons.inactive_days == 14
    assert found[fourteen.id].last_activity == date(2026, 3, 6)
    assert thirteen.id not in found  # 13 days: not yet
    assert found[never.id].reasons.inactive_days == 74  # since the enrollment, 5 January
    assert found[never.id].last_activity is None
    assert never_recent.id not in found  # enrolled 13 days before
    assert rows(s, t, days=13)[thirteen.id].reasons.inactive_days == 13
    with use_language("en"):
        assert reasons_text(found[fourteen.id], ON) == "inactive for 14 days"
    assert at_risk_count(s, EVERYONE, Population(training_id=t.id), TZ, ON, 14) == 2


def test_activity_after_the_date_is_ignored_and_every_kind_counts(factory):
    s = factory.s
    t, other = factory.training(), factory.training()
    mod, elsewhere = factory.module(max_scores=(10,)), factory.module(max_scores=(10,))
    factory.step(t, mod, min_score=0)
    factory.step(other, elsewhere)
    by_attempt, by_finish, by_answer_only, later, other_training = (
        factory.user(last=n) for n in ("A", "B", "C", "D", "E")
    )
    for u in (by_attempt, by_finish, by_answer_only, later, other_training):
        factory.enroll(u, t, at="2026-01-05 09:00")
    factory.enroll(other_training, other)
    factory.attempt(by_attempt, t, mod, started="2026-03-10 10:00")
    factory.attempt(by_finish, t, mod, started="2026-02-01 10:00", finished="2026-03-12 10:00", scores=(10,))
    # A connection to a module of another training is not activity in t.
    factory.connection(other_training, elsewhere, "2026-03-19 08:00", "2026-03-19 09:00")
    # Active on 25 March only: on 20 March, last active... never (since the enrollment).
    factory.connection(later, mod, "2026-03-25 08:00", "2026-03-25 09:00")
    factory.refresh()
    found = rows(s, t)
    assert by_attempt.id not in found and by_finish.id not in found  # passed: completed anyway
    assert found[other_training.id].reasons.inactive_days == 74
    assert found[later.id].reasons.inactive_days == 74 and found[later.id].last_activity is None
    assert later.id not in rows(s, t, on=date(2026, 3, 26))
    assert rows(s, t, on=date(2026, 4, 8))[later.id].reasons.inactive_days == 14
    assert rows(s, t, on=date(2026, 3, 24))[by_attempt.id].reasons.inactive_days == 14
    assert by_answer_only.id in found


def test_a_failed_mandatory_module_and_then_re_passed(factory, dash_app):
    s = factory.s
    t = factory.training()
    quiz = factory.module(name="Quiz", max_scores=(10,))
    extra = factory.module(name="Extra", max_scores=(10,))
    optional = factory.module(name="Optional", max_scores=(10,))
    factory.step(t, quiz, mandatory=True, min_score=50)
    factory.step(t, extra, mandatory=True, min_score=50)
    factory.step(t, optional, mandatory=False, min_score=50)
    u = factory.user()
    factory.enroll(u, t, at="2026-03-01 09:00")
    factory.attempt(u, t, quiz, started="2026-03-02 10:00", finished="2026-03-02 10:30", scores=(4,))
    factory.attempt(u, t, optional, started="2026-03-02 11:00", finished="2026-03-02 11:30", scores=(1,))
    factory.attempt(u, t, quiz, started="2026-03-15 10:00", finished="2026-03-15 10:30", scores=(8,))
    factory.refresh()
    before = rows(s, t, on=date(2026, 3, 10))[u.id]
    assert before.reasons.failed_modules == (quiz.id,)  # the optional one is not a reason
    assert before.failed_names == ("Quiz",)
    assert before.reasons.inactive_days is None
    assert before.progress == pytest.approx(200 / 3) and before.score == pytest.approx(20.0)
    with use_language("en"):
        assert reasons_text(before, date(2026, 3, 10)) == "failed Quiz"
    with dash_app.server.test_request_context("/"), use_language("fr"):
        assert reasons_text(before, date(2026, 3, 10)) == "échec à Quiz"
    assert u.id not in rows(s, t, on=date(2026, 3, 20))  # re-passed on 15 March


def test_late_when_a_session_ended_or_ends_within_7_days(factory, dash_app):
    s = factory.s
    t = factory.training()
    mod = factory.module()
    factory.step(t, mod)
    seven, eight, ended, today, two = (factory.user(last=n) for n in ("A", "B", "C", "D", "E"))
    for u in (seven, eight, ended, today, two):
        factory.enroll(u, t, at="2026-03-15 09:00")
    factory.session(t, session_id="s7", ends="2026-03-27 17:00", learners=[seven])
    factory.session(t, session_id="s8", ends="2026-03-28 17:00", learners=[eight])
    factory.session(t, session_id="s-old", ends="2026-03-02 17:00", learners=[ended, two])
    factory.session(t, session_id="s-today", ends="2026-03-20 22:00", learners=[today])
    factory.session(t, session_id="s-later", ends="2026-03-25 17:00", learners=[two])
    factory.session(t, session_id="s-open", ends=None, learners=[eight])
    factory.refresh()
    found = rows(s, t)
    assert found[seven.id].reasons.late_session == "s7"
    assert found[seven.id].reasons.late_end == date(2026, 3, 27)
    assert eight.id not in found  # ends in 8 days
    assert found[two.id].reasons.late_session == "s-old"  # the earliest-ending
    with use_language("en"):
        assert reasons_text(found[seven.id], ON) == "session ends in 7 days"
        assert reasons_text(found[ended.id], ON) == "session ended on 02/03/2026"
        assert reasons_text(found[today.id], ON) == "session ends today"
    with dash_app.server.test_request_context("/"), use_language("fr"):
        assert reasons_text(found[seven.id], ON) == "session se termine dans 7 jours"
        assert reasons_text(found[ended.id], ON) == "session terminée le 2 mars 2026"
    assert found[seven.id].session == "Session s7"


def test_completed_blocked_and_scope(factory):
    s = factory.s
    t, other = factory.training(), factory.training()
    mod = factory.module()
    factory.step(t, mod)
    factory.step(other, mod)
    done, blocked, kept = (
        factory.user(last="A"),
        factory.user(last="B", status="blocked"),
        factory.user(last="C"),
    )
    for u in (done, blocked, kept):
        factory.enroll(u, t, at="2026-01-05 09:00")
    factory.enroll(kept, other, at="2026-01-05 09:00")
    factory.attempt(done, t, mod, started="2026-01-06 10:00", finished="2026-01-06 11:00", scores=(10,))
    factory.refresh()
    assert set(rows(s, t)) == {kept.id}
    manager = Scope(user_id="m", trainings=frozenset({other.id}))
    found, total = at_risk_rows(s, manager, Population(), TZ, ON, 14)
    assert [(r.user_id, r.training_id) for r in found] == [(kept.id, other.id)] and total == 1
    with pytest.raises(Forbidden):
        training_at_risk_records(s, manager, t.id, TZ, ON, 14)
    assert at_risk_count(s, EVERYONE, Population(), TZ, ON, 14) == 1  # one learner, two trainings


def test_export_at_risk_command_writes_spec_columns(factory, dash_app, tmp_path):
    s = factory.s
    t = factory.training(training_id="t-risk")
    quiz = factory.module(module_id="m-quiz", max_scores=(10,))
    factory.step(t, quiz, min_score=50)
    factory.step(t, factory.module(module_id="m-two"))  # a failed quiz alone would complete t (failed)
    a = factory.user(user_id="u-a", last="Able", first="Ann", email="=a@example.org")
    b = factory.user(user_id="u-b", last="Baker", first="Bob")
    factory.enroll(a, t, at="2026-03-01 09:00")
    factory.enroll(b, t, at="2026-03-19 09:00")
    factory.attempt(a, t, quiz, started="2026-03-02 10:00", finished="2026-03-02 10:30", scores=(4,))
    factory.session(t, session_id="s1", ends="2026-03-22 17:00", learners=[a, b])
    s.commit()
    out = tmp_path / "risk.csv"
    runner = dash_app.server.test_cli_runner()
    result = runner.invoke(
        args=[
            "export-at-risk",
            "--training",
            "t-risk",
            "--on",
            "2026-03-20",
            "--days",
            "14",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert tuple(table[0]) == AT_RISK_COLUMNS
    assert table[1:] == [
        ["u-a", "'=a@example.org", "Able", "Ann", "18", "m-quiz", "s1", "2026-03-02", "50.0", "20.0"],
        ["u-b", "b@example.org".replace("b@", "u-b@"), "Baker", "Bob", "", "", "s1", "", "0.0", "0.0"],
    ]
    bad = runner.invoke(args=["export-at-risk", "--training", "nope", "--out", str(out)])
    assert bad.exit_code == 1 and "no training has the id 'nope'" in bad.output
    bad = runner.invoke(args=["export-at-risk", "--training", "t-risk", "--days", "0", "--out", str(out)])
    assert bad.exit_code == 1 and "--days" in bad.output
    bad = runner.invoke(
        args=["export-at-risk", "--training", "t-risk", "--on", "20/03/2026", "--out", str(out)]
    )
    assert bad.exit_code == 1 and "--on" in bad.output
    assert at_risk_csv_bytes([]).decode() == ",".join(AT_RISK_COLUMNS) + "\r\n"


def test_the_first_blocks_found_learner_by_learner_are_the_list_in_its_order(factory, monkeypatch):
    """A long list's first blocks are found learner by learner (at_risk.py `_keys_by_learner`):
    the same rows in the same order as the whole list sorted in SQL, names shared by several
    learners included (their rows order by training across them, even across a chunk's end)."""
    from data.figures import at_risk

    s = factory.s
    alpha, beta, gamma = (factory.training(name=n) for n in ("Alpha", "Beta", "Gamma"))
    # Four learners of one sort key (emails differing by case only): their rows are ties.
    people = [
        factory.user(first="Jean", last="Dupont", email=e)
        for e in ("j@x.org", "J@x.org", "j@X.org", "J@X.org")
    ]
    people += [factory.user(first=f, last=n) for f, n in (("Ann", "Abel"), ("Zoe", "Zola"), ("Eve", "Marin"))]
    for i, u in enumerate(people):
        for t in (alpha, beta, gamma)[i % 3 :]:
            factory.enroll(u, t, at="2026-01-05 09:00")  # never active: inactive since then
    factory.refresh()
    pop = Population()
    whole, total = at_risk_rows.__wrapped__(s, EVERYONE, pop, TZ, ON, 14)
    assert total == len(whole) == sum(3 - i % 3 for i in range(len(people)))
    order = [(r.last_name, r.training) for r in whole]
    assert order == sorted(order, key=lambda o: (o[0], o[1]))  # Abel, Dupont..., Marin, Zola
    monkeypatch.setattr(at_risk, "KEYSET_MIN_ROWS", 0)
    for chunk in (1, 2, 3, 100):
        monkeypatch.setattr(at_risk, "KEYSET_CHUNK", chunk)
        for size in (1, 2, 4, 50):
            paged = []
            for offset in range(0, total, size):
                page, page_total = at_risk_rows.__wrapped__(
                    s, EVERYONE, pop, TZ, ON, 14, None, (), offset, size
                )
                assert page_total == total
                paged += page
            assert paged == whole, (chunk, size)
    searched, n = at_risk_rows.__wrapped__(s, EVERYONE, pop, TZ, ON, 14, "dupont", (), 0, 4)
    assert (
        n == sum(1 for r in whole if r.last_name == "Dupont")
        and searched == [r for r in whole if r.last_name == "Dupont"][:4]
    )
