"""The periodic jobs every Learnstats process schedules (jobs/periodic.py runs them).

One register() per job, or the import of the module that registers it. The LRS sync (issue 17)
and the scheduled reports (issue 18) are added here.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from data.config import Settings
from data.lrs import LEASE as LRS_LEASE
from data.lrs import LOCK as LRS_SYNC
from jobs.lrs_sync import periodic_sync, sync_interval
from jobs.periodic import register
from jobs.reports import JOB_NAME as REPORTS_JOB
from jobs.reports import periodic_reports


def sweep_exports(server: Flask) -> None:
    """Delete the stored exports whose emailed links have expired (and stale partial files);
    the background jobs also sweep before they write."""
    from exports.stored import exports_dir, sweep_expired

    sweep_expired(exports_dir(server))


register("sweep-exports", every=timedelta(hours=1), run=sweep_exports)
register(LRS_SYNC, every=sync_interval, run=periodic_sync, lease=LRS_LEASE)


def every_tick(settings: Settings) -> timedelta:
    """Two thirds of a tick (20 s of the default 30): due at every tick of a scheduler, however
    late the tick comes."""
    return timedelta(seconds=settings.periodic_tick_seconds * 2 / 3)


# Scheduled reports (issue 18): every tick looks for due runs (a run is claimed once in the
# database, jobs/reports.py).
register(REPORTS_JOB, every=every_tick, run=periodic_reports, lease=timedelta(minutes=30))
