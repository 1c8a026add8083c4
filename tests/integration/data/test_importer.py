"""The CSV bundle importer (SPEC §3): bad inputs, a round trip, re-imports, the command line.

A refused import is run in a session that *commits* afterwards, so these tests prove that
import_bundle itself writes nothing before it refuses (not only that the CLI rolls back).
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from data import importer
from data import models as m
from data.importer import BundleError, BundleInvalid, import_bundle

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "bundle"
PARIS = ZoneInfo("Europe/Paris")
DATE_HINT = "(expected e.g. 2026-03-14, 2026-03-14T09:30:00 or 2026-03-14T09:30:00+01:00)"


def dt(text: str) -> datetime:
    """A naive UTC datetime, as stored."""
    return datetime.fromisoformat(text)


class Bundle:
    """A bundle folder under tmp_path that a test edits file by file."""

    def __init__(self, folder: Path):
        self.folder = folder

    @classmethod
    def copy_of_sample(cls, folder: Path) -> Bundle:
        shutil.copytree(SAMPLE, folder)
        return cls(folder)

    def read(self, name: str) -> str:
        return (self.folder / name).read_text(encoding="utf-8-sig")

    def write(self, name: str, text: str) -> None:
        (self.folder / name).write_text(text, encoding="utf-8")

    def append(self, name: str, *lines: str) -> None:
        text = self.read(name)
        self.write(name, text + "".join(line + "\n" for line in lines))

    def replace(self, name: str, old: str, new: str) -> None:
        text = self.read(name)
        assert old in text, f"{old!r} not in {name}"
        self.write(name, text.replace(old, new))

    def remove(self, name: str) -> None:
        (self.folder / name).unlink()


def ordered(table_rows) -> list[tuple]:
    """Rows in a stable order (None first in a column)."""
    return sorted(
        (tuple(row) for row in table_rows),
        key=lambda row: tuple((v is not None, v) if v is not None else (False, 0) for v in row),
    )


def snapshot(db) -> dict[str, list[tuple]]:
    """Every row of every table."""
    with db.engine.connect() as connection:
        return {
            table.name: ordered(connection.execute(select(table))) for table in m.Base.metadata.sorted_tables
        }


def rows(db, model, *columns) -> list[tuple]:
    table = model.__table__
    cols = [table.c[c] for c in columns] if columns else list(table.c)
    with db.engine.connect() as connection:
        return ordered(connection.execute(select(*cols)))


def count(db, model) -> int:
    with db.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(model.__table__))


def run_import(db, folder: Path, tz: ZoneInfo = PARIS):
    with db.session() as s:
        return import_bundle(s, folder, tz)


def refused(db, bundle: Bundle) -> list[str]:
    """Import a bad bundle, check that nothing at all was written, return the messages."""
    before = snapshot(db)
    # The session commits at the end of the block: whatever import_bundle wrote would stay.
    with db.session() as s, pytest.raises(BundleInvalid) as info:
        import_bundle(s, bundle.folder, PARIS)
    assert snapshot(db) == before
    # Explicitly: the valid changes of the `changed` bundle were not applied either.
    assert ("u1", "Zoé", "Àlvarez") in rows(db, m.User, "id", "first_name", "last_name")
    assert count(db, m.User) == 5
    return [str(error) for error in info.value.errors]


@pytest.fixture
def seeded(db):
    """The database after importing the sample bundle."""
    run_import(db, SAMPLE)
    return db


@pytest.fixture
def changed(seeded, tmp_path) -> Bundle:
    """The sample bundle with valid changes (an update, additions) that a refused import must not write."""
    bundle = Bundle.copy_of_sample(tmp_path / "bundle")
    bundle.replace("users.csv", "Zoé,Àlvarez", "Zoë,Àlvarez-Martin")
    bundle.append("users.csv", "u6,noe.nouveau@example.org,Noé,Nouveau,,,,")  # line 8
    bundle.append("logins.csv", "u6,2026-01-05T08:00:00")  # line 5
    return bundle


# ---------------------------------------------------------------------------------------
# Bad inputs listed in SPEC §3: each gives `file:line: column: message` and writes nothing
# ---------------------------------------------------------------------------------------


def test_imp001_unknown_ids_referenced(seeded, changed):
    changed.append("enrollments.csv", "u99,t1,2025-02-01")
    changed.append("attempts.csv", "at9,u1,t9,m1,2025-03-03T10:00:00,")
    changed.append("answers.csv", "at1,a99,1,,,")
    changed.append("connections.csv", "u1,m1,2025-03-05T10:00:00,2025-03-05T11:00:00,s9")
    assert refused(seeded, changed) == [
        "enrollments.csv:4: user_id: unknown user 'u99' (not in users.csv nor in the database)",
        "attempts.csv:5: training_id: unknown training 't9' (not in trainings.csv nor in the database)",
        "answers.csv:5: activity_id: unknown activity 'a99' (not in activities.csv nor in the database)",
        "connections.csv:6: session_id: unknown session 's9' (not in sessions.csv nor in the database)",
    ]


def test_imp002_duplicate_keys_inside_a_file(seeded, changed):
    changed.append("users.csv", "u2,autre@example.org,François,Lefèvre,,,,")  # line 9
    changed.append("class_members.csv", "c1,u1,")
    # The same instant written another way is the same key.
    changed.append("connections.csv", "u1,m1,2025-03-03T08:55:00Z,2025-03-03T09:35:00+00:00,s1")
    assert refused(seeded, changed) == [
        "users.csv:9: user_id: duplicate user_id 'u2' (first on line 3)",
        "class_members.csv:5: class_id+user_id: duplicate key (c1, u1) (first on line 2)",
        "connections.csv:6: user_id+module_id+connected_at+disconnected_at+session_id: duplicate key "
        "(u1, m1, 2025-03-03 08:55:00 UTC, 2025-03-03 09:35:00 UTC, s1) (first on line 2)",
    ]


def test_imp003_disconnected_before_connected(seeded, changed):
    changed.append("connections.csv", "u1,m1,2025-03-05T10:00:00,2025-03-05T09:59:00,")
    assert refused(seeded, changed) == [
        "connections.csv:6: disconnected_at: disconnected_at (2025-03-05 08:59:00 UTC) "
        "is before connected_at (2025-03-05 09:00:00 UTC)",
    ]


def test_imp004_score_below_zero(seeded, changed):
    changed.append("answers.csv", "at3,a2,-1,,,true")
    assert refused(seeded, changed) == ["answers.csv:5: score: score -1 is below 0"]


def test_imp005_score_above_the_activity_max(seeded, changed):
    changed.append("answers.csv", "at3,a2,5.5,,,true")
    changed.append("activities.csv", "a5,m3,Lecture 2,0,,,,")
    changed.append("answers.csv", "at1,a1,10.01,,,")
    assert refused(seeded, changed) == [
        "answers.csv:5: score: score 5.5 is above the max score 5 of activity 'a2'",
        "answers.csv:6: attempt_id+activity_id: duplicate key (at1, a1) (first on line 2)",
        "answers.csv:6: score: score 10.01 is above the max score 10 of activity 'a1'",
    ]


def test_imp006_score_above_the_max_of_an_activity_in_the_database(seeded, tmp_path):
    bundle = Bundle(tmp_path / "answers-only")
    bundle.folder.mkdir()
    bundle.write("answers.csv", "attempt_id,activity_id,score\nat3,a2,5\nat3,a3,1\nat2,a3,21\n")
    assert refused(seeded, bundle) == [
        "answers.csv:3: activity_id: activity 'a3' belongs to module 'm2', not to module 'm1' of attempt 'at3'",
        "answers.csv:4: score: score 21 is above the max score 20 of activity 'a3'",
    ]


def test_imp007_min_score_outside_0_100(seeded, changed):
    changed.append("training_modules.csv", "t2,m1,2,true,100.5", "t2,m2,3,true,-5", "t1,m3,3,false,100")
    assert refused(seeded, changed) == [
        "training_modules.csv:5: min_score: min_score 100.5 is outside 0–100",
        "training_modules.csv:6: min_score: min_score -5 is outside 0–100",
    ]


def test_imp008_unparseable_dates(seeded, changed):
    changed.append("users.csv", "u7,u7@example.org,,,,,31/12/2025,")  # line 9
    changed.append("attempts.csv", "at9,u1,t1,m1,2025-13-01T10:00:00,2025-03-03T25:00")
    changed.append("logins.csv", "u1,hier", "u1,0001-01-01T00:00:00+01:00")  # UTC: year 0
    assert refused(seeded, changed) == [
        f"users.csv:9: created_at: not an ISO 8601 date or timestamp: '31/12/2025' {DATE_HINT}",
        f"attempts.csv:5: started_at: not an ISO 8601 date or timestamp: '2025-13-01T10:00:00' {DATE_HINT}",
        f"attempts.csv:5: finished_at: not an ISO 8601 date or timestamp: '2025-03-03T25:00' {DATE_HINT}",
        f"logins.csv:6: logged_in_at: not an ISO 8601 date or timestamp: 'hier' {DATE_HINT}",
        "logins.csv:7: logged_in_at: date out of range: '0001-01-01T00:00:00+01:00'",
    ]


def test_imp009_unknown_role(seeded, changed):
    changed.append("roles.csv", "u1,superuser,")
    assert refused(seeded, changed) == [
        "roles.csv:6: role: unknown role 'superuser' (expected one of: admin, global_user_manager, "
        "statistics_manager, training_manager, class_manager, session_instructor)",
    ]


def test_imp010_scoped_role_without_scope(seeded, changed):
    changed.append(
        "roles.csv",
        "u1,training_manager,",
        "u1,class_manager,   ",
        "u1,session_instructor,t1",  # a training id is not a session id
        "u1,admin,t1",
        "u2,class_manager,c2",  # fine
    )
    assert refused(seeded, changed) == [
        "roles.csv:6: scope_id: role training_manager needs a scope_id (a training id)",
        "roles.csv:7: scope_id: role class_manager needs a scope_id (a class id)",
        "roles.csv:8: scope_id: unknown session 't1' (not in sessions.csv nor in the database)",
        "roles.csv:9: scope_id: role admin is not scoped: scope_id must be empty, got 't1'",
    ]


# ---------------------------------------------------------------------------------------
# Other bad inputs: header, required values, booleans, numbers, CSV syntax, encoding
# ---------------------------------------------------------------------------------------


def test_imp011_missing_required_column_and_unknown_column(seeded, changed):
    changed.write("modules.csv", "module_id,nom,keep_results\nm4,Nouveau,best\n")
    changed.write("logins.csv", "user_id,logged_in_at,ip\nu1,2026-01-05T08:00:00,10.0.0.1\n")
    changed.write("user_fields.csv", "\n")
    assert refused(seeded, changed) == [
        "user_fields.csv:1: user_id: missing required column",
        "user_fields.csv:1: field: missing required column",
        "modules.csv:1: nom: unknown column (expected: module_id, name, keep_results)",
        "modules.csv:1: name: missing required column",
        "logins.csv:1: ip: unknown column (expected: user_id, logged_in_at)",
    ]


def test_imp012_required_value_empty(seeded, changed):
    changed.append("users.csv", "u7, ,Léa,Petit,,,,")  # line 9
    changed.append("attempts.csv", "at9,u1,t1,m1,,")
    changed.append("training_modules.csv", "t2,m1,,true,10")
    assert refused(seeded, changed) == [
        "users.csv:9: email: required value is empty",
        "training_modules.csv:5: position: required value is empty",
        "attempts.csv:5: started_at: required value is empty",
    ]


def test_imp013_bad_boolean(seeded, changed):
    changed.append("trainings.csv", "t3,Nouvelle formation,yes,")
    changed.append("answers.csv", "at3,a2,1,,,1")
    assert refused(seeded, changed) == [
        "trainings.csv:4: published: expected true or false, got 'yes'",
        "answers.csv:5: evaluated: expected true or false, got '1'",
    ]


def test_imp014_bad_numbers(seeded, changed):
    changed.append("trainings.csv", "t3,Nouvelle formation,true,douze", "t4,Autre,true,0")
    changed.append("training_modules.csv", "t2,m1,1.5,true,")
    changed.append("activities.csv", "a5,m3,Lecture 2,dix,,,,", "a6,m3,Lecture 3,-1,x,,,")
    changed.append("answers.csv", 'at3,a2,"2,5",,,')
    assert refused(seeded, changed) == [
        "trainings.csv:4: validity_months: not a whole number: 'douze'",
        "trainings.csv:5: validity_months: must be at least 1 (or empty for none), got 0",
        "training_modules.csv:5: position: not a whole number: '1.5'",
        "activities.csv:6: max_score: not a number: 'dix'",
        "activities.csv:7: max_score: max_score -1 is below 0",
        "activities.csv:7: position: not a whole number: 'x'",
        "answers.csv:5: score: not a number: '2,5' (use a dot as the decimal separator)",
    ]


def test_imp015_bad_enums_and_emails(seeded, changed):
    changed.append("users.csv", "u7,pas-un-email,,,,,,inactive")  # line 9
    changed.append("modules.csv", "m4,Nouveau,last")
    assert refused(seeded, changed) == [
        "users.csv:9: email: not an email address: 'pas-un-email'",
        "users.csv:9: status: unknown status 'inactive' (expected one of: active, blocked)",
        "modules.csv:5: keep_results: unknown keep_results 'last' (expected one of: best, newest)",
    ]


def test_imp016_email_used_by_another_user(seeded, changed, tmp_path):
    # u6 (line 8) is new; u7 reuses u6's email in other case; u8 takes u3's email (u3 is on line 4).
    changed.append("users.csv", "u7,Noe.Nouveau@Example.org,,,,,,", "u8,oedipe@example.org,,,,,,")
    assert refused(seeded, changed) == [
        "users.csv:9: email: email 'Noe.Nouveau@Example.org' is already used by user 'u6' on line 8",
        "users.csv:10: email: email 'oedipe@example.org' is already used by user 'u3' on line 4",
    ]
    # Without u3 in the file, its email in the database is still its own.
    other = Bundle(tmp_path / "other")
    other.folder.mkdir()
    other.write("users.csv", "user_id,email\nu6,noe.nouveau@example.org\nu8,OEDIPE@example.org\n")
    assert refused(seeded, other) == ["users.csv:3: email: email already used by user 'u3' in the database"]


def test_imp017_answer_activity_of_another_module_and_times_out_of_order(seeded, changed):
    changed.append("answers.csv", "at1,a3,1,,,")
    changed.append("attempts.csv", "at9,u2,t1,m2,2025-03-05T10:00:00,2025-03-05T09:00:00")
    changed.append("sessions.csv", "s3,t2,Automne,2025-10-01,2025-09-30")
    assert refused(seeded, changed) == [
        "sessions.csv:4: ends_at: ends_at (2025-09-29 22:00:00 UTC) is before starts_at (2025-09-30 22:00:00 UTC)",
        "attempts.csv:5: finished_at: finished_at (2025-03-05 08:00:00 UTC) is before started_at "
        "(2025-03-05 09:00:00 UTC)",
        "answers.csv:5: activity_id: activity 'a3' belongs to module 'm2', not to module 'm1' of attempt 'at1'",
    ]


def test_imp018_malformed_csv_field_count_and_encoding(seeded, changed):
    changed.append("classes.csv", 'c3,"Groupe "C" Lyon"')
    changed.append("modules.csv", "m4,Nul\x00,best")
    changed.append("logins.csv", "u1,2026-01-06T08:00:00,extra")
    (changed.folder / "trainings.csv").write_bytes(
        "training_id,name\nt1,Sécurité\n".encode() + "t3,Entraînement\n".encode("latin-1")
    )
    errors = refused(seeded, changed)
    assert errors[0] == "trainings.csv:3: -: not valid UTF-8 text"
    assert errors[1] == "modules.csv:5: -: contains a NUL character"
    assert errors[2] == "classes.csv:4: -: malformed CSV: ',' expected after '\"'"
    assert errors[3:] == ["logins.csv:6: -: the row has 3 field(s) but the header has 2"]


def test_imp019_every_error_of_every_file_in_file_order(seeded, changed):
    changed.append("logins.csv", "u42,2026-01-05T08:00:00")
    changed.append("roles.csv", "u5,training_manager,t1")
    changed.write("modules.csv", "module_id\nm1\n")
    changed.append("users.csv", "u7,,Léa,Petit,,,hier,")  # line 9, after a multi-line record
    changed.append("connections.csv", "u1,m9,2025-03-05T10:00:00,2025-03-05T09:00:00,")
    changed.append("answers.csv", "at1,a1,11,,,")
    errors = refused(seeded, changed)
    assert errors == [
        "users.csv:9: email: required value is empty",
        f"users.csv:9: created_at: not an ISO 8601 date or timestamp: 'hier' {DATE_HINT}",
        "roles.csv:6: user_id+role+scope_id: duplicate key (u5, training_manager, t1) (first on line 2)",
        "modules.csv:1: name: missing required column",
        "answers.csv:5: attempt_id+activity_id: duplicate key (at1, a1) (first on line 2)",
        "answers.csv:5: score: score 11 is above the max score 10 of activity 'a1'",
        "connections.csv:6: module_id: unknown module 'm9' (not in modules.csv nor in the database)",
        "connections.csv:6: disconnected_at: disconnected_at (2025-03-05 08:00:00 UTC) "
        "is before connected_at (2025-03-05 09:00:00 UTC)",
        "logins.csv:6: user_id: unknown user 'u42' (not in users.csv nor in the database)",
    ]


def test_imp020_bundle_error_format_and_empty_folder(db, tmp_path):
    error = BundleError("users.csv", 3, "email", "required value is empty")
    assert str(error) == "users.csv:3: email: required value is empty"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("hello")
    before = snapshot(db)
    with db.session() as s, pytest.raises(BundleInvalid) as info:
        import_bundle(s, empty, PARIS)
    assert [e.message for e in info.value.errors] == [
        "no bundle file found (expected " + ", ".join(spec.name for spec in importer.FILES) + ")"
    ]
    assert snapshot(db) == before


# ---------------------------------------------------------------------------------------
# Valid bundles
# ---------------------------------------------------------------------------------------

EXPECTED_SAMPLE = {
    "users": [
        # id, email, first, last, additional info, created_at (UTC), status, password, sort key, search,
        # session version, language
        (
            "u1",
            "zoe.alvarez@example.org",
            "Zoé",
            "Àlvarez",
            "Service RH, Lyon",
            dt("2025-01-15 08:30"),  # winter, no offset: Paris is UTC+1
            "active",
            None,
            "alvarez\tzoe\tzoe.alvarez@example.org",
            "zoe alvarez zoe.alvarez@example.org",
            0,  # session version
            None,  # language (chosen by the user in the app)
        ),
        (
            "u2",
            "francois.lefevre@example.org",
            "François",
            "Lefèvre",
            "",
            dt("2025-07-01 06:00"),  # summer, no offset: Paris is UTC+2
            "active",  # empty status: the default
            None,
            "lefevre\tfrancois\tfrancois.lefevre@example.org",
            "francois lefevre francois.lefevre@example.org",
            0,  # session version
            None,  # language (chosen by the user in the app)
        ),
        (
            "u3",
            "oedipe@example.org",
            "Œdipe",
            "Œuvre",
            "",
            dt("2025-03-10 04:30"),  # +05:30 offset converted
            "blocked",
            None,
            "oeuvre\toedipe\toedipe@example.org",
            "oedipe oeuvre oedipe@example.org",
            0,  # session version
            None,  # language (chosen by the user in the app)
        ),
        (
            "u4",
            "marc.bernard@example.org",
            "Marc",
            "Bernard",
            'Formateur\n"externe"',
            dt("2025-11-30 23:00"),  # a plain date is midnight in Paris
            "active",
            None,
            "bernard\tmarc\tmarc.bernard@example.org",
            "marc bernard marc.bernard@example.org",
            0,  # session version
            None,  # language (chosen by the user in the app)
        ),
        (
            "u5",
            "elise.manager@example.org",
            "Élise",
            "Müller",
            "",
            None,
            "active",  # "ACTIVE"
            None,
            "muller\telise\telise.manager@example.org",
            "elise muller elise.manager@example.org",
            0,  # session version
            None,  # language (chosen by the user in the app)
        ),
    ],
    "user_labels": [
        ("u1", "Cohorte A"),
        ("u1", "Managers"),
        ("u2", "Grands comptes"),
        ("u2", "Ventes"),
        ("u5", "Managers"),
    ],
    "user_fields": [
        ("u1", "Entreprise", "Acme, Inc."),
        ("u1", "Service", "Ressources humaines"),
        ("u2", "Entreprise", "Globex"),
        ("u3", "Entreprise", ""),
    ],
    "roles": [
        ("u4", "session_instructor", "s1"),
        ("u5", "class_manager", "c1"),
        ("u5", "statistics_manager", ""),
        ("u5", "training_manager", "t1"),
    ],
    "trainings": [("t1", "Sécurité, niveau 1", True, 12), ("t2", "Intégration", False, None)],
    "modules": [
        ("m1", "Introduction", "best"),
        ("m2", "Quiz final, partie 1", "newest"),
        ("m3", "Lecture seule", "best"),
    ],
    "training_modules": [
        ("t1", "m1", 1, True, 50.0),
        ("t1", "m2", 2, False, 80.5),
        ("t2", "m3", 1, True, 0.0),
    ],
    "activities": [
        ("a1", "m1", "Couleur", 10.0, 1, "quiz", "Quelle est la couleur du ciel, en été ?", "Bleu"),
        ("a2", "m1", "Rédaction", 5.0, 2, "long_answer", "Décrivez la procédure.", ""),
        ("a3", "m2", "Calcul", 20.0, 1, "quiz", "Combien font 6 × 7 ?", "42"),
        ("a4", "m3", "Lecture", 0.0, None, "content", "", ""),
    ],
    "classes": [("c1", "Groupe A, Lyon"), ("c2", "Équipe B")],
    "class_members": [
        ("c1", "u1", dt("2025-01-31 23:00")),
        ("c1", "u2", None),
        ("c2", "u3", dt("2025-08-15 08:00")),
    ],
    "class_trainings": [("c1", "t1", dt("2025-02-10 08:00")), ("c2", "t2", None)],
    "enrollments": [("u1", "t1", dt("2025-01-19 23:00")), ("u4", "t2", dt("2025-06-15 12:00"))],
    "program_sessions": [
        ("s1", "t1", "Session de printemps, Paris", dt("2025-03-01 08:00"), dt("2025-06-30 16:00")),
        ("s2", "t1", "Session d'été", None, None),
    ],
    "session_learners": [("s1", "u1"), ("s1", "u2")],
    "attempts": [
        ("at1", "u1", "t1", "m1", dt("2025-03-03 09:00"), dt("2025-03-03 09:30")),
        ("at2", "u1", "t1", "m2", dt("2025-07-10 12:00"), None),
        ("at3", "u2", "t1", "m1", dt("2025-03-04 07:00"), dt("2025-03-04 07:20")),
    ],
    "answers": [
        ("at1", "a1", 8.0, "Bleu", dt("2025-03-03 09:10"), True),
        ("at1", "a2", 0.0, "Je vérifie, puis je signale.", dt("2025-03-03 09:20"), False),
        ("at3", "a1", 10.0, "Bleu", None, True),
    ],
    "connections": [
        ("u1", "m1", dt("2025-03-03 08:55"), dt("2025-03-03 09:35"), "s1"),
        ("u1", "m1", dt("2025-03-03 08:55"), dt("2025-03-03 09:35"), None),
        ("u1", "m2", dt("2025-07-10 11:55"), dt("2025-07-10 12:40"), None),
        ("u2", "m1", dt("2025-03-04 06:55"), dt("2025-03-04 07:25"), "s1"),
    ],
    "logins": [
        ("u1", dt("2025-03-03 08:50")),
        ("u1", dt("2025-07-10 11:50")),
        ("u2", dt("2025-03-04 06:50")),
    ],
    # Without an id: the surrogate key is not compared (contents() drops it).
    "tutor_contacts": [
        ("u1", "s1", dt("2025-03-04 09:00"), "Marie Curie", "phone", 15, "Relance, module 2", None),
        ("u2", "s1", dt("2025-03-05 13:30"), "Paul Langevin", "visio", None, "", None),
    ],
    # Without an id too (SPEC §10, Qualiopi indicator 2).
    "satisfaction_answers": [
        ("u1", "t1", dt("2025-03-20 09:00"), 9.0),
        ("u2", "t1", dt("2025-03-21 15:00"), 7.5),
    ],
    # Direct enrollment and class: the earlier; through a class: the later of joining and registering.
    "training_learners": [
        ("t1", "u1", dt("2025-01-19 23:00")),
        ("t1", "u2", dt("2025-02-10 08:00")),
        ("t2", "u3", dt("2025-08-15 08:00")),
        ("t2", "u4", dt("2025-06-15 12:00")),
    ],
}


# The imported tables: not the summary layer, nor the app's own settings, nor the xAPI store,
# the import log, the LRS cursors, the periodic jobs' locks and the scheduled reports (a bundle
# writes none of them).
XAPI_TABLES = {
    "xapi_statements",
    "import_runs",
    "lrs_cursors",
    "job_locks",
    "scheduled_reports",
    "scheduled_report_runs",
}
RAW_TABLES = {
    t.name
    for t in m.Base.metadata.sorted_tables
    if not t.name.startswith("summary_")
    and t.name not in {x.__tablename__ for x in m.SETTINGS_TABLES}
    and t.name not in XAPI_TABLES
}
# Columns only xAPI derivation sets (a bundle's rows: xapi false, no override nor verdict).
XAPI_COLUMNS = ("xapi", "score_override", "verdict")


def contents(db) -> dict[str, list[tuple]]:
    """Every raw table (the summary layer has tests of its own) but the columns only xAPI sets,
    connections without their surrogate id."""
    tables: dict[str, list[tuple]] = {}
    with db.engine.connect() as connection:
        for table in m.Base.metadata.sorted_tables:
            if table.name not in RAW_TABLES:
                continue
            extra = [c for c in table.c if c.name in XAPI_COLUMNS]
            if extra:
                assert all(v in (False, None) for row in connection.execute(select(*extra)) for v in row)
            columns = [c for c in table.c if c.name not in XAPI_COLUMNS]
            tables[table.name] = ordered(connection.execute(select(*columns)))
    tables["connections"] = ordered(row[1:] for row in tables["connections"])
    tables["tutor_contacts"] = ordered(row[1:] for row in tables["tutor_contacts"])
    tables["satisfaction_answers"] = ordered(row[1:] for row in tables["satisfaction_answers"])
    return tables


def test_imp021_round_trip_of_the_sample_bundle(db):
    summary = run_import(db, SAMPLE)
    expected = {name: ordered(table_rows) for name, table_rows in EXPECTED_SAMPLE.items()}
    assert contents(db) == expected
    assert set(EXPECTED_SAMPLE) == RAW_TABLES
    assert summary.files["users.csv"] == importer.FileCounts(rows=5, added=5, updated=0, unchanged=0)
    assert summary.files["connections.csv"].added == 4
    assert list(summary.files) == [spec.name for spec in importer.FILES]
    assert summary.absent == [] and summary.warnings == []
    text = summary.describe()
    assert "users.csv" in text and "5 row(s): 5 added, 0 updated, 0 unchanged" in text
    assert "Effective enrollments (learner, training): 4" in text


def test_imp022_reimporting_the_same_bundle_changes_nothing(seeded):
    before = snapshot(seeded)
    summary = run_import(seeded, SAMPLE)
    assert snapshot(seeded) == before
    assert all(c.added == 0 and c.updated == 0 and c.unchanged == c.rows for c in summary.files.values())
    assert summary.files["connections.csv"].unchanged == 4


@pytest.mark.parametrize("scan_threshold", [importer.SCAN_THRESHOLD, 0], ids=["lookup-by-id", "table-scan"])
def test_imp023_reimport_of_a_modified_bundle_updates_without_duplicating(
    seeded, changed, monkeypatch, scan_threshold
):
    monkeypatch.setattr(importer, "SCAN_THRESHOLD", scan_threshold)
    with seeded.session() as s:  # u1 set a password since the first import
        users = m.User.__table__
        s.execute(update(users).where(users.c.id == "u1").values(password_hash="kept-hash"))
    changed.replace("users.csv", '"Cohorte A, Managers"', '" Cohorte B ,"')
    changed.replace("users.csv", "blocked", "active")
    changed.replace("trainings.csv", "t2,Intégration,FALSE,", "t2,Intégration,true,24")
    changed.replace("training_modules.csv", "t1,m2,2,false,80.5", "t1,m2,3,true,75")
    changed.replace("answers.csv", "at1,a2,0,", "at1,a2,4,")
    changed.replace("answers.csv", "10:20:00,false", "10:20:00,true")
    changed.replace(
        "attempts.csv",
        "at2,u1,t1,m2,2025-07-10T14:00:00,",
        "at2,u1,t1,m2,2025-07-10T14:00:00,2025-07-10T15:00:00",
    )
    changed.append("connections.csv", "u6,m2,2026-01-05T08:05:00,2026-01-05T08:45:00,")
    changed.append("enrollments.csv", "u6,t1,2026-01-05")
    changed.append("user_fields.csv", "u6,Entreprise,Initech")
    changed.replace("user_fields.csv", "u2,Entreprise,Globex", "u2,Entreprise,Globex SA")

    summary = run_import(seeded, changed.folder)

    assert summary.files["users.csv"] == importer.FileCounts(rows=6, added=1, updated=2, unchanged=3)
    assert summary.files["user_fields.csv"] == importer.FileCounts(rows=5, added=1, updated=1, unchanged=3)
    assert summary.files["connections.csv"] == importer.FileCounts(rows=5, added=1, updated=0, unchanged=4)
    assert summary.files["logins.csv"] == importer.FileCounts(rows=4, added=1, updated=0, unchanged=3)
    assert summary.files["answers.csv"] == importer.FileCounts(rows=3, added=0, updated=1, unchanged=2)
    assert summary.files["modules.csv"] == importer.FileCounts(rows=3, added=0, updated=0, unchanged=3)

    tables = contents(seeded)
    expected = {name: ordered(table_rows) for name, table_rows in EXPECTED_SAMPLE.items()}
    users = {row[0]: row for row in tables["users"]}
    assert users["u1"] == (
        "u1",
        "zoe.alvarez@example.org",
        "Zoë",
        "Àlvarez-Martin",
        "Service RH, Lyon",
        dt("2025-01-15 08:30"),
        "active",
        "kept-hash",  # an import never clears a password
        "alvarez-martin\tzoe\tzoe.alvarez@example.org",
        "zoe alvarez-martin zoe.alvarez@example.org",
        0,  # session version
        None,  # language
    )
    assert users["u3"][6] == "active"
    assert users["u6"] == (
        "u6",
        "noe.nouveau@example.org",
        "Noé",
        "Nouveau",
        "",
        None,
        "active",
        None,
        "nouveau\tnoe\tnoe.nouveau@example.org",
        "noe nouveau noe.nouveau@example.org",
        0,  # session version
        None,  # language
    )
    assert tables["user_labels"] == [
        ("u1", "Cohorte B"),
        ("u2", "Grands comptes"),
        ("u2", "Ventes"),
        ("u5", "Managers"),
    ]
    assert tables["trainings"] == [("t1", "Sécurité, niveau 1", True, 12), ("t2", "Intégration", True, 24)]
    assert tables["training_modules"] == [
        ("t1", "m1", 1, True, 50.0),
        ("t1", "m2", 3, True, 75.0),
        ("t2", "m3", 1, True, 0.0),
    ]
    assert ("at1", "a2", 4.0, "Je vérifie, puis je signale.", dt("2025-03-03 09:20"), True) in tables[
        "answers"
    ]
    assert ("at2", "u1", "t1", "m2", dt("2025-07-10 12:00"), dt("2025-07-10 13:00")) in tables["attempts"]
    assert tables["connections"] == ordered(
        [*expected["connections"], ("u6", "m2", dt("2026-01-05 07:05"), dt("2026-01-05 07:45"), None)]
    )
    assert ("u2", "Entreprise", "Globex SA") in tables["user_fields"]
    assert ("t1", "u6", dt("2026-01-04 23:00")) in tables["training_learners"]
    for unchanged in ("modules", "activities", "classes", "class_members", "class_trainings", "roles"):
        assert tables[unchanged] == expected[unchanged]
    assert {name: len(t) for name, t in tables.items()} == {
        **{name: len(t) for name, t in expected.items()},
        "users": 6,
        "user_labels": 4,
        "user_fields": 5,
        "enrollments": 3,
        "connections": 5,
        "logins": 4,
        "training_learners": 5,
        "tutor_contacts": 2,
        "satisfaction_answers": 2,
    }

    # Once more: nothing changes, nothing is duplicated.
    again = snapshot(seeded)
    summary = run_import(seeded, changed.folder)
    assert snapshot(seeded) == again
    assert sum(c.added + c.updated for c in summary.files.values()) == 0


def test_imp024_absent_columns_and_files_leave_data_as_it_was(seeded, tmp_path):
    bundle = Bundle(tmp_path / "partial")
    bundle.folder.mkdir()
    bundle.write("users.csv", "user_id,email,first_name\nu1,zoe.alvarez@example.org,Zoë\n")
    bundle.write("logins.csv", "logged_in_at,user_id\n2026-02-01T09:00:00,u3\n")  # any column order
    before = contents(seeded)
    summary = run_import(seeded, bundle.folder)
    after = contents(seeded)
    u1 = next(row for row in after["users"] if row[0] == "u1")
    # last name, additional info, created_at, status and labels untouched; keys recomputed.
    assert u1[:8] == (
        "u1",
        "zoe.alvarez@example.org",
        "Zoë",
        "Àlvarez",
        "Service RH, Lyon",
        dt("2025-01-15 08:30"),
        "active",
        None,
    )
    assert u1[8] == "alvarez\tzoe\tzoe.alvarez@example.org"
    assert after["user_labels"] == before["user_labels"]
    assert after["logins"] == ordered([*before["logins"], ("u3", dt("2026-02-01 08:00"))])
    for name in before:
        if name not in ("users", "logins"):
            assert after[name] == before[name], name
    assert summary.absent == [
        spec.name for spec in importer.FILES if spec.name not in ("users.csv", "logins.csv")
    ]
    assert "Not in the bundle (left as they were): user_fields.csv" in summary.describe()


def test_imp025_users_can_swap_emails(seeded, tmp_path):
    bundle = Bundle(tmp_path / "swap")
    bundle.folder.mkdir()
    bundle.write(
        "users.csv",
        "user_id,email\nu1,francois.lefevre@example.org\nu2,zoe.alvarez@example.org\nu3,OEDIPE@example.org\n",
    )
    summary = run_import(seeded, bundle.folder)
    assert summary.files["users.csv"] == importer.FileCounts(rows=3, added=0, updated=3, unchanged=0)
    assert rows(seeded, m.User, "id", "email")[:3] == [
        ("u1", "francois.lefevre@example.org"),
        ("u2", "zoe.alvarez@example.org"),
        ("u3", "OEDIPE@example.org"),
    ]


def test_imp026_timestamps_in_the_platform_zone(db, tmp_path):
    bundle = Bundle(tmp_path / "tz")
    bundle.folder.mkdir()
    bundle.write("users.csv", "user_id,email\nu1,a@example.org\n")
    bundle.write(
        "logins.csv",
        "user_id,logged_in_at\n"
        "u1,2025-01-15T09:30:00\n"  # winter
        "u1,2025-07-01 09:30\n"  # summer
        "u1,2025-10-26T02:30:00\n"  # repeated hour: read as the first (summer) one
        "u1,2025-03-30T02:30:00\n"  # skipped hour: read with the offset before the change
        "u1,2025-07-01T09:30:00.250+02:00\n"
        "u1,2025-07-02T09:30:00Z\n"
        "u1,2025-07-03\n",
    )
    run_import(db, bundle.folder, PARIS)
    assert rows(db, m.Login, "logged_in_at") == [
        (dt("2025-01-15 08:30"),),
        (dt("2025-03-30 01:30"),),
        (dt("2025-07-01 07:30"),),
        (dt("2025-07-01 07:30:00.250"),),
        (dt("2025-07-02 09:30"),),
        (dt("2025-07-02 22:00"),),
        (dt("2025-10-26 00:30"),),
    ]
    # The zone is the caller's: another platform zone reads the same file differently.
    other = Bundle(tmp_path / "ny")
    other.folder.mkdir()
    other.write("logins.csv", "user_id,logged_in_at\nu1,2025-01-15T09:30:00\n")
    run_import(db, other.folder, ZoneInfo("America/New_York"))
    assert (dt("2025-01-15 14:30"),) in rows(db, m.Login, "logged_in_at")


def test_imp027_references_to_ids_in_the_database_and_unknown_files(seeded, tmp_path):
    bundle = Bundle(tmp_path / "delta")
    bundle.folder.mkdir()
    bundle.write(
        "connections.csv",
        "user_id,module_id,connected_at,disconnected_at,session_id\nu3,m3,2026-01-05T10:00,2026-01-05T10:00,\n",
    )
    bundle.write("answers.csv", "attempt_id,activity_id,score,evaluated\nat2,a3,20,FALSE\n")
    bundle.write("roles.csv", "user_id,role,scope_id\nu1,session_instructor,s2\nu1,ADMIN,\n")
    bundle.write("notes.txt", "not a bundle file")
    bundle.write("Users.CSV", "user_id,email\nu9,x@example.org\n")
    (bundle.folder / "old").mkdir()
    (bundle.folder / ".hidden").write_text("ignored silently")
    summary = run_import(seeded, bundle.folder)
    assert summary.warnings == [
        "ignored Users.CSV: file names are case-sensitive, did you mean users.csv?",
        "ignored notes.txt: not a bundle file name",
        "ignored folder old/ (bundles are flat)",
    ]
    assert "Warning: ignored notes.txt: not a bundle file name" in summary.describe()
    assert count(seeded, m.User) == 5
    assert ("u3", "m3", dt("2026-01-05 09:00"), dt("2026-01-05 09:00"), None) in contents(seeded)[
        "connections"
    ]
    assert ("at2", "a3", 20.0, "", None, False) in rows(seeded, m.Answer)
    assert ("u1", "admin", "") in rows(seeded, m.Role)
    assert ("u1", "session_instructor", "s2") in rows(seeded, m.Role)


def test_imp028_bulk_import_of_a_larger_bundle(db, tmp_path):
    """More ids than one lookup batch and more rows than one write batch."""
    users = 1_200
    bundle = Bundle(tmp_path / "big")
    bundle.folder.mkdir()
    bundle.write(
        "users.csv",
        "user_id,email,last_name,labels\n"
        + "".join(f'u{i},user{i}@example.org,Nom{i},"L{i % 3}, L{i % 5}"\n' for i in range(users)),
    )
    bundle.write("modules.csv", "module_id,name\nm1,Module\n")
    logins = "".join(
        f"u{i % users},2025-01-01T{i // 600 % 24:02d}:{i // 10 % 60:02d}:{i % 10:02d}Z\n"
        for i in range(12_000)
    )
    bundle.write("logins.csv", "user_id,logged_in_at\n" + logins)
    summary = run_import(db, bundle.folder)
    assert summary.files["logins.csv"].added == 12_000
    assert count(db, m.Login) == 12_000
    assert count(db, m.UserLabel) == sum(len({i % 3, i % 5}) for i in range(users))
    bundle.replace("users.csv", "u7,user7@example.org,Nom7,", "u7,user7@example.org,Nouveau,")
    summary = run_import(db, bundle.folder)
    assert summary.files["users.csv"] == importer.FileCounts(
        rows=users, added=0, updated=1, unchanged=users - 1
    )
    assert summary.files["logins.csv"] == importer.FileCounts(
        rows=12_000, added=0, updated=0, unchanged=12_000
    )
    assert count(db, m.Login) == 12_000


# ---------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------


def test_imp029_cli_refuses_a_bad_bundle(dash_app, db, tmp_path):
    bundle = Bundle.copy_of_sample(tmp_path / "bad")
    bundle.append("logins.csv", "u42,2026-01-05T08:00:00")
    bundle.append("answers.csv", "at3,a2,-2,,,")
    before = snapshot(db)
    result = dash_app.server.test_cli_runner().invoke(args=["import-bundle", str(bundle.folder)])
    assert result.exit_code != 0
    assert result.stderr.splitlines() == [
        "answers.csv:5: score: score -2 is below 0",
        "logins.csv:5: user_id: unknown user 'u42' (not in users.csv nor in the database)",
        "Import refused: 2 error(s); nothing was written.",
    ]
    assert result.stdout == ""
    # Nothing is written but the import's record, a failed run the Data sources page lists.
    after = snapshot(db)
    runs = rows(db, m.ImportRun, "kind", "status", "error")
    first = "answers.csv:5: score: score -2 is below 0"
    assert runs == [("bundle", "failed", f"2 error(s) (first: {first}); nothing was written")]
    assert {k: v for k, v in after.items() if k != "import_runs"} == {
        k: v for k, v in before.items() if k != "import_runs"
    }


def test_imp030_cli_imports_a_good_bundle(dash_app, db):
    result = dash_app.server.test_cli_runner().invoke(args=["import-bundle", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "users.csv" in result.stdout and "5 row(s): 5 added, 0 updated, 0 unchanged" in result.stdout
    assert result.stderr == ""
    assert contents(db)["users"] == EXPECTED_SAMPLE["users"]
    assert count(db, m.Connection) == 4


def test_imp031_line_numbers_in_a_crlf_file_with_a_bom(seeded, tmp_path):
    bundle = Bundle.copy_of_sample(tmp_path / "excel")
    users = bundle.folder / "users.csv"
    assert users.read_bytes().startswith(b"\xef\xbb\xbfuser_id,") and b"\r\n" in users.read_bytes()
    with users.open("ab") as fh:  # after the multi-line record of lines 5-6 and u5 on line 7
        fh.write(b"u7,not-an-email,,,,,,\r\n\r\nu8,u8@example.org,,,,,2025-02-30,\r\n")
    assert refused(seeded, bundle) == [
        "users.csv:8: email: not an email address: 'not-an-email'",
        f"users.csv:10: created_at: not an ISO 8601 date or timestamp: '2025-02-30' {DATE_HINT}",
    ]


# ---------------------------------------------------------------------------------------
# Stored answers against the activities and attempts a bundle updates
# ---------------------------------------------------------------------------------------

ACTIVITIES_HEADER = "activity_id,module_id,name,max_score\n"
ATTEMPTS_HEADER = "attempt_id,user_id,training_id,module_id,started_at,finished_at\n"
# Both ways of finding the stored answers: "IN" lookups by id, and one scan of the answers.
LOOKUP_MODES = pytest.mark.parametrize("scan", [False, True], ids=["lookup-by-id", "table-scan"])


def lookup_mode(monkeypatch, scan: bool) -> None:
    if scan:
        monkeypatch.setattr(importer, "LOOKUP_BATCH", 1)
        monkeypatch.setattr(importer, "SCAN_THRESHOLD", 0)


@LOOKUP_MODES
def test_imp032_max_score_lowered_below_a_stored_answer(seeded, tmp_path, monkeypatch, scan):
    lookup_mode(monkeypatch, scan)
    bundle = Bundle(tmp_path / "activities-only")
    bundle.folder.mkdir()
    # Stored: a1 answered 8 (at1) and 10 (at3); a2 answered 0 (at1).
    bundle.write("activities.csv", ACTIVITIES_HEADER + "a1,m1,Couleur,5\na2,m1,Rédaction,0\n")
    assert refused(seeded, bundle) == [
        "activities.csv:2: max_score: max_score 5 is below the score 10 of the stored answer "
        "of attempt 'at3' (and 1 other stored answer above 5)",
    ]
    bundle.write("activities.csv", ACTIVITIES_HEADER + "a1,m1,Couleur,9\n")
    assert refused(seeded, bundle) == [
        "activities.csv:2: max_score: max_score 9 is below the score 10 of the stored answer of attempt 'at3'",
    ]


@LOOKUP_MODES
def test_imp033_activity_moved_to_another_module_with_stored_answers(seeded, changed, monkeypatch, scan):
    lookup_mode(monkeypatch, scan)
    changed.remove("answers.csv")  # the stored answers stay
    changed.replace("activities.csv", "a1,m1,Couleur,10,", "a1,m2,Couleur,10,")
    changed.replace("activities.csv", "a3,m2,Calcul,20,", "a3,m1,Calcul,20,")  # no stored answer: fine
    assert refused(seeded, changed) == [
        "activities.csv:2: module_id: activity 'a1' would move to module 'm2', but it has a stored answer "
        "in attempt 'at1' of module 'm1' (and 1 other stored answer in attempts of other modules)",
    ]


@LOOKUP_MODES
def test_imp034_attempt_moved_to_another_module_with_stored_answers(seeded, tmp_path, monkeypatch, scan):
    lookup_mode(monkeypatch, scan)
    bundle = Bundle(tmp_path / "attempts-only")
    bundle.folder.mkdir()
    bundle.write(
        "attempts.csv",
        ATTEMPTS_HEADER
        + "at1,u1,t1,m2,2025-03-03T10:00:00,2025-03-03T10:30:00\n"  # stored answers to a1, a2 (m1)
        + "at2,u1,t1,m1,2025-07-10T14:00:00,\n"  # no stored answer: fine
        + "at3,u2,t1,m2,2025-03-04T09:00:00+02:00,2025-03-04T09:20:00+02:00\n",  # a1 (m1)
    )
    assert refused(seeded, bundle) == [
        "attempts.csv:2: module_id: attempt 'at1' would move to module 'm2', but it has a stored answer "
        "to activity 'a1' of module 'm1' (and 1 other stored answer to activities of other modules)",
        "attempts.csv:4: module_id: attempt 'at3' would move to module 'm2', but it has a stored answer "
        "to activity 'a1' of module 'm1'",
    ]
    # Moving the activities along with the attempts keeps the stored answers consistent, except
    # for a1 in at1 when only at3 moves with it.
    bundle.write("activities.csv", ACTIVITIES_HEADER + "a1,m2,Couleur,10\n")
    bundle.write("attempts.csv", ATTEMPTS_HEADER + "at3,u2,t1,m2,2025-03-04T09:00:00+02:00,\n")
    assert refused(seeded, bundle) == [
        "activities.csv:2: module_id: activity 'a1' would move to module 'm2', but it has a stored answer "
        "in attempt 'at1' of module 'm1'",
    ]


def test_imp035_answers_replaced_in_the_same_bundle_are_checked_as_rows(seeded, tmp_path):
    bundle = Bundle(tmp_path / "moves")
    bundle.folder.mkdir()
    # a1 and a2 move to m2 with every attempt that answered them; a1's max drops to 5.
    bundle.write("activities.csv", ACTIVITIES_HEADER + "a1,m2,Couleur,5\na2,m2,Rédaction,5\n")
    bundle.write(
        "attempts.csv",
        ATTEMPTS_HEADER
        + "at1,u1,t1,m2,2025-03-03T10:00:00,2025-03-03T10:30:00\n"
        + "at3,u2,t1,m2,2025-03-04T09:00:00+02:00,2025-03-04T09:20:00+02:00\n",
    )
    # Only at3's answer to a1 is replaced: at1's stored 8 is still above 5.
    bundle.write("answers.csv", "attempt_id,activity_id,score\nat3,a1,5\n")
    assert refused(seeded, bundle) == [
        "activities.csv:2: max_score: max_score 5 is below the score 8 of the stored answer of attempt 'at1'",
    ]
    # A replacing row is checked as a row of answers.csv.
    bundle.write("answers.csv", "attempt_id,activity_id,score\nat3,a1,5\nat1,a1,6\n")
    assert refused(seeded, bundle) == [
        "answers.csv:3: score: score 6 is above the max score 5 of activity 'a1'",
    ]
    bundle.write("answers.csv", "attempt_id,activity_id,score\nat3,a1,5\nat1,a1,4\n")
    summary = run_import(seeded, bundle.folder)
    assert summary.files["activities.csv"] == importer.FileCounts(rows=2, added=0, updated=2, unchanged=0)
    assert summary.files["answers.csv"] == importer.FileCounts(rows=2, added=0, updated=2, unchanged=0)
    assert rows(seeded, m.Activity, "id", "module_id", "max_score") == [
        ("a1", "m2", 5.0),
        ("a2", "m2", 5.0),
        ("a3", "m2", 20.0),
        ("a4", "m3", 0.0),
    ]
    assert rows(seeded, m.Attempt, "id", "module_id") == [("at1", "m2"), ("at2", "m2"), ("at3", "m2")]
    assert rows(seeded, m.Answer, "attempt_id", "activity_id", "score") == [
        ("at1", "a1", 4.0),
        ("at1", "a2", 0.0),
        ("at3", "a1", 5.0),
    ]


def test_imp036_event_files_read_by_blocks_say_the_same_as_row_by_row(seeded, changed, monkeypatch):
    """connections.csv and logins.csv are read a block of rows at a time when they have no
    problem (read_events_fast); unknown ids are still named on each line they are on, across
    blocks, and a file with any other problem is read row by row with the usual messages."""
    monkeypatch.setattr(importer, "FAST_BLOCK", 2)
    fast_reads = []
    real = importer._Importer.read_events_fast

    def counting(self, spec, path):
        parsed = real(self, spec, path)
        fast_reads.append((spec.name, parsed is not None))
        return parsed

    monkeypatch.setattr(importer._Importer, "read_events_fast", counting)
    # Lines 6-9 (blocks of 2 from line 2: 2-3, 4-5, 6-7, 8-9): an unknown user twice, an
    # unknown module in the last block.
    changed.append(
        "connections.csv",
        "u77,m1,2025-03-05T10:00:00,2025-03-05T11:00:00,",
        "u1,m1,2025-03-06T10:00:00,2025-03-06T11:00:00,",
        "u77,m1,2025-03-07T10:00:00,2025-03-07T11:00:00,",
        "u1,m9,2025-03-08T10:00:00,2025-03-08T11:00:00,",
    )
    assert refused(seeded, changed) == [
        "connections.csv:6: user_id: unknown user 'u77' (not in users.csv nor in the database)",
        "connections.csv:8: user_id: unknown user 'u77' (not in users.csv nor in the database)",
        "connections.csv:9: module_id: unknown module 'm9' (not in modules.csv nor in the database)",
    ]
    assert fast_reads == [("connections.csv", True), ("logins.csv", True)]
    # A duplicate in a later block, and a row over two lines before it: read row by row.
    fast_reads.clear()
    changed.replace("connections.csv", "u77,", "u1,")
    changed.replace("connections.csv", "u1,m9,", "u1,m1,")
    changed.append("connections.csv", 'u1,m1,2025-03-09T10:00:00,2025-03-09T11:00:00,"s\n1"')
    changed.append("connections.csv", "u1,m1,2025-03-06T10:00:00,2025-03-06T11:00:00,")
    errors = refused(seeded, changed)
    assert fast_reads == [("connections.csv", False), ("logins.csv", True)]
    assert errors == [
        "connections.csv:10: session_id: unknown session 's\\n1' (not in sessions.csv nor in the database)",
        "connections.csv:12: user_id+module_id+connected_at+disconnected_at+session_id: duplicate key "
        "(u1, m1, 2025-03-06 09:00:00 UTC, 2025-03-06 10:00:00 UTC, ) (first on line 7)",
    ]
    # Valid again: the rows the blocks read are those imported.
    changed.write("connections.csv", changed.read("connections.csv").rsplit("u1,m1,2025-03-09", 1)[0])
    fast_reads.clear()
    summary = run_import(seeded, changed.folder)
    assert fast_reads == [("connections.csv", True), ("logins.csv", True)]
    assert summary.files["connections.csv"] == importer.FileCounts(rows=8, added=4, updated=0, unchanged=4)
    stored = rows(seeded, m.Connection, "user_id", "module_id", "connected_at", "session_id")
    assert ("u1", "m1", dt("2025-03-08 09:00:00"), None) in stored
    assert ("u1", "m1", dt("2025-03-07 09:00:00"), None) in stored
