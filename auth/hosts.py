"""The site's address in emailed links (issue 10 point 6).

LEARNSTATS_BASE_URL when it is set. Otherwise the address the browser used, but only when its
host is one of LEARNSTATS_ALLOWED_HOSTS (default: the local addresses): the Host header is
written by the client, and a forged one must never put an attacker's address in an email.
"""

from __future__ import annotations

from flask import request

from data.config import current_settings
from data.errors import LearnstatsError
from exports.formatting import gettext


class UntrustedHost(LearnstatsError, ValueError):
    """The request's host may not appear in a link; the message says what to set."""


def host_name(host: str) -> str:
    """ "example.org:8050" -> "example.org"; "[::1]:8050" -> "[::1]"; lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.index("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def link_base_url() -> str:
    """The base of links sent by email (no trailing slash); UntrustedHost when the request's
    host is not allowed and LEARNSTATS_BASE_URL is not set."""
    settings = current_settings()
    if settings.base_url:
        return settings.base_url.rstrip("/")
    name = host_name(request.host)
    if name not in settings.allowed_hosts:
        raise UntrustedHost(
            gettext(
                "this site's address (%(host)s) is not one the server may write in an email; the "
                "administrator must set LEARNSTATS_BASE_URL (or add the host to LEARNSTATS_ALLOWED_HOSTS)",
                host=request.host,
            )
        )
    return request.host_url.rstrip("/")
