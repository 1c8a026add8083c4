"""Resolve a user's roles (SPEC §6) into the Scope that data/ functions require."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import GLOBAL_ROLES, ClassTraining, Role
from data.scope import Scope


def load_scope(session: Session, user_id: str) -> Scope:
    rows = session.execute(select(Role.role, Role.scope_id).where(Role.user_id == user_id)).all()
    roles: dict[str, set[str]] = defaultdict(set)
    for role, scope_id in rows:
        roles[role].add(scope_id)
    classes = frozenset(roles.get("class_manager", ()))
    class_trainings: dict[str, set[str]] = defaultdict(set)
    if classes:
        for class_id, training_id in session.execute(
            select(ClassTraining.class_id, ClassTraining.training_id).where(
                ClassTraining.class_id.in_(sorted(classes))
            )
        ):
            class_trainings[class_id].add(training_id)
    return Scope(
        user_id=user_id,
        is_global=any(r in roles for r in GLOBAL_ROLES),
        is_admin="admin" in roles,
        is_statistics_manager="statistics_manager" in roles,
        trainings=frozenset(roles.get("training_manager", ())),
        classes=classes,
        sessions=frozenset(roles.get("session_instructor", ())),
        class_trainings={c: frozenset(t) for c, t in class_trainings.items()},
    )
