"""Redis, a real server (redis-server on loopback, no persistence) shared by two apps, as two
gunicorn workers share it: the data cache (data/cache.py) and the sign-in limits (auth/)."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import pandas as pd
import pytest
import redis

from data.config import settings_of
from tests.conftest import sign_in
from tests.integration.data.test_cache import CALLS, EVERYONE, bump, calls, counted, nothing
from tests.services import RedisServer


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    """The cache's tests use database 3 (the URL's number is the one used)."""
    return redis_server.url(3)


def test_cch013_redis_is_shared_between_apps_on_one_database(make_app, redis_url, tmp_path, monkeypatch):
    monkeypatch.delenv("LEARNSTATS_CACHE", raising=False)  # `make test` sets it
    # make test runs this test twice in one process (cache off, then on: --cached-again):
    # start from no recorded call and an empty cache database.
    CALLS.clear()
    redis.Redis.from_url(redis_url).flushdb()
    first = make_app(redis_url=redis_url)  # LEARNSTATS_CACHE unset: the URL chooses redis
    second = make_app(cache="redis", redis_url=redis_url)
    assert settings_of(first.server).cache == "redis"
    first.server.extensions["learnstats_cache"].clear()
    value, n = calls(first.server, counted, EVERYONE)
    assert n == 1
    again, n = calls(second.server, counted, EVERYONE)
    assert n == 1
    pd.testing.assert_frame_equal(value, again)
    again.loc[0, "value"] = -1
    assert calls(first.server, counted, EVERYONE)[0]["value"][0] == 1
    assert calls(second.server, nothing, EVERYONE) == (None, 2)
    assert calls(first.server, nothing, EVERYONE) == (None, 2)
    # A write through one app is seen by the other.
    bump(first.server.extensions["learnstats_db"])
    assert calls(second.server, counted, EVERYONE)[1] == 3
    assert calls(first.server, counted, EVERYONE)[1] == 3
    # Another database on the same Redis server has entries of its own.
    other = make_app(redis_url=redis_url, database_url=f"sqlite:///{tmp_path / 'other.sqlite3'}")
    assert calls(other.server, counted, EVERYONE)[1] == 4
    # The URL's database number is the one used.

    client = redis.Redis.from_url(redis_url)
    assert any(key.startswith(b"learnstats:") for key in client.scan_iter())


@pytest.mark.real_password_hash
def test_sgn005_with_redis_every_worker_shares_the_counts(make_app, redis_server, tmp_path):
    """Two apps (two workers) on one Redis: failures counted by one refuse sign-in on the other."""
    redis_url = redis_server.url(0)
    first = make_app(redis_url=redis_url, signin_limit_account="3 per 15 minutes").server
    second = make_app(redis_url=redis_url, signin_limit_account="3 per 15 minutes").server
    assert first.extensions["learnstats_signin_limits"].storage_uri == redis_url
    for _ in range(3):
        assert sign_in(first.test_client(), "ann@example.org", "wrong-password").status_code == 401
    assert sign_in(second.test_client(), "ann@example.org", "wrong-password").status_code == 429


# -- Redis down or frozen (issue 23 point 6) --------------------------------------------------


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own, which it may stop or freeze (SIGSTOP)."""
    server = RedisServer(tmp_path / "own-redis")
    yield server
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, signal.SIGCONT)
    server.stop()


def _app_on(make_app, url: str):
    """An app whose cache and sign-in limits are in Redis at url, with one user (ann)."""
    from tests.factories import Factory

    app = make_app(redis_url=url, cache="redis")
    with app.server.extensions["learnstats_db"].session() as s:
        Factory(s).user("ann", first="Ann", last="Lee", email="ann@example.org")
        s.commit()
    return app.server


def _timed(fn, *args):
    started = time.monotonic()
    result = fn(*args)
    return result, time.monotonic() - started


@pytest.mark.real_password_hash
def test_red001_redis_stopped_sign_in_works_the_limits_hold_and_readyz_says_so(make_app, own_redis, caplog):
    server = _app_on(make_app, own_redis.url(0))
    assert sign_in(server.test_client(), "ann@example.org").status_code == 302  # Redis up
    own_redis.stop()
    client = server.test_client()
    answer, took = _timed(sign_in, client, "ann@example.org")
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]  # was a bare 500
    assert took < 2.0
    # The limits still hold, counted in this process.
    for _ in range(5):
        assert sign_in(server.test_client(), "bob@example.org", "wrong-password").status_code == 401
    assert sign_in(server.test_client(), "bob@example.org", "wrong-password").status_code == 429
    assert any("Redis" in r.getMessage() and "in-process" in r.getMessage() for r in caplog.records)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["redis"].startswith("failed")
    # Memoized figures are computed (and kept in the process) without Redis.
    CALLS.clear()
    assert calls(server, counted, EVERYONE)[1] == 1
    assert calls(server, counted, EVERYONE)[1] == 1  # kept in-process meanwhile


@pytest.mark.real_password_hash
def test_red002_redis_frozen_sign_in_answers_within_2_seconds(make_app, own_redis):
    server = _app_on(make_app, own_redis.url(0))
    assert sign_in(server.test_client(), "ann@example.org").status_code == 302
    os.kill(own_redis.pid, signal.SIGSTOP)  # accepts connections, never answers
    for password, status in (("wrong-password", 401), ("password123", 302), ("password123", 302)):
        answer, took = _timed(sign_in, server.test_client(), "ann@example.org", password)
        assert answer.status_code == status and took < 2.0, (status, answer.status_code, took)
    CALLS.clear()
    (_, n), took = _timed(calls, server, counted, EVERYONE)
    assert n == 1 and took < 2.0, took
    ready, took = _timed(server.test_client().get, "/readyz")
    assert ready.status_code == 503 and took < 3.0, took
    assert ready.get_json()["checks"]["redis"] == "failed (TimeoutError)"


def test_red003_a_job_that_cannot_be_queued_says_so_at_once(make_app, own_redis):
    """Celery on a Redis broker that is frozen, then stopped: Generate answers with a sentence
    within 2 s (it was a 500 after 19 s), and no ticket is handed out."""
    from dashboards.dialogs import attestations as dialog
    from exports.attestation_options import save_defaults
    from tests.attestation_world import build_world
    from tests.factories import Factory
    from tests.helpers import signed_in
    from tests.integration.exports.test_attestations import OPTIONS, _dialog_values

    server = make_app(celery_broker_url=own_redis.url(1)).server
    with server.extensions["learnstats_db"].session() as s:
        build_world(Factory(s))
        save_defaults(s, OPTIONS)
        s.commit()
    os.kill(own_redis.pid, signal.SIGSTOP)
    for user in ("inst1", "stat"):  # the first pays the 0.5 s timeout, the second not even that
        with signed_in(server, user):
            (ticket, message, _), took = _timed(dialog.generate_attestations, 1, "S1", *_dialog_values())
        assert ticket is None and took < 2.0, took
        assert "the job queue does not answer (Redis is down)" in str(message)
