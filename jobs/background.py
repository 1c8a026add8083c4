"""Where background jobs run: Dash background callbacks on Celery, or on local subprocesses.

A dialog's job is a Dash background callback (it reports progress to the page while it runs):
  - with a Celery broker (LEARNSTATS_CELERY_BROKER_URL, else LEARNSTATS_REDIS_URL), on Celery,
    run by `make worker` (jobs/worker.py) with the same environment;
  - otherwise on diskcache: a subprocess of the web server per job, state under
    instance/background-jobs/ (make run, make serve on the embedded defaults).

A job runs outside any request: it finds its site's Flask server through the ticket's app key
(`app_key`, `register_server`, `server_for`), and the user's scope travels in the signed
ticket (`scope_to_dict` / `scope_from_dict`).
"""

from __future__ import annotations

import hashlib
import os
import weakref
from typing import Any

import dash
from flask import Flask

from data.config import Settings, settings_of
from data.scope import Scope

CELERY_RESULT_EXPIRES = 24 * 3600  # seconds a finished job's result is kept in the backend

# Flask servers by app key, for the background jobs (which run outside any request), and the
# process that built each (a forked job process must not reuse its database connections).
_SERVERS: weakref.WeakValueDictionary[str, Flask] = weakref.WeakValueDictionary()
_SERVER_PIDS: dict[str, int] = {}


def background_callback_manager(settings: Settings):
    """Celery when a broker is configured (settings.celery_broker_url: LEARNSTATS_CELERY_BROKER_URL,
    else LEARNSTATS_REDIS_URL; result backend LEARNSTATS_CELERY_RESULT_BACKEND, else the broker),
    run by `make worker` (`celery --app jobs.worker worker`) with the same environment;
    otherwise diskcache under instance/ (jobs run as subprocesses of the web server)."""
    broker = settings.celery_broker_url
    if broker:
        try:
            import celery  # noqa: F401 - installed?
        except ImportError:
            raise RuntimeError(
                "a Celery broker is configured (LEARNSTATS_CELERY_BROKER_URL or LEARNSTATS_REDIS_URL) "
                "but Celery is not installed: pip install -r requirements.txt"
            ) from None
        return dash.CeleryManager(make_celery(settings))
    import diskcache

    cache_dir = settings.instance_path / "background-jobs"
    cache_dir.mkdir(parents=True, exist_ok=True)
    return dash.DiskcacheManager(diskcache.Cache(str(cache_dir)))


def make_celery(settings: Settings):
    """The Celery app of the background callbacks (web processes and `make worker` alike)."""
    from celery import Celery

    celery_app = Celery(
        "learnstats",
        broker=settings.celery_broker_url,
        backend=settings.celery_result_backend or settings.celery_broker_url,
    )
    celery_app.conf.update(
        result_expires=CELERY_RESULT_EXPIRES,
        broker_connection_retry_on_startup=True,
        # A job is acknowledged once done: a worker that dies mid-job hands it to another.
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
    )
    return celery_app


def app_key(server: Flask) -> str:
    """Names one Learnstats instance (its folder and database) across processes."""
    settings = settings_of(server)
    text = f"{settings.instance_path}|{settings.database_url}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def register_server(server: Flask) -> str:
    """Let this process's background jobs find the server (create_app calls it); its app key."""
    key = app_key(server)
    _SERVERS[key] = server
    _SERVER_PIDS[key] = os.getpid()
    return key


def server_for(ticket: dict) -> Flask | None:
    """The server a ticket's job runs for (None: this worker does not serve that site)."""
    key = str(ticket.get("app"))
    server = _SERVERS.get(key)
    if server is None:
        return None
    if os.getpid() != _SERVER_PIDS.get(key):
        # A forked job process: never share the parent's pooled database connections.
        server.extensions["learnstats_db"].engine.dispose(close=False)
    return server


def scope_to_dict(scope: Scope) -> dict[str, Any]:
    return {
        "user_id": scope.user_id,
        "is_global": scope.is_global,
        "is_admin": scope.is_admin,
        "is_statistics_manager": scope.is_statistics_manager,
        "trainings": sorted(scope.trainings),
        "classes": sorted(scope.classes),
        "sessions": sorted(scope.sessions),
        "class_trainings": {k: sorted(v) for k, v in scope.class_trainings.items()},
    }


def scope_from_dict(data: dict[str, Any]) -> Scope:
    return Scope(
        user_id=data["user_id"],
        is_global=bool(data.get("is_global")),
        is_admin=bool(data.get("is_admin")),
        is_statistics_manager=bool(data.get("is_statistics_manager")),
        trainings=frozenset(data.get("trainings", ())),
        classes=frozenset(data.get("classes", ())),
        sessions=frozenset(data.get("sessions", ())),
        class_trainings={k: frozenset(v) for k, v in (data.get("class_trainings") or {}).items()},
    )


__all__ = [
    "CELERY_RESULT_EXPIRES",
    "app_key",
    "background_callback_manager",
    "make_celery",
    "register_server",
    "scope_from_dict",
    "scope_to_dict",
    "server_for",
]


# -- what the ZIP jobs (attestations, relevés) share ------------------------------------------

FILES_PATH = "/exports/files/"  # exports/routes.py serves a signed stored file here


def throttled_progress(set_progress):
    """on_progress(done, total) for a ZIP builder: set_progress((percent, "done / total")) at
    every 2 % and at the end; nothing when there is no set_progress (a direct call)."""
    last = {"at": -1.0}

    def progress(done: int, total: int) -> None:
        share = 100.0 * done / max(total, 1)
        if set_progress is not None and (done == total or share - last["at"] >= 2.0):
            last["at"] = share
            set_progress((share, f"{done} / {total}"))

    return progress


def zip_failure(job_id: str, error: Exception) -> dict:
    """A ZIP job's failed state for the errors its build may raise: out of scope, a refused
    option (its own sentence), the disk."""
    from auth.language import gettext as _
    from data.scope import Forbidden

    if isinstance(error, Forbidden):
        message = _("you may not make this session's documents")
    elif isinstance(error, OSError):
        message = _("the ZIP could not be written (%(reason)s)", reason=error.strerror or error)
    else:
        message = str(error)
    return {"job": job_id, "state": "failed", "message": message}


def zip_done(
    secret_key: str, job_id: str, user_id: str, stored_name: str, download_name: str, count: int
) -> dict:
    """A ZIP job's done state: a link signed for its user, under a file-system-safe name."""
    from datetime import UTC, datetime

    from exports.stored import sign_download

    safe_name = "".join(c if c.isalnum() or c in "-_." else "-" for c in download_name)
    token = sign_download(secret_key, user_id, stored_name, safe_name)
    return {
        "job": job_id,
        "state": "done",
        "href": FILES_PATH + token,
        "count": count,
        "name": safe_name,
        "at": datetime.now(UTC).isoformat(),
    }
