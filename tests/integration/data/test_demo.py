"""The demo platform (data/demo.py): content, realism, determinism, accounts."""

from __future__ import annotations

import calendar
import hashlib
import re
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select, text

from auth.roles import load_scope
from auth.users import authenticate
from data import demo as demo_module
from data import models as m
from data import summaries
from data.db import Database
from data.demo import DEMO_ACCOUNTS, DemoDataError, ensure_demo_data, generate_demo_data
from data.enrollments import refresh_training_learners

TZ = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")
TODAY = date(2026, 5, 4)
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?")
MIDNIGHT_UTC = datetime.combine(TODAY, time(), tzinfo=TZ).astimezone(UTC).replace(tzinfo=None)


def local(value: datetime, tz: ZoneInfo = TZ) -> datetime:
    return value.replace(tzinfo=UTC).astimezone(tz)


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The default demo platform (300 learners, seed 42) on a fresh migrated database."""
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    summary = generate_demo_data(database, tz=TZ, today=TODAY)
    yield database, summary
    database.engine.dispose()


def _typed(value):
    """Raw SQL on SQLite returns timestamps as text: read them back as datetimes."""
    if isinstance(value, str) and TIMESTAMP.fullmatch(value):
        return datetime.fromisoformat(value)
    return value


def rows(database: Database, sql: str, **params) -> list[tuple]:
    with database.engine.connect() as connection:
        return [tuple(_typed(v) for v in row) for row in connection.execute(text(sql), params)]


def scalar(database: Database, sql: str, **params):
    with database.engine.connect() as connection:
        return _typed(connection.execute(text(sql), params).scalar())


def table_digest(database: Database) -> str:
    """A hash of every row of every table except password hashes (salted on purpose)."""
    digest = hashlib.sha256()
    with database.engine.connect() as connection:
        for table in m.Base.metadata.sorted_tables:
            columns = [c for c in table.columns if c.name != "password_hash"]
            order = list(table.primary_key.columns)
            for row in connection.execute(select(*columns).order_by(*order)):
                digest.update(repr((table.name, tuple(row))).encode())
    return digest.hexdigest()


def test_demo001_default_size_and_summary(demo):
    database, summary = demo
    learners = scalar(database, "SELECT count(*) FROM users WHERE id LIKE 'u%'")
    assert learners == 300
    not_enrolled = scalar(
        database,
        "SELECT count(*) FROM users u WHERE id LIKE 'u%' AND NOT EXISTS "
        "(SELECT 1 FROM training_learners tl WHERE tl.user_id = u.id)",
    )
    assert not_enrolled == 0
    assert "\n" not in summary
    assert "301 learners" in summary and "seed 42" in summary and "2026-05-04" in summary


def test_demo002_catalogue_shapes(demo):
    database, _ = demo
    sizes = dict(rows(database, "SELECT training_id, count(*) FROM training_modules GROUP BY training_id"))
    assert len(sizes) >= 6
    assert all(3 <= n <= 8 for n in sizes.values()), sizes
    zero_modules = rows(
        database,
        "SELECT module_id FROM activities GROUP BY module_id HAVING max(max_score) = 0 AND count(*) > 0",
    )
    assert zero_modules, "a module whose activities all have max score 0"
    assert scalar(database, "SELECT count(*) FROM modules WHERE keep_results = 'newest'") >= 2
    assert scalar(database, "SELECT count(*) FROM modules WHERE keep_results = 'best'") >= 2
    assert scalar(database, "SELECT count(*) FROM training_modules WHERE mandatory = 0") >= 3
    assert scalar(database, "SELECT count(*) FROM training_modules WHERE min_score > 0") >= 3
    no_mandatory = rows(
        database, "SELECT training_id FROM training_modules GROUP BY training_id HAVING max(mandatory) = 0"
    )
    assert len(no_mandatory) == 1
    assert scalar(database, "SELECT count(*) FROM trainings WHERE published = 0") == 1
    assert scalar(database, "SELECT count(*) FROM trainings WHERE validity_months > 0") >= 2
    names = {name for (name,) in rows(database, "SELECT name FROM trainings")}
    assert {"Sécurité au travail", "Management d'équipe", "Excel avancé"} <= names
    # Every scored activity has a question and its correct answer.
    assert (
        scalar(
            database,
            "SELECT count(*) FROM activities WHERE max_score > 0 AND (question = '' OR correct_answer = '')",
        )
        == 0
    )
    assert scalar(database, "SELECT count(*) FROM activities WHERE max_score > 0") >= 60


def test_demo003_people_look_real(demo):
    database, _ = demo
    people = rows(database, "SELECT id, email, first_name, last_name, created_at, status FROM users")
    names = " ".join(f"{first} {last}" for _, _, first, last, _, _ in people)
    assert any(c in names for c in "éèêëçïî")
    assert any(c in names for c in "ÉŒœæÆ")
    assert any(c in names for c in "ñüöøåłß")
    emails = [email for _, email, *_ in people]
    assert len(emails) == len({e.lower() for e in emails})
    assert all(e.isascii() and e.count("@") == 1 for e in emails)
    learners = [p for p in people if p[0].startswith("u")]
    blocked = sum(1 for p in learners if p[5] == "blocked")
    assert 1 <= blocked <= 0.06 * len(learners)
    created = sorted(p[4] for p in learners)
    assert created[-1] < MIDNIGHT_UTC
    assert (created[-1] - created[0]).days >= 300
    assert created[0] >= MIDNIGHT_UTC - timedelta(days=31 * 15)
    labels = rows(database, "SELECT user_id, label FROM user_labels")
    assert labels and all("," not in label for _, label in labels)
    per_user = defaultdict(int)
    for user_id, _ in labels:
        per_user[user_id] += 1
    assert max(per_user.values()) >= 2
    fields = dict(rows(database, "SELECT field, count(DISTINCT value) FROM user_fields GROUP BY field"))
    assert {"Service", "Site", "Contrat"} <= set(fields)
    assert all(fields[f] >= 3 for f in ("Service", "Site", "Contrat"))
    with_info = scalar(database, "SELECT count(*) FROM users WHERE id LIKE 'u%' AND additional_info <> ''")
    assert 0 < with_info < len(learners)


def test_demo004_enrollments_classes_sessions(demo):
    database, _ = demo
    assert 5 <= scalar(database, "SELECT count(*) FROM classes") <= 10
    assert scalar(database, "SELECT count(*) FROM class_trainings WHERE registered_at IS NULL") == 0
    assert scalar(database, "SELECT count(*) FROM class_members WHERE joined_at IS NULL") == 0
    assert scalar(database, "SELECT count(*) FROM enrollments") > 100
    both = scalar(
        database,
        "SELECT count(*) FROM enrollments e JOIN class_members cm ON cm.user_id = e.user_id "
        "JOIN class_trainings ct ON ct.class_id = cm.class_id AND ct.training_id = e.training_id",
    )
    assert both > 0, "some learners are enrolled both directly and through a class"
    per_training = dict(
        rows(database, "SELECT training_id, count(*) FROM program_sessions GROUP BY training_id")
    )
    assert len(per_training) >= 6 and min(per_training.values()) >= 2
    assert scalar(database, "SELECT count(*) FROM program_sessions WHERE ends_at < starts_at") == 0
    instructed = scalar(
        database, "SELECT count(DISTINCT scope_id) FROM roles WHERE role = 'session_instructor'"
    )
    assert instructed == scalar(database, "SELECT count(*) FROM program_sessions")
    # Sessions run from 09:00 local time, whatever the daylight-saving period.
    starts = [local(s).time() for (s,) in rows(database, "SELECT starts_at FROM program_sessions")]
    assert set(starts) == {time(9)}
    # Session learners are learners of the session's training.
    stray = scalar(
        database,
        "SELECT count(*) FROM session_learners sl JOIN program_sessions ps ON ps.id = sl.session_id "
        "WHERE NOT EXISTS (SELECT 1 FROM training_learners tl "
        "WHERE tl.user_id = sl.user_id AND tl.training_id = ps.training_id)",
    )
    assert stray == 0


def test_demo005_activity_is_consistent_and_up_to_today(demo):
    database, _ = demo
    for sql in (
        "SELECT max(logged_in_at) FROM logins",
        "SELECT max(disconnected_at) FROM connections",
        "SELECT max(coalesce(finished_at, started_at)) FROM attempts",
        "SELECT max(answered_at) FROM answers",
    ):
        latest = scalar(database, sql)
        assert MIDNIGHT_UTC - timedelta(days=7) < latest < MIDNIGHT_UTC, sql
    first_login = scalar(database, "SELECT min(logged_in_at) FROM logins")
    assert (MIDNIGHT_UTC - first_login).days >= 365
    # Scores stay within 0..max; some answers await grading; some attempts are unfinished.
    assert (
        scalar(
            database,
            "SELECT count(*) FROM answers a JOIN activities ac ON ac.id = a.activity_id "
            "WHERE a.score < 0 OR a.score > ac.max_score",
        )
        == 0
    )
    assert scalar(database, "SELECT count(*) FROM answers WHERE evaluated = 0") >= 5
    assert scalar(database, "SELECT count(*) FROM attempts WHERE finished_at IS NULL") >= 10
    assert scalar(database, "SELECT count(*) FROM attempts WHERE finished_at < started_at") == 0
    # Failed then retried: several finished attempts of one module by one learner.
    retried = scalar(
        database,
        "SELECT count(*) FROM (SELECT user_id FROM attempts WHERE finished_at IS NOT NULL "
        "GROUP BY user_id, training_id, module_id HAVING count(*) > 1) AS r",
    )
    assert retried >= 10
    # Attempts start after the learner's enrollment in the training.
    early = scalar(
        database,
        "SELECT count(*) FROM attempts a JOIN training_learners tl "
        "ON tl.user_id = a.user_id AND tl.training_id = a.training_id WHERE a.started_at < tl.enrolled_at",
    )
    assert early == 0
    not_enrolled = scalar(
        database,
        "SELECT count(*) FROM attempts a WHERE NOT EXISTS (SELECT 1 FROM training_learners tl "
        "WHERE tl.user_id = a.user_id AND tl.training_id = a.training_id)",
    )
    assert not_enrolled == 0


def test_demo006_connections(demo):
    database, _ = demo
    spans = rows(database, "SELECT connected_at, disconnected_at, session_id FROM connections")
    assert all(end > start for start, end, _ in spans)
    inside = sum(1 for *_, session_id in spans if session_id)
    assert 0.1 * len(spans) < inside < 0.9 * len(spans)
    lengths = [(end - start).total_seconds() for start, end, _ in spans]
    assert min(lengths) < 10 * 60 and any(3600 < n < 86400 for n in lengths)
    assert 1 <= sum(1 for n in lengths if n > 86400) <= 2
    over_midnight = [
        (start, end)
        for start, end, _ in spans
        if local(start).date() != local(end).date() and (end - start).total_seconds() < 86400
    ]
    assert over_midnight
    # Session connections happen during their session's days.
    outside_dates = scalar(
        database,
        "SELECT count(*) FROM connections c JOIN program_sessions ps ON ps.id = c.session_id "
        "WHERE c.connected_at < ps.starts_at OR c.connected_at > ps.ends_at",
    )
    assert outside_dates == 0
    # Every connection is to a module of a training the user is enrolled in.
    stray = scalar(
        database,
        "SELECT count(*) FROM connections c WHERE NOT EXISTS (SELECT 1 FROM training_modules tm "
        "JOIN training_learners tl ON tl.training_id = tm.training_id "
        "WHERE tm.module_id = c.module_id AND tl.user_id = c.user_id)",
    )
    assert stray == 0


def test_demo007_learners_progress_in_module_order(demo):
    database, _ = demo
    firsts = rows(
        database,
        "SELECT a.user_id, a.training_id, tm.position, min(a.started_at) FROM attempts a "
        "JOIN training_modules tm ON tm.training_id = a.training_id AND tm.module_id = a.module_id "
        "GROUP BY a.user_id, a.training_id, tm.position",
    )
    by_pair = defaultdict(list)
    for user_id, training_id, position, started in firsts:
        by_pair[user_id, training_id].append((position, started))
    assert len(by_pair) > 200
    for pair, steps in by_pair.items():
        by_position = [started for _, started in sorted(steps)]
        assert by_position == sorted(by_position), pair
    # Not everyone finishes: some pairs stop before the last module.
    sizes = dict(rows(database, "SELECT training_id, count(*) FROM training_modules GROUP BY training_id"))
    partial = sum(1 for (_, training_id), steps in by_pair.items() if len(steps) < sizes[training_id])
    assert partial > 30


def test_demo008_expired_certificates_exist(demo):
    """A passed training with validity whose completion + validity is before today (SPEC §4)."""
    database, _ = demo
    max_scores = defaultdict(float)
    for module_id, max_score in rows(database, "SELECT module_id, max_score FROM activities"):
        max_scores[module_id] += max_score
    keep = dict(rows(database, "SELECT id, keep_results FROM modules"))
    got = defaultdict(float)
    for attempt_id, score in rows(database, "SELECT attempt_id, score FROM answers WHERE evaluated = 1"):
        got[attempt_id] += score
    finished = defaultdict(list)
    for attempt_id, user_id, training_id, module_id, end in rows(
        database,
        "SELECT id, user_id, training_id, module_id, finished_at FROM attempts WHERE finished_at IS NOT NULL",
    ):
        total = max_scores[module_id]
        score = 100.0 if total == 0 else 100.0 * got[attempt_id] / total
        finished[user_id, training_id, module_id].append((end, score))
    trainings = rows(database, "SELECT id, validity_months FROM trainings WHERE validity_months IS NOT NULL")
    expired = valid = 0
    for training_id, months in trainings:
        steps = rows(
            database,
            "SELECT module_id, mandatory, min_score FROM training_modules WHERE training_id = :t",
            t=training_id,
        )
        steps = [s for s in steps if s[1]] or steps
        users = rows(database, "SELECT user_id FROM training_learners WHERE training_id = :t", t=training_id)
        for (user_id,) in users:
            completions, passed = [], True
            for module_id, _, min_score in steps:
                tries = finished.get((user_id, training_id, module_id))
                if not tries:
                    break
                completions.append(min(end for end, _ in tries))
                kept = max(tries)[1] if keep[module_id] == "newest" else max(s for _, s in tries)
                passed = passed and kept >= min_score
            else:
                if passed:
                    completed_on = local(max(completions)).date()
                    if add_months(completed_on, months) < TODAY:
                        expired += 1
                    else:
                        valid += 1
    assert expired >= 3
    assert valid >= 3


def test_demo009_every_demo_account_signs_in_with_its_role(demo):
    database, _ = demo
    assert len(DEMO_ACCOUNTS) == 7
    assert len({a.email for a in DEMO_ACCOUNTS}) == 7
    expected = {
        "admin": "admin",
        "global_user_manager": "global_user_manager",
        "statistics_manager": "statistics_manager",
        "training_manager": "training_manager",
        "class_manager": "class_manager",
        "session_instructor": "session_instructor",
        "learner": None,
    }
    with database.session() as s:
        for account in DEMO_ACCOUNTS:
            assert len(account.password) >= 8
            user = authenticate(s, account.email, account.password)
            assert user is not None, account.email
            assert authenticate(s, account.email, account.password + "x") is None
            role = account.role.split(" ")[0]
            roles = s.execute(select(m.Role.role, m.Role.scope_id).where(m.Role.user_id == user.id)).all()
            if expected[role] is None:
                assert roles == []
                continue
            assert [r for r, _ in roles] == [expected[role]]
            scope = load_scope(s, user.id)
            if role in ("admin", "global_user_manager", "statistics_manager"):
                assert scope.is_global and roles[0][1] == ""
            elif role == "training_manager":
                assert scope.trainings == {"t-securite"} and "Sécurité au travail" in account.role
            elif role == "class_manager":
                name = s.scalar(select(m.Class.name).where(m.Class.id == roles[0][1]))
                assert name in account.role
                assert scope.class_trainings[roles[0][1]]
            else:
                session_id = roles[0][1]
                assert scope.sessions == {session_id}
                played = s.scalar(
                    select(func.count(func.distinct(m.Connection.user_id))).where(
                        m.Connection.session_id == session_id
                    )
                )
                assert played >= 1, "the demo instructor's session has learners who played it"
            enrolled = s.scalar(select(func.count()).where(m.TrainingLearner.user_id == user.id))
            assert enrolled == 0, "manager accounts are not enrolled"
        with_password = s.scalar(select(func.count()).where(m.User.password_hash.is_not(None)))
        assert with_password == len(DEMO_ACCOUNTS)


def test_demo010_demo_learner_has_two_trainings_with_progress(demo):
    database, _ = demo
    learner = next(a for a in DEMO_ACCOUNTS if a.role == "learner")
    user_id = scalar(database, "SELECT id FROM users WHERE email = :e", e=learner.email)
    trainings = rows(database, "SELECT training_id FROM training_learners WHERE user_id = :u", u=user_id)
    assert len(trainings) == 2
    finished = dict(
        rows(
            database,
            "SELECT training_id, count(DISTINCT module_id) FROM attempts "
            "WHERE user_id = :u AND finished_at IS NOT NULL GROUP BY training_id",
            u=user_id,
        )
    )
    assert set(finished) == {t for (t,) in trainings}
    mandatory = dict(
        rows(
            database,
            "SELECT training_id, count(*) FROM training_modules WHERE mandatory = 1 GROUP BY training_id",
        )
    )
    done = sorted(t for t, n in finished.items() if n >= mandatory[t])
    assert len(done) == 1, "one training completed, the other in progress"
    assert scalar(database, "SELECT count(*) FROM logins WHERE user_id = :u", u=user_id) > 3


def test_demo011_same_seed_same_rows_other_seed_other_rows(tmp_path):
    digests = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        database = Database(f"sqlite:///{tmp_path / name}.sqlite3")
        database.migrate()
        generate_demo_data(database, learners=60, seed=seed, tz=TZ, today=TODAY)
        digests.append(table_digest(database))
        database.engine.dispose()
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]


def test_demo012_refuses_a_database_with_users(db, factory):
    factory.user(email="someone@example.org")
    factory.s.commit()
    with pytest.raises(DemoDataError, match="empty database"):
        generate_demo_data(db, learners=20, today=TODAY)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(m.User)) == 1
        assert s.scalar(select(func.count()).select_from(m.Training)) == 0


def test_demo013_ensure_demo_data_loads_once_in_the_app_time_zone(make_app):
    app = make_app(timezone="America/New_York")
    database = app.server.extensions["learnstats_db"]
    with app.server.app_context():
        assert ensure_demo_data(database) is True
        assert ensure_demo_data(database) is False
    assert scalar(database, "SELECT count(*) FROM users WHERE id LIKE 'u%'") == 300
    new_york = ZoneInfo("America/New_York")
    starts = {local(s, new_york).time() for (s,) in rows(database, "SELECT starts_at FROM program_sessions")}
    assert starts == {time(9)}


def test_demo014_tiny_platform_on_a_fresh_app_database(db):
    summary = generate_demo_data(db, learners=1, seed=3, today=TODAY)
    assert "2 learners" in summary
    assert scalar(db, "SELECT count(*) FROM users WHERE id LIKE 'u%'") == 1
    assert scalar(db, "SELECT count(*) FROM training_learners") >= 3


def _digest_without_meta(database: Database) -> dict[str, str]:
    """Per table, a hash of its rows in key order (password hashes and summary_meta's data
    version aside)."""
    out = {}
    with database.engine.connect() as connection:
        for table in m.Base.metadata.sorted_tables:
            if table.name == "summary_meta":
                continue
            digest = hashlib.sha256()
            columns = [c for c in table.columns if c.name != "password_hash"]
            for row in connection.execute(select(*columns).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
            out[table.name] = digest.hexdigest()
    return out


def test_demo015_streamed_summaries_equal_a_rebuild(tmp_path, monkeypatch):
    """Issue 22 point 4: the summaries built a chunk of learners at a time (and the effective
    enrollments of each chunk) are exactly what a rebuild from the raw tables stores."""
    monkeypatch.setattr(demo_module, "USER_CHUNK", 40)  # 130 learners: four chunks, the last one short
    database = Database(f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    database.migrate()
    generate_demo_data(database, learners=130, seed=7, tz=TZ, today=TODAY)
    streamed = _digest_without_meta(database)
    with database.session() as s:
        refresh_training_learners(s)
        summaries.rebuild(s, TZ)
    rebuilt = _digest_without_meta(database)
    assert streamed == rebuilt
    assert scalar(database, "SELECT count(*) FROM summary_pairs") > 300
    assert scalar(database, "SELECT count(*) FROM summary_group_status") > 10
    database.engine.dispose()


def test_demo016_rows_written_through_the_driver_equal_sqlalchemy_inserts(tmp_path, monkeypatch):
    """The raw rows the generator writes straight through SQLite's driver are those SQLAlchemy
    Core's executemany inserts store (dates, booleans, defaults of omitted columns)."""
    database = Database(f"sqlite:///{tmp_path / 'driver.sqlite3'}")
    database.migrate()
    generate_demo_data(database, learners=70, seed=5, tz=TZ, today=TODAY)
    driver = _digest_without_meta(database)
    database.engine.dispose()

    def core_insert(self, model, rows_):
        for start in range(0, len(rows_), demo_module.INSERT_CHUNK):
            self.s.execute(insert(model.__table__), rows_[start : start + demo_module.INSERT_CHUNK])

    monkeypatch.setattr(demo_module._Generator, "insert", core_insert)
    database = Database(f"sqlite:///{tmp_path / 'core.sqlite3'}")
    database.migrate()
    generate_demo_data(database, learners=70, seed=5, tz=TZ, today=TODAY)
    assert _digest_without_meta(database) == driver
    assert scalar(database, "SELECT count(*) FROM connections") > 500
    database.engine.dispose()


def test_demo017_streamed_platform_on_postgresql(pg_migrated_db_url, monkeypatch):
    """On PostgreSQL (SQLAlchemy Core inserts, no page cache) the chunked build also stores
    what a rebuild stores."""
    monkeypatch.setattr(demo_module, "USER_CHUNK", 25)
    database = Database(pg_migrated_db_url)
    generate_demo_data(database, learners=60, seed=7, tz=TZ, today=TODAY)
    streamed = _digest_without_meta(database)
    with database.session() as s:
        refresh_training_learners(s)
        summaries.rebuild(s, TZ)
    assert _digest_without_meta(database) == streamed
    assert scalar(database, "SELECT count(*) FROM summary_pairs") > 100
    database.engine.dispose()
