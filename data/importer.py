"""CSV bundle import (SPEC §3): validate every file first, then upsert everything.

A bundle is a folder of UTF-8 CSV files (see ``FILES`` for the file names and columns).
``import_bundle`` reads every file, checks every row (types, required values, keys,
references to ids in the bundle or in the database, ranges) and raises ``BundleInvalid``
with *all* the errors it found before writing anything. When the bundle is valid it adds
and updates rows (never deletes) with bulk Core statements, then rebuilds the effective
enrollments. It runs inside the caller's transaction: the caller commits or rolls back.

Choices where SPEC §3 is silent:

- A column absent from a file's header leaves that field unchanged on rows that already
  exist (new rows get its default); a present but empty cell means "empty" (or the default).
- Ids, names, emails, enums, numbers, dates and labels are trimmed; free text (additional
  information, question, correct answer, answer) is kept as written.
- Enum values (status, role, keep_results) and booleans are case-insensitive.
- Emails are unique case-insensitively (sign-in looks them up case-insensitively).
- A row whose cells are all empty is skipped.
- Timestamps without an offset are local to the platform zone; a plain date is midnight
  there; a local time repeated by a daylight-saving change reads as the first (summer) one.
"""

from __future__ import annotations

import csv
import gc
import heapq
import itertools
import math
import operator
import os
import re
import stat
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, func, insert, literal_column, select, update
from sqlalchemy.orm import Session

from data import models as m
from data import summaries
from data.enrollments import refresh_training_learners
from data.errors import ListedErrors
from data.text import person_search_text, person_sort_key

# Rows per INSERT/UPDATE executemany batch, and ids per "IN (...)" lookup (SQLite's
# historical limit on bound parameters is 999).
WRITE_BATCH = 10_000
LOOKUP_BATCH = 500
# Beyond this many distinct ids a lookup scans the table once instead of batching "IN".
SCAN_THRESHOLD = 50_000
# SQLite's page cache while an import writes (KiB; SQLite's default is 2,000).
IMPORT_CACHE_KIB = 128 * 1024

# ---------------------------------------------------------------------------------------
# Public contract
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleError:
    """One problem in a bundle: ``file:line: column: message`` (the header is line 1)."""

    file: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.message}"


# At most this many errors are kept and reported (the first ones, in file order); the others
# are only counted, so a file of a million bad rows does not print a gigabyte.
MAX_ERRORS = 200


class BundleInvalid(ListedErrors):
    """The bundle has errors; nothing was written. ``errors`` lists the first MAX_ERRORS of
    them in file order; ``total`` counts every one."""

    heading = "{total} error(s) in the bundle:"
    unlisted = "more error(s)"


@dataclass
class FileCounts:
    """What importing one file did. For files whose key is every column, `unchanged`
    counts rows that were already present."""

    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportSummary:
    folder: Path
    files: dict[str, FileCounts] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    training_learners: int = 0

    def describe(self) -> str:
        """Human-readable report: per-file counts, absent files, warnings."""
        lines = [f"Imported bundle {self.folder}:"]
        width = max((len(name) for name in self.files), default=0)
        for name, c in self.files.items():
            lines.append(
                f"  {name:<{width}}  {c.rows} row(s): {c.added} added, {c.updated} updated, "
                f"{c.unchanged} unchanged"
            )
        if not self.files:
            lines.append("  (no bundle file found)")
        if self.absent:
            lines.append("Not in the bundle (left as they were): " + ", ".join(self.absent))
        lines.append(f"Effective enrollments (learner, training): {self.training_learners}")
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Bundle description (SPEC §3)
# ---------------------------------------------------------------------------------------

# Entity kinds that files define and other files reference: kind -> (defining file, table).
KINDS: dict[str, tuple[str, Table]] = {
    "user": ("users.csv", m.User.__table__),
    "training": ("trainings.csv", m.Training.__table__),
    "module": ("modules.csv", m.Module.__table__),
    "class": ("classes.csv", m.Class.__table__),
    "session": ("sessions.csv", m.ProgramSession.__table__),
    "activity": ("activities.csv", m.Activity.__table__),
    "attempt": ("attempts.csv", m.Attempt.__table__),
}

# Free-text kinds are not trimmed.
_TEXT_KINDS = {"text"}


@dataclass(frozen=True)
class Col:
    name: str
    kind: str = "str"  # id | str | text | email | bool | int | float | datetime | choice | labels
    required: bool = False
    default: Any = None
    db: str | None = None  # the table column when it differs from name; "" for none
    ref: str | None = None  # the kind of entity this id refers to
    choices: tuple[str, ...] = ()

    @property
    def db_name(self) -> str:
        return self.name if self.db is None else self.db


class FileSpec:
    """One bundle file: its columns, key, the table it fills and the entity it defines."""

    def __init__(
        self,
        name: str,
        model: type[m.Base],
        cols: Sequence[Col],
        key: Sequence[str],
        defines: str | None = None,
    ):
        self.name = name
        self.table: Table = model.__table__  # type: ignore[assignment]
        self.cols = tuple(cols)
        self.names = tuple(c.name for c in cols)
        self.index = {c.name: i for i, c in enumerate(cols)}
        self.key = tuple(key)
        self.key_idx = tuple(self.index[k] for k in key)
        # Every column is part of the key: the keys seen are the rows themselves.
        self.key_only = self.key_idx == tuple(range(len(self.cols)))
        self.defines = defines
        self.refs = tuple((i, c.ref, c.name) for i, c in enumerate(cols) if c.ref)
        self.max_len = {}
        for c in cols:
            target = m.UserLabel.__table__.c.label if c.kind == "labels" else self.table.c.get(c.db_name)
            length = getattr(getattr(target, "type", None), "length", None)
            if length:
                self.max_len[c.name] = length

    def col(self, name: str) -> Col:
        return self.cols[self.index[name]]


def _id(name: str, ref: str | None = None, db: str | None = None, required: bool = True) -> Col:
    return Col(name, "id", required=required, ref=ref, db=db, default=None if required else "")


FILES: tuple[FileSpec, ...] = (
    FileSpec(
        "users.csv",
        m.User,
        [
            _id("user_id", db="id"),
            Col("email", "email", required=True),
            Col("first_name", default=""),
            Col("last_name", default=""),
            Col("additional_info", "text", default=""),
            Col("labels", "labels", default=(), db=""),
            Col("created_at", "datetime"),
            Col("status", "choice", default="active", choices=("active", "blocked")),
        ],
        key=["user_id"],
        defines="user",
    ),
    FileSpec(
        "user_fields.csv",
        m.UserField,
        [_id("user_id", ref="user"), Col("field", required=True), Col("value", default="")],
        key=["user_id", "field"],
    ),
    FileSpec(
        "roles.csv",
        m.Role,
        [
            _id("user_id", ref="user"),
            Col("role", "choice", required=True, choices=m.ROLES),
            _id("scope_id", required=False),  # its kind depends on the role
        ],
        key=["user_id", "role", "scope_id"],
    ),
    FileSpec(
        "trainings.csv",
        m.Training,
        [
            _id("training_id", db="id"),
            Col("name", required=True),
            Col("published", "bool", default=True),
            Col("validity_months", "int"),
        ],
        key=["training_id"],
        defines="training",
    ),
    FileSpec(
        "modules.csv",
        m.Module,
        [
            _id("module_id", db="id"),
            Col("name", required=True),
            Col("keep_results", "choice", default="best", choices=("best", "newest")),
        ],
        key=["module_id"],
        defines="module",
    ),
    FileSpec(
        "training_modules.csv",
        m.TrainingModule,
        [
            _id("training_id", ref="training"),
            _id("module_id", ref="module"),
            Col("position", "int", required=True),
            Col("mandatory", "bool", default=True),
            Col("min_score", "float", default=0.0),
        ],
        key=["training_id", "module_id"],
    ),
    FileSpec(
        "activities.csv",
        m.Activity,
        [
            _id("activity_id", db="id"),
            _id("module_id", ref="module"),
            Col("name", required=True),
            Col("max_score", "float", required=True),
            Col("position", "int"),
            Col("type", default=""),
            Col("question", "text", default=""),
            Col("correct_answer", "text", default=""),
        ],
        key=["activity_id"],
        defines="activity",
    ),
    FileSpec(
        "classes.csv",
        m.Class,
        [_id("class_id", db="id"), Col("name", required=True)],
        key=["class_id"],
        defines="class",
    ),
    FileSpec(
        "class_members.csv",
        m.ClassMember,
        [_id("class_id", ref="class"), _id("user_id", ref="user"), Col("joined_at", "datetime")],
        key=["class_id", "user_id"],
    ),
    FileSpec(
        "class_trainings.csv",
        m.ClassTraining,
        [
            _id("class_id", ref="class"),
            _id("training_id", ref="training"),
            Col("registered_at", "datetime"),
        ],
        key=["class_id", "training_id"],
    ),
    FileSpec(
        "enrollments.csv",
        m.Enrollment,
        [
            _id("user_id", ref="user"),
            _id("training_id", ref="training"),
            Col("enrolled_at", "datetime", required=True),
        ],
        key=["user_id", "training_id"],
    ),
    FileSpec(
        "sessions.csv",
        m.ProgramSession,
        [
            _id("session_id", db="id"),
            _id("training_id", ref="training"),
            Col("name", required=True),
            Col("starts_at", "datetime"),
            Col("ends_at", "datetime"),
        ],
        key=["session_id"],
        defines="session",
    ),
    FileSpec(
        "session_learners.csv",
        m.SessionLearner,
        [_id("session_id", ref="session"), _id("user_id", ref="user")],
        key=["session_id", "user_id"],
    ),
    FileSpec(
        "attempts.csv",
        m.Attempt,
        [
            _id("attempt_id", db="id"),
            _id("user_id", ref="user"),
            _id("training_id", ref="training"),
            _id("module_id", ref="module"),
            Col("started_at", "datetime", required=True),
            Col("finished_at", "datetime"),
        ],
        key=["attempt_id"],
        defines="attempt",
    ),
    FileSpec(
        "answers.csv",
        m.Answer,
        [
            _id("attempt_id", ref="attempt"),
            _id("activity_id", ref="activity"),
            Col("score", "float", required=True),
            Col("answer", "text", default=""),
            Col("answered_at", "datetime"),
            Col("evaluated", "bool", default=True),
        ],
        key=["attempt_id", "activity_id"],
    ),
    FileSpec(
        "connections.csv",
        m.Connection,
        [
            _id("user_id", ref="user"),
            _id("module_id", ref="module"),
            Col("connected_at", "datetime", required=True),
            Col("disconnected_at", "datetime", required=True),
            Col("session_id", "id", ref="session", default=None),
        ],
        key=["user_id", "module_id", "connected_at", "disconnected_at", "session_id"],
    ),
    FileSpec(
        "logins.csv",
        m.Login,
        [_id("user_id", ref="user"), Col("logged_in_at", "datetime", required=True)],
        key=["user_id", "logged_in_at"],
    ),
    # SPEC §10: the proof of individual support (after the files it references).
    FileSpec(
        "tutor_contacts.csv",
        m.TutorContact,
        [
            _id("user_id", ref="user"),
            _id("session_id", ref="session"),
            Col("contacted_at", "datetime", required=True),
            Col("tutor", required=True),
            Col("channel", "choice", required=True, choices=m.TUTOR_CHANNELS),
            Col("duration_minutes", "int"),
            Col("subject", "text", default=""),
        ],
        key=["user_id", "session_id", "contacted_at", "tutor"],
    ),
    # SPEC §10: Qualiopi indicator 2's satisfaction, 0 to 10 (after the files it references).
    FileSpec(
        "satisfaction.csv",
        m.SatisfactionAnswer,
        [
            _id("user_id", ref="user"),
            _id("training_id", ref="training"),
            Col("answered_at", "datetime", required=True),
            Col("score", "float", required=True),
        ],
        key=["user_id", "training_id", "answered_at"],
    ),
)
FILE_ORDER = {spec.name: i for i, spec in enumerate(FILES)}
SPECS = {spec.name: spec for spec in FILES}
# Files that define ids are read first, so references to them resolve within the bundle.
_READ_ORDER = sorted(
    FILES, key=lambda s: (0, list(KINDS).index(s.defines)) if s.defines else (1, FILE_ORDER[s.name])
)

# ---------------------------------------------------------------------------------------
# Value parsing
# ---------------------------------------------------------------------------------------

_INVALID: Any = object()  # a cell that failed its check
_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_EMAIL_RE = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+")
_DATE_HINT = "expected e.g. 2026-03-14, 2026-03-14T09:30:00 or 2026-03-14T09:30:00+01:00"


class _Bad(Exception):
    """A cell's value is wrong; the message says why."""


def _parse_bool(raw: str) -> bool:
    low = raw.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    raise _Bad(f"expected true or false, got {raw!r}")


def _parse_int(raw: str) -> int:
    if not _INT_RE.fullmatch(raw):
        raise _Bad(f"not a whole number: {raw!r}")
    value = int(raw)
    if not -(2**31) <= value < 2**31:
        raise _Bad(f"whole number out of range: {raw!r}")
    return value


def _parse_float(raw: str) -> float:
    if not _FLOAT_RE.fullmatch(raw):
        hint = " (use a dot as the decimal separator)" if "," in raw else ""
        raise _Bad(f"not a number: {raw!r}{hint}")
    value = float(raw)
    if not math.isfinite(value):
        raise _Bad(f"not a finite number: {raw!r}")
    return value


def _parse_email(raw: str) -> str:
    if not _EMAIL_RE.fullmatch(raw):
        raise _Bad(f"not an email address: {raw!r}")
    return raw


def _parse_labels(raw: str) -> tuple[str, ...]:
    labels = (label.strip() for label in raw.split(","))
    return tuple(dict.fromkeys(label for label in labels if label))


def _datetime_parser(tz: tzinfo):
    fromisoformat = datetime.fromisoformat
    # A timestamp written as 2026-03-14T09:30:00+01:00 (what most exports write) is read as
    # its first 19 characters less its offset, the offset's text looked up once: the same value
    # as the general path below, in half the time. Offsets enter the table only from a value
    # the general path read whole.
    offsets: dict[str, timedelta] = {}

    def parse(raw: str) -> datetime:
        if len(raw) == 25:
            offset = offsets.get(raw[19:])
            if offset is not None and raw[10] in "T " and raw[13] == ":" and raw[16] == ":":
                try:
                    return fromisoformat(raw[:19]) - offset
                except (ValueError, OverflowError):
                    pass  # the general path says what is wrong
        value = _parse_datetime(raw)
        if len(raw) == 25 and raw[19] in "+-" and raw[22] == ":" and raw[10] in "T " and raw[13] == ":":
            offset = fromisoformat(raw).utcoffset()
            if offset is not None and fromisoformat(raw[:19]) - offset == value:
                offsets[raw[19:]] = offset
        return value

    def _parse_datetime(raw: str) -> datetime:
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise _Bad(f"not an ISO 8601 date or timestamp: {raw!r} ({_DATE_HINT})") from None
        offset = value.utcoffset()
        try:
            if offset is None:  # wall time in the platform zone (fold=0: the first of a repeated hour)
                return value - tz.utcoffset(value)  # type: ignore[operator]
            return datetime.combine(value.date(), value.time()) - offset
        except OverflowError:
            raise _Bad(f"date out of range: {raw!r}") from None

    return parse


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") + " UTC"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _first_bad_utf8_line(path: Path) -> int:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1


# ---------------------------------------------------------------------------------------
# The import
# ---------------------------------------------------------------------------------------


@dataclass
class _Parsed:
    spec: FileSpec
    present: set[str] = field(default_factory=set)
    rows: list[tuple] = field(default_factory=list)  # not kept when spec.key_only
    seen: dict[Any, int] = field(default_factory=dict)  # key (a value, or a tuple) -> first line

    def all_rows(self) -> list[tuple]:
        return list(self.seen) if self.spec.key_only else self.rows

    def release(self) -> None:
        self.rows, self.seen = [], {}


class _Importer:
    def __init__(self, session: Session, folder: Path, tz: tzinfo):
        self.s = session
        self.folder = folder
        self.tz = tz
        self.parse_datetime = _datetime_parser(tz)
        # The first MAX_ERRORS errors in report order, as a heap whose top is the last of them
        # (orders negated), and the count of every error.
        self._errors: list[tuple[tuple[int, int, int, int], BundleError]] = []
        self._error_count = 0
        self._quiet = False
        self.parsed: dict[str, _Parsed] = {}
        # kind -> id -> extra info (attempt: module_id; activity: (module_id, max_score)).
        self.defined: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        self.in_db: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        # (kind, file, column) -> id -> the lines referencing it, for ids not defined in the
        # bundle (compact: a bundle of a million connections references users two million times).
        self.unresolved: dict[tuple[str, str, str], dict[str, array]] = defaultdict(dict)
        # The same for the files read a block at a time (read_events_fast): (kind, file, column)
        # -> (the ids, the blocks of that column as (first line, values)).
        self.unresolved_blocks: dict[tuple[str, str, str], tuple[set[str], list[tuple[int, list]]]] = {}
        self.pending_answers: list[tuple[int, str, str, float]] = []
        self.emails: dict[str, tuple[str, int]] = {}  # lower-case email -> (user_id, line)
        self._strings: dict[str, str] = {}
        # Checks across the cells of one row, per file: f(values in the file's column order, line).
        by_name = {
            "users.csv": self._check_users,
            "roles.csv": self._check_roles,
            "trainings.csv": self._check_trainings,
            "training_modules.csv": self._check_training_modules,
            "activities.csv": self._check_activities,
            "answers.csv": self._check_answers,
            "tutor_contacts.csv": self._check_tutor_contacts,
            "satisfaction.csv": self._check_satisfaction,
        }
        self._checks: dict[str, Any] = {name: self._by_name(name, check) for name, check in by_name.items()}
        self._checks["sessions.csv"] = self._order_check("sessions.csv", "starts_at", "ends_at")
        self._checks["attempts.csv"] = self._order_check("attempts.csv", "started_at", "finished_at")
        self._checks["connections.csv"] = self._order_check(
            "connections.csv", "connected_at", "disconnected_at"
        )

    # -- errors ------------------------------------------------------------------------

    def error(self, file: str, line: int, column: str, message: str) -> None:
        if self._quiet:
            return
        spec = SPECS.get(file)
        # On a row, errors follow the columns; header errors keep the header's order.
        col_order = spec.index.get(column.split("+")[0], len(spec.cols)) if spec and line > 1 else 0
        order = (FILE_ORDER.get(file, -1), line, col_order, self._error_count)
        self._error_count += 1
        key = tuple(-part for part in order)
        if len(self._errors) < MAX_ERRORS:
            heapq.heappush(self._errors, (key, BundleError(file, line, column, message)))
        elif key > self._errors[0][0]:  # before the last kept error: it takes its place
            heapq.heapreplace(self._errors, (key, BundleError(file, line, column, message)))

    @property
    def has_errors(self) -> bool:
        return self._error_count > 0

    def sorted_errors(self) -> list[BundleError]:
        return [e for _, e in sorted(self._errors, key=lambda pair: pair[0], reverse=True)]

    def invalid(self) -> BundleInvalid:
        return BundleInvalid(self.sorted_errors(), self._error_count)

    # -- reading -----------------------------------------------------------------------

    def scan_folder(self, summary: ImportSummary) -> None:
        known_lower = {name.lower(): name for name in SPECS}
        for path in sorted(self.folder.iterdir()):
            if path.name in SPECS or path.name.startswith("."):
                continue
            hint = known_lower.get(path.name.lower())
            if path.is_dir():
                summary.warnings.append(f"ignored folder {path.name}/ (bundles are flat)")
            elif hint:
                summary.warnings.append(
                    f"ignored {path.name}: file names are case-sensitive, did you mean {hint}?"
                )
            else:
                summary.warnings.append(f"ignored {path.name}: not a bundle file name")
        summary.absent = [spec.name for spec in FILES if not os.path.lexists(self.folder / spec.name)]

    def read_all(self) -> None:
        for spec in _READ_ORDER:
            path = self.folder / spec.name
            if os.path.lexists(path) and self.may_read(spec, path):
                self.parsed[spec.name] = self.read_file(spec, path)

    def may_read(self, spec: FileSpec, path: Path) -> bool:
        """Only regular files inside the bundle folder are read: a symbolic link (to a file
        anywhere, e.g. /etc/passwd, whose lines error messages would echo), a FIFO (a read
        that never ends) or a device is refused without being opened."""
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            self.error(
                spec.name,
                0,
                "-",
                "is a symbolic link; refused without reading it (bundle files must be regular files inside the bundle folder)",
            )
            return False
        if not stat.S_ISREG(mode):
            self.error(spec.name, 0, "-", "is not a regular file; refused without reading it")
            return False
        if path.resolve().parent != self.folder.resolve():
            self.error(spec.name, 0, "-", "leaves the bundle folder; refused without reading it")
            return False
        return True

    def read_file(self, spec: FileSpec, path: Path) -> _Parsed:
        if spec.name in _EVENT_FILES:
            parsed = self.read_events_fast(spec, path)
            if parsed is not None:
                return parsed
        parsed = _Parsed(spec)
        reader = None
        try:
            # O_NOFOLLOW: a link swapped in after the check above is refused by the system too.
            descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with open(descriptor, encoding="utf-8-sig", newline="") as fh:
                reader = csv.reader(fh, strict=True)
                header = next(reader, None) or []
                positions = self.read_header(spec, header)
                parsed.present = set(positions)
                plan = self.row_plan(spec, positions)
                width = len(header)
                while True:
                    line = reader.line_num + 1
                    try:
                        row = next(reader)
                    except StopIteration:
                        break
                    joined = "".join(row)
                    if not joined.strip():  # a blank line, or only empty cells
                        continue
                    # A broken row is still read quietly to learn its ids, without cascading errors.
                    if "\x00" in joined:  # no database text column accepts it
                        self.error(spec.name, line, "-", "contains a NUL character")
                        row = [cell.replace("\x00", "") for cell in row]
                        self._quiet = True
                    if len(row) != width:
                        self.error(
                            spec.name,
                            line,
                            "-",
                            f"the row has {len(row)} field(s) but the header has {width}",
                        )
                        row = (row + [""] * width)[:width]
                        self._quiet = True
                    try:
                        self.read_row(parsed, plan, row, line)
                    finally:
                        self._quiet = False
        except UnicodeDecodeError:
            self.error(spec.name, _first_bad_utf8_line(path), "-", "not valid UTF-8 text")
        except csv.Error as exc:
            line = reader.line_num if reader is not None else 1
            self.error(spec.name, line, "-", f"malformed CSV: {exc}")
        except OSError as exc:
            self.error(spec.name, 0, "-", f"cannot be read: {exc.strerror}")
        return parsed

    def read_events_fast(self, spec: FileSpec, path: Path) -> _Parsed | None:
        """connections.csv and logins.csv, a block of rows at a time, each check over a whole
        column at C speed (map, zip, set) instead of cell by cell. Only a file without a single
        problem is read this way: at the first sign of one (a header to report, a row of another
        width or over several lines, an empty or bad value, a duplicate, an end before its
        start, a NUL), None is returned without noting any error, and the file is read again by
        the row-by-row reader, whose messages (file, line, column) are the ones a person sees.
        References to ids go to the same check against the database (resolve_references), their
        lines looked for only when one is unknown."""
        parsed = _Parsed(spec)
        refs: dict[tuple[str, str, str], tuple[set[str], list[tuple[int, list]]]] = {}
        try:
            descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with open(descriptor, encoding="utf-8-sig", newline="") as fh:
                reader = csv.reader(fh, strict=True)
                header = [raw.strip() for raw in next(reader, None) or []]
                positions = {name: i for i, name in enumerate(header)}
                if (
                    len(positions) != len(header)
                    or not positions.keys() <= spec.index.keys()
                    or any(c.required and c.name not in positions for c in spec.cols)
                ):
                    return None  # the row-by-row reader says what is wrong with the header
                parsed.present = set(positions)
                width = len(header)
                plan = self.row_plan(spec, positions)
                order = _FAST_ORDER.get(spec.name)
                seen = parsed.seen
                intern = self._strings.setdefault
                first_line = 2
                while True:
                    rows = list(itertools.islice(reader, FAST_BLOCK))
                    if not rows:
                        break
                    n = len(rows)
                    # One physical line per row (so the line numbers are known), each as wide
                    # as the header (no blank line).
                    if reader.line_num != first_line + n - 1 or set(map(len, rows)) != {width}:
                        return None
                    fields = list(zip(*rows, strict=True))
                    del rows
                    values: list[Any] = []
                    for pos, parser, trim, required, default, name, is_id in plan:
                        if pos < 0:  # an absent column, not required (checked above)
                            values.append([default] * n)
                            continue
                        column: Any = fields[pos]
                        if not trim or "\x00" in "".join(column):
                            return None
                        column = tuple(map(str.strip, column))
                        empty = "" in column
                        if empty and required:
                            return None
                        if is_id:
                            limit = spec.max_len.get(name)
                            if limit and max(map(len, column)) > limit:
                                return None
                            column = list(map(intern, column, column))
                            if empty:
                                column = [v if v else default for v in column]
                        elif parser is not None:
                            try:
                                if empty:
                                    column = [parser(v) if v else default for v in column]
                                else:
                                    column = list(map(parser, column))
                            except _Bad:
                                return None
                        elif empty:
                            column = [v if v else default for v in column]
                        values.append(column)
                    del fields
                    if order is not None and any(map(operator.lt, values[order[1]], values[order[0]])):
                        return None  # an end before its start
                    before = len(seen)
                    seen.update(
                        zip(zip(*values, strict=True), range(first_line, first_line + n), strict=True)
                    )
                    if len(seen) - before != n:  # a duplicate key
                        return None
                    for i, kind, name in spec.refs:
                        unknown = set(values[i]) - self.defined[kind].keys()
                        unknown.discard(None)
                        if unknown:
                            ids, blocks = refs.setdefault((kind, spec.name, name), (set(), []))
                            ids.update(unknown)
                            blocks.append((first_line, values[i]))
                    first_line += n
        except (UnicodeDecodeError, csv.Error, OSError):
            return None
        self.unresolved_blocks.update(refs)
        return parsed

    def read_header(self, spec: FileSpec, header: list[str]) -> dict[str, int]:
        positions: dict[str, int] = {}
        for i, raw in enumerate(header):
            name = raw.strip()
            if name in spec.index:
                if name in positions:
                    self.error(
                        spec.name, 1, name, f"column appears twice (fields {positions[name] + 1} and {i + 1})"
                    )
                else:
                    positions[name] = i
            elif not name:
                self.error(spec.name, 1, f"(field {i + 1})", "column without a name")
            else:
                self.error(spec.name, 1, name, "unknown column (expected: " + ", ".join(spec.names) + ")")
        for col in spec.cols:
            if col.required and col.name not in positions:
                self.error(spec.name, 1, col.name, "missing required column")
        return positions

    def row_plan(self, spec: FileSpec, positions: dict[str, int]) -> list[tuple]:
        """Per column: (field index or -1, parser (with its length check), trim?, required, default,
        name, id?)."""
        parsers = {
            "bool": _parse_bool,
            "int": _parse_int,
            "float": _parse_float,
            "email": _parse_email,
            "datetime": self.parse_datetime,
            "labels": _parse_labels,
        }
        plan = []
        for col in spec.cols:
            parser = self._choice_parser(col) if col.kind == "choice" else parsers.get(col.kind)
            max_len = spec.max_len.get(col.name)
            if max_len:
                parser = self._length_check(parser, max_len, col.kind == "labels")
            plan.append(
                (
                    positions.get(col.name, -1),
                    parser,
                    col.kind not in _TEXT_KINDS,
                    col.required,
                    col.default,
                    col.name,
                    col.kind == "id",
                )
            )
        return plan

    @staticmethod
    def _choice_parser(col: Col):
        allowed = {c.lower(): c for c in col.choices}

        def parse(raw: str) -> str:
            try:
                return allowed[raw.lower()]
            except KeyError:
                raise _Bad(
                    f"unknown {col.name} {raw!r} (expected one of: {', '.join(col.choices)})"
                ) from None

        return parse

    @staticmethod
    def _length_check(parser, max_len: int, many: bool):
        def parse(raw: str) -> Any:
            value = parser(raw) if parser else raw
            for item in value if many else (value,):
                if len(item) > max_len:
                    raise _Bad(f"longer than {max_len} characters: {item[:40]!r}...")
            return value

        return parse

    def read_row(self, parsed: _Parsed, plan: list[tuple], row: list[str], line: int) -> None:
        spec = parsed.spec
        fname = spec.name
        values: list[Any] = []
        append = values.append
        ok = True
        for pos, parser, trim, required, default, name, is_id in plan:
            if pos < 0:  # absent column: the default (an error when required)
                append(_INVALID if required else default)
                continue
            text = row[pos]
            if trim:
                text = text.strip()
                empty = not text
            else:
                empty = not text.strip()
            if empty:
                if required:
                    self.error(fname, line, name, "required value is empty")
                    append(_INVALID)
                    ok = False
                else:
                    append(default)
                continue
            if parser is not None:
                try:
                    text = parser(text)
                except _Bad as bad:
                    self.error(fname, line, name, str(bad))
                    append(_INVALID)
                    ok = False
                    continue
            if is_id:
                text = self._strings.setdefault(text, text)
            append(text)

        key_idx = spec.key_idx
        single = len(key_idx) == 1
        key = values[key_idx[0]] if single else tuple([values[i] for i in key_idx])
        if not (key is _INVALID if single else _INVALID in key):
            seen = parsed.seen
            first = seen.get(key)
            if first is not None:
                if single:
                    self.error(
                        fname, line, spec.key[0], f"duplicate {spec.key[0]} {key!r} (first on line {first})"
                    )
                else:
                    shown = ", ".join(_show(v) for v in key)
                    self.error(
                        fname, line, "+".join(spec.key), f"duplicate key ({shown}) (first on line {first})"
                    )
                ok = False
            else:
                seen[key] = line
                if spec.defines:
                    self.define(spec, key, values)

        check = self._checks.get(fname)
        if check is not None:
            before = len(self._errors)
            check(values, line)
            ok = ok and len(self._errors) == before
        if not self._quiet:
            defined = self.defined
            unresolved = self.unresolved
            for i, kind, name in spec.refs:
                value = values[i]
                if value is not _INVALID and value is not None and value not in defined[kind]:
                    lines = unresolved[(kind, fname, name)].get(value)
                    if lines is None:
                        lines = unresolved[(kind, fname, name)][value] = array("q")
                    lines.append(line)
        if ok and not spec.key_only and not self._errors:
            parsed.rows.append(tuple(values))

    def define(self, spec: FileSpec, ident: str, values: list[Any]) -> None:
        extra: Any = True
        if spec.defines == "attempt":
            extra = values[spec.index["module_id"]]
        elif spec.defines == "activity":
            extra = (values[spec.index["module_id"]], values[spec.index["max_score"]])
        self.defined[spec.defines][ident] = extra  # type: ignore[index]

    def reference(self, kind: str, ident: str, file: str, line: int, column: str) -> None:
        if self._quiet or ident in self.defined[kind]:
            return
        self.unresolved[(kind, file, column)].setdefault(ident, array("q")).append(line)

    # -- checks across the columns of a row --------------------------------------------

    def _check_users(self, v: dict[str, Any], line: int) -> None:
        email = v["email"]
        if email is _INVALID:
            return
        first = self.emails.get(email.lower())
        if first is None:
            self.emails[email.lower()] = (v["user_id"], line)
        elif first[0] != v["user_id"]:
            self.error(
                "users.csv",
                line,
                "email",
                f"email {email!r} is already used by user {first[0]!r} on line {first[1]}",
            )

    def _check_roles(self, v: dict[str, Any], line: int) -> None:
        role, scope = v["role"], v["scope_id"]
        if role is _INVALID or scope is _INVALID:
            return
        kind = m.SCOPED_ROLES.get(role)
        if kind and not scope:
            self.error("roles.csv", line, "scope_id", f"role {role} needs a scope_id (a {kind} id)")
        elif not kind and scope:
            self.error(
                "roles.csv",
                line,
                "scope_id",
                f"role {role} is not scoped: scope_id must be empty, got {scope!r}",
            )
        elif kind:
            self.reference(kind, scope, "roles.csv", line, "scope_id")

    def _check_trainings(self, v: dict[str, Any], line: int) -> None:
        months = v["validity_months"]
        if months not in (None, _INVALID) and months < 1:
            self.error(
                "trainings.csv",
                line,
                "validity_months",
                f"must be at least 1 (or empty for none), got {months}",
            )

    def _check_training_modules(self, v: dict[str, Any], line: int) -> None:
        score = v["min_score"]
        if score is not _INVALID and not 0 <= score <= 100:
            self.error(
                "training_modules.csv", line, "min_score", f"min_score {_show(score)} is outside 0–100"
            )

    def _check_activities(self, v: dict[str, Any], line: int) -> None:
        score = v["max_score"]
        if score is not _INVALID and score < 0:
            self.error("activities.csv", line, "max_score", f"max_score {_show(score)} is below 0")

    def _check_tutor_contacts(self, v: dict[str, Any], line: int) -> None:
        minutes = v["duration_minutes"]
        if minutes not in (None, _INVALID) and not 0 <= minutes <= 24 * 60:
            self.error(
                "tutor_contacts.csv",
                line,
                "duration_minutes",
                f"must be between 0 and 1440 minutes (or empty), got {minutes}",
            )

    def _check_satisfaction(self, v: dict[str, Any], line: int) -> None:
        score = v["score"]
        if score is not _INVALID and not 0 <= score <= 10:
            self.error("satisfaction.csv", line, "score", f"score {_show(score)} is outside 0–10")

    @staticmethod
    def _by_name(file: str, check):
        """A check that reads the row's values by column name."""
        names = SPECS[file].names

        def run(values: list[Any], line: int) -> None:
            check(dict(zip(names, values, strict=True)), line)

        return run

    def _order_check(self, file: str, start: str, end: str):
        """The end of a span may not be before its start (values read by position)."""
        i, j = SPECS[file].index[start], SPECS[file].index[end]
        error = self.error

        def run(values: list[Any], line: int) -> None:
            a, b = values[i], values[j]
            if a is not None and b is not None and a is not _INVALID and b is not _INVALID and b < a:
                error(file, line, end, f"{end} ({_show(b)}) is before {start} ({_show(a)})")

        return run

    def _check_answers(self, v: dict[str, Any], line: int) -> None:
        score, attempt, activity_id = v["score"], v["attempt_id"], v["activity_id"]
        if score is _INVALID:
            return
        if score < 0:
            self.error("answers.csv", line, "score", f"score {_show(score)} is below 0")
        elif attempt is not _INVALID and activity_id is not _INVALID:
            module = self.defined["attempt"].get(attempt)
            activity = self.defined["activity"].get(activity_id)
            if module is not None and activity is not None:
                self.check_answer(line, attempt, module, activity_id, activity, score)
            elif not self._quiet:  # the attempt or the activity is in the database
                self.pending_answers.append((line, attempt, activity_id, score))

    def check_answer(
        self, line: int, attempt: str, module: Any, activity_id: str, activity: tuple, score: float
    ) -> None:
        activity_module, max_score = activity
        if _INVALID in (module, activity_module):
            return
        if activity_module != module:
            self.error(
                "answers.csv",
                line,
                "activity_id",
                f"activity {activity_id!r} belongs to module {activity_module!r}, "
                f"not to module {module!r} of attempt {attempt!r}",
            )
        elif max_score is not _INVALID and score > max_score:
            self.error(
                "answers.csv",
                line,
                "score",
                f"score {_show(score)} is above the max score {_show(max_score)} of activity {activity_id!r}",
            )

    # -- checks against the database ---------------------------------------------------

    def resolve_references(self) -> None:
        wanted: dict[str, set[str]] = defaultdict(set)
        for (kind, _file, _column), lines_by_id in self.unresolved.items():
            wanted[kind].update(lines_by_id)
        for (kind, _file, _column), (ids, _blocks) in self.unresolved_blocks.items():
            wanted[kind].update(ids)
        for kind, ids in wanted.items():
            self.in_db[kind] = self.lookup(kind, sorted(ids))
        for (kind, place_file, column), lines_by_id in self.unresolved.items():
            found = self.in_db[kind]
            file = KINDS[kind][0]
            for ident, lines in lines_by_id.items():
                if ident not in found:
                    for line in lines:
                        self.error(
                            place_file,
                            line,
                            column,
                            f"unknown {kind} {ident!r} (not in {file} nor in the database)",
                        )
        self.unresolved.clear()
        for (kind, place_file, column), (ids, blocks) in self.unresolved_blocks.items():
            missing = ids - self.in_db[kind].keys()
            if not missing:
                continue
            file = KINDS[kind][0]
            for first_line, values in blocks:
                for offset, ident in enumerate(values):
                    if ident in missing:
                        self.error(
                            place_file,
                            first_line + offset,
                            column,
                            f"unknown {kind} {ident!r} (not in {file} nor in the database)",
                        )
        self.unresolved_blocks.clear()
        for line, attempt, activity_id, score in self.pending_answers:
            module = self.defined["attempt"].get(attempt, self.in_db["attempt"].get(attempt))
            activity = self.defined["activity"].get(activity_id, self.in_db["activity"].get(activity_id))
            if module is not None and activity is not None:
                self.check_answer(line, attempt, module, activity_id, activity, score)

    def lookup(self, kind: str, ids: list[str]) -> dict[str, Any]:
        """Those ids that exist in the database, with the extra info of their kind."""
        table = KINDS[kind][1]
        cols = [table.c.id]
        if kind == "attempt":
            cols.append(table.c.module_id)
        elif kind == "activity":
            cols += [table.c.module_id, table.c.max_score]
        found: dict[str, Any] = {}
        for batch in _chunks(ids, LOOKUP_BATCH):
            for row in self.s.execute(select(*cols).where(table.c.id.in_(batch))):
                found[row[0]] = (
                    row[1] if kind == "attempt" else (tuple(row[1:]) if kind == "activity" else True)
                )
        return found

    def check_stored_answers(self) -> None:
        """Answers in the database that answers.csv does not replace must still fit the
        activities and attempts the bundle updates: the activity in the attempt's module, the
        score at most the max score. An error goes on the row that changes the activity or
        the attempt, one per row and column (the first offending answer, and how many more)."""
        activities, attempts = self.defined["activity"], self.defined["attempt"]
        act_t, att_t = m.Activity.__table__, m.Attempt.__table__
        # Only the ids whose module or max score the bundle changes can break stored answers.
        stored_activities = self.existing(act_t, ["id"], ["module_id", "max_score"], set(activities))
        stored_attempts = self.existing(att_t, ["id"], ["module_id"], set(attempts))
        moved_activities = {k[0] for k, old in stored_activities.items() if activities[k[0]] != old}
        moved_attempts = {k[0] for k, (old,) in stored_attempts.items() if attempts[k[0]] != old}
        if not moved_activities and not moved_attempts:
            return
        answers = self.parsed.get("answers.csv")
        replaced = answers.seen if answers is not None else {}

        # found[(file, id, column)] = [count, sort key of the first answer, its details]
        found: dict[tuple[str, str, str], list[Any]] = {}

        def note(file: str, ident: str, column: str, order: tuple, details: tuple) -> None:
            entry = found.get((file, ident, column))
            if entry is None:
                found[(file, ident, column)] = [1, order, details]
            else:
                entry[0] += 1
                if order < entry[1]:
                    entry[1:] = [order, details]

        for attempt_id, activity_id, score, att_old, act_old, max_old in self._stored_answers(
            moved_activities, moved_attempts
        ):
            if (attempt_id, activity_id) in replaced:
                continue  # answers.csv replaces it and its row is checked as usual
            att_module = attempts.get(attempt_id, att_old)
            act_module, max_score = activities.get(activity_id, (act_old, max_old))
            order = (attempt_id, activity_id)
            if _INVALID not in (att_module, act_module) and att_module != act_module:
                if act_module != act_old:
                    note("activities.csv", activity_id, "module_id", order, (attempt_id, att_module))
                if att_module != att_old:
                    note("attempts.csv", attempt_id, "module_id", order, (activity_id, act_module))
            if max_score is not _INVALID and max_score != max_old and score > max_score:
                note("activities.csv", activity_id, "max_score", (-score, *order), (attempt_id, score))

        for (file, ident, column), (n, _order, details) in found.items():
            line = self.parsed[file].seen[ident]
            more = n - 1
            s = "" if more == 1 else "s"
            if column == "max_score":
                attempt_id, score = details
                new_max = activities[ident][1]
                message = (
                    f"max_score {_show(new_max)} is below the score {_show(score)} "
                    f"of the stored answer of attempt {attempt_id!r}"
                )
                tail = f"other stored answer{s} above {_show(new_max)}"
            elif file == "activities.csv":
                attempt_id, module = details
                message = (
                    f"activity {ident!r} would move to module {activities[ident][0]!r}, but it has "
                    f"a stored answer in attempt {attempt_id!r} of module {module!r}"
                )
                tail = f"other stored answer{s} in attempts of other modules"
            else:
                activity_id, module = details
                message = (
                    f"attempt {ident!r} would move to module {attempts[ident]!r}, but it has "
                    f"a stored answer to activity {activity_id!r} of module {module!r}"
                )
                tail = f"other stored answer{s} to activities of other modules"
            if more:
                message += f" (and {more} {tail})"
            self.error(file, line, column, message)

    def _stored_answers(self, activity_ids: set[str], attempt_ids: set[str]) -> Iterator[tuple]:
        """Stored answers to these activities or in these attempts, each once:
        (attempt_id, activity_id, score, attempt module, activity module, activity max score)."""
        ans, att, act = m.Answer.__table__, m.Attempt.__table__, m.Activity.__table__
        query = select(
            ans.c.attempt_id,
            ans.c.activity_id,
            ans.c.score,
            att.c.module_id,
            act.c.module_id,
            act.c.max_score,
        ).select_from(ans.join(att, att.c.id == ans.c.attempt_id).join(act, act.c.id == ans.c.activity_id))
        # answers.activity_id has no index: each "IN" on it reads the whole table, so beyond
        # one batch of activities a single scan is cheaper.
        if len(activity_ids) > LOOKUP_BATCH or len(attempt_ids) > SCAN_THRESHOLD:
            for row in self.s.execute(query.execution_options(yield_per=WRITE_BATCH)):
                if row[0] in attempt_ids or row[1] in activity_ids:
                    yield tuple(row)
            return
        seen: set[tuple[str, str]] = set()
        lookups = [(ans.c.activity_id, activity_ids), (ans.c.attempt_id, attempt_ids)]
        for column, ids in lookups:
            for batch in _chunks(sorted(ids), LOOKUP_BATCH):
                for row in self.s.execute(query.where(column.in_(batch))):
                    if (row[0], row[1]) not in seen:
                        seen.add((row[0], row[1]))
                        yield tuple(row)

    def check_emails(self) -> None:
        """An email may not belong to another user once the bundle is imported."""
        if "users.csv" not in self.parsed or not self.emails:
            return
        users = m.User.__table__
        bundle_users = self.defined["user"]
        owners: dict[str, list[str]] = defaultdict(list)
        for user_id, email in self.s.execute(select(users.c.id, users.c.email)):
            if user_id not in bundle_users:
                owners[(email or "").lower()].append(user_id)
        for lower, (_user_id, line) in self.emails.items():
            others = owners.get(lower)
            if others:
                self.error(
                    "users.csv", line, "email", f"email already used by user {others[0]!r} in the database"
                )

    # -- writing -----------------------------------------------------------------------

    def existing(
        self, table: Table, key_cols: list[str], value_cols: list[str], first_keys: set[Any]
    ) -> dict[tuple, tuple]:
        """Existing rows whose first key column is in first_keys: key -> values."""
        out: dict[tuple, tuple] = {}
        if not first_keys:
            return out
        nk = len(key_cols)
        columns = [table.c[c] for c in (*key_cols, *value_cols)]
        nullable_key = [i for i, c in enumerate(key_cols) if table.c[c].nullable]

        def take(rows: Iterable[Any]) -> None:
            for row in rows:
                if row[0] not in first_keys:
                    continue
                key = list(row[:nk])
                for i in nullable_key:
                    key[i] = key[i] or None
                out[tuple(key)] = tuple(row[nk:])

        if len(first_keys) > SCAN_THRESHOLD:
            take(self.s.execute(select(*columns).execution_options(yield_per=WRITE_BATCH)))
        else:
            for batch in _chunks(sorted(first_keys, key=str), LOOKUP_BATCH):
                take(self.s.execute(select(*columns).where(columns[0].in_(batch))))
        return out

    def write(self, summary: ImportSummary) -> None:
        for spec in FILES:
            parsed = self.parsed.get(spec.name)
            if parsed is None:
                continue
            if spec.name == "users.csv":
                write = self.write_users
            elif spec.name in _EVENT_FILES and self.has_unique_key(spec):
                write = self.append_events
            else:
                write = self.upsert
            summary.files[spec.name] = write(parsed)
            self.claim_from_xapi(parsed)
            parsed.release()

    def claim_from_xapi(self, parsed: _Parsed) -> None:
        """Rows of the bundle that xAPI had created (xapi = true) become the bundle's: xAPI's
        re-derivation never deletes or replaces them any more (SPEC §8: a user, training,
        enrollment... known from a bundle keeps the bundle's values)."""
        spec, table = parsed.spec, parsed.spec.table
        if "xapi" not in table.c:
            return
        if self.s.execute(select(table.c.xapi).where(table.c.xapi.is_(True)).limit(1)).first() is None:
            return  # no xAPI rows in this table: nothing to claim (the common, fast case)
        key_cols = [spec.col(k).db_name for k in spec.key]

        def same(name: str):
            column = table.c[name]
            if column.nullable:  # connections.session_id: NULL is a value of the key
                return func.coalesce(column, "") == func.coalesce(bindparam(f"k_{name}"), "")
            return column == bindparam(f"k_{name}")

        stmt = update(table).where(table.c.xapi.is_(True), *(same(c) for c in key_cols)).values(xapi=False)
        params = (
            {f"k_{c}": row[i] for c, i in zip(key_cols, spec.key_idx, strict=True)}
            for row in parsed.all_rows()
        )
        for batch in _chunks(params, WRITE_BATCH):
            self.s.execute(stmt, batch)

    def upsert(self, parsed: _Parsed) -> FileCounts:
        spec, table = parsed.spec, parsed.spec.table
        key_cols = [spec.col(k) for k in spec.key]
        value_cols = [c for c in spec.cols if c.name not in spec.key and c.db != ""]
        update_cols = [c for c in value_cols if c.name in parsed.present]
        update_idx = [spec.index[c.name] for c in update_cols]
        rows = parsed.all_rows()
        existing = self.existing(
            table,
            [c.db_name for c in key_cols],
            [c.db_name for c in update_cols],
            {row[spec.key_idx[0]] for row in rows},
        )
        counts = FileCounts(rows=len(rows))
        inserts: list[tuple] = []
        updates: list[tuple] = []
        for row in rows:
            old = existing.get(tuple(row[i] for i in spec.key_idx))
            if old is None:
                inserts.append(row)
            elif tuple(row[i] for i in update_idx) != old:
                updates.append(row)
            else:
                counts.unchanged += 1
        counts.added, counts.updated = len(inserts), len(updates)
        _mark_touched(self.s, spec, inserts + updates)
        if inserts or updates:
            summaries.mark(self.s, version=True)

        all_cols = [(c.db_name, spec.index[c.name]) for c in (*key_cols, *value_cols)]
        self.insert_rows(table, ({name: row[i] for name, i in all_cols} for row in inserts))
        if updates:
            stmt = (
                update(table)
                .where(and_(*(table.c[c.db_name] == bindparam(f"k_{c.db_name}") for c in key_cols)))
                .values({c.db_name: bindparam(f"v_{c.db_name}") for c in update_cols})
            )
            params = (
                {
                    **{f"k_{c.db_name}": row[spec.index[c.name]] for c in key_cols},
                    **{f"v_{c.db_name}": row[spec.index[c.name]] for c in update_cols},
                }
                for row in updates
            )
            for batch in _chunks(params, WRITE_BATCH):
                self.s.execute(stmt, batch)
        return counts

    def has_unique_key(self, spec: FileSpec) -> bool:
        """Whether the table has a unique index on the file's whole key (the primary key of
        logins; uq_connections_key), which append_events relies on (SQLite, PostgreSQL)."""
        connection = self.s.connection()
        table = spec.table.name
        if connection.dialect.name == "postgresql":
            definitions = connection.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %(t)s",
                {"t": table},
            ).scalars()
            names = [c.db_name for c in spec.cols]
            return any(
                d.startswith("CREATE UNIQUE")
                and len(re.findall(r"\b(?:" + "|".join(names) + r")\b", d.split("USING", 1)[-1]))
                == len(names)
                for d in definitions
            )
        if connection.dialect.name != "sqlite":
            return False
        for index in connection.exec_driver_sql(f"PRAGMA index_list({table})").all():
            if not index[2]:  # not unique
                continue
            columns = [
                row[2] for row in connection.exec_driver_sql(f"PRAGMA index_xinfo({index[1]})") if row[5]
            ]
            # An expression column is None; connections' fifth key column is coalesce(session_id, '').
            if [c or "session_id" for c in columns] == [c.db_name for c in spec.cols]:
                return True
        return False

    def append_events(self, parsed: _Parsed) -> FileCounts:
        if self.s.connection().dialect.name == "postgresql":
            return self.append_events_copy(parsed)
        return self.append_events_sqlite(parsed)

    def append_events_copy(self, parsed: _Parsed) -> FileCounts:
        """connections.csv and logins.csv on PostgreSQL: the rows go to a temporary table by
        COPY, then in with one INSERT ... SELECT ... ON CONFLICT DO NOTHING (the table's unique
        key skips those already stored); RETURNING gives the rows added."""
        spec, table = parsed.spec, parsed.spec.table
        rows = parsed.all_rows()
        connection = self.s.connection()
        columns = ", ".join(c.db_name for c in spec.cols)
        connection.exec_driver_sql("DROP TABLE IF EXISTS pg_temp.import_events")
        connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE import_events AS SELECT {columns} FROM {table.name} WITH NO DATA"
        )
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY import_events ({columns}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
        added = [
            tuple(row)
            for row in connection.exec_driver_sql(
                f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM import_events "
                f"ON CONFLICT DO NOTHING RETURNING {columns}"
            )
        ]
        connection.exec_driver_sql("DROP TABLE pg_temp.import_events")
        _mark_touched(self.s, spec, added)
        if added:
            summaries.mark(self.s, version=True)
        return FileCounts(rows=len(rows), added=len(added), unchanged=len(rows) - len(added))

    def append_events_sqlite(self, parsed: _Parsed) -> FileCounts:
        """connections.csv and logins.csv on SQLite: rows are only ever added (every column is
        the key), so each row goes in unless the table's unique key already holds it (INSERT OR
        IGNORE), without loading the stored rows first. The rows added are those whose rowid
        is above the largest one before (read back only when some were already stored)."""
        spec, table = parsed.spec, parsed.spec.table
        rows = parsed.all_rows()
        total = len(rows)
        connection = self.s.connection()
        columns = [c.db_name for c in spec.cols]
        sql = (
            f"INSERT OR IGNORE INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )
        (last_rowid,) = connection.exec_driver_sql(f"SELECT coalesce(max(rowid), 0) FROM {table.name}").one()
        (changes_before,) = connection.exec_driver_sql("SELECT total_changes()").one()
        # Timestamps in SQLAlchemy's SQLite format, e.g. 2026-03-14 08:30:00.000000, column by
        # column (methodcaller and zip run in C; the rows are tuples of the file's columns).
        text = operator.methodcaller("isoformat", " ", "microseconds")
        timestamps = {i for i, c in enumerate(spec.cols) if c.kind == "datetime"}
        cursor = connection.connection.cursor()  # the driver's own executemany
        for batch in _chunks(rows, WRITE_BATCH):
            by_column = list(zip(*batch, strict=True))
            cursor.executemany(
                sql,
                list(
                    zip(
                        *(
                            map(text, values) if i in timestamps else values
                            for i, values in enumerate(by_column)
                        ),
                        strict=True,
                    )
                ),
            )
        (changes_after,) = connection.exec_driver_sql("SELECT total_changes()").one()
        added = changes_after - changes_before
        if added != total:  # some were stored already: the new ones are read back
            rowid = literal_column("rowid")
            rows = [
                tuple(row)
                for row in connection.execute(
                    select(*(table.c[c] for c in columns)).where(rowid > last_rowid).order_by(rowid)
                )
            ]
        _mark_touched(self.s, spec, rows)
        if rows:
            summaries.mark(self.s, version=True)
        return FileCounts(rows=total, added=added, unchanged=total - added)

    def insert_rows(self, table: Table, rows: Iterable[dict[str, Any]]) -> None:
        for batch in _chunks(rows, WRITE_BATCH):
            self.s.execute(insert(table), batch)

    def write_users(self, parsed: _Parsed) -> FileCounts:
        users = m.User.__table__
        index = parsed.spec.index
        stored = ("email", "first_name", "last_name", "additional_info", "created_at", "status")
        loaded = (*stored, "sort_key", "search_text")
        compared = [c for c in stored if c in parsed.present] + ["sort_key", "search_text"]
        existing = self.existing(users, ["id"], list(loaded), {row[0] for row in parsed.rows})
        counts = FileCounts(rows=len(parsed.rows))
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        email_moves: list[dict[str, Any]] = []
        changed: set[str] = set()
        for row in parsed.rows:
            user_id = row[0]
            values = {c: row[index[c]] for c in stored}
            found = existing.get((user_id,))
            old = dict(zip(loaded, found, strict=True)) if found is not None else None
            if old is not None:
                for c in stored:
                    if c not in parsed.present:
                        values[c] = old[c]  # an absent column leaves the field as it was
            values["sort_key"] = person_sort_key(values["last_name"], values["first_name"], values["email"])
            values["search_text"] = person_search_text(
                values["last_name"], values["first_name"], values["email"]
            )
            if old is None:
                inserts.append({"id": user_id, **values, "password_hash": None})
            elif any(values[c] != old[c] for c in compared):
                updates.append({"k_id": user_id, **{f"v_{c}": values[c] for c in compared}})
                changed.add(user_id)
                if values["email"] != old["email"]:
                    email_moves.append({"k_id": user_id, "v_email": f"#importing#{user_id}"})

        # Free the emails that change hands first: the unique constraint is checked per row.
        by_id = users.c.id == bindparam("k_id")
        for batch in _chunks(email_moves, WRITE_BATCH):
            self.s.execute(update(users).where(by_id).values(email=bindparam("v_email")), batch)
        if updates:
            stmt = update(users).where(by_id).values({c: bindparam(f"v_{c}") for c in compared})
            for batch in _chunks(updates, WRITE_BATCH):
                self.s.execute(stmt, batch)
        self.insert_rows(users, inserts)

        if "labels" in parsed.present:
            changed |= self.write_labels(parsed, existing_ids={key[0] for key in existing})
        counts.added = len(inserts)
        counts.updated = len(changed)
        counts.unchanged = counts.rows - counts.added - counts.updated
        summaries.mark(
            self.s, users=[row["id"] for row in inserts] + sorted(changed), version=bool(inserts or changed)
        )
        return counts

    def write_labels(self, parsed: _Parsed, existing_ids: set[str]) -> set[str]:
        """Replace the labels of the users in the file; the existing users whose labels changed."""
        labels = m.UserLabel.__table__
        li = parsed.spec.index["labels"]
        wanted = {row[0]: set(row[li]) for row in parsed.rows}
        current: dict[str, set[str]] = defaultdict(set)
        for (user_id, label), _ in self.existing(labels, ["user_id", "label"], [], set(existing_ids)).items():
            current[user_id].add(label)
        stale = [u for u in existing_ids if current.get(u, set()) != wanted[u]]
        for batch in _chunks(sorted(stale), LOOKUP_BATCH):
            self.s.execute(delete(labels).where(labels.c.user_id.in_(batch)))
        renewed = set(stale) | (wanted.keys() - existing_ids)
        self.insert_rows(
            labels,
            (
                {"user_id": row[0], "label": label}
                for row in parsed.rows
                if row[0] in renewed
                for label in row[li]
            ),
        )
        return set(stale)


# Files whose rows the effective enrollments (training_learners) are made of.
_ENROLLING_FILES = {"enrollments.csv", "class_members.csv", "class_trainings.csv"}

# Files whose rows are events only ever added (append_events), read a block at a time when
# they have no problem (read_events_fast).
_EVENT_FILES = ("connections.csv", "logins.csv")
# Rows per block of read_events_fast.
FAST_BLOCK = 50_000
# The (start, end) columns whose order read_events_fast checks, by position.
_FAST_ORDER = {
    "connections.csv": (
        SPECS["connections.csv"].index["connected_at"],
        SPECS["connections.csv"].index["disconnected_at"],
    )
}


def _mark_touched(session: Session, spec: FileSpec, rows: list[tuple]) -> None:
    """Mark what the file's added or changed rows refresh (data/summaries.py REFRESHES)."""
    # New connections and logins are added to the summaries as they are (a bundle of only
    # these refreshes no learner: data/summary_append.py); key-only files have no updates.
    if spec.name == "connections.csv":
        summaries.mark(session, written=["connections"], connections=rows)
        return
    if spec.name == "logins.csv":
        summaries.mark(session, written=["logins"], logins=rows)
        return
    refresh = summaries.REFRESHES.get(spec.table.name)
    if refresh is None or not refresh.keys or not rows:
        return
    index = {c.db_name: i for i, c in enumerate(spec.cols)}
    marks = {kind: {row[index[column]] for row in rows} for column, kind in refresh.keys}
    summaries.mark(session, written=[spec.table.name], **marks)


def import_bundle(session: Session, folder: Path, tz: tzinfo) -> ImportSummary:
    """Import the CSV bundle in folder (SPEC §3) inside the caller's transaction.

    Every file is read and checked first; on any problem nothing is written and
    BundleInvalid lists every error. Otherwise rows are added or updated (never deleted),
    the effective enrollments are rebuilt, and a summary of what changed is returned.
    Timestamps without an offset are read in tz and stored as naive UTC.
    """
    folder = Path(folder)
    csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))
    summary = ImportSummary(folder=folder)
    if not folder.is_dir():
        raise BundleInvalid([BundleError(str(folder), 0, "-", "not a folder")])
    with _no_cycle_collection():
        return _import(session, folder, tz, summary)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused: a big bundle keeps millions of tuples alive, which each
    collection would walk again (a sixth of a 1,000,000-row import's time); nothing the import
    makes needs it, and it runs again afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _import(session: Session, folder: Path, tz: tzinfo, summary: ImportSummary) -> ImportSummary:
    importer = _Importer(session, folder, tz)
    importer.scan_folder(summary)
    if len(summary.absent) == len(FILES):
        raise BundleInvalid(
            [BundleError(str(folder), 0, "-", "no bundle file found (expected " + ", ".join(SPECS) + ")")]
        )
    importer.read_all()
    importer.resolve_references()
    importer.check_stored_answers()
    importer.check_emails()
    if importer.has_errors:
        raise importer.invalid()

    with _page_cache(session, IMPORT_CACHE_KIB):
        _write(session, importer, summary)
    summary.training_learners = (
        session.scalar(select(func.count()).select_from(m.TrainingLearner.__table__)) or 0
    )
    session.expire_all()
    return summary


@contextmanager
def _page_cache(session: Session, kib: int) -> Iterator[None]:
    """On SQLite, a page cache of `kib` KiB for the block: a large import updates indexes all
    over the tables, and a page read again from the cache costs no system call."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    (before,) = connection.exec_driver_sql("PRAGMA cache_size").one()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")


def _write(session: Session, importer: _Importer, summary: ImportSummary) -> None:
    importer.write(summary)
    if _ENROLLING_FILES & set(summary.files):
        refresh_training_learners(session)
    if {"sessions.csv", "session_learners.csv"} & set(summary.files):
        # Connections derived from xAPI statements lie in the sessions their learners belong
        # to (SPEC §8): sessions imported after the statements place them too.
        from data.xapi import rederive_users

        rederive_users(session, session.scalars(select(m.SessionLearner.user_id).distinct()))
    summaries.refresh_pending(session)
