"""Health endpoints for process managers and load balancers, open without sign-in:

- `GET /healthz`: the process is up and serving (no database or Redis access): 200.
- `GET /readyz`: the database answers `SELECT 1` and, when configured (LEARNSTATS_REDIS_URL,
  a Redis Celery broker or result backend), Redis answers PING within TIMEOUT_S: 200, else 503.
  The body says which check failed and the kind of error, never its text (it may hold
  addresses); the full error goes to the log. With Redis down the app still serves
  (data/redis_fallback.py): the body's "fallback" says what runs in the process meanwhile.

Neither reads or writes the sign-in session: they set no cookie. init_app also copies the
signed-in user's id (`learnstats.user`) and a callback request's outputs
(`learnstats.callback`) into the WSGI environ after each request, for the structured access
log (gunicorn.conf.py).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, current_app, g, jsonify, request
from sqlalchemy import text

from data.config import current_settings

log = logging.getLogger(__name__)

HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
TIMEOUT_S = 1.0  # per check: a frozen Redis must not hold a load balancer's probe
ENVIRON_USER = "learnstats.user"
ENVIRON_CALLBACK = "learnstats.callback"


def healthz():
    return jsonify(status="ok"), 200, {"Cache-Control": "no-store"}


def redis_urls(settings) -> list[str]:
    """The distinct Redis servers this app depends on (cache, Celery broker and backend)."""
    urls = [settings.redis_url, settings.celery_broker_url, settings.celery_result_backend]
    found: list[str] = []
    for url in urls:
        if url and urlsplit(url).scheme in ("redis", "rediss", "unix") and url not in found:
            found.append(url)
    return found


def check_database() -> None:
    db = current_app.extensions["learnstats_db"]
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1")).scalar_one()


def check_redis(url: str) -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(
        url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
    finally:
        client.close()


def readyz():
    settings = current_settings()
    checks: dict[str, str] = {}
    ready = True
    targets = [("database", check_database, ())]
    urls = redis_urls(settings)
    for n, url in enumerate(urls):
        targets.append(("redis" if n == 0 else f"redis-{n + 1}", check_redis, (url,)))
    for name, check, args in targets:
        try:
            check(*args)
            checks[name] = "ok"
        except Exception as error:  # any failure means "not ready"; the reason goes to the log
            ready = False
            checks[name] = f"failed ({type(error).__name__})"
            log.warning("readyz: %s check failed: %s: %s", name, type(error).__name__, error)
    body: dict = {"status": "ready" if ready else "not ready", "checks": checks}
    if any(name.startswith("redis") and state != "ok" for name, state in checks.items()):
        body["fallback"] = (
            "sign-in limits and cache in this process; background jobs on Redis refused at once"
        )
    return jsonify(body), 200 if ready else 503, {"Cache-Control": "no-store"}


def _note_user(response):
    """For the access log: the signed-in user's id, when this request loaded one, and for a
    Dash callback request the outputs it asked for (which callback it was)."""
    user = getattr(g, "_login_user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        request.environ[ENVIRON_USER] = str(user.id)
    too_large = (request.content_length or 0) > (request.max_content_length or float("inf"))
    if request.path == "/_dash-update-component" and request.is_json and not too_large:
        body = request.get_json(silent=True)  # already parsed by Dash: no second parse
        if isinstance(body, dict) and isinstance(body.get("output"), str):
            request.environ[ENVIRON_CALLBACK] = body["output"][:200]
    return response


def init_app(server: Flask) -> None:
    server.add_url_rule("/healthz", "health.healthz", healthz)
    server.add_url_rule("/readyz", "health.readyz", readyz)
    server.after_request(_note_user)
