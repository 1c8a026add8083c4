"""The OPCO export's granularities (SPEC §9 "Export granularities"), besides the OPCA logs.

    opca-logs        one row per connection (exports/opco_logs.py, SPEC §7): the default
    learner-session  one row per (learner, session): first connection, last disconnection,
                     connections, time spent, and the session's training's progress, score
                     and status today
    learner-course   one row per (learner, session, course): the course's status, score, time
                     spent in the session and completion date
    session          one row per session: starts, ends, learners, learners who played,
                     completed, time spent and the average per learner who played

Each granularity is an aggregation of the OPCA log rows the same filters select (the same
query, exports/opco_logs.py `_statement`, in the viewer's scope): a filter narrows every
granularity the same way, the time spent of a row is the exact sum of the matching
connections' lengths rounded to the nearest minute, and a learner, course or session appears
when at least one of its connections matches (docs/decisions.md, "Export granularities").
Dates are `DD/MM/YYYY HH:MM` in the platform time zone and durations `DD:HH:MM` (SPEC §7),
percentages have one decimal ("66.7"). The rows stream: learner rows are built batch by batch
(the query is ordered by learner, then session); the session rows, one per session, at the end.

exports/opco_logs.py dispatches to this module when `filters.granularity` is not opca-logs, so
the download route, the emailed file, the scheduled reports and `export-opco-logs
--granularity` all get the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import IO, Any

import xlsxwriter
from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.orm import Session

from data.figures._pairs import progress_column, status_column
from data.figures.days import today_in
from data.models import (
    ClassMember,
    Connection,
    Module,
    ProgramSession,
    SessionLearner,
    SummaryModuleFact,
    SummaryPair,
    Training,
    TrainingModule,
    User,
    UserField,
)
from data.rules import COMPLETED_STATUSES, module_status
from data.summaries import refresh_pending
from exports.formatting import N_, NP_, escape_cell, format_duration, gettext_in, one_decimal, pgettext_in
from exports.xlsx_stream import InlineRows, excel_day, excel_serial

OPCA_LOGS = "opca-logs"
LEARNER_SESSION = "learner-session"
LEARNER_COURSE = "learner-course"
SESSION = "session"
GRANULARITIES = (OPCA_LOGS, LEARNER_SESSION, LEARNER_COURSE, SESSION)
DEFAULT_GRANULARITY = OPCA_LOGS
# The dialog's list (360Learning's "Granularity"), in the interface's language.
GRANULARITY_LABELS = {
    OPCA_LOGS: N_("OPCA logs: one row per connection"),
    LEARNER_SESSION: N_("Learner × session: one row per learner of each session"),
    LEARNER_COURSE: N_("Learner × course: one row per course of each learner and session"),
    SESSION: N_("Session: one row per session"),
}
# The worksheet's name (31 characters at most).
SHEET_NAMES = {
    LEARNER_SESSION: NP_("opco-logs", "Learners by session"),
    LEARNER_COURSE: NP_("opco-logs", "Learners by course"),
    SESSION: NP_("opco-logs", "Sessions"),
}

IDENTITY = (NP_("opco-logs", "Last name"), NP_("opco-logs", "First name"), NP_("opco-logs", "Email"))
SESSION_COLUMNS = (
    NP_("opco-logs", "Session"),
    NP_("opco-logs", "Session ID"),
    NP_("opco-logs", "Program template"),
    NP_("opco-logs", "Program template ID"),
)
# (title, kind) after the identity, custom fields and session columns. Kinds tell the XLSX
# writer the cell type: text, moment (DD/MM/YYYY HH:MM), duration (DD:HH:MM), int, pct.
LEARNER_SESSION_AFTER = (
    (NP_("opco-logs", "First connection"), "moment"),
    (NP_("opco-logs", "Last disconnection"), "moment"),
    (NP_("opco-logs", "Connections"), "int"),
    (NP_("opco-logs", "Time spent"), "duration"),
    (NP_("opco-logs", "Progress"), "pct"),
    (NP_("opco-logs", "Score"), "pct"),
    (NP_("opco-logs", "Status"), "text"),
)
LEARNER_COURSE_AFTER = (
    (NP_("opco-logs", "Course"), "text"),
    (NP_("opco-logs", "Status"), "text"),
    (NP_("opco-logs", "Score"), "pct"),
    (NP_("opco-logs", "Time spent"), "duration"),
    (NP_("opco-logs", "Completed on"), "moment"),
)
SESSION_ALL = (
    *((title, "text") for title in SESSION_COLUMNS),
    (NP_("opco-logs", "Starts"), "moment"),
    (NP_("opco-logs", "Ends"), "moment"),
    (NP_("opco-logs", "Learners"), "int"),
    (NP_("opco-logs", "Learners who played"), "int"),
    (NP_("opco-logs", "Completed"), "int"),
    (NP_("opco-logs", "Time spent"), "duration"),
    (NP_("opco-logs", "Average time spent per learner who played"), "duration"),
)
# Statuses written in the file, in its titles' language (the catalogue's words, as on the pages).
STATUS_WORDS = {
    "passed": N_("passed"),
    "failed": N_("failed"),
    "expired": N_("expired"),
    "in progress": N_("in progress"),
    "not started": N_("not started"),
    "not enrolled": N_("not enrolled"),
}
PCT_FORMAT = "0.0"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"


def granularity_label(granularity: str) -> str:
    return GRANULARITY_LABELS[granularity]


def columns_of(granularity: str, field_columns: tuple[str, ...]) -> list[tuple[str, str]]:
    """(title in English, kind) of each column of a granularity, custom fields included."""
    fields = [(name, "field") for name in field_columns]
    if granularity == SESSION:
        return list(SESSION_ALL)
    identity = [(title, "text") for title in IDENTITY]
    session_columns = [(title, "text") for title in SESSION_COLUMNS]
    after = LEARNER_SESSION_AFTER if granularity == LEARNER_SESSION else LEARNER_COURSE_AFTER
    return [*identity, *fields, *session_columns, *after]


def header_of(granularity: str, field_columns: tuple[str, ...], titles: str) -> list[str]:
    """The header row in the titles' language (custom field names as they are)."""
    return [
        name if kind == "field" else pgettext_in(titles, "opco-logs", name)
        for name, kind in columns_of(granularity, field_columns)
    ]


# -- aggregation -----------------------------------------------------------------------------


@dataclass
class _Group:
    """One (learner, session)'s matching connections."""

    user_id: str
    last_name: str
    first_name: str
    email: str
    session_name: str
    session_id: str
    training_name: str
    training_id: str
    first: datetime
    last: datetime
    count: int = 0
    total: timedelta = field(default_factory=timedelta)
    # module id -> [name, total]
    courses: dict[str, list[Any]] = field(default_factory=dict)


def grouped_statement(statement: Select, dialect: str) -> Select:
    """The OPCA logs' query ordered so that one learner's rows of one session come together,
    with the module id added (last column)."""
    from exports.opco_logs import _bytewise

    return (
        statement.add_columns(Module.id)
        .order_by(None)
        .order_by(
            _bytewise(User.sort_key, dialect),
            _bytewise(User.id, dialect),
            _bytewise(Connection.session_id, dialect),
            Connection.connected_at,
            Connection.id,
        )
    )


def _groups(session: Session, statement: Select) -> Iterator[list[_Group]]:
    """The (learner, session) groups, one list per batch of rows (a group is yielded once its
    last row has been read, so it may come with the next batch)."""
    current: _Group | None = None
    for batch in session.execute(statement).partitions():
        done: list[_Group] = []
        for (
            user_id,
            last_name,
            first_name,
            email,
            _additional_info,
            session_name,
            session_id,
            training_name,
            training_id,
            module_name,
            connected_at,
            disconnected_at,
            module_id,
        ) in batch:
            if current is None or (current.user_id, current.session_id) != (user_id, session_id):
                if current is not None:
                    done.append(current)
                current = _Group(
                    user_id,
                    last_name or "",
                    first_name or "",
                    email or "",
                    session_name or "",
                    session_id,
                    training_name or "",
                    training_id,
                    connected_at,
                    disconnected_at,
                )
            current.first = min(current.first, connected_at)
            current.last = max(current.last, disconnected_at)
            current.count += 1
            length = max(disconnected_at - connected_at, timedelta(0))
            current.total += length
            course = current.courses.setdefault(module_id, [module_name or "", timedelta()])
            course[1] += length
        if done:
            yield done
    if current is not None:
        yield [current]


def _status_word(status: str, titles: str) -> str:
    return gettext_in(titles, STATUS_WORDS.get(status, status))


def _pair_figures(
    session: Session, groups: list[_Group], tz: tzinfo
) -> dict[tuple[str, str], tuple[float | None, float | None, str]]:
    """(user, training) -> (progress, score, status today) for the groups' learners."""
    user_ids = sorted({g.user_id for g in groups})
    training_ids = sorted({g.training_id for g in groups})
    p = SummaryPair
    rows = session.execute(
        select(
            p.user_id,
            p.training_id,
            progress_column(p.__table__),
            p.score,
            status_column(session, p.__table__, today_in(tz), tz),
        ).where(p.user_id.in_(user_ids), p.training_id.in_(training_ids))
    )
    return {(u, t): (progress, score, status) for u, t, progress, score, status in rows}


def _module_facts(
    session: Session, groups: list[_Group]
) -> dict[tuple[str, str, str], tuple[int, datetime | None, float, bool]]:
    user_ids = sorted({g.user_id for g in groups})
    f = SummaryModuleFact
    rows = session.execute(
        select(
            f.user_id, f.training_id, f.module_id, f.attempts, f.completed_at, f.module_score, f.passed
        ).where(f.user_id.in_(user_ids), f.training_id.in_(sorted({g.training_id for g in groups})))
    )
    return {(u, t, m): (attempts, done, score, passed) for u, t, m, attempts, done, score, passed in rows}


def _positions(session: Session, groups: list[_Group]) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(TrainingModule.training_id, TrainingModule.module_id, TrainingModule.position).where(
            TrainingModule.training_id.in_(sorted({g.training_id for g in groups}))
        )
    )
    return {(t, m): position for t, m, position in rows}


def learner_row_batches(
    session: Session,
    statement: Select,
    granularity: str,
    field_columns: tuple[str, ...],
    tz: tzinfo,
    titles: str,
    local,
) -> Iterator[list[list[str]]]:
    """learner-session or learner-course rows, one list per batch."""
    from exports.opco_logs import _people, _text_key

    refresh_pending(session)
    for groups in _groups(session, statement):
        people = _people(session, {g.user_id for g in groups}, field_columns)
        rows: list[list[str]] = []
        figures: dict = {}
        facts: dict = {}
        positions: dict = {}
        if granularity == LEARNER_SESSION:
            figures = _pair_figures(session, groups, tz)
        else:
            facts = _module_facts(session, groups)
            positions = _positions(session, groups)
        for g in groups:
            _labels, field_values = people[g.user_id]
            start = [
                g.last_name,
                g.first_name,
                g.email,
                *field_values,
                g.session_name,
                g.session_id,
                g.training_name,
                g.training_id,
            ]
            if granularity == LEARNER_SESSION:
                progress, score, status = figures.get(
                    (g.user_id, g.training_id), (None, None, "not enrolled")
                )
                rows.append(
                    [
                        *start,
                        local(g.first),
                        local(g.last),
                        str(g.count),
                        format_duration(g.total),
                        one_decimal(progress),
                        one_decimal(score),
                        _status_word(status, titles),
                    ]
                )
                continue

            def course_key(item: tuple[str, list[Any]], g: _Group = g, positions: dict = positions) -> tuple:
                module_id, (name, _total) = item
                position = positions.get((g.training_id, module_id))
                return (position is None, position or 0, _text_key(name), module_id)

            for module_id, (name, total) in sorted(g.courses.items(), key=course_key):
                attempts, done, score, passed = facts.get(
                    (g.user_id, g.training_id, module_id), (0, None, 0.0, False)
                )
                rows.append(
                    [
                        *start,
                        name,
                        _status_word(module_status(done, passed, attempts), titles),
                        one_decimal(score if done is not None else 0.0),
                        format_duration(total),
                        local(done) if done is not None else "",
                    ]
                )
        yield rows


def _people_conditions(filters, user_column) -> list[ColumnElement[bool]]:
    """The filters on people (users, groups, custom field values) for a user id column."""
    conditions: list[ColumnElement[bool]] = []
    if filters.user_ids:
        conditions.append(user_column.in_(sorted(set(filters.user_ids))))
    if filters.class_ids:
        conditions.append(
            exists().where(
                ClassMember.user_id == user_column, ClassMember.class_id.in_(sorted(set(filters.class_ids)))
            )
        )
    values_by_field: dict[str, set[str]] = {}
    for name, value in filters.fields:
        values_by_field.setdefault(name, set()).add(value)
    for name, values in sorted(values_by_field.items()):
        conditions.append(
            exists().where(
                UserField.user_id == user_column, UserField.field == name, UserField.value.in_(sorted(values))
            )
        )
    return conditions


def session_row_batches(
    session: Session, statement: Select, filters, tz: tzinfo, local
) -> Iterator[list[list[str]]]:
    """The session rows (one batch): Learners are the session's registered learners matching
    the people filters plus those who played; Completed, those of them whose training is
    completed (passed, failed or expired) today."""
    refresh_pending(session)
    played: dict[str, set[str]] = {}
    totals: dict[str, timedelta] = {}
    for groups in _groups(session, statement):
        for g in groups:
            played.setdefault(g.session_id, set()).add(g.user_id)
            totals[g.session_id] = totals.get(g.session_id, timedelta()) + g.total
    if not played:
        yield []
        return
    ids = sorted(played)
    registered: dict[str, set[str]] = {session_id: set() for session_id in ids}
    for session_id, user_id in session.execute(
        select(SessionLearner.session_id, SessionLearner.user_id).where(
            SessionLearner.session_id.in_(ids), *_people_conditions(filters, SessionLearner.user_id)
        )
    ):
        registered[session_id].add(user_id)
    programs = {
        program.id: (program, training_name)
        for program, training_name in session.execute(
            select(ProgramSession, Training.name)
            .join(Training, Training.id == ProgramSession.training_id)
            .where(ProgramSession.id.in_(ids))
        )
    }
    learners = {session_id: registered[session_id] | played[session_id] for session_id in ids}
    completed_pairs = set(
        session.execute(
            select(SummaryPair.user_id, SummaryPair.training_id).where(
                SummaryPair.user_id.in_(sorted(set().union(*learners.values()))),
                SummaryPair.training_id.in_(sorted({programs[i][0].training_id for i in ids})),
                SummaryPair.status.in_(COMPLETED_STATUSES),
            )
        ).all()
    )

    def order(session_id: str) -> tuple:
        starts = programs[session_id][0].starts_at
        return (starts is None, starts or datetime.min, session_id)

    rows = []
    for session_id in sorted(ids, key=order):
        program, training_name = programs[session_id]
        people = learners[session_id]
        players = len(played[session_id])
        total = totals[session_id]
        rows.append(
            [
                program.name or "",
                program.id,
                training_name or "",
                program.training_id,
                local(program.starts_at) if program.starts_at else "",
                local(program.ends_at) if program.ends_at else "",
                str(len(people)),
                str(players),
                str(sum((user_id, program.training_id) in completed_pairs for user_id in people)),
                format_duration(total),
                format_duration(total / players),
            ]
        )
    yield rows


# -- XLSX ------------------------------------------------------------------------------------


def write_typed_xlsx(
    target: str | IO[bytes],
    sheet_name: str,
    header: list[str],
    kinds: list[str],
    batches: Iterator[list[list[str]]],
    created: datetime,
    max_rows: int,
    too_many,
) -> None:
    """A workbook of one sheet: bold frozen header, each cell typed by its column's kind (the
    CSV's text otherwise): moments as dates shown DD/MM/YYYY HH:MM, durations as days shown
    DD:HH:MM (summable), counts as numbers, percentages as numbers shown with one decimal."""
    workbook = xlsxwriter.Workbook(target, {"constant_memory": True})
    workbook.set_properties({"created": created})
    sheet = workbook.add_worksheet(sheet_name[:31])
    bold = workbook.add_format({"bold": True})
    for col, title in enumerate(header):
        sheet.set_column(col, col, 17 if kinds[col] == "moment" else max(12, min(len(title) + 2, 40)))
    sheet.freeze_panes(1, 0)
    for col, title in enumerate(header):
        sheet.write_string(0, col, escape_cell(title), bold)
    moment_format = workbook.add_format({"num_format": DATETIME_FORMAT})
    pct_format = workbook.add_format({"num_format": PCT_FORMAT})
    duration_formats: dict[str, Any] = {}
    # The data rows as XML text (exports/xlsx_stream.py): the bytes XlsxWriter's write_datetime,
    # write_number and write_string give cell by cell, each format's index taken at its first
    # cell, in the order XlsxWriter would take it.
    out = InlineRows(sheet, first_row=1)
    text_tails: dict[str, str] = {}
    duration_tails: dict[str, str] = {}

    def duration_tail(text: str) -> str:
        days, hours, minutes = (int(part) for part in text.split(":"))
        num_format = f'"{days:02d}:"hh:mm'
        if num_format not in duration_formats:
            duration_formats[num_format] = workbook.add_format({"num_format": num_format})
        if len(duration_tails) > 100_000:
            duration_tails.clear()
        tail = duration_tails[text] = out.number_tail(
            days + (hours * 60 + minutes) / 1440, duration_formats[num_format]._get_xf_index()
        )
        return tail

    def text_tail(col: int, text: str) -> str:
        tail = text_tails.get(text)
        if tail is None:
            if len(text_tails) > 100_000:
                text_tails.clear()
            tail = text_tails[text] = out.text_tail(col, escape_cell(text))
        return tail

    row_number = last_written = 0
    for batch in batches:
        xml = []
        for row in batch:
            row_number += 1
            if row_number > max_rows:
                raise too_many()
            cells = []
            for col, text in enumerate(row):
                if not text:
                    continue
                kind = kinds[col]
                if kind == "moment":
                    moment = datetime(
                        int(text[6:10]), int(text[3:5]), int(text[0:2]), int(text[11:13]), int(text[14:16])
                    )
                    serial = excel_serial(excel_day(moment), moment.hour * 3600 + moment.minute * 60)
                    cells.append((col, out.number_tail(serial, moment_format._get_xf_index())))
                elif kind == "duration":
                    cells.append((col, duration_tails.get(text) or duration_tail(text)))
                elif kind == "int":
                    cells.append((col, out.number_tail(int(text))))
                elif kind == "pct":
                    cells.append((col, out.number_tail(float(text), pct_format._get_xf_index())))
                else:
                    cells.append((col, text_tail(col, text)))
            if cells:
                last_written = row_number
                n = str(row_number + 1)
                xml.append(f'<row r="{n}">{n.join(out.pieces(cells))}</row>')
        out.write("".join(xml))
    out.close(last_written)
    workbook.close()


def sheet_name(granularity: str, titles: str) -> str:
    return pgettext_in(titles, "opco-logs", SHEET_NAMES[granularity])


__all__ = [
    "DEFAULT_GRANULARITY",
    "GRANULARITIES",
    "GRANULARITY_LABELS",
    "LEARNER_COURSE",
    "LEARNER_SESSION",
    "OPCA_LOGS",
    "SESSION",
    "columns_of",
    "granularity_label",
    "grouped_statement",
    "header_of",
    "learner_row_batches",
    "session_row_batches",
    "sheet_name",
    "write_typed_xlsx",
]
