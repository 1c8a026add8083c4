"""satisfaction.csv in the CSV bundle (SPEC §10 with SPEC §3's rules, Qualiopi indicator 2):
every bad value reported as file:line: column: what is wrong, nothing written; a good file
upserts by (user_id, training_id, answered_at)."""

from __future__ import annotations

import pytest

from data import models as m
from tests.integration.data.test_importer import SAMPLE, Bundle, dt, refused, rows, run_import

HEADER = "user_id,training_id,answered_at,score"


@pytest.fixture
def seeded(db):
    run_import(db, SAMPLE)
    return db


@pytest.fixture
def changed(seeded, tmp_path) -> Bundle:
    bundle = Bundle.copy_of_sample(tmp_path / "bundle")
    bundle.replace("users.csv", "Zoé,Àlvarez", "Zoë,Àlvarez-Martin")
    return bundle


def test_sat001_every_bad_value_with_file_line_column(seeded, changed):
    changed.write(
        "satisfaction.csv",
        "\n".join(
            [
                HEADER,
                "u1,t1,2025-03-20T10:00:00,9",  # 2: good
                "u99,t9,2025-03-20T10:00:00,8",  # 3: unknown user and training
                "u1,t1,le 20 mars,11",  # 4: date, score above 10
                "u2,t1,2025-03-20T10:00:00,-0.5",  # 5: score below 0
                "u2,t2,2025-03-20T10:00:00,",  # 6: score empty
                "u1,t1,2025-03-20T09:00:00Z,8",  # 7: the same moment as line 2
                "u2,t2,2025-03-21T10:00:00,huit",  # 8: not a number
            ]
        )
        + "\n",
    )
    assert refused(seeded, changed) == [
        "satisfaction.csv:3: user_id: unknown user 'u99' (not in users.csv nor in the database)",
        "satisfaction.csv:3: training_id: unknown training 't9' (not in trainings.csv nor in the database)",
        "satisfaction.csv:4: answered_at: not an ISO 8601 date or timestamp: 'le 20 mars' "
        "(expected e.g. 2026-03-14, 2026-03-14T09:30:00 or 2026-03-14T09:30:00+01:00)",
        "satisfaction.csv:4: score: score 11 is outside 0–10",
        "satisfaction.csv:5: score: score -0.5 is outside 0–10",
        "satisfaction.csv:6: score: required value is empty",
        "satisfaction.csv:7: user_id+training_id+answered_at: duplicate key "
        "(u1, t1, 2025-03-20 09:00:00 UTC) (first on line 2)",
        "satisfaction.csv:8: score: not a number: 'huit'",
    ]


def test_sat002_missing_columns(seeded, changed):
    changed.write("satisfaction.csv", "user_id,training_id\nu1,t1\n")
    assert refused(seeded, changed) == [
        "satisfaction.csv:1: answered_at: missing required column",
        "satisfaction.csv:1: score: missing required column",
    ]


COLUMNS = ("user_id", "training_id", "answered_at", "score")


def test_sat003_imported_then_updated_by_key(seeded, tmp_path):
    assert rows(seeded, m.SatisfactionAnswer, *COLUMNS) == [
        ("u1", "t1", dt("2025-03-20 09:00"), 9.0),
        ("u2", "t1", dt("2025-03-21 15:00"), 7.5),
    ]
    bundle = Bundle(tmp_path / "only")
    bundle.folder.mkdir()
    bundle.write("satisfaction.csv", HEADER + "\nu1,t1,2025-03-20T10:00:00,6\nu1,t2,2025-04-01,10\n")
    summary = run_import(seeded, bundle.folder)
    counts = summary.files["satisfaction.csv"]
    assert (counts.added, counts.updated, counts.unchanged) == (1, 1, 0)
    assert rows(seeded, m.SatisfactionAnswer, *COLUMNS) == [
        ("u1", "t1", dt("2025-03-20 09:00"), 6.0),
        ("u1", "t2", dt("2025-03-31 22:00"), 10.0),
        ("u2", "t1", dt("2025-03-21 15:00"), 7.5),
    ]
