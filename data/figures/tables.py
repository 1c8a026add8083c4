"""Tables of SPEC §5: trainings, a training's content, results, one learner's modules.

The aggregations here take the per-(learner, training) results as a query (columns user_id,
training_id, enrolled_at, progress, score, status, completed_at, time_spent), so the pages
(reading summary_pairs) and the reference (recomputing from raw events) share them.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import and_, case, exists, func, literal, select
from sqlalchemy.orm import Session

from data import rules
from data.cache import memoized
from data.figures._pairs import pair_results, pairs, status_rows, whole_groups
from data.figures.days import local_date
from data.figures.population import RESULT_SORTS, Population, _class_names
from data.models import (
    ClassTraining,
    Module,
    SummaryGroupModule,
    SummaryModuleFact,
    SummaryUserModule,
    Training,
    TrainingModule,
    User,
)
from data.scope import Forbidden, Scope
from data.sql import _flag
from data.text import fold, search_words


def trainings_table_from(session: Session, scope: Scope, pop: Population, results) -> pd.DataFrame:
    """One row per training in the population, from its pairs' results.

    Columns: training_id, training, learners, not_started, in_progress, completed,
    completion_rate (%), average_progress (%), average_score (% over the learners with a
    score; None when the training has no mandatory module), average_time_spent (seconds
    per learner). Ordered by training name.
    """
    completed = _flag(results.c.status.in_(rules.COMPLETED_STATUSES))
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
        rules.completion_rate(c, n) for c, n in zip(frame.completed, frame.learners, strict=True)
    ]
    frame["average_time_spent"] = [
        rules.average(t or 0.0, n) for t, n in zip(frame.time_spent, frame.learners, strict=True)
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
    for word in search_words(search):
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


# --------------------------------------------------------------------------------------------
# Readers of the summary layer
# --------------------------------------------------------------------------------------------


@memoized
def trainings_table(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, today: date | None = None
) -> pd.DataFrame:
    """One row per training in the population (see trainings_table_from)."""
    groups = whole_groups(session, scope, pop)
    if groups is None:
        return trainings_table_from(session, scope, pop, pair_results(session, scope, pop, tz, today=today))
    # Whole groups: their per-status sums (expiry does not change what is completed).
    q = select(Training.id, Training.name).where(scope.training_filter(Training.id))
    if groups.trainings is not None:
        q = q.where(Training.id.in_(groups.trainings))
    names = dict(session.execute(q).all())
    sums = {t: [0, 0, 0, 0, 0.0, 0.0, 0, 0.0, 0.0] for t in names}
    for t, status, n, done, score_sum, scored, seconds, modules in status_rows(session, groups):
        acc = sums[t]
        acc[0] += n
        acc[{"not started": 1, "in progress": 2}.get(status, 3)] += n  # else passed or failed
        acc[4] += rules.training_progress(done, modules)  # the n pairs' progress summed
        acc[5] += score_sum
        acc[6] += scored
        acc[7] += seconds
    frame = pd.DataFrame(
        [
            {
                "training_id": t,
                "training": names[t],
                "learners": acc[0],
                "not_started": acc[1],
                "in_progress": acc[2],
                "completed": acc[3],
                "average_progress": rules.average(acc[4], acc[0]),
                "average_score": rules.average(acc[5], acc[6]),
                "time_spent": acc[7] if acc[0] else None,
            }
            for t, acc in sums.items()
        ]
    )
    return finish_trainings_table(frame)


def results_query(
    session: Session,
    scope: Scope,
    pop: Population,
    tz: ZoneInfo,
    search: str | None = None,
    today: date | None = None,
):
    """The select behind results tables and exports (see results_select)."""
    return results_select(pair_results(session, scope, pop, tz, today=today), search)


@memoized
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
    groups = None if search_words(search) else whole_groups(session, scope, pop)
    # Without a search, whole groups know their size: no need to count the rows again.
    total = None if groups is None else sum(row[2] for row in status_rows(session, groups))
    return results_page(session, results, tz, sort, offset, limit, total=total)


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


@memoized
def training_content(session: Session, scope: Scope, pop: Population, tz: ZoneInfo) -> pd.DataFrame:
    """The training's modules with the population's results (pop.training_id required).

    Columns: module_id, module, position, mandatory, min_score, learners, completed_pct,
    passed_pct (% of learners), average_score (over learners who completed the module),
    average_time_spent (seconds, over learners who spent time on it).
    """
    if pop.training_id is None:
        raise ValueError("training_content needs a training")
    groups = whole_groups(session, scope, pop)
    if groups is not None:
        return _group_content(session, groups, pop.training_id)
    rows = pairs(session, scope, pop)
    learners = session.scalar(select(func.count()).select_from(rows)) or 0
    f, um, tm = SummaryModuleFact, SummaryUserModule, TrainingModule
    done = f.completed_at.is_not(None)
    per_module = (
        select(
            f.module_id,
            func.sum(_flag(done)).label("completed"),
            func.sum(_flag(and_(done, f.passed.is_(True)))).label("passed"),
            func.avg(case((done, f.module_score))).label("average_score"),
        )
        .join(rows, and_(rows.c.user_id == f.user_id, rows.c.training_id == f.training_id))
        .group_by(f.module_id)
        .subquery("per_module")
    )
    time_avg = (
        select(um.module_id, func.avg(um.seconds).label("average_time_spent"))
        .where(
            um.user_id.in_(select(rows.c.user_id)),
            um.module_id.in_(select(tm.module_id).where(tm.training_id == pop.training_id)),
        )
        .group_by(um.module_id)
        .subquery("module_time_avg")
    )
    found = (
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
    return pd.DataFrame(
        [
            {
                "module_id": r["module_id"],
                "module": r["module"],
                "position": r["position"],
                "mandatory": bool(r["mandatory"]),
                "min_score": r["min_score"],
                "learners": learners,
                "completed_pct": rules.percent(r["completed"] or 0, learners),
                "passed_pct": rules.percent(r["passed"] or 0, learners),
                "average_score": r["average_score"],
                "average_time_spent": r["average_time_spent"],
            }
            for r in found
        ],
        columns=CONTENT_COLUMNS,
    )


def _group_content(session: Session, groups, training_id: str) -> pd.DataFrame:
    learners = sum(row[2] for row in status_rows(session, groups))
    gm, tm = SummaryGroupModule, TrainingModule
    per_module = (
        select(
            gm.module_id,
            func.sum(gm.completed).label("completed"),
            func.sum(gm.passed).label("passed"),
            func.sum(gm.score_sum).label("score_sum"),
            func.sum(gm.time_learners).label("time_learners"),
            func.sum(gm.time_spent).label("time_spent"),
        )
        .where(groups.filter(gm), gm.training_id == training_id)
        .group_by(gm.module_id)
        .subquery("group_modules")
    )
    found = session.execute(
        select(
            tm.module_id,
            Module.name,
            tm.position,
            tm.mandatory,
            tm.min_score,
            per_module.c.completed,
            per_module.c.passed,
            per_module.c.score_sum,
            per_module.c.time_learners,
            per_module.c.time_spent,
        )
        .join(Module, Module.id == tm.module_id)
        .outerjoin(per_module, per_module.c.module_id == tm.module_id)
        .where(tm.training_id == training_id)
        .order_by(tm.position, Module.name)
    ).all()
    return pd.DataFrame(
        [
            {
                "module_id": module_id,
                "module": name,
                "position": position,
                "mandatory": bool(mandatory),
                "min_score": min_score,
                "learners": learners,
                "completed_pct": rules.percent(done or 0, learners),
                "passed_pct": rules.percent(ok or 0, learners),
                "average_score": rules.average(score_sum, done),
                "average_time_spent": rules.average(seconds, users),
            }
            for module_id, name, position, mandatory, min_score, done, ok, score_sum, users, seconds in found
        ],
        columns=CONTENT_COLUMNS,
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


@memoized
def learner_modules(
    session: Session, scope: Scope, tz: ZoneInfo, training_id: str, user_id: str
) -> pd.DataFrame:
    """One learner's achievements in one training: each module in order.

    Columns: module_id, module, position, mandatory, min_score, status (passed, failed,
    in progress, not started), score (% or None when not completed), attempts,
    time_spent (seconds), completed_on (local date).
    """
    pop = Population(training_id=training_id, user_id=user_id, learners_only=False, include_self=True)
    rows = pairs(session, scope, pop)
    if session.scalar(select(func.count()).select_from(rows)) == 0:
        raise Forbidden()
    f, um, tm = SummaryModuleFact, SummaryUserModule, TrainingModule
    found = session.execute(
        select(
            tm.module_id,
            Module.name,
            tm.position,
            tm.mandatory,
            tm.min_score,
            f.attempts,
            f.completed_at,
            f.module_score,
            f.passed,
            func.coalesce(um.seconds, 0.0),
        )
        .join(Module, Module.id == tm.module_id)
        .outerjoin(f, and_(f.user_id == user_id, f.training_id == training_id, f.module_id == tm.module_id))
        .outerjoin(um, and_(um.user_id == user_id, um.module_id == tm.module_id))
        .where(tm.training_id == training_id)
        .order_by(tm.position, Module.name)
    ).all()
    records = []
    for (
        module_id,
        name,
        position,
        mandatory,
        min_score,
        attempts,
        completed_at,
        score,
        passed,
        seconds,
    ) in found:
        status = rules.module_status(completed_at, passed, attempts)
        records.append(
            {
                "module_id": module_id,
                "module": name,
                "position": position,
                "mandatory": bool(mandatory),
                "min_score": min_score,
                "status": status,
                "score": score if completed_at is not None else None,
                "attempts": attempts or 0,
                "time_spent": seconds,
                "completed_on": local_date(completed_at, tz),
            }
        )
    return pd.DataFrame(records, columns=LEARNER_MODULE_COLUMNS)
