"""What the compliance files of one program session read (SPEC §10): its learners, their
connections by half-day, their tutor contacts; and recording a tutor contact.

Every function takes the viewer's Scope and refuses (Forbidden) a session outside it: the
session's instructors, the managers of its training and the global roles (SPEC §6).

- `session_people`: the learners of the session, in the order of every list of people (SPEC
  §4): those registered to it and those who connected in it, blocked users too (the files are a
  record of what happened).
- `session_half_days`: each learner's connections in the session, added up per half-day by
  data/half_days.py (the one place where a connection is cut at 13:00 and midnight).
- `session_tutor_contacts`, `record_tutor_contact`: the proof of individual support.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from data.errors import LearnstatsError
from data.half_days import HalfDay, half_day_totals
from data.models import TUTOR_CHANNELS, Connection, ProgramSession, SessionLearner, TutorContact, User
from data.scope import Forbidden, Scope

BATCH = 500  # users per "IN (...)" lookup


class TutorContactError(LearnstatsError, ValueError):
    """A tutor contact that cannot be recorded; the message says which field and why."""


@dataclass(frozen=True)
class Person:
    user_id: str
    first_name: str
    last_name: str
    email: str
    status: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


@dataclass(frozen=True)
class Contact:
    contacted_at: datetime  # naive UTC
    tutor: str
    channel: str
    duration_minutes: int | None
    subject: str


def may_see_session(session: Session, scope: Scope, session_id: str) -> bool:
    """Whether the session exists and lies in the viewer's scope (instructor, manager of its
    training, global role)."""
    if not isinstance(session_id, str) or not session_id:
        return False
    return bool(
        session.scalar(
            select(func.count())
            .select_from(ProgramSession)
            .where(
                ProgramSession.id == session_id,
                scope.session_filter(ProgramSession.id, ProgramSession.training_id),
            )
        )
    )


def _require(session: Session, scope: Scope, session_id: str) -> None:
    if not may_see_session(session, scope, session_id):
        raise Forbidden()


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def session_people(session: Session, scope: Scope, session_id: str) -> list[Person]:
    """The session's learners (registered, or with a connection in it), ordered as people."""
    _require(session, scope, session_id)
    ids = union(
        select(SessionLearner.user_id.label("user_id")).where(SessionLearner.session_id == session_id),
        select(Connection.user_id.label("user_id")).where(Connection.session_id == session_id),
    ).subquery()
    rows = session.execute(
        select(User.id, User.first_name, User.last_name, User.email, User.status)
        .join(ids, ids.c.user_id == User.id)
        .order_by(User.sort_key, User.id)
    )
    return [Person(r[0], r[1] or "", r[2] or "", r[3] or "", r[4] or "active") for r in rows]


def session_connections(
    session: Session, scope: Scope, session_id: str, user_ids: Iterable[str]
) -> dict[str, list[tuple[str, datetime, datetime]]]:
    """Each learner's connections in the session: (module_id, connected, disconnected), in
    time order."""
    _require(session, scope, session_id)
    found: dict[str, list[tuple[str, datetime, datetime]]] = defaultdict(list)
    for chunk in _chunks(list(user_ids)):
        for user_id, module_id, start, end in session.execute(
            select(
                Connection.user_id, Connection.module_id, Connection.connected_at, Connection.disconnected_at
            )
            .where(Connection.session_id == session_id, Connection.user_id.in_(chunk))
            .order_by(Connection.user_id, Connection.connected_at, Connection.disconnected_at)
        ):
            found[user_id].append((module_id, start, end))
    return found


def session_half_days(
    session: Session, scope: Scope, session_id: str, user_ids: Iterable[str], tz: tzinfo
) -> dict[str, list[HalfDay]]:
    """Each learner's time connected in the session per half-day (SPEC §10), in time order."""
    connections = session_connections(session, scope, session_id, user_ids)
    return {
        user_id: half_day_totals(((start, end) for _, start, end in spans), tz)
        for user_id, spans in connections.items()
    }


def session_tutor_contacts(
    session: Session, scope: Scope, session_id: str, user_ids: Iterable[str]
) -> dict[str, list[Contact]]:
    """Each learner's tutor contacts in the session, in time order."""
    _require(session, scope, session_id)
    found: dict[str, list[Contact]] = defaultdict(list)
    t = TutorContact
    for chunk in _chunks(list(user_ids)):
        for user_id, at, tutor, channel, minutes, subject in session.execute(
            select(t.user_id, t.contacted_at, t.tutor, t.channel, t.duration_minutes, t.subject)
            .where(t.session_id == session_id, t.user_id.in_(chunk))
            .order_by(t.user_id, t.contacted_at, t.tutor)
        ):
            found[user_id].append(Contact(at, tutor, channel, minutes, subject or ""))
    return found


def may_record_contacts(session: Session, scope: Scope, session_id: str) -> bool:
    """Who records a tutor contact (SPEC §10, "instructors and managers of that session"): its
    instructors, the training managers of its training, and admins."""
    if scope.is_admin:
        return may_see_session(session, scope, session_id)
    if session_id in scope.sessions:
        return may_see_session(session, scope, session_id)
    if not scope.trainings:
        return False
    training_id = session.scalar(select(ProgramSession.training_id).where(ProgramSession.id == session_id))
    return training_id in scope.trainings


def record_tutor_contact(
    session: Session,
    scope: Scope,
    session_id: str,
    user_id: str,
    contacted_at: datetime,
    tutor: str,
    channel: str,
    duration_minutes: int | None,
    subject: str,
) -> TutorContact:
    """Add (or, for the same learner, moment and tutor, replace) a tutor contact; the caller
    commits. Forbidden outside the recorder's rights; TutorContactError for a bad value."""
    if not may_record_contacts(session, scope, session_id):
        raise Forbidden()
    tutor = (tutor or "").strip()
    subject = (subject or "").strip()
    problems = []
    learners = {p.user_id for p in session_people(session, scope, session_id)}
    if user_id not in learners:
        problems.append("learner: not a learner of this session")
    if not tutor:
        problems.append("tutor: required")
    elif len(tutor) > 200:
        problems.append("tutor: at most 200 characters")
    if channel not in TUTOR_CHANNELS:
        problems.append(f"channel: one of {', '.join(TUTOR_CHANNELS)}")
    if duration_minutes is not None and not 0 <= duration_minutes <= 1440:
        problems.append("duration: between 0 and 1440 minutes")
    if len(subject) > 2000:
        problems.append("subject: at most 2000 characters")
    if problems:
        raise TutorContactError("; ".join(problems))
    row = session.scalar(
        select(TutorContact).where(
            TutorContact.session_id == session_id,
            TutorContact.user_id == user_id,
            TutorContact.contacted_at == contacted_at,
            TutorContact.tutor == tutor,
        )
    )
    if row is None:
        row = TutorContact(session_id=session_id, user_id=user_id, contacted_at=contacted_at, tutor=tutor)
        session.add(row)
    row.channel = channel
    row.duration_minutes = duration_minutes
    row.subject = subject
    row.recorded_by = scope.user_id or None
    session.flush()
    return row


__all__ = [
    "Contact",
    "Person",
    "TutorContactError",
    "may_record_contacts",
    "may_see_session",
    "record_tutor_contact",
    "session_connections",
    "session_half_days",
    "session_people",
    "session_tutor_contacts",
]
