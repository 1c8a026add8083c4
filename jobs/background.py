"""Where background jobs run: Dash background callbacks on Celery, or on local subprocesses.

A dialog's job is a Dash background callback (it reports progress to the page while it runs):
  - with a Celery broker (LEARNSTATS_CELERY_BROKER_URL, else LEARNSTATS_REDIS_URL), on Celery,
    run by `make worker` (jobs/worker.py) with the same environment;
  - otherwise in the web process itself (`InProcessJobs`, make run, make serve on the embedded
    defaults): a bounded pool of LEARNSTATS_JOBS_MAX threads, state under
    instance/background-jobs/ (diskcache). Nothing is forked from the threaded server (a fork
    once inherited a SQLite mutex held by another thread and hung for good: issue 23); a
    result the disk cannot keep is kept in memory for the page that polls.

Either way jobs/slots.py admits at most LEARNSTATS_JOBS_PER_USER jobs per user and
LEARNSTATS_JOBS_MAX on the platform, runs each ticket once and turns any failure into a
sentence for the user.

A job runs outside any request: it finds its site's Flask server through the ticket's app key
(`app_key`, `register_server`, `server_for`), and the user's scope travels in the signed
ticket (`scope_to_dict` / `scope_from_dict`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import threading
import traceback
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import copy_context
from typing import Any

import dash
from flask import Flask

from data.config import Settings, settings_of
from data.scope import Scope

log = logging.getLogger(__name__)

CELERY_RESULT_EXPIRES = 24 * 3600  # seconds a finished job's result is kept in the backend

# Flask servers by app key, for the background jobs (which run outside any request), and the
# process that built each (a forked job process must not reuse its database connections).
_SERVERS: weakref.WeakValueDictionary[str, Flask] = weakref.WeakValueDictionary()
_SERVER_PIDS: dict[str, int] = {}


def background_callback_manager(settings: Settings):
    """Celery when a broker is configured (settings.celery_broker_url: LEARNSTATS_CELERY_BROKER_URL,
    else LEARNSTATS_REDIS_URL; result backend LEARNSTATS_CELERY_RESULT_BACKEND, else the broker),
    run by `make worker` (`celery --app jobs.worker worker`) with the same environment;
    otherwise InProcessJobs: threads of the web server, state in diskcache under instance/."""
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
    return InProcessJobs(diskcache.Cache(str(cache_dir)), workers=settings.jobs_max)


class InProcessJobs(dash.DiskcacheManager):
    """Dash background callbacks on a bounded pool of threads of this process (no fork).

    Job handles are "<pid>-<random>": a poll that reaches another process of the same host
    (gunicorn workers) sees the job running while its marker is in the diskcache and that
    process lives. A value the diskcache cannot store (a full disk) is kept in memory, so the
    page polling this process still gets the job's failure."""

    def __init__(self, cache, workers: int):
        super().__init__(cache)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="learnstats-job")
        self._futures: dict[str, Future] = {}
        self._memory: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- storage with a memory fallback ----------------------------------------------------
    def _put(self, key: str, value: Any) -> None:
        try:
            self.handle.set(key, value)
        except Exception as error:  # a full disk, a locked store
            log.warning("jobs: kept %s in memory (%s: %s)", key, type(error).__name__, error)
            with self._lock:
                self._memory[key] = value

    def _take(self, key: str, default: Any) -> Any:
        with self._lock:
            if key in self._memory:
                return self._memory.pop(key)
        try:
            return self.handle.get(key, default)
        except Exception:
            return default

    def clear_cache_entry(self, key):
        with self._lock:
            self._memory.pop(key, None)
        try:
            self.handle.delete(key)
        except Exception as error:
            log.warning("jobs: could not delete %s (%s: %s)", key, type(error).__name__, error)

    def get_progress(self, key):
        progress = self._take(self._make_progress_key(key), None)
        if progress:
            with contextlib.suppress(Exception):
                self.handle.delete(self._make_progress_key(key))
        return progress

    def result_ready(self, key):
        with self._lock:
            if key in self._memory:
                return True
        try:
            return self.handle.get(key) is not None
        except Exception:
            return False

    def get_result(self, key, job):
        result = self._take(key, self.UNDEFINED)
        if result is self.UNDEFINED:
            return self.UNDEFINED
        self.clear_cache_entry(key)
        self.clear_cache_entry(self._make_progress_key(key))
        if job:
            self.terminate_job(job)
        return result

    def get_updated_props(self, key):
        result = self._take(self._make_set_props_key(key), self.UNDEFINED)
        if result is self.UNDEFINED:
            return {}
        self.clear_cache_entry(self._make_set_props_key(key))
        return result

    # -- jobs --------------------------------------------------------------------------------
    def make_job_fn(self, fn, progress, key=None):
        manager = self

        def job_fn(result_key, progress_key, user_callback_args, context):
            from dash._callback_context import context_value
            from dash._utils import AttributeDict
            from dash.background_callback._proxy_set_props import ProxySetProps
            from dash.exceptions import PreventUpdate

            def set_progress(value):
                manager._put(progress_key, list(value) if isinstance(value, (list, tuple)) else [value])

            def set_props(id_, props):
                manager._put(f"{result_key}-set_props", {id_: props})

            def run():
                c = AttributeDict(**context)
                c.ignore_register_page = False
                c.updated_props = ProxySetProps(set_props)
                context_value.set(c)
                first = [set_progress] if progress else []
                try:
                    if isinstance(user_callback_args, dict):
                        output = fn(*first, **user_callback_args)
                    elif isinstance(user_callback_args, (list, tuple)):
                        output = fn(*first, *user_callback_args)
                    else:
                        output = fn(*first, user_callback_args)
                except PreventUpdate:
                    output = {"_dash_no_update": "_dash_no_update"}
                except Exception as error:
                    log.exception("jobs: background callback failed")
                    output = {"background_callback_error": {"msg": str(error), "tb": traceback.format_exc()}}
                manager._put(result_key, output)

            copy_context().run(run)

        return job_fn

    def call_job_fn(self, key, job_fn, args, context):
        job = f"{os.getpid()}-{secrets.token_hex(6)}"
        marker = f"learnstats-job:{job}"

        def run():
            with contextlib.suppress(Exception):  # a full disk: the future still says it runs
                self.handle.set(marker, os.getpid(), expire=24 * 3600)
            try:
                job_fn(key, self._make_progress_key(key), args, context)
            finally:
                with contextlib.suppress(Exception):
                    self.handle.delete(marker)

        with self._lock:
            self._futures[job] = self.pool.submit(run)
        return job

    def job_running(self, job):
        if not job:
            return False
        job = str(job)
        with self._lock:
            future = self._futures.get(job)
        if future is not None:
            if future.done():
                with self._lock:
                    self._futures.pop(job, None)
                return False
            return True
        pid = self.handle.get(f"learnstats-job:{job}")  # another process of this host
        if not pid:
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def terminate_job(self, job):
        """A thread cannot be killed: a job not started yet is cancelled, a running one ends
        by itself (its result, unread, expires with the diskcache)."""
        if not job:
            return
        with self._lock:
            future = self._futures.get(str(job))
        if future is not None:
            future.cancel()

    def terminate_unhealthy_job(self, job):
        return False


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
