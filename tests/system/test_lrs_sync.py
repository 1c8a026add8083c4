"""`sync-lrs` against a real Ralph LRS (issue 17; SPEC §8): tests/lrs.py starts Ralph from its
own virtualenv (.venv-ralph/, made by `make test`) with the file-system backend, pages of 4
statements (RALPH_RUNSERVER_MAX_SEARCH_HITS_COUNT) so that every sync follows `more`.

docs/samples/xapi-statements.json (the README's walkthrough) is posted to it, then synced twice:
the figures below are computed by hand from that file (docs/xapi.md walks through them), the
second sync adds nothing, statements posted later come in at the third sync and only they, and
the two statements that map to nothing (no course activity, a group actor) are recorded on the
run with their reason. The first sync is the real command line, `flask --app app sync-lrs`, in a
subprocess with the password in LEARNSTATS_LRS_PASSWORD.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from data.config import settings_of
from tests.lrs import RalphLRS
from tests.services import BIN, ROOT

# One Ralph for the module, its tests in order in one pytest-xdist worker (`make test`): the
# first test's figures are those of the sample alone.
pytestmark = pytest.mark.xdist_group("ralph")

SAMPLE = ROOT / "docs" / "samples" / "xapi-statements.json"
PASSWORD = "lrs-test-password"
LMS = "https://lms.example.org"
COURSE = f"{LMS}/courses/fire-safety"


@pytest.fixture(scope="module")
def ralph(tmp_path_factory):
    lrs = RalphLRS(tmp_path_factory.mktemp("ralph"), password=PASSWORD, page_size=4)
    try:
        yield lrs
    finally:
        lrs.stop()


def _counts(db) -> dict[str, int]:
    from data import models as m

    tables = {
        "statements": m.XapiStatement,
        "users": m.User,
        "trainings": m.Training,
        "modules": m.Module,
        "activities": m.Activity,
        "enrollments": m.Enrollment,
        "attempts": m.Attempt,
        "answers": m.Answer,
        "connections": m.Connection,
        "logins": m.Login,
    }
    with db.session() as s:
        return {name: s.scalar(select(func.count()).select_from(model)) for name, model in tables.items()}


def _training_row(db):
    from data.figures.population import ALL
    from data.figures.tables import trainings_table
    from data.scope import Scope

    with db.session() as s:
        frame = trainings_table(s, Scope(user_id="lrs-test-admin", is_global=True, is_admin=True), ALL, db.tz)
    assert list(frame["training_id"]) == [COURSE]
    return frame.iloc[0]


def _runs(db):
    from data.models import ImportRun

    with db.session() as s:
        return list(s.scalars(select(ImportRun).order_by(ImportRun.id)))


def _sync_cli(instance, database_url, endpoint) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "LEARNSTATS_INSTANCE": str(instance),
        "LEARNSTATS_DATABASE_URL": database_url,
        "LEARNSTATS_LRS_PASSWORD": PASSWORD,
        "LEARNSTATS_CACHE": "null",
    }
    env.pop("LEARNSTATS_LRS_ENDPOINT", None)
    return subprocess.run(
        [str(BIN / "flask"), "--app", "app", "sync-lrs", "--endpoint", endpoint, "--username", "learnstats"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _david(now: datetime) -> list[dict]:
    """A fourth learner, posted after the second sync. Ralph's `since` compares with the
    statements' `timestamp` (not `stored`, as xAPI says): they are dated after the cursor,
    as a platform sending its statements as they happen dates them (docs/xapi.md)."""
    actor = {"objectType": "Agent", "name": "David Roux", "mbox": "mailto:david.roux@example.org"}
    activities = "http://adlnet.gov/expapi/activities"
    course = {"id": COURSE, "objectType": "Activity", "definition": {"type": f"{activities}/course"}}
    module = {
        "id": f"{COURSE}/evacuation",
        "objectType": "Activity",
        "definition": {"type": f"{activities}/module"},
    }

    def statement(minute: int, verb: str, obj: dict, context: dict, result: dict | None = None) -> dict:
        s = {
            "id": str(uuid.uuid4()),
            "actor": actor,
            "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
            "object": obj,
            "timestamp": (now + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z"),
            "context": {"contextActivities": context},
        }
        if result:
            s["result"] = result
        return s

    in_course = {"parent": [course]}
    in_module = {"parent": [module], "grouping": [course]}

    def question(n: int) -> dict:
        return {
            "id": f"{COURSE}/questions/q{n}",
            "objectType": "Activity",
            "definition": {"type": f"{activities}/cmi.interaction"},
        }

    return [
        statement(0, "launched", module, in_course),
        statement(2, "answered", question(1), in_module, {"score": {"raw": 7, "max": 10}, "response": "b"}),
        statement(4, "answered", question(2), in_module, {"score": {"raw": 7, "max": 10}, "response": "a"}),
        statement(6, "completed", module, in_course),
        statement(10, "terminated", module, in_course),
    ]


def test_lrs001_sync_twice_then_resume(ralph, make_app, tmp_path):
    statements = json.loads(SAMPLE.read_text())
    assert len(ralph.post(statements)) == 19
    database_url = f"sqlite:///{tmp_path / 'sync.sqlite3'}"
    app = make_app(database_url=database_url, lrs_password=PASSWORD, lrs_username="learnstats")
    db = app.server.extensions["learnstats_db"]

    # 1. The command line, as a user runs it: the LRS's xAPI base as the endpoint.
    first = _sync_cli(tmp_path / "instance", database_url, ralph.xapi)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "Statements read: 19; accepted: 19; already received (duplicates): 0." in first.stdout
    assert (
        "Added: statements 19, users 3, trainings 1, modules 2, activities 3, enrollments 3, attempts 4, "
        "answers 6, connections 4, logins 4."
    ) in first.stdout
    assert (
        "  group actor: 1 (e.g. statement " in first.stdout
        and "  no course: 1 (e.g. statement " in first.stdout
    )
    after_first = _counts(db)
    # By hand from docs/samples/xapi-statements.json: 19 statements kept (the 2 that map to
    # nothing too); Alice, Bob, Chloé (the group is nobody); one course, its two modules and
    # three questions; Alice registered, Bob and Chloé enrolled at their first statement; Alice
    # two attempts, Bob one, Chloé one; answers a3 a4 a8 b2 b3 c2; one connection per
    # launched/initialized; one login each for launched/initialized.
    assert after_first == {
        "statements": 19,
        "users": 3,
        "trainings": 1,
        "modules": 2,
        "activities": 3,
        "enrollments": 3,
        "attempts": 4,
        "answers": 6,
        "connections": 4,
        "logins": 4,
    }
    row = _training_row(db)
    assert row["training"] == "Sécurité incendie"
    # Named from their definitions whatever reached Learnstats first (Ralph's file backend answers
    # newest first: a question naming its module by id only comes before the module's name).
    from data.models import Module, TrainingModule

    with db.session() as s:
        modules = s.execute(
            select(Module.name).join(TrainingModule, TrainingModule.module_id == Module.id)
            .where(TrainingModule.training_id == COURSE).order_by(TrainingModule.position)
        ).scalars().all()  # fmt: skip
    assert modules == ["Évacuation", "Extincteurs"]
    assert (row["learners"], row["in_progress"], row["completed"]) == (3, 2, 1)
    # Progress: Alice 100 %, Bob 50 % (1 of 2 modules), Chloé 0 %.
    assert row["average_progress"] == pytest.approx(50.0)
    # Scores: Alice (80 + 100) / 2 = 90 (module 1 from her answers, 16 of 20; module 2 scaled
    # 1.0); Bob (25 + 0) / 2 = 12.5 (failed, scaled 0.25); Chloé 0 (nothing finished).
    assert row["average_score"] == pytest.approx((90 + 12.5 + 0) / 3)
    # Time spent: Alice 19 + 20 min, Bob 30 min, Chloé 5 min (initialized 11:00, last 11:05).
    assert row["average_time_spent"] == pytest.approx((39 + 30 + 5) * 60 / 3)

    [run] = _runs(db)
    assert (run.kind, run.status, run.accepted, run.progress_done) == ("lrs-sync", "done", 19, 19)
    assert run.source == f"{ralph.xapi}/statements"
    skipped = json.loads(run.skipped)
    assert {reason: entry["count"] for reason, entry in skipped.items()} == {"no course": 1, "group actor": 1}
    ids = {s["id"] for s in statements}
    for entry in skipped.values():
        assert any(i in entry["example"] for i in ids), entry
    with db.session() as s:
        from data.models import LrsCursor

        cursor = s.get(LrsCursor, f"{ralph.xapi}/statements")
        stored = max(datetime.fromisoformat(x["stored"]) for x in ralph.stored())
        assert cursor.last_stored == stored.astimezone(UTC).replace(tzinfo=None)

    # 2. Again: the same endpoint given as the Statements resource, the same cursor; nothing new.
    from data.lrs import sync_lrs

    with app.server.app_context():
        second = sync_lrs(db, f"{ralph.xapi}/statements/", "learnstats", PASSWORD)
    assert (second.received, second.accepted) == (0, 0)
    assert second.since is not None
    assert _counts(db) == after_first
    assert _training_row(db)["learners"] == 3
    log = ralph.log_text(1_000_000)
    assert "since=" in log.split("GET /xAPI/statements?")[-1].split(" HTTP")[0]

    # 3. A fourth learner's five statements, posted now: the third sync adds those only.
    ralph.post(_david(datetime.now(UTC) + timedelta(seconds=1)))
    with app.server.app_context():
        third = sync_lrs(db, ralph.xapi, "learnstats", PASSWORD)
    assert (third.received, third.accepted, third.duplicates) == (5, 5, 0)
    expected = dict(after_first)
    for kind, more in {
        "statements": 5,
        "users": 1,
        "enrollments": 1,
        "attempts": 1,
        "answers": 2,
        "connections": 1,
        "logins": 1,
    }.items():
        expected[kind] += more
    assert _counts(db) == expected
    row = _training_row(db)
    assert (row["learners"], row["in_progress"], row["completed"]) == (4, 3, 1)
    # David: module 1 completed with 14 of 20 (70), module 2 not started: (70 + 0) / 2 = 35.
    assert row["average_score"] == pytest.approx((90 + 12.5 + 0 + 35) / 4)
    runs = _runs(db)
    assert [(r.kind, r.status, r.accepted) for r in runs] == [
        ("lrs-sync", "done", 19),
        ("lrs-sync", "done", 0),
        ("lrs-sync", "done", 5),
    ]
    assert json.loads(runs[2].skipped) == {}


def test_lrs002_wrong_password_is_a_clear_error_and_writes_nothing(ralph, make_app, tmp_path):
    app = make_app(database_url=f"sqlite:///{tmp_path / 'refused.sqlite3'}")
    db = app.server.extensions["learnstats_db"]
    runner = app.server.test_cli_runner()
    settings_of(app.server).lrs_password = "not-the-password"
    result = runner.invoke(args=["sync-lrs", "--endpoint", ralph.xapi, "--username", "learnstats"])
    assert result.exit_code == 1
    assert f"GET {ralph.xapi}/statements?ascending=true answered 401" in result.output
    assert "LEARNSTATS_LRS_PASSWORD" in result.output
    assert _counts(db)["statements"] == 0
    [run] = _runs(db)
    assert run.status == "failed" and "401" in run.error


def test_lrs003_make_worker_syncs_through_celery_beat(ralph, make_app, tmp_path):
    """`make worker` (Celery with beat, -B) and LEARNSTATS_LRS_ENDPOINT: at beat's first tick
    (1 s here: LEARNSTATS_PERIODIC_TICK_SECONDS; 30 s by default) the periodic job "lrs-sync"
    pulls everything the LRS holds, recorded as a run."""
    import secrets

    from tests.services import CeleryWorker, RedisServer, wait_until

    ralph.post(_david(datetime.now(UTC)))  # whatever the other tests posted, five more
    expected = len(ralph.stored())
    database_url = f"sqlite:///{tmp_path / 'worker.sqlite3'}"
    app = make_app(database_url=database_url)  # migrated, as `make serve` leaves it
    db = app.server.extensions["learnstats_db"]
    redis = RedisServer(tmp_path / "redis")
    worker = None
    try:
        env = {
            **os.environ,
            "LEARNSTATS_ENV": "production",
            "LEARNSTATS_SECRET_KEY": secrets.token_hex(32),
            "LEARNSTATS_INSTANCE": str(tmp_path / "instance"),
            "LEARNSTATS_DATABASE_URL": database_url,
            "LEARNSTATS_REDIS_URL": redis.url(0),
            "LEARNSTATS_CACHE": "null",
            "LEARNSTATS_LRS_ENDPOINT": ralph.xapi,
            "LEARNSTATS_LRS_USERNAME": "learnstats",
            "LEARNSTATS_LRS_PASSWORD": PASSWORD,
            "LEARNSTATS_LRS_SYNC_MINUTES": "1",
            "LEARNSTATS_PERIODIC_TICK_SECONDS": "1",
        }
        worker = CeleryWorker(env, tmp_path / "worker.log")
        wait_until(
            lambda: any(r.status == "done" for r in _runs(db)),
            "the worker's beat never ran the LRS sync",
            120,
            (worker,),
        )
        [run] = _runs(db)
        assert (run.kind, run.status, run.accepted) == ("lrs-sync", "done", expected)
        assert run.source == f"{ralph.xapi}/statements"
        assert run.error is None
    finally:
        if worker is not None:
            worker.stop()
        redis.stop()
