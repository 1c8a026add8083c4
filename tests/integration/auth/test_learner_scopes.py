"""SPEC §6 for the learner, classes and class pages (issue 4 point 4), rule by rule:

    learner          their own page and own module summaries; nothing else
    class manager    their class, its members' pages limited to the class's trainings, the
                     global page filtered to them
    training manager a learner's page limited to their trainings
    anything else    403: full page loads, in-app navigation (the layout), callbacks sent by
                     hand with another id, and downloads

The platform is tests/learner_world.py; requests go through the real Flask app.
"""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from tests.conftest import sign_in, sign_out
from tests.helpers import served_page, signed_in
from tests.learner_world import build_world, post_callback, response_props

SUMMARY = "/training/{t}/learner/{u}/module/{m}"


@pytest.fixture
def world(factory):
    return build_world(factory)


def pg(name: str):
    return served_page(name)


def is_forbidden(component) -> bool:
    return getattr(component, "id", None) == "page-forbidden"


def status(client, path: str) -> int:
    return client.get(path).status_code


# ---------------------------------------------------------------------------------------------
# Full page loads (the Flask guard asks each page's access function)
# ---------------------------------------------------------------------------------------------

PAGE_LOADS = {
    "lea": {
        "/learner/lea": 200,
        "/me": 200,
        "/": 200,  # the overview sends her to her page
        SUMMARY.format(t="T1", u="lea", m="M1"): 200,
        SUMMARY.format(t="T3", u="lea", m="M4"): 200,
        "/learner/bob": 403,
        "/learner/nobody": 403,
        SUMMARY.format(t="T1", u="bob", m="M1"): 403,
        "/classes": 403,
        "/class/C1": 403,
        "/training/T1": 403,
    },
    "cm": {
        "/classes": 200,
        "/class/C1": 200,
        "/learner/lea": 200,
        "/learner/bob": 200,
        SUMMARY.format(t="T1", u="lea", m="M1"): 200,
        "/class/C2": 403,
        "/class/C3": 403,
        "/class/nope": 403,
        "/learner/zoe": 403,
        SUMMARY.format(t="T3", u="lea", m="M4"): 403,  # T3 is not C1's training
        "/training/T1": 403,
    },
    "tm": {
        "/learner/lea": 200,
        "/learner/bob": 200,
        SUMMARY.format(t="T1", u="lea", m="M2"): 200,
        "/learner/zoe": 403,
        SUMMARY.format(t="T3", u="lea", m="M4"): 403,
        "/classes": 403,
        "/class/C1": 403,
    },
    "stats": {
        "/classes": 200,
        "/class/C1": 200,
        "/class/C2": 200,
        "/class/C3": 200,
        "/learner/lea": 200,
        "/learner/zoe": 200,
        "/learner/tm": 200,
        # A global role sees every id: an unknown one is not found (issue 12).
        "/learner/nobody": 404,
        "/class/nope": 404,
    },
}


@pytest.mark.parametrize("user", sorted(PAGE_LOADS))
def test_acc001_full_page_loads(client, world, user):
    assert sign_in(client, f"{user}@example.org").status_code == 302
    got = {path: status(client, path) for path in PAGE_LOADS[user]}
    assert got == PAGE_LOADS[user]


def test_acc002_refused_page_load_shows_the_403_page(client, world):
    sign_in(client, "lea@example.org")
    response = client.get("/learner/bob")
    assert response.status_code == 403
    assert "_dash-app-content" in response.get_data(as_text=True) or "react-entry-point" in response.get_data(
        as_text=True
    )


# ---------------------------------------------------------------------------------------------
# In-app navigation: the layouts check the scope themselves
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "module", "kwargs", "refused"),
    [
        ("lea", "learner", {"user_id": "lea"}, False),
        ("lea", "learner", {"user_id": "bob"}, True),
        ("lea", "classes", {}, True),
        ("lea", "klass", {"class_id": "C1"}, True),
        ("cm", "klass", {"class_id": "C1"}, False),
        ("cm", "klass", {"class_id": "C2"}, True),
        ("cm", "learner", {"user_id": "bob"}, False),
        ("cm", "learner", {"user_id": "zoe"}, True),
        ("tm", "learner", {"user_id": "bob"}, False),
        ("tm", "learner", {"user_id": "zoe"}, True),
        ("tm", "classes", {}, True),
        ("tm", "klass", {"class_id": "C1"}, True),
    ],
)
def test_acc003_layouts_refuse_outside_the_scope(server, factory, world, user, module, kwargs, refused):
    with signed_in(server, user, session=factory.s):
        component = pg(module).layout(**kwargs)
    assert is_forbidden(component) == refused


def test_acc004_learner_without_role_sees_only_own_pages_in_the_overview_redirect(server, factory, world):
    with signed_in(server, "lea", session=factory.s):
        redirect = pg("overview").layout()
    assert redirect.href == "/learner/lea"


# ---------------------------------------------------------------------------------------------
# The global page filtered to the class manager (and to the training manager)
# ---------------------------------------------------------------------------------------------


def overview_trainings(server, factory, world, user) -> list[str]:
    start = (world.today - timedelta(days=29)).isoformat()
    with signed_in(server, user, session=factory.s):
        pg("overview").update_overview(
            start_date=start, end_date=world.today.isoformat(), preset="last_30_days"
        )
        body = pg("overview").update_overview_trainings(True)
    stack = [body]
    while stack:
        node = stack.pop()
        if getattr(node, "id", None) == {"type": "static-table", "page": "overview", "table": "trainings"}:
            return sorted(row["training_id"] for row in node.rowData)
        children = getattr(node, "children", None)
        stack.extend(
            children if isinstance(children, (list, tuple)) else [children] if children is not None else []
        )
    raise AssertionError("no trainings table")


def test_acc005_global_page_filtered_to_the_class_manager(server, factory, world):
    assert overview_trainings(server, factory, world, "cm") == ["T1", "T2"]
    assert overview_trainings(server, factory, world, "tm") == ["T1"]
    assert overview_trainings(server, factory, world, "stats") == ["T1", "T2", "T3", "T4"]


# ---------------------------------------------------------------------------------------------
# Callbacks sent by hand with someone else's id, and downloads
# ---------------------------------------------------------------------------------------------

LEARNER_RANGE = [
    ({"type": "date-range", "page": "learner"}, "start_date", "2026-01-01"),
    ({"type": "date-range", "page": "learner"}, "end_date", "2026-01-31"),
]


def learner_body(client, dash_app, user_id):
    return post_callback(
        client,
        dash_app,
        [("learner-body", "children")],
        LEARNER_RANGE,
        [({"type": "date-preset", "page": "learner"}, "value", "custom"), ("learner-id", "data", user_id)],
    )


def learner_trends(client, dash_app, user_id):
    return post_callback(
        client,
        dash_app,
        [("learner-trends", "children")],
        [("learner-trend-period", "value", 7)],
        [("learner-id", "data", user_id)],
    )


def class_body(client, dash_app, class_id):
    return post_callback(
        client,
        dash_app,
        [("class-body", "children")],
        [
            ({"type": "date-range", "page": "class"}, "start_date", "2026-01-01"),
            ({"type": "date-range", "page": "class"}, "end_date", "2026-01-31"),
        ],
        [({"type": "date-preset", "page": "class"}, "value", "custom"), ("class-id", "data", class_id)],
    )


def params(**kwargs) -> dict:
    base = {
        "training_id": None,
        "class_id": None,
        "user_id": None,
        "learners_only": True,
        "include_self": False,
        "mode": "learners",
    }
    base.update(kwargs)
    return base


def results_table(client, dash_app, key, table_params):
    return post_callback(
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
            ({"type": "results-sort", "table": key}, "value", "learner"),
            ({"type": "results-order", "table": key}, "value", "asc"),
            ({"type": "results-page", "table": key}, "active_page", 1),
            ({"type": "results-params", "table": key}, "data", table_params),
        ],
        [({"type": "results-every-row", "table": key}, "data", False)],
    )


def download(client, dash_app, key, table_params):
    return post_callback(
        client,
        dash_app,
        [
            ({"type": "results-download", "table": key}, "data"),
            ({"type": "results-message", "table": key}, "children"),
        ],
        [
            ({"type": "results-download-csv", "table": key}, "n_clicks", 1),
            ({"type": "results-download-xlsx", "table": key}, "n_clicks", None),
        ],
        [
            ({"type": "results-params", "table": key}, "data", table_params),
            ({"type": "results-search", "table": key}, "value", None),
            ({"type": "results-sort", "table": key}, "value", "training"),
            ({"type": "results-order", "table": key}, "value", "asc"),
        ],
    )


def details(client, dash_app, key, row):
    ids = {
        kind: {"type": kind, "table": key, "row": row} for kind in ("results-details", "results-details-body")
    }
    return post_callback(
        client,
        dash_app,
        [(ids["results-details"], "is_open"), (ids["results-details-body"], "children")],
        [({"type": "results-details-button", "table": key, "row": row}, "n_clicks", 1)],
        [(ids["results-details"], "is_open", False)],
    )


LEA_PAGE = params(user_id="lea", learners_only=False, include_self=True, mode="trainings")
ZOE_PAGE = params(user_id="zoe", learners_only=False, include_self=True, mode="trainings")


def test_acc006_learner_forging_another_learners_ids(client, dash_app, world):
    sign_in(client, "lea@example.org")
    assert learner_body(client, dash_app, "lea").status_code == 200
    assert learner_trends(client, dash_app, "lea").status_code == 200
    assert learner_body(client, dash_app, "bob").status_code == 403
    assert learner_trends(client, dash_app, "bob").status_code == 403
    assert learner_body(client, dash_app, None).status_code == 403
    bob_page = params(user_id="bob", learners_only=False, include_self=True, mode="trainings")
    assert results_table(client, dash_app, "learner", bob_page).status_code == 403
    assert download(client, dash_app, "learner", bob_page).status_code == 403
    assert details(client, dash_app, "learner", "bob|T1").status_code == 403
    assert class_body(client, dash_app, "C1").status_code == 403
    assert (
        results_table(client, dash_app, "class-T1", params(training_id="T1", class_id="C1")).status_code
        == 403
    )
    # Her own download is a CSV of her three trainings.
    response = download(client, dash_app, "learner", LEA_PAGE)
    assert response.status_code == 200
    data = response_props(response, {"type": "results-download", "table": "learner"})["data"]
    assert data["filename"] == "results-learner-lea.csv"


def test_acc007_class_manager_forging_another_class(client, dash_app, world):
    sign_in(client, "cm@example.org")
    assert class_body(client, dash_app, "C1").status_code == 200
    assert class_body(client, dash_app, "C2").status_code == 403
    assert class_body(client, dash_app, "nope").status_code == 403
    assert (
        results_table(client, dash_app, "class-T1", params(training_id="T1", class_id="C1")).status_code
        == 200
    )
    assert (
        results_table(client, dash_app, "class-T3", params(training_id="T3", class_id="C2")).status_code
        == 403
    )
    # C1's class with a training it is not registered to.
    assert (
        results_table(client, dash_app, "class-T3", params(training_id="T3", class_id="C1")).status_code
        == 403
    )
    assert download(client, dash_app, "class-T3", params(training_id="T3", class_id="C2")).status_code == 403
    # A member's page: allowed, limited to C1's trainings; her T3 details are refused.
    assert learner_body(client, dash_app, "lea").status_code == 200
    assert details(client, dash_app, "learner", "lea|T1").status_code == 200
    assert details(client, dash_app, "learner", "lea|T3").status_code == 403
    # Someone outside the class.
    assert learner_body(client, dash_app, "zoe").status_code == 403
    assert results_table(client, dash_app, "learner", ZOE_PAGE).status_code == 403
    assert download(client, dash_app, "learner", ZOE_PAGE).status_code == 403


def test_acc008_training_manager_forging_a_learner_outside_their_training(client, dash_app, world):
    sign_in(client, "tm@example.org")
    assert learner_body(client, dash_app, "lea").status_code == 200
    assert details(client, dash_app, "learner", "lea|T1").status_code == 200
    assert details(client, dash_app, "learner", "lea|T2").status_code == 403
    assert learner_body(client, dash_app, "zoe").status_code == 403
    assert learner_trends(client, dash_app, "zoe").status_code == 403
    assert results_table(client, dash_app, "learner", ZOE_PAGE).status_code == 403
    assert class_body(client, dash_app, "C1").status_code == 403
    # The downloaded trainings of lea hold T1 only.
    response = download(client, dash_app, "learner", LEA_PAGE)
    assert response.status_code == 200
    data = response_props(response, {"type": "results-download", "table": "learner"})["data"]
    content = base64.b64decode(data["content"]).decode("utf-8") if data.get("base64") else data["content"]
    lines = [line for line in content.splitlines() if line]
    assert len(lines) == 2 and lines[1].startswith("Sécurité au travail,")


def class_trainings(client, dash_app, class_id):
    return post_callback(
        client, dash_app, [("class-trainings", "children")], [("class-id", "data", class_id)], []
    )


def overview_trainings_request(client, dash_app):
    return post_callback(
        client,
        dash_app,
        [("overview-trainings", "children")],
        [("overview-trainings-load", "data", True)],
        [],
    )


def test_acc020_the_trainings_blocks_check_the_viewer_too(client, dash_app, world):
    sign_in(client, "cm@example.org")
    assert class_trainings(client, dash_app, "C1").status_code == 200
    assert class_trainings(client, dash_app, "C2").status_code == 403
    assert class_trainings(client, dash_app, "nope").status_code == 403
    assert overview_trainings_request(client, dash_app).status_code == 200
    sign_out(client)
    sign_in(client, "lea@example.org")
    assert class_trainings(client, dash_app, "C1").status_code == 403
    assert overview_trainings_request(client, dash_app).status_code == 403
