"""Shared page components: date range, buckets, formats, cards, chart cards, tables, figures."""

from __future__ import annotations

import base64
import io
import json
from contextvars import copy_context
from datetime import date, timedelta

import openpyxl
import pandas as pd
import plotly.graph_objects as go
import pytest
from dash import Dash, dcc, html, no_update
from dash._callback_context import context_value
from dash._utils import AttributeDict

from dashboards import components as c
from dashboards.components import figures as f
from dashboards.components.grids import NOTHING_TO_DOWNLOAD
from exports.formatting import use_language
from tests.helpers import markdown_table_rows
from tests.spreadsheets import shown

TODAY = date(2026, 11, 24)  # a Tuesday


def _walk(component):
    """Every component in a layout tree."""
    yield component
    children = getattr(component, "children", None)
    if children is None:
        return
    if not isinstance(children, (list, tuple)):
        children = [children]
    for child in children:
        if hasattr(child, "to_plotly_json"):
            yield from _walk(child)


def _by_id(layout, wanted):
    found = [node for node in _walk(layout) if getattr(node, "id", None) == wanted]
    assert len(found) == 1, f"{wanted!r}: {len(found)} components"
    return found[0]


# ---- date range ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "start"),
    [
        ("last_7_days", date(2026, 11, 18)),
        ("last_30_days", date(2026, 10, 26)),
        ("last_90_days", date(2026, 8, 27)),
        ("this_month", date(2026, 11, 1)),
        ("this_year", date(2026, 1, 1)),
    ],
)
def test_cmp001_presets_by_hand(preset, start):
    rng, message = c.parse_date_range({"range": preset}, TODAY)
    assert message is None
    assert rng == c.DateRange(start, TODAY, preset)


def test_cmp002_all_time_starts_at_the_callers_date():
    rng, message = c.parse_date_range({"range": "all_time"}, TODAY, all_time_start=date(2024, 3, 5))
    assert (rng, message) == (c.DateRange(date(2024, 3, 5), TODAY, "all_time"), None)
    rng, _ = c.parse_date_range({"range": "all_time"}, TODAY)
    assert rng.start == date(2000, 1, 1)


def test_cmp003_default_and_custom():
    assert c.parse_date_range({}, TODAY) == (c.DateRange(date(2026, 10, 26), TODAY, "last_30_days"), None)
    rng, message = c.parse_date_range({"start": "2026-05-01", "end": "2026-05-10"}, TODAY)
    assert (rng, message) == (c.DateRange(date(2026, 5, 1), date(2026, 5, 10), "custom"), None)
    assert rng.days == 10
    assert rng.to_query() == {"start": "2026-05-01", "end": "2026-05-10"}
    # A single day is a valid range; Dash passes a repeated argument as a list (last one wins).
    rng, message = c.parse_date_range({"start": ["2026-01-01", "2026-05-02"], "end": "2026-05-02"}, TODAY)
    assert (rng.start, rng.end, message) == (date(2026, 5, 2), date(2026, 5, 2), None)


def test_cmp004_reversed_range_gives_a_message_and_the_default():
    rng, message = c.parse_date_range({"start": "2026-05-10", "end": "2026-05-01"}, TODAY)
    assert rng == c.DateRange(date(2026, 10, 26), TODAY, "last_30_days")
    assert message.startswith("The start date 10/05/2026 is after the end date 01/05/2026.")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({"start": "2026-02-30", "end": "2026-03-01"}, "The start date “2026-02-30” is not a valid date"),
        ({"start": "2026-02-01", "end": "tomorrow"}, "The end date “tomorrow” is not a valid date"),
        ({"start": "2026-02-01"}, "The end date is missing"),
        ({"range": "last_year"}, "Unknown date range “last_year”"),
        ({"range": "custom"}, "needs a start and an end date"),
    ],
)
def test_cmp005_bad_arguments_give_a_message_and_the_default(args, fragment):
    rng, message = c.parse_date_range(args, TODAY)
    assert rng == c.default_range(TODAY)
    assert fragment in message


def test_cmp006_range_from_inputs():
    rng, message = c.range_from_inputs("custom", "2026-05-01", "2026-05-31", TODAY)
    assert (rng, message) == (c.DateRange(date(2026, 5, 1), date(2026, 5, 31), "custom"), None)
    # Dash may send datetimes as text; the day is what counts.
    rng, _ = c.range_from_inputs("last_7_days", "2026-11-18T00:00:00", "2026-11-24", TODAY)
    assert rng == c.DateRange(date(2026, 11, 18), TODAY, "last_7_days")
    # Dates that are not what the preset means are a custom range.
    rng, _ = c.range_from_inputs("last_7_days", "2026-11-17", "2026-11-24", TODAY)
    assert rng.preset == "custom"
    assert c.range_from_inputs("custom", "2026-05-31", "2026-05-01", TODAY) == (
        None,
        "The start date 31/05/2026 is after the end date 01/05/2026.",
    )
    assert c.range_from_inputs("custom", None, "2026-05-01", TODAY) == (None, c.EMPTY_RANGE_MESSAGE)
    assert c.range_from_inputs("custom", "31/05/2026", "2026-06-01", TODAY) == (None, c.EMPTY_RANGE_MESSAGE)


def test_cmp007_preset_sets_the_dates():
    assert c.dates_for_preset("last_7_days", None, TODAY) == ("2026-11-18", "2026-11-24", None)
    assert c.dates_for_preset("this_year", None, TODAY) == ("2026-01-01", "2026-11-24", None)
    assert c.dates_for_preset("all_time", {"all_time_start": "2023-09-01"}, TODAY) == (
        "2023-09-01",
        "2026-11-24",
        None,
    )
    assert c.dates_for_preset("custom", None, TODAY) == (no_update, no_update, no_update)


def test_cmp008_dates_set_the_preset():
    # The dates a preset just set keep the preset.
    assert c.preset_for_dates("2026-11-18", "2026-11-24", "last_7_days", None, TODAY) == (no_update, None)
    # Edited dates make it custom.
    assert c.preset_for_dates("2026-11-10", "2026-11-24", "last_7_days", None, TODAY) == ("custom", None)
    assert c.preset_for_dates("2026-11-10", "2026-11-20", "custom", None, TODAY) == (no_update, None)
    # Reversed or empty: a message, the preset left alone.
    assert c.preset_for_dates("2026-11-24", "2026-11-10", "custom", None, TODAY) == (
        no_update,
        "The start date 24/11/2026 is after the end date 10/11/2026.",
    )
    assert c.preset_for_dates(None, "2026-11-10", "last_30_days", None, TODAY) == (
        no_update,
        c.EMPTY_RANGE_MESSAGE,
    )


def test_cmp009_date_range_filter_components():
    rng = c.DateRange(date(2026, 5, 1), date(2026, 5, 31), "custom")
    layout = c.build_date_range_filter("global", rng, all_time_start=date(2025, 1, 6), message="Oops.")
    preset = _by_id(layout, {"type": "date-preset", "page": "global"})
    assert preset.value == "custom"
    assert [o["value"] for o in preset.options] == [
        "last_7_days",
        "last_30_days",
        "last_90_days",
        "this_month",
        "this_year",
        "all_time",
        "custom",
    ]
    picker = _by_id(layout, {"type": "date-range", "page": "global"})
    assert isinstance(picker, dcc.DatePickerRange)
    assert (picker.start_date, picker.end_date) == ("2026-05-01", "2026-05-31")
    assert (picker.display_format, picker.first_day_of_week) == ("DD/MM/YYYY", 1)
    assert _by_id(layout, {"type": "date-range-message", "page": "global"}).children == "Oops."
    assert _by_id(layout, {"type": "date-range-bounds", "page": "global"}).data == {
        "all_time_start": "2025-01-06"
    }


def _dispatch(
    app: Dash, key: str, outputs: list[dict], inputs: list[dict], state: list[dict], changed: list[str]
):
    """POST one callback request the way the browser does."""
    body = {"output": key, "outputs": outputs, "inputs": inputs, "state": state, "changedPropIds": changed}
    return app.server.test_client().post("/_dash-update-component", json=body)


def test_cmp010_sync_callback_through_dash():
    """The registered callback, requested as the browser does: preset -> dates, dates -> custom."""
    app = Dash(__name__)
    app.layout = html.Div()
    c.register_component_callbacks(app)
    key = next(k for k in app.callback_map if "date-range-message" in k)
    today = c.platform_today()
    pid = {"type": "date-preset", "page": "global"}
    rid = {"type": "date-range", "page": "global"}
    bounds = [{"id": {"type": "date-range-bounds", "page": "global"}, "property": "data", "value": None}]

    def inputs(preset, start, end):
        return [
            {"id": pid, "property": "value", "value": preset},
            {"id": rid, "property": "start_date", "value": start},
            {"id": rid, "property": "end_date", "value": end},
        ]

    mid = {"type": "date-range-message", "page": "global"}
    outputs = [
        {"id": pid, "property": "value"},
        {"id": rid, "property": "start_date"},
        {"id": rid, "property": "end_date"},
        {"id": mid, "property": "children"},
    ]
    pid_text = json.dumps(pid, sort_keys=True, separators=(",", ":"))
    rid_text = json.dumps(rid, sort_keys=True, separators=(",", ":"))
    response = _dispatch(
        app, key, outputs, inputs("this_month", "2026-01-01", "2026-01-31"), bounds, [f"{pid_text}.value"]
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()["response"]
    assert data[rid_text] == {"start_date": today.replace(day=1).isoformat(), "end_date": today.isoformat()}
    assert pid_text not in data

    response = _dispatch(
        app,
        key,
        outputs,
        inputs("this_month", "2020-01-01", "2020-01-31"),
        bounds,
        [f"{rid_text}.start_date"],
    )
    data = response.get_json()["response"]
    assert data[pid_text] == {"value": "custom"}

    response = _dispatch(
        app, key, outputs, inputs("custom", "2020-02-01", "2020-01-31"), bounds, [f"{rid_text}.end_date"]
    )
    data = response.get_json()["response"]
    message_id = json.dumps(mid, sort_keys=True, separators=(",", ":"))
    assert data[message_id] == {"children": "The start date 01/02/2020 is after the end date 31/01/2020."}


# ---- buckets ---------------------------------------------------------------------------------


def test_cmp013_bucket_names():
    assert c.fmt_bucket(date(2026, 11, 23), "week") == "Week of 23/11/2026"
    assert c.fmt_bucket(date(2026, 2, 1), "month") == "February 2026"
    assert c.fmt_bucket(date(2026, 2, 3), "day") == "03/02/2026"


# ---- formats ---------------------------------------------------------------------------------


def test_cmp014_formatters():
    assert c.fmt_int(12345) == "12\u202f345"
    assert c.fmt_int(7.5) == "8"
    assert c.fmt_int(None) == "–"
    assert c.fmt_pct(66.666) == "66.7\u00a0%"
    assert c.fmt_pct(12.25) == "12.3\u00a0%"  # half up, not to even
    assert c.fmt_pct(50, decimals=0) == "50\u00a0%"
    assert c.fmt_pct(None) == "–"
    assert c.fmt_pct(float("nan")) == "–"
    assert c.fmt_score(72.45) == "72.5\u00a0%"
    assert c.fmt_score(None) == "–"
    assert c.fmt_duration(3 * 3600 + 5 * 60) == "3 h 05 min"
    assert c.fmt_duration(45 * 60) == "45 min"
    assert c.fmt_duration(89) == "1 min"
    assert c.fmt_duration(90) == "2 min"  # 30 s round up
    assert c.fmt_duration(0) == "0 min"
    assert c.fmt_duration(None) == "–"
    assert c.fmt_date(date(2026, 3, 4)) == "04/03/2026"
    assert c.slugify("Active users in range") == "active-users-in-range"
    assert c.slugify("Complétions (%)") == "completions"


# ---- cards, chart cards ----------------------------------------------------------------------


def test_cmp015_cards_ids_and_values():
    row = c.build_cards([("Learners", "12", None), ("New users in range", "3", "Accounts created")], "global")
    assert len(row.children) == 2
    assert _by_id(row, "global-card-learners").className == "ls-card"
    assert _by_id(row, "global-card-learners-value").children == "12"
    assert _by_id(row, "global-card-new-users-in-range-value").children == "3"
    assert _by_id(row, "global-card-new-users-in-range-help").children == "Accounts created"


def test_cmp016_chart_card_graph_table_and_toggle():
    frame = pd.DataFrame(
        {"day": [date(2026, 11, 23), date(2026, 11, 24)], "n": [1234, 5], "rate": [12.25, None]}
    )
    fig = f.make_timeseries_figure(frame, "day", [("n", "Active users")])
    card = c.build_chart_card(
        "global",
        "active-users",
        "Active users per day",
        fig,
        frame,
        [("day", "Day", "day"), ("n", "Users", "int"), ("rate", "Rate", "pct")],
    )
    graph = _by_id(card, "global-active-users-graph")
    assert graph.config["displaylogo"] is False
    assert isinstance(graph.figure, dict) and go.Figure(graph.figure) == fig  # plain data
    assert any(isinstance(node, dcc.Loading) for node in _walk(card))
    toggle = _by_id(card, {"type": "chart-table-toggle", "page": "global", "chart": "active-users"})
    assert toggle.children == "View as table"
    collapse = _by_id(card, {"type": "chart-table-collapse", "page": "global", "chart": "active-users"})
    assert collapse.is_open is False
    [markdown] = [
        node for node in _walk(_by_id(card, "global-active-users-table")) if isinstance(node, dcc.Markdown)
    ]
    assert markdown_table_rows(markdown.children) == [
        ["Day", "Users", "Rate"],
        ["23/11/2026", "1\u202f234", "12.3\u00a0%"],
        ["24/11/2026", "5", "–"],
    ]
    # One component for the whole table (issue 21: ~550 cell components on a page), numbers
    # right-aligned, a Markdown character in a cell escaped.
    assert "| --- | ---: | ---: |" in markdown.children
    odd = c.build_chart_table(pd.DataFrame({"n": ["a|b *c*"]}), [("n", "Name")])
    assert markdown_table_rows(odd.children.children) == [["Name"], ["a|b *c*"]]
    # Issue 12: the toggle says what it shows and whether it is shown.
    props = toggle.to_plotly_json()["props"]
    assert props["aria-controls"] == "global-active-users-table" and props["aria-expanded"] == "false"
    assert c.toggle_chart_table(1, False) == (True, "Hide table", "true")
    assert c.toggle_chart_table(2, True) == (False, "View as table", "false")


def test_cmp017_empty_chart_shows_the_sentence():
    empty = c.build_empty_state("No activity in this period.", "global-active-users-empty")
    card = c.build_chart_card("global", "active-users", "Active users", empty, None, [])
    body = _by_id(card, "global-active-users-body")
    assert body.children is empty
    assert not [node for node in _walk(card) if isinstance(node, dcc.Graph)]
    sentence = c.build_chart_body("global", "x", "Nothing yet.")
    assert (sentence.children, sentence.className) == ("Nothing yet.", "ls-empty")


# ---- figures ---------------------------------------------------------------------------------


def test_cmp018_donut_holds_the_values():
    fig = f.make_donut_figure(["Completed", "In progress", "Not started"], [3, 5, 2], "30 %")
    assert isinstance(fig, go.Figure)
    (pie,) = fig.data
    assert list(pie.labels) == ["Completed", "In progress", "Not started"]
    assert list(pie.values) == [3, 5, 2]
    assert pie.hole > 0.5
    assert list(pie.marker.colors) == [
        f.STATUS_COLORS["completed"],
        f.STATUS_COLORS["in progress"],
        f.STATUS_COLORS["not started"],
    ]
    assert fig.layout.annotations[0].text == "30 %"
    custom = f.make_donut_figure(["A", "B"], [1, 1], "", colors=["#000000", "#ffffff"])
    assert list(custom.data[0].marker.colors) == ["#000000", "#ffffff"]


def test_cmp019_timeseries_holds_the_values_and_formats_the_axis():
    days = [date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19)]
    frame = pd.DataFrame({"week": days, "done": [4, 0, 7], "started": [1, 2, 3], "rate": [10.0, 10.0, 27.5]})
    fig = f.make_timeseries_figure(
        frame,
        "week",
        [("done", "Completions"), ("started", "Starts")],
        kind="bar",
        bucket="week",
        secondary=("rate", "Cumulative completion rate"),
    )
    assert [trace.type for trace in fig.data] == ["bar", "bar", "scatter"]
    assert list(fig.data[0].y) == [4, 0, 7]
    assert list(fig.data[1].y) == [1, 2, 3]
    assert list(fig.data[2].y) == [10.0, 10.0, 27.5]
    assert [pd.Timestamp(x).date() for x in fig.data[0].x] == days
    assert fig.data[2].yaxis == "y2"
    assert fig.layout.yaxis2.ticksuffix == "\u00a0%"  # "49,7 %", as rates are written
    assert fig.data[2].hovertemplate == "Cumulative completion rate: %{y:.1f}\u00a0%<extra></extra>"
    assert fig.layout.xaxis.tickformat == "week of %d %b"
    assert "Completions" in fig.data[0].hovertemplate
    line = f.make_timeseries_figure(frame, "week", [("rate", "Progress")], y_suffix="%", bucket="day")
    assert line.layout.xaxis.tickformat == "%d %b"
    assert list(line.layout.yaxis.range) == [0, 100.5]
    assert "%{y:,.1f}%" in line.data[0].hovertemplate
    spaced = f.make_timeseries_figure(frame, "week", [("rate", "Progress")], y_suffix=" %")
    assert list(spaced.layout.yaxis.range) == [0, 100.5]
    month = f.make_timeseries_figure(frame, "week", [("done", "Completions")], bucket="month")
    assert month.layout.xaxis.tickformat == "%b %Y"
    assert month.layout.showlegend is False


# ---- tables ----------------------------------------------------------------------------------


def test_cmp020_ag_grid_request_to_query():
    request = {
        "startRow": 100,
        "endRow": 150,
        "sortModel": [{"colId": "score", "sort": "desc"}, {"colId": "last_name", "sort": "asc"}],
        "filterModel": {},
    }
    assert c.ag_grid_request_to_query(request) == ([("score", False), ("last_name", True)], 100, 50)
    assert c.ag_grid_request_to_query(None) == ([], 0, 50)
    # Unknown columns and directions are dropped; the block size is capped.
    forged = {
        "startRow": -5,
        "endRow": 10**9,
        "sortModel": [{"colId": "password", "sort": "asc"}, {"colId": "score", "sort": "up"}],
    }
    assert c.ag_grid_request_to_query(forged, allowed_columns={"score"}) == ([], 0, c.MAX_ROWS_PER_REQUEST)


def test_cmp021_data_table_ids_and_infinite_model():
    layout = c.build_data_table(
        "training", "results", [("last_name", "Last name"), ("score", "Score", "score")]
    )
    grid = _by_id(layout, "training-results-grid")
    assert grid.rowModelType == "infinite"
    assert grid.dashGridOptions["cacheBlockSize"] == 50
    assert grid.columnDefs[1]["valueFormatter"] == {"function": "lsPct(params.value)"}
    assert _by_id(layout, "training-results-search").debounce == 300  # as you type (issue 12), not on Enter
    assert _by_id(layout, "training-results-download-csv").children == "Download CSV"
    assert _by_id(layout, "training-results-download-xlsx").children == "Download XLSX"
    assert isinstance(_by_id(layout, "training-results-download"), dcc.Download)
    registered = []
    c.data_table_refresh_callback("training", "results", register=lambda *a, **k: registered.append((a, k)))
    (args, kwargs) = registered[0]
    assert "purgeInfiniteCache" in args[0] and '"training-results-grid"' in args[0]
    assert kwargs == {"prevent_initial_call": True}


def test_cmp022_rows_response_is_json_safe():
    frame = pd.DataFrame(
        {
            "name": ["Ann", None],
            "on": [pd.Timestamp("2026-11-24"), pd.NaT],
            "score": [72.5, float("nan")],
            "n": [1, 2],
        }
    )
    response = c.rows_response(frame, 1234)
    assert response == {
        "rowCount": 1234,
        "rowData": [
            {"name": "Ann", "on": "2026-11-24", "score": 72.5, "n": 1},
            {"name": None, "on": None, "score": None, "n": 2},
        ],
    }
    json.dumps(response)


@pytest.fixture(autouse=True)
def english():
    """These tests were written for the English interface (French: tests/integration/test_language.py)."""
    with use_language("en"):
        yield


def _with_trigger(fn, trigger_id, *args):
    """Call a callback function as Dash would after a click on trigger_id."""

    def run():
        prop = json.dumps(trigger_id, sort_keys=True, separators=(",", ":")) + ".n_clicks"
        context_value.set(
            AttributeDict(triggered_inputs=[{"prop_id": prop, "value": 1}], outputs_list=[], updated_props={})
        )
        return fn(*args)

    return copy_context().run(run)


def test_cmp023_static_table_with_links_and_download():
    frame = pd.DataFrame(
        {
            "name": ["Safety", "Énergie"],
            "href": ["/training/t1", "/training/t2"],
            "progress": [66.666, 10.0],
            "time": [3690, None],
        }
    )
    columns = [
        ("name", "Training"),
        ("progress", "Average progress", "pct"),
        ("time", "Average time", "duration"),
    ]
    layout = c.build_static_table("global", "trainings", frame, columns, link_column=("name", "href"))
    grid = _by_id(layout, {"type": "static-table", "page": "global", "table": "trainings"})
    assert grid.columnDefs[0]["cellRenderer"] == "LsLink"
    assert grid.columnDefs[0]["cellRendererParams"] == {"hrefField": "href"}
    assert grid.rowData[1]["href"] == "/training/t2"
    meta = _by_id(layout, {"type": "static-table-meta", "page": "global", "table": "trainings"}).data
    download = c.static_table_file("csv", grid.rowData[::-1], meta)
    assert download["filename"] == "global-trainings.csv"
    content = base64.b64decode(download["content"])
    assert content == (
        "\ufeffTraining,Average progress,Average time (min)\r\nÉnergie,10.0,\r\nSafety,66.7,62\r\n".encode()
    )
    xlsx = c.static_table_file("xlsx", grid.rowData, meta)
    sheet = openpyxl.load_workbook(io.BytesIO(base64.b64decode(xlsx["content"]))).active
    assert [cell.value for cell in sheet[1]] == ["Training", "Average progress", "Average time (h:mm)"]
    assert [shown(cell) for cell in sheet[2]] == ["Safety", "66.7", "1:02"]
    assert sheet["C2"].number_format == "[h]:mm" and sheet["C2"].value == timedelta(hours=1, minutes=2)
    # The columns in the screen's order after a drag (AG Grid's columnState), hidden ones left out.
    state = [{"colId": "time"}, {"colId": "name"}, {"colId": "progress", "hide": True}]
    moved = base64.b64decode(c.static_table_file("csv", grid.rowData, meta, state)["content"])
    assert moved.decode("utf-8-sig").split("\r\n")[:2] == ["Average time (min),Training", "62,Safety"]
    # A search matching nothing on screen: a message, no file.
    button = {"type": "static-table-csv", "page": "global", "table": "trainings"}
    empty = _with_trigger(c.download_static_table, button, 1, None, grid.rowData, [], meta, None)
    assert empty == (no_update, NOTHING_TO_DOWNLOAD)
    # Forged rows (issue 23): more than MAX_STATIC_ROWS, or rows that are not objects, give a
    # message and no file; exactly MAX_STATIC_ROWS still download.
    forged = [{"name": "x", "progress": 1, "time": 1}] * (c.MAX_STATIC_ROWS + 1)
    refused = _with_trigger(c.download_static_table, button, 1, None, grid.rowData, forged, meta, None)
    assert refused == (
        no_update,
        "This table has too many rows to download from the page (at most 20\u202f000).",
    )
    bad = _with_trigger(c.download_static_table, button, 1, None, grid.rowData, ["a", "b"], meta, None)
    assert bad[0] is no_update and "too many rows" in bad[1]
    most = _with_trigger(c.download_static_table, button, 1, None, grid.rowData, forged[1:], meta, None)
    assert base64.b64decode(most[0]["content"]).count(b"\r\n") == c.MAX_STATIC_ROWS + 1


def test_cmp_years_outside_1900_2100_give_a_message_not_an_error():
    """Issue 23 point 7: the pickers accepted year 1 and year 9999 (bare 500s on every page
    body); now the days are 1900-01-01 to 2100-12-31, and the rest is refused with a sentence."""
    today = date(2026, 11, 24)
    for start, end, bad in [
        ("0001-01-01", "2026-01-01", "0001-01-01"),
        ("2026-01-01", "9999-12-31", "9999-12-31"),
        ("1899-12-31", "1900-01-02", "1899-12-31"),
        ("2100-12-30", "2101-01-01", "2101-01-01"),
    ]:
        rng, message = c.parse_date_range({"start": start, "end": end}, today)
        assert rng == c.default_range(today)
        assert message == f"The date “{bad}” is outside the years 1900–2100. Showing the last 30 days."
        rng, message = c.range_from_inputs("custom", start, end, today)
        assert (rng, message) == (None, f"The date “{bad}” is outside the years 1900–2100.")
    rng, message = c.range_from_inputs("custom", "1900-01-01", "1900-01-01", today)
    assert message is None and (rng.start, rng.end) == (date(1900, 1, 1), date(1900, 1, 1))
    rng, message = c.parse_date_range({"start": "2100-12-31", "end": "2100-12-31"}, today)
    assert message is None and rng.end == date(2100, 12, 31)
    assert c.parse_iso_day("9999-12-31") is None and c.parse_iso_day(date(1, 1, 1)) is None
    assert c.parse_iso_day("2100-12-31") == date(2100, 12, 31)


def test_cmp_huge_range_gives_a_message_not_an_error():
    today = date(2026, 11, 24)
    rng, message = c.parse_date_range({"start": "1900-01-01", "end": "2100-12-31"}, today)
    assert rng == c.default_range(today)
    assert "longer than 50 years" in message
    rng, message = c.range_from_inputs("custom", "1900-01-01", "2100-12-31", today)
    assert rng is None and "longer than 50 years" in message
    rng, message = c.range_from_inputs("custom", "2000-01-01", "2026-11-24", today)
    assert message is None and rng.days == 9825
