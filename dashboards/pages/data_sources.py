"""The "Data sources" page (/data-sources, admins only; issue 17): every import and sync of the
platform from `import_runs` — CSV bundles (import-bundle), xAPI files (import-xapi) and LRS syncs
(sync-lrs and the periodic sync) — with when, what, how many statements were accepted, what was
skipped by reason with an example each, how long it took and how it ended; the next scheduled
LRS sync; and a progress bar for each run under way, refreshed every 2 seconds while one runs
(every minute otherwise, so that a sync starting meanwhile shows up).

Admins only, on the server: the page's access and its callback both check the scope; anyone
else gets 403.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, callback, dcc, html, no_update

from auth.guard import current_scope
from auth.language import N_, ngettext, page_title
from auth.language import gettext as _
from dashboards.components.grids import build_static_table
from dashboards.components.session_tables import datetime_column
from data import data_sources as ds
from data.config import current_settings
from data.db import get_db
from data.figures.days import to_local
from data.scope import Forbidden, Scope
from exports.data_sources import KINDS, runs_frame
from exports.formatting import fmt_datetime, fmt_int

PAGE = "data-sources"
FAST_POLL_MS = 2_000
IDLE_POLL_MS = 60_000


def is_admin(scope: Scope) -> bool:
    return scope.is_admin


def can_open(scope: Scope, _session, **_) -> bool:
    return is_admin(scope)


dash.register_page(
    __name__,
    path="/data-sources",
    name="Data sources",
    title=page_title(N_("Data sources")),
    order=90,
    access=can_open,
    nav_label=N_("Data sources"),
    nav_access=is_admin,
)


def _wrapped(field: str, header: str, flex: int, min_width: int) -> dict:
    """A column of long texts (addresses, reasons, errors) that wrap inside their cell, the row
    growing, rather than widen the table; a line break in the text starts a new line."""
    return {
        "field": field,
        "headerName": header,
        "wrapText": True,
        "autoHeight": True,
        "flex": flex,
        "minWidth": min_width,
        "tooltipField": field,
        "cellStyle": {
            "lineHeight": "1.4",
            "paddingTop": "6px",
            "paddingBottom": "6px",
            "wordBreak": "break-word",
            "whiteSpace": "pre-line",
        },
    }


COLUMNS = [
    datetime_column("when", N_("When")),
    _wrapped("kind", N_("Kind"), 1, 110),
    _wrapped("source", N_("Source"), 2, 180),
    _wrapped("status", N_("Status"), 2, 200),
    ("accepted", N_("Accepted"), "int"),
    ("skipped_count", N_("Skipped"), "int"),
    _wrapped("skipped", N_("Skipped by reason (an example each)"), 3, 240),
    _wrapped("added", N_("Added"), 2, 200),
    {
        "field": "seconds",
        "headerName": N_("Duration"),
        "context": {"exportHeader": N_("Duration (s)")},  # the files hold seconds
        "valueFormatter": {"function": "lsSeconds(params.value)"},
        "type": "rightAligned",
        "flex": 1,
        "minWidth": 96,
    },
]


def build_progress(running: list[ds.RunRow], tz) -> html.Div:
    """A progress bar per run under way: done / total when the total is known (a file), else a
    moving bar with the count read so far (an LRS does not say how many statements follow)."""
    bars = []
    for run in running:
        label = _(
            "%(kind)s %(source)s, started %(when)s",
            kind=_(KINDS.get(run.kind, run.kind)),
            source=run.source,
            when=fmt_datetime(to_local(run.started_at, tz)),
        )
        if run.progress_total:
            value = min(100.0, 100.0 * run.progress_done / run.progress_total)
            text = _(
                "%(done)s of %(total)s read",
                done=fmt_int(run.progress_done),
                total=fmt_int(run.progress_total),
            )
            bar = dbc.Progress(
                value=value, label=f"{value:.0f} %", id={"type": "data-sources-bar", "run": run.id}
            )
        else:
            text = _("%(done)s read so far", done=fmt_int(run.progress_done))
            bar = dbc.Progress(
                value=100, striped=True, animated=True, id={"type": "data-sources-bar", "run": run.id}
            )
        bars.append(
            html.Div(
                [html.Div([html.Strong(label), html.Span(" · " + text, className="text-muted")]), bar],
                className="mb-2",
            )
        )
    return html.Div(
        [html.H2(_("Under way"), className="h5"), *bars] if bars else [],
        id="data-sources-progress-list",
        role="status",
        className="mb-3" if bars else "",
    )


def missing_credentials() -> list[str]:
    """The LRS credentials' settings left empty: with an endpoint, no periodic sync can run."""
    settings = current_settings()
    return [
        name
        for name, value in (
            ("LEARNSTATS_LRS_USERNAME", settings.lrs_username),
            ("LEARNSTATS_LRS_PASSWORD", settings.lrs_password),
        )
        if not value
    ]


def build_schedule(schedule: ds.SyncSchedule, tz) -> html.Div:
    """The periodic sync as configured; a warning when its credentials are not all set (it
    cannot run: better said than an empty list of runs)."""
    if not schedule.endpoint:
        text = _(
            "No periodic LRS sync: set LEARNSTATS_LRS_ENDPOINT (with LEARNSTATS_LRS_USERNAME and "
            "LEARNSTATS_LRS_PASSWORD) to pull an LRS's statements every few minutes."
        )
        return html.P(text, className="text-muted mb-3", id="data-sources-schedule")
    every = ngettext("every minute", "every %(num)d minutes", schedule.minutes)
    missing = missing_credentials()
    if missing:
        text = _(
            "LEARNSTATS_LRS_ENDPOINT is %(endpoint)s but %(missing)s is not set: no periodic sync can "
            "run until it is.",
            endpoint=schedule.endpoint,
            missing=" / ".join(missing),
        )
        return html.P(text, className="alert alert-warning mb-3", id="data-sources-schedule", role="alert")
    parts = [
        _("Periodic LRS sync of %(endpoint)s, %(every)s.", endpoint=schedule.endpoint, every=every),
        " ",
        _("Next scheduled sync: %(when)s.", when=fmt_datetime(to_local(schedule.next_at, tz))),
    ]
    return html.P(parts, className="mb-3", id="data-sources-schedule")


def build_runs_table(frame: pd.DataFrame) -> html.Div:
    if frame.empty:
        return html.P(
            _(
                "No import or sync yet. Imports of CSV bundles and xAPI files and LRS syncs appear "
                "here as they run (import-bundle, import-xapi, sync-lrs: see the README)."
            ),
            className="ls-empty",
            id="data-sources-empty",
        )
    return build_static_table(
        PAGE,
        "runs",
        frame,
        COLUMNS,
        title=ngettext("%(num)d import or sync", "%(num)d imports and syncs", len(frame)),
        filename="data-sources",
        sheet_name=N_("Data sources"),
        empty_sentence=N_("No import matches this search."),
        # "Schedule…": the table sent by email (exports/report_kinds.py "data-sources").
        schedule={"kind": "data-sources", "params": {}, "title": _("Data sources")},
    )


def _read(scope: Scope):
    settings = current_settings()
    with get_db().session() as s:
        runs = ds.import_runs(s, scope, instance_path=settings.instance_path)
        running = [run for run in runs if run.status == "running"]
        schedule = ds.sync_schedule(s, scope, settings.lrs_endpoint, settings.lrs_sync_minutes)

        signature = ds.runs_signature(s, scope)
    return runs, running, schedule, signature


def layout(scope, **_query):
    tz = current_settings().tz
    runs, running, schedule, signature = _read(scope)
    return html.Div(
        [
            html.Div(
                [
                    html.H1(_("Data sources"), className="h3 mb-0"),
                    html.Div(
                        _("Every import and LRS sync, newest first: what came in, what was skipped and why."),
                        className="text-muted",
                    ),
                ],
                className="mb-3",
            ),
            html.Div(build_schedule(schedule, tz), id="data-sources-schedule-box"),
            html.Div(build_progress(running, tz), id="data-sources-progress"),
            html.Div(build_runs_table(runs_frame(runs, tz)), id="data-sources-runs"),
            dcc.Store(id="data-sources-signature", data=signature),
            dcc.Interval(
                id="data-sources-interval", interval=FAST_POLL_MS if running else IDLE_POLL_MS, n_intervals=0
            ),
        ]
    )


@callback(
    Output("data-sources-progress", "children"),
    Output("data-sources-runs", "children"),
    Output("data-sources-schedule-box", "children"),
    Output("data-sources-signature", "data"),
    Output("data-sources-interval", "interval"),
    Input("data-sources-interval", "n_intervals"),
    dash.State("data-sources-signature", "data"),
    prevent_initial_call=True,
)
def update_data_sources(_n, shown):
    """Every 2 seconds while a run is under way (every minute otherwise): the progress bars,
    and the table when a run started or ended (not otherwise: the table keeps its sort and
    search while a run progresses)."""
    scope = current_scope()
    if not is_admin(scope):
        raise Forbidden()
    tz = current_settings().tz
    runs, running, schedule, signature = _read(scope)
    interval = FAST_POLL_MS if running else IDLE_POLL_MS
    if signature == shown:
        return build_progress(running, tz), no_update, build_schedule(schedule, tz), no_update, interval
    return (
        build_progress(running, tz),
        build_runs_table(runs_frame(runs, tz)),
        build_schedule(schedule, tz),
        signature,
        interval,
    )
