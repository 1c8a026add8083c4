"""The sessions page (SPEC §5 "Sessions"): the program sessions the viewer may open.

Session instructors see their sessions, training managers their trainings' sessions, global
roles every session; anyone else gets 403. The date-range filter keeps the sessions whose
dates meet the range (all time by default, planned sessions included). The "Export OPCO logs" dialog covers every
session in scope.
"""

from __future__ import annotations

from urllib.parse import quote

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from auth.guard import current_scope
from auth.language import N_, page_title
from auth.language import gettext as _
from dashboards.components.date_filter import (
    build_date_range_filter,
    parse_date_range,
    parse_iso_day,
    range_from_inputs,
)
from dashboards.components.grids import (
    NOTHING_TO_DOWNLOAD,
    ag_grid_request_to_query,
    build_data_table,
    build_static_table,
    data_table_refresh_callback,
    rows_response,
    table_download,
)
from dashboards.components.session_tables import datetime_column, local_text
from dashboards.dialogs.opco import build_opco_export_controls
from data.config import current_settings
from data.db import get_db
from data.figures.days import today_in
from data.figures.population import sessions_first_date, sessions_last_date
from data.figures.sessions import sessions_table
from data.scope import Forbidden, Scope
from data.text import fold, search_words
from exports.formatting import fmt_int

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
    title=page_title(N_("Sessions")),
    order=40,
    access=can_open,
    nav_label=N_("Sessions"),
    nav_access=may_open_sessions,
)


def _with_all_time(query: dict) -> dict:
    """The list shows every session unless the address asks for a range."""
    if any(query.get(k) for k in ("range", "start", "end")):
        return query
    return {**query, "range": "all_time"}


def layout(scope, **query):
    tz = current_settings().tz
    today = today_in(tz)
    with get_db().session() as s:
        first = sessions_first_date(s, scope, tz)
        last = sessions_last_date(s, scope, tz)  # "All time" covers the planned sessions too
    rng, message = parse_date_range(_with_all_time(query), today, all_time_start=first, all_time_end=last)
    return html.Div(
        [
            html.Div(
                [
                    *build_opco_export_controls(scope),
                    html.H1(_("Sessions"), className="h3 mb-0"),
                    html.Div(
                        _("The program sessions you may open, their learners and who played them."),
                        className="text-muted",
                    ),
                ],
                className="mb-3 ls-page-header",
            ),
            build_date_range_filter(PAGE, rng, all_time_start=first, message=message, all_time_end=last),
            dcc.Loading(html.Div(id="sessions-body"), type="circle", delay_show=400),
        ]
    )


# A list longer than this is paged on the server (AG Grid's infinite row model): at 100,000
# learners a platform has thousands of sessions, megabytes of JSON sent whole.
PAGED_ABOVE = 500
SESSION_COLUMNS = [
    ("session", N_("Session")),
    ("training", N_("Training")),
    datetime_column("starts", N_("Starts")),
    datetime_column("ends", N_("Ends")),
    ("learners", N_("Learners"), "int"),
    ("played", N_("Played"), "int"),
    ("session_id", N_("Session ID")),
]
# Sortable columns of the paged list -> the frame's column to sort by.
PAGED_SORTS = {
    "session": "session",
    "training": "training",
    "starts": "starts_at",
    "ends": "ends_at",
    "learners": "learners",
    "played": "played",
    "session_id": "session_id",
}


def _display(frame):
    frame = frame.copy()
    frame["link"] = [f"/session/{quote(sid, safe='')}" for sid in frame["session_id"]]
    frame["starts"] = [local_text(v) for v in frame["starts_at"]]
    frame["ends"] = [local_text(v) for v in frame["ends_at"]]
    return frame


def build_sessions_table(frame, rng=None):
    if frame.empty:
        return html.P(_("No program session in this period."), className="ls-empty", id="sessions-empty")
    if len(frame) > PAGED_ABOVE:
        return html.Div(
            [
                dcc.Store(id="sessions-range", data=_range_data(rng)),
                build_data_table(
                    PAGE,
                    "sessions",
                    SESSION_COLUMNS,
                    search_placeholder=N_("Search sessions, trainings…"),
                    link_column=("session", "link"),
                    row_id_field="session_id",
                    schedule={"kind": "sessions", "params": {}, "title": _("Program sessions")},
                    title=_("Program sessions (%(count)s)", count=fmt_int(len(frame))),
                ),
            ]
        )
    return build_static_table(
        PAGE,
        "sessions",
        _display(frame),
        SESSION_COLUMNS,
        link_column=("session", "link"),
        title=N_("Program sessions"),
        filename="sessions",
        sheet_name=N_("Sessions"),
        empty_sentence=N_("No session matches this search."),
        schedule={"kind": "sessions", "params": {}, "title": _("Program sessions")},
    )


def _range_data(rng) -> dict:
    if rng is None or rng.preset == "all_time":
        return {"start": None, "end": None}
    return {"start": rng.start.isoformat(), "end": rng.end.isoformat()}


def _sessions(range_data, search: str | None):
    """The viewer's sessions of the stored range, narrowed by the search box."""
    scope = current_scope()
    if not may_open_sessions(scope):
        raise Forbidden()
    data = range_data if isinstance(range_data, dict) else {}
    start = parse_iso_day(data["start"]) if data.get("start") else None
    end = parse_iso_day(data["end"]) if data.get("end") else None
    if (data.get("start") and start is None) or (data.get("end") and end is None):
        raise Forbidden()  # the page stores only checked ranges: a forged one (year 9999 too)
    tz = current_settings().tz
    with get_db().session() as s:
        frame = sessions_table(s, scope, tz, start, end)
    for word in search_words(search):
        haystack = [
            fold(f"{a} {b} {c}")
            for a, b, c in zip(frame["session"], frame["training"], frame["session_id"], strict=True)
        ]
        frame = frame.loc[[word in text for text in haystack]]  # .loc: an empty mask keeps the columns
    return frame


def _sorted(frame, sort):
    """The frame in the grid's sort order ([(column, ascending)], first key first)."""
    for column, ascending in reversed(sort):
        key = PAGED_SORTS[column]
        frame = frame.sort_values(
            key,
            ascending=ascending,
            kind="stable",
            na_position="last",
            key=(lambda s: s.map(fold)) if key in ("session", "training") else None,
        )
    return frame


@callback(
    Output("sessions-sessions-grid", "getRowsResponse"),
    Input("sessions-sessions-grid", "getRowsRequest"),
    State("sessions-sessions-search", "value"),
    State("sessions-range", "data"),
    prevent_initial_call=True,
)
def sessions_rows(request, search, range_data):
    """One block of the paged sessions list, sorted and searched on the server."""
    frame = _sessions(range_data, search)
    sort, offset, limit = ag_grid_request_to_query(request, allowed_columns=PAGED_SORTS)
    frame = _sorted(frame, sort)
    return rows_response(_display(frame.iloc[offset : offset + limit]), len(frame))


@callback(
    Output("sessions-sessions-download", "data"),
    Output("sessions-sessions-message", "children"),
    Input("sessions-sessions-download-csv", "n_clicks"),
    Input("sessions-sessions-download-xlsx", "n_clicks"),
    State("sessions-sessions-search", "value"),
    State("sessions-range", "data"),
    State("sessions-sessions-grid", "getRowsRequest"),
    prevent_initial_call=True,
)
def download_sessions(_csv, _xlsx, search, range_data, request=None):
    """The whole paged list as searched and sorted on screen (the grid's last request holds
    its sort), as CSV or XLSX; a message instead of an empty file."""
    kind = "xlsx" if ctx.triggered_id == "sessions-sessions-download-xlsx" else "csv"
    return sessions_file(kind, search, range_data, request)


def sessions_file(kind: str, search, range_data, request):
    """(download, message) of the paged list as on screen (download_sessions)."""
    frame = _sessions(range_data, search)
    if frame.empty:
        return no_update, _(NOTHING_TO_DOWNLOAD)
    sort, _offset, _limit = ag_grid_request_to_query(request, allowed_columns=PAGED_SORTS)
    return table_download(
        _display(_sorted(frame, sort)), SESSION_COLUMNS, kind, "sessions", _("Sessions")
    ), None


data_table_refresh_callback(PAGE, "sessions")


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
    tz = current_settings().tz
    rng, message = range_from_inputs(preset, start_date, end_date, today_in(tz))
    if rng is None:
        return html.P(message, className="ls-empty", id="sessions-range-error")
    # "All time" includes the sessions planned after today.
    start, end = (None, None) if rng.preset == "all_time" else (rng.start, rng.end)
    with get_db().session() as s:
        frame = sessions_table(s, scope, tz, start, end)
    return build_sessions_table(frame, rng)
