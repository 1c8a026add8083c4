"""Any table as CSV or XLSX bytes, for the pages' "Download CSV / XLSX" buttons (the rows of the
results table come from exports/results.py, as export-results' do).

`table_to_*_bytes(df, columns, ...)`: `columns` is a list of (field, header) pairs (which
DataFrame columns, in which order, under which header). `rows_to_*_bytes(header, rows, ...)`:
the same from a header and an iterable of rows (e.g. exports/results.py's results_rows).
Cell values are written as they are, with these rules:

- missing (None, NaN, NaT) -> empty cell;
- numbers stay numbers (CSV: "12", "66.7", shortest form, "." as the decimal mark; XLSX: numeric
  cells); booleans -> "true"/"false" (CSV) or a boolean cell (XLSX);
- a date, or a datetime at midnight without a time zone -> "YYYY-MM-DD"; any other datetime ->
  "YYYY-MM-DD HH:MM" (text in XLSX too, so no spreadsheet reinterprets it);
- text is written as is, except that text a spreadsheet would run as a formula (starting with
  =, +, -, @, tab or carriage return) gets a leading apostrophe (SPEC §7, OWASP's advice for
  CSV injection: exports.formatting.escape_cell), headers included, in the CSV and the XLSX
  alike (XLSX cells are also always written as text, never as formulas: editing such a cell in
  a spreadsheet would otherwise turn it into one).

Round or convert numbers before calling (e.g. a rate to one decimal, seconds to minutes).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import xlsxwriter

from exports.formatting import escape_cell

Columns = Sequence[tuple[str, str]]

CSV_BOM = "\ufeff"
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
MIN_WIDTH, MAX_WIDTH = 6, 60


def _is_missing(value) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (str, bytes, list, tuple, dict)) else False
    except (TypeError, ValueError):
        return False


def _date_text(value) -> str | None:
    """ISO text for dates and datetimes, None for anything else."""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is None and value.time() == datetime.min.time():
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return None


def _number_text(value) -> str:
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _plain(value):
    """numpy scalars -> Python scalars."""
    item = getattr(value, "item", None)
    if item is not None and not isinstance(value, (str, bytes)):
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


def _cell_text(value) -> str:
    """The CSV text of one cell."""
    value = _plain(value)
    if _is_missing(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = _date_text(value)
    if text is not None:
        return text
    if isinstance(value, (int, float, Decimal)):
        return _number_text(value)
    return escape_cell(str(value))


def _frame_rows(df: pd.DataFrame, columns: Columns) -> Iterable[tuple]:
    missing = [field for field, _ in columns if field not in df.columns]
    if missing:
        raise KeyError(f"columns not in the table: {', '.join(missing)}")
    fields = [field for field, _ in columns]
    yield from df[fields].itertuples(index=False, name=None)


def rows_to_csv_bytes(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """Header + rows as CSV: UTF-8 with a BOM (Excel reads the accents), RFC 4180 quoting, CRLF."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([escape_cell(str(h)) for h in header])
    for row in rows:
        writer.writerow([_cell_text(value) for value in row])
    return (CSV_BOM + buffer.getvalue()).encode("utf-8")


def table_to_csv_bytes(df: pd.DataFrame, columns: Columns) -> bytes:
    """The DataFrame's `columns` ((field, header) pairs) as CSV, see rows_to_csv_bytes."""
    return rows_to_csv_bytes([header for _, header in columns], _frame_rows(df, columns))


def safe_sheet_name(name: str) -> str:
    """A name Excel accepts: no []:*?/\\, at most 31 characters, not empty."""
    cleaned = _SHEET_FORBIDDEN.sub(" ", name or "").strip().strip("'")
    return (cleaned or "Sheet1")[:31]


_NUMBER_TEXT = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?")


def rows_to_xlsx_bytes(
    header: Sequence[str],
    rows: Iterable[Sequence],
    sheet_name: str = "Table",
    numeric_columns: Collection[str] | None = None,
) -> bytes:
    """Header + rows as one XLSX sheet: bold frozen header, numbers as numbers, dates as
    YYYY-MM-DD text, column widths fitted to the content.

    Rows of text (e.g. exports/results.py's) can name `numeric_columns` (headers) whose cells
    that read as plain decimal numbers ("12", "66.7") are written as numbers."""
    numeric = {i for i, h in enumerate(header) if numeric_columns and str(h) in numeric_columns}
    header = [escape_cell(str(h)) for h in header]
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    sheet = workbook.add_worksheet(safe_sheet_name(sheet_name))
    bold = workbook.add_format({"bold": True, "bottom": 1})
    widths = [len(h) for h in header]
    for col, title in enumerate(header):
        sheet.write_string(0, col, title, bold)
    count = 0
    for r, row in enumerate(rows, start=1):
        count = r
        for col, raw in enumerate(row):
            value = _plain(raw)
            if col in numeric and isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
                value = float(value) if "." in value else int(value)
            if _is_missing(value) or value == "":
                continue
            if isinstance(value, bool):
                sheet.write_boolean(r, col, value)
                text = "TRUE" if value else "FALSE"
            elif (text := _date_text(value)) is not None:
                sheet.write_string(r, col, text)
            elif isinstance(value, (int, float, Decimal)):
                number = float(value)
                if math.isinf(number):
                    text = "inf" if number > 0 else "-inf"
                    sheet.write_string(r, col, text)
                else:
                    sheet.write_number(r, col, number)
                    text = _number_text(value)
            else:
                text = escape_cell(str(value))
                sheet.write_string(r, col, text)
            longest = max((len(line) for line in text.split("\n")), default=0)
            if col < len(widths):
                widths[col] = max(widths[col], longest)
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(MAX_WIDTH, max(MIN_WIDTH, width + 2)))
    sheet.freeze_panes(1, 0)
    if header:
        sheet.autofilter(0, 0, count, len(header) - 1)
    workbook.close()
    return buffer.getvalue()


def table_to_xlsx_bytes(df: pd.DataFrame, columns: Columns, sheet_name: str = "Table") -> bytes:
    """The DataFrame's `columns` ((field, header) pairs) as XLSX, see rows_to_xlsx_bytes."""
    return rows_to_xlsx_bytes([header for _, header in columns], _frame_rows(df, columns), sheet_name)
