"""The "PDF" button of the global, training, class and learner pages (issue 21): the page as
the viewer sees it, printed by headless Chromium on the server with the print stylesheet and
every learner of its tables (exports/page_pdf.py), returned as a file.

Ids: {"type": "page-pdf", "page": page} (button), {"type": "page-pdf-file", "page": page}
(dcc.Download), {"type": "page-pdf-message", "page": page}. The callback checks that the
signed-in user may open the page it is asked to print (403 otherwise) and prints it with the
user's own session: the printing browser sees what the user sees, nothing more.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, unquote, urlencode

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, dcc, html, no_update
from flask import request

from auth.guard import current_scope
from auth.language import gettext as _
from dashboards.access import page_access
from data.scope import Forbidden
from exports.page_pdf import print_page_pdf

log = logging.getLogger(__name__)
PRINT_QUERY = "print"  # ?print=1: the page as printed (every row of its learners tables)


def printing(query: dict) -> bool:
    """The page is drawn for paper (?print=1): its learners tables list every row."""
    return str(query.get(PRINT_QUERY, "")) == "1"


def _id(kind: str, page: str) -> dict:
    return {"type": kind, "page": page}


def build_pdf_button(page: str) -> html.Div:
    """The button, its download and its message (beside the page's title)."""
    return html.Div(
        [
            dbc.Button(
                _("PDF"),
                id=_id("page-pdf", page),
                color="primary",
                outline=True,
                size="sm",
                n_clicks=0,
                title=_("This page as a PDF file, with every learner of its tables"),
            ),
            dcc.Loading(dcc.Download(id=_id("page-pdf-file", page)), type="dot", delay_show=300),
            html.Div(id=_id("page-pdf-message", page), className="ls-pdf-message", role="status"),
        ],
        className="ls-pdf-action",
    )


def _file_name(path: str) -> str:
    parts = [unquote(p) for p in path.strip("/").split("/") if p] or ["overview"]
    safe = "-".join("".join(c if c.isalnum() or c in "-_" else "-" for c in p) for p in parts)
    return f"{safe}.pdf"


def _own_address() -> str:
    """This server on loopback, at the port it listens on: never the Host header (or
    X-Forwarded-Host/-Port) a client sent, so the printing browser cannot be sent to
    another machine with the user's cookie (server-side request forgery)."""
    environ = request.environ.get("werkzeug.proxy_fix.orig") or request.environ  # before ProxyFix
    port = str(environ.get("SERVER_PORT", ""))
    if not port.isdigit():  # a unix socket: no loopback address to print from
        raise ValueError("the server listens on no TCP port")
    host = "[::1]" if ":" in str(environ.get("SERVER_NAME", "")) else "127.0.0.1"
    return f"http://{host}:{port}"


def page_pdf(n_clicks, pathname, search):
    """(file, message): the page at pathname/search printed to PDF for the signed-in user."""
    if not n_clicks:
        return no_update, no_update
    current_scope()  # signed in (Forbidden otherwise)
    if not isinstance(pathname, str) or not pathname.startswith("/") or pathname.startswith("//"):
        raise Forbidden()
    if page_access(pathname) is not True:
        raise Forbidden()
    query = [(k, v) for k, v in parse_qsl((search or "").lstrip("?")) if k != PRINT_QUERY]
    try:
        url = f"{_own_address()}{pathname}?{urlencode([*query, (PRINT_QUERY, '1')])}"
        pdf = print_page_pdf(url, dict(request.cookies), request.headers.get("Accept-Language"))
    except Exception as error:
        log.warning("page PDF of %s failed: %s", pathname, error)
        return no_update, dbc.Alert(
            _("The PDF could not be made. Try again, or print the page from your browser."),
            color="warning",
            className="py-1 px-2 mb-0 small",
        )
    return dcc.send_bytes(pdf, _file_name(pathname), type="application/pdf"), None


def register_page_pdf_callbacks(app: Dash) -> None:
    from dash import MATCH

    app.callback(
        Output(_id("page-pdf-file", MATCH), "data"),
        Output(_id("page-pdf-message", MATCH), "children"),
        Input(_id("page-pdf", MATCH), "n_clicks"),
        State("_pages_location", "pathname"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )(page_pdf)
