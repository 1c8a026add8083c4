"""At-risk learners (SPEC §9): who of a population is at risk on a date d, and why.

Everything is judged as of the end of d (platform time zone), from the summary layer, in one
pass over the population's summary_pairs (read from the covering index
ix_summary_pairs_at_risk, migration 0013):
- enrolled by then, training not completed then, the mandatory modules failed then, progress
  and score then: the stored columns, or the pair's latest summary_pair_history row before the
  end of d when an attempt started or finished after d (summary_pairs.last_event_at);
- the last activity day on or before d: summary_pairs.last_activity_day, or the latest of the
  pair's summary_pair_days up to d when the learner was active in the training after d;
- late: the learner's sessions (session_learners by user), each one's training and end date.

The card (`at_risk_counts`: the range's end and the previous period's in one pass) counts
learners; the list (`at_risk_rows`) finds its first blocks in the default order learner by
learner (`_keys_by_learner`) and computes the shown columns for the shown rows only; other sorts,
deep pages and whole lists sort every at-risk row in SQL.

The rule itself (which reasons, their limits) is data/rules.py `at_risk`; the SQL here mirrors
it, every row is checked against it, and tests/integration/data/test_at_risk.py (by hand) and
test_summary_properties.py (against tests/reference.py) check the readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Float, and_, case, exists, func, literal, null, or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from data import rules
from data.cache import memoized
from data.figures._pairs import NO_DAY, pair_conditions
from data.figures.days import day_end_utc, local_date
from data.figures.population import Population
from data.models import (
    Module,
    ProgramSession,
    SessionLearner,
    SummaryPair,
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


@dataclass(frozen=True)
class _AsOf:
    """The population's pairs (conditions on summary_pairs) and their state at the end of a day.

    One pass over summary_pairs, no CTE and no UNION: the stored columns are the state of every
    pair without an attempt after the day (last_event_at) nor activity after it
    (last_activity_day); only the others read their summary_pair_history row or their
    summary_pair_days, each by its primary key (the CASE evaluates the lookup for them only)."""

    where: list  # the population's pairs enrolled by the end of the day
    enrolled: ColumnElement  # the last condition of `where`: enrolled by then
    last_activity: ColumnElement
    status: ColumnElement
    failed: ColumnElement
    completed_modules: ColumnElement
    score: ColumnElement


def _as_of(session: Session, scope: Scope, pop: Population, tz: ZoneInfo, on: date) -> _AsOf:
    until = day_end_utc(on, tz)
    p = SummaryPair.__table__
    changed = p.c.last_event_at >= until  # NULL (no attempt ever): the stored state
    h = SummaryPairHistory.__table__

    def then(column):  # the pair's latest history row before the end of the day
        return (
            select(column)
            .where(h.c.user_id == p.c.user_id, h.c.training_id == p.c.training_id, h.c.at < until)
            .order_by(h.c.at.desc())
            .limit(1)
            .correlate(p)
            .scalar_subquery()
        )

    d = SummaryPairDay.__table__
    earlier_day = (
        select(func.max(d.c.day))
        .where(d.c.user_id == p.c.user_id, d.c.training_id == p.c.training_id, d.c.day <= on)
        .correlate(p)
        .scalar_subquery()
    )
    initial_score = case((p.c.mandatory_modules > 0, literal(0.0, Float)), else_=null())
    where = pair_conditions(session, scope, pop, enrolled_by=until)
    return _AsOf(
        where=where,
        enrolled=where[-1],
        last_activity=case((p.c.last_activity_day > on, earlier_day), else_=p.c.last_activity_day),
        status=case((changed, func.coalesce(then(h.c.status), "not started")), else_=p.c.status),
        failed=case((changed, func.coalesce(then(h.c.failed_modules), "")), else_=p.c.failed_modules),
        completed_modules=case(
            (changed, func.coalesce(then(h.c.completed_modules), 0)), else_=p.c.completed_modules
        ),
        score=case(
            (changed, case((then(h.c.at).is_(None), initial_score), else_=then(h.c.score))),
            else_=p.c.score,
        ),
    )


@dataclass(frozen=True)
class _Reasons:
    inactive: ColumnElement
    failing: ColumnElement
    late: ColumnElement
    open: ColumnElement

    @property
    def where(self) -> list:
        # Cheapest first: SQLite stops at the first true term of the OR.
        return [self.open, or_(self.failing, self.inactive, self.late)]


def _reasons(x: _AsOf, on: date, days: int, tz: ZoneInfo) -> _Reasons:
    """rules.at_risk in SQL over _as_of's expressions."""
    p = SummaryPair.__table__
    cutoff = on - timedelta(days=days)
    # Since the last activity, else since the enrollment (none: "inactive" is not judged).
    since = func.coalesce(x.last_activity, case((p.c.enrolled_day != NO_DAY, p.c.enrolled_day), else_=null()))
    sl, ps = SessionLearner.__table__, ProgramSession.__table__
    late_until = day_end_utc(on + timedelta(days=rules.LATE_WITHIN_DAYS), tz)
    # The learner's few sessions (session_learners by user), then each one's training and end
    # by primary key: with both conditions in one join SQLite starts from the training's
    # sessions instead, hundreds per pair.
    ends_soon = (
        select(ps.c.id)
        .where(ps.c.id == sl.c.session_id, ps.c.training_id == p.c.training_id, ps.c.ends_at < late_until)
        .correlate(sl, p)
    )
    late = exists(select(sl.c.session_id).where(sl.c.user_id == p.c.user_id, exists(ends_soon)).correlate(p))
    return _Reasons(
        inactive=since <= cutoff,
        failing=x.failed != "",
        late=late,
        open=x.status.not_in(rules.COMPLETED_STATUSES),
    )


def check_days(days) -> int:
    """The number of days of a request: a whole number from 1 to MAX_DAYS (ValueError else)."""
    value = int(days)
    if not 1 <= value <= MAX_DAYS:
        raise ValueError(f"days must be from 1 to {MAX_DAYS}, not {value}")
    return value


def _one_pair_per_learner(pop: Population) -> bool:
    """One training: a learner has one pair at most, so pairs count learners."""
    return pop.training_id is not None


@memoized
def at_risk_count(session: Session, scope: Scope, pop: Population, tz: ZoneInfo, on: date, days: int) -> int:
    """Distinct learners of the population at risk in at least one training on `on`."""
    (count,) = at_risk_counts.__wrapped__(session, scope, pop, tz, (on,), days)
    return count


@memoized
def at_risk_counts(
    session: Session, scope: Scope, pop: Population, tz: ZoneInfo, ons: tuple[date, ...], days: int
) -> tuple[int, ...]:
    """at_risk_count on each day of `ons` (the card: the range's end and the previous
    period's), in one pass over the population's pairs."""
    days = check_days(days)
    latest = max(ons)
    p = SummaryPair.__table__
    counts = []
    for on in ons:
        x = _as_of(session, scope, pop, tz, on)
        reasons = _reasons(x, on, days, tz)
        flag = and_(x.enrolled, *reasons.where) if on != latest else and_(*reasons.where)
        if _one_pair_per_learner(pop):
            counts.append(func.coalesce(func.sum(case((flag, 1), else_=0)), 0))
        else:
            counts.append(func.count(func.distinct(case((flag, p.c.user_id), else_=null()))))
    where = _as_of(session, scope, pop, tz, latest).where
    row = session.execute(select(*counts).select_from(p).where(*where)).one()
    return tuple(int(n or 0) for n in row)


def _search_conditions(search) -> list:
    return [User.search_text.contains(word, autoescape=True) for word in search_words(search)]


# The list's first rows in SPEC §4's order of people are found learner by learner (users in
# sort_key order, a chunk at a time) when at least this many rows are at risk: the first block
# then costs what its own learners cost, not a sort of every at-risk row. Deeper pages, other
# sorts and whole lists sort every at-risk row in SQL.
KEYSET_MIN_ROWS = 2000
KEYSET_MAX_ROWS = 2000
KEYSET_CHUNK = 200  # users read at least at a time


def _first_sessions(user_ids=None):
    """Each (learner, training)'s session ending first (without an end last, then by id), of
    the learners given (None: everyone), as a subquery to join."""
    ps, sl = ProgramSession, SessionLearner
    ranked = select(
        sl.user_id,
        ps.training_id,
        ps.id.label("session_id"),
        func.row_number()
        .over(
            partition_by=(sl.user_id, ps.training_id),
            order_by=(case((ps.ends_at.is_(None), 1), else_=0), ps.ends_at, ps.id),
        )
        .label("rank"),
    ).join(ps, ps.id == sl.session_id)
    if user_ids is not None:
        ranked = ranked.where(sl.user_id.in_(user_ids))
    ranked = ranked.subquery("ranked_sessions")
    return (
        select(ranked.c.user_id, ranked.c.training_id, ranked.c.session_id)
        .where(ranked.c.rank == 1)
        .subquery("first_sessions")
    )


def _rows_query(x: _AsOf, reasons: _Reasons, first, where: list):
    """The list's rows (every column it shows or sorts by) of the pairs matching `where`."""
    p = SummaryPair.__table__
    ps = aliased(ProgramSession)
    flag = lambda condition: case((condition, 1), else_=0)  # noqa: E731
    return (
        select(
            p.c.user_id,
            p.c.training_id,
            p.c.enrolled_day,
            x.last_activity.label("last_activity"),
            x.status.label("status"),
            x.failed.label("failed_modules"),
            case(
                (p.c.modules > 0, 100.0 * x.completed_modules / func.cast(p.c.modules, Float)),
                else_=0.0,
            ).label("progress"),
            x.score.label("score"),
            (flag(reasons.inactive) + flag(reasons.failing) + flag(reasons.late)).label("reason_count"),
            first.c.session_id,
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
        .select_from(p)
        .join(User, User.id == p.c.user_id)
        .join(Training, Training.id == p.c.training_id)
        .outerjoin(first, and_(first.c.user_id == p.c.user_id, first.c.training_id == p.c.training_id))
        .outerjoin(ps, ps.id == first.c.session_id)
        .where(*where)
    ).subquery("at_risk_rows")


def _keys_by_learner(session: Session, where: list, search, want: int, total: int) -> list[tuple[str, str]]:
    """The first `want` at-risk (user_id, training_id) in the list's default order, learner by
    learner: users in sort_key order a chunk at a time (the last name's ties completed, since
    rows of equal names order by training across learners), their at-risk pairs sorted."""
    p = SummaryPair.__table__
    users = session.scalar(select(func.count()).select_from(User)) or 1
    chunk = max(KEYSET_CHUNK, int(want * users / max(total, 1) * 1.25) + 1)
    keys: list[tuple[str, str]] = []
    after = None
    while len(keys) < want:
        q = select(User.id, User.sort_key).where(*_search_conditions(search)).order_by(User.sort_key)
        if after is not None:
            q = q.where(User.sort_key > after)
        found = session.execute(q.limit(chunk)).all()
        if not found:
            break
        ids = {u for u, _key in found}
        if len(found) == chunk:
            after = found[-1][1]
            ids |= set(
                session.scalars(select(User.id).where(User.sort_key == after, *_search_conditions(search)))
            )
        rows = session.execute(
            select(p.c.user_id, p.c.training_id)
            .join(User, User.id == p.c.user_id)
            .join(Training, Training.id == p.c.training_id)
            .where(*where, p.c.user_id.in_(sorted(ids)))
            .order_by(User.sort_key, func.lower(Training.name), Training.id, User.id)
        ).all()
        keys.extend((u, t) for u, t in rows)
        if len(found) < chunk:
            break
        chunk = min(chunk * 2, 20_000)
    return keys[:want]


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
    for column, _ascending in sort:
        if column not in AT_RISK_SORTS:
            raise ValueError(f"cannot sort by {column!r}")
    x = _as_of(session, scope, pop, tz, on)
    reasons = _reasons(x, on, days, tz)
    p = SummaryPair.__table__
    where = [*x.where, *reasons.where]
    searched = _search_conditions(search)
    total_q = select(func.count()).select_from(p).where(*where)
    if searched:
        total_q = total_q.join(User, User.id == p.c.user_id).where(*searched)
    total = session.scalar(total_q) or 0
    default_order = all(column == "learner" and ascending for column, ascending in sort)
    if limit is not None and default_order and total >= KEYSET_MIN_ROWS and offset + limit <= KEYSET_MAX_ROWS:
        keys = _keys_by_learner(session, where, search, offset + limit, total)[offset:]
        if not keys:
            return [], int(total)
        rows = _rows_query(
            x,
            reasons,
            _first_sessions(sorted({u for u, _t in keys})),
            [tuple_(p.c.user_id, p.c.training_id).in_(keys)],
        )
        position = {key: i for i, key in enumerate(keys)}
        found = sorted(
            session.execute(select(rows)).mappings().all(),
            key=lambda r: position[(r["user_id"], r["training_id"])],
        )
    else:
        rows = _rows_query(x, reasons, _first_sessions(), [*where, *searched])
        order = []
        for column, ascending in sort:
            col = rows.c[AT_RISK_SORTS[column]]
            order.append(case((col.is_(None), 1), else_=0))  # missing values last either way
            order.append(col.asc() if ascending else col.desc())
        # user_id last: learners of one sort key in one training still have an order (pages).
        order += [rows.c.sort_key, rows.c.training_sort, rows.c.training_id, rows.c.user_id]
        q = select(rows).order_by(*order).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        found = session.execute(q).mappings().all()
    return _records(session, found, on, days, tz), int(total)


def _records(session: Session, found, on: date, days: int, tz: ZoneInfo) -> list[AtRiskRow]:
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
    return out


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
    "at_risk_counts",
    "at_risk_rows",
    "check_days",
    "learner_reasons",
]
