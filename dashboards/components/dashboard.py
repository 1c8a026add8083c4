"""The statistics block shared by the global, training and class pages (SPEC §5): cards,
the training progress and completion donuts read at the range's end, and the three charts
over the range. Every number comes from data.figures for the given scope and population.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html
from sqlalchemy.orm import Session

from auth.language import N_
from auth.language import gettext as _
from dashboards.components.at_risk import build_at_risk_card
from dashboards.components.cards import build_cards, build_empty_state, status_label
from dashboards.components.chart_cards import build_chart_card
from dashboards.components.date_filter import DateRange, previous_period
from dashboards.components.figures import PERCENT, STATUS_COLORS, make_donut_figure, make_timeseries_figure
from dashboards.components.grids import build_static_table
from data.cache import memoized
from data.figures.cards import (
    active_users_count,
    active_users_series,
    completions_count,
    completions_series,
    learner_count,
    new_users_count,
    progress_series,
    status_summary,
)
from data.figures.days import choose_unit, today_in
from data.figures.population import Population, StatusSummary, training_count, training_module_counts
from data.figures.tables import trainings_table
from data.scope import Scope
from exports.formatting import current_language, fmt_date, fmt_int, fmt_pct


def build_statistics(
    page: str,
    session: Session,
    scope: Scope,
    pop: Population,
    tz: ZoneInfo,
    rng: DateRange,
    today: date,
) -> html.Div:
    """Cards, donuts and charts of the population over the range (the built block is memoized
    like the figures: a warm request skips building the charts too). The At risk card is a
    frame here, filled by a callback of its own (dashboards/components/at_risk.py): its counts
    follow the page's days setting and cost more than the rest of the block."""
    return _statistics_block(session, scope, page, pop, tz, rng, today, current_language())


def _trainings_card(session: Session, scope: Scope, pop: Population) -> tuple[str, str, str | None, int]:
    """How many trainings the page covers; on a training's page (one training: "Trainings: 1"
    says nothing) its modules instead, and how many of them are mandatory; then the number."""
    if pop.training_id is not None:
        modules, mandatory = training_module_counts(session, scope, pop.training_id)
        return (N_("Modules"), fmt_int(modules), _("%(count)s mandatory", count=fmt_int(mandatory)), modules)
    count = training_count(session, scope, pop)
    return (N_("Trainings"), fmt_int(count), None, count)


@memoized
def _statistics_block(
    session: Session,
    scope: Scope,
    page: str,
    pop: Population,
    tz: ZoneInfo,
    rng: DateRange,
    today: date,
    language: str,  # part of the memo's key: the block's texts are in this language
) -> html.Div:
    end = min(rng.end, today)
    first, last = previous_period(rng)
    summary = status_summary(session, scope, pop, tz, as_of=end)
    completions = completions_series(session, scope, pop, tz, rng.start, rng.end)
    learners = learner_count(session, scope, pop, tz, as_of=end)
    new_users = new_users_count(session, scope, pop, tz, rng.start, rng.end)
    active = active_users_count(session, scope, pop, tz, rng.start, rng.end)
    done = int(completions["completions"].sum())
    trainings_label, trainings_value, trainings_help, trainings_number = _trainings_card(session, scope, pop)
    cards = build_cards(
        [
            (N_("Learners"), fmt_int(learners), _("enrolled by %(day)s", day=fmt_date(end)),
             (learners, learner_count(session, scope, pop, tz, as_of=last))),
            (N_("New users"), fmt_int(new_users), N_("accounts created in the period"),
             (new_users, new_users_count(session, scope, pop, tz, first, last))),
            (N_("Active users"), fmt_int(active), N_("logged in or connected in the period"),
             (active, active_users_count(session, scope, pop, tz, first, last))),
            # Trainings and modules have no date: the previous period had the same.
            (trainings_label, trainings_value, trainings_help, (trainings_number, trainings_number)),
            (N_("Completions"), fmt_int(done), N_("trainings completed in the period"),
             (done, completions_count(session, scope, pop, tz, first, last))),
            build_at_risk_card(page, pop, rng),
        ],
        page,
    )  # fmt: skip
    donuts = dbc.Row(
        [
            dbc.Col(_progress_donut(page, summary, end), lg=6),
            dbc.Col(_completion_donut(page, summary, end), lg=6),
        ],
        className="g-3 mt-1",
    )
    active = active_users_series(session, scope, pop, tz, rng.start, rng.end)
    progress = progress_series(session, scope, pop, tz, rng.start, rng.end)
    unit = choose_unit(rng.start, rng.end)
    charts = dbc.Row(
        [
            dbc.Col(_active_chart(page, active, unit), lg=12),
            dbc.Col(_progress_chart(page, progress, unit), lg=6),
            dbc.Col(_completions_chart(page, completions, unit), lg=6),
        ],
        className="g-3 mt-1",
    )
    return html.Div([cards, donuts, charts], id=f"{page}-statistics")


def _progress_donut(page: str, summary: StatusSummary, end: date):
    title = N_("Training progress")
    subtitle = _("Average progress of the enrolled learners on %(day)s", day=fmt_date(end))
    if not summary.pairs:
        figure = _("No learner was enrolled by the end of this period.")
        table = None
    else:
        value = summary.average_progress or 0.0
        figure = make_donut_figure(
            [_("Completed modules"), _("Remaining modules")],
            [round(value, 1), round(100 - value, 1)],
            fmt_pct(value),
            colors=[STATUS_COLORS.get("passed", "#10b981"), "#e5e7eb"],
        )
        table = pd.DataFrame(
            [
                {"measure": _("Average progress"), "value": fmt_pct(value)},
                {"measure": _("Enrolments (learner × training)"), "value": fmt_int(summary.pairs)},
            ]
        )
    return build_chart_card(
        page,
        "progress-donut",
        title,
        figure,
        table,
        [("measure", N_("Measure")), ("value", N_("Value"))],
        subtitle,
        260,
    )


def _completion_donut(page: str, summary: StatusSummary, end: date):
    title = N_("Training completion")
    subtitle = _("Status of each enrolment (learner × training) on %(day)s", day=fmt_date(end))
    labels = ["passed", "failed", "expired", "in progress", "not started"]
    counts = [summary.counts.get(label, 0) for label in labels]
    names = [status_label(label).capitalize() for label in labels]
    table = pd.DataFrame({"status": names, "enrolments": counts})
    if not summary.pairs:
        figure = _("No learner was enrolled by the end of this period.")
    else:
        rate = summary.completion_rate or 0.0
        figure = make_donut_figure(
            names,
            counts,
            f"{fmt_pct(rate)}<br><span style='font-size:12px'>{_('completed')}</span>",
            colors=[STATUS_COLORS.get(label, "#9ca3af") for label in labels],
        )
    return build_chart_card(
        page,
        "completion-donut",
        title,
        figure,
        table,
        [("status", N_("Status")), ("enrolments", N_("Enrolments"), "int")],
        subtitle,
        260,
    )


def _active_chart(page, frame, unit):
    if frame["active_users"].sum() == 0:
        figure = build_empty_state(
            N_("No learner logged in or connected during this period."), f"{page}-active-users-empty"
        )
    else:
        figure = make_timeseries_figure(
            frame, "bucket", [("active_users", _("Active users"))], kind="bar", bucket=unit
        )
    title = {
        "day": N_("Active users per day"),
        "week": N_("Active users per week"),
        "month": N_("Active users per month"),
    }
    return build_chart_card(
        page,
        "active-users",
        title[unit],
        figure,
        frame,
        [
            ("bucket", N_("From"), "date"),
            ("last_day", N_("To"), "date"),
            ("active_users", N_("Active users"), "int"),
        ],
        N_("Learners with a login or a connection (platform time zone)"),
    )


def _progress_chart(page, frame, unit):
    if frame["learners"].max() == 0:
        figure = build_empty_state(
            N_("No learner was enrolled during this period."), f"{page}-progress-empty"
        )
    else:
        # Each value is read at the end of its bucket (the table gives that day), plotted at the
        # bucket like the other charts so that "week of" names the same week everywhere.
        figure = make_timeseries_figure(
            frame,
            "bucket",
            [("average_progress", _("Average progress"))],
            kind="line",
            y_suffix=PERCENT,
            bucket=unit,
        )
    return build_chart_card(
        page,
        "progress",
        N_("Training progress over time"),
        figure,
        frame,
        [
            ("last_day", N_("On"), "date"),
            ("learners", N_("Enrolments"), "int"),
            ("average_progress", N_("Average progress"), "pct"),
        ],
        N_("Average progress of the learners enrolled by each date"),
    )


def _completions_chart(page, frame, unit):
    if frame["learners"].max() == 0:
        figure = build_empty_state(
            N_("No learner was enrolled during this period."), f"{page}-completions-empty"
        )
    else:
        figure = make_timeseries_figure(
            frame,
            "bucket",
            [("completions", _("Completions"))],
            kind="bar",
            bucket=unit,
            secondary=("completion_rate", _("Completion rate (cumulative)")),
        )
    title = {
        "day": N_("Training completions per day"),
        "week": N_("Training completions per week"),
        "month": N_("Training completions per month"),
    }
    return build_chart_card(
        page,
        "completions",
        title[unit],
        figure,
        frame,
        [
            ("bucket", N_("From"), "date"),
            ("completions", N_("Completions"), "int"),
            ("completed", N_("Completed by then"), "int"),
            ("learners", N_("Enrolments"), "int"),
            ("completion_rate", N_("Completion rate"), "pct"),
        ],
        N_("Bars: completions in the period; line: share of enrolled learners who completed"),
    )


TRAININGS_COLUMNS = [
    ("training", N_("Training")),
    ("learners", N_("Learners"), "int"),
    ("in_progress", N_("In progress"), "int"),
    ("completed", N_("Completed"), "int"),
    ("completion_rate", N_("Completion"), "pct"),
    ("average_progress", N_("Avg. progress"), "pct"),
    ("average_score", N_("Avg. score"), "score"),
    ("average_time_spent", N_("Avg. time spent"), "duration"),
]


def build_trainings_table(
    page: str, session: Session, scope: Scope, pop: Population, tz: ZoneInfo, filename: str
) -> html.Div | None:
    """SPEC §5's trainings table of the population, each training linked to its page when the
    viewer may open it (with the class filter set on a class's table); None when empty.

    It shows today's state whatever the period chosen above it, and says so (issue 21 point 4,
    docs/decisions.md "The trainings table says today")."""
    return _trainings_block(session, scope, page, pop, tz, filename, current_language(), today_in(tz))


@memoized
def _trainings_block(
    session: Session,
    scope: Scope,
    page: str,
    pop: Population,
    tz: ZoneInfo,
    filename: str,
    language: str,
    today: date,
) -> html.Div | None:
    frame = trainings_table(session, scope, pop, tz)
    if frame.empty:
        return None
    query = f"?class={quote(pop.class_id, safe='')}" if pop.class_id else ""
    frame["link"] = [
        f"/training/{quote(t, safe='')}{query}" if scope.can_view_training_page(t) else ""
        for t in frame["training_id"]
    ]
    return build_static_table(
        page,
        "trainings",
        frame,
        TRAININGS_COLUMNS,
        link_column=("training", "link"),
        title=N_("Trainings"),
        note=_(
            "Today, %(day)s: the learners enrolled now and their results to date. "
            "The period chosen above does not apply to this table.",
            day=fmt_date(today),
        ),
        filename=filename,
        sheet_name=N_("Trainings"),
        empty_sentence=N_("No training matches this search."),
        schedule={
            "kind": "trainings",
            "params": {"class_id": pop.class_id} if pop.class_id else {},
            "title": _("Trainings"),
        },
    )
