"""The BPF's cadre F-1 (SPEC §10) as CSV, XLSX and PDF, and the category mapping kept as the
platform's defaults.

The table: rows a. Salariés d'employeurs privés hors apprentis, b. Apprentis, c. Personnes en
recherche d'emploi, d. Particuliers à leurs propres frais, e. Autres stagiaires, Total, and
"dont formation à distance" (every hour Learnstats counts is a distance-learning hour: it
repeats the totals); columns Nombre de stagiaires and Nombre total d'heures de formation (whole
hours, rounded half up per line; Total is the sum of the lines as written, so that the
declared table adds up). Figures: data/bpf.py.

CSV (the command's format, and the page's): exactly those seven rows, no header, each "line,
trainees, hours" — the first cell starts with the line's letter ("a. Salariés…"), "Total" or
"dont"; UTF-8 with a BOM. XLSX: a title, the period and the field, the header, the seven rows
with number cells. PDF: one A4 page with the organisation block, the period, the field and its
mapping, the table.

The mapping (which custom field, which value -> which line) is kept in platform_settings
(key "bpf_categories") when the page or `--save-defaults` says so, like the attestations' values.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

import xlsxwriter
from sqlalchemy.orm import Session

from data.bpf import LINES, OTHER, BpfFigures, bpf_figures
from data.errors import LearnstatsError
from data.models import PlatformSetting
from data.scope import Scope
from exports.attestations import _facts_table, _heading, _table
from exports.formatting import NP_, escape_cell, gettext, pgettext_in, round_half_up
from exports.report_pdf import report_issuer, start_report
from exports.tables import CSV_BOM

SETTINGS_KEY = "bpf_categories"
LANGUAGES = ("fr", "en")
KINDS = ("csv", "xlsx", "pdf")
# The Cerfa's French wording is the file's, whatever the language: the form is French. The
# English files add a translation in brackets.
LINE_LABELS = {
    "a": "a. Salariés d'employeurs privés hors apprentis",
    "b": "b. Apprentis",
    "c": "c. Personnes en recherche d'emploi",
    "d": "d. Particuliers à leurs propres frais",
    "e": "e. Autres stagiaires",
}
LINE_ENGLISH = {
    "a": NP_("document", "private employers' employees, apprentices excepted"),
    "b": NP_("document", "apprentices"),
    "c": NP_("document", "job seekers"),
    "d": NP_("document", "individuals at their own expense"),
    "e": NP_("document", "other trainees"),
}
TOTAL = "Total"
DISTANCE = "dont formation à distance"
COLUMNS = ("Nombre de stagiaires", "Nombre total d'heures de formation")
WORDS = {
    "title": NP_("document", "Pedagogical and financial report (BPF) — frame F-1"),
    "period": NP_("document", "Period from {start} to {end}"),
    "field": NP_("document", "Trainee category: custom field « {field} »"),
    "no_field": NP_("document", "Trainee category: no custom field chosen (every trainee in e)"),
    "field_label": NP_("document", "Trainee category (user custom field)"),
    "mapping": NP_("document", "Values mapped to a line"),
    "others": NP_("document", "Other values and no value"),
    "trainees_note": NP_(
        "document",
        "A trainee is a learner with time spent in the period (connections that started in it), "
        "blocked users included; hours are whole hours, rounded.",
    ),
    "distance_note": NP_("document", "every hour counted by Learnstats is a distance-learning hour"),
    "line": NP_("document", "Line"),
    "sheet": NP_("document", "BPF F-1"),
}


class BpfError(LearnstatsError, ValueError):
    """The table cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class BpfOptions:
    """The custom field holding the trainee category and its values' lines."""

    field: str = ""
    mapping: dict[str, str] = dataclasses.field(default_factory=dict)

    def problems(self) -> list[str]:
        found = []
        for value, letter in self.mapping.items():
            if letter not in LINES:
                found.append(
                    gettext(
                        "value %(value)r: line %(line)r is not one of a, b, c, d, e", value=value, line=letter
                    )
                )
        if len(self.field) > 200:
            found.append(gettext("the custom field's name is longer than 200 characters"))
        return found

    def to_dict(self) -> dict:
        return {"field": self.field, "mapping": dict(sorted(self.mapping.items()))}

    @classmethod
    def from_dict(cls, data: Mapping | None) -> BpfOptions:
        data = dict(data or {})
        mapping = data.get("mapping") or {}
        return cls(
            field=str(data.get("field") or "").strip(),
            mapping={str(k): str(v).strip().lower() for k, v in dict(mapping).items() if str(v).strip()},
        )


def parse_map(items) -> dict[str, str]:
    """VALUE=a items (the command's --map): BpfError naming the item that is wrong."""
    mapping: dict[str, str] = {}
    for item in items:
        value, sep, letter = str(item).rpartition("=")
        letter = letter.strip().lower()
        if not sep or not value.strip():
            raise BpfError(f"--map {item!r}: expected VALUE=LINE, e.g. CDI=a")
        if letter not in LINES:
            raise BpfError(f"--map {item!r}: the line must be one of a, b, c, d, e")
        if value.strip() in mapping and mapping[value.strip()] != letter:
            raise BpfError(f"--map {item!r}: value {value.strip()!r} is mapped twice")
        mapping[value.strip()] = letter
    return mapping


def load_bpf_defaults(session: Session) -> BpfOptions:
    text = session.get(PlatformSetting, SETTINGS_KEY)
    if text is None or not text.value:
        return BpfOptions()
    try:
        return BpfOptions.from_dict(json.loads(text.value))
    except (ValueError, TypeError):
        return BpfOptions()


def save_bpf_defaults(session: Session, options: BpfOptions, user_id: str | None = None) -> None:
    """Keep the field and mapping as the platform's defaults (the caller commits)."""
    row = session.get(PlatformSetting, SETTINGS_KEY)
    if row is None:
        row = PlatformSetting(key=SETTINGS_KEY)
        session.add(row)
    row.value = json.dumps(options.to_dict(), ensure_ascii=False, sort_keys=True)
    row.updated_at = datetime.now(UTC).replace(tzinfo=None)
    row.updated_by = user_id
    session.flush()


# -- the table ---------------------------------------------------------------------------------


def whole_hours(seconds: float) -> int:
    return int(round_half_up(max(seconds, 0.0) / 3600, 0))


@dataclass(frozen=True)
class BpfTable:
    figures: BpfFigures
    options: BpfOptions
    rows: list[tuple[str, str, int, int]]  # (key: a–e, total, distance; label, trainees, hours)


def line_label(key: str, language: str) -> str:
    if key in LINE_LABELS:
        label = LINE_LABELS[key]
        if language == "en":
            label += f" ({pgettext_in('en', 'document', LINE_ENGLISH[key])})"
        return label
    return TOTAL if key == "total" else DISTANCE


def bpf_table(
    session: Session, scope: Scope, start: date, end: date, options: BpfOptions, language: str = "fr"
) -> BpfTable:
    if end < start:
        raise BpfError(
            gettext("the period ends (%(end)s) before it starts (%(start)s)", end=end, start=start)
        )
    problems = options.problems()
    if problems:
        raise BpfError("; ".join(problems))
    figures = bpf_figures(session, scope, start, end, options.field, options.mapping)
    rows = []
    for letter in LINES:
        trainees, seconds = figures.lines[letter]
        rows.append((letter, line_label(letter, language), trainees, whole_hours(seconds)))
    trainees = sum(r[2] for r in rows)
    hours = sum(r[3] for r in rows)
    rows.append(("total", TOTAL, trainees, hours))
    rows.append(("distance", DISTANCE, trainees, hours))
    return BpfTable(figures=figures, options=options, rows=rows)


def bpf_csv_bytes(table: BpfTable, delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for _key, label, trainees, hours in table.rows:
        writer.writerow([escape_cell(label), trainees, hours])
    return (CSV_BOM + buffer.getvalue()).encode("utf-8")


def _day(value: date) -> str:
    return f"{value:%d/%m/%Y}"


def _words(language: str) -> dict[str, str]:
    return {key: pgettext_in(language, "document", text) for key, text in WORDS.items()}


def _field_text(table: BpfTable, words: dict[str, str]) -> str:
    if not table.options.field:
        return words["no_field"]
    return words["field"].format(field=table.options.field)


def bpf_xlsx_bytes(table: BpfTable, language: str = "fr") -> bytes:
    words = _words(language)
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = workbook.add_worksheet(words["sheet"])
    bold = workbook.add_format({"bold": True})
    head = workbook.add_format({"bold": True, "bottom": 1, "text_wrap": True})
    total = workbook.add_format({"bold": True, "top": 1})
    sheet.write_string(0, 0, words["title"], bold)
    sheet.write_string(
        1, 0, words["period"].format(start=_day(table.figures.start), end=_day(table.figures.end))
    )
    sheet.write_string(2, 0, escape_cell(_field_text(table, words)))
    sheet.write_string(4, 0, words["line"], head)
    sheet.write_string(4, 1, COLUMNS[0], head)
    sheet.write_string(4, 2, COLUMNS[1], head)
    for r, (key, label, trainees, hours) in enumerate(table.rows, start=5):
        style = total if key == "total" else None
        sheet.write_string(r, 0, escape_cell(label), style)
        sheet.write_number(r, 1, trainees, style)
        sheet.write_number(r, 2, hours, style)
    sheet.set_column(0, 0, 62)
    sheet.set_column(1, 2, 22)
    workbook.close()
    return buffer.getvalue()


def bpf_pdf_bytes(
    session: Session, table: BpfTable, tz: tzinfo, language: str = "fr", signed_on: date | None = None
) -> bytes:
    words = _words(language)
    issuer = report_issuer(session, tz, language, signed_on)
    period = words["period"].format(start=_day(table.figures.start), end=_day(table.figures.end))
    mapping = table.options.mapping
    texts = [table.options.field, *mapping, *(r[1] for r in table.rows)]
    pdf = start_report(issuer, words["title"], period, texts)
    _facts_table(
        pdf,
        [
            (words["field_label"], table.options.field or "–"),
            (
                words["mapping"],
                ", ".join(f"{v} → {k}" for v, k in sorted(mapping.items(), key=lambda kv: (kv[1], kv[0])))
                or "–",
            ),
            (words["others"], "e"),
        ],
    )
    _heading(pdf, "Cadre F-1")
    _table(
        pdf,
        (words["line"], *COLUMNS),
        [(label, str(trainees), str(hours)) for _key, label, trainees, hours in table.rows],
        (100, 38, 44),
        ("LEFT", "RIGHT", "RIGHT"),
    )
    pdf.set_font("LsSans", "", 8)
    pdf.set_text_color(95, 101, 110)
    pdf.multi_cell(
        0,
        4,
        f"{words['trainees_note']} « {DISTANCE} »{' :' if language == 'fr' else ':'} {words['distance_note']}.",
    )
    return bytes(pdf.output())


def bpf_file(
    session: Session,
    scope: Scope,
    start: date,
    end: date,
    options: BpfOptions,
    kind: str,
    tz: tzinfo,
    language: str = "fr",
    delimiter: str = ",",
    signed_on: date | None = None,
) -> bytes:
    if kind not in KINDS:
        raise BpfError(gettext("format %(value)r: choose csv, xlsx or pdf", value=kind))
    if language not in LANGUAGES:
        raise BpfError(gettext("language %(value)r: choose fr or en", value=language))
    table = bpf_table(session, scope, start, end, options, language)
    if kind == "csv":
        return bpf_csv_bytes(table, delimiter)
    if kind == "xlsx":
        return bpf_xlsx_bytes(table, language)
    return bpf_pdf_bytes(session, table, tz, language, signed_on)


def bpf_filename(start: date, end: date, kind: str) -> str:
    return f"bpf-f1-{start:%Y-%m-%d}-{end:%Y-%m-%d}.{kind}"


__all__ = [
    "COLUMNS",
    "DISTANCE",
    "LINE_LABELS",
    "OTHER",
    "BpfError",
    "BpfOptions",
    "BpfTable",
    "bpf_csv_bytes",
    "bpf_file",
    "bpf_filename",
    "bpf_pdf_bytes",
    "bpf_table",
    "bpf_xlsx_bytes",
    "load_bpf_defaults",
    "parse_map",
    "save_bpf_defaults",
    "whole_hours",
]
