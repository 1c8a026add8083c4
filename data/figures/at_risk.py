"""At-risk learners (SPEC §9): who of a population is at risk on a date d, and why.

Everything is judged as of the end of d (platform time zone), from the summary layer:
- enrolled by then, training not completed then, the mandatory modules failed then, progress
  and score then: summary_pairs, or the pair's summary_pair_history when an attempt started
  or finished after d (summary_pairs.last_event_at);
- the last activity day on or before d: summary_pairs.last_activity_day, or the latest of the
  pair's summary_pair_days up to d when the learner was active in the training after d;
- late: the learner's sessions of the training (session_learners, program_sessions.ends_at).

The rule itself (which reasons, their limits) is data/rules.py `at_risk`; the SQL here mirrors
it and tests/integration/data/test_at_risk.py checks one against the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Float, and_, case, func, literal, null, or_, select, tuple_, union_all
from sqlalchemy.orm import Session

from data import rules
from data.cache import memoized
from data.figures._pairs import NO_DAY, pairs
from data.figures.days import day_end_utc, local_date
from data.figures.population import Population
from data.models import (
    Module,
    ProgramSession,
    SessionLearner,
    SummaryPairDay,
    SummaryPairHistory,
    Training,
    User,
)
from data.scope import Scope
from data.text import search_words

# The page's number of days without activity when none is given (LEARNSTATS_AT_RISK_DAYS).
DEFAULT_DAYS = 14
MAX_DAYS = 3650

# The list's sortable columns -> the subquery's column.
AT_RISK_SORTS = {
    "learner": "sort_key",
    "training": "training_sort",
    "reasons": "reason_count",
    "last_activity": "last_activity",
    "progress": "progress",
    "score": "score",
    "session": "session_sort",
}


@dataclass(frozen=True)
class AtRiskRow:
    """One (learner, training) at risk on `on`, with its reasons (rules.AtRisk)."""

    user_id: str
    email: str
    first_name: str
    last_name: str
    training_id: str
    training: str
    reasons: rules.AtRisk
    failed_names: tuple[str, ...]  # the failed modules' names, in the training's order
    last_activity: date | None
    progress: float
    score: float | None
    session_id: str | None  # the learner's earliest-ending session of the training
    session: str | None


def _as_of(session: Session, scope: Scope, pop: Population, tz: ZoneInfo, on: date):
    """Per pair of the population enrolled by the end of `on`: user_id, training_id,
    enrolled_day, modules, last_activity (<= on), status (before expiry), completed_modules,
    score, failed_modules — as they were at the end of `on`."""
    until = day_end_utc(on, tz)
    rows = pairs(session, scope, pop, enrolled_by=until, name="risk_pairs")
    d = SummaryPairDay
    earlier_day = (
        select(func.max(d.day))
        .where(d.user_id == rows.c.user_id, d.training_id == rows.c.training_id, d.day <= on)
        .correlate(rows)
        .scalar_subquery()
    )
    last_activity = case(
        (or_(rows.c.last_activity_day.is_(None), rows.c.last_activity_day <= on), rows.c.last_activity_day),
        else_=earlier_day,
    ).label("last_activity")
    base = (
        rows.c.user_id,
        rows.c.training_id,
        rows.c.enrolled_day,
        rows.c.modules,
        last_activity,
    )
    settled = select(
        *base, rows.c.status, rows.c.completed_modules, rows.c.score, rows.c.failed_modules
    ).where(or_(rows.c.last_event_at.is_(None), rows.c.last_event_at < until))
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
            *base,
            func.coalesce(h.status, "not started").label("status"),
            func.coalesce(h.completed_modules, 0).label("completed_modules"),
            case((h.at.is_(None), initial_score), else_=h.score).label("score"),
            func.coalesce(h.failed_modules, "").label("failed_modules"),
        )
        .select_from(rows)
        .outerjoin(h, and_(h.user_id == rows.c.user_id, h.training_id == rows.c.training_id, h.at == latest))
        .where(rows.c.last_event_at >= until)
    )
    return union_all(settled, past).subquery("pairs_on")


def _conditions(x, on: date, days: int, tz: ZoneInfo):
    """(inactive, failing, late, not completed) over _as_of's rows: rules.at_risk in SQL."""
    cutoff = on - timedelta(days=days)
    inactive = or_(
        x.c.last_activity <= cutoff,
        and_(x.c.last_activity.is_(None), x.c.enrolled_day != NO_DAY, x.c.enrolled_day <= cutoff),
    )
    failing = x.c.failed_modules != ""
    ps, sl = ProgramSession, SessionLearner
    late_until = day_end_utc(on + timedelta(days=rules.LATE_WITHIN_DAYS), tz)
    # The (learner, training) pairs of sessions ending by then, built once: a correlated EXISTS
    # went through every session of the pair's training for each pair (SQLite starts from
    # program_sessions by training), quadratic on a large platform.
    late = tuple_(x.c.user_id, x.c.training_id).in_(
        select(sl.user_id, ps.training_id).join(ps, ps.id == sl.session_id).where(ps.ends_at < late_until)
    )
    open_ = x.c.status.not_in(rules.COMPLETED_STATUSES)
    return inactive, failing, late, open_


def check_days(days) -> int:
    """The number of days of a request: a whole number from 1 to MAX_DAYS (ValueError else)."""
    value = int(days)
    if not 1 <= value <= MAX_DAYS:
        raise ValueError(f"days must be from 1 to {MAX_DAYS}, not {value}")
    return value


@memoized
def at_risk_count(session: Session, scope: Scope, pop: Population, tz: ZoneInfo, on: date, days: int) -> int:
    """Distinct learners of the population at risk in at least one training on `on`."""
    x = _as_of(session, scope, pop, tz, on)
    inactive, failing, late, open_ = _conditions(x, on, check_days(days), tz)
    q = select(func.count(func.distinct(x.c.user_id))).where(open_, or_(inactive, failing, late))
    return session.scalar(q) or 0


def _select(session: Session, scope: Scope, pop: Population, tz: ZoneInfo, on: date, days: int, search):
    x = _as_of(session, scope, pop, tz, on)
    inactive, failing, late, open_ = _conditions(x, on, days, tz)
    ps, sl = ProgramSession, SessionLearner
    # Each (learner, training)'s session ending first (without an end last, then by id), for
    # every pair at once: a correlated ORDER BY ... LIMIT 1 per pair went through every session
    # of the training for each pair.
    ranked = (
        select(
            sl.user_id,
            ps.training_id,
            ps.id.label("session_id"),
            func.row_number()
            .over(
                partition_by=(sl.user_id, ps.training_id),
                order_by=(case((ps.ends_at.is_(None), 1), else_=0), ps.ends_at, ps.id),
            )
            .label("rank"),
        )
        .join(ps, ps.id == sl.session_id)
        .subquery("ranked_sessions")
    )
    first = (
        select(ranked.c.user_id, ranked.c.training_id, ranked.c.session_id)
        .where(ranked.c.rank == 1)
        .subquery("first_sessions")
    )
    first_session = first.c.session_id
    flag = lambda condition: case((condition, 1), else_=0)  # noqa: E731
    found = (
        select(
            x.c.user_id,
            x.c.training_id,
            x.c.enrolled_day,
            x.c.last_activity,
            x.c.status,
            x.c.failed_modules,
            case(
                (x.c.modules > 0, 100.0 * x.c.completed_modules / func.cast(x.c.modules, Float)),
                else_=0.0,
            ).label("progress"),
            x.c.score,
            (flag(inactive) + flag(failing) + flag(late)).label("reason_count"),
            first_session.label("session_id"),
        )
        .select_from(x)
        .outerjoin(first, and_(first.c.user_id == x.c.user_id, first.c.training_id == x.c.training_id))
        .where(open_, or_(inactive, failing, late))
        .subquery("at_risk")
    )
    q = (
        select(
            found,
            User.email,
            User.first_name,
            User.last_name,
            User.sort_key,
            Training.name.label("training"),
            func.lower(Training.name).label("training_sort"),
            ps.name.label("session"),
            func.lower(ps.name).label("session_sort"),
            ps.ends_at.label("session_ends_at"),
        )
        .join(User, User.id == found.c.user_id)
        .join(Training, Training.id == found.c.training_id)
        .outerjoin(ps, ps.id == found.c.session_id)
    )
    for word in search_words(search):
        q = q.where(User.search_text.contains(word, autoescape=True))
    return q.subquery("at_risk_rows")


@memoized
def at_risk_rows(
    session: Session,
    scope: Scope,
    pop: Population,
    tz: ZoneInfo,
    on: date,
    days: int,
    search: str | None = None,
    sort: tuple[tuple[str, bool], ...] = (),
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[AtRiskRow], int]:
    """A page of the population's at-risk (learner, training) rows on `on` and their total.

    sort: (column, ascending) pairs among AT_RISK_SORTS; then SPEC §4's order of people, then
    the training's name. search: accent- and case-insensitive words of name or email."""
    days = check_days(days)
    rows = _select(session, scope, pop, tz, on, days, search)
    order = []
    for column, ascending in sort:
        name = AT_RISK_SORTS.get(column)
        if name is None:
            raise ValueError(f"cannot sort by {column!r}")
        col = rows.c[name]
        order.append(case((col.is_(None), 1), else_=0))  # missing values last either way
        order.append(col.asc() if ascending else col.desc())
    order += [rows.c.sort_key, rows.c.training_sort, rows.c.training_id]
    q = select(rows, func.count().over().label("total_rows")).order_by(*order).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    found = session.execute(q).mappings().all()
    total = found[0]["total_rows"] if found else session.scalar(select(func.count()).select_from(rows)) or 0
    module_ids = {m for r in found for m in (r["failed_modules"] or "").split()}
    names = (
        dict(session.execute(select(Module.id, Module.name).where(Module.id.in_(sorted(module_ids)))).all())
        if module_ids
        else {}
    )
    out = []
    for r in found:
        failed = tuple((r["failed_modules"] or "").split())
        end = local_date(r["session_ends_at"], tz)
        reasons = rules.at_risk(
            on,
            days,
            status=r["status"],
            last_activity=r["last_activity"],
            enrolled_on=None if r["enrolled_day"] == NO_DAY else r["enrolled_day"],
            failed=failed,
            sessions=[(r["session_id"], end)] if r["session_id"] else [],
        )
        if reasons is None:  # the SQL and the rule disagree: a bug, not a row to hide
            raise AssertionError(
                f"at-risk rule and query disagree on {r['user_id']!r} in {r['training_id']!r}"
            )
        out.append(
            AtRiskRow(
                user_id=r["user_id"],
                email=r["email"],
                first_name=r["first_name"] or "",
                last_name=r["last_name"] or "",
                training_id=r["training_id"],
                training=r["training"],
                reasons=reasons,
                failed_names=tuple(names.get(m, m) for m in failed),
                last_activity=r["last_activity"],
                progress=float(r["progress"] or 0.0),
                score=r["score"],
                session_id=r["session_id"],
                session=r["session"],
            )
        )
    return out, int(total)


@memoized
def learner_reasons(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, on: date, days: int
) -> dict[str, AtRiskRow]:
    """A learner page's at-risk rows by training (pop: the learner's population)."""
    found, _ = at_risk_rows.__wrapped__(session, scope, pop, tz, on, days)
    return {row.training_id: row for row in found}


__all__ = [
    "AT_RISK_SORTS",
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "AtRiskRow",
    "at_risk_count",
    "at_risk_rows",
    "check_days",
    "learner_reasons",
]
