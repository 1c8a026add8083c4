"""Feuille d'émargement par demi-journée of a program session (SPEC §10), XLSX and PDF.

A row per learner of the session (registered or connected in it, blocked ones too), ordered as
every list of people; the columns Last name, First name, Email, then one per half-day on which at
least one of them connected, in time order, titled "DD/MM/YYYY matin" / "DD/MM/YYYY après-midi"
(English: morning, afternoon), then Total. A cell is the time connected in that half-day
(data/half_days.py cuts the connections at 13:00 and midnight, real lengths), empty when none:
in XLSX a duration cell shown [h]:mm (the value rounded to the nearest minute), in the PDF
"H h MM"; Total is the exact sum rounded to the minute.

The PDF is A4 landscape with the organisation block of the attestations (their saved defaults,
exports/attestation_options.py) and "Fait à … le …" with the stamp; the half-day columns that do
not fit a page go on the next pages, each repeating the learners' names.

`session_attendance` reads; `attendance_xlsx` / `attendance_pdf` return bytes; the command
`export-attendance` and the download route wrap them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo

import xlsxwriter
from sqlalchemy.orm import Session

from data.half_days import MORNING
from data.models import Training
from data.scope import Scope
from data.session_records import Person, session_half_days, session_people
from exports.attestation_options import AttestationError, AttestationOptions
from exports.attestations import (
    FONT,
    HEAD_FILL,
    INK,
    MUTED,
    ROW_FILL,
    RULE,
    SessionFacts,
    _Document,
    _facts_table,
    _letterhead,
    _signature,
    _signed_text,
    _title,
    _wrap,
    load_issuer,
    require_session,
)
from exports.formatting import NP_, escape_cell, gettext, hours_minutes, pgettext_in, round_half_up

FORMATS = ("xlsx", "pdf")
DURATION_FORMAT = "[h]:mm"

WORDING = {
    "title": NP_("document", "HALF-DAY ATTENDANCE SHEET"),
    "subtitle": NP_("document", "Time connected per half-day (morning before 13:00, {zone})"),
    "sheet": NP_("document", "Attendance"),
    "info_sheet": NP_("document", "Session"),
    "last_name": NP_("document", "Last name"),
    "first_name": NP_("document", "First name"),
    "email": NP_("document", "Email"),
    "total": NP_("document", "Total"),
    "morning": NP_("document", "morning"),
    "afternoon": NP_("document", "afternoon"),
    "organisation": NP_("document", "Training organisation"),
    "training": NP_("document", "Training"),
    "session": NP_("document", "Session"),
    "session_dates": NP_("document", "Session dates"),
    "session_start": NP_("document", "Start of the session"),
    "session_end": NP_("document", "End of the session"),
    "declared_duration": NP_("document", "Declared duration of the training sessions"),
    "time_zone": NP_("document", "Time zone"),
    "learners": NP_("document", "Learners"),
    "from_to": NP_("document", "from {start} to {end}"),
    "no_dates": NP_("document", "dates not given"),
    "nobody": NP_("document", "No learner connected in this session."),
    "signed": NP_("document", "Signed at {place} on {date}"),
    "stamp": NP_("document", "Stamp and signature"),
    "running_head": NP_("document", "{title} · session {session}"),
    "columns_part": NP_("document", "Half-days {first} to {last} of {count}"),
}


def words(language: str) -> dict[str, str]:
    return {key: pgettext_in(language, "document", text) for key, text in WORDING.items()}


@dataclass(frozen=True)
class AttendanceRow:
    person: Person
    seconds: dict[tuple[date, str], float]  # half-day -> exact seconds

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


@dataclass(frozen=True)
class Attendance:
    facts: SessionFacts
    columns: list[tuple[date, str]]  # half-days in time order
    rows: list[AttendanceRow]


def session_attendance(session: Session, scope: Scope, session_id: str, tz: tzinfo) -> Attendance:
    """The sheet's contents in the viewer's scope (Forbidden outside it)."""
    program = require_session(session, scope, session_id)
    training = session.get(Training, program.training_id)
    facts = SessionFacts(
        session_id=program.id,
        session_name=program.name or program.id,
        training_id=program.training_id,
        training_name=(training.name if training else "") or program.training_id,
        starts_at=program.starts_at,
        ends_at=program.ends_at,
    )
    people = session_people(session, scope, session_id)
    halves = session_half_days(session, scope, session_id, [p.user_id for p in people], tz)
    rows = []
    columns: set[tuple[date, str]] = set()
    for person in people:
        seconds = {(h.day, h.half): h.seconds for h in halves.get(person.user_id, [])}
        columns |= set(seconds)
        rows.append(AttendanceRow(person, seconds))
    ordered = sorted(columns, key=lambda c: (c[0], 0 if c[1] == MORNING else 1))
    return Attendance(facts, ordered, rows)


def column_title(column: tuple[date, str], language: str) -> str:
    """ "07/12/2026 matin", "07/12/2026 après-midi" (en: morning, afternoon)."""
    day, half = column
    return f"{day:%d/%m/%Y} {words(language)[half]}"


def header(attendance: Attendance, language: str) -> list[str]:
    w = words(language)
    return [
        w["last_name"],
        w["first_name"],
        w["email"],
        *(column_title(c, language) for c in attendance.columns),
        w["total"],
    ]


def whole_minutes(seconds: float) -> int:
    """The nearest minute (30 s rounds up), as every duration of the files."""
    return int(round_half_up(max(seconds, 0.0) / 60, 0))


def _local_day(moment: datetime | None, tz: tzinfo) -> str:
    return f"{moment.replace(tzinfo=UTC).astimezone(tz):%d/%m/%Y}" if moment else ""


def _dates_text(facts: SessionFacts, w: dict[str, str], tz: tzinfo) -> str:
    if not (facts.starts_at or facts.ends_at):
        return w["no_dates"]
    return w["from_to"].format(
        start=_local_day(facts.starts_at, tz) or "–", end=_local_day(facts.ends_at, tz) or "–"
    )


def _created(signed_on: date, tz: tzinfo) -> datetime:
    return datetime.combine(signed_on, time(12), tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def attendance_xlsx(
    attendance: Attendance,
    options: AttestationOptions,
    tz: tzinfo,
    signed_on: date,
    language: str = "fr",
) -> bytes:
    """The sheet as XLSX: the table on the first sheet (bold frozen header, names as text,
    every duration a number of days shown [h]:mm), the session's facts on the second."""
    w = words(language)
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    workbook.set_properties(
        {"title": w["title"].capitalize(), "author": options.org_name, "created": _created(signed_on, tz)}
    )
    sheet = workbook.add_worksheet(w["sheet"][:31])
    bold = workbook.add_format({"bold": True, "bottom": 1, "text_wrap": True, "valign": "top"})
    duration = workbook.add_format({"num_format": DURATION_FORMAT})
    total_format = workbook.add_format({"num_format": DURATION_FORMAT, "bold": True})
    titles = header(attendance, language)
    for col, title in enumerate(titles):
        sheet.write_string(0, col, escape_cell(title), bold)
    widths = [len(t) for t in titles[:3]]
    for r, row in enumerate(attendance.rows, start=1):
        p = row.person
        for col, text in enumerate((p.last_name, p.first_name, p.email)):
            if text:
                sheet.write_string(r, col, escape_cell(text))
                widths[col] = max(widths[col], len(text))
        for offset, column in enumerate(attendance.columns):
            seconds = row.seconds.get(column)
            if seconds is not None:
                sheet.write_number(r, 3 + offset, whole_minutes(seconds) / 1440, duration)
        sheet.write_number(
            r, 3 + len(attendance.columns), whole_minutes(row.total_seconds) / 1440, total_format
        )
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(40, width + 2))
    sheet.set_column(3, 3 + len(attendance.columns), 12)
    sheet.set_row(0, 30)
    sheet.freeze_panes(1, 3)
    info = workbook.add_worksheet(w["info_sheet"][:31])
    facts = attendance.facts

    def local_day(moment: datetime | None) -> datetime | None:
        if moment is None:
            return None
        return datetime.combine(moment.replace(tzinfo=UTC).astimezone(tz).date(), time(0))

    # Dates and the declared duration are real cells (a date shown dd/mm/yyyy, a duration [h]:mm).
    lines: list[tuple[str, object]] = [
        (w["organisation"], options.org_name),
        (w["training"], facts.training_name),
        (w["session"], f"{facts.session_name} ({facts.session_id})"),
        (w["session_start"], local_day(facts.starts_at)),
        (w["session_end"], local_day(facts.ends_at)),
        (w["declared_duration"], ("duration", options.duration_hours)),
        (w["time_zone"], getattr(tz, "key", str(tz))),
        (w["learners"], len(attendance.rows)),
    ]
    label = workbook.add_format({"bold": True})
    day_format = workbook.add_format({"num_format": "dd/mm/yyyy", "align": "left"})
    left_duration = workbook.add_format({"num_format": DURATION_FORMAT, "align": "left"})
    left_number = workbook.add_format({"align": "left"})
    for r, (name, value) in enumerate(lines):
        info.write_string(r, 0, escape_cell(name), label)
        if isinstance(value, datetime):
            info.write_datetime(r, 1, value, day_format)
        elif isinstance(value, tuple):
            if value[1]:
                info.write_number(r, 1, whole_minutes(value[1] * 3600) / 1440, left_duration)
        elif isinstance(value, int):
            info.write_number(r, 1, value, left_number)
        elif value:
            info.write_string(r, 1, escape_cell(str(value)))
    info.set_column(0, 0, 42)
    info.set_column(1, 1, 60)
    workbook.close()
    return buffer.getvalue()


# -- PDF ---------------------------------------------------------------------------------------

NAME_WIDTHS = (32.0, 26.0, 50.0)  # mm: last name, first name, email
HALF_WIDTH = 20.5  # mm: one half-day column
TOTAL_WIDTH = 20.5
LINE_H = 4.0
PAD_X, PAD_Y = 1.2, 0.8


class _Landscape(_Document):
    def __init__(self, issuer, title, running_head, texts):
        super().__init__(issuer, title, running_head, texts, orientation="L")


def attendance_pdf(
    session: Session,
    attendance: Attendance,
    options: AttestationOptions,
    tz: tzinfo,
    signed_on: date,
) -> bytes:
    """The sheet as an A4 landscape PDF: the letterhead, the session's facts, then the table
    in as many column parts as its half-days need, each repeating the learners' names (and its
    header on every page it continues on); the Total in the last part; place, date, stamp."""
    issuer = load_issuer(session, options, tz, signed_on)
    language = options.language
    w = words(language)
    facts = attendance.facts
    texts = [
        options.org_name, options.address, options.legal_representative, options.place, options.footer,
        facts.session_name, facts.training_name, facts.session_id,
        *(t for row in attendance.rows for t in (row.person.first_name, row.person.last_name, row.person.email)),
        *w.values(),
    ]  # fmt: skip
    pdf = _Landscape(
        issuer,
        f"{w['title'].capitalize()} · {facts.session_name}",
        w["running_head"].format(title=w["title"].capitalize(), session=facts.session_id),
        texts,
    )
    pdf.set_margins(12, 12, 12)
    pdf.alias_nb_pages()
    pdf.add_page()
    _letterhead(pdf)
    _title(pdf, w["title"], w["subtitle"].format(zone=getattr(tz, "key", str(tz))))
    _facts_table(
        pdf,
        [
            (w["training"], facts.training_name),
            (w["session"], f"{facts.session_name} ({facts.session_id})"),
            (w["session_dates"], _dates_text(facts, w, tz)),
            (
                w["declared_duration"],
                hours_minutes(options.duration_hours * 3600) if options.duration_hours else "–",
            ),
            (w["learners"], str(len(attendance.rows))),
        ],
    )
    usable = pdf.w - pdf.l_margin - pdf.r_margin - sum(NAME_WIDTHS)
    per_part = max(1, int((usable - TOTAL_WIDTH) // HALF_WIDTH))
    columns = attendance.columns
    parts = [columns[i : i + per_part] for i in range(0, len(columns), per_part)] or [[]]
    for number, part in enumerate(parts):
        last = number == len(parts) - 1
        if number:
            pdf.add_page()
        if len(parts) > 1:
            first_index = number * per_part + 1
            pdf.set_font(FONT, "B", 9)
            pdf.cell(
                0,
                5,
                w["columns_part"].format(
                    first=first_index, last=first_index + len(part) - 1, count=len(columns)
                ),
                new_x="LMARGIN",
                new_y="NEXT",
            )
        _attendance_table(pdf, attendance, part, last, language)
    if not attendance.rows:
        pdf.set_font(FONT, "", 9)
        pdf.cell(0, 6, w["nobody"], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _signature(pdf, [_signed_text(issuer, w["signed"])], w["stamp"])
    return bytes(pdf.output())


def _attendance_table(pdf, attendance: Attendance, part, with_total: bool, language: str) -> None:
    w = words(language)
    titles = [w["last_name"], w["first_name"], w["email"]]
    widths = list(NAME_WIDTHS)
    for column in part:
        titles.append(f"{column[0]:%d/%m/%Y}\n{w[column[1]]}")
        widths.append(HALF_WIDTH)
    if with_total:
        titles.append(w["total"])
        widths.append(TOTAL_WIDTH)
    aligns = ["L", "L", "L", *(["R"] * (len(widths) - 3))]

    def lines_of(text: str, width: float) -> list[str]:
        out = []
        for paragraph in text.split("\n"):
            out += _wrap(pdf, paragraph, width - 2 * PAD_X) if paragraph else [""]
        return out

    def draw(cells: list[str], style: str, fill) -> None:
        pdf.set_font(FONT, style, 7.5)
        wrapped = [lines_of(text, width) for text, width in zip(cells, widths, strict=True)]
        height = max(len(x) for x in wrapped) * LINE_H + 2 * PAD_Y
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
            if style == "":
                draw(titles, "B", HEAD_FILL)
                pdf.set_font(FONT, style, 7.5)
        x, y = pdf.l_margin, pdf.get_y()
        if fill is not None:
            pdf.set_fill_color(*fill)
            pdf.rect(x, y, sum(widths), height, style="F")
        for lines, width, side in zip(wrapped, widths, aligns, strict=True):
            for n, line in enumerate(lines):
                pdf.set_xy(x + PAD_X, y + PAD_Y + n * LINE_H)
                pdf.cell(width - 2 * PAD_X, LINE_H, line, align=side)
            x += width
        pdf.set_draw_color(*RULE)
        pdf.line(pdf.l_margin, y + height, pdf.l_margin + sum(widths), y + height)
        pdf.set_xy(pdf.l_margin, y + height)

    pdf.set_text_color(*INK)
    pdf.set_line_width(0.2)
    draw(titles, "B", HEAD_FILL)
    for number, row in enumerate(attendance.rows):
        p = row.person
        cells = [p.last_name, p.first_name, p.email]
        for column in part:
            seconds = row.seconds.get(column)
            cells.append(hours_minutes(seconds) if seconds is not None else "")
        if with_total:
            cells.append(hours_minutes(row.total_seconds))
        draw(cells, "", ROW_FILL if number % 2 else None)
    pdf.set_text_color(*MUTED)
    pdf.set_text_color(*INK)


def attendance_file(
    session: Session,
    scope: Scope,
    session_id: str,
    kind: str,
    options: AttestationOptions,
    tz: tzinfo,
    signed_on: date,
) -> bytes:
    """The sheet in one format ("xlsx" or "pdf"), in the viewer's scope. The PDF needs the
    attestations' organisation block (options.check()); the XLSX only names the organisation."""
    if kind not in FORMATS:
        raise AttestationError(gettext("the format must be xlsx or pdf, not %(kind)r", kind=kind))
    attendance = session_attendance(session, scope, session_id, tz)
    if kind == "xlsx":
        return attendance_xlsx(attendance, options, tz, signed_on, options.language)
    return attendance_pdf(session, attendance, options.check(), tz, signed_on)


def attendance_filename(session_id: str, kind: str, signed_on: date) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in session_id)[:60]
    return f"emargement_{safe}_{signed_on:%Y-%m-%d}.{kind}"


__all__ = [
    "Attendance",
    "AttendanceRow",
    "attendance_file",
    "attendance_filename",
    "attendance_pdf",
    "attendance_xlsx",
    "column_title",
    "header",
    "session_attendance",
]
