"""Qualiopi's indicator 2 (SPEC §10): the results of a training, or of every training in the
viewer's scope, over a period, with the period and the volume stated.

For each (learner, training) pair of SPEC §4's learners (active, not admins: blocked users are
not counted) in the trainings asked, inside the viewer's scope:

- **active in the period**: an activity day (SPEC §9's: a connection to one of the training's
  modules started, an attempt in it started or finished, an answer in it; summary_pair_days) in
  the period. The volume, "learners", counts the distinct learners of the active pairs.
- **completed**: SPEC §4's completed status (passed, failed or expired) dated on or before the
  period's end; **passed**: passed (or expired since).
- **session ended in the period**: the learner is a learner of a session of the training whose
  end falls in the period.
- **dropped out in the period**: not completed, and their session ended in the period or they
  became inactive for 30 days in it (the 30th day after their last activity day on or before the
  period's end — their enrollment day when they have none — falls in the period).
- **training ended in the period**: completed in the period, session ended in it, or dropped
  out in it. Completion rate = completed ÷ ended; success rate = passed ÷ completed (of those
  ended); drop-out rate = dropped out ÷ ended (so completion + drop-out = 100 %).
- **satisfaction**: mean and number of satisfaction.csv's scores (0–10) answered in the period
  for those trainings.

Read from the summary layer (summary_pairs, summary_pair_days) and the small tables of sessions
and satisfaction, in a few grouped queries; the per-pair rules above are applied here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from data.models import (
    ProgramSession,
    SatisfactionAnswer,
    SessionLearner,
    SummaryPair,
    SummaryPairDay,
    Training,
)
from data.rules import COMPLETED_STATUSES, dropped_out_on, percent
from data.scope import Forbidden, Scope

PASSED_STATUSES = ("passed", "expired")


def may_see_results(scope: Scope) -> bool:
    """Global roles and training managers (their trainings)."""
    return scope.is_global or bool(scope.trainings)


def results_trainings(session: Session, scope: Scope) -> list[tuple[str, str]]:
    """(id, name) of the trainings the viewer may see results of, by name."""
    if not may_see_results(scope):
        raise Forbidden()
    query = select(Training.id, Training.name).order_by(Training.name, Training.id)
    if not scope.is_global:
        query = query.where(Training.id.in_(sorted(scope.trainings)))
    return [(tid, name or tid) for tid, name in session.execute(query)]


def require_training(session: Session, scope: Scope, training_id: str | None) -> Training | None:
    """The training asked (None: all), if the viewer may see its results; Forbidden otherwise
    (an unknown id too, for anyone but global roles: ids cannot be probed)."""
    if not may_see_results(scope):
        raise Forbidden()
    if training_id is None:
        return None
    training = session.get(Training, training_id) if isinstance(training_id, str) and training_id else None
    if training is None or not scope.can_view_training_page(training_id):
        raise Forbidden()
    return training


@dataclass(frozen=True)
class QualiopiResults:
    start: date
    end: date
    training_id: str | None
    training_name: str | None
    learners: int  # distinct learners active in the period
    pairs: int  # their (learner, training) pairs
    ended: int
    completed: int
    passed: int
    dropped: int
    satisfaction_mean: float | None
    satisfaction_answers: int

    @property
    def completion_rate(self) -> float | None:
        return percent(self.completed, self.ended)

    @property
    def success_rate(self) -> float | None:
        return percent(self.passed, self.completed)

    @property
    def drop_out_rate(self) -> float | None:
        return percent(self.dropped, self.ended)


def _utc(day: date, tz: tzinfo) -> datetime:
    """The start of a local day, as stored (naive UTC)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def _local_day(moment: datetime | None, tz: tzinfo) -> date | None:
    return None if moment is None else moment.replace(tzinfo=UTC).astimezone(tz).date()


def qualiopi_results(
    session: Session, scope: Scope, start: date, end: date, tz: tzinfo, training_id: str | None = None
) -> QualiopiResults:
    """Indicator 2 for one training (or all of the viewer's) over [start, end] (local days)."""
    training = require_training(session, scope, training_id)
    p, d = SummaryPair, SummaryPairDay
    trainings = [training.id] if training is not None else None

    def in_trainings(column):
        return column.in_(trainings) if trainings is not None else scope.training_filter(column)

    pairs = session.execute(
        select(p.user_id, p.training_id, p.status, p.completed_at, p.enrolled_at).where(
            p.counted.is_(True), in_trainings(p.training_id)
        )
    ).all()
    days = {
        (user_id, tid): (last, active)
        for user_id, tid, last, active in session.execute(
            select(
                d.user_id,
                d.training_id,
                func.max(d.day),
                func.max(case((d.day >= start, 1), else_=0)),
            )
            .where(d.day <= end, in_trainings(d.training_id))
            .group_by(d.user_id, d.training_id)
        )
    }
    end_utc = _utc(end + timedelta(days=1), tz)
    sessions_ended = set(
        session.execute(
            select(SessionLearner.user_id, ProgramSession.training_id)
            .join(ProgramSession, ProgramSession.id == SessionLearner.session_id)
            .where(
                ProgramSession.ends_at >= _utc(start, tz),
                ProgramSession.ends_at < end_utc,
                in_trainings(ProgramSession.training_id),
            )
            .distinct()
        ).all()
    )
    learners: set[str] = set()
    active_pairs = ended = completed = passed = dropped = 0
    for user_id, tid, status, completed_at, enrolled_at in pairs:
        last, active = days.get((user_id, tid), (None, 0))
        if isinstance(last, str):
            last = date.fromisoformat(last[:10])
        if active:
            learners.add(user_id)
            active_pairs += 1
        done_day = _local_day(completed_at, tz) if status in COMPLETED_STATUSES else None
        is_completed = done_day is not None and done_day <= end
        session_ended = (user_id, tid) in sessions_ended
        reference = last or _local_day(enrolled_at, tz)
        inactive = reference is not None and start <= dropped_out_on(reference) <= end
        is_dropped = not is_completed and (session_ended or inactive)
        if (is_completed and done_day >= start) or session_ended or is_dropped:
            ended += 1
            if is_completed:
                completed += 1
                passed += status in PASSED_STATUSES
            dropped += is_dropped
    s = SatisfactionAnswer
    mean, answers = session.execute(
        select(func.avg(s.score), func.count()).where(
            s.answered_at >= _utc(start, tz), s.answered_at < end_utc, in_trainings(s.training_id)
        )
    ).one()
    return QualiopiResults(
        start=start,
        end=end,
        training_id=training.id if training else None,
        training_name=(training.name or training.id) if training else None,
        learners=len(learners),
        pairs=active_pairs,
        ended=ended,
        completed=completed,
        passed=int(passed),
        dropped=int(dropped),
        satisfaction_mean=float(mean) if mean is not None else None,
        satisfaction_answers=int(answers or 0),
    )


__all__ = [
    "QualiopiResults",
    "may_see_results",
    "qualiopi_results",
    "require_training",
    "results_trainings",
]
