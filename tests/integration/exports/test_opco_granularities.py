"""SPEC §9 "Export granularities" (issue 18 point 4): learner-session, learner-course and session
rows, hand-computed on tests/opco_world.py and checked against the OPCA logs of the same data;
every filter, both formats, the scope, the query string and the command line."""

from __future__ import annotations

import csv
import io
from datetime import date
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from auth.roles import load_scope
from data.scope import Forbidden, global_scope
from exports.opco_logs import (
    OpcoLogFilters,
    OpcoLogsError,
    iter_opco_log_rows,
    iter_opco_logs_csv,
    opco_log_header,
    write_opco_logs_xlsx,
)
from exports.opco_request import OpcoExportRequest, download_filename, parse_opco_query
from tests.opco_world import build_world
from tests.spreadsheets import serial, shown

PARIS = ZoneInfo("Europe/Paris")
SEC = ["Printemps 2026", "s-a", "Sécurité, niveau 1", "t-sec"]
MAN = ["Management A", "s-m", "Management", "t-man"]

# By hand from tests/opco_world.py (UTC+1 in Paris until 29 March 2026, UTC+2 after). Custom
# field columns: Company, Funding. Chloé never connected: no row. Alice's connection outside
# any session is not counted (as in the OPCA logs).
LEARNER_SESSION = [
    ["Last name", "First name", "Email", "Company", "Funding", "Session", "Session ID", "Program template",
     "Program template ID", "First connection", "Last disconnection", "Connections", "Time spent",
     "Progress", "Score", "Status"],
    ["Bernard", "Ève", "eve@example.org", "", "", *SEC,
     "12/03/2026 11:00", "12/03/2026 11:10", "1", "00:00:10", "0.0", "0.0", "not started"],
    # intro 50 (completed), quiz not started: progress 1/2, score (50 + 0) / 2
    ["Durand", "Bob", "bob@example.org", "ACME", "", *SEC,
     "05/03/2026 10:00", "05/03/2026 12:00", "1", "00:02:00", "50.0", "25.0", "in progress"],
    # 1 h + 30 min; the last one on 30 March 12:30 UTC = 14:30 summer time
    ["Martin", "Alice", "alice@example.org", "Initech", "OPCO Atlas", *SEC,
     "02/03/2026 09:00", "30/03/2026 14:30", "2", "00:01:30", "100.0", "80.0", "passed"],
    ["Œuvray", "Dan", "dan@example.org", "ACME", "", *SEC,
     "10/03/2026 15:00", "10/03/2026 15:45", "1", "00:00:45", "100.0", "70.0", "failed"],
    ["Petit", "Frank", "frank@example.org", "", "", *MAN,
     "02/04/2026 09:30", "02/04/2026 10:30", "1", "00:01:00", "0.0", "0.0", "not started"],
]  # fmt: skip

LEARNER_COURSE = [
    ["Last name", "First name", "Email", "Company", "Funding", "Session", "Session ID", "Program template",
     "Program template ID", "Course", "Status", "Score", "Time spent", "Completed on"],
    ["Bernard", "Ève", "eve@example.org", "", "", *SEC, "Introduction", "not started", "0.0", "00:00:10", ""],
    ["Durand", "Bob", "bob@example.org", "ACME", "", *SEC,
     "Introduction", "passed", "50.0", "00:02:00", "05/03/2026 12:00"],
    # courses in the training's order (Introduction 1, Quiz final 2)
    ["Martin", "Alice", "alice@example.org", "Initech", "OPCO Atlas", *SEC,
     "Introduction", "passed", "100.0", "00:01:00", "02/03/2026 10:00"],
    ["Martin", "Alice", "alice@example.org", "Initech", "OPCO Atlas", *SEC,
     "Quiz final", "passed", "60.0", "00:00:30", "30/03/2026 14:30"],
    # Dan's Introduction has no connection in the session: only the Quiz final (40 < min 50)
    ["Œuvray", "Dan", "dan@example.org", "ACME", "", *SEC,
     "Quiz final", "failed", "40.0", "00:00:45", "10/03/2026 15:45"],
    ["Petit", "Frank", "frank@example.org", "", "", *MAN, "Leadership", "not started", "0.0", "00:01:00", ""],
]  # fmt: skip

# s-a: learners = 4 registered + Dan (played, not registered); played Ève, Bob, Alice, Dan;
# completed Alice (passed) and Dan (failed); 10 + 120 + 90 + 45 = 265 min, 265 / 4 = 66.25 min.
# s-b: no connection, no row. Ordered by start.
SESSION = [
    ["Session", "Session ID", "Program template", "Program template ID", "Starts", "Ends", "Learners",
     "Learners who played", "Completed", "Time spent", "Average time spent per learner who played"],
    [*SEC, "01/03/2026 09:00", "31/03/2026 18:00", "5", "4", "2", "00:04:25", "00:01:06"],
    [*MAN, "01/04/2026 09:00", "30/04/2026 18:00", "1", "1", "0", "00:01:00", "00:01:00"],
]  # fmt: skip

EXPECTED = {"learner-session": LEARNER_SESSION, "learner-course": LEARNER_COURSE, "session": SESSION}


@pytest.fixture
def world(factory):
    build_world(factory)
    return factory


def table(s, scope=None, **filters) -> list[list[str]]:
    f = OpcoLogFilters(**filters)
    scope = scope or global_scope()
    return [opco_log_header(s, scope, f), *iter_opco_log_rows(s, scope, f, PARIS)]


def csv_table(s, scope=None, delimiter=",", **filters) -> list[list[str]]:
    data = b"".join(
        iter_opco_logs_csv(s, scope or global_scope(), OpcoLogFilters(**filters), PARIS, delimiter)
    )
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))


def minutes(text: str) -> int:
    days, hours, mins = (int(part) for part in text.split(":"))
    return (days * 24 + hours) * 60 + mins


@pytest.mark.parametrize("granularity", sorted(EXPECTED))
def test_gran001_rows_by_hand(world, granularity):
    assert table(world.s, granularity=granularity) == EXPECTED[granularity]
    assert csv_table(world.s, granularity=granularity) == EXPECTED[granularity]


def test_gran002_opca_logs_stay_the_default(world):
    assert table(world.s) == table(world.s, granularity="opca-logs")
    assert opco_log_header(world.s, global_scope(), OpcoLogFilters())[-3:] == [
        "Connected",
        "Disconnected",
        "Time spent",
    ]
    assert len(table(world.s)) == 1 + 6  # the six connections inside a session


def _logs_by(s, key, **filters):
    """The OPCA logs of the same filters, grouped by hand: key(row) -> (count, minutes of each row)."""
    logs = table(s, **filters)
    header, rows = logs[0], logs[1:]
    found: dict = {}
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        count, total, first, _last = found.get(key(cells), (0, 0, None, None))
        found[key(cells)] = (
            count + 1,
            total + minutes(cells["Time spent"]),
            first or cells["Connected"],
            cells["Disconnected"],
        )
    return found


FILTER_CASES = [
    {},
    {"date_from": date(2026, 3, 6), "date_to": date(2026, 3, 31)},
    {"class_ids": ("c-1",)},
    {"user_ids": ("alice", "frank")},
    {"session_ids": ("s-a",)},
    {"fields": (("Company", "ACME"),)},
]


@pytest.mark.parametrize("filters", FILTER_CASES, ids=lambda f: ",".join(f) or "none")
def test_gran003_learner_rows_agree_with_the_opca_logs(world, filters):
    """Each learner-session row is its OPCA log rows summed (every connection here is whole
    minutes, so the rounded sums agree exactly), and the learner-course rows the same per course."""
    by_session = _logs_by(world.s, lambda c: (c["Email"], c["Session ID"]), **filters)
    header, *rows = table(world.s, granularity="learner-session", **filters)
    assert len(rows) == len(by_session)
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        count, total, first, last = by_session[(cells["Email"], cells["Session ID"])]
        assert int(cells["Connections"]) == count
        assert minutes(cells["Time spent"]) == total
        assert cells["First connection"] == first and cells["Last disconnection"] == last

    by_course = _logs_by(world.s, lambda c: (c["Email"], c["Session ID"], c["Course"]), **filters)
    header, *rows = table(world.s, granularity="learner-course", **filters)
    assert {(r[2], r[header.index("Session ID")], r[header.index("Course")]) for r in rows} == set(by_course)
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        assert (
            minutes(cells["Time spent"])
            == by_course[(cells["Email"], cells["Session ID"], cells["Course"])][1]
        )

    per_session = _logs_by(world.s, lambda c: c["Session ID"], **filters)
    players = {}
    for email, session_id in by_session:
        players.setdefault(session_id, set()).add(email)
    header, *rows = table(world.s, granularity="session", **filters)
    assert [r[1] for r in rows] == sorted(per_session, key=["s-a", "s-b", "s-m"].index)
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        assert minutes(cells["Time spent"]) == per_session[cells["Session ID"]][1]
        assert int(cells["Learners who played"]) == len(players[cells["Session ID"]])


def test_gran004_filters_by_hand(world):
    # Group c-1 = Alice and Bob: s-a's learners are its registered members of c-1 (Alice, Bob),
    # both played, Alice completed; 90 + 120 = 210 min, 105 on average.
    assert table(world.s, granularity="session", class_ids=("c-1",))[1:] == [
        [*SEC, "01/03/2026 09:00", "31/03/2026 18:00", "2", "2", "1", "00:03:30", "00:01:45"]
    ]
    # From 6 March: Bob (5 March) and Alice's first connection (2 March) are left out.
    rows = table(world.s, granularity="learner-session", date_from=date(2026, 3, 6))[1:]
    assert [(r[2], r[9], r[11], r[12]) for r in rows] == [
        ("eve@example.org", "12/03/2026 11:00", "1", "00:00:10"),
        ("alice@example.org", "30/03/2026 14:00", "1", "00:00:30"),
        ("dan@example.org", "10/03/2026 15:00", "1", "00:00:45"),
        ("frank@example.org", "02/04/2026 09:30", "1", "00:01:00"),
    ]
    # Only the Funding column, French titles and words.
    header, *rows = table(
        world.s, granularity="learner-course", columns=("Funding",), titles="fr", user_ids=("alice",)
    )
    assert header[:4] == ["Nom", "Prénom", "E-mail", "Funding"]
    assert header[-5:] == ["Cours", "Statut", "Score", "Temps passé", "Terminé le"]
    assert [r[-5:-3] for r in rows] == [["Introduction", "réussi"], ["Quiz final", "réussi"]]


def test_gran005_scope(world):
    instructor = load_scope(world.s, "inst")  # session_instructor of s-a
    assert [r[1] for r in table(world.s, instructor, granularity="session")[1:]] == ["s-a"]
    manager = load_scope(world.s, "tm")  # training_manager of t-man
    assert [r[2] for r in table(world.s, manager, granularity="learner-session")[1:]] == ["frank@example.org"]
    with pytest.raises(Forbidden):
        table(world.s, manager, granularity="session", session_ids=("s-a",))
    for user in ("cm", "lea"):
        with pytest.raises(Forbidden):
            table(world.s, load_scope(world.s, user), granularity="learner-course")


def test_gran006_xlsx_typed_cells(world):
    for granularity, expected in EXPECTED.items():
        target = io.BytesIO()
        write_opco_logs_xlsx(world.s, global_scope(), OpcoLogFilters(granularity=granularity), PARIS, target)
        target.seek(0)
        sheet = openpyxl.load_workbook(target).active
        assert sheet.freeze_panes == "A2"
        assert [[shown(cell) for cell in row] for row in sheet.iter_rows()] == expected
    # learner-session: counts and percentages are numbers, dates are dates
    target = io.BytesIO()
    write_opco_logs_xlsx(
        world.s, global_scope(), OpcoLogFilters(granularity="learner-session"), PARIS, target
    )
    sheet = openpyxl.load_workbook(io.BytesIO(target.getvalue())).active
    bob = [cell for cell in sheet[3]]
    assert bob[11].value == 1 and bob[13].value == 50.0 and bob[13].number_format == "0.0"
    assert bob[9].is_date and bob[12].number_format == '"00:"hh:mm'
    assert abs(serial(bob[12].value) - 2 / 24) < 1e-9  # a number of days: summable


def test_gran007_query_string_and_file_name(world):
    request = parse_opco_query("session=s-a&granularity=learner-course&format=xlsx")
    assert request.filters.granularity == "learner-course"
    assert "granularity=learner-course" in request.to_query()
    assert download_filename(request, date(2026, 5, 1)) == "opco-learner-course-s-a-2026-05-01.xlsx"
    # The default is not written: the OPCA logs' links are unchanged.
    default = OpcoExportRequest()
    assert "granularity" not in default.to_query()
    assert download_filename(default, date(2026, 5, 1)) == "opco-logs-2026-05-01.csv"
    with pytest.raises(OpcoLogsError, match="granularity: 'learner' is not one of"):
        parse_opco_query("granularity=learner")
    with pytest.raises(OpcoLogsError, match="granularity"):
        table(world.s, granularity="nope")


@pytest.mark.parametrize("granularity", sorted(EXPECTED))
def test_gran008_cli(dash_app, world, tmp_path, granularity):
    world.s.commit()
    runner = dash_app.server.test_cli_runner()
    out = tmp_path / "out.csv"
    result = runner.invoke(
        args=["export-opco-logs", "--out", str(out), "--granularity", granularity, "--delimiter", ";"]
    )
    assert result.exit_code == 0, result.output
    parsed = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"), newline=""), delimiter=";"))
    assert parsed == EXPECTED[granularity]
    out_xlsx = tmp_path / "out.xlsx"
    result = runner.invoke(
        args=["export-opco-logs", "--out", str(out_xlsx), "--granularity", granularity, "--session", "s-m"]
    )
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(out_xlsx).active
    assert [[shown(c) for c in row] for row in sheet.iter_rows()] == [
        EXPECTED[granularity][0],
        *[r for r in EXPECTED[granularity][1:] if "s-m" in r],
    ]
    bad = runner.invoke(args=["export-opco-logs", "--out", str(out), "--granularity", "course"])
    assert bad.exit_code != 0 and "course" in bad.output
