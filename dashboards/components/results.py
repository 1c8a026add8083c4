"""The results table: learners' (or a learner's trainings') results with server-side search,
sorting and paging, CSV/XLSX download of the whole filtered table, and a details control
that expands a row in place with the learner's achievements per module.

One table per (page, key): every component id is {"type": ..., "table": key}, so a page may
hold several (the class page has one per training). The table's population (training, class,
learner) travels in a dcc.Store; each callback re-checks it against the signed-in user's scope
(data.figures.require_population), so a forged id answers 403.
"""

from __future__ import annotations

import math
from urllib.parse import quote

import dash_bootstrap_components as dbc
import pandas as pd
from dash import ALL, MATCH, Dash, Input, Output, State, ctx, dcc, html, no_update

from auth.guard import current_scope
from auth.language import N_
from auth.language import gettext as _
from dashboards.components.cards import status_badge, status_label
from dashboards.components.date_filter import dom_id
from dashboards.components.grids import NOTHING_TO_DOWNLOAD, table_download
from data.config import current_settings
from data.db import get_db
from data.figures.population import Population, require_population
from data.figures.tables import learner_modules, training_results
from data.text import SEARCH_MAX_CHARS
from exports.formatting import fmt_date, fmt_duration, fmt_int, fmt_pct
from exports.report_kinds import LEARNER_TRAININGS_COLUMNS, RESULTS_COLUMNS

PAGE_SIZE = 25
SEARCH_DEBOUNCE_MS = 300  # the search runs this long after typing stops (no Enter needed)

_FIGURE_SORTS = [
    ("progress", N_("Progress")),
    ("score", N_("Score")),
    ("status", N_("Status")),
    ("time_spent", N_("Time spent")),
    ("completed_on", N_("Completed on")),
]
SORT_OPTIONS = {
    "learners": [("learner", N_("Learner")), *_FIGURE_SORTS],
    "trainings": [("training", N_("Training")), *_FIGURE_SORTS],
}


def _id(kind: str, key: str) -> dict:
    return {"type": kind, "table": key}


def population_to_store(pop: Population, mode: str) -> dict:
    return {
        "training_id": pop.training_id,
        "class_id": pop.class_id,
        "user_id": pop.user_id,
        "learners_only": pop.learners_only,
        "include_self": pop.include_self,
        "mode": mode,
    }


def population_from_store(data: dict) -> tuple[Population, str]:
    data = data or {}
    pop = Population(
        training_id=data.get("training_id"),
        class_id=data.get("class_id"),
        user_id=data.get("user_id"),
        learners_only=bool(data.get("learners_only", True)),
        include_self=bool(data.get("include_self", False)),
    )
    return pop, data.get("mode", "learners")


def _schedule_button(key: str, pop: Population, mode: str):
    """ "Schedule…" beside a training's learners table and a learner's trainings table
    (jobs/reports.py rebuilds it by email)."""
    from dashboards.dialogs.schedule import build_schedule_button

    if mode == "trainings" and pop.user_id is not None:
        params = {"user_id": pop.user_id}
        return build_schedule_button(
            f"results-{key}", "results", "learner-trainings", params, title=_("Trainings")
        )
    if mode != "learners" or not pop.training_id or pop.user_id is not None:
        return None
    params = {"training_id": pop.training_id, **({"class_id": pop.class_id} if pop.class_id else {})}
    return build_schedule_button(f"results-{key}", "results", "training-results", params, title=_("Learners"))


def build_results_table(
    key: str, pop: Population, mode: str = "learners", title: str | None = None, every_row: bool = False
) -> html.Div:
    """The table's frame; its rows come from update_results_table.

    every_row: all the rows at once, no pages (the page printed as PDF, ?print=1: on paper the
    table lists every learner).

    mode "learners": one row per learner of a training; "trainings": one row per training of
    a learner (the learner page).
    """
    sort_options = [{"label": _(label), "value": value} for value, label in SORT_OPTIONS[mode]]
    default_sort = sort_options[0]["value"]
    search_text = _("Search a learner by name or email…") if mode == "learners" else _("Search…")
    controls = dbc.Row(
        [
            dbc.Col(
                [
                    # Labelled for screen readers, not only by its placeholder (issue 21).
                    html.Label(search_text, htmlFor=dom_id(_id("results-search", key)), className="visually-hidden"),
                    dbc.Input(
                        id=_id("results-search", key),
                        type="search",
                        placeholder=search_text,
                        debounce=SEARCH_DEBOUNCE_MS,  # filters as you type, like the other tables
                        maxLength=SEARCH_MAX_CHARS,
                        className="ls-search",
                    ),
                ],
                md=4,
            ),
            dbc.Col(
                dbc.InputGroup(
                    [
                        html.Label(_("Sort by"), className="input-group-text", htmlFor=dom_id(_id("results-sort", key))),
                        dbc.Select(id=_id("results-sort", key), options=sort_options, value=default_sort),
                        html.Label(_("Order"), className="visually-hidden", htmlFor=dom_id(_id("results-order", key))),
                        dbc.Select(
                            id=_id("results-order", key),
                            options=[
                                {"label": _("ascending"), "value": "asc"},
                                {"label": _("descending"), "value": "desc"},
                            ],
                            value="asc",
                        ),
                    ],
                    size="sm",
                    className="ls-sort-list",
                ),
                md=5,
            ),
            dbc.Col(
                html.Div(
                    [
                        dbc.Button("CSV", id=_id("results-download-csv", key), size="sm", color="secondary",
                                   outline=True, className="me-1"),
                        dbc.Button("XLSX", id=_id("results-download-xlsx", key), size="sm", color="secondary",
                                   outline=True),
                        _schedule_button(key, pop, mode),
                        dcc.Download(id=_id("results-download", key)),
                    ],
                    className="text-end",
                ),
                md=3,
            ),
        ],
        className="g-2 mb-2 align-items-center",
    )  # fmt: skip
    return html.Div(
        [
            html.H2(title, className="ls-section-title") if title else None,
            dcc.Store(id=_id("results-params", key), data=population_to_store(pop, mode)),
            dcc.Store(id=_id("results-every-row", key), data=bool(every_row)),
            controls,
            html.Div(id=_id("results-message", key), className="ls-table-message", role="status"),
            dcc.Loading(html.Div(id=_id("results-body", key)), type="dot", delay_show=300),
            dbc.Row(
                [
                    dbc.Col(html.Small(id=_id("results-count", key), className="text-muted"), md=6),
                    dbc.Col(
                        dbc.Pagination(
                            id=_id("results-page", key),
                            max_value=1,
                            active_page=1,
                            fully_expanded=False,
                            size="sm",
                            className="justify-content-end mb-0",
                        ),
                        md=6,
                    ),
                ],
                className="align-items-center mt-2",
            ),
        ],
        className="ls-results card card-body",
        id=f"results-{key}",
    )


def _row_key(user_id: str, training_id: str) -> str:
    return f"{user_id}|{training_id}"


# The columns: (sort value or None, header, css class). The class names drive the widths, the
# folding of the second column at medium widths and the card layout on a phone
# (assets/learnstats.css, "Results tables").
_COLUMNS = {
    "learners": [("learner", N_("Learner"), "learner"), (None, N_("Class"), "second")],
    "trainings": [("training", N_("Training"), "learner"), (None, N_("Enrolled on"), "second")],
}
_FIGURE_COLUMNS = [
    ("progress", N_("Progress"), "progress"),
    ("score", N_("Score"), "score"),
    ("status", N_("Status"), "status"),
    ("time_spent", N_("Time spent"), "time"),
    ("completed_on", N_("Completed on"), "completed"),
]
_RIGHT = {"progress", "score", "time"}


def _columns(mode: str) -> list[tuple[str | None, str, str]]:
    return [*_COLUMNS.get(mode, _COLUMNS["learners"]), *_FIGURE_COLUMNS]


def _cell(content, css: str, label: str | None = None) -> html.Td:
    """A cell with its column's class; `label` (the header's text) is what the card layout
    shows before the value on a phone (data-label)."""
    classes = f"ls-col-{css}" + (" text-end" if css in _RIGHT else "")
    return html.Td(content, className=classes, **({"data-label": label} if label else {}))


def _results_rows(frame: pd.DataFrame, key: str, mode: str, details: bool = True, training_link=None) -> list:
    """The rows; without `details` (the printed page: every row at once, and paper has no
    buttons) no Details button and no details row, half the components to draw.
    `training_link(training_id)`: whether a training's name (the learner page's table) links to
    its page, i.e. the viewer may open it (issue 21); None: plain names."""
    rows = []
    labels = {css: _(header) for _value, header, css in _columns(mode)}
    for row in frame.itertuples():
        row_key = _row_key(row.user_id, row.training_id)
        if mode == "learners":
            row_name = f"{row.last_name} {row.first_name}".strip() or row.email
            second_text = row.classes or "–"
            first = [
                dcc.Link(row_name, href=f"/learner/{quote(row.user_id, safe='')}", className="fw-semibold"),
                html.Div(row.email, className="small text-muted ls-email"),
            ]
        else:
            row_name = row.training
            second_text = fmt_date(row.enrolled_on)
            first = [
                dcc.Link(
                    row.training, href=f"/training/{quote(row.training_id, safe='')}", className="fw-semibold"
                )
                if training_link is not None and training_link(row.training_id)
                else html.Span(row.training, className="fw-semibold")
            ]
        # At medium widths the second column folds under the name (assets/learnstats.css).
        if second_text != "–":
            first.append(
                html.Div(
                    _("%(column)s: %(value)s", column=labels["second"], value=second_text),
                    className="small text-muted ls-folded",
                )
            )
        rows.append(
            html.Tr(
                [
                    _cell(first, "learner"),
                    _cell(second_text, "second", labels["second"]),
                    _cell(fmt_pct(row.progress), "progress", labels["progress"]),
                    _cell(fmt_pct(row.score), "score", labels["score"]),
                    _cell(status_badge(row.status), "status", labels["status"]),
                    _cell(fmt_duration(row.time_spent), "time", labels["time"]),
                    _cell(fmt_date(row.completed_on), "completed", labels["completed"]),
                    _cell(
                        None
                        if not details
                        # A plain button: a name of its own per row and whether its details are
                        # shown (issue 21: 25 "Details" alike), which dbc.Button cannot carry.
                        else html.Button(
                            _("Details"),
                            id={"type": "results-details-button", "table": key, "row": row_key},
                            type="button",
                            className="btn btn-link btn-sm p-0",
                            n_clicks=0,
                            **{
                                "aria-label": _("Details of %(name)s", name=row_name),
                                "aria-expanded": "false",
                                "aria-controls": dom_id(
                                    {"type": "results-details", "table": key, "row": row_key}
                                ),
                            },
                        ),
                        "details",
                    ),
                ],
                className="ls-result-row",
            )
        )
        if not details:
            continue
        rows.append(
            html.Tr(
                html.Td(
                    dbc.Collapse(
                        html.Div(id={"type": "results-details-body", "table": key, "row": row_key}),
                        id={"type": "results-details", "table": key, "row": row_key},
                        is_open=False,
                    ),
                    colSpan=8,
                    className="p-0 border-0",
                ),
                className="ls-details-row",
            )
        )
    return rows


def _colgroup(mode: str) -> html.Colgroup:
    """The columns' widths (assets/learnstats.css), which the fixed layout reads: the details
    rows span every column, so a column folded away must be narrowed here, not only hidden."""
    return html.Colgroup(
        [html.Col(className=f"ls-col-{css}") for _v, _h, css in _columns(mode)]
        + [html.Col(className="ls-col-details")]
    )


def _header(mode: str, key: str, sort: str | None = None, order: str | None = None) -> html.Thead:
    """The header row; a sortable column's header is a button: a click sorts by it, a second
    click reverses the order (sort_by_header). aria-sort says how the table is sorted."""
    cells = []
    for value, header, css in _columns(mode):
        classes = f"ls-col-{css}" + (" text-end" if css in _RIGHT else "")
        if value is None:
            cells.append(html.Th(_(header), className=classes, scope="col"))
            continue
        active = value == sort
        arrow = ("▲" if order != "desc" else "▼") if active else ""
        button = html.Button(
            [_(header), " ", html.Span(arrow, className="ls-sort-arrow", **{"aria-hidden": "true"})]
            if active
            else _(header),
            id={"type": "results-sort-header", "table": key, "column": value},
            type="button",
            n_clicks=0,
            className="ls-sort-button" + (" ls-sorted" if active else ""),
            title=_("Sort by %(column)s", column=_(header)),
        )
        sort_state = {"aria-sort": "descending" if order == "desc" else "ascending"} if active else {}
        cells.append(html.Th(button, className=classes, scope="col", **sort_state))
    cells.append(
        html.Th(html.Span(_("Details"), className="visually-hidden"), className="ls-col-details", scope="col")
    )
    return html.Thead(html.Tr(cells))


def sort_by_header(clicks, sort, order):
    """A click on a column's header sorts by it (ascending; a second click, descending):
    (sort, order) for the "Sort by" list, which the table follows."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not any(clicks or []):
        return no_update, no_update
    clicked = [c for c in (ctx.triggered or []) if c.get("value")]
    if not clicked:  # a new table's buttons appearing (n_clicks 0) is not a click
        return no_update, no_update
    column = trigger.get("column")
    if column == sort:
        return no_update, "desc" if order != "desc" else "asc"
    return column, "asc"


def _load(
    params: dict,
    search: str | None,
    sort: str | None,
    order: str | None,
    page: int,
    size: int | None = PAGE_SIZE,
):
    pop, mode = population_from_store(params)
    scope = current_scope()
    tz = current_settings().tz
    allowed = [value for value, _label in SORT_OPTIONS.get(mode, SORT_OPTIONS["learners"])]
    sort = sort if sort in allowed else allowed[0]  # a forged column falls back to the default
    with get_db().session() as s:
        require_population(s, scope, pop)
        frame, total = training_results(
            s,
            scope,
            pop,
            tz,
            search=search,
            sort=[(sort, order != "desc")],
            offset=(page - 1) * size if size else 0,
            limit=size,
        )
    return frame, total, mode


def update_results_table(search, sort, order, active_page, params, every_row=False):
    """One page of the results table (searching or sorting goes back to page 1); with
    every_row, all of them (the printed page)."""
    triggered = {t["prop_id"].rsplit(".", 1)[-1] for t in ctx.triggered} if ctx.triggered else set()
    page = 1 if triggered & {"value", "data"} or not active_page else max(1, int(active_page))
    size = None if every_row is True else PAGE_SIZE
    frame, total, mode = _load(params, search, sort, order, 1 if size is None else page, size)
    pages = 1 if size is None else max(1, math.ceil(total / PAGE_SIZE))
    if size is None:
        page = 1
    elif page > pages:
        page = pages
        frame, total, mode = _load(params, search, sort, order, page)
    if total == 0:
        sentence = _("No learner matches this search.") if search else (
            _("No learner is enrolled yet.") if mode == "learners" else _("This learner is not enrolled in any training.")
        )  # fmt: skip
        return html.P(sentence, className="ls-empty"), "", 1, 1
    key = ctx.outputs_list[0]["id"]["table"] if ctx.outputs_list else "table"
    table = dbc.Table(
        [
            _colgroup(mode),
            _header(mode, key, sort, order),
            html.Tbody(
                _results_rows(
                    frame,
                    key,
                    mode,
                    details=size is not None,
                    training_link=current_scope().can_view_training_page if mode == "trainings" else None,
                )
            ),
        ],
        hover=True,
        size="sm",
        responsive=True,
        className="ls-table mb-0 align-middle",
    )
    first = (page - 1) * PAGE_SIZE + 1
    last = total if size is None else min(total, page * PAGE_SIZE)
    numbers = {"first": fmt_int(first), "last": fmt_int(last), "total": fmt_int(total)}
    if mode == "learners":
        count = _("Showing %(first)s–%(last)s of %(total)s learners", **numbers)
    else:
        count = _("Showing %(first)s–%(last)s of %(total)s trainings", **numbers)
    return table, count, pages, page


def learner_details(user_id: str, training_id: str, from_table: str | None = None) -> html.Div:
    """A learner's achievements in a training: each module with its status and a summary link."""
    scope = current_scope()
    tz = current_settings().tz
    with get_db().session() as s:
        modules = learner_modules(s, scope, tz, training_id, user_id)
    if modules.empty:
        return html.P(_("This training has no modules yet."), className="ls-empty")
    rows = []
    for m in modules.itertuples():
        link = f"/training/{quote(training_id, safe='')}/learner/{quote(user_id, safe='')}/module/{quote(m.module_id, safe='')}"
        # data-label: the header's text, shown before the value when the rows stack on a phone.
        rows.append(
            html.Tr(
                [
                    html.Td(m.module, className="ls-module-name"),
                    html.Td(_("Mandatory") if m.mandatory else _("Optional"), **{"data-label": _("Type")}),
                    html.Td(status_badge(m.status), **{"data-label": _("Status")}),
                    html.Td(fmt_pct(m.score), className="text-end text-nowrap", **{"data-label": _("Score")}),
                    html.Td(fmt_duration(m.time_spent), className="text-end text-nowrap", **{"data-label": _("Time spent")}),
                    html.Td(fmt_date(m.completed_on), className="text-nowrap", **{"data-label": _("Completed on")}),
                    html.Td(
                        dcc.Link(_("Module summary"), href=link) if m.attempts else html.Span(_("No attempt"), className="text-muted small")
                    ),
                ]
            )
        )  # fmt: skip
    header = html.Thead(
        html.Tr(
            [html.Th(h) for h in (_("Module"), _("Type"), _("Status"))]
            + [html.Th(_("Score"), className="text-end"), html.Th(_("Time spent"), className="text-end")]
            + [html.Th(_("Completed on")), html.Th("")]
        )
    )
    return html.Div(
        dbc.Table([header, html.Tbody(rows)], size="sm", className="mb-0 ls-details-table"),
        className="ls-details p-3",
    )


def toggle_learner_details(n_clicks, is_open):
    """Expand a row in place with the learner's achievements (loaded, and scope-checked, on open)."""
    if not n_clicks:
        return no_update, no_update
    if is_open:
        return False, no_update
    row = ctx.triggered_id["row"]
    user_id, _, training_id = row.partition("|")
    return True, learner_details(user_id, training_id)


# The file's columns: the screen's, in its order, under its headers (the learner's name and
# email, one cell on screen, are two in the file). Machine columns stay with export-results.
DOWNLOAD_COLUMNS = {"learners": RESULTS_COLUMNS, "trainings": LEARNER_TRAININGS_COLUMNS}


def _download(params, search, sort, order, fmt: str):
    """(download, message): every row of the table as searched and sorted on screen."""
    pop, mode = population_from_store(params)
    scope = current_scope()
    tz = current_settings().tz
    allowed = [value for value, _label in SORT_OPTIONS.get(mode, SORT_OPTIONS["learners"])]
    sort = sort if sort in allowed else allowed[0]
    with get_db().session() as s:
        require_population(s, scope, pop)
        frame, total = training_results(s, scope, pop, tz, search=search, sort=[(sort, order != "desc")])
    if total == 0 or frame.empty:
        return no_update, _(NOTHING_TO_DOWNLOAD)
    frame = frame.copy()
    if mode == "learners":
        frame["learner"] = [
            f"{last or ''} {first or ''}".strip() or email
            for last, first, email in zip(
                frame["last_name"], frame["first_name"], frame["email"], strict=True
            )
        ]
    name = "results"
    if pop.training_id:
        name += f"-{pop.training_id}"
    if pop.class_id:
        name += f"-class-{pop.class_id}"
    if pop.user_id:
        name += f"-learner-{pop.user_id}"
    columns = DOWNLOAD_COLUMNS.get(mode, DOWNLOAD_COLUMNS["learners"])
    frame["status"] = frame["status"].map(status_label)
    return table_download(frame, columns, fmt, name, _("Results")), None


def download_results(_csv, _xlsx, params, search, sort=None, order=None):
    """The whole table with the current search and sort, as CSV or XLSX, with the screen's
    columns; (download, message)."""
    fmt = "xlsx" if ctx.triggered_id and ctx.triggered_id.get("type") == "results-download-xlsx" else "csv"
    return _download(params, search, sort, order, fmt)


def register_results_callbacks(app: Dash) -> None:
    """Shared callbacks are registered per app (dash.callback would go to the first app only)."""
    app.callback(
        Output(_id("results-body", MATCH), "children"),
        Output(_id("results-count", MATCH), "children"),
        Output(_id("results-page", MATCH), "max_value"),
        Output(_id("results-page", MATCH), "active_page"),
        Input(_id("results-search", MATCH), "value"),
        Input(_id("results-sort", MATCH), "value"),
        Input(_id("results-order", MATCH), "value"),
        Input(_id("results-page", MATCH), "active_page"),
        Input(_id("results-params", MATCH), "data"),
        State(_id("results-every-row", MATCH), "data"),
    )(update_results_table)
    app.callback(
        Output(_id("results-sort", MATCH), "value"),
        Output(_id("results-order", MATCH), "value"),
        Input({"type": "results-sort-header", "table": MATCH, "column": ALL}, "n_clicks"),
        State(_id("results-sort", MATCH), "value"),
        State(_id("results-order", MATCH), "value"),
        prevent_initial_call=True,
    )(sort_by_header)
    app.callback(
        Output({"type": "results-details", "table": MATCH, "row": MATCH}, "is_open"),
        Output({"type": "results-details-body", "table": MATCH, "row": MATCH}, "children"),
        Input({"type": "results-details-button", "table": MATCH, "row": MATCH}, "n_clicks"),
        State({"type": "results-details", "table": MATCH, "row": MATCH}, "is_open"),
        prevent_initial_call=True,
    )(toggle_learner_details)
    app.clientside_callback(
        "function (isOpen) { return isOpen ? 'true' : 'false'; }",
        Output({"type": "results-details-button", "table": MATCH, "row": MATCH}, "aria-expanded"),
        Input({"type": "results-details", "table": MATCH, "row": MATCH}, "is_open"),
        prevent_initial_call=True,
    )
    app.callback(
        Output(_id("results-download", MATCH), "data"),
        Output(_id("results-message", MATCH), "children"),
        Input(_id("results-download-csv", MATCH), "n_clicks"),
        Input(_id("results-download-xlsx", MATCH), "n_clicks"),
        State(_id("results-params", MATCH), "data"),
        State(_id("results-search", MATCH), "value"),
        State(_id("results-sort", MATCH), "value"),
        State(_id("results-order", MATCH), "value"),
        prevent_initial_call=True,
    )(download_results)
