"""The population's (learner, training) pairs, read from summary_pairs, and the expressions the
readers share (status with expiry, progress, day counts of whole trainings).

Every reader starts here: `pairs()` refreshes what the session's own writes left pending
(data/summaries.py), then narrows summary_pairs to the viewer's scope and the population.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import CTE, ColumnElement, Float, and_, case, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from data.figures.population import Population, _expiry_case
from data.models import ClassMember, ClassTraining, SummaryPair, SummaryTrainingDay, Training, TrainingModule
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


def whole_trainings(scope: Scope, pop: Population) -> list[str] | None:
    """The trainings when the population is whole trainings' counted learners (the global page
    of a global viewer or a training manager, a training page), else None.

    Such populations read per-(training, day) rows; any other (a class, a learner, a class
    manager's view) aggregates its own pair rows, bounded by its size.
    """
    if pop.class_id or pop.user_id or not pop.learners_only or pop.include_self or scope.classes:
        return None
    if scope.is_global:
        return [] if pop.training_id is None else [pop.training_id]
    if pop.training_id is not None:
        return [pop.training_id] if pop.training_id in scope.trainings else ["\x00none"]
    return sorted(scope.trainings) or ["\x00none"]


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
        if trainings:
            q = q.where(td.training_id.in_(trainings))
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


def training_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Training.id, Training.name)).all())


__all__ = [
    "NO_DAY",
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
