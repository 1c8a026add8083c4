"""Tables (AG Grid): column definitions, the grid's look, server-side (infinite) and static
tables, their search boxes and CSV / XLSX downloads. A change of the grids' look is made here
(GRID_THEME, DEFAULT_COL_DEF, column_defs) and in assets/learnstats.css (.ls-grid).

Ids:
server-side table  <page>-<slug>-grid (AgGrid, infinite), <page>-<slug>-search,
                   <page>-<slug>-download-csv, <page>-<slug>-download-xlsx,
                   <page>-<slug>-download (dcc.Download), <page>-<slug>-refresh (dcc.Store)
static table       {"type": "static-table", "page", "table"} (AgGrid, client side),
                   {"type": "static-table-search" / "static-table-csv" / "static-table-xlsx" /
                    "static-table-download" / "static-table-meta", ...}
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Collection, Sequence
from datetime import date, datetime

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, dcc, html, no_update

from auth.language import N_
from auth.language import gettext as _
from dashboards.components.column_widths import TYPICAL_TEXT, column_min_width
from dashboards.components.date_filter import dom_id
from data.text import SEARCH_MAX_CHARS
from exports.formatting import csv_dialect, fmt_int, format_value
from exports.formatting import missing as _missing
from exports.tables import table_to_csv_bytes, table_to_xlsx_bytes

# A column: (field, header), (field, header, kind), (field, header, kind, {AG Grid options}) or
# an AG Grid columnDef dict. kind is one of
# text, int, pct, score, duration, date, datetime ("YYYY-MM-DD HH:MM" local text, sorted as text)
# (formatted by assets/dashAgGridFunctions.js).
GridColumns = Sequence[tuple | dict]
_VALUE_FORMATTERS = {
    "int": "lsInt(params.value)",
    "pct": "lsPct(params.value)",
    "score": "lsPct(params.value)",
    "duration": "lsDuration(params.value)",
    "date": "lsDate(params.value)",
    "datetime": "lsDateTime(params.value)",
}
_NUMERIC_KINDS = {"int", "pct", "score", "duration"}
CACHE_BLOCK_SIZE = 50
# Sorting in the header; searching through the search box (no per-column filter menus).
DEFAULT_COL_DEF = {
    "sortable": True,
    "resizable": True,
    "filter": False,
    "suppressHeaderMenuButton": True,
    "minWidth": 72,
    # A long header wraps onto a second line rather than widen a column of short values.
    "wrapHeaderText": True,
    "autoHeaderHeight": True,
}
MAX_ROWS_PER_REQUEST = 500


def column_defs(
    columns: GridColumns,
    link_column: tuple[str, str] | None = None,
    df: pd.DataFrame | None = None,
    wrap: bool = True,
) -> list[dict]:
    """AG Grid columnDefs from column specs; `link_column` (text field, href field) renders the
    text field as an in-app link (assets/dashAgGridComponentFunctions.js, LsLink).

    Each column is at least as wide as its header and its longest cell in `df` (a typical value
    of its kind without rows: dashboards/components/column_widths.py) and shares the room left (`flex`);
    when the card is narrower the grid scrolls sideways inside it. With `wrap` (tables held in
    the browser), a text longer than its column wraps and its row grows; a server-side grid
    (AG Grid's infinite model cannot size its rows to their content) cuts it with "…" and
    shows it whole in a tooltip."""
    defs = []
    for col in columns:
        if isinstance(col, dict):
            spec = dict(col)
            field = spec.get("field")
            # The header in the interface's language, also for a column given its own width.
            header = spec["headerName"] = _(spec.get("headerName", field or ""))
            if "width" not in spec and "minWidth" not in spec:
                texts = _column_texts(df, field, None) if field else []
                kind = "datetime" if "valueFormatter" in spec else None
                spec.update(minWidth=column_min_width(header, texts or [_typical_text(kind)]))
                spec.setdefault("flex", 1)
            defs.append(spec)
            continue
        field, header = col[0], _(col[1])
        kind = col[2] if len(col) > 2 else None
        extra = col[3] if len(col) > 3 else {}  # the column's own AG Grid options (minWidth...)
        spec: dict = {"field": field, "headerName": header}
        if kind in _VALUE_FORMATTERS:
            spec["valueFormatter"] = {"function": _VALUE_FORMATTERS[kind]}
        if kind in _NUMERIC_KINDS:
            spec["type"] = "rightAligned"
        texts = _column_texts(df, field, kind) if df is not None else [_typical_text(kind)]
        spec["minWidth"] = column_min_width(header, texts)
        # Texts (names, emails, titles) get more of the room left; one longer than its column
        # wraps onto more lines (the row grows) rather than be cut (issue 21), with a tooltip.
        if kind in (None, "text"):
            spec.update(flex=2, tooltipField=field)
            if wrap:
                spec.update(wrapText=True, autoHeight=True)
        else:
            spec.update(flex=1)
        if link_column is not None and field == link_column[0]:
            spec["cellRenderer"] = "LsLink"
            spec["cellRendererParams"] = {"hrefField": link_column[1]}
        spec.update(extra)
        defs.append(spec)
    return defs


def _typical_text(kind) -> str:
    """A long value of the kind, in the interface's language (for columns without rows)."""
    if kind in ("date", "datetime"):  # September has the longest French abbreviation
        return format_value(datetime(2026, 9, 30, 23, 59), kind)
    return TYPICAL_TEXT.get(kind, "")


def _column_texts(df: pd.DataFrame | None, field: str, kind) -> list[str]:
    """The cells of a column as the grid shows them (same formats as its valueFormatter)."""
    if df is None or field not in df.columns:
        return []
    return [_cell_text(v, kind) for v in df[field]]


def _cell_text(value, kind) -> str:
    if _missing(value):
        return ""
    if kind in ("date", "datetime") and isinstance(value, str):
        with contextlib.suppress(ValueError):  # an ISO text (sorts as text), shown formatted
            value = datetime.fromisoformat(value) if kind == "datetime" else date.fromisoformat(value[:10])
    if kind:
        try:
            return format_value(value, kind)
        except (TypeError, ValueError, AttributeError):  # e.g. a datetime kept as its ISO text
            pass
    return str(value)


def _export_columns(columns: GridColumns) -> list[tuple[str, str, str | None]]:
    out = []
    for col in columns:
        if isinstance(col, dict):
            if (col.get("cellRendererParams") or {}).get("noExport"):
                continue  # links and controls: nothing to write in a file
            # A header of its own in the files (e.g. with the unit the cells are in).
            export_header = (col.get("context") or {}).get("exportHeader")
            out.append((col["field"], _(export_header or col.get("headerName", col["field"])), None))
        else:
            out.append((col[0], _(col[1]), col[2] if len(col) > 2 else None))
    return out


def export_frame(
    df: pd.DataFrame, columns: GridColumns
) -> tuple[pd.DataFrame, list[tuple[str, str, str | None]]]:
    """The table ready for exports/tables.py, in the screen's column order under the screen's
    headers: (frame, (field, header, kind) columns). exports/tables.py writes each kind as a
    spreadsheet expects it (dates as dates, durations as durations, rates to one decimal)."""
    out = pd.DataFrame(index=df.index)
    specs = []
    for field, header, kind in _export_columns(columns):
        series = df[field] if field in df.columns else pd.Series([None] * len(df), index=df.index)
        out[field] = series.astype(object).map(lambda v: None if _missing(v) else v)
        specs.append((field, header, kind))
    return out, specs


NOTHING_TO_DOWNLOAD = N_("No row matches the search: there is nothing to download.")
# A static table's file is built from the rows the browser holds (its search and sort); a forged
# request could send any number (issue 23: 200,000 forged rows, 7 s and 300 MiB for one XLSX).
# No page renders a static table anywhere near this size: the large lists are server-paged grids.
MAX_STATIC_ROWS = 20_000
TOO_MANY_ROWS = N_("This table has too many rows to download from the page (at most %(rows)s).")


def table_download(
    df: pd.DataFrame, columns: GridColumns, kind: str, filename: str, sheet_name: str = "Table"
) -> dict:
    """dcc.Download data for the table as CSV or XLSX (kind "csv" / "xlsx"); the CSV's
    delimiter and decimal mark follow the interface's language (exports.formatting.csv_dialect).
    Callers check first that there are rows (NOTHING_TO_DOWNLOAD otherwise)."""
    frame, specs = export_frame(df, columns)
    if kind == "csv":
        delimiter, decimal = csv_dialect()
        return dcc.send_bytes(
            table_to_csv_bytes(frame, specs, delimiter=delimiter, decimal=decimal),
            f"{filename}.csv",
            type="text/csv",
        )
    if kind == "xlsx":
        return dcc.send_bytes(
            table_to_xlsx_bytes(frame, specs, sheet_name),
            f"{filename}.xlsx",
            type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    raise ValueError(f"unknown download kind {kind!r}")


def _json_value(value):
    if _missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is None and value.time() == datetime.min.time():
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    item = getattr(value, "item", None)
    if item is not None and not isinstance(value, str):
        return item()
    return value


def frame_to_rows(df: pd.DataFrame) -> list[dict]:
    """JSON-safe rowData: NaN/NaT -> None, dates -> ISO text, numpy scalars -> Python."""
    return [{k: _json_value(v) for k, v in record.items()} for record in df.to_dict("records")]


def rows_response(df: pd.DataFrame, total: int) -> dict:
    """getRowsResponse for an infinite grid: this block's rows and the total row count."""
    return {"rowData": frame_to_rows(df), "rowCount": int(total)}


def ag_grid_request_to_query(
    request: dict | None,
    allowed_columns: Collection[str] | None = None,
    max_limit: int = MAX_ROWS_PER_REQUEST,
) -> tuple[list[tuple[str, bool]], int, int]:
    """getRowsRequest -> (sort [(column, ascending)], offset, limit).

    Sort entries on columns outside `allowed_columns` (when given) or with an unknown direction
    are dropped, so a forged request cannot reach other columns; limit is capped at max_limit."""
    request = request or {}

    def as_int(value, default: int) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            return default
        return number

    start = max(0, as_int(request.get("startRow"), 0))
    end = as_int(request.get("endRow"), start + CACHE_BLOCK_SIZE)
    limit = min(max(0, end - start), max_limit)
    sort = []
    for item in request.get("sortModel") or []:
        if not isinstance(item, dict):
            continue
        column, direction = item.get("colId"), item.get("sort")
        if not isinstance(column, str) or direction not in ("asc", "desc"):
            continue
        if allowed_columns is not None and column not in allowed_columns:
            continue
        sort.append((column, direction == "asc"))
    return sort, start, limit


# AG Grid's Theming API (dash-ag-grid 33+): Quartz in the app's colours and system font.
GRID_THEME = {
    "function": (
        "themeQuartz.withParams({accentColor: '#2563eb', borderColor: '#e5e7eb', "
        "headerBackgroundColor: '#f8fafc', headerFontWeight: 600, fontSize: 13, headerFontSize: 12, "
        "spacing: 6, cellHorizontalPaddingScale: 0.7, wrapperBorderRadius: 6, foregroundColor: '#1f2937', "
        "fontFamily: ['system-ui', '-apple-system', 'Segoe UI', 'Roboto', 'Helvetica Neue', 'Arial', "
        "'sans-serif']})"
    )
}


# Tab leaves a grid (AG Grid otherwise walked every header and cell, and wrapped round to the
# first header for ever when cells took no focus); Enter on a cell follows its link
# (assets/learnstats.js).
TAB_OUT_OF_GRID = {"function": "false"}
KEYBOARD_LISTENERS = {"cellKeyDown": ["lsCellEnterFollowsLink(params)"]}


def grid_locale_text(own: dict[str, str]) -> dict:
    """The grid option getLocaleText: `own` (texts of the product, already translated by the
    catalogue) first, then AG Grid's own texts in the page's language (its French locale,
    vendored as assets/agGridLocaleFr.js; its built-in English otherwise)."""
    return {"function": f"lsGridLocaleText(params, {json.dumps(own)})"}


def _grid_options(no_rows: str) -> dict:
    """The options every grid shares: its look, its texts (`no_rows`: a catalogue text) and
    the keyboard (the ARIA grid pattern: one Tab stop, arrows move between headers and cells,
    Enter sorts a header or follows a cell's link, Tab leaves the grid)."""
    return {
        "getLocaleText": grid_locale_text({"noRowsToShow": _(no_rows)}),
        "suppressCellFocus": False,
        "theme": GRID_THEME,
        "tabToNextHeader": TAB_OUT_OF_GRID,
        "tabToNextCell": TAB_OUT_OF_GRID,
    }


def _grid_theme_class() -> str:
    return "ls-grid"


def build_data_table(
    page: str,
    slug: str,
    columns: GridColumns,
    search_placeholder: str = N_("Search…"),
    height: int = 480,
    link_column: tuple[str, str] | None = None,
    row_id_field: str | None = None,
    title: str | None = None,
    grid_options: dict | None = None,
    schedule: dict | None = None,
) -> html.Div:
    """A server-side table (AG Grid infinite row model, blocks of 50 rows): search box,
    Download CSV / XLSX buttons and their dcc.Download (and "Schedule…" with `schedule`, as
    build_static_table).

    The page wires it: a callback Input(`<page>-<slug>-grid`, "getRowsRequest") (+ State of the
    search box and its filters) -> Output(grid, "getRowsResponse") using ag_grid_request_to_query
    and rows_response; `data_table_refresh_callback` to reload the rows when the search or the
    filters change; and the download buttons -> `<page>-<slug>-download` with table_download."""
    options = {
        "rowBuffer": 0,
        "cacheBlockSize": CACHE_BLOCK_SIZE,
        "cacheOverflowSize": 2,
        "maxConcurrentDatasourceRequests": 1,
        "infiniteInitialRowCount": 1,
        "maxBlocksInCache": 20,
        "tooltipShowDelay": 300,
        **_grid_options(N_("No rows match.")),
    }
    if row_id_field:
        options["getRowId"] = {"function": f"String(params.data.{row_id_field})"}
    options.update(grid_options or {})
    toolbar = _table_toolbar(
        search_id=f"{page}-{slug}-search",
        csv_id=f"{page}-{slug}-download-csv",
        xlsx_id=f"{page}-{slug}-download-xlsx",
        placeholder=search_placeholder,
        title=title,
        debounce=300,  # as you type (True would wait for Enter)
        extra=_schedule_button(page, slug, schedule),
    )
    return html.Div(
        [
            toolbar,
            html.Div(id=f"{page}-{slug}-message", className="ls-table-message", role="status"),
            dag.AgGrid(
                id=f"{page}-{slug}-grid",
                columnDefs=column_defs(columns, link_column, wrap=False),
                defaultColDef=DEFAULT_COL_DEF,
                rowModelType="infinite",
                dashGridOptions=options,
                eventListeners=KEYBOARD_LISTENERS,
                className=_grid_theme_class(),
                style={"height": f"{height}px", "width": "100%"},
            ),
            dcc.Download(id=f"{page}-{slug}-download"),
            dcc.Store(id=f"{page}-{slug}-refresh"),
        ],
        className="ls-table-card",
        id=f"{page}-{slug}-table-card",
    )


def data_table_refresh_js(grid_id: str) -> str:
    """Clientside function: drop the grid's cached rows so it asks the server again (from the
    first row) — for when the search or the page's filters change."""
    return f"""
function () {{
    var gridId = {json.dumps(grid_id)};
    window.dash_ag_grid.getApiAsync(gridId).then(function (api) {{
        api.purgeInfiniteCache();
        api.ensureIndexVisible(0, "top");
    }});
    return Date.now();
}}
"""


def data_table_refresh_callback(page: str, slug: str, *triggers, register: Callable | None = None) -> None:
    """Register (from the page module, or with `register=app.clientside_callback`) the clientside
    callback reloading a server-side table when its search box or any of `triggers` (Inputs,
    e.g. Input({"type": "date-range", "page": page}, "end_date")) changes."""
    register = register or dash.clientside_callback
    register(
        data_table_refresh_js(f"{page}-{slug}-grid"),
        Output(f"{page}-{slug}-refresh", "data"),
        Input(f"{page}-{slug}-search", "value"),
        *triggers,
        prevent_initial_call=True,
    )


def _table_toolbar(
    search_id, csv_id, xlsx_id, placeholder, title=None, debounce=True, extra=None
) -> html.Div:
    return html.Div(
        [
            html.H2(_(title), className="ls-table-title") if title else None,
            html.Div(
                [
                    # Labelled for screen readers, not only by its placeholder (issue 21).
                    html.Label(_(placeholder), htmlFor=dom_id(search_id), className="visually-hidden"),
                    dbc.Input(
                        id=search_id,
                        type="search",
                        placeholder=_(placeholder),
                        debounce=debounce,
                        maxLength=SEARCH_MAX_CHARS,
                        size="sm",
                        className="ls-table-search",
                        autoComplete="off",
                    ),
                    dbc.Button(
                        _("Download CSV"), id=csv_id, color="secondary", outline=True, size="sm", n_clicks=0
                    ),
                    dbc.Button(
                        _("Download XLSX"), id=xlsx_id, color="secondary", outline=True, size="sm", n_clicks=0
                    ),
                    extra,
                ],
                className="ls-table-actions",
            ),
        ],
        className="ls-table-toolbar",
    )


def _schedule_button(page: str, slug: str, schedule: dict | None):
    if not schedule:
        return None
    from dashboards.dialogs.schedule import build_schedule_button

    return build_schedule_button(
        page, slug, schedule["kind"], schedule.get("params") or {}, title=schedule.get("title", "")
    )


def _static_id(kind: str, page: str, slug: str) -> dict:
    return {"type": kind, "page": page, "table": slug}


def build_static_table(
    page: str,
    slug: str,
    df: pd.DataFrame,
    columns: GridColumns,
    link_column: tuple[str, str] | None = None,
    title: str | None = None,
    filename: str | None = None,
    sheet_name: str | None = None,
    height: int | None = None,
    empty_sentence: str = N_("Nothing to show."),
    schedule: dict | None = None,
    note: str | None = None,
) -> html.Div:
    """A small table held in the browser: sorting, a quick-filter search box and CSV / XLSX
    downloads of the rows as sorted and filtered (handled by register_component_callbacks).

    `schedule` = {"kind", "params"[, "title"]}: a "Schedule…" button beside the downloads, to
    send the table by email on a calendar (a report kind of exports/report_kinds.py).

    `link_column` = (text field, href field): the text field is shown as an in-app link to the
    href field's value (which must be a path starting with "/").

    `note`: a sentence under the title saying what the table shows (already translated)."""
    columns = list(columns)
    meta = {
        "columns": [list(c[:2]) for c in _export_columns(columns)],
        "kinds": [c[2] for c in _export_columns(columns)],
        "filename": filename or f"{page}-{slug}",
        "sheet_name": _(sheet_name or title or slug),
        # Columns hidden by the table's design (their text folded into another cell on screen,
        # e.g. the session's emails under the names) still go into the files.
        "folded": [
            c[0] if not isinstance(c, dict) else c.get("field")
            for c in columns
            if (c.get("hide") if isinstance(c, dict) else len(c) > 3 and c[3].get("hide"))
        ],
    }
    options = {
        "quickFilterText": "",
        "animateRows": False,
        **_grid_options(empty_sentence),
    }
    grid_props = {}
    if height is None:
        options["domLayout"] = "autoHeight"
        grid_props["style"] = {"width": "100%"}
        if len(df) > 15:
            options.pop("domLayout")
            grid_props["style"] = {"height": "520px", "width": "100%"}
    else:
        grid_props["style"] = {"height": f"{height}px", "width": "100%"}
    toolbar = _table_toolbar(
        search_id=_static_id("static-table-search", page, slug),
        csv_id=_static_id("static-table-csv", page, slug),
        xlsx_id=_static_id("static-table-xlsx", page, slug),
        placeholder=N_("Search…"),
        title=title,
        debounce=False,
        extra=_schedule_button(page, slug, schedule),
    )
    return html.Div(
        [
            toolbar,
            html.P(note, className="ls-table-note small text-muted mb-2", id=f"{page}-{slug}-table-note")
            if note
            else None,
            html.Div(
                id=_static_id("static-table-message", page, slug), className="ls-table-message", role="status"
            ),
            dag.AgGrid(
                id=_static_id("static-table", page, slug),
                columnDefs=column_defs(columns, link_column, df),
                rowData=frame_to_rows(df),
                defaultColDef=DEFAULT_COL_DEF,
                dashGridOptions=options,
                eventListeners=KEYBOARD_LISTENERS,
                className=_grid_theme_class(),
                **grid_props,
            ),
            dcc.Download(id=_static_id("static-table-download", page, slug)),
            dcc.Store(id=_static_id("static-table-meta", page, slug), data=meta),
        ],
        className="ls-table-card",
        id=f"{page}-{slug}-table-card",
    )


QUICK_FILTER_JS = """
function (text, options) {
    return Object.assign({}, options || {}, {quickFilterText: text || ""});
}
"""


def _screen_order(columns: list[tuple], column_state: list | None, folded=()) -> list[tuple]:
    """The columns in the screen's order (AG Grid's columnState, after a drag), hidden ones
    left out, except the `folded` ones (hidden by design, shown inside another cell); columns
    the state does not know keep their place at the end."""
    if not column_state:
        return columns
    by_field = {c[0]: c for c in columns}
    ordered = []
    for state in column_state:
        if not isinstance(state, dict) or state.get("colId") not in by_field:
            continue
        column = by_field.pop(state["colId"])
        if not state.get("hide") or column[0] in folded:
            ordered.append(column)
    return ordered + [c for c in columns if c[0] in by_field]


def static_table_file(
    kind: str, rows: list[dict] | None, meta: dict, column_state: list | None = None
) -> dict:
    """dcc.Download data for a static table's rows (as the browser shows them: the order of
    the rows and of the columns on screen)."""
    columns = [
        (field, header, kind_)
        for (field, header), kind_ in zip(
            meta["columns"], meta.get("kinds") or [None] * len(meta["columns"]), strict=False
        )
    ]
    columns = _screen_order(columns, column_state, meta.get("folded") or ())
    fields = [c[0] for c in columns]
    df = pd.DataFrame(rows or [], columns=fields)
    return table_download(
        df, columns, kind, meta.get("filename") or "table", meta.get("sheet_name") or "Table"
    )


def download_static_table(csv_clicks, xlsx_clicks, row_data, virtual_row_data, meta, column_state=None):
    """The static table's download callback: the rows as searched and sorted on screen
    (virtualRowData), else all of them; (download, message). A search matching nothing gives
    a message instead of a file holding only a header."""
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not meta:
        return no_update, no_update
    kind = "csv" if trigger.get("type") == "static-table-csv" else "xlsx"
    clicks = csv_clicks if kind == "csv" else xlsx_clicks
    if not clicks:
        return no_update, no_update
    rows = virtual_row_data if virtual_row_data is not None else row_data
    if not rows:
        return no_update, _(NOTHING_TO_DOWNLOAD)
    if (
        not isinstance(rows, list)
        or len(rows) > MAX_STATIC_ROWS
        or not all(isinstance(r, dict) for r in rows)
    ):
        return no_update, _(TOO_MANY_ROWS, rows=fmt_int(MAX_STATIC_ROWS))
    return static_table_file(kind, rows, meta, column_state), None
