"""Rows written straight into an XlsxWriter worksheet in constant-memory mode, as XML text.

XlsxWriter's `write_string` / `write_number` / `write_datetime` cost a few microseconds per
cell (argument checks, a cell tuple, then one XML element built per cell when the row is
flushed): about 6,700 rows/s for the OPCO logs' 16 columns. The OPCO files repeat the same
texts on many rows (a learner's name, email, fields and labels on each of their connections;
a session's and a course's names), so their cells' XML can be built once and reused, and a
row becomes a few string joins.

`InlineRows` writes the very bytes XlsxWriter itself writes in constant-memory mode (inline
strings, `<row r="N">` without spans: worksheet._write_single_row and _write_cell), into the
worksheet's own row file, so the rest of the workbook (styles, dimension, frozen pane, column
widths) is still XlsxWriter's. The files are byte for byte those of the per-cell path
(tests/unit/exports/test_xlsx_stream.py compares them). It relies on XlsxWriter 3.3's
constant-memory internals (`previous_row`, `_write_single_row`, `row_data_fh`, `_write_cell`)
and date serials, pinned to one release in requirements.txt (3.3.1 and 3.3.4 differ on
1900-02-28 with a time of day).

Usage: write the header row with XlsxWriter, then `rows = InlineRows(sheet, first_row=1)`;
build each cell's XML after its reference with `text_tail` / `number_tail`, group a run of
cells with `pieces`, write rows with `write`, and call `close(last_row)` before
`workbook.close()`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

from xlsxwriter.utility import _preserve_whitespace, _utf16_len, _utf16_truncate, xl_col_to_name
from xlsxwriter.worksheet import CellStringTuple, Worksheet

# A text that XlsxWriter writes as it is between <t> and </t>: nothing to escape (& < > and
# the control characters, "_xHHHH_" look-alikes, U+FFFE/U+FFFF), no leading or trailing
# white space (xml:space="preserve"), not a "<r>…</r>" rich string, short enough not to be
# truncated. Any other text takes XlsxWriter's own code (InlineRows._slow_text_tail).
_SPECIAL = re.compile(r"[\x00-\x1f&<>\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
_EXCEL_EPOCH = datetime(1899, 12, 31)


def excel_serial(days: int, seconds: int) -> float:
    """XlsxWriter's serial number of a naive datetime `days` days and `seconds` seconds after
    1899-12-31 (utility._datetime_to_excel_datetime, the same float operations: Excel's 1900
    leap-year bug included)."""
    serial = days + float(seconds) / (60 * 60 * 24)
    if days == 1:  # 1900-01-01, whose ISO calendar date is (1900, 1, 1): XlsxWriter's time-only case
        serial -= 1
    if serial >= 60:  # XlsxWriter 3.3.4 (3.3.1 said > 59: 1900-02-28 after midnight moved too)
        serial += 1
    return serial


def excel_day(moment: datetime) -> int:
    """Days from XlsxWriter's epoch (1899-12-31) to moment's date."""
    return (moment - _EXCEL_EPOCH).days


class InlineRows:
    """Rows of XML for an XlsxWriter worksheet made with {"constant_memory": True}."""

    def __init__(self, sheet: Worksheet, first_row: int):
        if not sheet.constant_memory:
            raise ValueError("InlineRows needs a worksheet in constant_memory mode")
        # Flush the rows written so far through XlsxWriter (the header): what follows is ours.
        sheet._write_single_row(first_row)
        self.sheet = sheet
        self.letters: dict[int, str] = {}

    def letter(self, col: int) -> str:
        letter = self.letters.get(col)
        if letter is None:
            letter = self.letters[col] = xl_col_to_name(col)
        return letter

    def text_tail(self, col: int, text: str) -> str:
        """The XML of a text cell after `<c r="A1"`: what write_string writes for it."""
        if len(text) < 16000 and not _SPECIAL.search(text) and not _preserve_whitespace(text):
            return f' t="inlineStr"><is><t>{text}</t></is></c>'
        return self._slow_text_tail(col, text)

    def _slow_text_tail(self, col: int, text: str) -> str:
        sheet = self.sheet
        if len(text) > sheet.xls_strmax // 2 and _utf16_len(text) > sheet.xls_strmax:
            text = _utf16_truncate(text, sheet.xls_strmax)
        scratch = io.StringIO()
        fh, sheet.fh = sheet.fh, scratch
        try:
            sheet._write_cell(0, col, CellStringTuple(text, None))
        finally:
            sheet.fh = fh
        xml = scratch.getvalue()
        prefix = f'<c r="{self.letter(col)}1"'
        assert xml.startswith(prefix), xml
        return xml[len(prefix) :]

    @staticmethod
    def number_tail(number: float, xf_index: int | None = None) -> str:
        """The XML of a number cell after `<c r="A1"` (a format's index from
        format._get_xf_index(), called in the order XlsxWriter would first write it)."""
        if xf_index:
            return f' s="{xf_index}"><v>{number:.16G}</v></c>'
        return f"><v>{number:.16G}</v></c>"

    def pieces(self, cells: Sequence[tuple[int, str]]) -> list[str]:
        """A run of cells, (column, tail) in column order, as strings that `str(row).join`
        turns into their XML for a row number (the 1-based one of the file)."""
        if not cells:
            return [""]
        out = [f'<c r="{self.letter(cells[0][0])}']
        for (_, tail), (col, _) in pairwise(cells):
            out.append(f'"{tail}<c r="{self.letter(col)}')
        out.append(f'"{cells[-1][1]}')
        return out

    def write(self, xml: str) -> None:
        self.sheet.fh.write(xml)

    def close(self, last_row: int) -> None:
        """Record the last row written (0-based; XlsxWriter's dimension), before workbook.close()."""
        sheet = self.sheet
        sheet.previous_row = max(sheet.previous_row, last_row)
        if sheet.dim_rowmax is None or last_row > sheet.dim_rowmax:
            sheet.dim_rowmax = last_row
        if sheet.dim_rowmin is None:
            sheet.dim_rowmin = 0


__all__ = ["InlineRows", "excel_day", "excel_serial"]
