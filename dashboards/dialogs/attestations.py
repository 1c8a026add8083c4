"""The session page's "Generate attestations" dialog (SPEC §7, OPCO attestations and
certificats de réalisation).

The dialog edits exports.attestation_options.AttestationOptions, preset from the values saved for
the session, else the platform's defaults. Uploaded images are checked (PNG or JPEG, at most 2 MB, not corrupt) and stored as
soon as they are chosen. "Generate" checks everything in the signed-in user's scope, saves the
values for the session (an admin's also as the platform's defaults) and enqueues: jobs/attestations.py signs the job ticket (user, scope,
session, options) for its background callback run_attestation_job (diskcache or Celery, as
"Receive by email"), which writes the session's ZIP under instance/exports/ (complete or
absent) while a progress bar moves, then offers a signed download link valid for the user who
asked.

create_app calls `register_attestation_dialog_callbacks(app)` once per app. Component ids start
with "att-".
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate
from flask import current_app
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy import exists, select

from auth.guard import current_scope
from auth.language import N_, ngettext
from auth.language import gettext as _
from dashboards.components.texts import dropdown
from dashboards.dialogs.opco import _field
from dashboards.dialogs.schedule import build_schedule_button
from data.config import current_settings
from data.db import get_db
from data.models import Connection, UserField
from data.scope import Forbidden, Scope
from exports.attestation_options import (
    MAX_IMAGE_BYTES,
    AttestationError,
    AttestationOptions,
    format_hours,
    load_defaults,
    save_defaults,
    store_image,
)
from exports.attestations import can_make_documents, require_session, session_players
from exports.formatting import join_reasons
from jobs.attestations import attestations_ticket, run_attestation_job
from jobs.background import scope_to_dict
from jobs.slots import JobRefused, admit


def kind_options() -> list[dict]:
    return [
        {"label": _("Attestations and certificats de réalisation"), "value": "both"},
        {"label": _("Attestations d'assiduité only"), "value": "attestation"},
        {"label": _("Certificats de réalisation only"), "value": "certificate"},
    ]


def language_options() -> list[dict]:
    return [{"label": _("French"), "value": "fr"}, {"label": _("English"), "value": "en"}]


def nature_options() -> list[dict]:
    return [
        {"label": _("Action de formation"), "value": "formation"},
        {"label": _("Bilan de compétences"), "value": "bilan"},
        {"label": _("Action de VAE"), "value": "vae"},
        {"label": _("Action de formation par apprentissage"), "value": "apprentissage"},
    ]


TEXT_FIELDS = (
    ("org_name", "att-org-name"),
    ("address", "att-address"),
    ("legal_representative", "att-legal-representative"),
    ("nda", "att-nda"),
    ("siret", "att-siret"),
    ("place", "att-place"),
    ("footer", "att-footer"),
)


# -- layout ----------------------------------------------------------------------------------


def _image_control(name: str, label: str) -> html.Div:
    return _field(
        label,
        html.Div(
            [
                html.Div(id=f"att-{name}-preview", className="ls-att-preview me-3"),
                dcc.Upload(
                    html.Span(
                        [_("Choose a PNG or JPEG file…")], className="btn btn-outline-secondary btn-sm"
                    ),
                    id=f"att-{name}-upload",
                    # No `accept`: react-dropzone drops a file of another type without a word
                    # (and Dash never hears of it). Every file goes to the server, whose check
                    # (check_image: PNG/JPEG signature, size, not corrupt) says what is wrong.
                    max_size=-1,  # checked on the server, with a sentence instead of a silent refusal
                    multiple=False,
                ),
                dbc.Button(
                    _("Remove"),
                    id=f"att-{name}-remove",
                    color="link",
                    size="sm",
                    className="ms-2",
                    n_clicks=0,
                ),
            ],
            className="d-flex align-items-center",
        ),
        _("PNG or JPEG, at most 2 MB."),
    )


def build_attestation_dialog(session_id: str, played: bool = True) -> html.Div:
    """The dialog; when nobody played the session (`played` False) Generate is not offered
    (issue 21): a sentence says why, the values and "Schedule…" stay (a planned session)."""
    text = dbc.Input
    body = dbc.ModalBody(
        [
            html.H3(_("Training organisation"), className="h6 text-muted mb-3"),
            dbc.Row(
                [
                    dbc.Col(
                        _field(_("Name"), text(id="att-org-name", maxLength=200), label_for="att-org-name"),
                        md=6,
                    ),
                    dbc.Col(
                        _field(
                            _("Legal representative"),
                            text(id="att-legal-representative", maxLength=200),
                            label_for="att-legal-representative",
                        ),
                        md=6,
                    ),
                ]
            ),
            _field(
                _("Address"),
                dbc.Textarea(id="att-address", rows=2, maxLength=400),
                label_for="att-address",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        _field(
                            _("Declaration number (NDA)"),
                            text(id="att-nda", maxLength=40),
                            _("Optional."),
                            label_for="att-nda",
                        ),
                        md=6,
                    ),
                    dbc.Col(
                        _field(
                            "SIRET",
                            text(id="att-siret", maxLength=40),
                            _("Optional, 14 digits."),
                            label_for="att-siret",
                        ),
                        md=6,
                    ),
                ]
            ),
            dbc.Row(
                [
                    dbc.Col(_image_control("logo", _("Logo")), md=6),
                    dbc.Col(_image_control("stamp", _("Stamp and signature")), md=6),
                ]
            ),
            html.H3(_("Documents"), className="h6 text-muted mb-3 mt-2"),
            dbc.Row(
                [
                    dbc.Col(
                        _field(
                            _("Declared duration of the training sessions (hours)"),
                            dbc.Input(id="att-duration", type="number", min=0, step=0.25),
                            _("Required, more than 0."),
                            label_for="att-duration",
                        ),
                        md=6,
                    ),
                    dbc.Col(
                        _field(
                            _("Place of signature"),
                            text(id="att-place", maxLength=120),
                            label_for="att-place",
                        ),
                        md=6,
                    ),
                ]
            ),
            dbc.Row(
                [
                    dbc.Col(
                        _field(
                            _("Documents"),
                            dbc.RadioItems(id="att-kind", options=kind_options(), value="both"),
                        ),
                        md=6,
                    ),
                    dbc.Col(
                        _field(
                            _("Language"),
                            dbc.RadioItems(id="att-language", options=language_options(), value="fr"),
                        ),
                        md=6,
                    ),
                ]
            ),
            dbc.Row(
                [
                    dbc.Col(
                        _field(
                            _("Nature of the action (certificat)"),
                            dbc.Select(id="att-nature", options=nature_options(), value="formation"),
                            label_for="att-nature",
                        ),
                        md=6,
                    ),
                    dbc.Col(
                        _field(
                            _("Employer (user custom field)"),
                            dropdown(
                                id="att-employer-field",
                                placeholder=_("None: an empty line"),
                                clearable=True,
                            ),
                            _("The certificat's « salarié(e) de l'entreprise »."),
                        ),
                        md=6,
                    ),
                ]
            ),
            _field(_("Footer"), dbc.Textarea(id="att-footer", rows=2, maxLength=400), label_for="att-footer"),
        ]
    )
    footer = dbc.ModalFooter(
        [
            html.Div(id="att-message", className="w-100", role="alert"),
            html.Div(
                dbc.Progress(
                    id="att-progress",
                    value=0,
                    label="",
                    striped=True,
                    animated=True,
                    style={"height": "1.4rem"},
                ),
                id="att-progress-wrap",
                className="w-100",
                style={"display": "none"},
            ),
            html.Div(id="att-result", className="w-100", role="status"),
            html.Div(
                _(
                    "The values are kept for this session; an administrator's also become the platform's defaults."
                ),
                className="text-muted small me-auto",
            ),
            # The ZIP by email on a calendar, made with the values kept for the session
            # (exports/compliance_reports.py "attestations").
            build_schedule_button(
                "att",
                "attestations",
                "attestations",
                {"session_id": session_id},
                title=_("OPCO attestations"),
            ),
            # Kept in the layout (its callbacks name it) but hidden and disabled: there is
            # nothing to generate before somebody plays the session.
            dbc.Button(
                _("Generate"),
                id="att-generate-button",
                color="primary",
                n_clicks=0,
                disabled=not played,
                className=None if played else "d-none",
            ),
        ]
    )
    if not played:
        body.children.insert(
            0,
            dbc.Alert(
                _(
                    "Nobody has played this session yet: there is no attestation to generate. "
                    "The documents can be generated once a learner has connected in it."
                ),
                color="info",
                className="py-2",
                id="att-nobody-played",
            ),
        )
    return html.Div(
        [
            dcc.Store(id="att-session", data=session_id),
            dcc.Store(id="att-logo-digest"),
            dcc.Store(id="att-stamp-digest"),
            dcc.Store(id="att-ticket"),
            dcc.Store(id="att-job-result"),
            dbc.Modal(
                [dbc.ModalHeader(dbc.ModalTitle(_("OPCO attestations"))), body, footer],
                id="att-dialog",
                is_open=False,
                size="lg",
                scrollable=True,
                className="ls-att-dialog",
            ),
        ]
    )


def session_has_players(session, session_id: str) -> bool:
    """Whether anyone connected in the session (the caller has checked the scope): the
    documents exist only for those who played (exports/attestations.py session_players)."""
    return bool(session.scalar(select(exists().where(Connection.session_id == session_id))))


def may_generate(scope: Scope, session_id: str) -> bool:
    if not can_make_documents(scope):
        return False
    with get_db().session() as s:
        try:
            require_session(s, scope, session_id)
        except (Forbidden, AttestationError):
            return False
    return True


def build_attestation_controls(scope: Scope, session_id: str) -> list:
    """The _("OPCO attestations") button and its dialog, or nothing for those who may not."""
    if not may_generate(scope, session_id):
        return []
    with get_db().session() as s:
        played = session_has_players(s, session_id)
    return [
        html.Div(
            [
                dbc.Button(
                    _("OPCO attestations"),
                    id="att-open-button",
                    color="primary",
                    outline=True,
                    size="sm",
                    n_clicks=0,
                ),
                build_attestation_dialog(session_id, played=played),
            ],
            className="ls-opco-controls ls-att-controls",
        )
    ]


# -- callback logic (plain functions, tested without a browser) ------------------------------


def _require(session_id) -> Scope:
    scope = current_scope()
    if not isinstance(session_id, str) or not session_id:
        raise Forbidden()
    with get_db().session() as s:
        try:
            require_session(s, scope, session_id)
        except AttestationError:
            raise Forbidden() from None
    return scope


LOGO, STAMP = N_("logo"), N_("stamp and signature")  # what each image is, in sentences and alt texts


def _preview(digest: str | None, what: str = ""):
    if not digest:
        return html.Span(_("No image"), className="text-muted small")
    return html.Img(src=f"/attestation-images/{digest}", alt=_(what), className="ls-att-thumb")


def open_attestation_dialog(n_clicks, session_id):
    """Opening: the saved defaults and the custom field names, in the viewer's scope."""
    if not n_clicks:
        raise PreventUpdate
    _require(session_id)
    with get_db().session() as s:
        o = load_defaults(s, session_id)
        names = sorted(s.scalars(select(UserField.field).distinct()))
    fields = [{"label": n, "value": n} for n in names]
    duration = o.duration_hours if o.duration_hours is not None else None
    return (
        True,
        *(getattr(o, name) for name, _ in TEXT_FIELDS),
        duration,
        o.language,
        o.kind,
        o.nature,
        fields,
        o.employer_field or None,
        o.logo or None,
        o.stamp or None,
        _preview(o.logo, LOGO),
        _preview(o.stamp, STAMP),
        None,
        None,
    )


def _decode_upload(contents: str, what: str) -> bytes:
    try:
        header, encoded = contents.split(",", 1)
        if ";base64" not in header:
            raise ValueError
        data = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error, AttributeError):
        raise AttestationError(
            _("%(what)s: the upload could not be read; choose the file again", what=what)
        ) from None
    return data


def upload_image(contents, filename, session_id, what: str):
    """An uploaded image, checked and stored: (digest, preview, message)."""
    if not contents:
        raise PreventUpdate
    _require(session_id)
    what = _(what)
    what = what[:1].upper() + what[1:]  # it starts the sentences below: "Logo (x.png): …"
    if len(contents) > (MAX_IMAGE_BYTES * 4) // 3 + 200:
        message = _(
            "%(what)s (%(file)s): the file is over 2 MB; images must be at most 2 MB.",
            what=what,
            file=filename,
        )
        return no_update, no_update, dbc.Alert(message, color="warning", className="py-2 mb-2")
    try:
        data = _decode_upload(contents, what)
        with get_db().session() as s:
            digest = store_image(s, data, f"{what} ({filename})" if filename else what)
            s.commit()
    except AttestationError as error:
        return no_update, no_update, dbc.Alert(f"{error}.", color="warning", className="py-2 mb-2")
    return digest, _preview(digest, what), None


def options_from_dialog(values: dict[str, Any]) -> AttestationOptions:
    return AttestationOptions.from_dict(values)


def generate_attestations(
    n_clicks,
    session_id,
    org_name,
    address,
    legal_representative,
    nda,
    siret,
    place,
    footer,
    duration,
    language,
    kind,
    nature,
    employer_field,
    logo,
    stamp,
):
    """Generate: check the values and the session now, keep them for the session (and as the
    platform's defaults when an admin generates), queue the job."""
    if not n_clicks:
        raise PreventUpdate
    scope = _require(session_id)
    values = {
        "org_name": org_name,
        "address": address,
        "legal_representative": legal_representative,
        "nda": nda,
        "siret": siret,
        "place": place,
        "footer": footer,
        "duration_hours": duration,
        "language": language,
        "kind": kind,
        "nature": nature,
        "employer_field": employer_field,
        "logo": logo,
        "stamp": stamp,
    }
    settings = current_settings()
    job_id = secrets.token_hex(8)
    try:
        options = options_from_dialog(values)
        problems = options.problems()
        if problems:
            raise AttestationError(join_reasons(problems))
        with get_db().session() as s:
            if not session_players(s, scope, session_id):
                raise AttestationError(
                    _(
                        "nobody played session %(session)s: it has no connection, so no document",
                        session=session_id,
                    )
                )
            # The session's own values; the platform's defaults only by an admin (docs/decisions.md,
            # "Attestation defaults"): an instructor's Generate changes no other session's documents.
            save_defaults(s, options, current_user.id, session_id=session_id)
            if scope.is_admin:
                save_defaults(s, options, current_user.id)
            s.commit()
        admit(current_app, current_user.id, job_id)  # at most N jobs at once (jobs/slots.py)
    except (AttestationError, JobRefused) as error:
        message = dbc.Alert(
            _("Nothing was generated: %(reason)s.", reason=str(error)), color="warning", className="py-2 mb-2"
        )
        return None, message, None
    ticket = attestations_ticket(
        current_app,
        {
            "job": job_id,
            "user_id": current_user.id,
            "scope": scope_to_dict(scope),
            "session_id": session_id,
            "options": options.to_dict(),
            "signed_on": datetime.now(settings.tz).date().isoformat(),
            "language": str(get_locale() or settings.language),
        },
    )
    return ticket, None, None


def show_attestation_result(result):
    if not isinstance(result, dict):
        raise PreventUpdate
    if result.get("state") == "done":
        count = int(result.get("count", 0))
        return dbc.Alert(
            [
                html.Span(
                    ngettext("%(num)d document ready.", "%(num)d documents ready.", count), className="me-2"
                ),
                html.A(
                    _("Download %(name)s", name=result.get("name") or "ZIP"),
                    href=result.get("href"),
                    className="btn btn-success btn-sm",
                    id="att-download-link",
                ),
            ],
            color="success",
            className="py-2 mb-2 d-flex align-items-center",
        )
    return dbc.Alert(
        _("Nothing was generated: %(reason)s.", reason=result.get("message") or _("the job failed")),
        color="danger",
        className="py-2 mb-2",
        id="att-failed",
    )


# -- registration ----------------------------------------------------------------------------

_VALUE_STATES = (
    *((component, "value") for _, component in TEXT_FIELDS),
    ("att-duration", "value"),
    ("att-language", "value"),
    ("att-kind", "value"),
    ("att-nature", "value"),
    ("att-employer-field", "value"),
    ("att-logo-digest", "data"),
    ("att-stamp-digest", "data"),
)


def register_attestation_dialog_callbacks(app: dash.Dash) -> None:
    app.callback(
        Output("att-dialog", "is_open"),
        *(Output(component, "value") for _, component in TEXT_FIELDS),
        Output("att-duration", "value"),
        Output("att-language", "value"),
        Output("att-kind", "value"),
        Output("att-nature", "value"),
        Output("att-employer-field", "options"),
        Output("att-employer-field", "value"),
        Output("att-logo-digest", "data"),
        Output("att-stamp-digest", "data"),
        Output("att-logo-preview", "children"),
        Output("att-stamp-preview", "children"),
        Output("att-message", "children", allow_duplicate=True),
        Output("att-result", "children", allow_duplicate=True),
        Input("att-open-button", "n_clicks"),
        State("att-session", "data"),
        prevent_initial_call=True,
    )(open_attestation_dialog)
    for name, what in (("logo", LOGO), ("stamp", STAMP)):
        app.callback(
            Output(f"att-{name}-digest", "data", allow_duplicate=True),
            Output(f"att-{name}-preview", "children", allow_duplicate=True),
            Output("att-message", "children", allow_duplicate=True),
            Input(f"att-{name}-upload", "contents"),
            State(f"att-{name}-upload", "filename"),
            State("att-session", "data"),
            prevent_initial_call=True,
        )(
            lambda contents, filename, session_id, what=what: upload_image(
                contents, filename, session_id, what
            )
        )
        app.callback(
            Output(f"att-{name}-digest", "data", allow_duplicate=True),
            Output(f"att-{name}-preview", "children", allow_duplicate=True),
            Input(f"att-{name}-remove", "n_clicks"),
            prevent_initial_call=True,
        )(_remove_image)
    app.callback(
        Output("att-ticket", "data"),
        Output("att-message", "children", allow_duplicate=True),
        Output("att-result", "children", allow_duplicate=True),
        Input("att-generate-button", "n_clicks"),
        State("att-session", "data"),
        *(State(component, prop) for component, prop in _VALUE_STATES),
        prevent_initial_call=True,
    )(generate_attestations)
    app.callback(
        Output("att-job-result", "data"),
        Input("att-ticket", "data"),
        background=True,
        progress=[Output("att-progress", "value"), Output("att-progress", "label")],
        running=[
            (Output("att-generate-button", "disabled"), True, False),
            (Output("att-progress-wrap", "style"), {"display": "block"}, {"display": "none"}),
        ],
        prevent_initial_call=True,
    )(run_attestation_job)
    app.callback(
        Output("att-result", "children", allow_duplicate=True),
        Input("att-job-result", "data"),
        prevent_initial_call=True,
    )(show_attestation_result)


def _remove_image(n_clicks):
    if not n_clicks:
        raise PreventUpdate
    current_scope()
    return None, _preview(None)


__all__ = [
    "build_attestation_controls",
    "build_attestation_dialog",
    "format_hours",
    "generate_attestations",
    "open_attestation_dialog",
    "register_attestation_dialog_callbacks",
    "run_attestation_job",
    "show_attestation_result",
    "upload_image",
]
