"""import-bundle records its run for the Data sources page (issue 17): kind "bundle", the folder,
rows read, and per file the rows added, updated and unchanged; a refused bundle is recorded as
failed with its error count and first error, and nothing else is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import func, select

from data.models import ImportRun, User

BUNDLE = Path(__file__).resolve().parents[2] / "data" / "bundle"
# Data rows of each file of tests/data/bundle (counted by hand: records after the header; a
# quoted field of users.csv holds a line break, so 7 lines there are 5 users).
ROWS = {
    "users.csv": 5,
    "user_fields.csv": 4,
    "roles.csv": 4,
    "trainings.csv": 2,
    "modules.csv": 3,
    "training_modules.csv": 3,
    "activities.csv": 4,
    "classes.csv": 2,
    "class_members.csv": 3,
    "class_trainings.csv": 2,
    "enrollments.csv": 2,
    "sessions.csv": 2,
    "session_learners.csv": 2,
    "attempts.csv": 3,
    "answers.csv": 3,
    "connections.csv": 4,
    "logins.csv": 3,
    "tutor_contacts.csv": 2,
    "satisfaction.csv": 2,
}


def _runs(db) -> list[ImportRun]:
    with db.session() as s:
        return list(s.scalars(select(ImportRun).order_by(ImportRun.id)))


def test_irn001_a_bundle_import_is_a_run_with_counts_per_file(server, db):
    runner = server.test_cli_runner()
    first = runner.invoke(args=["import-bundle", str(BUNDLE)])
    assert first.exit_code == 0, first.output
    again = runner.invoke(args=["import-bundle", str(BUNDLE)])
    assert again.exit_code == 0, again.output
    one, two = _runs(db)
    assert (one.kind, one.status, one.source, one.accepted) == (
        "bundle",
        "done",
        str(BUNDLE),
        sum(ROWS.values()),
    )
    assert one.finished_at is not None and one.error is None
    added = json.loads(one.added)
    assert {name: counts["added"] for name, counts in added.items()} == ROWS
    # The same bundle again: every row already there, nothing added.
    assert two.accepted == sum(ROWS.values())
    assert all(counts["added"] == 0 for counts in json.loads(two.added).values())
    assert sum(c["updated"] + c["unchanged"] for c in json.loads(two.added).values()) == sum(ROWS.values())


def test_irn002_a_refused_bundle_is_a_failed_run_and_nothing_else(server, db, tmp_path):
    broken = tmp_path / "bundle"
    shutil.copytree(BUNDLE, broken)
    users = (broken / "users.csv").read_text().splitlines()
    users.append("u-broken,not-an-email-twice@example.org,Anne,Broken,,,2026-13-45,active")
    (broken / "users.csv").write_text("\n".join(users) + "\n")
    result = server.test_cli_runner().invoke(args=["import-bundle", str(broken)])
    assert result.exit_code == 1
    assert "Import refused: 1 error(s); nothing was written." in result.output
    [run] = _runs(db)
    assert (run.kind, run.status, run.accepted) == ("bundle", "failed", 0)
    assert run.error.startswith("1 error(s) (first: users.csv:") and ": created_at: " in run.error
    assert run.error.endswith("; nothing was written")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0
