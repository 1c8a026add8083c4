"""The EDOF completion file (SPEC §10): one row per learner of a program session (blocked ones
too), as CSV or XLSX, for declaring completion on Mon Compte Formation.

Columns, in this order and titled in the file's language (French by default): Last name, First
name, Email, Session ID, Entry date (the day of the first connection in the session,
DD/MM/YYYY, platform time zone), Exit date (the day of the last disconnection), Planned
duration (the session's declared duration, `H h MM`), Realised duration (time spent in the
session, `H h MM`), Completion rate (realised ÷ planned × 100, capped at 100, one decimal),
Status ("Réalisée totalement", "Réalisée partiellement", "Non réalisée": data/rules.py
`edof_status`) and an empty "Motif" to fill in.

The declared duration is the one given (`--duration-hours`, the session page's field), else
the attestations' saved default (exports/attestation_options.py): without either the file is
not made. In the XLSX, dates are date cells shown DD/MM/YYYY, durations duration cells shown
`H h MM` (format `[h] "h" mm`), the rate a number cell shown with one decimal. Text cells go
through SPEC §7's formula rule (exports/formatting.escape_cell).

Several sessions (the command's repeated --session): their rows one after the other, session
by session in the order given, under one header (docs/decisions.md).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

import xlsxwriter
from sqlalchemy.orm import Session

from data.edof import SessionLearnerTime, session_learner_times
from data.errors import LearnstatsError
from data.rules import EDOF_DONE, EDOF_NOT_DONE, EDOF_PARTIAL, edof_completion_rate, edof_status
from data.scope import Scope
from exports.attestation_options import AttestationError, format_hours, load_defaults, parse_hours
from exports.formatting import NP_, escape_cell, gettext, hours_minutes, pgettext_in, round_half_up
from exports.tables import CSV_BOM

LANGUAGES = ("fr", "en")
HEADER = (
    NP_("document", "Last name"),
    NP_("document", "First name"),
    NP_("document", "Email"),
    NP_("document", "Session ID"),
    NP_("document", "Entry date"),
    NP_("document", "Exit date"),
    NP_("document", "Planned duration"),
    NP_("document", "Realised duration"),
    NP_("document", "Completion rate"),
    NP_("document", "Status"),
    NP_("document", "Reason"),
)
STATUS_WORDS = {
    EDOF_DONE: NP_("document", "Fully completed"),
    EDOF_PARTIAL: NP_("document", "Partially completed"),
    EDOF_NOT_DONE: NP_("document", "Not completed"),
}
SHEET = NP_("document", "EDOF")
MAX_HOURS = 10_000


class EdofError(LearnstatsError, ValueError):
    """The file cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class EdofRow:
    last_name: str
    first_name: str
    email: str
    session_id: str
    entry: date | None
    exit: date | None
    planned_seconds: float
    realised_seconds: float
    rate: float  # one decimal, capped at 100
    status: str  # EDOF_DONE, EDOF_PARTIAL or EDOF_NOT_DONE


def _local_day(moment: datetime | None, tz: tzinfo) -> date | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).astimezone(tz).date()


def planned_hours(session: Session, given) -> float:
    """The declared duration in hours: the given one (a number or a text such as "7,5"), else
    the attestations' saved default; EdofError when there is neither or it is not > 0."""
    try:
        hours = parse_hours(given) if given is not None else None
    except AttestationError as error:
        raise EdofError(str(error)) from None
    if hours is None:
        hours = load_defaults(session).duration_hours
    if hours is None:
        raise EdofError(
            gettext(
                "the declared duration of the session is needed for the completion rate: give it "
                "(in hours) or save it as the attestations' default"
            )
        )
    if not 0 < hours <= MAX_HOURS:
        raise EdofError(
            gettext(
                "the declared duration must be more than 0 and at most 10,000 hours, not %(hours)s",
                hours=format_hours(hours),
            )
        )
    return hours


def row_of(learner: SessionLearnerTime, session_id: str, planned_seconds: float, tz: tzinfo) -> EdofRow:
    raw = edof_completion_rate(learner.seconds, planned_seconds)
    rate = float(round_half_up(raw, 1)) if raw is not None else 0.0
    return EdofRow(
        last_name=learner.last_name,
        first_name=learner.first_name,
        email=learner.email,
        session_id=session_id,
        entry=_local_day(learner.first_connection, tz),
        exit=_local_day(learner.last_disconnection, tz),
        planned_seconds=planned_seconds,
        realised_seconds=learner.seconds,
        rate=rate,
        status=edof_status(rate, learner.training_completed, learner.seconds),
    )


def edof_rows(
    session: Session, scope: Scope, session_ids: Sequence[str], tz: tzinfo, duration_hours=None
) -> list[EdofRow]:
    """Every row of the file, sessions in the order given; each session checked in the
    viewer's scope before anything is made (Forbidden, UnknownSession)."""
    if not session_ids:
        raise EdofError(gettext("no session given"))
    planned = planned_hours(session, duration_hours) * 3600
    out: list[EdofRow] = []
    for session_id in dict.fromkeys(session_ids):
        program, learners = session_learner_times(session, scope, session_id)
        out += [row_of(learner, program.id, planned, tz) for learner in learners]
    return out


def header(language: str) -> list[str]:
    return [pgettext_in(language, "document", title) for title in HEADER]


def _rate_text(rate: float, decimal: str) -> str:
    return f"{rate:.1f}".replace(".", decimal)


def _day_text(day: date | None) -> str:
    return f"{day:%d/%m/%Y}" if day else ""


def text_rows(rows: Iterable[EdofRow], language: str, decimal: str = ".") -> Iterable[list[str]]:
    """The rows as the CSV writes them (every cell text; SPEC §7's formula rule applied)."""
    words = {key: pgettext_in(language, "document", text) for key, text in STATUS_WORDS.items()}
    for r in rows:
        yield [
            escape_cell(r.last_name),
            escape_cell(r.first_name),
            escape_cell(r.email),
            escape_cell(r.session_id),
            _day_text(r.entry),
            _day_text(r.exit),
            hours_minutes(r.planned_seconds),
            hours_minutes(r.realised_seconds),
            _rate_text(r.rate, decimal),
            words[r.status],
            "",
        ]


def edof_csv_bytes(rows: Sequence[EdofRow], language: str = "fr", delimiter: str = ",") -> bytes:
    """UTF-8 with a BOM, CRLF, RFC 4180 quoting; the decimal mark is "," with ";" as delimiter
    (a French spreadsheet's), "." otherwise."""
    decimal = "," if delimiter == ";" else "."
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([escape_cell(h) for h in header(language)])
    writer.writerows(text_rows(rows, language, decimal))
    return (CSV_BOM + buffer.getvalue()).encode("utf-8")


DURATION_FORMAT = '[h] "h" mm'
RATE_FORMAT = "0.0"
DATE_FORMAT = "dd/mm/yyyy"
_WIDTHS = (18, 16, 30, 14, 12, 12, 14, 14, 14, 22, 24)


def _days(seconds: float) -> float:
    """A duration as a spreadsheet holds it (days), rounded to the minute as the text is."""
    minutes = int(round_half_up(max(seconds, 0.0) / 60, 0))
    return minutes / 1440


def edof_xlsx_bytes(rows: Sequence[EdofRow], language: str = "fr") -> bytes:
    """One sheet: bold frozen header with filters, real date, duration and number cells."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = workbook.add_worksheet(pgettext_in(language, "document", SHEET))
    bold = workbook.add_format({"bold": True, "bottom": 1})
    day = workbook.add_format({"num_format": DATE_FORMAT})
    duration = workbook.add_format({"num_format": DURATION_FORMAT})
    rate = workbook.add_format({"num_format": RATE_FORMAT})
    words = {key: pgettext_in(language, "document", text) for key, text in STATUS_WORDS.items()}
    titles = header(language)
    for col, title in enumerate(titles):
        sheet.write_string(0, col, escape_cell(title), bold)
        sheet.set_column(col, col, max(_WIDTHS[col], len(title) + 2))
    for r, row in enumerate(rows, start=1):
        for col, text in enumerate((row.last_name, row.first_name, row.email, row.session_id)):
            sheet.write_string(r, col, escape_cell(text))
        for col, value in ((4, row.entry), (5, row.exit)):
            if value is not None:
                sheet.write_datetime(r, col, datetime.combine(value, datetime.min.time()), day)
        sheet.write_number(r, 6, _days(row.planned_seconds), duration)
        sheet.write_number(r, 7, _days(row.realised_seconds), duration)
        sheet.write_number(r, 8, row.rate, rate)
        sheet.write_string(r, 9, words[row.status])
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(rows), 1), len(titles) - 1)
    workbook.close()
    return buffer.getvalue()


def edof_file(
    session: Session,
    scope: Scope,
    session_ids: Sequence[str],
    tz: tzinfo,
    kind: str,
    language: str = "fr",
    duration_hours=None,
    delimiter: str = ",",
) -> bytes:
    """The file's bytes ("csv" or "xlsx"); everything is checked before anything is made."""
    if language not in LANGUAGES:
        raise EdofError(gettext("language %(value)r: choose fr or en", value=language))
    if kind not in ("csv", "xlsx"):
        raise EdofError(gettext("format %(value)r: choose csv or xlsx", value=kind))
    rows = edof_rows(session, scope, session_ids, tz, duration_hours)
    if kind == "xlsx":
        return edof_xlsx_bytes(rows, language)
    return edof_csv_bytes(rows, language, delimiter)


def edof_filename(session_ids: Sequence[str], kind: str, today: date) -> str:
    from exports.attestations import _safe

    name = _safe(session_ids[0]) if len(session_ids) == 1 else "sessions"
    return f"edof-{name or 'session'}-{today:%Y-%m-%d}.{kind}"


__all__ = [
    "HEADER",
    "EdofError",
    "EdofRow",
    "edof_csv_bytes",
    "edof_file",
    "edof_filename",
    "edof_rows",
    "edof_xlsx_bytes",
    "planned_hours",
]
