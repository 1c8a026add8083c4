"""Failed sign-ins limited per account and per client address (issue 10, Flask-Limiter).

Only failures count: each wrong email or password costs one hit on the submitted account (the
email, trimmed and lower-cased, whether or not such an account exists: the answer must not tell)
and one on the client's address. While either is over its limit, sign-in is refused with 429, a
sentence saying when to try again and a Retry-After header, even with the right password.

Storage: in memory (each process its own counters) unless LEARNSTATS_REDIS_URL is set, then in
Redis, shared by every worker. Moving windows: the wait is until the oldest counted failure
leaves the window.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse

from data.config import settings_of
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
        )
        self.account: RateLimitItem = parse(settings.signin_limit_account)
        self.address: RateLimitItem = parse(settings.signin_limit_address)
        self.storage_uri = storage

    def _pairs(self, email: str):
        return (
            ("account", self.account, "account:" + email.strip().lower()),
            ("address", self.address, "address:" + client_address()),
        )

    def refusal(self, email: str) -> Refusal | None:
        """Why this sign-in must be refused now, else None."""
        strategy = self.limiter.limiter
        for what, item, key in self._pairs(email):
            if not strategy.test(item, key):
                reset, _remaining = strategy.get_window_stats(item, key)
                return Refusal(what, max(1, math.ceil(reset - time.time())))
        return None

    def failed(self, email: str) -> None:
        for _what, item, key in self._pairs(email):
            self.limiter.limiter.hit(item, key)

    def succeeded(self, email: str) -> None:
        """A right password clears the account's failures (not the address's)."""
        self.limiter.limiter.clear(self.account, "account:" + email.strip().lower())


def init_app(server: Flask) -> SigninLimits:
    limits = SigninLimits(server)
    server.extensions[EXTENSION] = limits
    return limits


def signin_limits() -> SigninLimits:
    return current_app.extensions[EXTENSION]
