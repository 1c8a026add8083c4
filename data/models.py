"""SQLAlchemy 2 models for every concept of SPEC §2.

All timestamps are stored as naive UTC datetimes; they are converted to the platform
time zone (LEARNSTATS_TIMEZONE) only when shown or when grouped by day.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Sort keys compare byte for byte on every database (PostgreSQL's locale collations would
# ignore the tab separators and punctuation).
SortKey = String(600).with_variant(String(600, collation="C"), "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = (
    "admin",
    "global_user_manager",
    "statistics_manager",
    "training_manager",
    "class_manager",
    "session_instructor",
)
GLOBAL_ROLES = ("admin", "global_user_manager", "statistics_manager")
SCOPED_ROLES = {
    "training_manager": "training",
    "class_manager": "class",
    "session_instructor": "session",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _id() -> Mapped[str]:
    return mapped_column(String(64), primary_key=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = _id()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    additional_info: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="active")
    password_hash: Mapped[str | None] = mapped_column(String(256))
    # Normalised "last\tfirst\temail" (case and accents folded): SPEC §4's order of people.
    sort_key: Mapped[str] = mapped_column(SortKey, default="", index=True)
    # Normalised names and email for accent-insensitive search.
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Bumped on sign-out and password change: every session signed with an older one ends.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class UserLabel(Base):
    __tablename__ = "user_labels"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    label: Mapped[str] = mapped_column(String(200), primary_key=True)


class UserField(Base):
    __tablename__ = "user_fields"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    field: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index(None, "field", "value"),)


class Role(Base):
    __tablename__ = "roles"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    # "" for the unscoped roles (a primary key column cannot be NULL on PostgreSQL).
    scope_id: Mapped[str] = mapped_column(String(64), primary_key=True, default="")

    __table_args__ = (Index(None, "role", "scope_id"),)


class Training(Base):
    __tablename__ = "trainings"

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(300))
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    validity_months: Mapped[int | None] = mapped_column(Integer)


class Module(Base):
    __tablename__ = "modules"

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(300))
    keep_results: Mapped[str] = mapped_column(String(8), default="best")


class TrainingModule(Base):
    __tablename__ = "training_modules"

    training_id: Mapped[str] = mapped_column(ForeignKey("trainings.id"), primary_key=True)
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)
    mandatory: Mapped[bool] = mapped_column(Boolean, default=True)
    min_score: Mapped[float] = mapped_column(Float, default=0)


class Activity(Base):
    __tablename__ = "activities"

    id: Mapped[str] = _id()
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    max_score: Mapped[float] = mapped_column(Float)
    position: Mapped[int | None] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64), default="")
    question: Mapped[str] = mapped_column(Text, default="")
    correct_answer: Mapped[str] = mapped_column(Text, default="")


class Class(Base):
    __tablename__ = "classes"

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(300))


class ClassMember(Base):
    __tablename__ = "class_members"

    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    joined_at: Mapped[datetime | None] = mapped_column(DateTime)


class ClassTraining(Base):
    __tablename__ = "class_trainings"

    class_id: Mapped[str] = mapped_column(ForeignKey("classes.id"), primary_key=True)
    training_id: Mapped[str] = mapped_column(ForeignKey("trainings.id"), primary_key=True, index=True)
    registered_at: Mapped[datetime | None] = mapped_column(DateTime)


class Enrollment(Base):
    """A direct registration of a user to a training (enrollments.csv)."""

    __tablename__ = "enrollments"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    training_id: Mapped[str] = mapped_column(ForeignKey("trainings.id"), primary_key=True, index=True)
    enrolled_at: Mapped[datetime] = mapped_column(DateTime)


class TrainingLearner(Base):
    """Effective enrollments, derived from direct ones and class registrations (SPEC §3).

    One row per (user, training): enrolled at the earlier of the direct enrollment date and
    each class's date, a class's date being the later of joining the class and the class's
    registration to the training (NULL when neither is known: enrolled since always).
    Rebuilt by data.enrollments.refresh_training_learners after every write.
    """

    __tablename__ = "training_learners"

    training_id: Mapped[str] = mapped_column(ForeignKey("trainings.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    enrolled_at: Mapped[datetime | None] = mapped_column(DateTime)


class ProgramSession(Base):
    __tablename__ = "program_sessions"

    id: Mapped[str] = _id()
    training_id: Mapped[str] = mapped_column(ForeignKey("trainings.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[datetime | None] = mapped_column(DateTime)
    ends_at: Mapped[datetime | None] = mapped_column(DateTime)


class SessionLearner(Base):
    __tablename__ = "session_learners"

    session_id: Mapped[str] = mapped_column(ForeignKey("program_sessions.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class Attempt(Base):
    __tablename__ = "attempts"

    id: Mapped[str] = _id()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    training_id: Mapped[str] = mapped_column(ForeignKey("trainings.id"))
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id"))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        Index(None, "training_id", "user_id", "module_id"),
        Index(None, "user_id", "training_id"),
    )


class Answer(Base):
    __tablename__ = "answers"

    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id"), primary_key=True)
    activity_id: Mapped[str] = mapped_column(ForeignKey("activities.id"), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    evaluated: Mapped[bool] = mapped_column(Boolean, default=True)


class Connection(Base):
    """A span during which a user was connected to a module; key: all five columns."""

    __tablename__ = "connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id"))
    connected_at: Mapped[datetime] = mapped_column(DateTime)
    disconnected_at: Mapped[datetime] = mapped_column(DateTime)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("program_sessions.id"))

    __table_args__ = (
        Index(
            "uq_connections_key",
            "user_id",
            "module_id",
            "connected_at",
            "disconnected_at",
            text("coalesce(session_id, '')"),
            unique=True,
        ),
        Index(None, "user_id", "module_id"),
        Index(None, "session_id", "user_id"),
        Index(None, "connected_at"),
    )


class Login(Base):
    __tablename__ = "logins"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    logged_in_at: Mapped[datetime] = mapped_column(DateTime, primary_key=True, index=True)
