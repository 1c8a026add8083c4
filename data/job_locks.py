"""The periodic jobs' lock, kept in the database (table job_locks; jobs/periodic.py runs the jobs).

One row per job name. A scheduler (a web process's thread, a Celery worker's beat tick) takes
the row with ONE atomic UPDATE whose WHERE says "nobody holds it, or the holder's lease has
expired, and the last start is still the one I saw": of several processes trying at once, one
UPDATE matches a row and the others match none (rowcount 0). The holder writes the end of its
run and gives the row back; a holder that crashed stops blocking the job when its lease ends.
Plain UPDATE / INSERT statements: the same on SQLite and PostgreSQL.

Times are naive UTC, as everywhere in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from data.db import Database
from data.models import JobLock

STATUS_RUNNING = "running"
STATUS_OK = "ok"
STATUS_FAILED = "failed"


@dataclass(frozen=True)
class LockState:
    """What the row said when it was read (before any attempt to take it)."""

    name: str
    owner: str | None
    expires_at: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_status: str | None
    last_error: str | None

    @classmethod
    def of(cls, row: JobLock) -> LockState:
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})

    def held(self, now: datetime) -> bool:
        return self.owner is not None and self.expires_at is not None and self.expires_at > now


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        from datetime import UTC

        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def read_lock(db: Database, name: str) -> LockState:
    """The job's row, created (free, never run) when it does not exist yet."""
    with db.session() as s:
        row = s.get(JobLock, name)
        if row is None:
            try:
                with s.begin_nested():
                    s.add(JobLock(name=name))
            except IntegrityError:  # another process created it first: the same free row
                pass
            row = s.get(JobLock, name)
        return LockState.of(row)


def try_acquire(
    db: Database, name: str, owner: str, now: datetime, lease: timedelta, seen_start: datetime | None
) -> bool:
    """Take the job's lock for `lease` when it is free (or its holder's lease has ended) and the
    last start is still `seen_start` (nobody ran the job since it was read); True if taken.
    One UPDATE: atomic whatever the number of processes asking."""
    now = _naive_utc(now)
    with db.session() as s:
        result = s.execute(
            update(JobLock)
            .where(
                and_(
                    JobLock.name == name,
                    or_(JobLock.owner.is_(None), JobLock.expires_at.is_(None), JobLock.expires_at <= now),
                    JobLock.last_started_at.is_not_distinct_from(seen_start),
                )
            )
            .values(
                owner=owner,
                expires_at=now + lease,
                last_started_at=now,
                last_status=STATUS_RUNNING,
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def extend(db: Database, name: str, owner: str, now: datetime, lease: timedelta) -> bool:
    """Push the holder's lease to now + lease (a long run, at each step: the LRS sync per page);
    False when `owner` no longer holds the lock (its lease ended and another process took it:
    the run must stop)."""
    now = _naive_utc(now)
    with db.session() as s:
        result = s.execute(
            update(JobLock)
            .where(JobLock.name == name, JobLock.owner == owner)
            .values(expires_at=now + lease)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def take_over(db: Database, name: str, dead_owner: str, owner: str, now: datetime, lease: timedelta) -> bool:
    """Take the lock from a holder known to be dead (its process is gone) before its lease ends;
    False when `dead_owner` no longer holds it (someone else took it meanwhile)."""
    now = _naive_utc(now)
    with db.session() as s:
        result = s.execute(
            update(JobLock)
            .where(JobLock.name == name, JobLock.owner == dead_owner)
            .values(owner=owner, expires_at=now + lease, last_started_at=now, last_status=STATUS_RUNNING)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def release(db: Database, name: str, owner: str, now: datetime, error: str | None = None) -> bool:
    """Give the lock back and write how the run ended; False when `owner` no longer held it
    (its lease ended and another process took the job)."""
    now = _naive_utc(now)
    with db.session() as s:
        result = s.execute(
            update(JobLock)
            .where(JobLock.name == name, JobLock.owner == owner)
            .values(
                owner=None,
                expires_at=None,
                last_finished_at=now,
                last_status=STATUS_FAILED if error else STATUS_OK,
                last_error=error,
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def all_locks(db: Database) -> list[LockState]:
    """Every job's row (tests, an operator's look at the schedule)."""
    with db.session() as s:
        return [LockState.of(r) for r in s.scalars(select(JobLock).order_by(JobLock.name))]
