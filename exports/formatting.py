"""Number, date and cell formats shared by every export (CSV, XLSX, PDF).

`escape_cell` is the one place where SPEC §7's rule against spreadsheet formulas lives: every
CSV and XLSX writer (the OPCO logs, `export-results`, the pages' table downloads) passes each
text cell and header through it.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

# A cell starting with one of these is run as a formula (or as the start of one) by Excel,
# LibreOffice or Google Sheets: OWASP's list for CSV injection, as SPEC §7 gives it.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value):
    """SPEC §7: text that a spreadsheet would run as a formula gets a leading apostrophe.

    Only text is changed ("=1+1" -> "'=1+1", "-3 days" -> "'-3 days"); numbers, dates, None and
    any other value are returned as they are (a negative number written as a number cell is not
    a formula). Idempotent: an escaped text starts with "'" and is not escaped again.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def escape_row(row):
    """escape_cell over a row (a list is returned)."""
    return [escape_cell(value) for value in row]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def one_decimal(value: float | None) -> str:
    """66.666… -> "66.7", 12.25 -> "12.3" (half up, as people round); None -> ""."""
    if _missing(value):
        return ""
    return str(Decimal(repr(float(value))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def whole_minutes(seconds: float | None) -> str:
    """Seconds rounded to the nearest whole minute (30 s rounds up); None -> "0"."""
    if _missing(seconds):
        return "0"
    return str(int(Decimal(repr(float(seconds) / 60)).quantize(Decimal("1"), rounding=ROUND_HALF_UP)))


def iso_date(value: date | None) -> str:
    if _missing(value):
        return ""
    return value.isoformat()


def hours_minutes(seconds: float | None) -> str:
    """A duration as the PDF documents write it (SPEC §7): "H h MM", the nearest minute of the
    exact total (30 s rounds up): 8160 -> "2 h 16", 99000 -> "27 h 30"; None -> "0 h 00"."""
    if _missing(seconds):
        seconds = 0.0
    minutes = int(Decimal(repr(max(float(seconds), 0.0) / 60)).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    return f"{minutes // 60} h {minutes % 60:02d}"
