"""Program sessions (SPEC §5 "Sessions"; decisions in docs/decisions.md, "Sessions"), read from
summary_session_users (a session's people and their connections in it) and summary_pairs."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import and_, case, func, null, or_, select
from sqlalchemy.orm import Session

from data.cache import memoized
from data.figures._pairs import progress_column, status_column
from data.figures.days import day_end_utc, day_start_utc, today_in
from data.figures.population import (
    SessionStatistics,
    session_statistics_from,
    sessions_frame,
)
from data.models import ProgramSession, SummaryPair, SummarySession, SummarySessionUser, Training, User
from data.scope import Forbidden, Scope
from data.summaries import refresh_pending


@memoized
def sessions_table(
    session: Session,
    scope: Scope,
    tz: ZoneInfo,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """The program sessions the viewer may open, with their learners and players.

    Columns: session_id, session, training_id, training, starts_at / ends_at (aware, platform
    time zone; None when unknown), learners (distinct users registered to it or with a
    connection in it, blocked users included), played (distinct users with at least one
    connection in the session). start / end (local days, inclusive) keep the sessions whose
    dates meet the range; a session without a start or an end is open on that side. Ordered by
    start (most recent first, undated last), then name.
    """
    refresh_pending(session)
    people = SummarySession
    q = (
        select(
            ProgramSession.id.label("session_id"),
            ProgramSession.name.label("session"),
            Training.id.label("training_id"),
            Training.name.label("training"),
            ProgramSession.starts_at,
            ProgramSession.ends_at,
            func.coalesce(people.learners, 0).label("learners"),
            func.coalesce(people.played, 0).label("played"),
        )
        .join(Training, Training.id == ProgramSession.training_id)
        .outerjoin(people, people.session_id == ProgramSession.id)
        .where(scope.session_filter(ProgramSession.id, ProgramSession.training_id))
    )
    if end is not None:
        q = q.where(or_(ProgramSession.starts_at.is_(None), ProgramSession.starts_at < day_end_utc(end, tz)))
    if start is not None:
        q = q.where(or_(ProgramSession.ends_at.is_(None), ProgramSession.ends_at >= day_start_utc(start, tz)))
    return sessions_frame(session.execute(q).mappings().all(), tz)


@memoized
def session_statistics(
    session: Session, scope: Scope, session_id: str, tz: ZoneInfo, today: date | None = None
) -> SessionStatistics:
    """A program session's learners and figures; Forbidden unless the viewer may open it.

    The session's learners are its registered learners and anyone with a connection in it,
    blocked users included (the session is a record of what happened). Per learner:
    registered (bool), connections, first / last connection (aware, local), time_spent (seconds
    connected inside this session), and SPEC §4's progress, score, status and completed_on for
    the session's training (None / "not enrolled" for someone not enrolled in it).

    registered: registered learners. played: learners with at least one connection in the
    session. completed: learners whose training status is passed, failed or expired.
    median_time_spent: median of the players' time in the session (None without players).
    average_score: mean training score of the learners who have one (None when nobody has).
    """
    program = session.get(ProgramSession, session_id)
    if program is None or not scope.can_view_session(session, session_id):
        raise Forbidden()
    refresh_pending(session)
    su, p = SummarySessionUser, SummaryPair
    q = (
        select(
            User.id.label("user_id"),
            User.last_name,
            User.first_name,
            User.email,
            su.registered,
            su.connections,
            su.first_connection,
            su.last_connection,
            su.time_spent,
            case((p.user_id.is_(None), null()), else_=progress_column(p.__table__)).label("progress"),
            p.score,
            func.coalesce(
                status_column(session, p.__table__, today or today_in(tz), tz), "not enrolled"
            ).label("status"),
            p.completed_at,
        )
        .select_from(su)
        .join(User, User.id == su.user_id)
        .outerjoin(p, and_(p.user_id == su.user_id, p.training_id == program.training_id))
        .where(su.session_id == session_id)
        .order_by(User.sort_key, User.id)
    )
    return session_statistics_from(session_id, session.execute(q).mappings().all(), tz)


__all__ = ["session_statistics", "sessions_table"]
