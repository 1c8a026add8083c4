"""Failed sign-ins limited per account and per client address (issue 10, Flask-Limiter).

Only failures count: each wrong email or password costs one hit on the submitted account (the
email, trimmed and lower-cased, whether or not such an account exists: the answer must not tell)
and one on the client's address. While either is over its limit, sign-in is refused with 429, a
sentence saying when to try again and a Retry-After header, even with the right password.

Storage: in memory (each process its own counters) unless LEARNSTATS_REDIS_URL is set, then in
Redis, shared by every worker. Moving windows: the wait is until the oldest counted failure
leaves the window.

Redis down or frozen (issue 23 point 6): each Redis call gives up after
`data.redis_fallback.SOCKET_TIMEOUT_S` with no retry; the failure opens the breaker and the
counters of this process (memory) serve for the next `RETRY_AFTER_S` seconds, one warning in the
log. Sign-in keeps working and keeps being limited (per process) rather than answering 500 or
hanging.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from data.config import settings_of
from data.redis_fallback import RedisBreaker, redis_options
from exports.formatting import ngettext

EXTENSION = "learnstats_signin_limits"


@dataclass(frozen=True)
class Refusal:
    """Sign-in refused: what is limited ("account" or "address") and for how many seconds."""

    what: str
    retry_after: int

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        if self.what == "account":
            return ngettext(
                "Too many failed sign-ins for this account. Try again in %(num)d minute.",
                "Too many failed sign-ins for this account. Try again in %(num)d minutes.",
                minutes,
            )
        return ngettext(
            "Too many failed sign-ins from your network address. Try again in %(num)d minute.",
            "Too many failed sign-ins from your network address. Try again in %(num)d minutes.",
            minutes,
        )


def client_address() -> str:
    """The client's address as the app sees it (ProxyFix sets it from X-Forwarded-For when
    LEARNSTATS_BEHIND_PROXY says a proxy is in front)."""
    return request.remote_addr or "unknown"


def _instance_key(database_url: str) -> str:
    return hashlib.sha256(database_url.encode()).hexdigest()[:16]


class SigninLimits:
    def __init__(self, server: Flask):
        settings = settings_of(server)
        storage = settings.redis_url or "memory://"
        self.limiter = Limiter(
            client_address,
            app=server,
            storage_uri=storage,
            strategy="moving-window",
            # One platform's counters: several instances may share a Redis database.
            key_prefix=f"learnstats-signin:{_instance_key(settings.database_url)}",
            default_limits=[],
            auto_check=False,  # nothing else is limited: only the failed sign-ins counted below
            headers_enabled=False,
            storage_options=redis_options() if settings.redis_url else {},
        )
        self.account: RateLimitItem = parse(settings.signin_limit_account)
        self.address: RateLimitItem = parse(settings.signin_limit_address)
        self.storage_uri = storage
        # In memory when Redis fails (redis_url set): this process's own counters meanwhile.
        self.memory = MovingWindowRateLimiter(MemoryStorage())
        self.breaker = RedisBreaker("sign-in limits", "counters") if settings.redis_url else None

    def _call(self, method: str, *args):
        """strategy.method(*args) on Redis, or on this process's counters while Redis fails."""
        breaker = self.breaker
        if breaker is not None and breaker.usable():
            try:
                answer = getattr(self.limiter.limiter, method)(*args)
            except Exception as error:  # redis-py's errors, timeouts, refused connections
                breaker.failed(error)
            else:
                breaker.succeeded()
                return answer
        elif breaker is None:
            return getattr(self.limiter.limiter, method)(*args)
        return getattr(self.memory, method)(*args)

    def _pairs(self, email: str):
        return (
            ("account", self.account, "account:" + email.strip().lower()),
            ("address", self.address, "address:" + client_address()),
        )

    def refusal(self, email: str) -> Refusal | None:
        """Why this sign-in must be refused now, else None."""
        for what, item, key in self._pairs(email):
            if not self._call("test", item, key):
                reset, _remaining = self._call("get_window_stats", item, key)
                return Refusal(what, max(1, math.ceil(reset - time.time())))
        return None

    def failed(self, email: str) -> None:
        for _what, item, key in self._pairs(email):
            self._call("hit", item, key)

    def succeeded(self, email: str) -> None:
        """A right password clears the account's failures (not the address's)."""
        self._call("clear", self.account, "account:" + email.strip().lower())


def init_app(server: Flask) -> SigninLimits:
    limits = SigninLimits(server)
    server.extensions[EXTENSION] = limits
    return limits


def signin_limits() -> SigninLimits:
    return current_app.extensions[EXTENSION]
