"""Cards, donuts and date-range charts of a population (SPEC §4, §5 global/training/class).

Read from the summary layer: summary_pairs (and summary_pair_history for a day in the past),
summary_user_days for active users, the group tables for whole trainings and classes.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import (
    Float,
    and_,
    case,
    distinct,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from data import rules
from data.cache import memoized
from data.figures._pairs import (
    NO_DAY,
    Groups,
    day_counts,
    expired_counts,
    pairs,
    progress_column,
    settled,
    status_column,
    status_rows,
    whole_groups,
)
from data.figures.days import (
    Buckets,
    _bucket_frame,
    _bucket_index,
    day_end_utc,
    day_start_utc,
    make_buckets,
    today_in,
)
from data.figures.population import Population, StatusSummary
from data.models import (
    SummaryActivePeriod,
    SummaryClassLearner,
    SummaryLearner,
    SummaryPair,
    SummaryPairHistory,
    SummaryUserDay,
    User,
)
from data.scope import Scope
from data.summaries import refresh_pending


@memoized
def learner_count(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, as_of: date | None = None
) -> int:
    """Distinct learners counted in the population (enrolled by the end of as_of)."""
    groups = whole_groups(session, scope, pop)
    people = _people(session, scope, pop, groups)
    if people is not None:
        return (
            session.scalar(
                select(func.count()).select_from(people).where(people.c.first_day <= (as_of or date.max))
            )
            or 0
        )
    if groups is not None and groups.keys is not None and len(groups.keys) == 1:
        # One group: each of its pairs is a learner of its one training.
        return sum(n for _, day, n, _, _, _ in day_counts(session, scope, pop, as_of or date.max))
    rows = pairs(session, scope, pop, enrolled_by=day_end_utc(as_of, tz) if as_of else None)
    return session.scalar(select(func.count(distinct(rows.c.user_id)))) or 0


def _one_training(session: Session, scope: Scope, pop: Population) -> str | None:
    """The training when the population is one training's counted learners (a training page)."""
    groups = whole_groups(session, scope, pop)
    if groups is not None and groups.keys is not None and len(groups.keys) == 1 and groups.keys[0][0] == "":
        refresh_pending(session)
        return groups.keys[0][1]
    return None


def _people(session: Session, scope: Scope, pop: Population, groups: Groups | None):
    """The population's distinct learners (user_id, first_day, created_day) when they are the
    platform's or one class's (summary_learners, summary_class_learners); else None."""
    if groups is None:
        return None
    if groups.every:
        refresh_pending(session)
        lr = SummaryLearner
        return select(lr.user_id, lr.first_day, lr.created_day).subquery("people")
    class_id = groups.one_class
    if class_id is not None and pop.training_id is None:
        refresh_pending(session)
        cl = SummaryClassLearner
        return (
            select(cl.user_id, cl.first_day, cl.created_day).where(cl.class_id == class_id).subquery("people")
        )
    return None


@memoized
def new_users_count(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, start: date, end: date
) -> int:
    """Learners of the population whose account was created in [start, end]."""
    training = _one_training(session, scope, pop)
    if training is not None:
        sp = SummaryPair
        return (
            session.scalar(
                select(func.count()).where(
                    sp.training_id == training,
                    sp.counted.is_(True),
                    sp.created_day >= start,
                    sp.created_day <= end,
                )
            )
            or 0
        )
    people = _people(session, scope, pop, whole_groups(session, scope, pop))
    if people is not None:
        return (
            session.scalar(
                select(func.count()).where(people.c.created_day >= start, people.c.created_day <= end)
            )
            or 0
        )
    rows = pairs(session, scope, pop)
    return (
        session.scalar(
            select(func.count(distinct(rows.c.user_id)))
            .join(User, User.id == rows.c.user_id)
            .where(User.created_at >= day_start_utc(start, tz), User.created_at < day_end_utc(end, tz))
        )
        or 0
    )


def _everyone(session: Session, scope: Scope, pop: Population) -> bool:
    groups = whole_groups(session, scope, pop)
    return groups is not None and groups.every


def _learner_ids(session: Session, scope: Scope, pop: Population):
    people = _people(session, scope, pop, whole_groups(session, scope, pop))
    if people is not None:
        return select(people.c.user_id)
    return select(pairs(session, scope, pop).c.user_id)


def _active_days(session: Session, scope: Scope, pop: Population, start: date, end: date):
    ud = SummaryUserDay
    people = _people(session, scope, pop, whole_groups(session, scope, pop))
    if people is not None:
        # A lookup per day row in the range (the people's tables are keyed by user), instead of
        # materializing the whole population's ids for an IN.
        learner = exists(select(people.c.user_id).where(people.c.user_id == ud.user_id))
    else:
        learner = ud.user_id.in_(select(pairs(session, scope, pop).c.user_id))
    return select(ud.user_id, ud.day).where(ud.day >= start, ud.day <= end, learner)


@memoized
def active_users_count(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, start: date, end: date
) -> int:
    """Learners of the population with a login or a connection starting in [start, end]."""
    people = _people(session, scope, pop, whole_groups(session, scope, pop))
    last_day = session.scalar(select(SummaryUserDay.day).order_by(SummaryUserDay.day.desc()).limit(1))
    training = _one_training(session, scope, pop)
    if training is not None and (last_day is None or end >= last_day):
        sp = SummaryPair
        return (
            session.scalar(
                select(func.count()).where(
                    sp.training_id == training, sp.counted.is_(True), sp.last_active_day >= start
                )
            )
            or 0
        )
    if people is not None and (last_day is None or end >= last_day):
        # Nobody was active after `end`: the active ones were last active on `start` or later.
        lr = SummaryLearner
        q = select(func.count()).where(lr.last_active_day >= start)
        if not _everyone(session, scope, pop):
            q = q.where(lr.user_id.in_(select(people.c.user_id)))
        return session.scalar(q) or 0
    days = _active_days(session, scope, pop, start, end).subquery("active_days")
    return session.scalar(select(func.count(distinct(days.c.user_id)))) or 0


@memoized
def completions_count(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, start: date, end: date
) -> int:
    """Training completions (passed or failed) dated in [start, end]."""
    return sum(
        completions for _, day, _, _, completions, _ in day_counts(session, scope, pop, end) if day >= start
    )


def _pair_figures_as_of(session: Session, scope: Scope, pop: Population, tz: ZoneInfo, as_of: date | None):
    """Per pair: training_id, modules, completed_modules, score, status (before expiry),
    completed_at — today's, or at the end of as_of (from the pair's history)."""
    if as_of is None:
        return pairs(session, scope, pop)
    until = day_end_utc(as_of, tz)
    rows = pairs(session, scope, pop, enrolled_by=until)
    columns = ("training_id", "modules", "completed_modules", "score", "status", "completed_at")
    settled = select(*(rows.c[c] for c in columns)).where(
        or_(rows.c.last_event_at.is_(None), rows.c.last_event_at < until)
    )
    h = SummaryPairHistory
    latest = (
        select(func.max(h.at))
        .where(h.user_id == rows.c.user_id, h.training_id == rows.c.training_id, h.at < until)
        .correlate(rows)
        .scalar_subquery()
    )
    initial_score = case((rows.c.mandatory_modules > 0, literal(0.0, Float)), else_=null())
    past = (
        select(
            rows.c.training_id,
            rows.c.modules,
            func.coalesce(h.completed_modules, 0).label("completed_modules"),
            case((h.at.is_(None), initial_score), else_=h.score).label("score"),
            func.coalesce(h.status, "not started").label("status"),
            h.completed_at.label("completed_at"),
        )
        .select_from(rows)
        .outerjoin(h, and_(h.user_id == rows.c.user_id, h.training_id == rows.c.training_id, h.at == latest))
        .where(rows.c.last_event_at >= until)
    )
    return union_all(settled, past).subquery("pairs_as_of")


@memoized
def status_summary(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, as_of: date | None = None
) -> StatusSummary:
    """Progress, score and status counts of the population at the end of as_of (default today)."""
    groups = whole_groups(session, scope, pop)
    day = as_of or today_in(tz)
    if groups is not None and (as_of is None or (as_of >= today_in(tz) and settled(session, as_of, tz))):
        return _whole_status_summary(session, groups, day, tz)
    rows = _pair_figures_as_of(session, scope, pop, tz, as_of)
    status = status_column(session, rows, as_of or today_in(tz), tz).label("status")
    figures = select(status, progress_column(rows).label("progress"), rows.c.score).subquery("pair_figures")
    result = session.execute(
        select(
            figures.c.status,
            func.count(),
            func.sum(figures.c.progress),
            func.sum(figures.c.score),
            func.count(figures.c.score),
        ).group_by(figures.c.status)
    ).all()
    counts = {s: 0 for s in rules.STATUSES}
    total = progress_sum = score_sum = scored = 0
    for name, count, p_sum, s_sum, s_count in result:
        counts[name] = count
        total += count
        progress_sum += p_sum or 0
        score_sum += s_sum or 0
        scored += s_count or 0
    return StatusSummary(
        pairs=total,
        average_progress=rules.average(progress_sum, total),
        average_score=rules.average(score_sum, scored),
        counts=counts,
    )


def _whole_status_summary(session: Session, groups: Groups, day: date, tz: ZoneInfo) -> StatusSummary:
    counts = {s: 0 for s in rules.STATUSES}
    total = scored = 0
    progress_sum = score_sum = 0.0
    for _, status, n, done, s_sum, s_count, _, modules in status_rows(session, groups):
        counts[status] += n
        total += n
        # The n pairs' progress summed (done: their completed modules, of one training).
        progress_sum += rules.training_progress(done, modules)
        score_sum += s_sum
        scored += s_count
    expired = sum(expired_counts(session, groups, day, tz).values())
    counts["passed"] -= expired
    counts["expired"] += expired
    return StatusSummary(
        pairs=total,
        average_progress=rules.average(progress_sum, total),
        average_score=rules.average(score_sum, scored),
        counts=counts,
    )


# --------------------------------------------------------------------------------------------
# Charts over a date range (historical: day d counts only what is dated <= d)
# --------------------------------------------------------------------------------------------


def _bucket_of(buckets: Buckets, day: date) -> int:
    """Index of the bucket holding a local day; -1 before the first, len after the last."""
    if day >= buckets.end:
        return len(buckets.starts)
    return bisect_right(buckets.starts, day) - 1


@memoized
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
    values = [0] * len(buckets.starts)
    stored = _active_periods(session, scope, pop, buckets)
    # Buckets that are whole calendar weeks or months are read from summary_active_periods;
    # the others (a range's partial first or last one, days) are counted from the days.
    counted = [i for i in range(len(values)) if i not in stored]
    for i, n in stored.items():
        values[i] = n
    runs: list[list[int]] = []
    for i in counted:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    for run in runs:  # each run of consecutive buckets in one query
        lo, hi = buckets.starts[run[0]], buckets.last_days[run[-1]]
        days = _active_days(session, scope, pop, lo, hi).subquery("active_days")
        index = _bucket_index(days.c.day, [*buckets.starts, buckets.end]).label("i")
        for i, count in session.execute(select(index, func.count(distinct(days.c.user_id))).group_by(index)):
            if i in run:
                values[i] = count
    frame = _bucket_frame(buckets)
    frame["active_users"] = values
    return frame


def _active_population(session: Session, scope: Scope, pop: Population) -> str | None:
    """The population's key in summary_active_periods, when it has one."""
    groups = whole_groups(session, scope, pop)
    if groups is None:
        return None
    if groups.every:
        return ""
    if groups.one_class is not None and pop.training_id is None:
        return f"c:{groups.one_class}"
    if groups.keys is not None and len(groups.keys) == 1 and groups.keys[0][0] == "":
        return f"t:{groups.keys[0][1]}"
    return None


def _active_periods(session: Session, scope: Scope, pop: Population, buckets: Buckets) -> dict[int, int]:
    """{bucket index: active learners} for the buckets that are whole weeks or months."""
    population = _active_population(session, scope, pop)
    if population is None:
        return {}
    whole: dict[date, int] = {}
    for i, (first, last) in enumerate(zip(buckets.starts, buckets.last_days, strict=True)):
        period_first, period_last = _period_bounds(first, buckets.unit)
        if first == period_first and last == period_last:
            whole[first] = i
    if not whole:
        return {}
    refresh_pending(session)
    ap = SummaryActivePeriod
    found = dict(
        session.execute(
            select(ap.start, ap.learners).where(
                ap.population == population, ap.unit == buckets.unit, ap.start.in_(sorted(whole))
            )
        ).all()
    )
    return {i: found.get(first, 0) for first, i in whole.items()}


def _period_bounds(day: date, unit: str) -> tuple[date, date]:
    """The day, calendar week (Monday to Sunday) or month holding a day."""
    if unit == "day":
        return day, day
    if unit == "week":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=6)
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def _running(per: list[float], before: float) -> list[float]:
    out, total = [], before
    for value in per:
        total += value
        out.append(total)
    return out


def _series_counts(session: Session, scope: Scope, pop: Population, buckets: Buckets):
    """Per bucket: enrollments, module completion weights (1 / the training's modules) and
    training completions, with what came before the first bucket."""
    size = len(buckets.starts)
    enrolled, weights, completions = [0.0] * size, [0.0] * size, [0] * size
    before = [0.0, 0.0, 0]
    last = buckets.end - timedelta(days=1)
    for _, day, n_enrolled, n_modules, n_completions, modules in day_counts(session, scope, pop, last):
        weight = n_modules / modules if modules else 0.0
        i = -1 if day == NO_DAY else _bucket_of(buckets, day)
        if i < 0:
            before[0] += n_enrolled
            before[1] += weight
            before[2] += n_completions
        elif i < size:
            enrolled[i] += n_enrolled
            weights[i] += weight
            completions[i] += n_completions
    return enrolled, weights, completions, before


@memoized
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
    enrolled, weights, _, before = _series_counts(session, scope, pop, buckets)
    learners = _running(enrolled, before[0])
    done = _running(weights, before[1])
    frame = _bucket_frame(buckets)
    frame["learners"] = [int(v) for v in learners]
    frame["average_progress"] = [rules.percent(w, n) for w, n in zip(done, learners, strict=True)]
    return frame


@memoized
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
    enrolled, _, completions, before = _series_counts(session, scope, pop, buckets)
    learners = _running(enrolled, before[0])
    completed = _running(completions, before[2])
    frame = _bucket_frame(buckets)
    frame["completions"] = completions
    frame["completed"] = [int(v) for v in completed]
    frame["learners"] = [int(v) for v in learners]
    frame["completion_rate"] = [rules.completion_rate(c, n) for c, n in zip(completed, learners, strict=True)]
    return frame


@memoized
def first_activity_date(session: Session, scope: Scope, pop: Population, tz: ZoneInfo) -> date | None:
    """The local date of the population's earliest enrollment, login or connection ("all time")."""
    if whole_groups(session, scope, pop) is not None:
        enrolled = [
            day for _, day, n, _, _, _ in day_counts(session, scope, pop, date.max) if n and day != NO_DAY
        ]
        first_enrolled = min(enrolled, default=None)
    else:
        rows = pairs(session, scope, pop)
        first_enrolled = session.scalar(
            select(func.min(rows.c.enrolled_day)).where(rows.c.enrolled_at.is_not(None))
        )
    population = _active_population(session, scope, pop)
    if population is not None:
        ap = SummaryActivePeriod
        first_active = session.scalar(
            select(func.min(ap.start)).where(ap.population == population, ap.unit == "day")
        )
    else:
        ud = SummaryUserDay
        first_active = session.scalar(
            select(ud.day).where(ud.user_id.in_(_learner_ids(session, scope, pop))).order_by(ud.day).limit(1)
        )
    candidates = [first_enrolled, first_active]
    found = [c for c in candidates if c is not None]
    return min(found) if found else None


__all__ = [
    "active_users_count",
    "active_users_series",
    "completions_count",
    "completions_series",
    "first_activity_date",
    "learner_count",
    "new_users_count",
    "progress_series",
    "status_summary",
]
