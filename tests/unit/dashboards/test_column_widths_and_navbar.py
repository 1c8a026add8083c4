"""Issue 12, any screen: table columns sized from their content, the navbar's menu."""

from __future__ import annotations

import pandas as pd

from dashboards.components import build_static_table, column_defs
from dashboards.components.column_widths import (
    CELL_PADDING_PX,
    HEADER_EXTRA_PX,
    MAX_COLUMN_PX,
    MIN_COLUMN_PX,
    column_min_width,
    text_px,
)
from dashboards.components.shell import build_navbar


def find(component, id_):
    if getattr(component, "id", None) == id_:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, str):
            found = find(child, id_)
            if found is not None:
                return found
    return None


def test_scr001_text_widths_match_what_chromium_draws():
    """Widths measured in headless Chromium (canvas measureText, DejaVu Sans 13 px, headers
    600 12 px): the estimate is never short, and within 5 % of the real width."""
    measured = {
        "mathilde.marchand@example.net": 221.5,
        "Marchand Mathilde": 124.2,
        "16/11/2026 09:26": 116.5,
    }
    for text, real in measured.items():
        assert real <= text_px(text) <= real * 1.05, text
    assert 73.7 <= text_px("Registered", bold=True) <= 73.7 * 1.05


def test_scr002_a_column_is_as_wide_as_its_longest_cell_or_header_word():
    assert column_min_width("Email", ["a@b.fr", "mathilde.marchand@example.net"]) == round(
        text_px("mathilde.marchand@example.net") + CELL_PADDING_PX
    )
    # A header wraps between words: its longest word counts, not the whole title.
    assert column_min_width("Time spent", ["3 h 35 min"]) == round(text_px("3 h 35 min") + CELL_PADDING_PX)
    assert column_min_width("Connections", ["2", "3"]) == round(
        text_px("Connections", bold=True) + HEADER_EXTRA_PX
    )
    assert column_min_width("x", []) == MIN_COLUMN_PX
    assert column_min_width("x", ["w" * 200]) == MAX_COLUMN_PX


def test_scr003_grid_columns_get_the_room_of_their_formatted_cells():
    """The session page's clipped columns at 1400 px ("Conne…", "Time s…", "7 h 30 …",
    "13/11/2…"): each column's minimum width now holds its formatted cells and its header."""
    df = pd.DataFrame(
        {
            "learner": ["Marchand Mathilde", "Ôrléans-Dupont-Martin Marie-Thérèse"],
            "connections": [2, 1234],
            "time_spent": [27000, 60],  # 7 h 30 min
            "completed_on": ["2026-11-13", None],
        }
    )
    columns = [
        ("learner", "Learner"),
        ("connections", "Connections", "int"),
        ("time_spent", "Time spent", "duration"),
        ("completed_on", "Completed on", "date"),
    ]
    defs = {d["field"]: d for d in column_defs(columns, df=df)}
    assert defs["learner"]["minWidth"] >= text_px("Ôrléans-Dupont-Martin Marie-Thérèse") + CELL_PADDING_PX - 1
    assert defs["connections"]["minWidth"] >= text_px("Connections", bold=True) + HEADER_EXTRA_PX - 1
    assert defs["time_spent"]["minWidth"] >= text_px("7 h 30 min") + CELL_PADDING_PX - 1
    assert defs["completed_on"]["minWidth"] >= text_px("13/11/2026") + CELL_PADDING_PX - 1
    # The room left goes mostly to texts; none is given a fixed width that would clip.
    assert defs["learner"]["flex"] == 2 and defs["connections"]["flex"] == 1
    assert all("width" not in d for d in defs.values())
    # Without rows (server-side tables) a typical value of the kind is used.
    no_rows = {d["field"]: d for d in column_defs(columns)}
    assert no_rows["time_spent"]["minWidth"] >= text_px("1 234 h 59 min") + CELL_PADDING_PX - 1


def test_scr004_static_table_passes_its_rows_to_the_widths():
    df = pd.DataFrame({"email": ["mathilde.marchand@example.net"]})
    table = build_static_table("p", "t", df, [("email", "Email")])
    grid = find(table, {"type": "static-table", "page": "p", "table": "t"})
    [spec] = grid.columnDefs
    assert spec["minWidth"] >= 221.5 + 14.8  # the text and the cell's padding
    assert grid.defaultColDef["wrapHeaderText"] and grid.defaultColDef["autoHeaderHeight"]


def test_scr005_navbar_collapses_into_a_menu_below_992_px():
    navbar = build_navbar(None, "Léa")
    assert navbar.expand == "lg"  # Bootstrap's lg breakpoint: 992 px
    toggler = find(navbar, "shell-navbar-toggler")
    collapse = find(navbar, "shell-navbar-collapse")
    assert "navbar-toggler" in toggler.className
    assert toggler.to_plotly_json()["props"]["aria-controls"] == "shell-navbar-collapse"
    assert toggler.to_plotly_json()["props"]["aria-expanded"] == "false"
    assert collapse.navbar is True and collapse.is_open is False
    # The links, the user's name and "Sign out" are inside the menu.
    for id_ in ("shell-nav", "shell-user-name", "shell-signout-link"):
        assert find(collapse, id_) is not None, id_


def test_scr006_grids_are_one_tab_stop_with_arrow_keys_inside():
    """Keyboard: the cells take focus (arrows), Tab leaves the grid from a header or a cell, and
    Enter on a cell follows its link (assets/learnstats.js, lsCellEnterFollowsLink)."""
    df = pd.DataFrame({"name": ["Alpha"], "href": ["/training/a"]})
    static = find(
        build_static_table("p", "t", df, [("name", "Training")], link_column=("name", "href")),
        {"type": "static-table", "page": "p", "table": "t"},
    )
    from dashboards.components.grids import build_data_table

    server_side = find(build_data_table("p", "s", [("name", "Training")]), "p-s-grid")
    for grid in (static, server_side):
        options = grid.dashGridOptions
        assert options["suppressCellFocus"] is False
        assert options["tabToNextHeader"] == {"function": "false"} == options["tabToNextCell"]
        assert grid.eventListeners == {"cellKeyDown": ["lsCellEnterFollowsLink(params)"]}


def test_scr007_iso_datetime_texts_are_measured_as_shown():
    """The session tables keep moments as ISO texts (they sort as text) and the grid shows them
    in the interface's format ("16 nov. 2026 09:26" in French): the width follows what is shown."""
    from datetime import datetime

    from exports.formatting import format_value

    df = pd.DataFrame({"first": ["2026-11-16 09:26", None]})
    [spec] = column_defs([("first", "First", "datetime")], df=df)
    shown = format_value(datetime(2026, 11, 16, 9, 26), "datetime")
    assert shown != "2026-11-16 09:26"
    assert spec["minWidth"] >= text_px(shown) + CELL_PADDING_PX - 1
    [typical] = column_defs([("first", "First", "datetime")])
    assert (
        typical["minWidth"]
        >= text_px(format_value(datetime(2026, 9, 30, 23, 59), "datetime")) + CELL_PADDING_PX - 1
    )
