"""The Celery worker for "Receive by email", used when LEARNSTATS_CELERY_BROKER_URL is set:

    pip install "dash[celery]" redis
    LEARNSTATS_CELERY_BROKER_URL=redis://127.0.0.1:6379/0 celery --app exports.worker worker

The worker builds the same app as the web process (same LEARNSTATS_* environment: the jobs
find their site by its instance folder and database), which registers the background
callbacks as Celery tasks. The instance folder must be shared with the web process: the
emailed files are stored in instance/exports/ and served from there.
"""

from __future__ import annotations

from app import create_app

dash_app = create_app()
celery = getattr(dash_app._background_manager, "handle", None)
if type(celery).__name__ != "Celery":
    raise SystemExit(
        "LEARNSTATS_CELERY_BROKER_URL is not set: background jobs then run as subprocesses of the"
        " web server (diskcache) and no worker is needed"
    )
