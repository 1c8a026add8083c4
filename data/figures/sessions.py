"""Program sessions (SPEC §5 "Sessions"; decisions in docs/decisions.md, "Sessions"), read from
summary_session_users (a session's people and their connections in it) and summary_pairs."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from data.figures._pairs import progress_column, status_column
from data.figures.days import day_end_utc, day_start_utc, local_date, to_local, today_in
from data.figures.population import (
    COMPLETED_STATUSES,
    SESSION_COLUMNS,
    SESSION_LEARNER_COLUMNS,
    SessionStatistics,
    _median,
)
from data.models import ProgramSession, SummaryPair, SummarySession, SummarySessionUser, Training, User
from data.scope import Forbidden, Scope
from data.summaries import refresh_pending
from data.text import fold


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
    rows = session.execute(q).mappings().all()
    if not rows:
        return pd.DataFrame(columns=SESSION_COLUMNS)
    rows = sorted(rows, key=lambda r: (fold(r["session"]), r["session_id"]))
    # Most recent start first (the sort is stable, also reversed), undated sessions last.
    rows = sorted((r for r in rows if r["starts_at"]), key=lambda r: r["starts_at"], reverse=True) + [
        r for r in rows if not r["starts_at"]
    ]
    frame = pd.DataFrame([dict(r) for r in rows], columns=SESSION_COLUMNS)
    for column in ("starts_at", "ends_at"):
        # Object columns: aware datetimes, and None (not NaT) for a missing date.
        frame[column] = pd.Series([to_local(r[column], tz) for r in rows], dtype=object)
    frame["learners"] = frame["learners"].astype(int)
    frame["played"] = frame["played"].astype(int)
    return frame


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
            progress_column(p.__table__).label("progress"),
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
    rows = [dict(r) for r in session.execute(q).mappings().all()]
    for row in rows:
        enrolled = row["status"] != "not enrolled"
        row["registered"] = bool(row["registered"])
        row["connections"] = int(row["connections"])
        row["time_spent"] = float(row["time_spent"] or 0.0)
        row["first_connection"] = to_local(row["first_connection"], tz)
        row["last_connection"] = to_local(row["last_connection"], tz)
        row["completed_on"] = local_date(row.pop("completed_at"), tz)
        row["progress"] = float(row["progress"]) if enrolled and row["progress"] is not None else None
        row["score"] = None if row["score"] is None else float(row["score"])
    frame = pd.DataFrame(rows, columns=SESSION_LEARNER_COLUMNS)
    for column in ("first_connection", "last_connection", "completed_on", "progress", "score"):
        # Object columns: None (not NaT / NaN) where there is no value.
        frame[column] = pd.Series([row[column] for row in rows], dtype=object)
    players = [row["time_spent"] for row in rows if row["connections"] > 0]
    scores = [row["score"] for row in rows if row["score"] is not None]
    return SessionStatistics(
        session_id=session_id,
        registered=sum(1 for row in rows if row["registered"]),
        played=len(players),
        completed=sum(1 for row in rows if row["status"] in COMPLETED_STATUSES),
        median_time_spent=_median(players),
        average_score=sum(scores) / len(scores) if scores else None,
        learners=frame,
    )


__all__ = ["session_statistics", "sessions_table"]
