"""The sessions pages (SPEC §5 "Sessions", issue 5 point 1): figures by hand, layouts, callbacks,
access for each role, and forged callback requests."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dash import no_update

from auth.roles import load_scope
from data.figures.sessions import session_statistics, sessions_table
from data.models import SessionLearner, Training
from data.scope import Forbidden
from tests.conftest import sign_in, sign_out
from tests.helpers import served_page, signed_in
from tests.opco_world import ACCOUNTS, build_world

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def world(dash_app, factory):
    build_world(factory)
    return dash_app


def page(name: str):
    return served_page(name)


def scope_of(factory, user_id):
    return load_scope(factory.s, user_id)


def find(component, component_id):
    """The component with that id inside a Dash component tree (None when absent)."""
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    if children is None:
        return None
    for child in children if isinstance(children, (list, tuple)) else [children]:
        found = find(child, component_id)
        if found is not None:
            return found
    return None


def text_of(component) -> str:
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    children = getattr(component, "children", None)
    if isinstance(children, (list, tuple)):
        return "".join(text_of(c) for c in children)
    return text_of(children)


# -- figures ---------------------------------------------------------------------------------


def test_ses001_session_statistics_by_hand(world, factory):
    stats = session_statistics(factory.s, scope_of(factory, "stat"), "s-a", PARIS, today=date(2026, 11, 24))
    assert (stats.registered, stats.played, stats.completed) == (4, 4, 2)
    assert stats.median_time_spent == pytest.approx(4050.0)
    assert stats.average_score == pytest.approx(35.0)
    rows = stats.learners.to_dict("records")
    assert [r["user_id"] for r in rows] == ["eve", "bob", "chloe", "alice", "dan"]
    by_id = {r["user_id"]: r for r in rows}
    assert [by_id[u]["registered"] for u in ("eve", "bob", "chloe", "alice", "dan")] == [True] * 4 + [False]
    assert by_id["alice"]["connections"] == 2
    assert by_id["alice"]["time_spent"] == pytest.approx(
        5400.0
    )  # the hour outside the session is not counted
    assert by_id["alice"]["first_connection"] == datetime(2026, 3, 2, 9, 0, tzinfo=PARIS)
    # 30 March 12:30 UTC is 14:30 in Paris (summer time since the 29th).
    assert by_id["alice"]["last_connection"] == datetime(2026, 3, 30, 14, 30, tzinfo=PARIS)
    assert (by_id["alice"]["status"], by_id["alice"]["score"], by_id["alice"]["progress"]) == (
        "passed",
        80.0,
        100.0,
    )
    assert by_id["alice"]["completed_on"] == date(2026, 3, 30)
    assert (by_id["bob"]["status"], by_id["bob"]["score"], by_id["bob"]["progress"]) == (
        "in progress",
        25.0,
        50.0,
    )
    assert (by_id["dan"]["status"], by_id["dan"]["score"]) == ("failed", 70.0)
    assert (by_id["chloe"]["status"], by_id["chloe"]["connections"], by_id["chloe"]["time_spent"]) == (
        "not started",
        0,
        0.0,
    )
    assert by_id["chloe"]["first_connection"] is None
    assert (by_id["eve"]["status"], by_id["eve"]["time_spent"]) == ("not started", 600.0)


def test_ses002_session_statistics_odd_median_and_not_enrolled(world, factory):
    """s-m: one player (median = their time); a registered learner not enrolled in the training."""
    outsider = factory.user("zoe", first="Zoé", last="Zed", email="zoe@example.org")
    factory.s.add(SessionLearner(session_id="s-m", user_id=outsider.id))
    factory.s.commit()
    stats = session_statistics(factory.s, scope_of(factory, "tm"), "s-m", PARIS)
    assert (stats.registered, stats.played, stats.completed) == (2, 1, 0)
    assert stats.median_time_spent == pytest.approx(3600.0)
    assert stats.average_score == pytest.approx(0.0)  # Frank, not started; Zoé has no result
    zoe = stats.learners.set_index("user_id").loc["zoe"]
    assert zoe["status"] == "not enrolled" and zoe["score"] is None


def test_ses003_session_without_players_has_no_median(world, factory):
    stats = session_statistics(factory.s, scope_of(factory, "stat"), "s-b", PARIS)
    assert (stats.registered, stats.played, stats.median_time_spent) == (1, 0, None)


def test_ses004_statistics_refuse_sessions_outside_the_scope(world, factory):
    for user_id, session_id in (
        ("inst", "s-m"),
        ("inst", "s-b"),
        ("tm", "s-a"),
        ("lea", "s-a"),
        ("cm", "s-a"),
    ):
        with pytest.raises(Forbidden):
            session_statistics(factory.s, scope_of(factory, user_id), session_id, PARIS)
    with pytest.raises(Forbidden):
        session_statistics(factory.s, scope_of(factory, "stat"), "no-such-session", PARIS)


def test_ses005_sessions_table_per_scope_and_order(world, factory):
    table = sessions_table(factory.s, scope_of(factory, "stat"), PARIS)
    assert list(table["session_id"]) == ["s-b", "s-m", "s-a"]  # most recent start first
    row = table.set_index("session_id").loc["s-a"]
    # Learners = registered or played (Dan played without being registered): 4 + Dan = 5.
    assert (row["training"], row["learners"], row["played"]) == ("Sécurité, niveau 1", 5, 4)
    assert row["starts_at"] == datetime(2026, 3, 1, 9, 0, tzinfo=PARIS)
    assert row["ends_at"] == datetime(2026, 3, 31, 18, 0, tzinfo=PARIS)
    assert table.set_index("session_id").loc["s-b", "played"] == 0
    assert list(sessions_table(factory.s, scope_of(factory, "inst"), PARIS)["session_id"]) == ["s-a"]
    assert list(sessions_table(factory.s, scope_of(factory, "tm"), PARIS)["session_id"]) == ["s-m"]
    assert sessions_table(factory.s, scope_of(factory, "lea"), PARIS).empty
    assert sessions_table(factory.s, scope_of(factory, "cm"), PARIS).empty


def test_ses005b_sessions_list_and_session_page_count_the_same_learners(world, factory):
    """docs/decisions.md: a session's learners are those registered plus anyone who played;
    the list's Learners column is the number of rows of the session page's learner table."""
    outsider = factory.user("zoe", first="Zoé", last="Zed", email="zoe@example.org")
    factory.s.add(SessionLearner(session_id="s-m", user_id=outsider.id))
    factory.s.commit()
    scope = scope_of(factory, "stat")
    table = sessions_table(factory.s, scope, PARIS).set_index("session_id")
    for session_id in ("s-a", "s-m", "s-b"):
        stats = session_statistics(factory.s, scope, session_id, PARIS)
        row = table.loc[session_id]
        assert row["learners"] == len(stats.learners), session_id
        assert row["played"] == stats.played <= row["learners"]
    assert list(table.loc[["s-a", "s-m", "s-b"], "learners"]) == [5, 2, 1]


def test_ses006_sessions_table_keeps_sessions_meeting_the_range(world, factory):
    scope = scope_of(factory, "stat")
    june = sessions_table(factory.s, scope, PARIS, date(2026, 6, 1), date(2026, 6, 30))
    assert list(june["session_id"]) == ["s-b"]
    # 31 March: s-a ends that day (18:00 Paris); s-m has not started.
    assert list(
        sessions_table(factory.s, scope, PARIS, date(2026, 3, 31), date(2026, 3, 31))["session_id"]
    ) == ["s-a"]
    assert list(
        sessions_table(factory.s, scope, PARIS, date(2026, 4, 1), date(2026, 5, 31))["session_id"]
    ) == ["s-m"]


# -- pages -----------------------------------------------------------------------------------


def test_ses007_full_page_loads_for_each_role(world, client):
    expected = {
        "stat": {"/sessions": 200, "/session/s-a": 200, "/session/s-m": 200},
        "inst": {"/sessions": 200, "/session/s-a": 200, "/session/s-m": 403, "/session/s-b": 403},
        "tm": {"/sessions": 200, "/session/s-m": 200, "/session/s-a": 403},
        "cm": {"/sessions": 403, "/session/s-a": 403},
        "lea": {"/sessions": 403, "/session/s-a": 403},
    }
    for user_id, paths in expected.items():
        sign_out(client)
        assert sign_in(client, ACCOUNTS[user_id]).status_code == 302
        for path, status in paths.items():
            assert client.get(path).status_code == status, (user_id, path)
    sign_out(client)
    assert sign_in(client, ACCOUNTS["stat"]).status_code == 302
    # Issue 12: a global role sees every session, so an unknown one is "not found"...
    assert client.get("/session/no-such-session").status_code == 404
    sign_out(client)
    assert sign_in(client, ACCOUNTS["inst"]).status_code == 302
    # ...while for an instructor it is refused like another's session (ids cannot be probed).
    assert client.get("/session/no-such-session").status_code == 403


def test_ses008_navbar_shows_sessions_to_those_who_may_open_it(world, factory):
    from dashboards.components.shell import build_navbar

    def labels(user_id):
        navbar = build_navbar(scope_of(factory, user_id), "x")
        nav = find(navbar, "shell-nav")
        return [text_of(item) for item in nav.children]

    assert "Sessions" in labels("stat")
    assert "Sessions" in labels("inst")
    assert "Sessions" in labels("tm")
    assert "Sessions" not in labels("cm")
    assert "Sessions" not in labels("lea")


def test_ses009_session_page_layout_and_body(world, server):
    with signed_in(server, "inst", "/session/s-a"):
        layout = page("session").layout(session_id="s-a")
        assert text_of(find(layout, "session-title")) == "Printemps 2026"
        facts = text_of(find(layout, "session-facts"))
        assert "01/03/2026 09:00 → 31/03/2026 18:00" in facts and "Sécurité, niveau 1" in facts
        assert find(layout, "opco-open-button") is not None
        assert find(layout, "opco-preset").data == {"session_ids": ["s-a"]}
        body = page("session").update_session("s-a")
    values = {
        slug: text_of(find(body, f"session-card-{slug}-value"))
        for slug in (
            "registered-learners",
            "learners-who-played",
            "completed",
            "median-time-spent",
            "average-score",
        )
    }
    assert values == {
        "registered-learners": "4",
        "learners-who-played": "4",
        "completed": "2",
        "median-time-spent": "1 h 08 min",
        "average-score": "35.0\u00a0%",
    }
    grid = find(body, {"type": "static-table", "page": "session", "table": "learners"})
    rows = grid.rowData
    assert [r["learner"] for r in rows] == [
        "Bernard Ève",
        "Durand Bob",
        "Ézard Chloé",
        "Martin Alice",
        "Œuvray Dan",
    ]
    assert [r["registered_text"] for r in rows] == ["Yes", "Yes", "Yes", "Yes", "No"]
    assert rows[3]["first"] == "2026-03-02 09:00" and rows[3]["completed_on"] == "2026-03-30"


def test_ses010_session_callback_refuses_other_sessions(world, server):
    with signed_in(server, "inst"):
        for forged in ("s-m", "s-b", "no-such", None, ["s-a"]):
            with pytest.raises(Forbidden):
                page("session").update_session(forged)
    with signed_in(server, "lea"), pytest.raises(Forbidden):
        page("session").update_session("s-a")


def test_ses011_sessions_page_layout_and_callback(world, server):
    with signed_in(server, "stat", "/sessions"):
        layout = page("sessions").layout()
        preset = find(layout, {"type": "date-preset", "page": "sessions"})
        assert preset.value == "all_time"
        assert find(layout, "opco-preset").data == {"session_ids": []}
        body = page("sessions").update_sessions("2026-01-01", "2026-12-31", "custom")
        rows = find(body, {"type": "static-table", "page": "sessions", "table": "sessions"}).rowData
        assert [(r["session_id"], r["starts"], r["learners"], r["played"], r["link"]) for r in rows] == [
            ("s-b", "2026-06-01 09:00", 1, 0, "/session/s-b"),
            ("s-m", "2026-04-01 09:00", 1, 1, "/session/s-m"),
            ("s-a", "2026-03-01 09:00", 5, 4, "/session/s-a"),
        ]
        june = page("sessions").update_sessions("2026-06-01", "2026-06-30", "custom")
        assert [
            r["session_id"]
            for r in find(june, {"type": "static-table", "page": "sessions", "table": "sessions"}).rowData
        ] == ["s-b"]
        empty = page("sessions").update_sessions("2025-01-01", "2025-01-31", "custom")
        assert find(empty, "sessions-empty") is not None
        reversed_range = page("sessions").update_sessions("2026-02-01", "2026-01-01", "custom")
        assert "after the end date" in text_of(reversed_range)
    with signed_in(server, "inst", "/sessions"):
        body = page("sessions").update_sessions("2020-01-01", "2030-12-31", "custom")
        rows = find(body, {"type": "static-table", "page": "sessions", "table": "sessions"}).rowData
        assert [r["session_id"] for r in rows] == ["s-a"]
    for user_id in ("lea", "cm"):
        with signed_in(server, user_id), pytest.raises(Forbidden):
            page("sessions").update_sessions("2026-01-01", "2026-12-31", "custom")


def test_ses012_export_button_only_for_those_who_may_export(world, server):
    with signed_in(server, "stat", "/"):
        assert find(page("overview").layout(), "opco-open-button") is not None
    with signed_in(server, "tm", "/"):
        assert find(page("overview").layout(), "opco-open-button") is not None
    with signed_in(server, "cm", "/"):
        assert find(page("overview").layout(), "opco-open-button") is None


def _post(client, body):
    return client.post("/_dash-update-component", json=body)


def test_ses013_forged_callback_request_for_another_session_answers_403(world, client):

    def body(session_id):
        return {
            "output": key,
            "outputs": {"id": "session-body", "property": "children"},
            "inputs": [{"id": "session-id", "property": "data", "value": session_id}],
            "state": [],
            "changedPropIds": ["session-id.data"],
        }

    assert sign_in(client, ACCOUNTS["inst"]).status_code == 302
    assert client.get("/_dash-dependencies").status_code == 200  # the app takes the pages' callbacks
    key = next(k for k in world.callback_map if "session-body.children" in k)
    allowed = _post(client, body("s-a"))
    assert allowed.status_code == 200, allowed.get_data(as_text=True)
    assert json.loads(allowed.get_data(as_text=True))["response"]["session-body"]["children"]
    refused = _post(client, body("s-m"))
    assert refused.status_code == 403


def test_ses020_a_long_sessions_list_is_paged_on_the_server(world, server, monkeypatch):
    sessions = page("sessions")
    monkeypatch.setattr(sessions, "PAGED_ABOVE", 1)  # the world's 3 sessions count as many
    with signed_in(server, "stat", "/sessions"):
        body = sessions.update_sessions("2026-01-01", "2026-12-31", "custom")
        grid = find(body, "sessions-sessions-grid")
        assert grid.rowModelType == "infinite" and not getattr(grid, "rowData", None)
        stored = find(body, "sessions-range").data
        assert stored == {"start": "2026-01-01", "end": "2026-12-31"}
        first = sessions.sessions_rows({"startRow": 0, "endRow": 2}, None, stored)
        assert first["rowCount"] == 3
        assert [r["session_id"] for r in first["rowData"]] == ["s-b", "s-m"]  # newest start first
        assert first["rowData"][0]["link"] == "/session/s-b"
        rest = sessions.sessions_rows({"startRow": 2, "endRow": 4}, None, stored)
        assert [r["session_id"] for r in rest["rowData"]] == ["s-a"]
        by_learners = sessions.sessions_rows(
            {"startRow": 0, "endRow": 50, "sortModel": [{"colId": "learners", "sort": "desc"}]}, None, stored
        )
        assert [(r["session_id"], r["learners"]) for r in by_learners["rowData"]] == [
            ("s-a", 5),
            ("s-b", 1),
            ("s-m", 1),
        ]
        june = sessions.sessions_rows(
            {"startRow": 0, "endRow": 50}, None, {"start": "2026-06-01", "end": "2026-06-30"}
        )
        assert [r["session_id"] for r in june["rowData"]] == ["s-b"]
        found = sessions.sessions_rows({"startRow": 0, "endRow": 50}, "s-m", stored)
        assert [r["session_id"] for r in found["rowData"]] == ["s-m"] and found["rowCount"] == 1
        # The download follows the sort on screen (the grid's last request) and the search
        # (issue 12 point 4); a search matching nothing gives a message, not a lone header.
        request = {"startRow": 0, "endRow": 50, "sortModel": [{"colId": "learners", "sort": "desc"}]}
        sent, message = sessions.sessions_file("csv", None, stored, request)
        lines = base64.b64decode(sent["content"]).decode("utf-8-sig").split("\r\n")
        assert message is None and lines[0].split(",")[-1] == "Session ID"
        assert [line.split(",")[-1] for line in lines[1:4]] == ["s-a", "s-b", "s-m"]
        sent, message = sessions.sessions_file("csv", "no such session", stored, request)
        assert sent is no_update and "nothing to download" in message
    with signed_in(server, "inst", "/sessions"):
        mine = sessions.sessions_rows({"startRow": 0, "endRow": 50}, None, {"start": None, "end": None})
        assert [r["session_id"] for r in mine["rowData"]] == ["s-a"]
    for user_id in ("lea", "cm"):
        with signed_in(server, user_id), pytest.raises(Forbidden):
            sessions.sessions_rows({"startRow": 0, "endRow": 50}, None, stored)


def test_ses030_the_paged_sessions_list_answers_through_dash(world, dash_app, client, monkeypatch):
    """The grid's getRowsRequest as the browser sends it: the registered callback, not only the
    function (a decorator once sat on the wrong function and every block answered 500)."""
    from tests.learner_world import post_callback

    monkeypatch.setattr(page("sessions"), "PAGED_ABOVE", 1)
    sign_in(client, ACCOUNTS["stat"])
    response = post_callback(
        client,
        dash_app,
        [("sessions-sessions-grid", "getRowsResponse")],
        [("sessions-sessions-grid", "getRowsRequest", {"startRow": 0, "endRow": 2})],
        [
            ("sessions-sessions-search", "value", None),
            ("sessions-range", "data", {"start": None, "end": None}),
        ],
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    rows = response.get_json()["response"]["sessions-sessions-grid"]["getRowsResponse"]
    assert rows["rowCount"] == 3 and len(rows["rowData"]) == 2


def test_ses031_a_forged_range_in_year_9999_is_refused_not_a_500(world, server):
    """Issue 23 point 7: the page stores only checked ranges; a forged one outside 1900-2100
    (year 9999 overflowed into a bare 500) is refused like any forged request."""
    sessions = page("sessions")
    with signed_in(server, "stat", "/sessions"):
        for stored in (
            {"start": "9999-12-30", "end": "9999-12-31"},
            {"start": "0001-01-01", "end": "2026-01-01"},
        ):
            with pytest.raises(Forbidden):
                sessions.sessions_rows({"startRow": 0, "endRow": 50}, None, stored)
        fine = sessions.sessions_rows(
            {"startRow": 0, "endRow": 50}, None, {"start": "2100-12-30", "end": "2100-12-31"}
        )
        assert fine["rowCount"] == 0


def test_ses032_an_empty_session_says_was_once_over_and_yet_before(world, server, factory):
    """Issue 21: "Nobody is registered to this session yet" on a session that has ended read as
    if registrations were still to come."""
    training = factory.s.get(Training, "t-sec")
    factory.session(training, "s-past", ends="2026-02-01 18:00")
    factory.session(training, "s-future", starts="2999-01-01 08:00", ends="2999-02-01 18:00")
    factory.session(training, "s-open", starts="2026-01-01 08:00", ends=None)
    factory.s.commit()
    with signed_in(server, "stat"):
        sentences = {
            session_id: text_of(find(page("session").update_session(session_id), "session-no-learners"))
            for session_id in ("s-past", "s-future", "s-open")
        }
    assert sentences == {
        "s-past": "Nobody was registered to this session.",
        "s-future": "Nobody is registered to this session yet.",
        "s-open": "Nobody is registered to this session yet.",
    }


def test_ses033_learner_names_link_only_for_a_viewer_who_may_open_their_page(world, server, factory):
    """Issue 21: on the session page a learner's name opens their page when the viewer may open
    it (a statistics manager: every name); a session instructor, who has no learner pages, reads
    plain names (the link column empty), and the page refuses them the learner anyway."""
    with signed_in(server, "stat", "/session/s-a"):
        body = page("session").update_session("s-a")
    rows = find(body, {"type": "static-table", "page": "session", "table": "learners"}).rowData
    assert rows and all(r["learner_link"] == f"/learner/{r['user_id']}" for r in rows)
    with signed_in(server, "inst", "/session/s-a"):
        body = page("session").update_session("s-a")
        rows = find(body, {"type": "static-table", "page": "session", "table": "learners"}).rowData
        assert rows and all(r["learner_link"] is None for r in rows)
    assert not page("learner").can_open(scope_of(factory, "inst"), factory.s, user_id=rows[0]["user_id"])


def test_ses034_all_time_covers_every_session_listed_planned_ones_included(world, server, factory):
    """Issue 21 point 4: "All time" showed 22/12/2025 → today but listed sessions planned after
    today. The range now runs from the first session's start to the latest start or end when
    that is after today; choosing the preset again gives the same dates, and the list under
    them still holds every session (planned and undated ones too)."""
    from dashboards.components.date_filter import dates_for_preset, range_from_inputs
    from data.figures.days import today_in

    today = today_in(PARIS)
    planned_end = today + timedelta(days=21)
    training = factory.s.get(Training, "t-sec")
    factory.session(
        training,
        "s-next",
        name="Planned",
        starts=f"{today + timedelta(days=20)} 08:00",
        ends=f"{planned_end} 16:00",
    )
    factory.session(training, "s-undated", name="Undated", starts=None, ends=None)
    factory.s.commit()
    with signed_in(server, "stat", "/sessions"):
        layout = page("sessions").layout()
        picker = find(layout, {"type": "date-range", "page": "sessions"})
        bounds = find(layout, {"type": "date-range-bounds", "page": "sessions"}).data
        assert (picker.start_date, picker.end_date) == ("2026-03-01", planned_end.isoformat())
        assert dates_for_preset("all_time", bounds, today)[:2] == ("2026-03-01", planned_end.isoformat())
        rng, message = range_from_inputs("all_time", picker.start_date, picker.end_date, today)
        assert message is None and rng.preset == "all_time"  # not turned into "custom"
        body = page("sessions").update_sessions(picker.start_date, picker.end_date, "all_time")
        rows = find(body, {"type": "static-table", "page": "sessions", "table": "sessions"}).rowData
        listed = [r["session_id"] for r in rows]
        assert listed == ["s-next", "s-b", "s-m", "s-a", "s-undated"]
        assert all(r["starts"] is None or r["starts"][:10] <= picker.end_date for r in rows)
        assert all(r["starts"] is None or r["starts"][:10] >= picker.start_date for r in rows)
    # A viewer whose sessions are all over: "All time" ends today, as elsewhere.
    with signed_in(server, "inst", "/sessions"):
        picker = find(page("sessions").layout(), {"type": "date-range", "page": "sessions"})
        assert (picker.start_date, picker.end_date) == (
            "2026-03-01",
            max(today, date(2026, 3, 31)).isoformat(),
        )


def test_ses035_the_email_is_under_the_name_on_screen_and_in_its_own_column_in_the_files(world, server):
    """Issue 21: the session's learners table fits 1,024 px: the email (and "not registered")
    is shown under the name, the completion day under the status, and their own columns,
    hidden on screen, still go into the files, in their place, even though AG Grid's column
    state says they are hidden."""
    import base64 as b64
    import csv as csv_module
    import io

    from dashboards.components.grids import static_table_file

    with signed_in(server, "stat", "/session/s-a"):
        body = page("session").update_session("s-a")
        grid = find(body, {"type": "static-table", "page": "session", "table": "learners"})
        meta = find(body, {"type": "static-table-meta", "page": "session", "table": "learners"}).data
        defs = {d["field"]: d for d in grid.columnDefs}
        assert defs["email"]["hide"] is True and defs["registered_text"]["hide"] is True
        assert defs["learner"]["cellRendererParams"] == {
            "hrefField": "learner_link",
            "detailField": "learner_detail",
        }
        details = {r["learner"]: r["learner_detail"] for r in grid.rowData}
        assert details["Martin Alice"] == "alice@example.org"
        assert details["Œuvray Dan"].endswith(" · not registered")
        state = [{"colId": d["field"], "hide": bool(d.get("hide"))} for d in grid.columnDefs]
        sent = static_table_file("csv", grid.rowData, meta, state)
    text = b64.b64decode(sent["content"]).decode("utf-8-sig")
    header = next(csv_module.reader(io.StringIO(text)))
    assert header[:3] == ["Learner", "Email", "Registered"], header
    assert header[-1] == "Completed on"
    assert defs["completed_on"]["hide"] is True
    assert {r["learner"]: r["status_detail"] for r in grid.rowData}["Martin Alice"] == "on 30/03/2026"
