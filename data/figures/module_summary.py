"""One learner's attempts of one module with their answers (SPEC §5 "Module summary").

Read from the raw attempts and answers of that one learner and module: bounded by what the
page shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    case,
    func,
    select,
)
from sqlalchemy.orm import Session

from data.cache import memoized
from data.figures.population import sees_pair
from data.models import (
    Activity,
    Answer,
    Attempt,
    TrainingModule,
)
from data.scope import Forbidden, Scope

# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityResult:
    activity_id: str
    name: str
    question: str
    answer: str | None
    correct_answer: str
    score: float | None
    max_score: float
    state: str  # passed | partly correct | failed | awaiting grading | not answered


@dataclass(frozen=True)
class AttemptSummary:
    attempt_id: str
    started_at: datetime
    finished_at: datetime | None
    points: float
    max_points: float
    score: float | None  # % (None while unfinished)
    awaiting_grading: int
    activities: tuple[ActivityResult, ...]


def answer_state(score: float, max_score: float) -> str:
    """An evaluated answer's state: all its points "passed", some of them "partly correct"
    (1 of 2 is not a failure), none "failed". An activity worth 0 points is passed."""
    if score >= max_score:
        return "passed"
    return "partly correct" if score > 0 else "failed"


@memoized
def module_attempts(
    session: Session, scope: Scope, training_id: str, user_id: str, module_id: str
) -> list[AttemptSummary]:
    """Every attempt (newest first) of a module by a learner in a training, with its answers.

    "got S of M possible points": S sums the evaluated answers' scores and M the max scores
    of the module's activities with max > 0; an answer awaiting grading counts 0.
    """
    if not sees_pair(session, scope, user_id, training_id):
        raise Forbidden()
    in_training = session.scalar(
        select(func.count()).where(
            TrainingModule.training_id == training_id, TrainingModule.module_id == module_id
        )
    )
    if not in_training:
        raise LookupError(f"module {module_id} is not part of training {training_id}")
    activities = session.scalars(
        select(Activity).where(Activity.module_id == module_id).order_by(Activity.position, Activity.name)
    ).all()
    max_points = sum(a.max_score for a in activities if a.max_score > 0)
    attempts = session.scalars(
        select(Attempt)
        .where(Attempt.user_id == user_id, Attempt.training_id == training_id, Attempt.module_id == module_id)
        .order_by(
            # Newest first, as keep_results "newest" means it: unfinished attempts (still going)
            # first, then by finish, then by start.
            case((Attempt.finished_at.is_(None), 0), else_=1),
            Attempt.finished_at.desc(),
            Attempt.started_at.desc(),
            Attempt.id.desc(),
        )
    ).all()
    answers: dict[str, dict[str, Answer]] = {}
    if attempts:
        for answer in session.scalars(select(Answer).where(Answer.attempt_id.in_([a.id for a in attempts]))):
            answers.setdefault(answer.attempt_id, {})[answer.activity_id] = answer
    out = []
    for attempt in attempts:
        given = answers.get(attempt.id, {})
        results, points, awaiting = [], 0.0, 0
        for activity in activities:
            answer = given.get(activity.id)
            if answer is None:
                state, score = "not answered", None
            elif not answer.evaluated:
                state, score = "awaiting grading", None
                awaiting += 1
            else:
                score = answer.score
                state = answer_state(answer.score, activity.max_score)
                if activity.max_score > 0:
                    points += answer.score
            results.append(
                ActivityResult(
                    activity_id=activity.id,
                    name=activity.name,
                    question=activity.question or "",
                    answer=answer.answer if answer else None,
                    correct_answer=activity.correct_answer or "",
                    score=score,
                    max_score=activity.max_score,
                    state=state,
                )
            )
        if attempt.finished_at is None:
            score_pct = None
        elif attempt.score_override is not None:  # an xAPI finishing statement's scaled score
            score_pct = attempt.score_override
        else:
            score_pct = 100.0 * points / max_points if max_points > 0 else 100.0
        out.append(
            AttemptSummary(
                attempt_id=attempt.id,
                started_at=attempt.started_at,
                finished_at=attempt.finished_at,
                points=points,
                max_points=max_points,
                score=score_pct,
                awaiting_grading=awaiting,
                activities=tuple(results),
            )
        )
    return out
