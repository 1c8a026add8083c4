"""Security headers on every response (issue 10 point 4, docs/security.md).

- Content-Security-Policy: scripts only from this site plus Dash's own inline scripts, allowed
  by their hashes (the renderer's start-up line and clientside callbacks); no other origin for
  anything (no CDN is used); `frame-ancestors 'none'` (no framing: clickjacking);
  `form-action 'self'`, `base-uri 'self'`, `object-src 'none'`. Styles allow 'unsafe-inline'
  because Plotly and Dash components set style attributes and inject <style> elements at run
  time; a style cannot run code. Images and fonts also from data: URIs (Bootstrap's icons,
  Plotly's exported PNGs) and blob: (downloads).
- X-Content-Type-Options: nosniff; X-Frame-Options: DENY (browsers without CSP level 2);
  Referrer-Policy: same-origin (an emailed link's signed token is never sent to another site).
- Server: "Learnstats", never a version banner (`make run` serves with QuietRequestHandler,
  which drops Werkzeug's "Werkzeug/x Python/y"; gunicorn always sends "Server: gunicorn", its
  name without a version, and then the app adds none).
- Strict-Transport-Security on HTTPS requests when secure cookies are on (production mode).
"""

from __future__ import annotations

import base64
import hashlib

from dash import Dash
from dash import _callback as dash_callback
from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler

from data.config import settings_of

SERVER_NAME = "Learnstats"


def _hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"


def script_hashes(app: Dash) -> list[str]:
    """CSP hashes of Dash's inline scripts (as Dash.csp_hashes, without moving Dash's lists)."""
    scripts = [*app._inline_scripts, *dash_callback.GLOBAL_INLINE_SCRIPTS, app.renderer]
    return sorted({_hash(script) for script in scripts})


_CACHE: dict[tuple[int, int, int], str] = {}


def content_security_policy(app: Dash) -> str:
    key = (id(app), len(app._inline_scripts), len(dash_callback.GLOBAL_INLINE_SCRIPTS))
    policy = _CACHE.get(key)
    if policy is None:
        if len(_CACHE) > 64:
            _CACHE.clear()
        policy = _CACHE[key] = _policy(app)
    return policy


def _policy(app: Dash) -> str:
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes(app)],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler (`make run`) without its "Server: Werkzeug/x Python/y" banner:
    http.server adds it to every response; the app's own Server header is sent instead."""

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())


def init_app(server: Flask, app: Dash) -> None:
    settings = settings_of(server)
    server.config.update(
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
    )

    @server.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = content_security_policy(app)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if not request.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
            headers["Server"] = SERVER_NAME  # gunicorn always sends its own, "gunicorn": one is enough
        if settings.secure_cookies and request.is_secure:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        return response
