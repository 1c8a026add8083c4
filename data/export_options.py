"""What the OPCO logs export dialog offers to choose from, limited to the viewer's sessions.

The people offered are the sessions' people (registered learners and anyone with a connection
in a session the viewer may export); the classes and custom field values are theirs. Custom
field columns are every field of the platform: the export's header does not depend on filters.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, exists, func, select, union
from sqlalchemy.orm import Session

from data.models import (
    Class,
    ClassMember,
    Connection,
    ProgramSession,
    SessionLearner,
    Training,
    User,
    UserField,
)
from data.scope import Scope
from data.text import fold

USER_OPTIONS_LIMIT = 50
FIELD_VALUE_OPTIONS_LIMIT = 2000


@dataclass(frozen=True)
class Option:
    value: str
    label: str


def _sessions_in_scope(scope: Scope) -> Select:
    return select(ProgramSession.id).where(
        scope.session_filter(ProgramSession.id, ProgramSession.training_id)
    )


def _session_people(scope: Scope, session_ids: tuple[str, ...] = ()) -> Select:
    """Ids of the people of the viewer's sessions (or of session_ids among them)."""
    sessions = _sessions_in_scope(scope)
    if session_ids:
        sessions = sessions.where(ProgramSession.id.in_(sorted(set(session_ids))))
    sessions_sq = sessions.scalar_subquery()
    return union(
        select(SessionLearner.user_id).where(SessionLearner.session_id.in_(sessions_sq)),
        select(Connection.user_id).where(Connection.session_id.in_(sessions_sq)),
    )


def exportable_session_count(session: Session, scope: Scope) -> int:
    return session.scalar(select(func.count()).select_from(_sessions_in_scope(scope).subquery())) or 0


def session_options(session: Session, scope: Scope) -> list[Option]:
    """The viewer's sessions: "Session name — Training (id)", by name."""
    rows = session.execute(
        select(ProgramSession.id, ProgramSession.name, Training.name)
        .join(Training, Training.id == ProgramSession.training_id)
        .where(scope.session_filter(ProgramSession.id, ProgramSession.training_id))
    ).all()
    rows = sorted(rows, key=lambda r: (fold(r[1]), fold(r[2]), r[0]))
    return [Option(sid, f"{name} — {training} ({sid})") for sid, name, training in rows]


def class_options(session: Session, scope: Scope) -> list[Option]:
    """Classes with at least one member among the sessions' people."""
    people = _session_people(scope).subquery()
    rows = session.execute(
        select(Class.id, Class.name).where(
            exists().where(
                ClassMember.class_id == Class.id, ClassMember.user_id.in_(select(people.c.user_id))
            )
        )
    ).all()
    rows = sorted(rows, key=lambda r: (fold(r[1]), r[0]))
    return [Option(cid, name) for cid, name in rows]


def field_names(session: Session) -> list[str]:
    """Every custom field of the platform, alphabetical (case and accents ignored)."""
    names = session.scalars(select(UserField.field).distinct()).all()
    return sorted(names, key=lambda n: (fold(n), n))


def field_value_options(session: Session, scope: Scope) -> list[tuple[str, str]]:
    """Distinct (field, value) pairs of the sessions' people, by field then value."""
    people = _session_people(scope).subquery()
    rows = session.execute(
        select(UserField.field, UserField.value)
        .where(UserField.user_id.in_(select(people.c.user_id)))
        .distinct()
        .limit(FIELD_VALUE_OPTIONS_LIMIT)
    ).all()
    return sorted(((f, v or "") for f, v in rows), key=lambda p: (fold(p[0]), p[0], fold(p[1]), p[1]))


def _person_label(last: str, first: str, email: str) -> str:
    name = f"{last or ''} {first or ''}".strip()
    return f"{name} ({email})" if name else email


def user_options(
    session: Session,
    scope: Scope,
    search: str | None = None,
    include: tuple[str, ...] = (),
    limit: int = USER_OPTIONS_LIMIT,
) -> list[Option]:
    """People of the viewer's sessions matching search (name or email, accents ignored), in
    SPEC §4's order, at most `limit`; the ids in `include` (already chosen) always come back."""
    people = _session_people(scope).subquery()
    in_scope: ColumnElement[bool] = User.id.in_(select(people.c.user_id))
    q = select(User.id, User.last_name, User.first_name, User.email).where(in_scope)
    for word in fold(search).split():
        q = q.where(User.search_text.contains(word, autoescape=True))
    found = session.execute(q.order_by(User.sort_key, User.id).limit(limit)).all()
    chosen = []
    missing = [i for i in include if i not in {r[0] for r in found}]
    if missing:
        chosen = session.execute(
            select(User.id, User.last_name, User.first_name, User.email).where(
                in_scope, User.id.in_(sorted(set(missing)))
            )
        ).all()
    return [Option(uid, _person_label(last, first, email)) for uid, last, first, email in [*chosen, *found]]


__all__ = [
    "Option",
    "class_options",
    "exportable_session_count",
    "field_names",
    "field_value_options",
    "session_options",
    "user_options",
]
