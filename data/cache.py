"""Memoized data functions (issue 8.3): one flask-caching Cache per app, bound in init_cache.

    from data.cache import memoized

    @memoized
    def learner_count(session, scope, pop, tz, as_of=None) -> int: ...

A memoized function's result is kept under a key made of the function (module and qualified
name), the database (its URL), the data version of data/summaries.py (every write that changes
the summaries increases it in the writer's transaction, so every process sees the change at
once), the platform's local date (figures judge expiry and "the last 7 days" on today), the
source of the data/ package (a deploy never reads entries made by older code), the viewer's
scope (every field, class_trainings included) and every other argument (defaults applied, so
`f(s, scope, tz)` and `f(s, scope, tz=tz)` share an entry).

The cache is skipped, and the function simply called, outside a Flask app context (CLI, jobs,
tests calling figures directly), when LEARNSTATS_CACHE=null, and when the caller's session has
written something it has not committed yet (its figures are not those of any data version).
Exceptions (data.scope.Forbidden, ...) are never cached. Values are stored pickled (SimpleCache
and Redis both serialize), so every hit is a fresh object: a caller may mutate the DataFrame
it gets without touching the cache or other callers. A cache that fails (a value that cannot
be pickled) logs a warning and the function is called as if it were off. Redis down or frozen
(issue 23 point 6): calls give up after 0.5 s without retry, and for the next 30 s an
in-process cache serves instead without trying Redis (data/redis_fallback.py; one warning).
`fn.__wrapped__` is the raw function.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import logging
import time as clock
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_app_context
from flask_caching import Cache
from sqlalchemy import TextClause, event
from sqlalchemy.orm import ORMExecuteState, Session

from data.config import Settings, settings_if_any
from data.redis_fallback import RedisBreaker, redis_options

log = logging.getLogger(__name__)

EXTENSION = "learnstats_cache"
FALLBACK = "learnstats_cache_fallback"  # the in-process cache while Redis fails
BREAKER = "learnstats_cache_breaker"
DEFAULT_TIMEOUT = 3600  # seconds; a new data version makes older entries unreachable anyway
SIMPLE_THRESHOLD = 500  # entries kept by the in-process cache before it drops the oldest
BACKENDS = {"null": "NullCache", "simple": "SimpleCache", "redis": "RedisCache"}
_WROTE = "learnstats_cache_wrote"
_SUMMARY_PENDING = "learnstats_summary_pending"  # data/summaries.py: marks not refreshed yet
WARN_EVERY = 300.0  # seconds between two warnings about the same failing function

P = ParamSpec("P")
R = TypeVar("R")


def _hash(text: str, length: int = 64) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def init_cache(server: Flask, settings: Settings) -> Cache:
    """Bind the cache chosen by settings.cache ("simple", "redis" or "null") to the server."""
    config: dict[str, Any] = {
        "CACHE_TYPE": BACKENDS[settings.cache],
        "CACHE_DEFAULT_TIMEOUT": DEFAULT_TIMEOUT,
        # Two databases never share entries, even on one Redis server.
        "CACHE_KEY_PREFIX": f"learnstats:{_hash(settings.database_url, 16)}:",
        "CACHE_THRESHOLD": SIMPLE_THRESHOLD,
        "CACHE_NO_NULL_WARNING": True,
    }
    if settings.cache == "redis":
        config["CACHE_REDIS_URL"] = settings.redis_url
        config["CACHE_OPTIONS"] = redis_options()
        fallback = Cache(config={**config, "CACHE_TYPE": BACKENDS["simple"], "CACHE_OPTIONS": {}})
        fallback.init_app(server)
        server.extensions[FALLBACK] = fallback
        server.extensions[BREAKER] = RedisBreaker("data cache", "cache")
    cache = Cache(config=config)
    cache.init_app(server)
    server.extensions[EXTENSION] = cache
    return cache


def _store(cache: Cache) -> tuple[Cache, RedisBreaker | None]:
    """The cache to use now: Redis's, or the in-process one while Redis fails."""
    breaker = current_app.extensions.get(BREAKER)
    if breaker is not None and not breaker.usable():
        return current_app.extensions[FALLBACK], None
    return cache, breaker


def get_cache() -> Cache | None:
    """The current app's cache; None outside an app context or when it is off."""
    if not has_app_context():
        return None
    cache = current_app.extensions.get(EXTENSION)
    if cache is None or cache.config["CACHE_TYPE"] == BACKENDS["null"]:
        return None
    return cache


def memoized(fn: Callable[P, R]) -> Callable[P, R]:
    """Memoize a data function `fn(session, scope, ...)` by database, data version, scope and
    arguments (see the module docstring)."""
    signature = inspect.signature(fn)
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        cache = get_cache()
        if cache is None:
            return fn(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        session, *rest = bound.arguments.values()
        if not isinstance(session, Session) or has_unsaved_writes(session):
            return fn(*args, **kwargs)
        key = f"{name}:{_key(session, rest)}"
        cache, breaker = _store(cache)
        try:
            hit = cache.get(key)
        except Exception as error:
            if breaker is None or not _redis_failure(error):
                _warn(name, "read", "computing it instead", error)
                return fn(*args, **kwargs)
            breaker.failed(error)
            cache, breaker = current_app.extensions[FALLBACK], None
            hit = cache.get(key)
        else:
            if breaker is not None:
                breaker.succeeded()
        if hit is not None:
            return hit[0]
        value = fn(*args, **kwargs)
        try:
            # In a 1-tuple, so that a None result is told apart from a miss.
            cache.set(key, (value,))
        except Exception as error:
            if breaker is not None and _redis_failure(error):
                breaker.failed(error)
            else:
                _warn(name, "store", "it is not cached", error)
        return value

    return wrapper


def cache_key(fn: Callable, *args: Any, **kwargs: Any) -> str:
    """The key `fn(*args, **kwargs)` is kept under, without the app's prefix (for tests and
    debugging); fn is the memoized function or the raw one."""
    raw = getattr(fn, "__wrapped__", fn)
    bound = inspect.signature(raw).bind(*args, **kwargs)
    bound.apply_defaults()
    session, *rest = bound.arguments.values()
    return f"{raw.__module__}.{raw.__qualname__}:{_key(session, rest)}"


def _key(session: Session, arguments: list) -> str:
    from data.summaries import data_version

    parts = [
        session.get_bind().url.render_as_string(hide_password=True),
        str(data_version(session)),
        _today().isoformat(),
        _code_version(),
        *(stable_repr(value) for value in arguments),
    ]
    return _hash("\n".join(parts))


def _today() -> date:
    settings = settings_if_any()
    return datetime.now(settings.tz if settings is not None else UTC).date()


@functools.cache
def _code_version() -> str:
    """A hash of the data/ package's source: entries made by other code are never read."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def stable_repr(value: Any) -> str:
    """A text that is the same for equal arguments in every process (no ids, no hash seeds).

    Dataclasses (Scope, Population) by type and every field, compare=False ones included;
    sets and mappings sorted; lists and tuples alike; dates by ISO format; ZoneInfo by key.
    """
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return repr(value)
    if isinstance(value, Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if isinstance(value, datetime | date | time):
        return f"{type(value).__name__}({value.isoformat()})"
    if isinstance(value, timedelta):
        return f"timedelta({value.total_seconds()!r})"
    if isinstance(value, Decimal):
        return f"Decimal({value})"
    if isinstance(value, ZoneInfo):
        return f"ZoneInfo({value.key!r})"
    if isinstance(value, tzinfo) and value.utcoffset(None) is not None:
        return f"tz({value.utcoffset(None).total_seconds()!r})"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ",".join(
            f"{field.name}={stable_repr(getattr(value, field.name))}" for field in dataclasses.fields(value)
        )
        return f"{type(value).__module__}.{type(value).__qualname__}({fields})"
    if isinstance(value, list | tuple):
        return "(" + ",".join(stable_repr(item) for item in value) + ")"
    if isinstance(value, set | frozenset):
        return "{" + ",".join(sorted(stable_repr(item) for item in value)) + "}"
    if isinstance(value, Mapping):
        return "{" + ",".join(sorted(f"{stable_repr(k)}:{stable_repr(v)}" for k, v in value.items())) + "}"
    raise TypeError(
        f"a memoized data function got a {type(value).__qualname__} argument, which cannot be part "
        "of a cache key: pass plain values, dates, ZoneInfo, dataclasses or collections of them"
    )


# --------------------------------------------------------------------------------------------
# Sessions with uncommitted writes read figures of no data version: they skip the cache.
# --------------------------------------------------------------------------------------------


def has_unsaved_writes(session: Session) -> bool:
    """Whether the session wrote (or is about to write) something not committed yet."""
    return bool(
        session.info.get(_WROTE)
        or session.info.get(_SUMMARY_PENDING)
        or session.new
        or session.dirty
        or session.deleted
    )


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    statement = state.statement
    if (
        state.is_insert
        or state.is_update
        or state.is_delete
        or (isinstance(statement, TextClause) and not statement.text.lstrip().lower().startswith("select"))
    ):
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_writes(session: Session, transaction) -> None:
    if transaction.parent is None:  # commit or rollback of the whole transaction
        session.info.pop(_WROTE, None)


_warned: dict[tuple[str, str], float] = {}


def _redis_failure(error: Exception) -> bool:
    """Redis down, refusing or not answering (not a value that cannot be stored)."""
    import redis

    return isinstance(error, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError))


def _warn(name: str, action: str, outcome: str, error: Exception) -> None:
    now = clock.monotonic()
    last = _warned.get((name, action))
    if last is None or now - last >= WARN_EVERY:
        _warned[(name, action)] = now
        log.warning("cache: could not %s %s (%s: %s); %s", action, name, type(error).__name__, error, outcome)
