"""SPEC §8 read to the letter by a hostile reviewer (issue 17, helper xapi-review).

Every case is written by hand as xAPI statements and a small CSV bundle, imported through the
command line (`import-xapi`, `import-bundle`) into a fresh platform, and read back as a user
reads it: `export-results` and `export-opco-logs` CSV files, and the rows derived. The
expected figures were computed by hand from SPEC §2-§4 and §8 (the computation is written next
to each one), not from the code. The statement builders here are independent of the other
xAPI tests' on purpose."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from data import models as m

ADL = "http://adlnet.gov/expapi/verbs/"
W3ID = "https://w3id.org/xapi/adl/verbs/"
ACT = "http://adlnet.gov/expapi/activities/"
NS = uuid.UUID("6f1c1d1e-3b8e-4a43-9d0f-2f7e2b0e9a55")
T = datetime.fromisoformat


def sid(name: str) -> str:
    return str(uuid.uuid5(NS, name))


def activity(iri: str, kind: str, names: dict | None = None, **definition) -> dict:
    d: dict = {"type": ACT + kind}
    if names:
        d["name"] = names
    d.update(definition)
    return {"objectType": "Activity", "id": iri, "definition": d}


def mbox(who: str, name: str | None = None) -> dict:
    a: dict = {"objectType": "Agent", "mbox": f"mailto:{who}"}
    if name:
        a["name"] = name
    return a


def stmt(
    name: str,
    verb: str,
    obj: dict,
    at: str | None,
    actor: dict,
    *,
    parents: list | None = None,
    grouping: list | None = None,
    result: dict | None = None,
    registration: str | None = None,
    stored: str | None = None,
) -> dict:
    """Statement `name` (id sid(name)). verb: a full IRI, or an ADL verb's last segment."""
    s: dict = {
        "id": sid(name),
        "actor": actor,
        "verb": {"id": verb if "://" in verb else ADL + verb},
        "object": obj,
    }
    if at is not None:
        s["timestamp"] = at
    if stored is not None:
        s["stored"] = stored
    ctx: dict = {}
    if parents or grouping:
        ctx["contextActivities"] = {}
        if parents:
            ctx["contextActivities"]["parent"] = parents
        if grouping:
            ctx["contextActivities"]["grouping"] = grouping
    if registration:
        ctx["registration"] = registration
    if ctx:
        s["context"] = ctx
    if result is not None:
        s["result"] = result
    return s


def void(name: str, target: str, at: str) -> dict:
    return {
        "id": sid(name),
        "actor": mbox("lms-admin@r.example"),
        "verb": {"id": ADL + "voided"},
        "object": {"objectType": "StatementRef", "id": sid(target)},
        "timestamp": at,
    }


class Platform:
    """A fresh platform driven through its command line."""

    def __init__(self, make_app, tmp_path: Path, **settings):
        self.server = make_app(**settings).server
        self.dir = tmp_path
        self.n = 0

    def cli(self, *args):
        return self.server.test_cli_runner().invoke(args=[str(a) for a in args])

    def xapi(self, statements: list, *options: str, expect: int = 0):
        self.n += 1
        path = self.dir / f"statements-{self.n}.jsonl"
        path.write_text("".join(json.dumps(s) + "\n" for s in statements), encoding="utf-8")
        result = self.cli("import-xapi", path, *options)
        assert result.exit_code == expect, result.output
        return result

    def bundle(self, files: dict[str, str]):
        self.n += 1
        folder = self.dir / f"bundle-{self.n}"
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        result = self.cli("import-bundle", folder)
        assert result.exit_code == 0, result.output
        return result

    def results(self, training: str) -> dict[str, dict]:
        """export-results, by user id: (progress, score, status, time, completed_on, names)."""
        out = self.dir / "results.csv"
        result = self.cli("export-results", "--training", training, "--out", out)
        assert result.exit_code == 0, result.output
        rows = csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig")))
        return {
            r["user_id"]: (
                r["progress"],
                r["score"],
                r["status"],
                r["time_spent_minutes"],
                r["completed_on"],
                r["first_name"],
                r["last_name"],
                r["email"],
            )
            for r in rows
        }

    def opco(self) -> list[tuple]:
        out = self.dir / "opco.csv"
        result = self.cli("export-opco-logs", "--out", out)
        assert result.exit_code == 0, result.output
        rows = csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig")))
        return [
            (
                r["Last name"],
                r["Session ID"],
                r["Program template"],
                r["Course"],
                r["Connected"],
                r["Disconnected"],
                r["Time spent"],
            )
            for r in rows
        ]

    def rows(self, model, *order):
        with self.server.extensions["learnstats_db"].session() as s:
            found = list(s.scalars(select(model).order_by(*order)))
            s.expunge_all()
            return found


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def platform(request, make_app, tmp_path):
    """A fresh platform on SQLite, and on PostgreSQL (a throwaway cluster, tests/postgres.py)."""
    if request.param == "postgres":
        return Platform(make_app, tmp_path, database_url=request.getfixturevalue("pg_db_url"))
    return Platform(make_app, tmp_path)


# ---------------------------------------------------------------------------------------------
# Case R1: one training, two modules, three learners identified three ways; sessions from a
# bundle imported before or after the statements; the same figures in any order/split/twice.
# ---------------------------------------------------------------------------------------------
C = "https://r.example/c/safety"
COURSE = activity(C, "course", {"de": "Sicherheit", "en-US": "Safety", "fr": "Sécurité"})
M1 = activity(C + "/m1", "module", {"en-US": "Fire"})
M2 = activity(C + "/m2", "module", {"en-US": "Evacuation"})
Q1 = activity(
    C + "/m1/q1",
    "question",
    {"en-US": "Q1"},
    description={"en-US": "Which extinguisher?"},
    interactionType="choice",
    correctResponsesPattern=["CO2", "water"],
)
Q2 = activity(C + "/m1/q2", "cmi.interaction", {"en-US": "Q2"})
ANN = mbox("ann@r.example", "Ann Marie Lee")
BOB = {
    "objectType": "Agent",
    "account": {"homePage": "https://lms.r.example", "name": "b-7"},
    "name": "Robert de Niro",
}
CY = {"objectType": "Agent", "openid": "https://openid.r.example/cy"}
DEE = {"objectType": "Agent", "mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}
GROUP = {"objectType": "Group", "name": "Team", "member": [mbox("gus@r.example")]}


def on_module(name, verb, obj, at, actor, **kw):
    """A statement on a module of C: parent = the course (the course found as first parent)."""
    return stmt(name, verb, obj, at, actor, parents=[COURSE], **kw)


def on_question(name, verb, obj, at, actor, **kw):
    """A statement on a question: parents [course, M1]: its module is M1 (first non-course)."""
    return stmt(name, verb, obj, at, actor, parents=[COURSE, M1], **kw)


R1 = [
    # ann (mbox): registered on the course the day before.
    stmt("a0", "registered", COURSE, "2026-01-04T09:00:00Z", ANN),
    stmt("a00", W3ID + "logged-in", activity("https://lms.r.example", "profile"), "2026-01-05T09:55:00Z", ANN),
    on_module("a1", "launched", M1, "2026-01-05T10:00:00Z", ANN),
    on_question("a2", "answered", Q1, "2026-01-05T10:05:00Z", ANN,
                result={"score": {"raw": 2, "max": 5}, "response": "water"}),
    on_question("a3", "answered", Q2, "2026-01-05T10:08:00Z", ANN, result={"score": {"scaled": 0.5}}),
    on_question("a4", "answered", Q1, "2026-01-05T10:12:00Z", ANN,
                result={"score": {"raw": 4, "max": 5}, "response": "CO2"}),
    on_module("a5", "completed", M1, "2026-01-05T10:20:00Z", ANN),
    on_module("a6", "terminated", M1, "2026-01-05T10:25:00Z", ANN),
    # M2: the course found in grouping (the first parent is not a course).
    stmt("a7", "experienced", M2, "2026-01-05T11:00:00Z", ANN, parents=[M1], grouping=[COURSE]),
    on_module("a8", "passed", M2, "2026-01-05T11:20:00Z", ANN, result={"score": {"scaled": 0.6}}),
    on_module("a9", "experienced", M2, "2026-01-05T12:10:00Z", ANN),
    # bob (account), a +01:00 offset: 09:00+01:00 = 08:00 UTC.
    on_module("b1", "initialized", M1, "2026-01-06T09:00:00+01:00", BOB),
    on_question("b2", "answered", Q1, "2026-01-06T08:10:00Z", BOB, result={"score": {"raw": 5, "max": 5}}),
    on_module("b3", "failed", M1, "2026-01-06T08:15:00Z", BOB, result={"score": {"scaled": 0.95}}),
    on_module("b4", "suspended", M1, "2026-01-06T08:40:00Z", BOB),
    # Verbs outside ADL's namespace only count for connections: no attempt, no finish.
    on_module("b5", "http://id.tincanapi.com/verb/viewed", M2, "2026-01-06T09:00:00Z", BOB),
    on_module("b6", "https://w3id.org/xapi/dod-isd/verbs/completed", M2, "2026-01-06T09:05:00Z", BOB),
    # cy (openid): no timestamp -> stored; success false without score on a module without
    # activities.
    on_module("c1", "experienced", M2, None, CY, stored="2026-01-07T10:00:00Z"),
    on_module("c2", "completed", M2, "2026-01-07T10:10:00Z", CY, result={"success": False}),
    # dee (mbox_sha1sum): signs in, no course.
    stmt("d1", W3ID + "logged-in", activity("https://lms.r.example", "profile"), "2026-01-08T07:00:00Z", DEE),
    # Kept but ignored.
    on_module("g1", "experienced", M1, "2026-01-05T10:00:00Z", GROUP),
    stmt("n1", "experienced", activity("https://r.example/other/x", "module"), "2026-01-05T10:00:00Z", ANN),
]  # fmt: skip

R1_BUNDLE = {
    "users.csv": "user_id,email,first_name,last_name\n"
    "ann@r.example,ann@r.example,Anne,Leblanc\n"
    "b-7,bob@r.example,Robert de,Niro\n",
    "trainings.csv": f"training_id,name\n{C},Sécurité\n",
    # Platform time zone (Europe/Paris, UTC+1 in January): S1 ends at 11:00 UTC on the 5th.
    "sessions.csv": "session_id,training_id,name,starts_at,ends_at\n"
    f"S1,{C},Early,2026-01-01T00:00:00,2026-01-05T12:00:00\n"
    f"S2,{C},Late,2026-01-05T00:00:00,2026-01-31T00:00:00\n",
    "session_learners.csv": "session_id,user_id\nS1,ann@r.example\nS2,ann@r.example\nS2,b-7\n",
}

# By hand (SPEC §4 and §8), min scores 0, both modules mandatory:
# ann M1: answers Q1 4/5 (a4 replaces a2), Q2 0.5 x max 1 = 0.5/1 -> 100 x 4.5 / 6 = 75.0,
#   finished at a5 (completed alone: min score 0 -> passed). M2: passed, scaled 0.6 -> 60.0.
#   Training score (75 + 60) / 2 = 67.5, progress 2/2 = 100.0, passed on 2026-01-05.
#   Connections: M1 10:00 (launched) - 10:25 (terminated) = 25; M2 11:00 (first statement) -
#   11:20 (last before a 50-minute gap) = 20; M2 12:10 alone = 0. Total 45.
# bob M1: failed with scaled 0.95 -> 95.0 and failed. M2: only non-ADL verbs -> not started, 0.
#   Score (95 + 0) / 2 = 47.5, progress 1/2 = 50.0, in progress. Connections: M1 08:00 -
#   08:40 (suspended) = 40; M2 09:00 - 09:05 = 5 (other verbs count for connections). Total 45.
# cy M2: finished at 10:10, no scaled score -> SPEC §4: no activity with max > 0 -> 100.0, but
#   result.success false -> failed. Score (0 + 100) / 2 = 50.0, progress 50.0, in progress.
#   Connection 10:00 (stored) - 10:10 = 10.
R1_RESULTS = {
    "ann@r.example": ("100.0", "67.5", "passed", "45", "2026-01-05"),
    "b-7": ("50.0", "47.5", "in progress", "45", ""),
    "https://openid.r.example/cy": ("50.0", "50.0", "in progress", "10", ""),
}
# A user known from the bundle keeps its names and email, before or after the statements.
R1_PEOPLE = {
    "ann@r.example": ("Anne", "Leblanc", "ann@r.example"),
    "b-7": ("Robert de", "Niro", "bob@r.example"),
}
# OPCO logs (Europe/Paris, UTC+1): ann's 11:00 UTC start equals S1's end (inclusive), S2
# contains it too: the earliest session, S1. 12:10 UTC: only S2. cy belongs to no session.
R1_OPCO = [
    ("Leblanc", "S1", "Sécurité", "Fire", "05/01/2026 11:00", "05/01/2026 11:25", "00:00:25"),
    ("Leblanc", "S1", "Sécurité", "Evacuation", "05/01/2026 12:00", "05/01/2026 12:20", "00:00:20"),
    ("Leblanc", "S2", "Sécurité", "Evacuation", "05/01/2026 13:10", "05/01/2026 13:10", "00:00:00"),
    ("Niro", "S2", "Sécurité", "Fire", "06/01/2026 09:00", "06/01/2026 09:40", "00:00:40"),
    ("Niro", "S2", "Sécurité", "Evacuation", "06/01/2026 10:00", "06/01/2026 10:05", "00:00:05"),
]


def check_r1(p: Platform) -> None:
    results = p.results(C)
    assert {u: r[:5] for u, r in results.items()} == R1_RESULTS
    for user, people in R1_PEOPLE.items():
        assert results[user][5:] == people
    assert p.opco() == R1_OPCO


def test_xr001_figures_with_the_bundle_before(platform):
    platform.bundle(R1_BUNDLE)
    out = platform.xapi(R1)
    assert "group actor" in out.output and "no course" in out.output
    check_r1(platform)


def test_xr002_figures_with_the_bundle_after_in_any_order_split_or_twice(platform):
    backwards = list(reversed(R1))
    platform.xapi(backwards[:7])
    platform.xapi(backwards[5:15] + backwards[:2])  # duplicates
    platform.xapi(backwards[12:])
    platform.bundle(R1_BUNDLE)
    check_r1(platform)


def test_xr003_rows_derived_from_r1_without_a_bundle(platform):
    out = platform.xapi(R1)
    # 22 statements, all kept; the group's and the courseless one ignored with their reason.
    assert "Statements read: 22; accepted: 22" in out.output, out.output
    # By hand: users ann, bob, cy, dee; 1 training; M1, M2; Q1, Q2; enrollments ann, bob, cy;
    # attempts ann M1, ann M2 x 2, bob M1, cy M2; answers ann Q1 (a4 replaces a2), ann Q2,
    # bob Q1; connections ann 3, bob 2, cy 1; logins ann 2, bob 1, dee 1.
    assert (
        "Added: statements 22, users 4, trainings 1, modules 2, activities 2, enrollments 3, attempts 5, "
        "answers 3, connections 6, logins 4." in out.output
    )
    assert "  group actor: 1 (e.g. line 21: statement " in out.output
    assert "  no course: 1 (e.g. line 22: statement " in out.output
    users = {u.id: u for u in platform.rows(m.User, m.User.id)}
    # Ids: account.name, mbox address, openid, mbox_sha1sum; the group makes no user.
    assert set(users) == {
        "ann@r.example",
        "b-7",
        "https://openid.r.example/cy",
        "ebd31e95054c018b10727ccffd2ef2ec3a016ee9",
    }
    # name split at its last space.
    assert (users["ann@r.example"].first_name, users["ann@r.example"].last_name) == ("Ann Marie", "Lee")
    assert (users["b-7"].first_name, users["b-7"].last_name) == ("Robert de", "Niro")
    assert users["ann@r.example"].email == "ann@r.example"
    # Course name: fr (then fr-FR) before en/en-US before any other language.
    assert [(t.id, t.name) for t in platform.rows(m.Training, m.Training.id)] == [(C, "Sécurité")]
    tms = platform.rows(m.TrainingModule, m.TrainingModule.position)
    assert [(tm.module_id, tm.mandatory, tm.min_score) for tm in tms] == [
        (C + "/m1", True, 0),
        (C + "/m2", True, 0),
    ]
    assert {mo.id: mo.name for mo in platform.rows(m.Module, m.Module.id)} == {
        C + "/m1": "Fire",
        C + "/m2": "Evacuation",
    }
    acts = {a.id: a for a in platform.rows(m.Activity, m.Activity.id)}
    assert set(acts) == {C + "/m1/q1", C + "/m1/q2"}
    q1, q2 = acts[C + "/m1/q1"], acts[C + "/m1/q2"]
    assert (q1.module_id, q1.max_score, q1.question, q1.correct_answer) == (
        C + "/m1",
        5,
        "Which extinguisher?",
        "CO2, water",
    )
    assert (q2.module_id, q2.max_score) == (C + "/m1", 1)  # only `scaled` given: max 1
    enrollments = {(e.user_id, e.enrolled_at) for e in platform.rows(m.Enrollment, m.Enrollment.user_id)}
    assert enrollments == {
        ("ann@r.example", T("2026-01-04 09:00")),  # registered
        ("b-7", T("2026-01-06 08:00")),  # first statement (+01:00 read as UTC)
        ("https://openid.r.example/cy", T("2026-01-07 10:00")),  # first statement, from stored
    }
    logins = {(x.user_id, x.logged_in_at) for x in platform.rows(m.Login, m.Login.user_id)}
    assert logins == {
        ("ann@r.example", T("2026-01-05 09:55")),  # logged-in, no course needed
        ("ann@r.example", T("2026-01-05 10:00")),  # launched
        ("b-7", T("2026-01-06 08:00")),  # initialized
        ("ebd31e95054c018b10727ccffd2ef2ec3a016ee9", T("2026-01-08 07:00")),
    }
    attempts = platform.rows(m.Attempt, m.Attempt.user_id, m.Attempt.started_at)
    summary = [(a.user_id, a.module_id[len(C) :], a.started_at, a.finished_at) for a in attempts]
    assert summary == [
        ("ann@r.example", "/m1", T("2026-01-05 10:00"), T("2026-01-05 10:20")),
        ("ann@r.example", "/m2", T("2026-01-05 11:00"), T("2026-01-05 11:20")),
        # the statement after the finish opens a new attempt (SPEC §8 "Attempts")
        ("ann@r.example", "/m2", T("2026-01-05 12:10"), None),
        ("b-7", "/m1", T("2026-01-06 08:00"), T("2026-01-06 08:15")),
        ("https://openid.r.example/cy", "/m2", T("2026-01-07 10:00"), T("2026-01-07 10:10")),
    ]
    ann_m1 = attempts[0].id
    answers = {
        (a.activity_id[len(C) :], a.score, a.answer, a.evaluated)
        for a in platform.rows(m.Answer, m.Answer.activity_id)
        if a.attempt_id == ann_m1
    }
    assert answers == {("/m1/q1", 4, "CO2", True), ("/m1/q2", 0.5, "", True)}


# ---------------------------------------------------------------------------------------------
# Case R2: questions whose only parent is the course; `completed` on the course.
# ---------------------------------------------------------------------------------------------
C2 = "https://r.example/c/quiz"
QUIZ = activity(C2, "course", {"en": "Quiz", "de": "Test"})
QA = activity(C2 + "/qa", "question", {"en-US": "QA"})
QB = activity(C2 + "/qb", "cmi.interaction", {"en-US": "QB"})
C3 = "https://r.example/c/mixed"
MIXED = activity(C3, "course", {"it": "Misto"})
M3 = activity(C3 + "/m3", "module", {"en-US": "Real"})
QC = activity(C3 + "/qc", "question")
DAN = mbox("dan@r.example", "Dan Brown")

R2 = [
    stmt("d1", "answered", QA, "2026-02-02T10:00:00Z", DAN, parents=[QUIZ], result={"score": {"raw": 1, "max": 2}}),
    stmt("d2", "answered", QB, "2026-02-02T10:05:00Z", DAN, parents=[QUIZ], result={"score": {"raw": 3, "max": 3}}),
    stmt("d3", "completed", QUIZ, "2026-02-02T10:10:00Z", DAN),
    # C3: a real module and a question whose only parent is the course.
    stmt("e1", "completed", M3, "2026-02-03T10:00:00Z", DAN, parents=[MIXED], result={"score": {"scaled": 1.0}}),
    stmt("e2", "answered", QC, "2026-02-03T10:05:00Z", DAN, parents=[MIXED], result={"score": {"raw": 1, "max": 1}}),
    stmt("e3", "completed", MIXED, "2026-02-03T10:10:00Z", DAN),
]  # fmt: skip


def test_xr004_all_content_module_and_completed_on_the_course(platform):
    platform.xapi(R2)
    # C2's only module is "Quiz (all content)" (name: en before any other language); `completed`
    # on the course finishes its attempt: 100 x (1 + 3) / (2 + 3) = 80.0, min score 0: passed.
    # Time: course statements count in its connection (docs/decisions.md) 10:00-10:10 = 10.
    assert platform.results(C2)["dan@r.example"][:5] == ("100.0", "80.0", "passed", "10", "2026-02-02")
    names = {mo.id: mo.name for mo in platform.rows(m.Module, m.Module.id)}
    assert sorted(n for n in names.values()) == ["Misto (all content)", "Quiz (all content)", "Real"]
    # C3 has another module: `completed` on the course changes no figure; QC's module "(all
    # content)" stays (SPEC: a question whose only parent is the course belongs to it): M3
    # passed 100, "(all content)" in progress (0). Score (100 + 0) / 2 = 50.0, progress 50.0.
    # Time: one statement on each module, two 0-minute connections.
    assert platform.results(C3)["dan@r.example"][:5] == ("50.0", "50.0", "in progress", "0", "")


# ---------------------------------------------------------------------------------------------
# Case R3: voiding, the target before or after the voiding statement.
# ---------------------------------------------------------------------------------------------
C4 = "https://r.example/c/v"
V = activity(C4, "course", {"fr-FR": "Vide"})
MV = activity(C4 + "/mv", "module", {"fr-FR": "Module V"})
QV = activity(C4 + "/mv/qv", "question")
EVE = mbox("eve@r.example", "Eve Adam")
FAY = mbox("fay@r.example", "Fay Wray")


def on_v(name, verb, obj, at, actor, **kw):
    return stmt(name, verb, obj, at, actor, parents=[MV, V] if obj is QV else [V], **kw)


R3_FILE1 = [
    on_v("v1", "answered", QV, "2026-03-02T10:00:00Z", EVE, result={"score": {"raw": 2, "max": 4}}),
    on_v("v2", "answered", QV, "2026-03-02T10:05:00Z", EVE, result={"score": {"raw": 4, "max": 4}}),
    on_v("v3", "completed", MV, "2026-03-02T10:10:00Z", EVE),
    void("x1", "v2", "2026-03-02T11:00:00Z"),
    void("x2", "f2", "2026-03-02T11:00:00Z"),  # its target comes in the next file
]
R3_FILE2 = [
    on_v("f1", "answered", QV, "2026-03-02T10:00:00Z", FAY, result={"score": {"raw": 4, "max": 4}}),
    on_v("f2", "completed", MV, "2026-03-02T10:10:00Z", FAY),
]


def test_xr005_voided_statements_are_never_received(platform):
    platform.xapi(R3_FILE1)
    platform.xapi(R3_FILE2)
    results = platform.results(C4)
    # eve: v2 void -> v1's 2/4 stays: 50.0, passed (min 0); connection 10:00-10:10 = 10.
    assert results["eve@r.example"][:5] == ("100.0", "50.0", "passed", "10", "2026-03-02")
    # fay: f2 void (voided before it came) -> attempt unfinished: in progress, 0; one statement
    # left, a 0-minute connection.
    assert results["fay@r.example"][:5] == ("0.0", "0.0", "in progress", "0", "")
    # The voiding statements' actor is not a learner.
    assert "lms-admin@r.example" not in {u.id for u in platform.rows(m.User, m.User.id)}


# ---------------------------------------------------------------------------------------------
# Case R4: attempts by registration or run until finished; keep best/newest and min score from
# a bundle imported after the statements; `passed` whatever the min score.
# ---------------------------------------------------------------------------------------------
C5 = "https://r.example/c/r"
RC = activity(C5, "course", {"en-US": "Reg"})
MR = activity(C5 + "/mr", "module", {"en-US": "MR"})
QR = activity(C5 + "/mr/qr", "question")
GUS, HAL, IVY = mbox("gus@r.example", "Gus G"), mbox("hal@r.example", "Hal H"), mbox("ivy@r.example", "Ivy I")
R_1, R_2 = "0c3e9f8a-1111-4aaa-8aaa-000000000001", "0c3e9f8a-2222-4aaa-8aaa-000000000002"


def on_r(name, verb, obj, at, actor, **kw):
    return stmt(name, verb, obj, at, actor, parents=[MR, RC] if obj is QR else [RC], **kw)


def raw(n):
    return {"score": {"raw": n, "max": 4}}


R4 = [
    on_r("r1", "answered", QR, "2026-04-01T10:00:00Z", GUS, registration=R_1, result=raw(1)),
    on_r("r2", "answered", QR, "2026-04-01T10:01:00Z", GUS, registration=R_2, result=raw(4)),
    on_r("r3", "completed", MR, "2026-04-01T10:02:00Z", GUS, registration=R_1),
    on_r("r4", "completed", MR, "2026-04-01T10:03:00Z", GUS, registration=R_2),
    on_r("h1", "answered", QR, "2026-04-01T10:00:00Z", HAL, result=raw(3)),
    on_r("h2", "completed", MR, "2026-04-01T10:01:00Z", HAL),
    on_r("h3", "answered", QR, "2026-04-01T10:02:00Z", HAL, result=raw(1)),
    on_r("h4", "completed", MR, "2026-04-01T10:03:00Z", HAL),
    on_r("h5", "answered", QR, "2026-04-01T10:04:00Z", HAL, result=raw(4)),
    on_r("i1", "passed", MR, "2026-04-01T10:00:00Z", IVY, result={"score": {"scaled": 0.5}}),
]


def test_xr006_attempts_keep_results_and_min_score(platform):
    platform.xapi(R4)
    attempts = platform.rows(m.Attempt, m.Attempt.user_id, m.Attempt.started_at)
    # gus: one attempt per registration; hal: two finished runs and a third in progress.
    assert [
        (a.user_id[:3], a.started_at.minute, a.finished_at and a.finished_at.minute) for a in attempts
    ] == [
        ("gus", 0, 2),
        ("gus", 1, 3),
        ("hal", 0, 1),
        ("hal", 2, 3),
        ("hal", 4, None),
        ("ivy", 0, 0),
    ]
    # Best attempt (xAPI modules keep the best): gus 100 x 4/4 = 100.0; hal max(75, 25) = 75.0;
    # ivy 50.0 passed. Min score 0: all passed.
    results = platform.results(C5)
    assert {u[:3]: r[1:3] for u, r in results.items()} == {
        "gus": ("100.0", "passed"),
        "hal": ("75.0", "passed"),
        "ivy": ("50.0", "passed"),
    }
    # A bundle after: MR keeps the newest, min score 80. gus newest = R_2 (finished 10:03):
    # 100 >= 80 passed; hal newest finished = 25 < 80 failed (completed alone: the min score
    # decides); ivy 50 but `passed`: passed whatever the min score.
    platform.bundle(
        {
            "modules.csv": f"module_id,name,keep_results\n{C5}/mr,MR,newest\n",
            "training_modules.csv": f"training_id,module_id,position,mandatory,min_score\n{C5},{C5}/mr,1,true,80\n",
        }
    )
    expected = {"gus": ("100.0", "passed"), "hal": ("25.0", "failed"), "ivy": ("50.0", "passed")}
    results = platform.results(C5)
    assert {u[:3]: r[1:3] for u, r in results.items()} == expected
    # More statements later re-derive: the bundle's min score and keep_results stay.
    platform.xapi([on_r("i2", "experienced", MR, "2026-04-02T10:00:00Z", IVY)])
    results = platform.results(C5)
    assert {u[:3]: r[1:3] for u, r in results.items()} == expected


# ---------------------------------------------------------------------------------------------
# Case R5: connections: gaps (30 minutes is not more than 30), closing verbs, durations.
# ---------------------------------------------------------------------------------------------
C6 = "https://r.example/c/t"
TC = activity(C6, "course", {"en-US": "Time"})
MT = activity(C6 + "/mt", "module", {"en-US": "MT"})
JON = mbox("jon@r.example", "Jon J")


def on_t(name, verb, at, **kw):
    return stmt(name, verb, MT, at, JON, parents=[TC], **kw)


R5 = [
    on_t("t1", "experienced", "2026-04-01T08:00:00Z"),
    on_t("t2", "experienced", "2026-04-01T08:30:00Z"),  # 30 minutes: same connection
    on_t("t3", "experienced", "2026-04-01T09:01:00Z"),  # 31 minutes: a new one; 08:00-08:30
    on_t("t4", "exited", "2026-04-01T09:10:00Z"),  # 09:01-09:10
    on_t("t5", "terminated", "2026-04-01T10:00:00Z", result={"duration": "PT12M"}),  # 09:48-10:00
    on_t("t6", "experienced", "2026-04-01T11:00:00Z"),  # alone: 0 minutes
    on_t("t7", "launched", "2026-04-01T12:00:00Z"),  # 12:00 -
    on_t("t8", "experienced", "2026-04-01T12:20:00Z"),
    on_t("t9", W3ID + "logged-out", "2026-04-01T12:25:00Z"),  # - 12:25
    on_t("t10", "launched", "2026-04-01T13:00:00Z"),  # 13:00 -
    on_t("t11", "logged-out", "2026-04-01T13:07:00Z"),  # ADL's logged-out, by last segment: - 13:07
    on_t("t12", "experienced", "2026-04-01T13:20:00Z"),  # after a close: a new one, alone: 0
]


def test_xr007_connections(platform):
    platform.xapi(R5)
    spans = [
        (c.connected_at.strftime("%H:%M"), c.disconnected_at.strftime("%H:%M"))
        for c in platform.rows(m.Connection, m.Connection.connected_at)
    ]
    assert spans == [
        ("08:00", "08:30"),
        ("09:01", "09:10"),
        ("09:48", "10:00"),
        ("11:00", "11:00"),
        ("12:00", "12:25"),
        ("13:00", "13:07"),
        ("13:20", "13:20"),
    ]
    # 30 + 9 + 12 + 0 + 25 + 7 + 0 = 83 minutes.
    assert platform.results(C6)["jon@r.example"][3] == "83"


def test_xr008_a_session_ending_on_a_date_contains_that_whole_day(platform):
    # sessions.csv gives dates only: S1 from 2026-01-01 to 2026-01-05 (Europe/Paris). ann's
    # connection starts 2026-01-05 10:00 UTC = 11:00 Paris, on S1's last date: in S1 (SPEC §8
    # "whose dates contain its start"; SPEC §4 a date range is inclusive). One on 2026-01-06
    # 00:30 Paris (2026-01-05 23:30 UTC) is after S1's dates: in no session, not in the logs.
    platform.bundle(
        {
            "users.csv": "user_id,email,first_name,last_name\nann@r.example,ann@r.example,Anne,Leblanc\n",
            "trainings.csv": f"training_id,name\n{C},Sécurité\n",
            "sessions.csv": f"session_id,training_id,name,starts_at,ends_at\nS1,{C},Jan,2026-01-01,2026-01-05\n",
            "session_learners.csv": "session_id,user_id\nS1,ann@r.example\n",
        }
    )
    platform.xapi(
        [
            on_module("a1", "launched", M1, "2026-01-05T10:00:00Z", ANN),
            on_module("a2", "launched", M2, "2026-01-05T23:30:00Z", ANN),
        ]
    )
    assert platform.opco() == [
        ("Leblanc", "S1", "Sécurité", "Fire", "05/01/2026 11:00", "05/01/2026 11:00", "00:00:00"),
    ]


def test_xr009_an_mbox_is_the_bundle_user_with_that_email_whatever_its_case(platform):
    # The bundle knows u1 by the address ann@r.example; a statement from mailto:Ann@R.example is
    # that person (e-mail addresses are compared without case), who keeps the bundle's names.
    platform.bundle({"users.csv": "user_id,email,first_name,last_name\nu1,ann@r.example,Anne,Leblanc\n"})
    platform.xapi([on_module("a1", "launched", M1, "2026-01-05T10:00:00Z", mbox("Ann@R.example", "X Y"))])
    assert [(u.id, u.email, u.first_name, u.last_name) for u in platform.rows(m.User, m.User.id)] == [
        ("u1", "ann@r.example", "Anne", "Leblanc")
    ]
    assert platform.results(C)["u1"][:4] == ("0.0", "0.0", "in progress", "0")


def test_xr010_a_refused_file_says_line_n_what_is_wrong_and_writes_nothing(platform):
    good = on_module("a1", "launched", M1, "2026-01-05T10:00:00Z", ANN)
    no_verb = {
        k: v for k, v in on_module("a2", "launched", M1, "2026-01-05T10:01:00Z", ANN).items() if k != "verb"
    }
    bad_time = on_module("a3", "launched", M1, "2026-13-05T10:00:00Z", ANN)
    path = platform.dir / "bad.jsonl"
    path.write_text("\n".join([json.dumps(good), json.dumps(no_verb), json.dumps(bad_time), "{oops"]) + "\n")
    result = platform.cli("import-xapi", path)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    # Each error on its own line as `line N: what is wrong` (the bundle's form: no prefix).
    assert lines[:3] == [
        "line 2: verb: Field required",
        "line 3: timestamp: Input should be a valid datetime or date, month value is outside expected range of 1-12",
        "line 4: not JSON (Expecting property name enclosed in double quotes at column 2)",
    ]
    assert platform.rows(m.XapiStatement, m.XapiStatement.id) == []
    assert platform.rows(m.User, m.User.id) == []
    result = platform.cli("import-xapi", "--skip-invalid", path)
    assert result.exit_code == 0, result.output
    assert "Statements read: 4; accepted: 1" in result.output
    assert "  line 2: verb: Field required" in result.output
    assert [u.id for u in platform.rows(m.User, m.User.id)] == ["ann@r.example"]


# ---------------------------------------------------------------------------------------------
# Case R6: more of the mapping table, one learner per rule, training C7.
# ---------------------------------------------------------------------------------------------
C7 = "https://r.example/c/more"
MC = activity(C7, "course")  # no name: the IRI
MA = activity(C7 + "/ma", "module", {"en-US": "A"})
QM = activity(C7 + "/ma/q", "question")


def on_c7(name, verb, obj, at, actor, **kw):
    return stmt(name, verb, obj, at, actor, parents=[MA, MC] if obj is QM else [MC], **kw)


def test_xr011_more_mapping_rules(platform):
    kim, lea, max_, ned, oli = (
        mbox(f"{n}@r.example", f"{n.title()} X") for n in ("kim", "lea", "max", "ned", "oli")
    )
    platform.xapi(
        [
            # kim: `attempted` on a question is an answer (raw 3 of 4), then `completed` with a
            # scaled score 0.4: score 40.0 (the statement's scaled x 100, not the answers' 75).
            on_c7("k1", "attempted", QM, "2026-05-04T10:00:00Z", kim, result={"score": {"raw": 3, "max": 4}}),
            on_c7("k2", "completed", MA, "2026-05-04T10:10:00Z", kim, result={"score": {"scaled": 0.4}}),
            # lea: an answer without result scores 0 (evaluated): 100 x 0 / 4 = 0.0 once completed.
            on_c7("l1", "answered", QM, "2026-05-04T10:00:00Z", lea),
            on_c7("l2", "completed", MA, "2026-05-04T10:05:00Z", lea),
            # max: two `registered`: the earliest dates the enrollment; voiding it leaves the
            # other one.
            stmt("m1", "registered", MC, "2026-05-01T08:00:00Z", max_),
            stmt("m2", "registered", MC, "2026-05-02T08:00:00Z", max_),
            on_c7("m3", "experienced", MA, "2026-05-03T08:00:00Z", max_),
            # ned: only a verb outside ADL's namespace: enrolled, not started, yet 0-minute
            # connection kept (it proves presence).
            on_c7("n1", "http://id.tincanapi.com/verb/viewed", MA, "2026-05-04T10:00:00Z", ned),
            on_c7("n2", "http://id.tincanapi.com/verb/viewed", MA, "2026-05-04T10:12:00Z", ned),
            # oli: a `launched` with a 2-hour duration on its `terminated`: the opening statement
            # gives the start, the duration is not used: 10:00-10:30.
            on_c7("o1", "launched", MA, "2026-05-04T10:00:00Z", oli),
            on_c7("o2", "terminated", MA, "2026-05-04T10:30:00Z", oli, result={"duration": "PT2H"}),
        ]
    )
    platform.xapi([void("xm1", "m1", "2026-05-05T08:00:00Z")])
    # Min score 50 from a bundle: kim's 40 after `completed` alone fails; lea's 0 fails.
    platform.bundle(
        {
            "training_modules.csv": f"training_id,module_id,position,mandatory,min_score\n{C7},{C7}/ma,1,true,50\n"
        }
    )
    results = platform.results(C7)
    assert {u.split("@")[0]: r[:5] for u, r in results.items()} == {
        "kim": ("100.0", "40.0", "failed", "10", "2026-05-04"),
        "lea": ("100.0", "0.0", "failed", "5", "2026-05-04"),
        "max": ("0.0", "0.0", "in progress", "0", ""),
        "ned": ("0.0", "0.0", "not started", "12", ""),
        "oli": ("0.0", "0.0", "in progress", "30", ""),
    }
    enrolled = {
        e.user_id.split("@")[0]: e.enrolled_at for e in platform.rows(m.Enrollment, m.Enrollment.user_id)
    }
    assert enrolled["max"] == T("2026-05-02 08:00")  # m1 voided: m2
    assert enrolled["ned"] == T("2026-05-04 10:00")
    # The course has no name: the training is named by its IRI.
    assert [t.name for t in platform.rows(m.Training, m.Training.id)] == [C7]


def test_xr012_idle_minutes_setting(make_app, tmp_path):
    # LEARNSTATS_XAPI_IDLE_MINUTES = 10: 08:00, 08:10 (10 is not more than 10), 08:21 (11: a
    # new connection) -> 08:00-08:10 and 08:21-08:21: 10 minutes.
    p = Platform(make_app, tmp_path, xapi_idle_minutes=10)
    p.xapi(
        [
            on_t(f"i{n}", "experienced", at)
            for n, at in enumerate(["2026-04-01T08:00:00Z", "2026-04-01T08:10:00Z", "2026-04-01T08:21:00Z"])
        ]
    )
    spans = [
        (c.connected_at.strftime("%H:%M"), c.disconnected_at.strftime("%H:%M"))
        for c in p.rows(m.Connection, m.Connection.connected_at)
    ]
    assert spans == [("08:00", "08:10"), ("08:21", "08:21")]
    assert p.results(C6)["jon@r.example"][3] == "10"


@pytest.mark.parametrize("order", ["bare first", "named first"])
def test_xr013_names_do_not_depend_on_the_order_statements_came_in(platform, order):
    # Statement n1 names the course and module M1 by id only (a question's parent and grouping);
    # n2 names them ("Sécurité", "Fire") and n3 describes Q1. Whatever came first, in separate
    # files, the names are the ones given: any name wins over the IRI.
    bare_course = {"objectType": "Activity", "id": C, "definition": {"type": ACT + "course"}}
    bare_m1 = {"objectType": "Activity", "id": C + "/m1", "definition": {"type": ACT + "module"}}
    bare_q1 = {"objectType": "Activity", "id": C + "/m1/q1", "definition": {"type": ACT + "question"}}
    n1 = stmt(
        "n1", "answered", bare_q1, "2026-01-05T10:00:00Z", ANN, parents=[bare_m1], grouping=[bare_course]
    )
    n2 = on_module("n2", "experienced", M1, "2026-01-05T09:00:00Z", ANN)
    n3 = on_question(
        "n3", "answered", Q1, "2026-01-05T11:00:00Z", ANN, result={"score": {"raw": 1, "max": 5}}
    )
    files = [[n1], [n2], [n3]] if order == "bare first" else [[n2], [n3], [n1]]
    for statements in files:
        platform.xapi(statements)
    assert [t.name for t in platform.rows(m.Training, m.Training.id)] == ["Sécurité"]
    assert [mo.name for mo in platform.rows(m.Module, m.Module.id)] == ["Fire"]
    q1 = platform.rows(m.Activity, m.Activity.id)[0]
    assert (q1.name, q1.question, q1.correct_answer, q1.max_score) == (
        "Q1",
        "Which extinguisher?",
        "CO2, water",
        5,
    )


@pytest.mark.parametrize("order", ["bare first", "named first"])
def test_xr014_all_content_module_named_after_the_course_whatever_the_order(platform, order):
    bare_quiz = {"objectType": "Activity", "id": C2, "definition": {"type": ACT + "course"}}
    d0 = stmt(
        "d0", "answered", QA, "2026-02-02T09:00:00Z", DAN, parents=[bare_quiz], result={"score": {"raw": 1}}
    )
    files = [[d0], R2[:3]] if order == "bare first" else [R2[:3], [d0]]
    for statements in files:
        platform.xapi(statements)
    assert [t.name for t in platform.rows(m.Training, m.Training.id)] == ["Quiz"]
    assert [mo.name for mo in platform.rows(m.Module, m.Module.id)] == ["Quiz (all content)"]


@pytest.mark.parametrize("order", ["unnamed first", "named first"])
def test_xr015_a_learner_first_seen_without_a_name_takes_the_one_that_comes(platform, order):
    s1 = on_module("u1", "experienced", M1, "2026-01-05T10:00:00Z", mbox("ann@r.example"))
    s2 = on_module("u2", "experienced", M1, "2026-01-05T11:00:00Z", mbox("ann@r.example", "Ann Marie Lee"))
    for statements in [[s1], [s2]] if order == "unnamed first" else [[s2], [s1]]:
        platform.xapi(statements)
    platform.xapi([s1, s2])  # both in one file: duplicates now, nothing changes
    assert [(u.first_name, u.last_name) for u in platform.rows(m.User, m.User.id)] == [("Ann Marie", "Lee")]
    # A bundle's user keeps the bundle's names whatever statements say.
    platform.bundle({"users.csv": "user_id,email,first_name,last_name\nann@r.example,ann@r.example,,\n"})
    platform.xapi(
        [on_module("u3", "experienced", M1, "2026-01-05T12:00:00Z", mbox("ann@r.example", "Zed Z"))]
    )
    assert platform.results(C)["ann@r.example"][5:7] == ("", "")


def test_xr016_the_module_status_follows_the_attempt_that_gives_its_score(platform):
    one, two = "0c3e9f8a-1111-4aaa-8aaa-0000000000aa", "0c3e9f8a-1111-4aaa-8aaa-0000000000bb"
    platform.xapi(
        [
            on_module(
                "s1",
                "passed",
                M1,
                "2026-01-05T10:00:00Z",
                ANN,
                registration=one,
                result={"score": {"scaled": 0.5}},
            ),
            on_module(
                "s2",
                "failed",
                M1,
                "2026-01-05T23:30:00Z",
                ANN,
                registration=two,
                result={"score": {"scaled": 0.9}},
            ),
            on_module("s3", "passed", M2, "2026-01-05T23:30:00Z", ANN, result={"score": {"scaled": 1.0}}),
        ]
    )
    # M1: best attempt 90 (failed) -> M1 failed, 90; M2 passed 100. Score (90 + 100) / 2 = 95.0;
    # every module completed, not each passed: failed; completed on the latest completion
    # date: M2's 23:30 UTC = 00:30 on the 6th in Paris; M1's first finish on the 5th.
    assert platform.results(C)["ann@r.example"][:5] == ("100.0", "95.0", "failed", "0", "2026-01-06")


def test_xr017_a_bundle_s_rows_stay_the_bundle_s_once_it_named_what_xapi_created(platform):
    # xAPI creates ann, the training, M1, its step and ann's enrollment; a bundle then lists
    # them all (SPEC §3: an upsert). They are the bundle's now: voiding every statement of ann
    # deletes none of them (they were deleted), and the bundle's enrollment date (2026-01-01
    # in Paris = 2025-12-31 23:00 UTC) and min score stay over a later re-derivation.
    platform.xapi([on_module("a1", "launched", M1, "2026-01-05T10:00:00Z", ANN)])
    platform.bundle(
        {
            "users.csv": "user_id,email,first_name,last_name\nann@r.example,ann@r.example,Anne,Leblanc\n",
            "trainings.csv": f"training_id,name\n{C},Sécurité\n",
            "modules.csv": f"module_id,name\n{C}/m1,Fire\n",
            "training_modules.csv": f"training_id,module_id,position,mandatory,min_score\n{C},{C}/m1,1,true,50\n",
            "enrollments.csv": f"user_id,training_id,enrolled_at\nann@r.example,{C},2026-01-01\n",
        }
    )
    platform.xapi([stmt("a2", "registered", COURSE, "2026-01-03T10:00:00Z", ANN)])
    assert [(e.user_id, e.enrolled_at) for e in platform.rows(m.Enrollment, m.Enrollment.user_id)] == [
        ("ann@r.example", T("2025-12-31 23:00"))
    ]
    platform.xapi([void("x1", "a1", "2026-01-06T10:00:00Z"), void("x2", "a2", "2026-01-06T10:00:00Z")])
    assert [(u.id, u.first_name) for u in platform.rows(m.User, m.User.id)] == [("ann@r.example", "Anne")]
    assert [t.name for t in platform.rows(m.Training, m.Training.id)] == ["Sécurité"]
    assert [mo.name for mo in platform.rows(m.Module, m.Module.id)] == ["Fire"]
    assert [
        (x.module_id, x.min_score) for x in platform.rows(m.TrainingModule, m.TrainingModule.module_id)
    ] == [(C + "/m1", 50)]
    assert [(e.user_id, e.enrolled_at) for e in platform.rows(m.Enrollment, m.Enrollment.user_id)] == [
        ("ann@r.example", T("2025-12-31 23:00"))
    ]
    # Enrolled, nothing left of the statements: not started.
    assert platform.results(C)["ann@r.example"][:5] == ("0.0", "0.0", "not started", "0", "")


@pytest.mark.parametrize("order", ["module last", "module first"])
def test_xr018_a_real_module_arriving_makes_completed_on_the_course_change_nothing(platform, order):
    m4 = stmt(
        "d4",
        "experienced",
        activity(C2 + "/m4", "module", {"en": "M4"}),
        "2026-02-03T10:00:00Z",
        DAN,
        parents=[QUIZ],
    )
    files = [R2[:3], [m4]] if order == "module last" else [[m4], R2[:3]]
    for statements in files:
        platform.xapi(statements)
    # QA and QB keep their "(all content)" module; M4 is another module, so `completed` on the
    # course finishes nothing: both modules in progress. Time: QA 10:00 - QB 10:05 = 5 (course
    # statements count only while "(all content)" is the only module), M4 alone 0.
    assert sorted(mo.name for mo in platform.rows(m.Module, m.Module.id)) == ["M4", "Quiz (all content)"]
    assert platform.results(C2)["dan@r.example"][:5] == ("0.0", "0.0", "in progress", "5", "")


@pytest.mark.parametrize("order", ["bundle first", "statements first"])
def test_xr019_enrolled_directly_by_statements_and_through_a_class(platform, order):
    # SPEC §3: enrolled both ways counts once, at the earlier date; through a class, the later of
    # joining (2026-01-01 10:00 Paris) and the class's registration (2026-01-02 10:00 Paris =
    # 09:00 UTC): 2026-01-02 09:00 UTC, before the `registered` of 2026-01-04 09:00 UTC.
    bundle = {
        "users.csv": "user_id,email,first_name,last_name\nann@r.example,ann@r.example,Anne,Leblanc\n",
        "trainings.csv": f"training_id,name\n{C},Sécurité\n",
        "classes.csv": "class_id,name\nK,Klass\n",
        "class_members.csv": "class_id,user_id,joined_at\nK,ann@r.example,2026-01-01T10:00:00\n",
        "class_trainings.csv": f"class_id,training_id,registered_at\nK,{C},2026-01-02T10:00:00\n",
    }
    statements = [
        on_module("a1", "launched", M1, "2026-01-05T10:00:00Z", ANN),
        stmt("a0", "registered", COURSE, "2026-01-04T09:00:00Z", ANN),
    ]
    if order == "bundle first":
        platform.bundle(bundle)
        platform.xapi(statements)
    else:
        platform.xapi(statements)
        platform.bundle(bundle)
    learners = platform.rows(m.TrainingLearner, m.TrainingLearner.user_id)
    assert [(x.user_id, x.enrolled_at) for x in learners] == [("ann@r.example", T("2026-01-02 09:00"))]


def test_xr020_statement_ids_compare_without_case(platform):
    # A UUID is the same in upper or lower case: the voiding statement names v2's id in upper
    # case, and v1 sent again with its id in upper case is a duplicate.
    v1 = on_v("v1", "answered", QV, "2026-03-02T10:00:00Z", EVE, result={"score": {"raw": 2, "max": 4}})
    v2 = on_v("v2", "answered", QV, "2026-03-02T10:05:00Z", EVE, result={"score": {"raw": 4, "max": 4}})
    v3 = on_v("v3", "completed", MV, "2026-03-02T10:10:00Z", EVE)
    x1 = void("x1", "v2", "2026-03-02T11:00:00Z")
    x1["object"]["id"] = x1["object"]["id"].upper()
    platform.xapi([v1, v2, v3, x1])
    out = platform.xapi([{**v1, "id": v1["id"].upper()}])
    assert "accepted: 0; already received (duplicates): 1." in out.output
    # v2 void: v1's 2/4 -> 50.0, as in xr005.
    assert platform.results(C4)["eve@r.example"][:3] == ("100.0", "50.0", "passed")


def test_xr021_one_pretty_printed_statement_and_an_lrs_answer(platform):
    # A file holding one statement, pretty-printed over several lines (as an LMS's "export
    # this statement" gives it), is that statement, not 15 lines of "not JSON".
    path = platform.dir / "one.json"
    path.write_text(json.dumps(on_module("a1", "launched", M1, "2026-01-05T10:00:00Z", ANN), indent=2))
    result = platform.cli("import-xapi", path)
    assert result.exit_code == 0, result.output
    assert "Statements read: 1; accepted: 1" in result.output
    # An LRS's answer saved as it came is named as such.
    path = platform.dir / "page.json"
    path.write_text(json.dumps({"statements": [R1[0]], "more": ""}) + "\n")
    result = platform.cli("import-xapi", path)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        'line 1: an LRS answer ({"statements": [...], "more": ...}), not a statement: import its statements array'
    )
    # JSON lines whose first line is broken are still read line by line.
    path = platform.dir / "lines.jsonl"
    path.write_text("{oops\n" + json.dumps(R1[1]) + "\n")
    result = platform.cli("import-xapi", path)
    assert result.exit_code == 1
    assert result.output.splitlines()[0].startswith("line 1: not JSON")
    assert "line 2" not in result.output
