"""Effective enrollments (SPEC §3): direct ones and those through a class, counted once."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

_REFRESH = """
INSERT INTO training_learners (training_id, user_id, enrolled_at)
SELECT training_id, user_id,
       CASE WHEN COUNT(d) < COUNT(*) THEN NULL ELSE MIN(d) END
FROM (
    SELECT training_id, user_id, enrolled_at AS d FROM enrollments{users}
    UNION ALL
    SELECT ct.training_id, cm.user_id,
           CASE WHEN cm.joined_at IS NULL THEN ct.registered_at
                WHEN ct.registered_at IS NULL THEN cm.joined_at
                WHEN cm.joined_at > ct.registered_at THEN cm.joined_at
                ELSE ct.registered_at END
    FROM class_members cm JOIN class_trainings ct ON ct.class_id = cm.class_id{members}
) AS e
GROUP BY training_id, user_id
"""
_USERS_CHUNK = 500  # user ids per statement (bound parameters)


def refresh_training_learners(session: Session, user_ids: list[str] | None = None) -> None:
    """Rebuild training_learners from enrollments and class registrations (of the users
    given; None: everyone's).

    A class enrollment dates from the later of joining the class and the class's
    registration to the training; a learner enrolled several ways counts once, at the
    earliest date. An unknown date (NULL) means enrolled since always and wins.
    Runs inside the caller's transaction.
    """
    if user_ids is None:
        session.execute(text("DELETE FROM training_learners"))
        session.execute(text(_REFRESH.format(users="", members="")))
        return
    for start in range(0, len(user_ids), _USERS_CHUNK):
        chunk = user_ids[start : start + _USERS_CHUNK]
        marks = ", ".join(f":u{i}" for i in range(len(chunk)))
        params = {f"u{i}": user_id for i, user_id in enumerate(chunk)}
        session.execute(text(f"DELETE FROM training_learners WHERE user_id IN ({marks})"), params)
        sql = _REFRESH.format(users=f" WHERE user_id IN ({marks})", members=f" WHERE cm.user_id IN ({marks})")
        session.execute(text(sql), params)
