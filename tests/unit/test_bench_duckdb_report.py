"""`make bench`'s report (bench/app.py build_report) with the DuckDB baseline of issue 22: each
callback's ratio to it, and the target that every callback is 10x faster."""

from __future__ import annotations

from bench.app import Targets, Timing, build_report
from tests.dash_client import Call


def _ctx(duckdb_seconds: float) -> dict:
    targets = Targets("t", 1, "c", 1, "u", "n", "m", "s", 1, "t", "c", {"users": 10})
    return {
        "learners": 1000, "targets": targets, "repeat": 3, "budget": 60, "seconds": 30, "command": "make bench",
        "calls": [Call("global", "body", "initial", {}), Call("training", "table", "action", {})],
        "cold": [Timing([0.1, 0.2, 0.3]), Timing([0.05])],
        "duckdb": {"seconds": duckdb_seconds, "cpu_seconds": 1.2, "runs": 3, "copy_seconds": 4.0,
                   "figures": {"learners": 3}},
    }  # fmt: skip


def test_report_gives_each_callbacks_ratio_to_duckdb_and_its_target():
    report, ok = build_report(_ctx(1.5))
    assert "| global | body | initial | 200 | 300 |" in report and "| 5.0× |" in report
    assert "| training | table | action | 50 | 50 |" in report and "| 30.0× |" in report
    assert "DuckDB 1500 ms / slowest cold p95 300 ms = 5.0×; 1 of 2 under 10×" in report
    assert "1200 ms of CPU" in report and '{"learners": 3}' in report
    assert not ok


def test_duckdb_target_met_when_every_callback_is_ten_times_faster():
    report, ok = build_report(_ctx(3.0))
    assert "= 10.0×; 0 of 2 under 10×" in report
    assert ok
