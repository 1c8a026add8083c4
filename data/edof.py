"""What the EDOF completion file (SPEC §10) reads: a program session's learners with their first
connection, last disconnection and time spent in it, and whether their training is completed.

The learners of a session are those registered to it and those who connected in it (the
session page's learners), blocked users included: the file declares what happened. Everything
comes from the summary layer (summary_session_users, summary_pairs), one query per session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from data.errors import LearnstatsError
from data.models import ProgramSession, SummaryPair, SummarySessionUser, User
from data.rules import COMPLETED_STATUSES
from data.scope import Forbidden, Scope


class UnknownSession(LearnstatsError, ValueError):
    """A session id that does not exist (said to global roles only: others get Forbidden)."""


@dataclass(frozen=True)
class SessionLearnerTime:
    user_id: str
    last_name: str
    first_name: str
    email: str
    first_connection: datetime | None  # naive UTC
    last_disconnection: datetime | None
    seconds: float  # exact time connected in the session
    training_completed: bool


def require_session(session: Session, scope: Scope, session_id: str) -> ProgramSession:
    """The session, if the viewer may open it (SPEC §6): Forbidden otherwise, unknown ids too
    for anyone but global roles (ids cannot be probed)."""
    program = session.get(ProgramSession, session_id) if isinstance(session_id, str) and session_id else None
    if program is None:
        if scope.is_global:
            raise UnknownSession(f"there is no session with ID {session_id!r}")
        raise Forbidden()
    if not scope.can_view_session(session, session_id):
        raise Forbidden()
    return program


def session_learner_times(
    session: Session, scope: Scope, session_id: str
) -> tuple[ProgramSession, list[SessionLearnerTime]]:
    """The session and its learners, in the order of every list of people (SPEC §4)."""
    program = require_session(session, scope, session_id)
    su, p = SummarySessionUser, SummaryPair
    rows = session.execute(
        select(
            su.user_id,
            User.last_name,
            User.first_name,
            User.email,
            su.first_connection,
            su.last_connection,
            su.time_spent,
            p.status,
        )
        .join(User, User.id == su.user_id)
        .outerjoin(p, and_(p.user_id == su.user_id, p.training_id == program.training_id))
        .where(su.session_id == session_id)
        .order_by(User.sort_key, User.id)
    ).all()
    return program, [
        SessionLearnerTime(
            user_id=user_id,
            last_name=last or "",
            first_name=first or "",
            email=email or "",
            first_connection=start,
            last_disconnection=end,
            seconds=float(seconds or 0.0),
            training_completed=status in COMPLETED_STATUSES,
        )
        for user_id, last, first, email, start, end, seconds, status in rows
    ]


__all__ = ["SessionLearnerTime", "UnknownSession", "require_session", "session_learner_times"]
