"""The Data sources page in a real browser (issue 17): an admin opens it from the navbar, sees
the runs in the table and a progress bar for the sync under way, which the page's poll replaces
by the finished run once it ends; no console error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from selenium.webdriver.common.by import By

from data.models import ImportRun
from tests.browser.test_pages import start_signed_in, wait_until


def test_dsb001_admin_sees_runs_and_live_progress(dash_duo, dash_app, db, factory):
    factory.user("admin", "Ada", "Admin", email="admin@example.org", roles=("admin",))
    factory.s.commit()
    now = datetime.now(UTC).replace(tzinfo=None)
    with db.session() as s:
        s.add(
            ImportRun(
                kind="xapi-file",
                source="statements.jsonl.gz",
                started_at=now - timedelta(hours=1),
                finished_at=now - timedelta(hours=1) + timedelta(seconds=12.5),
                status="done",
                accepted=19,
                added=json.dumps({"statements": 19, "users": 3}),
                skipped=json.dumps({"no course": {"count": 1, "example": "line 18: statement eb7f"}}),
                progress_done=19,
                progress_total=19,
            )
        )
        running = ImportRun(
            kind="lrs-sync",
            source="http://127.0.0.1:8100/xAPI/statements",
            started_at=now - timedelta(seconds=20),
            status="running",
            accepted=4,
            added="{}",
            skipped="{}",
            progress_done=8,
        )
        s.add(running)
        s.flush()
        running_id = running.id

    start_signed_in(dash_duo, dash_app, "admin@example.org", "/")
    dash_duo.wait_for_element("#nav-data-sources-link").click()
    dash_duo.wait_for_element("#data-sources-progress-list .progress-bar")
    assert "8 read so far" in dash_duo.find_element("#data-sources-progress-list").text
    grid = dash_duo.wait_for_element("#data-sources-runs .ag-center-cols-container")
    wait_until(dash_duo, lambda d: "statements.jsonl.gz" in grid.text, "the runs table is not drawn")
    assert "no course: 1 (e.g. line 18: statement eb7f)" in grid.text
    assert "12.5 s" in grid.text  # (selenium reads the no-break space as a space)

    # The sync ends: within a poll (2 s) the bar goes and the table says so.
    with db.session() as s:
        run = s.get(ImportRun, running_id)
        run.status, run.finished_at, run.progress_done = "done", datetime.now(UTC).replace(tzinfo=None), 12
    wait_until(
        dash_duo,
        lambda d: not d.find_elements(By.CSS_SELECTOR, "#data-sources-progress-list .progress-bar"),
        "the progress bar stays after the run ended",
        timeout=15,
    )
    wait_until(
        dash_duo,
        lambda d: (
            "LRS sync" in d.find_element(By.CSS_SELECTOR, "#data-sources-runs .ag-center-cols-container").text
        ),
        "the finished sync is not in the table",
    )
    assert dash_duo.get_logs() == []
