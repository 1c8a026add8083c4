"""Issue 10 point 7: faults. The database locked by another writer or read-only (readers keep
working, writers get a sentence, nothing waits 30 s), the disk full while an XLSX is built (a
message, nothing partial offered). The SMTP server down is tested by test_opco_email.py's
test_mail005 (retried three times, then reported, the file not kept)."""

from __future__ import annotations

import resource
import signal
import sqlite3
import time
from contextlib import contextmanager

import pytest

from data.config import settings_of
from tests.conftest import sign_in, sign_out
from tests.factories import Factory
from tests.opco_world import ACCOUNTS, build_world


@contextmanager
def write_lock(path):
    """Another process's writer holding SQLite's write lock (BEGIN IMMEDIATE)."""
    blocker = sqlite3.connect(path, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        blocker.rollback()
        blocker.close()


def timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


@pytest.fixture
def world(dash_app, factory):
    build_world(factory)
    return dash_app


def render(client, path):
    from tests.integration.auth.test_links_and_ids import render_page

    return render_page(client, path)


def test_flt001_readers_keep_working_while_the_database_is_locked(world, client, tmp_path):
    assert sign_in(client, ACCOUNTS["stat"]).status_code == 302
    with write_lock(tmp_path / "test.sqlite3"):
        (status, body), seconds = timed(lambda: render(client, "/session/s-a"))
        assert status == 200 and "Printemps 2026" in body
        response, more = timed(lambda: client.get("/download/opco-logs?session=s-a"))
        assert response.status_code == 200 and b"Martin" in response.get_data()
        assert seconds + more < 3


def test_flt002_writers_get_a_sentence_within_seconds(world, client, server, tmp_path):
    """A write during another writer's lock: the sign-out (its own sentence) and the command
    line import; each gives up after the lock timeout (5 s), never 30 s."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "trainings.csv").write_text("training_id,name\r\nt-new,New\r\n")
    with write_lock(tmp_path / "test.sqlite3"):
        result, seconds = timed(lambda: server.test_cli_runner().invoke(args=["import-bundle", str(bundle)]))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "import-bundle: The database is busy with another change (an import, perhaps) and this "
        "change could not be saved. Nothing was changed; try again in a minute.",
        "Import refused: nothing was written.",
    ]
    assert seconds < 10


def test_flt003_a_write_in_a_request_answers_503_with_a_sentence(make_app, tmp_path):
    """Any request whose write meets a locked database: 503, Retry-After, the sentence (JSON
    for Dash and JSON clients, a page otherwise)."""
    app = make_app()
    server = app.server

    def touch():
        from data.db import get_db
        from data.models import Training

        with get_db().session() as s:
            s.add(Training(id="t-x", name="X", published=True))
        return "written"

    server.add_url_rule("/_write", "test_write", touch, methods=["POST"])
    with server.extensions["learnstats_db"].session() as s:
        Factory(s).user(email="ann@example.org", roles=("admin",))
    client = server.test_client()
    assert sign_in(client, "ann@example.org").status_code == 302
    with write_lock(tmp_path / "test.sqlite3"):
        response, seconds = timed(lambda: client.post("/_write", headers={"Accept": "application/json"}))
        page = client.post("/_write")
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert response.get_json() == {
        "error": "The database is busy with another change (an import, perhaps) and this change "
        "could not be saved. Nothing was changed; try again in a minute."
    }
    assert page.status_code == 503 and "The database is busy with another change" in page.get_data(
        as_text=True
    )
    assert seconds < 8
    assert client.post("/_write").get_data(as_text=True) == "written"  # the lock gone, it works


def test_flt004_a_read_only_database(make_app, tmp_path):
    """The database file opened read-only (maintenance, a replica): pages read, sign-out still
    signs out and says what it could not do, writes answer 503 with a sentence."""
    writable = make_app()
    with writable.server.extensions["learnstats_db"].session() as s:
        build_world(Factory(s))
    writable.server.extensions["learnstats_db"].engine.dispose()
    path = tmp_path / "test.sqlite3"
    app = make_app(database_url=f"sqlite:///file:{path}?mode=ro&uri=true")
    client = app.server.test_client()
    assert sign_in(client, ACCOUNTS["stat"]).status_code == 302
    status, body = render(client, "/session/s-a")
    assert status == 200 and "Printemps 2026" in body
    response, seconds = timed(lambda: sign_out(client))
    assert response.status_code == 200
    assert "You are signed out of this browser." in response.get_data(as_text=True)
    assert seconds < 3
    assert client.get("/_dash-layout").status_code == 401


@contextmanager
def file_size_limit(limit: int):
    """Files of this process may not grow beyond limit bytes (EFBIG, as a full disk gives
    ENOSPC): a real failing write, without filling the machine's disk."""
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)


@pytest.fixture
def big_world(dash_app, factory):
    """The OPCO world and 1,500 more connections: an XLSX of some 40 kB."""
    build_world(factory)
    from data.models import Module, ProgramSession, User

    alice = factory.s.get(User, "alice")
    intro = factory.s.get(Module, "m-intro")
    s_a = factory.s.get(ProgramSession, "s-a")
    for n in range(1500):
        day, minute = 1 + n % 28, n // 28  # distinct (day, minute) pairs
        factory.connection(
            alice, intro, f"2026-05-{day:02d} 08:{minute:02d}", f"2026-05-{day:02d} 09:{minute:02d}", s_a
        )
    factory.s.commit()
    return dash_app


def test_flt005_disk_full_while_the_xlsx_is_built(big_world, client, server):
    from exports.stored import exports_dir

    assert sign_in(client, ACCOUNTS["stat"]).status_code == 302
    tmp = exports_dir(server) / ".tmp"
    with file_size_limit(16 * 1024):
        response = client.get("/download/opco-logs?format=xlsx")
    assert response.status_code == 507
    text = response.get_data(as_text=True)
    assert "The XLSX file was not made: the server ran out of disk space while writing the file." in text
    assert "Try the CSV format" in text
    assert list(tmp.iterdir()) == []  # nothing partial kept
    # With room again, the same request gives the file.
    response = client.get("/download/opco-logs?format=xlsx")
    assert response.status_code == 200 and response.get_data()[:2] == b"PK"


def test_flt006_disk_full_while_the_emailed_xlsx_is_built(big_world, server):
    from exports.stored import exports_dir
    from jobs.opco_email import run_opco_email_job
    from tests.integration.exports.test_opco_email import make_job

    settings_of(server).smtp_url = "smtp://127.0.0.1:1"
    states = []
    with file_size_limit(16 * 1024):
        final = run_opco_email_job(
            server, make_job(big_world, "inst", query="format=xlsx"), on_state=states.append
        )
    assert final["state"] == "failed"
    assert final["message"] == (
        "Failed: the file could not be built: the server ran out of disk space while writing the file."
    )
    assert [p.name for p in exports_dir(server).iterdir() if p.name != ".tmp"] == []


def test_flt010_set_password_on_a_locked_database_prints_a_sentence_not_the_hash(
    world, server, factory, tmp_path
):
    """Issue 23 point 7: the traceback of SQLAlchemy's error carried the UPDATE's parameters,
    the new password's hash and salt. Every command now ends a database error with the
    sentence the pages give."""
    factory.user(email="claire@example.org", password="old-password")
    factory.s.commit()
    with write_lock(tmp_path / "test.sqlite3"):
        result = server.test_cli_runner().invoke(
            args=["set-password", "claire@example.org"], input="secret-new-1\n"
        )
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "set-password: The database is busy with another change (an import, perhaps) and this "
        "change could not be saved. Nothing was changed; try again in a minute."
    ]
    assert (
        "Traceback" not in result.output and "pbkdf2" not in result.output and "scrypt" not in result.output
    )
    assert "UPDATE" not in result.output and isinstance(result.exception, SystemExit)
