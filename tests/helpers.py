"""Helpers shared by the unit tests that call page callbacks as functions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import flask_login
from sqlalchemy.orm import Session

from auth.users import to_signed_in
from data.models import User


@contextmanager
def signed_in(
    server, user_id: str, path: str = "/", session: Session | None = None, base_url: str | None = None
) -> Iterator[None]:
    """A request context in which user_id is signed in (as after the sign-in form).

    session: read the user there (test data not committed yet), else in a session of its own.
    """
    extra = {"base_url": base_url} if base_url else {}
    with server.test_request_context(path, **extra):
        if session is not None:
            flask_login.login_user(to_signed_in(session.get(User, user_id)))
        else:
            with server.extensions["learnstats_db"].session() as s:
                flask_login.login_user(to_signed_in(s.get(User, user_id)))
        yield
