"""The sessions page (SPEC §5 "Sessions"): the program sessions the viewer may open.

Session instructors see their sessions, training managers their trainings' sessions, global
roles every session; anyone else gets 403. The date-range filter keeps the sessions whose
dates meet the range (all time by default, planned sessions included). The "Export OPCO logs" dialog covers every
session in scope.
"""

from __future__ import annotations

from urllib.parse import quote

import dash
from dash import Input, Output, State, callback, dcc, html
from flask import current_app

from auth.guard import current_scope
from dashboards._components import (
    build_date_range_filter,
    build_static_table,
    parse_date_range,
    range_from_inputs,
)
from dashboards._opco_dialog import build_opco_export_controls
from dashboards._session_tables import datetime_column, local_text
from dashboards._shell import guarded
from data import figures as f
from data.db import get_db
from data.scope import Forbidden, Scope

PAGE = "sessions"


def may_open_sessions(scope: Scope) -> bool:
    """Someone who may open at least one session page (SPEC §6)."""
    return scope.is_global or bool(scope.sessions) or bool(scope.trainings)


def can_open(scope, _session, **_) -> bool:
    return may_open_sessions(scope)


dash.register_page(
    __name__,
    path="/sessions",
    name="Sessions",
    title="Sessions · Learnstats",
    order=40,
    access=can_open,
    nav_label="Sessions",
    nav_access=may_open_sessions,
)


def _with_all_time(query: dict) -> dict:
    """The list shows every session unless the address asks for a range."""
    if any(query.get(k) for k in ("range", "start", "end")):
        return query
    return {**query, "range": "all_time"}


@guarded(can_open)
def layout(scope=None, **query):
    tz = current_app.config["LEARNSTATS"].tz
    today = f.today_in(tz)
    with get_db().session() as s:
        first = f.sessions_first_date(s, scope, tz)
    rng, message = parse_date_range(_with_all_time(query), today, all_time_start=first)
    return html.Div(
        [
            html.Div(
                [
                    *build_opco_export_controls(scope),
                    html.H1("Sessions", className="h3 mb-0"),
                    html.Div(
                        "The program sessions you may open, their learners and who played them.",
                        className="text-muted",
                    ),
                ],
                className="mb-3 ls-page-header",
            ),
            build_date_range_filter(PAGE, rng, all_time_start=first, message=message),
            dcc.Loading(html.Div(id="sessions-body"), type="circle", delay_show=400),
        ]
    )


def build_sessions_table(frame):
    if frame.empty:
        return html.P("No program session in this period.", className="ls-empty", id="sessions-empty")
    frame = frame.copy()
    frame["link"] = [f"/session/{quote(sid, safe='')}" for sid in frame["session_id"]]
    frame["starts"] = [local_text(v) for v in frame["starts_at"]]
    frame["ends"] = [local_text(v) for v in frame["ends_at"]]
    columns = [
        ("session", "Session"),
        ("training", "Training"),
        datetime_column("starts", "Starts"),
        datetime_column("ends", "Ends"),
        ("learners", "Learners", "int"),
        ("played", "Played", "int"),
        ("session_id", "Session ID"),
    ]
    return build_static_table(
        PAGE,
        "sessions",
        frame,
        columns,
        link_column=("session", "link"),
        title="Program sessions",
        filename="sessions",
        sheet_name="Sessions",
        empty_sentence="No session matches this search.",
    )


@callback(
    Output("sessions-body", "children"),
    Input({"type": "date-range", "page": PAGE}, "start_date"),
    Input({"type": "date-range", "page": PAGE}, "end_date"),
    State({"type": "date-preset", "page": PAGE}, "value"),
)
def update_sessions(start_date, end_date, preset):
    """The sessions table for the chosen range, in the viewer's scope."""
    scope = current_scope()
    if not may_open_sessions(scope):
        raise Forbidden()
    tz = current_app.config["LEARNSTATS"].tz
    rng, message = range_from_inputs(preset, start_date, end_date, f.today_in(tz))
    if rng is None:
        return html.P(message, className="ls-empty", id="sessions-range-error")
    # "All time" includes the sessions planned after today.
    start, end = (None, None) if rng.preset == "all_time" else (rng.start, rng.end)
    with get_db().session() as s:
        frame = f.sessions_table(s, scope, tz, start, end)
    return build_sessions_table(frame)
