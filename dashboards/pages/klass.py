"""The class page (/class/<class_id>, SPEC §5 "Class"): the global page's figures computed over
the class's members in the trainings the class is registered to, then each of those trainings'
results per member, with the in-place details. ("class" is a keyword: hence klass.py.)"""

from __future__ import annotations

import dash
from dash import MATCH, Input, Output, State, callback, ctx, dcc, html

from auth.guard import current_scope
from auth.language import N_, named_page_title, ngettext
from auth.language import gettext as _
from dashboards.components.at_risk import build_at_risk_section, days_from, register_at_risk_callbacks
from dashboards.components.dashboard import build_statistics, build_trainings_table
from dashboards.components.date_filter import (
    build_date_range_filter,
    dom_id,
    parse_date_range,
    range_from_inputs,
)
from dashboards.components.page_pdf import build_pdf_button, printing
from dashboards.components.results import build_results_table
from dashboards.components.texts import build_breadcrumb
from data.classes import class_member_count, class_trainings
from data.config import current_settings
from data.db import get_db
from data.figures.cards import first_activity_date, learner_count
from data.figures.days import today_in
from data.figures.population import Population, require_population
from data.models import Class
from data.scope import Forbidden, Scope

PAGE = "class"


def can_open(scope: Scope, session, class_id=None, **_) -> bool:
    return bool(class_id) and scope.can_view_class(class_id) and session.get(Class, class_id) is not None


dash.register_page(
    __name__,
    path_template="/class/<class_id>",
    name="Class",
    title=named_page_title(N_("Class"), can_open, lambda s, class_id=None, **_: s.get(Class, class_id).name),
    order=45,
    access=can_open,
)


def results_key(training_id: str) -> str:
    """The results table key of one of the class's trainings (component ids hold it)."""
    return f"class-{training_id}"


def layout(scope, class_id=None, **query):
    tz = current_settings().tz
    today = today_in(tz)
    pop = Population(class_id=class_id)
    with get_db().session() as s:
        name = s.get(Class, class_id).name
        trainings = class_trainings(s, scope, class_id)
        members = class_member_count(s, scope, class_id)
        first = first_activity_date(s, scope, pop, tz)
    rng, message = parse_date_range(query, today, all_time_start=first)
    crumbs = [(_("Overview"), "/")]
    if scope.is_global or scope.classes:
        crumbs.append((_("Classes"), "/classes"))
    crumbs.append((name, None))
    if trainings:
        # Each training's learners table is drawn when its section is opened (issue 21: the
        # page's first paint needs only the class's own figures); all at once on paper
        # (?print=1) or when the address asks (?sections=open).
        eager = printing(query) or query.get("sections") == "open"
        results = [
            html.H2(_("Results per training"), className="ls-section-title mt-4", id="class-results-title"),
            *[
                _training_section(class_id, training_id, training_name, eager, printing(query))
                for training_id, training_name in trainings
            ],
        ]
    else:
        results = [
            html.P(
                _("This class is not registered to any training."),
                className="ls-empty",
                id="class-no-trainings",
            )
        ]
    return html.Div(
        [
            build_breadcrumb(crumbs),
            html.Div(
                [
                    build_pdf_button(PAGE),
                    html.H1(name, className="h3 mb-0", id="class-title"),
                    html.Div(
                        ngettext("%(num)d member", "%(num)d members", members)
                        + " · "
                        + ngettext("%(num)d training", "%(num)d trainings", len(trainings)),
                        className="text-muted",
                        id="class-facts",
                    ),
                ],
                className="mb-3 ls-page-header",
            ),
            dcc.Store(id="class-id", data=class_id),
            build_date_range_filter(PAGE, rng, all_time_start=first, message=message),
            # The spinner follows the block's own callback only: the At risk card inside it has its own
            # (a Loading follows every callback writing inside it, and would hide the drawn block).
            dcc.Loading(
                html.Div(id="class-body"),
                type="circle",
                delay_show=400,
                target_components={"class-body": "children"},
            ),
            build_at_risk_section(PAGE, pop, days_from(query.get("days"), current_settings().at_risk_days)),
            dcc.Loading(html.Div(id="class-trainings", className="mt-4"), type="circle", delay_show=400),
            *results,
        ]
    )


def _section_id(kind: str, training_id: str) -> dict:
    return {"type": kind, "training": training_id}


def _section_table(class_id: str, training_id: str, every_row: bool = False):
    return build_results_table(
        results_key(training_id), Population(training_id=training_id, class_id=class_id), every_row=every_row
    )


def _training_section(class_id: str, training_id: str, name: str, eager: bool, every_row: bool) -> html.Div:
    """A training's section: its name and a Show/Hide button; the learners table inside is
    built when the section is opened (toggle_training_section)."""
    body_id = _section_id("class-section-body", training_id)
    return html.Div(
        [
            html.Div(
                [
                    html.H3(name, className="ls-section-title my-0"),
                    # A plain button: aria-expanded and aria-controls, which dbc.Button cannot carry.
                    html.Button(
                        _("Hide the learners") if eager else _("Show the learners"),
                        id=_section_id("class-section-toggle", training_id),
                        type="button",
                        className="btn btn-outline-primary btn-sm",
                        n_clicks=0,
                        **{"aria-expanded": "true" if eager else "false", "aria-controls": dom_id(body_id)},
                    ),
                ],
                className="ls-class-section-header",
            ),
            html.Div(_section_table(class_id, training_id, every_row) if eager else None, id=body_id),
        ],
        className="ls-class-section mb-3",
        id=f"class-section-{training_id}",
    )


@callback(
    Output(_section_id("class-section-body", MATCH), "children"),
    Output(_section_id("class-section-toggle", MATCH), "children"),
    Output(_section_id("class-section-toggle", MATCH), "aria-expanded"),
    Input(_section_id("class-section-toggle", MATCH), "n_clicks"),
    State(_section_id("class-section-toggle", MATCH), "aria-expanded"),
    State("class-id", "data"),
    prevent_initial_call=True,
)
def toggle_training_section(n_clicks, expanded, class_id):
    """Open (build the learners table) or close a training's section; the training must be one
    of the class's that the viewer may see (403 otherwise)."""
    training_id = ctx.triggered_id["training"] if isinstance(ctx.triggered_id, dict) else None
    if not n_clicks or not isinstance(class_id, str) or not isinstance(training_id, str):
        raise Forbidden()
    scope = current_scope()
    with get_db().session() as s:
        if not can_open(scope, s, class_id=class_id):
            raise Forbidden()
        if training_id not in {tid for tid, _name in class_trainings(s, scope, class_id)}:
            raise Forbidden()
    if expanded == "true":
        return None, _("Show the learners"), "false"
    return _section_table(class_id, training_id), _("Hide the learners"), "true"


def _trainings_table(session, scope: Scope, pop: Population, tz):
    return build_trainings_table(PAGE, session, scope, pop, tz, filename=f"class-{pop.class_id}-trainings")


@callback(
    Output("class-body", "children"),
    Input({"type": "date-range", "page": PAGE}, "start_date"),
    Input({"type": "date-range", "page": PAGE}, "end_date"),
    State({"type": "date-preset", "page": PAGE}, "value"),
    State("class-id", "data"),
)
def update_class_page(start_date, end_date, preset, class_id):
    """The class's cards, donuts and charts for the chosen range."""
    scope = current_scope()
    tz = current_settings().tz
    today = today_in(tz)
    if not isinstance(class_id, str):
        raise Forbidden()
    pop = Population(class_id=class_id)
    with get_db().session() as s:
        if not can_open(scope, s, class_id=class_id):
            raise Forbidden()
        require_population(s, scope, pop)
        rng, message = range_from_inputs(preset, start_date, end_date, today)
        if rng is None:
            return html.P(message, className="ls-empty", id="class-range-error")
        if learner_count(s, scope, pop, tz) == 0:
            return html.P(
                _("No member of this class is enrolled in its trainings yet."),
                className="ls-empty",
                id="class-no-learners",
            )
        return build_statistics(PAGE, s, scope, pop, tz, rng, today)


register_at_risk_callbacks(PAGE)


@callback(Output("class-trainings", "children"), Input("class-id", "data"))
def update_class_trainings(class_id):
    """The class's trainings table: today's state, independent of the date range."""
    scope = current_scope()
    tz = current_settings().tz
    if not isinstance(class_id, str):
        raise Forbidden()
    pop = Population(class_id=class_id)
    with get_db().session() as s:
        if not can_open(scope, s, class_id=class_id):
            raise Forbidden()
        require_population(s, scope, pop)
        if learner_count(s, scope, pop, tz) == 0:
            return None
        return _trainings_table(s, scope, pop, tz)
