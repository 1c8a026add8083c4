"""The session page's compliance dialogs (issue 19 points 1-3): the attendance sheet download,
the relevés job, the tutor contact form; each callback checks the signed-in user's scope (an
instructor gets only their session's files; forged requests answer 403)."""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import datetime

import openpyxl
import pytest
from sqlalchemy import select

from auth.roles import load_scope
from dashboards.dialogs import compliance as dialog
from data import models as m
from data.scope import Forbidden
from exports.attestation_options import save_defaults
from jobs.background import scope_to_dict
from tests.attestation_world import build_world
from tests.conftest import sign_in
from tests.helpers import signed_in
from tests.integration.exports.test_attestations import OPTIONS
from tests.learner_world import post_callback


@pytest.fixture
def world(factory):
    build_world(factory)
    factory.user("tm", first="Tess", last="Manager", email="tm@example.org", roles=("training_manager:T1",))
    factory.s.commit()


def _file(download) -> bytes:
    return base64.b64decode(download["content"])


def test_cmp001_attendance_download_in_scope(world, db, server):
    with signed_in(server, "inst1"):
        download, message = dialog.attendance_download(load_scope_of(db, "inst1"), "S1", "xlsx", "fr")
    assert message is None and download["filename"].startswith("emargement_S1_")
    book = openpyxl.load_workbook(io.BytesIO(_file(download)))
    assert next(book.worksheets[0].iter_rows(values_only=True))[3] == "20/10/2026 matin"
    # The PDF needs the organisation block: said, nothing sent; then made.
    with signed_in(server, "inst1"):
        download, message = dialog.attendance_download(load_scope_of(db, "inst1"), "S1", "pdf", "en")
    assert download is dialog.no_update and "attestation details are not complete" in str(message)
    with db.session() as s:
        save_defaults(s, OPTIONS)
        s.commit()
    with signed_in(server, "inst1"):
        download, message = dialog.attendance_download(load_scope_of(db, "inst1"), "S1", "pdf", "en")
    assert message is None and _file(download).startswith(b"%PDF")


def load_scope_of(db, user_id):
    with db.session() as s:
        return load_scope(s, user_id)


def test_cmp002_forged_callbacks_for_another_session_answer_403(world, dash_app, client):
    sign_in(client, "inst2@example.org")  # instructor of S2 only
    attendance = post_callback(
        client,
        dash_app,
        [("cmp-download", "data"), ("cmp-message", "children")],
        [("cmp-attendance-xlsx", "n_clicks", 1), ("cmp-attendance-pdf", "n_clicks", 0)],
        [("cmp-session", "data", "S1"), ("cmp-language", "value", "fr")],
    )
    assert attendance.status_code == 403
    records = post_callback(
        client,
        dash_app,
        [("cmp-ticket", "data"), ("cmp-message", "children"), ("cmp-result", "children")],
        [("cmp-records-button", "n_clicks", 1)],
        [("cmp-session", "data", "S1"), ("cmp-language", "value", "fr")],
    )
    assert records.status_code == 403
    # The save callback's own key (the opening callback also writes tc-message and tc-subject).
    client.get("/_dash-layout")
    (key,) = [
        k
        for k in dash_app.callback_map
        if k.startswith("..tc-message.children") and k.count(".children") + k.count(".value") == 2
    ]
    states = {
        "tc-session": ("data", "S1"), "tc-learner": ("value", "u-elodie"), "tc-when": ("value", "2026-10-22T14:30"),
        "tc-channel": ("value", "phone"), "tc-tutor": ("value", "Iris Autre"), "tc-duration": ("value", 10),
        "tc-subject": ("value", "forged"),
    }  # fmt: skip
    contact = client.post(
        "/_dash-update-component",
        json={
            "output": key,
            "outputs": [
                {"id": "tc-message", "property": "children"},
                {"id": "tc-subject", "property": "value"},
            ],
            "inputs": [{"id": "tc-save-button", "property": "n_clicks", "value": 1}],
            "state": [{"id": i, "property": p, "value": v} for i, (p, v) in states.items()],
            "changedPropIds": ["tc-save-button.n_clicks"],
        },
    )
    assert contact.status_code == 403, contact.data[:300]


def test_cmp003_tutor_contact_form(world, db, server):
    with signed_in(server, "inst1"):
        opened = dialog.open_tutor_contact_dialog(1, "S1")
        assert opened[0] is True
        assert [o["value"] for o in opened[1]] == ["u-nina", "u-zoe", "u-paul", "u-elodie"]
        assert opened[4] == "Inès Prof"  # the signed-in tutor
        message, _ = dialog.save_tutor_contact(
            1, "S1", "u-elodie", "2026-10-22T14:30", "phone", "Inès Prof", 20, "Relance"
        )
        assert "Tutor contact recorded for Élodie Marchand" in str(message)
        bad, _ = dialog.save_tutor_contact(1, "S1", "u-elodie", "", "pigeon", " ", 1.5, "")
        for reason in (
            "date and time are required",
            "whole number of minutes",
            "tutor's name is required",
            "choose a channel",
        ):
            assert reason in str(bad)
    with db.session() as s:
        (row,) = s.scalars(select(m.TutorContact)).all()
        assert (row.user_id, row.contacted_at, row.tutor, row.channel, row.duration_minutes, row.subject, row.recorded_by) == (
            "u-elodie", datetime(2026, 10, 22, 12, 30), "Inès Prof", "phone", 20, "Relance", "inst1",
        )  # fmt: skip  # 14:30 Paris (summer time) = 12:30 UTC
    # A training manager of the session's training may record; a statistics manager, the
    # instructor of another session and a class manager may not.
    with signed_in(server, "tm"):
        assert dialog.open_tutor_contact_dialog(1, "S1")[0] is True
    for user in ("stat", "inst2", "cm"):
        with signed_in(server, user), pytest.raises(Forbidden):
            dialog.save_tutor_contact(1, "S1", "u-elodie", "2026-10-22T14:30", "phone", "X", None, "")


def test_cmp004_relevés_job_writes_the_zip_for_its_user(world, db, server):
    from jobs.activity_records import run_activity_records

    with db.session() as s:
        save_defaults(s, OPTIONS)
        s.commit()
    job = {
        "job": "j1",
        "user_id": "inst1",
        "scope": scope_to_dict(load_scope_of(db, "inst1")),
        "session_id": "S1",
        "language": "fr",
        "signed_on": "2026-11-30",
        "ui_language": "fr",
    }
    progress = []
    result = run_activity_records(server, job, progress.append)
    assert result["state"] == "done" and result["count"] == 4, result
    assert progress[-1] == (100.0, "4 / 4")
    client = server.test_client()
    sign_in(client, "inst1@example.org")
    response = client.get(result["href"])
    assert response.status_code == 200
    assert len(zipfile.ZipFile(io.BytesIO(response.data)).namelist()) == 4
    # The instructor of another session: the job refuses.
    other = run_activity_records(server, {**job, "scope": scope_to_dict(load_scope_of(db, "inst2"))})
    assert other["state"] == "failed"


def test_cmp005_buttons_only_for_those_who_may(world, db, server):
    from tests.helpers import served_page

    page = served_page("session")
    for user, expected in (("inst1", {"cmp-open-button", "tc-open-button"}), ("stat", {"cmp-open-button"})):
        with signed_in(server, user):
            layout = str(page.layout(scope=load_scope_of(db, user), session_id="S1"))
        found = {b for b in ("cmp-open-button", "tc-open-button") if b in layout}
        assert found == expected, user
