"""Feuille d'émargement par demi-journée (SPEC §10, issue 19 point 3), XLSX and PDF.

The world is tests/attestation_world.py's (times UTC; Paris UTC+2 until 25/10/2026 01:00 UTC,
then UTC+1). Computed by hand for session S1, half-days in Paris time:

  Élodie  21/10 23:30 -> 22/10 00:45: 21/10 après-midi 30 min, 22/10 matin 45 min (midnight split)
          25/10 02:10 CEST -> 02:40 CET: 25/10 matin 1 h 30 (the autumn change counts as lived)
          26/10 10:00:00 -> 10:20:40: 26/10 matin 20 min 40 s -> "0 h 21"; total 185 min 40 s -> 3 h 06
  Zoé (blocked) 20/10 10:00 -> 10:30: 20/10 matin 30 min
  Paul    300 x 10 min every 20 min from 20/10 10:00 (starts on the 20-minute grid: none crosses
          13:00 or midnight): 20/10 matin 9 -> 1 h 30, every après-midi 13:00-23:40 33 -> 5 h 30,
          21-24/10 matin 00:00-12:40 39 -> 6 h 30, 24/10 après-midi 13:00-13:40 3 -> 0 h 30; 50 h 00
  Nina    registered, no connection: a row with only Total 0 h 00
Columns: 20/10 m, 20/10 am, 21/10 m, 21/10 am, 22/10 m, 22/10 am, 23/10 m, 23/10 am, 24/10 m,
24/10 am, 25/10 m, 26/10 m (12), in time order.
"""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import date, datetime, timedelta

import openpyxl
import pytest

from auth.roles import load_scope
from data.scope import Forbidden, global_scope
from exports.attendance import attendance_file, session_attendance
from tests.attestation_world import build_world
from tests.integration.exports.test_attestations import OPTIONS, SIGNED, TZ, flat, pages, pdf_text
from tests.spreadsheets import libreoffice_convert

COLUMNS_FR = [
    "20/10/2026 matin", "20/10/2026 après-midi", "21/10/2026 matin", "21/10/2026 après-midi",
    "22/10/2026 matin", "22/10/2026 après-midi", "23/10/2026 matin", "23/10/2026 après-midi",
    "24/10/2026 matin", "24/10/2026 après-midi", "25/10/2026 matin", "26/10/2026 matin",
]  # fmt: skip
# Minutes per learner and column ("" when none), then Total, by hand (see above).
EXPECTED = {
    "Absente": [None] * 12 + [0],
    "Blocquée": [30] + [None] * 11 + [30],
    "Lourd": [90, 330, 390, 330, 390, 330, 390, 330, 390, 30, None, None, 3000],
    "Marchand": [None, None, None, 30, 45, None, None, None, None, None, 90, 21, 186],
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dash_app(request, make_app):
    """Each test on SQLite and on PostgreSQL."""
    if request.param == "postgres":
        return make_app(database_url=request.getfixturevalue("pg_migrated_db_url"))
    return make_app()


@pytest.fixture
def world(factory):
    return build_world(factory)


def make(db, kind: str, language: str = "fr", scope=None) -> bytes:
    with db.session() as s:
        return attendance_file(
            s, scope or global_scope(), "S1", kind, OPTIONS.merged(language=language), TZ, SIGNED
        )


def test_emg001_half_days_and_rows_computed_by_hand(world, db):
    with db.session() as s:
        sheet = session_attendance(s, global_scope(), "S1", TZ)
    assert [f"{d:%d/%m/%Y} {h}" for d, h in sheet.columns] == [
        c.replace("matin", "morning").replace("après-midi", "afternoon") for c in COLUMNS_FR
    ]
    # Every learner of the session (blocked Zoé, Nina who never connected), ordered as people.
    assert [r.person.last_name for r in sheet.rows] == ["Absente", "Blocquée", "Lourd", "Marchand"]
    elodie = sheet.rows[3]
    assert elodie.seconds[(date(2026, 10, 26), "morning")] == 20 * 60 + 40
    assert elodie.total_seconds == 185 * 60 + 40


def test_emg002_xlsx_read_back_by_openpyxl(world, db):
    book = openpyxl.load_workbook(io.BytesIO(make(db, "xlsx")))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == ["Nom", "Prénom", "E-mail", *COLUMNS_FR, "Total"]
    assert [r[:3] for r in rows[1:]] == [
        ("Absente", "Nina", "nina@example.org"),
        ("Blocquée", "Zoé", "zoe@example.org"),
        ("Lourd", "Paul", "paul@example.org"),
        ("Marchand", "Élodie", "elodie.marchand@example.org"),
    ]
    for row in rows[1:]:
        expected = [None if m is None else timedelta(minutes=m) for m in EXPECTED[row[0]]]
        assert list(row[3:]) == expected, row[0]
    # Real duration cells shown [h]:mm (50 h stays 50:00, not 02:00).
    for row in sheet.iter_rows(min_row=2, min_col=4):
        for cell in row:
            if cell.value is not None:
                assert cell.number_format == "[h]:mm" and isinstance(cell.value, timedelta)
    assert book.sheetnames == ["Émargement", "Session"]
    info = dict(book.worksheets[1].iter_rows(values_only=True))
    assert info["Organisme de formation"] == "Formations Œuvre & Compétences SARL"
    assert info["Session"] == "Sécurité incendie — automne (S1)"
    # Real date and duration cells: the session's local days, the declared 14 hours, 4 learners.
    assert info["Début de la session"] == datetime(2026, 10, 20)
    assert info["Fin de la session"] == datetime(2026, 10, 30)
    assert info["Durée déclarée des sessions de formation"] == timedelta(hours=14)
    assert info["Apprenant(e)s"] == 4
    assert book.worksheets[1]["B4"].number_format == "dd/mm/yyyy"


def test_emg003_xlsx_read_back_by_libreoffice(world, db):
    shown = list(csv.reader(io.StringIO(libreoffice_convert(make(db, "xlsx"), "xlsx", "csv"))))
    assert shown[0] == ["Nom", "Prénom", "E-mail", *COLUMNS_FR, "Total"]
    assert shown[3][3:] == [
        "1:30",
        "5:30",
        "6:30",
        "5:30",
        "6:30",
        "5:30",
        "6:30",
        "5:30",
        "6:30",
        "0:30",
        "",
        "",
        "50:00",
    ]
    assert shown[4][3:] == ["", "", "", "0:30", "0:45", "", "", "", "", "", "1:30", "0:21", "3:06"]
    assert shown[1][3:] == [""] * 12 + ["0:00"]
    # LibreOffice's own reading: the durations are numbers (time values), not text.
    fods = libreoffice_convert(make(db, "xlsx"), "xlsx", "fods")
    assert 'office:value-type="time"' in fods and 'office:time-value="PT50H00M00S"' in fods


def test_emg004_english_titles(world, db):
    book = openpyxl.load_workbook(io.BytesIO(make(db, "xlsx", "en")))
    header = next(book.worksheets[0].iter_rows(values_only=True))
    assert header[:5] == ("Last name", "First name", "Email", "20/10/2026 morning", "20/10/2026 afternoon")
    assert header[-1] == "Total"


def test_emg005_pdf_landscape_names_on_every_page(world, db, tmp_path):
    data = make(db, "pdf")
    path = tmp_path / "emargement.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    assert "841.89 x 595.28" in info  # A4 landscape, in points
    text = pdf_text(data, tmp_path, layout=True)
    every = pages(text)
    assert len(every) == 2  # 12 half-days: 7 on the first page, 5 and Total on the second
    for page in every:
        for name in ("Absente", "Blocquée", "Lourd", "Marchand", "Élodie", "paul@example.org"):
            assert name in page
    whole = flat(text)
    for expected in (
        "Formations Œuvre & Compétences SARL",
        "FEUILLE D'ÉMARGEMENT PAR DEMI-JOURNÉE",
        "Session : Sécurité incendie — automne (S1)",
        "du 20/10/2026 au 30/10/2026",
        "Demi-journées 1 à 7 sur 12",
        "Demi-journées 8 à 12 sur 12",
        "Fait à Lyon, le 30/11/2026",
        "Cachet et signature",
    ):
        assert expected in whole, expected
    first = flat(every[0])
    assert "Lourd Paul paul@example.org 1 h 30 5 h 30 6 h 30 5 h 30 6 h 30 5 h 30 6 h 30" in first
    assert "Blocquée Zoé zoe@example.org 0 h 30" in first
    second = flat(every[1])
    assert "Lourd Paul paul@example.org 5 h 30 6 h 30 0 h 30 50 h 00" in second
    assert "Marchand Élodie elodie.marchand@example.org 1 h 30 0 h 21 3 h 06" in second
    assert "Absente Nina nina@example.org 0 h 00" in second
    assert "matin" in first and "après-midi" in first


def test_emg006_scope_instructor_of_another_session_and_class_manager_refused(world, db):
    with db.session() as s:
        inst1, inst2, cm = (load_scope(s, u) for u in ("inst1", "inst2", "cm"))
    assert make(db, "xlsx", scope=inst1)  # the instructor of S1
    for scope in (inst2, cm):
        with pytest.raises(Forbidden):
            make(db, "xlsx", scope=scope)


def test_emg007_command_line(world, db, server, tmp_path):
    runner = server.test_cli_runner()
    for suffix in ("xlsx", "pdf"):
        out = tmp_path / f"emargement.{suffix}"
        done = runner.invoke(
            args=["export-attendance", "--session", "S1", "--out", str(out), "--signed-on", "2026-11-30"]
        )
        if suffix == "pdf":  # the organisation block is not saved yet: said, nothing written
            assert done.exit_code == 1 and "is required" in done.output and not out.exists()
            from exports.attestation_options import save_defaults

            with db.session() as s:
                save_defaults(s, OPTIONS)
                s.commit()
            done = runner.invoke(
                args=["export-attendance", "--session", "S1", "--out", str(out), "--signed-on", "2026-11-30"]
            )
        assert done.exit_code == 0, done.output
        assert out.read_bytes()[:4] in (b"PK\x03\x04", b"%PDF")
    assert "Demi-journées 1 à 7 sur 12" in flat(
        pdf_text((tmp_path / "emargement.pdf").read_bytes(), tmp_path)
    )
    bad = runner.invoke(args=["export-attendance", "--session", "S1", "--out", str(tmp_path / "x.csv")])
    assert bad.exit_code == 1 and "--format" in bad.output
    unknown = runner.invoke(args=["export-attendance", "--session", "S9", "--out", str(tmp_path / "x.xlsx")])
    assert unknown.exit_code == 1 and "S9" in unknown.output


def test_emg008_formula_cells_are_escaped(world, db, factory):
    from data.models import User

    with db.session() as s:
        user = s.get(User, "u-nina")
        user.first_name = "=HYPERLINK(1)"
        s.commit()
    book = openpyxl.load_workbook(io.BytesIO(make(db, "xlsx")))
    assert book.worksheets[0]["B2"].value == "'=HYPERLINK(1)"


def test_emg009_scheduled_report_kinds_in_each_recipients_scope(world, db):
    """Point 7: the attendance sheet and the relevés are kinds of scheduled report, built in the
    recipient's scope (the instructor of another session is refused)."""
    from datetime import UTC, datetime

    from data.models import User
    from exports.attestation_options import save_defaults
    from exports.report_kinds import ReportRun, build_report

    run = ReportRun(tz=TZ, now=datetime(2026, 11, 30, 11, tzinfo=UTC))
    with db.session() as s:
        save_defaults(s, OPTIONS)
        s.commit()
        inst1, inst2 = (load_scope(s, u) for u in ("inst1", "inst2"))
        data, built = build_report(
            s, "attendance", s.get(User, "inst1"), inst1, {"session_id": "S1", "format": "xlsx"}, run, "fr"
        )
        assert (built.file_name, built.rows) == ("emargement_S1_2026-11-30.xlsx", 4)
        header = next(openpyxl.load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True))
        assert header[3] == "20/10/2026 matin"
        data, built = build_report(
            s,
            "activity-records",
            s.get(User, "inst1"),
            inst1,
            {"session_id": "S1", "language": "en"},
            run,
            "en",
        )
        assert built.rows == 4 and data[:2] == b"PK"
        with pytest.raises(Forbidden):
            build_report(s, "attendance", s.get(User, "inst2"), inst2, {"session_id": "S1"}, run, "fr")
