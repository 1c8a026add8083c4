"""The session page's "EDOF file" dialog (SPEC §10): the EDOF completion file of the session,
as CSV or XLSX (exports/edof.py), for those who may open the session (its instructors, the
managers of its training, global roles).

The declared duration is preset from the attestations' saved default and can be changed here
(it is not saved: the attestations dialog keeps the default). Every callback checks the
signed-in user's scope again. Component ids start with "edof-".
"""

from __future__ import annotations

from datetime import datetime

import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from auth.guard import current_scope
from auth.language import gettext as _
from dashboards.dialogs.attestations import language_options
from dashboards.dialogs.schedule import build_schedule_button
from data.config import current_settings
from data.db import get_db
from data.edof import UnknownSession, require_session
from data.scope import Forbidden, Scope
from exports.attestation_options import load_defaults
from exports.edof import EdofError, edof_file, edof_filename
from exports.formatting import current_language
from exports.opco_request import MEDIA_TYPES


def build_edof_controls(scope: Scope, session_id: str) -> list:
    """The "EDOF file" button and its dialog (the page has already checked the scope)."""
    return [
        html.Div(
            [
                dbc.Button(
                    _("EDOF file"),
                    id="edof-open-button",
                    color="primary",
                    outline=True,
                    size="sm",
                    n_clicks=0,
                ),
                dbc.Modal(
                    [
                        dbc.ModalHeader(dbc.ModalTitle(_("EDOF completion file"))),
                        dbc.ModalBody(
                            [
                                html.P(
                                    _(
                                        "One row per learner of the session (blocked ones too): entry and "
                                        "exit dates, planned and realised durations, completion rate and "
                                        "status, for Mon Compte Formation."
                                    ),
                                    className="small text-muted",
                                ),
                                dbc.Label(
                                    _("Declared duration of the session (hours)"), html_for="edof-duration"
                                ),
                                dbc.Input(
                                    id="edof-duration", type="text", inputMode="decimal", debounce=False
                                ),
                                dbc.Label(
                                    _("Language of the file"), html_for="edof-language", className="mt-2"
                                ),
                                dbc.RadioItems(
                                    id="edof-language",
                                    options=language_options(),
                                    value="fr",
                                    inline=True,
                                ),
                                html.Div(id="edof-message", role="alert", className="mt-2"),
                            ]
                        ),
                        dbc.ModalFooter(
                            [
                                dbc.Button(
                                    _("Download CSV"), id="edof-csv-button", color="primary", n_clicks=0
                                ),
                                dbc.Button(
                                    _("Download XLSX"), id="edof-xlsx-button", color="primary", n_clicks=0
                                ),
                                # Sent by email on a calendar (exports/report_kinds.py "edof").
                                build_schedule_button(
                                    "edof",
                                    "edof",
                                    "edof",
                                    {"session_id": session_id, "language": "fr"},
                                    title=_("EDOF file"),
                                ),
                            ]
                        ),
                    ],
                    id="edof-dialog",
                    is_open=False,
                ),
                dcc.Download(id="edof-download"),
                dcc.Store(id="edof-session", data=session_id),
            ],
            className="ls-opco-controls ls-edof-controls",
        )
    ]


def _require(session_id) -> Scope:
    scope = current_scope()
    if not isinstance(session_id, str) or not session_id:
        raise Forbidden()
    with get_db().session() as s:
        try:
            require_session(s, scope, session_id)
        except UnknownSession:
            raise Forbidden() from None
    return scope


@callback(
    Output("edof-dialog", "is_open"),
    Output("edof-duration", "value"),
    Output("edof-language", "value"),
    Input("edof-open-button", "n_clicks"),
    State("edof-session", "data"),
    prevent_initial_call=True,
)
def open_edof_dialog(n_clicks, session_id):
    """Opening: the attestations' saved duration and the interface's language."""
    if not n_clicks:
        raise PreventUpdate
    _require(session_id)
    with get_db().session() as s:
        hours = load_defaults(s, session_id).duration_hours
    text = "" if hours is None else f"{hours:g}"
    return True, text, current_language()


def edof_download(kind: str, session_id, duration, language):
    """(dcc.Download data or None, message): the file made in the signed-in user's scope."""
    scope = _require(session_id)
    tz = current_settings().tz
    try:
        with get_db().session() as s:
            data = edof_file(
                s,
                scope,
                [session_id],
                tz,
                kind,
                language if language in ("fr", "en") else "fr",
                duration if duration not in (None, "") else None,
                delimiter=";" if language == "fr" else ",",
            )
    except EdofError as error:
        return None, dbc.Alert(_("The file was not made: %(reason)s.", reason=error), color="danger")
    name = edof_filename([session_id], kind, datetime.now(tz).date())
    return dcc.send_bytes(data, name, type=MEDIA_TYPES[kind]), ""


@callback(
    Output("edof-download", "data"),
    Output("edof-message", "children"),
    Input("edof-csv-button", "n_clicks"),
    Input("edof-xlsx-button", "n_clicks"),
    State("edof-session", "data"),
    State("edof-duration", "value"),
    State("edof-language", "value"),
    prevent_initial_call=True,
)
def download_edof_file(csv_clicks, xlsx_clicks, session_id, duration, language):
    from dash import ctx

    if not (csv_clicks or xlsx_clicks):
        raise PreventUpdate
    kind = "xlsx" if ctx.triggered_id == "edof-xlsx-button" else "csv"
    data, message = edof_download(kind, session_id, duration, language)
    return (data if data is not None else no_update), message


__all__ = ["build_edof_controls", "download_edof_file", "edof_download", "open_edof_dialog"]
