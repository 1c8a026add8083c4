"""The log of imports and syncs (import_runs, shown on the "Data sources" page).

Each helper writes in a short transaction of its own, so a run is visible while it goes on
and stays recorded when the import it describes is rolled back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import insert, update

from data import models as m

if TYPE_CHECKING:
    from data.db import Database
    from data.xapi.ingest import XapiReport

RUN_KINDS = ("bundle", "xapi-file", "lrs-sync")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def start_run(db: Database, kind: str, source: str, total: int | None = None) -> int:
    """Record a run that starts now (status "running"); its id."""
    if kind not in RUN_KINDS:
        raise ValueError(f"unknown run kind {kind!r}")
    with db.session() as s:
        result = s.execute(
            insert(m.ImportRun).values(
                kind=kind,
                source=source[:500],
                started_at=_now(),
                status="running",
                accepted=0,
                added="{}",
                skipped="{}",
                progress_done=0,
                progress_total=total,
            )
        )
        return int(result.inserted_primary_key[0])


def set_progress(db: Database, run_id: int, done: int, total: int | None = None) -> None:
    """How far a run is (not from inside an import's own transaction on SQLite: it holds the
    write lock)."""
    values: dict = {"progress_done": done}
    if total is not None:
        values["progress_total"] = total
    with db.session() as s:
        s.execute(update(m.ImportRun).where(m.ImportRun.id == run_id).values(**values))


def finish_run(
    db: Database, run_id: int, *, accepted: int = 0, added: dict | None = None, skipped: dict | None = None
) -> None:
    with db.session() as s:
        s.execute(
            update(m.ImportRun)
            .where(m.ImportRun.id == run_id)
            .values(
                status="done",
                finished_at=_now(),
                accepted=accepted,
                added=json.dumps(added or {}, sort_keys=True),
                skipped=json.dumps(skipped or {}, sort_keys=True),
            )
        )


def finish_run_with_report(db: Database, run_id: int, report: XapiReport) -> None:
    finish_run(db, run_id, accepted=report.accepted, added=report.added, skipped=report.skipped())


def fail_run(db: Database, run_id: int, error: str, errors: Iterable | dict | None = None) -> None:
    """Record a failed run; errors: the statement errors (their first is the example) or a
    skipped-by-reason dict."""
    if errors is not None and not isinstance(errors, dict):
        listed = [str(e) for e in errors]
        errors = {"invalid": {"count": len(listed), "example": listed[0] if listed else ""}} if listed else {}
    with db.session() as s:
        s.execute(
            update(m.ImportRun)
            .where(m.ImportRun.id == run_id)
            .values(status="failed", finished_at=_now(), error=error[:4000], skipped=json.dumps(errors or {}))
        )
