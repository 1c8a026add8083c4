"""The results tables' answer states and search box, and the time axes' labels: pure builders, no
database (issue 12's small defects; the unknown ids are in tests/integration/auth/test_links_and_ids.py,
the emailed file's sign-in in tests/integration/auth/test_signed_out_downloads.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from dashboards.components import build_data_table, figures, results
from data.figures.module_summary import answer_state
from data.figures.population import Population


def walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            yield from walk(child)


def by_id(tree, id_):
    [found] = [c for c in walk(tree) if getattr(c, "id", None) == id_]
    return found


def test_d12_001_a_partly_credited_answer_is_not_failed():
    assert answer_state(1, 2) == "partly correct"  # the "1 of 2"
    assert answer_state(2, 2) == "passed"
    assert answer_state(0, 2) == "failed"
    assert answer_state(0.5, 10) == "partly correct"
    assert answer_state(0, 0) == "passed"  # an activity worth no points


def test_d12_002_weekly_axis_over_14_months_shows_the_year():
    start = date(2025, 10, 6)  # a Monday; 61 weeks: October 2025 to November 2026
    weeks = [start + timedelta(weeks=i) for i in range(61)]
    frame = pd.DataFrame({"week": weeks, "n": range(61)})
    fig = figures.make_timeseries_figure(frame, "week", [("n", "Active users")], kind="bar", bucket="week")
    assert fig.layout.xaxis.tickformat == "week of %d %b %Y"
    days = pd.DataFrame({"day": [date(2025, 12, 30), date(2026, 1, 2)], "n": [1, 2]})
    assert figures.make_timeseries_figure(days, "day", [("n", "x")]).layout.xaxis.tickformat == "%d %b %Y"
    # Inside one year the year stays in the filter bar, not on every label.
    same_year = frame[frame["week"] >= date(2026, 1, 5)]
    fig = figures.make_timeseries_figure(same_year, "week", [("n", "Active users")], bucket="week")
    assert fig.layout.xaxis.tickformat == "week of %d %b"


def test_d12_003_learners_table_searches_as_you_type():
    """The training page's learners table searched only on Enter (debounce=True); it now runs
    a short moment after typing stops, like the other tables."""
    table = results.build_results_table("training", Population(training_id="t"), mode="learners")
    [search] = [
        c
        for c in walk(table)
        if isinstance(getattr(c, "id", None), dict) and c.id.get("type") == "results-search"
    ]
    assert search.debounce is not True and 0 < search.debounce <= 500
    server_side = build_data_table("sessions", "list", [("name", "Session")])
    assert by_id(server_side, "sessions-list-search").debounce is not True
