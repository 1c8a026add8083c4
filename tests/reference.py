"""The reference computation of SPEC §4: every figure recomputed from the raw events.

This is the original figures engine (a chain of CTEs over attempts, answers, connections and
logins). The pages no longer call it: they read the summary layer (data/summaries). It is kept
as the executable definition the summary layer is checked against (tests/integration/data/test_summary_*),
and by `flask --app app check-summaries`.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import (
    CTE,
    ColumnElement,
    DateTime,
    Float,
    Integer,
    and_,
    case,
    cast,
    distinct,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.functions import FunctionElement

from data.models import (
    Activity,
    Answer,
    Attempt,
    Class,
    ClassMember,
    ClassTraining,
    Connection,
    Login,
    Module,
    ProgramSession,
    Role,
    SessionLearner,
    Training,
    TrainingLearner,
    TrainingModule,
    User,
)
from data.scope import Forbidden, Scope
from data.text import fold

STATUSES = ("passed", "failed", "expired", "in progress", "not started")


# -- SQL helpers (the reference's own: portable durations, flags) --------------------------


class seconds_between(FunctionElement):
    """Seconds from the first timestamp to the second (float), on SQLite and PostgreSQL."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    start, end = list(element.clauses)
    return (
        f"ROUND((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"
        " * 86400.0, 3)"
    )


@compiles(seconds_between)
def _seconds_between_default(element, compiler, **kw):
    start, end = list(element.clauses)
    return (
        f"CAST(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))"
        " AS DOUBLE PRECISION)"
    )


def _greatest(a: ColumnElement, b: ColumnElement) -> ColumnElement:
    """The later of two nullable timestamps (NULL counts as 'since always')."""
    return case((a.is_(None), b), (b.is_(None), a), (a > b, a), else_=b)


def _reaches(score: ColumnElement, minimum: ColumnElement) -> ColumnElement[bool]:
    """score >= minimum, forgiving floating-point noise (1e-9: 100 x 0.29 / 1 is 28.999...)."""
    return score >= minimum - 1e-9


def _flag(condition) -> ColumnElement:
    return case((condition, 1), else_=0)


# -- Days, months and buckets (the reference's own) -------------------------------------------


def today_in(tz: ZoneInfo) -> date:
    return datetime.now(tz).date()


def day_start_utc(day: date, tz: ZoneInfo) -> datetime:
    """The naive UTC instant at which local day `day` starts in tz."""
    local = datetime.combine(day, time.min, tzinfo=tz)
    return local.astimezone(UTC).replace(tzinfo=None)


def day_end_utc(day: date, tz: ZoneInfo) -> datetime:
    """The naive UTC instant at which local day `day` ends (exclusive)."""
    return day_start_utc(day + timedelta(days=1), tz)


def to_local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A stored naive UTC datetime in the platform zone (None and pandas' NaT give None)."""
    if value is None or pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    return value.replace(tzinfo=UTC).astimezone(tz)


def local_date(value: datetime | None, tz: ZoneInfo) -> date | None:
    local = to_local(value, tz)
    return local.date() if local else None


def add_months(day: date, months: int) -> date:
    """day + months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expiry_threshold(today: date, months: int) -> date:
    """The first completion date that is NOT expired on `today`: add_months(d, months) >= today."""
    candidate = add_months(today, -months)
    while add_months(candidate - timedelta(days=1), months) >= today:
        candidate -= timedelta(days=1)
    while add_months(candidate, months) < today:
        candidate += timedelta(days=1)
    return candidate


@dataclass(frozen=True)
class Buckets:
    """Consecutive local periods: starts[i] <= day < starts[i+1] (ends is exclusive)."""

    unit: str  # day | week | month
    starts: tuple[date, ...]
    end: date  # exclusive

    @property
    def last_days(self) -> list[date]:
        """The last day of each bucket (the day a historical value is read at)."""
        bounds = [*self.starts[1:], self.end]
        return [b - timedelta(days=1) for b in bounds]


def choose_unit(start: date, end: date) -> str:
    """Day up to about three months, week up to about two years, month beyond."""
    days = (end - start).days + 1
    if days <= 92:
        return "day"
    if days <= 731:
        return "week"
    return "month"


def make_buckets(start: date, end: date, unit: str | None = None) -> Buckets:
    """Buckets covering [start, end] (inclusive local days); the first starts at `start`."""
    unit = unit or choose_unit(start, end)
    starts = [start]
    cursor = start
    while True:
        if unit == "day":
            cursor = cursor + timedelta(days=1)
        elif unit == "week":
            cursor = cursor + timedelta(days=7 - cursor.weekday())  # next Monday
        else:
            cursor = date(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1)
        if cursor > end:
            break
        starts.append(cursor)
    return Buckets(unit, tuple(starts), end + timedelta(days=1))


def _bucket_index(column: ColumnElement, bounds: list[datetime]) -> ColumnElement:
    """SQL for the index i with bounds[i] <= column < bounds[i+1]; -1 before, len-1 after.

    A balanced CASE tree over UTC bounds: portable, exact across daylight-saving changes.
    """

    def build(lo: int, hi: int) -> ColumnElement:
        # column is known to be >= bounds[lo] (or lo == -1) and < bounds[hi] (or hi == len).
        if hi - lo <= 1:
            return literal(lo, Integer)
        mid = (lo + hi) // 2
        return case((column < bounds[mid], build(lo, mid)), else_=build(mid, hi))

    return build(-1, len(bounds))


def _bucket_bounds(buckets: Buckets, tz: ZoneInfo) -> list[datetime]:
    return [day_start_utc(d, tz) for d in buckets.starts] + [day_start_utc(buckets.end, tz)]


def _bucket_frame(buckets: Buckets) -> pd.DataFrame:
    return pd.DataFrame({"bucket": list(buckets.starts), "last_day": buckets.last_days})


def _cumulative(rows, buckets: Buckets) -> list[float]:
    """Cumulative sums per bucket from (bucket index, value) rows; index -1 = before the range."""
    per = [0.0] * len(buckets.starts)
    before = 0.0
    for i, value in rows:
        if i is None or i < 0:
            before += value or 0
        elif i < len(per):
            per[i] += value or 0
    out, running = [], before
    for value in per:
        running += value
        out.append(running)
    return out


# -- The shapes figures come back in (the test maps them onto the readers' own) -------------


@dataclass(frozen=True)
class Population:
    """Whose figures: the scope's learners, narrowed to a training, a class or one learner.

    learners_only leaves out blocked users and admins (SPEC §4); the learner page turns it
    off to show a blocked learner's own history. include_self adds the viewer's own
    trainings (a learner looking at their own page).
    """

    training_id: str | None = None
    class_id: str | None = None
    user_id: str | None = None
    learners_only: bool = True
    include_self: bool = False


@dataclass(frozen=True)
class StatusSummary:
    """The population's (learner, training) pairs at the end of a day."""

    pairs: int
    average_progress: float | None
    average_score: float | None
    counts: dict[str, int]

    @property
    def completed(self) -> int:
        return sum(self.counts.get(s, 0) for s in ("passed", "failed", "expired"))

    @property
    def completion_rate(self) -> float | None:
        return 100.0 * self.completed / self.pairs if self.pairs else None


TREND_MEASURES = ("active_days", "time_spent", "connections", "modules_completed")


@dataclass(frozen=True)
class Trend:
    """One measure over the last `days` days (today included) against the `days` before."""

    measure: str  # one of TREND_MEASURES
    current: float
    previous: float

    @property
    def change(self) -> float:
        return self.current - self.previous

    @property
    def change_pct(self) -> float | None:
        """The change in % of the previous period; None when the previous period is 0."""
        return 100.0 * self.change / self.previous if self.previous else None


RESULT_SORTS = {
    "learner": "sort_key",
    "email": "email",
    "progress": "progress",
    "score": "score",
    "status": "status",
    "time_spent": "time_spent",
    "completed_on": "completed_at",
    "training": "training_sort",
    "enrolled_on": "enrolled_at",
}


SESSION_COLUMNS = [
    "session_id",
    "session",
    "training_id",
    "training",
    "starts_at",
    "ends_at",
    "learners",
    "played",
]


@dataclass(frozen=True)
class SessionStatistics:
    """One program session's figures (see session_statistics)."""

    session_id: str
    registered: int
    played: int
    completed: int
    median_time_spent: float | None
    average_score: float | None
    learners: pd.DataFrame


SESSION_LEARNER_COLUMNS = [
    "user_id",
    "last_name",
    "first_name",
    "email",
    "registered",
    "connections",
    "first_connection",
    "last_connection",
    "time_spent",
    "progress",
    "score",
    "status",
    "completed_on",
]


# -- Shaping rows into tables (the reference's own) -------------------------------------------


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _expiry_case(
    session: Session, training_col, completed_at_col, today: date, tz: ZoneInfo
) -> ColumnElement:
    """True when a completion is older than its training's validity on `today` (the SQL form
    "completion date + validity before today", judged on the completion's local day)."""
    whens = []
    for training_id, months in session.execute(
        select(Training.id, Training.validity_months).where(Training.validity_months > 0)
    ):
        threshold = day_start_utc(expiry_threshold(today, months), tz)
        whens.append((and_(training_col == training_id, completed_at_col < threshold), True))
    if not whens:
        return false()
    return case(*whens, else_=False)


def training_count(session: Session, scope: Scope, pop: Population) -> int:
    """Trainings the population covers: the scope's trainings, or the class's, or one."""
    q = select(func.count()).select_from(Training).where(scope.training_filter(Training.id))
    if pop.training_id is not None:
        q = q.where(Training.id == pop.training_id)
    if pop.class_id is not None:
        q = q.where(
            exists().where(ClassTraining.class_id == pop.class_id, ClassTraining.training_id == Training.id)
        )
    if pop.user_id is not None:
        q = q.where(
            exists().where(TrainingLearner.user_id == pop.user_id, TrainingLearner.training_id == Training.id)
        )
    return session.scalar(q) or 0


def _class_names(session: Session, frame: pd.DataFrame) -> list[str]:
    """Each row's learner's classes registered to the row's training, joined with ', '.

    The rows are already in the viewer's scope; their class names come with them.
    """
    if frame.empty:
        return []
    user_ids = sorted(set(frame["user_id"]))
    rows = session.execute(
        select(ClassMember.user_id, ClassTraining.training_id, Class.name)
        .join(ClassTraining, ClassTraining.class_id == ClassMember.class_id)
        .join(Class, Class.id == ClassMember.class_id)
        .where(ClassMember.user_id.in_(user_ids))
    ).all()
    names: dict[tuple[str, str], list[str]] = {}
    for user_id, training_id, name in rows:
        names.setdefault((user_id, training_id), []).append(name)
    return [
        ", ".join(sorted(names.get((u, t), []), key=fold))
        for u, t in zip(frame.user_id, frame.training_id, strict=True)
    ]


def sessions_first_date(session: Session, scope: Scope, tz: ZoneInfo) -> date | None:
    """The local date of the earliest start among the viewer's sessions ("all time")."""
    first = session.scalar(
        select(func.min(ProgramSession.starts_at)).where(
            scope.session_filter(ProgramSession.id, ProgramSession.training_id)
        )
    )
    return local_date(first, tz)


def sessions_frame(rows, tz: ZoneInfo) -> pd.DataFrame:
    """The sessions table from its query's rows: most recent start first, undated last, then
    by name; dates aware in the platform time zone (None when unknown)."""
    if not rows:
        return pd.DataFrame(columns=SESSION_COLUMNS)
    rows = sorted(rows, key=lambda r: (fold(r["session"]), r["session_id"]))
    # Most recent start first (the sort is stable, also reversed), undated sessions last.
    rows = sorted((r for r in rows if r["starts_at"]), key=lambda r: r["starts_at"], reverse=True) + [
        r for r in rows if not r["starts_at"]
    ]
    frame = pd.DataFrame([dict(r) for r in rows], columns=SESSION_COLUMNS)
    for column in ("starts_at", "ends_at"):
        # Object columns: aware datetimes, and None (not NaT) for a missing date.
        frame[column] = pd.Series([to_local(r[column], tz) for r in rows], dtype=object)
    frame["learners"] = frame["learners"].astype(int)
    frame["played"] = frame["played"].astype(int)
    return frame


def session_statistics_from(session_id: str, rows, tz: ZoneInfo) -> SessionStatistics:
    """A session's statistics from its learners' rows (user_id, names, email, registered,
    connections, first / last connection and time spent in the session, and the training's
    progress, score, status and completed_at, all None / "not enrolled" when not enrolled)."""
    rows = [dict(r) for r in rows]
    for row in rows:
        row["registered"] = bool(row["registered"])
        row["connections"] = int(row["connections"])
        row["time_spent"] = float(row["time_spent"] or 0.0)
        row["first_connection"] = to_local(row["first_connection"], tz)
        row["last_connection"] = to_local(row["last_connection"], tz)
        row["completed_on"] = local_date(row.pop("completed_at"), tz)
        row["progress"] = None if row["progress"] is None else float(row["progress"])
        row["score"] = None if row["score"] is None else float(row["score"])
    frame = pd.DataFrame(rows, columns=SESSION_LEARNER_COLUMNS)
    for column in ("first_connection", "last_connection", "completed_on", "progress", "score"):
        # Object columns: None (not NaT / NaN) where there is no value.
        frame[column] = pd.Series([row[column] for row in rows], dtype=object)
    players = [row["time_spent"] for row in rows if row["connections"] > 0]
    scores = [row["score"] for row in rows if row["score"] is not None]
    return SessionStatistics(
        session_id=session_id,
        registered=sum(1 for row in rows if row["registered"]),
        played=len(players),
        completed=sum(1 for row in rows if row["status"] in ("passed", "failed", "expired")),
        median_time_spent=_median(players),
        average_score=sum(scores) / len(scores) if scores else None,
        learners=frame,
    )


def trends_from(active: list[int], series: pd.DataFrame, days: int) -> list[Trend]:
    """Trends from 2 x days daily values (active learners, and activity_series' columns): the
    last `days` against the `days` before."""
    columns = {
        "active_days": active,
        "time_spent": series["time_spent"].tolist(),
        "connections": series["connections"].tolist(),
        "modules_completed": series["modules_completed"].tolist(),
    }
    return [
        Trend(measure, float(sum(values[days:])), float(sum(values[:days])))
        for measure, values in ((m, columns[m]) for m in TREND_MEASURES)
    ]


def trainings_table_from(session: Session, scope: Scope, pop: Population, results) -> pd.DataFrame:
    """One row per training in the population, from its pairs' results.

    Columns: training_id, training, learners, not_started, in_progress, completed,
    completion_rate (%), average_progress (%), average_score (% over the learners with a
    score; None when the training has no mandatory module), average_time_spent (seconds
    per learner). Ordered by training name.
    """
    completed = _flag(results.c.status.in_(("passed", "failed", "expired")))
    stats = (
        select(
            results.c.training_id,
            func.count().label("learners"),
            func.sum(_flag(results.c.status == "not started")).label("not_started"),
            func.sum(_flag(results.c.status == "in progress")).label("in_progress"),
            func.sum(completed).label("completed"),
            func.avg(results.c.progress).label("average_progress"),
            func.avg(results.c.score).label("average_score"),
            func.sum(results.c.time_spent).label("time_spent"),
        )
        .group_by(results.c.training_id)
        .subquery("training_stats")
    )
    q = (
        select(
            Training.id.label("training_id"),
            Training.name.label("training"),
            func.coalesce(stats.c.learners, 0).label("learners"),
            func.coalesce(stats.c.not_started, 0).label("not_started"),
            func.coalesce(stats.c.in_progress, 0).label("in_progress"),
            func.coalesce(stats.c.completed, 0).label("completed"),
            stats.c.average_progress,
            stats.c.average_score,
            stats.c.time_spent,
        )
        .outerjoin(stats, stats.c.training_id == Training.id)
        .where(scope.training_filter(Training.id))
    )
    if pop.training_id is not None:
        q = q.where(Training.id == pop.training_id)
    if pop.class_id is not None:
        q = q.where(
            exists().where(ClassTraining.class_id == pop.class_id, ClassTraining.training_id == Training.id)
        )
    if pop.user_id is not None:
        q = q.where(stats.c.learners > 0)
    return finish_trainings_table(pd.DataFrame(session.execute(q).mappings().all()))


def finish_trainings_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Rates and averages of per-training sums (training_id, training, learners, not_started,
    in_progress, completed, average_progress, average_score, time_spent), by training name."""
    columns = [
        "training_id",
        "training",
        "learners",
        "not_started",
        "in_progress",
        "completed",
        "completion_rate",
        "average_progress",
        "average_score",
        "average_time_spent",
    ]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame["completion_rate"] = [
        100.0 * c / n if n else None for c, n in zip(frame.completed, frame.learners, strict=True)
    ]
    frame["average_time_spent"] = [
        (t or 0.0) / n if n else None for t, n in zip(frame.time_spent, frame.learners, strict=True)
    ]
    frame["average_progress"] = frame["average_progress"].astype(object).where(frame.learners > 0, None)
    frame = frame.sort_values("training", key=lambda s: s.map(fold), kind="stable").reset_index(drop=True)
    return frame[columns]


def results_select(results, search: str | None):
    """The results table's select over pairs' results: one row per (learner, training).

    Columns: user_id, email, first_name, last_name, sort_key, training_id, training,
    training_sort, enrolled_at, progress, score, status, completed_at (UTC), time_spent
    (seconds). search: accent- and case-insensitive match on name or email.
    """
    q = (
        select(
            results.c.user_id,
            User.email,
            User.first_name,
            User.last_name,
            User.sort_key,
            results.c.training_id,
            Training.name.label("training"),
            func.lower(Training.name).label("training_sort"),
            results.c.enrolled_at,
            results.c.progress,
            results.c.score,
            results.c.status,
            results.c.completed_at,
            results.c.time_spent,
        )
        .select_from(results)
        .join(User, User.id == results.c.user_id)
        .join(Training, Training.id == results.c.training_id)
    )
    for word in fold(search).split():
        q = q.where(User.search_text.contains(word, autoescape=True))
    return q.subquery("results")


def results_page(
    session: Session,
    results,
    tz: ZoneInfo,
    sort: list[tuple[str, bool]] | None = None,
    offset: int = 0,
    limit: int | None = None,
    total: int | None = None,
) -> tuple[pd.DataFrame, int]:
    """A page of results rows and the total row count (sorting, paging in SQL); total when
    the caller knows it already (else it is counted with the page)."""
    order = []
    for column, ascending in sort or []:
        name = RESULT_SORTS.get(column)
        if name is None:
            raise ValueError(f"cannot sort by {column!r}")
        col = results.c[name]
        # NULLs (no score, not completed) last whichever the direction.
        order.append(case((col.is_(None), 1), else_=0))
        order.append(col.asc() if ascending else col.desc())
    order += [results.c.sort_key, results.c.training_sort, results.c.training_id]
    if total is None:
        # The total comes with the page (one pass over the results instead of two).
        q = select(results, func.count().over().label("total_rows")).order_by(*order).offset(offset)
    else:
        q = select(results, literal(total).label("total_rows")).order_by(*order).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    rows = session.execute(q).mappings().all()
    # A page past the end has no row to carry the total: count on its own then.
    if total is None:
        total = (
            rows[0]["total_rows"] if rows else session.scalar(select(func.count()).select_from(results)) or 0
        )
    frame = pd.DataFrame(rows, columns=[*results.c.keys(), "total_rows"]).drop(columns="total_rows")
    frame["completed_on"] = [local_date(v, tz) for v in frame["completed_at"]]
    frame["enrolled_on"] = [local_date(v, tz) for v in frame["enrolled_at"]]
    frame["classes"] = _class_names(session, frame)
    return frame, total


def _pairs(scope: Scope, pop: Population, enrolled_by: datetime | None = None, name: str = "pairs") -> CTE:
    tl = TrainingLearner
    conditions: list[ColumnElement] = [
        scope.pair_filter(tl.user_id, tl.training_id, include_self=pop.include_self)
    ]
    if pop.learners_only:
        conditions.append(User.status == "active")
        conditions.append(~exists().where(Role.user_id == tl.user_id, Role.role == "admin"))
    if pop.training_id is not None:
        conditions.append(tl.training_id == pop.training_id)
    if pop.user_id is not None:
        conditions.append(tl.user_id == pop.user_id)
    if pop.class_id is not None:
        conditions.append(
            exists().where(ClassMember.class_id == pop.class_id, ClassMember.user_id == tl.user_id)
        )
        conditions.append(
            exists().where(
                ClassTraining.class_id == pop.class_id, ClassTraining.training_id == tl.training_id
            )
        )
    if enrolled_by is not None:
        conditions.append(or_(tl.enrolled_at.is_(None), tl.enrolled_at < enrolled_by))
    return (
        select(tl.user_id, tl.training_id, tl.enrolled_at)
        .join(User, User.id == tl.user_id)
        .where(*conditions)
        .cte(name)
    )


def _attempts(pairs: CTE, until: datetime | None) -> CTE:
    """The pairs' attempts of their training's modules, with each attempt's score (SPEC §4).

    score = 100 x sum of evaluated answer scores / sum of max scores of the module's
    activities with max > 0; a module without such activities scores 100. until: only
    attempts started before it; a finish after it counts as unfinished.
    """
    finished_at = Attempt.finished_at
    if until is not None:
        finished_at = case((Attempt.finished_at < until, Attempt.finished_at), else_=null())
    scoped = (
        select(
            Attempt.id,
            Attempt.user_id,
            Attempt.training_id,
            Attempt.module_id,
            Attempt.started_at,
            finished_at.label("finished_at"),
            Attempt.score_override,
            Attempt.verdict,
        )
        .join(pairs, and_(pairs.c.user_id == Attempt.user_id, pairs.c.training_id == Attempt.training_id))
        .join(
            TrainingModule,
            and_(
                TrainingModule.training_id == Attempt.training_id,
                TrainingModule.module_id == Attempt.module_id,
            ),
        )
    )
    if until is not None:
        scoped = scoped.where(Attempt.started_at < until)
    scoped = scoped.cte("scoped_attempts")

    # Points per attempt, grouped in the same pass as the attempt's own columns: joining a
    # separate per-attempt aggregate back to the attempts is quadratic on SQLite.
    points = (
        select(
            scoped.c.id,
            scoped.c.user_id,
            scoped.c.training_id,
            scoped.c.module_id,
            scoped.c.started_at,
            scoped.c.finished_at,
            scoped.c.score_override,
            scoped.c.verdict,
            func.sum(
                case((and_(Answer.evaluated == true(), Activity.max_score > 0), Answer.score), else_=0.0)
            ).label("points"),
        )
        .select_from(scoped)
        .outerjoin(Answer, Answer.attempt_id == scoped.c.id)
        .outerjoin(Activity, Activity.id == Answer.activity_id)
        .group_by(
            scoped.c.id,
            scoped.c.user_id,
            scoped.c.training_id,
            scoped.c.module_id,
            scoped.c.started_at,
            scoped.c.finished_at,
            scoped.c.score_override,
            scoped.c.verdict,
        )
        .cte("attempt_points")
    )
    max_points = (
        select(
            Activity.module_id,
            func.sum(case((Activity.max_score > 0, Activity.max_score), else_=0.0)).label("max_points"),
        )
        .group_by(Activity.module_id)
        .cte("module_max_points")
    )
    max_col = func.coalesce(max_points.c.max_points, 0.0)
    # An xAPI finishing statement's scaled score replaces SPEC §4's computation (SPEC §8).
    score = case(
        (points.c.score_override.is_not(None), points.c.score_override),
        (max_col > 0, 100.0 * func.coalesce(points.c.points, 0.0) / max_col),
        else_=100.0,
    )
    return (
        select(
            points.c.id,
            points.c.user_id,
            points.c.training_id,
            points.c.module_id,
            points.c.started_at,
            points.c.finished_at,
            case((points.c.finished_at.is_not(None), score), else_=null()).label("score"),
            case((points.c.finished_at.is_not(None), points.c.verdict), else_=null()).label("verdict"),
        )
        .select_from(points)
        .outerjoin(max_points, max_points.c.module_id == points.c.module_id)
        .cte("attempts_scored")
    )


def _module_facts(attempts: CTE) -> CTE:
    """Per (learner, training, module): completion date, kept score (best/newest), started."""
    ranked = (
        select(
            attempts.c.user_id,
            attempts.c.training_id,
            attempts.c.module_id,
            attempts.c.finished_at,
            attempts.c.score,
            attempts.c.verdict,
            func.row_number()
            .over(
                partition_by=(attempts.c.user_id, attempts.c.training_id, attempts.c.module_id),
                order_by=(
                    case((attempts.c.finished_at.is_(None), 1), else_=0),
                    attempts.c.finished_at.desc(),
                    attempts.c.started_at.desc(),
                    attempts.c.id.desc(),
                ),
            )
            .label("newest_rank"),
            # The best attempt: the highest score, the newest among equal ones.
            func.row_number()
            .over(
                partition_by=(attempts.c.user_id, attempts.c.training_id, attempts.c.module_id),
                order_by=(
                    case((attempts.c.finished_at.is_(None), 1), else_=0),
                    attempts.c.score.desc(),
                    attempts.c.finished_at.desc(),
                    attempts.c.started_at.desc(),
                    attempts.c.id.desc(),
                ),
            )
            .label("best_rank"),
        )
    ).cte("attempts_ranked")
    facts = (
        select(
            ranked.c.user_id,
            ranked.c.training_id,
            ranked.c.module_id,
            func.min(ranked.c.finished_at).label("completed_at"),
            func.max(ranked.c.score).label("best_score"),
            func.max(
                case((and_(ranked.c.newest_rank == 1, ranked.c.finished_at.is_not(None)), ranked.c.score))
            ).label("newest_score"),
            func.max(
                case((and_(ranked.c.newest_rank == 1, ranked.c.finished_at.is_not(None)), ranked.c.verdict))
            ).label("newest_verdict"),
            func.max(
                case((and_(ranked.c.best_rank == 1, ranked.c.finished_at.is_not(None)), ranked.c.verdict))
            ).label("best_verdict"),
            func.count().label("attempts"),
        )
        .group_by(ranked.c.user_id, ranked.c.training_id, ranked.c.module_id)
        .cte("module_facts_raw")
    )
    kept = case(
        (Module.keep_results == "newest", facts.c.newest_score),
        else_=facts.c.best_score,
    )
    return (
        select(
            facts.c.user_id,
            facts.c.training_id,
            facts.c.module_id,
            facts.c.completed_at,
            func.coalesce(kept, 0.0).label("module_score"),
            case(
                (Module.keep_results == "newest", facts.c.newest_verdict),
                else_=facts.c.best_verdict,
            ).label("verdict"),
            facts.c.attempts,
        )
        .join(Module, Module.id == facts.c.module_id)
        .cte("module_facts")
    )


def _module_passed(facts: CTE, min_score) -> ColumnElement[bool]:
    """The kept attempt's xAPI verdict when it has one (SPEC §8), else score >= min score."""
    return case(
        (facts.c.verdict == "passed", true()),
        (facts.c.verdict == "failed", false()),
        else_=_reaches(facts.c.module_score, min_score),
    )


def _steps(pairs: CTE, facts: CTE) -> CTE:
    """Every (learner, training, module of the training) with the module's status inputs."""
    tm = TrainingModule
    completed = facts.c.completed_at.is_not(None)
    return (
        select(
            pairs.c.user_id,
            pairs.c.training_id,
            pairs.c.enrolled_at,
            tm.module_id,
            tm.position,
            tm.mandatory,
            tm.min_score,
            facts.c.completed_at,
            case((completed, facts.c.module_score), else_=0.0).label("module_score"),
            _flag(completed).label("completed"),
            _flag(and_(completed, _module_passed(facts, tm.min_score))).label("passed"),
            _flag(facts.c.attempts > 0).label("started"),
        )
        .select_from(pairs)
        .join(tm, tm.training_id == pairs.c.training_id)
        .outerjoin(
            facts,
            and_(
                facts.c.user_id == pairs.c.user_id,
                facts.c.training_id == pairs.c.training_id,
                facts.c.module_id == tm.module_id,
            ),
        )
        .cte("steps")
    )


def _pair_results(
    session: Session,
    scope: Scope,
    pop: Population,
    tz: ZoneInfo,
    as_of: date | None = None,
    today: date | None = None,
    with_time: bool = False,
) -> CTE:
    """Per (learner, training): progress, score, status and completion date (SPEC §4), and
    with_time the seconds spent on the training's modules.

    as_of: the figures at the end of that local day (only enrollments and attempts before
    it count); the expiry of certificates is then judged on that day too.

    One GROUP BY over a UNION ALL of row kinds (the pair itself, one row per module of its
    training, one per module fact, one per connection) keeps the cost linear in the data:
    joining every (learner, module) to the module facts is quadratic on SQLite.
    """
    until = day_end_utc(as_of, tz) if as_of else None
    pairs = _pairs(scope, pop, enrolled_by=until)
    facts = _module_facts(_attempts(pairs, until))
    tm = TrainingModule
    zero, zero_f, nothing = literal(0), literal(0.0), cast(null(), DateTime())

    def row(user_id, training_id, enrolled_at=nothing, step=zero, mandatory=zero, completed=zero,
            passed=zero, m_completed=zero, m_passed=zero, m_points=zero_f, completed_at=nothing,
            m_completed_at=nothing, started=zero, seconds=zero_f):  # fmt: skip
        return (
            user_id.label("user_id"),
            training_id.label("training_id"),
            enrolled_at.label("enrolled_at"),
            step.label("step"),
            mandatory.label("mandatory"),
            completed.label("completed"),
            passed.label("passed"),
            m_completed.label("m_completed"),
            m_passed.label("m_passed"),
            m_points.label("m_points"),
            completed_at.label("completed_at"),
            m_completed_at.label("m_completed_at"),
            started.label("started"),
            seconds.label("seconds"),
        )

    is_mandatory = tm.mandatory == true()
    done = facts.c.completed_at.is_not(None)
    passed = and_(done, _module_passed(facts, tm.min_score))
    sources = [
        select(*row(pairs.c.user_id, pairs.c.training_id, enrolled_at=pairs.c.enrolled_at)),
        select(*row(pairs.c.user_id, pairs.c.training_id, step=literal(1), mandatory=_flag(is_mandatory)))
        .select_from(pairs)
        .join(tm, tm.training_id == pairs.c.training_id),
        select(
            *row(
                facts.c.user_id,
                facts.c.training_id,
                completed=_flag(done),
                passed=_flag(passed),
                m_completed=_flag(and_(done, is_mandatory)),
                m_passed=_flag(and_(passed, is_mandatory)),
                m_points=case((and_(done, is_mandatory), facts.c.module_score), else_=0.0),
                completed_at=facts.c.completed_at,
                m_completed_at=case((is_mandatory, facts.c.completed_at), else_=null()),
                started=literal(1),
            )
        )
        .select_from(facts)
        .join(tm, and_(tm.training_id == facts.c.training_id, tm.module_id == facts.c.module_id)),
    ]
    if with_time:
        c = Connection
        spent = (
            select(
                *row(
                    pairs.c.user_id,
                    pairs.c.training_id,
                    seconds=seconds_between(c.connected_at, c.disconnected_at),
                )
            )
            .select_from(pairs)
            .join(tm, tm.training_id == pairs.c.training_id)
            .join(c, and_(c.user_id == pairs.c.user_id, c.module_id == tm.module_id))
        )
        if until is not None:
            spent = spent.where(c.connected_at < until)
        sources.append(spent)
    rows = union_all(*sources).subquery("pair_rows")
    agg = (
        select(
            rows.c.user_id,
            rows.c.training_id,
            func.max(rows.c.enrolled_at).label("enrolled_at"),
            func.sum(rows.c.step).label("modules"),
            func.sum(rows.c.completed).label("completed_modules"),
            func.sum(rows.c.mandatory).label("mandatory_modules"),
            func.sum(rows.c.m_points).label("mandatory_points"),
            func.sum(rows.c.m_completed).label("mandatory_completed"),
            func.sum(rows.c.m_passed).label("mandatory_passed"),
            func.max(rows.c.m_completed_at).label("mandatory_completed_at"),
            func.sum(rows.c.passed).label("passed_modules"),
            func.max(rows.c.completed_at).label("all_completed_at"),
            func.max(rows.c.started).label("started"),
            func.sum(rows.c.seconds).label("time_spent"),
        )
        .group_by(rows.c.user_id, rows.c.training_id)
        .cte("pair_agg")
    )
    # Required modules: the mandatory ones, or every module when none is mandatory.
    has_mandatory = agg.c.mandatory_modules > 0
    required = case((has_mandatory, agg.c.mandatory_modules), else_=agg.c.modules)
    required_completed = case((has_mandatory, agg.c.mandatory_completed), else_=agg.c.completed_modules)
    required_passed = case((has_mandatory, agg.c.mandatory_passed), else_=agg.c.passed_modules)
    is_completed = and_(required > 0, required_completed == required)
    completed_at = case(
        (is_completed, case((has_mandatory, agg.c.mandatory_completed_at), else_=agg.c.all_completed_at)),
        else_=null(),
    )
    is_passed = and_(is_completed, required_passed == required)
    expired = _expiry_case(session, agg.c.training_id, completed_at, as_of or today or today_in(tz), tz)
    status = case(
        (and_(is_passed, expired), "expired"),
        (is_passed, "passed"),
        (is_completed, "failed"),
        (agg.c.started > 0, "in progress"),
        else_="not started",
    )
    progress = case(
        (agg.c.modules > 0, 100.0 * agg.c.completed_modules / agg.c.modules),
        else_=0.0,
    )
    score = case((has_mandatory, agg.c.mandatory_points / cast(agg.c.mandatory_modules, Float)), else_=null())
    return select(
        agg.c.user_id,
        agg.c.training_id,
        agg.c.enrolled_at,
        progress.label("progress"),
        score.label("score"),
        status.label("status"),
        completed_at.label("completed_at"),
        agg.c.completed_modules,
        agg.c.modules,
        agg.c.time_spent,
    ).cte("pair_results")


# --------------------------------------------------------------------------------------------
# Cards and donuts
# --------------------------------------------------------------------------------------------


def learner_count(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, as_of: date | None = None
) -> int:
    """Distinct learners counted in the population (enrolled by the end of as_of)."""
    pairs = _pairs(scope, pop, enrolled_by=day_end_utc(as_of, tz) if as_of else None)
    return session.scalar(select(func.count(distinct(pairs.c.user_id)))) or 0


def new_users_count(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, start: date, end: date
) -> int:
    """Learners of the population whose account was created in [start, end]."""
    pairs = _pairs(scope, pop)
    return (
        session.scalar(
            select(func.count(distinct(pairs.c.user_id)))
            .join(User, User.id == pairs.c.user_id)
            .where(User.created_at >= day_start_utc(start, tz), User.created_at < day_end_utc(end, tz))
        )
        or 0
    )


def _activity_events(pairs: CTE, lo: datetime, hi: datetime):
    """(user_id, at) of every login and connection start of the population's learners in [lo, hi)."""
    learners = select(pairs.c.user_id).distinct().cte("active_candidates")
    logins = select(Login.user_id, Login.logged_in_at.label("at")).where(
        Login.user_id.in_(select(learners.c.user_id)), Login.logged_in_at >= lo, Login.logged_in_at < hi
    )
    connections = select(Connection.user_id, Connection.connected_at.label("at")).where(
        Connection.user_id.in_(select(learners.c.user_id)),
        Connection.connected_at >= lo,
        Connection.connected_at < hi,
    )
    return union_all(logins, connections).subquery("activity")


def active_users_count(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, start: date, end: date
) -> int:
    """Learners of the population with a login or a connection starting in [start, end]."""
    events = _activity_events(_pairs(scope, pop), day_start_utc(start, tz), day_end_utc(end, tz))
    return session.scalar(select(func.count(distinct(events.c.user_id)))) or 0


def completions_count(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, start: date, end: date
) -> int:
    """Training completions (passed or failed) dated in [start, end]."""
    series = completions_series(session, scope, pop, tz, start, end, unit="month")
    return int(series["completions"].sum()) if not series.empty else 0


def status_summary(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, as_of: date | None = None
) -> StatusSummary:
    """Progress, score and status counts of the population at the end of as_of (default today)."""
    results = _pair_results(session, scope, pop, tz, as_of=as_of)
    rows = session.execute(
        select(
            results.c.status,
            func.count(),
            func.sum(results.c.progress),
            func.sum(results.c.score),
            func.count(results.c.score),
        ).group_by(results.c.status)
    ).all()
    counts = {status: 0 for status in STATUSES}
    total = progress_sum = score_sum = scored = 0
    for status, count, p_sum, s_sum, s_count in rows:
        counts[status] = count
        total += count
        progress_sum += p_sum or 0
        score_sum += s_sum or 0
        scored += s_count or 0
    return StatusSummary(
        pairs=total,
        average_progress=progress_sum / total if total else None,
        average_score=score_sum / scored if scored else None,
        counts=counts,
    )


# --------------------------------------------------------------------------------------------
# Charts over a date range (historical: day d counts only what is dated <= d)
# --------------------------------------------------------------------------------------------


def active_users_series(
    session: Session,
    scope: Scope,
    pop: Population,
    tz: ZoneInfo,
    start: date,
    end: date,
    unit: str | None = None,
) -> pd.DataFrame:
    """Distinct active learners per bucket: columns bucket (first day), last_day, active_users."""
    buckets = make_buckets(start, end, unit)
    bounds = _bucket_bounds(buckets, tz)
    events = _activity_events(_pairs(scope, pop), bounds[0], bounds[-1])
    index = _bucket_index(events.c.at, bounds).label("i")
    rows = session.execute(select(index, func.count(distinct(events.c.user_id))).group_by(index)).all()
    frame = _bucket_frame(buckets)
    values = [0] * len(buckets.starts)
    for i, count in rows:
        if 0 <= i < len(values):
            values[i] = count
    frame["active_users"] = values
    return frame


def _enrollment_rows(session: Session, pairs: CTE, bounds: list[datetime]):
    at = pairs.c.enrolled_at
    index = case((at.is_(None), literal(-1, Integer)), else_=_bucket_index(at, bounds)).label("i")
    return session.execute(
        select(index, func.count()).where(or_(at.is_(None), at < bounds[-1])).group_by(index)
    ).all()


def progress_series(
    session: Session,
    scope: Scope,
    pop: Population,
    tz: ZoneInfo,
    start: date,
    end: date,
    unit: str | None = None,
) -> pd.DataFrame:
    """Average training progress at the end of each bucket, over the pairs enrolled by then.

    Columns: bucket, last_day, learners (pairs enrolled by then), average_progress (%).
    A module completion counts from the later of its first finish and the enrollment.
    """
    buckets = make_buckets(start, end, unit)
    bounds = _bucket_bounds(buckets, tz)
    pairs = _pairs(scope, pop)
    facts = _module_facts(_attempts(pairs, None))
    module_counts = (
        select(TrainingModule.training_id, func.count().label("modules"))
        .group_by(TrainingModule.training_id)
        .cte("module_counts")
    )
    effective = _greatest(facts.c.completed_at, pairs.c.enrolled_at)
    completions = (
        select(effective.label("at"), (1.0 / module_counts.c.modules).label("weight"))
        .select_from(facts)
        .join(pairs, and_(pairs.c.user_id == facts.c.user_id, pairs.c.training_id == facts.c.training_id))
        .join(module_counts, module_counts.c.training_id == facts.c.training_id)
        .where(facts.c.completed_at.is_not(None))
        .subquery("module_completions")
    )
    index = _bucket_index(completions.c.at, bounds).label("i")
    weight_rows = session.execute(
        select(index, func.sum(completions.c.weight)).where(completions.c.at < bounds[-1]).group_by(index)
    ).all()
    enrolled = _cumulative(_enrollment_rows(session, pairs, bounds), buckets)
    weights = _cumulative(weight_rows, buckets)
    frame = _bucket_frame(buckets)
    frame["learners"] = [int(v) for v in enrolled]
    frame["average_progress"] = [100.0 * w / n if n else None for w, n in zip(weights, enrolled, strict=True)]
    return frame


def completions_series(
    session: Session,
    scope: Scope,
    pop: Population,
    tz: ZoneInfo,
    start: date,
    end: date,
    unit: str | None = None,
) -> pd.DataFrame:
    """Training completions per bucket and the cumulative completion rate at each bucket's end.

    Columns: bucket, last_day, completions (pairs whose training completion is dated in the
    bucket), completed (pairs completed by the bucket's end), learners (pairs enrolled by
    then), completion_rate (% = completed / learners). A completion is dated at the later of
    the training's completion date and the enrollment.
    """
    buckets = make_buckets(start, end, unit)
    bounds = _bucket_bounds(buckets, tz)
    results = _pair_results(session, scope, pop, tz)
    effective = _greatest(results.c.completed_at, results.c.enrolled_at)
    done = (
        select(effective.label("at"))
        .where(results.c.completed_at.is_not(None))
        .subquery("training_completions")
    )
    index = _bucket_index(done.c.at, bounds).label("i")
    rows = session.execute(select(index, func.count()).where(done.c.at < bounds[-1]).group_by(index)).all()
    per_bucket = [0] * len(buckets.starts)
    for i, count in rows:
        if 0 <= i < len(per_bucket):
            per_bucket[i] = count
    completed = _cumulative(rows, buckets)
    enrolled = _cumulative(
        _enrollment_rows(session, _pairs(scope, pop, name="pairs_enrolled"), bounds), buckets
    )
    frame = _bucket_frame(buckets)
    frame["completions"] = per_bucket
    frame["completed"] = [int(v) for v in completed]
    frame["learners"] = [int(v) for v in enrolled]
    frame["completion_rate"] = [
        100.0 * c / n if n else None for c, n in zip(completed, enrolled, strict=True)
    ]
    return frame


def first_activity_date(session: Session, scope: Scope, pop: Population, tz: ZoneInfo) -> date | None:
    """The local date of the population's earliest enrollment, login or connection ("all time")."""
    pairs = _pairs(scope, pop)
    candidates = [
        session.scalar(select(func.min(pairs.c.enrolled_at))),
        session.scalar(
            select(func.min(Login.logged_in_at)).where(Login.user_id.in_(select(pairs.c.user_id)))
        ),
        session.scalar(
            select(func.min(Connection.connected_at)).where(Connection.user_id.in_(select(pairs.c.user_id)))
        ),
    ]
    found = [c for c in candidates if c is not None]
    return local_date(min(found), tz) if found else None


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def trainings_table(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, today: date | None = None
) -> pd.DataFrame:
    """One row per training in the population.

    Columns: training_id, training, learners, not_started, in_progress, completed,
    completion_rate (%), average_progress (%), average_score (% over the learners with a
    score; None when the training has no mandatory module), average_time_spent (seconds
    per learner). Ordered by training name.
    """
    results = _pair_results(session, scope, pop, tz, today=today, with_time=True)
    return trainings_table_from(session, scope, pop, results)


def training_content(session: Session, scope: Scope, pop: Population, tz: ZoneInfo) -> pd.DataFrame:
    """The training's modules with the population's results (pop.training_id required).

    Columns: module_id, module, position, mandatory, min_score, learners, completed_pct,
    passed_pct (% of learners), average_score (over learners who completed the module),
    average_time_spent (seconds, over learners who spent time on it).
    """
    if pop.training_id is None:
        raise ValueError("training_content needs a training")
    pairs = _pairs(scope, pop)
    facts = _module_facts(_attempts(pairs, None))
    learners = session.scalar(select(func.count()).select_from(pairs)) or 0
    done = facts.c.completed_at.is_not(None)
    per_module = (
        select(
            facts.c.module_id,
            func.sum(_flag(done)).label("completed"),
            func.sum(_flag(and_(done, _module_passed(facts, TrainingModule.min_score)))).label("passed"),
            func.avg(case((done, facts.c.module_score))).label("average_score"),
        )
        .join(
            TrainingModule,
            and_(
                TrainingModule.training_id == facts.c.training_id,
                TrainingModule.module_id == facts.c.module_id,
            ),
        )
        .group_by(facts.c.module_id)
        .subquery("per_module")
    )
    c = Connection
    steps = aliased(TrainingModule, name="steps")
    time_per_learner = (
        select(
            c.module_id,
            c.user_id,
            func.sum(seconds_between(c.connected_at, c.disconnected_at)).label("seconds"),
        )
        .select_from(pairs)
        .join(steps, steps.training_id == pairs.c.training_id)
        .join(c, and_(c.user_id == pairs.c.user_id, c.module_id == steps.module_id))
        .group_by(c.module_id, c.user_id)
        .subquery("module_time")
    )
    time_avg = (
        select(time_per_learner.c.module_id, func.avg(time_per_learner.c.seconds).label("average_time_spent"))
        .group_by(time_per_learner.c.module_id)
        .subquery("module_time_avg")
    )
    tm = TrainingModule
    rows = (
        session.execute(
            select(
                tm.module_id,
                Module.name.label("module"),
                tm.position,
                tm.mandatory,
                tm.min_score,
                per_module.c.completed,
                per_module.c.passed,
                per_module.c.average_score,
                time_avg.c.average_time_spent,
            )
            .join(Module, Module.id == tm.module_id)
            .outerjoin(per_module, per_module.c.module_id == tm.module_id)
            .outerjoin(time_avg, time_avg.c.module_id == tm.module_id)
            .where(tm.training_id == pop.training_id)
            .order_by(tm.position, Module.name)
        )
        .mappings()
        .all()
    )
    frame = pd.DataFrame(
        [
            {
                "module_id": r["module_id"],
                "module": r["module"],
                "position": r["position"],
                "mandatory": bool(r["mandatory"]),
                "min_score": r["min_score"],
                "learners": learners,
                "completed_pct": 100.0 * (r["completed"] or 0) / learners if learners else None,
                "passed_pct": 100.0 * (r["passed"] or 0) / learners if learners else None,
                "average_score": r["average_score"],
                "average_time_spent": r["average_time_spent"],
            }
            for r in rows
        ],
        columns=[
            "module_id",
            "module",
            "position",
            "mandatory",
            "min_score",
            "learners",
            "completed_pct",
            "passed_pct",
            "average_score",
            "average_time_spent",
        ],
    )
    return frame


def results_query(
    session: Session,
    scope: Scope,
    pop: Population,
    tz: ZoneInfo,
    search: str | None = None,
    today: date | None = None,
):
    """The select behind results tables and exports: one row per (learner, training).

    Columns: user_id, email, first_name, last_name, sort_key, training_id, training,
    training_sort, enrolled_at, progress, score, status, completed_at (UTC), time_spent
    (seconds). search: accent- and case-insensitive match on name or email.
    """
    return results_select(_pair_results(session, scope, pop, tz, today=today, with_time=True), search)


def training_results(
    session: Session,
    scope: Scope,
    pop: Population,
    tz: ZoneInfo,
    search: str | None = None,
    sort: list[tuple[str, bool]] | None = None,
    offset: int = 0,
    limit: int | None = None,
    today: date | None = None,
) -> tuple[pd.DataFrame, int]:
    """A page of results rows and the total row count (sorting, search, paging in SQL).

    sort: (column, ascending) pairs among RESULT_SORTS' keys; people's order (SPEC §4) always
    breaks ties. Returns the rows with completed_on and enrolled_on as local dates.
    """
    results = results_query(session, scope, pop, tz, search=search, today=today)
    return results_page(session, results, tz, sort, offset, limit)


def learner_modules(
    session: Session, scope: Scope, tz: ZoneInfo, training_id: str, user_id: str
) -> pd.DataFrame:
    """One learner's achievements in one training: each module in order.

    Columns: module_id, module, position, mandatory, min_score, status (passed, failed,
    in progress, not started), score (% or None when not completed), attempts,
    time_spent (seconds), completed_on (local date).
    """
    pop = Population(training_id=training_id, user_id=user_id, learners_only=False, include_self=True)
    pairs = _pairs(scope, pop)
    if session.scalar(select(func.count()).select_from(pairs)) == 0:
        raise Forbidden()
    facts = _module_facts(_attempts(pairs, None))
    steps = _steps(pairs, facts)
    c = Connection
    spent = (
        select(c.module_id, func.sum(seconds_between(c.connected_at, c.disconnected_at)).label("seconds"))
        .where(c.user_id == user_id)
        .group_by(c.module_id)
        .subquery("learner_module_time")
    )
    attempts = (
        select(Attempt.module_id, func.count().label("attempts"))
        .where(Attempt.user_id == user_id, Attempt.training_id == training_id)
        .group_by(Attempt.module_id)
        .subquery("learner_module_attempts")
    )
    rows = (
        session.execute(
            select(
                steps.c.module_id,
                Module.name.label("module"),
                steps.c.position,
                steps.c.mandatory,
                steps.c.min_score,
                steps.c.completed,
                steps.c.passed,
                steps.c.started,
                steps.c.module_score,
                steps.c.completed_at,
                func.coalesce(attempts.c.attempts, 0).label("attempts"),
                func.coalesce(spent.c.seconds, 0.0).label("time_spent"),
            )
            .join(Module, Module.id == steps.c.module_id)
            .outerjoin(spent, spent.c.module_id == steps.c.module_id)
            .outerjoin(attempts, attempts.c.module_id == steps.c.module_id)
            .order_by(steps.c.position, Module.name)
        )
        .mappings()
        .all()
    )
    records = []
    for r in rows:
        if r["completed"]:
            status = "passed" if r["passed"] else "failed"
        elif r["started"]:
            status = "in progress"
        else:
            status = "not started"
        records.append(
            {
                "module_id": r["module_id"],
                "module": r["module"],
                "position": r["position"],
                "mandatory": bool(r["mandatory"]),
                "min_score": r["min_score"],
                "status": status,
                "score": r["module_score"] if r["completed"] else None,
                "attempts": r["attempts"],
                "time_spent": r["time_spent"],
                "completed_on": local_date(r["completed_at"], tz),
            }
        )
    return pd.DataFrame(
        records,
        columns=[
            "module_id",
            "module",
            "position",
            "mandatory",
            "min_score",
            "status",
            "score",
            "attempts",
            "time_spent",
            "completed_on",
        ],
    )


# --------------------------------------------------------------------------------------------
# Module summary (one learner's attempts of one module)

# Learner activity (issue 4: the learner page's counters, activity chart and trends)
# --------------------------------------------------------------------------------------------


def _population_connections(pairs: CTE):
    """The population's learners' connections to modules of their trainings, each connection
    once (a module shared by two trainings does not count twice): user_id, connected_at,
    seconds."""
    c = Connection
    on_module = exists().where(
        pairs.c.user_id == c.user_id,
        TrainingModule.training_id == pairs.c.training_id,
        TrainingModule.module_id == c.module_id,
    )
    return select(
        c.user_id,
        c.connected_at,
        seconds_between(c.connected_at, c.disconnected_at).label("seconds"),
    ).where(on_module)


def time_spent_total(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, as_of: date | None = None
) -> float:
    """Seconds the population's learners spent connected to their trainings' modules, each
    connection counted once; as_of: only connections started by the end of that local day."""
    q = _population_connections(_pairs(scope, pop))
    if as_of is not None:
        q = q.where(Connection.connected_at < day_end_utc(as_of, tz))
    spans = q.subquery("population_connections")
    return float(session.scalar(select(func.sum(spans.c.seconds))) or 0.0)


def activity_series(
    session: Session,
    scope: Scope,
    pop: Population,
    tz: ZoneInfo,
    start: date,
    end: date,
    unit: str | None = None,
) -> pd.DataFrame:
    """The population's learning activity per bucket of [start, end] (platform time zone).

    Columns: bucket (first day), last_day, time_spent (seconds of the connections to the
    population's trainings' modules that started in the bucket; a connection belongs to the
    day it started), connections (their count), modules_completed (modules of the
    population's trainings first finished in the bucket).
    """
    buckets = make_buckets(start, end, unit)
    bounds = _bucket_bounds(buckets, tz)
    pairs = _pairs(scope, pop)
    spans = (
        _population_connections(pairs)
        .where(Connection.connected_at >= bounds[0], Connection.connected_at < bounds[-1])
        .subquery("activity_connections")
    )
    index = _bucket_index(spans.c.connected_at, bounds).label("i")
    time_rows = session.execute(select(index, func.count(), func.sum(spans.c.seconds)).group_by(index)).all()
    facts = _module_facts(_attempts(pairs, None))
    done = (
        select(facts.c.completed_at)
        .where(facts.c.completed_at >= bounds[0], facts.c.completed_at < bounds[-1])
        .subquery("activity_completions")
    )
    done_index = _bucket_index(done.c.completed_at, bounds).label("i")
    done_rows = session.execute(select(done_index, func.count()).group_by(done_index)).all()
    size = len(buckets.starts)
    seconds, connections, completed = [0.0] * size, [0] * size, [0] * size
    for i, count, total in time_rows:
        if 0 <= i < size:
            connections[i] = int(count)
            seconds[i] = float(total or 0.0)
    for i, count in done_rows:
        if 0 <= i < size:
            completed[i] = int(count)
    frame = _bucket_frame(buckets)
    frame["time_spent"] = seconds
    frame["connections"] = connections
    frame["modules_completed"] = completed
    return frame


def activity_trends(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, days: int, today: date | None = None
) -> list[Trend]:
    """Active days, time spent, connections and modules completed over [today - days + 1,
    today] against the `days` days before (platform time zone).

    Active days: the days each of the population's learners was active, summed over them (for
    one learner: the days they were active). For global roles and the learner themself, a day
    with a login or a connection start (SPEC §4's active user). For a viewer whose view is
    limited to some trainings, a day with a connection start on a module of the trainings in
    view: logins are platform-wide, not tied to a training, so they are left out, as are
    connections to other trainings. Time spent (seconds), connections and modules completed as
    in activity_series.
    """
    if days < 1:
        raise ValueError("a trend needs at least one day")
    today = today or today_in(tz)
    start = today - timedelta(days=2 * days - 1)
    series = activity_series(session, scope, pop, tz, start, today, unit="day")
    whole_view = scope.is_global or (pop.user_id is not None and pop.user_id == scope.user_id)
    if whole_view:
        logins_too = active_users_series(session, scope, pop, tz, start, today, unit="day")
        active = logins_too["active_users"].tolist()
    else:
        bounds = _bucket_bounds(make_buckets(start, today, "day"), tz)
        spans = (
            _population_connections(_pairs(scope, pop))
            .where(Connection.connected_at >= bounds[0], Connection.connected_at < bounds[-1])
            .subquery("trend_connections")
        )
        index = _bucket_index(spans.c.connected_at, bounds).label("i")
        rows = session.execute(select(index, func.count(distinct(spans.c.user_id))).group_by(index)).all()
        active = [0] * (len(bounds) - 1)
        for i, count in rows:
            if 0 <= i < len(active):
                active[i] = int(count)
    return trends_from(active, series, days)


# --------------------------------------------------------------------------------------------

# Program sessions (SPEC §5 "Sessions"; decisions in docs/decisions.md, "Sessions")
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SessionPeople(Scope):
    """The people of one program session, in its training, as a scope for _pair_results.

    The viewer's right to the session is checked by the public functions below; this scope
    then narrows SPEC §4's per-(learner, training) pipeline to the session's learners (its
    registered learners and anyone with a connection in it) in the session's training.
    """

    session_id: str = ""
    training_id: str = ""

    def pair_filter(self, user_col, training_col, include_self: bool = False) -> ColumnElement[bool]:
        return and_(
            training_col == self.training_id,
            or_(
                exists().where(
                    SessionLearner.session_id == self.session_id, SessionLearner.user_id == user_col
                ),
                exists().where(Connection.session_id == self.session_id, Connection.user_id == user_col),
            ),
        )


def sessions_table(
    session: Session,
    scope: Scope,
    tz: ZoneInfo,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """The program sessions the viewer may open, with their learners and players.

    Columns: session_id, session, training_id, training, starts_at / ends_at (aware, platform
    time zone; None when unknown), learners (the session's learners as session_statistics
    counts them: distinct users registered to it or with a connection in it, blocked users
    included), played (distinct users with at least one connection in the session). start /
    end (local days, inclusive) keep the sessions whose dates meet the range; a session without
    a start or an end is open on that side. Ordered by start (most recent first, undated
    last), then name.
    """
    people = union_all(
        select(SessionLearner.session_id, SessionLearner.user_id),
        select(Connection.session_id, Connection.user_id).where(Connection.session_id.is_not(None)),
    ).subquery("session_people")
    registered = (
        select(people.c.session_id, func.count(distinct(people.c.user_id)).label("learners"))
        .group_by(people.c.session_id)
        .subquery("session_learners")
    )
    played = (
        select(Connection.session_id, func.count(distinct(Connection.user_id)).label("played"))
        .where(Connection.session_id.is_not(None))
        .group_by(Connection.session_id)
        .subquery("session_played")
    )
    q = (
        select(
            ProgramSession.id.label("session_id"),
            ProgramSession.name.label("session"),
            Training.id.label("training_id"),
            Training.name.label("training"),
            ProgramSession.starts_at,
            ProgramSession.ends_at,
            func.coalesce(registered.c.learners, 0).label("learners"),
            func.coalesce(played.c.played, 0).label("played"),
        )
        .join(Training, Training.id == ProgramSession.training_id)
        .outerjoin(registered, registered.c.session_id == ProgramSession.id)
        .outerjoin(played, played.c.session_id == ProgramSession.id)
        .where(scope.session_filter(ProgramSession.id, ProgramSession.training_id))
    )
    if end is not None:
        q = q.where(or_(ProgramSession.starts_at.is_(None), ProgramSession.starts_at < day_end_utc(end, tz)))
    if start is not None:
        q = q.where(or_(ProgramSession.ends_at.is_(None), ProgramSession.ends_at >= day_start_utc(start, tz)))
    return sessions_frame(session.execute(q).mappings().all(), tz)


def session_statistics(
    session: Session, scope: Scope, session_id: str, tz: ZoneInfo, today: date | None = None
) -> SessionStatistics:
    """A program session's learners and figures; Forbidden unless the viewer may open it.

    The session's learners are its registered learners and anyone with a connection in it,
    blocked users included (the session is a record of what happened). Per learner:
    registered (bool), connections, first / last connection (aware, local), time_spent (seconds
    connected inside this session), and SPEC §4's progress, score, status and completed_on for
    the session's training (None / "not enrolled" for someone not enrolled in it).

    registered: registered learners. played: learners with at least one connection in the
    session. completed: learners whose training status is passed, failed or expired.
    median_time_spent: median of the players' time in the session (None without players).
    average_score: mean training score of the learners who have one (None when nobody has).
    """
    program = session.get(ProgramSession, session_id)
    if program is None or not scope.can_view_session(session, session_id):
        raise Forbidden()
    people = _SessionPeople(user_id=scope.user_id, session_id=session_id, training_id=program.training_id)
    results = _pair_results(
        session,
        people,
        Population(training_id=program.training_id, learners_only=False),
        tz,
        today=today,
    )
    registered_ids = select(SessionLearner.user_id.label("user_id")).where(
        SessionLearner.session_id == session_id
    )
    connected_ids = select(Connection.user_id.label("user_id")).where(Connection.session_id == session_id)
    members = union_all(registered_ids, connected_ids).subquery("session_members")
    member_ids = select(members.c.user_id).distinct().subquery("session_member_ids")
    connections = (
        select(
            Connection.user_id,
            func.count().label("connections"),
            func.min(Connection.connected_at).label("first_connection"),
            func.max(Connection.disconnected_at).label("last_connection"),
            func.sum(seconds_between(Connection.connected_at, Connection.disconnected_at)).label(
                "time_spent"
            ),
        )
        .where(Connection.session_id == session_id)
        .group_by(Connection.user_id)
        .subquery("session_connections")
    )
    q = (
        select(
            User.id.label("user_id"),
            User.last_name,
            User.first_name,
            User.email,
            exists()
            .where(SessionLearner.session_id == session_id, SessionLearner.user_id == User.id)
            .label("registered"),
            func.coalesce(connections.c.connections, 0).label("connections"),
            connections.c.first_connection,
            connections.c.last_connection,
            func.coalesce(connections.c.time_spent, 0.0).label("time_spent"),
            results.c.progress,
            results.c.score,
            func.coalesce(results.c.status, "not enrolled").label("status"),
            results.c.completed_at,
        )
        .select_from(member_ids)
        .join(User, User.id == member_ids.c.user_id)
        .outerjoin(connections, connections.c.user_id == User.id)
        .outerjoin(results, results.c.user_id == User.id)
        .order_by(User.sort_key, User.id)
    )
    return session_statistics_from(session_id, session.execute(q).mappings().all(), tz)


# -- end of program sessions --------------------------------------------------------------
