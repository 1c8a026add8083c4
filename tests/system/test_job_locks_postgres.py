"""The periodic jobs' lock (data/job_locks.py) on PostgreSQL: the same atomic UPDATE as on
SQLite, four schedulers with their own engines on one database, a crashed holder's lease."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from data.config import SETTINGS_KEY, load_settings
from data.db import Database
from data.job_locks import read_lock, release, try_acquire
from jobs.periodic import Registry, Scheduler

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _server(url: str, tmp_path) -> Flask:
    server = Flask(__name__)
    server.config[SETTINGS_KEY] = load_settings({"instance_path": tmp_path, "database_url": url})
    server.extensions["learnstats_db"] = Database(url)
    return server


def test_jpg001_one_of_two_takes_the_lock_and_a_crashed_holders_lease_ends(pg_db_url, tmp_path):
    first, second = Database(pg_db_url), Database(pg_db_url)
    try:
        first.upgrade_schema()
        seen = read_lock(first, "sync").last_started_at
        lease = timedelta(minutes=15)
        assert try_acquire(first, "sync", "a", T0, lease, seen) is True
        assert try_acquire(second, "sync", "b", T0, lease, seen) is False
        # "a" dies; within its lease nobody takes the job, after it "b" does.
        started = read_lock(second, "sync").last_started_at
        assert try_acquire(second, "sync", "b", T0 + timedelta(minutes=14), lease, started) is False
        assert try_acquire(second, "sync", "b", T0 + timedelta(minutes=15), lease, started) is True
        assert release(first, "sync", "a", T0 + timedelta(minutes=16)) is False
        assert release(second, "sync", "b", T0 + timedelta(minutes=16)) is True
        state = read_lock(first, "sync")
        assert (state.owner, state.last_status) == (None, "ok")
    finally:
        first.engine.dispose()
        second.engine.dispose()


def test_jpg002_schedulers_of_four_threads_never_overlap(pg_db_url, tmp_path):
    servers = [_server(pg_db_url, tmp_path) for _ in range(2)]
    servers[0].extensions["learnstats_db"].upgrade_schema()
    active, most, runs = [0], [0], [0]
    guard = threading.Lock()
    registry = Registry()

    def run(_server):
        with guard:
            active[0] += 1
            most[0] = max(most[0], active[0])
        threading.Event().wait(0.002)
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
            for _tick in range(20):
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
    for server in servers:
        server.extensions["learnstats_db"].engine.dispose()
    assert errors == []
    assert most[0] == 1
    assert sum(ran) == runs[0] >= 1
