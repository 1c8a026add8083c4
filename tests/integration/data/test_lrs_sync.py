"""sync-lrs's paths a real Ralph cannot show on cue (tests/fake_lrs.py: real HTTP on 127.0.0.1),
on a real SQLite file: a failure on the second page keeps the first (cursor and run say so) and
writes nothing of the second, the next sync resumes with `since` and ends with the figures of a
single sync; `more` to another host, an answer that is not JSON, an LRS that is not there, a
missing password: each a sentence naming the address, nothing written. One sync at a time:
while one runs (a slow LRS), a second — another thread, the command line in another process, the
periodic schedule — does nothing and says why. The periodic job syncs LEARNSTATS_LRS_ENDPOINT
every LEARNSTATS_LRS_SYNC_MINUTES and never without an endpoint.

The statements are docs/samples/xapi-statements.json (19; the figures of a full sync are
computed by hand in tests/system/test_lrs_sync.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from data.lrs import LrsError, LrsSettingsError, SyncBusy, sync_lrs, sync_lrs_once
from data.models import ImportRun, LrsCursor, XapiStatement
from tests.fake_lrs import PASSWORD, USER, FakeLRS
from tests.services import BIN, ROOT, free_port

SAMPLE = json.loads((ROOT / "docs" / "samples" / "xapi-statements.json").read_text())


@pytest.fixture
def lrs():
    fake = FakeLRS(page_size=7)
    fake.store(SAMPLE)
    yield fake
    fake.stop()


def _statements(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(XapiStatement))


def _runs(db) -> list[ImportRun]:
    with db.session() as s:
        return list(s.scalars(select(ImportRun).order_by(ImportRun.id)))


def _cursor(db, lrs) -> datetime | None:
    with db.session() as s:
        row = s.get(LrsCursor, f"{lrs.xapi}/statements")
        return row.last_stored if row else None


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def test_lrs101_failure_on_page_two_keeps_page_one_and_the_next_sync_resumes(server, db, lrs):
    lrs.fail_pages = {2: 500}
    with server.app_context(), pytest.raises(LrsError) as failed:
        sync_lrs(db, lrs.xapi, USER, PASSWORD)
    message = str(failed.value)
    assert message.startswith(f"GET {lrs.xapi}/statements?ascending=true&page=2 answered 500")
    assert "the LRS failed; try again later" in message
    assert failed.value.result.pages == 1 and failed.value.result.accepted == 7
    # Page one whole (its 7 statements, the cursor at its newest), nothing of page two.
    assert _statements(db) == 7
    assert _cursor(db, lrs) == _utc(lrs.statements[6]["stored"])
    [run] = _runs(db)
    assert (run.status, run.accepted, run.progress_done) == ("failed", 7, 7)
    assert run.error == message
    # Every request carried the xAPI version header and Basic auth.
    assert all(h.get("X-Experience-API-Version") == "1.0.3" for h in lrs.headers)

    lrs.requests.clear()
    with server.app_context():
        again = sync_lrs(db, f"{lrs.xapi}/statements", USER, PASSWORD)
    # Resumed after page one's newest `stored` (since is exclusive): the 12 others, in 2 pages.
    assert lrs.requests[0] == (
        "/xAPI/statements?since="
        + _utc(lrs.statements[6]["stored"]).strftime("%Y-%m-%dT%H%%3A%M%%3A%S.%fZ")
        + "&ascending=true"
    )
    assert (again.pages, again.received, again.accepted, again.duplicates) == (2, 12, 12, 0)
    assert _statements(db) == 19
    assert _cursor(db, lrs) == _utc(lrs.statements[-1]["stored"])
    assert [r.status for r in _runs(db)] == ["failed", "done"]
    skipped = json.loads(_runs(db)[1].skipped)
    assert {k: v["count"] for k, v in skipped.items()} == {"no course": 1, "group actor": 1}


def test_lrs102_one_sync_in_two_pages_gives_the_single_sync_figures(make_app, tmp_path, lrs):
    """The same statements synced in one go and in two runs (a failure between) give the same
    rows: derived from what is kept, not from how it came."""

    def rows(db):
        from data import models as m

        with db.session() as s:
            return {
                name: s.scalar(select(func.count()).select_from(model))
                for name, model in (
                    ("users", m.User),
                    ("attempts", m.Attempt),
                    ("answers", m.Answer),
                    ("connections", m.Connection),
                    ("enrollments", m.Enrollment),
                )
            }, s.execute(select(m.Connection.user_id, m.Connection.connected_at, m.Connection.disconnected_at)
                         .order_by(m.Connection.user_id, m.Connection.connected_at)).all()  # fmt: skip

    whole = make_app(database_url=f"sqlite:///{tmp_path / 'whole.sqlite3'}")
    with whole.server.app_context():
        sync_lrs(whole.server.extensions["learnstats_db"], lrs.xapi, USER, PASSWORD)
    split = make_app(database_url=f"sqlite:///{tmp_path / 'split.sqlite3'}")
    lrs.fail_pages = {3: 503}
    with split.server.app_context():
        with pytest.raises(LrsError):
            sync_lrs(split.server.extensions["learnstats_db"], lrs.xapi, USER, PASSWORD)
        sync_lrs(split.server.extensions["learnstats_db"], lrs.xapi, USER, PASSWORD)
    counts, connections = rows(whole.server.extensions["learnstats_db"])
    assert counts == {"users": 3, "attempts": 4, "answers": 6, "connections": 4, "enrollments": 3}
    assert rows(split.server.extensions["learnstats_db"]) == (counts, connections)


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        ("foreign-more", "leads to another host than the LRS"),
        ("not-json", "answered 200 but not JSON (<html><body>Welcome to the LMS</body></html>)"),
        ("bad-password", "answered 401 Unauthorized: check the user name"),
        ("not-found", "answered 404 Not Found: no Statements resource there"),
    ],
)
def test_lrs103_each_failure_is_a_sentence_naming_the_address(server, db, lrs, setup, words):
    password, endpoint = PASSWORD, lrs.xapi
    if setup == "foreign-more":
        lrs.more_override = "http://169.254.169.254/xAPI/statements?page=2"
    elif setup == "not-json":
        lrs.not_json = True
    elif setup == "bad-password":
        password = "wrong"
    elif setup == "not-found":
        endpoint = f"{lrs.base}/lrs"
    with server.app_context(), pytest.raises(LrsError) as failed:
        sync_lrs(db, endpoint, USER, password)
    assert words in str(failed.value)
    assert "GET http://127.0.0.1:" in str(failed.value)
    assert "wrong" not in str(failed.value) and PASSWORD not in str(failed.value)
    # The first page went in only when its own answer was good (the foreign `more` comes after it).
    assert _statements(db) == (7 if setup == "foreign-more" else 0)
    assert all(not path.startswith("http://169.254") for path in lrs.requests)
    assert _runs(db)[-1].status == "failed"


def test_lrs104_no_lrs_there_and_no_password(server, db):
    address = f"http://127.0.0.1:{free_port()}/xAPI"
    with server.app_context(), pytest.raises(LrsError) as failed:
        sync_lrs(db, address, USER, PASSWORD)
    assert str(failed.value) == (
        f"GET {address}/statements?ascending=true: cannot reach the LRS (connection refused)"
    )
    with server.app_context(), pytest.raises(LrsSettingsError) as refused:
        sync_lrs(db, address, USER, "")
    assert str(refused.value) == f"no password for the LRS {address}/statements: set LEARNSTATS_LRS_PASSWORD"
    assert [r.status for r in _runs(db)] == ["failed"]  # a settings problem asks nothing, records nothing


def _cli(tmp_path, database_url: str, endpoint: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "LEARNSTATS_INSTANCE": str(tmp_path / "instance"),
        "LEARNSTATS_DATABASE_URL": database_url,
        "LEARNSTATS_LRS_PASSWORD": password,
        "LEARNSTATS_LRS_USERNAME": USER,
        "LEARNSTATS_CACHE": "null",
    }
    return subprocess.run(
        [str(BIN / "flask"), "--app", "app", "sync-lrs", "--endpoint", endpoint, "--quiet"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_lrs105_two_syncs_at_once_one_runs_the_other_waits_for_nothing(make_app, tmp_path, lrs):
    database_url = f"sqlite:///{tmp_path / 'lock.sqlite3'}"
    app = make_app(database_url=database_url)
    db = app.server.extensions["learnstats_db"]
    # Five pages of 4; the second waits until the test opens the gate: the first sync holds the
    # lock meanwhile, however long the command line below takes to start.
    lrs.page_size, lrs.hold_from = 4, 2
    first: dict = {}

    def run_first():
        with app.server.app_context():
            first["result"] = sync_lrs_once(db, lrs.xapi, USER, PASSWORD)

    thread = threading.Thread(target=run_first)
    thread.start()
    deadline = time.monotonic() + 30
    while not lrs.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lrs.requests, "the first sync never asked the LRS"

    # Another sync in this process...
    with app.server.app_context(), pytest.raises(SyncBusy) as busy:
        sync_lrs_once(db, lrs.xapi, USER, PASSWORD)
    assert "another LRS sync is running since" in str(busy.value)
    assert "nothing was done" in str(busy.value)
    # ... and the command line in another process.
    other = _cli(tmp_path, database_url, lrs.xapi)
    assert other.returncode == 1, other.stdout + other.stderr
    assert "sync-lrs: another LRS sync is running since" in other.stderr
    # ... and the periodic schedule: the job is due (never ran) but the lock is taken.
    from jobs.periodic import Scheduler, load_schedule

    periodic = make_app(
        database_url=database_url, lrs_endpoint=lrs.xapi, lrs_username=USER, lrs_password=PASSWORD
    )
    assert "lrs-sync" not in Scheduler(periodic.server, load_schedule()).run_due()

    lrs.gate.set()
    thread.join(60)
    assert first["result"].accepted == 19
    assert len(lrs.requests) == 5  # only the first sync's five pages were asked
    assert [(r.status, r.accepted) for r in _runs(db)] == [("done", 19)]
    # Free again: the command line syncs (nothing new).
    after = _cli(tmp_path, database_url, lrs.xapi)
    assert after.returncode == 0, after.stderr
    assert "Statements read: 0; accepted: 0;" in after.stdout


def test_lrs106_periodic_job_every_n_minutes_only_with_an_endpoint(make_app, tmp_path, lrs):
    from jobs.periodic import Scheduler, load_schedule

    class Clock:
        now = datetime.now(UTC)

        def __call__(self):
            return self.now

    clock = Clock()
    bare = make_app(database_url=f"sqlite:///{tmp_path / 'bare.sqlite3'}")
    assert "lrs-sync" not in Scheduler(bare.server, load_schedule(), clock=clock).run_due()

    app = make_app(
        database_url=f"sqlite:///{tmp_path / 'periodic.sqlite3'}",
        lrs_endpoint=lrs.xapi,
        lrs_username=USER,
        lrs_password=PASSWORD,
        lrs_sync_minutes="7",
    )
    db = app.server.extensions["learnstats_db"]
    scheduler = Scheduler(app.server, load_schedule(), clock=clock)
    assert "lrs-sync" in scheduler.run_due()
    assert _statements(db) == 19
    clock.now += timedelta(minutes=6)
    lrs.store([{**SAMPLE[0], "id": "0f5e7c55-8a5d-4f53-9f0e-8c9b5b7f2a10"}])
    assert "lrs-sync" not in scheduler.run_due()  # 6 minutes: not yet
    clock.now += timedelta(minutes=1)
    assert "lrs-sync" in scheduler.run_due()
    assert _statements(db) == 20
    assert [(r.kind, r.status, r.accepted) for r in _runs(db)] == [
        ("lrs-sync", "done", 19),
        ("lrs-sync", "done", 1),
    ]
    # An LRS away: the run is recorded failed, the schedule goes on (the job does not raise).
    lrs.fail_pages = {1: 502}
    clock.now += timedelta(minutes=7)
    assert "lrs-sync" in scheduler.run_due()
    assert _runs(db)[-1].status == "failed" and "502" in _runs(db)[-1].error


def test_lrs107_a_killed_sync_resumes_at_its_last_page(make_app, tmp_path, lrs):
    """sync-lrs killed (SIGKILL) in the middle of a slow LRS: the pages it committed stay, the
    next sync — not kept waiting by the dead process's lock — reads only the rest, and the killed
    run is recorded as interrupted rather than running for ever."""
    import signal

    database_url = f"sqlite:///{tmp_path / 'killed.sqlite3'}"
    app = make_app(database_url=database_url)
    db = app.server.extensions["learnstats_db"]
    lrs.page_size, lrs.hold_from = 4, 3  # two pages, then the sync waits at the third
    env = {
        **os.environ,
        "LEARNSTATS_INSTANCE": str(tmp_path / "instance"),
        "LEARNSTATS_DATABASE_URL": database_url,
        "LEARNSTATS_LRS_PASSWORD": PASSWORD,
        "LEARNSTATS_CACHE": "null",
    }
    killed = subprocess.Popen(
        [str(BIN / "flask"), "--app", "app", "sync-lrs", "--endpoint", lrs.xapi, "--username", USER],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while _statements(db) < 8 and time.monotonic() < deadline:
        time.sleep(0.1)
    killed.send_signal(signal.SIGKILL)
    killed.wait(30)
    lrs.gate.set()
    kept = _statements(db)
    assert kept == 8  # its two whole pages
    [run] = _runs(db)
    assert run.status == "running"  # what the process left behind

    lrs.requests = []
    again = _cli(tmp_path, database_url, lrs.xapi)
    assert again.returncode == 0, again.stderr
    assert f"Statements read: {19 - kept}; accepted: {19 - kept};" in again.stdout
    assert "since=" in lrs.requests[0]
    assert _statements(db) == 19
    first, second = _runs(db)
    assert (first.status, first.accepted) == ("failed", kept)
    assert first.error.startswith("interrupted: the sync stopped before its end")
    assert (second.status, second.accepted) == ("done", 19 - kept)
