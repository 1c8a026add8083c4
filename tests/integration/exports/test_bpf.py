"""The BPF's cadre F-1 (SPEC §10, issue 19 point 5): categories hand-computed, an unmapped value
and a learner without the field in e, blocked users counted, admins and managers without
enrollments not, connections by the day they started (platform time); CSV, XLSX (openpyxl and
LibreOffice) and PDF (pdftotext) read back; the command; admins and statistics managers only."""

from __future__ import annotations

import csv
import io
import subprocess
from dataclasses import replace
from datetime import date
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from data.bpf import bpf_figures
from data.scope import Forbidden, Scope, global_scope
from exports.bpf import (
    BpfError,
    BpfOptions,
    bpf_csv_bytes,
    bpf_file,
    bpf_table,
    load_bpf_defaults,
    parse_map,
)
from tests.integration.exports.test_edof import _soffice_csv

TZ = ZoneInfo("Europe/Paris")
STATS = Scope("stat", is_global=True, is_statistics_manager=True)
YEAR = (date(2026, 1, 1), date(2026, 12, 31))
MAPPING = {"CDI": "a", "Apprenti": "b", "Demandeur": "c"}
EXPECTED = [
    ["a. Salariés d'employeurs privés hors apprentis", "2", "5"],
    ["b. Apprentis", "1", "1"],
    ["c. Personnes en recherche d'emploi", "1", "0"],
    ["d. Particuliers à leurs propres frais", "0", "0"],
    ["e. Autres stagiaires", "2", "3"],
    ["Total", "6", "9"],
    ["dont formation à distance", "6", "9"],
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dash_app(request, make_app):
    """Each test on SQLite and on PostgreSQL."""
    if request.param == "postgres":
        return make_app(database_url=request.getfixturevalue("pg_migrated_db_url"))
    return make_app()


@pytest.fixture
def world(factory):
    f = factory
    t = f.training("T1")
    m1 = f.module("M1")
    f.step(t, m1, 1)

    def learner(user_id, value=None, status="active", roles=()):
        u = f.user(user_id, email=f"{user_id}@x.org", status=status, roles=roles,
                   fields={"Statut": value} if value is not None else None)  # fmt: skip
        f.enroll(u, t)
        return u

    a1 = learner("a1", "CDI")
    a2 = learner("a2", "CDI", status="blocked")  # blocked users count
    b = learner("b", "Apprenti")
    c = learner("c", "Demandeur")
    x = learner("x", "Intérimaire")  # a value not mapped -> e
    none = learner("none")  # no field -> e
    out = learner("out", "CDI")
    admin = learner("adm", "CDI", roles=("admin",))
    manager = f.user("mgr", email="mgr@x.org", roles=("training_manager:T1",), fields={"Statut": "CDI"})
    # a: a1 2 h 30 + 1 h (started 31/12 at 23:30 Paris, ends next year) + a2 1 h = 4.5 h -> 5.
    f.connection(a1, m1, "2026-03-02 08:00", "2026-03-02 10:30")
    f.connection(a1, m1, "2026-12-31 22:30", "2026-12-31 23:30")
    f.connection(a1, m1, "2026-12-31 23:10", "2026-12-31 23:50")  # 1 Jan 2027 00:10 in Paris: out
    f.connection(a2, m1, "2026-05-04 08:00", "2026-05-04 09:00")
    f.connection(b, m1, "2026-06-01 08:00", "2026-06-01 08:45")  # 0.75 h -> 1
    f.connection(c, m1, "2026-06-01 08:00", "2026-06-01 08:20")  # 0.33 h -> 0, still a trainee
    f.connection(x, m1, "2026-07-01 08:00", "2026-07-01 10:00")  # e: 2 h
    f.connection(none, m1, "2026-07-01 08:00", "2026-07-01 09:29")  # e: 1.48 h; e = 3.48 -> 3
    f.connection(out, m1, "2025-12-31 22:30", "2026-01-01 01:00")  # 31/12/2025 23:30 Paris: out
    f.connection(admin, m1, "2026-03-02 08:00", "2026-03-02 10:00")  # an admin: no trainee
    f.connection(manager, m1, "2026-03-02 08:00", "2026-03-02 10:00")  # not enrolled: no trainee
    f.user("gum", email="gum@x.org", roles=("global_user_manager",))
    f.s.commit()
    return f


def _rows(data: bytes, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=delimiter))


def test_bpf001_categories_are_hand_computed(world):
    table = bpf_table(world.s, STATS, *YEAR, BpfOptions("Statut", MAPPING))
    assert _rows(bpf_csv_bytes(table)) == EXPECTED
    figures = bpf_figures(world.s, STATS, *YEAR, "Statut", MAPPING)
    assert figures.lines["a"] == (2, 4.5 * 3600)
    assert figures.lines["e"] == (2, 2 * 3600 + 89 * 60)  # the unmapped value and the missing field
    assert figures.trainees == 6


def test_bpf002_without_a_field_or_a_mapping_everyone_is_in_e(world):
    table = bpf_table(world.s, STATS, *YEAR, BpfOptions("", {}))
    assert [r[2:] for r in table.rows] == [(0, 0), (0, 0), (0, 0), (0, 0), (6, 9), (6, 9), (6, 9)]
    one_day = bpf_table(world.s, STATS, date(2026, 6, 1), date(2026, 6, 1), BpfOptions("Statut", MAPPING))
    assert [r[2:] for r in one_day.rows][:3] == [(0, 0), (1, 1), (1, 0)]


def test_bpf003_admins_and_statistics_managers_only(world):
    admin = Scope("adm", is_global=True, is_admin=True)
    assert bpf_table(world.s, admin, *YEAR, BpfOptions("Statut", MAPPING)).rows[5][2] == 6
    for scope in (
        global_scope("gum"),  # a global user manager: not the BPF
        Scope("tm", trainings=frozenset({"T1"})),
        Scope("lea"),
    ):
        with pytest.raises(Forbidden):
            bpf_table(world.s, scope, *YEAR, BpfOptions("Statut", MAPPING))


def test_bpf004_bad_requests(world):
    with pytest.raises(BpfError, match="before it starts"):
        bpf_table(world.s, STATS, date(2026, 2, 1), date(2026, 1, 1), BpfOptions())
    with pytest.raises(BpfError, match="one of a, b, c, d, e"):
        parse_map(["CDI=f"])
    with pytest.raises(BpfError, match="expected VALUE=LINE"):
        parse_map(["CDI"])
    assert parse_map(["CDI=A", "Contrat pro=b", "x=y=c"]) == {"CDI": "a", "Contrat pro": "b", "x=y": "c"}


def test_bpf005_xlsx_read_by_openpyxl_and_libreoffice(world, tmp_path):
    path = tmp_path / "bpf.xlsx"
    path.write_bytes(bpf_file(world.s, STATS, *YEAR, BpfOptions("Statut", MAPPING), "xlsx", TZ))
    sheet = openpyxl.load_workbook(path).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[1][0] == "Période du 01/01/2026 au 31/12/2026"
    assert values[2][0] == "Catégorie de stagiaire : champ personnalisé « Statut »"
    assert values[4] == ["Ligne", "Nombre de stagiaires", "Nombre total d'heures de formation"]
    assert [[str(v) for v in row] for row in values[5:12]] == EXPECTED
    assert sheet.cell(6, 2).data_type == "n" and sheet.cell(6, 3).data_type == "n"
    shown = _soffice_csv(path, tmp_path)
    assert [row[:3] for row in shown[5:12]] == EXPECTED


def test_bpf006_pdf_read_back(world, tmp_path):
    from exports.attestation_options import DEMO_OPTIONS, save_defaults

    save_defaults(world.s, DEMO_OPTIONS)
    data = bpf_file(
        world.s, STATS, *YEAR, BpfOptions("Statut", MAPPING), "pdf", TZ, signed_on=date(2027, 1, 15)
    )
    path = tmp_path / "bpf.pdf"
    path.write_bytes(data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Learnstats Formation SAS" in text  # the attestations' organisation block
    assert "Bilan pédagogique et financier (BPF) — cadre F-1" in text
    assert "Période du 01/01/2026 au 31/12/2026" in text
    assert "Apprenti → b, Demandeur → c" in text.replace("\n", " ") or "Demandeur → c" in text
    for label, trainees, hours in EXPECTED:
        line = next(line for line in text.splitlines() if line.strip().startswith(label))
        assert line.split()[-2:] == [trainees, hours], line
    assert "Page 1 / 1" in text
    # The same inputs, the same bytes (the creation date is the signature date).
    assert data == bpf_file(
        world.s, STATS, *YEAR, BpfOptions("Statut", MAPPING), "pdf", TZ, signed_on=date(2027, 1, 15)
    )


def test_bpf007_cli_with_mapping_and_saved_defaults(world, dash_app, tmp_path):
    runner = dash_app.server.test_cli_runner()
    out = tmp_path / "bpf.csv"
    args = ["export-bpf", "--from", "2026-01-01", "--to", "2026-12-31", "--category-field", "Statut"]
    maps = ["--map", "CDI=a", "--map", "Apprenti=b", "--map", "Demandeur=c"]
    result = runner.invoke(args=[*args, *maps, "--out", str(out), "--save-defaults"])
    assert result.exit_code == 0, result.output
    assert _rows(out.read_bytes()) == EXPECTED
    with dash_app.server.app_context():
        from data.db import get_db

        with get_db().session() as s:
            assert load_bpf_defaults(s) == BpfOptions("Statut", MAPPING)
    # The saved field and mapping serve the next run; a PDF and an XLSX too.
    for name in ("again.csv", "bpf.pdf", "bpf.xlsx"):
        result = runner.invoke(
            args=["export-bpf", "--from", "2026-01-01", "--to", "2026-12-31", "--out", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
    assert _rows((tmp_path / "again.csv").read_bytes()) == EXPECTED
    assert (tmp_path / "bpf.pdf").read_bytes().startswith(b"%PDF")
    bad = tmp_path / "bad.csv"
    for wrong, message in (
        (["--map", "CDI=z"], "one of a, b, c, d, e"),
        (["--to", "2026-13-01"], "is not a date"),
    ):
        result = runner.invoke(args=[*args, *wrong, "--out", str(bad)])
        assert result.exit_code == 1 and message in result.output, result.output
        assert not bad.exists()


def test_bpf008_english_labels(world):
    table = bpf_table(world.s, replace(STATS), *YEAR, BpfOptions("Statut", MAPPING), language="en")
    assert (
        table.rows[0][1]
        == "a. Salariés d'employeurs privés hors apprentis (private employers' employees, apprentices excepted)"
    )
    assert table.rows[5][1] == "Total"


def test_bpf009_scheduled_report_saved_mapping_and_previous_period(world):
    """Issue 19 point 7: the BPF as a kind of scheduled report: the saved field and mapping, the
    run's previous period (else the last calendar year); admins and statistics managers only."""
    from datetime import UTC, datetime

    from auth.roles import load_scope
    from data.models import User
    from exports.bpf import save_bpf_defaults
    from exports.report_kinds import ReportRun, build_report

    world.user("stat", email="stat@x.org", roles=("statistics_manager",))
    save_bpf_defaults(world.s, BpfOptions("Statut", MAPPING))
    stat = load_scope(world.s, "stat")
    run = ReportRun(tz=TZ, now=datetime(2027, 2, 1, 6, tzinfo=UTC))
    data, built = build_report(world.s, "bpf", world.s.get(User, "stat"), stat, {"format": "csv"}, run, "fr")
    assert built.file_name == "bpf-f1-2026-01-01-2026-12-31.csv"
    assert _rows(data, ";") == EXPECTED
    june = ReportRun(
        tz=TZ, now=datetime(2026, 7, 1, 6, tzinfo=UTC), period=(date(2026, 6, 1), date(2026, 6, 30))
    )
    data, _built = build_report(
        world.s, "bpf", world.s.get(User, "stat"), stat, {"format": "csv"}, june, "fr"
    )
    assert [row[1:] for row in _rows(data, ";")][:3] == [["0", "0"], ["1", "1"], ["1", "0"]]
    with pytest.raises(Forbidden):
        build_report(world.s, "bpf", world.s.get(User, "gum"), load_scope(world.s, "gum"), {}, run, "fr")
