"""When Redis is down or frozen: go on in the process, say so once, try Redis again later
(issue 23 point 6; docs/security.md, "Failing safe").

The sign-in limits (auth/limits.py), the data cache (data/cache.py) and the queueing of
background jobs (jobs/slots.py) talk to Redis with short timeouts (`SOCKET_TIMEOUT_S`). The
first failure opens this process's breaker for that use: for `RETRY_AFTER_S` seconds the
in-process store serves instead (limits counted per process, figures cached per process, jobs
refused at once with a sentence), without touching Redis; one warning is logged when the
breaker opens and one line when Redis answers again. `/readyz` (data/health.py) reports Redis
down meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_S = 0.5  # a frozen Redis costs at most this much per call, then the fallback
RETRY_AFTER_S = 30.0  # seconds the fallback serves before Redis is tried again


class RedisBreaker:
    """Whether to try Redis now, for one use ("sign-in limits", "data cache", ...)."""

    def __init__(self, use: str, fallback: str, retry_after: float = RETRY_AFTER_S):
        self.use, self.fallback, self.retry_after = use, fallback, retry_after
        self._down_until = 0.0
        self._down = False
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self._down

    def usable(self) -> bool:
        """True when Redis may be tried (never failed, or RETRY_AFTER_S passed since)."""
        return time.monotonic() >= self._down_until

    def failed(self, error: BaseException) -> None:
        with self._lock:
            self._down_until = time.monotonic() + self.retry_after
            first = not self._down
            self._down = True
        if first:
            log.warning(
                "Redis unreachable for the %s (%s: %s): using the in-process %s; trying Redis "
                "again every %d s",
                self.use,
                type(error).__name__,
                error,
                self.fallback,
                self.retry_after,
            )

    def succeeded(self) -> None:
        if self._down:
            with self._lock:
                was, self._down, self._down_until = self._down, False, 0.0
            if was:
                log.warning("Redis answers again: the %s use it again", self.use)


def redis_options() -> dict:
    """redis-py options for a Redis that may be down or frozen: short timeouts, no retry (the
    client's default retries three times with back-off: 19 s and more per call)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": SOCKET_TIMEOUT_S,
        "retry": Retry(NoBackoff(), 0),
    }


__all__ = ["RETRY_AFTER_S", "SOCKET_TIMEOUT_S", "RedisBreaker", "redis_options"]
