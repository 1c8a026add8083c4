"""Issue 10 point 6: ids with reserved characters open their pages; emailed links never carry
a forged Host; a malformed callback body answers 400 with a sentence."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.conftest import sign_in

# An id with a double quote, a semicolon, a slash, spaces, accents, a percent sign and a "?".
ODD = 'é "x"; a/b %41?#'


def render_page(client, path: str) -> tuple[int, str]:
    """POST Dash's page router callback as the browser does after navigating to path
    (pathname as the browser holds it: percent-encoded)."""
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": path},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }
    response = client.post("/_dash-update-component", json=body)
    return response.status_code, response.get_data(as_text=True)


@pytest.fixture
def odd_world(factory):
    f = factory
    admin = f.user("admin", email="admin@example.org", roles=("admin",))
    learner = f.user(ODD, first="Zoé", last="Odd", email="odd@example.org")
    training = f.training(ODD, name="Odd training")
    module = f.module(ODD, name="Odd module", max_scores=(10,))
    f.step(training, module, position=1)
    f.enroll(learner, training, at="2026-01-02 09:00")
    f.attempt(learner, training, module, started="2026-01-03 09:00", finished="2026-01-03 09:30", scores=[7])
    f.klass(ODD, name="Odd class", members=(learner,), trainings=(training,))
    f.session(
        training,
        ODD,
        name="Odd session",
        starts="2026-01-01 08:00",
        ends="2026-01-31 18:00",
        learners=(learner,),
    )
    f.s.commit()
    return admin


PAGES = [
    ("/training/{id}", "Odd training"),
    ("/learner/{id}", "Odd"),
    ("/class/{id}", "Odd class"),
    ("/session/{id}", "Odd session"),
    ("/training/{id}/learner/{id}/module/{id}", "Odd module"),
]


@pytest.mark.parametrize(("template", "text"), PAGES)
def test_lnk001_pages_of_ids_with_reserved_characters(client, odd_world, template, text):
    assert sign_in(client, "admin@example.org").status_code == 302
    path = template.format(id=quote(ODD, safe=""))
    # The full page load (the Flask guard checks the page and the scope) ...
    assert client.get(path).status_code == 200, path
    # ... and the page itself, drawn by Dash's router from the browser's pathname.
    status, body = render_page(client, path)
    assert status == 200, body[:300]
    assert text in body
    assert "page-forbidden" not in body and "page-not-found" not in body


def test_lnk002_an_outsider_still_gets_403_for_such_ids(client, odd_world, factory):
    factory.user("lea", email="lea@example.org")
    factory.s.commit()
    assert sign_in(client, "lea@example.org").status_code == 302
    for template, _text in PAGES:
        path = template.format(id=quote(ODD, safe=""))
        assert client.get(path).status_code == 403, path
        status, body = render_page(client, path)
        assert status == 403 or "page-forbidden" in body


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{",
        b"[]",
        b'{"output": 3}',
        b'{"output": "x.children"}',
        b'{"output": "x.children", "inputs": "nope"}',
        b'{"output": "no-such.children", "outputs": {"id": "no-such", "property": "children"}, "inputs": [], "changedPropIds": []}',
        json.dumps({"output": "..a.b...", "inputs": [{"id": {"type": []}, "property": 1}]}).encode(),
        # Issue 23 point 7: a known callback with fewer outputs than declared (was a bare 500),
        # or outputs of the wrong shape.
        json.dumps(
            {
                "output": "..shell-search-results.children...shell-search-input.value..",
                "outputs": [{"id": "shell-search-results", "property": "children"}],
                "inputs": [
                    {"id": "shell-search-input", "property": "value", "value": "lea"},
                    {"id": "_pages_location", "property": "pathname", "value": "/"},
                ],
                "changedPropIds": ["shell-search-input.value"],
            }
        ).encode(),
        json.dumps(
            {
                "output": "..shell-search-results.children...shell-search-input.value..",
                "inputs": [
                    {"id": "shell-search-input", "property": "value", "value": "lea"},
                    {"id": "_pages_location", "property": "pathname", "value": "/"},
                ],
            }
        ).encode(),
        json.dumps(
            {
                "output": "shell-search-location.href",
                "outputs": [{"id": "shell-search-location", "property": "href"}],
                "inputs": [{"id": "shell-search-input", "property": "n_submit", "value": 1}],
                "state": [{"id": "shell-search-input", "property": "value", "value": "lea"}],
            }
        ).encode(),
    ],
)
def test_lnk003_malformed_callback_bodies_answer_400_with_a_sentence(client, odd_world, body):
    assert sign_in(client, "admin@example.org").status_code == 302
    client.get("/_dash-layout")
    response = client.post("/_dash-update-component", data=body, content_type="application/json")
    assert response.status_code == 400, (body, response.status_code, response.get_data(as_text=True)[:300])
    error = response.get_json()["error"]
    assert error.endswith(".") and len(error) > 20


# -- emailed links and the Host header ------------------------------------------------------


@pytest.fixture
def mail_app(make_app):
    from aiosmtpd.controller import Controller

    from tests.factories import Factory
    from tests.integration.dashboards.test_opco_dialog import Inbox, free_port
    from tests.opco_world import build_world

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()

    def build(**settings):
        app = make_app(smtp_url=f"smtp://127.0.0.1:{controller.port}", **settings)
        with app.server.extensions["learnstats_db"].session() as s:
            build_world(Factory(s))
        return app.server

    try:
        yield build, inbox
    finally:
        controller.stop()


def email_link(server, inbox, host_url: str) -> tuple[dict, bytes | None]:
    """Ask for the OPCO logs by email as the dialog does, on a request to host_url; run the
    job; return the final state and the message sent (None if none)."""
    from dashboards.dialogs import opco as dialog
    from tests.helpers import signed_in
    from tests.integration.dashboards.test_opco_dialog import values

    before = len(inbox.messages)
    with signed_in(server, "inst", base_url=host_url):
        ticket, state = dialog.request_opco_email(1, *values(sessions=["s-a"]))
    if ticket is None:
        return state, None
    state = dialog.email_opco_logs(lambda _state: None, ticket)
    return state, (inbox.messages[before] if len(inbox.messages) > before else None)


def test_lnk004_a_forged_host_never_reaches_an_email(mail_app):
    build, inbox = mail_app
    server = build()
    state, message = email_link(server, inbox, "http://evil.example")
    assert state["state"] == "failed" and message is None
    assert state["message"] == (
        "Cannot send the email: this site's address (evil.example) is not one the server may write "
        "in an email; the administrator must set LEARNSTATS_BASE_URL (or add the host to "
        "LEARNSTATS_ALLOWED_HOSTS)."
    )
    # The local addresses are allowed by default, port included.
    for local in ("http://127.0.0.1:8050", "http://localhost:8050", "http://[::1]:8050"):
        state, message = email_link(server, inbox, local)
        assert state["state"] == "sent", (local, state)
        assert f"{local}/exports/opco-logs/".encode() in message


def test_lnk005_base_url_wins_over_any_host(mail_app):
    build, inbox = mail_app
    server = build(base_url="https://stats.example.org/")
    state, message = email_link(server, inbox, "http://evil.example")
    assert state["state"] == "sent"
    assert b"https://stats.example.org/exports/opco-logs/" in message
    assert b"evil.example" not in message


def test_lnk006_allowed_hosts_setting(mail_app, monkeypatch, tmp_path):
    from data.config import load_settings

    build, inbox = mail_app
    server = build(allowed_hosts="Stats.Example.org, intranet")
    state, message = email_link(server, inbox, "http://stats.example.org")
    assert state["state"] == "sent" and b"http://stats.example.org/exports/opco-logs/" in message
    assert (
        email_link(server, inbox, "http://127.0.0.1")[0]["state"] == "failed"
    )  # the list replaces the default
    monkeypatch.setenv("LEARNSTATS_ALLOWED_HOSTS", "a.example,b.example")
    assert load_settings({"instance_path": tmp_path}).allowed_hosts == ("a.example", "b.example")


def test_d12_004_unknown_id_is_not_found_for_an_admin_refused_for_others(server, client, factory):
    """A global role sees every id: an unknown one is a 404 "not found" for them, on a full
    page load and on in-app navigation. Anyone else gets 403 for an id that does not exist,
    exactly as for one outside their scope, so that nobody learns which ids exist."""
    from tests.conftest import sign_in, sign_out
    from tests.helpers import served_page, signed_in

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
    training_page = served_page("training")
    with signed_in(server, "boss", session=factory.s):
        tree = training_page.layout(training_id="no-such")
    assert getattr(tree, "id", None) == "page-not-found"
    with signed_in(server, "tm", session=factory.s):
        tree = training_page.layout(training_id="no-such")
    assert getattr(tree, "id", None) == "page-forbidden"
