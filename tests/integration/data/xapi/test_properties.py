"""Property (SPEC §8, issue 17): every derived figure is the same whether the statements arrive
in one file or in many, in any order, or twice -- and equals the reference computation.

Hypothesis draws a stream of statements (three learners, two courses, modules, questions with
raw or scaled scores, registrations, every mapped verb, idle gaps, durations, voiding of an
earlier statement or of an unknown one), ingests it whole into one database and shuffled,
split into 1-4 imports with duplicates into another, then compares every derived table, every
summary table, and the pages' figures with tests/reference.py.
"""

from __future__ import annotations

import random
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from data import models as m
from data.db import Database
from data.figures.population import ALL, Population
from data.figures.tables import learner_modules, training_content
from data.scope import global_scope
from tests import reference as REF
from tests.integration.data.test_summary_properties import READERS, as_readers_shape, assert_same
from tests.integration.data.xapi.statements import ADL, COURSE_TYPE, MODULE_TYPE, QUESTION_TYPE, ingest

TZ = ZoneInfo("Europe/Paris")
BASE = datetime(2026, 3, 28, 22, 0)  # near the spring daylight-saving change
LEARNERS = ("l1", "l2", "l3")
COURSES = ("https://lms.example.org/c1", "https://lms.example.org/c2")
REGISTRATIONS = (None, None, "11111111-2222-4333-8444-555555555555", "11111111-2222-4333-8444-666666666666")
VERBS = {
    "course": ("registered", "completed", "passed", "launched", "experienced"),
    "module": ("launched", "initialized", "experienced", "completed", "passed", "failed", "terminated",
               "suspended", "https://w3id.org/xapi/adl/verbs/logged-out", "progressed"),
    "question": ("answered", "attempted", "answered", "experienced"),
}  # fmt: skip
_NS = uuid.UUID("5c2b1d7e-3f4a-4b6c-8d9e-0a1b2c3d4e5f")


def course(iri: str) -> dict:
    return {
        "id": iri,
        "objectType": "Activity",
        "definition": {"type": COURSE_TYPE, "name": {"en": iri[-2:]}},
    }


@st.composite
def statement_streams(draw):
    count = draw(st.integers(1, 40))
    out: list[dict] = []
    for n in range(count):
        learner = draw(st.sampled_from(LEARNERS))
        c = draw(st.sampled_from(COURSES))
        kind = draw(st.sampled_from(("module", "module", "question", "question", "course", "void")))
        minutes = draw(st.sampled_from((0, 5, 20, 29, 31, 45, 90, 600, 1440, 2000)))
        at = BASE + timedelta(
            minutes=minutes + draw(st.integers(0, 3)) * 7, seconds=draw(st.sampled_from((0, 30)))
        )
        sid = str(uuid.uuid5(_NS, str(n)))
        actor = {"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": learner},
                 "name": f"Learner {learner}"}  # fmt: skip
        if kind == "void":
            target = draw(
                st.sampled_from([s["id"] for s in out if s["verb"]["id"] != ADL + "voided"] or ["none"])
            )
            if target == "none":
                target = str(uuid.uuid5(_NS, "unknown"))
            out.append({"id": sid, "actor": actor, "verb": {"id": ADL + "voided"},
                        "object": {"objectType": "StatementRef", "id": target},
                        "timestamp": (at + timedelta(days=3)).isoformat() + "Z"})  # fmt: skip
            continue
        verb = draw(st.sampled_from(VERBS[kind]))
        s: dict = {"id": sid, "actor": actor, "verb": {"id": verb if verb.startswith("http") else ADL + verb},
                   "timestamp": at.isoformat() + "Z"}  # fmt: skip
        module = f"{c}/m{draw(st.integers(1, 2))}"
        context: dict = {}
        if kind == "course":
            s["object"] = course(c)
        elif kind == "module":
            s["object"] = {"id": module, "objectType": "Activity", "definition": {"type": MODULE_TYPE}}
            context["contextActivities"] = {"parent": [course(c)]}
        else:
            q = draw(st.sampled_from(("q1", "q2", "q9")))
            s["object"] = {"id": f"{c}/{q}", "objectType": "Activity", "definition": {"type": QUESTION_TYPE}}
            if q == "q9":  # only the course: the "(all content)" module
                context["contextActivities"] = {"parent": [course(c)]}
            else:
                context["contextActivities"] = {
                    "parent": [{"id": module.replace("/m2", "/m1"), "definition": {"type": MODULE_TYPE}}],
                    "grouping": [course(c)],
                }
        registration = draw(st.sampled_from(REGISTRATIONS))
        if registration:
            context["registration"] = registration
        if context:
            s["context"] = context
        result: dict = {}
        score = draw(st.sampled_from(("none", "raw", "scaled", "both")))
        if score == "raw" and kind == "question":
            result["score"] = {"raw": draw(st.sampled_from((0, 1, 3, 4))), "max": 4}
        elif score in ("scaled", "both"):
            scaled = draw(st.sampled_from((0.0, 0.25, 0.5, 1.0)))
            result["score"] = (
                {"scaled": scaled} if score == "scaled" else {"scaled": scaled, "raw": scaled * 4, "max": 4}
            )
        if draw(st.booleans()):
            result["success"] = draw(st.booleans())
        if draw(st.integers(0, 3)) == 0:
            result["duration"] = draw(st.sampled_from(("PT0S", "PT5M", "PT1H30M", "PT45.5S")))
        if draw(st.booleans()):
            result["response"] = draw(st.sampled_from(("a", "b[,]c")))
        if result:
            s["result"] = result
        out.append(s)
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("xapi-props") / "template.sqlite3"
    db = Database(f"sqlite:///{path}", TZ)
    db.migrate()
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.engine.dispose()
    return path


def fresh(template: Path, name: str) -> Database:
    path = template.with_name(name)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, path)
    return Database(f"sqlite:///{path}", TZ)


SKIPPED = {"alembic_version", "summary_meta", "import_runs", "lrs_cursors", "xapi_statements"}


def everything(db: Database) -> dict[str, list]:
    """Every table's rows (connections without their surrogate id; statements: id, voided,
    ignored), sorted."""
    out: dict[str, list] = {}
    with db.engine.connect() as conn:
        for t in m.Base.metadata.sorted_tables:
            if t.name in SKIPPED:
                continue
            columns = [c for c in t.c if not (t.name == "connections" and c.name == "id")]
            out[t.name] = sorted(conn.execute(select(*columns)).all(), key=repr)
        st_ = m.XapiStatement
        out["xapi_statements"] = sorted(conn.execute(select(st_.id, st_.voided, st_.ignored)).all(), key=repr)
    return out


def figures_equal_reference(db: Database) -> None:
    scope = global_scope()
    with db.session() as s, REF.unchanged(s):  # only reads here: the reference reads the rows once
        for name, args, kwargs in (
            ("training_results", (scope, ALL, TZ), {"today": BASE.date() + timedelta(days=30)}),
            ("trainings_table", (scope, ALL, TZ), {"today": BASE.date() + timedelta(days=30)}),
            ("time_spent_total", (scope, ALL, TZ), {}),
            ("status_summary", (scope, ALL, TZ), {}),
        ):
            expected = as_readers_shape(getattr(REF, name)(s, *args, **kwargs))
            assert_same(expected, READERS[name](s, *args, **kwargs), name)
        for training_id in s.scalars(select(m.Training.id)):
            pop = Population(training_id=training_id)
            assert_same(
                REF.training_content(s, scope, pop, TZ),
                training_content(s, scope, pop, TZ),
                "training_content",
            )
        pairs = s.execute(select(m.TrainingLearner.training_id, m.TrainingLearner.user_id)).all()
        for training_id, user_id in pairs:
            assert_same(
                REF.learner_modules(s, scope, TZ, training_id, user_id),
                learner_modules(s, scope, TZ, training_id, user_id),
                f"learner_modules {training_id} {user_id}",
            )


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    # No shrinking (slow here): a failure prints the stream, the seed and the split.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
@given(
    stream=statement_streams(), seed=st.integers(0, 10_000), parts=st.integers(1, 4), twice=st.integers(0, 5)
)
def test_xp001_splits_shuffles_and_duplicates_give_the_same_figures(template, stream, seed, parts, twice):
    whole = fresh(template, "whole.sqlite3")
    with whole.session() as s:
        ingest(s, stream)
    split = fresh(template, "split.sqlite3")
    rng = random.Random(seed)
    items = stream + rng.sample(stream, min(twice, len(stream)))  # some statements twice
    rng.shuffle(items)
    cuts = sorted(rng.sample(range(1, len(items)), min(parts - 1, len(items) - 1))) if len(items) > 1 else []
    for chunk in (items[a:b] for a, b in zip([0, *cuts], [*cuts, len(items)], strict=True)):
        with split.session() as s:
            ingest(s, chunk)
    try:
        a, b = everything(whole), everything(split)
        for name in a:
            assert a[name] == b[name], (
                f"{name} differs between one import and {parts} shuffled ones: "
                f"only in one: {sorted(set(a[name]) - set(b[name]), key=repr)}, "
                f"only in the others: {sorted(set(b[name]) - set(a[name]), key=repr)}"
            )
        figures_equal_reference(split)
    finally:
        whole.engine.dispose()
        split.engine.dispose()
