"""The OPCA logs' CSV and XLSX (issue 22 point 3: built from pieces made once per learner,
session, course, hour and duration) are byte for byte the files of the per-row, per-cell way
they were written before: the reference below, kept as it was (SQLAlchemy rows of the wide
query, format_local and format_duration on each row, csv.writer on each row, XlsxWriter's
write_string / write_datetime / write_number on each cell). On SQLite and on PostgreSQL, in a
zone with whole-hour offsets (the fast way) and in one without (Asia/Kolkata, +05:30), with
batches so small that learners span two of them, and with texts that need escaping in every
way (formulas, quotes, delimiters, control characters, XML, leading spaces, empty cells)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import xlsxwriter

import exports.opco_logs as opco
from data.scope import global_scope
from exports.formatting import escape_cell, escape_row, format_duration, format_local, pgettext_in
from exports.opco_logs import OpcoLogFilters, iter_opco_logs_csv, write_opco_logs_xlsx
from tests.integration.exports.test_opco_logs import build_case

PARIS = ZoneInfo("Europe/Paris")
KOLKATA = ZoneInfo("Asia/Kolkata")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dash_app(request, make_app):
    if request.param == "postgres":
        return make_app(database_url=request.getfixturevalue("pg_migrated_db_url"))
    return make_app()


def build_tricky(factory):
    build_case(factory)
    t = factory.training("t-x", name='=HYPERLINK("x")')
    quiz = factory.module("m-x", name="-Quiz <final> & co")
    empty = factory.module("m-e")
    empty.name = ""  # a course without a name: an empty cell
    s_x = factory.session(t, "s-x", name='@Session; "quoted"\nline')
    odd = factory.user(
        "u-odd",
        first=" Jean\x07",
        last="+Dupont",
        email="jean_dupont@example.org",
        labels=("=1+1", "\tTab"),
        fields={"Company": "_x0041_ & <b>", "âge": ""},
        additional_info="line\r\nbreak",
    )
    plain = factory.user("u-plain", first="", last="Martin", email="m@example.org")
    for day in range(1, 8):  # several rows per learner, across batches of 3
        factory.connection(odd, quiz, f"2026-10-{day:02d} 23:59:31", f"2026-10-{day + 1:02d} 00:29:29", s_x)
        factory.connection(plain, empty, f"2026-10-{day:02d} 10:00:00", f"2026-10-{day:02d} 10:00:29", s_x)
    # Across the autumn change of Paris (25/10/2026 01:00 UTC), long, and a negative length.
    factory.connection(plain, quiz, "2026-10-24 23:30:00", "2026-10-25 02:15:00", s_x)
    factory.connection(plain, quiz, "2026-11-01 08:00:00", "2026-11-04 09:30:30", s_x)
    factory.connection(plain, empty, "2026-11-05 08:00:00", "2026-11-05 07:00:00", s_x)
    factory.s.flush()


# -- the reference: main's code before issue 22 ----------------------------------------------


def reference_rows(session, filters, tz):
    statement = opco._statement(global_scope(), filters, tz, opco._dialect(session))
    field_columns = opco._field_columns(session, filters)
    rows = []
    for batch in session.execute(statement).partitions():
        people = opco._people(session, {row[0] for row in batch}, field_columns)
        for user_id, last, first, email, info, s_name, s_id, t_name, t_id, m_name, start, end in batch:
            labels, values = people[user_id]
            rows.append(
                [
                    *(last or "", first or "", email or ""),
                    *values,
                    *(info or "", labels, s_name or "", s_id, t_name or "", t_id, m_name or ""),
                    *(format_local(start, tz), format_local(end, tz), format_duration(end - start)),
                ]
            )
    return opco._header(field_columns, filters.titles), rows


def reference_csv(session, filters, tz, delimiter):
    header, rows = reference_rows(session, filters, tz)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(escape_row(header))
    writer.writerows(escape_row(row) for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def reference_xlsx(session, filters, tz):
    header, rows = reference_rows(session, filters, tz)
    target = io.BytesIO()
    workbook = xlsxwriter.Workbook(target, {"constant_memory": True})
    workbook.set_properties({"created": opco.xlsx_created(filters, tz)})
    sheet = workbook.add_worksheet(pgettext_in(filters.titles, "opco-logs", "OPCO logs"))
    bold = workbook.add_format({"bold": True})
    for col, title in enumerate(header):
        sheet.set_column(col, col, opco._column_width(title))
    sheet.freeze_panes(1, 0)
    for col, title in enumerate(header):
        sheet.write_string(0, col, escape_cell(title), bold)
    moment_format = workbook.add_format({"num_format": opco.DATETIME_FORMAT})
    duration_formats = {}
    connected_col = len(header) - 3
    for row_number, row in enumerate(rows, start=1):
        for col, text in enumerate(row[:connected_col]):
            if text:
                sheet.write_string(row_number, col, escape_cell(text))
        for col in (connected_col, connected_col + 1):
            text = row[col]
            moment = datetime(
                int(text[6:10]), int(text[3:5]), int(text[0:2]), int(text[11:13]), int(text[14:16])
            )
            sheet.write_datetime(row_number, col, moment, moment_format)
        days, hours, minutes = (int(part) for part in row[connected_col + 2].split(":"))
        num_format = f'"{days:02d}:"hh:mm'
        if num_format not in duration_formats:
            duration_formats[num_format] = workbook.add_format({"num_format": num_format})
        sheet.write_number(
            row_number, connected_col + 2, days + (hours * 60 + minutes) / 1440, duration_formats[num_format]
        )
    workbook.close()
    return target.getvalue()


# -- the checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tz", [PARIS, KOLKATA], ids=["paris", "kolkata"])
@pytest.mark.parametrize("batch_rows", [3, 1000])
def test_ofp001_csv_and_xlsx_are_the_reference_bytes(factory, monkeypatch, tz, batch_rows):
    build_tricky(factory)
    monkeypatch.setattr(opco, "BATCH_ROWS", batch_rows)
    for filters in (OpcoLogFilters(), OpcoLogFilters(titles="fr", columns=("Company",))):
        for delimiter in (",", ";"):
            got = b"".join(iter_opco_logs_csv(factory.s, global_scope(), filters, tz, delimiter))
            assert got == reference_csv(factory.s, filters, tz, delimiter)
        target = io.BytesIO()
        write_opco_logs_xlsx(factory.s, global_scope(), filters, tz, target)
        assert target.getvalue() == reference_xlsx(factory.s, filters, tz)
    # Enough rows for the checks to mean something: every connection inside a session.
    assert reference_csv(factory.s, OpcoLogFilters(), tz, ",").count(b"\r\n") >= 8 + 17 + 1


def test_ofp002_rows_are_the_reference_rows(factory, monkeypatch):
    build_tricky(factory)
    monkeypatch.setattr(opco, "BATCH_ROWS", 4)
    filters = OpcoLogFilters()
    header, rows = reference_rows(factory.s, filters, PARIS)
    assert opco.opco_log_header(factory.s, global_scope(), filters) == header
    assert list(opco.iter_opco_log_rows(factory.s, global_scope(), filters, PARIS)) == rows


def reference_typed_xlsx(session, filters, tz):
    """main's write_typed_xlsx (SPEC §9's granularities), cell by cell."""
    from exports.opco_granularities import DATETIME_FORMAT, PCT_FORMAT, columns_of, sheet_name

    header = opco.opco_log_header(session, global_scope(), filters)
    kinds = [
        "text" if kind == "field" else kind
        for _, kind in columns_of(filters.granularity, opco._field_columns(session, filters))
    ]
    rows = list(opco.iter_opco_log_rows(session, global_scope(), filters, tz))
    target = io.BytesIO()
    workbook = xlsxwriter.Workbook(target, {"constant_memory": True})
    workbook.set_properties({"created": opco.xlsx_created(filters, tz)})
    sheet = workbook.add_worksheet(sheet_name(filters.granularity, filters.titles)[:31])
    bold = workbook.add_format({"bold": True})
    for col, title in enumerate(header):
        sheet.set_column(col, col, 17 if kinds[col] == "moment" else max(12, min(len(title) + 2, 40)))
    sheet.freeze_panes(1, 0)
    for col, title in enumerate(header):
        sheet.write_string(0, col, escape_cell(title), bold)
    moment_format = workbook.add_format({"num_format": DATETIME_FORMAT})
    pct_format = workbook.add_format({"num_format": PCT_FORMAT})
    duration_formats = {}
    for row_number, row in enumerate(rows, start=1):
        for col, text in enumerate(row):
            if not text:
                continue
            kind = kinds[col]
            if kind == "moment":
                moment = datetime(
                    int(text[6:10]), int(text[3:5]), int(text[0:2]), int(text[11:13]), int(text[14:16])
                )
                sheet.write_datetime(row_number, col, moment, moment_format)
            elif kind == "duration":
                days, hours, minutes = (int(part) for part in text.split(":"))
                num_format = f'"{days:02d}:"hh:mm'
                if num_format not in duration_formats:
                    duration_formats[num_format] = workbook.add_format({"num_format": num_format})
                sheet.write_number(
                    row_number, col, days + (hours * 60 + minutes) / 1440, duration_formats[num_format]
                )
            elif kind == "int":
                sheet.write_number(row_number, col, int(text))
            elif kind == "pct":
                sheet.write_number(row_number, col, float(text), pct_format)
            else:
                sheet.write_string(row_number, col, escape_cell(text))
    workbook.close()
    return target.getvalue(), len(rows)


@pytest.mark.parametrize("granularity", ["learner-session", "learner-course", "session"])
def test_ofp003_granularities_xlsx_are_the_reference_bytes(factory, monkeypatch, granularity):
    build_tricky(factory)
    monkeypatch.setattr(opco, "BATCH_ROWS", 3)
    for filters in (
        OpcoLogFilters(granularity=granularity),
        OpcoLogFilters(granularity=granularity, titles="fr"),
    ):
        target = io.BytesIO()
        write_opco_logs_xlsx(factory.s, global_scope(), filters, PARIS, target)
        expected, count = reference_typed_xlsx(factory.s, filters, PARIS)
        assert count >= 3
        assert target.getvalue() == expected
