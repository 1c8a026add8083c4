"""The summary layer's upkeep: every write keeps the summary tables exact, in its transaction.

The pages read SPEC §4's figures from the summary tables of data/models.py (summary_*), never
from the raw events. This module is the only writer of those tables:

- `REFRESHES` is the one table of which write refreshes which summary table: for each raw
  table, the columns of a written row that say whose summaries to recompute, and the summary
  tables such a write can change.
- `mark(session, users=..., trainings=..., ...)` notes what a write touched. ORM writes (the
  test factory, the web app) are noted automatically by a flush listener; the importer notes
  the rows it added or changed (both through REFRESHES); `demo-data` and `rebuild-summaries`
  refresh everything.
- `refresh_pending(session)` recomputes the summaries of what was touched: every summary row
  of each touched learner (their (learner, training) pairs, module facts, history, days,
  sessions), then, when the writes reach them, the per-(training, day) rows of the trainings
  those pairs belong to, the active periods and the sessions. The rules it applies (scores,
  statuses, completion) are data/rules.py's. It runs
  before every commit and before every figure is read, so a reader in the writer's own
  transaction sees exact figures too.
- `rebuild(session, tz)` recomputes everything from the raw tables (recovery and a check).

Facts that depend on "today" (expiry of certificates, the last 7 days) are not stored: the
readers derive them from stored dates. Local days are in the platform time zone recorded in
summary_meta; a change of LEARNSTATS_TIMEZONE rebuilds the summaries (`ensure_summaries`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import chain, repeat
from operator import itemgetter
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, case, delete, event, func, insert, inspect, select, text, update
from sqlalchemy.orm import Session

from data import models as m
from data import rules

# "Since always": the day of an enrollment without a date (a primary key cannot be NULL).
NO_DAY = date(1, 1, 1)
# Above this share of all users a refresh recomputes everything instead of user by user.
FULL_REFRESH_SHARE = 0.3
# ... on a platform of at most this many users; above, the learners a write touched are
# refreshed REFRESH_CHUNK at a time instead (a full rebuild holds every raw row in memory).
FULL_REFRESH_MAX_USERS = 20_000
REFRESH_CHUNK = 5000
CHUNK = 500
INSERT_BATCH = 5000
_PENDING = "learnstats_summary_pending"


# --------------------------------------------------------------------------------------------
# What a write touched
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Which write refreshes which summary table
# --------------------------------------------------------------------------------------------

_PAIR_TABLES = (m.SummaryLearner, m.SummaryPair, m.SummaryPairHistory, m.SummaryPairDay, m.SummaryModuleFact)
_GROUP_TABLES = m.GROUP_TABLES
_ALL = m.SUMMARY_TABLES


@dataclass(frozen=True)
class Refresh:
    """What a write to one raw table refreshes.

    keys: (column, what it names) for each column of a written row that says whose summary
    rows are recomputed: users directly, or the users of the trainings, modules, classes,
    attempts or sessions it names (see _resolve_users). tables: the summary tables such a
    write can change; the refresh skips the stages (groups, active periods, sessions) whose
    tables no write of the transaction reaches. A raw table without keys changes no
    summary: its writes only move the data version.
    """

    keys: tuple[tuple[str, str], ...]
    tables: tuple[type[m.Base], ...]


# Raw table -> what a write to it refreshes. Used by both write paths: the ORM's (the flush
# listener below) and the importer's (data/importer.py), and by _refresh to choose its stages.
REFRESHES: dict[str, Refresh] = {
    # Status (blocked users are not counted) and creation date (new users): every figure.
    "users": Refresh((("id", "users"),), _ALL),
    "roles": Refresh((("user_id", "users"),), _ALL),  # admins are not counted
    "enrollments": Refresh((("user_id", "users"),), _ALL),
    "class_members": Refresh((("user_id", "users"),), _ALL),
    # A class's (de)registration: its members' rows (their refresh covers the trainings they
    # were and are in).
    "class_trainings": Refresh((("class_id", "classes"),), _ALL),
    "training_modules": Refresh((("training_id", "trainings"),), (*_PAIR_TABLES, *_GROUP_TABLES)),
    "modules": Refresh((("id", "modules"),), (*_PAIR_TABLES, *_GROUP_TABLES)),  # keep_results
    "activities": Refresh((("module_id", "modules"),), (*_PAIR_TABLES, *_GROUP_TABLES)),  # max scores
    "attempts": Refresh((("user_id", "users"),), (*_PAIR_TABLES, *_GROUP_TABLES)),
    "answers": Refresh((("attempt_id", "attempts"),), (*_PAIR_TABLES, *_GROUP_TABLES)),
    "connections": Refresh((("user_id", "users"),), _ALL),
    "logins": Refresh(
        (("user_id", "users"),),
        (m.SummaryUserDay, m.SummaryLearner, m.SummaryPair, m.SummaryActivePeriod),  # active days
    ),
    # A (de)registration: the user's session rows (their refresh covers the sessions they
    # were and are in).
    "session_learners": Refresh((("user_id", "users"),), (m.SummarySessionUser, m.SummarySession)),
    "program_sessions": Refresh((("id", "sessions"),), (m.SummarySessionUser, m.SummarySession)),
    # Names, validity (expiry is judged when read), labels, custom fields, settings.
    "trainings": Refresh((), ()),
    "classes": Refresh((), ()),
    "user_labels": Refresh((), ()),
    "user_fields": Refresh((), ()),
    "platform_settings": Refresh((), ()),
    "stored_images": Refresh((), ()),
    # Rebuilt from enrollments, class_members and class_trainings, whose writes mark it.
    "training_learners": Refresh((), ()),
    # xAPI (data/xapi): statements kept raw, the log of imports, where each sync stopped. The
    # rows derived from statements (attempts, answers, ...) are marked by the derivation.
    "xapi_statements": Refresh((), ()),
    "import_runs": Refresh((), ()),
    "lrs_cursors": Refresh((), ()),
    # Background jobs' locks (jobs/).
    "job_locks": Refresh((), ()),
    # Tutor contacts (SPEC §10): read by the compliance files only, no figure.
    "tutor_contacts": Refresh((), ()),
    "satisfaction_answers": Refresh((), ()),  # Qualiopi's satisfaction: read from the table
    # Scheduled reports and their run log (jobs/reports.py): no figure.
    "scheduled_reports": Refresh((), ()),
    "scheduled_report_runs": Refresh((), ()),
}


def reached_tables(written: Iterable[str] | None) -> set[type[m.Base]]:
    """The summary tables writes to these raw tables can change (None: unknown, all)."""
    if written is None:
        return set(_ALL)
    return {table for name in written for table in REFRESHES[name].tables}


@dataclass
class Touched:
    users: set[str] = field(default_factory=set)
    trainings: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)
    classes: set[str] = field(default_factory=set)
    attempts: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    # New rows only (not stored before this write): connections as (user, module,
    # connected_at, disconnected_at, session), logins as (user, logged_in_at). Alone, they are added
    # to the summaries (data/summary_append.py); with anything else, their learners are
    # refreshed like the others.
    connections: list[tuple] = field(default_factory=list)
    logins: list[tuple] = field(default_factory=list)
    everything: bool = False
    # Something changed that no summary holds (a name): the data version moves all the same,
    # so that no cached figure keeps the old value.
    version: bool = False
    # The raw tables written (REFRESHES' keys); None when rows were marked by a write that
    # did not say which table (every stage of the refresh runs then).
    written: set[str] | None = field(default_factory=set)

    def __bool__(self) -> bool:
        return (
            self.everything
            or self.version
            or any((self.users, self.trainings, self.modules, self.classes, self.attempts, self.sessions))
            or bool(self.connections or self.logins)
        )

    def only_appended(self) -> bool:
        """Nothing but new connections and logins."""
        return not (
            self.everything
            or any((self.users, self.trainings, self.modules, self.classes, self.attempts, self.sessions))
        )


def mark(
    session: Session,
    *,
    users: Iterable[str] = (),
    trainings: Iterable[str] = (),
    modules: Iterable[str] = (),
    classes: Iterable[str] = (),
    attempts: Iterable[str] = (),
    sessions: Iterable[str] = (),
    connections: Iterable[tuple] = (),
    logins: Iterable[tuple] = (),
    everything: bool = False,
    version: bool = False,
    written: Iterable[str] | None = None,
) -> None:
    """Note what a write touched; refresh_pending recomputes it before commit or read (and
    increases the data version, also when only `version` is set). written: the raw tables
    the write changed (REFRESHES); without it, marked rows refresh every summary table.

    connections, logins: rows the write ADDED (none of them stored before), as
    (user_id, module_id, connected_at, disconnected_at, session_id) and (user_id, logged_in_at)
    in naive UTC; when nothing else is marked they are added to the summaries without
    recomputing their learners (data/summary_append.py)."""
    touched = session.info.setdefault(_PENDING, Touched())
    if written is not None:
        if touched.written is not None:
            touched.written.update(written)
    elif any((users, trainings, modules, classes, attempts, sessions)):
        touched.written = None
    touched.version = touched.version or version
    touched.users.update(users)
    touched.trainings.update(trainings)
    touched.modules.update(modules)
    touched.classes.update(classes)
    touched.attempts.update(attempts)
    touched.sessions.update(sessions)
    touched.connections.extend(connections)
    touched.logins.extend(logins)
    touched.everything = touched.everything or everything


def _mark_object(session: Session, obj: object) -> None:
    """Mark what an ORM write refreshes (REFRESHES)."""
    table = getattr(obj, "__tablename__", None)
    refresh = REFRESHES.get(table) if table else None
    if refresh is None or not refresh.keys:
        return
    if isinstance(obj, m.User):
        # Only the status (blocked users are not counted) matters to the summaries.
        state = inspect(obj)
        if not (state.pending or state.deleted or state.attrs.status.history.has_changes()):
            return
    marks: dict[str, list[str]] = {}
    for column, kind in refresh.keys:
        marks.setdefault(kind, []).append(getattr(obj, column))
    mark(session, written=[table], **marks)


@event.listens_for(Session, "after_flush")
def _note_flushed(session: Session, _context) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(obj, m.SummaryMeta):
            mark(session, version=True)
        _mark_object(session, obj)


@event.listens_for(Session, "before_commit")
def _refresh_before_commit(session: Session) -> None:
    refresh_pending(session)


# --------------------------------------------------------------------------------------------
# Meta: time zone and data version
# --------------------------------------------------------------------------------------------


def _meta(session: Session, key: str) -> str | None:
    return session.scalar(select(m.SummaryMeta.value).where(m.SummaryMeta.key == key))


def _set_meta(session: Session, key: str, value: str) -> None:
    if _meta(session, key) is None:
        session.execute(insert(m.SummaryMeta).values(key=key, value=value))
    else:
        session.execute(update(m.SummaryMeta).where(m.SummaryMeta.key == key).values(value=value))


def data_version(session: Session) -> int:
    """A number every write that changes the summaries increases (cache keys use it)."""
    return int(_meta(session, "data_version") or 0)


def _bump_version(session: Session) -> None:
    _set_meta(session, "data_version", str(data_version(session) + 1))


def summaries_timezone(session: Session) -> ZoneInfo:
    name = _meta(session, "timezone")
    return ZoneInfo(name) if name else ZoneInfo("Europe/Paris")


def ensure_summaries(session: Session, tz: ZoneInfo) -> bool:
    """Make the summaries match the raw tables' time zone setting; True when rebuilt.

    A database migrated from before the summary layer, or whose LEARNSTATS_TIMEZONE changed,
    is rebuilt once; a new empty database only records the time zone.
    """
    if _meta(session, "timezone") == tz.key:
        return False
    rebuild(session, tz)
    return True


# --------------------------------------------------------------------------------------------
# Refresh
# --------------------------------------------------------------------------------------------


def refresh_pending(session: Session) -> None:
    """Recompute the summaries of everything marked since the last refresh."""
    while True:
        touched: Touched | None = session.info.pop(_PENDING, None)
        if not touched:
            if touched is None and not session.new and not session.dirty and not session.deleted:
                return
            session.flush()  # may note more
            if not session.info.get(_PENDING):
                return
            continue
        with session.no_autoflush:
            session.flush()
        extra = session.info.pop(_PENDING, None)
        if extra:
            _merge(touched, extra)
        _refresh(session, touched, summaries_timezone(session))


def _merge(into: Touched, other: Touched) -> None:
    into.users |= other.users
    into.trainings |= other.trainings
    into.modules |= other.modules
    into.classes |= other.classes
    into.attempts |= other.attempts
    into.sessions |= other.sessions
    into.connections.extend(other.connections)
    into.logins.extend(other.logins)
    into.everything = into.everything or other.everything
    into.version = into.version or other.version
    into.written = None if into.written is None or other.written is None else into.written | other.written


def rebuild(session: Session, tz: ZoneInfo) -> None:
    """Recompute every summary table from the raw tables (same transaction)."""
    session.flush()
    session.info.pop(_PENDING, None)
    _set_meta(session, "timezone", tz.key)
    _refresh(session, Touched(everything=True), tz)


class ChunkedBuild:
    """The summaries of a platform whose learners are written a chunk at a time (demo-data):
    what `rebuild` stores, without holding every raw row at once.

    `add(users)` computes every learner row of those users (their pairs, module facts,
    history, days, sessions) from their raw rows, which must all be written (enrollments,
    training_learners, roles included), and counts their active periods; `finish()` then
    stores the per-group rows, the active periods and the sessions from the learner rows,
    as `rebuild` does. The summary tables must be empty at the start; each user is added
    once. Memory is one chunk's raw rows plus the per-group sums."""

    def __init__(self, session: Session, tz: ZoneInfo):
        self.session = session
        self.tz = tz
        session.flush()
        session.info.pop(_PENDING, None)
        _set_meta(session, "timezone", tz.key)
        # (population, unit, period start) -> learners: summed over the chunks, the class
        # populations as the group refresh of finish() stores them (as the chunked refresh
        # of _refresh counts them).
        self.activity: Counter = Counter()

    def add(self, users: list[str]) -> None:
        if not users:
            return
        facts = _load(self.session, users, self.tz)  # replacing None: nothing stored yet
        _write_user_tables(self.session, facts)
        _write_pair_tables(self.session, facts, self.tz)
        del facts
        _count_change(self.activity, {}, _activity_states(self.session, users, stored_classes=False))

    def finish(self) -> None:
        session = self.session
        _refresh_groups(session, None)
        _update_active_periods(session, Counter(), self.activity, full=True)
        _refresh_sessions(session, None)
        _bump_version(session)
        _analyze(session)


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _in(column, ids: list[str] | None):
    """Chunked IN conditions: yields one condition per chunk, or None once for 'all'."""
    if ids is None:
        yield None
        return
    for chunk in _chunks(ids):
        yield column.in_(chunk)


def _rows(session: Session, query, column, ids: list[str] | None) -> list:
    out: list = []
    connection = session.connection()  # Core rows: the ORM's result machinery is not needed
    for condition in _in(column, ids):
        q = query if condition is None else query.where(condition)
        out.extend(connection.execute(q).all())
    return out


def _stream(session: Session, query, column, ids: list[str] | None) -> Iterator:
    """_rows' rows one at a time (never all in memory); the loop over them runs no SQL."""
    connection = session.connection()
    for condition in _in(column, ids):
        yield from connection.execute(query if condition is None else query.where(condition))


def _driver_stream(session: Session, query, column, ids: list[str] | None) -> Iterator:
    """_stream's rows as the driver gives them, without SQLAlchemy's per-row result
    processing (most of a group refresh's time: 1,500,000 rows at 100,000 learners). On
    SQLite, dates and datetimes come as their stored text and booleans as 0 or 1 (see
    _as_date); on another database this is _stream."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield from _stream(session, query, column, ids)
        return
    driver = connection.connection.driver_connection
    for condition in _in(column, ids):
        q = query if condition is None else query.where(condition)
        yield from driver.execute(
            str(q.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
        )


def _as_date(value) -> date | None:
    """A date as _driver_stream gives it (SQLite: its stored ISO text) as a date."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _resolve_users(session: Session, touched: Touched) -> set[str]:
    users = set(touched.users)
    trainings = set(touched.trainings)
    if touched.modules:
        trainings |= set(
            session.scalars(
                select(m.TrainingModule.training_id).where(m.TrainingModule.module_id.in_(touched.modules))
            )
        )
    if touched.classes:
        for chunk in _chunks(sorted(touched.classes)):
            users |= set(
                session.scalars(select(m.ClassMember.user_id).where(m.ClassMember.class_id.in_(chunk)))
            )
    for chunk in _chunks(sorted(touched.attempts)):
        users |= set(session.scalars(select(m.Attempt.user_id).where(m.Attempt.id.in_(chunk))))
    for chunk in _chunks(sorted(trainings)):
        users |= set(
            session.scalars(select(m.TrainingLearner.user_id).where(m.TrainingLearner.training_id.in_(chunk)))
        )
        users |= set(
            session.scalars(select(m.Attempt.user_id).where(m.Attempt.training_id.in_(chunk)).distinct())
        )
    for chunk in _chunks(sorted(touched.sessions)):
        users |= set(
            session.scalars(select(m.SessionLearner.user_id).where(m.SessionLearner.session_id.in_(chunk)))
        )
        users |= set(
            session.scalars(select(m.Connection.user_id).where(m.Connection.session_id.in_(chunk)).distinct())
        )
    return users


def _refresh(session: Session, touched: Touched, tz: ZoneInfo) -> None:
    if touched.connections or touched.logins:
        # Nothing but new rows: added to the summaries set-based (SQLite and PostgreSQL alike).
        if touched.only_appended():
            from data import summary_append

            summary_append.apply(session, touched.connections, touched.logins, tz)
            _bump_version(session)
            return
        touched.users.update(row[0] for row in touched.connections)
        touched.users.update(row[0] for row in touched.logins)
    if touched.everything:
        ids: list[str] | None = None
    else:
        users = _resolve_users(session, touched)
        total = session.scalar(select(func.count()).select_from(m.User)) or 0
        share = total and len(users) > FULL_REFRESH_SHARE * total
        ids = None if share and total <= FULL_REFRESH_MAX_USERS else sorted(users)
    if ids is not None and not ids:
        _bump_version(session)
        return
    # Every summary row of the users is recomputed; the stages after it run when a write
    # reaches their tables (REFRESHES).
    reached = reached_tables(None if ids is None else touched.written)
    groups = any(table in reached for table in _GROUP_TABLES)
    active = m.SummaryActivePeriod in reached
    sessions = m.SummarySession in reached
    old_trainings: set[str] = set()
    new_trainings: set[str] = set()
    old_sessions: set[str] = set()
    # The active periods' change, counted once per chunk from each learner's populations and
    # periods before and after (only the learners whose state changed, by the difference).
    activity_change: Counter = Counter()
    # The learners a chunk at a time (all at once for a full rebuild): memory stays bounded
    # whatever the number of learners a write touched (an import of a million statements).
    for chunk in [None] if ids is None else _chunks(ids, REFRESH_CHUNK):
        if groups:
            old_trainings |= _pair_trainings(session, chunk)
        if sessions:
            old_sessions |= _user_sessions(session, chunk)
        if active and chunk is not None:  # a full rebuild starts from nothing
            before = _activity_states(session, chunk, stored_classes=True)
        if chunk is None:
            _delete_user_rows(session, None)
        facts = _load(session, chunk, tz)
        facts.replacing = chunk
        _write_user_tables(session, facts)
        new_trainings |= _write_pair_tables(session, facts, tz)
        del facts
        if active and chunk is not None:
            # The class populations as the group refresh below will store them.
            _count_change(activity_change, before, _activity_states(session, chunk, stored_classes=False))
            del before
    if groups:
        if ids is None:
            _refresh_groups(session, None)
        else:  # a training at a time: its pairs and module facts, not every training's at once
            for training in sorted(old_trainings | new_trainings):
                _refresh_groups(session, [training])
    if active:
        if ids is None:
            _update_active_periods(session, Counter(), _activity(session, None), full=True)
        else:
            _update_active_periods(session, Counter(), activity_change, full=False)
    if sessions:
        _refresh_sessions(
            session, None if ids is None else sorted(old_sessions | _user_sessions(session, ids))
        )
    _bump_version(session)
    if ids is None:
        _analyze(session)


def _analyze(session: Session) -> None:
    """Table statistics for the query planner after a bulk load (SQLite samples)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA analysis_limit=1000"))
    for table in m.SUMMARY_TABLES:
        session.execute(text(f"ANALYZE {table.__tablename__}"))


def _period_starts(day: date) -> tuple[tuple[str, date], ...]:
    return ("day", day), ("week", day - timedelta(days=day.weekday())), ("month", day.replace(day=1))


def _activity(session: Session, ids: list[str] | None) -> Counter:
    """(population, unit, period start) -> learners active in it, over the users given (None:
    all): each user counted once per period, in each population they belong to."""
    counts: Counter = Counter()
    _count_change(counts, {}, _activity_states(session, ids, stored_classes=True))
    return counts


def _activity_states(session: Session, ids: list[str] | None, stored_classes: bool) -> dict[str, tuple]:
    """user -> (populations, periods) of the users given (None: all): the
    populations a learner belongs to ("" for every counted learner, "c:<class>", "t:<training>")
    and the (unit, start) of each day, week and month they were active in. stored_classes:
    their classes from summary_class_learners; else as _refresh_class_learners will store
    them from the pairs just written (a member of a class registered to a training the
    learner counts in)."""
    populations: dict[str, set[str]] = defaultdict(set)
    lr, cl, p, cm, ct = m.SummaryLearner, m.SummaryClassLearner, m.SummaryPair, m.ClassMember, m.ClassTraining
    for (user_id,) in _rows(session, select(lr.user_id), lr.user_id, ids):
        populations[user_id].add("")
    if stored_classes:
        classes = _rows(session, select(cl.class_id, cl.user_id), cl.user_id, ids)
    else:
        query = (
            select(cm.class_id, p.user_id)
            .join(ct, ct.class_id == cm.class_id)
            .join(p, (p.user_id == cm.user_id) & (p.training_id == ct.training_id))
            .join(lr, lr.user_id == p.user_id)
            .where(p.counted.is_(True))
            .distinct()
        )
        classes = _rows(session, query, p.user_id, ids)
    for class_id, user_id in classes:
        populations[user_id].add(f"c:{class_id}")
    for training_id, user_id in _rows(
        session, select(p.training_id, p.user_id).where(p.counted.is_(True)), p.user_id, ids
    ):
        populations[user_id].add(f"t:{training_id}")
    days: dict[str, set] = defaultdict(set)
    for user_id, day in _rows(
        session, select(m.SummaryUserDay.user_id, m.SummaryUserDay.day), m.SummaryUserDay.user_id, ids
    ):
        if user_id in populations:
            days[user_id].add(day)
    spans: dict[date, tuple] = {}  # day -> its periods (shared: many learners, few days)
    out: dict[str, tuple] = {}
    for user_id, found in populations.items():
        periods: set = set()
        for day in days.get(user_id, ()):
            starts = spans.get(day)
            if starts is None:
                starts = spans[day] = _period_starts(day)
            periods.update(starts)
        out[user_id] = (frozenset(found), frozenset(periods))
    return out


def _count_change(counts: Counter, before: dict[str, tuple], after: dict[str, tuple]) -> None:
    """counts += the (population, unit, start) learner counts of after - those of before: only
    the learners whose populations or periods changed, and of them only what changed."""
    nothing: tuple = (frozenset(), frozenset())
    for user_id in before.keys() | after.keys():
        old = before.get(user_id, nothing)
        new = after.get(user_id, nothing)
        if old == new:
            continue
        (old_populations, old_periods), (new_populations, new_periods) = old, new
        for population in new_populations:
            gained = new_periods if population not in old_populations else new_periods - old_periods
            for unit, start in gained:
                counts[(population, unit, start)] += 1
        for population in old_populations:
            lost = old_periods if population not in new_populations else old_periods - new_periods
            for unit, start in lost:
                counts[(population, unit, start)] -= 1


def _update_active_periods(session: Session, old: Counter, new: Counter, full: bool) -> None:
    """summary_active_periods += new - old (everything anew when full)."""
    ap = m.SummaryActivePeriod
    if full:
        session.execute(delete(ap))
        current: Counter = Counter()
    else:
        keys = set(old) | set(new)
        current = Counter()
        for population in sorted({k[0] for k in keys}):
            for unit, start, learners in session.execute(
                select(ap.unit, ap.start, ap.learners).where(ap.population == population)
            ):
                if (population, unit, start) in keys:
                    current[(population, unit, start)] = learners
        if keys:  # one statement for all the keys (one per key was most of a small xAPI import's time)
            table = ap.__table__
            session.connection().execute(
                delete(table).where(
                    table.c.population == bindparam("k_p"),
                    table.c.unit == bindparam("k_u"),
                    table.c.start == bindparam("k_s"),
                ),
                [{"k_p": p, "k_u": u, "k_s": d} for p, u, d in keys],
            )
    if full:
        old = Counter()
    changed = {k: current.get(k, 0) + new.get(k, 0) - old.get(k, 0) for k in set(old) | set(new)}
    _insert(
        session,
        ap,
        [
            {"population": population, "unit": unit, "start": start, "learners": n}
            for (population, unit, start), n in changed.items()
            if n > 0
        ],
    )


def _user_sessions(session: Session, ids: list[str] | None) -> set[str]:
    if ids is None:
        return set()
    su = m.SummarySessionUser
    return {s for (s,) in _rows(session, select(su.session_id).distinct(), su.user_id, ids)}


def _refresh_sessions(session: Session, sessions: list[str] | None) -> None:
    """summary_sessions of the sessions given (None: all) from summary_session_users."""
    ss, su = m.SummarySession, m.SummarySessionUser
    for condition in _in(ss.session_id, sessions):
        session.execute(delete(ss) if condition is None else delete(ss).where(condition))
    query = select(su.session_id, func.count(), func.sum(case((su.connections > 0, 1), else_=0))).group_by(
        su.session_id
    )
    rows = _rows(session, query, su.session_id, sessions)
    _insert(session, ss, [{"session_id": s, "learners": n, "played": int(p or 0)} for s, n, p in rows])


def _pair_trainings(session: Session, ids: list[str] | None) -> set[str]:
    if ids is None:
        return set()
    return {
        t for (t,) in _rows(session, select(m.SummaryPair.training_id).distinct(), m.SummaryPair.user_id, ids)
    }


def _delete_user_rows(session: Session, ids: list[str] | None) -> None:
    for table in m.USER_TABLES:
        for condition in _in(table.user_id, ids):
            stmt = delete(table) if condition is None else delete(table).where(condition)
            session.execute(stmt)


# --------------------------------------------------------------------------------------------
# Loading the raw rows of the users to refresh
# --------------------------------------------------------------------------------------------


@dataclass
class _Raw:
    tz: ZoneInfo
    # The learners whose summary rows are still stored (a chunk's refresh): only the rows that
    # changed are written (_store); None: their rows were deleted first.
    replacing: list[str] | None = None
    connections: list = field(default_factory=list)  # user, module, session, start, end
    logins: list = field(default_factory=list)  # user, at
    pairs: list = field(default_factory=list)  # user, training, enrolled_at
    # id, user, training, module, started, finished, score_override, verdict, points
    attempts: list = field(default_factory=list)
    counted: dict[str, bool] = field(default_factory=dict)
    created: dict[str, datetime | None] = field(default_factory=dict)
    registered: list = field(default_factory=list)  # session, user
    steps: dict[str, list] = field(default_factory=dict)  # training -> [(module, mandatory, min_score)]
    keep: dict[str, str] = field(default_factory=dict)  # module -> best | newest
    max_points: dict[str, float] = field(default_factory=dict)  # module -> points
    answered: dict[str, list] = field(default_factory=dict)  # attempt -> its answers' instants


def _load(session: Session, ids: list[str] | None, tz: ZoneInfo) -> _Raw:
    raw = _Raw(tz)
    c = m.Connection
    raw.connections = _rows(
        session,
        select(c.user_id, c.module_id, c.session_id, c.connected_at, c.disconnected_at),
        c.user_id,
        ids,
    )
    raw.logins = _rows(session, select(m.Login.user_id, m.Login.logged_in_at), m.Login.user_id, ids)
    tl = m.TrainingLearner
    raw.pairs = _rows(session, select(tl.user_id, tl.training_id, tl.enrolled_at), tl.user_id, ids)
    users = _rows(session, select(m.User.id, m.User.status, m.User.created_at), m.User.id, ids)
    admins = {
        u
        for (u,) in _rows(session, select(m.Role.user_id).where(m.Role.role == "admin"), m.Role.user_id, ids)
    }
    raw.counted = {u: rules.is_counted_learner(status, u in admins) for u, status, _ in users}
    raw.created = {u: created for u, _, created in users}
    raw.registered = _rows(
        session, select(m.SessionLearner.session_id, m.SessionLearner.user_id), m.SessionLearner.user_id, ids
    )
    for training_id, module_id, mandatory, min_score in session.execute(
        select(
            m.TrainingModule.training_id,
            m.TrainingModule.module_id,
            m.TrainingModule.mandatory,
            m.TrainingModule.min_score,
        )
    ):
        raw.steps.setdefault(training_id, []).append((module_id, bool(mandatory), float(min_score or 0)))
    raw.keep = dict(session.execute(select(m.Module.id, m.Module.keep_results)).all())
    act = m.Activity
    raw.max_points = {
        module_id: float(points or 0.0)
        for module_id, points in session.execute(
            select(act.module_id, func.sum(act.max_score)).where(act.max_score > 0).group_by(act.module_id)
        )
    }
    a, ans = m.Attempt, m.Answer
    points = (
        select(ans.attempt_id, func.sum(ans.score).label("points"))
        .join(act, act.id == ans.activity_id)
        .where(ans.evaluated.is_(True), act.max_score > 0)
        .group_by(ans.attempt_id)
    )
    columns = (
        a.id,
        a.user_id,
        a.training_id,
        a.module_id,
        a.started_at,
        a.finished_at,
        a.score_override,
        a.verdict,
    )
    if ids is None:
        per_attempt = dict(session.execute(points).all())
        raw.attempts = [(*row, per_attempt.get(row[0], 0.0)) for row in session.execute(select(*columns))]
    else:
        for chunk in _chunks(ids):
            rows = session.execute(select(*columns).where(a.user_id.in_(chunk))).all()
            per_attempt = dict(
                session.execute(
                    points.where(ans.attempt_id.in_(select(a.id).where(a.user_id.in_(chunk))))
                ).all()
            )
            raw.attempts.extend((*row, per_attempt.get(row[0], 0.0)) for row in rows)
    # The instants of the answers (activity days in a training, SPEC §9).
    answered = select(ans.attempt_id, ans.answered_at).where(ans.answered_at.is_not(None))
    if ids is None:
        answer_rows = session.execute(answered).all()
    else:
        answer_rows = []
        for chunk in _chunks(ids):
            answer_rows.extend(
                session.execute(answered.where(ans.attempt_id.in_(select(a.id).where(a.user_id.in_(chunk)))))
            )
    for attempt_id, at in answer_rows:
        raw.answered.setdefault(attempt_id, []).append(at)
    return raw


# --------------------------------------------------------------------------------------------
# Computing and writing
# --------------------------------------------------------------------------------------------


def _local_day(value: datetime | None, tz: ZoneInfo) -> date | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(tz).date()


class _DayCache:
    """Local day of a naive UTC instant, memoised: in a zone whose offsets are whole hours the
    local day only changes on a UTC hour."""

    def __init__(self, tz: ZoneInfo):
        self.tz = tz
        self.cache: dict[tuple, date] = {}
        samples = (
            datetime(year, month, 1, tzinfo=UTC) for year in range(1970, 2060) for month in (1, 4, 7, 10)
        )
        self.whole_hours = all(
            (s.astimezone(tz).utcoffset() or timedelta()).total_seconds() % 3600 == 0 for s in samples
        )

    def __call__(self, value: datetime) -> date:
        if self.whole_hours:
            key: tuple = (value.year, value.month, value.day, value.hour)
        else:
            key = (value.year, value.month, value.day, value.hour, value.minute, value.second)
        day = self.cache.get(key)
        if day is None:
            day = self.cache[key] = _local_day(value, self.tz)
        return day


def _seconds(start: datetime, end: datetime) -> float:
    """A connection's length in seconds, to the millisecond (as the reference's SQL rounds)."""
    return round((end - start).total_seconds(), 3)


_MICROSECOND = timedelta(microseconds=1)


def _ms(start: datetime, end: datetime) -> int:
    """A connection's length in whole milliseconds (_seconds x 1000, exactly)."""
    microseconds = (end - start) // _MICROSECOND
    if microseconds % 1000 == 0:  # whole milliseconds: nothing to round
        return microseconds // 1000
    return round(_seconds(start, end) * 1000)


def _to_ms(seconds: float | None) -> int:
    """A stored sum of seconds back to its whole milliseconds (exact below 10^15 ms).

    Times are summed in whole milliseconds and stored as ms / 1000: a sum is then the same
    whatever the order of its terms, so an upkeep that adds new connections to a stored sum
    (data/summary_append.py) gives exactly what a rebuild gives."""
    return 0 if seconds is None else round(seconds * 1000)


def _datetime_text(value: datetime | None) -> str | None:
    """A naive datetime as SQLAlchemy's SQLite dialect stores it (its storage format,
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"):
    isoformat gives exactly that text, five times faster than strftime."""
    if value is None:
        return None
    if type(value) is datetime and value.tzinfo is None:
        return value.isoformat(" ", "microseconds")
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_value(kind: str):
    """How SQLAlchemy's SQLite dialect stores a value of a column type (its default formats)."""
    if kind == "datetime":
        return _datetime_text
    if kind == "date":
        return lambda v: None if v is None else v.isoformat()
    if kind == "bool":
        return lambda v: None if v is None else int(bool(v))
    return None


def _kind(column) -> str:
    python_type = column.type.python_type
    if python_type is datetime:
        return "datetime"
    if python_type is date:
        return "date"
    if python_type is bool:
        return "bool"
    return "plain"


def _insert(session: Session, model, rows: list[dict]) -> None:
    """Insert rows through Core (one executemany per batch; the ORM's bulk path is much slower).

    On SQLite the rows go straight to the driver, in the formats SQLAlchemy's dialect uses for
    dates, datetimes and booleans (its per-value processing is most of a rebuild's time)."""
    if not rows:
        return
    table = model.__table__
    columns = list(table.columns)
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # One itemgetter per row and the converters of the date, datetime and boolean columns
        # only (as _store_sqlite): the per-value generator was a sixth of demo-data's time.
        names = [c.name for c in columns]
        converted = [(i, f) for i, c in enumerate(columns) if (f := _sqlite_value(_kind(c))) is not None]
        getter = itemgetter(*names)
        many = len(names) > 1
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(columns))})"
        for batch in _chunks(rows, INSERT_BATCH):
            values = []
            for row in batch:
                try:
                    found = getter(row)
                    found = list(found) if many else [found]
                except KeyError:  # a column the row does not give: None
                    found = [row.get(name) for name in names]
                for i, convert in converted:
                    found[i] = convert(found[i])
                values.append(tuple(found))
            connection.exec_driver_sql(sql, values)
        return
    stmt = insert(table)
    for batch in _chunks(rows, INSERT_BATCH):
        connection.execute(stmt, [{c.name: row.get(c.name) for c in columns} for row in batch])


def _store(session: Session, raw: _Raw, model, rows: list[dict]) -> None:
    """A user table's new rows for the learners of raw. When their old rows are still stored
    (raw.replacing), only the difference is written: the old rows that are not among the new
    ones are deleted (by key), the new ones not stored yet are inserted. A refresh of learners
    whose figures an import barely changed (an xAPI import over a bundle's platform) then
    rewrites a few rows and their indexes instead of every one of them."""
    if raw.replacing is None:
        _insert(session, model, rows)
        return
    table = model.__table__
    columns = list(table.columns)
    names = [c.name for c in columns]
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        _store_sqlite(session, raw.replacing, table, rows)
        return
    old: set[tuple] = set()
    for condition in _in(table.c.user_id, raw.replacing):
        old.update(tuple(row) for row in connection.execute(select(*columns).where(condition)))
    new = {tuple(row.get(name) for name in names): row for row in rows}
    gone = old.difference(new)
    if gone:
        keys = [i for i, c in enumerate(columns) if c.primary_key]
        where = [columns[i] == bindparam(f"k{i}") for i in keys]
        connection.execute(delete(table).where(*where), [{f"k{i}": row[i] for i in keys} for row in gone])
    _insert(session, model, [row for values, row in new.items() if values not in old])


def _store_sqlite(session: Session, users: list[str], table, rows: list[dict]) -> None:
    """_store on SQLite, compared in the stored form: the new rows are turned into the values
    SQLAlchemy's dialect stores (dates and datetimes as text, booleans as 0 or 1: _insert's
    formats) and compared with the stored rows read straight from the driver (reading them
    through SQLAlchemy parsed every date and datetime: most of a refresh's time). A stored
    row written in another text form only differs: it is deleted and written again."""
    columns = list(table.columns)
    names = [c.name for c in columns]
    converted = [(i, f) for i, c in enumerate(columns) if (f := _sqlite_value(_kind(c))) is not None]
    getter = itemgetter(*names)
    old = set(_driver_stream(session, select(*columns), table.c.user_id, users))
    new: dict[tuple, None] = {}  # the new rows in the stored form, in their order
    for row in rows:
        try:
            found = getter(row)
        except KeyError:  # a column the row does not give: None
            found = tuple(row.get(name) for name in names)
        values = list(found) if len(names) > 1 else [found]
        for i, convert in converted:
            values[i] = convert(values[i])
        new[tuple(values)] = None
    connection = session.connection()
    gone = old.difference(new)
    if gone:
        keys = [i for i, c in enumerate(columns) if c.primary_key]
        where = " AND ".join(f"{columns[i].name} = ?" for i in keys)
        connection.exec_driver_sql(
            f"DELETE FROM {table.name} WHERE {where}", [tuple(row[i] for i in keys) for row in gone]
        )
    added = [values for values in new if values not in old]
    sql = (
        f"INSERT INTO {table.name} ({', '.join(c.name for c in columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    for batch in _chunks(added, INSERT_BATCH):
        connection.exec_driver_sql(sql, batch)


def _write_user_tables(session: Session, raw: _Raw) -> None:
    day_of = _DayCache(raw.tz)
    module_days: dict[tuple, list] = {}
    user_modules: dict[tuple, list] = {}
    user_days: dict[tuple, list] = {}
    session_users: dict[tuple, dict] = {}
    for user_id, module_id, session_id, start, end in raw.connections:
        seconds = _ms(start, end)
        day = day_of(start)
        acc = module_days.setdefault((user_id, module_id, day), [0, 0])
        acc[0] += 1
        acc[1] += seconds
        acc = user_modules.setdefault((user_id, module_id), [0, 0])
        acc[0] += 1
        acc[1] += seconds
        user_days.setdefault((user_id, day), [0, 0])[1] += 1
        if session_id is not None:
            row = session_users.setdefault(
                (session_id, user_id),
                {"connections": 0, "first_connection": start, "last_connection": end, "time_spent": 0},
            )
            row["connections"] += 1
            row["time_spent"] += seconds
            row["first_connection"] = min(row["first_connection"], start)
            row["last_connection"] = max(row["last_connection"], end)
    for user_id, at in raw.logins:
        user_days.setdefault((user_id, day_of(at)), [0, 0])[0] += 1
    registered = {(s, u) for s, u in raw.registered}
    for key in registered:
        session_users.setdefault(
            key, {"connections": 0, "first_connection": None, "last_connection": None, "time_spent": 0}
        )
    _store(
        session,
        raw,
        m.SummaryUserModuleDay,
        [
            {"user_id": u, "module_id": mod, "day": d, "connections": n, "seconds": s / 1000}
            for (u, mod, d), (n, s) in module_days.items()
        ],
    )
    _store(
        session,
        raw,
        m.SummaryUserModule,
        [
            {"user_id": u, "module_id": mod, "connections": n, "seconds": s / 1000}
            for (u, mod), (n, s) in user_modules.items()
        ],
    )
    _store(
        session,
        raw,
        m.SummaryUserDay,
        [{"user_id": u, "day": d, "logins": lg, "connections": n} for (u, d), (lg, n) in user_days.items()],
    )
    _store(
        session,
        raw,
        m.SummarySessionUser,
        [
            {
                "session_id": s,
                "user_id": u,
                "registered": (s, u) in registered,
                **values,
                "time_spent": values["time_spent"] / 1000,
            }
            for (s, u), values in session_users.items()
        ],
    )
    raw.user_module_seconds = {key: s for key, (_, s) in user_modules.items()}  # type: ignore[attr-defined]
    last_active: dict[str, date] = {}
    for user_id, day in user_days:
        if day > last_active.get(user_id, NO_DAY):
            last_active[user_id] = day
    raw.last_active = last_active  # type: ignore[attr-defined]


@dataclass
class _ModuleState:
    attempts: int = 0
    completed_at: datetime | None = None
    best: tuple | None = None  # (score, finished_at, started_at, attempt id, verdict)
    newest: tuple | None = None  # (finished_at, started_at, attempt id, score, verdict)

    def kept(self, keep: str) -> tuple | None:
        """The finished attempt whose score is the module's, by keep_results (None: none)."""
        return self.newest if keep == rules.KEEP_NEWEST else self.best

    def score(self, keep: str) -> float:
        """The module score (data/rules.py module_score) by the module's keep_results."""
        return rules.module_score(
            self.best[0] if self.best else None, self.newest[3] if self.newest else None, keep
        )

    def verdict(self, keep: str) -> str | None:
        """The xAPI verdict of the attempt giving the module's score (None: the min score decides)."""
        kept = self.kept(keep)
        return kept[4] if kept else None


def _write_pair_tables(session: Session, raw: _Raw, tz: ZoneInfo) -> set[str]:
    """summary_pairs, summary_module_facts and summary_pair_history; returns the trainings."""
    day_of = _DayCache(tz)
    seconds = raw.user_module_seconds  # type: ignore[attr-defined]
    by_pair: dict[tuple, list] = defaultdict(list)
    for attempt in raw.attempts:
        by_pair[(attempt[1], attempt[2])].append(attempt)
    module_days: dict[str, dict[str, set[date]]] = defaultdict(lambda: defaultdict(set))
    for user_id, module_id, _, start, _ in raw.connections:
        module_days[user_id][module_id].add(day_of(start))
    pairs_out, facts_out, history_out, days_out = [], [], [], []
    trainings: set[str] = set()
    for user_id, training_id, enrolled_at in raw.pairs:
        trainings.add(training_id)
        steps = raw.steps.get(training_id, [])
        in_training = {s[0] for s in steps}
        # SPEC §9's activity days in the training: a connection to one of its modules
        # started, an attempt in it started or finished, an answer in it.
        active_days: set[date] = set()
        connected = module_days.get(user_id)
        if connected:
            for module_id in in_training:
                active_days.update(connected.get(module_id, ()))
        for attempt in by_pair.get((user_id, training_id), ()):
            active_days.add(day_of(attempt[4]))
            if attempt[5] is not None:
                active_days.add(day_of(attempt[5]))
            active_days.update(day_of(at) for at in raw.answered.get(attempt[0], ()))
        days_out.extend({"user_id": user_id, "training_id": training_id, "day": d} for d in active_days)
        attempts = [a for a in by_pair.get((user_id, training_id), ()) if a[3] in in_training]
        # Events in time order: a start counts the attempt, a finish completes and scores it.
        events = []
        for attempt in attempts:
            attempt_id, _, _, module_id, started, finished, override, verdict, points = attempt
            events.append((started, 0, attempt_id, module_id, None))
            if finished is not None:
                score = rules.attempt_score(points, raw.max_points.get(module_id, 0.0), override)
                events.append(
                    (finished, 1, attempt_id, module_id, (finished, started, attempt_id, score, verdict))
                )
        events.sort(key=lambda e: (e[0], e[1], e[2]))
        states: dict[str, _ModuleState] = {}
        # module id -> (completion date or None, module score, verdict): training_state's input.
        results: dict[str, tuple[datetime | None, float, str | None]] = {}
        previous = rules.TrainingState(
            "not started", 0, rules.initial_training_score(sum(1 for s in steps if s[1])), None
        )
        failed: tuple[str, ...] = ()
        last_event = None
        i = 0
        while i < len(events):
            at = events[i][0]
            while i < len(events) and events[i][0] == at:
                _, kind, _, module_id, finish = events[i]
                state = states.setdefault(module_id, _ModuleState())
                if kind == 0:
                    state.attempts += 1
                else:
                    score = finish[3]
                    if state.completed_at is None or finish[0] < state.completed_at:
                        state.completed_at = finish[0]
                    best = (score, finish[0], finish[1], finish[2], finish[4])
                    if state.best is None or rules.better_finish(best, state.best):
                        state.best = best
                    if state.newest is None or rules.newer_finish(finish, state.newest):
                        state.newest = finish
                keep = raw.keep.get(module_id, rules.KEEP_BEST)
                results[module_id] = (state.completed_at, state.score(keep), state.verdict(keep))
                i += 1
            current = rules.training_state(steps, results)
            now_failed = rules.failed_modules(steps, results)
            if not _same(current, previous) or now_failed != failed:
                history_out.append(
                    {
                        "user_id": user_id,
                        "training_id": training_id,
                        "at": at,
                        "status": current[0],
                        "completed_modules": current[1],
                        "score": current[2],
                        "completed_at": current[3],
                        "failed_modules": " ".join(now_failed),
                    }
                )
                previous = current
                failed = now_failed
            last_event = at
        status, completed, score, completed_at = previous
        effective = None if completed_at is None else rules.counted_from(completed_at, enrolled_at)
        pairs_out.append(
            {
                "user_id": user_id,
                "training_id": training_id,
                "counted": raw.counted.get(user_id, False),
                "enrolled_at": enrolled_at,
                "enrolled_day": NO_DAY if enrolled_at is None else day_of(enrolled_at),
                "modules": len(steps),
                "mandatory_modules": sum(1 for s in steps if s[1]),
                "completed_modules": completed,
                "score": score,
                "status": status,
                "completed_at": completed_at,
                "completed_day": None if effective is None else day_of(effective),
                "time_spent": sum(seconds.get((user_id, s[0]), 0) for s in steps) / 1000,
                "last_event_at": last_event,
                "created_day": _local_day(raw.created.get(user_id), tz),
                "last_active_day": raw.last_active.get(user_id),  # type: ignore[attr-defined]
                "last_activity_day": max(active_days, default=None),
                "failed_modules": " ".join(failed),
            }
        )
        min_scores = {s[0]: s[2] for s in steps}
        for module_id, state in states.items():
            done = state.completed_at is not None
            keep = raw.keep.get(module_id, rules.KEEP_BEST)
            kept = state.score(keep) if done else 0.0
            module_effective = rules.counted_from(state.completed_at, enrolled_at) if done else None
            facts_out.append(
                {
                    "user_id": user_id,
                    "training_id": training_id,
                    "module_id": module_id,
                    "attempts": state.attempts,
                    "completed_at": state.completed_at,
                    "completed_day": day_of(state.completed_at) if done else None,
                    "effective_day": day_of(module_effective) if done else None,
                    "module_score": kept,
                    "passed": done and rules.module_passed(kept, min_scores[module_id], state.verdict(keep)),
                }
            )
    first_days: dict[str, date] = {}
    for row in pairs_out:
        if row["counted"]:
            user_id = row["user_id"]
            first_days[user_id] = min(first_days.get(user_id, row["enrolled_day"]), row["enrolled_day"])
    _store(
        session,
        raw,
        m.SummaryLearner,
        [
            {
                "user_id": u,
                "first_day": d,
                "created_day": _local_day(raw.created.get(u), tz),
                "last_active_day": raw.last_active.get(u),  # type: ignore[attr-defined]
            }
            for u, d in first_days.items()
        ],
    )
    _store(session, raw, m.SummaryPair, pairs_out)
    _store(session, raw, m.SummaryModuleFact, facts_out)
    _store(session, raw, m.SummaryPairHistory, history_out)
    _store(session, raw, m.SummaryPairDay, days_out)
    return trainings


def _same(a: tuple, b: tuple) -> bool:
    if a[0] != b[0] or a[1] != b[1] or a[3] != b[3]:
        return False
    if a[2] is None or b[2] is None:
        return a[2] is b[2]
    return math.isclose(a[2], b[2], rel_tol=0, abs_tol=0)


def _refresh_groups(session: Session, trainings: list[str] | None) -> None:
    """Recompute the group tables of the trainings given (None: all) from summary_pairs,
    summary_module_facts and summary_user_modules: each training's counted learners (class
    "") and each registered class's counted members in it."""
    p, f, um, tm = m.SummaryPair, m.SummaryModuleFact, m.SummaryUserModule, m.TrainingModule
    cm, ct = m.ClassMember, m.ClassTraining
    registrations = _rows(session, select(ct.class_id, ct.training_id), ct.training_id, trainings)
    classes = sorted({c for c, _ in registrations})
    for table in (m.SummaryGroupDay, m.SummaryGroupStatus, m.SummaryGroupModule):
        for condition in _in(table.training_id, trainings):
            session.execute(delete(table) if condition is None else delete(table).where(condition))
    for condition in _in(m.SummaryClassLearner.class_id, None if trainings is None else classes):
        stmt = delete(m.SummaryClassLearner)
        session.execute(stmt if condition is None else stmt.where(condition))
    # user -> classes, as a tuple (a set per member was most of a 1,000,000-learner platform's
    # group refresh memory); the membership rows streamed, not listed.
    members: dict[str, tuple[str, ...]] = {}
    for class_id, user_id in _stream(
        session, select(cm.class_id, cm.user_id), cm.class_id, None if trainings is None else classes
    ):
        members[user_id] = (*members.get(user_id, ()), class_id)
    registered: dict[str, set[str]] = defaultdict(set)  # training -> classes
    for class_id, training_id in registrations:
        registered[training_id].add(class_id)

    alone: dict[str, tuple] = {}  # training -> its own group only (a learner in no class of it)

    def groups_of(user_id: str, training_id: str) -> tuple[tuple[str, str], ...]:
        classes = members.get(user_id)
        if classes:
            in_training = registered.get(training_id)
            if in_training:
                return (("", training_id), *((c, training_id) for c in classes if c in in_training))
        groups = alone.get(training_id)
        if groups is None:
            groups = alone[training_id] = (("", training_id),)
        return groups

    status: dict[tuple, list] = {}
    days: dict[tuple, list] = {}
    pair_rows = _driver_stream(
        session,
        select(
            p.user_id, p.training_id, p.status, p.completed_modules, p.score, p.time_spent,
            p.enrolled_day, p.completed_day,
        ).where(p.counted.is_(True)),
        p.training_id,
        trainings,
    )  # fmt: skip
    for user_id, training_id, state, done, score, seconds, enrolled_day, completed_day in pair_rows:
        for group in groups_of(user_id, training_id):
            acc = status.setdefault((*group, state), [0, 0, {}, 0])
            acc[0] += 1
            acc[1] += done
            if score is not None:
                scores = acc[2]
                scores[score] = scores.get(score, 0) + 1
            acc[3] += 0 if seconds is None else round(seconds * 1000)  # _to_ms
            days.setdefault((*group, enrolled_day), [0, 0, 0])[0] += 1
            if completed_day is not None:
                days.setdefault((*group, completed_day), [0, 0, 0])[2] += 1
    modules: dict[tuple, list] = {}
    fact_rows = _driver_stream(
        session,
        select(f.user_id, f.training_id, f.module_id, f.passed, f.module_score, f.effective_day)
        .join(p, (p.user_id == f.user_id) & (p.training_id == f.training_id))
        .where(p.counted.is_(True), f.completed_at.is_not(None)),
        f.training_id,
        trainings,
    )
    for user_id, training_id, module_id, passed, score, effective_day in fact_rows:
        for group in groups_of(user_id, training_id):
            days.setdefault((*group, effective_day), [0, 0, 0])[1] += 1
            acc = modules.setdefault((*group, module_id), [0, 0, {}, 0, 0])
            acc[0] += 1
            acc[1] += bool(passed)
            scores = acc[2]
            scores[score] = scores.get(score, 0) + 1
    time_rows = _driver_stream(
        session,
        select(p.user_id, p.training_id, um.module_id, um.seconds)
        .join(tm, tm.training_id == p.training_id)
        .join(um, (um.user_id == p.user_id) & (um.module_id == tm.module_id))
        .where(p.counted.is_(True)),
        p.training_id,
        trainings,
    )
    for user_id, training_id, module_id, seconds in time_rows:
        for group in groups_of(user_id, training_id):
            acc = modules.setdefault((*group, module_id), [0, 0, {}, 0, 0])
            acc[3] += 1
            acc[4] += 0 if seconds is None else round(seconds * 1000)  # _to_ms
    _insert(
        session,
        m.SummaryGroupStatus,
        [
            {
                "class_id": c, "training_id": t, "status": state, "pairs": n, "completed_modules": done,
                "score_sum": _fsum_counted(scores), "scored": sum(scores.values()), "time_spent": ms / 1000,
            }
            for (c, t, state), (n, done, scores, ms) in status.items()
        ],
    )  # fmt: skip
    _insert(
        session,
        m.SummaryGroupDay,
        [
            {
                "class_id": c,
                "training_id": t,
                "day": _as_date(d),
                "enrollments": e,
                "module_completions": mc,
                "completions": tc,
            }
            for (c, t, d), (e, mc, tc) in days.items()
        ],
    )
    _insert(
        session,
        m.SummaryGroupModule,
        [
            {
                "class_id": c, "training_id": t, "module_id": module_id, "completed": done, "passed": ok,
                "score_sum": _fsum_counted(scores), "time_learners": users, "time_spent": ms / 1000,
            }
            for (c, t, module_id), (done, ok, scores, users, ms) in modules.items()
        ],
    )  # fmt: skip
    members.clear()
    _refresh_class_learners(session, None if trainings is None else classes)


def _fsum_counted(scores: dict[float, int]) -> float:
    """math.fsum of every score as many times as counted: the exactly rounded sum, as fsum of
    the list would give (a score -> count dict holds a few dozen values where the list held
    one per pair or module fact: millions at 1,000,000 learners)."""
    return math.fsum(chain.from_iterable(repeat(score, n) for score, n in scores.items()))


def _refresh_class_learners(session: Session, classes: list[str] | None) -> None:
    """summary_class_learners of the classes given (None: all; their rows were deleted)."""
    p, cm, ct, lr = m.SummaryPair, m.ClassMember, m.ClassTraining, m.SummaryLearner
    query = (
        select(cm.class_id, p.user_id, func.min(p.enrolled_day), lr.created_day)
        .join(ct, ct.class_id == cm.class_id)
        .join(p, (p.user_id == cm.user_id) & (p.training_id == ct.training_id))
        .join(lr, lr.user_id == p.user_id)
        .where(p.counted.is_(True))
        .group_by(cm.class_id, p.user_id, lr.created_day)
    )
    # Straight from SELECT to INSERT in the database: the same values (the stored days, their
    # minimum) without a Python row per class member (a million at 1,000,000 learners).
    table = m.SummaryClassLearner.__table__
    columns = ["class_id", "user_id", "first_day", "created_day"]
    connection = session.connection()
    for condition in _in(cm.class_id, classes):
        chosen = query if condition is None else query.where(condition)
        connection.execute(insert(table).from_select(columns, chosen))


__all__ = [
    "NO_DAY",
    "REFRESHES",
    "Refresh",
    "data_version",
    "ensure_summaries",
    "mark",
    "reached_tables",
    "rebuild",
    "refresh_pending",
    "summaries_timezone",
]
