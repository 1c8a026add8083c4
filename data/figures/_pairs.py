"""The population's (learner, training) pairs, read from summary_pairs, and the expressions the
readers share (status with expiry, progress, day counts of whole trainings).

Every reader starts here: `pairs()` refreshes what the session's own writes left pending
(data/summaries.py), then narrows summary_pairs to the viewer's scope and the population.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import CTE, ColumnElement, Float, and_, case, cast, false, func, or_, select, tuple_
from sqlalchemy.orm import Session

from data import rules
from data.figures.population import Population, _expiry_case
from data.models import (
    ClassMember,
    ClassTraining,
    SummaryGroupDay,
    SummaryGroupStatus,
    SummaryModuleFact,
    SummaryPair,
    Training,
    TrainingModule,
)
from data.scope import Scope, class_pairs
from data.summaries import NO_DAY, refresh_pending


def pairs(
    session: Session, scope: Scope, pop: Population, enrolled_by: datetime | None = None, name: str = "pairs"
) -> CTE:
    """summary_pairs rows of the population (enrolled before enrolled_by when given)."""
    conditions = pair_conditions(session, scope, pop, enrolled_by)
    return select(*SummaryPair.__table__.c).where(*conditions).cte(name)


def pair_conditions(
    session: Session, scope: Scope, pop: Population, enrolled_by: datetime | None = None
) -> list[ColumnElement[bool]]:
    """The conditions on summary_pairs of pairs(): for a reader that queries the table itself
    (no CTE: SQLite materializes a CTE read twice, every column of every pair)."""
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
        conditions.append(tuple_(p.user_id, p.training_id).in_(class_pairs([pop.class_id])))
    if enrolled_by is not None:
        conditions.append(or_(p.enrolled_at.is_(None), p.enrolled_at < enrolled_by))
    return conditions


def status_column(session: Session, rows, day: date, tz: ZoneInfo) -> ColumnElement:
    """SPEC §4's status of pair rows on `day`: a passed training past its validity is expired."""
    expired = _expiry_case(session, rows.c.training_id, rows.c.completed_at, day, tz)
    return case((and_(rows.c.status == "passed", expired), "expired"), else_=rows.c.status)


def progress_column(rows) -> ColumnElement:
    """The SQL form of data/rules.py training_progress over pair rows."""
    return case(
        (rows.c.modules > 0, 100.0 * rows.c.completed_modules / cast(rows.c.modules, Float)), else_=0.0
    )


@dataclass(frozen=True)
class Groups:
    """A population made of whole groups (see data/models.py, summary_group_*): every
    training's counted learners (keys None), or the (class_id, training_id) groups listed,
    class_id "" standing for all of the training's counted learners. The groups of one
    population never share a pair, so their counts add up."""

    keys: tuple[tuple[str, str], ...] | None

    @property
    def every(self) -> bool:
        return self.keys is None

    @property
    def trainings(self) -> tuple[str, ...] | None:
        return None if self.keys is None else tuple(sorted({t for _, t in self.keys}))

    @property
    def one_class(self) -> str | None:
        """The class when the groups are one class's (the class page)."""
        classes = {c for c, _ in self.keys or ()}
        return classes.pop() if len(classes) == 1 and "" not in classes else None

    def filter(self, table) -> ColumnElement[bool]:
        if self.keys is None:
            return table.class_id == ""
        return tuple_(table.class_id, table.training_id).in_(self.keys) if self.keys else false()


def whole_groups(session: Session, scope: Scope, pop: Population) -> Groups | None:
    """The groups when the population is made of whole groups, else None.

    The global page of a global viewer, a training manager or a class manager of one class; a
    training page (with or without its class filter); a class page. Any other population (a
    learner, a manager of several classes) aggregates its own pair rows, bounded by its size.
    """
    if pop.user_id or not pop.learners_only or pop.include_self:
        return None
    if pop.class_id is not None:
        class_id = pop.class_id
    elif pop.training_id is not None and scope.can_view_training_page(pop.training_id):
        return Groups((("", pop.training_id),))
    elif scope.is_global:
        return Groups(None)
    elif scope.classes and (scope.trainings or len(scope.classes) > 1):
        return None
    elif scope.classes:
        (class_id,) = scope.classes
    else:
        trainings = sorted(scope.trainings)
        if pop.training_id is not None:
            trainings = [t for t in trainings if t == pop.training_id]
        return Groups(tuple(("", t) for t in trainings))
    q = select(ClassTraining.training_id).where(ClassTraining.class_id == class_id)
    if pop.training_id is not None:
        q = q.where(ClassTraining.training_id == pop.training_id)
    return Groups(tuple((class_id, t) for t in sorted(session.scalars(q))))


def module_counts():
    return (
        select(TrainingModule.training_id, func.count().label("modules"))
        .group_by(TrainingModule.training_id)
        .subquery("module_counts")
    )


def day_counts(session: Session, scope: Scope, pop: Population, last: date) -> list[tuple]:
    """(training_id, day, enrollments, module_completions, completions, modules) up to `last`.

    day is NO_DAY for enrollments since always. Counts follow SPEC §4's chart rules: an
    enrollment on its day, a module or training completion on the later of its date and the
    enrollment's.
    """
    modules = module_counts()
    groups = whole_groups(session, scope, pop)
    if groups is not None:
        refresh_pending(session)
        gd = SummaryGroupDay
        q = (
            select(
                gd.training_id,
                gd.day,
                gd.enrollments,
                gd.module_completions,
                gd.completions,
                func.coalesce(modules.c.modules, 0),
            )
            .outerjoin(modules, modules.c.training_id == gd.training_id)
            .where(gd.day <= last, groups.filter(gd))
        )
        return [tuple(r) for r in session.execute(q)]
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


def status_rows(session: Session, groups: Groups) -> list[tuple]:
    """(training_id, status, pairs, completed_modules, score_sum, scored, time_spent, modules)
    of the groups' counted learners, status before expiry."""
    refresh_pending(session)
    gs = SummaryGroupStatus
    modules = module_counts()
    q = (
        select(
            gs.training_id,
            gs.status,
            gs.pairs,
            gs.completed_modules,
            gs.score_sum,
            gs.scored,
            gs.time_spent,
            func.coalesce(modules.c.modules, 0),
        )
        .outerjoin(modules, modules.c.training_id == gs.training_id)
        .where(groups.filter(gs))
    )
    return [tuple(r) for r in session.execute(q)]


def expired_counts(session: Session, groups: Groups, day: date, tz: ZoneInfo) -> dict[str, int]:
    """Per training with a validity: the groups' counted passed pairs whose certificate has
    expired on day."""
    from data.figures.days import day_start_utc

    validity = dict(
        session.execute(
            select(Training.id, Training.validity_months).where(Training.validity_months > 0)
        ).all()
    )
    keys = groups.keys if groups.keys is not None else tuple(("", t) for t in validity)
    out: dict[str, int] = defaultdict(int)
    p = SummaryPair
    for class_id, training_id in keys:
        if training_id not in validity:
            continue
        threshold = day_start_utc(rules.expiry_threshold(day, validity[training_id]), tz)
        q = select(func.count()).where(
            p.training_id == training_id,
            p.status == "passed",
            p.completed_at < threshold,
            p.counted.is_(True),
        )
        if class_id:
            q = q.where(p.user_id.in_(select(ClassMember.user_id).where(ClassMember.class_id == class_id)))
        out[training_id] += session.scalar(q) or 0
    return out


def settled(session: Session, as_of: date, tz: ZoneInfo) -> bool:
    """Whether the figures at the end of as_of are today's: on the whole platform, no
    attempt started or finished, and nobody enrolled, after it."""
    from data.figures.days import day_end_utc

    p = SummaryPair
    # max() over an indexed column reads one index entry.
    last_event = session.scalar(select(func.max(p.last_event_at)))
    last_enrollment = session.scalar(select(func.max(p.enrolled_day)))
    return (last_event is None or last_event < day_end_utc(as_of, tz)) and (
        last_enrollment is None or last_enrollment <= as_of
    )


__all__ = [
    "NO_DAY",
    "Groups",
    "day_counts",
    "pair_conditions",
    "pair_results",
    "pairs",
    "progress_column",
    "status_column",
    "whole_groups",
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
