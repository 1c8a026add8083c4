"""A training's results, one row per learner (issue 2's export-results; the pages' download)."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from data.figures import Population, training_results
from data.models import Training
from data.scope import Forbidden, Scope
from exports.formatting import iso_date, one_decimal, whole_minutes

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


class UnknownTraining(LookupError):
    def __init__(self, training_id: str):
        super().__init__(f"no training has the id {training_id!r}")


def results_rows(
    session: Session, scope: Scope, training_id: str, tz: ZoneInfo, today: date | None = None
) -> Iterator[list[str]]:
    """The rows of RESULTS_COLUMNS for every learner of the training, in SPEC §4's order of people."""
    if session.get(Training, training_id) is None:
        raise UnknownTraining(training_id)
    if not scope.can_view_training_page(training_id):
        raise Forbidden()
    frame, _total = training_results(session, scope, Population(training_id=training_id), tz, today=today)
    for row in frame.itertuples():
        yield [
            row.user_id,
            row.email,
            row.last_name or "",
            row.first_name or "",
            one_decimal(row.progress),
            one_decimal(row.score),
            row.status,
            whole_minutes(row.time_spent),
            iso_date(row.completed_on),
        ]


def results_csv_bytes(session: Session, scope: Scope, training_id: str, tz: ZoneInfo) -> tuple[bytes, int]:
    """The CSV file (UTF-8, RFC 4180, header first) and its number of learner rows."""
    rows = list(results_rows(session, scope, training_id, tz))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(RESULTS_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8"), len(rows)


def write_results_csv(session: Session, scope: Scope, training_id: str, out: Path, tz: ZoneInfo) -> int:
    """Write the CSV to `out` atomically (complete or absent); returns the number of learners."""
    data, count = results_csv_bytes(session, scope, training_id, tz)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


__all__ = ["RESULTS_COLUMNS", "UnknownTraining", "results_csv_bytes", "results_rows", "write_results_csv"]
