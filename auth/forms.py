"""The plain-HTML forms' shared pieces (sign-in, sign-out, the choice of language): the
session's CSRF token, its check, and the `next` address a form may send the browser back to."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import request, session


def csrf_token() -> str:
    """The session's form token, made on first use."""
    token = session.get("csrf_token")
    if not token:
        token = session["csrf_token"] = secrets.token_urlsafe(32)
    return token


def csrf_ok() -> bool:
    """Whether the posted form carries the session's token (compared as bytes: a non-ASCII
    text would make compare_digest raise)."""
    sent = request.form.get("csrf_token", "").encode()
    expected = session.get("csrf_token", "")
    return bool(expected) and secrets.compare_digest(sent, expected.encode())


def safe_next(target: str | None) -> str:
    """target when it is a path on this site, else "/" (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    # Browsers drop tabs and newlines and read "\\" as "/": "/\t/evil.example" is "//evil.example".
    if any(c == "\\" or not c.isprintable() for c in target) or urlsplit(target).netloc:
        return "/"
    return target
