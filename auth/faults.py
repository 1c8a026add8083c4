"""A database that cannot be written (locked by another writer, read-only, gone) answers with
a sentence, not a bare 500 after a 30-second hang (issue 10 point 7, docs/security.md).

Readers keep working: SQLite runs in WAL mode (a writer does not block readers) and a
read-only file still reads. A write waits at most DB_LOCK_TIMEOUT seconds for a lock
(data/db.py), then this handler answers 503 with Retry-After: JSON {"error": ...} for Dash's
callbacks and clients that ask for JSON, a small page otherwise.
"""

from __future__ import annotations

from html import escape

from flask import Flask, Response, current_app, request
from sqlalchemy.exc import DBAPIError, OperationalError

from auth.language import N_
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
<h1 class="h3">503 · {again}</h1>
<p class="lead" id="database-error-message">{message}</p>
<p><a class="btn btn-outline-primary" href="/">{back}</a></p>
</main></body></html>"""


def _database_error(error: DBAPIError) -> Response:
    message = gettext(database_problem(error))
    current_app.logger.warning("database error on %s %s: %s", request.method, request.path, error)
    wants_json = request.path.startswith("/_dash-") or request.accept_mimetypes.best == "application/json"
    if wants_json:
        response = current_app.json.response({"error": message})
    else:
        page = PAGE.format(
            message=escape(message),
            lang=current_language(),
            again=escape(gettext("Please try again")),
            back=escape(gettext("Back to Learnstats")),
        )
        response = Response(page, mimetype="text/html")
    response.status_code = 503
    response.headers["Retry-After"] = "60"
    return response


def init_app(server: Flask) -> None:
    server.register_error_handler(OperationalError, _database_error)
