"""Periodic jobs (jobs/periodic.py) and their database lock (data/job_locks.py), on a real SQLite
file: a job runs at its interval, two schedulers never run one job at once, a crashed holder's
lock expires. The clock is injected: no test waits for real time to pass, except the thread
tests, which wait for an event."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from data.config import SETTINGS_KEY, load_settings
from data.db import Database
from data.job_locks import all_locks, read_lock, release, try_acquire
from jobs.periodic import Registry, Scheduler, install_beat, load_schedule, start_in_process

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


def _server(tmp_path, **overrides) -> Flask:
    """A Flask server as create_app binds it (settings, database), on the SQLite file of tmp_path."""
    settings = load_settings(
        {"instance_path": tmp_path, "database_url": f"sqlite:///{tmp_path / 'jobs.sqlite3'}", **overrides}
    )
    server = Flask(__name__)
    server.config[SETTINGS_KEY] = settings
    server.extensions["learnstats_db"] = Database(settings.database_url)
    return server


@pytest.fixture
def server(tmp_path):
    server = _server(tmp_path)
    server.extensions["learnstats_db"].upgrade_schema()
    yield server
    server.extensions["learnstats_db"].engine.dispose()


def _second_server(tmp_path) -> Flask:
    """Another process's view of the same database file: its own engine and connections."""
    return _server(tmp_path)


def test_job001_a_job_runs_at_its_interval(server):
    runs: list[datetime] = []
    clock = Clock()
    registry = Registry()
    registry.register("count", every=timedelta(minutes=5), run=lambda s: runs.append(clock()))
    scheduler = Scheduler(server, registry, clock=clock)

    assert scheduler.run_due() == ["count"]  # never ran: due at once
    clock.advance(minutes=4, seconds=59)
    assert scheduler.run_due() == []
    clock.advance(seconds=1)
    assert scheduler.run_due() == ["count"]
    clock.advance(minutes=1)
    assert scheduler.run_due() == []
    clock.advance(minutes=30)  # a long pause: one run, not six to catch up
    assert scheduler.run_due() == ["count"]
    assert scheduler.run_due() == []
    assert runs == [T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=36)]
    (row,) = all_locks(server.extensions["learnstats_db"])
    assert (row.name, row.owner, row.expires_at, row.last_status) == ("count", None, None, "ok")
    assert row.last_started_at == datetime(2026, 12, 7, 9, 36)  # naive UTC, as every stored time


def test_job002_interval_from_the_settings_and_a_due_function(tmp_path):
    server = _server(tmp_path, idle_timeout_minutes=10)
    server.extensions["learnstats_db"].upgrade_schema()
    clock = Clock()
    seen = []
    registry = Registry()
    registry.register(
        "from-settings",
        every=lambda settings: timedelta(minutes=settings.idle_timeout_minutes),
        run=seen.append,
    )
    # A calendar schedule: at most once per day, from 10:00 UTC.
    registry.register(
        "daily",
        due=lambda settings, last, now: now.hour >= 10 and (last is None or last.date() < now.date()),
        run=lambda s: seen.append("daily"),
    )
    scheduler = Scheduler(server, registry, clock=clock)
    assert scheduler.run_due() == ["from-settings"]
    assert seen == [server]  # run gets the Flask server
    clock.advance(minutes=9)
    assert scheduler.run_due() == []
    clock.advance(minutes=1)  # 09:10
    assert scheduler.run_due() == ["from-settings"]
    clock.advance(minutes=50)  # 10:00
    assert scheduler.run_due() == ["from-settings", "daily"]
    clock.advance(minutes=5)
    assert scheduler.run_due() == []
    clock.advance(hours=24)
    assert scheduler.run_due() == ["from-settings", "daily"]


def test_job003_an_interval_of_zero_turns_the_job_off(server):
    registry = Registry()
    registry.register("off", every=lambda settings: timedelta(0), run=lambda s: pytest.fail("ran"))
    assert Scheduler(server, registry, clock=Clock()).run_due() == []


def test_job004_a_second_scheduler_does_not_run_a_job_another_is_running(server, tmp_path):
    other = _second_server(tmp_path)
    clock = Clock()
    inner: list[list[str]] = []
    registry = Registry()

    def run(_server):
        # While the first scheduler runs the job, another process's scheduler looks at the
        # schedule, later than the job's interval even (within its 15-minute lease): the job
        # is not run a second time.
        clock.advance(minutes=10)
        inner.append(Scheduler(other, registry, clock=clock).run_due())

    registry.register("slow", every=timedelta(minutes=1), run=run)
    assert Scheduler(server, registry, clock=clock).run_due() == ["slow"]
    assert inner == [[]]
    other.extensions["learnstats_db"].engine.dispose()


def test_job005_of_two_schedulers_that_saw_the_job_due_only_one_takes_it(server, tmp_path):
    """Both read the row (free, due), then both try the atomic UPDATE: one wins."""
    db = server.extensions["learnstats_db"]
    other_db = _second_server(tmp_path).extensions["learnstats_db"]
    seen = read_lock(db, "race").last_started_at
    assert seen == read_lock(other_db, "race").last_started_at is None
    lease = timedelta(minutes=15)
    assert try_acquire(db, "race", "a", T0, lease, seen) is True
    assert try_acquire(other_db, "race", "b", T0, lease, seen) is False
    assert release(db, "race", "a", T0 + timedelta(seconds=3)) is True
    # Free again, but "b" read the row before "a" ran: "b" does not run it a second time.
    assert try_acquire(other_db, "race", "b", T0 + timedelta(seconds=4), lease, seen) is False
    other_db.engine.dispose()


def test_job006_threads_of_two_schedulers_never_overlap(server, tmp_path):
    """Four threads, two databases' worth of connections to one file, 25 ticks each, a job
    always due: the runs never overlap, and every run is recorded."""
    servers = [server, _second_server(tmp_path)]
    active, most, runs = [0], [0], [0]
    guard = threading.Lock()
    registry = Registry()

    def run(_server):
        with guard:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            # Give the other threads time to try while this run holds the lock.
            threading.Event().wait(0.002)
        finally:
            with guard:
                active[0] -= 1
                runs[0] += 1

    registry.register("always", due=lambda settings, last, now: True, run=run)
    ran: list[int] = []
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        scheduler = Scheduler(servers[index % 2], registry)
        count = 0
        try:
            for _tick in range(25):
                count += len(scheduler.run_due())
        except BaseException as error:
            errors.append(error)
        with guard:
            ran.append(count)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert most[0] == 1
    assert sum(ran) == runs[0] >= 1
    servers[1].extensions["learnstats_db"].engine.dispose()


def test_job007_a_crashed_holders_lock_expires(server):
    db = server.extensions["learnstats_db"]
    clock = Clock()
    runs = []
    registry = Registry()
    registry.register("sync", every=timedelta(minutes=5), run=runs.append, lease=timedelta(minutes=15))
    # A process took the job at T0 and died: no release.
    seen = read_lock(db, "sync").last_started_at
    assert try_acquire(db, "sync", "dead-host:1234:x", T0, timedelta(minutes=15), seen)
    scheduler = Scheduler(server, registry, clock=clock)
    clock.advance(minutes=14, seconds=59)  # due for 10 minutes, but the lock is held
    assert scheduler.run_due() == []
    assert read_lock(db, "sync").owner == "dead-host:1234:x"
    clock.advance(seconds=1)  # the lease has ended
    assert scheduler.run_due() == ["sync"]
    assert runs == [server]
    state = read_lock(db, "sync")
    assert (state.owner, state.last_status) == (None, "ok")
    # The dead process coming back cannot release what it no longer holds.
    assert release(db, "sync", "dead-host:1234:x", clock()) is False


def test_job008_a_failing_job_is_recorded_and_runs_again_at_its_next_interval(server):
    clock = Clock()
    calls = []
    registry = Registry()

    def flaky(_server):
        calls.append(clock())
        if len(calls) == 1:
            raise RuntimeError("the LRS did not answer")

    registry.register("flaky", every=timedelta(minutes=5), run=flaky)
    scheduler = Scheduler(server, registry, clock=clock)
    assert scheduler.run_due() == ["flaky"]
    state = read_lock(server.extensions["learnstats_db"], "flaky")
    assert (state.owner, state.last_status, state.last_error) == (
        None,
        "failed",
        "RuntimeError: the LRS did not answer",
    )
    clock.advance(minutes=1)
    assert scheduler.run_due() == []  # not retried at once: at its interval
    clock.advance(minutes=4)
    assert scheduler.run_due() == ["flaky"]
    assert read_lock(server.extensions["learnstats_db"], "flaky").last_status == "ok"
    assert calls == [T0, T0 + timedelta(minutes=5)]


def test_job009_registration_is_checked():
    registry = Registry()

    def job(_server):
        return None

    with pytest.raises(TypeError, match="either every= or due="):
        registry.register("x", run=job)
    with pytest.raises(TypeError, match="either every= or due="):
        registry.register("x", every=timedelta(minutes=1), due=lambda *a: True, run=job)
    with pytest.raises(TypeError, match="run must be"):
        registry.register("x", every=timedelta(minutes=1))
    registry.register("x", every=timedelta(minutes=1), run=job)
    registry.register("x", every=timedelta(minutes=1), run=job)  # the same module imported twice
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("x", every=timedelta(minutes=1), run=lambda s: None)
    assert [j.name for j in registry.jobs()] == ["x"]


def test_job010_the_in_process_thread_runs_the_schedule(server):
    ran = threading.Event()
    registry = Registry()
    registry.register("ping", every=timedelta(hours=1), run=lambda s: ran.set())
    thread = start_in_process(server, tick=0.01, registry=registry)
    try:
        assert thread is not None and thread.daemon
        assert start_in_process(server, tick=0.01, registry=registry) is thread  # one per server
        assert ran.wait(10)
    finally:
        thread.stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert read_lock(server.extensions["learnstats_db"], "ping").last_status == "ok"


def test_job011_with_a_celery_broker_beat_runs_the_schedule_not_a_thread(tmp_path):
    from celery import Celery

    server = _server(tmp_path, celery_broker_url="memory://")
    assert start_in_process(server) is None
    celery_app = Celery("test", broker="memory://")
    install_beat(celery_app, server, tick=30)
    entry = celery_app.conf.beat_schedule["learnstats-periodic-jobs"]
    assert (entry["task"], entry["schedule"]) == ("learnstats.periodic.tick", 30)
    assert "learnstats.periodic.tick" in celery_app.tasks
    assert celery_app.conf.beat_schedule_filename == str(tmp_path / "celerybeat-schedule")
    server.extensions["learnstats_db"].engine.dispose()


def test_job012_the_schedule_holds_the_exports_sweep(server):
    """The registered schedule (jobs/schedule.py): the hourly sweep deletes an expired export."""
    import os
    import time

    registry = load_schedule()
    assert "sweep-exports" in registry
    directory = tmp = server.config[SETTINGS_KEY].instance_path / "exports"
    tmp.mkdir(exist_ok=True)
    old = directory / ("a" * 32 + ".csv")
    fresh = directory / ("b" * 32 + ".csv")
    old.write_text("x")
    fresh.write_text("y")
    eight_days_ago = time.time() - 8 * 24 * 3600
    os.utime(old, (eight_days_ago, eight_days_ago))
    only = Registry()
    (sweep,) = [j for j in registry.jobs() if j.name == "sweep-exports"]
    only.register(sweep.name, every=sweep.every, run=sweep.run)
    assert Scheduler(server, only, clock=Clock()).run_due() == ["sweep-exports"]
    assert sorted(p.name for p in directory.iterdir()) == [fresh.name]
