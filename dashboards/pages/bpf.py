"""The "Bilan (BPF)" page (/bpf, SPEC §10, issue 19 point 5): the cadre F-1 of the BPF for a
period — trainees and whole hours of training by category a–e, Total and "dont formation à
distance" — with the custom field holding the trainee category and each of its values' line,
and the table as CSV, XLSX and PDF (exports/bpf.py; figures: data/bpf.py).

Admins and statistics managers only (data.bpf.may_see_bpf): the page's access, its navbar link
and every callback check it on the server; anyone else gets 403. The period defaults to the
last calendar year (the one a BPF declares); the field and the mapping to the saved defaults,
which each download saves again.
"""

from __future__ import annotations

from datetime import date

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from flask_login import current_user

from auth.guard import current_scope
from auth.language import N_, page_title
from auth.language import gettext as _
from dashboards.components.date_filter import build_date_range_filter, parse_date_range, range_from_inputs
from dashboards.components.texts import dropdown
from dashboards.dialogs.schedule import build_schedule_button
from data.bpf import LINES, OTHER, category_values, field_names, may_see_bpf
from data.config import current_settings
from data.db import get_db
from data.figures.days import today_in
from data.scope import Forbidden, Scope
from exports.bpf import (
    COLUMNS,
    BpfError,
    BpfOptions,
    bpf_file,
    bpf_filename,
    bpf_table,
    load_bpf_defaults,
    save_bpf_defaults,
)
from exports.formatting import current_language, fmt_int

PAGE = "bpf"
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def can_open(scope: Scope, _session, **_) -> bool:
    return may_see_bpf(scope)


dash.register_page(
    __name__,
    path="/bpf",
    name="BPF",
    title=page_title(N_("BPF report")),
    order=80,
    access=can_open,
    nav_label=N_("BPF report"),
    nav_access=may_see_bpf,
)


def _require() -> Scope:
    scope = current_scope()
    if not may_see_bpf(scope):
        raise Forbidden()
    return scope


def last_year(today: date) -> dict[str, str]:
    return {"start": date(today.year - 1, 1, 1).isoformat(), "end": date(today.year - 1, 12, 31).isoformat()}


def layout(scope, **query):
    tz = current_settings().tz
    today = today_in(tz)
    if not any(query.get(k) for k in ("range", "start", "end")):
        query = {**query, **last_year(today)}
    rng, message = parse_date_range(query, today)
    with get_db().session() as s:
        names = field_names(s, scope)
        saved = load_bpf_defaults(s)
    field = saved.field if saved.field in names else None
    return html.Div(
        [
            html.Div(
                [
                    html.H1(_("BPF report"), className="h3 mb-0", id="bpf-title"),
                    html.Div(
                        _(
                            "The bilan pédagogique et financier's cadre F-1: trainees and hours of training "
                            "by category, for a calendar year or any period."
                        ),
                        className="text-muted",
                    ),
                ],
                className="mb-3 ls-page-header",
            ),
            build_date_range_filter(PAGE, rng, message=message),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Card(
                            dbc.CardBody(
                                [
                                    html.H2(_("Trainee categories"), className="h5"),
                                    dbc.Label(
                                        _("User custom field holding the trainee category"),
                                        html_for="bpf-field",
                                    ),
                                    dropdown(
                                        id="bpf-field",
                                        options=[{"label": n, "value": n} for n in names],
                                        value=field,
                                        placeholder=_("No field: every trainee in e"),
                                    ),
                                    html.Div(id="bpf-mapping", className="mt-3"),
                                ]
                            )
                        ),
                        lg=5,
                    ),
                    dbc.Col(
                        dbc.Card(
                            dbc.CardBody(
                                [
                                    html.Div(
                                        [
                                            *(
                                                dbc.Button(
                                                    _("Download %(format)s", format=kind.upper()),
                                                    id=f"bpf-download-{kind}",
                                                    color="primary",
                                                    outline=True,
                                                    size="sm",
                                                    n_clicks=0,
                                                )
                                                for kind in ("csv", "xlsx", "pdf")
                                            ),
                                            build_schedule_button(
                                                PAGE,
                                                "bpf",
                                                "bpf",
                                                {"format": "xlsx", "language": current_language()},
                                                title=_("BPF report"),
                                            ),
                                        ],
                                        className="d-flex gap-2 float-end flex-wrap justify-content-end",
                                    ),
                                    html.H2(_("Cadre F-1"), className="h5"),
                                    html.Div(id="bpf-message", role="alert"),
                                    dcc.Loading(html.Div(id="bpf-table"), type="circle", delay_show=400),
                                    dcc.Download(id="bpf-download"),
                                ]
                            )
                        ),
                        lg=7,
                    ),
                ],
                className="g-3 mt-1",
            ),
        ]
    )


def line_options() -> list[dict]:
    return [{"label": letter, "value": letter} for letter in LINES]


def build_mapping(values: list[str], mapping: dict[str, str]) -> html.Div:
    """One row per value of the field: its line a–e (e unless mapped)."""
    if not values:
        return html.P(
            _("Every trainee counts in e (other trainees)."), className="text-muted small", id="bpf-no-values"
        )
    rows = [
        html.Tr(
            [
                html.Td(value, className="align-middle"),
                html.Td(
                    dbc.RadioItems(
                        id={"type": "bpf-line", "value": value},
                        options=line_options(),
                        value=mapping.get(value, OTHER),
                        inline=True,
                        className="mb-0",
                    ),
                    className="text-nowrap",
                ),
            ]
        )
        for value in values
    ]
    return html.Div(
        [
            html.Table(
                [html.Thead(html.Tr([html.Th(_("Value")), html.Th(_("Line"))])), html.Tbody(rows)],
                className="table table-sm mb-1",
                id="bpf-mapping-table",
            ),
            html.P(
                _(
                    "a. employees of private employers · b. apprentices · c. job seekers · d. individuals at their own expense · e. others (and no value)"
                ),
                className="text-muted small",
            ),
        ]
    )


@callback(Output("bpf-mapping", "children"), Input("bpf-field", "value"))
def update_bpf_mapping(field):
    """The chosen field's values, each with its line (the saved one, else e)."""
    scope = _require()
    field = field if isinstance(field, str) else ""
    with get_db().session() as s:
        values = category_values(s, scope, field) if field else []
        saved = load_bpf_defaults(s)
    return build_mapping(values, saved.mapping if saved.field == field else {})


def _options(field, values, ids) -> BpfOptions:
    field = field if isinstance(field, str) else ""
    mapping = {}
    for value, component in zip(values or [], ids or [], strict=False):
        if isinstance(component, dict) and isinstance(component.get("value"), str) and value in LINES:
            mapping[component["value"]] = value
    return BpfOptions(field=field, mapping={k: v for k, v in mapping.items() if v != OTHER})


def build_table(table) -> html.Table:
    head = html.Thead(html.Tr([html.Th(_("Line")), *(html.Th(c, className="text-end") for c in COLUMNS)]))
    body = []
    for key, label, trainees, hours in table.rows:
        style = "fw-bold" if key == "total" else ("fst-italic" if key == "distance" else "")
        body.append(
            html.Tr(
                [
                    html.Td(label),
                    html.Td(fmt_int(trainees), className="text-end"),
                    html.Td(fmt_int(hours), className="text-end"),
                ],
                className=style,
                id=f"bpf-row-{key}",
            )
        )
    return html.Table([head, html.Tbody(body)], className="table table-sm ls-bpf-table", id="bpf-f1")


def _range(preset, start, end):
    tz = current_settings().tz
    return range_from_inputs(preset, start, end, today_in(tz))


@callback(
    Output("bpf-table", "children"),
    Input({"type": "date-range", "page": PAGE}, "start_date"),
    Input({"type": "date-range", "page": PAGE}, "end_date"),
    Input("bpf-field", "value"),
    Input({"type": "bpf-line", "value": ALL}, "value"),
    State({"type": "bpf-line", "value": ALL}, "id"),
    State({"type": "date-preset", "page": PAGE}, "value"),
)
def update_bpf_table(start_date, end_date, field, lines, ids, preset):
    """The cadre F-1 for the period, field and mapping on screen."""
    scope = _require()
    rng, message = _range(preset, start_date, end_date)
    if rng is None:
        return html.P(message, className="ls-empty", id="bpf-range-error")
    options = _options(field, lines, ids)
    try:
        with get_db().session() as s:
            table = bpf_table(s, scope, rng.start, rng.end, options, current_language())
    except BpfError as error:
        return dbc.Alert(str(error), color="danger")
    return html.Div(
        [
            html.P(
                _(
                    "From %(start)s to %(end)s: %(trainees)s trainees.",
                    start=f"{rng.start:%d/%m/%Y}",
                    end=f"{rng.end:%d/%m/%Y}",
                    trainees=fmt_int(table.rows[5][2]),
                ),
                className="small text-muted",
                id="bpf-period",
            ),
            build_table(table),
            html.P(
                _(
                    "A trainee is a learner with time spent in the period (connections that started in it), "
                    "blocked users included. Values not mapped, and learners without the field, count in e."
                ),
                className="small text-muted",
            ),
        ]
    )


def bpf_download(kind: str, start_date, end_date, preset, field, lines, ids):
    """(dcc.Download data or no_update, message): the file, in the signed-in user's scope; the
    field and mapping are kept as the defaults."""
    scope = _require()
    if kind not in MEDIA:
        raise PreventUpdate
    rng, message = _range(preset, start_date, end_date)
    if rng is None:
        return no_update, dbc.Alert(message, color="danger")
    options = _options(field, lines, ids)
    tz = current_settings().tz
    language = current_language()
    try:
        with get_db().session() as s:
            data = bpf_file(
                s,
                scope,
                rng.start,
                rng.end,
                options,
                kind,
                tz,
                language,
                delimiter=";" if language == "fr" else ",",
            )
            save_bpf_defaults(s, options, current_user.get_id() if current_user else None)
            s.commit()
    except BpfError as error:
        return no_update, dbc.Alert(_("The file was not made: %(reason)s.", reason=error), color="danger")
    return dcc.send_bytes(data, bpf_filename(rng.start, rng.end, kind), type=MEDIA[kind]), ""


@callback(
    Output("bpf-download", "data"),
    Output("bpf-message", "children"),
    Input("bpf-download-csv", "n_clicks"),
    Input("bpf-download-xlsx", "n_clicks"),
    Input("bpf-download-pdf", "n_clicks"),
    State({"type": "date-range", "page": PAGE}, "start_date"),
    State({"type": "date-range", "page": PAGE}, "end_date"),
    State({"type": "date-preset", "page": PAGE}, "value"),
    State("bpf-field", "value"),
    State({"type": "bpf-line", "value": ALL}, "value"),
    State({"type": "bpf-line", "value": ALL}, "id"),
    prevent_initial_call=True,
)
def download_bpf(_csv, _xlsx, _pdf, start_date, end_date, preset, field, lines, ids):
    trigger = ctx.triggered_id if isinstance(ctx.triggered_id, str) else ""
    if not trigger.startswith("bpf-download-"):
        raise PreventUpdate
    return bpf_download(trigger.rsplit("-", 1)[1], start_date, end_date, preset, field, lines, ids)


__all__ = ["bpf_download", "build_mapping", "build_table", "update_bpf_mapping", "update_bpf_table"]
