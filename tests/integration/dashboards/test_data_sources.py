"""The "Data sources" page (issue 17; dashboards/pages/data_sources.py): admins only, on the server
(the full page load, Dash's page router and the page's callback); the runs of import_runs as
the table shows them; a progress bar while a run is under way; the empty state.

Runs are written as the importers write them (data.models.ImportRun rows); their figures below
are the rows' own, so each cell's text is known in advance.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from data.models import ImportRun
from tests.conftest import sign_in

ROLES = {
    "admin": ("admin",),
    "gum": ("global_user_manager",),
    "stats": ("statistics_manager",),
    "tm": ("training_manager:t1",),
    "cm": ("class_manager:c1",),
    "inst": ("session_instructor:s1",),
    "lina": (),
}
UPDATE = "/_dash-update-component"


@pytest.fixture
def world(server, factory):
    t1 = factory.training("t1", name="Training one")
    factory.klass("c1", name="Class one", trainings=(t1,))
    factory.session(t1, "s1", name="Session one", starts="2026-03-01 08:00", ends="2026-03-31 18:00")
    for user_id, roles in ROLES.items():
        factory.user(user_id, user_id.title(), "Person", email=f"{user_id}@example.org", roles=roles)
    factory.s.commit()
    return server


def add_run(db, **values) -> int:
    defaults = {
        "kind": "lrs-sync",
        "source": "http://127.0.0.1:8100/xAPI/statements",
        "started_at": datetime(2026, 3, 2, 8, 0, 0),
        "status": "done",
        "accepted": 0,
        "added": "{}",
        "skipped": "{}",
        "progress_done": 0,
    }
    defaults.update(values)
    with db.session() as s:
        run = ImportRun(**defaults)
        s.add(run)
        s.flush()
        return run.id


def callback_body(server, **state) -> dict:
    app = server.extensions["learnstats_dash"]
    app._setup_server()
    [output] = [key for key in app.callback_map if "data-sources-progress.children" in key]
    return {
        "output": output,
        "outputs": [
            {"id": key.split(".")[0], "property": key.split(".")[1]} for key in output.strip(".").split("...")
        ],
        "inputs": [{"id": "data-sources-interval", "property": "n_intervals", "value": 1}],
        "state": [{"id": "data-sources-signature", "property": "data", "value": state.get("signature")}],
        "changedPropIds": ["data-sources-interval.n_intervals"],
    }


def test_dsr001_only_admins_open_the_page_and_its_callback(world, client, db):
    add_run(db, source="bundle-folder", kind="bundle")
    for user_id in ROLES:
        client = world.test_client()
        sign_in(client, f"{user_id}@example.org")
        page = client.get("/data-sources")
        update = client.post(UPDATE, json=callback_body(world))
        if user_id == "admin":
            assert page.status_code == 200, user_id
            assert update.status_code == 200, user_id
            assert "bundle-folder" in update.get_data(as_text=True)
        else:
            # Global roles too: the page is the admins' (403, not "not found": no id in it).
            assert page.status_code == 403, user_id
            assert update.status_code == 403, user_id
            assert "bundle-folder" not in update.get_data(as_text=True)
    anonymous = world.test_client()
    assert anonymous.get("/data-sources").status_code == 302
    assert anonymous.post(UPDATE, json=callback_body(world)).status_code == 401


def _layout(server, user_id="admin"):
    from tests.helpers import served_page, signed_in

    with signed_in(server, user_id, path="/data-sources"):
        return served_page("data_sources").layout()


def _text(layout) -> str:
    """The whole layout as JSON (a component's repr shortens its children)."""
    from plotly.utils import PlotlyJSONEncoder

    return json.dumps(layout, cls=PlotlyJSONEncoder, ensure_ascii=False)


def test_dsr002_page_router_draws_403_for_others_and_navbar_link_for_admins(world):
    from dashboards.components.shell import build_navbar
    from tests.helpers import signed_in

    assert "page-forbidden" in _text(_layout(world, "stats"))
    assert "page-forbidden" in _text(_layout(world, "tm"))
    assert "page-forbidden" not in _text(_layout(world, "admin"))
    from auth.guard import current_scope

    for user_id, shown in (("admin", True), ("gum", False), ("stats", False), ("lina", False)):
        with signed_in(world, user_id):
            navbar = _text(build_navbar(current_scope(), user_id))
        assert ("nav-data-sources-link" in navbar) is shown, user_id


def _rows(layout) -> list[dict]:
    found = []

    def walk(node):
        if isinstance(node, (list, tuple)):
            for child in node:
                walk(child)
            return
        props = getattr(node, "__dict__", {})
        if getattr(node, "id", None) == {"type": "static-table", "page": "data-sources", "table": "runs"}:
            found.append(node.rowData)
        for value in props.values():
            if hasattr(value, "__dict__") or isinstance(value, (list, tuple)):
                walk(value)

    walk(layout)
    assert len(found) == 1
    return found[0]


def test_dsr003_runs_as_the_table_shows_them(world, db):
    add_run(
        db,
        kind="bundle",
        source="/data/bundle-2026-03",
        started_at=datetime(2026, 3, 1, 7, 30),
        finished_at=datetime(2026, 3, 1, 7, 30, 4, 500000),
        accepted=0,
        added=json.dumps({"users": 12, "connections": 40}),
    )
    add_run(
        db,
        kind="lrs-sync",
        started_at=datetime(2026, 3, 2, 8, 0),
        finished_at=datetime(2026, 3, 2, 8, 2, 5),
        accepted=17,
        added=json.dumps({"statements": 17, "users": 3, "trainings": 1}),
        skipped=json.dumps(
            {
                "group actor": {"count": 1, "example": "line 19: statement 1b2c"},
                "no course": {"count": 4, "example": "line 18: statement 9f8e"},
            }
        ),
    )
    add_run(
        db,
        kind="lrs-sync",
        started_at=datetime(2026, 3, 2, 9, 0),
        finished_at=datetime(2026, 3, 2, 9, 0, 1),
        status="failed",
        error="GET http://127.0.0.1:8100/xAPI/statements?ascending=true answered 401 Unauthorized",
    )
    rows = _rows(_layout(world))
    # Newest first; times in the platform time zone (Europe/Paris, UTC+1 in March).
    assert [r["when"] for r in rows] == ["2026-03-02 10:00", "2026-03-02 09:00", "2026-03-01 08:30"]
    failed, synced, bundle = rows
    assert failed["status"] == (
        "Failed: GET http://127.0.0.1:8100/xAPI/statements?ascending=true answered 401 Unauthorized"
    )
    assert (synced["kind"], synced["status"], synced["accepted"], synced["skipped_count"]) == (
        "LRS sync",
        "Done",
        17,
        5,
    )
    # By count, then by reason; an example each.
    assert synced["skipped"] == (
        "no course: 4 (e.g. line 18: statement 9f8e)\ngroup actor: 1 (e.g. line 19: statement 1b2c)"
    )
    assert synced["added"] == "17 statements, 3 users, 1 trainings"
    assert synced["seconds"] == 125.0
    assert (bundle["kind"], bundle["added"], bundle["seconds"]) == (
        "CSV bundle",
        "12 users, 40 connections",
        4.5,
    )


def test_dsr004_progress_bar_while_a_run_is_under_way(world, db, client):
    started = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=30)
    file_run = add_run(
        db, kind="xapi-file", source="statements.jsonl.gz", status="running", started_at=started,
        progress_done=250, progress_total=1000,
    )  # fmt: skip
    add_run(db, kind="lrs-sync", status="running", started_at=started, progress_done=40)
    layout = _text(_layout(world))
    assert "250 of 1\u202f000 read" in layout and '"value": 25.0' in layout
    assert "40 read so far" in layout and '"animated": true' in layout
    assert '"interval": 2000' in layout  # polled every 2 s while runs are under way

    # The poll: the progress moves, the table stays (same runs, same statuses).
    sign_in(client, "admin@example.org")
    body = callback_body(world)
    first = client.post(UPDATE, json=body).get_json()["response"]
    signature = first["data-sources-signature"]["data"]
    with db.session() as s:
        s.get(ImportRun, file_run).progress_done = 900
    second = client.post(UPDATE, json=callback_body(world, signature=signature)).get_json()["response"]
    assert "data-sources-runs" not in second  # no_update: the table keeps its sort
    assert "900 of 1\u202f000 read" in json.dumps(second["data-sources-progress"], ensure_ascii=False)
    assert second["data-sources-interval"]["interval"] == 2000
    # The runs end: the table is redrawn and the poll slows down.
    with db.session() as s:
        for run in s.query(ImportRun):
            run.status, run.finished_at = "done", datetime.now(UTC).replace(tzinfo=None)
    third = client.post(UPDATE, json=callback_body(world, signature=signature)).get_json()["response"]
    assert "data-sources-runs" in third
    assert "read so far" not in json.dumps(third["data-sources-progress"])
    assert third["data-sources-interval"]["interval"] == 60_000


def test_dsr005_empty_state_and_schedule(make_app, tmp_path):
    from tests.factories import Factory

    app = make_app(
        lrs_endpoint="http://127.0.0.1:8100/xAPI",
        lrs_sync_minutes="7",
        lrs_username="learnstats",
        lrs_password="not-a-real-one",
    )
    db = app.server.extensions["learnstats_db"]
    with db.session() as s:
        Factory(s).user("admin", "Ada", "Admin", email="admin@example.org", roles=("admin",))
    layout = _text(_layout(app.server))
    assert "data-sources-empty" in layout and "No import or sync yet" in layout
    assert "Periodic LRS sync of http://127.0.0.1:8100/xAPI/statements, every 7 minutes." in layout
    assert "Next scheduled sync:" in layout
    # The last start of a sync (the lock every sync shares) + 7 minutes, in the platform's time.
    from data.job_locks import read_lock, release, try_acquire
    from data.lrs import LOCK
    from exports.formatting import fmt_datetime

    started = datetime(2030, 1, 15, 9, 0, tzinfo=UTC)
    assert try_acquire(
        db, LOCK, "someone", started, timedelta(minutes=15), read_lock(db, LOCK).last_started_at
    )
    release(db, LOCK, "someone", started + timedelta(minutes=1))
    with app.server.test_request_context():
        expected = fmt_datetime(datetime(2030, 1, 15, 10, 7))  # Europe/Paris: UTC+1 in January
    assert f"Next scheduled sync: {expected}." in _text(_layout(app.server))

    bare = make_app(database_url=f"sqlite:///{tmp_path / 'bare.sqlite3'}", instance_path=tmp_path / "bare")
    with bare.server.extensions["learnstats_db"].session() as s:
        Factory(s).user("admin", "Ada", "Admin", email="admin@example.org", roles=("admin",))
    assert "No periodic LRS sync: set LEARNSTATS_LRS_ENDPOINT" in _text(_layout(bare.server))

    # An endpoint without its password: no sync can run, and the page says so.
    app.server.config["LEARNSTATS"].lrs_password = ""
    assert (
        "LEARNSTATS_LRS_ENDPOINT is http://127.0.0.1:8100/xAPI/statements but LEARNSTATS_LRS_PASSWORD "
        "is not set: no periodic sync can run until it is."
    ) in _text(_layout(app.server))


def test_dsr006_an_xapi_import_shows_its_progress_while_it_runs(make_app, tmp_path):
    """import-xapi in another process: while its one transaction holds SQLite's write lock, the
    page reads its progress (data/run_progress.py's file) — a count that moves — then the run
    done and the file gone."""
    import os
    import subprocess
    import time
    import uuid

    from data import data_sources as ds
    from data.run_progress import progress_file
    from data.scope import Scope
    from tests.services import BIN, ROOT

    statements = json.loads((ROOT / "docs" / "samples" / "xapi-statements.json").read_text())
    big = []
    for n in range(400):  # 400 learners × the sample's 17 statements on the course: 6,800
        for statement in statements[:17]:
            actor = {**statement["actor"], "name": f"Learner {n}", "mbox": f"mailto:learner{n}@example.org"}
            actor.pop("account", None)
            big.append({**statement, "id": str(uuid.uuid4()), "actor": actor})
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(json.dumps(s) for s in big))
    database_url = f"sqlite:///{tmp_path / 'progress.sqlite3'}"
    instance = tmp_path / "instance"
    app = make_app(database_url=database_url, instance_path=instance)
    db = app.server.extensions["learnstats_db"]
    env = {**os.environ, "LEARNSTATS_INSTANCE": str(instance), "LEARNSTATS_DATABASE_URL": database_url}
    importing = subprocess.Popen(
        [str(BIN / "flask"), "--app", "app", "import-xapi", str(path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    admin = Scope(user_id="admin", is_global=True, is_admin=True)
    seen: list[int] = []
    deadline = time.monotonic() + 300
    while importing.poll() is None and time.monotonic() < deadline:
        with db.session() as s:
            running = [r for r in ds.import_runs(s, admin, instance_path=instance) if r.status == "running"]
        if running and running[0].progress_done:
            seen.append(running[0].progress_done)
        time.sleep(0.05)
    out, err = importing.communicate(timeout=60)
    assert importing.returncode == 0, out + err
    assert seen, "no progress was ever read while the import ran"
    assert 0 < seen[0] <= len(big) and seen == sorted(seen)
    with db.session() as s:
        [run] = ds.import_runs(s, admin, instance_path=instance)
    assert (run.status, run.accepted) == ("done", len(big))
    assert not progress_file(instance, run.id).exists()


def test_dsr007_the_table_as_a_scheduled_report(world, db):
    """ "Schedule…" beside the table (issue 18): the report kind "data-sources" sends the page's
    rows with its columns, newest first, in the recipient's language; refused to anyone but an
    admin (the page is theirs)."""
    import csv
    import io
    from zoneinfo import ZoneInfo

    from auth.roles import load_scope
    from data.models import User
    from data.scope import Forbidden
    from exports.report_kinds import ReportRun, build_report, report_kind

    add_run(db, kind="bundle", source="/data/b1", started_at=datetime(2026, 3, 1, 7, 30),
            finished_at=datetime(2026, 3, 1, 7, 30, 4, 500000), added=json.dumps({"users": 12}))  # fmt: skip
    add_run(db, started_at=datetime(2026, 3, 2, 9, 0), finished_at=datetime(2026, 3, 2, 9, 0, 1),
            status="failed", error="answered 401")  # fmt: skip
    run = ReportRun(tz=ZoneInfo("Europe/Paris"), now=datetime(2026, 3, 3, 6, 0, tzinfo=UTC))
    with world.app_context(), db.session() as s:
        data, built = build_report(
            s, "data-sources", s.get(User, "admin"), load_scope(s, "admin"), {}, run, "fr"
        )
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
        assert built.file_name == "data-sources.csv" and built.rows == 2
        assert rows[0][:4] == ["Quand", "Type", "Source", "Statut"] and len(rows[0]) == 9
        assert rows[1][:4] == [
            "02/03/2026 10:00",
            "Synchronisation LRS",
            "http://127.0.0.1:8100/xAPI/statements",
            "Échec : answered 401",
        ]
        assert rows[2][:3] == ["01/03/2026 08:30", "Lot CSV", "/data/b1"] and rows[2][-1] == "4,5"
        assert rows[0][-1] == "Durée (s)"  # issue 21: a duration's unit in the header
        for user_id in ("stats", "gum", "tm"):
            with pytest.raises(Forbidden):
                report_kind("data-sources").check(s, load_scope(s, user_id), {})


def _component(layout, component_id):
    found = []

    def walk(node):
        if isinstance(node, (list, tuple)):
            for child in node:
                walk(child)
            return
        if getattr(node, "id", None) == component_id:
            found.append(node)
        for value in getattr(node, "__dict__", {}).values():
            if hasattr(value, "__dict__") or isinstance(value, (list, tuple)):
                walk(value)

    walk(layout)
    assert len(found) == 1
    return found[0]


def test_dsr008_the_page_download_says_its_durations_are_seconds(world, db):
    """Issue 21 point 3: every table file names its durations' unit; the run table's hold
    seconds (a run takes seconds), under "Duration (s)", while the screen shows "4.5 s"."""
    import base64
    import csv
    import io

    from dashboards.components.grids import static_table_file
    from tests.helpers import signed_in

    add_run(db, kind="bundle", source="/data/b1", started_at=datetime(2026, 3, 1, 7, 30),
            finished_at=datetime(2026, 3, 1, 7, 30, 4, 500000), added=json.dumps({"users": 12}))  # fmt: skip
    layout = _layout(world)
    ids = {"page": "data-sources", "table": "runs"}
    meta = _component(layout, {"type": "static-table-meta", **ids}).data
    grid = _component(layout, {"type": "static-table", **ids})
    with signed_in(world, "admin", path="/data-sources"):
        sent = static_table_file("csv", grid.rowData, meta)
    table = list(csv.reader(io.StringIO(base64.b64decode(sent["content"]).decode("utf-8-sig"))))
    assert table[0][-1] == "Duration (s)" and table[1][-1] == "4.5"
    assert [c["headerName"] for c in grid.columnDefs][-1] == "Duration"  # the screen: "4.5 s"
