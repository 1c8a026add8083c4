"""The periodic LRS sync (issue 17): with LEARNSTATS_LRS_ENDPOINT set, every
LEARNSTATS_LRS_SYNC_MINUTES (default 5) the schedule (jobs/periodic.py: Celery beat under
`make worker`, a thread of the web process under `make run`) pulls what the LRS stored since
the last sync (data/lrs.py). The job's name is the lock every sync shares, `sync-lrs` on the
command line too: one sync at a time, whatever the number of processes.

A run works at most BUDGET, extending its lock's lease at each page; what is left is read by
the next run, due at once (its interval counts from the previous start). A failure (the LRS away,
a wrong password) is recorded on the run (import_runs, the Data sources page) and logged; the
next run tries again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask

from data.config import Settings, settings_of

log = logging.getLogger("learnstats.jobs")

# Shorter than the lock's lease (data.lrs.LEASE), which each page extends anyway.
BUDGET = timedelta(minutes=10)


def sync_interval(settings: Settings) -> timedelta:
    """Every LEARNSTATS_LRS_SYNC_MINUTES; never (0) without LEARNSTATS_LRS_ENDPOINT."""
    if not settings.lrs_endpoint:
        return timedelta(0)
    return timedelta(minutes=settings.lrs_sync_minutes)


def periodic_sync(server: Flask) -> None:
    """The job: one sync of LEARNSTATS_LRS_ENDPOINT, under the lock the scheduler took for it."""
    from data.job_locks import read_lock
    from data.lrs import LOCK, LrsError, lease_keeper, sync_lrs

    settings = settings_of(server)
    if not settings.lrs_endpoint:
        return
    db = server.extensions["learnstats_db"]
    holder = read_lock(db, LOCK).owner  # the scheduler running this job
    try:
        result = sync_lrs(
            db,
            settings.lrs_endpoint,
            settings.lrs_username,
            settings.lrs_password,
            budget=BUDGET,
            on_page=lease_keeper(db, holder) if holder else None,
        )
    except LrsError as error:
        log.warning("LRS sync: %s", error)
        return
    log.info(
        "LRS sync of %s: %d statement(s) received, %d new%s",
        result.endpoint,
        result.received,
        result.accepted,
        "" if result.complete else "; more to read at the next run",
    )
