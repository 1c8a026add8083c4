"""The global page (SPEC §5 "Global"): the viewer's whole scope over a date range.

Statistics managers see every training; a training manager their trainings; a class manager
their class's members in the class's trainings. A user without a manager role is sent to their
own learner page (or a session instructor to their sessions).
"""

from __future__ import annotations

from urllib.parse import quote

import dash
from dash import Input, Output, State, callback, dcc, html
from flask_login import current_user

from auth.guard import current_scope
from auth.language import N_, ngettext, page_title
from auth.language import gettext as _
from dashboards.components.at_risk import build_at_risk_section, days_from, register_at_risk_callbacks
from dashboards.components.dashboard import build_statistics, build_trainings_table
from dashboards.components.date_filter import build_date_range_filter, parse_date_range, range_from_inputs
from dashboards.components.page_pdf import build_pdf_button
from dashboards.dialogs.opco import build_opco_export_controls
from data.config import current_settings
from data.db import get_db
from data.figures.cards import first_activity_date
from data.figures.days import today_in
from data.figures.population import ALL
from data.scope import Forbidden

PAGE = "overview"


def can_open(scope, _session, **_) -> bool:
    """Everyone may open "/": managers see the page, others are sent to their own page."""
    return True


dash.register_page(
    __name__,
    path="/",
    name="Overview",
    title=page_title(N_("Overview")),
    order=0,
    access=can_open,
    nav_label=N_("Overview"),
    nav_access=lambda scope: scope.is_manager,
)


def _scope_sentence(scope) -> str:
    if scope.is_global:
        return _("Every training and learner of the platform.")
    trainings = ngettext(
        "the %(num)d training you manage", "the %(num)d trainings you manage", len(scope.trainings)
    )
    classes = ngettext(
        "the members of the %(num)d class you manage, in their trainings",
        "the members of the %(num)d classes you manage, in their trainings",
        len(scope.classes),
    )
    if scope.trainings and scope.classes:
        return _("Figures for %(trainings)s and %(classes)s.", trainings=trainings, classes=classes)
    return _("Figures for %(what)s.", what=trainings if scope.trainings else classes)


def layout(scope, **query):
    if not scope.is_manager:
        target = "/sessions" if scope.sessions else f"/learner/{quote(current_user.id, safe='')}"
        return dcc.Location(id="overview-redirect", href=target, refresh=True)
    tz = current_settings().tz
    today = today_in(tz)
    with get_db().session() as s:
        first = first_activity_date(s, scope, ALL, tz)
    rng, message = parse_date_range(query, today, all_time_start=first)
    return html.Div(
        [
            html.Div(
                [
                    build_pdf_button(PAGE),
                    *build_opco_export_controls(scope),
                    html.H1(_("Overview"), className="h3 mb-0"),
                    html.Div(_scope_sentence(scope), className="text-muted", id="overview-scope"),
                ],
                className="mb-3 ls-page-header",
            ),
            build_date_range_filter(PAGE, rng, all_time_start=first, message=message),
            # Each block has its own callback and appears when it is ready: the statistics follow
            # the range, the trainings table (today's state) is built once per page load.
            # The spinner follows the block's own callback only: the At risk card inside it has its own
            # (a Loading follows every callback writing inside it, and would hide the drawn block).
            dcc.Loading(
                html.Div(id="overview-body"),
                type="circle",
                delay_show=400,
                target_components={"overview-body": "children"},
            ),
            build_at_risk_section(PAGE, ALL, days_from(query.get("days"), current_settings().at_risk_days)),
            dcc.Store(id="overview-trainings-load", data=True),
            dcc.Loading(html.Div(id="overview-trainings", className="mt-4"), type="circle", delay_show=400),
        ]
    )


def _trainings_table(session, scope, tz):
    table = build_trainings_table(PAGE, session, scope, ALL, tz, filename="trainings")
    if table is None:
        return html.P(
            _("No training is in your scope yet."), className="ls-empty", id="overview-trainings-empty"
        )
    return table


@callback(
    Output("overview-body", "children"),
    Input({"type": "date-range", "page": PAGE}, "start_date"),
    Input({"type": "date-range", "page": PAGE}, "end_date"),
    State({"type": "date-preset", "page": PAGE}, "value"),
)
def update_overview(start_date, end_date, preset):
    """Cards, donuts and charts for the chosen range."""
    scope = current_scope()
    if not scope.is_manager:
        raise Forbidden()
    settings = current_settings()
    tz = settings.tz
    today = today_in(tz)
    rng, message = range_from_inputs(preset, start_date, end_date, today)
    if rng is None:
        return html.P(message, className="ls-empty", id="overview-range-error")
    with get_db().session() as s:
        return build_statistics(PAGE, s, scope, ALL, tz, rng, today)


register_at_risk_callbacks(PAGE)


@callback(Output("overview-trainings", "children"), Input("overview-trainings-load", "data"))
def update_overview_trainings(_load):
    """The trainings table: today's state, independent of the date range."""
    scope = current_scope()
    if not scope.is_manager:
        raise Forbidden()
    tz = current_settings().tz
    with get_db().session() as s:
        return _trainings_table(s, scope, tz)
