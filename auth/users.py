"""Password hashing and the Flask-Login user object."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask_login import UserMixin
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from data.errors import LearnstatsError
from data.models import User

MIN_PASSWORD_LENGTH = 8


@dataclass
class SignedInUser(UserMixin):
    """What Flask-Login keeps for the signed-in user; the scope is loaded per request."""

    id: str
    email: str
    first_name: str
    last_name: str
    session_version: int = 0
    # The interface language the user chose ("" when none: auth/language.py decides).
    language: str = ""

    def get_id(self) -> str:
        """What the session cookie holds: the session version, then the user id."""
        return f"{self.session_version}:{self.id}"

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


class AccountError(LearnstatsError, ValueError):
    """An account change that cannot be made (set-password); the message says why."""


def set_password(session: Session, email: str, password: str) -> User:
    """Set a user's password; raises AccountError (a ValueError) with a clear message on bad input."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = find_user_by_email(session, email)
    if user is None:
        raise AccountError(f"no user has the email {email!r}")
    user.password_hash = hash_password(password)
    end_sessions(session, user.id)
    return user


_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    """A hash of a random password, made the way real ones are: checking against it costs what
    checking a real password costs."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_hex(16))
    return _DUMMY_HASH


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with that email and password, else None.

    Unknown, blocked and password-less accounts are checked against a dummy hash, so that they
    take as long as a wrong password: the answer's timing does not tell which accounts exist.
    """
    user = find_user_by_email(session, email)
    if user is None or not user.password_hash or user.status != "active":
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    return user


def to_signed_in(user: User) -> SignedInUser:
    return SignedInUser(
        user.id,
        user.email,
        user.first_name or "",
        user.last_name or "",
        user.session_version or 0,
        user.language or "",
    )


def load_signed_in(session: Session, cookie_id: str) -> SignedInUser | None:
    """The active user a session cookie's id names, if its session version is still current."""
    version, sep, user_id = cookie_id.partition(":")
    if not sep or not version.isdigit():
        return None
    user = session.get(User, user_id)
    if user is None or user.status != "active" or (user.session_version or 0) != int(version):
        return None
    return to_signed_in(user)


def end_sessions(session: Session, user_id: str) -> None:
    """End every session of the user (sign-out, password change): their cookies stop working."""
    user = session.get(User, user_id)
    if user is not None:
        user.session_version = (user.session_version or 0) + 1
