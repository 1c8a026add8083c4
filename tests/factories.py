"""Tiny factories for test data: each call adds rows to the session and flushes."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from auth.users import hash_password
from data import models as m
from data.enrollments import refresh_training_learners
from data.text import person_search_text, person_sort_key

_ids = itertools.count(1)

# The product hashes with scrypt, slow on purpose (about 0.1 s a check). Test users get a cheap
# hash that werkzeug checks the same way (pbkdf2, one iteration), except in the tests of sign-in
# itself: tests/conftest.py sets password_method to None (the product's hash_password) for the
# tests marked real_password_hash. One hash per password and method serves every test user.
CHEAP_PASSWORD_HASH = "pbkdf2:sha256:1"
password_method: str | None = CHEAP_PASSWORD_HASH
_PASSWORD_HASH: dict[tuple[str | None, str], str] = {}


def password_hash(password: str) -> str:
    key = (password_method, password)
    if key not in _PASSWORD_HASH:
        if password_method is None:
            _PASSWORD_HASH[key] = hash_password(password)
        else:
            _PASSWORD_HASH[key] = generate_password_hash(password, password_method)
    return _PASSWORD_HASH[key]


def _next(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


def utc(text: str) -> datetime:
    """A naive UTC datetime from 'YYYY-MM-DD HH:MM[:SS]'."""
    return datetime.fromisoformat(text)


class Factory:
    def __init__(self, session: Session):
        self.s = session

    def _add(self, obj):
        self.s.add(obj)
        self.s.flush()
        return obj

    def user(
        self,
        user_id=None,
        first="Ann",
        last="Smith",
        email=None,
        status="active",
        password="password123",
        roles=(),
        created_at=None,
        labels=(),
        fields=None,
        additional_info="",
    ):
        user_id = user_id or _next("u")
        email = email or f"{user_id}@example.org"
        user = self._add(
            m.User(
                id=user_id,
                email=email,
                first_name=first,
                last_name=last,
                status=status,
                password_hash=password_hash(password) if password else None,
                created_at=created_at,
                additional_info=additional_info,
                sort_key=person_sort_key(last, first, email),
                search_text=person_search_text(last, first, email),
            )
        )
        for role in roles:
            role_name, _, scope_id = role.partition(":")
            self._add(m.Role(user_id=user_id, role=role_name, scope_id=scope_id))
        for label in labels:
            self._add(m.UserLabel(user_id=user_id, label=label))
        for field, value in (fields or {}).items():
            self._add(m.UserField(user_id=user_id, field=field, value=value))
        return user

    def training(self, training_id=None, name=None, validity_months=None, published=True):
        training_id = training_id or _next("t")
        return self._add(
            m.Training(
                id=training_id,
                name=name or f"Training {training_id}",
                validity_months=validity_months,
                published=published,
            )
        )

    def module(self, module_id=None, name=None, keep_results="best", max_scores=(10,)):
        """A module with one activity per max score given."""
        module_id = module_id or _next("m")
        module = self._add(
            m.Module(id=module_id, name=name or f"Module {module_id}", keep_results=keep_results)
        )
        for position, max_score in enumerate(max_scores, start=1):
            self._add(
                m.Activity(
                    id=f"{module_id}-a{position}",
                    module_id=module_id,
                    name=f"Q{position}",
                    max_score=max_score,
                    position=position,
                    question=f"Question {position}?",
                    correct_answer="yes",
                )
            )
        return module

    def step(self, training, module, position=None, mandatory=True, min_score=0):
        position = position if position is not None else next(_ids)
        return self._add(
            m.TrainingModule(
                training_id=training.id,
                module_id=module.id,
                position=position,
                mandatory=mandatory,
                min_score=min_score,
            )
        )

    def enroll(self, user, training, at="2026-01-01 09:00"):
        self._add(m.Enrollment(user_id=user.id, training_id=training.id, enrolled_at=utc(at)))
        self.refresh()

    def klass(self, class_id=None, name=None, members=(), trainings=(), joined_at=None, registered_at=None):
        class_id = class_id or _next("c")
        klass = self._add(m.Class(id=class_id, name=name or f"Class {class_id}"))
        for user in members:
            self._add(
                m.ClassMember(
                    class_id=class_id, user_id=user.id, joined_at=utc(joined_at) if joined_at else None
                )
            )
        for training in trainings:
            self._add(
                m.ClassTraining(
                    class_id=class_id,
                    training_id=training.id,
                    registered_at=utc(registered_at) if registered_at else None,
                )
            )
        self.refresh()
        return klass

    def attempt(
        self,
        user,
        training,
        module,
        started="2026-01-02 10:00",
        finished=None,
        scores=None,
        evaluated=None,
        attempt_id=None,
    ):
        """An attempt with one answer per activity (scores in activity order)."""
        attempt = self._add(
            m.Attempt(
                id=attempt_id or _next("at"),
                user_id=user.id,
                training_id=training.id,
                module_id=module.id,
                started_at=utc(started),
                finished_at=utc(finished) if finished else None,
            )
        )
        if scores is not None:
            activities = sorted(
                self.s.query(m.Activity).filter_by(module_id=module.id), key=lambda a: a.position
            )
            for i, (activity, score) in enumerate(zip(activities, scores, strict=False)):
                ok = True if evaluated is None else evaluated[i]
                self._add(
                    m.Answer(
                        attempt_id=attempt.id,
                        activity_id=activity.id,
                        score=score,
                        answer="yes",
                        answered_at=utc(started),
                        evaluated=ok,
                    )
                )
        return attempt

    def connection(self, user, module, start, end, session=None):
        return self._add(
            m.Connection(
                user_id=user.id,
                module_id=module.id,
                connected_at=utc(start),
                disconnected_at=utc(end),
                session_id=session.id if session else None,
            )
        )

    def login(self, user, at):
        return self._add(m.Login(user_id=user.id, logged_in_at=utc(at)))

    def session(
        self,
        training,
        session_id=None,
        name=None,
        starts="2026-01-01 08:00",
        ends="2026-02-01 18:00",
        learners=(),
    ):
        session_id = session_id or _next("s")
        program_session = self._add(
            m.ProgramSession(
                id=session_id,
                training_id=training.id,
                name=name or f"Session {session_id}",
                starts_at=utc(starts) if starts else None,
                ends_at=utc(ends) if ends else None,
            )
        )
        for user in learners:
            self._add(m.SessionLearner(session_id=session_id, user_id=user.id))
        return program_session

    def refresh(self):
        self.s.flush()
        refresh_training_learners(self.s)
        self.s.flush()
