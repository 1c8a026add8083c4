"""Ingesting xAPI statements (SPEC §8): keep every accepted statement, derive SPEC §2's rows.

`ingest_statements` runs in the caller's transaction:

1. statements are checked (ralph-malph's models; a pool of processes for big inputs) and
   stored in batches; an id already stored with the same content is a duplicate (not applied
   again), with other content a conflict (the first is kept, as an LRS answers 409);
2. the users, trainings, modules and activities they name are created when unknown (a row
   that already exists, e.g. from a bundle, is never changed);
3. the trainings' module lists and the activities' max scores are recomputed from the kept
   statements; every learner whose statements changed is re-derived from all their kept,
   non-voided statements (data/xapi/derive.py), replacing the rows xAPI derived before (rows
   with xapi = true; a bundle's rows are never deleted);
4. the summary layer is marked (data/summaries.py) so the caller's commit leaves it exact.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from data import models as m
from data import summaries
from data.errors import ListedErrors
from data.importer import IMPORT_CACHE_KIB, _no_cycle_collection, _page_cache
from data.summaries import _kind, _sqlite_value
from data.text import person_search_text, person_sort_key
from data.xapi.checking import (
    Checked,
    all_content_module,
    check_batch,
    split_name,
)
from data.xapi.derive import COLUMNS, Context, Derived, Stmt, derive_user

BATCH = 2000
USER_BATCH = 500
LOOKUP = 500
MAX_ERRORS = 200
DEFAULT_IDLE_MINUTES = 30
KINDS = (
    "statements",
    "users",
    "trainings",
    "modules",
    "activities",
    "enrollments",
    "attempts",
    "answers",
    "connections",
    "logins",
)


@dataclass(frozen=True)
class StatementError:
    """What is wrong with one statement: ``line N: message``."""

    line: int
    message: str
    statement_id: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class XapiInvalid(ListedErrors):
    """Statements are not valid xAPI; nothing was kept. ``errors``: the first MAX_ERRORS in
    line order; ``total`` counts every one."""

    heading = "{total} invalid statement(s):"
    unlisted = "more"


@dataclass
class XapiReport:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    conflicts: list[StatementError] = field(default_factory=list)
    conflict_count: int = 0
    invalid: list[StatementError] = field(default_factory=list)
    invalid_count: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    ignored_examples: dict[str, str] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    removed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    last_stored: datetime | None = None

    def skipped(self) -> dict[str, dict]:
        """reason -> {"count": n, "example": "line N: ..."} (the import log's column)."""
        out: dict[str, dict] = {}
        for reason, count in sorted(self.ignored.items()):
            out[reason] = {"count": count, "example": self.ignored_examples.get(reason, "")}
        if self.invalid_count:
            out["invalid"] = {
                "count": self.invalid_count,
                "example": str(self.invalid[0]) if self.invalid else "",
            }
        if self.conflict_count:
            out["conflict"] = {
                "count": self.conflict_count,
                "example": str(self.conflicts[0]) if self.conflicts else "",
            }
        if self.duplicates:
            out["duplicate"] = {"count": self.duplicates, "example": ""}
        return out

    def describe(self) -> str:
        lines = [
            f"Statements read: {self.received:,}; accepted: {self.accepted:,}; "
            f"already received (duplicates): {self.duplicates:,}."
        ]
        added = ", ".join(f"{kind} {self.added.get(kind, 0):,}" for kind in KINDS)
        lines.append(f"Added: {added}.")
        removed = {k: v for k, v in self.removed.items() if v}
        if removed:
            lines.append("Removed (voided): " + ", ".join(f"{k} {v:,}" for k, v in removed.items()) + ".")
        if self.ignored:
            lines.append("Kept but ignored (they map to nothing):")
            for reason, count in sorted(self.ignored.items()):
                lines.append(f"  {reason}: {count:,} (e.g. {self.ignored_examples.get(reason, '')})")
        if self.conflict_count:
            lines.append(
                f"Conflicts (an id already received with other content; the first one is kept): "
                f"{self.conflict_count:,}"
            )
            lines.extend(f"  {e}" for e in self.conflicts)
        if self.invalid_count:
            lines.append(f"Skipped as invalid: {self.invalid_count:,}")
            lines.extend(f"  {e}" for e in self.invalid)
            if self.invalid_count > len(self.invalid):
                lines.append(f"  … and {self.invalid_count - len(self.invalid):,} more not listed")
        return "\n".join(lines)


def idle_minutes_setting() -> int:
    """LEARNSTATS_XAPI_IDLE_MINUTES (data/config.py) of the current app, else 30."""
    from data.config import settings_if_any

    settings = settings_if_any()
    return settings.xapi_idle_minutes if settings is not None else DEFAULT_IDLE_MINUTES


def platform_tz() -> ZoneInfo:
    """LEARNSTATS_TIMEZONE of the current app, else Europe/Paris (SPEC §3's default)."""
    from data.config import settings_if_any

    settings = settings_if_any()
    return settings.tz if settings is not None else ZoneInfo("Europe/Paris")


def _whole_last_day(ends_at: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A session's end given as a date (local midnight, e.g. `2026-01-31` in sessions.csv)
    covers that whole day: SPEC §8 places a connection in the session "whose dates contain its
    start", and a date range is inclusive (SPEC §4). An end with a time of day is kept."""
    if ends_at is None:
        return None
    local = ends_at.replace(tzinfo=UTC).astimezone(tz)
    if local.time() != time.min:
        return ends_at
    next_day = datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=tz)
    return next_day.astimezone(UTC).replace(tzinfo=None) - timedelta(microseconds=1)


# --------------------------------------------------------------------------------------------
# Checking in batches (in worker processes for big inputs)
# --------------------------------------------------------------------------------------------


def _batches(items: Iterable[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    batch: list[tuple[int, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _checked_batches(items: Iterable[tuple[int, Any]], workers: int | None) -> Iterator[list]:
    """check_batch over the items, in order; the first batch in this process, the rest in a
    pool of `workers` processes (at most 2 batches per worker in flight: bounded memory)."""
    batches = _batches(items, BATCH)
    first = next(batches, None)
    if first is None:
        return
    if workers is None:
        import multiprocessing

        # A Celery prefork worker's process is daemonic: it may not have children.
        workers = 0 if multiprocessing.current_process().daemon else min(2, os.cpu_count() or 1)
    yield check_batch(first)
    if workers <= 0:
        for batch in batches:
            yield check_batch(batch)
        return
    second = next(batches, None)
    if second is None:
        return
    import multiprocessing

    # forkserver, not fork: a sync may run in a web process with other threads (the periodic
    # jobs' thread), where forking the process itself could copy a lock another thread holds.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["data.xapi.checking"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque = deque([pool.submit(check_batch, second)])
        for batch in batches:
            pending.append(pool.submit(check_batch, batch))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# --------------------------------------------------------------------------------------------
# Ingest
# --------------------------------------------------------------------------------------------


def ingest_statements(
    session: Session,
    items: Iterable[tuple[int, str | bytes | dict]],
    *,
    source: str,
    skip_invalid: bool,
    run_id: int | None = None,
    idle_minutes: int | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> XapiReport:
    """Store the valid statements among items and derive SPEC §2's rows (module docstring).

    Not skip_invalid: any invalid item raises XapiInvalid once every item was read (the
    caller's transaction must then be rolled back: rows were written as items came)."""
    # The cycle collector paused (it walked the batches' live objects again and again) and a
    # large SQLite page cache (the statements' indexes are updated all over): as a bundle's.
    with _no_cycle_collection(), _page_cache(session, IMPORT_CACHE_KIB):
        return _ingest(session, items, source, skip_invalid, run_id, idle_minutes, workers, progress)


def _ingest(session, items, source, skip_invalid, run_id, idle_minutes, workers, progress) -> XapiReport:
    report = XapiReport()
    ingest = _Ingest(session, report, source, run_id)
    errors: list[StatementError] = []
    error_count = 0
    for results in _checked_batches(items, workers):
        good: list[tuple[int, Checked]] = []
        for line, result in results:
            report.received += 1
            if isinstance(result, str):
                error_count += 1
                if len(errors) < MAX_ERRORS:
                    errors.append(StatementError(line, result))
            else:
                good.append((line, result))
        if good and (skip_invalid or not error_count):
            ingest.store(good)
        if progress is not None:
            progress(report.received)
    if error_count and not skip_invalid:
        raise XapiInvalid(errors, error_count)
    report.invalid, report.invalid_count = errors, error_count
    idle = timedelta(minutes=idle_minutes if idle_minutes is not None else idle_minutes_setting())
    ingest.derive(idle)
    # The summary layer now, inside the page cache (the commit finds nothing left to do).
    summaries.refresh_pending(session)
    return report


def rederive_users(session: Session, user_ids: Iterable[str], idle_minutes: int | None = None) -> None:
    """Re-derive the xAPI rows of those learners (e.g. after a bundle brought sessions or
    session learners: connections find their session)."""
    with session.no_autoflush:
        users = sorted(set(user_ids))
        having = set()
        for chunk in _chunks(users, LOOKUP):
            having |= set(
                session.scalars(
                    select(m.XapiStatement.actor).where(m.XapiStatement.actor.in_(chunk)).distinct()
                )
            )
        if not having:
            return
        ingest = _Ingest(session, XapiReport(), "", None)
        ingest.users |= having
        idle = timedelta(minutes=idle_minutes if idle_minutes is not None else idle_minutes_setting())
        ingest.derive(idle, structure=False)


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Ingest:
    def __init__(self, session: Session, report: XapiReport, source: str, run_id: int | None):
        self.s = session
        self.report = report
        self.source = source
        self.run_id = run_id
        self.users: set[str] = set()  # learners to re-derive
        self.courses: set[str] = set()  # trainings whose module lists may have changed
        self.questions: set[str] = set()  # activities whose max score may have changed
        # Rows xAPI may have created or left without a statement: kept only while a kept,
        # non-voided statement names them (the same rows whatever the order statements came in).
        self.named: dict[str, set[str]] = {
            "users": set(),
            "trainings": set(),
            "modules": set(),
            "activities": set(),
        }
        self.now = datetime.now(UTC).replace(tzinfo=None)

    # -- storing ------------------------------------------------------------------------------

    def store(self, good: list[tuple[int, Checked]]) -> None:
        report = self.report
        for _, checked in good:
            stored = checked.stored
            if stored is not None and (report.last_stored is None or stored > report.last_stored):
                report.last_stored = stored
        # Duplicates and conflicts: inside the batch, then against what is stored.
        batch: dict[str, tuple[int, Checked]] = {}
        for line, checked in good:
            sid = checked.row["id"]
            seen = batch.get(sid)
            if seen is None:
                batch[sid] = (line, checked)
            elif seen[1].row["digest"] == checked.row["digest"]:
                report.duplicates += 1
            else:
                self._conflict(line, sid)
        known: dict[str, str] = {}
        st = m.XapiStatement
        for chunk in _chunks(list(batch), LOOKUP):
            known.update(self.s.execute(select(st.id, st.digest).where(st.id.in_(chunk))).all())
        new: list[tuple[int, Checked]] = []
        for sid, (line, checked) in batch.items():
            digest = known.get(sid)
            if digest is None:
                new.append((line, checked))
            elif digest == checked.row["digest"]:
                report.duplicates += 1
            else:
                self._conflict(line, sid)
        if not new:
            return
        rows = [dict(checked.row) for _, checked in new]
        # A statement a voiding statement (stored or in this batch) targets is void.
        ids = [r["id"] for r in rows]
        voided = {r["voids"] for r in rows if r["voids"]}
        for chunk in _chunks(ids, LOOKUP):
            voided |= set(self.s.scalars(select(st.voids).where(st.voids.in_(chunk))))
        self._create_entities([checked for _, checked in new], rows)
        for (line, _), row in zip(new, rows, strict=True):
            self._name(row)
            row["voided"] = row["id"] in voided
            row["source"] = self.source[:500]
            row["run_id"] = self.run_id
            row["received_at"] = self.now
            if row["ignored"]:
                reason = row["ignored"]
                report.ignored[reason] = report.ignored.get(reason, 0) + 1
                report.ignored_examples.setdefault(reason, f"line {line}: statement {row['id']}")
            elif not row["voided"] and row["kind"] != "ref":
                self._touch(row)
        bulk_insert(self.s, st, rows)
        report.accepted += len(rows)
        report.added["statements"] += len(rows)
        # Voiding statements: their stored targets become void.
        targets = sorted({r["voids"] for r in rows if r["voids"]} - set(ids))
        for chunk in _chunks(targets, LOOKUP):
            hit = self.s.execute(
                select(st.actor, st.course, st.module, st.question).where(
                    st.id.in_(chunk), st.voided.is_(False), st.ignored.is_(None)
                )
            ).all()
            for actor, course, module, question in hit:
                self._touch({"actor": actor, "course": course, "question": question})
                self._name({"actor": actor, "course": course, "module": module, "question": question})
            self.s.execute(update(st).where(st.id.in_(chunk)).values(voided=True))

    def _conflict(self, line: int, sid: str) -> None:
        report = self.report
        report.conflict_count += 1
        if len(report.conflicts) < MAX_ERRORS:
            report.conflicts.append(
                StatementError(
                    line,
                    f"statement {sid} was already received with other content: the first one is kept",
                    sid,
                )
            )

    def _name(self, row: dict) -> None:
        named = self.named
        if row.get("actor"):
            named["users"].add(row["actor"])
        if row.get("course"):
            named["trainings"].add(row["course"])
            named["modules"].add(all_content_module(row["course"]))
        if row.get("module"):
            named["modules"].add(row["module"])
        if row.get("question"):
            named["activities"].add(row["question"])

    def _touch(self, row: dict) -> None:
        if row.get("actor"):
            self.users.add(row["actor"])
        if row.get("course"):
            self.courses.add(row["course"])
        if row.get("question"):
            self.questions.add(row["question"])

    # -- users, trainings, modules, activities ------------------------------------------------

    def _existing(self, table, column, ids: Iterable[str]) -> set[str]:
        ids = sorted(set(ids))
        found: set[str] = set()
        for chunk in _chunks(ids, LOOKUP):
            found |= set(self.s.scalars(select(column).where(column.in_(chunk))))
        return found

    def _create_entities(self, checked: list[Checked], rows: list[dict]) -> None:
        added = self.report.added
        # Users: an actor's mbox that is already another user's email is that user.
        users: dict[str, tuple] = {}
        for c in checked:
            if c.user is not None:
                before = users.get(c.user[0])
                if before is None or (not split_name(before[2])[1] and split_name(c.user[2])[1]):
                    users[c.user[0]] = c.user  # a statement giving the name wins
        if users:
            known = self._existing(m.User, m.User.id, users)
            self._name_unnamed_users(
                {u: d[2] for u, d in users.items() if u in known and split_name(d[2])[1]}
            )
            wanted = {u: d for u, d in users.items() if u not in known}
            emails = {d[1].lower(): u for u, d in wanted.items() if d[1]}
            same_email: dict[str, str] = {}
            for chunk in _chunks(sorted(emails), LOOKUP):
                for user_id, email in self.s.execute(
                    select(m.User.id, m.User.email).where(func.lower(m.User.email).in_(chunk))
                ):
                    same_email[emails[email.lower()]] = user_id
            if same_email:
                for row in rows:
                    if row["actor"] in same_email:
                        row["actor"] = same_email[row["actor"]]
            inserts = []
            taken: set[str] = set()
            for user_id, (_, email, name) in wanted.items():
                if user_id in same_email:
                    continue
                first, last = split_name(name)
                if not email or email.lower() in taken:
                    email = _placeholder_email(user_id)
                taken.add(email.lower())
                inserts.append(
                    {
                        "id": user_id,
                        "email": email,
                        "first_name": first,
                        "last_name": last,
                        "additional_info": "",
                        "created_at": None,
                        "status": "active",
                        "password_hash": None,
                        "sort_key": person_sort_key(last, first, email),
                        "search_text": person_search_text(last, first, email),
                        "session_version": 0,
                        "xapi": True,
                    }
                )
            if inserts:
                bulk_insert(self.s, m.User, inserts)
                added["users"] += len(inserts)
        # Trainings.
        courses: dict[str, str | None] = {}
        for c in checked:
            if c.course is not None and (courses.get(c.course[0]) is None):
                courses[c.course[0]] = c.course[1]
        if courses:
            known = self._existing(m.Training, m.Training.id, courses)
            inserts = [
                {"id": t, "name": (name or t)[:300], "published": True, "validity_months": None, "xapi": True}
                for t, name in courses.items()
                if t not in known
            ]
            if inserts:
                bulk_insert(self.s, m.Training, inserts)
                added["trainings"] += len(inserts)
            named = [{"k": t, "v": name[:300]} for t, name in courses.items() if t in known and name]
            if named:  # an xAPI training first seen without a name gets the one that came
                tr = m.Training.__table__
                self.s.execute(
                    update(tr)
                    .where(and_(tr.c.id == bindparam("k"), tr.c.xapi.is_(True), tr.c.name == tr.c.id))
                    .values(name=bindparam("v")),
                    named,
                )
                # ... and so does its "(all content)" module, named after it.
                mt = m.Module.__table__
                self.s.execute(
                    update(mt)
                    .where(
                        and_(mt.c.id == bindparam("k"), mt.c.xapi.is_(True), mt.c.name == bindparam("was"))
                    )
                    .values(name=bindparam("v")),
                    [
                        {
                            "k": all_content_module(x["k"]),
                            "was": f"{x['k']} (all content)"[:300],
                            "v": f"{x['v']} (all content)"[:300],
                        }
                        for x in named
                    ],
                )
        # Modules (the "(all content)" ones are made with the trainings' module lists).
        # A module or question named by its id only ("" from checking) takes the first name
        # that comes, in this import or a later one: names do not depend on arrival order.
        modules: dict[str, tuple] = {}
        for c in checked:
            if c.module is not None and c.module[1] is not None:
                before = modules.get(c.module[0])
                if before is None or (not before[1] and c.module[1]):
                    modules[c.module[0]] = c.module
        if modules:
            known = self._existing(m.Module, m.Module.id, modules)
            inserts = [
                {"id": mid, "name": (name or mid)[:300], "keep_results": "best", "xapi": True}
                for mid, (_, name, _) in modules.items()
                if mid not in known
            ]
            if inserts:
                bulk_insert(self.s, m.Module, inserts)
                added["modules"] += len(inserts)
            named = [
                {"k": mid, "v": name[:300]} for mid, (_, name, _) in modules.items() if mid in known and name
            ]
            if named:
                mt = m.Module.__table__
                self.s.execute(
                    update(mt)
                    .where(and_(mt.c.id == bindparam("k"), mt.c.xapi.is_(True), mt.c.name == mt.c.id))
                    .values(name=bindparam("v")),
                    named,
                )
        # Activities (questions): max score 0 until recomputed from the statements. Name, text
        # and correct answer: the first given of each ("" when not given).
        questions: dict[str, tuple] = {}
        for c in checked:
            if c.question is not None:
                before = questions.get(c.question[0])
                if before is None:
                    questions[c.question[0]] = c.question
                else:
                    questions[c.question[0]] = (
                        *before[:2],
                        *(old or new for old, new in zip(before[2:5], c.question[2:5], strict=True)),
                        before[5],
                    )
        if questions:
            known = self._existing(m.Activity, m.Activity.id, questions)
            wanted = [q for qid, q in questions.items() if qid not in known]
            self._fill_question_texts([q for qid, q in questions.items() if qid in known])
            self._ensure_all_content({q[1] for q in wanted}, checked)
            inserts = [
                {
                    "id": qid,
                    "module_id": module_id,
                    "name": (name or qid)[:300],
                    "max_score": 0.0,
                    "position": None,
                    "type": kind,
                    "question": description,
                    "correct_answer": correct,
                    "xapi": True,
                }
                for qid, module_id, name, description, correct, kind in wanted
            ]
            if inserts:
                bulk_insert(self.s, m.Activity, inserts)
                added["activities"] += len(inserts)

    def _name_unnamed_users(self, names: dict[str, str]) -> None:
        """Users xAPI created from statements without a name take the first name that comes
        (the user's names do not depend on the order statements arrive); a bundle's user and
        a named one are left as they are."""
        ut = m.User.__table__
        for chunk in _chunks(sorted(names), LOOKUP):
            unnamed = self.s.execute(
                select(ut.c.id, ut.c.email).where(
                    ut.c.id.in_(chunk), ut.c.xapi.is_(True), ut.c.first_name == "", ut.c.last_name == ""
                )
            ).all()
            values = []
            for user_id, email in unnamed:
                first, last = split_name(names[user_id])
                values.append(
                    {
                        "k": user_id,
                        "f": first,
                        "l": last,
                        "sk": person_sort_key(last, first, email),
                        "st": person_search_text(last, first, email),
                    }
                )
            if values:
                self.s.execute(
                    update(ut)
                    .where(ut.c.id == bindparam("k"))
                    .values(
                        first_name=bindparam("f"),
                        last_name=bindparam("l"),
                        sort_key=bindparam("sk"),
                        search_text=bindparam("st"),
                    ),
                    values,
                )

    def _fill_question_texts(self, known: list[tuple]) -> None:
        """Known xAPI questions first seen without a name, text or correct answer get the ones
        that came now."""
        at = m.Activity.__table__
        for column, index, empty in (("name", 2, at.c.id), ("question", 3, ""), ("correct_answer", 4, "")):
            values = [
                {"k": q[0], "v": q[index][:300] if column == "name" else q[index]} for q in known if q[index]
            ]
            if values:
                self.s.execute(
                    update(at)
                    .where(and_(at.c.id == bindparam("k"), at.c.xapi.is_(True), at.c[column] == empty))
                    .values({column: bindparam("v")}),
                    values,
                )

    def _ensure_all_content(self, module_ids: set[str], checked: list[Checked]) -> None:
        """Create the "(all content)" modules among module_ids that do not exist yet."""
        trainings = {all_content_module(c.course[0]): c.course[0] for c in checked if c.course is not None}
        wanted = {mid: trainings[mid] for mid in module_ids if mid in trainings}
        if not wanted:
            return
        self._create_all_content(wanted)

    def _create_all_content(self, wanted: dict[str, str]) -> None:
        """wanted: module id -> training id."""
        missing = set(wanted) - self._existing(m.Module, m.Module.id, wanted)
        if not missing:
            return
        names = dict(
            self.s.execute(
                select(m.Training.id, m.Training.name).where(m.Training.id.in_([wanted[x] for x in missing]))
            ).all()
        )
        self.s.execute(
            insert(m.Module),
            [
                {
                    "id": mid,
                    "name": f"{names.get(wanted[mid], wanted[mid])} (all content)"[:300],
                    "keep_results": "best",
                    "xapi": True,
                }
                for mid in sorted(missing)
            ],
        )
        self.report.added["modules"] += len(missing)

    # -- derivation ---------------------------------------------------------------------------

    def derive(self, idle: timedelta, structure: bool = True) -> None:
        if structure:
            self._module_lists()
            self._max_scores()
        if self.users:
            self._derive_all(idle)
        if structure:
            self._drop_unnamed()

    def _drop_unnamed(self) -> None:
        """Delete the activities, modules, trainings and users xAPI created that no kept,
        non-voided statement names any more and no other row uses (e.g. after a voiding, or an
        "(all content)" module a real module replaced)."""
        st = m.XapiStatement
        live = and_(st.voided.is_(False), st.ignored.is_(None))
        removed = self.report.removed

        def unused(model, ids, column, uses) -> list[str]:
            out = []
            for chunk in _chunks(sorted(ids), LOOKUP):
                candidates = set(
                    self.s.scalars(select(model.id).where(model.id.in_(chunk), model.xapi.is_(True)))
                )
                if column is not None and candidates:
                    candidates -= set(
                        self.s.scalars(select(column).where(column.in_(candidates), live).distinct())
                    )
                for use in uses:
                    if candidates:
                        candidates -= set(self.s.scalars(select(use).where(use.in_(candidates)).distinct()))
                out += sorted(candidates)
            return out

        gone = unused(m.Activity, self.named["activities"], st.question, [m.Answer.activity_id])
        for chunk in _chunks(gone, LOOKUP):
            self.s.execute(delete(m.Activity).where(m.Activity.id.in_(chunk)))
        removed["activities"] += len(gone)
        module_uses = [
            m.TrainingModule.module_id,
            m.Activity.module_id,
            m.Attempt.module_id,
            m.Connection.module_id,
        ]
        gone = unused(m.Module, self.named["modules"], None, module_uses)
        for chunk in _chunks(gone, LOOKUP):
            self.s.execute(delete(m.Module).where(m.Module.id.in_(chunk)))
        removed["modules"] += len(gone)
        training_uses = [
            m.TrainingModule.training_id, m.Enrollment.training_id, m.Attempt.training_id,
            m.ProgramSession.training_id, m.ClassTraining.training_id,
        ]  # fmt: skip
        gone = unused(m.Training, self.named["trainings"], st.course, training_uses)
        for chunk in _chunks(gone, LOOKUP):
            self.s.execute(delete(m.Training).where(m.Training.id.in_(chunk)))
        removed["trainings"] += len(gone)
        user_uses = [
            m.Enrollment.user_id, m.Attempt.user_id, m.Connection.user_id, m.Login.user_id, m.Role.user_id,
            m.ClassMember.user_id, m.SessionLearner.user_id, m.UserLabel.user_id, m.UserField.user_id,
        ]  # fmt: skip
        gone = unused(m.User, self.named["users"], st.actor, user_uses)
        if gone:  # an account someone gave a password to is kept
            with_password = set()
            for chunk in _chunks(gone, LOOKUP):
                with_password |= set(
                    self.s.scalars(
                        select(m.User.id).where(m.User.id.in_(chunk), m.User.password_hash.is_not(None))
                    )
                )
            gone = [u for u in gone if u not in with_password]
        for chunk in _chunks(gone, LOOKUP):
            self.s.execute(delete(m.User).where(m.User.id.in_(chunk)))
        removed["users"] += len(gone)
        if gone:
            summaries.mark(self.s, users=gone)

    def _derive_all(self, idle: timedelta) -> None:
        course_modules = self._course_modules()
        max_scores = dict(self.s.execute(select(m.Activity.id, m.Activity.max_score)).all())
        users = sorted(self.users)
        for chunk in _chunks(users, USER_BATCH):
            self._derive_users(chunk, Context(max_scores, course_modules, {}, idle))
        from data.enrollments import refresh_training_learners

        refresh_training_learners(self.s)
        summaries.mark(self.s, users=users, version=True)

    def _module_lists(self) -> None:
        """Each touched training's xAPI modules: those its kept statements name, after the
        bundle's, ordered by first statement then id; its "(all content)" module when
        questions hang on the course alone, or when it has course statements and no other."""
        st, tm = m.XapiStatement, m.TrainingModule
        changed: list[str] = []
        for training in sorted(self.courses):
            live = and_(st.course == training, st.voided.is_(False), st.ignored.is_(None))
            firsts = dict(
                self.s.execute(
                    select(st.module, func.min(st.at)).where(live, st.module.is_not(None)).group_by(st.module)
                ).all()
            )
            bundle = dict(
                self.s.execute(
                    select(tm.module_id, tm.position).where(tm.training_id == training, tm.xapi.is_(False))
                ).all()
            )
            all_content = all_content_module(training)
            others = (set(firsts) | set(bundle)) - {all_content}
            if not others and all_content not in firsts:
                course_at = self.s.scalar(select(func.min(st.at)).where(live, st.kind == "course"))
                if course_at is not None:
                    firsts[all_content] = course_at
            if all_content in firsts:
                self._create_all_content({all_content: training})
            wanted = sorted((at, mid) for mid, at in firsts.items() if mid not in bundle)
            base = max(bundle.values(), default=0)
            rows = [
                {
                    "training_id": training,
                    "module_id": mid,
                    "position": base + i,
                    "mandatory": True,
                    "min_score": 0.0,
                    "xapi": True,
                }
                for i, (_, mid) in enumerate(wanted, start=1)
            ]
            current = self.s.execute(
                select(tm.module_id, tm.position).where(tm.training_id == training, tm.xapi.is_(True))
            ).all()
            if sorted(current) == sorted((r["module_id"], r["position"]) for r in rows):
                continue
            before = {mid for mid, _ in current}
            self.s.execute(delete(tm).where(tm.training_id == training, tm.xapi.is_(True)))
            if rows:
                bulk_insert(self.s, tm, rows)
            if before != {r["module_id"] for r in rows}:
                changed.append(training)
        if changed:
            summaries.mark(self.s, trainings=changed)
            # Course statements may go to another module now: re-derive the trainings' learners.
            for chunk in _chunks(changed, LOOKUP):
                self.users |= set(
                    self.s.scalars(
                        select(st.actor).where(st.course.in_(chunk), st.actor.is_not(None)).distinct()
                    )
                )

    def _max_scores(self) -> None:
        """xAPI activities' max score: the greatest result.score.max given; else 1 when a
        score came (raw above 1: that raw); else 0 (not graded)."""
        st, act = m.XapiStatement, m.Activity
        changed: dict[str, str] = {}
        for chunk in _chunks(sorted(self.questions), LOOKUP):
            current = dict(
                self.s.execute(
                    select(act.id, act.max_score).where(act.id.in_(chunk), act.xapi.is_(True))
                ).all()
            )
            if not current:
                continue
            facts = self.s.execute(
                select(
                    st.question, func.max(st.score_max), func.max(st.score_raw), func.count(st.score_scaled)
                )
                .where(st.question.in_(list(current)), st.voided.is_(False), st.ignored.is_(None))
                .group_by(st.question)
            ).all()
            found = {q: (mx, raw, scaled) for q, mx, raw, scaled in facts}
            updates = []
            for qid, old in current.items():
                mx, raw, scaled = found.get(qid, (None, None, 0))
                if mx is not None:
                    value = max(float(mx), 0.0)
                elif raw is not None or scaled:
                    value = max(1.0, float(raw or 0.0))
                else:
                    value = 0.0
                if value != old:
                    updates.append({"k": qid, "v": value})
            if updates:
                table = act.__table__
                self.s.execute(
                    update(table).where(table.c.id == bindparam("k")).values(max_score=bindparam("v")),
                    updates,
                )
                modules = self.s.scalars(
                    select(act.module_id).where(act.id.in_([u["k"] for u in updates])).distinct()
                )
                summaries.mark(self.s, modules=list(modules))
                for u in updates:
                    changed[u["k"]] = u["k"]
        # Answers given as a scaled score depend on the max: re-derive their learners.
        for chunk in _chunks(sorted(changed), LOOKUP):
            self.users |= set(
                self.s.scalars(
                    select(st.actor).where(st.question.in_(chunk), st.actor.is_not(None)).distinct()
                )
            )

    def _course_modules(self) -> dict[str, str]:
        """Trainings whose only module is their "(all content)" one -> that module."""
        tm = m.TrainingModule
        rows = self.s.execute(select(tm.training_id, tm.module_id)).all()
        by_training: dict[str, set[str]] = defaultdict(set)
        for training, module in rows:
            by_training[training].add(module)
        return {
            t: all_content_module(t)
            for t, modules in by_training.items()
            if modules == {all_content_module(t)}
        }

    def _derive_users(self, users: list[str], ctx: Context) -> None:
        st = m.XapiStatement
        columns = [getattr(st, c) for c in COLUMNS]
        statements: dict[str, list[Stmt]] = defaultdict(list)
        for row in self.s.execute(
            select(st.actor, *columns)
            .where(st.actor.in_(users), st.voided.is_(False), st.ignored.is_(None))
            .order_by(st.actor, st.at, st.id)
        ):
            statements[row[0]].append(Stmt(*row[1:]))
        ps, sl = m.ProgramSession, m.SessionLearner
        tz = platform_tz()
        sessions: dict[str, dict[str, list[tuple]]] = defaultdict(lambda: defaultdict(list))
        for user_id, session_id, training_id, starts_at, ends_at in self.s.execute(
            select(sl.user_id, ps.id, ps.training_id, ps.starts_at, ps.ends_at)
            .join(ps, ps.id == sl.session_id)
            .where(sl.user_id.in_(users))
        ):
            sessions[user_id][training_id].append((session_id, starts_at, _whole_last_day(ends_at, tz)))
        out = Derived()
        for user_id in users:
            ctx.sessions = sessions.get(user_id, {})
            derived = derive_user(user_id, statements.get(user_id, ()), ctx)
            out.enrollments += derived.enrollments
            out.attempts += derived.attempts
            out.answers += derived.answers
            out.connections += derived.connections
            out.logins += derived.logins
        self._replace(users, out)

    def _replace(self, users: list[str], out: Derived) -> None:
        """Delete the learners' rows xAPI derived before; insert the new ones (a row a bundle
        holds already stays the bundle's)."""
        a, ans, c, lg, en = m.Attempt, m.Answer, m.Connection, m.Login, m.Enrollment
        removed = Counter()
        old_attempts = select(a.id).where(a.user_id.in_(users), a.xapi.is_(True))
        removed["answers"] = self.s.execute(delete(ans).where(ans.attempt_id.in_(old_attempts))).rowcount
        removed["attempts"] = self.s.execute(delete(a).where(a.user_id.in_(users), a.xapi.is_(True))).rowcount
        removed["connections"] = self.s.execute(
            delete(c).where(c.user_id.in_(users), c.xapi.is_(True))
        ).rowcount
        removed["logins"] = self.s.execute(
            delete(lg).where(lg.user_id.in_(users), lg.xapi.is_(True))
        ).rowcount
        removed["enrollments"] = self.s.execute(
            delete(en).where(en.user_id.in_(users), en.xapi.is_(True))
        ).rowcount
        added = Counter()
        added["enrollments"] = self._insert_new(
            en, ["user_id", "training_id", "enrolled_at"], out.enrollments, ["user_id", "training_id"]
        )
        if out.attempts:
            bulk_insert(
                self.s,
                a,
                [
                    {
                        "id": i, "user_id": u, "training_id": t, "module_id": mod, "started_at": s,
                        "finished_at": f, "score_override": o, "verdict": v, "xapi": True,
                    }
                    for i, u, t, mod, s, f, o, v in out.attempts
                ],
            )  # fmt: skip
        added["attempts"] = len(out.attempts)
        if out.answers:
            bulk_insert(
                self.s,
                ans,
                [
                    {
                        "attempt_id": at,
                        "activity_id": act,
                        "score": sc,
                        "answer": an,
                        "answered_at": w,
                        "evaluated": True,
                    }
                    for at, act, sc, an, w in out.answers
                ],
            )
        added["answers"] = len(out.answers)
        added["connections"] = self._insert_new(
            c,
            ["user_id", "module_id", "connected_at", "disconnected_at", "session_id"],
            out.connections,
            None,
        )
        added["logins"] = self._insert_new(
            lg, ["user_id", "logged_in_at"], out.logins, ["user_id", "logged_in_at"]
        )
        report = self.report
        for kind in ("enrollments", "attempts", "answers", "connections", "logins"):
            net = added[kind] - (removed[kind] or 0)
            if net >= 0:
                report.added[kind] += net
            else:
                report.removed[kind] -= net

    def _insert_new(self, model, names: list[str], rows: list[tuple], key: list[str] | None) -> int:
        """Insert rows (xapi = true) but those a bundle's row already holds; how many went in."""
        if not rows:
            return 0
        return bulk_insert(
            self.s,
            model,
            [{**dict(zip(names, r, strict=True)), "xapi": True} for r in rows],
            ignore_conflicts=True,
        )


def bulk_insert(session: Session, model, rows: list[dict], ignore_conflicts: bool = False) -> int:
    """Insert rows through the driver in batches (the ORM's bulk path is several times slower);
    ignore_conflicts: rows whose key is already there are left out. How many went in."""
    if not rows:
        return 0
    table = model.__table__
    columns = list(table.columns)
    connection = session.connection()
    total = 0
    if connection.dialect.name == "sqlite":
        names = [c.name for c in columns]
        # Every column's value in a row: the row's, else the column's default (scalar), else None.
        base = {
            c.name: c.default.arg if c.default is not None and not callable(c.default.arg) else None
            for c in columns
        }
        converted = [(i, f) for i, c in enumerate(columns) if (f := _sqlite_value(_kind(c))) is not None]
        getter = itemgetter(*names)

        def pick(row: dict) -> tuple:
            try:
                found = getter(row)
            except KeyError:  # a column the row does not give: its default
                found = getter({**base, **row})
            return found if len(names) > 1 else (found,)

        verb = "INSERT OR IGNORE" if ignore_conflicts else "INSERT"
        sql = f"{verb} INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(columns))})"
        for batch in _chunks(rows, 5000):
            values = []
            for row in batch:
                record = list(pick(row))
                for i, convert in converted:
                    record[i] = convert(record[i])
                values.append(tuple(record))
            result = connection.exec_driver_sql(sql, values)
            total += len(batch) if not ignore_conflicts else max(result.rowcount or 0, 0)
        return total
    if ignore_conflicts:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        # An executemany's rowcount is not the rows inserted on psycopg (it gave 0 added
        # connections, logins, enrollments): count the rows RETURNING gives back.
        stmt = pg_insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
        for batch in _chunks(rows, 5000):
            total += len(connection.execute(stmt, batch).all())
        return total
    stmt = insert(table)
    for batch in _chunks(rows, 5000):
        connection.execute(stmt, batch)
        total += len(batch)
    return total


def _placeholder_email(user_id: str) -> str:
    """An address for a learner whose statements name no mailbox (the users table needs one):
    the reserved .invalid domain (RFC 2606), never delivered."""
    import hashlib
    import re

    if re.fullmatch(r"[A-Za-z0-9._+-]{1,64}", user_id):
        return f"{user_id}@xapi.invalid"
    return f"xapi-{hashlib.sha1(user_id.encode('utf-8')).hexdigest()[:16]}@xapi.invalid"


def run_json(report: XapiReport) -> tuple[str, str]:
    """(added, skipped) as the JSON texts import_runs keeps."""
    return json.dumps(report.added, sort_keys=True), json.dumps(report.skipped(), sort_keys=True)
