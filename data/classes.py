"""Classes in a viewer's scope (SPEC §6: global roles see every class, a class manager theirs)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import false, func, select, true
from sqlalchemy.orm import Session

from data.models import Class, ClassMember, ClassTraining, Training
from data.scope import Forbidden, Scope
from data.text import fold

CLASS_COLUMNS = ["class_id", "class", "members", "trainings"]


def class_filter(scope: Scope, class_col):
    """Condition on the classes whose page the viewer may open."""
    if scope.is_global:
        return true()
    return class_col.in_(sorted(scope.classes)) if scope.classes else false()


def classes_table(session: Session, scope: Scope) -> pd.DataFrame:
    """One row per class in scope: class_id, class (name), members (every member, whatever
    their status), trainings (trainings the class is registered to). Ordered by name."""
    members = (
        select(ClassMember.class_id, func.count().label("members"))
        .group_by(ClassMember.class_id)
        .subquery("class_member_counts")
    )
    trainings = (
        select(ClassTraining.class_id, func.count().label("trainings"))
        .group_by(ClassTraining.class_id)
        .subquery("class_training_counts")
    )
    rows = session.execute(
        select(
            Class.id.label("class_id"),
            Class.name.label("class"),
            func.coalesce(members.c.members, 0).label("members"),
            func.coalesce(trainings.c.trainings, 0).label("trainings"),
        )
        .outerjoin(members, members.c.class_id == Class.id)
        .outerjoin(trainings, trainings.c.class_id == Class.id)
        .where(class_filter(scope, Class.id))
    ).all()
    rows = sorted(rows, key=lambda r: (fold(r[1]), r[0]))
    return pd.DataFrame([tuple(r) for r in rows], columns=CLASS_COLUMNS)


def class_trainings(session: Session, scope: Scope, class_id: str) -> list[tuple[str, str]]:
    """(training id, name) of the trainings the class is registered to, in name order.

    Forbidden unless the viewer may open the class's page."""
    if not scope.can_view_class(class_id):
        raise Forbidden()
    rows = session.execute(
        select(Training.id, Training.name)
        .join(ClassTraining, ClassTraining.training_id == Training.id)
        .where(ClassTraining.class_id == class_id)
    ).all()
    return sorted(((r.id, r.name) for r in rows), key=lambda r: (fold(r[1]), r[0]))


def class_member_count(session: Session, scope: Scope, class_id: str) -> int:
    """Every member of the class (Forbidden unless the viewer may open the class's page)."""
    if not scope.can_view_class(class_id):
        raise Forbidden()
    return session.scalar(select(func.count()).where(ClassMember.class_id == class_id)) or 0


__all__ = ["class_filter", "class_member_count", "class_trainings", "classes_table"]
