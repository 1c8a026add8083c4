"""Redis, a real server (redis-server on loopback, no persistence) shared by two apps, as two
gunicorn workers share it: the data cache (data/cache.py) and the sign-in limits (auth/)."""

from __future__ import annotations

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
