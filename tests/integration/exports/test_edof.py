"""The EDOF completion file (SPEC §10, issue 19 point 4): rows hand-computed, rates at 0 %,
partial and capped at 100 %, CSV and XLSX read back (openpyxl and LibreOffice), the command,
the formula rule and the viewer's scope."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from data.edof import UnknownSession
from data.scope import Forbidden, Scope, global_scope
from exports.edof import EdofError, edof_csv_bytes, edof_rows, edof_xlsx_bytes

TZ = ZoneInfo("Europe/Paris")
FR_HEADER = [
    "Nom",
    "Prénom",
    "E-mail",
    "ID de session",
    "Date d'entrée",
    "Date de sortie",
    "Durée prévue",
    "Durée réalisée",
    "Taux de réalisation",
    "Statut",
    "Motif",
]
EN_HEADER = [
    "Last name",
    "First name",
    "Email",
    "Session ID",
    "Entry date",
    "Exit date",
    "Planned duration",
    "Realised duration",
    "Completion rate",
    "Status",
    "Reason",
]


@pytest.fixture
def world(factory):
    """Session S1 of training T1 (planned 2 h): hand-computed rows below."""
    f = factory
    t = f.training("T1", name="Sécurité")
    other = f.training("T2", name="Autre")
    m1 = f.module("M1", max_scores=(10,))
    f.step(t, m1, 1)
    ana = f.user("u-ana", first="Ana", last="Àlvarez", email="ana@x.org")
    bob = f.user("u-bob", first="Bob", last="Bernard", email="bob@x.org")
    chloe = f.user("u-chloe", first="Chloé", last="Chevalier", email="chloe@x.org", status="blocked")
    dan = f.user("u-dan", first="Dan", last="Dupont", email="dan@x.org")
    emma = f.user("u-emma", first="Emma", last="Étienne", email="emma@x.org")
    evil = f.user("u-evil", first="Eve", last="=HYPERLINK(1)", email="eve@x.org")
    f.user("tm2", email="tm2@x.org", roles=("training_manager:T2",))
    f.user("inst", email="inst@x.org", roles=("session_instructor:S1",))
    for u in (ana, bob, chloe, dan, emma, evil):
        f.enroll(u, t)
    s1 = f.session(t, "S1", name="Mars", learners=(ana, bob, chloe, dan, emma, evil))
    f.session(other, "S2", name="Autre session")
    # Ana: 1 h on 10/03, then 30 min from 23:40 local on 11/03 to 00:10 on 12/03 -> 1 h 30, 75.0 %.
    f.connection(ana, m1, "2026-03-10 08:00", "2026-03-10 09:00", s1)
    f.connection(ana, m1, "2026-03-11 22:40", "2026-03-11 23:10", s1)
    f.connection(ana, m1, "2026-03-20 08:00", "2026-03-20 12:00")  # outside the session: not counted
    # Bob: 3 h -> 150 % capped at 100.0, fully completed.
    f.connection(bob, m1, "2026-03-12 08:00", "2026-03-12 11:00", s1)
    # Chloé (blocked): nothing -> 0.0, not completed, no dates.
    # Dan: 20 min (16.7 %) but the training is completed -> fully completed.
    f.connection(dan, m1, "2026-03-13 08:00", "2026-03-13 08:20", s1)
    f.attempt(dan, t, m1, started="2026-03-13 08:00", finished="2026-03-13 08:20", scores=(8,))
    # Emma: 7,199 s = 99.986 % -> written 100.0 -> fully completed; 2 h 00 to the minute.
    f.connection(emma, m1, "2026-03-14 08:00", "2026-03-14 09:59:59", s1)
    # Eve: 1 min -> 0.8 %, partially completed.
    f.connection(evil, m1, "2026-03-15 08:00", "2026-03-15 08:01", s1)
    f.s.commit()
    return f


EXPECTED_FR = [
    ["'=HYPERLINK(1)", "Eve", "eve@x.org", "S1", "15/03/2026", "15/03/2026", "2 h 00", "0 h 01", "0.8", "Réalisée partiellement", ""],
    ["Àlvarez", "Ana", "ana@x.org", "S1", "10/03/2026", "12/03/2026", "2 h 00", "1 h 30", "75.0", "Réalisée partiellement", ""],
    ["Bernard", "Bob", "bob@x.org", "S1", "12/03/2026", "12/03/2026", "2 h 00", "3 h 00", "100.0", "Réalisée totalement", ""],
    ["Chevalier", "Chloé", "chloe@x.org", "S1", "", "", "2 h 00", "0 h 00", "0.0", "Non réalisée", ""],
    ["Dupont", "Dan", "dan@x.org", "S1", "13/03/2026", "13/03/2026", "2 h 00", "0 h 20", "16.7", "Réalisée totalement", ""],
    ["Étienne", "Emma", "emma@x.org", "S1", "14/03/2026", "14/03/2026", "2 h 00", "2 h 00", "100.0", "Réalisée totalement", ""],
]  # fmt: skip


def _csv(data: bytes, delimiter: str = ",") -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=delimiter))


def test_edf001_rows_are_hand_computed(world):
    rows = edof_rows(world.s, global_scope(), ["S1"], TZ, duration_hours="2")
    table = _csv(edof_csv_bytes(rows, "fr"))
    assert table[0] == FR_HEADER
    # The order of every list of people ("=" before the letters).
    assert table[1:] == EXPECTED_FR
    rates = {r.email: r.rate for r in rows}
    assert rates["chloe@x.org"] == 0.0  # 0 %
    assert rates["ana@x.org"] == 75.0  # partial
    assert rates["bob@x.org"] == 100.0  # capped


def test_edf002_english_titles_and_statuses_and_french_csv_dialect(world):
    rows = edof_rows(world.s, global_scope(), ["S1"], TZ, duration_hours=2)
    table = _csv(edof_csv_bytes(rows, "en"))
    assert table[0] == EN_HEADER
    assert [r[9] for r in table[1:]] == [
        "Partially completed",
        "Partially completed",
        "Fully completed",
        "Not completed",
        "Fully completed",
        "Fully completed",
    ]
    semicolon = _csv(edof_csv_bytes(rows, "fr", ";"), ";")
    assert semicolon[2][8] == "75,0" and semicolon[5][8] == "16,7"


def test_edf003_planned_duration_from_the_attestation_default_or_refused(world):
    from exports.attestation_options import AttestationOptions, save_defaults

    with pytest.raises(EdofError, match="declared duration"):
        edof_rows(world.s, global_scope(), ["S1"], TZ)
    with pytest.raises(EdofError, match="more than 0"):
        edof_rows(world.s, global_scope(), ["S1"], TZ, duration_hours="0")
    with pytest.raises(EdofError, match="not a number"):
        edof_rows(world.s, global_scope(), ["S1"], TZ, duration_hours="deux")
    save_defaults(world.s, AttestationOptions(duration_hours=1.5))
    rows = edof_rows(world.s, global_scope(), ["S1"], TZ)
    assert rows[1].planned_seconds == 5400 and rows[1].rate == 100.0  # Ana: 1 h 30 of 1 h 30


def test_edf004_scope(world):
    instructor = Scope("inst", sessions=frozenset({"S1"}))
    assert len(edof_rows(world.s, instructor, ["S1"], TZ, 2)) == 6
    with pytest.raises(Forbidden):
        edof_rows(world.s, Scope("tm2", trainings=frozenset({"T2"})), ["S1"], TZ, 2)
    with pytest.raises(Forbidden):
        edof_rows(world.s, instructor, ["S1", "S2"], TZ, 2)  # every session is checked
    with pytest.raises(Forbidden):
        edof_rows(world.s, instructor, ["nope"], TZ, 2)  # an unknown id is not told apart
    with pytest.raises(UnknownSession):
        edof_rows(world.s, global_scope(), ["nope"], TZ, 2)


def _soffice_csv(path, tmp_path) -> list[list[str]]:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice (soffice) is needed: make system-test-deps installs it"
    out = tmp_path / "converted"
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path}/lo-profile", "--headless",
         "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true", "--outdir", str(out), str(path)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    return list(csv.reader(io.StringIO((out / (path.stem + ".csv")).read_text(encoding="utf-8"))))


def test_edf005_xlsx_real_cells_read_by_openpyxl_and_libreoffice(world, tmp_path):
    rows = edof_rows(world.s, global_scope(), ["S1"], TZ, duration_hours=2)
    path = tmp_path / "edof.xlsx"
    path.write_bytes(edof_xlsx_bytes(rows, "fr"))
    sheet = openpyxl.load_workbook(path).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == FR_HEADER
    ana = sheet[3]
    assert ana[4].value == datetime(2026, 3, 10) and ana[4].number_format == "dd/mm/yyyy"
    assert ana[5].value == datetime(2026, 3, 12)
    assert ana[6].number_format == '[h] "h" mm' and ana[7].number_format == '[h] "h" mm'
    # Durations are real durations (openpyxl reads a time-formatted number as a timedelta).
    assert ana[7].value.total_seconds() == 5400 and ana[6].value.total_seconds() == 7200
    assert ana[8].value == 75.0 and ana[8].number_format == "0.0"
    assert values[4][4] is None and values[4][9] == "Non réalisée"
    assert values[1][0] == "'=HYPERLINK(1)" and sheet.cell(2, 1).data_type == "s"
    # LibreOffice shows what a person sees: the formats applied.
    shown = _soffice_csv(path, tmp_path)
    assert shown[0] == FR_HEADER
    assert shown[1:] == [[*r[:8], r[8], *r[9:]] for r in EXPECTED_FR]


def test_edf006_cli_one_and_several_sessions(world, dash_app, tmp_path):
    out = tmp_path / "edof.csv"
    runner = dash_app.server.test_cli_runner()
    result = runner.invoke(
        args=["export-edof", "--session", "S1", "--duration-hours", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 6 learner row(s) of 1 session(s)" in result.output
    assert _csv(out.read_bytes())[1:] == EXPECTED_FR
    several = tmp_path / "both.xlsx"
    result = runner.invoke(
        args=["export-edof", "--session", "S1", "--session", "S2", "--duration-hours", "2", "--out", str(several),
              "--language", "en"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(several).active
    assert [c.value for c in sheet[1]] == EN_HEADER and sheet.max_row == 7  # S2 has no learner
    bad = tmp_path / "bad.csv"
    result = runner.invoke(
        args=["export-edof", "--session", "nope", "--duration-hours", "2", "--out", str(bad)]
    )
    assert result.exit_code == 1 and "there is no session with ID 'nope'" in result.output
    assert not bad.exists()
    result = runner.invoke(args=["export-edof", "--session", "S1", "--out", str(bad)])
    assert result.exit_code == 1 and "declared duration" in result.output and not bad.exists()


def test_edf007_scheduled_report_in_the_recipients_scope(world):
    """Issue 19 point 7: the EDOF file as a kind of scheduled report, built in each recipient's
    scope with the attestations' saved duration."""
    from datetime import UTC, datetime

    from auth.roles import load_scope
    from data.models import User
    from exports.attestation_options import AttestationOptions, save_defaults
    from exports.report_kinds import ReportRun, build_report

    save_defaults(world.s, AttestationOptions(duration_hours=2))
    run = ReportRun(tz=TZ, now=datetime(2026, 4, 1, 6, tzinfo=UTC))
    inst = load_scope(world.s, "inst")
    data, built = build_report(
        world.s, "edof", world.s.get(User, "inst"), inst, {"session_id": "S1", "format": "csv"}, run, "fr"
    )
    assert built.file_name == "edof-S1-2026-04-01.csv" and built.rows == 6
    assert _csv(data, ";")[3][:9] == [*EXPECTED_FR[2][:8], "100,0"]  # Bob: French dialect
    with pytest.raises(Forbidden):
        build_report(
            world.s,
            "edof",
            world.s.get(User, "tm2"),
            load_scope(world.s, "tm2"),
            {"session_id": "S1"},
            run,
            "fr",
        )
