"""Whose figures (Population), who may see them (require_population), and the shapes
the figures are returned in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, exists, false, func, select
from sqlalchemy.orm import Session

from data import rules
from data.cache import memoized
from data.figures.days import day_start_utc, local_date, to_local
from data.models import (
    Class,
    ClassMember,
    ClassTraining,
    ProgramSession,
    Training,
    TrainingLearner,
    TrainingModule,
)
from data.scope import Forbidden, Scope
from data.text import fold

# --------------------------------------------------------------------------------------------


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


ALL = Population()


def require_population(session: Session, scope: Scope, pop: Population) -> None:
    """Raise Forbidden unless the scope may see the population's figures (SPEC §6).

    One learner: their page (own, or a learner of a managed training or class). A class: its
    manager. A training: its manager, or a class manager for their class's trainings. Nothing
    narrower: a manager's global page. Callbacks call this with ids taken from the request, so a
    forged id answers 403 instead of an empty result.
    """
    if pop.user_id is not None:
        allowed = scope.can_view_learner(session, pop.user_id)
    elif pop.class_id is not None:
        allowed = scope.can_view_class(pop.class_id) and (
            pop.training_id is None
            or bool(
                session.scalar(
                    select(func.count()).where(
                        ClassTraining.class_id == pop.class_id, ClassTraining.training_id == pop.training_id
                    )
                )
            )
        )
        allowed = allowed or (pop.training_id is not None and scope.can_view_training_page(pop.training_id))
    elif pop.training_id is not None:
        allowed = scope.can_view_training_page(pop.training_id)
    else:
        allowed = scope.is_manager
    if not allowed:
        raise Forbidden()


def sees_pair(session: Session, scope: Scope, user_id: str, training_id: str) -> bool:
    """Whether the viewer sees this learner's results in this training (their own included)."""
    tl = TrainingLearner
    return bool(
        session.scalar(
            select(
                exists().where(
                    tl.user_id == user_id,
                    tl.training_id == training_id,
                    scope.pair_filter(tl.user_id, tl.training_id, include_self=True),
                )
            )
        )
    )


@dataclass(frozen=True)
class StatusSummary:
    """The population's (learner, training) pairs at the end of a day."""

    pairs: int
    average_progress: float | None
    average_score: float | None
    counts: dict[str, int]

    @property
    def completed(self) -> int:
        return sum(self.counts.get(s, 0) for s in rules.COMPLETED_STATUSES)

    @property
    def completion_rate(self) -> float | None:
        return rules.completion_rate(self.completed, self.pairs)


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


# -- shared by the readers and the reference: no raw event is read ----------------------


def _expiry_case(
    session: Session, training_col, completed_at_col, today: date, tz: ZoneInfo
) -> ColumnElement:
    """True when a completion is older than its training's validity on `today` (the SQL form
    of data/rules.py is_expired, the completion's instant against the threshold's local day)."""
    whens = []
    for training_id, months in session.execute(
        select(Training.id, Training.validity_months).where(Training.validity_months > 0)
    ):
        threshold = day_start_utc(rules.expiry_threshold(today, months), tz)
        whens.append((and_(training_col == training_id, completed_at_col < threshold), True))
    if not whens:
        return false()
    return case(*whens, else_=False)


@memoized
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


@memoized
def training_module_counts(session: Session, scope: Scope, training_id: str) -> tuple[int, int]:
    """(modules, mandatory modules) of one training in the scope (0, 0 outside it)."""
    row = session.execute(
        select(func.count(), func.coalesce(func.sum(case((TrainingModule.mandatory, 1), else_=0)), 0)).where(
            TrainingModule.training_id == training_id, scope.training_filter(TrainingModule.training_id)
        )
    ).one()
    return int(row[0]), int(row[1])


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


@memoized
def sessions_first_date(session: Session, scope: Scope, tz: ZoneInfo) -> date | None:
    """The local date of the earliest start among the viewer's sessions ("all time")."""
    first = session.scalar(
        select(func.min(ProgramSession.starts_at)).where(
            scope.session_filter(ProgramSession.id, ProgramSession.training_id)
        )
    )
    return local_date(first, tz)


def sessions_last_date(session: Session, scope: Scope, tz: ZoneInfo) -> date | None:
    """The local date of the latest start or end among the viewer's sessions: "all time" on the
    sessions page runs to it when it is after today (planned sessions are listed)."""
    last_start, last_end = session.execute(
        select(func.max(ProgramSession.starts_at), func.max(ProgramSession.ends_at)).where(
            scope.session_filter(ProgramSession.id, ProgramSession.training_id)
        )
    ).one()
    days = [local_date(moment, tz) for moment in (last_start, last_end) if moment is not None]
    return max(days) if days else None


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
        completed=sum(1 for row in rows if rules.is_completed(row["status"])),
        median_time_spent=rules.median(players),
        average_score=rules.average(sum(scores), len(scores)),
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
