"""Flask-Login wiring, the sign-in and sign-out pages, and the guard on every request.

The guard runs before every request: anonymous ones get the sign-in page (page loads) or a
401 (Dash's /_dash-* endpoints and downloads); a full page load of a page the user may not
open answers 403. Dash page navigation and callbacks go through /_dash-update-component, so
each page layout and callback checks the scope again with current_scope().
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode, urlsplit

from flask import (
    Flask,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template_string,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, current_user, login_required, login_user, logout_user

from auth.roles import load_scope
from auth.users import authenticate, end_sessions, load_signed_in, to_signed_in
from data.db import get_db
from data.scope import Forbidden, Scope

# Exact paths: a prefix such as "/login" would also open "/login-x", which Dash answers with its page.
PUBLIC_PATHS = frozenset({"/login", "/_favicon.ico"})
PUBLIC_PREFIXES = ("/assets/",)

# The routes under which Dash serves its pages (full page loads).
DASH_PAGE_RULES = ("/", "/<path:path>")

login_manager = LoginManager()
login_manager.login_view = "auth.login"

SIGN_IN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Learnstats</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/_favicon.ico">
<link rel="stylesheet" href="/assets/bootstrap.min.css">
<link rel="stylesheet" href="/assets/learnstats.css"></head>
<body class="ls-signin-body">
<main class="ls-signin card shadow-sm">
  <div class="card-body p-4">
    <h1 class="h4 mb-1">Learnstats</h1>
    <p class="text-muted mb-4">Sign in to your learning statistics.</p>
    {% if message %}<div class="alert alert-{{ level }}" role="alert" id="signin-message">{{ message }}</div>{% endif %}
    <form method="post" action="/login{{ '?' + query if query else '' }}" id="signin-form">
      <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
      <div class="mb-3"><label class="form-label" for="signin-email">Email</label>
        <input class="form-control" type="email" id="signin-email" name="email" value="{{ email }}"
               autocomplete="username" required autofocus></div>
      <div class="mb-3"><label class="form-label" for="signin-password">Password</label>
        <input class="form-control" type="password" id="signin-password" name="password"
               autocomplete="current-password" required></div>
      <button class="btn btn-primary w-100" type="submit" id="signin-submit">Sign in</button>
    </form>
  </div>
</main></body></html>"""


@login_manager.user_loader
def _load_user(cookie_id: str):
    with get_db().session() as s:
        return load_signed_in(s, cookie_id)


def current_scope() -> Scope:
    """The signed-in user's scope, loaded once per request; Forbidden when anonymous."""
    if not current_user.is_authenticated:
        raise Forbidden()
    if "learnstats_scope" not in g:
        with get_db().session() as s:
            g.learnstats_scope = load_scope(s, current_user.id)
    return g.learnstats_scope


def _safe_next(target: str | None) -> str:
    """target when it is a path on this site, else "/" (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    # Browsers drop tabs and newlines and read "\\" as "/": "/\t/evil.example" is "//evil.example".
    if any(c == "\\" or not c.isprintable() for c in target) or urlsplit(target).netloc:
        return "/"
    # Signing in must not land on /logout (an expired session's "Sign out" click carries it).
    if urlsplit(target).path == "/logout":
        return "/"
    return target


def _csrf_token() -> str:
    token = session.get("csrf_token")
    if not token:
        token = session["csrf_token"] = secrets.token_urlsafe(32)
    return token


def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    message, level, email, status = "", "info", "", 200
    if request.args.get("signed_out"):
        message = "You have been signed out."
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        password = request.form.get("password", "")
        sent = request.form.get("csrf_token", "").encode()  # bytes: a non-ASCII str would raise
        if not secrets.compare_digest(sent, _csrf_token().encode()):
            message, level, status = "Your sign-in form expired; please try again.", "warning", 400
        else:
            with get_db().session() as s:
                user = authenticate(s, email, password)
                signed_in = to_signed_in(user) if user else None
            if signed_in is None:
                message, level, status = "Wrong email or password.", "danger", 401
            else:
                session.pop("csrf_token", None)
                login_user(signed_in)
                return redirect(_safe_next(request.args.get("next")))
    query = urlencode({"next": request.args["next"]}) if request.args.get("next") else ""
    html = render_template_string(
        SIGN_IN_PAGE,
        message=message,
        level=level,
        email=email,
        csrf_token=_csrf_token(),
        query=query,
    )
    return html, status


@login_required
def logout():
    with get_db().session() as s:
        end_sessions(s, current_user.id)
    logout_user()
    session.clear()
    return redirect("/login?signed_out=1")


def _guard():
    path = request.path
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return None
    if not current_user.is_authenticated:
        if path.startswith("/_dash-") or path.startswith("/download/") or request.method != "GET":
            return jsonify(error="sign in first"), 401
        target = request.full_path if request.query_string else path
        return redirect(url_for("auth.login", next=target))
    # A full page load (Dash's catch-all routes) of a page the user may not open answers 403,
    # of an address that is no page 404; the page drawn in the browser says why.
    page_access = current_app.extensions.get("learnstats_page_access")
    rule = request.url_rule.rule if request.url_rule is not None else None
    if page_access is not None and request.method == "GET" and rule in DASH_PAGE_RULES:
        allowed = page_access(path)
        if allowed is False:
            return current_app.extensions["learnstats_dash"].index(), 403
        if allowed is None:
            return current_app.extensions["learnstats_dash"].index(), 404
    return None


def _forbidden(_error):
    return jsonify(error="forbidden"), 403


def init_app(server: Flask) -> None:
    login_manager.init_app(server)
    server.add_url_rule("/login", "auth.login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "auth.logout", logout)
    server.before_request(_guard)
    server.register_error_handler(Forbidden, _forbidden)


__all__ = ["abort", "current_scope", "init_app", "login_manager"]
