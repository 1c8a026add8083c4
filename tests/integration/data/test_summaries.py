"""The summary layer's upkeep (data/summaries.py): kept exact by every write, and a rebuild from
the raw tables gives the same rows as the incremental upkeep after a sequence of imports."""

from __future__ import annotations

import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from data import models as m
from data.importer import import_bundle
from data.summaries import data_version, rebuild

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "bundle"
PARIS = ZoneInfo("Europe/Paris")


def summary_rows(db) -> dict[str, list[tuple]]:
    with db.engine.connect() as connection:
        return {
            t.__tablename__: sorted(connection.execute(select(t)).all(), key=repr) for t in m.SUMMARY_TABLES
        }


def write_bundle(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_sum001_rebuild_gives_the_tables_the_upkeep_kept(db, tmp_path):
    with db.session() as s:
        import_bundle(s, SAMPLE, PARIS)
    # A second import: a re-finished attempt with a new answer, a connection across the
    # daylight-saving change, a login, a class registration.
    second = write_bundle(
        tmp_path / "second",
        {
            "attempts.csv": "attempt_id,user_id,training_id,module_id,started_at,finished_at\n"
            "at2,u1,t1,m2,2025-07-10T14:00:00,2025-07-10T15:00:00\n",
            "connections.csv": "user_id,module_id,connected_at,disconnected_at,session_id\n"
            "u1,m2,2025-10-26T01:30:00+02:00,2025-10-26T02:30:00+01:00,\n",
            "logins.csv": "user_id,logged_in_at\nu1,2025-10-26T23:59:00\n",
        },
    )
    with db.session() as s:
        import_bundle(s, second, PARIS)
    kept = summary_rows(db)
    assert kept["summary_pairs"], "the imports filled the summaries"
    assert any(row.training_id == "t1" for row in kept["summary_pair_history"])
    version = None
    with db.session() as s:
        version = data_version(s)
        rebuild(s, PARIS)
    rebuilt = summary_rows(db)
    kept.pop("summary_meta", None)
    rebuilt.pop("summary_meta", None)
    assert rebuilt == kept
    with db.session() as s:
        assert data_version(s) > version


# One file per import: each refresh runs only the stages its raw table reaches
# (data/summaries.py REFRESHES); the kept tables must still equal a rebuild's.
SINGLE_FILE_WRITES = {
    "logins.csv": "user_id,logged_in_at\nu1,2025-10-26T23:59:00\nu2,2025-08-01T08:00:00\n",
    "attempts.csv": "attempt_id,user_id,training_id,module_id,started_at,finished_at\n"
    "at2,u1,t1,m2,2025-07-10T14:00:00,2025-07-10T15:00:00\n",
    "answers.csv": "attempt_id,activity_id,score,answer,answered_at,evaluated\n"
    "at1,a2,5,Fait.,2025-03-03T10:20:00,true\n",
    "session_learners.csv": "session_id,user_id\ns2,u1\n",
    "connections.csv": "user_id,module_id,connected_at,disconnected_at,session_id\n"
    "u1,m2,2025-10-26T01:30:00+02:00,2025-10-26T02:30:00+01:00,s2\n",
    "class_trainings.csv": "class_id,training_id,registered_at\nc2,t1,2025-09-01T09:00:00\n",
}


@pytest.mark.parametrize("name", sorted(SINGLE_FILE_WRITES))
def test_sum001b_a_one_file_import_keeps_the_tables_a_rebuild_gives(db, tmp_path, name):
    with db.session() as s:
        import_bundle(s, SAMPLE, PARIS)
    before = summary_rows(db)
    with db.session() as s:
        import_bundle(s, write_bundle(tmp_path / "one", {name: SINGLE_FILE_WRITES[name]}), PARIS)
    kept = summary_rows(db)
    kept.pop("summary_meta", None)
    before.pop("summary_meta", None)
    assert kept != before, "the write changed some summary"
    with db.session() as s:
        rebuild(s, PARIS)
    rebuilt = summary_rows(db)
    rebuilt.pop("summary_meta", None)
    assert rebuilt == kept


def test_sum002_a_write_in_the_session_is_seen_by_a_read_in_it(db, factory):
    from data.figures.cards import learner_count, status_summary
    from data.figures.population import ALL
    from data.scope import global_scope

    t = factory.training()
    mod = factory.module(max_scores=(10,))
    factory.step(t, mod)
    u = factory.user()
    factory.enroll(u, t)
    scope = global_scope()
    assert status_summary(factory.s, scope, ALL, PARIS).counts["not started"] == 1
    factory.attempt(u, t, mod, started="2026-01-02 10:00", finished="2026-01-02 10:30", scores=(10,))
    summary = status_summary(factory.s, scope, ALL, PARIS)
    assert summary.counts["passed"] == 1 and summary.average_score == 100.0
    # Blocking the learner takes them out of the counts.
    u.status = "blocked"
    assert learner_count(factory.s, scope, ALL, PARIS) == 0


def test_sum003_rebuild_summaries_command(make_app, tmp_path):
    app = make_app()
    db = app.server.extensions["learnstats_db"]
    folder = tmp_path / "bundle"
    shutil.copytree(SAMPLE, folder)
    with db.session() as s:
        import_bundle(s, folder, PARIS)
    before = summary_rows(db)
    with db.engine.begin() as connection:
        connection.execute(m.SummaryPair.__table__.delete())
    result = app.server.test_cli_runner().invoke(args=["rebuild-summaries"])
    assert result.exit_code == 0, result.output
    assert "rebuilt" in result.output
    after = summary_rows(db)
    before.pop("summary_meta", None)
    after.pop("summary_meta", None)
    assert after == before
