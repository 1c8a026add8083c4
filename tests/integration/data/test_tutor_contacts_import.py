"""tutor_contacts.csv in the CSV bundle (SPEC §10 with SPEC §3's rules): every bad value
reported as file:line: column: what is wrong, nothing written; a good file upserts by (user_id,
session_id, contacted_at, tutor)."""

from __future__ import annotations

import pytest

from data import models as m
from tests.integration.data.test_importer import SAMPLE, Bundle, dt, refused, rows, run_import

HEADER = "user_id,session_id,contacted_at,tutor,channel,duration_minutes,subject"


@pytest.fixture
def seeded(db):
    run_import(db, SAMPLE)
    return db


@pytest.fixture
def changed(seeded, tmp_path) -> Bundle:
    bundle = Bundle.copy_of_sample(tmp_path / "bundle")
    bundle.replace("users.csv", "Zoé,Àlvarez", "Zoë,Àlvarez-Martin")
    bundle.append("users.csv", "u6,noe.nouveau@example.org,Noé,Nouveau,,,,")
    bundle.append("logins.csv", "u6,2026-01-05T08:00:00")
    return bundle


def test_tc001_every_bad_value_with_file_line_column(seeded, changed):
    changed.write(
        "tutor_contacts.csv",
        "\n".join(
            [
                HEADER,
                "u1,s1,2025-03-04T10:00:00,Marie Curie,phone,15,Relance",  # 2: good
                "u99,s9,2025-03-04T10:00:00,Marie Curie,visio,15,",  # 3: unknown user and session
                "u1,s1,le 4 mars,Marie Curie,pigeon,-5,",  # 4: date, channel, duration
                "u2,s1,2025-03-04T10:00:00,,email,1441,",  # 5: tutor empty, duration too long
                "u1,s1,2025-03-04T09:00:00Z,Marie Curie,forum,,",  # 6: the same moment as line 2
                "u2,s1,2025-03-05T10:00:00,Marie Curie,email,1.5,",  # 7: not a whole number
            ]
        )
        + "\n",
    )
    assert refused(seeded, changed) == [
        "tutor_contacts.csv:3: user_id: unknown user 'u99' (not in users.csv nor in the database)",
        "tutor_contacts.csv:3: session_id: unknown session 's9' (not in sessions.csv nor in the database)",
        "tutor_contacts.csv:4: contacted_at: not an ISO 8601 date or timestamp: 'le 4 mars' "
        "(expected e.g. 2026-03-14, 2026-03-14T09:30:00 or 2026-03-14T09:30:00+01:00)",
        "tutor_contacts.csv:4: channel: unknown channel 'pigeon' "
        "(expected one of: email, phone, visio, message, forum, in-person)",
        "tutor_contacts.csv:4: duration_minutes: must be between 0 and 1440 minutes (or empty), got -5",
        "tutor_contacts.csv:5: tutor: required value is empty",
        "tutor_contacts.csv:5: duration_minutes: must be between 0 and 1440 minutes (or empty), got 1441",
        "tutor_contacts.csv:6: user_id+session_id+contacted_at+tutor: duplicate key "
        "(u1, s1, 2025-03-04 09:00:00 UTC, Marie Curie) (first on line 2)",
        "tutor_contacts.csv:7: duration_minutes: not a whole number: '1.5'",
    ]


def test_tc002_missing_columns(seeded, changed):
    changed.write("tutor_contacts.csv", "user_id,session_id,contacted_at\nu1,s1,2025-03-04T10:00:00\n")
    assert refused(seeded, changed) == [
        "tutor_contacts.csv:1: tutor: missing required column",
        "tutor_contacts.csv:1: channel: missing required column",
    ]


COLUMNS = ("user_id", "session_id", "contacted_at", "tutor", "channel", "duration_minutes", "subject")


def mine(db) -> list[tuple]:
    return [row for row in rows(db, m.TutorContact, *COLUMNS) if row[3] == "Irène Joliot-Curie"]


def test_tc003_imported_then_updated_by_key(seeded, tmp_path):
    bundle = Bundle(tmp_path / "only")
    bundle.folder.mkdir()
    bundle.write(
        "tutor_contacts.csv",
        HEADER + "\n"
        "u1,s1,2025-04-04T10:00:00,Irène Joliot-Curie,Phone,15,Relance « module 2 »\n"
        "u2,s1,2025-04-05T14:30:00+01:00,Irène Joliot-Curie,in-person,,\n",
    )
    summary = run_import(seeded, bundle.folder)
    assert (summary.files["tutor_contacts.csv"].added, summary.files["tutor_contacts.csv"].updated) == (2, 0)
    assert mine(seeded) == [
        ("u1", "s1", dt("2025-04-04 08:00"), "Irène Joliot-Curie", "phone", 15, "Relance « module 2 »"),
        ("u2", "s1", dt("2025-04-05 13:30"), "Irène Joliot-Curie", "in-person", None, ""),
    ]
    # The same key again with another channel, duration and subject: updated, not added.
    bundle.write(
        "tutor_contacts.csv", HEADER + "\nu1,s1,2025-04-04T10:00:00,Irène Joliot-Curie,visio,20,Bilan\n"
    )
    summary = run_import(seeded, bundle.folder)
    counts = summary.files["tutor_contacts.csv"]
    assert (counts.added, counts.updated, counts.unchanged) == (0, 1, 0)
    assert mine(seeded)[0] == ("u1", "s1", dt("2025-04-04 08:00"), "Irène Joliot-Curie", "visio", 20, "Bilan")
    assert len(rows(seeded, m.TutorContact)) == 4  # the sample bundle's two and these two
    summary = run_import(seeded, bundle.folder)
    assert summary.files["tutor_contacts.csv"].unchanged == 1
