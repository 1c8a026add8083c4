"""Module summary: one learner's attempts of one module in a training (SPEC §5)."""

from __future__ import annotations

from urllib.parse import quote

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html
from sqlalchemy import exists, select

from auth.guard import current_scope
from auth.language import N_, ngettext, page_title
from auth.language import gettext as _
from dashboards.components.cards import status_badge
from dashboards.components.texts import build_breadcrumb
from data.config import current_settings
from data.db import get_db
from data.figures.days import to_local
from data.figures.module_summary import AttemptSummary, module_attempts
from data.models import Module, Training, TrainingLearner, TrainingModule, User
from data.scope import Forbidden
from exports.formatting import fmt_datetime, fmt_pct, fmt_points

PATH = "/training/<training_id>/learner/<user_id>/module/<module_id>"


def can_open(scope, session, training_id=None, user_id=None, module_id=None, **_) -> bool:
    """Own summaries, or those of a learner (and training) the user manages."""
    if not (training_id and user_id and module_id):
        return False
    visible = session.scalar(
        select(
            exists().where(
                TrainingLearner.training_id == training_id,
                TrainingLearner.user_id == user_id,
                scope.pair_filter(TrainingLearner.user_id, TrainingLearner.training_id, include_self=True),
            )
        )
    )
    in_training = session.scalar(
        select(
            exists().where(TrainingModule.training_id == training_id, TrainingModule.module_id == module_id)
        )
    )
    return bool(visible and in_training)


dash.register_page(
    __name__,
    path_template=PATH,
    name="Module summary",
    title=page_title(N_("Module summary")),
    order=50,
    access=can_open,
)


def _attempt_label(number: int, attempt: AttemptSummary, tz) -> str:
    started = fmt_datetime(to_local(attempt.started_at, tz))
    if attempt.finished_at:
        return _("Attempt %(number)d — %(started)s (finished)", number=number, started=started)
    return _("Attempt %(number)d — %(started)s (in progress)", number=number, started=started)


def build_attempt(attempt: AttemptSummary) -> html.Div:
    if attempt.finished_at is None:
        headline = _(
            "In progress: %(points)s of %(max)s possible points so far.",
            points=fmt_points(attempt.points),
            max=fmt_points(attempt.max_points),
        )
    else:
        headline = _(
            "Got %(points)s of %(max)s possible points.",
            points=fmt_points(attempt.points),
            max=fmt_points(attempt.max_points),
        )
    pending = (
        dbc.Alert(
            ngettext(
                "%(num)d answer awaiting grading counts 0 until it is graded.",
                "%(num)d answers awaiting grading count 0 until they are graded.",
                attempt.awaiting_grading,
            ),
            color="info",
            className="py-2",
        )
        if attempt.awaiting_grading
        else None
    )
    rows = []
    for activity in attempt.activities:
        score = "–" if activity.score is None else fmt_points(activity.score)
        rows.append(
            html.Tr(
                [
                    html.Td([html.Div(activity.name, className="fw-semibold"), html.Div(activity.question, className="small")]),
                    html.Td(activity.answer if activity.answer is not None else html.Span(_("no answer"), className="text-muted")),
                    html.Td(activity.correct_answer or "–"),
                    html.Td(f"{score} / {fmt_points(activity.max_score)}", className="text-end text-nowrap"),
                    html.Td(status_badge(activity.state)),
                ]
            )
        )  # fmt: skip
    table = dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th(_("Question")),
                        html.Th(_("Answer")),
                        html.Th(_("Correct answer")),
                        html.Th(_("Score"), className="text-end"),
                        html.Th(_("State")),
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        size="sm",
        hover=True,
        responsive=True,
        className="ls-table",
    )
    return html.Div(
        [
            html.Div(
                [
                    html.Span(headline, className="ls-summary-headline", id="module-summary-points"),
                    html.Span(
                        fmt_pct(attempt.score),
                        className="ls-summary-score ms-3",
                        id="module-summary-score",
                    ),
                ],
                className="mb-3",
            ),
            pending,
            table
            if attempt.activities
            else html.P(_("This module has no activities."), className="ls-empty"),
        ]
    )


def _load(training_id, user_id, module_id):
    scope = current_scope()
    with get_db().session() as s:
        if not can_open(scope, s, training_id=training_id, user_id=user_id, module_id=module_id):
            raise Forbidden()
        attempts = module_attempts(s, scope, training_id, user_id, module_id)
        training = s.get(Training, training_id)
        user = s.get(User, user_id)
        module = s.get(Module, module_id)
        names = (training.name, f"{user.first_name} {user.last_name}".strip() or user.email, module.name)
    return attempts, names


def layout(scope, training_id=None, user_id=None, module_id=None, **_query):
    tz = current_settings().tz
    attempts, (training_name, learner_name, module_name) = _load(training_id, user_id, module_id)
    learner_href = f"/learner/{quote(user_id, safe='')}"
    training_href = f"/training/{quote(training_id, safe='')}"
    # A learner reading their own summary may not open the training page: its crumb is then
    # plain text (not a link, nor a focusable link without a target), as is the current page.
    training_link = training_href if scope.can_view_training_page(training_id) else None
    crumbs = build_breadcrumb(
        [(training_name, training_link), (learner_name, learner_href), (module_name, None)],
        nav_id="module-summary-breadcrumb",
    )
    header = html.Div(
        [
            html.H1(module_name, className="h3 mb-0"),
            html.Div(f"{learner_name} · {training_name}", className="text-muted"),
        ],
        className="mb-3",
    )
    if not attempts:
        body = html.P(
            _("%(name)s has not attempted this module yet.", name=learner_name),
            className="ls-empty",
            id="module-summary-empty",
        )
        return html.Div([crumbs, header, body])
    options = [
        {"label": _attempt_label(len(attempts) - i, a, tz), "value": a.attempt_id}
        for i, a in enumerate(attempts)
    ]
    picker = dbc.Row(
        dbc.Col(
            dbc.InputGroup(
                [
                    dbc.InputGroupText(_("Attempt")),
                    dbc.Select(
                        id="module-summary-attempt-select", options=options, value=attempts[0].attempt_id
                    ),
                ]
            ),
            md=6,
        ),
        className="mb-3",
        style={} if len(attempts) > 1 else {"display": "none"},
    )
    return html.Div(
        [
            crumbs,
            header,
            dcc.Store(id="module-summary-params", data=[training_id, user_id, module_id]),
            picker,
            dbc.Card(
                dbc.CardBody(build_attempt(attempts[0]), id="module-summary-attempt"), className="ls-card"
            ),
        ]
    )


@callback(
    Output("module-summary-attempt", "children"),
    Input("module-summary-attempt-select", "value"),
    State("module-summary-params", "data"),
    prevent_initial_call=True,
)
def show_module_attempt(attempt_id, params):
    """The chosen attempt's answers (the scope is checked again: params come from the browser)."""
    if not (isinstance(params, list) and len(params) == 3 and all(isinstance(p, str) for p in params)):
        raise Forbidden()
    training_id, user_id, module_id = params
    attempts, _names = _load(training_id, user_id, module_id)
    for attempt in attempts:
        if attempt.attempt_id == attempt_id:
            return build_attempt(attempt)
    raise Forbidden()
