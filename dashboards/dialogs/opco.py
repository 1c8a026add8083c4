"""The OPCO logs export dialog (SPEC §7), shared by the overview, sessions and session pages.

A page puts `build_opco_export_controls(scope, session_id=...)` in its header: an "Export OPCO
logs" button (only for users who may export a session) and the dialog, preset to one session
or to every session in scope. create_app calls `register_opco_dialog_callbacks(app)` once per
app (dash.callback in a non-page module would only reach the first app of the process).

Download now is a plain link to /download/opco-logs?<query> (exports/routes.py) built from the
filters, so the browser streams the file itself. Receive by email is two callbacks: a normal one
checks the request in the user's scope and enqueues (jobs/opco_email.py opco_email_ticket: the
signed ticket of user, scope and filters), then that module's background callback
email_opco_logs (jobs/background.py: diskcache or Celery, no request context there) runs the
job, reporting queued / building / sending / sent / failed through its `progress` output
(opco-job-progress), which the dialog shows while the job runs.

Component ids: opco-open-button, opco-dialog, opco-granularity, opco-preset, opco-dates, opco-sessions,
opco-users, opco-groups, opco-fields, opco-columns, opco-all-columns, opco-format,
opco-message, opco-download-link, opco-email-button, opco-email-note, opco-email-ticket,
opco-job-queued, opco-job-progress, opco-job-result, opco-job-status.
"""

from __future__ import annotations

import json

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate
from flask import current_app
from flask_login import current_user

from auth.guard import current_scope
from auth.hosts import UntrustedHost, link_base_url
from auth.language import N_
from auth.language import gettext as _
from dashboards.components.texts import dropdown
from dashboards.dialogs.schedule import build_schedule_button
from data import export_options as options_data
from data.config import current_settings
from data.db import get_db
from data.scope import Forbidden, Scope
from exports.formatting import csv_dialect, current_language
from exports.opco_granularities import DEFAULT_GRANULARITY, GRANULARITIES, GRANULARITY_LABELS
from exports.opco_logs import (
    NOTHING_TO_EXPORT,
    OpcoLogFilters,
    OpcoLogsError,
    has_opco_log_rows,
    opco_log_header,
)
from exports.opco_request import BadOpcoRequest, OpcoExportRequest, parse_opco_pairs
from exports.routes import DOWNLOAD_PATH, may_export
from jobs.mail import mail_problem
from jobs.opco_email import OpcoEmailJob, email_opco_logs, new_job_id, opco_email_ticket, queued_state
from jobs.slots import JobRefused, admit

FORMAT_OPTIONS = [
    {"label": N_("CSV, comma-separated"), "value": "csv-comma"},
    {"label": N_("CSV, semicolon-separated (Excel in French)"), "value": "csv-semicolon"},
    {"label": N_("XLSX (Excel workbook)"), "value": "xlsx"},
]


def default_format() -> str:
    """The CSV delimiter a spreadsheet in the interface's language expects: ";" in French."""
    return "csv-semicolon" if csv_dialect()[0] == ";" else "csv-comma"


TITLE_OPTIONS = [
    {"label": N_("English (Last name, First name, …, Connected, Disconnected, Time spent)"), "value": "en"},
    {"label": N_("French (Nom, Prénom, …, Connexion, Déconnexion, Temps passé)"), "value": "fr"},
]
STATE_COLORS = {
    "queued": "secondary",
    "building": "info",
    "sending": "info",
    "sent": "success",
    "failed": "danger",
}
STATE_ORDER = ("queued", "building", "sending", "sent", "failed")
LINK_CLASS = "btn btn-primary"


# -- layout ----------------------------------------------------------------------------------


def can_export_some_session(scope: Scope) -> bool:
    """May export, and has at least one session to export."""
    if not may_export(scope):
        return False
    with get_db().session() as s:
        return options_data.exportable_session_count(s, scope) > 0


def _translated(options: list[dict]) -> list[dict]:
    return [{**option, "label": _(option["label"])} for option in options]


def _field(label: str, control, help_text: str | None = None, label_for: str | None = None) -> html.Div:
    children = [html.Label(_(label), className="form-label fw-semibold mb-1", htmlFor=label_for), control]
    if help_text:
        children.append(html.Div(_(help_text), className="form-text"))
    return html.Div(children, className="mb-3")


def build_opco_dialog(session_ids: tuple[str, ...] = ()) -> html.Div:
    """The dialog, preset to session_ids (none: every session in the viewer's scope)."""
    body = dbc.ModalBody(
        [
            _field(
                N_("Granularity"),
                dbc.RadioItems(
                    id="opco-granularity",
                    options=[
                        {"label": _(GRANULARITY_LABELS[value]), "value": value} for value in GRANULARITIES
                    ],
                    value=DEFAULT_GRANULARITY,
                ),
                N_("What one row of the file stands for (SPEC §9); the filters below apply to each."),
            ),
            _field(
                N_("Period"),
                dcc.DatePickerRange(
                    id="opco-dates",
                    display_format="DD/MM/YYYY",
                    first_day_of_week=1,
                    minimum_nights=0,
                    clearable=True,
                    start_date_placeholder_text=_("First day"),
                    end_date_placeholder_text=_("Last day"),
                ),
                N_("Connections that started on these days (platform time zone). Empty: every day."),
            ),
            _field(
                N_("Sessions"),
                dropdown(
                    id="opco-sessions",
                    multi=True,
                    placeholder=_("Every session you may export"),
                ),
                label_for="opco-sessions",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        _field(
                            N_("Users"),
                            dropdown(
                                id="opco-users",
                                multi=True,
                                placeholder=_("Everyone (type to search)"),
                            ),
                        ),
                        md=6,
                    ),
                    dbc.Col(
                        _field(
                            N_("Groups (classes)"),
                            dropdown(id="opco-groups", multi=True, placeholder=_("Any")),
                        ),
                        md=6,
                    ),
                ]
            ),
            _field(
                N_("Custom field values"),
                dropdown(id="opco-fields", multi=True, placeholder=_("Any value")),
                N_("Two values of one field: either; values of different fields: both."),
            ),
            _field(
                N_("Custom field columns"),
                dbc.Checklist(id="opco-columns", inline=True, options=[], value=[]),
                N_("The custom fields written as columns (all by default)."),
            ),
            _field(
                N_("Format"),
                dbc.RadioItems(id="opco-format", options=_translated(FORMAT_OPTIONS), value=default_format()),
            ),
            _field(
                N_("Column titles"),
                dbc.RadioItems(id="opco-titles", options=_translated(TITLE_OPTIONS), value="en"),
                N_("SPEC's English titles are what OPCOs expect; French titles on request."),
            ),
        ]
    )
    footer = dbc.ModalFooter(
        [
            # Full-width lines above the buttons, always in view: what is wrong, the job's state.
            html.Div(id="opco-message", className="ls-opco-message w-100", role="alert"),
            html.Div(id="opco-job-status", className="ls-opco-job w-100", role="status"),
            html.Div(id="opco-email-note", className="ls-opco-email-note text-muted me-auto"),
            # "Schedule…": these filters sent by email on a calendar (dashboards/dialogs/schedule.py).
            build_schedule_button("opco", "opco", "opco-logs", {"query": ""}, title=_("OPCO export")),
            dbc.Button(
                _("Receive by email"),
                id="opco-email-button",
                color="secondary",
                outline=True,
                n_clicks=0,
                disabled=True,
            ),
            html.A(
                _("Download now"),
                id="opco-download-link",
                className=LINK_CLASS + " disabled",
                role="button",
            ),
        ]
    )
    return html.Div(
        [
            dcc.Store(id="opco-preset", data={"session_ids": list(session_ids)}),
            dcc.Store(id="opco-all-columns", data=[]),
            dcc.Store(id="opco-email-ticket"),
            dcc.Store(id="opco-job-queued"),
            dcc.Store(id="opco-job-progress"),
            dcc.Store(id="opco-job-result"),
            dbc.Modal(
                [dbc.ModalHeader(dbc.ModalTitle(_("Export OPCO logs"))), body, footer],
                id="opco-dialog",
                is_open=False,
                size="lg",
                scrollable=True,
                className="ls-opco-dialog",
            ),
        ],
        className="ls-opco-export",
    )


def build_opco_export_controls(scope: Scope, session_id: str | None = None) -> list:
    """The "Export OPCO logs" button and its dialog, or nothing for users who may not export."""
    if not can_export_some_session(scope):
        return []
    return [
        html.Div(
            [
                dbc.Button(
                    _("Export OPCO logs"),
                    id="opco-open-button",
                    color="primary",
                    outline=True,
                    size="sm",
                    n_clicks=0,
                ),
                build_opco_dialog((session_id,) if session_id else ()),
            ],
            className="ls-opco-controls",
        )
    ]


# -- callback logic (plain functions, tested without a browser) -------------------------------


def _day(value) -> str | None:
    if not value:
        return None
    return str(value)[:10]


def request_from_dialog(
    start_date,
    end_date,
    session_ids,
    user_ids,
    class_ids,
    field_values,
    columns,
    all_columns,
    fmt,
    titles="en",
    granularity=DEFAULT_GRANULARITY,
) -> OpcoExportRequest:
    """The export request the dialog's values mean; BadOpcoRequest for a value that cannot be read."""
    pairs: list[tuple[str, str]] = []
    if _day(start_date):
        pairs.append(("from", _day(start_date)))
    if _day(end_date):
        pairs.append(("to", _day(end_date)))
    pairs += [("session", str(v)) for v in session_ids or []]
    pairs += [("user", str(v)) for v in user_ids or []]
    pairs += [("group", str(v)) for v in class_ids or []]
    for value in field_values or []:
        try:
            name, text = json.loads(value)
        except (TypeError, ValueError):
            raise BadOpcoRequest(_("field: %(value)r is not a custom field value", value=value)) from None
        pairs.append(("field", f"{name}={text}"))
    chosen = list(columns or [])
    if set(chosen) != set(all_columns or []):
        pairs += [("columns", c) for c in chosen] if chosen else [("columns", "")]
    kind = fmt or "csv-comma"
    if kind not in {o["value"] for o in FORMAT_OPTIONS}:
        raise BadOpcoRequest(_("format: %(value)r is not a known format", value=kind))
    if titles and titles != "en":
        pairs.append(("titles", str(titles)))
    if granularity and granularity != DEFAULT_GRANULARITY:
        pairs.append(("granularity", str(granularity)))
    pairs.append(("format", "xlsx" if kind == "xlsx" else "csv"))
    if kind != "xlsx":
        pairs.append(("delimiter", ";" if kind == "csv-semicolon" else ","))
    return parse_opco_pairs(pairs)


def check_export(scope: Scope, export: OpcoExportRequest) -> bool:
    """Raise Forbidden (scope) or OpcoLogsError (filters) as the download route would; then
    whether the export holds at least one row (one EXISTS-style query, LIMIT 1), since the
    route answers 404 "Nothing to export" for filters that match no connection."""
    if not may_export(scope):
        raise Forbidden()
    with get_db().session() as s:
        opco_log_header(s, scope, export.filters)
        return has_opco_log_rows(s, scope, export.filters, current_settings().tz)


def download_href(export: OpcoExportRequest) -> str:
    return f"{DOWNLOAD_PATH}?{export.to_query()}"


def _field_option(name: str, value: str) -> dict:
    label = _("%(label)s: %(value)s", label=name, value=value) if value else _("%(name)s: (empty)", name=name)
    return {"label": label, "value": json.dumps([name, value])}


def open_opco_dialog(n_clicks, preset, current_sessions):
    """Opening the dialog: options in the viewer's scope; on the first opening, the preset."""
    if not n_clicks:
        raise PreventUpdate
    scope = current_scope()
    if not may_export(scope):
        raise Forbidden()
    preset_ids = list((preset or {}).get("session_ids") or [])
    settings = current_settings()
    with get_db().session() as s:
        for session_id in preset_ids:
            scope.require(isinstance(session_id, str) and scope.can_view_session(s, session_id))
        sessions = [{"label": o.label, "value": o.value} for o in options_data.session_options(s, scope)]
        groups = [{"label": o.label, "value": o.value} for o in options_data.class_options(s, scope)]
        fields = [_field_option(n, v) for n, v in options_data.field_value_options(s, scope)]
        names = options_data.field_names(s)
    columns = [{"label": n, "value": n} for n in names]
    first_opening = n_clicks == 1
    problem = mail_problem(settings.smtp_url, admin=scope.is_admin)
    # The email button's state is update_download_link's: it depends on the filters too.
    return (
        True,
        sessions,
        preset_ids if first_opening else no_update,
        groups,
        fields,
        columns,
        names if first_opening else no_update,
        names,
        problem
        or _("The file will be emailed to %(email)s with a link valid 7 days.", email=current_user.email),
    )


def search_opco_users(search, chosen):
    """Users matching what is typed (people of the viewer's sessions), keeping those chosen."""
    scope = current_scope()
    if not may_export(scope):
        raise Forbidden()
    chosen = [str(c) for c in chosen or []]
    with get_db().session() as s:
        found = options_data.user_options(s, scope, search=search, include=tuple(chosen))
    return [{"label": o.label, "value": o.value} for o in found]


def update_download_link(
    start_date,
    end_date,
    sessions,
    users,
    groups,
    fields,
    columns,
    all_columns,
    fmt,
    titles="en",
    granularity=DEFAULT_GRANULARITY,
):
    """The Download now link for the dialog's values, whether Receive by email may be pressed,
    and a message saying what is wrong: (href, link class, message, email button disabled).

    Filters that match no connection disable both buttons and say so here, instead of a link
    that would leave the app for the route's bare 404 page."""
    scope = current_scope()
    no_mail = mail_problem(current_settings().smtp_url, admin=scope.is_admin) is not None
    try:
        export = request_from_dialog(
            start_date,
            end_date,
            sessions,
            users,
            groups,
            fields,
            columns,
            all_columns,
            fmt,
            titles,
            granularity,
        )
        has_rows = check_export(scope, export)
    except OpcoLogsError as error:
        message = dbc.Alert(
            _("Cannot export: %(reason)s.", reason=error), color="warning", className="py-2 mb-2"
        )
        return None, LINK_CLASS + " disabled", message, True
    if not has_rows:
        message = dbc.Alert(
            _(NOTHING_TO_EXPORT), color="warning", className="py-2 mb-2", id="opco-nothing-to-export"
        )
        return None, LINK_CLASS + " disabled", message, True
    return download_href(export), LINK_CLASS, None, no_mail


def _base_url() -> str:
    """LEARNSTATS_BASE_URL, else the address the browser used for this request when its host
    is allowed (auth/hosts.py; UntrustedHost otherwise)."""
    return link_base_url()


def request_opco_email(
    n_clicks,
    start_date,
    end_date,
    sessions,
    users,
    groups,
    fields,
    columns,
    all_columns,
    fmt,
    titles="en",
    granularity=DEFAULT_GRANULARITY,
):
    """Receive by email: check the request now, in the user's scope, and queue the job."""
    if not n_clicks:
        raise PreventUpdate
    scope = current_scope()
    settings = current_settings()
    job_id = new_job_id()
    try:
        export = request_from_dialog(
            start_date,
            end_date,
            sessions,
            users,
            groups,
            fields,
            columns,
            all_columns,
            fmt,
            titles,
            granularity,
        )
        # The scope first (Forbidden: 403), whatever else is wrong with the request.
        has_rows = check_export(scope, export)
    except OpcoLogsError as error:
        return None, {
            "job": job_id,
            "state": "failed",
            "message": _("Cannot export: %(reason)s.", reason=error),
            "at": "",
        }
    if not has_rows:  # the button is disabled then; a forged or stale click is answered here
        return None, {"job": job_id, "state": "failed", "message": _(NOTHING_TO_EXPORT), "at": ""}
    problem = mail_problem(settings.smtp_url, admin=scope.is_admin)
    if problem:
        return None, {"job": job_id, "state": "failed", "message": problem, "at": ""}
    try:
        base_url = _base_url()
    except UntrustedHost as error:
        return None, {
            "job": job_id,
            "state": "failed",
            "message": _("Cannot send the email: %(reason)s.", reason=error),
            "at": "",
        }
    job = OpcoEmailJob(
        job_id=job_id,
        user_id=current_user.id,
        email=current_user.email,
        name=current_user.display_name,
        scope=scope,
        request=export,
        base_url=base_url,
        language=current_language(),
    )
    try:
        admit(current_app, current_user.id, job_id)  # at most N jobs at once (jobs/slots.py)
    except JobRefused as error:
        return None, {
            "job": job_id,
            "state": "failed",
            "message": _("Cannot send the email: %(reason)s.", reason=error),
            "at": "",
        }
    return opco_email_ticket(current_app, job), queued_state(job)


def update_schedule_spec(
    start_date,
    end_date,
    sessions,
    users,
    groups,
    fields,
    columns,
    all_columns,
    fmt,
    titles="en",
    granularity=DEFAULT_GRANULARITY,
):
    """What "Schedule…" would send: the dialog's request (its query string), once it can be
    read; the scope is checked when the schedule dialog opens and when it is saved."""
    try:
        export = request_from_dialog(
            start_date,
            end_date,
            sessions,
            users,
            groups,
            fields,
            columns,
            all_columns,
            fmt,
            titles,
            granularity,
        )
    except OpcoLogsError:
        return no_update
    return {"kind": "opco-logs", "params": {"query": export.to_query()}, "title": _("OPCO export")}


def latest_job_state(queued: dict | None, progress: dict | None, result: dict | None) -> dict | None:
    """The newest state of the current job (the one queued last)."""
    current = (queued or {}).get("job")
    states = [s for s in (queued, progress, result) if isinstance(s, dict) and s.get("job") == current]
    if not states:
        return None

    def rank(state: dict) -> tuple[str, int]:
        name = state.get("state")
        return (state.get("at") or "", STATE_ORDER.index(name) if name in STATE_ORDER else -1)

    return max(states, key=rank)


def show_opco_job_state(queued, progress, result):
    """The job's state as a coloured line in the dialog."""
    state = latest_job_state(queued, progress, result)
    if state is None:
        return None
    name = state.get("state", "")
    busy = name in ("queued", "building", "sending")
    children = [html.Span(name.capitalize(), className="fw-semibold me-2", id="opco-job-state-name")]
    if busy:
        children.insert(0, dbc.Spinner(size="sm", spinner_class_name="me-2"))
    children.append(html.Span(state.get("message", ""), id="opco-job-state-message"))
    return dbc.Alert(
        children, color=STATE_COLORS.get(name, "secondary"), className="py-2 mb-0 d-flex align-items-center"
    )


# -- registration ----------------------------------------------------------------------------

_FILTER_STATES = (
    ("opco-dates", "start_date"),
    ("opco-dates", "end_date"),
    ("opco-sessions", "value"),
    ("opco-users", "value"),
    ("opco-groups", "value"),
    ("opco-fields", "value"),
    ("opco-columns", "value"),
    ("opco-all-columns", "data"),
    ("opco-format", "value"),
    ("opco-titles", "value"),
    ("opco-granularity", "value"),
)


def register_opco_dialog_callbacks(app: dash.Dash) -> None:
    """The dialog's callbacks, on this app (called once per app by create_app)."""
    app.callback(
        Output("opco-dialog", "is_open"),
        Output("opco-sessions", "options"),
        Output("opco-sessions", "value"),
        Output("opco-groups", "options"),
        Output("opco-fields", "options"),
        Output("opco-columns", "options"),
        Output("opco-columns", "value"),
        Output("opco-all-columns", "data"),
        Output("opco-email-note", "children"),
        Input("opco-open-button", "n_clicks"),
        State("opco-preset", "data"),
        State("opco-sessions", "value"),
        prevent_initial_call=True,
    )(open_opco_dialog)
    app.callback(
        Output("opco-users", "options"),
        Input("opco-users", "search_value"),
        State("opco-users", "value"),
    )(search_opco_users)
    app.callback(
        Output("opco-download-link", "href"),
        Output("opco-download-link", "className"),
        Output("opco-message", "children"),
        Output("opco-email-button", "disabled"),
        *(Input(i, p) for i, p in _FILTER_STATES),
    )(update_download_link)
    app.callback(
        Output({"type": "schedule-spec", "page": "opco", "table": "opco"}, "data"),
        *(Input(i, p) for i, p in _FILTER_STATES),
    )(update_schedule_spec)
    app.callback(
        Output("opco-email-ticket", "data"),
        Output("opco-job-queued", "data"),
        Input("opco-email-button", "n_clicks"),
        *(State(i, p) for i, p in _FILTER_STATES),
        prevent_initial_call=True,
    )(request_opco_email)
    app.callback(
        Output("opco-job-result", "data"),
        Input("opco-email-ticket", "data"),
        background=True,
        progress=[Output("opco-job-progress", "data")],
        running=[(Output("opco-email-button", "disabled"), True, False)],
        prevent_initial_call=True,
    )(email_opco_logs)
    # The job's state is shown from the queued store and the background callback's progress
    # output only. opco-job-result is the background callback's own output: as an Input it
    # would hold this callback back until the job ends (the renderer waits for a pending
    # callback's outputs), so the live states (queued, building, sending, attempt n of 3)
    # would never show. It is read as State; the final state also comes through set_progress
    # (the last progress value is sent with the result, and without progress_default it stays).
    app.callback(
        Output("opco-job-status", "children"),
        Input("opco-job-queued", "data"),
        Input("opco-job-progress", "data"),
        State("opco-job-result", "data"),
        prevent_initial_call=True,
    )(show_opco_job_state)


__all__ = [
    "OpcoLogFilters",
    "build_opco_dialog",
    "build_opco_export_controls",
    "can_export_some_session",
    "check_export",
    "download_href",
    "email_opco_logs",
    "latest_job_state",
    "open_opco_dialog",
    "register_opco_dialog_callbacks",
    "request_from_dialog",
    "request_opco_email",
    "search_opco_users",
    "show_opco_job_state",
    "update_download_link",
]
