"""OPCO logs (SPEC §7): one row per connection to a course inside a program session.

Pure functions: they read the database through the caller's SQLAlchemy session, restricted to
the viewer's scope, and return rows, bytes or write a workbook. The Flask download route, the
"receive by email" job and the `export-opco-logs` command all wrap them.

Rows are streamed: the main query is read in batches (``yield_per``: a server-side cursor on
PostgreSQL), each batch's labels and custom fields are fetched with one query each, and the
CSV is yielded chunk by chunk, so memory stays flat whatever the number of rows.

Every public function checks the request before it returns (not when the first row is read):
a session outside the scope raises data.scope.Forbidden and a bad filter raises OpcoLogsError at
call time, so a streaming response can still answer 403/400 before any byte is sent.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import IO, Any

import xlsxwriter
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    String,
    and_,
    collate,
    exists,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from data.errors import LearnstatsError
from data.models import ClassMember, Connection, Module, ProgramSession, Training, User, UserField, UserLabel
from data.scope import Forbidden, Scope
from data.text import fold
from exports.formatting import (
    N_,
    NP_,
    escape_cell,
    escape_row,
    fmt_int,
    format_duration,
    format_local,
    pgettext_in,
)
from exports.formatting import gettext as _
from exports.opco_granularities import (
    GRANULARITIES,
    OPCA_LOGS,
    SESSION,
    columns_of,
    grouped_statement,
    header_of,
    learner_row_batches,
    session_row_batches,
    sheet_name,
    write_typed_xlsx,
)
from exports.xlsx_stream import InlineRows, excel_day, excel_serial

# SPEC §7's titles, the default; their French (Nom, Prénom, …: an export option, titles="fr")
# is the catalogue's, under the context "opco-logs" (NP_).
FIXED_BEFORE_FIELDS = (
    NP_("opco-logs", "Last name"),
    NP_("opco-logs", "First name"),
    NP_("opco-logs", "Email"),
)
FIXED_AFTER_FIELDS = (
    NP_("opco-logs", "Additional information"),
    NP_("opco-logs", "Labels"),
    NP_("opco-logs", "Session"),
    NP_("opco-logs", "Session ID"),
    NP_("opco-logs", "Program template"),
    NP_("opco-logs", "Program template ID"),
    NP_("opco-logs", "Course"),
    NP_("opco-logs", "Connected"),
    NP_("opco-logs", "Disconnected"),
    NP_("opco-logs", "Time spent"),
)
TITLES = ("en", "fr")
DELIMITERS = (",", ";")
BOM = "\ufeff"
# Rows read from the database per batch (and per CSV chunk).
BATCH_ROWS = 1000
# An XLSX sheet holds 1,048,576 rows, the header included.
XLSX_MAX_ROWS = 1_048_575
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"


class OpcoLogsError(LearnstatsError, ValueError):
    """A request the export cannot answer; the message says what is wrong."""


class UnknownField(OpcoLogsError):
    """A custom field named in `columns` or in the field filters does not exist."""


class UnknownSession(OpcoLogsError):
    """A session id in the filters does not exist (global viewers; others get Forbidden)."""


@dataclass(frozen=True)
class OpcoLogFilters:
    """What to export. Empty tuples mean "no restriction"."""

    # Inclusive, in the platform time zone; a connection belongs to the day it started on.
    date_from: date | None = None
    date_to: date | None = None
    user_ids: tuple[str, ...] = ()
    # Classes ("groups" in the OPCO export): connections of their members.
    class_ids: tuple[str, ...] = ()
    session_ids: tuple[str, ...] = ()
    # (field name, value) pairs: the same field twice = either value, different fields = both.
    fields: tuple[tuple[str, str], ...] = ()
    # Custom field columns to include; None = every field. Always written in alphabetical order.
    columns: tuple[str, ...] | None = None
    # The fixed columns' titles: "en" (SPEC §7's, the default) or "fr" (Nom, Prénom, …).
    titles: str = "en"
    # SPEC §9's granularity: "opca-logs" (one row per connection, SPEC §7: the default),
    # "learner-session", "learner-course" or "session" (exports/opco_granularities.py).
    granularity: str = "opca-logs"


# -- public API ------------------------------------------------------------------------------


def opco_log_header(session: Session, scope: Scope, filters: OpcoLogFilters) -> list[str]:
    """The header row: fixed columns around one column per selected custom field."""
    _check_request(session, scope, filters)
    if filters.granularity != OPCA_LOGS:
        return header_of(filters.granularity, _field_columns(session, filters), filters.titles)
    return _header(_field_columns(session, filters), filters.titles)


def iter_opco_log_rows(
    session: Session, scope: Scope, filters: OpcoLogFilters, tz: tzinfo
) -> Iterator[list[str]]:
    """The data rows (no header), as cell texts, in SPEC §7's order, read lazily in batches.

    Texts as stored: the file writers (iter_opco_logs_csv, write_opco_logs_xlsx) escape cells
    that a spreadsheet would run as formulas (escape_cell)."""
    _, batches = _prepare(session, scope, filters, tz)
    return (row for batch in batches for row in batch)


def iter_opco_logs_csv(
    session: Session, scope: Scope, filters: OpcoLogFilters, tz: tzinfo, delimiter: str = ","
) -> Iterator[bytes]:
    """The CSV file as chunks of bytes: BOM and header first, then one chunk per batch of rows.

    UTF-8 with a byte order mark, RFC 4180 quoting (only where needed), CRLF line ends. Every
    cell and header that starts like a formula gets a leading apostrophe (SPEC §7, escape_cell).
    """
    if delimiter not in DELIMITERS:
        raise OpcoLogsError(
            _(
                "the CSV delimiter must be one of %(choices)s, not %(delimiter)r",
                choices=" ".join(DELIMITERS),
                delimiter=delimiter,
            )
        )
    if filters.granularity == OPCA_LOGS:
        return _logs_csv_chunks(*_prepare_logs(session, scope, filters, tz), delimiter)
    header, batches = _prepare(session, scope, filters, tz)
    return _csv_chunks(header, batches, delimiter)


# The workbook's creation time (docProps/core.xml) when no end date is given: the date
# XlsxWriter gives the archive's entries. See xlsx_created.
XLSX_CREATED_WITHOUT_END = datetime(1980, 1, 1, tzinfo=UTC)


def xlsx_created(filters: OpcoLogFilters, tz: tzinfo) -> datetime:
    """The creation time written in the workbook: the end of the last exported day (midnight
    after filters.date_to in the platform time zone, in UTC), else XLSX_CREATED_WITHOUT_END.
    Never the clock: the same filters give the same bytes (Download now, the emailed file and
    the command line agree byte for byte)."""
    if filters.date_to is None:
        return XLSX_CREATED_WITHOUT_END
    end = datetime.combine(filters.date_to + timedelta(days=1), time(0), tzinfo=tz)
    return end.astimezone(UTC)


def write_opco_logs_xlsx(
    session: Session,
    scope: Scope,
    filters: OpcoLogFilters,
    tz: tzinfo,
    target: str | os.PathLike[str] | IO[bytes],
) -> None:
    """Write the XLSX file to target (a path or a binary file object).

    XlsxWriter's constant-memory mode writes each row out as soon as the next one starts.
    Connected and Disconnected are date cells shown DD/MM/YYYY HH:MM, Time spent a duration
    cell (days, summable) shown DD:HH:MM (exports.tables.duration_cell); every other cell is
    written as a string, the same text as in the CSV (an empty text leaves the cell empty),
    escaped like the CSV's (escape_cell). Bold header row, frozen. Its creation time is
    xlsx_created(filters, tz).
    """
    header, batches = _prepare(session, scope, filters, tz)
    if filters.granularity != OPCA_LOGS:
        kinds = [kind for _, kind in columns_of(filters.granularity, _field_columns(session, filters))]
        write_typed_xlsx(
            target,
            sheet_name(filters.granularity, filters.titles),
            header,
            ["text" if kind == "field" else kind for kind in kinds],
            batches,
            xlsx_created(filters, tz),
            XLSX_MAX_ROWS,
            _too_many_rows,
        )
        return
    _write_logs_xlsx(*_prepare_logs(session, scope, filters, tz), filters, tz, target)


def _write_logs_xlsx(
    header: list[str],
    reader: _LogReader,
    instants: _Instants,
    filters: OpcoLogFilters,
    tz: tzinfo,
    target: str | os.PathLike[str] | IO[bytes],
) -> None:
    """The OPCA logs' workbook (write_opco_logs_xlsx). The data rows' XML is built from pieces
    made once per learner, session, course and duration (exports/xlsx_stream.py): the same
    bytes as XlsxWriter's write_string / write_datetime / write_number cell by cell."""
    # XlsxWriter writes target only in close(): an error while reading rows leaves it untouched.
    workbook = xlsxwriter.Workbook(target, {"constant_memory": True})
    workbook.set_properties({"created": xlsx_created(filters, tz)})
    sheet = workbook.add_worksheet(pgettext_in(filters.titles, "opco-logs", NP_("opco-logs", "OPCO logs")))
    bold = workbook.add_format({"bold": True})
    for col, title in enumerate(header):
        sheet.set_column(col, col, _column_width(title))
    sheet.freeze_panes(1, 0)
    for col, title in enumerate(header):
        sheet.write_string(0, col, escape_cell(title), bold)
    moment_format = workbook.add_format({"num_format": DATETIME_FORMAT})
    connected_col = len(header) - 3  # Connected, Disconnected, Time spent close every row
    program_col = connected_col - 5  # Session, Session ID, Program template (ID), Course
    out = InlineRows(sheet, first_row=1)
    letters = [out.letter(col) for col in range(connected_col, connected_col + 3)]
    moment_head = [f'<c r="{letter}' for letter in letters[:2]]
    duration_head = f'<c r="{letters[2]}'
    moment_tail = ""  # ' s="N"><v>' once the date format has its index (first data row)
    duration_formats: dict[str, Any] = {}
    duration_tails: dict[str, str] = {}  # DD:HH:MM -> the cell's XML after its reference
    programs: dict[str, list[str]] = {}
    modules: dict[str, list[str]] = {}

    def text_pieces(first_col: int, cells: list[str]) -> list[str]:
        return out.pieces(
            [
                (first_col + i, out.text_tail(first_col + i, escape_cell(text)))
                for i, text in enumerate(cells)
                if text
            ]
        )

    def duration_tail(text: str) -> str:
        days, hours, minutes = (int(part) for part in text.split(":"))
        num_format = f'"{days:02d}:"hh:mm'
        duration_format = duration_formats.get(num_format)
        if duration_format is None:
            duration_format = duration_formats[num_format] = workbook.add_format({"num_format": num_format})
        if len(duration_tails) > 100_000:
            duration_tails.clear()
        tail = duration_tails[text] = out.number_tail(
            days + (hours * 60 + minutes) / 1440, duration_format._get_xf_index()
        )
        return tail

    def serial_of_text(text: str) -> float:  # DD/MM/YYYY HH:MM, as format_local writes it
        moment = datetime(int(text[6:10]), int(text[3:5]), int(text[0:2]), int(text[11:13]), int(text[14:16]))
        return excel_serial(excel_day(moment), moment.hour * 3600 + moment.minute * 60)

    def hour_serial(key: str) -> tuple[int, int]:
        local = instants.hour(key)  # DD/MM/YYYY HH:
        moment = datetime(int(local[6:10]), int(local[3:5]), int(local[0:2]), int(local[11:13]))
        if len(serials) > 100_000:
            serials.clear()
        found = serials[key] = (excel_day(moment), moment.hour * 3600)
        return found

    fast = instants.fast
    serials = instants.serials
    durations = instants.durations
    duration_text = instants.duration
    fromiso = datetime.fromisoformat
    row_number = 0
    for people, rows in reader.batches():
        users = {user_id: text_pieces(0, cells) for user_id, cells in people.items()}
        xml = []
        append = xml.append
        for user_id, _last, _first, _email, _info, session_id, module_id, start, end in rows:
            row_number += 1
            if row_number > XLSX_MAX_ROWS:
                raise _too_many_rows()
            if not moment_tail:
                moment_tail = f'" s="{moment_format._get_xf_index()}"><v>'
            program = programs.get(session_id)
            if program is None:
                program = programs[session_id] = text_pieces(program_col, reader.programs[session_id])
            module = modules.get(module_id)
            if module is None:
                module = modules[module_id] = text_pieces(program_col + 4, [reader.modules[module_id]])
            if fast and start.__class__ is str and end.__class__ is str and len(start) == len(end) == 26:
                day, seconds = serials.get(start[:13]) or hour_serial(start[:13])
                start_serial = excel_serial(day, seconds + 60 * int(start[14:16]))
                day, seconds = serials.get(end[:13]) or hour_serial(end[:13])
                end_serial = excel_serial(day, seconds + 60 * int(end[14:16]))
                elapsed = fromiso(end) - fromiso(start)
                spent = durations.get(elapsed) or duration_text(elapsed)
            else:
                connected, disconnected, spent = instants.texts(start, end)
                start_serial, end_serial = serial_of_text(connected), serial_of_text(disconnected)
            n = str(row_number + 1)
            append(
                f'<row r="{n}">{n.join(users[user_id])}{n.join(program)}{n.join(module)}'
                f"{moment_head[0]}{n}{moment_tail}{start_serial:.16G}</v></c>"
                f"{moment_head[1]}{n}{moment_tail}{end_serial:.16G}</v></c>"
                f'{duration_head}{n}"{duration_tails.get(spent) or duration_tail(spent)}</row>'
            )
        out.write("".join(xml))
    out.close(row_number)
    workbook.close()


def _too_many_rows() -> OpcoLogsError:
    return OpcoLogsError(
        _(
            "more than %(count)s rows do not fit in an XLSX sheet: export CSV or narrow the filters",
            count=fmt_int(XLSX_MAX_ROWS),
        )
    )


def _prepare_logs(
    session: Session, scope: Scope, filters: OpcoLogFilters, tz: tzinfo
) -> tuple[list[str], _LogReader, _Instants]:
    """The OPCA logs' files: check the request now; the header, the (lazy) reader and the
    instants' formats."""
    _check_request(session, scope, filters)
    field_columns = _field_columns(session, filters)
    statement = _statement(scope, filters, tz, _dialect(session), narrow=True)
    return (
        _header(field_columns, filters.titles),
        _LogReader(session, statement, field_columns),
        _Instants(tz, session.get_bind().dialect),
    )


def _prepare(
    session: Session, scope: Scope, filters: OpcoLogFilters, tz: tzinfo
) -> tuple[list[str], Iterator[list[list[str]]]]:
    """Check the request now, and return the header and the (lazy) batches of rows."""
    _check_request(session, scope, filters)
    field_columns = _field_columns(session, filters)
    dialect = _dialect(session)
    if filters.granularity == OPCA_LOGS:
        statement = _statement(scope, filters, tz, dialect, narrow=True)
        return _header(field_columns, filters.titles), _row_batches(session, statement, field_columns, tz)
    statement = _statement(scope, filters, tz, dialect)
    # SPEC §9's other granularities: the same rows, aggregated (exports/opco_granularities.py).
    header = header_of(filters.granularity, field_columns, filters.titles)
    grouped = grouped_statement(statement, dialect)
    if filters.granularity == SESSION:
        return header, session_row_batches(session, grouped, filters, tz, _LocalText(tz))
    return header, learner_row_batches(
        session, grouped, filters.granularity, field_columns, tz, filters.titles, _LocalText(tz)
    )


# Filters that match no connection: the reason (in a job's "Failed: …") and the sentence (the
# download route's 404 page, the dialog before anyone clicks).
NOTHING_MATCHES = N_(
    "no connection matches these filters, so there is nothing to export: widen the dates or "
    "change the filters"
)
NOTHING_TO_EXPORT = N_(
    "No connection matches these filters, so there is nothing to export: widen the dates or "
    "change the filters."
)


def has_opco_log_rows(session: Session, scope: Scope, filters: OpcoLogFilters, tz: tzinfo) -> bool:
    """Whether the export would hold at least one row (checked, as the export itself would be,
    for the viewer's scope): a file of a lone header is not sent to anyone (issue 12)."""
    _check_request(session, scope, filters)
    # No ORDER BY: sorting every matching row to keep the first cost 57 ms on 10,000 learners
    # (the OPCO dialog asks at each change of its filters); unsorted, the first row is enough.
    statement = _statement(scope, filters, tz, _dialect(session)).order_by(None).limit(1)
    return session.execute(statement).first() is not None


# -- checks ----------------------------------------------------------------------------------


def _check_request(session: Session, scope: Scope, filters: OpcoLogFilters) -> None:
    """Refuse what the viewer may not export, and filters that cannot be answered."""
    # SPEC §6: session instructors, training managers and global roles export session logs;
    # anyone else (a learner, a class manager) is answered 403, not an empty file.
    if not (scope.is_global or scope.sessions or scope.trainings):
        raise Forbidden(_("exporting OPCO logs needs a session instructor, training manager or global role"))
    if filters.granularity not in GRANULARITIES:
        raise OpcoLogsError(
            _(
                "granularity: %(value)r is not one of %(choices)s",
                value=filters.granularity,
                choices=", ".join(GRANULARITIES),
            )
        )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise OpcoLogsError(
            _(
                "the start date %(start)s is after the end date %(end)s",
                start=filters.date_from.isoformat(),
                end=filters.date_to.isoformat(),
            )
        )
    if filters.session_ids:
        asked = set(filters.session_ids)
        visible = set(
            session.scalars(
                select(ProgramSession.id).where(
                    ProgramSession.id.in_(sorted(asked)),
                    scope.session_filter(ProgramSession.id, ProgramSession.training_id),
                )
            )
        )
        missing = sorted(asked - visible)
        if missing:
            if not scope.is_global:
                # Unknown or someone else's: the same answer, so ids cannot be probed.
                raise Forbidden(_("session(s) outside your scope: %(ids)s", ids=", ".join(missing)))
            raise UnknownSession(_("unknown session id(s): %(ids)s", ids=", ".join(missing)))
    filtered_fields = {name for name, _ in filters.fields}
    named = filtered_fields | set(filters.columns or ())
    if named:
        known = _known_fields(session, named)
        unknown_columns = sorted(set(filters.columns or ()) - known, key=_text_key)
        if unknown_columns:
            raise UnknownField(
                _("unknown custom field column(s): %(names)s", names=", ".join(unknown_columns))
            )
        unknown_filters = sorted(filtered_fields - known, key=_text_key)
        if unknown_filters:
            raise UnknownField(
                _("unknown custom field(s) in the filters: %(names)s", names=", ".join(unknown_filters))
            )


def _known_fields(session: Session, names: set[str]) -> set[str]:
    return set(session.scalars(select(UserField.field).where(UserField.field.in_(sorted(names))).distinct()))


def _field_columns(session: Session, filters: OpcoLogFilters) -> tuple[str, ...]:
    """Custom field columns, alphabetical (case and accents ignored, ties by raw text).

    Every field known on the platform (not only those of the exported users), so the header
    does not change with the filters.
    """
    if filters.columns is not None:
        names: Iterable[str] = set(filters.columns)
    else:
        names = session.scalars(select(UserField.field).distinct())
    return tuple(sorted(names, key=_text_key))


def _header(field_columns: Sequence[str], titles: str = "en") -> list[str]:
    def title(name: str) -> str:
        return pgettext_in(titles, "opco-logs", name)

    return [*map(title, FIXED_BEFORE_FIELDS), *field_columns, *map(title, FIXED_AFTER_FIELDS)]


# -- query -----------------------------------------------------------------------------------


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _bytewise(column: Any, dialect: str) -> Any:
    """Compare text byte for byte on every database (SQLite already does)."""
    return collate(column, "C") if dialect == "postgresql" else column


def utc_bounds(
    date_from: date | None, date_to: date | None, tz: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """Naive UTC [start, end) of the local days date_from..date_to (inclusive) in tz."""

    def start_of(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)

    start = start_of(date_from) if date_from else None
    end = start_of(date_to + timedelta(days=1)) if date_to else None
    return start, end


def _statement(
    scope: Scope, filters: OpcoLogFilters, tz: tzinfo, dialect: str, narrow: bool = False
) -> Select:
    """The connections the filters select in the viewer's scope, in SPEC §7's order.

    narrow: the columns of the OPCA logs' file (_LogReader): the session's, training's and
    course's names are looked up once per id instead of being read (and sorted) on every row,
    and the instants are the driver's values (text on SQLite, datetime on PostgreSQL).
    The joins, conditions and order are the same either way."""
    conditions: list[ColumnElement[bool]] = [
        Connection.session_id.is_not(None),
        scope.session_filter(ProgramSession.id, ProgramSession.training_id),
    ]
    start, end = utc_bounds(filters.date_from, filters.date_to, tz)
    if start is not None:
        conditions.append(Connection.connected_at >= start)
    if end is not None:
        conditions.append(Connection.connected_at < end)
    if filters.user_ids:
        conditions.append(Connection.user_id.in_(sorted(set(filters.user_ids))))
    if filters.session_ids:
        conditions.append(Connection.session_id.in_(sorted(set(filters.session_ids))))
    if filters.class_ids:
        conditions.append(
            exists().where(
                ClassMember.user_id == Connection.user_id,
                ClassMember.class_id.in_(sorted(set(filters.class_ids))),
            )
        )
    values_by_field: dict[str, set[str]] = {}
    for name, value in filters.fields:
        values_by_field.setdefault(name, set()).add(value)
    for name, values in sorted(values_by_field.items()):
        conditions.append(
            exists().where(
                UserField.user_id == Connection.user_id,
                UserField.field == name,
                UserField.value.in_(sorted(values)),
            )
        )
    columns = (
        (
            Connection.user_id,
            User.last_name,
            User.first_name,
            User.email,
            User.additional_info,
            Connection.session_id,
            Connection.module_id,
            type_coerce(Connection.connected_at, String),
            type_coerce(Connection.disconnected_at, String),
        )
        if narrow
        else (
            Connection.user_id,
            User.last_name,
            User.first_name,
            User.email,
            User.additional_info,
            ProgramSession.name,
            ProgramSession.id,
            Training.name,
            Training.id,
            Module.name,
            Connection.connected_at,
            Connection.disconnected_at,
        )
    )
    return (
        select(*columns)
        .select_from(Connection)
        .join(User, User.id == Connection.user_id)
        .join(ProgramSession, ProgramSession.id == Connection.session_id)
        .join(Training, Training.id == ProgramSession.training_id)
        .join(Module, Module.id == Connection.module_id)
        .where(and_(*conditions))
        # users.sort_key is fold(last) TAB fold(first) TAB fold(email), compared byte for byte:
        # the tab sorts before any printable character, so this is (last, first, email) folded.
        .order_by(
            _bytewise(User.sort_key, dialect),
            _bytewise(Connection.session_id, dialect),
            Connection.connected_at,
            _bytewise(Module.name, dialect),
            # Not in SPEC: a stable order for rows equal on every key above.
            _bytewise(Module.id, dialect),
            Connection.disconnected_at,
            _bytewise(User.id, dialect),
            Connection.id,
        )
        .execution_options(yield_per=BATCH_ROWS)
    )


class _LogReader:
    """The OPCA logs' rows as the database driver returns them, one batch at a time.

    `batches()` yields (people, rows) per BATCH_ROWS connections. people: user id -> the
    user's cells before the session's ([last name, first name, email, *custom field values,
    additional information, labels], as stored); rows: the narrow query's rows (user id, last
    name, first name, email, additional information, session id, module id, connected,
    disconnected), the instants as the driver returns them (text on SQLite, datetime on
    PostgreSQL: _Instants reads both). `programs` (session id -> [session name,
    session id, training name, training id]) and `modules` (module id -> name) fill up with
    the ids met: bounded by the platform's sessions and courses, not by the rows.

    The query runs on the session's Core connection (no ORM rows) and its instants are read
    as the driver gives them (type_coerce to String: no datetime built per row)."""

    def __init__(self, session: Session, statement: Select, field_columns: tuple[str, ...]):
        self.session = session
        self.statement = statement
        self.field_columns = field_columns
        self.programs: dict[str, list[str]] = {}
        self.modules: dict[str, str] = {}

    def batches(self) -> Iterator[tuple[dict[str, list[str]], Sequence[Sequence[Any]]]]:
        session = self.session
        if session.autoflush:  # as session.execute would: pending changes are part of the file
            session.flush()
        connection = session.connection()
        result = connection.execute(self.statement)
        try:
            for rows in result.partitions(BATCH_ROWS):
                people: dict[str, list[str]] = {}
                for row in rows:
                    if row[0] not in people:
                        people[row[0]] = row
                cells = _people_of_batch(connection, people.keys(), self.field_columns)
                for user_id, (_, last_name, first_name, email, info, *_rest) in people.items():
                    labels, field_values = cells[user_id]
                    people[user_id] = [
                        last_name or "",
                        first_name or "",
                        email or "",
                        *field_values,
                        info or "",
                        labels,
                    ]
                self._programs_and_modules(connection, rows)
                yield people, rows
        finally:
            result.close()

    def _programs_and_modules(self, connection: Any, rows: Sequence[Sequence[Any]]) -> None:
        new_programs = {row[5] for row in rows} - self.programs.keys()
        if new_programs:
            for program_name, program_id, training_name, training_id in connection.execute(
                select(ProgramSession.name, ProgramSession.id, Training.name, Training.id)
                .join(Training, Training.id == ProgramSession.training_id)
                .where(ProgramSession.id.in_(sorted(new_programs)))
            ):
                self.programs[program_id] = [program_name or "", program_id, training_name or "", training_id]
        new_modules = {row[6] for row in rows} - self.modules.keys()
        if new_modules:
            for module_id, module_name in connection.execute(
                select(Module.id, Module.name).where(Module.id.in_(sorted(new_modules)))
            ):
                self.modules[module_id] = module_name or ""


class _Instants:
    """Connected, Disconnected and Time spent of the instants a driver returns (SPEC §7).

    On SQLite an instant is the stored text, "YYYY-MM-DD HH:MM:SS.ffffff" (UTC): when the
    zone's offsets are whole hours, the local "DD/MM/YYYY HH:" depends only on the text's
    first 13 characters (the UTC hour) and is looked up, the minutes copied; the length is
    the difference of the two texts read by datetime.fromisoformat, and its DD:HH:MM looked up.
    Anything else (PostgreSQL's datetimes, another zone, another text) takes format_local's
    way (_LocalText) and format_duration: the same texts."""

    def __init__(self, tz: tzinfo, dialect: Any):
        self.local = _LocalText(tz)
        self.fast = self.local.whole_hours
        self.hours: dict[str, str] = {}  # "YYYY-MM-DD HH" (UTC) -> "DD/MM/YYYY HH:" (local)
        self.serials: dict[str, tuple[int, int]] = {}  # the same -> (Excel day, seconds of the hour)
        self.durations: dict[timedelta, str] = {}
        self.parse = DateTime().dialect_impl(dialect).result_processor(dialect, None)

    def moment(self, value: Any) -> datetime:
        """A driver's instant as a naive UTC datetime."""
        if isinstance(value, datetime):
            return value
        return self.parse(value) if self.parse else value

    def hour(self, key: str) -> str:
        """The local "DD/MM/YYYY HH:" of a UTC "YYYY-MM-DD HH" (fast way only)."""
        text = self.hours.get(key)
        if text is None:
            if len(self.hours) > 100_000:
                self.hours.clear()
            text = self.hours[key] = self.local(datetime.strptime(key, "%Y-%m-%d %H"))[:14]
        return text

    def texts(self, start: Any, end: Any) -> tuple[str, str, str]:
        """(Connected, Disconnected, Time spent)."""
        if self.fast and start.__class__ is str and end.__class__ is str and len(start) == len(end) == 26:
            return (
                self.hour(start[:13]) + start[14:16],
                self.hour(end[:13]) + end[14:16],
                self.duration(datetime.fromisoformat(end) - datetime.fromisoformat(start)),
            )
        start, end = self.moment(start), self.moment(end)
        return self.local(start), self.local(end), format_duration(end - start)

    def duration(self, elapsed: timedelta) -> str:
        text = self.durations.get(elapsed)
        if text is None:
            if len(self.durations) > 100_000:
                self.durations.clear()
            text = self.durations[elapsed] = format_duration(elapsed)
        return text


def _row_batches(
    session: Session, statement: Select, field_columns: tuple[str, ...], tz: tzinfo
) -> Iterator[list[list[str]]]:
    """Formatted rows (cell texts as stored, not escaped), one list per batch."""
    reader = _LogReader(session, statement, field_columns)
    instants = _Instants(tz, session.get_bind().dialect)
    programs, modules = reader.programs, reader.modules
    for people, rows in reader.batches():
        yield [
            [*people[user_id], *programs[session_id], modules[module_id], *instants.texts(start, end)]
            for user_id, _last, _first, _email, _info, session_id, module_id, start, end in rows
        ]


def _people_of_batch(
    connection: Any, user_ids: Iterable[str], field_columns: tuple[str, ...]
) -> dict[str, tuple[str, list[str]]]:
    """_people for the OPCA logs' batches, on a Core connection: the same two look-ups sent as
    the driver's SQL (exec_driver_sql: no SQLAlchemy statement to build and expand for each
    batch's few hundred ids, which cost as much as the look-ups themselves)."""
    ids = sorted(user_ids)
    if not ids:
        return {}
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    id_marks = ", ".join([mark] * len(ids))
    labels: dict[str, list[str]] = {user_id: [] for user_id in ids}
    for user_id, label in connection.exec_driver_sql(
        f"SELECT user_id, label FROM {UserLabel.__tablename__} WHERE user_id IN ({id_marks})", tuple(ids)
    ).all():
        labels[user_id].append(label)
    values: dict[str, dict[str, str]] = {user_id: {} for user_id in ids}
    if field_columns:
        field_marks = ", ".join([mark] * len(field_columns))
        for user_id, name, value in connection.exec_driver_sql(
            f"SELECT user_id, field, value FROM {UserField.__tablename__}"
            f" WHERE user_id IN ({id_marks}) AND field IN ({field_marks})",
            (*ids, *field_columns),
        ).all():
            values[user_id][name] = value or ""
    return {
        user_id: (format_labels(labels[user_id]), [values[user_id].get(name, "") for name in field_columns])
        for user_id in ids
    }


def _people(
    session: Session | Any, user_ids: Iterable[str], field_columns: tuple[str, ...]
) -> dict[str, tuple[str, list[str]]]:
    """Each user's labels cell and custom field cells (in field_columns order). session: an
    ORM session or a Core connection."""
    ids = sorted(user_ids)
    if not ids:
        return {}
    labels: dict[str, list[str]] = {user_id: [] for user_id in ids}
    for user_id, label in session.execute(
        select(UserLabel.user_id, UserLabel.label).where(UserLabel.user_id.in_(ids))
    ).all():
        labels[user_id].append(label)
    values: dict[str, dict[str, str]] = {user_id: {} for user_id in ids}
    if field_columns:
        for user_id, name, value in session.execute(
            select(UserField.user_id, UserField.field, UserField.value).where(
                UserField.user_id.in_(ids), UserField.field.in_(field_columns)
            )
        ).all():
            values[user_id][name] = value or ""
    return {
        user_id: (
            format_labels(labels[user_id]),
            [values[user_id].get(name, "") for name in field_columns],
        )
        for user_id in ids
    }


# -- formats ---------------------------------------------------------------------------------


def _text_key(text: str) -> tuple[str, str]:
    """Alphabetical as a French reader expects (case and accents ignored), ties by raw text."""
    return fold(text), text


def format_labels(labels: Iterable[str]) -> str:
    """The Labels cell: labels in alphabetical order, joined with ", "."""
    return ", ".join(sorted(labels, key=_text_key))


class _LocalText:
    """format_local for many instants: the zone's offset is looked up once per UTC hour (the
    offset of a zone whose offsets are whole hours only changes on an hour) and the text built
    without strftime — the export's hottest line."""

    def __init__(self, tz: tzinfo):
        self.tz = tz
        self.offsets: dict[tuple[int, int, int, int], timedelta] = {}
        samples = (
            datetime(year, month, 1, tzinfo=UTC) for year in range(1970, 2060) for month in (1, 4, 7, 10)
        )
        self.whole_hours = all(
            (s.astimezone(tz).utcoffset() or timedelta()).total_seconds() % 3600 == 0 for s in samples
        )

    def __call__(self, moment: datetime) -> str:
        if not self.whole_hours:
            return format_local(moment, self.tz)
        key = (moment.year, moment.month, moment.day, moment.hour)
        offset = self.offsets.get(key)
        if offset is None:
            if len(self.offsets) > 100_000:
                self.offsets.clear()
            offset = self.offsets[key] = (
                moment.replace(tzinfo=UTC).astimezone(self.tz).utcoffset() or timedelta()
            )
        d = moment + offset
        return f"{d.day:02d}/{d.month:02d}/{d.year:04d} {d.hour:02d}:{d.minute:02d}"


class _CsvCells:
    """The CSV text of a run of cells, escaped (escape_cell) and quoted as csv.writer quotes
    them (QUOTE_MINIMAL), each followed by the delimiter: "Dupont,Jean,". A row of the OPCA
    logs is then the learner's run, the session's, the course's and the three instants,
    joined: the same bytes as csv.writer's writerow of the whole row."""

    def __init__(self, delimiter: str):
        self.buffer = io.StringIO()
        self.writer = csv.writer(
            self.buffer, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n"
        )

    def __call__(self, cells: Iterable[str]) -> str:
        # The empty cell added at the end writes the last delimiter, and keeps a lone empty
        # cell from being written '""' (csv.writer's rule for a row of one empty field).
        self.writer.writerow([*map(escape_cell, cells), ""])
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text[:-2]


def _logs_csv_chunks(
    header: list[str], reader: _LogReader, instants: _Instants, delimiter: str
) -> Iterator[bytes]:
    """The OPCA logs' CSV (iter_opco_logs_csv): BOM and header, then one chunk per batch. The
    instants (never quoted nor escaped: digits, "/", " " and ":") are written as they are."""
    cells = _CsvCells(delimiter)
    yield (BOM + cells(header)[:-1] + "\r\n").encode("utf-8")
    programs: dict[str, str] = {}
    modules: dict[str, str] = {}
    fast = instants.fast
    hours = instants.hours
    hour = instants.hour
    durations = instants.durations
    duration = instants.duration
    fromiso = datetime.fromisoformat
    for people, rows in reader.batches():
        users = {user_id: cells(user_cells) for user_id, user_cells in people.items()}
        lines = []
        append = lines.append
        for user_id, _last, _first, _email, _info, session_id, module_id, start, end in rows:
            program = programs.get(session_id)
            if program is None:
                program = programs[session_id] = cells(reader.programs[session_id])
            module = modules.get(module_id)
            if module is None:
                module = modules[module_id] = cells([reader.modules[module_id]])
            if fast and start.__class__ is str and end.__class__ is str and len(start) == len(end) == 26:
                elapsed = fromiso(end) - fromiso(start)
                append(
                    f"{users[user_id]}{program}{module}"
                    f"{hours.get(start[:13]) or hour(start[:13])}{start[14:16]}{delimiter}"
                    f"{hours.get(end[:13]) or hour(end[:13])}{end[14:16]}{delimiter}"
                    f"{durations.get(elapsed) or duration(elapsed)}\r\n"
                )
            else:
                connected, disconnected, spent = instants.texts(start, end)
                append(
                    f"{users[user_id]}{program}{module}{connected}{delimiter}{disconnected}{delimiter}{spent}\r\n"
                )
        yield "".join(lines).encode("utf-8")


def _csv_chunks(header: list[str], batches: Iterator[list[list[str]]], delimiter: str) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")

    def take() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode("utf-8")

    buffer.write(BOM)
    writer.writerow(escape_row(header))
    yield take()
    for rows in batches:
        writer.writerows(escape_row(row) for row in rows)
        yield take()


def _column_width(title: str) -> int:
    if title in ("Connected", "Disconnected"):
        return 17
    return max(12, min(len(title) + 2, 40))


__all__ = [
    "OpcoLogFilters",
    "OpcoLogsError",
    "UnknownField",
    "UnknownSession",
    "format_duration",
    "format_labels",
    "format_local",
    "has_opco_log_rows",
    "iter_opco_log_rows",
    "iter_opco_logs_csv",
    "opco_log_header",
    "utc_bounds",
    "write_opco_logs_xlsx",
]
