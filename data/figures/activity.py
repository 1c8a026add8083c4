"""Learning activity of a population (the learner page's counters, activity chart and trends),
read from summary_user_module_days, summary_user_modules and summary_module_facts.

A connection belongs to the local day it started; it counts for the population when its module
belongs to one of the population's trainings, once even when two trainings share the module.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import and_, distinct, func, select
from sqlalchemy.orm import Session

from data.cache import memoized
from data.figures._pairs import pairs
from data.figures.cards import active_users_series
from data.figures.days import _bucket_frame, _bucket_index, make_buckets, today_in
from data.figures.population import Population, Trend, trends_from
from data.models import SummaryModuleFact, SummaryUserModule, SummaryUserModuleDay, TrainingModule
from data.scope import Scope


def _user_modules(session: Session, scope: Scope, pop: Population):
    """Distinct (user_id, module_id) of the population's learners and their trainings' modules."""
    rows = pairs(session, scope, pop)
    return (
        select(rows.c.user_id, TrainingModule.module_id)
        .join(TrainingModule, TrainingModule.training_id == rows.c.training_id)
        .distinct()
        .subquery("population_modules")
    )


def _module_days(session: Session, scope: Scope, pop: Population, start: date | None, end: date | None):
    um = _user_modules(session, scope, pop)
    d = SummaryUserModuleDay
    q = select(d.user_id, d.day, d.connections, d.seconds).join(
        um, and_(um.c.user_id == d.user_id, um.c.module_id == d.module_id)
    )
    if start is not None:
        q = q.where(d.day >= start)
    if end is not None:
        q = q.where(d.day <= end)
    return q.subquery("population_days")


@memoized
def time_spent_total(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, as_of: date | None = None
) -> float:
    """Seconds the population's learners spent connected to their trainings' modules, each
    connection counted once; as_of: only connections started by the end of that local day."""
    if as_of is None:
        um = _user_modules(session, scope, pop)
        u = SummaryUserModule
        total = session.scalar(
            select(func.sum(u.seconds)).join(
                um, and_(um.c.user_id == u.user_id, um.c.module_id == u.module_id)
            )
        )
    else:
        days = _module_days(session, scope, pop, None, as_of)
        total = session.scalar(select(func.sum(days.c.seconds)))
    return float(total or 0.0)


@memoized
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
    bounds = [*buckets.starts, buckets.end]
    days = _module_days(session, scope, pop, start, end)
    index = _bucket_index(days.c.day, bounds).label("i")
    size = len(buckets.starts)
    seconds, connections, completed = [0.0] * size, [0] * size, [0] * size
    for i, count, total in session.execute(
        select(index, func.sum(days.c.connections), func.sum(days.c.seconds)).group_by(index)
    ):
        if 0 <= i < size:
            connections[i] = int(count or 0)
            seconds[i] = float(total or 0.0)
    rows = pairs(session, scope, pop)
    f = SummaryModuleFact
    done = (
        select(f.completed_day)
        .join(rows, and_(rows.c.user_id == f.user_id, rows.c.training_id == f.training_id))
        .where(f.completed_day >= start, f.completed_day <= end)
        .subquery("activity_completions")
    )
    done_index = _bucket_index(done.c.completed_day, bounds).label("i")
    for i, count in session.execute(select(done_index, func.count()).group_by(done_index)):
        if 0 <= i < size:
            completed[i] = int(count)
    frame = _bucket_frame(buckets)
    frame["time_spent"] = seconds
    frame["connections"] = connections
    frame["modules_completed"] = completed
    return frame


@memoized
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
        active = active_users_series(session, scope, pop, tz, start, today, unit="day")[
            "active_users"
        ].tolist()
    else:
        module_days = _module_days(session, scope, pop, start, today)
        per_day = dict(
            session.execute(
                select(module_days.c.day, func.count(distinct(module_days.c.user_id))).group_by(
                    module_days.c.day
                )
            ).all()
        )
        active = [int(per_day.get(start + timedelta(days=i), 0)) for i in range(2 * days)]
    return trends_from(active, series, days)


__all__ = ["activity_series", "activity_trends", "time_spent_total"]
