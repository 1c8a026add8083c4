"""Page-independent building blocks: date-range filter, buckets, cards, chart cards, tables.

Pages build their layouts from these `build_*` functions and call the helpers from their own
callbacks. The shared callbacks (date-range presets and URL, chart table toggles, static tables'
search and downloads) use pattern-matching ids so that `register_component_callbacks(app)`,
called once per app by create_app, serves every page. Their Python functions are plain
module-level functions, testable without a browser.

Component ids (page = the page's id prefix, e.g. "global", "training"):

date-range filter      {"type": "date-preset", "page": page}          dbc.Select, value = preset
                       {"type": "date-range", "page": page}           dcc.DatePickerRange
                                                                      (start_date / end_date, ISO)
                       {"type": "date-range-message", "page": page}   message (children)
                       {"type": "date-range-bounds", "page": page}    dcc.Store {"all_time_start"}
                       {"type": "date-range-url", "page": page}       dcc.Store (query string)
cards                  <page>-card-<slug>, value <page>-card-<slug>-value
chart card             <page>-<slug>-card, body <page>-<slug>-body (graph or empty state),
                       graph <page>-<slug>-graph, table <page>-<slug>-table,
                       {"type": "chart-table-toggle" / "chart-table-collapse", "page", "chart"}
server-side table      <page>-<slug>-grid (AgGrid, infinite), <page>-<slug>-search,
                       <page>-<slug>-download-csv, <page>-<slug>-download-xlsx,
                       <page>-<slug>-download (dcc.Download), <page>-<slug>-refresh (dcc.Store)
static table           {"type": "static-table", "page", "table"} (AgGrid, client side),
                       {"type": "static-table-search" / "static-table-csv" /
                        "static-table-xlsx" / "static-table-download" / "static-table-meta", ...}
"""

from __future__ import annotations

import calendar
import json
import math
import re
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import MATCH, Input, Output, State, dcc, html, no_update

from exports.tables import table_to_csv_bytes, table_to_xlsx_bytes

DASH = "–"

# ---------------------------------------------------------------------------------------------
# Date range (SPEC §4 last bullets, §5; issue 3 point 1)
# ---------------------------------------------------------------------------------------------

PRESETS: dict[str, str] = {
    "last_7_days": "Last 7 days",
    "last_30_days": "Last 30 days",
    "last_90_days": "Last 90 days",
    "this_month": "This month",
    "this_year": "This year",
    "all_time": "All time",
    "custom": "Custom range",
}
DEFAULT_PRESET = "last_30_days"
DEFAULT_ALL_TIME_START = date(2000, 1, 1)
EMPTY_RANGE_MESSAGE = "Choose a start date and an end date."


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of days in the platform time zone, and the preset that made it."""

    start: date
    end: date
    preset: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def to_query(self) -> dict[str, str]:
        """The query arguments that give this range back through parse_date_range."""
        if self.preset == "custom":
            return {"start": self.start.isoformat(), "end": self.end.isoformat()}
        return {"range": self.preset}


def preset_range(preset: str, today: date, all_time_start: date | None = None) -> DateRange:
    """The range a preset means on `today` ("last 7 days" = today-6 .. today)."""
    if preset == "last_7_days":
        start = today - timedelta(days=6)
    elif preset == "last_30_days":
        start = today - timedelta(days=29)
    elif preset == "last_90_days":
        start = today - timedelta(days=89)
    elif preset == "this_month":
        start = today.replace(day=1)
    elif preset == "this_year":
        start = today.replace(month=1, day=1)
    elif preset == "all_time":
        start = min(all_time_start or DEFAULT_ALL_TIME_START, today)
    else:
        raise ValueError(f"unknown date range preset {preset!r}")
    return DateRange(start, today, preset)


def default_range(today: date) -> DateRange:
    return preset_range(DEFAULT_PRESET, today)


def _parse_iso_day(text) -> date | None:
    """'2026-05-01' (a datetime's date part is accepted too) -> date; anything else -> None."""
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ].*)?", text):
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _single(value):
    """Dash pages pass a repeated query argument as a list: keep the last one."""
    if isinstance(value, (list, tuple)):
        return value[-1] if value else None
    return value


MAX_RANGE_YEARS = 50


def too_long_message(start: date, end: date) -> str | None:
    """A sentence when the range spans more than MAX_RANGE_YEARS years (nothing to chart there)."""
    if (end - start).days > MAX_RANGE_YEARS * 366:
        return (
            f"The range {start.isoformat()} – {end.isoformat()} is longer than {MAX_RANGE_YEARS} years; "
            "choose a shorter one."
        )
    return None


def reversed_message(start: date, end: date) -> str:
    return f"The start date {start.isoformat()} is after the end date {end.isoformat()}."


def parse_date_range(
    args: dict, today: date, all_time_start: date | None = None
) -> tuple[DateRange, str | None]:
    """The range asked by a page's query arguments, and a message when they could not be used.

    `?range=<preset>` (see PRESETS) or `?start=YYYY-MM-DD&end=YYYY-MM-DD` (preset "custom");
    nothing -> the last 30 days. A reversed range, a bad date or an unknown preset gives the
    default range and a sentence saying what was wrong.
    """
    args = args or {}
    preset = _single(args.get("range"))
    start_text, end_text = _single(args.get("start")), _single(args.get("end"))
    fallback = default_range(today)
    if preset not in (None, "", "custom"):
        if preset not in PRESETS:
            return fallback, f"Unknown date range “{preset}”: showing the last 30 days."
        return preset_range(preset, today, all_time_start), None
    if start_text in (None, "") and end_text in (None, ""):
        if preset == "custom":
            return fallback, "A custom date range needs a start and an end date: showing the last 30 days."
        return fallback, None
    for name, text in (("start", start_text), ("end", end_text)):
        if text in (None, ""):
            return fallback, f"The {name} date is missing: showing the last 30 days."
        if _parse_iso_day(text) is None:
            return (
                fallback,
                f"The {name} date “{text}” is not a valid date (expected YYYY-MM-DD): "
                "showing the last 30 days.",
            )
    start, end = _parse_iso_day(start_text), _parse_iso_day(end_text)
    if start > end:
        return fallback, reversed_message(start, end) + " Showing the last 30 days."
    too_long = too_long_message(start, end)
    if too_long:
        return fallback, too_long + " Showing the last 30 days."
    return DateRange(start, end, "custom"), None


def range_from_inputs(
    preset: str | None, start, end, today: date | None = None
) -> tuple[DateRange | None, str | None]:
    """The validated range from the filter's values (preset, start_date, end_date), for page
    callbacks: (range, None), or (None, message) when a date is missing, invalid or reversed."""
    start_day, end_day = _parse_iso_day(start), _parse_iso_day(end)
    if start_day is None or end_day is None:
        return None, EMPTY_RANGE_MESSAGE
    if start_day > end_day:
        return None, reversed_message(start_day, end_day)
    too_long = too_long_message(start_day, end_day)
    if too_long:
        return None, too_long
    label = preset if preset in PRESETS else "custom"
    if label != "custom":
        # The dates were edited by hand to something the preset does not mean: custom.
        today = today or platform_today()
        try:
            expected = preset_range(label, today, start_day if label == "all_time" else None)
        except ValueError:
            expected = None
        if expected is None or (expected.start, expected.end) != (start_day, end_day):
            label = "custom"
    return DateRange(start_day, end_day, label), None


def platform_today() -> date:
    """Today in the platform time zone (the app's settings; Europe/Paris outside an app)."""
    tz_name = "Europe/Paris"
    try:
        from flask import current_app, has_app_context

        if has_app_context():
            settings = current_app.config.get("LEARNSTATS")
            tz_name = getattr(settings, "timezone", tz_name) or tz_name
    except ImportError:  # pragma: no cover - flask is a dependency of dash
        pass
    return datetime.now(ZoneInfo(tz_name)).date()


def _bounds_start(bounds) -> date | None:
    if isinstance(bounds, dict):
        return _parse_iso_day(bounds.get("all_time_start"))
    return None


def dates_for_preset(preset: str | None, bounds: dict | None = None, today: date | None = None):
    """Callback logic, preset -> dates: (start_date, end_date, message) for the picker.

    "custom" (or nothing) leaves the dates as they are (no_update)."""
    if not preset or preset == "custom" or preset not in PRESETS:
        return no_update, no_update, no_update
    rng = preset_range(preset, today or platform_today(), _bounds_start(bounds))
    return rng.start.isoformat(), rng.end.isoformat(), None


def preset_for_dates(start, end, preset: str | None, bounds: dict | None = None, today: date | None = None):
    """Callback logic, dates -> preset: (preset, message).

    Dates that still match the current preset keep it (a preset just set them); other dates
    make it "custom". A missing or reversed range shows its message and leaves the preset."""
    start_day, end_day = _parse_iso_day(start), _parse_iso_day(end)
    if start_day is None or end_day is None:
        return no_update, EMPTY_RANGE_MESSAGE
    if start_day > end_day:
        return no_update, reversed_message(start_day, end_day)
    if preset and preset != "custom" and preset in PRESETS:
        expected = preset_range(preset, today or platform_today(), _bounds_start(bounds))
        if (expected.start, expected.end) == (start_day, end_day):
            return no_update, None
    return ("custom" if preset != "custom" else no_update), None


def sync_date_range(preset, start, end, bounds):
    """The filter's callback: a preset choice sets the dates; a date edit sets the preset to
    custom; a missing or reversed range shows a message. Outputs (preset, start, end, message)."""
    trigger = dash.ctx.triggered_id
    if isinstance(trigger, dict) and trigger.get("type") == "date-preset":
        new_start, new_end, message = dates_for_preset(preset, bounds)
        return no_update, new_start, new_end, message
    new_preset, message = preset_for_dates(start, end, preset, bounds)
    return new_preset, no_update, no_update, message


# Keeps ?range= or ?start=&end= in the address without reloading the page (other args kept).
SYNC_URL_JS = """
function (preset, start, end) {
    var noUpdate = window.dash_clientside.no_update;
    var day = function (v) { return v ? String(v).slice(0, 10) : null; };
    var s = day(start), e = day(end);
    var params = new URLSearchParams(window.location.search);
    if (!preset || preset === "custom") {
        if (!s || !e || s > e) { return noUpdate; }
        params.delete("range");
        params.set("start", s);
        params.set("end", e);
    } else {
        params.set("range", preset);
        params.delete("start");
        params.delete("end");
    }
    var query = params.toString();
    var url = window.location.pathname + (query ? "?" + query : "") + window.location.hash;
    if (url !== window.location.pathname + window.location.search + window.location.hash) {
        window.history.replaceState(window.history.state, "", url);
    }
    return query;
}
"""


def build_date_range_filter(
    page: str,
    rng: DateRange,
    all_time_start: date | None = None,
    message: str | None = None,
    extra: Sequence | None = None,
) -> html.Div:
    """The filter bar: preset select, date-range picker (DD/MM/YYYY, weeks start Monday), and
    a message area (`message`, e.g. parse_date_range's, shown at first). `extra` components
    (e.g. a class filter) are placed at the end of the bar."""
    bounds = {"all_time_start": (all_time_start or DEFAULT_ALL_TIME_START).isoformat()}
    return html.Div(
        [
            html.Div(
                [
                    html.Span("Period", className="ls-filter-label"),
                    dbc.Select(
                        id={"type": "date-preset", "page": page},
                        options=[{"label": label, "value": value} for value, label in PRESETS.items()],
                        value=rng.preset if rng.preset in PRESETS else "custom",
                        className="ls-date-preset",
                        size="sm",
                    ),
                    dcc.DatePickerRange(
                        id={"type": "date-range", "page": page},
                        start_date=rng.start.isoformat(),
                        end_date=rng.end.isoformat(),
                        display_format="DD/MM/YYYY",
                        first_day_of_week=1,
                        minimum_nights=0,
                        clearable=False,
                        start_date_placeholder_text="Start date",
                        end_date_placeholder_text="End date",
                        className="ls-date-range",
                    ),
                    *(extra or []),
                ],
                className="ls-filter-controls",
            ),
            html.Div(
                message,
                id={"type": "date-range-message", "page": page},
                className="ls-filter-message",
                role="status",
            ),
            dcc.Store(id={"type": "date-range-bounds", "page": page}, data=bounds),
            dcc.Store(id={"type": "date-range-url", "page": page}),
        ],
        className="ls-filter-bar",
        id=f"{page}-filter-bar",
    )


# ---------------------------------------------------------------------------------------------
# Buckets (issue 3 point 2: day up to ~3 months, week up to ~2 years, month beyond)
# ---------------------------------------------------------------------------------------------

# Bucketing itself (which unit, where each bucket starts) lives with the figures:
# data.figures.choose_unit and data.figures.make_buckets.


def fmt_bucket(day, bucket: str) -> str:
    """A bucket's name for tables: '24/11/2026', 'Week of 23/11/2026', 'November 2026'."""
    if day is None or (isinstance(day, float) and math.isnan(day)):
        return DASH
    day = pd.Timestamp(day).date()
    if bucket == "week":
        return f"Week of {day:%d/%m/%Y}"
    if bucket == "month":
        return f"{calendar.month_name[day.month]} {day.year}"
    return f"{day:%d/%m/%Y}"


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------


def _missing(value) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _round_half_up(value: float, decimals: int) -> Decimal:
    quantum = Decimal(1).scaleb(-decimals)
    return Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP)


THOUSANDS = "\u202f"  # narrow no-break space: 12 345 (as dashboards/_format.py writes them)


def _thousands(text: str) -> str:
    return text.replace(",", THOUSANDS)


def fmt_int(value) -> str:
    """1234 -> '1 234' (narrow no-break space); None -> '–'."""
    if _missing(value):
        return DASH
    return _thousands(f"{int(_round_half_up(value, 0)):,}")


def fmt_pct(value, decimals: int = 1) -> str:
    """66.666 -> '66.7 %' (value already in %, rounded half up); None -> '–'."""
    if _missing(value):
        return DASH
    return _thousands(f"{_round_half_up(value, decimals):,.{decimals}f}") + "\u00a0%"


def fmt_score(value, decimals: int = 1) -> str:
    """A score out of 100: 72.45 -> '72.5 %'; None (no score) -> '–'."""
    return fmt_pct(value, decimals)


def fmt_duration(seconds) -> str:
    """Seconds to the nearest minute: 11100 -> '3 h 05 min', 2700 -> '45 min', None -> '–'."""
    if _missing(seconds):
        return DASH
    minutes = int(_round_half_up(max(float(seconds), 0.0) / 60, 0))
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _thousands(f"{hours:,}") + f" h {minutes:02d} min"
    return f"{minutes} min"


def fmt_date(value) -> str:
    """A date as the picker shows it: '24/11/2026'; None -> '–'."""
    if _missing(value):
        return DASH
    return f"{pd.Timestamp(value).date():%d/%m/%Y}"


FORMATTERS: dict[str, Callable] = {
    "int": fmt_int,
    "pct": fmt_pct,
    "score": fmt_score,
    "duration": fmt_duration,
    "date": fmt_date,
    "day": lambda v: fmt_bucket(v, "day"),
    "week": lambda v: fmt_bucket(v, "week"),
    "month": lambda v: fmt_bucket(v, "month"),
}


def format_value(value, kind: str | Callable | None = None) -> str:
    """One cell's text: kind is a FORMATTERS key, a function, or None (numbers get a sensible
    default, missing values '–')."""
    if callable(kind):
        return kind(value)
    if kind in FORMATTERS:
        return FORMATTERS[kind](value)
    if _missing(value):
        return DASH
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int) or (isinstance(value, float) and float(value).is_integer()):
        return fmt_int(value)
    if isinstance(value, float):
        return _thousands(f"{_round_half_up(value, 1):,.1f}")
    if isinstance(value, (date, pd.Timestamp)):
        return fmt_date(value)
    return str(value)


def slugify(text: str) -> str:
    """'New users in range' -> 'new-users-in-range' (accents dropped)."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "item"


# ---------------------------------------------------------------------------------------------
# Cards, empty states
# ---------------------------------------------------------------------------------------------


def build_cards(items: Sequence[tuple[str, str, str | None]], page: str) -> dbc.Row:
    """A row of equal-height cards, one per (label, value_text, help_text or None).

    Card id `<page>-card-<slug(label)>`, its value `<page>-card-<slug>-value`."""
    cols = []
    for label, value_text, help_text in items:
        slug = slugify(label)
        body = [
            html.Div(label, className="ls-card-label"),
            html.Div(value_text, className="ls-card-value", id=f"{page}-card-{slug}-value"),
        ]
        if help_text:
            body.append(html.Div(help_text, className="ls-card-help", id=f"{page}-card-{slug}-help"))
        cols.append(
            dbc.Col(
                dbc.Card(
                    dbc.CardBody(body),
                    className="ls-card",
                    id=f"{page}-card-{slug}",
                ),
                xs=12,
                sm=6,
                lg=True,
                className="ls-card-col",
            )
        )
    return dbc.Row(cols, className="g-3 ls-cards align-items-stretch", id=f"{page}-cards")


def build_empty_state(sentence: str, id: str | dict | None = None) -> html.Div:
    """A sentence instead of an empty chart or table (issue 3 point 7)."""
    props = {"id": id} if id is not None else {}
    return html.Div(sentence, className="ls-empty", **props)


# ---------------------------------------------------------------------------------------------
# Chart cards
# ---------------------------------------------------------------------------------------------

GRAPH_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "displayModeBar": False,
}
TableColumns = Sequence[tuple[str, str] | tuple[str, str, str | Callable | None]]


def build_chart_body(page: str, slug: str, figure_or_empty, height: int = 320):
    """What the chart card's body holds: the graph `<page>-<slug>-graph`, or the given empty
    state (a component or a sentence). Page callbacks return this into `<page>-<slug>-body`."""
    if isinstance(figure_or_empty, go.Figure):
        config = dict(GRAPH_CONFIG)
        return dcc.Graph(
            id=f"{page}-{slug}-graph",
            figure=figure_or_empty,
            config=config,
            style={"height": f"{height}px"},
            className="ls-graph",
        )
    if isinstance(figure_or_empty, str):
        return build_empty_state(figure_or_empty, f"{page}-{slug}-empty")
    return figure_or_empty


def build_chart_table(df: pd.DataFrame | None, columns: TableColumns) -> html.Div:
    """A compact table of the chart's numbers: columns are (field, header) or (field, header,
    kind) with kind a FORMATTERS key or a function. Page callbacks return this into
    `<page>-<slug>-table`."""
    if df is None or len(df) == 0:
        return build_empty_state("No numbers to show for this period.")
    head = html.Thead(html.Tr([html.Th(col[1], scope="col") for col in columns]))
    rows = []
    for record in df.to_dict("records"):
        cells = []
        for col in columns:
            kind = col[2] if len(col) > 2 else None
            cells.append(html.Td(format_value(record.get(col[0]), kind)))
        rows.append(html.Tr(cells))
    return html.Div(
        dbc.Table(
            [head, html.Tbody(rows)], size="sm", striped=True, hover=True, className="ls-chart-table mb-0"
        ),
        className="ls-chart-table-wrap",
    )


def build_chart_card(
    page: str,
    slug: str,
    title: str,
    figure_or_empty,
    table_df: pd.DataFrame | None,
    table_columns: TableColumns,
    subtitle: str | None = None,
    height: int = 320,
) -> dbc.Card:
    """A titled card with the chart (or its empty state) and a "View as table" toggle revealing
    the same numbers as a table."""
    toggle_id = {"type": "chart-table-toggle", "page": page, "chart": slug}
    header = html.Div(
        [
            html.Div(
                [
                    html.H2(title, className="ls-chart-title"),
                    html.Div(subtitle, className="ls-chart-subtitle") if subtitle else None,
                ],
                className="ls-chart-heading",
            ),
            dbc.Button(
                "View as table",
                id=toggle_id,
                color="link",
                size="sm",
                className="ls-chart-toggle",
                n_clicks=0,
            ),
        ],
        className="ls-chart-header",
    )
    return dbc.Card(
        dbc.CardBody(
            [
                header,
                dcc.Loading(
                    html.Div(
                        build_chart_body(page, slug, figure_or_empty, height),
                        id=f"{page}-{slug}-body",
                        className="ls-chart-body",
                        style={"minHeight": f"{height}px"},
                    ),
                    type="circle",
                    delay_show=300,
                    color="#2563eb",
                ),
                dbc.Collapse(
                    html.Div(build_chart_table(table_df, table_columns), id=f"{page}-{slug}-table"),
                    id={"type": "chart-table-collapse", "page": page, "chart": slug},
                    is_open=False,
                ),
            ]
        ),
        className="ls-chart-card",
        id=f"{page}-{slug}-card",
    )


def toggle_chart_table(n_clicks, is_open):
    """The toggle's callback: (is_open, button label)."""
    if not n_clicks:
        return no_update, no_update
    opened = not is_open
    return opened, ("Hide table" if opened else "View as table")


# ---------------------------------------------------------------------------------------------
# Tables (AG Grid)
# ---------------------------------------------------------------------------------------------

# A column: (field, header), (field, header, kind) or an AG Grid columnDef dict. kind is one of
# text, int, pct, score, duration, date (formatted by assets/dashAgGridFunctions.js).
GridColumns = Sequence[tuple | dict]
_VALUE_FORMATTERS = {
    "int": "lsInt(params.value)",
    "pct": "lsPct(params.value)",
    "score": "lsPct(params.value)",
    "duration": "lsDuration(params.value)",
    "date": "lsDate(params.value)",
}
_NUMERIC_KINDS = {"int", "pct", "score", "duration"}
CACHE_BLOCK_SIZE = 50
# Sorting in the header; searching through the search box (no per-column filter menus).
DEFAULT_COL_DEF = {
    "sortable": True,
    "resizable": True,
    "filter": False,
    "suppressHeaderMenuButton": True,
    "minWidth": 90,
}
MAX_ROWS_PER_REQUEST = 500


def column_defs(columns: GridColumns, link_column: tuple[str, str] | None = None) -> list[dict]:
    """AG Grid columnDefs from column specs; `link_column` (text field, href field) renders the
    text field as an in-app link (assets/dashAgGridComponentFunctions.js, LsLink)."""
    defs = []
    for col in columns:
        if isinstance(col, dict):
            defs.append(dict(col))
            continue
        field, header = col[0], col[1]
        kind = col[2] if len(col) > 2 else None
        spec: dict = {"field": field, "headerName": header}
        if kind in _VALUE_FORMATTERS:
            spec["valueFormatter"] = {"function": _VALUE_FORMATTERS[kind]}
        if kind in _NUMERIC_KINDS:
            spec["type"] = "rightAligned"
        # Texts (names, emails, titles) get the room; numbers and dates a fair share.
        if kind in (None, "text"):
            spec.update(flex=2, minWidth=120, tooltipField=field)
        else:
            spec.update(flex=1, minWidth=90)
        if link_column is not None and field == link_column[0]:
            spec["cellRenderer"] = "LsLink"
            spec["cellRendererParams"] = {"hrefField": link_column[1]}
        defs.append(spec)
    return defs


def _export_columns(columns: GridColumns) -> list[tuple[str, str, str | None]]:
    out = []
    for col in columns:
        if isinstance(col, dict):
            if (col.get("cellRendererParams") or {}).get("noExport"):
                continue  # links and controls: nothing to write in a file
            out.append((col["field"], col.get("headerName", col["field"]), None))
        else:
            out.append((col[0], col[1], col[2] if len(col) > 2 else None))
    return out


def export_frame(df: pd.DataFrame, columns: GridColumns) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The table ready for exports/tables.py: rates and scores to one decimal, durations in
    whole minutes (header + " (min)"), dates as dates. Returns (frame, (field, header) pairs)."""
    out = pd.DataFrame(index=df.index)
    pairs = []
    for field, header, kind in _export_columns(columns):
        series = df[field] if field in df.columns else pd.Series([None] * len(df), index=df.index)
        if kind in ("pct", "score"):
            series = series.map(lambda v: None if _missing(v) else float(_round_half_up(v, 1)))
        elif kind == "duration":
            series = series.map(lambda v: None if _missing(v) else int(_round_half_up(float(v) / 60, 0)))
            header = f"{header} (min)"
        elif kind == "date":
            series = series.map(lambda v: None if _missing(v) else pd.Timestamp(v).date())
        out[field] = series.astype(object)
        pairs.append((field, header))
    return out, pairs


def table_download(
    df: pd.DataFrame, columns: GridColumns, kind: str, filename: str, sheet_name: str = "Table"
) -> dict:
    """dcc.Download data for the whole table as CSV or XLSX (kind "csv" / "xlsx")."""
    frame, pairs = export_frame(df, columns)
    if kind == "csv":
        return dcc.send_bytes(table_to_csv_bytes(frame, pairs), f"{filename}.csv", type="text/csv")
    if kind == "xlsx":
        return dcc.send_bytes(
            table_to_xlsx_bytes(frame, pairs, sheet_name),
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
        "headerBackgroundColor: '#f8fafc', headerFontWeight: 600, fontSize: 13, headerFontSize: 13, "
        "spacing: 6, wrapperBorderRadius: 6, foregroundColor: '#1f2937', "
        "fontFamily: ['system-ui', '-apple-system', 'Segoe UI', 'Roboto', 'Helvetica Neue', 'Arial', "
        "'sans-serif']})"
    )
}


def _grid_theme_class() -> str:
    return "ls-grid"


def build_data_table(
    page: str,
    slug: str,
    columns: GridColumns,
    search_placeholder: str = "Search…",
    height: int = 480,
    link_column: tuple[str, str] | None = None,
    row_id_field: str | None = None,
    title: str | None = None,
    grid_options: dict | None = None,
) -> html.Div:
    """A server-side table (AG Grid infinite row model, blocks of 50 rows): search box,
    Download CSV / XLSX buttons and their dcc.Download.

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
        "localeText": {"noRowsToShow": "No rows match."},
        "suppressCellFocus": True,
        "tooltipShowDelay": 300,
        "theme": GRID_THEME,
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
        debounce=True,
    )
    return html.Div(
        [
            toolbar,
            dag.AgGrid(
                id=f"{page}-{slug}-grid",
                columnDefs=column_defs(columns, link_column),
                defaultColDef=DEFAULT_COL_DEF,
                rowModelType="infinite",
                dashGridOptions=options,
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


def _table_toolbar(search_id, csv_id, xlsx_id, placeholder, title=None, debounce=True) -> html.Div:
    return html.Div(
        [
            html.H2(title, className="ls-table-title") if title else None,
            html.Div(
                [
                    dbc.Input(
                        id=search_id,
                        type="search",
                        placeholder=placeholder,
                        debounce=debounce,
                        size="sm",
                        className="ls-table-search",
                        autoComplete="off",
                    ),
                    dbc.Button(
                        "Download CSV", id=csv_id, color="secondary", outline=True, size="sm", n_clicks=0
                    ),
                    dbc.Button(
                        "Download XLSX", id=xlsx_id, color="secondary", outline=True, size="sm", n_clicks=0
                    ),
                ],
                className="ls-table-actions",
            ),
        ],
        className="ls-table-toolbar",
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
    empty_sentence: str = "Nothing to show.",
) -> html.Div:
    """A small table held in the browser: sorting, a quick-filter search box and CSV / XLSX
    downloads of the rows as sorted and filtered (handled by register_component_callbacks).

    `link_column` = (text field, href field): the text field is shown as an in-app link to the
    href field's value (which must be a path starting with "/")."""
    columns = list(columns)
    meta = {
        "columns": [list(c[:2]) for c in _export_columns(columns)],
        "kinds": [c[2] for c in _export_columns(columns)],
        "filename": filename or f"{page}-{slug}",
        "sheet_name": sheet_name or (title or slug),
    }
    options = {
        "quickFilterText": "",
        "suppressCellFocus": True,
        "localeText": {"noRowsToShow": empty_sentence},
        "animateRows": False,
        "theme": GRID_THEME,
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
        placeholder="Search…",
        title=title,
        debounce=False,
    )
    return html.Div(
        [
            toolbar,
            dag.AgGrid(
                id=_static_id("static-table", page, slug),
                columnDefs=column_defs(columns, link_column),
                rowData=frame_to_rows(df),
                defaultColDef=DEFAULT_COL_DEF,
                dashGridOptions=options,
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


def static_table_file(kind: str, rows: list[dict] | None, meta: dict) -> dict:
    """dcc.Download data for a static table's rows (as the browser shows them)."""
    columns = [
        (field, header, kind_)
        for (field, header), kind_ in zip(
            meta["columns"], meta.get("kinds") or [None] * len(meta["columns"]), strict=False
        )
    ]
    fields = [c[0] for c in columns]
    df = pd.DataFrame(rows or [], columns=fields)
    for field, _header, col_kind in columns:
        if col_kind == "date":
            df[field] = df[field].map(lambda v: _parse_iso_day(v) if isinstance(v, str) else v)
    return table_download(
        df, columns, kind, meta.get("filename") or "table", meta.get("sheet_name") or "Table"
    )


def download_static_table(csv_clicks, xlsx_clicks, row_data, virtual_row_data, meta):
    """The static table's download callback: the rows as filtered and sorted (virtualRowData),
    else all of them."""
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not meta:
        return no_update
    kind = "csv" if trigger.get("type") == "static-table-csv" else "xlsx"
    clicks = csv_clicks if kind == "csv" else xlsx_clicks
    if not clicks:
        return no_update
    rows = virtual_row_data if virtual_row_data is not None else row_data
    return static_table_file(kind, rows, meta)


# ---------------------------------------------------------------------------------------------
# Registration, once per app
# ---------------------------------------------------------------------------------------------


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
    app.callback(
        Output({"type": "chart-table-collapse", "page": page, "chart": MATCH}, "is_open"),
        Output({"type": "chart-table-toggle", "page": page, "chart": MATCH}, "children"),
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
        Input(_static_id("static-table-csv", page, MATCH), "n_clicks"),
        Input(_static_id("static-table-xlsx", page, MATCH), "n_clicks"),
        State(_static_id("static-table", page, MATCH), "rowData"),
        State(_static_id("static-table", page, MATCH), "virtualRowData"),
        State(_static_id("static-table-meta", page, MATCH), "data"),
        prevent_initial_call=True,
    )(download_static_table)
