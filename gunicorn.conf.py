"""gunicorn settings for `make serve` (production mode; docs/deploy.md).

gunicorn reads this file from the working directory: `gunicorn app:server` in the project's
folder serves Learnstats with these settings. From the environment:

    PORT                  the port (default 8050); HOST the address (default 127.0.0.1)
    LEARNSTATS_WORKERS    worker processes (default 2 x CPU cores)
    LEARNSTATS_THREADS    threads per worker (default 4)
    LEARNSTATS_TIMEOUT    seconds a worker may stay silent before it is restarted (default 120)

Before the workers start, the master process builds the app once, so a bad setting stops the
server with its message (LEARNSTATS_SECRET_KEY is required in production mode), and migrates
the database to the newest schema. The access log is one JSON object per line on stdout.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import time
from datetime import UTC, datetime

from gunicorn.glogging import Logger

from data.config import settings_of

os.environ.setdefault("LEARNSTATS_ENV", "production")


def _positive(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"Learnstats cannot start: {name}: {value!r} is not a positive whole number")
    return int(value)


bind = f"{os.environ.get('HOST', '127.0.0.1')}:{_positive('PORT', 8050)}"
workers = _positive("LEARNSTATS_WORKERS", 2 * multiprocessing.cpu_count())
worker_class = "gthread"
threads = _positive("LEARNSTATS_THREADS", 4)
timeout = _positive("LEARNSTATS_TIMEOUT", 120)
graceful_timeout = 30
keepalive = 5
# Each worker builds its own app (no preload): no database connection crosses a fork.
preload_app = False
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LEARNSTATS_LOG_LEVEL", "info")
proc_name = "learnstats"
# Forwarded headers are the app's business alone (LEARNSTATS_BEHIND_PROXY -> werkzeug's
# ProxyFix): gunicorn must not take the scheme from them on its own.
secure_scheme_headers: dict[str, str] = {}

# Signed download links carry their token in the path: never written to a log.
_SECRET_PATHS = re.compile(r"^(/exports/[^/]+/)[^/]+")


class JsonAccessLogger(Logger):
    """gunicorn's logger with one JSON object per request on the access log."""

    def access(self, resp, req, environ, request_time):
        if not self.cfg.accesslog:
            return
        seconds = request_time.total_seconds()
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "type": "access",
            "remote": environ.get("REMOTE_ADDR", ""),
            "method": environ.get("REQUEST_METHOD", ""),
            "path": _SECRET_PATHS.sub(r"\1…", environ.get("PATH_INFO", "")),
            "status": int(str(resp.status).split(" ", 1)[0]),
            "bytes": getattr(resp, "sent", 0),
            "ms": round(seconds * 1000, 1),
            "user": environ.get("learnstats.user"),
            "callback": environ.get("learnstats.callback"),
            "pid": os.getpid(),
            "agent": environ.get("HTTP_USER_AGENT", "")[:200],
        }
        try:
            self.access_log.info(json.dumps(record, ensure_ascii=False))
        except Exception:
            self.exception("could not write the access log")


logger_class = JsonAccessLogger


def on_starting(server):
    """In the master, once: check the settings and migrate the database."""
    started = time.perf_counter()
    from app import _create_or_exit

    application = _create_or_exit()
    db = application.server.extensions["learnstats_db"]
    with application.server.app_context():
        db.migrate()
    db.engine.dispose()
    settings = settings_of(application.server)
    server.log.info(
        "Learnstats: database %s migrated in %.1f s; cache %s; background jobs on %s",
        db.engine.url.render_as_string(hide_password=True),
        time.perf_counter() - started,
        settings.cache,
        "Celery (run `make worker`)" if settings.celery_broker_url else "local subprocesses",
    )


def post_worker_init(worker):
    """In each worker, once its app is built: the periodic jobs' thread (jobs/periodic.py), unless
    a Celery broker is configured (then `make worker` runs them with Celery beat). Every worker
    ticks; the lock in the database lets one run of a job happen at a time."""
    from jobs.periodic import start_in_process

    start_in_process(worker.wsgi)
