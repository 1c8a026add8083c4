"""A database that cannot be written (locked by another writer, read-only, gone) answers with
a sentence, not a bare 500 after a 30-second hang (issue 10 point 7, docs/security.md).

Readers keep working: SQLite runs in WAL mode (a writer does not block readers) and a
read-only file still reads. A write waits at most DB_LOCK_TIMEOUT seconds for a lock
(data/db.py), then this handler answers 503 with Retry-After: JSON {"error": ...} for Dash's
callbacks and clients that ask for JSON, a small page otherwise.
"""

from __future__ import annotations

import functools
from html import escape

from flask import Flask, Response, current_app, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import RequestEntityTooLarge

from auth.language import N_
from data.errors import CommandFailed
from exports.formatting import current_language, gettext


def database_problem(error: BaseException) -> str:
    """A sentence for a database error a user may meet."""
    text = str(getattr(error, "orig", error)).lower()
    if "locked" in text or "lock timeout" in text or "could not obtain lock" in text or "deadlock" in text:
        return N_(
            "The database is busy with another change (an import, perhaps) and this change could "
            "not be saved. Nothing was changed; try again in a minute."
        )
    if "readonly" in text or "read-only" in text or "read only" in text:
        return N_(
            "The database is read-only at the moment (maintenance), so this change could not be "
            "saved. Pages can still be read."
        )
    return N_("The database cannot be reached right now; nothing was changed. Try again in a minute.")


PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{again} · Learnstats</title>
<link rel="stylesheet" href="/assets/bootstrap.min.css">
<link rel="stylesheet" href="/assets/learnstats.css"></head>
<body><main class="container py-5" id="database-error">
<h1 class="h3">{status} · {again}</h1>
<p class="lead" id="database-error-message">{message}</p>
<p><a class="btn btn-outline-primary" href="/">{back}</a></p>
</main></body></html>"""


def _answer(status: int, message: str, title: str) -> Response:
    """JSON {"error": message} for Dash's callbacks and clients that ask for JSON, a small page
    otherwise."""
    wants_json = request.path.startswith("/_dash-") or request.accept_mimetypes.best == "application/json"
    if wants_json:
        response = current_app.json.response({"error": message})
    else:
        page = PAGE.format(
            status=status,
            message=escape(message),
            lang=current_language(),
            again=escape(title),
            back=escape(gettext("Back to Learnstats")),
        )
        response = Response(page, mimetype="text/html")
    response.status_code = status
    return response


def _database_error(error: DBAPIError) -> Response:
    current_app.logger.warning("database error on %s %s: %s", request.method, request.path, error)
    response = _answer(503, gettext(database_problem(error)), gettext("Please try again"))
    response.headers["Retry-After"] = "60"
    return response


def _too_large(error: RequestEntityTooLarge) -> Response:
    """A body over LEARNSTATS_MAX_REQUEST_MB (issue 23): refused before it is read."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    current_app.logger.warning(
        "request body refused on %s %s: %s bytes announced, limit %s", request.method, request.path,
        request.content_length, limit,
    )  # fmt: skip
    message = gettext(
        "This request is too large (over %(size)s MB); nothing was changed.", size=max(1, limit // 2**20)
    )
    response = _answer(413, message, gettext("Request too large"))
    response.headers["Connection"] = "close"  # the unread body is not kept on the connection
    return response


def _refuse_large_body() -> None:
    """First of the request's hooks: a body announced over the limit is refused before anything
    reads it (the sign-in form, the callback guard, Dash), signed in or not."""
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()


def _without_database_tracebacks(name: str, callback):
    """A command whose database error (busy, read-only, gone) ends with the sentence pages give,
    not a traceback: SQLAlchemy's text carries the statement's parameters (set-password printed
    the new password's hash and salt, issue 23)."""

    @functools.wraps(callback)
    def run(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except DBAPIError as error:
            current_app.logger.debug(
                "%s: database error %s", name, type(getattr(error, "orig", error)).__name__
            )
            raise CommandFailed(f"{name}: {database_problem(error)}") from None

    return run


def guard_commands(server: Flask) -> None:
    """Every `flask --app app ...` command answers a database error with a sentence."""
    for name, command in server.cli.commands.items():
        if command.callback is not None and not getattr(command.callback, "_learnstats_guarded", False):
            command.callback = _without_database_tracebacks(name, command.callback)
            command.callback._learnstats_guarded = True


def init_app(server: Flask) -> None:
    server.register_error_handler(OperationalError, _database_error)
    server.register_error_handler(RequestEntityTooLarge, _too_large)
    server.before_request_funcs.setdefault(None, []).insert(0, _refuse_large_body)
    guard_commands(server)
