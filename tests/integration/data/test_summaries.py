"""The summary layer's upkeep (data/summaries.py): kept exact by every write, and a rebuild from
the raw tables gives the same rows as the incremental upkeep after a sequence of imports."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from data import models as m
from data.importer import import_bundle
from data.summaries import data_version, rebuild

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "bundle"
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dash_app(request, make_app):
    """The upkeep is checked against a rebuild on SQLite and on a real PostgreSQL server (the
    append path of data/summary_append.py runs its own SQL on each)."""
    if request.param == "postgres":
        return make_app(database_url=request.getfixturevalue("pg_migrated_db_url"))
    return make_app()


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


@pytest.mark.parametrize("chunked", [False, True], ids=["as-is", "chunked"])
def test_sum001_rebuild_gives_the_tables_the_upkeep_kept(db, tmp_path, monkeypatch, chunked):
    if chunked:  # a big platform's path: the learners refreshed a chunk at a time, never in full
        monkeypatch.setattr("data.summaries.FULL_REFRESH_MAX_USERS", 0)
        monkeypatch.setattr("data.summaries.REFRESH_CHUNK", 1)
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


def test_sum004_new_connections_and_logins_alone_are_added_exactly_as_a_rebuild(db, tmp_path, monkeypatch):
    """A bundle of only connections and logins refreshes no learner: its rows are added to the
    summaries (data/summary_append.py), and every summary table is then the one a rebuild gives."""
    from data import summary_append

    with db.session() as s:
        import_bundle(s, SAMPLE, PARIS)
    appended = []
    real_apply = summary_append.apply

    def counting_apply(session, connections, logins, tz):
        appended.append((len(connections), len(logins)))
        return real_apply(session, connections, logins, tz)

    monkeypatch.setattr(summary_append, "apply", counting_apply)
    second = write_bundle(
        tmp_path / "events",
        {
            "connections.csv": "user_id,module_id,connected_at,disconnected_at,session_id\n"
            # already stored: unchanged, not added twice
            "u1,m1,2025-03-03T09:55:00,2025-03-03T10:35:00,s1\n"
            # an earlier connection in s1 (first_connection moves), another day
            "u1,m1,2025-03-01T09:00:00,2025-03-01T09:10:00.250,s1\n"
            # the same day as a stored one, fractions of a second
            "u1,m2,2025-07-10T15:00:00.123,2025-07-10T15:10:00.5004,\n"
            # across the autumn daylight-saving change, a new week and month
            "u1,m1,2025-10-26T01:30:00+02:00,2025-10-26T02:30:00+01:00,\n"
            # a module of a training u2 is not in; a session u2 is not registered to
            "u2,m3,2025-03-05T23:30:00,2025-03-06T00:30:00,\n"
            "u2,m1,2025-04-01T10:00:00,2025-04-01T10:10:00.100,s2\n"
            "u3,m3,2025-09-01T08:00:00,2025-09-01T08:05:00,\n"
            "u4,m3,2025-06-20T08:00:00,2025-06-20T09:00:00,\n"
            "u5,m1,2025-06-20T08:00:00,2025-06-20T08:01:00,\n"
            "u5,m2,2025-12-31T23:59:59,2026-01-01T00:10:00,\n",
            "logins.csv": "user_id,logged_in_at\n"
            "u1,2025-03-03T09:50:00\n"  # stored
            "u1,2025-11-15T07:00:00\n"
            "u2,2025-03-04T10:00:00+02:00\n"  # a day u2 was already active
            "u5,2026-02-01T12:00:00\n",
        },
    )
    with db.session() as s:
        summary = import_bundle(s, second, PARIS)
    assert (summary.files["connections.csv"].added, summary.files["connections.csv"].unchanged) == (9, 1)
    assert (summary.files["logins.csv"].added, summary.files["logins.csv"].unchanged) == (3, 1)
    assert appended == [(9, 3)], "the new rows were added, no learner recomputed"
    # 600.1 s stored, 0.2 s more on the same day: 600.3, not 600.3000000000001 (float addition).
    third = write_bundle(
        tmp_path / "more",
        {
            "connections.csv": "user_id,module_id,connected_at,disconnected_at,session_id\n"
            "u2,m1,2025-04-01T11:00:00,2025-04-01T11:00:00.200,s2\n"
        },
    )
    with db.session() as s:
        import_bundle(s, third, PARIS)
    assert appended == [(9, 3), (1, 0)]
    kept = summary_rows(db)
    (day,) = [r for r in kept["summary_user_module_days"] if r[:3] == ("u2", "m1", date(2025, 4, 1))]
    assert (day.connections, day.seconds) == (2, 600.3)
    # By hand: u1 on m2 had 45 min (13:55-14:40); 600.377 s more.
    (u1_m2,) = [r for r in kept["summary_user_modules"] if (r.user_id, r.module_id) == ("u1", "m2")]
    assert (u1_m2.connections, u1_m2.seconds) == (2, 3300.377)
    (s1_u1,) = [r for r in kept["summary_session_users"] if (r.session_id, r.user_id) == ("s1", "u1")]
    assert (s1_u1.connections, str(s1_u1.first_connection), s1_u1.time_spent) == (
        2,
        "2025-03-01 08:00:00",
        3000.25,
    )

    with db.session() as s:
        rebuild(s, PARIS)
    rebuilt = summary_rows(db)
    kept.pop("summary_meta", None)
    rebuilt.pop("summary_meta", None)
    for table, rows in rebuilt.items():
        assert kept[table] == rows, table


def test_sum005_connections_and_logins_are_appended_through_their_unique_key(db, tmp_path):
    """The importer adds connections and logins without reading the stored rows first, relying
    on the tables' unique keys (INSERT OR IGNORE on SQLite, COPY then ON CONFLICT DO NOTHING on
    PostgreSQL): both databases have them."""
    from data import importer

    with db.session() as s:
        reader = importer._Importer(s, tmp_path, PARIS)
        assert reader.has_unique_key(importer.SPECS["connections.csv"])
        assert reader.has_unique_key(importer.SPECS["logins.csv"])
        assert not reader.has_unique_key(importer.SPECS["enrollments.csv"]), "not every column is its key"
