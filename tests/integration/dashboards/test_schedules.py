"""The "Schedule…" dialog and the Scheduled reports page (issue 18 point 3): callbacks called as
functions in a signed-in request, with Dash's callback context set as Dash sets it."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict
from dash.exceptions import PreventUpdate
from sqlalchemy import select

from dashboards.dialogs import schedule as dialog
from data.models import ScheduledReport
from data.scope import Forbidden
from tests.helpers import served_page, signed_in
from tests.opco_world import build_world


@pytest.fixture
def world(dash_app, factory):
    build_world(factory)
    return dash_app


@contextmanager
def triggered(trigger: dict, states: list | None = None):
    """Dash's callback context: the input that fired (clicked once) and the ALL states."""
    token = context_value.set(
        AttributeDict(
            triggered_inputs=[
                {"prop_id": json.dumps(trigger, separators=(",", ":")) + ".n_clicks", "value": 1}
            ],
            states_list=[states or []],
        )
    )
    try:
        yield
    finally:
        context_value.reset(token)


def spec_state(page, table, kind, params):
    return [{"id": {"type": "schedule-spec", "page": page, "table": table}, "property": "data",
             "value": {"kind": kind, "params": params, "title": "Learners"}}]  # fmt: skip


def open_new(server, user, page, table, kind, params):
    button = {"type": "schedule-open", "page": page, "table": table}
    with (
        signed_in(server, user, base_url="http://stats.test"),
        triggered(button, spec_state(page, table, kind, params)),
    ):
        return dialog.open_schedule_dialog([1], [], [{"kind": kind, "params": params}])


def test_sch001_new_schedule_from_a_table_saved_in_the_owners_scope(world, server, db):
    out = open_new(server, "tm", "results-training", "results", "training-results", {"training_id": "t-man"})
    is_open, report_id, spec, _title, what, frequency, weekday, _day, hour = out[:9]
    assert (is_open, report_id, frequency, weekday, hour) == (True, None, "weekly", 0, 8)
    assert what == "Training learners — Management"
    assert out[10] == {"display": "none"}  # no period for a table
    with signed_in(server, "tm", base_url="http://localhost"):
        options = dialog.search_recipients("sam", [])
        assert [o["value"] for o in options] == ["stat"]
        _message, still_open, saved = dialog.save_schedule(
            1, None, spec, "Lundi", "weekly", 0, 1, 8, [], "xlsx", ["stat"]
        )
    assert saved and still_open
    with db.session() as s:
        [report] = s.scalars(select(ScheduledReport)).all()
        assert (report.owner_id, report.title, report.kind, report.frequency, report.weekday, report.hour) == (
            "tm", "Lundi", "training-results", "weekly", 0, 8,
        )  # fmt: skip
        assert json.loads(report.params) == {"training_id": "t-man", "format": "xlsx"}
        assert json.loads(report.recipients) == ["stat"]
        assert report.base_url == "http://localhost"  # an allowed host: links in its emails


def test_sch002_forged_specs_and_other_peoples_schedules_are_refused(world, server, db):
    # A training manager asking for another training's table, a class manager for OPCO logs,
    # an unknown kind, a learner for anything: 403.
    for user, kind, params in (
        ("tm", "training-results", {"training_id": "t-sec"}),
        ("cm", "opco-logs", {"query": "session=s-a"}),
        ("tm", "no-such-kind", {}),
        ("lea", "trainings", {}),
    ):
        with pytest.raises(Forbidden):
            open_new(server, user, "p", "t", kind, params)
    with signed_in(server, "tm"), pytest.raises(Forbidden):
        dialog.save_schedule(1, None, {"kind": "training-results", "params": {"training_id": "t-sec"}},
                             "x", "daily", None, None, 8, [], "csv", [])  # fmt: skip
    with signed_in(server, "tm"), pytest.raises(PreventUpdate):
        dialog.save_schedule(1, None, None, "x", "daily", None, None, 8, [], "csv", [])
    # The statistics manager's schedule: not the training manager's to edit, pause or delete.
    with signed_in(server, "stat", base_url="http://stats.test"):
        dialog.save_schedule(
            1, None, {"kind": "trainings", "params": {}}, "All", "daily", None, None, 7, [], "csv", []
        )
    with db.session() as s:
        report_id = s.scalar(select(ScheduledReport.id))
    page = served_page("schedules")
    for action in ("pause", "send-now", "delete"):
        trigger = {"type": "schedules-action", "action": action, "report": report_id}
        with signed_in(server, "tm"), triggered(trigger), pytest.raises(Forbidden):
            page.act_on_schedule([1])
    with (
        signed_in(server, "tm"),
        triggered({"type": "schedule-edit", "report": report_id}),
        pytest.raises(Forbidden),
    ):
        dialog.open_schedule_dialog([], [1], [])
    with signed_in(server, "tm"), pytest.raises(Forbidden):
        dialog.save_schedule(
            1, report_id, {"kind": "trainings", "params": {}}, "Mine", "daily", None, None, 7, [], "csv", []
        )


def test_sch003_the_page_lists_edits_pauses_and_deletes(world, server, db):
    with signed_in(server, "stat", base_url="http://stats.test"):
        dialog.save_schedule(
            1, None, {"kind": "opco-logs", "params": {"query": "session=s-a&granularity=session"}},
            "Sessions", "monthly", None, 31, 6, ["previous"], "csv", ["inst"],
        )  # fmt: skip
    with db.session() as s:
        report = s.scalars(select(ScheduledReport)).one()
        assert json.loads(report.params) == {"query": "session=s-a&granularity=session", "period": "previous"}
        report_id = report.id
    page = served_page("schedules")
    with signed_in(server, "stat"):
        listing, runs = page.update_schedules(None, None, None)
    text = str(listing)
    assert "Sessions" in text and "Every month on day 31 at 06:00" in text and "Ines Prof" in text
    assert "No run yet." in str(runs)
    # Edit: the dialog opens with the schedule's values.
    with signed_in(server, "stat"), triggered({"type": "schedule-edit", "report": report_id}):
        out = dialog.open_schedule_dialog([], [1], [])
    assert out[1] == report_id and out[5] == "monthly" and out[7] == 31 and out[9] == ["previous"]
    assert out[12] == {"display": "none"}  # the OPCO export has its own format
    assert out[14] == ["inst"]
    for action, check in (
        ("pause", lambda r: r.paused),
        ("resume", lambda r: not r.paused),
        ("send-now", lambda r: r.send_now_at is not None),
    ):
        with (
            signed_in(server, "stat"),
            triggered({"type": "schedules-action", "action": action, "report": report_id}),
        ):
            page.act_on_schedule([1])
        with db.session() as s:
            assert check(s.get(ScheduledReport, report_id)), action
    # The instructor (a recipient, not the owner) does not see it on their page.
    with signed_in(server, "inst"):
        listing, _runs = page.update_schedules(None, None, None)
    assert "No scheduled report yet" in str(listing)
    with (
        signed_in(server, "stat"),
        triggered({"type": "schedules-action", "action": "delete", "report": report_id}),
    ):
        page.act_on_schedule([1])
    with db.session() as s:
        assert s.scalars(select(ScheduledReport)).all() == []


def test_sch004_the_opco_dialog_schedules_its_filters(world, server):
    from dashboards.dialogs import opco

    spec = opco.update_schedule_spec(None, None, ["s-a"], [], [], [], [], [], "xlsx", "en", "learner-course")
    assert spec["params"] == {"query": "session=s-a&granularity=learner-course&format=xlsx"}
    out = open_new(server, "inst", "opco", "opco", "opco-logs", spec["params"])
    assert out[0] is True and out[4].startswith("OPCO export — Learner × course")
    assert out[10] == {}  # a dated kind: "the previous period" may be chosen


def test_sch005_the_weekly_digest_switch(world, server, db):
    page = served_page("schedules")
    with signed_in(server, "tm", base_url="http://localhost"):
        page.toggle_digest(True)
        listing, _runs = page.update_schedules(None, None, None)
    assert "Weekly digest" in str(listing) and "Every monday at 08:00" in str(listing)
    with db.session() as s:
        [report] = s.scalars(select(ScheduledReport)).all()
        assert (report.builtin, report.kind, report.owner_id) == ("digest", "at-risk-digest", "tm")
    with signed_in(server, "tm"):
        page.toggle_digest(False)
    with db.session() as s:
        assert s.scalars(select(ScheduledReport)).all() == []
    for user in ("cm", "lea", "stat"):  # neither a training manager nor an instructor
        with signed_in(server, user), pytest.raises(Forbidden):
            page.toggle_digest(True)


def test_sch006_the_at_risk_list_can_be_scheduled_in_scope(world, server):
    out = open_new(server, "tm", "training", "at-risk", "at-risk", {"training_id": "t-man", "days": 14})
    assert out[0] is True and out[4].startswith("At-risk learners — Management")
    with pytest.raises(Forbidden):
        open_new(server, "tm", "training", "at-risk", "at-risk", {"training_id": "t-sec", "days": 14})
