"""Issue 10 point 8: the access matrix, generated from the page registry, the callback map
(/_dash-dependencies) and the Flask URL map — a new page, callback or download route is covered
without editing this file.

For every role of SPEC §6 (admin, global_user_manager, statistics_manager, training_manager of
T, class_manager of C, session_instructor of S, a learner) on a small platform where everything
outside the restricted roles' scopes is named "OUTSIDER":

1. Pages: every registered page, its path variables filled with an id inside the role's scope
   and one outside it. A full page load answers SPEC §6's status (below); every page is then
   drawn by Dash's router as the browser does (tests/dash_client.py's Renderer over HTTP: the
   layout callback, every initial and chained callback, the infinite grids' rows).
2. Callbacks: every callback request the admin's browser sent on the pages of outside ids is
   replayed by each restricted role ("forged callback bodies with other ids"): a request that
   names an outside id answers 403; any other may answer, but never with outside data.
3. Downloads: every route under /download/ and /exports/ (and the attestation images), with
   inside and outside ids.

The leak oracle: no response to a restricted role contains "OUTSIDER" or an outsider's email.
"""

from __future__ import annotations

import re
import socket
import threading

import pytest
import requests
from werkzeug.serving import make_server

from tests.dash_client import Renderer, sign_in, stringify_id

MARK = re.compile(r"OUTSIDER|outsider@example\.org", re.I)
PASSWORD = "password123"

# The ids of each kind, inside the restricted roles' scopes and outside all of them.
INSIDE = {
    "training_id": "t-in",
    "user_id": "l-in",
    "class_id": "c-in",
    "session_id": "s-in",
    "module_id": "m-in",
}
OUTSIDE = {
    "training_id": "t-out",
    "user_id": "l-out",
    "class_id": "c-out",
    "session_id": "s-out",
    "module_id": "m-out",
}
OUTSIDE_IDS = set(OUTSIDE.values())

ROLES = {
    "admin": "admin@example.org",
    "global_user_manager": "gum@example.org",
    "statistics_manager": "stat@example.org",
    "training_manager": "tm@example.org",
    "class_manager": "cm@example.org",
    "session_instructor": "inst@example.org",
    "learner": "lina@example.org",
}
GLOBAL = {"admin", "global_user_manager", "statistics_manager"}
RESTRICTED = [r for r in ROLES if r not in GLOBAL]

# SPEC §6 for the full page loads of the restricted roles: the pages each may open with ids
# inside its scope (200). Any page of an outside id answers 403, and so does any page not listed
# (SPEC: "anything else answers 403") — except those marked "either", which SPEC does not
# name for the role (a module summary reached from a learner page's details).
OPEN_INSIDE = {
    "training_manager": {
        "/",
        "/me",
        "/schedules",
        "/sessions",
        "/training/<training_id>",
        "/learner/<user_id>",
        "/session/<session_id>",
        "/results",  # Qualiopi indicator 2 of their trainings (issue 19)
    },
    "class_manager": {"/", "/me", "/classes", "/class/<class_id>", "/learner/<user_id>", "/schedules"},
    "session_instructor": {"/me", "/sessions", "/session/<session_id>", "/schedules"},
    # Scheduled reports (issue 18): every signed-in user's own schedules (an admin's: all).
    "learner": {
        "/me",
        "/learner/<user_id>",
        "/training/<training_id>/learner/<user_id>/module/<module_id>",
        "/schedules",
    },
}
EITHER = {
    "training_manager": {"/training/<training_id>/learner/<user_id>/module/<module_id>"},
    "class_manager": {
        "/training/<training_id>",
        "/training/<training_id>/learner/<user_id>/module/<module_id>",
    },
    # "/" sends a session instructor on to /sessions (dashboards/pages/overview.py), a learner to their page.
    "session_instructor": {"/"},
    "learner": {"/"},
}
NOT_PAGES = {"/404"}
# Pages for admins only (issue 17): the other global roles get 403 too.
ADMIN_ONLY = {"/data-sources"}
# The BPF (issue 19): admins and statistics managers, not global user managers.
ADMIN_AND_STATISTICS = {"/bpf"}
# Callbacks that only turn what the browser sends back into a file (a static table's download
# writes the rows the browser holds): a forged request gets back its own rows, nothing more.
ECHO_CALLBACKS = {"static-table-download.data"}


def build_world(f) -> None:
    t_in = f.training("t-in", name="Training Inside")
    t_out = f.training("t-out", name="OUTSIDER Training")
    m_in = f.module("m-in", name="Module Inside", max_scores=(10,))
    m_out = f.module("m-out", name="OUTSIDER Module", max_scores=(10,))
    f.step(t_in, m_in, position=1)
    f.step(t_out, m_out, position=1)
    lina = f.user("l-in", first="Lina", last="Inside", email="lina@example.org")
    olaf = f.user(
        "l-out", first="Olaf", last="OUTSIDER", email="outsider@example.org", fields={"Company": "Acme"}
    )
    f.user("admin", first="Ada", last="Admin", email="admin@example.org", roles=("admin",))
    f.user("gum", first="Gus", last="Manager", email="gum@example.org", roles=("global_user_manager",))
    f.user("stat", first="Stella", last="Stats", email="stat@example.org", roles=("statistics_manager",))
    f.user("tm", first="Tom", last="Trainer", email="tm@example.org", roles=("training_manager:t-in",))
    f.user("cm", first="Cleo", last="Classes", email="cm@example.org", roles=("class_manager:c-in",))
    f.user(
        "inst", first="Ines", last="Instructor", email="inst@example.org", roles=("session_instructor:s-in",)
    )
    f.klass("c-in", name="Class Inside", members=(lina,), trainings=(t_in,))
    f.klass("c-out", name="OUTSIDER Class", members=(olaf,), trainings=(t_out,))
    f.enroll(lina, t_in, at="2026-01-02 09:00")
    f.enroll(olaf, t_out, at="2026-01-02 09:00")
    s_in = f.session(
        t_in,
        "s-in",
        name="Session Inside",
        starts="2026-01-05 08:00",
        ends="2026-12-20 18:00",
        learners=(lina,),
    )
    s_out = f.session(
        t_out,
        "s-out",
        name="OUTSIDER Session",
        starts="2026-01-05 08:00",
        ends="2026-12-20 18:00",
        learners=(olaf,),
    )
    f.attempt(lina, t_in, m_in, started="2026-01-06 09:00", finished="2026-01-06 09:30", scores=[7])
    f.attempt(olaf, t_out, m_out, started="2026-01-06 09:00", finished="2026-01-06 09:30", scores=[4])
    f.connection(lina, m_in, "2026-01-06 09:00", "2026-01-06 09:30", s_in)
    f.connection(olaf, m_out, "2026-01-06 09:00", "2026-01-06 09:30", s_out)
    f.login(lina, "2026-01-06 08:59")
    f.login(olaf, "2026-01-06 08:59")
    # Scheduled reports (issue 18): one of the outsider's (shown to the admin only; each action
    # forged by another user answers 403) and one of the training manager's.
    from datetime import datetime

    from data.models import ScheduledReport

    for owner, title, kind, params in (
        ("l-out", "OUTSIDER schedule", "training-results", '{"training_id": "t-out"}'),
        ("tm", "Inside schedule", "training-results", '{"training_id": "t-in"}'),
    ):
        moment = datetime(2026, 1, 1)
        f.s.add(
            ScheduledReport(
                owner_id=owner, title=title, kind=kind, params=params, frequency="weekly", weekday=0, hour=8,
                recipients="[]", paused=False, created_at=moment, updated_at=moment, last_due_at=moment,
                base_url="",
            )
        )  # fmt: skip
    f.s.commit()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The app on a real HTTP server (127.0.0.1, a free port), the world loaded. Once per
    test process (session scope): under pytest-xdist the tests of this module are shared out
    (SHARED_OUT in tests/conftest.py), and a worker may run others between two of them."""
    from app import create_app
    from tests.factories import Factory

    folder = tmp_path_factory.mktemp("matrix")
    app = create_app(
        {
            "instance_path": folder / "instance",
            "database_url": f"sqlite:///{folder / 'matrix.sqlite3'}",
            "secret_key": "matrix-secret-key",
            "timezone": "Europe/Paris",
        }
    )
    db = app.server.extensions["learnstats_db"]
    db.migrate()
    with db.session() as s:
        build_world(Factory(s))
    port = free_port()
    httpd = make_server("127.0.0.1", port, app.server, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        thread.join(5)
        db.engine.dispose()


def page_templates(app) -> list[str]:
    """Every page of the registry (its template, else its path)."""
    import dash

    app.server.test_client()  # nothing: the registry is filled when the app is created
    return sorted({(p.get("path_template") or p["path"]) for p in dash.page_registry.values()} - NOT_PAGES)


def fill(template: str, ids: dict) -> str:
    from urllib.parse import quote

    def value(match):
        name = match.group(1)
        assert name in ids, f"page {template}: add the kind of <{name}> to INSIDE and OUTSIDE"
        return quote(ids[name], safe="")

    return re.sub(r"<([^>]+)>", value, template)


def expected_status(role: str, template: str, inside: bool) -> set[int]:
    if template in ADMIN_ONLY:
        return {200} if role == "admin" else {403}
    if template in ADMIN_AND_STATISTICS:
        return {200} if role in ("admin", "statistics_manager") else {403}
    if role in GLOBAL:
        return {200}
    has_ids = "<" in template
    if has_ids and not inside:
        return {403}
    if template in OPEN_INSIDE[role]:
        return {200}
    if template in EITHER.get(role, set()):
        return {200, 403}
    return {403}


def leaks(text: str) -> list[str]:
    return sorted(set(MARK.findall(text)))


def names_outside(body, keep_location: bool = False) -> bool:
    """Whether a callback request names an outside id. The address bar (_pages_location) only
    tells where the browser is (the search box clears itself on navigation): except for the
    page router, it is not a request for data."""
    if not keep_location:
        body = {
            key: [e for e in value if not (isinstance(e, dict) and e.get("id") == "_pages_location")]
            if isinstance(value, list)
            else value
            for key, value in body.items()
        }
    text = str(body)
    return any(re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", text) for i in OUTSIDE_IDS)


def visit(renderer: Renderer, template: str, path: str) -> None:
    """Open the page as the browser does, then act on it as a user could: every server
    callback the page can set off but has not yet sent is sent once per place it sits on the
    page, its first input marked as changed (a click counts one)."""
    renderer.open(template, path)
    sent = {c.body["output"] for c in renderer.calls if c.page == template}
    for dep in renderer.deps:
        if not dep.server_side or dep is renderer.pages_dep or dep.output in sent:
            continue
        for combo in renderer.resolve(dep)[:3]:
            first = combo.inputs[0]
            if isinstance(first, list):
                continue
            if first["property"] == "n_clicks":
                first["value"] = (first.get("value") or 0) + 1
            combo.changed = {f"{stringify_id(first['id'])}.{first['property']}"}
            renderer._fire(combo, f"{dep.name()} (poked)", "action")


@pytest.fixture(scope="session")
def sessions(site):
    _app, base = site
    return {role: sign_in(base, email, PASSWORD, timeout=60) for role, email in ROLES.items()}


@pytest.fixture(scope="module")
def admin_outside_calls(site, sessions):
    """Every callback request the admin's browser sends on the pages of outside ids."""
    app, base = site
    renderer = Renderer(sessions["admin"], base, "admin", timeout=60)
    for template in page_templates(app):
        if "<" in template:
            visit(renderer, template, fill(template, OUTSIDE))
    assert renderer.errors == []
    return renderer.calls


def test_acm001_page_loads_for_every_role(site, sessions):
    app, base = site
    templates = page_templates(app)
    assert len(templates) >= 9  # the registry, not a list: a new page joins by itself
    wrong = []
    for role, s in sessions.items():
        for template in templates:
            for inside in (True, False) if "<" in template else (True,):
                path = fill(template, INSIDE if inside else OUTSIDE)
                response = s.get(base + path, allow_redirects=False, timeout=60)
                if response.status_code not in expected_status(role, template, inside):
                    wrong.append((role, path, response.status_code, expected_status(role, template, inside)))
                if role not in GLOBAL and leaks(response.text):
                    wrong.append((role, path, "leaks", leaks(response.text)))
    assert wrong == []


@pytest.mark.parametrize("role", list(ROLES))
def test_acm002_pages_drawn_by_dash_for_every_role(site, sessions, role):
    """Each page, drawn as the browser draws it (every callback it sets off): inside ids work,
    outside ids show the 403 page; nothing outside leaks to a restricted role."""
    app, base = site
    renderer = Renderer(sessions[role], base, role, timeout=60)
    for template in page_templates(app):
        for inside in (True, False) if "<" in template else (True,):
            if role in GLOBAL and not inside and role != "admin":
                continue  # the same rights as the admin's, whose outside visits follow
            path = fill(template, INSIDE if inside else OUTSIDE)
            visit(renderer, template, path)
            layout = str(renderer.props.get("_pages_content", {}).get("children"))
            expected = expected_status(role, template, inside)
            if expected == {403}:
                assert "page-forbidden" in layout, (role, path)
            elif expected == {200}:
                assert "page-forbidden" not in layout, (role, path)
    assert renderer.errors == [], renderer.errors
    if role not in GLOBAL:
        # Replay every request this role's browser sent and read the answers for leaks.
        for call in renderer.calls:
            response = sessions[role].post(base + "/_dash-update-component", json=call.body, timeout=60)
            assert response.status_code in (200, 204), (role, call.name, response.status_code)
            assert leaks(response.text) == [], (role, call.page, call.name, leaks(response.text))


@pytest.mark.parametrize("role", RESTRICTED)
def test_acm003_forged_callbacks_with_outside_ids(site, sessions, admin_outside_calls, role):
    """The admin's requests on pages of outside ids, sent by a restricted role: each naming an
    outside id answers 403; none answers with outside data."""
    _app, base = site
    named = 0
    problems = []
    for call in admin_outside_calls:
        response = sessions[role].post(base + "/_dash-update-component", json=call.body, timeout=60)
        if names_outside(call.body, keep_location=call.kind == "layout"):
            named += 1
            # The page router answers 200 with the 403 page (the browser draws it); any other
            # callback naming an outside id answers 403.
            refused = (
                response.status_code in (403, 204)  # 204: "no update", nothing sent back
                or (
                    call.kind == "layout"
                    and response.status_code == 200
                    and "page-forbidden" in response.text
                )
                or call.name.split(" ")[0] in ECHO_CALLBACKS
            )
            if not refused:
                problems.append((call.page, call.name, response.status_code))
        elif response.status_code not in (200, 204, 403):
            problems.append((call.page, call.name, response.status_code))
        if leaks(response.text):
            problems.append((call.page, call.name, "leaks", leaks(response.text)))
    assert named >= 5  # the forged requests do name outside ids
    assert problems == [], "\n".join(map(str, problems))


def test_acm004_every_callback_is_exercised(site, sessions, admin_outside_calls):
    """Coverage of the callback map by the page visits above (the admin's inside visits add
    the rest): a server callback never sent would be a callback never checked."""
    app, base = site
    renderer = Renderer(sessions["admin"], base, "admin", timeout=60)
    for template in page_templates(app):
        visit(renderer, template, fill(template, INSIDE))
    sent = {c.body["output"] for c in renderer.calls + admin_outside_calls}
    server_side = {d.output for d in renderer.deps if d.server_side}
    missing = sorted(server_side - sent)
    # Only callbacks that need a state this small platform does not have may stay unsent
    # (the sessions list pages on the server beyond 500 sessions).
    assert len(missing) <= len(server_side) // 10, missing


def download_paths(app, ids: dict) -> list[str]:
    """Every download route of the URL map, its variables filled (query for the OPCO logs)."""
    from exports.routes import RENDERERS

    values = dict(ids, kind=sorted(RENDERERS)[0], token="forged-token", digest="0" * 64)
    paths = []
    for rule in app.server.url_map.iter_rules():
        if not rule.rule.startswith(("/download/", "/exports/", "/attestation-images/")):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: values[m.group(1)], rule.rule)
        if not rule.arguments:
            path += f"?session={ids['session_id']}"
        paths.append(path)
    return sorted(paths)


def test_acm005_downloads_for_every_role(site, sessions):
    app, base = site
    assert any(p.startswith("/download/opco-logs") for p in download_paths(app, INSIDE))
    problems = []
    for role in RESTRICTED:
        for path in download_paths(app, OUTSIDE):
            response = sessions[role].get(base + path, allow_redirects=False, timeout=60)
            if response.status_code == 200 or response.status_code >= 500:
                problems.append((role, path, response.status_code))
            if leaks(response.text):
                problems.append((role, path, "leaks"))
    # Inside: the session instructor, the training manager and the global roles export s-in.
    for role in ("session_instructor", "training_manager", *GLOBAL):
        response = sessions[role].get(base + "/download/opco-logs?session=s-in", timeout=60)
        assert response.status_code == 200, (role, response.status_code)
        assert "Lina" in response.content.decode("utf-8-sig") and not leaks(response.text)
    for role in ("class_manager", "learner"):
        assert sessions[role].get(base + "/download/opco-logs?session=s-in", timeout=60).status_code == 403
    # Every route named only by ids (no signed token): inside ids are for the roles that make
    # a session's documents, and for nobody else.
    for path in download_paths(app, INSIDE):
        if "forged-token" in path or "0" * 64 in path:
            continue
        for role in [*RESTRICTED, "admin"]:
            status = sessions[role].get(base + path, timeout=60).status_code
            allowed = role in ("session_instructor", "training_manager", "admin")
            # Allowed: the document, or 400 when the platform's attestation details are not
            # filled in yet (this platform's case); never a refusal. Others: 403.
            if (allowed and status not in (200, 400)) or (not allowed and status != 403):
                problems.append((role, path, status))
    assert problems == []


def test_acm006_anonymous_gets_nothing(site, admin_outside_calls):
    app, base = site
    anonymous = requests.Session()
    for call in admin_outside_calls[:20]:
        assert anonymous.post(base + "/_dash-update-component", json=call.body, timeout=60).status_code == 401
    for path in download_paths(app, INSIDE):
        response = anonymous.get(base + path, allow_redirects=False, timeout=60)
        assert response.status_code in (302, 401), (path, response.status_code)
