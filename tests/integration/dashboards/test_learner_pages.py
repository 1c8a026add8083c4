"""The learner, classes and class pages (issue 4): layouts and callbacks called as functions
inside a request signed in as each user, against values computed by hand from
tests/learner_world.py; the results table through the real callback endpoint."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pandas as pd
import plotly.graph_objects as go
import pytest
from dash import html

from auth.guard import current_scope
from dashboards.components.shell import build_navbar
from data.figures.population import Population
from data.figures.tables import training_results
from tests.conftest import sign_in
from tests.helpers import served_page, signed_in
from tests.learner_world import TZ, build_world, local, post_callback, response_props

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def world(factory):
    return build_world(factory)


def pg(name: str):
    """A page module as the app loaded it (Dash executes dashboards/<name>.py itself)."""
    return served_page(name)


def walk(component):
    yield component
    children = getattr(component, "children", None)
    if isinstance(children, (list, tuple)):
        for child in children:
            yield from walk(child)
    elif children is not None:
        yield from walk(children)


def find(component, component_id):
    for node in walk(component):
        if getattr(node, "id", None) == component_id:
            return node
    raise AssertionError(f"no component {component_id!r}")


def has(component, component_id) -> bool:
    return any(getattr(node, "id", None) == component_id for node in walk(component))


def text(component) -> str:
    return "".join(node for node in walk(component) if isinstance(node, str))


def card_values(body, page: str = "learner") -> dict[str, str]:
    slugs = ("trainings-completed", "in-progress", "certificates-valid", "time-spent")
    return {slug: text(find(body, f"{page}-card-{slug}-value")) for slug in slugs}


def trend_texts(trends) -> dict[str, tuple[str, str]]:
    return {
        slug: (
            text(find(trends, f"learner-trend-{slug}-value")),
            text(find(trends, f"learner-trend-{slug}-change")),
        )
        for slug in ("active-days", "time-spent", "connections", "modules-completed")
    }


def nav_links(navbar) -> list:
    return [n for n in walk(navbar) if isinstance(getattr(n, "id", None), str) and n.id.startswith("nav-")]


def last_30_days(world):
    return (world.today - timedelta(days=29)).isoformat(), world.today.isoformat(), "last_30_days"


# ---------------------------------------------------------------------------------------------
# Learner page
# ---------------------------------------------------------------------------------------------


def test_lrn001_own_page_identity(server, factory, world):
    with signed_in(server, "lea", session=factory.s):
        page = pg("learner").layout(user_id="lea")
    assert not has(page, "page-forbidden")
    assert text(find(page, "learner-title")) == "Léa Apprenante"
    assert text(find(page, "learner-email")) == "lea@example.org"
    assert text(find(page, "learner-joined")) == "05/01/2026"
    # Last access: the login of d-1 at 19:00, later than every connection.
    assert text(find(page, "learner-last-access")) == f"{world.today - timedelta(days=1):%d/%m/%Y} 19:00"
    assert [text(c) for c in find(page, "learner-classes").children] == [
        "Équipe commerciale",
        "Support client",
    ]
    assert [text(c) for c in find(page, "learner-labels").children] == ["Nord", "vip"]
    assert "Badge" in text(find(page, "learner-identity")) and "B-12" in text(find(page, "learner-identity"))
    assert not has(page, "learner-scope-note")  # her whole page
    params = find(page, {"type": "results-params", "table": "learner"}).data
    assert params == {
        "training_id": None,
        "class_id": None,
        "user_id": "lea",
        "learners_only": False,
        "include_self": True,
        "mode": "trainings",
    }


def test_lrn002_counters_and_activity_over_the_last_30_days(server, factory, world):
    with signed_in(server, "lea", session=factory.s):
        body = pg("learner").update_learner_page(*last_30_days(world), "lea")
    # T1 passed (d-3, valid 12 months), T3 failed, T2 in progress; 45+60+30+15+20 min.
    assert card_values(body) == {
        "trainings-completed": "2",
        "in-progress": "1",
        "certificates-valid": "1",
        "time-spent": "2 h 50 min",
    }
    graph = find(body, "learner-activity-graph")
    [bars] = go.Figure(graph.figure).data
    minutes = {
        (world.today - pd.Timestamp(x).date()).days: y for x, y in zip(bars.x, bars.y, strict=True) if y
    }
    assert minutes == {10: 60.0, 3: 30.0, 2: 15.0, 1: 20.0}
    assert len(bars.x) == 30


def test_lrn003_counters_are_read_at_the_range_end(server, factory, world):
    start = (world.today - timedelta(days=60)).isoformat()
    end = (world.today - timedelta(days=5)).isoformat()
    with signed_in(server, "lea", session=factory.s):
        body = pg("learner").update_learner_page(start, end, "custom", "lea")
    # On d-5: only M1 finished (T1 in progress), nothing else started; 45 + 60 min connected.
    assert card_values(body) == {
        "trainings-completed": "0",
        "in-progress": "1",
        "certificates-valid": "0",
        "time-spent": "1 h 45 min",
    }
    assert has(body, "learner-activity-graph")


def test_lrn004_trends_over_7_and_30_days(server, factory, world):
    with signed_in(server, "lea", session=factory.s):
        week = pg("learner").update_learner_trends(7, "lea")
        month = pg("learner").update_learner_trends(30, "lea")
        forged_period = pg("learner").update_learner_trends("365", "lea")
    assert trend_texts(week) == {
        "active-days": ("4", "▲ +3 (+300\u00a0%)"),
        "time-spent": ("1 h 05 min", "▲ +5 min (+8\u00a0%)"),
        "connections": ("3", "▲ +2 (+200\u00a0%)"),
        "modules-completed": ("2", "▲ +1 (+100\u00a0%)"),
    }
    assert trend_texts(month) == {
        "active-days": ("5", "▲ +4 (+400\u00a0%)"),
        "time-spent": ("2 h 05 min", "▲ +1 h 20 min (+178\u00a0%)"),
        "connections": ("4", "▲ +3 (+300\u00a0%)"),
        "modules-completed": ("3", "▲ +3 (new)"),
    }
    assert trend_texts(forged_period) == trend_texts(week)  # an unknown period falls back to 7 days


def test_lrn005_class_manager_sees_the_member_limited_to_the_class_trainings(server, factory, world):
    with signed_in(server, "cm", session=factory.s):
        page = pg("learner").layout(user_id="lea")
        body = pg("learner").update_learner_page(*last_30_days(world), "lea")
        week = pg("learner").update_learner_trends(7, "lea")
    assert (
        text(find(page, "learner-scope-note"))
        == "Figures limited to the trainings of the classes you manage."
    )
    assert [text(c) for c in find(page, "learner-classes").children] == ["Équipe commerciale"]
    # T1 passed, T2 in progress (T3 is C2's); 45 + 60 + 30 + 15 min.
    assert card_values(body) == {
        "trainings-completed": "1",
        "in-progress": "1",
        "certificates-valid": "1",
        "time-spent": "2 h 30 min",
    }
    trends = trend_texts(week)
    assert trends["time-spent"] == ("45 min", "▼ −15 min (−25\u00a0%)")  # 30 + 15 against 60
    assert trends["modules-completed"] == ("1", "no change")  # M2 against M1
    # Days with a connection to T1 or T2: d-3, d-2 against d-10 (her logins and the T3
    # connection of d-1 are outside the view).
    assert trends["active-days"] == ("2", "▲ +1 (+100\u00a0%)")


def test_lrn006_training_manager_sees_the_learner_limited_to_their_training(server, factory, world):
    factory.login(world.users["bob"], local(world.today, 2, 12))
    factory.s.commit()
    with signed_in(server, "tm", session=factory.s):
        page = pg("learner").layout(user_id="lea")
        body = pg("learner").update_learner_page(*last_30_days(world), "lea")
        week = pg("learner").update_learner_trends(7, "lea")
        bob_week = pg("learner").update_learner_trends(7, "bob")
    assert text(find(page, "learner-scope-note")) == "Figures limited to the trainings you manage."
    assert [text(c) for c in find(page, "learner-classes").children] == ["Équipe commerciale"]
    assert card_values(body) == {
        "trainings-completed": "1",
        "in-progress": "0",
        "certificates-valid": "1",
        "time-spent": "2 h 15 min",
    }
    [bars] = go.Figure(find(body, "learner-activity-graph").figure).data
    assert sum(bars.y) == 90.0  # M1 d-10 60 min + M2 d-3 30 min
    # Active days: a connection to T1's modules (M2 d-3 against M1 d-10), not her logins.
    trends = trend_texts(week)
    assert trends["active-days"] == ("1", "no change")
    assert trends["connections"] == ("1", "no change")
    # Bob's only connection (M1) is d-20: no active day in either week, his login of d-2 is not
    # tied to a training.
    assert trend_texts(bob_week)["active-days"] == ("0", "no change")


def test_lrn012_a_manager_sees_the_classes_registered_to_the_trainings_they_see_her_in(
    server, factory, world
):
    # Two more classes of lea's: C4 registered to T1 (which cm sees through C1, tm as its
    # manager), C5 registered to T3 only (C2's training: neither manager sees lea there).
    lea = world.users["lea"]
    factory.klass("C4", "Managers 2025-2026", members=[lea], trainings=[world.trainings["T1"]])
    factory.klass("C5", "Ateliers", members=[lea], trainings=[world.trainings["T3"]])
    factory.s.commit()
    for manager in ("cm", "tm"):
        with signed_in(server, manager, session=factory.s):
            page = pg("learner").layout(user_id="lea")
            scope = current_scope()
        classes = [text(c) for c in find(page, "learner-classes").children]
        assert classes == ["Équipe commerciale", "Managers 2025-2026"], manager
        # The same names as the class column of the T1 results this manager sees.
        results, _ = training_results(factory.s, scope, Population(training_id="T1", user_id="lea"), TZ)
        assert results["classes"].tolist() == ["Équipe commerciale, Managers 2025-2026"], manager
    with signed_in(server, "lea", session=factory.s):
        page = pg("learner").layout(user_id="lea")
    assert [text(c) for c in find(page, "learner-classes").children] == [
        "Ateliers",
        "Équipe commerciale",
        "Managers 2025-2026",
        "Support client",
    ]


def test_lrn007_reversed_range_says_so(server, factory, world):
    with signed_in(server, "lea", session=factory.s):
        body = pg("learner").update_learner_page(world.today.isoformat(), "2026-01-01", "custom", "lea")
    assert body.id == "learner-range-error"
    assert "is after the end date" in text(body)


def results_rows(client, dash_app, params, key="learner"):
    response = post_callback(
        client,
        dash_app,
        [
            ({"type": "results-body", "table": key}, "children"),
            ({"type": "results-count", "table": key}, "children"),
            ({"type": "results-page", "table": key}, "max_value"),
            ({"type": "results-page", "table": key}, "active_page"),
        ],
        [
            ({"type": "results-search", "table": key}, "value", None),
            ({"type": "results-sort", "table": key}, "value", "training"),
            ({"type": "results-order", "table": key}, "value", "asc"),
            ({"type": "results-page", "table": key}, "active_page", 1),
            ({"type": "results-params", "table": key}, "data", params),
        ],
        [({"type": "results-every-row", "table": key}, "data", False)],
    )
    return response


def lea_params():
    pop = pg("learner").learner_population("lea")
    return {
        "training_id": None,
        "class_id": None,
        "user_id": pop.user_id,
        "learners_only": pop.learners_only,
        "include_self": pop.include_self,
        "mode": "trainings",
    }


@pytest.mark.parametrize(
    ("user", "count"),
    [
        ("lea", "Showing 1–3 of 3 trainings"),
        ("stats", "Showing 1–3 of 3 trainings"),
        ("cm", "Showing 1–2 of 2 trainings"),
        ("tm", "Showing 1–1 of 1 trainings"),
    ],
)
def test_lrn008_trainings_table_through_the_callback_endpoint(client, dash_app, world, user, count):
    assert sign_in(client, f"{user}@example.org").status_code == 302
    response = results_rows(client, dash_app, lea_params())
    assert response.status_code == 200
    assert response_props(response, {"type": "results-count", "table": "learner"})["children"] == count
    body = str(response_props(response, {"type": "results-body", "table": "learner"})["children"])
    expected = {"lea": "123", "stats": "123", "cm": "12", "tm": "1"}[user]
    names = {"1": "Sécurité au travail", "2": "Excel avancé", "3": "Management d'équipe"}
    for digit, name in names.items():
        assert (name in body) == (digit in expected), (user, name)


def test_lrn009_details_expand_in_place_with_module_summary_links(client, dash_app, world):
    sign_in(client, "lea@example.org")
    row = {"type": "results-details", "table": "learner", "row": "lea|T1"}
    body_id = {"type": "results-details-body", "table": "learner", "row": "lea|T1"}
    response = post_callback(
        client,
        dash_app,
        [(row, "is_open"), (body_id, "children")],
        [({"type": "results-details-button", "table": "learner", "row": "lea|T1"}, "n_clicks", 1)],
        [(row, "is_open", False)],
    )
    assert response.status_code == 200
    assert response_props(response, row)["is_open"] is True
    details = str(response_props(response, body_id)["children"])
    assert "/training/T1/learner/lea/module/M1" in details
    assert "/training/T1/learner/lea/module/M2" in details


def test_lrn010_me_opens_the_own_learner_page(server, factory, world):
    with signed_in(server, "lea", session=factory.s):
        redirect = pg("me").layout()
    assert redirect.href == "/learner/lea"


def test_lrn011_navbar_of_a_learner_shows_only_their_page(server, factory, world):
    with signed_in(server, "lea", session=factory.s):
        navbar = build_navbar(current_scope(), "Léa Apprenante")
    links = nav_links(navbar)
    assert [(text(link), link.href) for link in links] == [("My page", "/me")]
    assert not has(navbar, "shell-search")  # nothing else to find
    with signed_in(server, "cm", session=factory.s):
        navbar = build_navbar(current_scope(), "Clément Chef")
    labels = [text(link) for link in nav_links(navbar)]
    assert "Classes" in labels and "Overview" in labels and "My page" not in labels
    assert has(navbar, "shell-search-input")


# ---------------------------------------------------------------------------------------------
# Classes and class pages
# ---------------------------------------------------------------------------------------------


def grid_rows(component, page: str, table: str) -> list[dict]:
    return find(component, {"type": "static-table", "page": page, "table": table}).rowData


def test_cls001_classes_list_in_scope(server, factory, world):
    with signed_in(server, "stats", session=factory.s):
        page = pg("classes").layout()
    rows = grid_rows(page, "classes", "list")
    assert [(r["class"], r["members"], r["trainings"], r["link"]) for r in rows] == [
        ("Direction", 1, 1, "/class/C3"),
        ("Équipe commerciale", 2, 2, "/class/C1"),
        ("Support client", 1, 1, "/class/C2"),
    ]
    with signed_in(server, "cm", session=factory.s):
        page = pg("classes").layout()
    assert [r["class_id"] for r in grid_rows(page, "classes", "list")] == ["C1"]


def test_cls002_class_page_layout_has_one_results_table_per_training(server, factory, world):
    with signed_in(server, "cm", session=factory.s):
        closed = pg("klass").layout(class_id="C1")
        page = pg("klass").layout(class_id="C1", sections="open")
    # Issue 21: the sections open drawn only on demand (or ?sections=open, ?print=1).
    assert not has(closed, "results-class-T1") and not has(closed, "results-class-T2")
    assert has(closed, "class-section-T1") and has(closed, "class-section-T2")
    assert text(find(page, "class-title")) == "Équipe commerciale"
    assert text(find(page, "class-facts")) == "2 members · 2 trainings"
    # Trainings in name order: Excel avancé (T2), Sécurité au travail (T1).
    stores = [
        n.data
        for n in walk(page)
        if isinstance(getattr(n, "id", None), dict) and n.id.get("type") == "results-params"
    ]
    assert [(s["training_id"], s["class_id"], s["mode"]) for s in stores] == [
        ("T2", "C1", "learners"),
        ("T1", "C1", "learners"),
    ]
    assert has(page, "results-class-T1") and has(page, "results-class-T2")


def test_cls003_class_statistics_over_its_members_and_trainings(server, factory, world):
    with signed_in(server, "cm", session=factory.s):
        body = html.Div(
            [
                pg("klass").update_class_page(*last_30_days(world), "C1"),
                pg("klass").update_class_trainings("C1"),
            ]
        )
    assert text(find(body, "class-card-learners-value")) == "2"  # lea and bob
    assert text(find(body, "class-card-trainings-value")) == "2"  # T1 and T2
    assert text(find(body, "class-card-completions-value")) == "1"  # lea's T1 on d-3
    rows = {r["training_id"]: r for r in grid_rows(body, "class", "trainings")}
    assert set(rows) == {"T1", "T2"}
    # T1: lea passed, bob in progress (M1 done, M2 not); T2: lea in progress, bob not started.
    assert (rows["T1"]["learners"], rows["T1"]["completed"], rows["T1"]["in_progress"]) == (2, 1, 1)
    assert (rows["T2"]["learners"], rows["T2"]["completed"], rows["T2"]["in_progress"]) == (2, 0, 1)
    assert rows["T1"]["completion_rate"] == pytest.approx(50.0)
    assert rows["T1"]["link"] == ""  # a class manager does not open training pages
    active = go.Figure(find(body, "class-active-users-graph").figure).data[0]
    # Active members per day: lea on d-10, d-5, d-3, d-2, d-1; bob on d-20.
    assert {
        (world.today - pd.Timestamp(x).date()).days for x, y in zip(active.x, active.y, strict=True) if y
    } == {
        20,
        10,
        5,
        3,
        2,
        1,
    }


def test_cls004_class_results_table_through_the_callback_endpoint(client, dash_app, world):
    sign_in(client, "cm@example.org")
    params = {
        "training_id": "T1",
        "class_id": "C1",
        "user_id": None,
        "learners_only": True,
        "include_self": False,
        "mode": "learners",
    }
    response = results_rows(client, dash_app, params, key="class-T1")
    assert response.status_code == 200
    assert (
        response_props(response, {"type": "results-count", "table": "class-T1"})["children"]
        == "Showing 1–2 of 2 learners"
    )
    body = str(response_props(response, {"type": "results-body", "table": "class-T1"})["children"])
    assert body.index("Apprenante") < body.index("Martin")  # people's order
    assert "/learner/lea" in body and "/learner/bob" in body


def test_cls005_a_class_without_learners_says_so(server, factory, world):
    factory.klass("C9", "Vide", members=[], trainings=[world.trainings["T1"]])
    factory.s.commit()
    with signed_in(server, "stats", session=factory.s):
        body = pg("klass").update_class_page(*last_30_days(world), "C9")
        page = pg("klass").layout(class_id="C9")
    assert body.id == "class-no-learners"
    assert text(find(page, "class-facts")) == "0 members · 1 training"


def test_cls007_a_training_section_opens_with_its_table_and_only_for_the_class_trainings(
    client, dash_app, world
):
    """Issue 21: "Show the learners" builds the training's table through the callback; a
    training the class is not registered to (T3) answers 403."""
    sign_in(client, "cm@example.org")

    def toggle(training_id, expanded="false"):
        button = {"type": "class-section-toggle", "training": training_id}
        return post_callback(
            client,
            dash_app,
            [({"type": "class-section-body", "training": training_id}, "children"), (button, "children"),
             (button, "aria-expanded")],
            [(button, "n_clicks", 1)],
            [(button, "aria-expanded", expanded), ("class-id", "data", "C1")],
        )  # fmt: skip

    opened = toggle("T1")
    assert opened.status_code == 200
    assert response_props(opened, {"type": "class-section-toggle", "training": "T1"}) == {
        "children": "Hide the learners",
        "aria-expanded": "true",
    }
    body = str(response_props(opened, {"type": "class-section-body", "training": "T1"})["children"])
    assert "results-class-T1" in body
    closed = toggle("T1", expanded="true")
    assert response_props(closed, {"type": "class-section-body", "training": "T1"}) == {"children": None}
    assert toggle("T3").status_code == 403


@pytest.mark.parametrize(
    ("user", "linked"),
    [("stats", {"T1", "T2", "T3"}), ("tm", {"T1"}), ("cm", set()), ("lea", set())],
)
def test_lrn013_training_names_link_to_the_pages_the_viewer_may_open(client, dash_app, world, user, linked):
    """Issue 21: on the learner page a training's name opens its page when the viewer may open
    it (a global role, its training manager); a class manager or the learner reads plain names."""
    assert sign_in(client, f"{user}@example.org").status_code == 302
    response = results_rows(client, dash_app, lea_params())
    body = json.dumps(response_props(response, {"type": "results-body", "table": "learner"})["children"])
    found = set(re.findall(r'"href": "/training/(T\d)"', body))
    assert found == linked, (user, found)
    for training_id in linked:
        assert client.get(f"/training/{training_id}").status_code == 200
