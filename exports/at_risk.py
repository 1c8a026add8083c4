"""At-risk learners (SPEC §9) as rows and files: `export-at-risk`, the pages' downloads and
anything that sends the list on its own (a scheduled report) share these plain functions.

- `at_risk_records(session, scope, pop, tz, on, days)`: every at-risk (learner, training) of a
  population on date `on` (data/figures/at_risk.py), in SPEC §4's order of people;
- `spec_rows(records)` / `at_risk_csv_bytes(...)` / `write_at_risk_csv(...)`: SPEC §9's
  columns (AT_RISK_COLUMNS), machine formats, for `flask --app app export-at-risk`;
- `reasons_text(row, on)`: the reasons in words, in the current language ("inactive for 23
  days ; failed Module 2 ; session ends in 3 days"), and `at_risk_frame(records, on)`: the
  list as the pages show it (AT_RISK_TABLE_COLUMNS), for their CSV / XLSX downloads.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.orm import Session

from data.figures.at_risk import AtRiskRow, at_risk_rows
from data.figures.population import Population
from data.models import Training
from data.scope import Forbidden, Scope
from exports.files import atomic_file
from exports.formatting import (
    N_,
    escape_row,
    fmt_date,
    gettext,
    iso_date,
    join_reasons,
    ngettext,
    one_decimal,
)
from exports.results import UnknownTraining

# SPEC §9's columns of export-at-risk, in its order.
AT_RISK_COLUMNS = (
    "user_id",
    "email",
    "last_name",
    "first_name",
    "inactive_days",
    "failed_modules",
    "late_session",
    "last_activity",
    "progress",
    "score",
)

# The list on the pages (and its downloads): field, header, kind.
AT_RISK_TABLE_COLUMNS = [
    ("learner", N_("Learner")),
    ("training", N_("Training")),
    ("reasons", N_("Reasons")),
    ("last_activity", N_("Last activity"), "date"),
    ("progress", N_("Progress"), "pct"),
    ("score", N_("Score"), "score"),
    ("session", N_("Session")),
]


def at_risk_records(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, on: date, days: int
) -> list[AtRiskRow]:
    """Every at-risk row of the population on `on` (N = days), in SPEC §4's order of people."""
    rows, _total = at_risk_rows(session, scope, pop, tz, on, days)
    return rows


def training_at_risk_records(
    session: Session, scope: Scope, training_id: str, tz: ZoneInfo, on: date, days: int
) -> list[AtRiskRow]:
    """export-at-risk: one training's rows, refused unless the scope may open the training."""
    if session.get(Training, training_id) is None:
        raise UnknownTraining(training_id)
    if not scope.can_view_training_page(training_id):
        raise Forbidden()
    return at_risk_records(session, scope, Population(training_id=training_id), tz, on, days)


def spec_rows(records: list[AtRiskRow]) -> Iterator[list[str]]:
    """SPEC §9's cells (AT_RISK_COLUMNS) of each record, as text."""
    for r in records:
        reasons = r.reasons
        yield [
            r.user_id,
            r.email,
            r.last_name,
            r.first_name,
            "" if reasons.inactive_days is None else str(reasons.inactive_days),
            " ".join(reasons.failed_modules),
            reasons.late_session or "",
            iso_date(r.last_activity),
            one_decimal(r.progress),
            one_decimal(r.score),
        ]


def at_risk_csv_bytes(records: list[AtRiskRow]) -> bytes:
    """SPEC §9's CSV (UTF-8, RFC 4180, header first; formula-like text escaped, SPEC §7)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(AT_RISK_COLUMNS)
    writer.writerows(escape_row(row) for row in spec_rows(records))
    return buffer.getvalue().encode("utf-8")


def write_at_risk_csv(records: list[AtRiskRow], out: Path) -> int:
    """Write the CSV to `out` atomically (complete or absent); returns the number of rows."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as stream:
        stream.write(at_risk_csv_bytes(records))
    return len(records)


def late_text(end: date, on: date) -> str:
    """ "session ended on 02/12/2026", "session ends today", "session ends in 3 days"."""
    if end < on:
        return gettext("session ended on %(day)s", day=fmt_date(end))
    if end == on:
        return gettext("session ends today")
    left = (end - on).days
    return ngettext("session ends in %(num)d day", "session ends in %(num)d days", left)


def reason_texts(row: AtRiskRow, on: date) -> list[str]:
    """Each reason of a row in words, in the current language."""
    out = []
    reasons = row.reasons
    if reasons.inactive_days is not None:
        out.append(ngettext("inactive for %(num)d day", "inactive for %(num)d days", reasons.inactive_days))
    out.extend(gettext("failed %(module)s", module=name) for name in row.failed_names)
    if reasons.late_end is not None:
        out.append(late_text(reasons.late_end, on))
    return out


def reasons_text(row: AtRiskRow, on: date) -> str:
    return join_reasons(reason_texts(row, on))


def learner_name(row: AtRiskRow) -> str:
    return f"{row.last_name} {row.first_name}".strip() or row.email


def at_risk_frame(records: list[AtRiskRow], on: date) -> pd.DataFrame:
    """The list as the pages show it: AT_RISK_TABLE_COLUMNS' fields, plus user_id, email,
    training_id (links)."""
    return pd.DataFrame(
        [
            {
                "learner": learner_name(r),
                "email": r.email,
                "user_id": r.user_id,
                "training_id": r.training_id,
                "training": r.training,
                "reasons": reasons_text(r, on),
                "last_activity": r.last_activity,
                "progress": r.progress,
                "score": r.score,
                "session": r.session or "",
            }
            for r in records
        ],
        columns=["learner", "email", "user_id", "training_id", "training", "reasons", "last_activity",
                 "progress", "score", "session"],
    )  # fmt: skip


__all__ = [
    "AT_RISK_COLUMNS",
    "AT_RISK_TABLE_COLUMNS",
    "at_risk_csv_bytes",
    "at_risk_frame",
    "at_risk_records",
    "late_text",
    "reason_texts",
    "reasons_text",
    "spec_rows",
    "training_at_risk_records",
    "write_at_risk_csv",
]
