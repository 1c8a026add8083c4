"""The pages' shared building blocks (one concern, one module), and the shared callbacks' registration.

    shell.py           the app's frame: navbar from the page registry, language menu, page guard
    date_filter.py     the date-range filter (presets, query arguments, filter bar)
    cards.py           cards, status badges, empty states, slugify
    chart_cards.py     chart cards and their "View as table"
    figures.py         Plotly figure builders (make_*_figure)
    dashboard.py       the statistics block the overview, training and class pages share
    grids.py           AG Grid tables: columns, look, search, CSV / XLSX downloads
    column_widths.py   a column's width from its texts (any screen)
    results.py         the learners' results table (server-side rows) and its callbacks
    search.py          the navbar's search box and its suggestions
    session_tables.py  the sessions' date columns
    texts.py           breadcrumbs, the libraries' own texts in the interface's language, dropdown
    exports/formatting.py (not here) every number, date and duration format (pages and files)

The shared callbacks (date-range presets and URL, chart table toggles, static tables' search and
downloads) use pattern-matching ids so that `register_component_callbacks(app)`, called once per
app by create_app, serves every page. Their Python functions are plain module-level functions
of the modules above, testable without a browser.

The names below are re-exported so that `from dashboards.components import X` keeps working;
new code imports from the module that defines X. No module of this package imports the package
itself (`from dashboards.components import X`): that would be a circular import.
"""

from __future__ import annotations

import dash
from dash import MATCH, Input, Output, State

from dashboards.components.cards import build_cards, build_empty_state, slugify, status_badge
from dashboards.components.chart_cards import (
    GRAPH_CONFIG,
    TableColumns,
    build_chart_body,
    build_chart_card,
    build_chart_table,
    toggle_chart_table,
)
from dashboards.components.date_filter import (
    DEFAULT_ALL_TIME_START,
    DEFAULT_PRESET,
    EMPTY_RANGE_MESSAGE,
    MAX_RANGE_YEARS,
    PRESETS,
    PRINT_PERIOD_JS,
    SYNC_URL_JS,
    DateRange,
    build_date_range_filter,
    dates_for_preset,
    default_range,
    parse_date_range,
    parse_iso_day,
    platform_today,
    preset_for_dates,
    preset_range,
    range_from_inputs,
    reversed_message,
    sync_date_range,
    too_long_message,
)
from dashboards.components.grids import (
    CACHE_BLOCK_SIZE,
    DEFAULT_COL_DEF,
    GRID_THEME,
    MAX_ROWS_PER_REQUEST,
    MAX_STATIC_ROWS,
    QUICK_FILTER_JS,
    GridColumns,
    _static_id,
    ag_grid_request_to_query,
    build_data_table,
    build_static_table,
    column_defs,
    data_table_refresh_callback,
    data_table_refresh_js,
    download_static_table,
    export_frame,
    frame_to_rows,
    rows_response,
    static_table_file,
    table_download,
)
from exports.formatting import (
    DASH,
    FORMATTERS,
    fmt_bucket,
    fmt_date,
    fmt_datetime,
    fmt_duration,
    fmt_int,
    fmt_pct,
    fmt_score,
    format_value,
)

__all__ = [
    "CACHE_BLOCK_SIZE",
    "DASH",
    "DEFAULT_ALL_TIME_START",
    "DEFAULT_COL_DEF",
    "DEFAULT_PRESET",
    "EMPTY_RANGE_MESSAGE",
    "FORMATTERS",
    "GRAPH_CONFIG",
    "GRID_THEME",
    "MAX_RANGE_YEARS",
    "MAX_ROWS_PER_REQUEST",
    "MAX_STATIC_ROWS",
    "PRESETS",
    "DateRange",
    "GridColumns",
    "TableColumns",
    "ag_grid_request_to_query",
    "build_cards",
    "build_chart_body",
    "build_chart_card",
    "build_chart_table",
    "build_data_table",
    "build_date_range_filter",
    "build_empty_state",
    "build_static_table",
    "column_defs",
    "data_table_refresh_callback",
    "data_table_refresh_js",
    "dates_for_preset",
    "default_range",
    "download_static_table",
    "export_frame",
    "fmt_bucket",
    "fmt_date",
    "fmt_datetime",
    "fmt_duration",
    "fmt_int",
    "fmt_pct",
    "fmt_score",
    "format_value",
    "frame_to_rows",
    "parse_date_range",
    "parse_iso_day",
    "platform_today",
    "preset_for_dates",
    "preset_range",
    "range_from_inputs",
    "register_component_callbacks",
    "reversed_message",
    "rows_response",
    "slugify",
    "static_table_file",
    "status_badge",
    "sync_date_range",
    "table_download",
    "toggle_chart_table",
    "too_long_message",
]


def register_component_callbacks(app: dash.Dash) -> None:
    """The shared callbacks, with pattern-matching ids so one registration serves every page."""
    page = MATCH
    app.callback(
        Output({"type": "date-preset", "page": page}, "value"),
        Output({"type": "date-range", "page": page}, "start_date"),
        Output({"type": "date-range", "page": page}, "end_date"),
        Output({"type": "date-range-message", "page": page}, "children"),
        Input({"type": "date-preset", "page": page}, "value"),
        Input({"type": "date-range", "page": page}, "start_date"),
        Input({"type": "date-range", "page": page}, "end_date"),
        State({"type": "date-range-bounds", "page": page}, "data"),
        prevent_initial_call=True,
    )(sync_date_range)
    app.clientside_callback(
        SYNC_URL_JS,
        Output({"type": "date-range-url", "page": page}, "data"),
        Input({"type": "date-preset", "page": page}, "value"),
        Input({"type": "date-range", "page": page}, "start_date"),
        Input({"type": "date-range", "page": page}, "end_date"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        PRINT_PERIOD_JS,
        Output({"type": "date-range-print", "page": page}, "children"),
        Input({"type": "date-range", "page": page}, "start_date"),
        Input({"type": "date-range", "page": page}, "end_date"),
        prevent_initial_call=True,
    )
    app.callback(
        Output({"type": "chart-table-collapse", "page": page, "chart": MATCH}, "is_open"),
        Output({"type": "chart-table-toggle", "page": page, "chart": MATCH}, "children"),
        Output({"type": "chart-table-toggle", "page": page, "chart": MATCH}, "aria-expanded"),
        Input({"type": "chart-table-toggle", "page": page, "chart": MATCH}, "n_clicks"),
        State({"type": "chart-table-collapse", "page": page, "chart": MATCH}, "is_open"),
        prevent_initial_call=True,
    )(toggle_chart_table)
    app.clientside_callback(
        QUICK_FILTER_JS,
        Output(_static_id("static-table", page, MATCH), "dashGridOptions"),
        Input(_static_id("static-table-search", page, MATCH), "value"),
        State(_static_id("static-table", page, MATCH), "dashGridOptions"),
        prevent_initial_call=True,
    )
    app.callback(
        Output(_static_id("static-table-download", page, MATCH), "data"),
        Output(_static_id("static-table-message", page, MATCH), "children"),
        Input(_static_id("static-table-csv", page, MATCH), "n_clicks"),
        Input(_static_id("static-table-xlsx", page, MATCH), "n_clicks"),
        State(_static_id("static-table", page, MATCH), "rowData"),
        State(_static_id("static-table", page, MATCH), "virtualRowData"),
        State(_static_id("static-table-meta", page, MATCH), "data"),
        State(_static_id("static-table", page, MATCH), "columnState"),
        prevent_initial_call=True,
    )(download_static_table)
