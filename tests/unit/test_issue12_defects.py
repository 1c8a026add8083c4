"""Issue 12, the small defects of its last paragraph (the files' ones are tested elsewhere)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from dashboards.components import build_data_table, figures, results
from data.figures import Population
from data.figures.module_summary import answer_state


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


def test_d12_004_unknown_id_is_not_found_for_an_admin_refused_for_others(server, client, factory):
    """A global role sees every id: an unknown one is a 404 "not found" for them, on a full
    page load and on in-app navigation. Anyone else gets 403 for an id that does not exist,
    exactly as for one outside their scope, so that nobody learns which ids exist."""
    import sys

    from tests.conftest import sign_in, sign_out
    from tests.helpers import signed_in

    alpha = factory.training("t-alpha", "Alpha")
    factory.training("t-other", "Other")
    intro = factory.module("m-intro")
    factory.step(alpha, intro)
    lea = factory.user("lea", email="lea@example.org")
    factory.enroll(lea, alpha)
    factory.user("boss", email="boss@example.org", roles=("admin",))
    factory.user("tm", email="tm@example.org", roles=("training_manager:t-alpha",))
    factory.session(alpha, "s-a")
    factory.s.commit()
    unknown = [
        "/training/no-such",
        "/learner/no-such",
        "/class/no-such",
        "/session/no-such",
        "/training/t-alpha/learner/lea/module/no-such",
    ]
    sign_in(client, "boss@example.org")
    for path in unknown:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "_dash-config" in response.get_data(as_text=True)  # the app draws its 404 page
    assert client.get("/training/t-alpha").status_code == 200
    sign_out(client)
    sign_in(client, "tm@example.org")
    for path in ["/training/no-such", "/session/no-such", "/learner/no-such"]:
        assert client.get(path).status_code == 403, path  # as for t-other:
    assert client.get("/training/t-other").status_code == 403
    sign_out(client)
    sign_in(client, "lea@example.org")
    assert client.get("/learner/no-such").status_code == 403
    assert client.get("/learner/boss").status_code == 403

    # In-app navigation draws the same pages.
    training_page = sys.modules["dashboards.pages.training"]
    with signed_in(server, "boss", session=factory.s):
        tree = training_page.layout(training_id="no-such")
    assert getattr(tree, "id", None) == "page-not-found"
    with signed_in(server, "tm", session=factory.s):
        tree = training_page.layout(training_id="no-such")
    assert getattr(tree, "id", None) == "page-forbidden"


def test_d12_005_signing_in_to_an_emailed_file_leaves_no_sign_in_form_on_screen(client, factory):
    """The emailed link, clicked while signed out, goes through the sign-in page; the file then
    downloaded and the filled form stayed on screen. Now the browser lands on a page saying the
    download starts (a meta refresh to the file, no script)."""
    from urllib.parse import parse_qs, urlsplit

    from tests.conftest import sign_out

    factory.user("boss", email="boss@example.org", roles=("admin",))
    factory.s.commit()
    link = "/exports/opco-logs/some.signed-token"
    to_login = client.get(link)
    assert to_login.status_code == 302 and "/login?next=" in to_login.headers["Location"]
    page = client.get(to_login.headers["Location"]).get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    signed = client.post(
        to_login.headers["Location"],
        data={"email": "boss@example.org", "password": "password123", "csrf_token": token},
    )
    assert signed.status_code == 302
    location = urlsplit(signed.headers["Location"])
    assert location.path == "/login/download" and parse_qs(location.query) == {"next": [link]}
    landing = client.get(signed.headers["Location"])
    html = landing.get_data(as_text=True)
    assert landing.status_code == 200
    assert f'<meta http-equiv="refresh" content="0; url={link}">' in html
    assert f'href="{link}"' in html and 'id="signin-form"' not in html and "<script" not in html
    # Pages are not files: straight there; and no open redirect through the landing page.
    assert client.get("/login/download?next=/training/x").headers["Location"] == "/training/x"
    assert client.get("/login/download?next=//evil.example/exports/x").headers["Location"] == "/"
    sign_out(client)
    page = client.get("/login?next=/training/x").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    signed = client.post(
        "/login?next=/training/x",
        data={"email": "boss@example.org", "password": "password123", "csrf_token": token},
    )
    assert signed.headers["Location"] == "/training/x"
