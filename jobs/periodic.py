"""Periodic jobs: a small registry, and the scheduler that runs what is due, one run at a time.

Register a job once, at import time of its module (list the module in jobs/schedule.py):

    from jobs.periodic import register

    register("lrs-sync", every=lambda settings: timedelta(minutes=settings.lrs_sync_minutes), run=sync)
    register("weekly-report", due=lambda settings, last, now: ..., run=send_reports)

`run(server)` gets the Flask server and is called inside its app context (settings:
data.config.settings_of(server) or current_settings()). `every` is a timedelta or a function of
the settings giving one; `due(settings, last_start, now)` (UTC datetimes; last_start None when
the job never ran) decides instead, for calendar schedules.

Who runs the schedule (docs/architecture.md, "Background jobs"):
  - with a Celery broker: `make worker` runs Celery beat inside the worker (-B); beat sends the
    task "learnstats.periodic.tick" every tick, and the tick runs what is due;
  - without one (`make run`, `make serve` on the embedded defaults): each web process starts one
    daemon thread (start_in_process) doing the same at every tick.
A tick is LEARNSTATS_PERIODIC_TICK_SECONDS (default TICK, 30 s; the system tests take 1 s so that
they wait for three schedulers in seconds instead of minutes).
Either way, every tick of every process asks the database (data/job_locks.py): a job runs
only when its last start is old enough AND its row's lock is free, taken with one atomic
UPDATE. So however many processes tick, one run of a job happens at a time, and a process that
dies mid-run blocks the job only until its lease (`lease`, default 15 minutes) ends.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from data.config import Settings, settings_of
from data.job_locks import read_lock, release, try_acquire

log = logging.getLogger("learnstats.jobs")

TICK = 30.0  # seconds between two looks at the schedule, unless LEARNSTATS_PERIODIC_TICK_SECONDS
DEFAULT_LEASE = timedelta(minutes=15)

Every = timedelta | Callable[[Settings], timedelta]
Due = Callable[[Settings, datetime | None, datetime], bool]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    run: Callable[[Flask], Any]
    every: Every | None = None
    due: Due | None = None
    lease: timedelta = DEFAULT_LEASE

    def interval(self, settings: Settings) -> timedelta | None:
        if self.every is None:
            return None
        return self.every if isinstance(self.every, timedelta) else self.every(settings)

    def is_due(self, settings: Settings, last_start: datetime | None, now: datetime) -> bool:
        """now and last_start in UTC (aware)."""
        if self.due is not None:
            return bool(self.due(settings, last_start, now))
        interval = self.interval(settings)
        if interval is None or interval <= timedelta(0):
            return False  # an interval of 0 (a setting) turns the job off
        return last_start is None or now - last_start >= interval


class Registry:
    """Periodic jobs by name."""

    def __init__(self) -> None:
        self._jobs: dict[str, PeriodicJob] = {}

    def register(
        self,
        name: str,
        every: Every | None = None,
        run: Callable[[Flask], Any] | None = None,
        *,
        due: Due | None = None,
        lease: timedelta = DEFAULT_LEASE,
    ) -> PeriodicJob:
        if run is None or not callable(run):
            raise TypeError(f"periodic job {name!r}: run must be a function of the Flask server")
        if (every is None) == (due is None):
            raise TypeError(f"periodic job {name!r}: give either every= or due=")
        if not name or len(name) > 100:
            raise ValueError(f"periodic job name {name!r}: 1 to 100 characters")
        job = PeriodicJob(name=name, run=run, every=every, due=due, lease=lease)
        existing = self._jobs.get(name)
        if existing is not None and existing.run is not run:
            raise ValueError(f"periodic job {name!r} is registered twice")
        self._jobs[name] = job
        return job

    def jobs(self) -> list[PeriodicJob]:
        return list(self._jobs.values())

    def __contains__(self, name: str) -> bool:
        return name in self._jobs


REGISTRY = Registry()


def register(
    name: str,
    every: Every | None = None,
    run: Callable[[Flask], Any] | None = None,
    *,
    due: Due | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> PeriodicJob:
    """Add a periodic job to the schedule every process runs (see the module's docstring)."""
    return REGISTRY.register(name, every, run, due=due, lease=lease)


def load_schedule() -> Registry:
    """The registry with every job of jobs/schedule.py registered."""
    import jobs.schedule  # noqa: F401 - registers the jobs

    return REGISTRY


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def new_owner() -> str:
    """This scheduler's name in the lock rows: host, process, and a random part."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Scheduler:
    """Runs the due jobs of a registry for one server. `clock` gives the time (UTC, aware):
    tests move it by hand instead of sleeping."""

    def __init__(
        self,
        server: Flask,
        registry: Registry | None = None,
        clock: Callable[[], datetime] = _utc_now,
        owner: str | None = None,
    ) -> None:
        self.server = server
        self.registry = registry if registry is not None else load_schedule()
        self.clock = clock
        self.owner = owner or new_owner()

    @property
    def db(self):
        return self.server.extensions["learnstats_db"]

    def run_due(self) -> list[str]:
        """One look at the schedule: run each due job whose lock this scheduler gets; the names
        of the jobs run. A job's failure is logged and written in its row, never raised."""
        ran = []
        for job in self.registry.jobs():
            if self.run_if_due(job):
                ran.append(job.name)
        return ran

    def run_if_due(self, job: PeriodicJob) -> bool:
        settings = settings_of(self.server)
        now = self.clock()
        state = read_lock(self.db, job.name)
        if state.held(now.astimezone(UTC).replace(tzinfo=None)):
            return False
        if not job.is_due(settings, _aware(state.last_started_at), now):
            return False
        if not try_acquire(self.db, job.name, self.owner, now, job.lease, state.last_started_at):
            return False  # another process took it between our read and our UPDATE
        error = None
        try:
            with self.server.app_context():
                job.run(self.server)
        except Exception as failure:  # written in the row and logged; the schedule goes on
            error = "".join(traceback.format_exception_only(failure)).strip()[:2000]
            log.exception("periodic job %s failed", job.name)
        finally:
            release(self.db, job.name, self.owner, self.clock(), error)
        return True


def run_due(server: Flask) -> list[str]:
    """One tick for this server (the Celery beat task and the in-process thread both call it)."""
    return Scheduler(server).run_due()


# -- in-process runner (no Celery broker: make run, make serve on the embedded defaults) ---------

_threads: dict[int, threading.Thread] = {}
_threads_lock = threading.Lock()


def tick_of(server: Flask) -> float:
    """Seconds between two ticks: LEARNSTATS_PERIODIC_TICK_SECONDS, 30 by default."""
    return float(settings_of(server).periodic_tick_seconds)


def start_in_process(
    server: Flask, tick: float | None = None, registry: Registry | None = None
) -> threading.Thread | None:
    """A daemon thread ticking the schedule every `tick` seconds (default: the setting) in this
    process, unless a Celery broker is configured (then `make worker`'s beat runs it). One thread
    per server; its `stop` event ends it."""
    if settings_of(server).celery_broker_url:
        return None
    tick = tick_of(server) if tick is None else tick
    with _threads_lock:
        thread = _threads.get(id(server))
        if thread is not None and thread.is_alive():
            return thread
        stop = threading.Event()
        scheduler = Scheduler(server, registry)

        def loop() -> None:
            while not stop.wait(tick):
                try:
                    scheduler.run_due()
                except Exception:  # the database may be away for a while: try at the next tick
                    log.exception("periodic jobs: the schedule could not be read")

        thread = threading.Thread(target=loop, name="learnstats-periodic", daemon=True)
        thread.stop = stop  # type: ignore[attr-defined]
        _threads[id(server)] = thread
        thread.start()
        return thread


# -- Celery beat (make worker) -----------------------------------------------------------------

TICK_TASK = "learnstats.periodic.tick"


def install_beat(celery_app, server: Flask, tick: float | None = None) -> None:
    """The tick task on this Celery app and its beat schedule (`make worker` runs beat with -B),
    every `tick` seconds (default: the setting)."""
    tick = tick_of(server) if tick is None else tick

    @celery_app.task(name=TICK_TASK, ignore_result=True)
    def periodic_tick() -> list[str]:
        return run_due(server)

    celery_app.conf.beat_schedule = {
        **(celery_app.conf.beat_schedule or {}),
        # A tick not taken within one tick is dropped: the next one does the same work.
        "learnstats-periodic-jobs": {"task": TICK_TASK, "schedule": tick, "options": {"expires": tick}},
    }
    # Beat's own bookkeeping beside the other files of this instance, not in the working folder.
    celery_app.conf.beat_schedule_filename = str(settings_of(server).instance_path / "celerybeat-schedule")


__all__ = [
    "DEFAULT_LEASE",
    "REGISTRY",
    "TICK",
    "PeriodicJob",
    "Registry",
    "Scheduler",
    "install_beat",
    "load_schedule",
    "register",
    "run_due",
    "start_in_process",
    "tick_of",
]
