"""What the OPCO logs export dialog offers to choose from, limited to the viewer's sessions.

The people offered are the sessions' people (registered learners and anyone with a connection
in a session the viewer may export); the classes and custom field values are theirs. Custom
field columns are every field of the platform: the export's header does not depend on filters.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import Session

from data.cache import memoized
from data.models import (
    Class,
    ClassMember,
    ProgramSession,
    SummarySessionUser,
    Training,
    User,
    UserField,
)
from data.scope import Scope
from data.summaries import refresh_pending
from data.text import fold, search_words

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


def _in_sessions(user_col, scope: Scope) -> ColumnElement[bool]:
    """The user is one of the people of the viewer's sessions (registered or connected: the
    rows of summary_session_users, kept by every write). An EXISTS per candidate row, so that a
    query walking users in order stops as soon as it has its page."""
    su = SummarySessionUser
    return exists().where(
        su.user_id == user_col, su.session_id.in_(_sessions_in_scope(scope).scalar_subquery())
    )


def exportable_session_count(session: Session, scope: Scope) -> int:
    return session.scalar(select(func.count()).select_from(_sessions_in_scope(scope).subquery())) or 0


@memoized
def session_options(session: Session, scope: Scope) -> list[Option]:
    """The viewer's sessions: "Session name — Training (id)", by name."""
    rows = session.execute(
        select(ProgramSession.id, ProgramSession.name, Training.name)
        .join(Training, Training.id == ProgramSession.training_id)
        .where(scope.session_filter(ProgramSession.id, ProgramSession.training_id))
    ).all()
    rows = sorted(rows, key=lambda r: (fold(r[1]), fold(r[2]), r[0]))
    return [Option(sid, f"{name} — {training} ({sid})") for sid, name, training in rows]


@memoized
def class_options(session: Session, scope: Scope) -> list[Option]:
    """Classes with at least one member among the sessions' people."""
    refresh_pending(session)
    rows = session.execute(
        select(Class.id, Class.name).where(
            exists().where(ClassMember.class_id == Class.id, _in_sessions(ClassMember.user_id, scope))
        )
    ).all()
    rows = sorted(rows, key=lambda r: (fold(r[1]), r[0]))
    return [Option(cid, name) for cid, name in rows]


def field_names(session: Session) -> list[str]:
    """Every custom field of the platform, alphabetical (case and accents ignored)."""
    names = session.scalars(select(UserField.field).distinct()).all()
    return sorted(names, key=lambda n: (fold(n), n))


@memoized
def field_value_options(session: Session, scope: Scope) -> list[tuple[str, str]]:
    """Distinct (field, value) pairs of the sessions' people, by field then value."""
    refresh_pending(session)
    su = SummarySessionUser
    people = select(su.user_id).where(su.session_id.in_(_sessions_in_scope(scope).scalar_subquery()))
    rows = session.execute(
        select(UserField.field, UserField.value)
        .where(UserField.user_id.in_(people))
        .distinct()
        .limit(FIELD_VALUE_OPTIONS_LIMIT)
    ).all()
    return sorted(((f, v or "") for f, v in rows), key=lambda p: (fold(p[0]), p[0], fold(p[1]), p[1]))


def _person_label(last: str, first: str, email: str) -> str:
    name = f"{last or ''} {first or ''}".strip()
    return f"{name} ({email})" if name else email


@memoized
def user_options(
    session: Session,
    scope: Scope,
    search: str | None = None,
    include: tuple[str, ...] = (),
    limit: int = USER_OPTIONS_LIMIT,
) -> list[Option]:
    """People of the viewer's sessions matching search (name or email, accents ignored), in
    SPEC §4's order, at most `limit`; the ids in `include` (already chosen) always come back."""
    refresh_pending(session)
    in_scope = _in_sessions(User.id, scope)
    q = select(User.id, User.last_name, User.first_name, User.email).where(in_scope)
    for word in search_words(search):
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
