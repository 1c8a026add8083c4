"""Download routes for the OPCO logs (SPEC §7), registered by create_app with init_app(server).

GET /download/opco-logs?<query>   "Download now": the file streamed as it is written. The query
                                  is exports/opco_request.py's; the sign-in guard sends an
                                  anonymous browser to the sign-in page (then /login/download)
                                  and answers other clients 401, a scope that may not export (or a
                                  session outside it) gets 403, a bad argument 400, each with
                                  a sentence saying why.
GET /exports/opco-logs/<token>    the link emailed by "Receive by email": signature, 7-day
                                  expiry and the signed-in user are checked (403 otherwise); an
                                  anonymous click is sent through the sign-in page first.
GET /exports/files/<token>        the same, for any stored file (the attestations' ZIP).
GET /download/attestation/<session>/<user>/<kind>
                                  one learner's attestation or certificat (kind "attestation"
                                  or "certificate") as a PDF, made with the saved defaults.
GET /attestation-images/<digest>  a stored logo or stamp, for those who may make attestations.

CSV rows are written to the response as they are read (stream_with_context). XLSX is written
with XlsxWriter's constant-memory mode to a temporary file, which is unlinked as soon as it is
open again for reading, then streamed: memory stays flat whatever the number of rows, and no
file is left behind even when the client goes away.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from html import escape
from typing import IO

from flask import Flask, Response, current_app, request, send_file, stream_with_context
from flask_login import current_user

from auth.guard import current_scope
from auth.language import N_
from data.config import current_settings
from data.db import get_db
from data.models import StoredImage
from data.scope import Forbidden, Scope
from exports.attestation_options import AttestationError, load_defaults
from exports.attestations import RENDERERS, can_make_documents, require_session, session_documents
from exports.files import NO_SPACE_MESSAGE, out_of_space
from exports.formatting import current_language, gettext, join_reasons
from exports.opco_logs import (
    NOTHING_TO_EXPORT,
    OpcoLogsError,
    has_opco_log_rows,
    iter_opco_logs_csv,
    write_opco_logs_xlsx,
)
from exports.opco_request import MEDIA_TYPES, OpcoExportRequest, download_filename, parse_opco_query
from exports.stored import REPORT_LINK, LinkError, exports_dir, read_download, stored_path

DOWNLOAD_PATH = "/download/opco-logs"


ATTESTATION_PATH = "/download/attestation"
FILE_TYPES = {**MEDIA_TYPES, "zip": "application/zip", "pdf": "application/pdf"}
CHUNK_BYTES = 64 * 1024

ERROR_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title} · Learnstats</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/bootstrap.min.css">
<link rel="stylesheet" href="/assets/learnstats.css"></head>
<body><main class="container py-5 ls-export-error" id="export-error">
<h1 class="h3">{status} · {title}</h1>
<p class="lead" id="export-error-message">{message}</p>
<p><a class="btn btn-outline-primary" href="/">{back}</a></p>
</main></body></html>"""


def may_export(scope: Scope) -> bool:
    """SPEC §6: session instructors, training managers and global roles export session logs
    (and make the sessions' attestations)."""
    return can_make_documents(scope)


def error_response(status: int, title: str, message: str) -> Response:
    """A small page (or JSON for clients that ask for it) with a sentence saying what is wrong,
    in the interface's language (title and message are catalogue texts when they are fixed)."""
    title, message = gettext(title), gettext(message)
    if request.accept_mimetypes.best == "application/json":
        response = current_app.json.response({"error": message})
        response.status_code = status
        return response
    html = ERROR_PAGE.format(
        status=status,
        title=escape(title),
        message=escape(message),
        lang=current_language(),
        back=escape(gettext("Back to Learnstats")),
    )
    return Response(html, status=status, mimetype="text/html")


def _attachment(response: Response, filename: str) -> Response:
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _file_chunks(file: IO[bytes]) -> Iterator[bytes]:
    with file:
        while chunk := file.read(CHUNK_BYTES):
            yield chunk


def _stream_csv(export: OpcoExportRequest, scope: Scope, filename: str) -> Response:
    tz = current_settings().tz
    stack = ExitStack()
    try:
        s = stack.enter_context(get_db().session())
        # Checks scope and filters now: a refusal is answered before any byte is sent.
        chunks = iter_opco_logs_csv(s, scope, export.filters, tz, export.delimiter)
    except BaseException:
        stack.close()
        raise

    def generate() -> Iterator[bytes]:
        with stack:
            yield from chunks

    # content_type, not mimetype: the media type already names its charset, which Flask would
    # add a second time to a text/* mimetype.
    response = Response(stream_with_context(generate()), content_type=export.media_type)
    return _attachment(response, filename)


def _stream_xlsx(export: OpcoExportRequest, scope: Scope, filename: str) -> Response:
    tz = current_settings().tz
    directory = exports_dir(current_app) / ".tmp"
    directory.mkdir(exist_ok=True)
    try:
        handle, path = tempfile.mkstemp(dir=directory, prefix="opco-", suffix=".xlsx")
    except OSError as error:
        if out_of_space(error):
            return _no_space_response()
        raise
    try:
        with get_db().session() as s, os.fdopen(handle, "wb") as file:
            write_opco_logs_xlsx(s, scope, export.filters, tz, file)
        reader = open(path, "rb")  # noqa: SIM115 - closed by the streaming generator
        size = os.fstat(reader.fileno()).st_size
    except Exception as error:
        if out_of_space(error):  # the partial file is deleted below; nothing is sent
            current_app.logger.error("OPCO logs XLSX not built: %s", error)
            return _no_space_response()
        raise
    finally:
        os.unlink(path)  # the open reader keeps the data until it is closed
    response = Response(_file_chunks(reader), content_type=MEDIA_TYPES["xlsx"], direct_passthrough=True)
    response.headers["Content-Length"] = str(size)
    return _attachment(response, filename)


def _no_space_response() -> Response:
    return error_response(
        507,
        N_("Not enough disk space"),
        gettext(
            "The XLSX file was not made: %(reason)s. Nothing was sent. Try the CSV format "
            "(it is streamed, not stored), a narrower export, or ask the administrator to free space.",
            reason=gettext(NO_SPACE_MESSAGE),
        ),
    )


def download_opco_logs() -> Response:
    """Download now: the OPCO logs for the query's filters, in the signed-in user's scope."""
    try:
        scope = current_scope()
    except Forbidden:
        return error_response(401, N_("Sign in first"), N_("Sign in to download the OPCO logs."))
    if not may_export(scope):
        return error_response(
            403,
            N_("Access refused"),
            N_("Exporting OPCO logs needs a session instructor, training manager or statistics role."),
        )
    try:
        export = parse_opco_query(request.args)
        today = datetime.now(current_settings().tz).date()
        filename = download_filename(export, today)
        with get_db().session() as s:
            if not has_opco_log_rows(s, scope, export.filters, current_settings().tz):
                return error_response(
                    404,
                    N_("Nothing to export"),
                    NOTHING_TO_EXPORT,
                )
        if export.format == "xlsx":
            return _stream_xlsx(export, scope, filename)
        return _stream_csv(export, scope, filename)
    except Forbidden as error:
        return error_response(403, N_("Access refused"), str(error) or N_("You may not export these logs."))
    except OpcoLogsError as error:
        return error_response(
            400, N_("Cannot export"), gettext("The export was not made: %(reason)s.", reason=error)
        )


def download_emailed_export(token: str) -> Response:
    """The link from the email: the stored file, for the user it was signed for only."""
    settings = current_settings()
    user_id = current_user.id if current_user.is_authenticated else None
    try:
        link = read_download(settings.secret_key, token, user_id)
        path = stored_path(current_app, link.stored_name)
    except (LinkError, ValueError) as error:
        message = str(error) if isinstance(error, LinkError) else gettext("This link is not valid.")
        return error_response(403, N_("Link refused"), message)
    # A scheduled report's file was built in this very user's scope (jobs/reports.py); the
    # other stored files are OPCO exports, for those who may still export them.
    if link.kind != REPORT_LINK and not may_export(current_scope()):
        return error_response(403, N_("Access refused"), N_("You may no longer export OPCO logs."))
    if not path.is_file():
        return error_response(
            410, N_("File removed"), N_("This file is no longer available: export it again from Learnstats.")
        )
    content_type = FILE_TYPES[link.stored_name.rsplit(".", 1)[-1]]
    response = send_file(
        path,
        mimetype=content_type,
        as_attachment=True,
        download_name=link.download_name,
        conditional=False,
        etag=False,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Type"] = content_type  # send_file would add the charset twice
    return response


def download_attestation(session_id: str, user_id: str, kind: str) -> Response:
    """One learner's attestation or certificat of one session, made now with the saved defaults."""
    try:
        scope = current_scope()
    except Forbidden:
        return error_response(401, N_("Sign in first"), N_("Sign in to download attestations."))
    if kind not in RENDERERS:
        return error_response(
            404,
            N_("Not found"),
            N_("There is no such document: this address must end with /attestation or /certificate."),
        )
    settings = current_settings()
    try:
        with get_db().session() as s:
            # The scope first: someone who may not make this session's documents is answered
            # 403, whatever the state of the platform's attestation details.
            require_session(s, scope, session_id)
            options = load_defaults(s, session_id)
            if options.problems():
                raise AttestationError(
                    gettext(
                        "the attestation details are not complete: open « OPCO attestations » on the "
                        "session's page and fill them in first (%(problems)s)",
                        problems=join_reasons(options.problems()),
                    )
                )
            (name, data), *_ = session_documents(
                s, scope, session_id, options, settings.tz, user_ids=[user_id], kinds=[kind]
            )
    except Forbidden:
        return error_response(403, N_("Access refused"), N_("You may not make this session's attestations."))
    except AttestationError as error:
        return error_response(
            400, N_("Cannot make the document"), gettext("Nothing was made: %(reason)s.", reason=error)
        )
    response = Response(data, content_type=FILE_TYPES["pdf"])
    response.headers["Content-Length"] = str(len(data))
    return _attachment(response, name)


def attestation_image(digest: str) -> Response:
    """A stored logo or stamp (the dialog's previews)."""
    try:
        scope = current_scope()
    except Forbidden:
        return error_response(401, N_("Sign in first"), N_("Sign in first."))
    if not can_make_documents(scope):
        return error_response(403, N_("Access refused"), N_("You may not see the attestations' images."))
    with get_db().session() as s:
        image = s.get(StoredImage, digest)
        if image is None:
            return error_response(404, N_("Not found"), N_("There is no such image."))
        response = Response(image.data, content_type=image.media_type)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def init_app(server: Flask) -> None:
    server.add_url_rule(DOWNLOAD_PATH, "exports.opco_logs", download_opco_logs)
    server.add_url_rule("/exports/opco-logs/<token>", "exports.opco_logs_emailed", download_emailed_export)
    server.add_url_rule("/exports/files/<token>", "exports.stored_file", download_emailed_export)
    server.add_url_rule(
        f"{ATTESTATION_PATH}/<path:session_id>/<path:user_id>/<kind>",
        "exports.attestation",
        download_attestation,
    )
    server.add_url_rule("/attestation-images/<digest>", "exports.attestation_image", attestation_image)


__all__ = [
    "ATTESTATION_PATH",
    "DOWNLOAD_PATH",
    "download_emailed_export",
    "download_opco_logs",
    "init_app",
    "may_export",
]
