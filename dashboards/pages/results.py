"""The "Results" page (/results, SPEC §10 Qualiopi indicator 2, issue 19 point 6): per training
or for all of the viewer's trainings, over a period, the period and the volume (learners with
activity in it), then the completion, success and drop-out rates and the satisfaction with its
number of answers (data/qualiopi.py says exactly what each is), and the one-page PDF to publish
(exports/qualiopi.py).

Global roles and training managers (their trainings): the page, its navbar link and every
callback check it on the server; a training outside the scope answers 403. `?training=ID`
preselects a training. The period defaults to the last twelve months. Component ids start with
"qualiopi-" (the training page's users-results table has the "results-" ones).
"""

from __future__ import annotations

from datetime import timedelta

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from auth.guard import current_scope
from auth.language import N_, page_title
from auth.language import gettext as _
from dashboards.components.cards import build_cards
from dashboards.components.date_filter import build_date_range_filter, parse_date_range, range_from_inputs
from dashboards.components.texts import dropdown
from dashboards.dialogs.schedule import build_schedule_button
from data.config import current_settings
from data.db import get_db
from data.figures.days import today_in
from data.qualiopi import may_see_results, qualiopi_results, require_training, results_trainings
from data.scope import Forbidden, Scope
from exports.formatting import current_language, fmt_int
from exports.qualiopi import figures, qualiopi_filename, qualiopi_pdf_bytes

PAGE = "qualiopi"
ALL = "__all__"


def can_open(scope: Scope, _session, **_) -> bool:
    return may_see_results(scope)


dash.register_page(
    __name__,
    path="/results",
    name="Results",
    title=page_title(N_("Results")),
    order=70,
    access=can_open,
    nav_label=N_("Results"),
    nav_access=may_see_results,
)


def layout(scope, training=None, **query):
    tz = current_settings().tz
    today = today_in(tz)
    if not any(query.get(k) for k in ("range", "start", "end")):
        query = {**query, "start": (today - timedelta(days=364)).isoformat(), "end": today.isoformat()}
    rng, message = parse_date_range(query, today)
    with get_db().session() as s:
        trainings = results_trainings(s, scope)
    ids = {tid for tid, _name in trainings}
    chosen = training if isinstance(training, str) and training in ids else ALL
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        [
                            dbc.Button(
                                _("Download the PDF"),
                                id="qualiopi-pdf-button",
                                color="primary",
                                outline=True,
                                size="sm",
                                n_clicks=0,
                            ),
                            dcc.Download(id="qualiopi-pdf-download"),
                            build_schedule_button(
                                PAGE, "qualiopi", "qualiopi", _schedule_params(chosen), title=_("Results")
                            ),
                        ],
                        className="float-end d-flex gap-2",
                    ),
                    html.H1(_("Results"), className="h3 mb-0", id="qualiopi-title"),
                    html.Div(
                        _(
                            "Qualiopi indicator 2: the results of your trainings over a period, with the "
                            "period and the volume, and a one-page PDF to publish."
                        ),
                        className="text-muted",
                    ),
                ],
                className="mb-3 ls-page-header",
            ),
            build_date_range_filter(
                PAGE,
                rng,
                message=message,
                extra=[
                    html.Div(
                        [
                            dbc.Label(
                                _("Training"), html_for="qualiopi-training", className="visually-hidden"
                            ),
                            dropdown(
                                id="qualiopi-training",
                                options=[{"label": _("All trainings"), "value": ALL}]
                                + [{"label": name, "value": tid} for tid, name in trainings],
                                value=chosen,
                                clearable=False,
                                style={"minWidth": "16rem"},
                            ),
                        ]
                    )
                ],
            ),
            html.Div(id="qualiopi-message", role="alert"),
            dcc.Loading(html.Div(id="qualiopi-body"), type="circle", delay_show=400),
        ]
    )


def _schedule_params(training) -> dict:
    params = {"language": current_language()}
    if training not in (None, "", ALL):
        params["training_id"] = training
    return params


def _training(value) -> str | None:
    if value in (None, "", ALL):
        return None
    if not isinstance(value, str):
        raise Forbidden()
    return value


def _period(preset, start, end):
    return range_from_inputs(preset, start, end, today_in(current_settings().tz))


def build_results(results) -> html.Div:
    which = (
        _("Training « %(name)s »", name=results.training_name) if results.training_id else _("All trainings")
    )
    return html.Div(
        [
            html.P(
                [
                    html.Strong(which),
                    " · ",
                    _(
                        "from %(start)s to %(end)s · %(learners)s learners with activity in the period "
                        "(%(pairs)s enrollments)",
                        start=f"{results.start:%d/%m/%Y}",
                        end=f"{results.end:%d/%m/%Y}",
                        learners=fmt_int(results.learners),
                        pairs=fmt_int(results.pairs),
                    ),
                ],
                id="qualiopi-volume",
            ),
            # The PDF's words and counts (exports/qualiopi.figures): the page and the file agree.
            build_cards(figures(results, current_language()), PAGE),
            html.P(
                _(
                    "Learners whose training ended: completed in the period, their session ended in it, or "
                    "inactive for 30 days in it. Drop-outs: not completed, session ended or inactive for 30 "
                    "days. Satisfaction: satisfaction.csv's scores answered in the period."
                ),
                className="small text-muted mt-3",
            ),
        ],
        id="qualiopi-figures",
    )


@callback(
    Output("qualiopi-body", "children"),
    Input({"type": "date-range", "page": PAGE}, "start_date"),
    Input({"type": "date-range", "page": PAGE}, "end_date"),
    Input("qualiopi-training", "value"),
    State({"type": "date-preset", "page": PAGE}, "value"),
)
def update_results(start_date, end_date, training, preset):
    """Indicator 2 for the chosen training (or all) and period, in the viewer's scope."""
    scope = current_scope()
    training_id = _training(training)
    rng, message = _period(preset, start_date, end_date)
    with get_db().session() as s:
        require_training(s, scope, training_id)
        if rng is None:
            return html.P(message, className="ls-empty", id="qualiopi-range-error")
        results = qualiopi_results(s, scope, rng.start, rng.end, current_settings().tz, training_id)
    return build_results(results)


@callback(
    Output({"type": "schedule-spec", "page": PAGE, "table": "qualiopi"}, "data"),
    Input("qualiopi-training", "value"),
    prevent_initial_call=True,
)
def update_results_schedule(training):
    """What "Schedule…" would send: the chosen training's results (checked in the scope)."""
    scope = current_scope()
    training_id = _training(training)
    with get_db().session() as s:
        require_training(s, scope, training_id)
    return {"kind": "qualiopi", "params": _schedule_params(training_id), "title": _("Results")}


def results_pdf(start_date, end_date, preset, training):
    """(dcc.Download data or no_update, message) of the one-page PDF."""
    scope = current_scope()
    training_id = _training(training)
    rng, message = _period(preset, start_date, end_date)
    tz = current_settings().tz
    with get_db().session() as s:
        require_training(s, scope, training_id)
        if rng is None:
            return no_update, dbc.Alert(message, color="danger")
        data = qualiopi_pdf_bytes(s, scope, rng.start, rng.end, tz, training_id, current_language())
    return dcc.send_bytes(
        data, qualiopi_filename(training_id, rng.start, rng.end), type="application/pdf"
    ), ""


@callback(
    Output("qualiopi-pdf-download", "data"),
    Output("qualiopi-message", "children"),
    Input("qualiopi-pdf-button", "n_clicks"),
    State({"type": "date-range", "page": PAGE}, "start_date"),
    State({"type": "date-range", "page": PAGE}, "end_date"),
    State({"type": "date-preset", "page": PAGE}, "value"),
    State("qualiopi-training", "value"),
    prevent_initial_call=True,
)
def download_results_pdf(n_clicks, start_date, end_date, preset, training):
    if not n_clicks:
        raise PreventUpdate
    return results_pdf(start_date, end_date, preset, training)


__all__ = ["build_results", "download_results_pdf", "results_pdf", "update_results"]
