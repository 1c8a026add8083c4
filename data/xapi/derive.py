"""SPEC §8's mapping: one learner's SPEC §2 rows from their kept statements (a pure function).

The input is every kept, non-voided statement of the learner (any order: they are sorted here
by time, then id), and what the mapping needs to know about the platform: the activities' max
scores, the trainings whose course statements go to their "(all content)" module, and the
program sessions the learner belongs to. Arriving in one file or many, in any order, or twice,
the same statements give the same rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from data.xapi.checking import (
    ANSWER_VERBS,
    CLOSING_VERBS,
    FINISHING_VERBS,
    LOGIN_VERBS,
    OPENING_VERBS,
)


@dataclass(frozen=True)
class Stmt:
    """The columns of xapi_statements derivation reads."""

    id: str
    at: datetime
    verb: str
    kind: str
    course: str | None
    module: str | None
    question: str | None
    registration: str | None
    score_raw: float | None
    score_scaled: float | None
    score_max: float | None
    success: bool | None
    response: str | None
    duration: float | None


COLUMNS = tuple(Stmt.__dataclass_fields__)


@dataclass
class Context:
    max_scores: dict[str, float]  # activity id -> max score
    course_modules: dict[str, str]  # training -> its "(all content)" module, when it has no other
    sessions: dict[str, list[tuple]]  # training -> [(session id, starts_at, ends_at)] of the learner
    idle: timedelta


@dataclass
class Derived:
    enrollments: list[tuple] = field(default_factory=list)  # user, training, enrolled_at
    attempts: list[tuple] = field(default_factory=list)  # id, user, training, module, started,
    #   finished, score_override, verdict
    answers: list[tuple] = field(default_factory=list)  # attempt, activity, score, answer, answered_at
    connections: list[tuple] = field(default_factory=list)  # user, module, start, end, session
    logins: list[tuple] = field(default_factory=list)  # user, at


@dataclass
class _Attempt:
    id: str
    started: datetime
    finished: datetime | None = None
    override: float | None = None
    verdict: str | None = None
    answers: dict = field(default_factory=dict)  # activity -> (score, answer, at)


def _attempt_id(user: str, training: str, module: str, key: str) -> str:
    digest = hashlib.sha1(f"{user}\x1f{training}\x1f{module}\x1f{key}".encode()).hexdigest()
    return f"xapi:{digest}"


def _module_of(s: Stmt, ctx: Context) -> str | None:
    """The module a statement is on: its own, or for a course statement the training's
    "(all content)" module when the training has no other module."""
    if s.kind in ("module", "question"):
        return s.module
    if s.kind == "course" and s.course is not None:
        return ctx.course_modules.get(s.course)
    return None


def derive_user(user: str, statements: Iterable[Stmt], ctx: Context) -> Derived:
    out = Derived()
    ordered = sorted(statements, key=lambda s: (s.at, s.id))
    # Logins (any course, or none).
    out.logins = sorted({(user, s.at) for s in ordered if s.verb in LOGIN_VERBS})
    # Enrollments: registered on the course, else the first statement in it.
    first: dict[str, datetime] = {}
    registered: dict[str, datetime] = {}
    for s in ordered:
        if s.course is None:
            continue
        first.setdefault(s.course, s.at)
        if s.verb == "registered" and s.kind == "course":
            registered.setdefault(s.course, s.at)
    out.enrollments = [(user, t, registered.get(t, at)) for t, at in sorted(first.items())]
    # Per (training, module): attempts, answers and connections.
    by_module: dict[tuple[str, str], list[Stmt]] = {}
    for s in ordered:
        module = _module_of(s, ctx)
        if module is not None and s.course is not None:
            by_module.setdefault((s.course, module), []).append(s)
    for (training, module), items in by_module.items():
        _attempts(user, training, module, items, ctx, out)
        _connections(user, training, module, items, ctx, out)
    out.connections = sorted(set(out.connections), key=lambda c: (c[1], c[2], c[3], c[4] or ""))
    return out


def _attempts(user: str, training: str, module: str, items: list[Stmt], ctx: Context, out: Derived) -> None:
    by_registration: dict[str, _Attempt] = {}
    runs: list[_Attempt] = []
    current: _Attempt | None = None
    for s in items:
        if "://" in s.verb:
            continue  # a verb outside ADL's namespace only counts for connections (SPEC §8)
        finishing = s.verb in FINISHING_VERBS and s.kind in ("module", "course")
        if s.kind == "course" and not finishing:
            continue  # a course statement only finishes the "(all content)" module
        if s.registration:
            attempt = by_registration.get(s.registration)
            if attempt is None:
                attempt = by_registration[s.registration] = _Attempt(
                    _attempt_id(user, training, module, "r:" + s.registration), s.at
                )
        else:
            if current is None or (current.finished is not None and s.verb not in CLOSING_VERBS):
                current = _Attempt(_attempt_id(user, training, module, "s:" + s.id), s.at)
                runs.append(current)
            attempt = current
        if s.kind == "question" and s.verb in ANSWER_VERBS and s.question is not None:
            maximum = ctx.max_scores.get(s.question, 0.0)
            if s.score_raw is not None:
                score = s.score_raw
            elif s.score_scaled is not None:
                score = s.score_scaled * maximum
            else:
                score = 0.0
            score = min(max(score, 0.0), maximum)
            attempt.answers[s.question] = (score, s.response or "", s.at)  # a later one replaces
        if finishing:
            if attempt.finished is None:
                attempt.finished = s.at
            if s.score_scaled is not None:
                attempt.override = min(max(s.score_scaled * 100.0, 0.0), 100.0)
            if s.verb == "failed":
                attempt.verdict = "failed"
            elif s.verb == "passed":
                attempt.verdict = "passed"
            elif s.success is not None:
                attempt.verdict = "passed" if s.success else "failed"
    for attempt in (*by_registration.values(), *runs):
        out.attempts.append(
            (
                attempt.id,
                user,
                training,
                module,
                attempt.started,
                attempt.finished,
                attempt.override,
                attempt.verdict,
            )
        )
        for activity, (score, answer, at) in sorted(attempt.answers.items()):
            out.answers.append((attempt.id, activity, score, answer, at))


def _connections(
    user: str, training: str, module: str, items: list[Stmt], ctx: Context, out: Derived
) -> None:
    spans: list[tuple[datetime, datetime]] = []
    start = last = None
    opened = False

    def close(end: datetime) -> None:
        nonlocal start, last
        spans.append((start, end))  # type: ignore[arg-type]
        start = last = None

    for s in items:
        if start is not None and (s.verb in OPENING_VERBS or s.at - last > ctx.idle):  # type: ignore[operator]
            close(last)  # type: ignore[arg-type]
        if start is None:
            start, opened = s.at, s.verb in OPENING_VERBS
        last = s.at
        if s.verb in CLOSING_VERBS:
            if not opened and s.duration is not None:
                start = min(start, s.at - timedelta(seconds=s.duration))
            close(s.at)
    if start is not None:
        close(last)  # type: ignore[arg-type]
    sessions = ctx.sessions.get(training, ())
    for begin, end in spans:
        out.connections.append((user, module, begin, end, _session_of(begin, sessions)))


def _session_of(start: datetime, sessions) -> str | None:
    """The earliest session (by start, then id) whose dates contain the connection's start."""
    best = None
    for session_id, starts_at, ends_at in sessions:
        if (starts_at is None or starts_at <= start) and (ends_at is None or start <= ends_at):
            key = (starts_at or datetime.min, session_id)
            if best is None or key < best[0]:
                best = (key, session_id)
    return None if best is None else best[1]
