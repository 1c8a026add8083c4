"""The BPF's cadre F-1 (SPEC §10, Cerfa 10443): trainees and trainee-hours of a period, by
category a–e, in one set-based query.

A trainee is a learner with time spent in the period: someone enrolled in a training (SPEC §4:
a manager without enrollments is not a learner), not an admin, with connections that started
in the period (platform days, inclusive); blocked users count (the BPF declares what
happened). Their hours are the exact sum of those connections (every module, each connection
once), from the summary layer's per-day table (summary_user_module_days, one row per user,
module and local day of a connection's start). The category is the value of one user custom
field mapped to a–e; a value not mapped, or no value, counts in e.

The query groups in the database twice (per user, then per category): its cost is the number of
per-day rows in the period, never a Python loop over learners (`make bench`: a year of 100,000
learners).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, exists, func, literal, select
from sqlalchemy.orm import Session

from data.models import Role, SummaryUserModuleDay, TrainingLearner, UserField
from data.scope import Forbidden, Scope

LINES = ("a", "b", "c", "d", "e")
OTHER = "e"  # unmapped values and missing fields
LONG_PERIOD_DAYS = 62  # beyond about two months, scan rather than use the day index


def may_see_bpf(scope: Scope) -> bool:
    """SPEC §10 / issue 19: admins and statistics managers only."""
    return scope.is_admin or scope.is_statistics_manager


@dataclass(frozen=True)
class BpfFigures:
    """Per line a–e: (trainees, exact seconds); the total is their sum."""

    start: date
    end: date
    field: str
    lines: dict[str, tuple[int, float]]

    @property
    def trainees(self) -> int:
        return sum(n for n, _ in self.lines.values())

    @property
    def seconds(self) -> float:
        return sum(s for _, s in self.lines.values())


def bpf_figures(
    session: Session, scope: Scope, start: date, end: date, field: str, mapping: Mapping[str, str]
) -> BpfFigures:
    """The cadre F-1's figures for the period [start, end]; mapping: field value -> a–e."""
    if not may_see_bpf(scope):
        raise Forbidden()
    d = SummaryUserModuleDay
    # Over a long period most rows qualify: reading the table in its key order (user first)
    # and grouping as it goes beats fetching each row through the day index (SQLite chose the
    # index: 5 s against 1.2 s for a year of 100,000 learners). coalesce(day, day) is the day,
    # but not an indexed expression, so the planner reads the table instead.
    day = func.coalesce(d.day, d.day) if (end - start).days > LONG_PERIOD_DAYS else d.day
    per_user = (
        select(d.user_id.label("user_id"), func.sum(d.seconds).label("seconds"))
        .where(day >= start, day <= end)
        .group_by(d.user_id)
        .subquery()
    )
    known = {value: letter for value, letter in mapping.items() if letter in LINES and letter != OTHER}
    category = (case(known, value=UserField.value, else_=literal(OTHER)) if known else literal(OTHER)).label(
        "category"
    )
    query = (
        select(category, func.count(), func.sum(per_user.c.seconds))
        .select_from(per_user)
        .outerjoin(UserField, and_(UserField.user_id == per_user.c.user_id, UserField.field == field))
        .where(
            exists().where(TrainingLearner.user_id == per_user.c.user_id),
            ~exists().where(Role.user_id == per_user.c.user_id, Role.role == "admin"),
        )
        .group_by(category)
    )
    lines = {letter: (0, 0.0) for letter in LINES}
    for letter, trainees, seconds in session.execute(query):
        lines[letter] = (int(trainees), float(seconds or 0.0))
    return BpfFigures(start=start, end=end, field=field, lines=lines)


def category_values(session: Session, scope: Scope, field: str) -> list[str]:
    """The values a custom field takes (the page's mapping rows)."""
    if not may_see_bpf(scope):
        raise Forbidden()
    return list(
        session.scalars(
            select(UserField.value)
            .where(UserField.field == field, UserField.value != "")
            .distinct()
            .order_by(UserField.value)
        )
    )


def field_names(session: Session, scope: Scope) -> list[str]:
    if not may_see_bpf(scope):
        raise Forbidden()
    return list(session.scalars(select(UserField.field).distinct().order_by(UserField.field)))


__all__ = ["LINES", "OTHER", "BpfFigures", "bpf_figures", "category_values", "field_names", "may_see_bpf"]
