"""How many background jobs run at once, and each ticket run once (issue 23 point 5).

    admit(server, user_id, job_id)   the dialog, before it signs a ticket: JobRefused (a sentence
                                     for the user, at once) when the user already has
                                     LEARNSTATS_JOBS_PER_USER jobs, the platform
                                     LEARNSTATS_JOBS_MAX, or the Celery broker does not answer
    @once(report)                    wraps a background job `fn(set_progress, ticket)`: its
                                     ticket is claimed when it starts (a replayed ticket is
                                     refused), any failure (the disk, the database) becomes a
                                     failed state with a sentence, and its slot is freed at the end

The counts and the used tickets live in a diskcache under instance/job-slots/, shared by the
processes of one host (the instance folder is shared with `make worker` too: docs/deploy.md).
A slot nobody started within START_WITHIN_S (the page was closed), or whose process on this
host is gone, or older than MAX_RUN_S, no longer counts.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import socket
import threading
import time

from flask import Flask

from data.config import settings_of
from data.errors import LearnstatsError
from data.redis_fallback import RedisBreaker, redis_options

log = logging.getLogger(__name__)

EXTENSION = "learnstats_job_slots"
START_WITHIN_S = 600  # an admitted job not started by then no longer counts
MAX_RUN_S = 6 * 3600  # nor does one running for longer (its process is stuck or gone)
USED_FOR_S = 25 * 3600  # a used ticket is remembered longer than a ticket lives (24 h)
_SLOTS = "slots"
_LOCK = threading.Lock()
_BROKERS: dict[str, RedisBreaker] = {}


class JobRefused(LearnstatsError):
    """A job that may not start now; str() is the sentence for the user."""


def _store(server: Flask):
    store = server.extensions.get(EXTENSION)
    if store is None:
        import diskcache

        with _LOCK:
            store = server.extensions.get(EXTENSION)
            if store is None:
                folder = settings_of(server).instance_path / "job-slots"
                folder.mkdir(parents=True, exist_ok=True)
                store = diskcache.Cache(str(folder), timeout=5)
                server.extensions[EXTENSION] = store
    return store


def _alive(slot: dict, now: float) -> bool:
    if not slot.get("started"):
        return now - slot["at"] < START_WITHIN_S
    if now - slot["started"] >= MAX_RUN_S:
        return False
    if slot.get("host") == socket.gethostname() and slot.get("pid"):
        try:
            os.kill(int(slot["pid"]), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return True


def _live(store, now: float) -> dict[str, dict]:
    slots = store.get(_SLOTS) or {}
    return {job: slot for job, slot in slots.items() if _alive(slot, now)}


def _broker_problem(url: str) -> str | None:
    """Why the Celery broker cannot take a job now (a Redis one that does not answer)."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    breaker = _BROKERS.setdefault(url, RedisBreaker("job queue", "refusal of new jobs"))
    if breaker.usable():
        import redis

        client = redis.Redis.from_url(url, **redis_options())
        try:
            client.ping()
        except Exception as error:  # refused, timed out, name not resolved
            breaker.failed(error)
        else:
            breaker.succeeded()
            return None
        finally:
            client.close()
    from auth.language import gettext as _

    return _("the job queue does not answer (Redis is down); try again in a few minutes")


def admit(server: Flask, user_id: str, job_id: str) -> None:
    """Count this job for its user, or JobRefused with the reason (nothing counted)."""
    from auth.language import gettext as _
    from auth.language import ngettext

    settings = settings_of(server)
    if settings.celery_broker_url:
        problem = _broker_problem(settings.celery_broker_url)
        if problem:
            raise JobRefused(problem)
    now = time.time()
    try:
        store = _store(server)
        with store.transact():
            slots = _live(store, now)
            mine = sum(1 for slot in slots.values() if slot["user"] == user_id)
            if mine >= settings.jobs_per_user:
                raise JobRefused(
                    ngettext(
                        "you already have %(num)d job running; wait until it ends",
                        "you already have %(num)d jobs running; wait until one ends",
                        mine,
                    )
                )
            if len(slots) >= settings.jobs_max:
                raise JobRefused(
                    _(
                        "%(num)d jobs are running on the platform, the most at once; try again in a few minutes",
                        num=len(slots),
                    )
                )
            slots[job_id] = {"user": user_id, "at": now, "started": None, "pid": None, "host": None}
            store.set(_SLOTS, slots)
    except JobRefused:
        raise
    except Exception as error:  # the disk or the store: say it now rather than fail later
        log.warning("jobs: could not record job %s: %s: %s", job_id, type(error).__name__, error)
        raise JobRefused(_("the server cannot record the job (%(reason)s)", reason=_reason(error))) from None


def claim(server: Flask, job_id: str, token: str) -> bool:
    """Mark the ticket used and the job started; False when the ticket was used already."""
    store = _store(server)
    used = "used:" + hashlib.sha256(token.encode()).hexdigest()[:40]
    if not store.add(used, time.time(), expire=USED_FOR_S):
        return False
    with store.transact():
        slots = _live(store, time.time())
        slot = slots.get(job_id) or {"user": "", "at": time.time()}
        slot.update(started=time.time(), pid=os.getpid(), host=socket.gethostname())
        slots[job_id] = slot
        store.set(_SLOTS, slots)
    return True


def release(server: Flask, job_id: str) -> None:
    try:
        store = _store(server)
        with store.transact():
            slots = _live(store, time.time())
            slots.pop(job_id, None)
            store.set(_SLOTS, slots)
    except Exception as error:  # a full disk: the slot expires by itself (MAX_RUN_S, its pid)
        log.warning("jobs: could not free job %s: %s: %s", job_id, type(error).__name__, error)


def _reason(error: BaseException) -> str:
    """A short, user-readable reason: the system's words for the disk, the database's own."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    orig = getattr(error, "orig", None)  # SQLAlchemy's DBAPIError: the driver's sentence
    text = str(orig if orig is not None else error).strip().splitlines()
    return (text[0][:200] if text else "") or type(error).__name__


def once(progress_states: bool = False):
    """Decorate a background job `fn(set_progress, ticket)` (see the module docstring).
    progress_states: the job reports its states through set_progress (the OPCO email dialog
    shows the progress store), so a refusal or failure goes there too."""

    def decorate(fn):
        @functools.wraps(fn)
        def job(set_progress, ticket):
            from jobs.background import server_for

            if not isinstance(ticket, dict) or not ticket.get("token") or server_for(ticket) is None:
                return fn(set_progress, ticket)  # the job's own answer (PreventUpdate, not this site)
            server = server_for(ticket)
            job_id = str(ticket.get("job", ""))

            def failed(message: str) -> dict:
                if progress_states:  # the OPCO email dialog's states say "Failed: …." themselves
                    from auth.language import gettext

                    message = gettext("Failed: %(reason)s.", reason=message)
                state = {"job": job_id, "state": "failed", "message": message, "at": ""}
                if progress_states and set_progress is not None:
                    set_progress(state)
                return state

            with server.app_context():
                from auth.language import gettext as _

                try:
                    first = claim(server, job_id, str(ticket["token"]))
                except Exception as error:
                    log.warning("jobs: could not claim job %s: %s: %s", job_id, type(error).__name__, error)
                    return failed(_("the job could not start (%(reason)s)", reason=_reason(error)))
                if not first:
                    return failed(_("this request was already used; start the job again from its dialog"))
                try:
                    return fn(set_progress, ticket)
                except Exception as error:
                    log.exception("jobs: job %s failed", job_id)
                    return failed(_("the job failed (%(reason)s); nothing was kept", reason=_reason(error)))
                finally:
                    release(server, job_id)

        return job

    return decorate


__all__ = ["JobRefused", "admit", "claim", "once", "release"]
