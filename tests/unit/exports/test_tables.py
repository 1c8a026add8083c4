"""exports/tables.py: any table as CSV or XLSX bytes."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import openpyxl
import pandas as pd
import pytest

from exports.tables import (
    rows_to_csv_bytes,
    rows_to_xlsx_bytes,
    safe_sheet_name,
    table_to_csv_bytes,
    table_to_xlsx_bytes,
)
from tests.spreadsheets import libreoffice_convert, serial, shown

COLUMNS = [("name", "Name"), ("note", "Note"), ("score", "Score")]


def tiny_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["Dupont, Jean", 'Le "Chef"', "Élodie", None],
            "note": ["ok", "", "multi\nline", "x"],
            "score": [12, 66.7, None, 0.5],
            "unused": [1, 2, 3, 4],
        }
    )


def test_tbl001_csv_byte_for_byte():
    data = table_to_csv_bytes(tiny_frame(), COLUMNS)
    assert data == (
        b"\xef\xbb\xbf"
        b"Name,Note,Score\r\n"
        b'"Dupont, Jean",ok,12\r\n'
        b'"Le ""Chef""",,66.7\r\n'
        b'\xc3\x89lodie,"multi\nline",\r\n'
        b",x,0.5\r\n"
    )


def test_tbl002_csv_values_dates_booleans_and_formulas():
    frame = pd.DataFrame(
        {
            "day": [date(2026, 11, 24), None],
            "at": [datetime(2026, 11, 24, 9, 5), datetime(2026, 11, 25)],
            "flag": [True, False],
            "text": ["=HYPERLINK(1)", "-"],
            "n": [3.0, 1e-7],
        }
    )
    columns = [("day", "Day"), ("at", "At"), ("flag", "Flag"), ("text", "Text"), ("n", "N")]
    lines = table_to_csv_bytes(frame, columns).decode("utf-8-sig").split("\r\n")
    assert lines == [
        "Day,At,Flag,Text,N",
        "24/11/2026,24/11/2026 09:05,true,'=HYPERLINK(1),3",
        ",25/11/2026,false,'-,1e-07",
        "",
    ]


def test_tbl003_csv_from_rows_and_unknown_column():
    assert rows_to_csv_bytes(["a", "b"], [["1", "x;y"], [2, None]]) == b"\xef\xbb\xbfa,b\r\n1,x;y\r\n2,\r\n"
    with pytest.raises(KeyError, match="missing_field"):
        table_to_csv_bytes(tiny_frame(), [("missing_field", "X")])


def test_tbl004_xlsx_read_back():
    frame = tiny_frame()
    frame["day"] = [date(2026, 11, 24), pd.NaT, pd.Timestamp("2026-01-02"), None]
    columns = [*COLUMNS, ("day", "Completed on")]
    data = table_to_xlsx_bytes(frame, columns, sheet_name="Trainings")
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["Trainings"]
    assert sheet.freeze_panes == "A2"
    header = sheet[1]
    assert [cell.value for cell in header] == ["Name", "Note", "Score", "Completed on"]
    assert all(cell.font.bold for cell in header)
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert rows == [
        ["Dupont, Jean", "ok", 12, datetime(2026, 11, 24)],
        ['Le "Chef"', None, 66.7, None],
        ["Élodie", "multi\nline", None, datetime(2026, 1, 2)],
        [None, "x", 0.5, None],
    ]
    # Dates are date cells shown DD/MM/YYYY (issue 12 point 3).
    assert sheet["C2"].data_type == "n" and sheet["D2"].data_type == "d"
    assert sheet["D2"].number_format == "dd/mm/yyyy"
    assert not any(cell.font.bold for cell in sheet[2])
    # Widths fitted to the longest text (header or value), within bounds.
    assert sheet.column_dimensions["A"].width >= len("Dupont, Jean")
    assert sheet.column_dimensions["D"].width >= len("Completed on")
    assert sheet.column_dimensions["C"].width < sheet.column_dimensions["A"].width


def test_tbl005_xlsx_text_stays_text():
    frame = pd.DataFrame({"t": ["=1+1", "http://example.org", "007"]})
    sheet = openpyxl.load_workbook(io.BytesIO(table_to_xlsx_bytes(frame, [("t", "T")]))).active
    # SPEC §7: a formula-like text gets its apostrophe in the XLSX too (escape_cell).
    assert [sheet.cell(row=r, column=1).value for r in (2, 3, 4)] == ["'=1+1", "http://example.org", "007"]
    assert sheet.cell(row=2, column=1).data_type == "s"


def test_tbl006_xlsx_from_text_rows_with_numeric_columns():
    data = rows_to_xlsx_bytes(
        ["user_id", "progress", "time"],
        [["007", "66.7", "12"], ["008", "", "x"]],
        "Results",
        numeric_columns={"progress", "time"},
    )
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Results"]
    assert [[c.value for c in row] for row in sheet.iter_rows(min_row=2)] == [
        ["007", 66.7, 12],
        ["008", None, "x"],
    ]


def test_tbl007_sheet_names():
    assert safe_sheet_name("Results: a/b [2026]?") == "Results  a b  2026"
    assert safe_sheet_name("") == "Sheet1"
    assert len(safe_sheet_name("x" * 40)) == 31


# -- issue 12 point 3: files that spreadsheets understand --------------------------------------

KIND_COLUMNS = [
    ("who", "Learner"),
    ("at", "First connection", "datetime"),
    ("day", "Completed on", "date"),
    ("spent", "Time spent", "duration"),
    ("score", "Score", "score"),
]


def kind_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "who": ["Àlvarez", "=Bernard"],
            # Local text as the session tables hold it, and real values.
            "at": ["2026-11-13 09:05", datetime(2026, 1, 2, 23, 59)],
            "day": ["2026-11-13", date(2026, 1, 3)],
            "spent": [8160.0, 2 * 86400 + 3 * 3600 + 30 * 60 + 29],  # 2 h 16; 2 d 3 h 30 (29 s down)
            "score": [66.666, None],
        }
    )


def test_tbl008_xlsx_dates_are_dates_durations_are_summable_durations():
    data = table_to_xlsx_bytes(kind_frame(), KIND_COLUMNS, "Learners")
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Learners"]
    assert [c.value for c in sheet[1]] == [
        "Learner",
        "First connection",
        "Completed on",
        "Time spent (h:mm)",
        "Score",
    ]
    assert [[shown(c) for c in row] for row in sheet.iter_rows(min_row=2)] == [
        ["Àlvarez", "13/11/2026 09:05", "13/11/2026", "2:16", "66.7"],
        ["'=Bernard", "02/01/2026 23:59", "03/01/2026", "51:30", ""],
    ]
    # Issue 21: elapsed hours and minutes, never a time of day nor DD:HH:MM (a bare "00:02:16"
    # under "Time spent" read as 2 min 16 s); openpyxl reads the cells back as durations.
    assert sheet["D2"].number_format == sheet["D3"].number_format == "[h]:mm"
    assert sheet["D2"].value == timedelta(hours=2, minutes=16)
    assert sheet["D3"].value == timedelta(days=2, hours=3, minutes=30)
    assert sheet["B2"].value == datetime(2026, 11, 13, 9, 5) and sheet["C2"].value == datetime(2026, 11, 13)
    # A duration is a number of days, rounded to the minute: the column sums to the total time.
    total = serial(sheet["D2"].value) + serial(sheet["D3"].value)
    assert round(total * 1440) == 136 + (2 * 24 + 3) * 60 + 30


def test_tbl009_csv_kinds_and_french_dialect():
    columns = KIND_COLUMNS
    assert table_to_csv_bytes(kind_frame(), columns).decode("utf-8-sig").split("\r\n") == [
        "Learner,First connection,Completed on,Time spent (min),Score",
        "Àlvarez,13/11/2026 09:05,13/11/2026,136,66.7",
        "'=Bernard,02/01/2026 23:59,03/01/2026,3090,",
        "",
    ]
    french = table_to_csv_bytes(kind_frame(), columns, delimiter=";", decimal=",")
    assert french.decode("utf-8-sig").split("\r\n")[1] == "Àlvarez;13/11/2026 09:05;13/11/2026;136;66,7"


def test_tbl010_libreoffice_reads_dates_as_dates():
    """LibreOffice itself (headless soffice) opens the XLSX: the date columns hold dates, the
    durations times of day-fractions, shown as written."""
    data = table_to_xlsx_bytes(kind_frame(), KIND_COLUMNS, "Learners")
    flat = libreoffice_convert(data, "xlsx", "fods")
    assert 'office:value-type="date" office:date-value="2026-11-13T09:05:00"' in flat
    assert 'office:value-type="date" office:date-value="2026-11-13"' in flat
    assert 'office:value-type="time" office:time-value="PT02H16M00S"' in flat
    assert 'office:value-type="time" office:time-value="PT51H30M00S"' in flat
    assert 'office:value-type="float" office:value="66.7"' in flat
    shown_text = libreoffice_convert(data, "xlsx", "csv")
    assert shown_text.splitlines()[1:] == [
        "Àlvarez,13/11/2026 09:05,13/11/2026,2:16,66.7",
        "'=Bernard,02/01/2026 23:59,03/01/2026,51:30,",
    ]
