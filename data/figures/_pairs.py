"""The population's (learner, training) pairs, read from summary_pairs, and the expressions the
readers share (status with expiry, progress, day counts of whole trainings).

Every reader starts here: `pairs()` refreshes what the session's own writes left pending
(data/summaries.py), then narrows summary_pairs to the viewer's scope and the population.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import CTE, ColumnElement, Float, and_, case, cast, exists, func, or_, select, true
from sqlalchemy.orm import Session

from data.figures.population import Population, _expiry_case
from data.models import (
    ClassMember,
    ClassTraining,
    SummaryPair,
    SummaryTrainingDay,
    SummaryTrainingStatus,
    Training,
    TrainingModule,
)
from data.scope import Scope
from data.summaries import NO_DAY, refresh_pending


def pairs(
    session: Session, scope: Scope, pop: Population, enrolled_by: datetime | None = None, name: str = "pairs"
) -> CTE:
    """summary_pairs rows of the population (enrolled before enrolled_by when given)."""
    refresh_pending(session)
    p = SummaryPair
    conditions: list[ColumnElement] = [
        scope.pair_filter(p.user_id, p.training_id, include_self=pop.include_self)
    ]
    if pop.learners_only:
        conditions.append(p.counted.is_(True))
    if pop.training_id is not None:
        conditions.append(p.training_id == pop.training_id)
    if pop.user_id is not None:
        conditions.append(p.user_id == pop.user_id)
    if pop.class_id is not None:
        conditions.append(
            exists().where(ClassMember.class_id == pop.class_id, ClassMember.user_id == p.user_id)
        )
        conditions.append(
            exists().where(ClassTraining.class_id == pop.class_id, ClassTraining.training_id == p.training_id)
        )
    if enrolled_by is not None:
        conditions.append(or_(p.enrolled_at.is_(None), p.enrolled_at < enrolled_by))
    return select(*p.__table__.c).where(*conditions).cte(name)


def status_column(session: Session, rows, day: date, tz: ZoneInfo) -> ColumnElement:
    """SPEC §4's status of pair rows on `day`: a passed training past its validity is expired."""
    expired = _expiry_case(session, rows.c.training_id, rows.c.completed_at, day, tz)
    return case((and_(rows.c.status == "passed", expired), "expired"), else_=rows.c.status)


def progress_column(rows) -> ColumnElement:
    return case(
        (rows.c.modules > 0, 100.0 * rows.c.completed_modules / cast(rows.c.modules, Float)), else_=0.0
    )


@dataclass(frozen=True)
class Whole:
    """Whole trainings' counted learners: every training (ids None) or the trainings listed."""

    ids: tuple[str, ...] | None

    @property
    def every(self) -> bool:
        return self.ids is None

    def filter(self, column) -> ColumnElement[bool]:
        return true() if self.ids is None else column.in_(self.ids)


def whole_trainings(scope: Scope, pop: Population) -> Whole | None:
    """The trainings when the population is whole trainings' counted learners (the global page
    of a global viewer or a training manager, a training page), else None.

    Such populations read per-training rows; any other (a class, a learner, a class manager's
    view) aggregates its own pair rows, bounded by its size.
    """
    if pop.class_id or pop.user_id or not pop.learners_only or pop.include_self or scope.classes:
        return None
    if scope.is_global:
        return Whole(None if pop.training_id is None else (pop.training_id,))
    if pop.training_id is not None:
        return Whole((pop.training_id,) if pop.training_id in scope.trainings else ())
    return Whole(tuple(sorted(scope.trainings)))


def day_counts(session: Session, scope: Scope, pop: Population, last: date) -> list[tuple]:
    """(training_id, day, enrollments, module_completions, completions, modules) up to `last`.

    day is NO_DAY for enrollments since always. Counts follow SPEC §4's chart rules: an
    enrollment on its day, a module or training completion on the later of its date and the
    enrollment's.
    """
    modules = (
        select(TrainingModule.training_id, func.count().label("modules"))
        .group_by(TrainingModule.training_id)
        .subquery("module_counts")
    )
    trainings = whole_trainings(scope, pop)
    if trainings is not None:
        refresh_pending(session)
        td = SummaryTrainingDay
        q = (
            select(
                td.training_id,
                td.day,
                td.enrollments,
                td.module_completions,
                td.completions,
                func.coalesce(modules.c.modules, 0),
            )
            .outerjoin(modules, modules.c.training_id == td.training_id)
            .where(td.day <= last)
        )
        q = q.where(trainings.filter(td.training_id))
        return [tuple(r) for r in session.execute(q)]
    from data.models import SummaryModuleFact

    rows = pairs(session, scope, pop)
    out: dict[tuple, list] = {}

    def add(i: int, query) -> None:
        for training_id, day, count in session.execute(query):
            out.setdefault((training_id, day), [0, 0, 0])[i] += count

    add(
        0,
        select(rows.c.training_id, rows.c.enrolled_day, func.count())
        .where(rows.c.enrolled_day <= last)
        .group_by(rows.c.training_id, rows.c.enrolled_day),
    )
    f = SummaryModuleFact
    add(
        1,
        select(f.training_id, f.effective_day, func.count())
        .join(rows, and_(rows.c.user_id == f.user_id, rows.c.training_id == f.training_id))
        .where(f.effective_day <= last)
        .group_by(f.training_id, f.effective_day),
    )
    add(
        2,
        select(rows.c.training_id, rows.c.completed_day, func.count())
        .where(rows.c.completed_day <= last)
        .group_by(rows.c.training_id, rows.c.completed_day),
    )
    counts = dict(session.execute(select(modules.c.training_id, modules.c.modules)).all())
    return [(t, d, *values, counts.get(t, 0)) for (t, d), values in out.items()]


def status_rows(session: Session, trainings: Whole) -> list[tuple]:
    """(training_id, status, pairs, completed_modules, score_sum, scored, time_spent, modules)
    of whole trainings' counted learners ([] = every training), status before expiry."""
    refresh_pending(session)
    ts = SummaryTrainingStatus
    modules = (
        select(TrainingModule.training_id, func.count().label("modules"))
        .group_by(TrainingModule.training_id)
        .subquery("module_counts")
    )
    q = select(
        ts.training_id,
        ts.status,
        ts.pairs,
        ts.completed_modules,
        ts.score_sum,
        ts.scored,
        ts.time_spent,
        func.coalesce(modules.c.modules, 0),
    ).outerjoin(modules, modules.c.training_id == ts.training_id)
    q = q.where(trainings.filter(ts.training_id))
    return [tuple(r) for r in session.execute(q)]


def expired_counts(session: Session, trainings: Whole, day: date, tz: ZoneInfo) -> dict[str, int]:
    """Per training with a validity: its counted passed pairs whose certificate has expired on day."""
    from data.figures.days import day_start_utc, expiry_threshold

    q = select(Training.id, Training.validity_months).where(Training.validity_months > 0)
    q = q.where(trainings.filter(Training.id))
    out = {}
    p = SummaryPair
    for training_id, months in session.execute(q).all():
        threshold = day_start_utc(expiry_threshold(day, months), tz)
        out[training_id] = (
            session.scalar(
                select(func.count()).where(
                    p.training_id == training_id,
                    p.status == "passed",
                    p.completed_at < threshold,
                    p.counted.is_(True),
                )
            )
            or 0
        )
    return out


def settled(session: Session, trainings: Whole, as_of: date, tz: ZoneInfo) -> bool:
    """Whether whole trainings' figures at the end of as_of are today's: no attempt started or
    finished, and nobody enrolled, after it."""
    from data.figures.days import day_end_utc

    until = day_end_utc(as_of, tz)
    p, td = SummaryPair, SummaryTrainingDay
    later_event = select(p.user_id).where(p.last_event_at >= until, p.counted.is_(True))
    later_enrollment = select(td.day).where(td.day > as_of, td.enrollments > 0)
    later_event = later_event.where(trainings.filter(p.training_id))
    later_enrollment = later_enrollment.where(trainings.filter(td.training_id))
    return session.scalar(select(exists(later_event))) is False and not session.scalar(
        select(exists(later_enrollment))
    )


__all__ = [
    "NO_DAY",
    "Whole",
    "day_counts",
    "pair_results",
    "pairs",
    "progress_column",
    "status_column",
    "whole_trainings",
]


def pair_results(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, today: date | None = None
) -> CTE:
    """Per (learner, training) of the population: user_id, training_id, enrolled_at, progress,
    score, status (expiry judged on `today`), completed_at, time_spent, completed_modules,
    modules — the shape the tables (data/figures/tables.py) aggregate."""
    from data.figures.days import today_in

    rows = pairs(session, scope, pop)
    return select(
        rows.c.user_id,
        rows.c.training_id,
        rows.c.enrolled_at,
        progress_column(rows).label("progress"),
        rows.c.score,
        status_column(session, rows, today or today_in(tz), tz).label("status"),
        rows.c.completed_at,
        rows.c.completed_modules,
        rows.c.modules,
        rows.c.time_spent,
    ).cte("pair_results")
