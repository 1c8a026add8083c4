"""The session page's compliance dialogs (SPEC §10, issue 19 points 1 to 3).

- "Activity records and attendance" (ids "cmp-"): the feuille d'émargement par demi-journée of
  the session as XLSX or PDF (made at once: exports/attendance.py), and the relevés individuels
  d'activité of its learners as a ZIP, made in the background (jobs/activity_records.py) while a
  progress bar moves, then offered as a signed link for the user who asked. French by default,
  English on request; the organisation block, place, stamp and declared duration are the
  attestations' saved defaults (the "OPCO attestations" dialog edits them).
- "Tutor contact" (ids "tc-"): records a contact of a tutor with a learner of the session (the
  proof of individual support), for the session's instructors, the managers of its training
  and admins (data/session_records.py may_record_contacts, checked again on every callback).

Every callback checks the signed-in user's scope itself. create_app calls
`register_compliance_dialog_callbacks(app)` once per app.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from flask import current_app
from flask_babel import get_locale
from flask_login import current_user

from auth.guard import current_scope
from auth.language import N_, ngettext
from auth.language import gettext as _
from dashboards.dialogs.attestations import language_options, may_generate
from dashboards.dialogs.opco import _field
from dashboards.dialogs.schedule import build_schedule_button
from data.config import current_settings
from data.db import get_db
from data.models import TUTOR_CHANNELS, User
from data.scope import Forbidden, Scope
from data.session_records import (
    TutorContactError,
    may_record_contacts,
    may_see_session,
    record_tutor_contact,
    session_people,
)
from exports.attendance import attendance_file, attendance_filename
from exports.attestation_options import AttestationError, load_defaults
from exports.formatting import join_reasons
from exports.opco_request import MEDIA_TYPES
from jobs.activity_records import activity_records_ticket, run_activity_records_job
from jobs.background import scope_to_dict
from jobs.slots import JobRefused, admit

CHANNEL_LABELS = {
    "email": N_("Email"),
    "phone": N_("Phone"),
    "visio": N_("Video call"),
    "message": N_("Message"),
    "forum": N_("Forum"),
    "in-person": N_("In person"),
}
FILE_TYPES = {**MEDIA_TYPES, "pdf": "application/pdf"}


# -- layout ----------------------------------------------------------------------------------


def build_compliance_dialog(session_id: str) -> html.Div:
    body = dbc.ModalBody(
        [
            html.P(
                _(
                    "The files carry the organisation block, place, stamp and declared duration saved "
                    "with the OPCO attestations."
                ),
                className="small text-muted",
            ),
            _field(
                _("Language of the files"),
                dbc.RadioItems(id="cmp-language", options=language_options(), value="fr", inline=True),
            ),
            html.H3(_("Half-day attendance sheet"), className="h6 mt-3"),
            html.P(
                _(
                    "One row per learner, one column per half-day (morning before 13:00): the time "
                    "connected, and the total."
                ),
                className="small text-muted mb-2",
            ),
            html.Div(
                [
                    dbc.Button(
                        _("Download XLSX"),
                        id="cmp-attendance-xlsx",
                        color="primary",
                        outline=True,
                        n_clicks=0,
                    ),
                    dbc.Button(
                        _("Download PDF"), id="cmp-attendance-pdf", color="primary", outline=True, n_clicks=0
                    ),
                    # The XLSX sheet by email on a calendar (exports/report_kinds.py "attendance").
                    build_schedule_button(
                        "cmp",
                        "attendance",
                        "attendance",
                        {"session_id": session_id, "language": "fr"},
                        title=_("Attendance sheet"),
                    ),
                ],
                className="d-flex gap-2",
            ),
            html.H3(_("Individual activity records"), className="h6 mt-4"),
            html.P(
                _(
                    "One PDF per learner in a ZIP: results, evaluation attempts, connections by "
                    "half-day and tutor contacts."
                ),
                className="small text-muted mb-2",
            ),
            dbc.Button(_("Generate the ZIP"), id="cmp-records-button", color="primary", n_clicks=0),
            html.Div(
                dbc.Progress(
                    id="cmp-progress",
                    value=0,
                    label="",
                    striped=True,
                    animated=True,
                    style={"height": "1.4rem"},
                ),
                id="cmp-progress-wrap",
                className="w-100 mt-2",
                style={"display": "none"},
            ),
            html.Div(id="cmp-message", className="mt-2", role="alert"),
            html.Div(id="cmp-result", className="mt-2", role="status"),
        ]
    )
    return html.Div(
        [
            dcc.Store(id="cmp-session", data=session_id),
            dcc.Store(id="cmp-ticket"),
            dcc.Store(id="cmp-job-result"),
            dcc.Download(id="cmp-download"),
            dbc.Modal(
                [dbc.ModalHeader(dbc.ModalTitle(_("Activity records and attendance"))), body],
                id="cmp-dialog",
                is_open=False,
                size="lg",
            ),
        ]
    )


def build_tutor_contact_dialog(session_id: str) -> html.Div:
    channels = [{"label": _(CHANNEL_LABELS[c]), "value": c} for c in TUTOR_CHANNELS]
    body = dbc.ModalBody(
        [
            _field(_("Learner"), dbc.Select(id="tc-learner", options=[]), label_for="tc-learner"),
            dbc.Row(
                [
                    dbc.Col(
                        _field(
                            _("Date and time"),
                            dbc.Input(id="tc-when", type="datetime-local"),
                            _("Platform time zone."),
                            label_for="tc-when",
                        ),
                        md=6,
                    ),
                    dbc.Col(
                        _field(
                            _("Channel"),
                            dbc.Select(id="tc-channel", options=channels, value="phone"),
                            label_for="tc-channel",
                        ),
                        md=6,
                    ),
                ]
            ),
            dbc.Row(
                [
                    dbc.Col(
                        _field(_("Tutor"), dbc.Input(id="tc-tutor", maxLength=200), label_for="tc-tutor"),
                        md=6,
                    ),
                    dbc.Col(
                        _field(
                            _("Duration (minutes)"),
                            dbc.Input(id="tc-duration", type="number", min=0, max=1440, step=1),
                            _("Optional."),
                            label_for="tc-duration",
                        ),
                        md=6,
                    ),
                ]
            ),
            _field(
                _("Subject"), dbc.Textarea(id="tc-subject", rows=2, maxLength=2000), label_for="tc-subject"
            ),
            html.Div(id="tc-message", role="alert"),
        ]
    )
    footer = dbc.ModalFooter(dbc.Button(_("Record"), id="tc-save-button", color="primary", n_clicks=0))
    return html.Div(
        [
            dcc.Store(id="tc-session", data=session_id),
            dbc.Modal(
                [dbc.ModalHeader(dbc.ModalTitle(_("Record a tutor contact"))), body, footer],
                id="tc-dialog",
                is_open=False,
            ),
        ]
    )


def build_compliance_controls(scope: Scope, session_id: str) -> list:
    """The "Activity records and attendance" and "Tutor contact" buttons with their dialogs,
    each for those who may use it."""
    controls = []
    if may_generate(scope, session_id):
        controls.append(
            html.Div(
                [
                    dbc.Button(
                        _("Activity records and attendance"),
                        id="cmp-open-button",
                        color="primary",
                        outline=True,
                        size="sm",
                        n_clicks=0,
                    ),
                    build_compliance_dialog(session_id),
                ],
                className="ls-opco-controls ls-cmp-controls",
            )
        )
    with get_db().session() as s:
        may_record = may_record_contacts(s, scope, session_id)
    if may_record:
        controls.append(
            html.Div(
                [
                    dbc.Button(
                        _("Tutor contact"),
                        id="tc-open-button",
                        color="primary",
                        outline=True,
                        size="sm",
                        n_clicks=0,
                    ),
                    build_tutor_contact_dialog(session_id),
                ],
                className="ls-opco-controls ls-tc-controls",
            )
        )
    return controls


# -- callback logic (plain functions, tested without a browser) ------------------------------


def _require(session_id) -> Scope:
    """The signed-in user's scope, if the session lies in it (403 otherwise)."""
    scope = current_scope()
    with get_db().session() as s:
        if not may_see_session(s, scope, session_id):
            raise Forbidden()
    return scope


def open_compliance_dialog(n_clicks, session_id):
    if not n_clicks:
        raise PreventUpdate
    _require(session_id)
    return True, "fr", None, None  # SPEC §10: French by default, whatever the interface's language


def download_attendance(xlsx_clicks, pdf_clicks, session_id, language):
    """The attendance sheet in the clicked format, made now in the signed-in user's scope."""
    if not (xlsx_clicks or pdf_clicks):
        raise PreventUpdate
    scope = _require(session_id)
    kind = "pdf" if ctx.triggered_id == "cmp-attendance-pdf" else "xlsx"
    return attendance_download(scope, session_id, kind, language)


def attendance_download(scope: Scope, session_id: str, kind: str, language):
    tz = current_settings().tz
    today = datetime.now(tz).date()
    try:
        with get_db().session() as s:
            options = load_defaults(s, session_id).merged(
                language=language if language in ("fr", "en") else "fr"
            )
            if kind == "pdf" and options.problems():
                raise AttestationError(
                    _(
                        "the attestation details are not complete: open « OPCO attestations » and fill "
                        "them in first (%(problems)s)",
                        problems=join_reasons(options.problems()),
                    )
                )
            data = attendance_file(s, scope, session_id, kind, options, tz, today)
    except AttestationError as error:
        return no_update, dbc.Alert(
            _("Nothing was made: %(reason)s.", reason=str(error)), color="warning", className="py-2 mb-2"
        )
    name = attendance_filename(session_id, kind, today)
    return dcc.send_bytes(data, name, type=FILE_TYPES[kind]), None


def generate_activity_records(n_clicks, session_id, language):
    """Check the session and the saved organisation block now, then queue the job."""
    if not n_clicks:
        raise PreventUpdate
    scope = _require(session_id)
    settings = current_settings()
    with get_db().session() as s:
        problems = load_defaults(s).problems()
        learners = session_people(s, scope, session_id)
    if problems or not learners:
        reason = (
            _(
                "the attestation details are not complete: open « OPCO attestations » and fill them in "
                "first (%(problems)s)",
                problems=join_reasons(problems),
            )
            if problems
            else _("session %(session)s has no learner: no activity record to make", session=session_id)
        )
        return (
            None,
            dbc.Alert(
                _("Nothing was generated: %(reason)s.", reason=reason), color="warning", className="py-2 mb-2"
            ),
            None,
        )
    job_id = secrets.token_hex(8)
    try:
        admit(current_app, current_user.id, job_id)  # at most N jobs at once (jobs/slots.py)
    except JobRefused as error:
        return (
            None,
            dbc.Alert(
                _("Nothing was generated: %(reason)s.", reason=str(error)),
                color="warning",
                className="py-2 mb-2",
            ),
            None,
        )
    ticket = activity_records_ticket(
        current_app,
        {
            "job": job_id,
            "user_id": current_user.id,
            "scope": scope_to_dict(scope),
            "session_id": session_id,
            "language": language if language in ("fr", "en") else "fr",
            "signed_on": datetime.now(settings.tz).date().isoformat(),
            "ui_language": str(get_locale() or settings.language),
        },
    )
    return ticket, None, None


def show_activity_records_result(result):
    if not isinstance(result, dict):
        raise PreventUpdate
    if result.get("state") == "done":
        count = int(result.get("count", 0))
        return dbc.Alert(
            [
                html.Span(
                    ngettext("%(num)d activity record ready.", "%(num)d activity records ready.", count),
                    className="me-2",
                ),
                html.A(
                    _("Download %(name)s", name=result.get("name") or "ZIP"),
                    href=result.get("href"),
                    className="btn btn-success btn-sm",
                    id="cmp-download-link",
                ),
            ],
            color="success",
            className="py-2 mb-2 d-flex align-items-center",
        )
    return dbc.Alert(
        _("Nothing was generated: %(reason)s.", reason=result.get("message") or _("the job failed")),
        color="danger",
        className="py-2 mb-2",
    )


def _require_recorder(session_id) -> Scope:
    scope = current_scope()
    with get_db().session() as s:
        if not may_record_contacts(s, scope, session_id):
            raise Forbidden()
    return scope


def open_tutor_contact_dialog(n_clicks, session_id):
    """Opening: the session's learners, the signed-in user as tutor, now (platform time)."""
    if not n_clicks:
        raise PreventUpdate
    scope = _require_recorder(session_id)
    tz = current_settings().tz
    with get_db().session() as s:
        people = session_people(s, scope, session_id)
        me = s.get(User, scope.user_id)
        tutor = (f"{me.first_name} {me.last_name}".strip() or me.email) if me else ""
    options = [
        {
            "label": f"{p.last_name} {p.first_name}".strip() + (f" ({p.email})" if p.email else ""),
            "value": p.user_id,
        }
        for p in people
    ]
    now = datetime.now(tz).strftime("%Y-%m-%dT%H:%M")
    return True, options, options[0]["value"] if options else None, now, tutor, None, "", None


def save_tutor_contact(n_clicks, session_id, user_id, when, channel, tutor, duration, subject):
    """Record the contact; a sentence saying what is wrong, or that it was recorded."""
    if not n_clicks:
        raise PreventUpdate
    scope = _require_recorder(session_id)
    tz = current_settings().tz
    problems = []
    moment = None
    try:
        local = datetime.fromisoformat(str(when or ""))
        moment = local.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)
    except ValueError:
        problems.append(_("the date and time are required"))
    minutes = None
    if duration not in (None, ""):
        try:
            minutes = int(float(duration))
            if float(duration) != minutes or not 0 <= minutes <= 1440:
                raise ValueError
        except (TypeError, ValueError):
            problems.append(_("the duration must be a whole number of minutes from 0 to 1440"))
    if not (tutor or "").strip():
        problems.append(_("the tutor's name is required"))
    if channel not in TUTOR_CHANNELS:
        problems.append(_("choose a channel"))
    if not user_id:
        problems.append(_("choose a learner"))
    if problems:
        return dbc.Alert(
            _("Nothing was recorded: %(reason)s.", reason=join_reasons(problems)), color="warning"
        ), no_update
    try:
        with get_db().session() as s:
            record_tutor_contact(
                s, scope, session_id, user_id, moment, tutor, channel, minutes, subject or ""
            )
            person = s.get(User, user_id)
            name = f"{person.first_name} {person.last_name}".strip() or person.email
            s.commit()
    except TutorContactError as error:
        return dbc.Alert(
            _("Nothing was recorded: %(reason)s.", reason=str(error)), color="warning"
        ), no_update
    return dbc.Alert(_("Tutor contact recorded for %(name)s.", name=name), color="success"), ""


# -- registration ----------------------------------------------------------------------------


def register_compliance_dialog_callbacks(app: dash.Dash) -> None:
    app.callback(
        Output("cmp-dialog", "is_open"),
        Output("cmp-language", "value"),
        Output("cmp-message", "children", allow_duplicate=True),
        Output("cmp-result", "children", allow_duplicate=True),
        Input("cmp-open-button", "n_clicks"),
        State("cmp-session", "data"),
        prevent_initial_call=True,
    )(open_compliance_dialog)
    app.callback(
        Output("cmp-download", "data"),
        Output("cmp-message", "children", allow_duplicate=True),
        Input("cmp-attendance-xlsx", "n_clicks"),
        Input("cmp-attendance-pdf", "n_clicks"),
        State("cmp-session", "data"),
        State("cmp-language", "value"),
        prevent_initial_call=True,
    )(download_attendance)
    app.callback(
        Output("cmp-ticket", "data"),
        Output("cmp-message", "children", allow_duplicate=True),
        Output("cmp-result", "children", allow_duplicate=True),
        Input("cmp-records-button", "n_clicks"),
        State("cmp-session", "data"),
        State("cmp-language", "value"),
        prevent_initial_call=True,
    )(generate_activity_records)
    app.callback(
        Output("cmp-job-result", "data"),
        Input("cmp-ticket", "data"),
        background=True,
        progress=[Output("cmp-progress", "value"), Output("cmp-progress", "label")],
        running=[
            (Output("cmp-records-button", "disabled"), True, False),
            (Output("cmp-progress-wrap", "style"), {"display": "block"}, {"display": "none"}),
        ],
        prevent_initial_call=True,
    )(run_activity_records_job)
    app.callback(
        Output("cmp-result", "children", allow_duplicate=True),
        Input("cmp-job-result", "data"),
        prevent_initial_call=True,
    )(show_activity_records_result)
    app.callback(
        Output("tc-dialog", "is_open"),
        Output("tc-learner", "options"),
        Output("tc-learner", "value"),
        Output("tc-when", "value"),
        Output("tc-tutor", "value"),
        Output("tc-duration", "value"),
        Output("tc-subject", "value"),
        Output("tc-message", "children", allow_duplicate=True),
        Input("tc-open-button", "n_clicks"),
        State("tc-session", "data"),
        prevent_initial_call=True,
    )(open_tutor_contact_dialog)
    app.callback(
        Output("tc-message", "children", allow_duplicate=True),
        Output("tc-subject", "value", allow_duplicate=True),
        Input("tc-save-button", "n_clicks"),
        State("tc-session", "data"),
        State("tc-learner", "value"),
        State("tc-when", "value"),
        State("tc-channel", "value"),
        State("tc-tutor", "value"),
        State("tc-duration", "value"),
        State("tc-subject", "value"),
        prevent_initial_call=True,
    )(save_tutor_contact)


__all__ = [
    "attendance_download",
    "build_compliance_controls",
    "download_attendance",
    "generate_activity_records",
    "open_compliance_dialog",
    "open_tutor_contact_dialog",
    "register_compliance_dialog_callbacks",
    "save_tutor_contact",
    "show_activity_records_result",
]
