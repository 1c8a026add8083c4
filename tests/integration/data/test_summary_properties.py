"""Property: every public figure of data.figures equals the reference computation.

data.figures reads the summary layer; tests/reference.py recomputes each figure from the
raw events (SPEC §4). Hypothesis draws small random platforms as sequences of 1-4 CSV bundles
(tests/summary_world.py): users of every role, trainings with shared modules, classes,
enrollments, sessions, attempts re-imported with other finish times and answers, connections
across local midnight and the daylight-saving changes, logins, status and rule changes, and
now and then a bundle the importer must refuse (nothing may change then), and
batches of xAPI statements by the same users (SPEC §8: modules, questions, finishing verdicts
and scaled scores, registrations, voiding, duplicates; tests/summary_world.py xapi_statements). After each import,
the global page's figures and those of two drawn (viewer, population) pairs are computed
both ways and compared -- the viewers of SPEC §6 (global, admin, training manager, class
manager, session instructor, a learner) built by auth.roles.load_scope, the populations their
pages ask for and require_population allows; the days, ranges (30 days, a year by week or
month, across each daylight-saving change, all time), sorts, pages and search words are
drawn too. DataFrames are compared with assert_frame_equal, dataclasses field by field,
floats to rtol 1e-9 / atol 1e-6; an exception (Forbidden, ValueError) on one side must be
the same on the other. Runs on SQLite and PostgreSQL, in the app's context (through the
figure cache unless LEARNSTATS_CACHE=null).

Each example starts from a freshly migrated database (a copy of a template made once).
derandomize=True: the same examples on every run (of a given day: the data is dated
relative to today). A failure names the import, viewer, population and call that differ
and prints the bundles imported so far; there is no shrinking (too slow here). For a deeper
search, raise MAX_EXAMPLES locally or run with derandomize=False.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pandas.testing as pdt
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from psycopg import sql
from sqlalchemy import func, inspect, select, table
from sqlalchemy.orm import Session

from auth.roles import load_scope
from data.cache import EXTENSION as CACHE
from data.figures import activity, at_risk, cards, module_summary, population, sessions, tables
from data.figures.population import ALL, Population, require_population
from data.importer import BundleInvalid, import_bundle
from data.models import TrainingModule
from data.scope import Forbidden, Scope, global_scope
from data.xapi import ingest_statements
from tests import reference as REF
from tests.summary_world import SEARCH_WORDS, TODAY, TZ, WINDOW_DAYS, World

# The readers under test, each from the module that defines (and memoizes) it.
READERS: dict[str, Callable[..., Any]] = {
    name: getattr(module, name)
    for module, names in (
        (
            cards,
            (
                "active_users_count", "active_users_series", "completions_count", "completions_series",
                "first_activity_date", "learner_count", "new_users_count", "progress_series",
                "status_summary",
            ),
        ),
        (tables, ("learner_modules", "results_query", "training_content", "training_results", "trainings_table")),
        (activity, ("activity_series", "activity_trends", "time_spent_total")),
        (sessions, ("session_statistics", "sessions_table")),
        (population, ("sessions_first_date", "training_count")),
        (module_summary, ("module_attempts",)),
    )
    for name in names
}  # fmt: skip


def _at_risk_learners(s: Session, scope: Scope, pop, tz: ZoneInfo, on: date, days: int) -> dict:
    """at_risk.at_risk_rows (the at-risk list, SPEC §9) in the reference's shape:
    (learner, training) -> (inactive days, failed modules, late session, last activity,
    progress, score, session)."""
    rows, total = at_risk.at_risk_rows(s, scope, pop, tz, on, days)
    assert total == len(rows), f"at_risk_rows: total {total} for {len(rows)} rows"
    _check_at_risk_pages(s, scope, pop, tz, on, days, rows)
    return {
        (r.user_id, r.training_id): (
            r.reasons.inactive_days, r.reasons.failed_modules, r.reasons.late_session,
            r.last_activity, r.progress, r.score, r.session_id,
        )
        for r in rows
    }  # fmt: skip


def _check_at_risk_pages(s: Session, scope: Scope, pop, tz: ZoneInfo, on: date, days: int, rows) -> None:
    """The list's pages found learner by learner (at_risk.py `_keys_by_learner`, used for the
    first blocks of a long list: forced here, users read 3 at a time) are the whole list's rows
    in the same order; so are a search's, and the card counts the list's learners."""
    key = lambda r: (r.user_id, r.training_id)  # noqa: E731
    saved = at_risk.KEYSET_MIN_ROWS, at_risk.KEYSET_CHUNK
    at_risk.KEYSET_MIN_ROWS, at_risk.KEYSET_CHUNK = 0, 3
    try:
        for search in (None, "a"):
            whole, total = at_risk.at_risk_rows.__wrapped__(s, scope, pop, tz, on, days, search)
            paged = []
            for offset in range(0, len(whole) + 5, 5):
                page, page_total = at_risk.at_risk_rows.__wrapped__(
                    s, scope, pop, tz, on, days, search, (), offset, 5
                )
                assert page_total == total, f"at_risk_rows: page total {page_total} != {total}"
                paged += page
            assert [key(r) for r in paged] == [key(r) for r in whole], (
                "at_risk_rows: pages differ from the list"
            )
            assert paged == whole, "at_risk_rows: a page's rows differ from the list's"
    finally:
        at_risk.KEYSET_MIN_ROWS, at_risk.KEYSET_CHUNK = saved
    count = at_risk.at_risk_count.__wrapped__(s, scope, pop, tz, on, days)
    assert count == len({r.user_id for r in rows}), f"at_risk_count {count} != the list's learners"
    before = on - timedelta(days=30)
    both = at_risk.at_risk_counts.__wrapped__(s, scope, pop, tz, (on, before), days)
    assert both == (count, at_risk.at_risk_count.__wrapped__(s, scope, pop, tz, before, days)), both


READERS["at_risk_count"] = at_risk.at_risk_count
READERS["at_risk_learners"] = _at_risk_learners

RTOL, ATOL = 1e-9, 1e-6
MAX_EXAMPLES = 12
# (viewer, population) pairs compared after each import, the global page's included.
PAIRS_PER_IMPORT = 3

# Days and ranges the figures are asked about (local days, inclusive).
PAST = TODAY - timedelta(days=40)
SPRING_DST = date(2026, 3, 29)
AS_OF_DAYS = (PAST, SPRING_DST)
CARD_RANGES = ((TODAY - timedelta(days=29), TODAY), (TODAY - timedelta(days=364), TODAY))
SERIES_RANGES = (
    (TODAY - timedelta(days=29), TODAY, "day"),
    (TODAY - timedelta(days=364), TODAY, "week"),
    (TODAY - timedelta(days=364), TODAY, "month"),
    (date(2026, 3, 26), date(2026, 4, 2), "day"),  # across the spring change
    (date(2026, 10, 12), date(2026, 11, 8), "week"),  # across the autumn change
    (TODAY - timedelta(days=430), TODAY, None),  # all time, the unit chosen by the range
)
RESULT_SORTS = (
    [("score", False)],
    [("completed_on", True), ("learner", True)],
    [("progress", True), ("time_spent", False)],
    [("status", True), ("training", False)],
    [("enrolled_on", False), ("email", True)],
)


# --------------------------------------------------------------------------------------------
# A database per example
# --------------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_db(request, make_app, tmp_path) -> Iterator[tuple[Any, Any, Callable[[], None]]]:
    """The app's server, its database and a reset() that brings the database back to freshly
    migrated and empties the app's figure cache (a reset database starts its data version
    over: entries of the previous example must not answer for this one).

    make_app migrates once; the migrated database is kept as a template (a file copy on
    SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL) and copied back before each example.
    """

    def clear_cache(server) -> None:
        cache = server.extensions.get(CACHE)
        if cache is not None:
            cache.clear()

    if request.param == "postgres":
        cluster = request.getfixturevalue("pg_cluster")
        url = request.getfixturevalue("pg_db_url")
        server = make_app(database_url=url).server
        db = server.extensions["learnstats_db"]
        name = url.rsplit("/", 1)[1]
        template = f"{name}_template"

        def copy(source: str, target: str) -> None:
            with cluster.admin() as conn:
                # FILE_COPY (PostgreSQL 15+) copies a small database faster than WAL_LOG.
                strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}" + strategy).format(
                        sql.Identifier(target), sql.Identifier(source)
                    )
                )

        db.engine.dispose()
        copy(name, template)

        def reset() -> None:
            db.engine.dispose()
            cluster.drop_database(name)
            copy(template, name)
            clear_cache(server)

        try:
            yield server, db, reset
        finally:
            db.engine.dispose()
            cluster.drop_database(template)
    else:
        server = make_app().server
        db = server.extensions["learnstats_db"]
        path = Path(db.engine.url.database)
        template = tmp_path / "template.sqlite3"
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.engine.dispose()
        shutil.copyfile(path, template)

        def reset() -> None:
            db.engine.dispose()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(template, path)
            clear_cache(server)

        yield server, db, reset


def row_counts(db) -> dict[str, int]:
    """Rows per table (the summary tables included): what a refused import may not change."""
    with db.session() as s:
        names = inspect(s.connection()).get_table_names()
        return {name: s.scalar(select(func.count()).select_from(table(name))) for name in sorted(names)}


# --------------------------------------------------------------------------------------------
# Comparing two results
# --------------------------------------------------------------------------------------------


def assert_same(ref: Any, new: Any, where: str) -> None:
    """new equals ref: frames and dataclasses field by field, floats within the tolerance."""
    if isinstance(ref, pd.DataFrame):
        assert isinstance(new, pd.DataFrame), f"{where}: {type(new).__name__} instead of a DataFrame"
        pdt.assert_frame_equal(new, ref, check_dtype=False, rtol=RTOL, atol=ATOL, obj=where)
    elif dataclasses.is_dataclass(ref):
        assert type(new) is type(ref), f"{where}: {type(new).__name__} instead of {type(ref).__name__}"
        for f in dataclasses.fields(ref):
            assert_same(getattr(ref, f.name), getattr(new, f.name), f"{where}.{f.name}")
    elif isinstance(ref, dict):
        assert isinstance(new, dict) and set(new) == set(ref), f"{where}: keys {new!r} != {ref!r}"
        for key in ref:
            assert_same(ref[key], new[key], f"{where}[{key!r}]")
    elif isinstance(ref, list | tuple):
        assert isinstance(new, list | tuple) and len(new) == len(ref), f"{where}: {new!r} != {ref!r}"
        for i, (r, n) in enumerate(zip(ref, new, strict=True)):
            assert_same(r, n, f"{where}[{i}]")
    elif isinstance(ref, float) or isinstance(new, float):
        assert ref is not None and new is not None, f"{where}: {new!r} != {ref!r}"
        assert math.isclose(float(new), float(ref), rel_tol=RTOL, abs_tol=ATOL), (
            f"{where}: {new!r} != {ref!r}"
        )
    else:
        assert new == ref, f"{where}: {new!r} != {ref!r}"


def as_readers_shape(value: Any) -> Any:
    """The reference's result as the readers shape it: the reference (tests/reference.py) has
    dataclasses of its own (StatusSummary, Trend, SessionStatistics, AttemptSummary,
    ActivityResult), so as to import nothing from data/figures; each becomes the readers'
    dataclass of the same name, field by field."""
    if (
        dataclasses.is_dataclass(value)
        and not isinstance(value, type)
        and type(value).__module__ == REF.__name__
    ):
        name = type(value).__name__
        shape = getattr(population, name, None) or getattr(module_summary, name)
        return shape(**{f.name: as_readers_shape(getattr(value, f.name)) for f in dataclasses.fields(value)})
    if isinstance(value, list | tuple):
        return type(value)(as_readers_shape(item) for item in value)
    return value


def outcome(fn: Callable[[], Any]) -> tuple[bool, Any]:
    """(raised, value or exception type); only the refusals a figure may answer are caught
    (LookupError: a module summary asked for a module that is not in the training)."""
    try:
        return False, fn()
    except (Forbidden, ValueError, LookupError) as error:
        return True, type(error)


class Checker:
    """Calls one public figure on both sides and compares (counting the comparisons)."""

    def __init__(self, s: Session, label: str):
        self.s = s
        self.label = label
        self.calls = 0

    def same(self, where: str, name: str, *args: Any, _run=None, **kwargs: Any) -> None:
        """The reader <name>(session, *args, **kwargs) == reference.<name>(...)."""
        run = _run or (lambda fn: fn(self.s, *args, **kwargs))
        # Looked up at call time: the reader (READERS) is the one under test. A figure that
        # reads no raw event (training_count, sessions_first_date) may live in data.figures
        # only, shared by both sides: it must still answer.
        reference = getattr(REF, name, None) or READERS[name]
        ref_raised, ref = outcome(lambda: as_readers_shape(run(reference)))
        new_raised, new = outcome(lambda: run(READERS[name]))
        shown = tuple(a for a in args if not isinstance(a, Scope | ZoneInfo | Population))
        call = f"{self.label} | {where} | {name}{shown} {kwargs or ''}"
        assert new_raised == ref_raised, (
            f"{call}: reference {'raised' if ref_raised else 'returned'} {ref!r}, figures {new!r}"
        )
        if ref_raised:
            assert new is ref, f"{call}: raised {new.__name__} instead of {ref.__name__}"
        else:
            assert_same(ref, new, call)
        self.calls += 1


def results_rows(fn, s: Session, scope: Scope, pop, **kwargs) -> pd.DataFrame:
    """results_query's rows (it returns a subquery that exports select from)."""
    q = fn(s, scope, pop, TZ, today=TODAY, **kwargs)
    frame = pd.DataFrame(s.execute(select(q)).mappings().all(), columns=list(q.c.keys()))
    return frame.sort_values(["user_id", "training_id"], kind="stable").reset_index(drop=True)


def check_population(c: Checker, scope: Scope, pop, where: str, first_day: date | None, draw) -> None:
    """Every figure taking a population, for one viewer and population; the ranges, days,
    sorts and search words are drawn (all of them over the examples)."""
    # A past day of the window too: enrollments, completions and expiries around it.
    as_of = TODAY - timedelta(days=draw(st.integers(1, WINDOW_DAYS)))
    start, end = draw(st.sampled_from(CARD_RANGES))
    c.same(where, "learner_count", scope, pop, TZ)
    c.same(where, "learner_count", scope, pop, TZ, as_of=as_of)
    c.same(where, "new_users_count", scope, pop, TZ, start, end)
    c.same(where, "active_users_count", scope, pop, TZ, start, end)
    c.same(where, "completions_count", scope, pop, TZ, start, end)
    c.same(where, "training_count", scope, pop)
    for day in (TODAY, *AS_OF_DAYS, as_of):
        c.same(where, "status_summary", scope, pop, TZ, as_of=day)
    ranges = list(SERIES_RANGES)
    if first_day is not None:
        ranges.append((first_day, TODAY, None))  # the "all time" preset
    for start, end, unit in draw(st.lists(st.sampled_from(ranges), min_size=1, max_size=2, unique=True)):
        for name in ("active_users_series", "progress_series", "completions_series", "activity_series"):
            c.same(where, name, scope, pop, TZ, start, end, unit=unit)
    c.same(where, "first_activity_date", scope, pop, TZ)
    c.same(where, "trainings_table", scope, pop, TZ, today=TODAY)
    c.same(where, "training_content", scope, pop, TZ)
    c.same(where, "training_results", scope, pop, TZ, today=TODAY)
    sort = draw(st.sampled_from(RESULT_SORTS))
    c.same(where, "training_results", scope, pop, TZ, sort=sort, today=TODAY)
    page = draw(st.sampled_from(((0, 2), (1, 2), (2, 1), (50, 10))))  # the last one: past the end
    c.same(where, "training_results", scope, pop, TZ, sort=sort, offset=page[0], limit=page[1], today=TODAY)
    word = draw(st.sampled_from(SEARCH_WORDS))
    c.same(where, "training_results", scope, pop, TZ, search=word, sort=[("learner", False)], today=TODAY)
    c.same(where, "results_query", _run=lambda fn: results_rows(fn, c.s, scope, pop, search=word))
    c.same(where, "time_spent_total", scope, pop, TZ)
    c.same(where, "time_spent_total", scope, pop, TZ, as_of=as_of)
    c.same(where, "activity_trends", scope, pop, TZ, draw(st.sampled_from((7, 30))), today=TODAY)
    # SPEC §9: the at-risk list and card, today or on the drawn past day, for a drawn setting.
    risk_on, risk_days = draw(st.sampled_from((TODAY, as_of))), draw(st.sampled_from((1, 7, 14, 30)))
    c.same(where, "at_risk_learners", scope, pop, TZ, risk_on, risk_days)
    c.same(where, "at_risk_count", scope, pop, TZ, risk_on, risk_days)


def check_viewer(c: Checker, scope: Scope, world: World, where: str) -> None:
    """The figures that take no population: sessions, one learner's modules."""
    c.same(where, "sessions_table", scope, TZ)
    c.same(where, "sessions_table", scope, TZ, TODAY - timedelta(days=364), TODAY)
    c.same(where, "sessions_table", scope, TZ, date(2026, 3, 29), date(2026, 3, 29))
    c.same(where, "sessions_first_date", scope, TZ)
    for session_id in [*sorted(world.sessions), "no-such-session"]:
        c.same(where, "session_statistics", scope, session_id, TZ, today=TODAY)
    # One learner's modules in each training, and their attempts of each module (Forbidden
    # where the viewer may not see them; LookupError for a module not in the training).
    for training_id in world.trainings + world.xapi_trainings:
        enrolled = world.enrollments | world.xapi_pairs
        learners = sorted({u for u, t in enrolled if t == training_id})[:2]
        for user_id in learners:
            c.same(where, "learner_modules", scope, TZ, training_id, user_id)
        tm = TrainingModule
        modules = sorted(c.s.scalars(select(tm.module_id).where(tm.training_id == training_id)))
        for module_id in [*modules, "no-such-module"] if learners else []:
            c.same(where, "module_attempts", scope, training_id, learners[0], module_id)


def viewers(s: Session, world: World, draw) -> dict[str, tuple[Scope, list]]:
    """name -> (scope, populations) for the viewers of SPEC §6, built from the roles table."""
    learners = sorted(world.learners)
    learner = draw(st.sampled_from(learners))
    other = draw(st.sampled_from(learners))
    trainings, classes = world.trainings + world.xapi_trainings, world.classes
    pops_global = [ALL]
    pops_global += [Population(training_id=t) for t in trainings]
    pops_global += [Population(class_id=c) for c in classes]
    pops_global += [Population(class_id=c, training_id=t) for c, t in sorted(world.class_trainings)]
    pops_global.append(Population(user_id=other, learners_only=False, include_self=True))
    managed = [
        ALL,
        *(Population(training_id=t) for t in trainings),
        *(Population(class_id=c) for c in classes),
        *(Population(class_id="c1", training_id=t) for t in trainings),
        Population(user_id=other, learners_only=False, include_self=True),
    ]
    return {
        "global": (global_scope(), pops_global),
        "admin": (load_scope(s, "ad"), [ALL]),
        "training manager": (load_scope(s, "tm"), managed),
        "class manager": (load_scope(s, "cm"), managed),
        "instructor": (
            load_scope(s, "in"),
            [Population(user_id="in", learners_only=False, include_self=True)],
        ),
        f"learner {learner}": (
            load_scope(s, learner),
            [Population(user_id=learner, learners_only=False, include_self=True)],
        ),
    }


def compare_everything(s: Session, world: World, draw, label: str) -> int:
    """Compare the figures of a few drawn (viewer, population) pairs, the global page's
    always; each figure taking no population for those viewers. Returns the comparisons."""
    with REF.unchanged(s):  # nothing is written here: the reference reads the rows once
        return _compare_everything(s, world, draw, label)


def _compare_everything(s: Session, world: World, draw, label: str) -> int:
    c = Checker(s, label)
    seen = viewers(s, world, draw)
    allowed = []
    for name, (scope, pops) in seen.items():
        for pop in pops:
            try:
                require_population(s, scope, pop)
            except Forbidden:
                continue  # the page answers 403 before asking for any figure
            allowed.append((name, pop))
    chosen = [
        allowed[0],
        *draw(st.lists(st.sampled_from(allowed[1:]), max_size=PAIRS_PER_IMPORT - 1, unique=True)),
    ]
    for name in dict.fromkeys(name for name, _pop in chosen):
        check_viewer(c, seen[name][0], world, name)
    for name, pop in chosen:
        scope = seen[name][0]
        first_day = REF.first_activity_date(s, scope, ALL, TZ) if scope.is_manager else None
        check_population(c, scope, pop, f"{name} {pop}", first_day, draw)
    return c.calls


# --------------------------------------------------------------------------------------------
# The property
# --------------------------------------------------------------------------------------------


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # No shrinking: one example replays up to four imports and hundreds of figures, and a
    # failure already names the import, viewer, population and call (and the bundles).
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_sum001_every_figure_equals_the_reference_after_every_import(fresh_db, data):
    server, db, reset = fresh_db
    reset()
    world = World(data.draw)
    imports = data.draw(st.integers(1, 4), label="imports")
    # In the app's context: data.figures' functions go through its cache (data/cache.py) as on
    # a page, unless LEARNSTATS_CACHE=null; each import must make earlier entries unreachable.
    with server.app_context():
        check_imports(db, world, data, imports)


def check_imports(db, world: World, data, imports: int) -> None:
    for n in range(imports):
        if n > 0 and data.draw(st.integers(0, 2), label="xAPI import") == 0:
            # SPEC §8: statements by the world's users keep the summary layer exact too.
            statements = world.xapi_statements()
            label = f"import {n + 1}/{imports} (xAPI, {len(statements)} statements)"
            note(f"{label}:\n" + "\n".join(json.dumps(x) for x in statements))
            with db.session() as s:
                ingest_statements(
                    s, list(enumerate(statements, 1)), source="test", skip_invalid=False, workers=0
                )
            with db.session() as s:
                assert compare_everything(s, world, data.draw, label) > 0
            continue
        bundle = world.first_bundle() if n == 0 else world.next_bundle()
        label = f"import {n + 1}/{imports} ({', '.join(bundle.what)})"
        note(f"{label}{' (to be refused)' if bundle.invalid else ''}:\n{bundle.text()}")
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "bundle"
            bundle.write(folder)
            if bundle.invalid:
                before = row_counts(db)
                with pytest.raises(BundleInvalid), db.session() as s:
                    import_bundle(s, folder, TZ)
                assert row_counts(db) == before, f"{label}: a refused bundle changed the database"
            else:
                with db.session() as s:
                    import_bundle(s, folder, TZ)
        with db.session() as s:
            assert compare_everything(s, world, data.draw, label) > 0
