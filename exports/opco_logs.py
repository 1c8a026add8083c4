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
from sqlalchemy import ColumnElement, Select, and_, collate, exists, select
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
    duration_formats: dict[str, Any] = {}
    connected_col = len(header) - 3  # Connected, Disconnected, Time spent close every row
    row_number = 0
    for batch in batches:
        for row in batch:
            row_number += 1
            if row_number > XLSX_MAX_ROWS:
                raise _too_many_rows()
            for col, text in enumerate(row[:connected_col]):
                if text:
                    sheet.write_string(row_number, col, escape_cell(text))
            for col in (connected_col, connected_col + 1):
                text = row[col]  # DD/MM/YYYY HH:MM, as format_local writes it
                moment = datetime(
                    int(text[6:10]), int(text[3:5]), int(text[0:2]), int(text[11:13]), int(text[14:16])
                )
                sheet.write_datetime(row_number, col, moment, moment_format)
            days, hours, minutes = (int(part) for part in row[connected_col + 2].split(":"))
            num_format = f'"{days:02d}:"hh:mm'
            if num_format not in duration_formats:
                duration_formats[num_format] = workbook.add_format({"num_format": num_format})
            sheet.write_number(
                row_number,
                connected_col + 2,
                days + (hours * 60 + minutes) / 1440,
                duration_formats[num_format],
            )
    workbook.close()


def _too_many_rows() -> OpcoLogsError:
    return OpcoLogsError(
        _(
            "more than %(count)s rows do not fit in an XLSX sheet: export CSV or narrow the filters",
            count=fmt_int(XLSX_MAX_ROWS),
        )
    )


def _prepare(
    session: Session, scope: Scope, filters: OpcoLogFilters, tz: tzinfo
) -> tuple[list[str], Iterator[list[list[str]]]]:
    """Check the request now, and return the header and the (lazy) batches of rows."""
    _check_request(session, scope, filters)
    field_columns = _field_columns(session, filters)
    dialect = _dialect(session)
    statement = _statement(scope, filters, tz, dialect)
    if filters.granularity == OPCA_LOGS:
        return _header(field_columns, filters.titles), _row_batches(session, statement, field_columns, tz)
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


def _statement(scope: Scope, filters: OpcoLogFilters, tz: tzinfo, dialect: str) -> Select:
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
    return (
        select(
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


def _row_batches(
    session: Session, statement: Select, field_columns: tuple[str, ...], tz: tzinfo
) -> Iterator[list[list[str]]]:
    """Formatted rows, one list per batch read from the database."""
    people: dict[str, tuple[str, list[str]]] = {}
    local = _LocalText(tz)
    for batch in session.execute(statement).partitions():
        user_ids = {row[0] for row in batch}
        # Keep only the people of this batch: the cache never outgrows one batch.
        people = {user_id: people[user_id] for user_id in user_ids if user_id in people}
        people.update(_people(session, user_ids - people.keys(), field_columns))
        rows = []
        for (
            user_id,
            last_name,
            first_name,
            email,
            additional_info,
            session_name,
            session_id,
            training_name,
            training_id,
            module_name,
            connected_at,
            disconnected_at,
        ) in batch:
            labels, field_values = people[user_id]
            rows.append(
                [
                    last_name or "",
                    first_name or "",
                    email or "",
                    *field_values,
                    additional_info or "",
                    labels,
                    session_name or "",
                    session_id,
                    training_name or "",
                    training_id,
                    module_name or "",
                    local(connected_at),
                    local(disconnected_at),
                    format_duration(disconnected_at - connected_at),
                ]
            )
        yield rows


def _people(
    session: Session, user_ids: set[str], field_columns: tuple[str, ...]
) -> dict[str, tuple[str, list[str]]]:
    """Each user's labels cell and custom field cells (in field_columns order)."""
    if not user_ids:
        return {}
    ids = sorted(user_ids)
    labels: dict[str, list[str]] = {user_id: [] for user_id in ids}
    for user_id, label in session.execute(
        select(UserLabel.user_id, UserLabel.label).where(UserLabel.user_id.in_(ids))
    ):
        labels[user_id].append(label)
    values: dict[str, dict[str, str]] = {user_id: {} for user_id in ids}
    if field_columns:
        for user_id, name, value in session.execute(
            select(UserField.user_id, UserField.field, UserField.value).where(
                UserField.user_id.in_(ids), UserField.field.in_(field_columns)
            )
        ):
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
