"""What the "Data sources" page reads (admins only): the import runs (CSV bundles, xAPI files,
LRS syncs) from `import_runs`, and when the periodic LRS sync runs next.

Every function takes the viewer's scope and refuses (Forbidden) anyone but an admin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import ImportRun
from data.scope import Forbidden, Scope

# The newest runs the page lists (a sync every 5 minutes makes 288 a day).
MAX_RUNS = 500


def require_admin(scope: Scope) -> None:
    if not scope.is_admin:
        raise Forbidden()


@dataclass
class RunRow:
    """One run as the page shows it (times naive UTC, as stored)."""

    id: int
    kind: str
    source: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    accepted: int
    # kind -> rows added (xAPI); a bundle's: file name -> {"added", "updated", "unchanged"}
    added: dict[str, int | dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, dict] = field(default_factory=dict)
    progress_done: int = 0
    progress_total: int | None = None
    error: str | None = None

    @property
    def skipped_count(self) -> int:
        return sum(int(entry.get("count", 0)) for entry in self.skipped.values())

    @property
    def seconds(self) -> float | None:
        """How long it took (until now while it runs)."""
        end = self.finished_at or (
            datetime.now(UTC).replace(tzinfo=None) if self.status == "running" else None
        )
        return None if end is None else max((end - self.started_at).total_seconds(), 0.0)


def _json(text: str | None) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _row(run: ImportRun) -> RunRow:
    return RunRow(
        id=run.id,
        kind=run.kind,
        source=run.source or "",
        status=run.status,
        started_at=run.started_at,
        finished_at=run.finished_at,
        accepted=run.accepted or 0,
        added={k: v for k, v in _json(run.added).items() if isinstance(v, (int, float, dict))},
        skipped={k: v for k, v in _json(run.skipped).items() if isinstance(v, dict)},
        progress_done=run.progress_done or 0,
        progress_total=run.progress_total,
        error=run.error,
    )


def import_runs(session: Session, scope: Scope, limit: int = MAX_RUNS, instance_path=None) -> list[RunRow]:
    """The newest runs first; a running one's progress from its file when it writes one
    (instance_path: data/run_progress.py)."""
    require_admin(scope)
    q = select(ImportRun).order_by(ImportRun.started_at.desc(), ImportRun.id.desc()).limit(limit)
    rows = [_row(run) for run in session.scalars(q)]
    if instance_path is not None:
        from data.run_progress import read_progress

        for row in rows:
            if row.status == "running":
                done = read_progress(instance_path, row.id)
                if done is not None and done > row.progress_done:
                    row.progress_done = done
    return rows


def runs_signature(session: Session, scope: Scope) -> str:
    """Changes whenever a run starts or ends (the page redraws its table only then, so that it
    keeps its sort and search while a run progresses)."""
    require_admin(scope)
    q = select(ImportRun.id, ImportRun.status).order_by(ImportRun.id.desc())
    return json.dumps([list(r) for r in session.execute(q.limit(MAX_RUNS)).all()])


@dataclass(frozen=True)
class SyncSchedule:
    """The periodic LRS sync as configured: endpoint (empty: none), every `minutes`, the last
    periodic start seen and the next one expected (naive UTC)."""

    endpoint: str
    minutes: int
    last_started: datetime | None
    next_at: datetime | None


def sync_schedule(session: Session, scope: Scope, endpoint: str, minutes: int) -> SyncSchedule:
    """When the periodic sync of `endpoint` (LEARNSTATS_LRS_ENDPOINT) runs next, as the schedule
    decides it (jobs/periodic.py): the last start of any sync (the lock they share, data/lrs.py)
    plus the interval; now when that is past or none ran yet (the next tick, within 30 s)."""
    require_admin(scope)
    if not endpoint:
        return SyncSchedule("", minutes, None, None)
    from data.lrs import LOCK, LrsError, statements_url
    from data.models import JobLock

    try:
        url = statements_url(endpoint)
    except LrsError:
        url = endpoint
    last = session.scalar(select(JobLock.last_started_at).where(JobLock.name == LOCK))
    now = datetime.now(UTC).replace(tzinfo=None)
    next_at = now if last is None else max(last + timedelta(minutes=minutes), now)
    return SyncSchedule(url, minutes, last, next_at)
