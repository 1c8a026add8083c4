"""Flask-Login wiring, the sign-in and sign-out pages, and the guard on every request.

The guard runs before every request: anonymous ones get the sign-in page (page loads, and
links to files followed in a browser: after signing in, /login/download starts the file) or a
401 in JSON (Dash's /_dash-* endpoints, other methods than GET, and downloads asked for by
clients that do not prefer HTML); a full page load of a page the user may not
open answers 403. Dash page navigation and callbacks go through /_dash-update-component, so
each page layout and callback checks the scope again with current_scope().
"""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import quote, urlencode, urlsplit

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
from sqlalchemy.exc import SQLAlchemyError

from auth.forms import csrf_ok, csrf_token, safe_next
from auth.language import N_, gettext, language_switch, ngettext
from auth.limits import init_app as init_limits
from auth.limits import signin_limits
from auth.roles import load_scope
from auth.users import authenticate, end_sessions, load_signed_in, to_signed_in
from data.config import current_settings, settings_of
from data.db import get_db
from data.scope import Forbidden, Scope
from exports.formatting import current_language

# Exact paths: a prefix such as "/login" would also open "/login-x", which Dash answers with its page.
PUBLIC_PATHS = frozenset({"/login", "/language", "/_favicon.ico", "/healthz", "/readyz"})
PUBLIC_PREFIXES = ("/assets/",)

# The routes under which Dash serves its pages (full page loads).
DASH_PAGE_RULES = ("/", "/<path:path>")

login_manager = LoginManager()
login_manager.login_view = "auth.login"

# What every plain-HTML page of the guard (sign-in, sign-out, download landing) has in its head.
_HEAD_LINKS = """<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/_favicon.ico">
<link rel="stylesheet" href="/assets/bootstrap.min.css">
<link rel="stylesheet" href="/assets/learnstats.css"></head>"""

SIGN_IN_PAGE = (
    """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ _("Sign in") }} · Learnstats</title>
"""
    + _HEAD_LINKS
    + """
<body class="ls-signin-body">
<main class="ls-signin card shadow-sm">
  <div class="card-body p-4">
    <h1 class="h4 mb-1">Learnstats</h1>
    <p class="text-muted mb-4">{{ _("Sign in to your learning statistics.") }}</p>
    {% if message %}<div class="alert alert-{{ level }}" role="alert" id="signin-message">{{ message }}</div>{% endif %}
    <form method="post" action="/login{{ '?' + query if query else '' }}" id="signin-form">
      <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
      <div class="mb-3"><label class="form-label" for="signin-email">{{ _("Email") }}</label>
        <input class="form-control" type="email" id="signin-email" name="email" value="{{ email }}"
               autocomplete="username" required autofocus></div>
      <div class="mb-3"><label class="form-label" for="signin-password">{{ _("Password") }}</label>
        <input class="form-control" type="password" id="signin-password" name="password"
               autocomplete="current-password" required></div>
      <button class="btn btn-primary w-100" type="submit" id="signin-submit">{{ _("Sign in") }}</button>
    </form>
    {{ language_switch }}
  </div>
</main></body></html>"""
)


# Addresses that answer with a file to download rather than a page.
FILE_PREFIXES = ("/exports/", "/download/")

FILE_DOWNLOAD_PAGE = (
    """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ _("Download") }} · Learnstats</title>
<meta http-equiv="refresh" content="0; url={{ target }}">
"""
    + _HEAD_LINKS
    + """
<body class="ls-signin-body">
<main class="ls-signin card shadow-sm" id="file-download">
  <div class="card-body p-4">
    <h1 class="h4 mb-3">{{ _("Your download starts") }}</h1>
    <p>{{ _("You are signed in. Your file is being downloaded.") }}
      <a href="{{ target }}" id="file-download-link">{{ _("Download it again if nothing happens") }}</a></p>
    <a class="btn btn-primary w-100" href="/" id="file-download-home">{{ _("Go to Learnstats") }}</a>
  </div>
</main></body></html>"""
)


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
    """safe_next, and never /logout: signing in must not land there (an expired session's
    "Sign out" click carries it)."""
    target = safe_next(target)
    return "/" if urlsplit(target).path == "/logout" else target


def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    message, level, email, status = "", "info", "", 200
    headers: dict[str, str] = {}
    if request.args.get("signed_out"):
        message = gettext("You have been signed out.")
    elif request.args.get("expired"):
        minutes = current_settings().idle_timeout_minutes
        message = gettext(
            "Your session ended after %(duration)s without activity. Please sign in again.",
            duration=_duration(minutes),
        )
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        password = request.form.get("password", "")
        limits = signin_limits()
        refusal = None
        if not csrf_ok():
            message, level, status = gettext("Your sign-in form expired; please try again."), "warning", 400
        elif (refusal := limits.refusal(email)) is not None:
            message, level, status = refusal.message, "danger", 429
            headers["Retry-After"] = str(refusal.retry_after)
        else:
            with get_db().session() as s:
                user = authenticate(s, email, password)
                signed_in = to_signed_in(user) if user else None
            if signed_in is None:
                limits.failed(email)
                message, level, status = gettext("Wrong email or password."), "danger", 401
            else:
                limits.succeeded(email)
                session.clear()  # a new session: nothing from before signing in is carried over
                session.permanent = True
                login_user(signed_in)
                session[LAST_SEEN] = int(time.time())
                target = _safe_next(request.args.get("next"))
                if urlsplit(target).path.startswith(FILE_PREFIXES):
                    # A file (the emailed link): the browser would download it and keep the
                    # filled sign-in form on screen. Show a page that starts the download.
                    return redirect(url_for("auth.file_download", next=target))
                return redirect(target)
    query = urlencode({"next": request.args["next"]}) if request.args.get("next") else ""
    html = render_template_string(
        SIGN_IN_PAGE,
        message=message,
        level=level,
        email=email,
        csrf_token=csrf_token(),
        query=query,
        lang=current_language(),
        language_switch=language_switch(request.full_path if request.query_string else request.path),
    )
    return html, status, headers


def _duration(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(num)d hour", "%(num)d hours", hours)
    return ngettext("%(num)d minute", "%(num)d minutes", minutes)


SIGN_OUT_PAGE = (
    """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ _("Sign out") }} · Learnstats</title>
"""
    + _HEAD_LINKS
    + """
<body class="ls-signin-body">
<main class="ls-signin card shadow-sm">
  <div class="card-body p-4">
    <h1 class="h4 mb-1">Learnstats</h1>
    {% if message %}<div class="alert alert-{{ level }}" role="alert" id="signout-message">{{ message }}</div>{% endif %}
    {% if form %}
    <p class="mb-4">{% if name %}{{ _("Sign out of Learnstats, %(name)s?", name=name) }}{% else %}{{ _("Sign out of Learnstats?") }}{% endif %}</p>
    <form method="post" action="/logout" id="signout-form">
      <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
      <button class="btn btn-primary w-100" type="submit" id="signout-submit">{{ _("Sign out") }}</button>
    </form>
    <a class="btn btn-link w-100 mt-2" href="/" id="signout-cancel">{{ _("Stay signed in") }}</a>
    {% else %}
    <a class="btn btn-primary w-100" href="/login" id="signout-signin">{{ _("Sign in again") }}</a>
    {% endif %}
  </div>
</main></body></html>"""
)

# The pages' texts above, for the catalogue (pybabel reads Python, not these templates).
TEMPLATE_TEXTS = (
    N_("Sign in"),
    N_("Sign in to your learning statistics."),
    N_("Email"),
    N_("Password"),
    N_("Sign out"),
    N_("Sign out of Learnstats, %(name)s?"),
    N_("Sign out of Learnstats?"),
    N_("Stay signed in"),
    N_("Sign in again"),
    N_("Download"),
    N_("Your download starts"),
    N_("You are signed in. Your file is being downloaded."),
    N_("Download it again if nothing happens"),
    N_("Go to Learnstats"),
)

# How long signing out may wait for a locked database before giving up (seconds).
SIGN_OUT_DB_TIMEOUT = 2.0


@login_required
def file_download():
    """After signing in to reach a file: a page saying the download starts (it starts it with
    a meta refresh: no script), with a link to the file and one to the app."""
    target = _safe_next(request.args.get("next"))
    if not urlsplit(target).path.startswith(FILE_PREFIXES):
        return redirect(target)
    return render_template_string(FILE_DOWNLOAD_PAGE, target=target, lang=current_language())


def logout():
    """GET: a confirmation page with a sign-out button. POST (with the CSRF token): the session
    is cleared first, then every other session of the user is ended in the database; when the
    database cannot be written the user is signed out all the same and told so."""
    if request.method == "GET":
        if not current_user.is_authenticated:
            return redirect("/login?signed_out=1")
        return _sign_out_page(form=True)
    if not current_user.is_authenticated:
        session.clear()
        return redirect("/login?signed_out=1")
    if not csrf_ok():
        return _sign_out_page(
            form=True,
            message=gettext("This sign-out form expired; press Sign out again."),
            level="warning",
            status=400,
        )
    user_id = current_user.id
    logout_user()
    session.clear()
    try:
        with get_db().session(lock_timeout=SIGN_OUT_DB_TIMEOUT) as s:
            end_sessions(s, user_id)
    except SQLAlchemyError:
        current_app.logger.warning("sign-out of %s: other sessions not ended (database unavailable)", user_id)
        return _sign_out_page(
            form=False,
            message=gettext(
                "You are signed out of this browser. Your sessions in other browsers could not be "
                "ended because the database is not available right now; they end after "
                "%(duration)s without activity.",
                duration=_duration(current_settings().idle_timeout_minutes),
            ),
            level="warning",
            status=200,
        )
    return redirect("/login?signed_out=1")


def _sign_out_page(form: bool, message: str = "", level: str = "info", status: int = 200):
    name = getattr(current_user, "display_name", "") if current_user.is_authenticated else ""
    html = render_template_string(
        SIGN_OUT_PAGE,
        form=form,
        message=message,
        level=level,
        name=name,
        csrf_token=csrf_token() if form else "",
        lang=current_language(),
    )
    return html, status, {"Cache-Control": "no-store"}


LAST_SEEN = "last_seen"
# last_seen is rewritten (and the cookie re-sent) at most this often, in seconds.
LAST_SEEN_STEP = 60


def _idle_expired() -> bool:
    """True when the signed-in session has been idle too long (it is then ended); else the
    session's last activity is brought up to date."""
    now = int(time.time())
    timeout = current_settings().idle_timeout_minutes * 60
    last = session.get(LAST_SEEN)
    if not isinstance(last, int) or now - last > timeout:
        logout_user()
        session.clear()
        return True
    if now - last >= LAST_SEEN_STEP:
        session[LAST_SEEN] = now
    return False


def _raw_path() -> str:
    """The path as the browser sent it, still percent-encoded (an id's "/" is %2F there and a
    plain "/" in request.path), for matching page templates segment by segment."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw or not raw.startswith("/"):
        return quote(request.path)
    return raw.split("?", 1)[0]


def _wants_page() -> bool:
    """A person following a link in a browser: the GET's Accept header prefers an HTML page to
    JSON (a browser's navigation sends "text/html,…,*/*;q=0.8"). Scripts sending no Accept
    header or "*/*", and clients asking for JSON, keep the JSON answer."""
    accept = request.accept_mimetypes
    return accept.quality("text/html") > accept.quality("application/json")


def _guard():
    path = request.path
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return None
    expired = current_user.is_authenticated and _idle_expired()
    if not current_user.is_authenticated:
        if path == "/logout":
            return None  # signing out without a session says "signed out", never an error
        if (
            path.startswith("/_dash-")
            or request.method != "GET"
            or (path.startswith("/download/") and not _wants_page())
        ):
            if expired:
                return jsonify(
                    error=gettext("your session ended after a time without activity; sign in again")
                ), 401
            return jsonify(error=gettext("sign in first")), 401
        target = request.full_path if request.query_string else path
        if expired:
            return redirect(url_for("auth.login", next=target, expired=1))
        return redirect(url_for("auth.login", next=target))
    # A full page load (Dash's catch-all routes) of a page the user may not open answers 403,
    # of an address that is no page 404; the page drawn in the browser says why.
    page_access = current_app.extensions.get("learnstats_page_access")
    rule = request.url_rule.rule if request.url_rule is not None else None
    if page_access is not None and request.method == "GET" and rule in DASH_PAGE_RULES:
        allowed = page_access(_raw_path())
        if allowed is False:
            return current_app.extensions["learnstats_dash"].index(), 403
        if allowed is None:
            return current_app.extensions["learnstats_dash"].index(), 404
    return None


def _forbidden(_error):
    return jsonify(error=gettext("forbidden")), 403


def init_app(server: Flask) -> None:
    login_manager.init_app(server)
    init_limits(server)
    minutes = settings_of(server).idle_timeout_minutes
    server.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=minutes)
    server.add_url_rule("/login", "auth.login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "auth.logout", logout, methods=["GET", "POST"])
    server.add_url_rule("/login/download", "auth.file_download", file_download)
    server.before_request(_guard)
    server.register_error_handler(Forbidden, _forbidden)


__all__ = ["abort", "current_scope", "init_app", "login_manager"]
