"""The at-risk list of the global, training and class pages (SPEC §9): its days setting (kept
in the address as ?days=N), a server-side table (learner, training, reasons, last activity,
progress, score, session) sorted, searched and paged in SQL, and its CSV / XLSX downloads.

The statistics block's "At risk" card (build_at_risk_card) is filled by a callback of its own
(at_risk_card_counts): its two counts (the range's end and the previous period's) cost more
than the rest of the block, and follow the days setting, which then redraws the card and the
list only.

Ids: `<page>-at-risk-days` (the setting), `<page>-at-risk-params` (the population, checked
again by every callback: a forged training or class answers 403), the server-side table's
`<page>-at-risk-grid`, `-search`, `-download-csv`, `-download-xlsx`, `-download` (grids.py),
and the card's `<page>-card-at-risk` with `<page>-at-risk-card-args` (its population and
range, checked the same way) and `<page>-at-risk-card-body` (its contents, cards.card_body).
A page calls `register_at_risk_callbacks(PAGE)` once, at import.
"""

from __future__ import annotations

from urllib.parse import quote

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, dcc, html, no_update

from auth.guard import current_scope
from auth.language import N_
from auth.language import gettext as _
from dashboards.components.cards import card_body, card_column
from dashboards.components.date_filter import DateRange, previous_period, range_from_inputs
from dashboards.components.grids import (
    NOTHING_TO_DOWNLOAD,
    ag_grid_request_to_query,
    build_data_table,
    data_table_refresh_callback,
    rows_response,
    table_download,
)
from dashboards.components.results import population_from_store, population_to_store
from data.config import current_settings
from data.db import get_db
from data.figures.at_risk import AT_RISK_SORTS, MAX_DAYS, at_risk_counts, at_risk_rows
from data.figures.days import today_in
from data.figures.population import Population, require_population
from data.scope import Forbidden
from exports.at_risk import AT_RISK_TABLE_COLUMNS, at_risk_frame
from exports.formatting import fmt_date, fmt_int

SLUG = "at-risk"
# The texts wrap inside rows of three lines (ROW_HEIGHT): AG Grid's infinite model, which pages
# the list from the server, needs one row height for all rows, so a row cannot grow to its
# content; three lines hold a learner's reasons in the Reasons column's width (issue 21: they
# were cut with "…"). A text longer than three lines is still cut, whole in its tooltip.
_WRAP = {"wrapText": True}
ROW_HEIGHT = 66
GRID_COLUMNS = [
    ("learner", N_("Learner"), None, _WRAP),
    ("training", N_("Training"), None, _WRAP),
    ("reasons", N_("Reasons"), None, {**_WRAP, "minWidth": 240, "flex": 3}),
    ("last_activity", N_("Last activity"), "date"),
    ("progress", N_("Progress"), "pct"),
    ("score", N_("Score"), "score"),
    ("session", N_("Session"), None, _WRAP),
]


def days_from(value, default: int) -> int:
    """The page's days setting from the address or the input: 1 to MAX_DAYS, else the default."""
    try:
        days = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    return days if 1 <= days <= MAX_DAYS else default


def build_at_risk_section(page: str, pop: Population, days: int) -> html.Div:
    """The list's frame: title, days setting and the server-side table (rows from the grid's
    callback)."""
    setting = html.Div(
        [
            html.Label(
                _("Inactive for at least"), htmlFor=f"{page}-at-risk-days", className="ls-filter-label"
            ),
            dbc.InputGroup(
                [
                    dbc.Input(
                        id=f"{page}-at-risk-days",
                        type="number",
                        min=1,
                        max=MAX_DAYS,
                        step=1,
                        value=days,
                        debounce=True,
                        size="sm",
                        className="ls-at-risk-days",
                    ),
                    dbc.InputGroupText(_("days")),
                ],
                size="sm",
            ),
        ],
        className="ls-at-risk-setting",
    )
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        [
                            html.H2(_("Learners at risk"), className="ls-section-title mb-0"),
                            html.Div(
                                _(
                                    "On the period's last day: inactive in a training for the days set here, "
                                    "a mandatory module failed, or a session ended or ending within 7 days."
                                ),
                                className="ls-chart-subtitle",
                            ),
                        ]
                    ),
                    setting,
                ],
                className="ls-at-risk-header",
            ),
            dcc.Store(id=f"{page}-at-risk-params", data=population_to_store(pop, "at-risk")),
            dcc.Store(id=f"{page}-at-risk-url"),
            build_data_table(
                page,
                SLUG,
                GRID_COLUMNS,
                search_placeholder=N_("Search a learner by name or email…"),
                height=420,
                link_column=("learner", "learner_link"),
                grid_options={"rowHeight": ROW_HEIGHT},
                # "Schedule…": the list sent by email (exports/report_kinds.py "at-risk").
                schedule={
                    "kind": "at-risk",
                    "params": {
                        **({"training_id": pop.training_id} if pop.training_id else {}),
                        **({"class_id": pop.class_id} if pop.class_id else {}),
                        "days": days,
                    },
                    "title": _("At risk"),
                },
            ),
        ],
        className="mt-4 ls-at-risk",
        id=f"{page}-at-risk",
    )


CARD_LABEL = N_("At risk")


def build_at_risk_card(page: str, pop: Population, rng: DateRange) -> dbc.Col:
    """The statistics block's At risk card as a frame: its label and a loading indicator until
    at_risk_card_counts fills it; the Store names the population and the range (the callback's
    trigger: drawn again with the block, so a new range or class counts again)."""
    args = {
        "population": population_to_store(pop, "at-risk"),
        "start": rng.start.isoformat(),
        "end": rng.end.isoformat(),
    }
    waiting = [
        html.Div(_(CARD_LABEL), className="ls-card-label"),
        html.Div("…", className="ls-card-value", **{"aria-hidden": "true"}),
        html.Div(_("Counting the learners at risk…"), className="ls-card-help"),
    ]
    return card_column(
        page,
        CARD_LABEL,
        [
            dcc.Store(id=f"{page}-at-risk-card-args", data=args),
            dcc.Loading(
                html.Div(waiting, id=f"{page}-at-risk-card-body", className="ls-at-risk-card-body"),
                type="dot",
                delay_show=300,
                overlay_style={"visibility": "visible", "opacity": 0.6},
                parent_className="ls-at-risk-card-loading",
            ),
        ],
    )


def at_risk_card_contents(page: str, session, scope, pop: Population, tz, rng: DateRange, today, days: int):
    """The card's label, count on the range's end (today at most), its change against the
    previous period's last day (SPEC §9; a rise is bad news: cards.RISE_IS_BAD) and its help."""
    end = min(rng.end, today)
    _first, last = previous_period(rng)
    # The range's end and the previous period's in one pass over the population's pairs.
    now, before = at_risk_counts(session, scope, pop, tz, (end, last), days)
    return card_body(
        page,
        CARD_LABEL,
        fmt_int(now),
        _(
            "learners inactive for %(days)d days or more, failing or late on %(day)s",
            days=days,
            day=fmt_date(end),
        ),
        (now, before),
    )


def _request(params, days, preset, start_date, end_date):
    """(scope, population, date, days) of a callback, checked: 403 outside the viewer's scope."""
    scope = current_scope()
    settings = current_settings()
    pop, _mode = population_from_store(params)
    if pop.user_id is not None or not pop.learners_only or pop.include_self:
        raise Forbidden()
    today = today_in(settings.tz)
    rng, _message = range_from_inputs(preset, start_date, end_date, today)
    on = today if rng is None else min(rng.end, today)
    return scope, pop, on, days_from(days, settings.at_risk_days)


def _page_frame(rows, on) -> pd.DataFrame:
    frame = at_risk_frame(rows, on)
    frame["learner_link"] = [f"/learner/{quote(u, safe='')}" for u in frame["user_id"]]
    return frame


def register_at_risk_callbacks(page: str) -> None:
    """The list's callbacks on one page (call once, from the page module)."""
    grid = f"{page}-{SLUG}-grid"
    date_range = {"type": "date-range", "page": page}
    common_state = (
        State(f"{page}-{SLUG}-search", "value"),
        State(f"{page}-at-risk-params", "data"),
        State(f"{page}-at-risk-days", "value"),
        State({"type": "date-preset", "page": page}, "value"),
        State(date_range, "start_date"),
        State(date_range, "end_date"),
    )

    @dash.callback(Output(grid, "getRowsResponse"), Input(grid, "getRowsRequest"), *common_state)
    def at_risk_rows_page(request, search, params, days, preset, start_date, end_date):
        """A block of the list's rows, sorted and searched in SQL."""
        scope, pop, on, n = _request(params, days, preset, start_date, end_date)
        with get_db().session() as s:
            require_population(s, scope, pop)  # first: a forged population answers 403
            if not request:
                return no_update
            sort, offset, limit = ag_grid_request_to_query(request, AT_RISK_SORTS)
            rows, total = at_risk_rows(
                s, scope, pop, current_settings().tz, on, n, search or None, tuple(sort), offset, limit
            )
        return rows_response(_page_frame(rows, on), total)

    @dash.callback(
        Output(f"{page}-{SLUG}-download", "data"),
        Output(f"{page}-{SLUG}-message", "children"),
        Input(f"{page}-{SLUG}-download-csv", "n_clicks"),
        Input(f"{page}-{SLUG}-download-xlsx", "n_clicks"),
        *common_state,
        prevent_initial_call=True,
    )
    def download_at_risk(csv_clicks, xlsx_clicks, search, params, days, preset, start_date, end_date):
        """The whole list (as searched) as CSV or XLSX, the screen's columns."""
        scope, pop, on, n = _request(params, days, preset, start_date, end_date)
        kind = "csv" if dash.ctx.triggered_id == f"{page}-{SLUG}-download-csv" else "xlsx"
        with get_db().session() as s:
            require_population(s, scope, pop)  # first: a forged population answers 403
            if not (csv_clicks if kind == "csv" else xlsx_clicks):
                return no_update, no_update
            rows, _total = at_risk_rows(s, scope, pop, current_settings().tz, on, n, search or None)
        if not rows:
            return no_update, _(NOTHING_TO_DOWNLOAD)
        filename = f"at-risk-{on.isoformat()}"
        return table_download(
            at_risk_frame(rows, on), AT_RISK_TABLE_COLUMNS, kind, filename, N_("At risk")
        ), None

    @dash.callback(
        Output(f"{page}-at-risk-card-body", "children"),
        Input(f"{page}-at-risk-card-args", "data"),
        Input(f"{page}-at-risk-days", "value"),
    )
    def at_risk_card_counts(args, days):
        """The At risk card's counts, after the rest of the statistics block (and again when
        the days setting changes); the population checked first: a forged one answers 403."""
        if not isinstance(args, dict) or not isinstance(args.get("population"), dict):
            raise Forbidden()
        scope = current_scope()
        settings = current_settings()
        pop, _mode = population_from_store(args["population"])
        if pop.user_id is not None or not pop.learners_only or pop.include_self:
            raise Forbidden()
        with get_db().session() as s:
            require_population(s, scope, pop)
            today = today_in(settings.tz)
            rng, message = range_from_inputs("custom", args.get("start"), args.get("end"), today)
            if rng is None:
                return html.Div(message, className="ls-card-help")
            return at_risk_card_contents(
                page, s, scope, pop, settings.tz, rng, today, days_from(days, settings.at_risk_days)
            )

    data_table_refresh_callback(
        page,
        SLUG,
        Input(f"{page}-at-risk-days", "value"),
        Input(f"{page}-at-risk-params", "data"),
        Input(date_range, "end_date"),
    )

    # The setting goes in the address (?days=N; none for the default), like the date range.
    dash.clientside_callback(
        """
        function (days) {
            var params = new URLSearchParams(window.location.search);
            var n = parseInt(days, 10);
            if (!n || n < 1 || n > __MAX__) { params.delete("days"); }
            else { params.set("days", String(n)); }
            var query = params.toString();
            var url = window.location.pathname + (query ? "?" + query : "") + window.location.hash;
            if (url !== window.location.pathname + window.location.search + window.location.hash) {
                window.history.replaceState(window.history.state, "", url);
            }
            return query;
        }
        """.replace("__MAX__", str(MAX_DAYS)),
        Output(f"{page}-at-risk-url", "data"),
        Input(f"{page}-at-risk-days", "value"),
        State(f"{page}-at-risk-params", "data"),
        prevent_initial_call=True,
    )


__all__ = [
    "at_risk_card_contents",
    "build_at_risk_card",
    "build_at_risk_section",
    "days_from",
    "register_at_risk_callbacks",
]
