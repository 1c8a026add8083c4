"""Background jobs that cannot hang, pile up or replay (issue 23 point 5): each ticket runs once,
at most LEARNSTATS_JOBS_PER_USER jobs per user and LEARNSTATS_JOBS_MAX on the platform, and a
job on a full disk is reported as failed to whoever asked (through the app's real background
manager, as the page polls it).
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.attestation_world import build_world
from tests.integration.exports.test_attestations import OPTIONS, _dialog_values


@pytest.fixture
def world(factory):
    build_world(factory)
    factory.user("adm", first="Ada", last="Admin", email="adm@example.org", roles=("admin",))
    factory.refresh()
    factory.s.commit()
    from exports.attestation_options import save_defaults

    save_defaults(factory.s, OPTIONS)
    factory.s.commit()


def _generate(server, user: str, session: str = "S1"):
    from dashboards.dialogs import attestations as dialog
    from tests.helpers import signed_in

    with signed_in(server, user):
        ticket, message, _ = dialog.generate_attestations(1, session, *_dialog_values())
    return ticket, str(message)


def _zips(server) -> list[str]:
    folder = Path(server.config["LEARNSTATS"].instance_path) / "exports"
    return sorted(p.name for p in folder.glob("*.zip")) if folder.is_dir() else []


def test_job001_a_replayed_ticket_is_refused(world, server):
    from dashboards.dialogs.attestations import run_attestation_job

    ticket, message = _generate(server, "inst1")
    assert ticket, message
    first = run_attestation_job(lambda _p: None, ticket)
    assert first["state"] == "done", first
    assert len(_zips(server)) == 1
    again = run_attestation_job(lambda _p: None, dict(ticket))  # the same ticket, replayed
    assert again["state"] == "failed"
    assert "already used" in again["message"]
    assert len(_zips(server)) == 1  # no second ZIP (before: one per replay, for 24 hours)


def test_job002_at_most_n_jobs_per_user_and_on_the_platform(make_app, factory_for):
    from dashboards.dialogs.attestations import run_attestation_job

    server = make_app(jobs_max=2, jobs_per_user=1).server
    factory_for(server)
    first, message = _generate(server, "inst1")
    assert first, message
    second, message = _generate(server, "inst1")  # the same user, the first job not run yet
    assert second is None
    assert "you already have 1 job running; wait until it ends" in message
    other, message = _generate(server, "stat")  # another user: the platform's second job
    assert other, message
    third, message = _generate(server, "adm")
    assert third is None and "2 jobs are running on the platform, the most at once" in message
    assert run_attestation_job(lambda _p: None, first)["state"] == "done"
    again, message = _generate(server, "inst1")  # the first ended: a slot is free again
    assert again, message


@pytest.fixture
def factory_for():
    """Build the attestation world in an app made with other settings."""
    from exports.attestation_options import save_defaults
    from tests.factories import Factory

    def build(server):
        with server.extensions["learnstats_db"].session() as s:
            f = Factory(s)
            build_world(f)
            f.user("adm", first="Ada", last="Admin", email="adm@example.org", roles=("admin",))
            f.refresh()
            save_defaults(s, OPTIONS)
            s.commit()

    return build


@contextlib.contextmanager
def _full_disk(folder: Path):
    """folder on a file system with no space left: a 2 MB tmpfs (as root), filled; else the
    process may not grow a file past 64 KB (RLIMIT_FSIZE, SIGXFSZ ignored: EFBIG)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = False
    if os.geteuid() == 0:
        mounted = (
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)]).returncode == 0
        )
    if mounted:
        try:
            yield lambda: _fill(folder)
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=False)
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        yield lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def _fill(folder: Path) -> None:
    with open(folder / "filler", "wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()


def _job_fn(manager, name: str):
    for job_fn in manager.func_registry.values():
        for cell in job_fn.__closure__ or ():
            if getattr(cell.cell_contents, "__name__", "") == name:
                return job_fn
    raise AssertionError(f"no background job {name}")


@pytest.mark.parametrize("full", ["instance", "exports"])
def test_job003_a_job_on_a_full_disk_is_reported_as_failed_to_its_asker(
    make_app, factory_for, tmp_path, full
):
    """full: the whole instance folder (the job's own records and its result store too: the
    result reaches the page from memory), or only instance/exports (the ZIP's write fails)."""
    instance = tmp_path / "instance"
    with _full_disk(instance if full == "instance" else instance / "exports") as fill:
        app = make_app(instance_path=instance)
        server = app.server
        factory_for(server)
        ticket, message = _generate(server, "inst1")
        assert ticket, message
        fill()  # the disk is full now, before the job writes anything
        manager = app._background_manager
        job = manager.call_job_fn("att-full-disk", _job_fn(manager, "run_attestation_job"), [ticket], {})
        # As the page polls (dash/_callback.py): the result, else is the job still running?
        result, deadline = manager.UNDEFINED, time.monotonic() + 60
        while time.monotonic() < deadline:
            result = manager.get_result("att-full-disk", job)
            if result is not manager.UNDEFINED or not manager.job_running(job):
                break
            time.sleep(0.2)
        if result is manager.UNDEFINED:  # the job ended without a word: the page would poll on
            result = manager.get_result("att-full-disk", job)
        assert isinstance(result, dict), f"no result for the page: {result!r}"
        assert result["state"] == "failed", result
        reason = (
            r"No space left on device|File too large" if full == "exports" else r"disk is full|No space left"
        )
        assert re.search(reason, result["message"]), result
        assert not list((instance / "exports").glob("*.zip"))  # nothing half-written kept


def test_job004_a_database_error_in_a_job_is_reported_as_failed_to_its_asker(make_app, factory_for, tmp_path):
    """The database goes away under a queued job (its file replaced by an empty database): the
    page gets "the job failed (…)" with the database's words, not a background-callback error."""
    import sqlite3

    app = make_app(database_url=f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    server = app.server
    factory_for(server)
    ticket, message = _generate(server, "inst1")
    assert ticket, message
    server.extensions["learnstats_db"].engine.dispose()
    (tmp_path / "jobs.sqlite3").rename(tmp_path / "gone.sqlite3")
    sqlite3.connect(tmp_path / "jobs.sqlite3").close()  # an empty database: no tables
    manager = app._background_manager
    job = manager.call_job_fn("att-db-error", _job_fn(manager, "run_attestation_job"), [ticket], {})
    result, deadline = manager.UNDEFINED, time.monotonic() + 60
    while result is manager.UNDEFINED and time.monotonic() < deadline:
        result = manager.get_result("att-db-error", job)
        if result is manager.UNDEFINED and not manager.job_running(job):
            result = manager.get_result("att-db-error", job)
            break
        time.sleep(0.2)
    assert isinstance(result, dict) and result.get("state") == "failed", result
    assert "the job failed (no such table" in result["message"], result
