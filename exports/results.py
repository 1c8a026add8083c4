"""A training's results, one row per learner (issue 2's export-results; the pages' download)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from data.errors import LearnstatsError
from data.figures.population import Population
from data.figures.tables import training_results
from data.models import Training
from data.scope import Forbidden, Scope
from exports.files import atomic_file
from exports.formatting import escape_row, iso_date, one_decimal, whole_minutes

RESULTS_COLUMNS = (
    "user_id",
    "email",
    "last_name",
    "first_name",
    "progress",
    "score",
    "status",
    "time_spent_minutes",
    "completed_on",
)


class UnknownTraining(LearnstatsError, LookupError):
    def __init__(self, training_id: str):
        super().__init__(f"no training has the id {training_id!r}")


EXTRA_COLUMNS = ("training_id", "training", "classes")


def results_rows(
    session: Session,
    scope: Scope,
    pop: Population,
    tz: ZoneInfo,
    search: str | None = None,
    columns: tuple[str, ...] = RESULTS_COLUMNS,
    today: date | None = None,
) -> Iterator[list[str]]:
    """Rows of `columns` (RESULTS_COLUMNS plus EXTRA_COLUMNS) for every (learner, training) of
    the population, in SPEC §4's order of people; the CLI and the pages' downloads share it."""
    unknown = [c for c in columns if c not in RESULTS_COLUMNS + EXTRA_COLUMNS]
    if unknown:
        raise ValueError(f"unknown result columns: {', '.join(unknown)}")
    frame, _total = training_results(session, scope, pop, tz, search=search, today=today)
    for row in frame.itertuples():
        cells = {
            "user_id": row.user_id,
            "email": row.email,
            "last_name": row.last_name or "",
            "first_name": row.first_name or "",
            "progress": one_decimal(row.progress),
            "score": one_decimal(row.score),
            "status": row.status,
            "time_spent_minutes": whole_minutes(row.time_spent),
            "completed_on": iso_date(row.completed_on),
            "training_id": row.training_id,
            "training": row.training,
            "classes": row.classes,
        }
        yield [cells[c] for c in columns]


def training_results_rows(
    session: Session, scope: Scope, training_id: str, tz: ZoneInfo, today: date | None = None
) -> Iterator[list[str]]:
    """export-results: one training's rows, refused unless the scope may open the training."""
    if session.get(Training, training_id) is None:
        raise UnknownTraining(training_id)
    if not scope.can_view_training_page(training_id):
        raise Forbidden()
    return results_rows(session, scope, Population(training_id=training_id), tz, today=today)


def results_csv_bytes(session: Session, scope: Scope, training_id: str, tz: ZoneInfo) -> tuple[bytes, int]:
    """The CSV file (UTF-8, RFC 4180, header first) and its number of learner rows; text that a
    spreadsheet would run as a formula gets a leading apostrophe (SPEC §7, escape_cell)."""
    rows = list(training_results_rows(session, scope, training_id, tz))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(RESULTS_COLUMNS)
    writer.writerows(escape_row(row) for row in rows)
    return buffer.getvalue().encode("utf-8"), len(rows)


def write_results_csv(session: Session, scope: Scope, training_id: str, out: Path, tz: ZoneInfo) -> int:
    """Write the CSV to `out` atomically (complete or absent); returns the number of learners."""
    data, count = results_csv_bytes(session, scope, training_id, tz)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as stream:
        stream.write(data)
    return count


__all__ = [
    "EXTRA_COLUMNS",
    "RESULTS_COLUMNS",
    "UnknownTraining",
    "results_csv_bytes",
    "results_rows",
    "training_results_rows",
    "write_results_csv",
]
