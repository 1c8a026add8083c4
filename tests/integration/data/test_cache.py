"""data/cache.py: memoized data functions, keyed by database, data version, scope and arguments,
on a real app and SQLite database; in-process (simple) and off. Redis shared by two apps:
tests/system/test_redis.py."""

from __future__ import annotations

import socket
import threading
from datetime import date
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import update

from data import models as m
from data.cache import cache_key, memoized, stable_repr
from data.config import SettingsError, load_settings, settings_of
from data.figures.cards import learner_count
from data.figures.population import ALL, Population
from data.scope import Forbidden, Scope, global_scope
from data.summaries import data_version, mark, refresh_pending

TZ = ZoneInfo("Europe/Paris")
EVERYONE = global_scope()
CALLS: list[tuple] = []


@memoized
def counted(session, scope, pop=ALL, tz=TZ, start=None, ids=(), **options):
    """A data function that records each real call and returns a fresh DataFrame."""
    CALLS.append((scope.user_id, pop, tz.key, start, tuple(ids), tuple(sorted(options.items()))))
    return pd.DataFrame({"value": [len(CALLS)], "version": [data_version(session)]})


@memoized
def nothing(session, scope):
    CALLS.append("nothing")
    return None


@memoized
def refuses(session, scope):
    CALLS.append("refuses")
    if scope.user_id == "intruder":
        raise Forbidden()
    return "allowed"


@memoized
def unpicklable(session, scope):
    CALLS.append("unpicklable")
    return threading.Lock()


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()


@pytest.fixture
def cached_app(make_app):
    return make_app(cache="simple")


def bump(db) -> None:
    """A write: the data version increases in the writer's transaction."""
    with db.session() as s:
        mark(s, everything=True)


def calls(server, fn, *args, **kwargs):
    """Call fn in an app context with a new session; returns (result, real calls so far)."""
    db = server.extensions["learnstats_db"]
    with server.app_context(), db.session() as s:
        result = fn(s, *args, **kwargs)
    return result, len(CALLS)


# --------------------------------------------------------------------------------------------


def test_cch001_same_scope_arguments_and_version_compute_once(cached_app):
    server = cached_app.server
    first, n1 = calls(server, counted, EVERYONE, ALL, TZ, date(2026, 1, 1))
    second, n2 = calls(server, counted, EVERYONE, ALL, TZ, date(2026, 1, 1))
    # Defaults applied and keywords bound: the same call written differently shares the entry.
    third, n3 = calls(server, counted, EVERYONE, start=date(2026, 1, 1))
    assert (n1, n2, n3) == (1, 1, 1)
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(first, third)
    assert counted.__wrapped__.__name__ == "counted"
    assert not hasattr(counted.__wrapped__, "__wrapped__")


def test_cch002_a_write_changes_the_version_and_the_result_is_computed_again(cached_app):
    server = cached_app.server
    db = server.extensions["learnstats_db"]
    before, _ = calls(server, counted, EVERYONE)
    bump(db)
    after, n = calls(server, counted, EVERYONE)
    assert n == 2
    assert after["version"][0] == before["version"][0] + 1
    # A version set directly in summary_meta (another process's write) counts the same.
    with db.session() as s:
        s.execute(update(m.SummaryMeta).where(m.SummaryMeta.key == "data_version").values(value="1000"))
    latest, n = calls(server, counted, EVERYONE)
    assert n == 3 and latest["version"][0] == 1000
    assert calls(server, counted, EVERYONE)[1] == 3


def test_cch003_each_scope_and_each_argument_has_its_own_entry(cached_app):
    server = cached_app.server
    manager = Scope(user_id="m1", classes=frozenset({"c1"}), class_trainings={"c1": frozenset({"t1"})})
    moved = Scope(user_id="m1", classes=frozenset({"c1"}), class_trainings={"c1": frozenset({"t2"})})
    assert manager == moved  # class_trainings is left out of Scope's equality...
    variants = [
        (EVERYONE,),
        (manager,),
        (moved,),  # ...but not out of the cache key
        (EVERYONE, Population(training_id="t1")),
        (EVERYONE, Population(training_id="t1", learners_only=False)),
        (EVERYONE, ALL, ZoneInfo("UTC")),
        (EVERYONE, ALL, TZ, date(2026, 1, 2)),
        (EVERYONE, ALL, TZ, None, ["a", "b"]),
        (EVERYONE, ALL, TZ, None, ["b", "a"]),
    ]
    for i, args in enumerate(variants, start=1):
        assert calls(server, counted, *args)[1] == i, args
    for args in variants:
        assert calls(server, counted, *args)[1] == len(variants), args
    # Lists and tuples alike; extra keywords in any order.
    assert calls(server, counted, EVERYONE, ALL, TZ, None, ("a", "b"))[1] == len(variants)
    calls(server, counted, EVERYONE, sort="name", desc=True)
    assert calls(server, counted, EVERYONE, desc=True, sort="name")[1] == len(variants) + 1


def test_cch004_off_with_cache_null_and_outside_an_app_context(make_app, cached_app):
    off = make_app(cache="null")
    assert settings_of(off.server).cache == "null"
    for expected in (1, 2, 3):
        assert calls(off.server, counted, EVERYONE)[1] == expected
    # Outside an app context (CLI, jobs, figures called directly) the function is just called.
    db = cached_app.server.extensions["learnstats_db"]
    with db.session() as s:
        counted(s, EVERYONE)
        counted(s, EVERYONE)
    assert len(CALLS) == 5


def test_cch005_exceptions_and_none_results(cached_app):
    server = cached_app.server
    intruder = Scope(user_id="intruder")
    for _ in range(2):
        with pytest.raises(Forbidden):
            calls(server, refuses, intruder)
    assert len(CALLS) == 2  # never cached
    assert calls(server, refuses, Scope(user_id="friend")) == ("allowed", 3)
    assert calls(server, refuses, Scope(user_id="friend")) == ("allowed", 3)
    # None is a result like any other, not a miss.
    assert calls(server, nothing, EVERYONE) == (None, 4)
    assert calls(server, nothing, EVERYONE) == (None, 4)


def test_cch006_callers_get_independent_copies(cached_app):
    server = cached_app.server
    first, _ = calls(server, counted, EVERYONE)
    first.loc[0, "value"] = -1
    first["extra"] = 1
    second, _ = calls(server, counted, EVERYONE)
    second.loc[0, "value"] = -2
    third, n = calls(server, counted, EVERYONE)
    assert n == 1
    assert list(third.columns) == ["value", "version"] and third["value"][0] == 1


def test_cch007_a_session_with_uncommitted_writes_skips_the_cache(cached_app):
    server = cached_app.server
    db = server.extensions["learnstats_db"]
    calls(server, counted, EVERYONE)
    with server.app_context(), db.session() as s:
        s.add(m.Training(id="t-new", name="New"))
        mark(s, everything=True)
        refresh_pending(s)  # as every figure does before it reads
        # A version no committed state has yet.
        inside = counted(s, EVERYONE)
        assert len(CALLS) == 2
        counted(s, EVERYONE)
        assert len(CALLS) == 3
        s.rollback()
        # After the rollback the session sees committed data again: cached.
        counted(s, EVERYONE)
        assert len(CALLS) == 3
    # The rolled-back transaction left nothing under the version it had reached.
    bump(db)
    after, n = calls(server, counted, EVERYONE)
    assert n == 4 and after["version"][0] == inside["version"][0]


def test_cch008_a_result_that_cannot_be_cached_is_still_returned(cached_app):
    server = cached_app.server
    first, n1 = calls(server, unpicklable, EVERYONE)
    second, n2 = calls(server, unpicklable, EVERYONE)
    assert (n1, n2) == (1, 2)
    assert hasattr(first, "acquire") and hasattr(second, "acquire")
    with pytest.raises(TypeError, match="cannot be part of a cache key"):
        calls(server, counted, EVERYONE, ALL, TZ, None, [object()])


def test_cch009_a_new_local_day_starts_new_entries(cached_app, monkeypatch):
    server = cached_app.server
    calls(server, counted, EVERYONE)
    monkeypatch.setattr("data.cache._today", lambda: date(2099, 1, 1))
    assert calls(server, counted, EVERYONE)[1] == 2
    assert calls(server, counted, EVERYONE)[1] == 2


def test_cch010_a_real_figure_follows_writes(cached_app):
    """data.figures.cards.learner_count, memoized where it is defined, on the real write path."""
    server = cached_app.server
    db = server.extensions["learnstats_db"]
    assert learner_count.__wrapped__ is not learner_count
    with db.session() as s:
        from tests.factories import Factory

        factory = Factory(s)
        training = factory.training()
        factory.enroll(factory.user(), training)
    with server.app_context():
        with db.session() as s:
            assert learner_count(s, EVERYONE, ALL, TZ) == 1
        with db.session() as s:
            factory = Factory(s)
            factory.enroll(factory.user(), s.get(m.Training, training.id))
        with db.session() as s:
            assert learner_count(s, EVERYONE, ALL, TZ) == 2
            assert learner_count(s, EVERYONE, Population(training_id=training.id), TZ) == 2


def test_cch011_keys_are_stable_and_name_the_database_and_version(cached_app, make_app, tmp_path):
    server = cached_app.server
    db = server.extensions["learnstats_db"]
    scope = Scope(
        user_id="m1", classes=frozenset({"c2", "c1"}), class_trainings={"c1": frozenset({"b", "a"})}
    )
    assert stable_repr(scope) == stable_repr(
        Scope(user_id="m1", classes=frozenset({"c1", "c2"}), class_trainings={"c1": frozenset({"a", "b"})})
    )
    assert "class_trainings={'c1':{'a','b'}}" in stable_repr(scope)
    with server.app_context(), db.session() as s:
        key = cache_key(counted, s, scope)
        assert key.startswith("tests.integration.data.test_cache.counted:")
        assert key == cache_key(counted.__wrapped__, s, scope, ALL, TZ)
    bump(db)
    with server.app_context(), db.session() as s:
        assert cache_key(counted, s, scope) != key
    other = make_app(cache="simple", database_url=f"sqlite:///{tmp_path / 'other.sqlite3'}")
    prefixes = {
        app.server.extensions["learnstats_cache"].config["CACHE_KEY_PREFIX"] for app in (cached_app, other)
    }
    assert len(prefixes) == 2


def test_cch012_settings(tmp_path, monkeypatch):
    for name in ("LEARNSTATS_CACHE", "LEARNSTATS_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    base = {"instance_path": tmp_path, "secret_key": "k"}
    assert load_settings(base).cache == "simple"
    assert load_settings({**base, "cache": "null"}).cache == "null"
    monkeypatch.setenv("LEARNSTATS_REDIS_URL", "redis://127.0.0.1:6379/0")
    settings = load_settings(base)
    assert (settings.cache, settings.redis_url) == ("redis", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("LEARNSTATS_CACHE", "Simple")
    assert load_settings(base).cache == "simple"
    monkeypatch.setenv("LEARNSTATS_CACHE", "memcached")
    with pytest.raises(SettingsError, match="LEARNSTATS_CACHE: 'memcached' is not a cache type"):
        load_settings(base)
    monkeypatch.setenv("LEARNSTATS_CACHE", "redis")
    monkeypatch.delenv("LEARNSTATS_REDIS_URL")
    with pytest.raises(SettingsError, match="LEARNSTATS_CACHE: 'redis' needs LEARNSTATS_REDIS_URL"):
        load_settings(base)
    monkeypatch.setenv("LEARNSTATS_REDIS_URL", "http://127.0.0.1:6379")
    with pytest.raises(
        SettingsError, match=r"LEARNSTATS_REDIS_URL: 'http://127\.0\.0\.1:6379' is not a Redis URL"
    ):
        load_settings(base)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cch014_an_unreachable_redis_only_costs_the_cache(make_app, caplog, monkeypatch):
    monkeypatch.setattr("data.cache._warned", {})
    app = make_app(cache="redis", redis_url=f"redis://127.0.0.1:{_free_port()}/0")
    with caplog.at_level("WARNING"):
        assert calls(app.server, counted, EVERYONE)[1] == 1
        # Issue 23 point 6: the in-process cache serves while Redis is down (it was computed again).
        assert calls(app.server, counted, EVERYONE)[1] == 1
    assert "Redis unreachable for the data cache" in caplog.text
    assert "using the in-process cache" in caplog.text
