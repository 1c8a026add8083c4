"""SPEC §8's mapping, one rule per test, with hand-computed figures (issue 17).

Statements go through data.xapi.ingest_statements on a migrated SQLite database; the figures
are read back from the rows derived and from the summary layer the pages read."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from data import models as m
from data import summaries
from tests.integration.data.xapi.statements import (
    COURSE,
    M1,
    M2,
    Q1,
    Q2,
    agent,
    ingest,
    rows,
    sid,
    statement,
    voiding,
)

T = datetime.fromisoformat


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, make_app):
    """The app's database: SQLite, and PostgreSQL (a throwaway cluster, tests/postgres.py)."""
    if request.param == "postgres":
        return make_app(database_url=request.getfixturevalue("pg_db_url")).server.extensions["learnstats_db"]
    return make_app().server.extensions["learnstats_db"]


def pair(s, user="ann@example.org", training=COURSE):
    summaries.refresh_pending(s)  # as before every read of a figure
    return s.get(m.SummaryPair, (user, training))


def fact(s, module, user="ann@example.org", training=COURSE):
    summaries.refresh_pending(s)
    return s.get(m.SummaryModuleFact, (user, training, module))


def test_xm001_actor_ids_and_names(db):
    with db.session() as s:
        report = ingest(
            s,
            [
                statement("a", "experienced", M1, "2026-01-05T10:00:00", actor={
                    "account": {"homePage": "https://lms.example.org", "name": "u-42"},
                    "name": "Bob  Van Dyke"}),
                statement("b", "experienced", M1, "2026-01-05T10:00:00", actor={"mbox": "mailto:cy@example.org", "name": "Cy"}),
                statement("c", "experienced", M1, "2026-01-05T10:00:00", actor={"openid": "https://id.example.org/dee"}),
                statement("d", "experienced", M1, "2026-01-05T10:00:00",
                          actor={"mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}),
            ],
        )  # fmt: skip
        assert report.added["users"] == 4
        users = {u.id: u for u in rows(s, m.User, m.User.id)}
    assert (users["u-42"].email, users["u-42"].first_name, users["u-42"].last_name) == (
        "u-42@xapi.invalid",  # no mailbox: an address of the reserved .invalid domain
        "Bob Van",
        "Dyke",
    )
    assert (
        users["cy@example.org"].email,
        users["cy@example.org"].first_name,
        users["cy@example.org"].last_name,
    ) == (
        "cy@example.org",
        "",
        "Cy",
    )
    assert "https://id.example.org/dee" in users
    assert users["ebd31e95054c018b10727ccffd2ef2ec3a016ee9"].email.endswith("@xapi.invalid")


def test_xm002_known_user_keeps_bundle_name_and_email(db):
    with db.session() as s:
        s.add(m.User(id="ann@example.org", email="ann.lee@corp.example", first_name="Anne", last_name="Lee"))
    with db.session() as s:
        ingest(s, [statement("a", "experienced", M1, "2026-01-05T10:00:00")])
    with db.session() as s:
        user = s.get(m.User, "ann@example.org")
        assert (user.email, user.first_name, user.last_name) == ("ann.lee@corp.example", "Anne", "Lee")
        assert s.scalar(select(func.count()).select_from(m.User)) == 1


def test_xm003_course_from_object_parent_or_grouping_and_its_name(db):
    other = "https://lms.example.org/course/other"
    with db.session() as s:
        report = ingest(
            s,
            [
                # The course is a grouping activity (the parent is the module).
                statement("q", "answered", Q1, "2026-01-05T10:00:00", kind="question", parent=M1),
                statement("c", "registered", other, "2026-01-05T09:00:00", kind="course"),
                statement("none", "experienced", M2, "2026-01-05T10:00:00", course=None),
                statement("login", "https://w3id.org/xapi/adl/verbs/logged-in", "https://lms.example.org", "2026-01-05T08:00:00", course=None),
            ],
        )  # fmt: skip
        trainings = {t.id: t.name for t in rows(s, m.Training, m.Training.id)}
        assert trainings == {COURSE: "Sécurité", other: "Sécurité"}  # fr-FR before en-US
        assert report.ignored == {"no course": 1}
        assert report.ignored_examples["no course"] == f"line 3: statement {sid('none')}"
        # The sign-in verb without a course is not ignored: it is a login.
        assert [lg.logged_in_at for lg in rows(s, m.Login)] == [T("2026-01-05 08:00")]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ({"de": "Sicherheit", "en": "Safety"}, "Safety"),
        ({"de": "Sicherheit"}, "Sicherheit"),
        (None, COURSE),
    ],
)
def test_xm004_training_name_languages(db, names, expected):
    s1 = statement("c", "registered", COURSE, "2026-01-05T09:00:00", kind="course")
    if names is None:
        del s1["object"]["definition"]["name"]
    else:
        s1["object"]["definition"]["name"] = names
    with db.session() as s:
        ingest(s, [s1])
        assert s.get(m.Training, COURSE).name == expected


def test_xm005_modules_positions_and_all_content(db):
    with db.session() as s:
        ingest(
            s,
            [
                # m2 is seen first, then m1: positions follow the first statement.
                statement("2", "experienced", M2, "2026-01-05T10:00:00", obj_name="Two"),
                statement("1", "experienced", M1, "2026-01-06T10:00:00"),
                # A question whose only parent is the course: the "(all content)" module.
                statement("q", "answered", COURSE + "/q9", "2026-01-07T10:00:00", kind="question",
                          result={"score": {"raw": 1, "max": 2}}),
            ],
        )  # fmt: skip
        steps = [
            (t.module_id, t.position, t.mandatory, t.min_score)
            for t in rows(s, m.TrainingModule, m.TrainingModule.position)
        ]
        all_content = [mod for mod in rows(s, m.Module) if mod.name.endswith("(all content)")]
        assert len(all_content) == 1
        assert all_content[0].name == "Sécurité (all content)"
        assert steps == [(M2, 1, True, 0.0), (M1, 2, True, 0.0), (all_content[0].id, 3, True, 0.0)]
        assert s.get(m.Module, M2).name == "Two"
        assert s.get(m.Module, M1).name == M1  # no name: the IRI
        assert s.get(m.Activity, COURSE + "/q9").module_id == all_content[0].id


def test_xm006_activity_max_score_question_and_correct_answer(db):
    definition = {
        "description": {"en-US": "Which exit?"},
        "interactionType": "choice",
        "correctResponsesPattern": ["a[,]b", "c"],
    }
    with db.session() as s:
        ingest(
            s,
            [
                statement("1", "answered", Q1, "2026-01-05T10:00:00", kind="question", parent=M1,
                          result={"score": {"raw": 3, "max": 4}}, definition=definition),
                statement("2", "answered", Q2, "2026-01-05T10:01:00", kind="question", parent=M1,
                          result={"score": {"scaled": 0.5}}),
            ],
        )  # fmt: skip
        q1, q2 = s.get(m.Activity, Q1), s.get(m.Activity, Q2)
        assert (q1.module_id, q1.max_score, q1.question, q1.correct_answer, q1.type) == (
            M1, 4.0, "Which exit?", "a[,]b, c", "choice",
        )  # fmt: skip
        assert q2.max_score == 1.0  # only scaled given
        answers = {a.activity_id: a.score for a in rows(s, m.Answer)}
        assert answers == {Q1: 3.0, Q2: 0.5}  # raw; scaled x max


def test_xm007_enrollment_registered_else_first_statement(db):
    with db.session() as s:
        ingest(
            s,
            [
                statement("r", "registered", COURSE, "2026-01-03T09:00:00", kind="course"),
                statement("a", "experienced", M1, "2026-01-05T10:00:00"),
                statement("b", "experienced", M1, "2026-01-04T10:00:00", who="bob"),
                statement("c", "experienced", M1, "2026-01-06T10:00:00", who="bob"),
            ],
        )
        enrolled = {(e.user_id, e.enrolled_at) for e in rows(s, m.Enrollment)}
        assert enrolled == {
            ("ann@example.org", T("2026-01-03 09:00")),
            ("bob@example.org", T("2026-01-04 10:00")),
        }
        assert pair(s).enrolled_at == T("2026-01-03 09:00")


def test_xm008_logins_from_sign_in_verbs(db):
    with db.session() as s:
        ingest(
            s,
            [
                statement("l", "launched", M1, "2026-01-05T10:00:00"),
                statement("i", "initialized", M1, "2026-01-05T10:00:01"),
                statement("x", "experienced", M1, "2026-01-05T10:00:02"),
            ],
        )
        assert [lg.logged_in_at for lg in rows(s, m.Login, m.Login.logged_in_at)] == [
            T("2026-01-05 10:00:00"),
            T("2026-01-05 10:00:01"),
        ]


def test_xm009_later_answer_replaces_earlier_and_module_score(db):
    """Q1 max 4, Q2 max 1. Answers Q1=1 then Q1=3 (replaces), Q2=1; completed without a
    score: SPEC §4's score = 100 x (3 + 1) / (4 + 1) = 80."""
    with db.session() as s:
        ingest(
            s,
            [
                statement("1", "answered", Q1, "2026-01-05T10:00:00", kind="question", parent=M1,
                          result={"score": {"raw": 1, "max": 4}, "response": "x"}),
                statement("2", "answered", Q1, "2026-01-05T10:01:00", kind="question", parent=M1,
                          result={"score": {"raw": 3, "max": 4}, "response": "y"}),
                statement("3", "answered", Q2, "2026-01-05T10:02:00", kind="question", parent=M1,
                          result={"score": {"raw": 1, "max": 1}}),
                statement("4", "completed", M1, "2026-01-05T10:03:00"),
            ],
        )  # fmt: skip
        answers = {(a.activity_id, a.score, a.answer) for a in rows(s, m.Answer)}
        assert answers == {(Q1, 3.0, "y"), (Q2, 1.0, "")}
        f = fact(s, M1)
        assert (f.module_score, f.passed, f.completed_at) == (
            pytest.approx(80.0),
            True,
            T("2026-01-05 10:03"),
        )
        p = pair(s)
        assert (p.status, p.score, p.completed_modules) == ("passed", pytest.approx(80.0), 1)


def test_xm010_finishing_verdicts_override_min_score(db):
    """min score 50 set by the organisation; failed with scaled 0.9 is failed (90), passed with
    scaled 0.2 is passed (20); completed alone with 0.3 follows the min score: failed."""
    with db.session() as s:
        ingest(
            s,
            [
                statement("f", "failed", M1, "2026-01-05T10:00:00", result={"score": {"scaled": 0.9}}),
                statement("p", "passed", M1, "2026-01-05T10:00:00", who="bob", result={"score": {"scaled": 0.2}}),
                statement("c", "completed", M1, "2026-01-05T10:00:00", who="cy", result={"score": {"scaled": 0.3}}),
                statement("s", "completed", M1, "2026-01-05T10:00:00", who="dee",
                          result={"success": True, "score": {"scaled": 0.1}}),
            ],
        )  # fmt: skip
    with db.session() as s:
        s.get(m.TrainingModule, (COURSE, M1)).min_score = 50
    with db.session() as s:
        got = {
            u: (fact(s, M1, f"{u}@example.org").module_score, fact(s, M1, f"{u}@example.org").passed,
                pair(s, f"{u}@example.org").status)
            for u in ("ann", "bob", "cy", "dee")
        }  # fmt: skip
        assert got == {
            "ann": (pytest.approx(90.0), False, "failed"),
            "bob": (pytest.approx(20.0), True, "passed"),
            "cy": (pytest.approx(30.0), False, "failed"),
            "dee": (pytest.approx(10.0), True, "passed"),
        }
        # The reference computation (from the raw rows) agrees with the summary layer.
        from data.scope import global_scope
        from tests import reference

        frame = reference.learner_modules(s, global_scope(), db.tz, COURSE, "bob@example.org")
        assert list(frame["status"]) == ["passed"] and list(frame["score"]) == [pytest.approx(20.0)]


def test_xm011_course_completion_finishes_all_content_when_no_other_module(db):
    with db.session() as s:
        ingest(s, [statement("c", "completed", COURSE, "2026-01-05T10:00:00", kind="course",
                             result={"score": {"scaled": 0.75}})])  # fmt: skip
        steps = rows(s, m.TrainingModule)
        assert len(steps) == 1 and s.get(m.Module, steps[0].module_id).name == "Sécurité (all content)"
        p = pair(s)
        assert (p.status, p.score) == ("passed", pytest.approx(75.0))
    with db.session() as s:
        # A real module arrives: the course completion changes no figure any more.
        ingest(s, [statement("m", "experienced", M1, "2026-01-06T10:00:00")])
        assert [t.module_id for t in rows(s, m.TrainingModule)] == [M1]
        p = pair(s)
        assert (p.status, p.completed_modules) == ("in progress", 0)


def test_xm012_registration_attempts_and_the_run_rule(db):
    reg1, reg2 = "8d2c4b6e-1f0a-4c8b-9a1e-111111111111", "8d2c4b6e-1f0a-4c8b-9a1e-222222222222"
    with db.session() as s:
        ingest(
            s,
            [
                # Registration attempts: completed then passed in the same registration = one.
                statement("1", "initialized", M1, "2026-01-05T10:00:00", registration=reg1),
                statement("2", "completed", M1, "2026-01-05T10:10:00", registration=reg1),
                statement("3", "passed", M1, "2026-01-05T10:11:00", registration=reg1,
                          result={"score": {"scaled": 0.6}}),
                statement("4", "terminated", M1, "2026-01-05T10:12:00", registration=reg1),
                statement("5", "initialized", M1, "2026-01-07T10:00:00", registration=reg2),
                # Without registration: a run until finished, the next statement opens another.
                statement("6", "experienced", M2, "2026-01-05T10:00:00"),
                statement("7", "completed", M2, "2026-01-05T10:05:00"),
                statement("8", "terminated", M2, "2026-01-05T10:06:00"),  # closes, opens none
                statement("9", "experienced", M2, "2026-01-06T10:00:00"),
            ],
        )  # fmt: skip
        attempts = [(a.module_id, a.started_at, a.finished_at, a.score_override, a.verdict)
                    for a in rows(s, m.Attempt, m.Attempt.module_id, m.Attempt.started_at)]  # fmt: skip
        assert attempts == [
            (M1, T("2026-01-05 10:00"), T("2026-01-05 10:10"), pytest.approx(60.0), "passed"),
            (M1, T("2026-01-07 10:00"), None, None, None),
            (M2, T("2026-01-05 10:00"), T("2026-01-05 10:05"), None, None),
            (M2, T("2026-01-06 10:00"), None, None, None),
        ]
        assert fact(s, M1).attempts == 2 and fact(s, M2).attempts == 2


def test_xm013_voided_statement_is_never_received(db):
    with db.session() as s:
        ingest(s, [statement("p", "passed", M1, "2026-01-05T10:00:00", result={"score": {"scaled": 0.9}})])
        assert pair(s).status == "passed"
    with db.session() as s:
        report = ingest(s, [voiding("v", sid("p"), "2026-01-06T10:00:00")])
        assert report.removed["attempts"] == 1
        assert pair(s) is None or pair(s).status != "passed"
        assert s.scalar(select(func.count()).select_from(m.Attempt)) == 0
        assert s.get(m.XapiStatement, sid("p")).voided is True


def test_xm014_voiding_before_its_target_and_unknown_target(db):
    with db.session() as s:
        report = ingest(
            s,
            [
                voiding("v", sid("p"), "2026-01-06T10:00:00"),
                voiding("w", sid("nowhere"), "2026-01-06T10:00:00"),
            ],
        )
        assert report.accepted == 2 and not report.ignored  # kept, never an error
    with db.session() as s:
        ingest(s, [statement("p", "passed", M1, "2026-01-05T10:00:00")])
        assert s.get(m.XapiStatement, sid("p")).voided is True
        assert s.scalar(select(func.count()).select_from(m.Attempt)) == 0


def _spans(s):
    return [
        (c.module_id, c.connected_at, c.disconnected_at, c.session_id)
        for c in rows(s, m.Connection, m.Connection.module_id, m.Connection.connected_at)
    ]


def test_xm015_connections_idle_gap_opening_closing_duration(db):
    with db.session() as s:
        ingest(
            s,
            [
                # M1: 10:00, 10:29 (29 min: same), 11:01 (32 min gap: new one), alone.
                statement("1", "experienced", M1, "2026-01-05T10:00:00"),
                statement("2", "experienced", M1, "2026-01-05T10:29:00"),
                statement("3", "experienced", M1, "2026-01-05T11:01:00"),
                # M2: launched opens even within the gap; terminated closes.
                statement("4", "experienced", M2, "2026-01-05T09:00:00"),
                statement("5", "launched", M2, "2026-01-05T09:10:00"),
                statement("6", "terminated", M2, "2026-01-05T09:20:00"),
                # A closing statement alone: its result.duration gives the start.
                statement("7", "terminated", M2, "2026-01-06T12:00:00", result={"duration": "PT45M"}),
            ],
        )
        assert _spans(s) == [
            (M1, T("2026-01-05 10:00"), T("2026-01-05 10:29"), None),
            (M1, T("2026-01-05 11:01"), T("2026-01-05 11:01"), None),  # 0 minutes, kept
            (M2, T("2026-01-05 09:00"), T("2026-01-05 09:00"), None),
            (M2, T("2026-01-05 09:10"), T("2026-01-05 09:20"), None),
            (M2, T("2026-01-06 11:15"), T("2026-01-06 12:00"), None),
        ]
        assert pair(s).time_spent == pytest.approx((29 + 0 + 0 + 10 + 45) * 60)


def test_xm016_idle_minutes_setting(db):
    with db.session() as s:
        ingest(
            s,
            [
                statement("1", "experienced", M1, "2026-01-05T10:00:00"),
                statement("2", "experienced", M1, "2026-01-05T10:40:00"),
            ],
            idle_minutes=45,
        )
        assert _spans(s) == [(M1, T("2026-01-05 10:00"), T("2026-01-05 10:40"), None)]


def _sessions(s, learners=("ann@example.org",)):
    s.add_all(
        [
            m.ProgramSession(id="late", training_id=COURSE, name="Late", starts_at=T("2026-01-05 08:00"), ends_at=T("2026-01-31 18:00")),
            m.ProgramSession(id="early", training_id=COURSE, name="Early", starts_at=T("2026-01-01 08:00"), ends_at=T("2026-01-10 18:00")),
            m.ProgramSession(id="other", training_id=COURSE, name="Other", starts_at=T("2026-01-01 08:00"), ends_at=T("2026-01-31 18:00")),
        ]
    )  # fmt: skip
    s.flush()
    s.add_all([m.SessionLearner(session_id=x, user_id=u) for x in ("late", "early") for u in learners])


def test_xm017_connection_in_the_earliest_session_containing_its_start(db):
    with db.session() as s:
        ingest(s, [statement("0", "registered", COURSE, "2025-12-01T09:00:00", kind="course")])
        _sessions(s)
    with db.session() as s:
        ingest(
            s,
            [
                statement("1", "experienced", M1, "2026-01-06T10:00:00"),  # early and late: early
                statement("2", "experienced", M1, "2026-01-20T10:00:00"),  # late only
                statement("3", "experienced", M1, "2026-02-20T10:00:00"),  # none
            ],
        )
        assert [c[3] for c in _spans(s)] == ["early", "late", None]


def test_xm018_sessions_imported_later_place_earlier_connections(db, tmp_path):
    from data.importer import import_bundle

    with db.session() as s:
        ingest(s, [statement("1", "experienced", M1, "2026-01-06T10:00:00")])
        assert [c[3] for c in _spans(s)] == [None]
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "sessions.csv").write_text(
        f"session_id,training_id,name,starts_at,ends_at\nearly,{COURSE},Early,2026-01-01T08:00:00Z,2026-01-10T18:00:00Z\n"
    )
    (bundle / "session_learners.csv").write_text("session_id,user_id\nearly,ann@example.org\n")
    with db.session() as s:
        import_bundle(s, bundle, db.tz)
    with db.session() as s:
        assert [c[3] for c in _spans(s)] == ["early"]
        su = s.get(m.SummarySessionUser, ("early", "ann@example.org"))
        assert (su.registered, su.connections) == (True, 1)


def test_xm019_bundle_rows_are_never_deleted(db):
    with db.session() as s:
        s.add(m.User(id="ann@example.org", email="ann@example.org"))
        s.add(m.Training(id=COURSE, name="Bundle course"))
        s.add(m.Module(id=M1, name="Bundle module"))
        s.flush()
        s.add(m.TrainingModule(training_id=COURSE, module_id=M1, position=1, min_score=70))
        s.add(m.Enrollment(user_id="ann@example.org", training_id=COURSE, enrolled_at=T("2025-09-01 08:00")))
        s.add(m.Login(user_id="ann@example.org", logged_in_at=T("2026-01-05 10:00")))
    with db.session() as s:
        ingest(
            s,
            [
                statement("l", "launched", M2, "2026-01-05T10:00:00"),
                statement("c", "completed", M2, "2026-01-05T10:30:00"),
            ],
        )
    with db.session() as s:
        ingest(s, [voiding("v", sid("l"), "2026-01-07T10:00:00")])
    with db.session() as s:
        assert s.get(m.Training, COURSE).name == "Bundle course"
        steps = [
            (t.module_id, t.position, t.min_score, t.xapi)
            for t in rows(s, m.TrainingModule, m.TrainingModule.position)
        ]
        assert steps == [(M1, 1, 70.0, False), (M2, 2, 0.0, True)]
        assert [(e.enrolled_at, e.xapi) for e in rows(s, m.Enrollment)] == [(T("2025-09-01 08:00"), False)]
        assert [(lg.logged_in_at, lg.xapi) for lg in rows(s, m.Login)] == [(T("2026-01-05 10:00"), False)]


def test_xm020_duplicates_and_conflicts(db):
    first = statement("p", "passed", M1, "2026-01-05T10:00:00")
    other = statement("p", "failed", M1, "2026-01-05T10:00:00")
    with db.session() as s:
        report = ingest(s, [first, first])
        assert (report.accepted, report.duplicates) == (1, 1)
    with db.session() as s:
        report = ingest(s, [first, other])
        assert (report.accepted, report.duplicates, report.conflict_count) == (0, 1, 1)
        assert str(report.conflicts[0]) == (
            f"line 2: statement {sid('p')} was already received with other content: the first one is kept"
        )
        assert pair(s).status == "passed"


def test_xm021_group_actor_is_kept_and_ignored(db):
    group = {"objectType": "Group", "name": "Team", "member": [agent("ann")]}
    with db.session() as s:
        report = ingest(s, [statement("g", "completed", M1, "2026-01-05T10:00:00", actor=group)])
        assert report.accepted == 1 and report.ignored == {"group actor": 1}
        assert s.get(m.XapiStatement, sid("g")).ignored == "group actor"
        assert s.scalar(select(func.count()).select_from(m.Attempt)) == 0


def test_xm022_a_bundle_bringing_a_derived_row_makes_it_its_own(db, tmp_path):
    from data.importer import import_bundle

    with db.session() as s:
        ingest(s, [statement("1", "launched", M1, "2026-01-06T10:00:00")])
        assert [(e.enrolled_at, e.xapi) for e in rows(s, m.Enrollment)] == [(T("2026-01-06 10:00"), True)]
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "enrollments.csv").write_text(
        f"user_id,training_id,enrolled_at\nann@example.org,{COURSE},2025-12-01T09:00:00Z\n"
    )
    (bundle / "logins.csv").write_text("user_id,logged_in_at\nann@example.org,2026-01-06T10:00:00Z\n")
    # The same connection (no session: NULL is part of its key) becomes the bundle's too.
    (bundle / "connections.csv").write_text(
        "user_id,module_id,connected_at,disconnected_at,session_id\n"
        f"ann@example.org,{M1},2026-01-06T10:00:00Z,2026-01-06T10:00:00Z,\n"
    )
    with db.session() as s:
        import_bundle(s, bundle, db.tz)
    with db.session() as s:
        # A later statement re-derives the learner: the bundle's rows stay as the bundle said.
        ingest(s, [statement("2", "experienced", M1, "2026-01-07T10:00:00")])
    with db.session() as s:
        assert [(e.enrolled_at, e.xapi) for e in rows(s, m.Enrollment)] == [(T("2025-12-01 09:00"), False)]
        assert [(lg.logged_in_at, lg.xapi) for lg in rows(s, m.Login)] == [(T("2026-01-06 10:00"), False)]
        assert [(c[1], c[2], c[3], c[0]) for c in _spans(s)] == [
            (T("2026-01-06 10:00"), T("2026-01-06 10:00"), None, M1),
            (T("2026-01-07 10:00"), T("2026-01-07 10:00"), None, M1),
        ]
        assert [c.xapi for c in rows(s, m.Connection, m.Connection.connected_at)] == [False, True]
        assert pair(s).enrolled_at == T("2025-12-01 09:00")


@pytest.mark.parametrize(
    "course_type",
    ["http://id.tincanapi.com/activitytype/lms/course", "https://w3id.org/xapi/cmi5/activitytype/course"],
)
def test_xm023_moodle_and_cmi5_course_types(db, course_type):
    moodle = statement("q", "answered", Q1, "2026-01-05T10:00:00", kind="question", parent=M1,
                       result={"score": {"raw": 1, "max": 1}})  # fmt: skip
    moodle["context"]["contextActivities"]["grouping"][0]["definition"]["type"] = course_type
    other = statement("x", "experienced", M2, "2026-01-05T10:00:00")
    other["context"]["contextActivities"]["parent"][0]["definition"]["type"] = (
        "http://example.org/not-a-course"
    )
    with db.session() as s:
        report = ingest(s, [moodle, other])
        assert report.ignored == {"no course": 1}
        assert [t.id for t in rows(s, m.Training)] == [COURSE]
        assert [(t.module_id, t.position) for t in rows(s, m.TrainingModule)] == [(M1, 1)]
