"""The training page (SPEC §5 "Training"): one training's figures, optionally for one class,
its content table and its users-results table with in-place details."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update
from sqlalchemy import select

from auth.guard import current_scope
from auth.language import N_, named_page_title, ngettext
from auth.language import gettext as _
from dashboards.components.at_risk import build_at_risk_section, days_from, register_at_risk_callbacks
from dashboards.components.dashboard import build_statistics
from dashboards.components.date_filter import build_date_range_filter, parse_date_range, range_from_inputs
from dashboards.components.grids import build_static_table
from dashboards.components.page_pdf import build_pdf_button, printing
from dashboards.components.results import build_results_table, population_to_store
from dashboards.components.texts import build_breadcrumb
from data.config import current_settings
from data.db import get_db
from data.figures.cards import first_activity_date, learner_count
from data.figures.days import today_in
from data.figures.population import Population, require_population
from data.figures.tables import training_content
from data.models import Class, ClassTraining, Training
from data.scope import Forbidden
from data.text import fold
from exports.report_kinds import TRAINING_CONTENT_COLUMNS

PAGE = "training"
ALL_CLASSES = "__all__"


def can_open(scope, session, training_id=None, **_) -> bool:
    return (
        bool(training_id)
        and scope.can_view_training_page(training_id)
        and session.get(Training, training_id) is not None
    )


dash.register_page(
    __name__,
    path_template="/training/<training_id>",
    name="Training",
    title=named_page_title(
        N_("Training"), can_open, lambda s, training_id=None, **_: s.get(Training, training_id).name
    ),
    order=60,
    access=can_open,
)


def _class_or_none(choice: str | None) -> str | None:
    return None if not choice or choice == ALL_CLASSES else choice


def _classes(session, training_id: str) -> list[dict]:
    rows = session.execute(
        select(Class.id, Class.name)
        .join(ClassTraining, ClassTraining.class_id == Class.id)
        .where(ClassTraining.training_id == training_id)
    ).all()
    rows = sorted(rows, key=lambda r: fold(r.name))
    return [{"label": _("All learners"), "value": ALL_CLASSES}] + [
        {"label": name, "value": cid} for cid, name in rows
    ]


def layout(scope, training_id=None, **query):
    tz = current_settings().tz
    today = today_in(tz)
    pop = Population(training_id=training_id)
    with get_db().session() as s:
        training = s.get(Training, training_id)
        first = first_activity_date(s, scope, pop, tz)
        classes = _classes(s, training_id)
        modules = training_content(s, scope, pop, tz)
    rng, message = parse_date_range(query, today, all_time_start=first)
    asked = query.get("class")
    class_id = asked if asked and any(c["value"] == asked for c in classes) else ALL_CLASSES
    class_filter = html.Div(
        [
            html.Label(_("Class"), className="ls-filter-label", htmlFor="training-class-select"),
            dbc.Select(id="training-class-select", options=classes, value=class_id, size="sm"),
        ],
        className="ls-filter-extra",
        style={} if len(classes) > 1 else {"display": "none"},
    )
    facts = [
        ngettext("%(num)d module", "%(num)d modules", len(modules)),
        _("%(count)s mandatory", count=int(modules["mandatory"].sum())),
    ]
    if training.validity_months:
        facts.append(
            ngettext(
                "certificate valid %(num)d month",
                "certificate valid %(num)d months",
                training.validity_months,
            )
        )
    if not training.published:
        facts.append(_("not published"))
    return html.Div(
        [
            build_breadcrumb([(_("Overview"), "/"), (training.name, None)]),
            html.Div(
                [
                    build_pdf_button(PAGE),
                    html.H1(training.name, className="h3 mb-0", id="training-title"),
                    html.Div(" · ".join(facts), className="text-muted"),
                ],
                className="mb-3 ls-page-header",
            ),
            dcc.Store(id="training-id", data=training_id),
            dcc.Store(id="training-class-url"),
            build_date_range_filter(PAGE, rng, all_time_start=first, message=message, extra=[class_filter]),
            # The spinner follows the block's own callback only: the At risk card inside it has its own
            # (a Loading follows every callback writing inside it, and would hide the drawn block).
            dcc.Loading(
                html.Div(id="training-body"),
                type="circle",
                delay_show=400,
                target_components={"training-body": "children"},
            ),
            build_at_risk_section(
                PAGE,
                Population(training_id=training_id, class_id=_class_or_none(class_id)),
                days_from(query.get("days"), current_settings().at_risk_days),
            ),
            html.Div(id="training-content", className="mt-4"),
            html.Div(
                build_results_table(
                    "training",
                    Population(training_id=training_id, class_id=_class_or_none(class_id)),
                    title=_("Learners"),
                    every_row=printing(query),
                ),
                className="mt-4",
            ),
        ]
    )


def _content_table(session, scope, pop, tz):
    frame = training_content(session, scope, pop, tz)
    if frame.empty:
        return html.P(_("This training has no modules yet."), className="ls-empty")
    frame["type"] = [_("Mandatory") if m else _("Optional") for m in frame["mandatory"]]
    return build_static_table(
        PAGE,
        "content",
        frame,
        TRAINING_CONTENT_COLUMNS,  # the scheduled report's columns too (exports/report_kinds.py)
        title=N_("Training content"),
        filename=f"training-{pop.training_id}-content",
        sheet_name=N_("Content"),
        schedule={
            "kind": "training-content",
            "params": {
                "training_id": pop.training_id,
                **({"class_id": pop.class_id} if pop.class_id else {}),
            },
            "title": _("Training content"),
        },
    )


@callback(
    Output("training-body", "children"),
    Output("training-content", "children"),
    Output({"type": "results-params", "table": "training"}, "data"),
    Input({"type": "date-range", "page": PAGE}, "start_date"),
    Input({"type": "date-range", "page": PAGE}, "end_date"),
    Input("training-class-select", "value"),
    State({"type": "date-preset", "page": PAGE}, "value"),
    State("training-id", "data"),
)
def update_training_page(start_date, end_date, class_choice, preset, training_id):
    """The training's statistics for the range and class; the results table follows the class."""
    class_id = _class_or_none(class_choice)
    scope = current_scope()
    tz = current_settings().tz
    pop = Population(training_id=training_id, class_id=class_id)
    with get_db().session() as s:
        if not can_open(scope, s, training_id=training_id):
            raise Forbidden()
        require_population(s, scope, pop)
        if class_id and not s.scalar(
            select(ClassTraining.class_id).where(
                ClassTraining.class_id == class_id, ClassTraining.training_id == training_id
            )
        ):
            raise Forbidden()
        today = today_in(tz)
        rng, message = range_from_inputs(preset, start_date, end_date, today)
        # The content and results tables follow the class, not the period: a period change
        # leaves them as they are (the results table keeps its page, search and sort).
        period_only = ctx.triggered_id is not None and ctx.triggered_id != "training-class-select"
        content = no_update if period_only else _content_table(s, scope, pop, tz)
        if rng is None:
            body = html.P(message, className="ls-empty", id="training-range-error")
        elif learner_count(s, scope, pop, tz) == 0:
            body = html.P(
                _("No learner is enrolled in this training yet.")
                if not class_id
                else _("This class has no learner in this training."),
                className="ls-empty",
                id="training-no-learners",
            )
        else:
            body = build_statistics(PAGE, s, scope, pop, tz, rng, today)
    return body, content, no_update if period_only else population_to_store(pop, "learners")


@callback(
    Output(f"{PAGE}-at-risk-params", "data"),
    Input("training-class-select", "value"),
    State("training-id", "data"),
    prevent_initial_call=True,
)
def update_training_at_risk_population(class_choice, training_id):
    """The at-risk list follows the class filter (checked: a forged id answers 403)."""
    pop = Population(training_id=training_id, class_id=_class_or_none(class_choice))
    with get_db().session() as s:
        if not can_open(current_scope(), s, training_id=training_id):
            raise Forbidden()
        require_population(s, current_scope(), pop)
    return population_to_store(pop, "at-risk")


register_at_risk_callbacks(PAGE)


# The class filter goes in the address too (?class=ID), so a bookmarked view shows that class.
clientside_callback(
    """
    function (choice) {
        var ALL = "__ALL__";
        var params = new URLSearchParams(window.location.search);
        if (!choice || choice === ALL) { params.delete("class"); } else { params.set("class", choice); }
        var query = params.toString();
        var url = window.location.pathname + (query ? "?" + query : "") + window.location.hash;
        if (url !== window.location.pathname + window.location.search + window.location.hash) {
            window.history.replaceState(window.history.state, "", url);
        }
        return query;
    }
    """.replace("__ALL__", ALL_CLASSES),
    Output("training-class-url", "data"),
    Input("training-class-select", "value"),
)
