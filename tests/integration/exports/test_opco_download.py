"""Download now (issue 5 points 4 and 7): the streaming route, its answers and each role's scope."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from data.config import settings_of
from exports.opco_request import BadOpcoRequest, OpcoExportRequest, parse_opco_query
from tests.conftest import sign_in
from tests.opco_world import ACCOUNTS, build_world
from tests.spreadsheets import shown

BOM = b"\xef\xbb\xbf"


@pytest.fixture
def world(dash_app, factory):
    build_world(factory)
    return dash_app


def signed(client, user_id):
    assert sign_in(client, ACCOUNTS[user_id]).status_code == 302
    return client


def cli_bytes(server, tmp_path, *args, name="cli.csv") -> bytes:
    out = tmp_path / name
    result = server.test_cli_runner().invoke(args=["export-opco-logs", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def rows_of(data: bytes, delimiter=","):
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline=""), delimiter=delimiter))


def test_dl001_csv_streams_the_same_bytes_as_the_cli(world, client, tmp_path):
    signed(client, "stat")
    response = client.get("/download/opco-logs")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # the charset once
    assert response.headers["Content-Disposition"].startswith('attachment; filename="opco-logs-')
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_data()
    assert data == cli_bytes(world.server, tmp_path)
    rows = rows_of(data)
    assert rows[0][:4] == ["Last name", "First name", "Email", "Company"]
    assert len(rows) == 1 + 6  # six connections inside a session; the one outside is not there


@pytest.mark.parametrize(
    ("query", "cli_args"),
    [
        ("session=s-a&delimiter=%3B", ["--session", "s-a", "--delimiter", ";"]),
        ("from=2026-03-05&to=2026-03-10", ["--from", "2026-03-05", "--to", "2026-03-10"]),
        ("user=alice&user=dan", ["--user", "alice", "--user", "dan"]),
        ("group=c-1", ["--group", "c-1"]),
        ("field=Company%3DACME", ["--field", "Company=ACME"]),
        ("columns=Funding", ["--columns", "Funding"]),
        ("columns=", ["--columns", ""]),
    ],
)
def test_dl002_each_filter_gives_the_cli_bytes(world, client, tmp_path, query, cli_args):
    signed(client, "stat")
    response = client.get(f"/download/opco-logs?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_data() == cli_bytes(world.server, tmp_path, *cli_args)


def test_dl003_filters_narrow_the_rows(world, client):
    signed(client, "stat")

    def emails(query):
        return [r[2] for r in rows_of(client.get(f"/download/opco-logs?{query}").get_data())[1:]]

    assert emails("group=c-1") == ["bob@example.org", "alice@example.org", "alice@example.org"]
    assert emails("field=Company%3DACME") == ["bob@example.org", "dan@example.org"]
    assert emails("from=2026-03-10&to=2026-03-12") == ["eve@example.org", "dan@example.org"]
    header = rows_of(client.get("/download/opco-logs?columns=").get_data())[0]
    assert "Company" not in header and "Funding" not in header


def test_dl004_xlsx_reads_back_with_the_csv_cells(world, client):
    signed(client, "stat")
    csv_rows = rows_of(client.get("/download/opco-logs?session=s-a").get_data())
    response = client.get("/download/opco-logs?session=s-a&format=xlsx")
    assert response.status_code == 200
    assert (
        response.headers["Content-Type"]
        == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.headers["Content-Disposition"].startswith('attachment; filename="opco-logs-s-a-')
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    data = response.get_data()
    assert int(response.headers["Content-Length"]) == len(data)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    cells = [[shown(cell) for cell in row] for row in sheet.iter_rows()]
    assert cells == csv_rows
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    # The temporary workbook is gone once streamed.
    assert list((settings_of(world.server).instance_path / "exports" / ".tmp").iterdir()) == []


def test_dl005_anonymous_gets_401(world, client):
    response = client.get("/download/opco-logs?session=s-a")
    assert response.status_code == 401


def test_dl006_session_instructor_exports_only_their_session(world, client):
    signed(client, "inst")
    rows = rows_of(client.get("/download/opco-logs").get_data())
    assert {r[rows[0].index("Session ID")] for r in rows[1:]} == {"s-a"}
    assert len(rows) == 1 + 5
    forged = client.get("/download/opco-logs?session=s-m")
    assert forged.status_code == 403
    assert "outside your scope: s-m" in forged.get_data(as_text=True)
    assert client.get("/download/opco-logs?session=s-a&session=s-b").status_code == 403
    assert client.get("/download/opco-logs?session=no-such").status_code == 403  # cannot probe ids
    assert client.get("/download/opco-logs?session=s-m&format=xlsx").status_code == 403


def test_dl007_training_manager_exports_only_their_trainings_sessions(world, client):
    signed(client, "tm")
    rows = rows_of(client.get("/download/opco-logs").get_data())
    assert [(r[2], r[rows[0].index("Session ID")]) for r in rows[1:]] == [("frank@example.org", "s-m")]
    assert client.get("/download/opco-logs?session=s-a").status_code == 403


@pytest.mark.parametrize("user_id", ["lea", "cm"])
def test_dl008_learners_and_class_managers_export_nothing(world, client, user_id):
    signed(client, user_id)
    response = client.get("/download/opco-logs")
    assert response.status_code == 403
    assert "session instructor, training manager" in response.get_data(as_text=True)
    assert client.get("/download/opco-logs?format=xlsx").status_code == 403


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-02-30", "from: &#x27;2026-02-30&#x27; is not a date (expected YYYY-MM-DD)"),
        ("to=tomorrow", "to: &#x27;tomorrow&#x27; is not a date"),
        ("from=2026-03-10&to=2026-03-01", "is after the end date 2026-03-01"),
        ("format=pdf", "format: &#x27;pdf&#x27; is not one of csv, xlsx"),
        ("delimiter=%7C", "delimiter: &#x27;|&#x27; is not one of , ;"),
        ("columns=Nope", "unknown custom field column(s): Nope"),
        ("field=Nope%3Dx", "unknown custom field(s) in the filters: Nope"),
        ("field=novalue", "field: &#x27;novalue&#x27; is not NAME=VALUE"),
        ("sesion=s-a", "unknown argument &#x27;sesion&#x27;"),
        ("format=csv&format=xlsx", "format: given 2 times, expected once"),
        # Issue 23 point 7: year 9999 and year 1 were bare 500s.
        ("from=9999-12-30", "from: &#x27;9999-12-30&#x27; is outside the years 1900–2100"),
        ("to=0001-01-01", "to: &#x27;0001-01-01&#x27; is outside the years 1900–2100"),
    ],
)
def test_dl009_bad_filters_answer_400_with_a_sentence(world, client, query, message):
    signed(client, "stat")
    response = client.get(f"/download/opco-logs?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    json_response = client.get(f"/download/opco-logs?{query}", headers={"Accept": "application/json"})
    assert json_response.status_code == 400 and json_response.get_json()["error"]


def test_dl010_query_round_trip():
    query = (
        "from=2026-03-01&to=2026-03-31&session=s-a&user=u%261&group=c-1&field=Company%3DA%3DB"
        "&columns=&format=csv&delimiter=%3B"
    )
    request = parse_opco_query(query)
    assert request.filters.fields == (("Company", "A=B"),)
    assert request.filters.user_ids == ("u&1",)
    assert request.filters.columns == ()
    assert parse_opco_query(request.to_query()) == request
    assert parse_opco_query("").filters.columns is None
    assert parse_opco_query("format=xlsx").to_query() == "format=xlsx"
    with pytest.raises(BadOpcoRequest):
        OpcoExportRequest(format="pdf")


def test_dl012_filters_matching_nothing_give_a_message_not_a_lone_header(world, client):
    """Issue 12 point 4: an export matching nothing says so instead of downloading a header."""
    signed(client, "stat")
    for fmt in ("csv", "xlsx"):
        response = client.get(f"/download/opco-logs?from=1990-01-01&to=1990-01-31&format={fmt}")
        assert response.status_code == 404
        assert "Content-Disposition" not in response.headers
        assert "no connection matches these filters" in response.get_data(as_text=True).lower()


def test_dl013_french_column_titles_on_request(world, client, tmp_path):
    """Issue 12 point 1: SPEC §7's English titles by default, French ones as an option; the
    rows are the same."""
    signed(client, "stat")
    english = rows_of(client.get("/download/opco-logs").get_data())
    french = rows_of(client.get("/download/opco-logs?titles=fr").get_data())
    assert english[0][:3] == ["Last name", "First name", "Email"]
    assert english[0][-3:] == ["Connected", "Disconnected", "Time spent"]
    assert french[0][:3] == ["Nom", "Prénom", "E-mail"]
    assert french[0][-3:] == ["Connexion", "Déconnexion", "Temps passé"]
    assert french[1:] == english[1:]
    assert french[0][3:-10] == english[0][3:-10]  # custom fields keep their own names
    assert client.get("/download/opco-logs?titles=de").status_code == 400
    assert rows_of(cli_bytes(world.server, tmp_path, "--titles", "fr")) == french
    # The XLSX file's sheet is named in the titles' language too.
    for titles, name in (("en", "OPCO logs"), ("fr", "Logs OPCO")):
        data = client.get(f"/download/opco-logs?format=xlsx&titles={titles}").get_data()
        assert openpyxl.load_workbook(io.BytesIO(data)).active.title == name


def test_dl014_error_pages_in_the_interface_language(world, client):
    signed(client, "stat")
    response = client.get(
        "/download/opco-logs?from=1990-01-01&to=1990-01-31", headers={"Accept-Language": "fr"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 404 and '<html lang="fr">' in page
    assert "Rien à exporter" in page and "Aucune connexion ne correspond à ces filtres" in page
    assert "Retour à Learnstats" in page
