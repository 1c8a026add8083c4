"""The Celery worker of the background jobs ("Receive by email", attestations) and of the
periodic jobs, `make worker`:

    LEARNSTATS_REDIS_URL=redis://127.0.0.1:6379/0 LEARNSTATS_SECRET_KEY=... make worker
    # that is: celery --app jobs.worker worker -B

It is used when a broker is configured: LEARNSTATS_CELERY_BROKER_URL, else LEARNSTATS_REDIS_URL
(docs/deploy.md). The worker builds the same app as the web processes (same LEARNSTATS_*
environment: the jobs find their site by its instance folder and database, and their tickets
are signed with the shared secret key), which registers the background callbacks as Celery
tasks. The instance folder must be shared with the web processes: the emailed files are stored
in instance/exports/ and served from there. Like `make serve`, the worker runs in production
mode unless LEARNSTATS_ENV says otherwise.

`-B` runs Celery beat inside the worker: it sends the periodic jobs' tick (jobs/periodic.py)
every 30 seconds (LEARNSTATS_PERIODIC_TICK_SECONDS); the tick runs what is due, one run of a job
at a time whatever the number of workers (a lock in the database), so several workers may all
run with -B.
"""

from __future__ import annotations

import os

os.environ.setdefault("LEARNSTATS_ENV", "production")

from app import _create_or_exit
from jobs.periodic import install_beat

dash_app = _create_or_exit()
celery = getattr(dash_app._background_manager, "handle", None)
if type(celery).__name__ != "Celery":
    raise SystemExit(
        "Learnstats worker: neither LEARNSTATS_CELERY_BROKER_URL nor LEARNSTATS_REDIS_URL is set: "
        "background jobs then run as subprocesses of the web server (diskcache) and no worker is needed"
    )
install_beat(celery, dash_app.server)
