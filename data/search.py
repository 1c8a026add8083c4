"""The navbar search: learners, trainings, classes and sessions in the viewer's scope (SPEC §6).

A result is something the viewer may open: a learner page (scope.can_view_learner), a
training page (scope.can_view_training_page), a class page (scope.can_view_class), a session
page (scope.can_view_session, as SQL: scope.session_filter). Matching is case- and
accent-insensitive (data.text.fold): every word of the query must appear in the learner's
names or email (users.search_text), or in the training's, class's or session's name (a
session also by its id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import exists, false, or_, select, true
from sqlalchemy.orm import Session

from data.classes import class_filter
from data.models import Class, ClassMember, ProgramSession, Training, TrainingLearner, User
from data.scope import Scope
from data.text import fold, search_words

KINDS = ("learner", "training", "class", "session")
KIND_LABELS = {"learner": "Learner", "training": "Training", "class": "Class", "session": "Session"}
DEFAULT_LIMIT = 8


@dataclass(frozen=True)
class SearchResult:
    kind: str  # learner | training | class | session
    id: str
    label: str  # the name shown
    href: str  # the page it opens
    detail: str = ""  # a learner's email, a session's training

    def __iter__(self):
        """Unpacks as (kind, id, label, href)."""
        return iter((self.kind, self.id, self.label, self.href))


def _learner_filter(scope: Scope):
    """Condition on users whose learner page the viewer may open (as Scope.can_view_learner)."""
    if scope.is_global:
        return true()
    clauses = [User.id == scope.user_id]
    if scope.is_manager:
        clauses.append(
            exists().where(
                TrainingLearner.user_id == User.id,
                scope.pair_filter(TrainingLearner.user_id, TrainingLearner.training_id),
            )
        )
    if scope.classes:
        clauses.append(
            exists().where(ClassMember.user_id == User.id, ClassMember.class_id.in_(sorted(scope.classes)))
        )
    return or_(*clauses)


def _training_filter(scope: Scope):
    """Condition on trainings whose page the viewer may open (as Scope.can_view_training_page)."""
    if scope.is_global:
        return true()
    return Training.id.in_(sorted(scope.trainings)) if scope.trainings else false()


def _matches(words: list[str], text: str) -> bool:
    folded = fold(text)
    return all(word in folded for word in words)


def _rank(words: list[str], name: str) -> tuple[int, str]:
    """Names starting with the query first, then by name."""
    folded = fold(name)
    return (0 if folded.startswith(words[0]) else 1, folded)


def _learners(session: Session, scope: Scope, words: list[str], limit: int) -> list[SearchResult]:
    q = select(User.id, User.first_name, User.last_name, User.email).where(_learner_filter(scope))
    for word in words:
        q = q.where(User.search_text.contains(word, autoescape=True))
    rows = session.execute(q.order_by(User.sort_key, User.id).limit(limit)).all()
    return [
        SearchResult(
            "learner",
            r.id,
            f"{r.first_name or ''} {r.last_name or ''}".strip() or r.email,
            f"/learner/{quote(r.id, safe='')}",
            r.email,
        )
        for r in rows
    ]


def _named(session: Session, model, condition, kind: str, words: list[str], limit: int) -> list[SearchResult]:
    """Trainings or classes in scope whose name matches (names are folded in Python: the
    lists are short, and SQL has no portable accent folding)."""
    rows = session.execute(select(model.id, model.name).where(condition)).all()
    found = sorted((r for r in rows if _matches(words, r.name)), key=lambda r: (*_rank(words, r.name), r.id))
    return [SearchResult(kind, r.id, r.name, f"/{kind}/{quote(r.id, safe='')}") for r in found[:limit]]


def _sessions(session: Session, scope: Scope, words: list[str], limit: int) -> list[SearchResult]:
    """Sessions the viewer may open whose name (or id) matches, the most recent start first
    (undated ones last), each with its training's name as detail."""
    rows = session.execute(
        select(
            ProgramSession.id, ProgramSession.name, ProgramSession.starts_at, Training.name.label("training")
        )
        .join(Training, Training.id == ProgramSession.training_id)
        .where(scope.session_filter(ProgramSession.id, ProgramSession.training_id))
    ).all()
    found = [r for r in rows if _matches(words, f"{r.name} {r.id}")]
    found.sort(key=lambda r: (*_rank(words, r.name), r.id))  # then, stable: the latest start first
    found.sort(key=lambda r: (r.starts_at is not None, r.starts_at or datetime.min), reverse=True)
    return [
        SearchResult("session", r.id, r.name, f"/session/{quote(r.id, safe='')}", r.training)
        for r in found[:limit]
    ]


def _share(groups: list[list[SearchResult]], limit: int) -> list[SearchResult]:
    """At most `limit` results, the groups kept in order and trimmed fairly (the largest
    group gives up a place first), so no kind crowds the others out."""
    sizes = [len(g) for g in groups]
    while sum(sizes) > limit:
        largest = max(range(len(sizes)), key=lambda i: (sizes[i], -i))
        sizes[largest] -= 1
    return [r for group, size in zip(groups, sizes, strict=True) for r in group[:size]]


def search(
    session: Session, scope: Scope, text: str | None, limit: int = DEFAULT_LIMIT
) -> list[SearchResult]:
    """Up to `limit` learners, trainings, classes and sessions in scope matching text (by name,
    learners also by email): trainings first, then classes, then sessions, then learners."""
    words = search_words(text)
    if not words or limit < 1:
        return []
    groups = [
        _named(session, Training, _training_filter(scope), "training", words, limit),
        _named(session, Class, class_filter(scope, Class.id), "class", words, limit),
        _sessions(session, scope, words, limit),
        _learners(session, scope, words, limit),
    ]
    return _share(groups, limit)


__all__ = ["DEFAULT_LIMIT", "KINDS", "KIND_LABELS", "SearchResult", "search"]
