"""Issue 10 point 9: property-based tests (hypothesis).

- The importer: random and broken bundles (the sample bundle's files cut, spliced, with random
  text, quotes, NULs, stray bytes, control characters and invalid UTF-8) never crash it: it
  either imports or raises BundleInvalid; when it refuses, the database is exactly as before
  (never half-written) and every error says where (`file:line: column: message`, a file of the
  bundle, a line inside the file).
- The figures: on random platforms, progress and scores stay within 0–100, and the historical
  completions never decrease from one day to the next.

derandomize=True: the same examples on every run (raise max_examples locally to search more).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select, table

from data.importer import SPECS, BundleInvalid, import_bundle

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "bundle"
FILES = sorted(p.name for p in SAMPLE.glob("*.csv"))

NASTY = st.sampled_from(
    ['"', '""', ",", ";", "\r\n", "\n", "\r", "\x00", "\ufeff", "é", "Œ", "\t", "=1+1", "-1", "1e309",
     "nan", "2026-02-30", "9999-12-31T25:00", "true", "", " ", "u1", "t1", "m1", "s1", "c1", "a1", "at1"]
)  # fmt: skip


def mutate(data: st.DataObject, text: str) -> bytes:
    """One of several kinds of damage to a file's text, or none."""
    kind = data.draw(
        st.sampled_from(["none", "cut", "insert", "replace_cell", "drop_line", "bytes", "header"])
    )
    lines = text.split("\n")
    if kind == "cut":
        return text.encode()[: data.draw(st.integers(0, len(text.encode())))]
    if kind == "insert":
        at = data.draw(st.integers(0, len(text)))
        piece = data.draw(st.one_of(NASTY, st.text(max_size=12)))
        return (text[:at] + piece + text[at:]).encode("utf-8", "surrogatepass")
    if kind == "replace_cell" and len(lines) > 1:
        row = data.draw(st.integers(1, len(lines) - 1))
        cells = lines[row].split(",")
        cell = data.draw(st.integers(0, max(0, len(cells) - 1)))
        cells[cell] = data.draw(st.one_of(NASTY, st.text(max_size=10)))
        lines[row] = ",".join(cells)
        return "\n".join(lines).encode("utf-8", "surrogatepass")
    if kind == "drop_line" and len(lines) > 1:
        del lines[data.draw(st.integers(0, len(lines) - 1))]
        return "\n".join(lines).encode()
    if kind == "bytes":
        raw = bytearray(text.encode())
        at = data.draw(st.integers(0, len(raw)))
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=4))
        return bytes(raw)
    if kind == "header":
        header = lines[0].split(",")
        lines[0] = ",".join(
            data.draw(st.permutations(header + data.draw(st.sampled_from([[], ["extra"], [""]]))))
        )
        return "\n".join(lines).encode()
    return text.encode()


def snapshot(db) -> dict[str, list]:
    """Every row of every table."""
    with db.engine.connect() as connection:
        names = inspect(connection).get_table_names()
        return {
            name: sorted(map(repr, connection.execute(select("*").select_from(table(name))).all()))
            for name in sorted(names)
            if name != "alembic_version"
        }


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_prop001_broken_bundles_never_crash_or_half_write(db, tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("bundle")
    chosen = data.draw(st.lists(st.sampled_from(FILES), min_size=1, max_size=len(FILES), unique=True))
    sizes = {}
    for name in chosen:
        raw = mutate(data, (SAMPLE / name).read_text(encoding="utf-8-sig"))
        (folder / name).write_bytes(raw)
        sizes[name] = raw.count(b"\n") + raw.count(b"\r") + 2
    before = snapshot(db)
    try:
        with db.session() as s:
            import_bundle(s, folder, db.tz)
    except BundleInvalid as invalid:
        assert snapshot(db) == before, "a refused bundle changed the database"
        assert invalid.errors and invalid.total >= len(invalid.errors)
        for error in invalid.errors:
            assert str(error) == f"{error.file}:{error.line}: {error.column}: {error.message}"
            assert error.file in chosen or error.file == str(folder), str(error)
            assert 0 <= error.line <= sizes.get(error.file, 0), str(error)
            assert error.column and error.message
    shutil.rmtree(folder)


def test_prop002_the_sample_bundle_imports(db):
    """The property above is not vacuous: the undamaged files import."""
    with db.session() as s:
        summary = import_bundle(s, SAMPLE, db.tz)
    assert set(summary.files) == set(SPECS)


# -- figures -----------------------------------------------------------------------------------

DAYS = [date(2026, 1, d) for d in range(1, 29)]


def platform(data: st.DataObject):
    """A random platform: trainings of 1–3 modules (activities worth 0–10, mandatory or not,
    minimum scores), learners enrolled on random days, attempts finished or not with any
    scores the activities allow, some awaiting grading."""
    spec = {"trainings": [], "learners": data.draw(st.integers(1, 4))}
    for t in range(data.draw(st.integers(1, 2))):
        modules = []
        for _m in range(data.draw(st.integers(1, 3))):
            modules.append(
                {
                    "max_scores": tuple(data.draw(st.lists(st.integers(0, 10), min_size=1, max_size=3))),
                    "mandatory": data.draw(st.booleans()),
                    "min_score": data.draw(st.sampled_from([0, 50, 80, 100])),
                }
            )
        spec["trainings"].append(
            {"id": f"t{t}", "modules": modules, "validity": data.draw(st.sampled_from([None, 1]))}
        )
    events = []
    for learner in range(spec["learners"]):
        for training in spec["trainings"]:
            if not data.draw(st.booleans()):
                continue
            enrolled = data.draw(st.sampled_from(DAYS))
            attempts = []
            for m, module in enumerate(training["modules"]):
                for _ in range(data.draw(st.integers(0, 2))):
                    start = data.draw(st.sampled_from(DAYS))
                    finished = data.draw(st.booleans())
                    scores = [data.draw(st.integers(0, top)) for top in module["max_scores"]]
                    evaluated = [data.draw(st.booleans()) for _ in module["max_scores"]]
                    attempts.append((m, start, finished, scores, evaluated))
            events.append((learner, training["id"], enrolled, attempts))
    return spec, events


def build_platform(factory, spec, events) -> None:
    trainings, modules = {}, {}
    for t in spec["trainings"]:
        trainings[t["id"]] = factory.training(t["id"], validity_months=t["validity"])
        for m, module in enumerate(t["modules"]):
            modules[(t["id"], m)] = factory.module(f"{t['id']}-m{m}", max_scores=module["max_scores"])
            factory.step(
                trainings[t["id"]],
                modules[(t["id"], m)],
                position=m + 1,
                mandatory=module["mandatory"],
                min_score=module["min_score"],
            )
    learners = [factory.user(f"l{n}") for n in range(spec["learners"])]
    for learner, training_id, enrolled, attempts in events:
        factory.enroll(learners[learner], trainings[training_id], at=f"{enrolled.isoformat()} 08:00")
        for n, (m, start, finished, scores, evaluated) in enumerate(attempts):
            factory.attempt(
                learners[learner],
                trainings[training_id],
                modules[(training_id, m)],
                started=f"{start.isoformat()} 09:{n:02d}",
                finished=f"{start.isoformat()} 10:{n:02d}" if finished else None,
                scores=scores,
                evaluated=evaluated,
            )
    factory.s.commit()


def within(value) -> bool:
    return value is None or value != value or 0 <= value <= 100  # None / NaN: no figure


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_prop003_figures_stay_in_bounds_and_completions_never_decrease(make_app, tmp_path, data):
    from data.figures.cards import completions_series, progress_series
    from data.figures.population import Population
    from data.figures.tables import training_content, training_results
    from data.scope import global_scope
    from tests.factories import Factory

    spec, events = platform(data)
    n = len(list(tmp_path.glob("ex-*.sqlite3")))
    app = make_app(database_url=f"sqlite:///{tmp_path / f'ex-{n}.sqlite3'}")
    server = app.server
    db = server.extensions["learnstats_db"]
    with db.session() as s:
        build_platform(Factory(s), spec, events)
    scope, tz = global_scope(), db.tz
    with server.app_context(), db.session() as s:
        pop = Population()
        results, _total = training_results(s, scope, pop, tz, today=date(2026, 2, 1))
        for row in results.itertuples():
            assert within(row.progress), row
            assert within(row.score), row
        content = [training_content(s, scope, Population(training_id=t["id"]), tz) for t in spec["trainings"]]
        for frame in content:
            for column in frame.columns:
                if any(word in column for word in ("score", "completed", "passed", "pct", "rate")):
                    assert all(within(v) for v in frame[column] if not isinstance(v, str)), (column, frame)
        series = completions_series(s, scope, pop, tz, date(2025, 12, 25), date(2026, 2, 5), unit="day")
        completed = list(series["completed"])
        assert completed == sorted(completed), completed  # historical: never decreases
        assert all(within(v) for v in series["completion_rate"])
        assert sum(series["completions"]) <= completed[-1]
        progress = progress_series(s, scope, pop, tz, date(2025, 12, 25), date(2026, 2, 5), unit="day")
        assert all(within(v) for v in progress["average_progress"])
    db.engine.dispose()


@pytest.mark.parametrize("unit", ["week", "month"])
def test_prop004_completions_by_week_and_month_never_decrease(factory, server, unit):
    """The same property on wider buckets, one fixed platform with completions spread out."""
    from data.figures.cards import completions_series
    from data.figures.population import Population
    from data.scope import global_scope

    t = factory.training("t")
    m = factory.module("m", max_scores=(10,))
    factory.step(t, m, position=1)
    for n, day in enumerate(DAYS[::3]):
        learner = factory.user(f"p{n}")
        factory.enroll(learner, t, at="2026-01-01 08:00")
        factory.attempt(
            learner, t, m, started=f"{day.isoformat()} 09:00", finished=f"{day.isoformat()} 10:00", scores=[5]
        )
    factory.s.commit()
    db = server.extensions["learnstats_db"]
    with server.app_context(), db.session() as s:
        series = completions_series(
            s, global_scope(), Population(), db.tz, date(2025, 11, 1), date(2026, 3, 31), unit=unit
        )
    completed = list(series["completed"])
    assert completed == sorted(completed) and completed[-1] == len(DAYS[::3])
