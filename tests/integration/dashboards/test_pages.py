"""The global, training and module summary pages' callbacks called as plain functions (issue 3
points 6, 7, 8) on a small hand-made database whose figures are computed by hand below.

The world (platform time zone Europe/Paris, UTC+1 in March 2026; all times below are UTC):

trainings  t-alpha "Alpha safety": m-intro (pos 1, mandatory, 2 activities of 10, min 50),
                                   m-rules (pos 2, mandatory, 1 activity of 10, min 50),
                                   m-extra (pos 3, optional, 1 activity of 5)
           t-beta "Beta compliance": m-beta (mandatory, 1 activity of 10)
           t-gamma "Gamma basics": m-gamma (mandatory), nobody enrolled
people     boss (statistics manager), tm1 (training manager of t-alpha), and the learners
           alice Alice Martin   created 15/02, enrolled t-alpha 01/03 and t-beta 02/03
           bob   Bob Durand     created 01/03 08:00, enrolled t-alpha 01/03
           chloe Chloé Petit    created 20/03, enrolled t-alpha 20/03
           david David Roux     created 02/03, enrolled t-beta 02/03
class      c-morning "Morning group": alice and bob, registered to t-alpha (25/03, later than
           their direct enrollment, so it changes no date)
attempts   alice m-intro 03/03 (2+3 = 5/20 = 25 %) and 05/03 (10+6 = 16/20 = 80 %): best 80,
                 completed 03/03, passed (>= 50)
           alice m-rules 10/03 8/10 = 80 %: passed -> alice passes t-alpha on 10/03,
                 score mean(80, 80) = 80, progress 2/3 = 66.7 %
           bob   m-intro 12/03: 2 graded + 5 awaiting grading = 2/20 = 10 %: failed
           bob   m-rules 15/03 unfinished -> t-alpha in progress, score mean(10, 0) = 5,
                 progress 1/3 = 33.3 %
           chloe nothing -> not started, score 0, progress 0
           david m-beta 06/03 10/10 = 100 % -> passes t-beta on 06/03, progress 100 %
           alice has no attempt in t-beta -> not started there
activity   logins: alice 05/03, bob 12/03, chloe 10/04, boss 05/03 (a manager: never counted);
           connections: alice m-intro 05/03 30 min, alice m-rules 10/03 45 min,
           bob m-intro 12/03 20 min, david m-beta 06/03 60 min
"""

from __future__ import annotations

import base64
import csv
import io
import json
from contextvars import copy_context
from datetime import date, datetime, timedelta

import dash
import openpyxl
import plotly.graph_objects as go
import pytest
from dash import dcc, html
from dash._callback_context import context_value
from dash._utils import AttributeDict
from dash.development.base_component import Component

from dashboards.components import results
from data.config import settings_of
from data.figures.cards import status_summary
from data.figures.days import today_in
from data.figures.population import ALL, Population
from data.figures.tables import trainings_table
from data.models import Training
from data.scope import Forbidden, global_scope
from exports.results import RESULTS_COLUMNS, results_rows
from tests.conftest import sign_in
from tests.factories import utc
from tests.helpers import markdown_table_rows, served_page, signed_in
from tests.spreadsheets import shown

NBSP = "\u00a0"
MARCH = ("2026-03-01", "2026-03-31")
FEBRUARY = ("2026-02-01", "2026-02-28")
STATUS_ORDER = ["passed", "failed", "expired", "in progress", "not started"]
TRAINING_ROW_KEY = {"type": "results-params", "table": "training"}


# -- the world -----------------------------------------------------------------------------


def build_world(factory):
    fa = factory
    boss = fa.user(
        "boss", "Stella", "Boss", roles=("statistics_manager",), created_at=utc("2025-06-01 08:00")
    )
    tm1 = fa.user(
        "tm1", "Tom", "Manager", roles=("training_manager:t-alpha",), created_at=utc("2025-06-01 08:00")
    )
    alice = fa.user("alice", "Alice", "Martin", created_at=utc("2026-02-15 10:00"))
    bob = fa.user("bob", "Bob", "Durand", created_at=utc("2026-03-01 08:00"))
    chloe = fa.user("chloe", "Chloé", "Petit", created_at=utc("2026-03-20 08:00"))
    david = fa.user("david", "David", "Roux", created_at=utc("2026-03-02 08:00"))

    alpha = fa.training("t-alpha", "Alpha safety")
    beta = fa.training("t-beta", "Beta compliance")
    gamma = fa.training("t-gamma", "Gamma basics")
    intro = fa.module("m-intro", "Introduction", max_scores=(10, 10))
    rules = fa.module("m-rules", "Rules", max_scores=(10,))
    extra = fa.module("m-extra", "Extra reading", max_scores=(5,))
    mbeta = fa.module("m-beta", "Beta module", max_scores=(10,))
    mgamma = fa.module("m-gamma", "Gamma module", max_scores=(10,))
    fa.step(alpha, intro, position=1, mandatory=True, min_score=50)
    fa.step(alpha, rules, position=2, mandatory=True, min_score=50)
    fa.step(alpha, extra, position=3, mandatory=False, min_score=0)
    fa.step(beta, mbeta, position=1, mandatory=True, min_score=50)
    fa.step(gamma, mgamma, position=1, mandatory=True, min_score=50)

    fa.enroll(alice, alpha, at="2026-03-01 09:00")
    fa.enroll(bob, alpha, at="2026-03-01 09:00")
    fa.enroll(chloe, alpha, at="2026-03-20 09:00")
    fa.enroll(alice, beta, at="2026-03-02 09:00")
    fa.enroll(david, beta, at="2026-03-02 09:00")
    fa.klass(
        "c-morning",
        "Morning group",
        members=(alice, bob),
        trainings=(alpha,),
        joined_at="2026-03-25 09:00",
        registered_at="2026-03-25 09:00",
    )

    fa.attempt(alice, alpha, intro, "2026-03-03 10:00", "2026-03-03 10:20", (2, 3), attempt_id="at-a1")
    fa.attempt(alice, alpha, intro, "2026-03-05 10:00", "2026-03-05 10:30", (10, 6), attempt_id="at-a2")
    fa.attempt(alice, alpha, rules, "2026-03-10 10:00", "2026-03-10 10:40", (8,), attempt_id="at-a3")
    fa.attempt(
        bob,
        alpha,
        intro,
        "2026-03-12 10:00",
        "2026-03-12 10:20",
        (2, 5),
        evaluated=(True, False),
        attempt_id="at-b1",
    )
    fa.attempt(bob, alpha, rules, "2026-03-15 10:00", None, None, attempt_id="at-b2")
    fa.attempt(david, beta, mbeta, "2026-03-06 10:00", "2026-03-06 10:30", (10,), attempt_id="at-d1")

    fa.login(alice, "2026-03-05 09:00")
    fa.login(bob, "2026-03-12 09:00")
    fa.login(chloe, "2026-04-10 09:00")
    fa.login(boss, "2026-03-05 09:00")
    fa.connection(alice, intro, "2026-03-05 10:00", "2026-03-05 10:30")
    fa.connection(alice, rules, "2026-03-10 10:00", "2026-03-10 10:45")
    fa.connection(bob, intro, "2026-03-12 10:00", "2026-03-12 10:20")
    fa.connection(david, mbeta, "2026-03-06 10:00", "2026-03-06 11:00")
    fa.s.commit()
    return {"boss": boss, "tm1": tm1}


@pytest.fixture
def world(dash_app, factory):
    build_world(factory)
    return dash_app


# -- helpers ---------------------------------------------------------------------------------


def page_module(name: str):
    """The page module as the app loaded it (Dash executes dashboards/<name>.py itself)."""
    return served_page(name)


def prop_id(component_id, prop: str) -> str:
    if isinstance(component_id, dict):
        component_id = json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return f"{component_id}.{prop}"


def in_callback(fn, *args, triggered=(), outputs_list=None):
    """Call fn as Dash would, with dash.ctx's triggered inputs and outputs set."""

    def run():
        context_value.set(
            AttributeDict(
                triggered_inputs=[{"prop_id": prop_id(i, p), "value": None} for i, p in triggered],
                outputs_list=outputs_list or [],
                updated_props={},
            )
        )
        return fn(*args)

    return copy_context().run(run)


def walk(node):
    """Every component of a Dash component tree (children and component-valued props)."""
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from walk(item)
        return
    if not isinstance(node, Component):
        return
    yield node
    for name in node._prop_names:
        value = getattr(node, name, None)
        if isinstance(value, (Component, list, tuple)):
            yield from walk(value)


def find(tree, component_id):
    """The one component with that id in the tree."""
    found = [c for c in walk(tree) if getattr(c, "id", None) == component_id]
    assert len(found) == 1, f"{len(found)} components with id {component_id!r}"
    return found[0]


def find_all(tree, kind):
    return [c for c in walk(tree) if isinstance(c, kind)]


def has_id(tree, component_id) -> bool:
    return any(getattr(c, "id", None) == component_id for c in walk(tree))


def text(node) -> str:
    """The visible text of a component tree, pieces joined by single spaces."""
    if node is None or isinstance(node, bool):
        return ""
    if isinstance(node, (str, int, float)):
        return str(node)
    if isinstance(node, (list, tuple)):
        return " ".join(t for t in (text(n) for n in node) if t)
    if isinstance(node, Component):
        return text(getattr(node, "children", None))
    return ""


def card(tree, page: str, slug: str) -> str:
    return find(tree, f"{page}-card-{slug}-value").children


def cards(tree, page: str) -> dict[str, str]:
    fourth = "modules" if page == "training" else "trainings"  # a training's page counts modules
    slugs = ["learners", "new-users", "active-users", fourth, "completions"]
    return {slug: card(tree, page, slug) for slug in slugs}


def chart_table(tree, page: str, slug: str) -> list[list[str]]:
    """The "View as table" numbers of a chart card, one list of cell texts per row."""
    table = find(tree, f"{page}-{slug}-table")
    [markdown] = find_all(table, dcc.Markdown)
    return markdown_table_rows(markdown.children)


def graph(tree, page: str, slug: str) -> go.Figure:
    component = find(tree, f"{page}-{slug}-graph")
    assert isinstance(component, dcc.Graph)
    assert isinstance(component.figure, dict)  # plain data, cheap to cache (chart_cards.py)
    return go.Figure(component.figure)


def static_rows(tree, page: str, slug: str) -> list[dict]:
    return find(tree, {"type": "static-table", "page": page, "table": slug}).rowData


def pct(text_value: str) -> str:
    return text_value.replace(" %", NBSP + "%")


def results_outputs(key: str = "training") -> list[dict]:
    return [
        {"id": {"type": "results-body", "table": key}, "property": "children"},
        {"id": {"type": "results-count", "table": key}, "property": "children"},
        {"id": {"type": "results-page", "table": key}, "property": "max_value"},
        {"id": {"type": "results-page", "table": key}, "property": "active_page"},
    ]


def update_results(params, search=None, sort="learner", order="asc", page=1, trigger="data"):
    """update_results_table as the browser calls it; trigger names the input that changed."""
    ids = {
        "value": {"type": "results-search", "table": "training"},
        "data": {"type": "results-params", "table": "training"},
        "active_page": {"type": "results-page", "table": "training"},
    }
    triggered = [(ids[trigger], trigger)] if trigger else []
    return in_callback(
        results.update_results_table,
        search,
        sort,
        order,
        page,
        params,
        triggered=triggered,
        outputs_list=results_outputs(),
    )


def result_rows(body) -> list[list[str]]:
    """The results table's learner rows (details rows left out) as cell texts; the copy of the
    second column folded under the name at medium widths (ls-folded) is left out too."""
    rows = [r for r in find_all(body, html.Tr) if getattr(r, "className", None) != "ls-details-row"]
    return [[_unfolded_text(c) for c in r.children] for r in rows[1:]]  # [0] is the header


def _unfolded_text(cell) -> str:
    children = cell.children if isinstance(cell.children, list) else [cell.children]
    return text([c for c in children if "ls-folded" not in (getattr(c, "className", None) or "")])


def folded_texts(body) -> list[str]:
    """The second column's text as folded under each name (medium widths)."""
    return [text(d) for d in find_all(body, html.Div) if "ls-folded" in (getattr(d, "className", None) or "")]


def t_alpha_params(class_id=None):
    return results.population_to_store(Population(training_id="t-alpha", class_id=class_id), "learners")


def overview(preset, start, end):
    """The global page's blocks for a range: its statistics and its trainings table (two
    callbacks: the table does not follow the range)."""
    module = page_module("overview")
    return html.Div(
        [
            module.update_overview(start_date=start, end_date=end, preset=preset),
            module.update_overview_trainings(True),
        ]
    )


def training_page(start, end, class_choice="__all__", training_id="t-alpha", preset="custom", trigger=None):
    """update_training_page on the page's first load (trigger None), or after a change of
    "class" (the class select) or "period" (the date-range picker)."""
    triggered = {
        None: [],
        "class": [("training-class-select", "value")],
        "period": [({"type": "date-range", "page": "training"}, "end_date")],
    }[trigger]

    def run():
        return page_module("training").update_training_page(
            start_date=start, end_date=end, class_choice=class_choice, preset=preset, training_id=training_id
        )

    return in_callback(run, triggered=triggered)


# -- the global page ------------------------------------------------------------------------


def test_pg3_001_overview_cards_for_a_range(world):
    with signed_in(world.server, "boss"):
        march = overview("custom", *MARCH)
        early = overview("custom", "2026-03-01", "2026-03-07")
    # March: alice, bob, chloe, david enrolled; bob, chloe, david created in March; alice, bob
    # and david active (boss's login does not count: a manager); t-alpha, t-beta, t-gamma;
    # alice's t-alpha (10/03) and david's t-beta (06/03) completed.
    assert cards(march, "overview") == {
        "learners": "4",
        "new-users": "3",
        "active-users": "3",
        "trainings": "3",
        "completions": "2",
    }
    # 1–7 March: chloe is not enrolled yet; bob and david created; alice (05/03) and david
    # (06/03) active; only david's completion.
    assert cards(early, "overview") == {
        "learners": "3",
        "new-users": "2",
        "active-users": "2",
        "trainings": "3",
        "completions": "1",
    }
    assert find(march, "overview-card-learners-help").children == "enrolled by 31/03/2026"


def test_pg3_002_overview_donuts_and_charts(world):
    tz = settings_of(world.server).tz
    with signed_in(world.server, "boss"):
        march = overview("custom", *MARCH)
        early = overview("custom", "2026-03-01", "2026-03-07")
        with world.server.extensions["learnstats_db"].session() as s:
            engine = status_summary(s, global_scope("boss"), ALL, tz, as_of=date(2026, 3, 31))
    # 31/03: 5 (learner, training) pairs: alice/t-alpha passed, david/t-beta passed,
    # bob/t-alpha in progress, chloe/t-alpha and alice/t-beta not started.
    donut = graph(march, "overview", "completion-donut").data[0]
    assert list(donut.labels) == ["Passed", "Failed", "Expired", "In progress", "Not started"]
    assert list(donut.values) == [2, 0, 0, 1, 2]
    assert [engine.counts[s] for s in STATUS_ORDER] == [2, 0, 0, 1, 2]
    completion_center = graph(march, "overview", "completion-donut").layout.annotations[0].text
    assert completion_center.startswith(f"40.0{NBSP}%")  # 2 completed of 5
    # Progress: (66.67 + 33.33 + 0 + 100 + 0) / 5 = 40 %.
    progress = graph(march, "overview", "progress-donut")
    assert list(progress.data[0].values) == [40.0, 60.0]
    assert round(engine.average_progress, 6) == 40.0
    assert progress.layout.annotations[0].text == f"40.0{NBSP}%"
    # 7 March: 4 pairs (chloe not enrolled): alice/t-alpha in progress (m-intro done),
    # bob/t-alpha and alice/t-beta not started, david/t-beta passed.
    assert list(graph(early, "overview", "completion-donut").data[0].values) == [1, 0, 0, 1, 2]
    assert chart_table(early, "overview", "completion-donut") == [
        ["Status", "Enrolments"],
        ["Passed", "1"],
        ["Failed", "0"],
        ["Expired", "0"],
        ["In progress", "1"],
        ["Not started", "2"],
    ]
    # Progress on 7 March: alice/t-alpha 1 of 3 modules, david/t-beta 1 of 1, over 4 pairs:
    # (33.3 + 0 + 0 + 100) / 4 = 33.3 %.
    assert list(graph(early, "overview", "progress-donut").data[0].values) == [33.3, 66.7]

    # Active users per day, 1–7 March: alice on the 5th, david on the 6th.
    active = graph(early, "overview", "active-users")
    assert [str(x)[:10] for x in active.data[0].x] == [f"2026-03-0{d}" for d in range(1, 8)]
    assert list(active.data[0].y) == [0, 0, 0, 0, 1, 1, 0]
    assert chart_table(early, "overview", "active-users")[5] == ["05/03/2026", "05/03/2026", "1"]
    # Completions per day in March: the 6th (david) and the 10th (alice); the cumulative rate
    # on the 31st is 2 of 5 enrolments.
    completions = graph(march, "overview", "completions")
    bars, rate = completions.data
    by_day = dict(zip([str(x)[:10] for x in bars.x], bars.y, strict=True))
    assert {d: v for d, v in by_day.items() if v} == {"2026-03-06": 1, "2026-03-10": 1}
    assert rate.y[-1] == 40.0
    assert rate.y[4] == 0.0  # 5 March: 4 enrolments, none completed
    assert rate.y[5] == 25.0  # 6 March: david, 1 of 4
    # Progress over time: on the 5th, 4 pairs and alice's m-intro (1/3 of t-alpha): 8.3 %.
    progress_rows = chart_table(march, "overview", "progress")
    assert progress_rows[5] == ["05/03/2026", "4", f"8.3{NBSP}%"]
    assert progress_rows[-1] == ["31/03/2026", "5", f"40.0{NBSP}%"]


def test_pg3_003_overview_trainings_table(world):
    with signed_in(world.server, "boss"):
        tree = overview("custom", *MARCH)
    rows = static_rows(tree, "overview", "trainings")
    assert [r["training"] for r in rows] == ["Alpha safety", "Beta compliance", "Gamma basics"]
    alpha, beta, gamma = rows
    # Alpha: 3 learners, bob in progress, alice completed; progress (66.7+33.3+0)/3,
    # score (80+5+0)/3, time (30+45+20 min)/3 = 1900 s.
    assert (alpha["learners"], alpha["in_progress"], alpha["completed"]) == (3, 1, 1)
    assert alpha["completion_rate"] == pytest.approx(100 / 3)
    assert alpha["average_progress"] == pytest.approx(100 / 3)
    assert alpha["average_score"] == pytest.approx(85 / 3)
    assert alpha["average_time_spent"] == pytest.approx(1900)
    assert alpha["link"] == "/training/t-alpha"
    # Beta: alice not started, david passed with 100.
    assert (beta["learners"], beta["in_progress"], beta["completed"]) == (2, 0, 1)
    assert (beta["completion_rate"], beta["average_progress"], beta["average_score"]) == (50, 50, 50)
    assert beta["average_time_spent"] == pytest.approx(1800)
    # Gamma: nobody.
    assert (gamma["learners"], gamma["completed"], gamma["completion_rate"]) == (0, 0, None)
    assert gamma["average_progress"] is None and gamma["average_score"] is None
    # The same numbers as the figures engine's.
    tz = settings_of(world.server).tz
    with world.server.app_context(), world.server.extensions["learnstats_db"].session() as s:
        engine = trainings_table(s, global_scope("boss"), ALL, tz)
    assert list(engine["learners"]) == [r["learners"] for r in rows]
    assert list(engine["completed"]) == [r["completed"] for r in rows]


def test_pg3_003b_the_trainings_table_says_it_shows_today_whatever_the_period(world):
    """Issue 21 point 4 (docs/decisions.md "The trainings table says today"): the same rows for
    February, March and all time, and a sentence under its title naming today's date and saying
    that the period does not apply; the class page's trainings table says the same."""
    today = today_in(settings_of(world.server).tz)
    with signed_in(world.server, "boss"):
        trees = [
            overview("custom", *FEBRUARY),
            overview("custom", *MARCH),
            overview("all_time", "2025-06-01", today.isoformat()),
        ]
    tables = [static_rows(tree, "overview", "trainings") for tree in trees]
    assert tables[0] == tables[1] == tables[2]
    day = today.strftime("%d/%m/%Y")
    for tree in trees:
        note = text(find(tree, "overview-trainings-table-note"))
        assert note == (
            f"Today, {day}: the learners enrolled now and their results to date. "
            "The period chosen above does not apply to this table."
        )
    with signed_in(world.server, "boss"):
        klass = page_module("klass").update_class_trainings("c-morning")
    assert text(find(klass, "class-trainings-table-note")).startswith(f"Today, {day}: ")


# -- the training page ----------------------------------------------------------------------


def test_pg3_004_training_page_all_learners_and_one_class(world):
    with signed_in(world.server, "boss"):
        body, content, params = training_page(*MARCH)
        class_body, _content, class_params = training_page(*MARCH, class_choice="c-morning")
    # t-alpha in March: alice, bob, chloe; bob and chloe created in March; alice and bob
    # active; alice completed.
    assert cards(body, "training") == {
        "learners": "3",
        "new-users": "2",
        "active-users": "2",
        "modules": "3",  # not "Trainings: 1" (issue 12): t-alpha's modules, 2 of them mandatory
        "completions": "1",
    }
    assert find(body, "training-card-modules-help").children == "2 mandatory"
    assert list(graph(body, "training", "completion-donut").data[0].values) == [1, 0, 0, 1, 1]
    assert params == {
        "training_id": "t-alpha",
        "class_id": None,
        "user_id": None,
        "learners_only": True,
        "include_self": False,
        "mode": "learners",
    }
    # The class: alice and bob only (bob created in March); chloe is gone.
    assert cards(class_body, "training") == {
        "learners": "2",
        "new-users": "1",
        "active-users": "2",
        "modules": "3",
        "completions": "1",
    }
    assert list(graph(class_body, "training", "completion-donut").data[0].values) == [1, 0, 0, 1, 0]
    assert list(graph(class_body, "training", "progress-donut").data[0].values) == [50.0, 50.0]
    assert class_params["class_id"] == "c-morning"
    with signed_in(world.server, "boss"):
        class_body, class_content, class_params = training_page(
            *MARCH, class_choice="c-morning", trigger="class"
        )
        period_body, period_content, period_params = training_page(
            *MARCH, class_choice="c-morning", trigger="period"
        )
    assert class_params["class_id"] == "c-morning"
    assert static_rows(class_content, "training", "content")[0]["completed_pct"] == 100  # alice and bob
    # A period change redraws the statistics only: the content and results tables (their
    # page, search and sort) stay as they are.
    assert card(period_body, "training", "learners") == "2"
    assert period_content is results.no_update and period_params is results.no_update

    # Training content: m-intro completed by alice and bob (2/3), passed by alice (1/3),
    # average score (80 + 10) / 2, time (30 + 20 min) / 2; m-rules alice only; m-extra nobody.
    rows = static_rows(content, "training", "content")
    assert [(r["module"], r["type"]) for r in rows] == [
        ("Introduction", "Mandatory"),
        ("Rules", "Mandatory"),
        ("Extra reading", "Optional"),
    ]
    intro, rules, extra = rows
    assert intro["completed_pct"] == pytest.approx(200 / 3)
    assert intro["passed_pct"] == pytest.approx(100 / 3)
    assert (intro["average_score"], intro["average_time_spent"]) == (45, 1500)
    assert rules["completed_pct"] == pytest.approx(100 / 3)
    assert (rules["average_score"], rules["average_time_spent"]) == (80, 2700)
    assert (extra["completed_pct"], extra["average_score"], extra["average_time_spent"]) == (0, None, None)


def test_pg3_005_results_table_search_sort_and_pages(world):
    with signed_in(world.server, "boss"):
        body, count, pages, page = update_results(t_alpha_params())
        assert (count, pages, page) == ("Showing 1–3 of 3 learners", 1, 1)
        # Below 1,200 px the class column folds under the name (a learner without class: none).
        assert folded_texts(body) == ["Class: Morning group", "Class: Morning group"]
        assert result_rows(body) == [
            # learner, class, progress, score, status, time spent, completed on, details
            ["Durand Bob bob@example.org", "Morning group", pct("33.3 %"), pct("5.0 %"), "in progress",
             "20 min", "–", "Details"],
            ["Martin Alice alice@example.org", "Morning group", pct("66.7 %"), pct("80.0 %"), "passed",
             "1 h 15 min", "10/03/2026", "Details"],
            ["Petit Chloé chloe@example.org", "–", pct("0.0 %"), pct("0.0 %"), "not started", "0 min", "–",
             "Details"],
        ]  # fmt: skip
        body, count, _pages, _page = update_results(
            t_alpha_params(), sort="score", order="desc", trigger="value"
        )
        assert [r[0].split()[0] for r in result_rows(body)] == ["Martin", "Durand", "Petit"]
        body, _count, _pages, _page = update_results(t_alpha_params(), sort="progress", order="asc")
        assert [r[0].split()[0] for r in result_rows(body)] == ["Petit", "Durand", "Martin"]
        # Search ignores case and accents.
        body, count, _pages, _page = update_results(t_alpha_params(), search="CHLOE", trigger="value")
        assert [r[0] for r in result_rows(body)] == ["Petit Chloé chloe@example.org"]
        assert count == "Showing 1–1 of 1 learners"
        body, count, pages, page = update_results(t_alpha_params(), search="nobody", trigger="value")
        assert text(body) == "No learner matches this search."
        assert (count, pages, page) == ("", 1, 1)
        body, _count, _pages, _page = update_results(t_alpha_params(), sort="completed_on")
        assert [r[0].split()[0] for r in result_rows(body)] == ["Martin", "Durand", "Petit"]  # no date last
        # A forged sort or page number falls back to the defaults instead of failing.
        body, _count, _pages, _page = update_results(t_alpha_params(), sort="password_hash", order="sideways")
        assert [r[0].split()[0] for r in result_rows(body)] == ["Durand", "Martin", "Petit"]
        _body, count, _pages, page = update_results(t_alpha_params(), page=-3, trigger="active_page")
        assert (count, page) == ("Showing 1–3 of 3 learners", 1)
        # The class filter travels in the params store.
        body, count, _pages, _page = update_results(t_alpha_params("c-morning"))
        assert count == "Showing 1–2 of 2 learners"


def test_pg3_006_results_table_pages_of_25(dash_app, factory):
    training = factory.training("t-big", "Big training")
    module = factory.module("m-big", max_scores=(10,))
    factory.step(training, module, position=1)
    factory.user("boss", "Stella", "Boss", roles=("statistics_manager",))
    for i in range(1, 31):
        learner = factory.user(f"l{i:02d}", "Learner", f"L{i:02d}")
        factory.enroll(learner, training)
    factory.s.commit()
    params = results.population_to_store(Population(training_id="t-big"), "learners")
    with signed_in(dash_app.server, "boss"):
        body, count, pages, page = update_results(params)
        assert (count, pages, page) == ("Showing 1–25 of 30 learners", 2, 1)
        assert len(result_rows(body)) == 25
        assert result_rows(body)[0][0].startswith("L01 Learner")
        body, count, pages, page = update_results(params, page=2, trigger="active_page")
        assert (count, pages, page) == ("Showing 26–30 of 30 learners", 2, 2)
        assert [r[0].split()[0] for r in result_rows(body)] == ["L26", "L27", "L28", "L29", "L30"]
        # Sorting (or the params store changing) goes back to page 1.
        body, count, _pages, page = update_results(params, order="desc", page=2, trigger="value")
        assert (count, page) == ("Showing 1–25 of 30 learners", 1)
        assert result_rows(body)[0][0].startswith("L30 Learner")
        # A page past the end shows the last page.
        body, count, _pages, page = update_results(params, page=9, trigger="active_page")
        assert (count, page) == ("Showing 26–30 of 30 learners", 2)


def details_button(user_id: str, training_id: str) -> dict:
    return {"type": "results-details-button", "table": "training", "row": f"{user_id}|{training_id}"}


def toggle(user_id: str, training_id: str, is_open=False, n_clicks=1):
    return in_callback(
        results.toggle_learner_details,
        n_clicks,
        is_open,
        triggered=[(details_button(user_id, training_id), "n_clicks")],
    )


def test_pg3_007b_details_buttons_and_search_boxes_have_names_of_their_own(world):
    """Issue 21 (accessibility): each row's Details button is named after its learner and says
    whether its details are shown; the results table's search box has a label, not only a
    placeholder (the static tables' and the navbar's boxes too)."""
    import pandas as pd

    from dashboards.components.date_filter import dom_id
    from dashboards.components.grids import build_static_table
    from dashboards.components.search import build_search_box

    with signed_in(world.server, "boss"):
        body, _count, _pages, _page = update_results(t_alpha_params())
        frame = results.build_results_table("training", Population(training_id="t-alpha"), title="Learners")
        navbar_box = build_search_box()
        static = build_static_table("overview", "x", pd.DataFrame({"a": [1]}), [("a", "A")], title="X")
    buttons = [
        c for c in walk(body) if getattr(c, "id", None) and c.id.get("type") == "results-details-button"
    ]
    assert [b.to_plotly_json()["props"]["aria-label"] for b in buttons] == [
        "Details of Durand Bob",
        "Details of Martin Alice",
        "Details of Petit Chloé",
    ]
    assert {b.to_plotly_json()["props"]["aria-expanded"] for b in buttons} == {"false"}
    assert buttons[1].to_plotly_json()["props"]["aria-controls"] == dom_id(
        {"type": "results-details", "table": "training", "row": "alice|t-alpha"}
    )
    labels = {
        label.htmlFor: text(label) for label in find_all(frame, html.Label) + find_all(navbar_box, html.Label)
    }
    assert (
        labels[dom_id({"type": "results-search", "table": "training"})]
        == "Search a learner by name or email…"
    )
    assert labels["shell-search-input"] == "Search learners, trainings, classes…"
    # A static table's box (grids._table_toolbar): labelled by its placeholder's words.
    static_id = {"type": "static-table-search", "page": "overview", "table": "x"}
    assert [(label.htmlFor, text(label)) for label in find_all(static, html.Label)] == [
        (dom_id(static_id), "Search…")
    ]


def test_pg3_007_learner_details_expand_in_place(world):
    with signed_in(world.server, "boss"):
        is_open, body = toggle("alice", "t-alpha")
        assert is_open is True
        rows = [[text(c) for c in r.children] for r in find_all(body, html.Tr)]
        assert rows == [
            ["Module", "Type", "Status", "Score", "Time spent", "Completed on", ""],
            ["Introduction", "Mandatory", "passed", pct("80.0 %"), "30 min", "03/03/2026", "Module summary"],
            ["Rules", "Mandatory", "passed", pct("80.0 %"), "45 min", "10/03/2026", "Module summary"],
            ["Extra reading", "Optional", "not started", "–", "0 min", "–", "No attempt"],
        ]
        links = [link.href for link in find_all(body, dcc.Link)]
        assert links == [
            "/training/t-alpha/learner/alice/module/m-intro",
            "/training/t-alpha/learner/alice/module/m-rules",
        ]
        _is_open, bob = toggle("bob", "t-alpha")
        bob_rows = [[text(c) for c in r.children] for r in find_all(bob, html.Tr)][1:]
        assert [r[2:4] for r in bob_rows] == [
            ["failed", pct("10.0 %")],
            ["in progress", "–"],
            ["not started", "–"],
        ]
        # A second click closes the row without reloading it.
        assert toggle("alice", "t-alpha", is_open=True, n_clicks=2) == (False, results.no_update)


# -- the module summary ---------------------------------------------------------------------


def summary_layout(training_id, user_id, module_id):
    return page_module("module_summary").layout(training_id=training_id, user_id=user_id, module_id=module_id)


def test_pg3_008_module_summary_with_several_attempts(world):
    summary = page_module("module_summary")
    with signed_in(world.server, "boss"):
        tree = summary_layout("t-alpha", "alice", "m-intro")
        picker = find(tree, "module-summary-attempt-select")
        # Newest first; local times (Paris, UTC+1).
        assert picker.options == [
            {"label": "Attempt 2 — 05/03/2026 11:00 (finished)", "value": "at-a2"},
            {"label": "Attempt 1 — 03/03/2026 11:00 (finished)", "value": "at-a1"},
        ]
        assert picker.value == "at-a2"
        assert find(tree, "module-summary-points").children == "Got 16 of 20 possible points."
        assert find(tree, "module-summary-score").children == pct("80.0 %")
        rows = [
            [text(c) for c in r.children] for r in find_all(find(tree, "module-summary-attempt"), html.Tr)
        ]
        assert rows[1:] == [
            ["Q1 Question 1?", "yes", "yes", "10 / 10", "passed"],
            ["Q2 Question 2?", "yes", "yes", "6 / 10", "partly correct"],  # not "failed" (issue 12)
        ]
        older = summary.show_module_attempt("at-a1", ["t-alpha", "alice", "m-intro"])
        assert find(older, "module-summary-points").children == "Got 5 of 20 possible points."
        assert find(older, "module-summary-score").children == pct("25.0 %")
        with pytest.raises(Forbidden):  # an attempt of another module
            summary.show_module_attempt("at-b1", ["t-alpha", "alice", "m-intro"])
        for forged in (None, "t-alpha", ["t-alpha", "alice"], [["t-alpha"], "alice", "m-intro"]):
            with pytest.raises(Forbidden):
                summary.show_module_attempt("at-a1", forged)
        # One attempt only: the picker is hidden.
        rules = summary_layout("t-alpha", "alice", "m-rules")
        assert find(rules, "module-summary-points").children == "Got 8 of 10 possible points."
    single_picker_row = [c for c in walk(rules) if getattr(c, "style", None) == {"display": "none"}]
    assert single_picker_row and has_id(single_picker_row[0], "module-summary-attempt-select")


def test_pg3_009_module_summary_answer_awaiting_grading(world):
    with signed_in(world.server, "boss"):
        tree = summary_layout("t-alpha", "bob", "m-intro")
        unfinished = summary_layout("t-alpha", "bob", "m-rules")
    # The answer awaiting grading counts 0: 2 of 20.
    assert find(tree, "module-summary-points").children == "Got 2 of 20 possible points."
    assert find(tree, "module-summary-score").children == pct("10.0 %")
    assert "1 answer awaiting grading counts 0 until it is graded." in text(tree)
    rows = [[text(c) for c in r.children] for r in find_all(find(tree, "module-summary-attempt"), html.Tr)]
    assert rows[1:] == [
        ["Q1 Question 1?", "yes", "yes", "2 / 10", "partly correct"],
        ["Q2 Question 2?", "yes", "yes", "– / 10", "awaiting grading"],
    ]
    # An unfinished attempt without answers.
    assert (
        find(unfinished, "module-summary-points").children == "In progress: 0 of 10 possible points so far."
    )
    assert "no answer" in text(find(unfinished, "module-summary-attempt"))


# -- downloads ------------------------------------------------------------------------------


def download(params, search=None, kind="csv", sort="learner", order="asc"):
    button = {"type": f"results-download-{kind}", "table": "training"}
    return in_callback(
        results.download_results, 1, None, params, search, sort, order, triggered=[(button, "n_clicks")]
    )


def decoded(sent: dict) -> bytes:
    assert sent["base64"] is True
    return base64.b64decode(sent["content"])


def test_pg3_010_download_results_csv_and_xlsx(world):
    """The page's download is the table as on screen (issue 12 point 3): its columns in its
    order under its headers, its search and sort (English here: "," and "."; French:
    tests/integration/test_language.py); export-results keeps its machine columns."""
    header = ["Learner", "Email", "Class", "Progress", "Score", "Status", "Time spent (min)", "Completed on"]
    expected = [
        ["Durand Bob", "bob@example.org", "Morning group", "33.3", "5.0", "in progress", "20", ""],
        ["Martin Alice", "alice@example.org", "Morning group", "66.7", "80.0", "passed", "75", "10/03/2026"],
        ["Petit Chloé", "chloe@example.org", "", "0.0", "0.0", "not started", "0", ""],
    ]
    machine_header = [*RESULTS_COLUMNS, "training_id", "training", "classes"]
    machine = [
        ["bob", "bob@example.org", "Durand", "Bob", "33.3", "5.0", "in progress", "20", "", "t-alpha",
         "Alpha safety", "Morning group"],
        ["alice", "alice@example.org", "Martin", "Alice", "66.7", "80.0", "passed", "75", "2026-03-10",
         "t-alpha", "Alpha safety", "Morning group"],
        ["chloe", "chloe@example.org", "Petit", "Chloé", "0.0", "0.0", "not started", "0", "", "t-alpha",
         "Alpha safety", ""],
    ]  # fmt: skip
    tz = settings_of(world.server).tz
    with signed_in(world.server, "boss"):
        sent, message = download(t_alpha_params())
        with world.server.extensions["learnstats_db"].session() as s:
            engine = list(
                results_rows(
                    s,
                    global_scope("boss"),
                    Population(training_id="t-alpha"),
                    tz,
                    columns=tuple(machine_header),
                )
            )
        searched, _ = download(t_alpha_params(), search="martin")
        by_progress, _ = download(t_alpha_params(), sort="progress", order="desc")
        sent_xlsx, _ = download(t_alpha_params(), kind="xlsx")
        nothing = download(t_alpha_params(), search="nobody-has-this-name")
    assert message is None
    assert sent["filename"] == "results-t-alpha.csv"

    def cells(sent):
        return list(csv.reader(io.StringIO(decoded(sent).decode("utf-8-sig"))))

    assert cells(sent) == [header, *expected]
    assert engine == machine
    assert cells(searched) == [header, expected[1]]
    # The sort chosen on screen: progress, highest first.
    assert cells(by_progress) == [header, expected[1], expected[0], expected[2]]
    # A search matching nothing: a sentence, no file of a lone header.
    assert nothing[0] is dash.no_update and "nothing to download" in nothing[1]

    assert sent_xlsx["filename"] == "results-t-alpha.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(decoded(sent_xlsx)))
    sheet = book["Results"]
    assert [c.value for c in sheet[1]] == [
        "Learner", "Email", "Class", "Progress", "Score", "Status", "Time spent (h:mm)", "Completed on"
    ]  # fmt: skip
    # Rates are numbers, durations duration cells ([h]:mm, issue 21), dates date cells.
    assert [shown(c) for c in sheet[3]] == [
        "Martin Alice", "alice@example.org", "Morning group", "66.7", "80.0", "passed", "1:15", "10/03/2026"
    ]  # fmt: skip
    assert sheet["D3"].value == 66.7 and sheet["H3"].value == datetime(2026, 3, 10)
    assert sheet["G3"].number_format == "[h]:mm" and sheet["G3"].value == timedelta(hours=1, minutes=15)
    assert sheet.max_row == 4


# -- layouts and query strings --------------------------------------------------------------


def test_pg3_012_tab_titles_name_what_the_page_shows_within_the_scope(world):
    """Issue 21: a training, class or learner page's tab says which one (not "Training ·
    Learnstats" on every tab), and only to a user who may open that page."""
    pages = {page["module"].rsplit(".", 1)[-1]: page for page in dash.page_registry.values()}

    def titles():
        return (
            pages["training"]["title"](training_id="t-alpha"),
            pages["training"]["title"](training_id="t-beta"),
            pages["klass"]["title"](class_id="c-morning"),
            pages["learner"]["title"](user_id="alice"),
            pages["learner"]["title"](user_id="david"),
        )

    with signed_in(world.server, "boss"):
        assert titles() == (
            "Alpha safety · Training · Learnstats",
            "Beta compliance · Training · Learnstats",
            "Morning group · Class · Learnstats",
            "Alice Martin · Learner · Learnstats",
            "David Roux · Learner · Learnstats",
        )
        assert pages["training"]["title"](training_id="t-nope") == "Training · Learnstats"
    # tm1 manages t-alpha only: t-beta, its class-less learner david and the class stay unnamed.
    with signed_in(world.server, "tm1"):
        assert titles() == (
            "Alpha safety · Training · Learnstats",
            "Training · Learnstats",
            "Class · Learnstats",
            "Alice Martin · Learner · Learnstats",
            "Learner · Learnstats",
        )
    with world.server.test_request_context("/"):  # nobody signed in
        assert pages["training"]["title"](training_id="t-alpha") == "Training · Learnstats"


def test_pg3_011_layouts_read_the_query_string(world):
    tz = settings_of(world.server).tz
    today = today_in(tz)
    preset_id = {"type": "date-preset", "page": "overview"}
    picker_id = {"type": "date-range", "page": "overview"}
    message_id = {"type": "date-range-message", "page": "overview"}
    with signed_in(world.server, "boss"):
        week = page_module("overview").layout(range="last_7_days")
        custom = page_module("overview").layout(start="2026-03-01", end="2026-03-31")
        backwards = page_module("overview").layout(start="2026-03-31", end="2026-03-01")
        default = page_module("overview").layout()
        train = page_module("training").layout(training_id="t-alpha", start="2026-03-01", end="2026-03-07")
        klass = page_module("training").layout(training_id="t-alpha", **{"class": "c-morning"})
        reversed_body = overview("custom", "2026-03-31", "2026-03-01")
        reversed_training, content, _params = training_page("2026-03-31", "2026-03-01")
    assert find(week, preset_id).value == "last_7_days"
    assert (find(week, picker_id).start_date, find(week, picker_id).end_date) == (
        (today - timedelta(days=6)).isoformat(),
        today.isoformat(),
    )
    assert find(week, message_id).children is None
    assert find(custom, preset_id).value == "custom"
    assert (find(custom, picker_id).start_date, find(custom, picker_id).end_date) == MARCH
    # A reversed range: the default range and a sentence, not an error.
    assert find(backwards, preset_id).value == "last_30_days"
    assert find(backwards, message_id).children == (
        "The start date 31/03/2026 is after the end date 01/03/2026. Showing the last 30 days."
    )
    assert find(default, preset_id).value == "last_30_days"
    assert find(default, picker_id).start_date == (today - timedelta(days=29)).isoformat()
    assert find(train, {"type": "date-range", "page": "training"}).start_date == "2026-03-01"
    assert find(train, "training-title").children == "Alpha safety"
    assert find(train, "training-class-select").value == "__all__"
    assert find(train, "training-class-select").options == [
        {"label": "All learners", "value": "__all__"},
        {"label": "Morning group", "value": "c-morning"},
    ]
    # "All learners" is no class: the results table's store must not carry the select's value.
    assert find(train, TRAINING_ROW_KEY).data == t_alpha_params()
    assert find(klass, "training-class-select").value == "c-morning"
    assert find(klass, TRAINING_ROW_KEY).data["class_id"] == "c-morning"
    # The callbacks given a reversed range answer with the message.
    assert find(reversed_body, "overview-range-error").children == (
        "The start date 31/03/2026 is after the end date 01/03/2026."
    )
    assert find(reversed_training, "training-range-error").children == (
        "The start date 31/03/2026 is after the end date 01/03/2026."
    )
    assert len(static_rows(content, "training", "content")) == 3


def test_pg3_012_overview_presets_are_relative_to_today(dash_app, factory):
    """?range=last_7_days and the preset in the callback count the last 7 days, today included."""
    tz = settings_of(dash_app.server).tz
    today = today_in(tz)
    factory.user("boss", "Stella", "Boss", roles=("statistics_manager",))
    training = factory.training("t-now", "Now")
    module = factory.module("m-now")
    factory.step(training, module, position=1)
    noon = "{} 11:00"
    for i, days_ago in enumerate((0, 6, 7, 20)):
        learner = factory.user(f"n{i}", "Now", f"N{i}")
        factory.enroll(learner, training, at="2026-01-01 09:00")
        factory.login(learner, noon.format(today - timedelta(days=days_ago)))
    factory.s.commit()
    week_start, month_start = today - timedelta(days=6), today - timedelta(days=29)
    with signed_in(dash_app.server, "boss"):
        week = overview("last_7_days", week_start.isoformat(), today.isoformat())
        month = overview("last_30_days", month_start.isoformat(), today.isoformat())
    # Logins today and 6 days ago are in the last 7 days; 7 days ago is not.
    assert card(week, "overview", "active-users") == "2"
    assert card(month, "overview", "active-users") == "4"


# -- scopes (SPEC §6, issue 3 point 6) -------------------------------------------------------


def test_pg3_013_training_manager_sees_only_their_training(world):
    with signed_in(world.server, "tm1"):
        tree = overview("custom", *MARCH)
        assert find(page_module("overview").layout(), "overview-scope").children == (
            "Figures for the 1 training you manage."
        )
    # Only t-alpha's learners: alice, bob, chloe; not david (t-beta) nor alice's t-beta.
    assert cards(tree, "overview") == {
        "learners": "3",
        "new-users": "2",
        "active-users": "2",
        "trainings": "1",
        "completions": "1",
    }
    rows = static_rows(tree, "overview", "trainings")
    assert [(r["training"], r["learners"], r["completed"]) for r in rows] == [("Alpha safety", 3, 1)]
    assert list(graph(tree, "overview", "completion-donut").data[0].values) == [1, 0, 0, 1, 1]


def test_pg3_014_training_manager_refused_other_trainings_in_callbacks(world):
    forged = results.population_to_store(Population(training_id="t-beta"), "learners")
    training = page_module("training")
    summary = page_module("module_summary")
    with signed_in(world.server, "tm1"):
        # Their own training works...
        body, _content, _params = training_page(*MARCH)
        assert card(body, "training", "learners") == "3"
        assert update_results(t_alpha_params())[1] == "Showing 1–3 of 3 learners"
        # ... any other is refused.
        with pytest.raises(Forbidden):
            training_page(*MARCH, training_id="t-beta")
        with pytest.raises(Forbidden):  # t-alpha with a class that is not t-alpha's
            training_page(*MARCH, class_choice="c-nowhere")
        with pytest.raises(Forbidden):
            update_results(forged)
        with pytest.raises(Forbidden):
            download(forged)
        with pytest.raises(Forbidden):
            download(forged, kind="xlsx")
        # Results without a training: the manager's whole scope, t-alpha's learners only.
        body, count, _pages, _page = update_results(results.population_to_store(Population(), "learners"))
        assert count == "Showing 1–3 of 3 learners"
        assert {r[0].split()[0] for r in result_rows(body)} == {"Durand", "Martin", "Petit"}
        with pytest.raises(Forbidden):
            toggle("david", "t-beta")
        with pytest.raises(Forbidden):
            toggle("alice", "t-beta")  # a t-alpha learner, but in another training
        with pytest.raises(Forbidden):
            summary.show_module_attempt("at-d1", ["t-beta", "david", "m-beta"])
        # The layouts answer with the 403 page.
        assert has_id(training.layout(training_id="t-beta"), "page-forbidden")
        assert has_id(summary_layout("t-beta", "david", "m-beta"), "page-forbidden")
        assert has_id(summary_layout("t-beta", "alice", "m-beta"), "page-forbidden")
        assert not has_id(summary_layout("t-alpha", "alice", "m-intro"), "page-forbidden")


def test_pg3_015_training_manager_gets_403_on_full_page_loads(world, client):
    assert sign_in(client, "tm1@example.org").status_code == 302
    assert client.get("/training/t-alpha").status_code == 200
    assert client.get("/training/t-alpha/learner/alice/module/m-intro").status_code == 200
    assert client.get("/training/t-beta").status_code == 403
    assert client.get("/training/t-beta/learner/david/module/m-beta").status_code == 403
    assert client.get("/training/t-beta/learner/alice/module/m-beta").status_code == 403


def _callback_key(app, output_fragment: str) -> str:
    [key] = [k for k in app.callback_map if output_fragment in k]
    return key


def _post(client, key, outputs, inputs, state, changed):
    body = {"output": key, "outputs": outputs, "inputs": inputs, "state": state, "changedPropIds": changed}
    return client.post("/_dash-update-component", json=body)


def test_pg3_016_forged_callback_requests_answer_403(world, client):
    """Callback requests sent by hand, as the browser would send them, carrying t-beta."""
    assert sign_in(client, "tm1@example.org").status_code == 302
    page = {"page": "training"}
    training_key = _callback_key(world, "training-body.children")
    outputs = [
        {"id": "training-body", "property": "children"},
        {"id": "training-content", "property": "children"},
        {"id": TRAINING_ROW_KEY, "property": "data"},
    ]
    inputs = [
        {"id": {"type": "date-range", **page}, "property": "start_date", "value": MARCH[0]},
        {"id": {"type": "date-range", **page}, "property": "end_date", "value": MARCH[1]},
        {"id": "training-class-select", "property": "value", "value": "__all__"},
    ]
    changed = ["training-class-select.value"]

    def state(training_id):
        return [
            {"id": {"type": "date-preset", **page}, "property": "value", "value": "custom"},
            {"id": "training-id", "property": "data", "value": training_id},
        ]

    allowed = _post(client, training_key, outputs, inputs, state("t-alpha"), changed)
    assert allowed.status_code == 200, allowed.get_data(as_text=True)
    assert '"training-body"' in allowed.get_data(as_text=True)
    refused = _post(client, training_key, outputs, inputs, state("t-beta"), changed)
    assert refused.status_code == 403
    assert refused.get_json() == {"error": "forbidden"}

    # The At risk card's own callback (issue 18) with a forged population: 403.
    card_key = _callback_key(world, "training-at-risk-card-body.children")

    def card_inputs(training_id):
        store = {
            "population": results.population_to_store(Population(training_id=training_id), "at-risk"),
            "start": MARCH[0],
            "end": MARCH[1],
        }
        return [
            {"id": "training-at-risk-card-args", "property": "data", "value": store},
            {"id": "training-at-risk-days", "property": "value", "value": 14},
        ]

    card_outputs = {"id": "training-at-risk-card-body", "property": "children"}
    changed = ["training-at-risk-card-args.data"]
    allowed = _post(client, card_key, card_outputs, card_inputs("t-alpha"), [], changed)
    assert allowed.status_code == 200, allowed.get_data(as_text=True)
    assert "training-card-at-risk-value" in allowed.get_data(as_text=True)
    assert _post(client, card_key, card_outputs, card_inputs("t-beta"), [], changed).status_code == 403

    # The results table with a forged params store.
    table_key = _callback_key(world, "results-body")
    rid = {"table": "training"}
    table_outputs = [
        {"id": {"type": "results-body", **rid}, "property": "children"},
        {"id": {"type": "results-count", **rid}, "property": "children"},
        {"id": {"type": "results-page", **rid}, "property": "max_value"},
        {"id": {"type": "results-page", **rid}, "property": "active_page"},
    ]

    def table_inputs(training_id):
        store = results.population_to_store(Population(training_id=training_id), "learners")
        return [
            {"id": {"type": "results-search", **rid}, "property": "value", "value": None},
            {"id": {"type": "results-sort", **rid}, "property": "value", "value": "learner"},
            {"id": {"type": "results-order", **rid}, "property": "value", "value": "asc"},
            {"id": {"type": "results-page", **rid}, "property": "active_page", "value": 1},
            {"id": {"type": "results-params", **rid}, "property": "data", "value": store},
        ]

    changed = [prop_id({"type": "results-params", **rid}, "data")]
    every_row = [{"id": {"type": "results-every-row", **rid}, "property": "data", "value": False}]
    allowed = _post(client, table_key, table_outputs, table_inputs("t-alpha"), every_row, changed)
    assert allowed.status_code == 200, allowed.get_data(as_text=True)
    count_id = prop_id({"type": "results-count", **rid}, "children").rsplit(".", 1)[0]
    assert allowed.get_json()["response"][count_id] == {"children": "Showing 1–3 of 3 learners"}
    assert (
        _post(client, table_key, table_outputs, table_inputs("t-beta"), every_row, changed).status_code == 403
    )

    # The download with a forged params store.
    download_key = _callback_key(world, "results-download")
    csv_button = {"type": "results-download-csv", **rid}

    def download_state(training_id):
        store = results.population_to_store(Population(training_id=training_id), "learners")
        return [
            {"id": {"type": "results-params", **rid}, "property": "data", "value": store},
            {"id": {"type": "results-search", **rid}, "property": "value", "value": None},
            {"id": {"type": "results-sort", **rid}, "property": "value", "value": "learner"},
            {"id": {"type": "results-order", **rid}, "property": "value", "value": "asc"},
        ]

    download_outputs = [
        {"id": {"type": "results-download", **rid}, "property": "data"},
        {"id": {"type": "results-message", **rid}, "property": "children"},
    ]
    download_inputs = [
        {"id": csv_button, "property": "n_clicks", "value": 1},
        {"id": {"type": "results-download-xlsx", **rid}, "property": "n_clicks", "value": None},
    ]
    changed = [prop_id(csv_button, "n_clicks")]
    allowed = _post(
        client, download_key, download_outputs, download_inputs, download_state("t-alpha"), changed
    )
    assert allowed.status_code == 200
    assert "results-t-alpha.csv" in allowed.get_data(as_text=True)
    refused = _post(
        client, download_key, download_outputs, download_inputs, download_state("t-beta"), changed
    )
    assert refused.status_code == 403


def test_pg3_017_learner_is_sent_to_their_own_page(world, factory):
    factory.session(factory.s.get(Training, "t-beta"), session_id="s-1")
    factory.user("inst", "Ian", "Instructor", roles=("session_instructor:s-1",))
    factory.s.commit()
    with signed_in(world.server, "inst"):
        instructor = page_module("overview").layout()
        with pytest.raises(Forbidden):
            overview("custom", *MARCH)
    assert isinstance(instructor, dcc.Location) and instructor.href == "/sessions"
    with signed_in(world.server, "alice"):
        tree = page_module("overview").layout()
        with pytest.raises(Forbidden):
            overview("custom", *MARCH)
        with pytest.raises(Forbidden):
            training_page(*MARCH)
        with pytest.raises(Forbidden):
            update_results(t_alpha_params())
        # Their own module summary is theirs to see; another learner's is not.
        own = summary_layout("t-alpha", "alice", "m-intro")
        other = summary_layout("t-alpha", "bob", "m-intro")
    assert isinstance(tree, dcc.Location)
    assert tree.href == "/learner/alice"
    assert find(own, "module-summary-points").children == "Got 16 of 20 possible points."
    assert has_id(other, "page-forbidden")

    # The breadcrumb does not lead a learner to a training page they may not open, nor shows
    # them a link that goes nowhere (issue 12): the training is plain text.
    def crumbs_of(tree):
        nav = find(tree, "module-summary-breadcrumb")
        out = []
        for li in find_all(nav, html.Li):
            link = li.children if isinstance(li.children, dcc.Link) else None
            out.append((text(li), link.href if link else None))
        return out

    assert crumbs_of(own) == [
        ("Alpha safety", None),
        ("Alice Martin", "/learner/alice"),
        ("Introduction", None),
    ]
    assert not find_all(find(own, "module-summary-breadcrumb"), html.A)
    with signed_in(world.server, "tm1"):
        manager_crumbs = crumbs_of(summary_layout("t-alpha", "alice", "m-intro"))
    assert manager_crumbs[0] == ("Alpha safety", "/training/t-alpha")


# -- empty states (issue 3 point 7) ----------------------------------------------------------


def test_pg3_018_a_range_without_activity_shows_sentences(world):
    with signed_in(world.server, "boss"):
        tree = overview("custom", *FEBRUARY)
        training_tree, _content, _params = training_page(*FEBRUARY)
    # Nobody enrolled by 28/02; alice's account dates from 15/02.
    assert cards(tree, "overview") == {
        "learners": "0",
        "new-users": "1",
        "active-users": "0",
        "trainings": "3",
        "completions": "0",
    }
    sentences = {
        "overview-progress-donut-empty": "No learner was enrolled by the end of this period.",
        "overview-completion-donut-empty": "No learner was enrolled by the end of this period.",
        "overview-active-users-empty": "No learner logged in or connected during this period.",
        "overview-progress-empty": "No learner was enrolled during this period.",
        "overview-completions-empty": "No learner was enrolled during this period.",
    }
    for component_id, sentence in sentences.items():
        assert find(tree, component_id).children == sentence
    assert not find_all(tree, dcc.Graph)
    assert find(training_tree, "training-active-users-empty").children == (
        "No learner logged in or connected during this period."
    )


def test_pg3_019_a_training_without_learners_shows_a_sentence(world, factory):
    factory.klass("c-empty", "Evening group", trainings=(factory.s.get(Training, "t-alpha"),))
    factory.s.commit()
    with signed_in(world.server, "boss"):
        body, content, params = training_page(*MARCH, training_id="t-gamma")
        table_body, count, _pages, _page = update_results(params)
        klass_body, _content, _params = training_page(*MARCH, class_choice="c-morning")
        empty_body, _content, empty_params = training_page(*MARCH, class_choice="c-empty", trigger="class")
        empty_table, _count, _pages, _page = update_results(empty_params)
    assert find(body, "training-no-learners").children == "No learner is enrolled in this training yet."
    assert [r["module"] for r in static_rows(content, "training", "content")] == ["Gamma module"]
    assert text(table_body) == "No learner is enrolled yet."
    assert count == ""
    assert not has_id(klass_body, "training-no-learners")
    assert find(empty_body, "training-no-learners").children == "This class has no learner in this training."
    assert text(empty_table) == "No learner is enrolled yet."


def test_pg3_021_ranges_in_the_future_or_over_years_do_not_fail(world):
    """A range after today reads the cards on today; an all-time range since 2000 is monthly."""
    with signed_in(world.server, "boss"):
        future = overview("custom", "2030-01-01", "2030-01-31")
        years = overview("custom", "2000-01-01", "2026-03-31")
    assert card(future, "overview", "learners") == "4"
    assert card(future, "overview", "active-users") == "0"
    assert find(future, "overview-active-users-empty").children == (
        "No learner logged in or connected during this period."
    )
    assert cards(years, "overview") == {
        "learners": "4",
        "new-users": "4",
        "active-users": "3",
        "trainings": "3",
        "completions": "2",
    }
    # Monthly bars: January 2000 .. March 2026 is 315 months; March 2026 holds both completions.
    bars = graph(years, "overview", "completions").data[0]
    assert len(bars.x) == 315
    assert list(bars.y[-1:]) == [2] and sum(bars.y) == 2


def test_pg3_020_a_learner_without_attempts_shows_a_sentence(world):
    with signed_in(world.server, "boss"):
        tree = summary_layout("t-alpha", "chloe", "m-intro")
        _is_open, details = toggle("chloe", "t-alpha")
    assert find(tree, "module-summary-empty").children == "Chloé Petit has not attempted this module yet."
    assert not has_id(tree, "module-summary-attempt-select")
    assert not find_all(details, dcc.Link)
    assert text(details).count("No attempt") == 3
