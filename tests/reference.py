"""The test oracle: SPEC §4's figures recomputed from the raw rows, in plain Python.

The pages read the summary layer (data/summaries.py) through the readers (data/figures). This
module computes the same figures a second, independent way, and the property tests
(tests/integration/data/test_summary_properties.py, tests/integration/data/xapi/) check that
both agree on random platforms:

- it reads the platform's rows as they were imported (users, trainings, modules, activities,
  classes, enrollments, sessions, attempts, answers, connections, logins) into plain Python
  (`Platform.read`), with no aggregate SQL;
- it then applies SPEC §4 with loops over one learner and one training at a time
  (`_module_result`, `_training_result`): a newcomer should find each definition of §4 here,
  written once, in the order of the SPEC;
- it shares no code with what it checks: it imports nothing from data/figures, data/summaries,
  data/rules or data/sql (tests/unit/test_reference.py checks it), only the tables
  (data/models), the viewer's rights (data/scope) and the accent folding of names (data/text).

What it takes from the database as given: the effective enrollments (training_learners, derived
by the importer from direct and class enrollments, SPEC §3), each user's sort key and search
text, and the database's lower() of a training's name (the results' training_sort column).

Its public functions take the readers' arguments and return the readers' shapes (dataclasses
of the same names and fields, the same DataFrame columns), so that a test compares them as
they are. It is written for clarity, not speed: it is run on small platforms only.
"""

from __future__ import annotations

import calendar
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import DateTime, Float, String, false, func, literal, null, select, union_all
from sqlalchemy.orm import Session

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
COMPLETED = ("passed", "failed", "expired")  # a completed training, whatever its result
TREND_MEASURES = ("active_days", "time_spent", "connections", "modules_completed")

# A module is passed when its score reaches min_score; 1e-9 forgives floating-point noise
# (100 x 0.29 / 1 is 28.999...).
SCORE_NOISE = 1e-9


# ============================================================================================
# The shapes figures come back in (the tests map them onto the readers' classes by name)
# ============================================================================================


@dataclass(frozen=True)
class Population:
    """Whose figures: the viewer's learners, narrowed to a training, a class or one learner.

    learners_only leaves out blocked users and admins (SPEC §4); include_self adds the viewer's
    own trainings (a learner looking at their own page). The readers' Population has the same
    fields, and the tests pass theirs."""

    training_id: str | None = None
    class_id: str | None = None
    user_id: str | None = None
    learners_only: bool = True
    include_self: bool = False


@dataclass(frozen=True)
class StatusSummary:
    pairs: int
    average_progress: float | None
    average_score: float | None
    counts: dict[str, int]


@dataclass(frozen=True)
class Trend:
    measure: str
    current: float
    previous: float


@dataclass(frozen=True)
class SessionStatistics:
    session_id: str
    registered: int
    played: int
    completed: int
    median_time_spent: float | None
    average_score: float | None
    learners: pd.DataFrame


@dataclass(frozen=True)
class ActivityResult:
    activity_id: str
    name: str
    question: str
    answer: str | None
    correct_answer: str
    score: float | None
    max_score: float
    state: str


@dataclass(frozen=True)
class AttemptSummary:
    attempt_id: str
    started_at: datetime
    finished_at: datetime | None
    points: float
    max_points: float
    score: float | None
    awaiting_grading: int
    activities: tuple[ActivityResult, ...]


TRAININGS_COLUMNS = [
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
CONTENT_COLUMNS = [
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
]
RESULTS_COLUMNS = {  # results_query's columns and their SQL types
    "user_id": String,
    "email": String,
    "first_name": String,
    "last_name": String,
    "sort_key": String,
    "training_id": String,
    "training": String,
    "training_sort": String,
    "enrolled_at": DateTime,
    "progress": Float,
    "score": Float,
    "status": String,
    "completed_at": DateTime,
    "time_spent": Float,
}
# training_results' sort names -> the results column they sort on
SORTABLE = dict(
    learner="sort_key",
    email="email",
    progress="progress",
    score="score",
    status="status",
    time_spent="time_spent",
    completed_on="completed_at",
    training="training_sort",
    enrolled_on="enrolled_at",
)
LEARNER_MODULE_COLUMNS = [
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
]
SESSIONS_COLUMNS = [
    "session_id",
    "session",
    "training_id",
    "training",
    "starts_at",
    "ends_at",
    "learners",
    "played",
]
SESSION_PEOPLE_COLUMNS = [
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


# ============================================================================================
# Local days (SPEC §4: dates and ranges are in the platform time zone, ranges inclusive)
# ============================================================================================


def today_in(tz: ZoneInfo) -> date:
    return datetime.now(tz).date()


def local(instant: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A stored instant (naive UTC) on the platform's clock."""
    return None if instant is None else instant.replace(tzinfo=UTC).astimezone(tz)


def day_of(instant: datetime | None, tz: ZoneInfo) -> date | None:
    """The local day an instant falls on."""
    moment = local(instant, tz)
    return None if moment is None else moment.date()


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """The stored (naive UTC) instant at which local `day` begins."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def months_later(day: date, months: int) -> date:
    """The same day `months` later; past the end of a shorter month, its last day."""
    year = day.year + (day.month - 1 + months) // 12
    month = (day.month - 1 + months) % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last))


def seconds(connection) -> float:
    """A connection's length in seconds."""
    return (connection.disconnected_at - connection.connected_at).total_seconds()


@dataclass(frozen=True)
class Periods:
    """The buckets of a chart over [start, end]: each a run of local days."""

    firsts: list[date]  # the first day of each bucket
    lasts: list[date]  # the last day of each bucket

    def index(self, day: date | None) -> int | None:
        """The bucket holding `day`; -1 before the range; None after it (or no day)."""
        if day is None or day > self.lasts[-1]:
            return None
        return bisect_right(self.firsts, day) - 1

    def frame(self, **columns) -> pd.DataFrame:
        return pd.DataFrame({"bucket": self.firsts, "last_day": self.lasts, **columns})


def periods(start: date, end: date, unit: str | None = None) -> Periods:
    """Buckets of one day, one week (Monday to Sunday) or one month; the first starts at
    `start`, the last ends at `end`. No unit: days up to 92 days, weeks up to 731, else months."""
    length = (end - start).days + 1
    unit = unit or ("day" if length <= 92 else "week" if length <= 731 else "month")
    firsts = []
    day = start
    while day <= end:
        begins = {"day": True, "week": day.weekday() == 0, "month": day.day == 1}[unit]
        if begins or day == start:
            firsts.append(day)
        day += timedelta(days=1)
    lasts = [following - timedelta(days=1) for following in firsts[1:]] + [end]
    return Periods(firsts, lasts)


def running_totals(before: float, per_bucket: list[float]) -> list[float]:
    """What was there before the range, plus each bucket's, added up bucket after bucket."""
    out = []
    total = before
    for value in per_bucket:
        total += value
        out.append(total)
    return out


def _median(values: list[float]) -> float | None:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


# ============================================================================================
# The raw rows
# ============================================================================================


def _rows(session: Session, *columns) -> list:
    return session.execute(select(*columns)).all()


@dataclass
class Platform:
    """Every imported row the figures are made of, read once per figure."""

    users: dict[str, Any]
    admins: set[str]
    trainings: dict[str, Any]
    training_sort: dict[str, str]
    modules: dict[str, Any]
    steps: dict[str, list]  # training -> its training_modules rows, in order
    activities: dict[str, list]  # module -> its activities, in the module summary's order
    max_score: dict[str, float]  # activity -> its max score
    classes: dict[str, str]  # class -> name
    members: dict[str, set[str]]  # class -> users
    class_trainings: dict[str, set[str]]  # class -> trainings
    enrollments: list  # training_learners rows
    program_sessions: dict[str, Any]
    registered: dict[str, set[str]]  # session -> its registered learners
    attempts: dict[tuple[str, str, str], list]  # (user, training, module) -> attempts
    answers: dict[str, list]  # attempt -> its answers
    connections: list
    logins: list

    def __post_init__(self) -> None:
        self.connections_of = defaultdict(list)  # user -> their connections
        for c in self.connections:
            self.connections_of[c.user_id].append(c)
        self.logins_of = defaultdict(list)  # user -> their logins
        for user_id, at in self.logins:
            self.logins_of[user_id].append(at)

    def is_learner(self, user_id: str) -> bool:
        """SPEC §4: admins and blocked users are not counted as learners."""
        return self.users[user_id].status == "active" and user_id not in self.admins

    @classmethod
    def read(cls, session: Session) -> Platform:
        """The platform as the session sees it: the rows are queried again for each figure,
        except inside `unchanged(session)`, where the first read's rows serve (a new Platform
        built from them each time, so that nothing a figure does to its Platform reaches the
        next one)."""
        if id(session) not in _UNCHANGED:
            return cls._build(_query_rows(session))
        if _UNCHANGED[id(session)] is None:
            _UNCHANGED[id(session)] = _query_rows(session)
        return cls._build(_UNCHANGED[id(session)])

    @classmethod
    def _build(cls, rows: dict[str, list]) -> Platform:
        steps = defaultdict(list)
        for step in sorted(rows["steps"], key=lambda s: (s.position, s.module)):
            steps[step.training_id].append(step)
        activities, max_score = defaultdict(list), {}
        for a in rows["activities"]:
            activities[a.module_id].append(a)
            max_score[a.id] = a.max_score
        for listed in activities.values():
            # By position (activities without one last), then name.
            listed.sort(key=lambda a: (a.position is None, a.position or 0, a.name))
        members, class_trainings, registered = defaultdict(set), defaultdict(set), defaultdict(set)
        for class_id, user_id in rows["members"]:
            members[class_id].add(user_id)
        for class_id, training_id in rows["class_trainings"]:
            class_trainings[class_id].add(training_id)
        for session_id, user_id in rows["registered"]:
            registered[session_id].add(user_id)
        attempts = defaultdict(list)
        for a in rows["attempts"]:
            attempts[a.user_id, a.training_id, a.module_id].append(a)
        answers = defaultdict(list)
        for answer in rows["answers"]:
            answers[answer.attempt_id].append(answer)
        return cls(
            users={u.id: u for u in rows["users"]},
            admins=set(rows["admins"]),
            trainings={t.id: t for t in rows["trainings"]},
            training_sort=dict(rows["training_sort"]),
            modules={m.id: m for m in rows["modules"]},
            steps=steps,
            activities=activities,
            max_score=max_score,
            classes=dict(rows["classes"]),
            members=members,
            class_trainings=class_trainings,
            enrollments=list(rows["enrollments"]),
            program_sessions={p.id: p for p in rows["sessions"]},
            registered=registered,
            attempts=attempts,
            answers=answers,
            connections=list(rows["connections"]),
            logins=list(rows["logins"]),
        )


# Sessions inside `unchanged`: id(session) -> the rows read (None until the first read).
_UNCHANGED: dict[int, dict[str, list] | None] = {}


@contextmanager
def unchanged(session: Session) -> Iterator[None]:
    """Promises that the database does not change inside the block (the property tests compare
    every figure after an import): Platform.read(session) queries the rows once there instead
    of once per figure. Each figure still gets a Platform of its own, built from those rows."""
    _UNCHANGED[id(session)] = None
    try:
        yield
    finally:
        del _UNCHANGED[id(session)]


def _query_rows(session: Session) -> dict[str, list]:
    """Every row Platform is made of, as the database returns them (Row tuples, immutable)."""
    return {
        "steps": session.execute(
            select(TrainingModule.training_id, TrainingModule.module_id, TrainingModule.position,
                   TrainingModule.mandatory, TrainingModule.min_score, Module.name.label("module"))
            .join(Module, Module.id == TrainingModule.module_id)
        ).all(),
        "activities": _rows(
            session, Activity.id, Activity.module_id, Activity.name, Activity.max_score, Activity.position,
            Activity.question, Activity.correct_answer,
        ),
        "members": _rows(session, ClassMember.class_id, ClassMember.user_id),
        "class_trainings": _rows(session, ClassTraining.class_id, ClassTraining.training_id),
        "registered": _rows(session, SessionLearner.session_id, SessionLearner.user_id),
        "attempts": _rows(
            session, Attempt.id, Attempt.user_id, Attempt.training_id, Attempt.module_id, Attempt.started_at,
            Attempt.finished_at, Attempt.score_override, Attempt.verdict,
        ),
        "answers": _rows(
            session, Answer.attempt_id, Answer.activity_id, Answer.score, Answer.answer, Answer.evaluated
        ),
        "users": _rows(
            session, User.id, User.email, User.first_name, User.last_name, User.sort_key, User.search_text,
            User.created_at, User.status,
        ),
        "sessions": _rows(
            session, ProgramSession.id, ProgramSession.training_id, ProgramSession.name,
            ProgramSession.starts_at, ProgramSession.ends_at,
        ),
        "admins": list(session.scalars(select(Role.user_id).where(Role.role == "admin"))),
        "trainings": _rows(session, Training.id, Training.name, Training.validity_months),
        "training_sort": _rows(session, Training.id, func.lower(Training.name)),
        "modules": _rows(session, Module.id, Module.name, Module.keep_results),
        "classes": _rows(session, Class.id, Class.name),
        "enrollments": _rows(
            session, TrainingLearner.user_id, TrainingLearner.training_id, TrainingLearner.enrolled_at
        ),
        "connections": _rows(
            session,
            Connection.user_id,
            Connection.module_id,
            Connection.connected_at,
            Connection.disconnected_at,
            Connection.session_id,
        ),
        "logins": _rows(session, Login.user_id, Login.logged_in_at),
    }  # fmt: skip


# ============================================================================================
# Whose figures: the population's enrollments
# ============================================================================================


def _visible(session: Session, scope: Scope, include_self: bool) -> set[tuple[str, str]]:
    """The (learner, training) enrollments whose figures the viewer may see (SPEC §6, as
    data/scope.py states it for every part of the app)."""
    tl = TrainingLearner
    return {
        (u, t)
        for u, t in session.execute(
            select(tl.user_id, tl.training_id).where(
                scope.pair_filter(tl.user_id, tl.training_id, include_self=include_self)
            )
        )
    }


def _enrollments(
    p: Platform, session: Session, scope: Scope, pop, enrolled_by: datetime | None = None
) -> list:
    """The population's (learner, training) enrollments, each with its enrolled_at;
    enrolled_by: only those enrolled before that instant (or with no date)."""
    visible = _visible(session, scope, pop.include_self)
    chosen = []
    for e in p.enrollments:
        if (e.user_id, e.training_id) not in visible:
            continue
        if pop.learners_only and not p.is_learner(e.user_id):
            continue
        if pop.training_id is not None and e.training_id != pop.training_id:
            continue
        if pop.user_id is not None and e.user_id != pop.user_id:
            continue
        if pop.class_id is not None and not (
            e.user_id in p.members.get(pop.class_id, ())
            and e.training_id in p.class_trainings.get(pop.class_id, ())
        ):
            continue
        if enrolled_by is not None and e.enrolled_at is not None and e.enrolled_at >= enrolled_by:
            continue
        chosen.append(e)
    return chosen


def _learners(enrollments) -> set[str]:
    return {e.user_id for e in enrollments}


def _population_connections(p: Platform, enrollments) -> list:
    """The learners' connections to modules of their trainings in the population, each
    connection once (a module in two of a learner's trainings counts once)."""
    modules_of = defaultdict(set)
    for e in enrollments:
        modules_of[e.user_id] |= {step.module_id for step in p.steps.get(e.training_id, [])}
    return [
        c for user, modules in modules_of.items() for c in p.connections_of[user] if c.module_id in modules
    ]


# ============================================================================================
# SPEC §4, for learner u in training T
# ============================================================================================


def attempt_score(p: Platform, attempt) -> float:
    """Module attempt score (of a finished attempt) = 100 x Σ answer scores ÷ Σ max scores of
    the module's activities whose max score > 0; an answer awaiting grading counts 0; a module
    whose activities are all worth 0 scores 100. SPEC §8: an xAPI finishing statement's scaled
    score replaces it."""
    if attempt.score_override is not None:
        return attempt.score_override
    possible = sum(a.max_score for a in p.activities.get(attempt.module_id, []) if a.max_score > 0)
    if possible == 0:
        return 100.0
    got = sum(
        answer.score
        for answer in p.answers.get(attempt.id, [])
        if answer.evaluated and p.max_score.get(answer.activity_id, 0) > 0
    )
    return 100.0 * got / possible


@dataclass(frozen=True)
class ModuleResult:
    """u's result on one module of T."""

    attempts: int  # attempts started, finished or not
    completed_at: datetime | None  # the first finish (None: not completed)
    score: float  # the module score: the kept finished attempt's, 0 without one
    passed: bool

    @property
    def status(self) -> str:
        if self.completed_at is not None:
            return "passed" if self.passed else "failed"
        return "in progress" if self.attempts else "not started"


def _module_result(p: Platform, user_id: str, training_id: str, step, until: datetime | None) -> ModuleResult:
    """SPEC §4's module score, completion and pass. until: the state at that instant (attempts
    started before it; a finish after it is not one yet)."""
    tries = [
        a
        for a in p.attempts.get((user_id, training_id, step.module_id), [])
        if until is None or a.started_at < until
    ]
    finished = [a for a in tries if a.finished_at is not None and (until is None or a.finished_at < until)]
    if not finished:
        return ModuleResult(len(tries), None, 0.0, False)
    scored = [(attempt_score(p, a), a) for a in finished]
    # Module score = the best finished attempt's score (the newest among equal ones), or the
    # newest finished attempt's, by the module's keep_results.
    newest = max(scored, key=lambda s: (s[1].finished_at, s[1].started_at, s[1].id))
    best = max(scored, key=lambda s: (s[0], s[1].finished_at, s[1].started_at, s[1].id))
    score, kept = newest if p.modules[step.module_id].keep_results == "newest" else best
    # Passed: score >= min_score, unless the kept attempt carries an xAPI verdict (SPEC §8).
    if kept.verdict in ("passed", "failed"):
        passed = kept.verdict == "passed"
    else:
        passed = score >= step.min_score - SCORE_NOISE
    return ModuleResult(len(tries), min(a.finished_at for a in finished), score, passed)


@dataclass(frozen=True)
class TrainingResult:
    """u's result in T."""

    user_id: str
    training_id: str
    enrolled_at: datetime | None
    modules: dict[str, ModuleResult]  # T's modules in order
    progress: float
    score: float | None
    status: str
    completed_at: datetime | None
    time_spent: float


def _training_result(
    p: Platform, enrollment, tz: ZoneInfo, day: date, until: datetime | None = None
) -> TrainingResult:
    """SPEC §4's training progress, score, status and time spent; day: the day a passed
    training's validity is judged on; until: the state at that instant."""
    user_id, training_id = enrollment.user_id, enrollment.training_id
    steps = p.steps.get(training_id, [])
    modules = {s.module_id: _module_result(p, user_id, training_id, s, until) for s in steps}
    mandatory = [s.module_id for s in steps if s.mandatory]
    # Training score = mean of the mandatory modules' scores; none mandatory: no score.
    score = sum(modules[m].score for m in mandatory) / len(mandatory) if mandatory else None
    # Training progress = completed modules / all modules, in %.
    done = sum(1 for r in modules.values() if r.completed_at is not None)
    progress = 100.0 * done / len(steps) if steps else 0.0
    # Completed once every mandatory module is (every module, when none is mandatory).
    required = mandatory or [s.module_id for s in steps]
    completed_at = None
    if required and all(modules[m].completed_at is not None for m in required):
        completed_at = max(modules[m].completed_at for m in required)
        status = "passed" if all(modules[m].passed for m in required) else "failed"
        months = p.trainings[training_id].validity_months
        if status == "passed" and months and months_later(day_of(completed_at, tz), months) < day:
            status = "expired"
    elif any(r.attempts for r in modules.values()):
        status = "in progress"
    else:
        status = "not started"
    # Time spent = Σ u's connection durations on T's modules.
    module_ids = set(modules)
    time_spent = sum(
        seconds(c)
        for c in p.connections_of[user_id]
        if c.module_id in module_ids and (until is None or c.connected_at < until)
    )
    return TrainingResult(
        user_id, training_id, enrollment.enrolled_at, modules, progress, score, status, completed_at,
        float(time_spent),
    )  # fmt: skip


def _results(
    p: Platform,
    session: Session,
    scope: Scope,
    pop,
    tz: ZoneInfo,
    as_of: date | None = None,
    today: date | None = None,
) -> list[TrainingResult]:
    """The population's training results; as_of: at the end of that local day (enrollments
    and attempts before it; validity judged on it)."""
    until = midnight(as_of + timedelta(days=1), tz) if as_of else None
    day = as_of or today or today_in(tz)
    return [_training_result(p, e, tz, day, until) for e in _enrollments(p, session, scope, pop, until)]


def _completion_instant(result: TrainingResult) -> datetime | None:
    """When a training completion counts on a chart: its date, or the enrollment if later."""
    if result.completed_at is None:
        return None
    if result.enrolled_at is None:
        return result.completed_at
    return max(result.completed_at, result.enrolled_at)


# ============================================================================================
# Cards and donuts
# ============================================================================================


def _trainings_in_view(p: Platform, scope: Scope, pop) -> list[str]:
    """The trainings a population's figures cover: the viewer's (every one for a global
    viewer), narrowed to the population's training and to those its class is registered to."""
    shown = scope.managed_training_ids()
    return [
        t
        for t in p.trainings
        if (shown is None or t in shown)
        and pop.training_id in (None, t)
        and (pop.class_id is None or t in p.class_trainings.get(pop.class_id, ()))
    ]


def training_count(session: Session, scope: Scope, pop) -> int:
    """Trainings the population covers (one learner's: those they are enrolled in)."""
    p = Platform.read(session)
    enrolled = {e.training_id for e in p.enrollments if e.user_id == pop.user_id}
    return sum(1 for t in _trainings_in_view(p, scope, pop) if pop.user_id is None or t in enrolled)


def learner_count(session: Session, scope: Scope, pop, tz: ZoneInfo, as_of: date | None = None) -> int:
    """Learners of the population (enrolled by the end of as_of)."""
    p = Platform.read(session)
    until = midnight(as_of + timedelta(days=1), tz) if as_of else None
    return len(_learners(_enrollments(p, session, scope, pop, until)))


def new_users_count(session: Session, scope: Scope, pop, tz: ZoneInfo, start: date, end: date) -> int:
    """Learners of the population whose account was created in [start, end]."""
    p = Platform.read(session)
    learners = _learners(_enrollments(p, session, scope, pop))
    return sum(1 for u in learners if (day := day_of(p.users[u].created_at, tz)) and start <= day <= end)


def _active_days(p: Platform, learners: set[str], tz: ZoneInfo) -> list[tuple[str, date]]:
    """(learner, local day) of each login and connection start: SPEC §4's active user."""
    events = []
    for user_id in learners:
        events += [(user_id, day_of(at, tz)) for at in p.logins_of[user_id]]
        events += [(user_id, day_of(c.connected_at, tz)) for c in p.connections_of[user_id]]
    return events


def active_users_count(session: Session, scope: Scope, pop, tz: ZoneInfo, start: date, end: date) -> int:
    """Learners of the population active on a day of [start, end]."""
    p = Platform.read(session)
    learners = _learners(_enrollments(p, session, scope, pop))
    return len({u for u, day in _active_days(p, learners, tz) if start <= day <= end})


def completions_count(session: Session, scope: Scope, pop, tz: ZoneInfo, start: date, end: date) -> int:
    """Training completions (passed, failed or since expired) dated in [start, end]."""
    p = Platform.read(session)
    return sum(
        1
        for r in _results(p, session, scope, pop, tz)
        if (at := _completion_instant(r)) is not None and start <= day_of(at, tz) <= end
    )


def status_summary(
    session: Session, scope: Scope, pop, tz: ZoneInfo, as_of: date | None = None
) -> StatusSummary:
    """The population's statuses, mean progress and mean score at the end of as_of (default
    today): the donuts and the cards."""
    p = Platform.read(session)
    results = _results(p, session, scope, pop, tz, as_of=as_of)
    counts = dict.fromkeys(STATUSES, 0)
    for r in results:
        counts[r.status] += 1
    return StatusSummary(
        pairs=len(results),
        average_progress=_mean([r.progress for r in results]),
        average_score=_mean([r.score for r in results if r.score is not None]),
        counts=counts,
    )


# ============================================================================================
# Charts over a date range: historical, day d counts only what is dated <= d
# ============================================================================================


def first_activity_date(session: Session, scope: Scope, pop, tz: ZoneInfo) -> date | None:
    """The local day of the population's first enrollment, login or connection ("all time")."""
    p = Platform.read(session)
    enrollments = _enrollments(p, session, scope, pop)
    instants = [e.enrolled_at for e in enrollments if e.enrolled_at is not None]
    for user_id in _learners(enrollments):
        instants += p.logins_of[user_id] + [c.connected_at for c in p.connections_of[user_id]]
    return day_of(min(instants), tz) if instants else None


def active_users_series(
    session: Session, scope: Scope, pop, tz: ZoneInfo, start: date, end: date, unit: str | None = None
) -> pd.DataFrame:
    """Distinct active learners per bucket: bucket, last_day, active_users."""
    p = Platform.read(session)
    buckets = periods(start, end, unit)
    active = [set() for _ in buckets.firsts]
    for user_id, day in _active_days(p, _learners(_enrollments(p, session, scope, pop)), tz):
        i = buckets.index(day)
        if i is not None and i >= 0:
            active[i].add(user_id)
    return buckets.frame(active_users=[len(users) for users in active])


def _enrolled_counts(enrollments, buckets: Periods, tz: ZoneInfo) -> list[float]:
    """Enrollments made by the end of each bucket (undated ones from the start)."""
    before, per = 0, [0] * len(buckets.firsts)
    for e in enrollments:
        i = -1 if e.enrolled_at is None else buckets.index(day_of(e.enrolled_at, tz))
        if i == -1:
            before += 1
        elif i is not None:
            per[i] += 1
    return running_totals(before, per)


def progress_series(
    session: Session, scope: Scope, pop, tz: ZoneInfo, start: date, end: date, unit: str | None = None
) -> pd.DataFrame:
    """Mean training progress at the end of each bucket over the enrollments made by then:
    bucket, last_day, learners, average_progress (%). A module completion counts from its
    first finish, or from the enrollment when that is later."""
    p = Platform.read(session)
    buckets = periods(start, end, unit)
    enrollments = _enrollments(p, session, scope, pop)
    before, per = 0.0, [0.0] * len(buckets.firsts)
    for e in enrollments:
        steps = p.steps.get(e.training_id, [])
        for step in steps:
            first_finish = _module_result(p, e.user_id, e.training_id, step, None).completed_at
            if first_finish is None:
                continue
            at = first_finish if e.enrolled_at is None else max(first_finish, e.enrolled_at)
            i = buckets.index(day_of(at, tz))
            if i == -1:
                before += 1.0 / len(steps)
            elif i is not None:
                per[i] += 1.0 / len(steps)
    completed = running_totals(before, per)
    learners = _enrolled_counts(enrollments, buckets, tz)
    return buckets.frame(
        learners=[int(n) for n in learners],
        average_progress=[100.0 * c / n if n else None for c, n in zip(completed, learners, strict=True)],
    )


def completions_series(
    session: Session, scope: Scope, pop, tz: ZoneInfo, start: date, end: date, unit: str | None = None
) -> pd.DataFrame:
    """Training completions per bucket and the completion rate at each bucket's end: bucket,
    last_day, completions (dated in the bucket), completed (by its end), learners (enrolled by
    its end), completion_rate (%). A completion is dated at the later of the training's
    completion date and the enrollment."""
    p = Platform.read(session)
    buckets = periods(start, end, unit)
    results = _results(p, session, scope, pop, tz)
    before, per = 0, [0] * len(buckets.firsts)
    for r in results:
        at = _completion_instant(r)
        i = None if at is None else buckets.index(day_of(at, tz))
        if i == -1:
            before += 1
        elif i is not None:
            per[i] += 1
    completed = running_totals(before, per)
    learners = _enrolled_counts(results, buckets, tz)
    return buckets.frame(
        completions=per,
        completed=[int(c) for c in completed],
        learners=[int(n) for n in learners],
        completion_rate=[100.0 * c / n if n else None for c, n in zip(completed, learners, strict=True)],
    )


# ============================================================================================
# Learning activity (the learner page's counters, activity chart and trends)
# ============================================================================================


def time_spent_total(session: Session, scope: Scope, pop, tz: ZoneInfo, as_of: date | None = None) -> float:
    """Seconds the population's learners spent on their trainings' modules, each connection
    once; as_of: the connections started by the end of that local day."""
    p = Platform.read(session)
    return float(
        sum(
            seconds(c)
            for c in _population_connections(p, _enrollments(p, session, scope, pop))
            if as_of is None or day_of(c.connected_at, tz) <= as_of
        )
    )


def activity_series(
    session: Session, scope: Scope, pop, tz: ZoneInfo, start: date, end: date, unit: str | None = None
) -> pd.DataFrame:
    """The population's activity per bucket: bucket, last_day, time_spent (seconds of the
    connections to its trainings' modules started in the bucket), connections (their count),
    modules_completed (modules of its trainings first finished in the bucket)."""
    p = Platform.read(session)
    buckets = periods(start, end, unit)
    enrollments = _enrollments(p, session, scope, pop)
    size = len(buckets.firsts)
    time_spent, connections, completed = [0.0] * size, [0] * size, [0] * size
    for c in _population_connections(p, enrollments):
        i = buckets.index(day_of(c.connected_at, tz))
        if i is not None and i >= 0:
            time_spent[i] += seconds(c)
            connections[i] += 1
    for e in enrollments:
        for step in p.steps.get(e.training_id, []):
            i = buckets.index(
                day_of(_module_result(p, e.user_id, e.training_id, step, None).completed_at, tz)
            )
            if i is not None and i >= 0:
                completed[i] += 1
    return buckets.frame(time_spent=time_spent, connections=connections, modules_completed=completed)


def activity_trends(
    session: Session, scope: Scope, pop, tz: ZoneInfo, days: int, today: date | None = None
) -> list[Trend]:
    """Active days, time spent, connections and modules completed over the last `days` days
    (today included) against the `days` before.

    Active days, summed over the learners: for a global viewer or the learner themself, SPEC
    §4's active days (a login or a connection start); for a viewer limited to some trainings, the
    days with a connection start on those trainings' modules (a login belongs to no training).
    """
    if days < 1:
        raise ValueError("a trend needs at least one day")
    today = today or today_in(tz)
    start = today - timedelta(days=2 * days - 1)
    p = Platform.read(session)
    enrollments = _enrollments(p, session, scope, pop)
    if scope.is_global or (pop.user_id is not None and pop.user_id == scope.user_id):
        active = set(_active_days(p, _learners(enrollments), tz))
    else:
        active = {(c.user_id, day_of(c.connected_at, tz)) for c in _population_connections(p, enrollments)}
    daily = activity_series(session, scope, pop, tz, start, today, unit="day")
    per_day = {
        "active_days": [sum(1 for _u, d in active if d == day) for day in daily["bucket"]],
        "time_spent": list(daily["time_spent"]),
        "connections": list(daily["connections"]),
        "modules_completed": list(daily["modules_completed"]),
    }
    return [
        Trend(measure, float(sum(per_day[measure][days:])), float(sum(per_day[measure][:days])))
        for measure in TREND_MEASURES
    ]


# ============================================================================================
# Tables
# ============================================================================================


def trainings_table(
    session: Session, scope: Scope, pop, tz: ZoneInfo, today: date | None = None
) -> pd.DataFrame:
    """One row per training of the population, by name: training_id, training, learners,
    not_started, in_progress, completed, completion_rate (%), average_progress (%),
    average_score (% over the learners with a score), average_time_spent (seconds a learner)."""
    p = Platform.read(session)
    by_training = defaultdict(list)
    for r in _results(p, session, scope, pop, tz, today=today):
        by_training[r.training_id].append(r)
    rows = []
    for training_id in _trainings_in_view(p, scope, pop):
        results = by_training[training_id]
        if pop.user_id is not None and not results:
            continue  # one learner's page: the trainings they are in
        n = len(results)
        statuses = [r.status for r in results]
        rows.append(
            {
                "training_id": training_id,
                "training": p.trainings[training_id].name,
                "learners": n,
                "not_started": statuses.count("not started"),
                "in_progress": statuses.count("in progress"),
                "completed": sum(1 for s in statuses if s in COMPLETED),
                "completion_rate": 100.0 * sum(1 for s in statuses if s in COMPLETED) / n if n else None,
                "average_progress": _mean([r.progress for r in results]),
                "average_score": _mean([r.score for r in results if r.score is not None]),
                "average_time_spent": sum(r.time_spent for r in results) / n if n else None,
            }
        )
    if not rows:
        return pd.DataFrame(columns=TRAININGS_COLUMNS)
    rows.sort(key=lambda row: fold(row["training"]))
    frame = pd.DataFrame(rows, columns=TRAININGS_COLUMNS)
    # No learner: no mean progress (None, not NaN).
    frame["average_progress"] = pd.Series([row["average_progress"] for row in rows], dtype=object)
    return frame


def _step(step) -> dict:
    """A module's place in its training, as the tables show it."""
    return {
        "module_id": step.module_id,
        "module": step.module,
        "position": step.position,
        "mandatory": bool(step.mandatory),
        "min_score": step.min_score,
    }


def training_content(session: Session, scope: Scope, pop, tz: ZoneInfo) -> pd.DataFrame:
    """The training's modules (pop.training_id required) with the population's results:
    module_id, module, position, mandatory, min_score, learners, completed_pct, passed_pct (%
    of the learners), average_score (over those who completed it), average_time_spent
    (seconds, over those who spent time on it)."""
    if pop.training_id is None:
        raise ValueError("training_content needs a training")
    p = Platform.read(session)
    enrollments = _enrollments(p, session, scope, pop)
    n = len(enrollments)
    records = []
    for step in p.steps.get(pop.training_id, []):
        results = [_module_result(p, e.user_id, e.training_id, step, None) for e in enrollments]
        done = [r for r in results if r.completed_at is not None]
        spent = []  # each learner's time on the module, for those with a connection to it
        for e in enrollments:
            theirs = [seconds(c) for c in p.connections_of[e.user_id] if c.module_id == step.module_id]
            if theirs:
                spent.append(sum(theirs))
        records.append(
            {
                **_step(step),
                "learners": n,
                "completed_pct": 100.0 * len(done) / n if n else None,
                "passed_pct": 100.0 * sum(1 for r in done if r.passed) / n if n else None,
                "average_score": _mean([r.score for r in done]),
                "average_time_spent": _mean(spent),
            }
        )
    return pd.DataFrame(records, columns=CONTENT_COLUMNS)


def _result_rows(
    p: Platform, session: Session, scope: Scope, pop, tz: ZoneInfo, search: str | None, today: date | None
) -> list[dict]:
    """One row per (learner, training) of the population whose name or email holds every word
    of `search` (case and accents ignored)."""
    words = fold(search).split()
    rows = []
    for r in _results(p, session, scope, pop, tz, today=today):
        user = p.users[r.user_id]
        if not all(word in user.search_text for word in words):
            continue
        rows.append(
            {
                "user_id": r.user_id,
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "sort_key": user.sort_key,
                "training_id": r.training_id,
                "training": p.trainings[r.training_id].name,
                "training_sort": p.training_sort[r.training_id],
                "enrolled_at": r.enrolled_at,
                "progress": r.progress,
                "score": r.score,
                "status": r.status,
                "completed_at": r.completed_at,
                "time_spent": r.time_spent,
            }
        )
    return rows


def results_query(
    session: Session, scope: Scope, pop, tz: ZoneInfo, search: str | None = None, today: date | None = None
):
    """The results rows (as _result_rows) as a subquery, as exports select from it: one
    SELECT of literals a row (SQLite takes up to 500 of them: enough for the tests' platforms)."""
    rows = _result_rows(Platform.read(session), session, scope, pop, tz, search, today)

    def cell(value, kind):  # a typed NULL: PostgreSQL would read a column of NULLs as text
        return null().cast(kind) if value is None else literal(value, kind)

    selects = [
        select(*(cell(row[name], kind).label(name) for name, kind in RESULTS_COLUMNS.items())) for row in rows
    ]
    if not selects:
        nothing = select(*(cell(None, kind).label(name) for name, kind in RESULTS_COLUMNS.items()))
        return nothing.where(false()).subquery("results")
    return (selects[0] if len(selects) == 1 else union_all(*selects)).subquery("results")


def _sorted_results(rows: list[dict], sort: list[tuple[str, bool]] | None) -> list[dict]:
    """Rows by the asked columns (missing values last, whichever the direction), then by
    person (SPEC §4), training name and id."""
    for name, _ascending in sort or []:
        if name not in SORTABLE:
            raise ValueError(f"cannot sort by {name!r}")
    rows = sorted(rows, key=lambda row: (row["sort_key"], row["training_sort"], row["training_id"]))
    for name, ascending in reversed(sort or []):
        key = SORTABLE[name]
        present = sorted(
            (row for row in rows if row[key] is not None), key=lambda row: row[key], reverse=not ascending
        )
        rows = present + [row for row in rows if row[key] is None]
    return rows


def training_results(
    session: Session,
    scope: Scope,
    pop,
    tz: ZoneInfo,
    search: str | None = None,
    sort: list[tuple[str, bool]] | None = None,
    offset: int = 0,
    limit: int | None = None,
    today: date | None = None,
) -> tuple[pd.DataFrame, int]:
    """A page of the results rows (sorted, searched) and the number of rows in all, with
    completed_on and enrolled_on (local days) and classes (the learner's classes registered
    to the training, by name)."""
    p = Platform.read(session)
    rows = _sorted_results(_result_rows(p, session, scope, pop, tz, search, today), sort)
    page = rows[offset:] if limit is None else rows[offset : offset + limit]
    frame = pd.DataFrame(page, columns=list(RESULTS_COLUMNS))
    frame["completed_on"] = [day_of(row["completed_at"], tz) for row in page]
    frame["enrolled_on"] = [day_of(row["enrolled_at"], tz) for row in page]
    frame["classes"] = [
        ", ".join(
            sorted(
                (
                    name
                    for class_id, name in p.classes.items()
                    if row["user_id"] in p.members.get(class_id, ())
                    and row["training_id"] in p.class_trainings.get(class_id, ())
                ),
                key=fold,
            )
        )
        for row in page
    ]
    return frame, len(rows)


def learner_modules(
    session: Session, scope: Scope, tz: ZoneInfo, training_id: str, user_id: str
) -> pd.DataFrame:
    """One learner's modules in one training, in order: module_id, module, position,
    mandatory, min_score, status, score (None until completed), attempts, time_spent
    (seconds), completed_on. Forbidden unless the viewer sees that enrollment."""
    p = Platform.read(session)
    pop = Population(training_id=training_id, user_id=user_id, learners_only=False, include_self=True)
    if not _enrollments(p, session, scope, pop):
        raise Forbidden()
    records = []
    for step in p.steps.get(training_id, []):
        result = _module_result(p, user_id, training_id, step, None)
        spent = [seconds(c) for c in p.connections_of[user_id] if c.module_id == step.module_id]
        records.append(
            {
                **_step(step),
                "status": result.status,
                "score": result.score if result.completed_at is not None else None,
                "attempts": result.attempts,
                "time_spent": float(sum(spent)),
                "completed_on": day_of(result.completed_at, tz),
            }
        )
    return pd.DataFrame(records, columns=LEARNER_MODULE_COLUMNS)


# ============================================================================================
# Module summary (SPEC §5): one learner's attempts of one module
# ============================================================================================


def _answer_state(score: float, max_score: float) -> str:
    """An evaluated answer: all its points "passed", some "partly correct", none "failed"."""
    if score >= max_score:
        return "passed"
    if score > 0:
        return "partly correct"
    return "failed"


def module_attempts(
    session: Session, scope: Scope, training_id: str, user_id: str, module_id: str
) -> list[AttemptSummary]:
    """Every attempt of the module by the learner in the training, newest first (unfinished
    ones first), with each activity's answer: "got S of M possible points" and the score."""
    p = Platform.read(session)
    pop = Population(training_id=training_id, user_id=user_id, learners_only=False, include_self=True)
    if not _enrollments(p, session, scope, pop):
        raise Forbidden()
    if module_id not in {step.module_id for step in p.steps.get(training_id, [])}:
        raise LookupError(f"module {module_id} is not part of training {training_id}")
    activities = p.activities.get(module_id, [])
    possible = float(sum(a.max_score for a in activities if a.max_score > 0))
    tries = p.attempts.get((user_id, training_id, module_id), [])
    going = sorted(
        (a for a in tries if a.finished_at is None), key=lambda a: (a.started_at, a.id), reverse=True
    )
    done = sorted(
        (a for a in tries if a.finished_at is not None),
        key=lambda a: (a.finished_at, a.started_at, a.id),
        reverse=True,
    )
    summaries = []
    for attempt in going + done:
        given = {answer.activity_id: answer for answer in p.answers.get(attempt.id, [])}
        results, got, awaiting = [], 0.0, 0
        for activity in activities:
            answer = given.get(activity.id)
            if answer is None:
                state, score = "not answered", None
            elif not answer.evaluated:
                state, score = "awaiting grading", None
                awaiting += 1
            else:
                state, score = _answer_state(answer.score, activity.max_score), answer.score
                if activity.max_score > 0:
                    got += answer.score
            results.append(
                ActivityResult(
                    activity_id=activity.id,
                    name=activity.name,
                    question=activity.question or "",
                    answer=None if answer is None else answer.answer,
                    correct_answer=activity.correct_answer or "",
                    score=score,
                    max_score=activity.max_score,
                    state=state,
                )
            )
        summaries.append(
            AttemptSummary(
                attempt_id=attempt.id,
                started_at=attempt.started_at,
                finished_at=attempt.finished_at,
                points=got,
                max_points=possible,
                score=None if attempt.finished_at is None else attempt_score(p, attempt),
                awaiting_grading=awaiting,
                activities=tuple(results),
            )
        )
    return summaries


# ============================================================================================
# Program sessions (SPEC §5 "Sessions"; docs/decisions.md, "Sessions")
# ============================================================================================


def _sessions_seen(session: Session, scope: Scope) -> set[str]:
    """The program sessions the viewer may open (data/scope.py's rule)."""
    ps = ProgramSession
    return set(session.scalars(select(ps.id).where(scope.session_filter(ps.id, ps.training_id))))


def sessions_first_date(session: Session, scope: Scope, tz: ZoneInfo) -> date | None:
    """The local day of the earliest start among the viewer's sessions ("all time")."""
    p = Platform.read(session)
    starts = [
        p.program_sessions[s].starts_at
        for s in _sessions_seen(session, scope)
        if p.program_sessions[s].starts_at is not None
    ]
    return day_of(min(starts), tz) if starts else None


def _session_people(p: Platform, session_id: str) -> set[str]:
    """A session's learners: registered to it, or with a connection in it (blocked users too)."""
    return p.registered.get(session_id, set()) | {
        c.user_id for c in p.connections if c.session_id == session_id
    }


def sessions_table(
    session: Session, scope: Scope, tz: ZoneInfo, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """The sessions the viewer may open whose dates meet [start, end] (a session without a
    start or an end is open on that side): session_id, session, training_id, training,
    starts_at / ends_at (local, None when unknown), learners, played (learners with a
    connection in it). The most recent start first, undated ones last, then by name."""
    p = Platform.read(session)
    chosen = []
    for session_id in _sessions_seen(session, scope):
        s = p.program_sessions[session_id]
        if end is not None and s.starts_at is not None and day_of(s.starts_at, tz) > end:
            continue
        if start is not None and s.ends_at is not None and day_of(s.ends_at, tz) < start:
            continue
        chosen.append(s)
    if not chosen:
        return pd.DataFrame(columns=SESSIONS_COLUMNS)
    chosen.sort(key=lambda s: (fold(s.name), s.id))
    dated = sorted((s for s in chosen if s.starts_at is not None), key=lambda s: s.starts_at, reverse=True)
    chosen = dated + [s for s in chosen if s.starts_at is None]
    rows = [
        {
            "session_id": s.id,
            "session": s.name,
            "training_id": s.training_id,
            "training": p.trainings[s.training_id].name,
            "learners": len(_session_people(p, s.id)),
            "played": len({c.user_id for c in p.connections if c.session_id == s.id}),
        }
        for s in chosen
    ]
    frame = pd.DataFrame(rows, columns=SESSIONS_COLUMNS)
    frame["starts_at"] = pd.Series([local(s.starts_at, tz) for s in chosen], dtype=object)
    frame["ends_at"] = pd.Series([local(s.ends_at, tz) for s in chosen], dtype=object)
    return frame


def session_statistics(
    session: Session, scope: Scope, session_id: str, tz: ZoneInfo, today: date | None = None
) -> SessionStatistics:
    """A session's learners and figures; Forbidden unless the viewer may open it.

    Per learner (registered or with a connection in it): registered, connections, first /
    last connection, time_spent in the session, and SPEC §4's progress, score, status and
    completed_on in the session's training (None / "not enrolled" when not enrolled).
    registered / played / completed count learners; median_time_spent: over those who played;
    average_score: over those with a training score."""
    p = Platform.read(session)
    program = p.program_sessions.get(session_id)
    if program is None or not scope.can_view_session(session, session_id):
        raise Forbidden()
    people = _session_people(p, session_id)
    day = today or today_in(tz)
    results = {
        e.user_id: _training_result(p, e, tz, day)
        for e in p.enrollments
        if e.training_id == program.training_id and e.user_id in people
    }
    rows = []
    for user_id in sorted(people, key=lambda u: (p.users[u].sort_key, u)):
        user, result = p.users[user_id], results.get(user_id)
        inside = [c for c in p.connections_of[user_id] if c.session_id == session_id]
        rows.append(
            {
                "user_id": user_id,
                "last_name": user.last_name,
                "first_name": user.first_name,
                "email": user.email,
                "registered": user_id in p.registered.get(session_id, ()),
                "connections": len(inside),
                "first_connection": local(min((c.connected_at for c in inside), default=None), tz),
                "last_connection": local(max((c.disconnected_at for c in inside), default=None), tz),
                "time_spent": float(sum(seconds(c) for c in inside)),
                "progress": None if result is None else result.progress,
                "score": None if result is None else result.score,
                "status": "not enrolled" if result is None else result.status,
                "completed_on": None if result is None else day_of(result.completed_at, tz),
            }
        )
    frame = pd.DataFrame(rows, columns=SESSION_PEOPLE_COLUMNS)
    for name in ("first_connection", "last_connection", "completed_on", "progress", "score"):
        frame[name] = pd.Series([row[name] for row in rows], dtype=object)  # None, not NaT / NaN
    played = [row["time_spent"] for row in rows if row["connections"]]
    return SessionStatistics(
        session_id=session_id,
        registered=sum(1 for row in rows if row["registered"]),
        played=len(played),
        completed=sum(1 for row in rows if row["status"] in COMPLETED),
        median_time_spent=_median(played),
        average_score=_mean([row["score"] for row in rows if row["score"] is not None]),
        learners=frame,
    )


# ============================================================================================
# At-risk learners (SPEC §9, issue 18) -- a block of its own, in plain Python from the raw rows
# (it uses nothing above but the imports, so it stays whole whatever becomes of the rest).
# ============================================================================================

AT_RISK_LATE_WITHIN_DAYS = 7  # SPEC §9: a session ending at most 7 days after d
AT_RISK_SCORE_TOLERANCE = 1e-9  # a score within this of the minimum reaches it (100 x 0.29 / 1)


def _at_risk_day(instant: datetime | None, tz: ZoneInfo) -> date | None:
    return None if instant is None else instant.replace(tzinfo=UTC).astimezone(tz).date()


def _at_risk_until(day: date, tz: ZoneInfo) -> datetime:
    """The naive UTC instant at which local day `day` ends."""
    after = day + timedelta(days=1)
    return datetime(after.year, after.month, after.day, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def _at_risk_lists() -> dict:
    from collections import defaultdict

    return defaultdict(list)


def _at_risk_pairs(session: Session, scope: Scope, pop, until: datetime) -> dict:
    """(user_id, training_id) -> enrolled_at of the population's pairs enrolled by `until`."""
    from sqlalchemy import exists

    tl = TrainingLearner
    conditions = [scope.pair_filter(tl.user_id, tl.training_id, include_self=pop.include_self)]
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
    q = (
        select(tl.user_id, tl.training_id, tl.enrolled_at)
        .join(User, User.id == tl.user_id)
        .where(*conditions)
    )
    return {(u, t): enrolled for u, t, enrolled in session.execute(q) if enrolled is None or enrolled < until}


def _at_risk_training_state(session: Session, pairs: dict, until: datetime) -> dict:
    """(user_id, training_id) -> (status, failed mandatory modules in the training's order,
    progress, score) at `until` (SPEC §4, judged from the attempts started before it)."""
    steps: dict[str, list] = _at_risk_lists()
    for training_id, module_id, mandatory, min_score in session.execute(
        select(
            TrainingModule.training_id,
            TrainingModule.module_id,
            TrainingModule.mandatory,
            TrainingModule.min_score,
        ).order_by(TrainingModule.training_id, TrainingModule.position, TrainingModule.module_id)
    ):
        steps[training_id].append((module_id, bool(mandatory), float(min_score or 0.0)))
    keep = dict(session.execute(select(Module.id, Module.keep_results)).all())
    max_points: dict[str, float] = {}
    max_score_of: dict[str, float] = {}
    for activity_id, module_id, max_score in session.execute(
        select(Activity.id, Activity.module_id, Activity.max_score)
    ):
        max_score_of[activity_id] = max_score or 0.0
        if max_score and max_score > 0:
            max_points[module_id] = max_points.get(module_id, 0.0) + max_score
    points: dict[str, float] = {}
    for attempt_id, activity_id, score, evaluated in session.execute(
        select(Answer.attempt_id, Answer.activity_id, Answer.score, Answer.evaluated)
    ):
        if evaluated and max_score_of.get(activity_id, 0.0) > 0:
            points[attempt_id] = points.get(attempt_id, 0.0) + (score or 0.0)
    attempts: dict[tuple, list] = _at_risk_lists()
    for row in session.execute(
        select(
            Attempt.id,
            Attempt.user_id,
            Attempt.training_id,
            Attempt.module_id,
            Attempt.started_at,
            Attempt.finished_at,
            Attempt.score_override,
            Attempt.verdict,
        ).where(Attempt.started_at < until)
    ):
        if (row.user_id, row.training_id) in pairs:
            attempts[(row.user_id, row.training_id, row.module_id)].append(row)
    out = {}
    for user_id, training_id in pairs:
        modules = steps.get(training_id, [])
        has_mandatory = any(m for _, m, _ in modules)
        completed = passed = required = required_done = required_passed = 0
        started = False
        failed, mandatory_scores = [], []
        for module_id, mandatory, min_score in modules:
            tried = attempts.get((user_id, training_id, module_id), [])
            started = started or bool(tried)
            finished = []
            for a in tried:
                if a.finished_at is None or a.finished_at >= until:
                    continue
                if a.score_override is not None:
                    score = a.score_override
                elif max_points.get(module_id, 0.0) > 0:
                    score = 100.0 * points.get(a.id, 0.0) / max_points[module_id]
                else:
                    score = 100.0
                finished.append((a, score))
            done = bool(finished)
            if done:
                if keep.get(module_id) == "newest":
                    kept = max(finished, key=lambda f: (f[0].finished_at, f[0].started_at, f[0].id))
                else:  # best: the highest score, the newest among equal ones
                    kept = max(finished, key=lambda f: (f[1], f[0].finished_at, f[0].started_at, f[0].id))
                attempt, score = kept
                if attempt.verdict is not None:
                    ok = attempt.verdict == "passed"
                else:
                    ok = score >= min_score - AT_RISK_SCORE_TOLERANCE
            else:
                score, ok = 0.0, False
            completed += done
            passed += done and ok
            counts = mandatory or not has_mandatory
            required += counts
            required_done += counts and done
            required_passed += counts and done and ok
            if mandatory:
                mandatory_scores.append(score)
                if done and not ok:
                    failed.append(module_id)
        if required and required_done == required:
            status = "passed" if required_passed == required else "failed"
        else:
            status = "in progress" if started else "not started"
        progress = 100.0 * completed / len(modules) if modules else 0.0
        score = sum(mandatory_scores) / len(mandatory_scores) if mandatory_scores else None
        out[(user_id, training_id)] = (status, tuple(failed), progress, score)
    return out


def _at_risk_last_activity(session: Session, pairs: dict, until: datetime, tz: ZoneInfo) -> dict:
    """(user_id, training_id) -> the latest local day before `until` on which the learner
    started a connection to one of the training's modules, started or finished an attempt in
    it, or answered in one of those attempts (SPEC §9)."""
    last: dict[tuple, date] = {}

    def seen(key, instant):
        if key in pairs and instant is not None and instant < until:
            day = _at_risk_day(instant, tz)
            if key not in last or day > last[key]:
                last[key] = day

    in_training = _at_risk_lists()
    for training_id, module_id in session.execute(
        select(TrainingModule.training_id, TrainingModule.module_id)
    ):
        in_training[module_id].append(training_id)
    for user_id, module_id, connected_at in session.execute(
        select(Connection.user_id, Connection.module_id, Connection.connected_at)
    ):
        for training_id in in_training.get(module_id, []):
            seen((user_id, training_id), connected_at)
    for user_id, training_id, started_at, finished_at in session.execute(
        select(Attempt.user_id, Attempt.training_id, Attempt.started_at, Attempt.finished_at)
    ):
        seen((user_id, training_id), started_at)
        seen((user_id, training_id), finished_at)
    for user_id, training_id, answered_at in session.execute(
        select(Attempt.user_id, Attempt.training_id, Answer.answered_at).join(
            Answer, Answer.attempt_id == Attempt.id
        )
    ):
        seen((user_id, training_id), answered_at)
    return last


def at_risk_learners(session: Session, scope: Scope, pop, tz: ZoneInfo, on: date, days: int) -> dict:
    """SPEC §9 on day `on` with `days` days of inactivity: (user_id, training_id) ->
    (inactive days or None, failed mandatory module ids in the training's order, late session
    id or None, last activity day or None, progress, score, session id or None) for each pair
    of the population at risk. The session is the learner's session of the training ending
    first (by its end instant, then id; without an end last); late: the earliest-ending one
    whose local end day is at most 7 days after `on`."""
    if not 1 <= int(days) <= 3650:
        raise ValueError(f"days must be from 1 to 3650, not {days}")
    until = _at_risk_until(on, tz)
    pairs = _at_risk_pairs(session, scope, pop, until)
    state = _at_risk_training_state(session, pairs, until)
    last = _at_risk_last_activity(session, pairs, until, tz)
    sessions = _at_risk_lists()
    for user_id, training_id, session_id, ends_at in session.execute(
        select(
            SessionLearner.user_id, ProgramSession.training_id, ProgramSession.id, ProgramSession.ends_at
        ).join(ProgramSession, ProgramSession.id == SessionLearner.session_id)
    ):
        if (user_id, training_id) in pairs:
            sessions[(user_id, training_id)].append((ends_at, session_id))
    out = {}
    for key, enrolled_at in pairs.items():
        status, failed, progress, score = state[key]
        if status in ("passed", "failed"):  # completed (an expired training was passed)
            continue
        since = last.get(key) or _at_risk_day(enrolled_at, tz)
        idle = None if since is None else (on - since).days
        inactive = idle if idle is not None and idle >= days else None
        mine = sessions.get(key, [])
        ending = sorted(mine, key=lambda s: (s[0] is None, s[0] or datetime.min, s[1]))
        late_limit = on + timedelta(days=AT_RISK_LATE_WITHIN_DAYS)
        late = [
            (_at_risk_day(end, tz), session_id)
            for end, session_id in mine
            if end is not None and _at_risk_day(end, tz) <= late_limit
        ]
        late_session = min(late)[1] if late else None
        if inactive is None and not failed and late_session is None:
            continue
        first_session = ending[0][1] if ending else None
        out[key] = (inactive, failed, late_session, last.get(key), progress, score, first_session)
    return out


def at_risk_count(session: Session, scope: Scope, pop, tz: ZoneInfo, on: date, days: int) -> int:
    """The "At risk" card: distinct learners at risk in at least one training (SPEC §9)."""
    return len({user_id for user_id, _ in at_risk_learners(session, scope, pop, tz, on, days)})


# -- end of at-risk learners --------------------------------------------------------------
