"""The learner page (SPEC §5 "Learner"): identity, counters, trends, activity over the date
range and the trainings table with in-place details.

Whose figures: Population(user_id=..., learners_only=False, include_self=True) under the
viewer's scope, so a training manager sees the learner's page limited to their trainings, a
class manager limited to the class's trainings, and the learner their whole page (SPEC §6).
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from auth.guard import current_scope
from auth.language import N_, named_page_title, ngettext
from auth.language import gettext as _
from dashboards.components.cards import build_cards, build_empty_state, signed_pct
from dashboards.components.chart_cards import build_chart_card
from dashboards.components.date_filter import build_date_range_filter, parse_date_range, range_from_inputs
from dashboards.components.figures import make_timeseries_figure
from dashboards.components.page_pdf import build_pdf_button, printing
from dashboards.components.results import build_results_table
from dashboards.components.texts import build_breadcrumb
from data.config import current_settings
from data.db import get_db
from data.figures.activity import activity_series, activity_trends, time_spent_total
from data.figures.at_risk import at_risk_rows
from data.figures.cards import first_activity_date, status_summary
from data.figures.days import choose_unit, today_in
from data.figures.population import Population, Trend, require_population
from data.learners import LearnerProfile, learner_profile
from data.models import User
from data.scope import Forbidden, Scope
from exports.at_risk import reason_texts
from exports.formatting import DASH, fmt_date, fmt_datetime, fmt_duration, fmt_int

PAGE = "learner"
STATUS_NAMES = {"active": N_("active"), "blocked": N_("blocked")}
TREND_PERIODS = (7, 30)
TREND_LABELS = {
    "active_days": N_("Active days"),
    "time_spent": N_("Time spent"),
    "connections": N_("Connections"),
    "modules_completed": N_("Modules completed"),
}


def can_open(scope: Scope, session, user_id=None, **_) -> bool:
    """Own page; a learner of a managed training; a member of a managed class; global roles."""
    return (
        bool(user_id) and session.get(User, user_id) is not None and scope.can_view_learner(session, user_id)
    )


def _user_name(user: User) -> str:
    """The learner as the page's title says it (LearnerProfile.name)."""
    return f"{user.first_name or ''} {user.last_name or ''}".strip() or user.email


dash.register_page(
    __name__,
    path_template="/learner/<user_id>",
    name="Learner",
    title=named_page_title(
        N_("Learner"), can_open, lambda s, user_id=None, **_: _user_name(s.get(User, user_id))
    ),
    order=40,
    access=can_open,
)


def learner_population(user_id: str) -> Population:
    """The page's population: the learner's trainings the viewer may see (blocked learners and
    admins included: it is their own history)."""
    return Population(user_id=user_id, learners_only=False, include_self=True)


def _check(scope: Scope, session, user_id: str | None) -> Population:
    """The population of a callback's learner id, which comes from the browser: 403 outside scope."""
    if not isinstance(user_id, str) or not can_open(scope, session, user_id=user_id):
        raise Forbidden()
    pop = learner_population(user_id)
    require_population(session, scope, pop)
    return pop


def _scope_note(scope: Scope, user_id: str) -> str | None:
    if scope.is_global or user_id == scope.user_id:
        return None
    if scope.trainings and scope.classes:
        return _("Figures limited to the trainings you manage and the trainings of the classes you manage.")
    if scope.trainings:
        return _("Figures limited to the trainings you manage.")
    return _("Figures limited to the trainings of the classes you manage.")


# ---------------------------------------------------------------------------------------------
# Identity
# ---------------------------------------------------------------------------------------------


def _fact(label: str, value, slug: str) -> html.Div:
    return html.Div(
        [html.Dt(_(label)), html.Dd(value if value not in (None, "", []) else DASH, id=f"learner-{slug}")],
        className="ls-fact",
    )


def _chips(values, empty: str = DASH):
    if not values:
        return empty
    return [html.Span(v, className="ls-chip") for v in values]


def build_identity(profile: LearnerProfile) -> dbc.Card:
    """Name, email, dates, classes, labels and custom fields."""
    facts = [
        _fact(N_("Email"), html.A(profile.email, href=f"mailto:{profile.email}"), "email"),
        _fact(N_("Joined"), fmt_date(profile.joined.date()) if profile.joined else DASH, "joined"),
        _fact(N_("Last access"), fmt_datetime(profile.last_access), "last-access"),
        _fact(N_("Classes"), _chips(profile.classes), "classes"),
        _fact(N_("Labels"), _chips(profile.labels), "labels"),
    ]
    if profile.additional_info:
        facts.append(_fact(N_("Additional information"), profile.additional_info, "additional-info"))
    for field, value in profile.fields:
        facts.append(html.Div([html.Dt(field), html.Dd(value or DASH)], className="ls-fact"))
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2(_("Identity"), className="ls-chart-title mb-2"),
                html.Dl(facts, className="ls-facts mb-0"),
            ]
        ),
        className="ls-chart-card",
        id="learner-identity",
    )


# ---------------------------------------------------------------------------------------------
# Trends
# ---------------------------------------------------------------------------------------------


def _trend_value(measure: str, value: float) -> str:
    return fmt_duration(value) if measure == "time_spent" else fmt_int(value)


def _signed(measure: str, change: float) -> str:
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    return sign + _trend_value(measure, abs(change))


def _change_text(trend: Trend) -> tuple[str, str]:
    """('+2 (+50 %)', 'up' | 'down' | 'flat'); no % when the previous period is 0."""
    if _trend_value(trend.measure, trend.current) == _trend_value(trend.measure, trend.previous):
        return _("no change"), "flat"
    text = _signed(trend.measure, trend.change)
    pct = trend.change_pct
    if pct is not None:
        text += f" ({signed_pct(pct)})"
    else:
        text += " (" + _("new") + ")"
    return text, "up" if trend.change > 0 else "down"


def build_trends(trends: list[Trend], days: int) -> html.Div:
    """One tile per measure: this period's value, the change and the previous period's value."""
    tiles = []
    for trend in trends:
        change, modifier = _change_text(trend)
        arrow = {"up": "▲ ", "down": "▼ ", "flat": ""}[modifier]
        slug = trend.measure.replace("_", "-")
        tiles.append(
            dbc.Col(
                html.Div(
                    [
                        html.Div(_(TREND_LABELS[trend.measure]), className="ls-trend-label"),
                        html.Div(
                            _trend_value(trend.measure, trend.current),
                            className="ls-trend-value",
                            id=f"learner-trend-{slug}-value",
                        ),
                        html.Div(
                            arrow + change,
                            className=f"ls-trend-change ls-trend-{modifier}",
                            id=f"learner-trend-{slug}-change",
                        ),
                        html.Div(
                            _(
                                "previous %(days)d days: %(value)s",
                                days=days,
                                value=_trend_value(trend.measure, trend.previous),
                            ),
                            className="ls-trend-help",
                        ),
                    ],
                    className="ls-trend",
                ),
                xs=12,
                sm=6,
            )
        )
    return dbc.Row(tiles, className="g-3")


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------


def layout(scope, user_id=None, **query):
    tz = current_settings().tz
    today = today_in(tz)
    pop = learner_population(user_id)
    with get_db().session() as s:
        profile = learner_profile(s, scope, user_id, tz)
        first = first_activity_date(s, scope, pop, tz)
    rng, message = parse_date_range(query, today, all_time_start=first)
    note = _scope_note(scope, user_id)
    subtitle = [html.Span(profile.email)]
    if profile.status != "active":
        subtitle.append(
            dbc.Badge(
                _(STATUS_NAMES.get(profile.status, profile.status)),
                color="secondary",
                className="ms-2",
                id="learner-status",
            )
        )
    crumbs = build_breadcrumb([(_("Overview"), "/"), (profile.name, None)]) if scope.is_manager else None
    trends_card = dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    [
                        html.Div(
                            [
                                html.H2(_("Trends"), className="ls-chart-title"),
                                html.Div(
                                    _("Against the period just before (platform time zone)"),
                                    className="ls-chart-subtitle",
                                ),
                            ]
                        ),
                        dbc.RadioItems(
                            id="learner-trend-period",
                            options=[
                                {"label": _("Last %(days)d days", days=d), "value": d} for d in TREND_PERIODS
                            ],
                            value=TREND_PERIODS[0],
                            inline=True,
                            className="btn-group ls-trend-toggle",
                            inputClassName="btn-check",
                            labelClassName="btn btn-outline-primary",
                            labelCheckedClassName="active",
                        ),
                    ],
                    className="ls-chart-header mb-3",
                ),
                dcc.Loading(html.Div(id="learner-trends"), type="circle", delay_show=400),
            ]
        ),
        className="ls-chart-card",
    )
    return html.Div(
        [
            crumbs,
            html.Div(
                [
                    build_pdf_button(PAGE),
                    html.H1(profile.name, className="h3 mb-0", id="learner-title"),
                    html.Div(subtitle, className="text-muted"),
                    html.Div(note, className="ls-scope-note", id="learner-scope-note") if note else None,
                ],
                className="mb-3 ls-page-header",
            ),
            dcc.Store(id="learner-id", data=user_id),
            dbc.Row(
                [dbc.Col(build_identity(profile), lg=5), dbc.Col(trends_card, lg=7)],
                className="g-3 mb-3",
            ),
            build_date_range_filter(PAGE, rng, all_time_start=first, message=message),
            dcc.Loading(html.Div(id="learner-body"), type="circle", delay_show=400),
            html.Div(
                build_results_table(
                    PAGE, pop, mode="trainings", title=_("Trainings"), every_row=printing(query)
                ),
                className="mt-4",
            ),
        ],
        className="ls-learner-page",
    )


# ---------------------------------------------------------------------------------------------
# Callbacks
# ---------------------------------------------------------------------------------------------


def _activity_chart(frame: pd.DataFrame, unit: str) -> dbc.Card:
    titles = {
        "day": N_("Time spent per day"),
        "week": N_("Time spent per week"),
        "month": N_("Time spent per month"),
    }
    frame = frame.copy()
    frame["minutes"] = [round(v / 60, 1) for v in frame["time_spent"]]
    if frame["connections"].sum() == 0:
        figure = build_empty_state(
            N_("No connection to these trainings during this period."), "learner-activity-empty"
        )
    else:
        figure = make_timeseries_figure(
            frame, "bucket", [("minutes", _("Time spent (min)"))], kind="bar", bucket=unit
        )
    return build_chart_card(
        PAGE,
        "activity",
        titles[unit],
        figure,
        frame,
        [
            ("bucket", N_("From"), "date"),
            ("last_day", N_("To"), "date"),
            ("time_spent", N_("Time spent"), "duration"),
            ("connections", N_("Connections"), "int"),
            ("modules_completed", N_("Modules completed"), "int"),
        ],
        N_("Connections to the trainings' modules, by the day they started (platform time zone)"),
    )


@callback(
    Output("learner-body", "children"),
    Input({"type": "date-range", "page": PAGE}, "start_date"),
    Input({"type": "date-range", "page": PAGE}, "end_date"),
    State({"type": "date-preset", "page": PAGE}, "value"),
    State("learner-id", "data"),
)
def update_learner_page(start_date, end_date, preset, user_id):
    """Counters at the range's end and the activity chart over the range."""
    scope = current_scope()
    tz = current_settings().tz
    today = today_in(tz)
    with get_db().session() as s:
        pop = _check(scope, s, user_id)
        rng, message = range_from_inputs(preset, start_date, end_date, today)
        if rng is None:
            return html.P(message, className="ls-empty", id="learner-range-error")
        end = min(rng.end, today)
        summary = status_summary(s, scope, pop, tz, as_of=end)
        spent = time_spent_total(s, scope, pop, tz, as_of=end)
        unit = choose_unit(rng.start, rng.end)
        activity = activity_series(s, scope, pop, tz, rng.start, rng.end, unit)
        risk = _at_risk_card(s, scope, user_id, tz, end)
    day = fmt_date(end)
    cards = build_cards(
        [
            (N_("Trainings completed"), fmt_int(summary.completed), _("passed, failed or expired on %(day)s", day=day)),
            (N_("In progress"), fmt_int(summary.counts.get("in progress", 0)), ngettext("of %(num)d training on %(day)s", "of %(num)d trainings on %(day)s", summary.pairs, day=day)),
            (N_("Certificates valid"), fmt_int(summary.counts.get("passed", 0)), _("passed and not expired on %(day)s", day=day)),
            (N_("Time spent"), fmt_duration(spent), _("in these trainings by %(day)s", day=day)),
        ],
        PAGE,
    )  # fmt: skip
    return html.Div([cards, risk, html.Div(_activity_chart(activity, unit), className="mt-3")])


def _at_risk_card(session, scope: Scope, user_id: str, tz, on) -> dbc.Card:
    """SPEC §9: the learner's reasons to be at risk, per training (those the viewer sees),
    on the range's last day; blocked learners are not at risk."""
    pop = Population(user_id=user_id, learners_only=True, include_self=True)
    days = current_settings().at_risk_days
    rows, _total = at_risk_rows(session, scope, pop, tz, on, days)
    if rows:
        body = html.Ul(
            [
                html.Li(
                    [
                        html.Span(row.training, className="fw-semibold"),
                        " — ",
                        "; ".join(reason_texts(row, on)),
                    ],
                    id={"type": "learner-at-risk", "training": row.training_id},
                )
                for row in rows
            ],
            className="mb-0 ls-at-risk-reasons",
        )
    else:
        body = html.P(
            _("Not at risk in any training."), className="text-muted mb-0", id="learner-not-at-risk"
        )
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2(_("At risk"), className="ls-chart-title"),
                html.Div(
                    _(
                        "On %(day)s, inactive for %(days)d days or more, failing or late",
                        day=fmt_date(on),
                        days=days,
                    ),
                    className="ls-chart-subtitle mb-2",
                ),
                body,
            ]
        ),
        className="ls-chart-card mt-3",
        id="learner-at-risk",
    )


@callback(
    Output("learner-trends", "children"),
    Input("learner-trend-period", "value"),
    State("learner-id", "data"),
)
def update_learner_trends(days, user_id):
    """Active days, time spent, connections and modules completed over the last 7 or 30 days,
    with the change against the days before."""
    scope = current_scope()
    tz = current_settings().tz
    try:
        days = int(days)
    except (TypeError, ValueError):
        days = TREND_PERIODS[0]
    if days not in TREND_PERIODS:
        days = TREND_PERIODS[0]
    with get_db().session() as s:
        pop = _check(scope, s, user_id)
        trends = activity_trends(s, scope, pop, tz, days)
    return build_trends(trends, days)
