"""Any table as CSV or XLSX bytes, for the pages' "Download CSV / XLSX" buttons: files for
people, opened in a spreadsheet (`flask --app app export-results`, for programs, has its own
machine format: exports/results.py).

`table_to_*_bytes(df, columns, ...)`: `columns` lists (field, header) or (field, header, kind)
(which DataFrame columns, in which order, under which header). `rows_to_*_bytes(header, rows,
kinds=...)`: the same from a header and an iterable of rows. A column's kind says what its
values are and how a spreadsheet should get them:

| kind       | value given         | CSV                               | XLSX                              |
|------------|---------------------|-----------------------------------|-----------------------------------|
| date       | date, ISO text      | DD/MM/YYYY                        | date cell, DD/MM/YYYY             |
| datetime   | datetime, ISO text  | DD/MM/YYYY HH:MM                  | date cell, DD/MM/YYYY HH:MM       |
| duration   | seconds             | whole minutes, header "… (min)"   | duration cell [h]:mm, "… (h:mm)"  |
| pct, score | number (in %)       | one decimal                       | number cell, 0.0                  |
| int        | number              | number                            | number cell                       |
| None/text  | anything            | as below                          | as below                          |

Without a kind: missing (None, NaN, NaT) -> empty cell; numbers stay numbers (shortest form);
booleans -> "true"/"false" (CSV) or a boolean cell (XLSX); a date -> as the date kind, a
datetime (not a naive midnight) -> as the datetime kind. The CSV's decimal mark is `decimal`
("," in French, with ";" as the delimiter: exports.formatting.csv_dialect).

A duration cell holds the length in days (a spreadsheet's unit of time), rounded to the minute,
so that a column can be summed; it is displayed in elapsed hours and minutes, format `[h]:mm`
(4 h 04 -> "4:04", 2 days 3 h 30 -> "51:30"; Excel and LibreOffice alike), under a header saying
so, "Time spent (h:mm)", as the CSV's says "(min)" (issue 21: a bare `00:04:04` under "Time
spent" read as 4 min 4 s). The OPCO logs keep SPEC §7's DD:HH:MM (exports/opco_logs.py,
exports/opco_granularities.py).

Text is written as is, except that text a spreadsheet would run as a formula (starting with
=, +, -, @, tab or carriage return) gets a leading apostrophe (SPEC §7, OWASP's advice for
CSV injection: exports.formatting.escape_cell), headers included, in the CSV and the XLSX
alike (XLSX cells are also always written as text, never as formulas: editing such a cell in
a spreadsheet would otherwise turn it into one).
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

from exports.formatting import escape_cell, round_half_up

Columns = Sequence[tuple]

CSV_BOM = "\ufeff"
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
MIN_WIDTH, MAX_WIDTH = 6, 60
DATE_FORMAT = "dd/mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
DURATION_FORMAT = "[h]:mm"
KINDS = ("text", "int", "pct", "score", "duration", "date", "datetime")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?")


def _is_missing(value) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (str, bytes, list, tuple, dict)) else False
    except (TypeError, ValueError):
        return False


def _moment(value, kind: str | None):
    """A date or a naive datetime for date-like values (and ISO text of a date/datetime kind);
    None for anything else."""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, str) and kind in ("date", "datetime"):
        match = _ISO.fullmatch(value.strip())
        if not match:
            return None
        y, m, d, hh, mm = match.groups()
        value = datetime(int(y), int(m), int(d), int(hh or 0), int(mm or 0))
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.replace(tzinfo=None)  # already local: written as shown
        if kind == "date" or (kind is None and value.time() == datetime.min.time()):
            return value.date()
        return value.replace(second=0, microsecond=0)
    if isinstance(value, date):
        return value
    return None


def _moment_text(moment) -> str:
    if isinstance(moment, datetime):
        return f"{moment:%d/%m/%Y %H:%M}"
    return f"{moment:%d/%m/%Y}"


def _number_text(value, decimal: str = ".") -> str:
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = repr(value) if isinstance(value, float) else str(value)
    return text.replace(".", decimal)


def _plain(value):
    """numpy scalars -> Python scalars."""
    item = getattr(value, "item", None)
    if item is not None and not isinstance(value, (str, bytes)):
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


def _minutes(seconds) -> int:
    return int(round_half_up(max(float(seconds), 0.0) / 60, 0))


def _cell_text(value, kind: str | None = None, decimal: str = ".") -> str:
    """The CSV text of one cell."""
    value = _plain(value)
    if _is_missing(value) or value == "":
        return ""
    if kind == "duration" and isinstance(value, (int, float, Decimal)):
        return str(_minutes(value))
    if kind in ("pct", "score") and isinstance(value, (int, float, Decimal)):
        return str(round_half_up(value, 1)).replace(".", decimal)
    if isinstance(value, bool):
        return "true" if value else "false"
    moment = _moment(value, kind)
    if moment is not None:
        return _moment_text(moment)
    if isinstance(value, (int, float, Decimal)):
        return _number_text(value, decimal)
    return escape_cell(str(value))


def _kinds(columns: Columns) -> list[str | None]:
    return [col[2] if len(col) > 2 else None for col in columns]


def _frame_rows(df: pd.DataFrame, columns: Columns) -> Iterable[tuple]:
    missing = [col[0] for col in columns if col[0] not in df.columns]
    if missing:
        raise KeyError(f"columns not in the table: {', '.join(missing)}")
    fields = [col[0] for col in columns]
    yield from df[fields].itertuples(index=False, name=None)


def _unit_header(header: Sequence[str], kinds: Sequence[str | None] | None, unit: str) -> list[str]:
    kinds = list(kinds or [])
    kinds += [None] * (len(header) - len(kinds))
    return [f"{h} ({unit})" if kind == "duration" else str(h) for h, kind in zip(header, kinds, strict=False)]


def csv_header(header: Sequence[str], kinds: Sequence[str | None] | None) -> list[str]:
    """The CSV's titles: a duration column's says its unit, "(min)"."""
    return _unit_header(header, kinds, "min")


def xlsx_header(header: Sequence[str], kinds: Sequence[str | None] | None) -> list[str]:
    """The XLSX's titles: a duration column's says how its cells read, "(h:mm)"."""
    return _unit_header(header, kinds, "h:mm")


def rows_to_csv_bytes(
    header: Sequence[str],
    rows: Iterable[Sequence],
    kinds: Sequence[str | None] | None = None,
    delimiter: str = ",",
    decimal: str = ".",
) -> bytes:
    """Header + rows as CSV: UTF-8 with a BOM (Excel reads the accents), RFC 4180 quoting, CRLF."""
    kinds = list(kinds or [None] * len(header))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([escape_cell(h) for h in csv_header(header, kinds)])
    for row in rows:
        writer.writerow(
            [_cell_text(value, kinds[i] if i < len(kinds) else None, decimal) for i, value in enumerate(row)]
        )
    return (CSV_BOM + buffer.getvalue()).encode("utf-8")


def table_to_csv_bytes(df: pd.DataFrame, columns: Columns, delimiter: str = ",", decimal: str = ".") -> bytes:
    """The DataFrame's `columns` as CSV, see rows_to_csv_bytes."""
    return rows_to_csv_bytes(
        [col[1] for col in columns], _frame_rows(df, columns), _kinds(columns), delimiter, decimal
    )


def safe_sheet_name(name: str) -> str:
    """A name Excel accepts: no []:*?/\\, at most 31 characters, not empty."""
    cleaned = _SHEET_FORBIDDEN.sub(" ", name or "").strip().strip("'")
    return (cleaned or "Sheet1")[:31]


_NUMBER_TEXT = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?")


def duration_cell(seconds) -> tuple[float, str, str]:
    """(value in days rounded to the minute, number format, displayed text) of a duration:
    8160 s -> (0.0944…, "[h]:mm", "2:16"); 2 days 3 h 30 -> (2.1458…, "[h]:mm", "51:30")."""
    hours, minutes = divmod(_minutes(seconds), 60)
    return (hours * 60 + minutes) / 1440, DURATION_FORMAT, f"{hours}:{minutes:02d}"


class _Formats:
    """XlsxWriter formats made once per workbook."""

    def __init__(self, workbook):
        self.workbook = workbook
        self.cache: dict[str, object] = {}

    def __call__(self, num_format: str):
        if num_format not in self.cache:
            self.cache[num_format] = self.workbook.add_format({"num_format": num_format})
        return self.cache[num_format]


def rows_to_xlsx_bytes(
    header: Sequence[str],
    rows: Iterable[Sequence],
    sheet_name: str = "Table",
    numeric_columns: Collection[str] | None = None,
    kinds: Sequence[str | None] | None = None,
) -> bytes:
    """Header + rows as one XLSX sheet: bold frozen header with filters, numbers as numbers,
    dates and durations as spreadsheet dates and durations (see the module's table), column
    widths fitted to the content.

    Rows of text can name `numeric_columns` (headers) whose cells that read as plain decimal
    numbers ("12", "66.7") are written as numbers."""
    numeric = {i for i, h in enumerate(header) if numeric_columns and str(h) in numeric_columns}
    kinds = list(kinds or [])
    kinds += [None] * (len(header) - len(kinds))
    header = [escape_cell(h) for h in xlsx_header(header, kinds)]
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    sheet = workbook.add_worksheet(safe_sheet_name(sheet_name))
    bold = workbook.add_format({"bold": True, "bottom": 1})
    formats = _Formats(workbook)
    widths = [len(h) for h in header]
    for col, title in enumerate(header):
        sheet.write_string(0, col, title, bold)
    count = 0
    for r, row in enumerate(rows, start=1):
        count = r
        for col, raw in enumerate(row):
            kind = kinds[col] if col < len(kinds) else None
            value = _plain(raw)
            if col in numeric and isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
                value = float(value) if "." in value else int(value)
            if _is_missing(value) or value == "":
                continue
            moment = None if isinstance(value, bool) else _moment(value, kind)
            if kind == "duration" and isinstance(value, (int, float, Decimal)):
                number, num_format, text = duration_cell(value)
                sheet.write_number(r, col, number, formats(num_format))
            elif isinstance(value, bool):
                sheet.write_boolean(r, col, value)
                text = "TRUE" if value else "FALSE"
            elif moment is not None:
                if isinstance(moment, datetime):
                    sheet.write_datetime(r, col, moment, formats(DATETIME_FORMAT))
                else:
                    sheet.write_datetime(
                        r, col, datetime.combine(moment, datetime.min.time()), formats(DATE_FORMAT)
                    )
                text = _moment_text(moment)
            elif isinstance(value, (int, float, Decimal)):
                number = float(value)
                if math.isinf(number):
                    text = "inf" if number > 0 else "-inf"
                    sheet.write_string(r, col, text)
                elif kind in ("pct", "score"):
                    number = float(round_half_up(number, 1))
                    sheet.write_number(r, col, number, formats("0.0"))
                    text = f"{number:.1f}"
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
    """The DataFrame's `columns` as XLSX, see rows_to_xlsx_bytes."""
    return rows_to_xlsx_bytes(
        [col[1] for col in columns], _frame_rows(df, columns), sheet_name, kinds=_kinds(columns)
    )
