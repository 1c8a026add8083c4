"""export-results: the CSV of one training's results, through the CLI and the function."""

from __future__ import annotations

import csv
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from data.scope import Forbidden, Scope
from exports.formatting import one_decimal, whole_minutes
from exports.results import RESULTS_COLUMNS, results_csv_bytes

TZ = ZoneInfo("Europe/Paris")


@pytest.fixture
def training(factory):
    t = factory.training(training_id="T1", name="Sécurité")
    m1, m2, opt = factory.module(max_scores=(3,)), factory.module(), factory.module()
    factory.step(t, m1, 1, min_score=50)
    factory.step(t, m2, 2)
    factory.step(t, opt, 3, mandatory=False)
    zoe = factory.user("u-zoe", first="Zoé", last="Œuvre", email="zoe@x.org")
    ana = factory.user("u-ana", first="Ana", last="Àlvarez", email="ana@x.org")
    bob = factory.user("u-bob", first="Bob", last="Bernard", email="bob@x.org")
    for u in (zoe, ana, bob):
        factory.enroll(u, t)
    # Ana: m1 2/3 = 66.67, m2 10/10 = 100 -> passed, score 83.3, progress 2/3 = 66.7
    factory.attempt(ana, t, m1, finished="2026-03-10 23:30", scores=(2,))
    factory.attempt(ana, t, m2, finished="2026-03-11 08:00", scores=(10,))
    factory.connection(ana, m1, "2026-03-10 22:00", "2026-03-10 22:45:30")  # 45.5 min
    factory.connection(ana, m2, "2026-03-11 07:00", "2026-03-11 07:20")  # 20 min -> 65.5 -> 66
    # Bob: m1 in progress only
    factory.attempt(bob, t, m1, finished=None, scores=(1,))
    factory.s.commit()
    return t


def test_res001_rows_are_hand_computed(training, factory):
    data, count = results_csv_bytes(factory.s, Scope("x", is_global=True), "T1", TZ)
    rows = list(csv.reader(data.decode("utf-8").splitlines()))
    assert count == 3
    assert rows[0] == list(RESULTS_COLUMNS)
    assert rows[1:] == [
        ["u-ana", "ana@x.org", "Àlvarez", "Ana", "66.7", "83.3", "passed", "66", "2026-03-11"],
        ["u-bob", "bob@x.org", "Bernard", "Bob", "0.0", "0.0", "in progress", "0", ""],
        ["u-zoe", "zoe@x.org", "Œuvre", "Zoé", "0.0", "0.0", "not started", "0", ""],
    ]


def test_res002_cli_writes_the_file(training, dash_app, tmp_path):
    out = tmp_path / "out" / "results.csv"
    result = dash_app.server.test_cli_runner().invoke(
        args=["export-results", "--training", "T1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 3 learner(s)" in result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(RESULTS_COLUMNS)
    assert lines[1].startswith("u-ana,ana@x.org,Àlvarez,Ana,66.7,83.3,passed,66,2026-03-11")


def test_res003_cli_unknown_training_writes_nothing(dash_app, tmp_path):
    out = tmp_path / "exports" / "results.csv"
    result = dash_app.server.test_cli_runner().invoke(
        args=["export-results", "--training", "nope", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "no training has the id 'nope'" in result.output
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_res004_training_without_mandatory_modules_has_empty_score(factory):
    t = factory.training(training_id="T2")
    m = factory.module()
    factory.step(t, m, 1, mandatory=False)
    u = factory.user("u1", last="A")
    factory.enroll(u, t)
    factory.attempt(u, t, m, finished="2026-01-02 10:00", scores=(5,))
    data, _ = results_csv_bytes(factory.s, Scope("x", is_global=True), "T2", TZ)
    assert data.decode().splitlines()[1] == "u1,u1@example.org,A,Ann,100.0,,passed,0,2026-01-02"


def test_res005_scope_is_checked(training, factory):
    with pytest.raises(Forbidden):
        results_csv_bytes(factory.s, Scope("x", trainings=frozenset({"other"})), "T1", TZ)


def test_res006_rounding_is_half_up():
    assert one_decimal(12.25) == "12.3"
    assert one_decimal(200 / 3) == "66.7"
    assert one_decimal(None) == ""
    assert whole_minutes(89.9) == "1"
    assert whole_minutes(90) == "2"
    assert whole_minutes(29.9) == "0"
    assert date(2026, 1, 1).isoformat() == "2026-01-01"


def test_res007_cli_file_has_ordinary_permissions(training, dash_app, tmp_path):
    import os
    import stat

    out = tmp_path / "results.csv"
    previous = os.umask(0o022)
    try:
        result = dash_app.server.test_cli_runner().invoke(
            args=["export-results", "--training", "T1", "--out", str(out)]
        )
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
