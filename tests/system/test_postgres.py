"""The schema, its constraints and sign-in on a real PostgreSQL server (tests/postgres.py)."""

from __future__ import annotations

import itertools
import math
import numbers
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from auth.roles import load_scope
from data import models as m
from data.figures.cards import (
    active_users_count,
    active_users_series,
    completions_series,
    learner_count,
    progress_series,
    status_summary,
)
from data.figures.module_summary import module_attempts
from data.figures.population import ALL, Population
from data.figures.tables import learner_modules, training_content, training_results, trainings_table
from data.scope import global_scope
from tests.conftest import sign_in, sign_out
from tests.factories import Factory

pytestmark = pytest.mark.postgres


def _head() -> str:
    from data.db import MIGRATIONS

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


HEAD = _head()


@pytest.fixture
def pg_app(make_app, pg_db_url):
    """The app on a fresh PostgreSQL database, migrated by make_app."""
    return make_app(database_url=pg_db_url)


@pytest.fixture
def pg_db(pg_app):
    return pg_app.server.extensions["learnstats_db"]


def test_pg001_migrates_a_fresh_database_and_again(pg_db):
    assert pg_db.engine.dialect.name == "postgresql"
    pg_db.migrate()  # a second time: nothing to do, nothing fails
    pg_db.migrate()
    tables = set(inspect(pg_db.engine).get_table_names())
    assert tables == set(m.Base.metadata.tables) | {"alembic_version"}
    with pg_db.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]


def test_pg002_connection_key_treats_null_session_as_a_value(pg_db):
    indexes = {ix["name"]: ix for ix in inspect(pg_db.engine).get_indexes("connections")}
    assert indexes["uq_connections_key"]["unique"]
    with pg_db.engine.connect() as conn:
        definition = conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_connections_key'")
        ).scalar_one()
    assert "COALESCE(session_id, ''::character varying)" in definition

    with pg_db.session() as s:
        f = Factory(s)
        user, module, training = f.user(), f.module(), f.training()
        program_session = f.session(training)
        f.connection(user, module, "2026-03-01 09:00", "2026-03-01 10:00")
        # Same span in a session, and a different span without one: both distinct keys.
        f.connection(user, module, "2026-03-01 09:00", "2026-03-01 10:00", session=program_session)
        f.connection(user, module, "2026-03-01 11:00", "2026-03-01 12:00")
        ids = (user.id, module.id)

    with pytest.raises(IntegrityError, match="uq_connections_key"), pg_db.session() as s:
        s.add(
            m.Connection(
                user_id=ids[0],
                module_id=ids[1],
                connected_at=datetime(2026, 3, 1, 9, 0),
                disconnected_at=datetime(2026, 3, 1, 10, 0),
                session_id=None,
            )
        )
        s.flush()
    with pg_db.session() as s:
        assert s.scalar(select(text("count(*)")).select_from(m.Connection)) == 3


def test_pg003_sort_key_compares_bytes(pg_db):
    with pg_db.engine.connect() as conn:
        collation = conn.execute(
            text(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_name = 'users' AND column_name = 'sort_key'"
            )
        ).scalar_one()
    assert collation == "C"

    with pg_db.session() as s:
        f = Factory(s)
        f.user(first="Nicolas", last="Dupont-Aignan", email="nda@example.org")
        f.user(first="Jean", last="Dupont", email="jd@example.org")
        f.user(first="Émile", last="Dupond", email="ed@example.org")
        f.user(first="Zoé", last="Dupont", email="zd@example.org")
    with pg_db.session() as s:
        ordered = s.scalars(
            select(m.User.last_name + " " + m.User.first_name).order_by(m.User.sort_key)
        ).all()
        assert ordered == ["Dupond Émile", "Dupont Jean", "Dupont Zoé", "Dupont-Aignan Nicolas"]
        # The same keys under a collation that ignores punctuation and white space (as
        # locale collations do) come out in another order: the data above can tell them apart.
        s.execute(
            text(
                "CREATE COLLATION IF NOT EXISTS ignore_punct "
                "(provider = icu, locale = 'und-u-ka-shifted', deterministic = false)"
            )
        )
        keys = s.scalars(
            select(m.User.last_name).order_by(text('sort_key COLLATE "ignore_punct"'), m.User.id)
        ).all()
        assert keys.index("Dupont-Aignan") < keys.index("Dupont")


def test_pg004_sign_in_round_trip(pg_app, pg_db):
    with pg_db.session() as s:
        Factory(s).user(email="pg.user@example.org", password="s3cret-pass", first="Paul", last="Gres")
    client = pg_app.server.test_client()
    assert sign_in(client, "pg.user@example.org", "wrong-password").status_code == 401
    response = sign_in(client, "PG.User@example.org", "s3cret-pass")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    assert "Paul Gres" in layout.get_data(as_text=True)
    assert sign_out(client).status_code == 302
    assert client.get("/_dash-layout").status_code == 401


# -- SPEC §4 figures: the same numbers on PostgreSQL as on SQLite ----------------------------

TZ = ZoneInfo("Europe/Paris")
TODAY = date(2026, 11, 24)


def build_platform(f: Factory) -> None:
    """A small platform touching each figure's tricky parts (see tests/integration/data/test_figures.py)."""
    safety = f.training("T1", name="Sécurité", validity_months=12)
    quiz = f.module("M1", max_scores=(10, 10))
    video = f.module("M2", max_scores=(0, 0))
    extra = f.module("M3", max_scores=(10,))
    f.step(safety, quiz, position=1, min_score=50)
    f.step(safety, video, position=2)
    f.step(safety, extra, position=3, mandatory=False)
    excel = f.training("T2", name="Excel")
    newest = f.module("M4", keep_results="newest", max_scores=(10,))
    f.step(excel, newest, position=1, min_score=60)
    f.training("T3", name="Aucun module obligatoire")

    done = f.user("u1", first="Zoé", last="Dupont")
    doing = f.user("u2", first="Jean", last="Dupont-Aignan")
    idle = f.user("u3", first="Élodie", last="Dupond")
    member = f.user("u4", first="Noël", last="Œillet")
    blocked = f.user("u5", first="Bob", last="Bloqué", status="blocked")
    f.user("cm", roles=["class_manager:C1"])
    numbers_ = itertools.count(1)

    def attempt(*args, **kwargs):
        return f.attempt(*args, attempt_id=f"A{next(numbers_)}", **kwargs)

    for user in (done, doing, idle, blocked):
        f.enroll(user, safety, at="2025-01-10 09:00")
    f.klass("C1", members=[member, doing], trainings=[safety, excel], registered_at="2026-02-01 08:00")

    attempt(done, safety, quiz, started="2025-02-01 10:00", finished="2025-02-01 10:30", scores=(4, 3))
    attempt(done, safety, quiz, started="2025-03-01 10:00", finished="2025-03-01 10:20", scores=(9, 8))
    attempt(done, safety, video, started="2025-03-02 10:00", finished="2025-03-02 10:05", scores=(0, 0))
    attempt(doing, safety, quiz, started="2026-03-28 23:30", finished="2026-03-29 02:30", scores=(5, 1))
    attempt(doing, safety, extra, started="2026-04-01 09:00", finished=None, scores=(10,))
    attempt(member, excel, newest, started="2026-02-03 09:00", finished="2026-02-03 09:30", scores=(10,))
    attempt(member, excel, newest, started="2026-02-10 09:00", finished="2026-02-10 09:30", scores=(5,))
    attempt(
        member,
        safety,
        quiz,
        started="2026-02-04 09:00",
        finished="2026-02-04 10:00",
        scores=(10, 7),
        evaluated=(True, False),
    )
    attempt(blocked, safety, quiz, started="2026-01-05 09:00", finished="2026-01-05 09:30", scores=(10, 10))
    # A connection across the spring daylight-saving change (Paris, 2026-03-29 02:00 -> 03:00).
    f.connection(doing, quiz, "2026-03-29 00:30", "2026-03-29 02:30")
    f.connection(doing, extra, "2026-03-30 21:50", "2026-03-30 22:20")
    f.connection(member, newest, "2026-02-03 08:55", "2026-02-03 09:35")
    f.connection(done, quiz, "2025-03-01 09:55", "2025-03-01 10:25")
    for user, at in ((done, "2026-03-28 22:30"), (doing, "2026-03-29 21:59"), (member, "2026-10-25 00:30")):
        f.login(user, at)


def _plain(value):
    """Database-independent form of a figure's value (NaN to None, floats to 3 decimals: SQLite
    measures durations through julianday(), a few microseconds off whole seconds)."""
    if isinstance(value, pd.DataFrame):
        return [{k: _plain(v) for k, v in row.items()} for row in value.to_dict("records")]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real | Decimal):
        return round(float(value), 3)
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return _plain(vars(value))
    return value


def raw_figures(db) -> dict:
    everyone = global_scope()
    with db.session() as s:
        manager = load_scope(s, "cm")
        out = {}
        for who, scope in (("global", everyone), ("class manager", manager)):
            for pop_name, pop in (
                ("all", ALL),
                ("T1", Population(training_id="T1")),
                ("C1", Population(class_id="C1")),
            ):
                key = f"{who} / {pop_name}"
                out[key + " results"] = training_results(s, scope, pop, TZ, today=TODAY)
                out[key + " status"] = status_summary(s, scope, pop, TZ, as_of=TODAY)
                out[key + " trainings"] = trainings_table(s, scope, pop, TZ, today=TODAY)
                out[key + " learners"] = learner_count(s, scope, pop, TZ, as_of=TODAY)
                out[key + " active"] = active_users_count(s, scope, pop, TZ, date(2026, 3, 28), TODAY)
                for series in (active_users_series, progress_series, completions_series):
                    for unit in ("day", "month"):
                        start = date(2026, 3, 27) if unit == "day" else date(2025, 1, 1)
                        end = date(2026, 3, 31) if unit == "day" else TODAY
                        name = f"{key} {series.__name__} {unit}"
                        out[name] = series(s, scope, pop, TZ, start, end, unit)
        out["content T1"] = training_content(s, everyone, Population(training_id="T1"), TZ)
        for user_id, training_id in (("u1", "T1"), ("u2", "T1"), ("u4", "T2")):
            out[f"modules {user_id} {training_id}"] = learner_modules(s, everyone, TZ, training_id, user_id)
        out["attempts u4 T1 M1"] = module_attempts(s, everyone, "T1", "u4", "M1")
    return out


def figures_of(db) -> dict:
    return {key: _plain(value) for key, value in raw_figures(db).items()}


def test_pg005_figures_are_the_same_on_postgresql_and_sqlite(make_app, pg_db_url):
    sqlite_db = make_app().server.extensions["learnstats_db"]
    pg_db = make_app(database_url=pg_db_url).server.extensions["learnstats_db"]
    assert (sqlite_db.engine.dialect.name, pg_db.engine.dialect.name) == ("sqlite", "postgresql")
    for db in (sqlite_db, pg_db):
        with db.session() as s:
            build_platform(Factory(s))

    on_sqlite, on_pg = figures_of(sqlite_db), figures_of(pg_db)
    # The platform is not empty where it matters (else equality would prove nothing).
    results, total = on_sqlite["global / T1 results"]
    assert total == 4 and [row["user_id"] for row in results] == ["u3", "u1", "u2", "u4"]
    assert on_sqlite["global / all status"]["pairs"] == 6
    assert sum(row["active_users"] for row in on_sqlite["global / all active_users_series day"]) > 0
    assert on_sqlite["class manager / all learners"] == 2
    for key in on_sqlite:
        assert on_pg[key] == on_sqlite[key], key


def _decimals(value, where: str) -> list[str]:
    """Where Decimal values hide in a figure (PostgreSQL's numeric type, not converted)."""
    if isinstance(value, Decimal):
        return [where]
    if isinstance(value, pd.DataFrame):
        return [
            f"{where} column {column}"
            for column in value.columns
            if any(isinstance(v, Decimal) for v in value[column])
        ]
    if isinstance(value, list | tuple):
        return [hit for i, v in enumerate(value) for hit in _decimals(v, f"{where}[{i}]")]
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in _decimals(v, f"{where}.{k}")]
    if hasattr(value, "__dataclass_fields__"):
        return _decimals(vars(value), where)
    return []


def test_pg006_figures_give_python_numbers_on_postgresql(make_app, pg_db_url):
    """numeric columns reach Python as Decimal, which does not mix with float (TypeError)."""
    db = make_app(database_url=pg_db_url).server.extensions["learnstats_db"]
    with db.session() as s:
        build_platform(Factory(s))
    figures = raw_figures(db)
    assert [hit for key, value in figures.items() for hit in _decimals(value, key)] == []
