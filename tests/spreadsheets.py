"""Reading back the spreadsheets the app writes: each cell as a spreadsheet shows it (openpyxl),
and a workbook opened by LibreOffice itself (headless `soffice --convert-to`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from openpyxl.utils.datetime import to_excel


def serial(value) -> float:
    """A date, time or duration cell's value as the spreadsheet stores it: days since day 0
    (openpyxl's own conversion, with the 1900 system's quirks)."""
    if isinstance(value, (datetime, date, time, timedelta)):
        return float(to_excel(value))
    return float(value)


def shown(cell) -> str:
    """The text a spreadsheet shows for an openpyxl cell of the formats the app writes."""
    value, fmt = cell.value, cell.number_format
    if value is None:
        return ""
    if fmt == "dd/mm/yyyy hh:mm":
        return value.strftime("%d/%m/%Y %H:%M")
    if fmt == "dd/mm/yyyy":
        return value.strftime("%d/%m/%Y")
    if fmt == "[h]:mm":  # a page table's duration (exports/tables.py): elapsed hours
        hours, minutes = divmod(round(serial(value) * 1440), 60)
        return f"{hours}:{minutes:02d}"
    duration = re.fullmatch(r'"(\d+):"hh:mm', fmt)
    if duration:
        minutes = round(serial(value) * 1440)
        days, minutes = divmod(minutes, 1440)
        assert days == int(duration.group(1)), (cell.coordinate, fmt, value)
        return f"{days:02d}:{minutes // 60:02d}:{minutes % 60:02d}"
    if fmt == "0.0":
        return f"{value:.1f}"
    return str(value)


def soffice() -> str:
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if path is None:
        pytest.fail(
            "LibreOffice (soffice) is missing: `make system-test-deps` installs libreoffice-calc-nogui"
        )
    return path


def libreoffice_convert(data: bytes, suffix: str, to: str) -> str:
    """LibreOffice's own reading of a file: converted headless to `to` ("fods": flat ODF XML
    with each cell's value type; "csv" with the cells as shown), returned as text."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"in.{suffix}"
        source.write_bytes(data)
        target = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false" if to == "csv" else to
        subprocess.run(
            [soffice(), f"-env:UserInstallation=file://{tmp}/profile", "--headless", "--convert-to", target,
             "--outdir", tmp, str(source)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        return (Path(tmp) / f"in.{to}").read_text(encoding="utf-8")
