"""Qualiopi indicator 2 (SPEC §10, issue 19 point 6): volume and rates hand-computed with
completions, a failure, two drop-outs (a session that ended, 30 days without activity), a
learner still going, one outside the period and a blocked one; satisfaction by the day it was
answered (platform time); one training and all of them; the viewer's scope."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from data import models as m
from data.qualiopi import qualiopi_results
from data.scope import Forbidden, Scope, global_scope
from tests.factories import utc

TZ = ZoneInfo("Europe/Paris")
MARCH = (date(2026, 3, 1), date(2026, 3, 31))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dash_app(request, make_app):
    """Each test on SQLite and on PostgreSQL."""
    if request.param == "postgres":
        return make_app(database_url=request.getfixturevalue("pg_migrated_db_url"))
    return make_app()


@pytest.fixture
def world(factory):
    f = factory
    t1, t2 = f.training("T1", name="Sécurité"), f.training("T2", name="Accueil")
    m1, m2 = f.module("M1", max_scores=(10,)), f.module("M2", max_scores=(10,))
    f.step(t1, m1, 1, min_score=50)
    f.step(t2, m2, 1, min_score=50)
    people = {}
    for key in ("l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9"):
        people[key] = f.user(
            key, last=key.upper(), email=f"{key}@x.org", status="blocked" if key == "l7" else "active"
        )
        f.enroll(people[key], t1, at="2026-01-15 09:00" if key in ("l4", "l9") else "2026-02-01 09:00")
    p = people
    f.attempt(p["l1"], t1, m1, started="2026-03-10 09:00", finished="2026-03-10 10:00", scores=(8,))  # passed
    f.attempt(p["l2"], t1, m1, started="2026-03-15 09:00", finished="2026-03-15 10:00", scores=(3,))  # failed
    f.attempt(p["l8"], t1, m1, started="2026-03-20 09:00", finished="2026-03-20 10:00", scores=(9,))  # passed
    session = f.session(t1, "S1", starts="2026-03-02 08:00", ends="2026-03-20 17:00", learners=(p["l3"],))
    f.connection(p["l3"], m1, "2026-03-05 09:00", "2026-03-05 10:00", session)  # session ended: drop-out
    f.attempt(p["l3"], t1, m1, started="2026-03-05 09:00")
    f.connection(p["l4"], m1, "2026-02-10 08:00", "2026-02-10 09:00")  # 30 days on 12/03: drop-out
    f.connection(p["l5"], m1, "2026-03-25 08:00", "2026-03-25 09:00")  # still going
    f.attempt(p["l5"], t1, m1, started="2026-03-25 08:00")
    f.attempt(
        p["l6"], t1, m1, started="2026-01-20 09:00", finished="2026-01-20 10:00", scores=(10,)
    )  # before
    f.attempt(
        p["l7"], t1, m1, started="2026-03-10 09:00", finished="2026-03-10 10:00", scores=(10,)
    )  # blocked
    # l9: enrolled 15/01 and nothing since: inactive for 30 days on 14/02, before March.
    f.enroll(p["l1"], t2, at="2026-02-01 09:00")
    f.attempt(p["l1"], t2, m2, started="2026-03-11 09:00", finished="2026-03-11 10:00", scores=(7,))
    for key, training, at, score in (
        ("l1", "T1", "2026-03-12 10:00", 9),
        ("l2", "T1", "2026-03-16 10:00", 6),
        ("l5", "T1", "2026-03-31 21:30", 7),  # 23:30 in Paris: March
        ("l8", "T1", "2026-03-31 22:30", 8),  # 1 April 00:30 in Paris: not March
        ("l6", "T1", "2026-02-01 10:00", 10),
    ):
        f.s.add(m.SatisfactionAnswer(user_id=key, training_id=training, answered_at=utc(at), score=score))
    f.user("tm", email="tm@x.org", roles=("training_manager:T1",))
    f.s.commit()
    return f


def test_qua001_one_training_hand_computed(world):
    r = qualiopi_results(world.s, global_scope(), *MARCH, TZ, "T1")
    # Active in March: l1, l2, l8 (finished), l3 (connection), l5 (connection). Not l4 (February),
    # l6 (January), l7 (blocked), l9 (never).
    assert (r.learners, r.pairs) == (5, 5)
    # Ended in March: l1, l2, l8 completed; l3 (session ended 20/03), l4 (inactive since 10/02).
    assert (r.ended, r.completed, r.passed, r.dropped) == (5, 3, 2, 2)
    assert r.completion_rate == 60.0
    assert round(r.success_rate, 1) == 66.7
    assert r.drop_out_rate == 40.0
    assert r.satisfaction_answers == 3 and round(r.satisfaction_mean, 4) == round((9 + 6 + 7) / 3, 4)
    assert r.training_name == "Sécurité"


def test_qua002_all_trainings_and_the_scope(world):
    r = qualiopi_results(world.s, global_scope(), *MARCH, TZ)
    # T2 adds l1's second pair: completed and passed in March.
    assert (r.learners, r.pairs, r.ended, r.completed, r.passed, r.dropped) == (5, 6, 6, 4, 3, 2)
    assert (
        round(r.completion_rate, 1) == 66.7 and r.success_rate == 75.0 and round(r.drop_out_rate, 1) == 33.3
    )
    manager = Scope("tm", trainings=frozenset({"T1"}))
    mine = qualiopi_results(world.s, manager, *MARCH, TZ)
    assert (mine.pairs, mine.ended, mine.completed) == (5, 5, 3)  # T1 only
    with pytest.raises(Forbidden):
        qualiopi_results(world.s, manager, *MARCH, TZ, "T2")
    with pytest.raises(Forbidden):
        qualiopi_results(world.s, manager, *MARCH, TZ, "nope")
    with pytest.raises(Forbidden):
        qualiopi_results(world.s, Scope("cm", classes=frozenset({"C1"})), *MARCH, TZ)


def test_qua003_another_period(world):
    february = qualiopi_results(world.s, global_scope(), date(2026, 2, 1), date(2026, 2, 28), TZ, "T1")
    # l4 was active (10/02); l9 turned 30 days inactive on 14/02: a drop-out of February.
    assert (february.learners, february.ended, february.completed, february.dropped) == (1, 1, 0, 1)
    assert february.completion_rate == 0.0 and february.success_rate is None
    assert february.satisfaction_answers == 1 and february.satisfaction_mean == 10.0


def test_qua004_one_page_pdf_read_back(world, tmp_path):
    import subprocess

    from exports.attestation_options import DEMO_OPTIONS, save_defaults
    from exports.qualiopi import qualiopi_pdf_bytes

    save_defaults(world.s, DEMO_OPTIONS)
    data = qualiopi_pdf_bytes(world.s, global_scope(), *MARCH, TZ, "T1", signed_on=date(2026, 4, 2))
    path = tmp_path / "qualiopi.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Pages:           1\n" in info, info  # one page, fit to publish
    text = " ".join(
        subprocess.run(
            ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    for expected in (
        "Learnstats Formation SAS",
        "Résultats de nos formations",
        "Indicateur 2 Qualiopi · période du 01/03/2026 au 31/03/2026",
        "Formation : Sécurité",
        "5 apprenants formés sur la période (5 inscriptions)",
        # The figures are drawn two by two: label, value and counts under one another.
        "Taux de réalisation Taux de réussite 60,0 % 66,7 % 3 apprenants sur 5 2 apprenants sur 3",
        "Taux d'abandon Satisfaction 40,0 % 7,3 / 10 2 apprenants sur 5 3 réponses",
        "le 02/04/2026",
    ):
        assert expected in text, expected
    english = qualiopi_pdf_bytes(world.s, global_scope(), *MARCH, TZ, None, "en", signed_on=date(2026, 4, 2))
    path.write_bytes(english)
    text = " ".join(
        subprocess.run(
            ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "All our trainings" in text
    assert "Completion rate Success rate 66.7 % 75.0 % 4 of 6 learners 3 of 4 learners" in text


def test_qua005_scheduled_report(world):
    """Issue 19 point 7: the one-page PDF as a kind of scheduled report, in the recipient's
    scope, over the run's previous period."""
    from datetime import UTC, datetime

    from auth.roles import load_scope
    from exports.report_kinds import ReportRun, build_report

    tm = load_scope(world.s, "tm")
    run = ReportRun(tz=TZ, now=datetime(2026, 4, 1, 6, tzinfo=UTC), period=MARCH)
    data, built = build_report(
        world.s, "qualiopi", world.s.get(m.User, "tm"), tm, {"training_id": "T1"}, run, "fr"
    )
    assert built.file_name == "qualiopi-T1-2026-03-01-2026-03-31.pdf" and data.startswith(b"%PDF")
    with pytest.raises(Forbidden):
        build_report(world.s, "qualiopi", world.s.get(m.User, "tm"), tm, {"training_id": "T2"}, run, "fr")
