"""SQLAlchemy 2 models for every concept of SPEC §2.

All timestamps are stored as naive UTC datetimes; they are converted to the platform
time zone (LEARNSTATS_TIMEZONE) only when shown or when grouped by day.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    false,
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
    # The interface language the user chose ("fr", "en"); None: the browser's, else the default.
    language: Mapped[str | None] = mapped_column(String(8))
    # Created or derived by xAPI (data/xapi): re-derivation only replaces rows with xapi true.
    xapi: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


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
    # Created or derived by xAPI (data/xapi): re-derivation only replaces rows with xapi true.
    xapi: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Module(Base):
    __tablename__ = "modules"

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(300))
    keep_results: Mapped[str] = mapped_column(String(8), default="best")
    # Created or derived by xAPI (data/xapi): re-derivation only replaces rows with xapi true.
    xapi: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TrainingModule(Base):
    __tablename__ = "training_modules"

    training_id: Mapped[str] = mapped_column(ForeignKey("trainings.id"), primary_key=True)
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)
    mandatory: Mapped[bool] = mapped_column(Boolean, default=True)
    min_score: Mapped[float] = mapped_column(Float, default=0)
    # Created or derived by xAPI (data/xapi): re-derivation only replaces rows with xapi true.
    xapi: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


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
    # Created or derived by xAPI (data/xapi): re-derivation only replaces rows with xapi true.
    xapi: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


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
    # Created or derived by xAPI (data/xapi): re-derivation only replaces rows with xapi true.
    xapi: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


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
    # Created or derived by xAPI (data/xapi): re-derivation only replaces rows with xapi true.
    xapi: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # From an xAPI finishing statement: its result.score.scaled x 100 (None: SPEC §4's score
    # from the answers) and its verdict "passed"/"failed" whatever the min score (None: the
    # min-score rule decides).
    score_override: Mapped[float | None] = mapped_column(Float)
    verdict: Mapped[str | None] = mapped_column(String(8))

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
    # Created or derived by xAPI (data/xapi): re-derivation only replaces rows with xapi true.
    xapi: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

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
        # No (user_id, module_id) index: the unique key begins with it (migration 0008).
        Index(None, "session_id", "user_id"),
        Index(None, "connected_at"),
    )


class Login(Base):
    __tablename__ = "logins"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    logged_in_at: Mapped[datetime] = mapped_column(DateTime, primary_key=True, index=True)
    # Created or derived by xAPI (data/xapi): re-derivation only replaces rows with xapi true.
    xapi: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


TUTOR_CHANNELS = ("email", "phone", "visio", "message", "forum", "in-person")


class TutorContact(Base):
    """A tutor's contact with a learner of a session (SPEC §10, the proof of individual
    support): from tutor_contacts.csv or the session page's form. Key: (user_id, session_id,
    contacted_at, tutor); channel, duration and subject are its values."""

    __tablename__ = "tutor_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    session_id: Mapped[str] = mapped_column(ForeignKey("program_sessions.id"))
    contacted_at: Mapped[datetime] = mapped_column(DateTime)
    tutor: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text, default="")
    # Who recorded it on the session page (None: imported).
    recorded_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index(None, "session_id", "user_id", "contacted_at", "tutor", unique=True),
        Index(None, "user_id"),
    )


class SatisfactionAnswer(Base):
    """A learner's satisfaction with a training, 0 to 10 (SPEC §10, Qualiopi indicator 2), from
    satisfaction.csv. Key: (user_id, training_id, answered_at); the score is its value."""

    __tablename__ = "satisfaction_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    training_id: Mapped[str] = mapped_column(ForeignKey("trainings.id"))
    answered_at: Mapped[datetime] = mapped_column(DateTime)
    score: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index(None, "user_id", "training_id", "answered_at", unique=True),
        Index(None, "training_id", "answered_at"),
    )


# --------------------------------------------------------------------------------------------
# xAPI (SPEC §8): every accepted statement kept as received, with the columns derivation reads;
# the log of imports and syncs; where each LRS sync stopped.
# --------------------------------------------------------------------------------------------


class XapiStatement(Base):
    """An accepted xAPI statement (the LRS discipline: an id is stored once; the same id with
    other content is a conflict, the first is kept)."""

    __tablename__ = "xapi_statements"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    raw: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime)  # timestamp, else stored (UTC)
    stored: Mapped[datetime | None] = mapped_column(DateTime)
    actor: Mapped[str | None] = mapped_column(String(64))  # the user id; None for a group
    verb: Mapped[str] = mapped_column(String(300))  # last segment of an ADL verb, else the IRI
    kind: Mapped[str] = mapped_column(String(10))  # course, module, question, ref, other
    course: Mapped[str | None] = mapped_column(String(64))
    module: Mapped[str | None] = mapped_column(String(64))
    question: Mapped[str | None] = mapped_column(String(64))
    registration: Mapped[str | None] = mapped_column(String(36))
    score_raw: Mapped[float | None] = mapped_column(Float)
    score_scaled: Mapped[float | None] = mapped_column(Float)
    score_max: Mapped[float | None] = mapped_column(Float)
    success: Mapped[bool | None] = mapped_column(Boolean)
    response: Mapped[str | None] = mapped_column(Text)
    duration: Mapped[float | None] = mapped_column(Float)  # result.duration in seconds
    voids: Mapped[str | None] = mapped_column(String(36))  # a voiding statement's target
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    ignored: Mapped[str | None] = mapped_column(String(40))  # why it maps to nothing
    source: Mapped[str] = mapped_column(String(500), default="")
    run_id: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        Index(None, "actor", "at"),
        Index(None, "course", "module"),
        Index(None, "question"),
        Index(None, "voids"),
        Index(None, "run_id"),
    )


class ImportRun(Base):
    """One import or sync (the "Data sources" page): bundle, xapi-file or lrs-sync."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(500), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(8), default="running")  # running, done, failed
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[str] = mapped_column(Text, default="{}")  # JSON: kind -> rows added
    skipped: Mapped[str] = mapped_column(Text, default="{}")  # JSON: reason -> {count, example}
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class LrsCursor(Base):
    """Where the sync of an LRS endpoint stopped: the last `stored` seen."""

    __tablename__ = "lrs_cursors"

    endpoint: Mapped[str] = mapped_column(String(500), primary_key=True)
    last_stored: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)


# --------------------------------------------------------------------------------------------
# Platform settings: values people edit in the app and expect to find again (the OPCO
# attestations' organisation block, images, duration...). Not platform data: never imported.
# --------------------------------------------------------------------------------------------


class PlatformSetting(Base):
    """One named setting, its value as JSON text (exports/attestation_options.py)."""

    __tablename__ = "platform_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_by: Mapped[str | None] = mapped_column(String(64))


class StoredImage(Base):
    """An uploaded image (logo, stamp and signature), addressed by the SHA-256 of its bytes:
    settings and queued jobs name an image by digest, so what a job prints is exactly what was
    chosen when it was queued."""

    __tablename__ = "stored_images"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(20))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime)


# --------------------------------------------------------------------------------------------
# The summary layer (data/summaries.py keeps it exact in the writer's transaction; the pages
# read it instead of the raw events). Local days are in the platform time zone recorded in
# summary_meta; NO_DAY stands for "since always" (an enrollment without a date).
# --------------------------------------------------------------------------------------------


class SummaryMeta(Base):
    """Facts about the summaries: the time zone their days are in, the data version."""

    __tablename__ = "summary_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class SummaryPair(Base):
    """Per (learner, training): SPEC §4's figures today, but the expiry (derived when read)."""

    __tablename__ = "summary_pairs"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    training_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    counted: Mapped[bool] = mapped_column(Boolean)  # a learner: active and not an admin
    enrolled_at: Mapped[datetime | None] = mapped_column(DateTime)
    enrolled_day: Mapped[date] = mapped_column(Date)  # NO_DAY when enrolled_at is NULL
    modules: Mapped[int] = mapped_column(Integer)
    mandatory_modules: Mapped[int] = mapped_column(Integer)
    completed_modules: Mapped[int] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))  # passed | failed | in progress | not started
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The local day the completion counts on in charts: the later of completion and enrollment.
    completed_day: Mapped[date | None] = mapped_column(Date)
    time_spent: Mapped[float] = mapped_column(Float)
    # The latest attempt start or finish: figures as of an earlier instant need the history.
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The learner's account creation and last active local days (user-level facts kept on each
    # pair, so that a training's new and active learners are counted from its own rows).
    created_day: Mapped[date | None] = mapped_column(Date)
    last_active_day: Mapped[date | None] = mapped_column(Date)
    # SPEC §9 (at-risk learners): the latest local day of activity in the training (a
    # connection to one of its modules started, an attempt in it started or finished, an
    # answer in it), all time; its days are summary_pair_days. The mandatory modules failed
    # now, space-separated in the training's order ("" none).
    last_activity_day: Mapped[date | None] = mapped_column(Date)
    failed_modules: Mapped[str] = mapped_column(Text, default="", server_default="")

    __table_args__ = (
        Index(None, "training_id", "counted", "status", "completed_at"),
        Index(None, "training_id", "counted", "created_day"),
        Index(None, "training_id", "counted", "last_active_day"),
        Index(None, "user_id"),
        Index(None, "last_event_at"),
        Index(None, "enrolled_day"),
        # The at-risk readers (data/figures/at_risk.py) read every column they judge from it.
        Index(
            "ix_summary_pairs_at_risk",
            "training_id",
            "counted",
            "status",
            "user_id",
            "enrolled_at",
            "enrolled_day",
            "last_event_at",
            "last_activity_day",
            "failed_modules",
        ),
    )


class SummaryPairHistory(Base):
    """A (learner, training)'s figures from instant `at` on (one row per change)."""

    __tablename__ = "summary_pair_history"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    training_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    completed_modules: Mapped[int] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The mandatory modules failed from `at` on (summary_pairs.failed_modules).
    failed_modules: Mapped[str] = mapped_column(Text, default="", server_default="")


class SummaryPairDay(Base):
    """A local day on which a learner was active in a training (SPEC §9's activity: a
    connection to one of its modules started, an attempt in it started or finished, an answer
    in it): the last activity day on or before any date (at-risk learners)."""

    __tablename__ = "summary_pair_days"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    training_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class SummaryModuleFact(Base):
    """Per (learner, training, module of the training) with at least one attempt."""

    __tablename__ = "summary_module_facts"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    training_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    module_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)  # first finish
    completed_day: Mapped[date | None] = mapped_column(Date)  # its local day
    effective_day: Mapped[date | None] = mapped_column(Date)  # local day of max(finish, enrollment)
    module_score: Mapped[float] = mapped_column(Float)  # kept score (0 when not completed)
    passed: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (Index(None, "training_id", "module_id"),)


class SummaryUserModule(Base):
    """A user's connections to a module: count and seconds, all time."""

    __tablename__ = "summary_user_modules"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    module_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    connections: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)


class SummaryUserModuleDay(Base):
    """A user's connections to a module that started on a local day: count and seconds."""

    __tablename__ = "summary_user_module_days"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    module_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    connections: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index(None, "day", "user_id"),)


class SummaryUserDay(Base):
    """A local day on which a user was active (SPEC §4): their logins and connection starts."""

    __tablename__ = "summary_user_days"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    logins: Mapped[int] = mapped_column(Integer)
    connections: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index(None, "day", "user_id"),)


# A group is a training's counted learners (class_id "") or a class's counted members in one of
# the trainings the class is registered to (class_id, training_id): the populations of the
# global, training and class pages, whose figures the group tables hold per day and per status.


class SummaryGroupDay(Base):
    """Per (group, local day): enrollments, module completions and training completions dated
    that day (the charts' historical counts)."""

    __tablename__ = "summary_group_days"

    class_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    training_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    enrollments: Mapped[int] = mapped_column(Integer)
    module_completions: Mapped[int] = mapped_column(Integer)
    completions: Mapped[int] = mapped_column(Integer)


class SummaryGroupStatus(Base):
    """Per (group, status before expiry): pairs, completed modules, score sum and count, seconds."""

    __tablename__ = "summary_group_status"

    class_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    training_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    pairs: Mapped[int] = mapped_column(Integer)
    completed_modules: Mapped[int] = mapped_column(Integer)
    score_sum: Mapped[float] = mapped_column(Float)
    scored: Mapped[int] = mapped_column(Integer)
    time_spent: Mapped[float] = mapped_column(Float)


class SummaryGroupModule(Base):
    """Per (group, module of the training): completions, passes, the completed modules' score
    sum, and the learners who spent time on it with their seconds (training content table)."""

    __tablename__ = "summary_group_modules"

    class_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    training_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    module_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    completed: Mapped[int] = mapped_column(Integer)
    passed: Mapped[int] = mapped_column(Integer)
    score_sum: Mapped[float] = mapped_column(Float)
    time_learners: Mapped[int] = mapped_column(Integer)
    time_spent: Mapped[float] = mapped_column(Float)


class SummaryClassLearner(Base):
    """A class's counted members enrolled in one of its trainings: first enrollment and account
    creation days (distinct learners of a class page)."""

    __tablename__ = "summary_class_learners"

    class_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_day: Mapped[date] = mapped_column(Date)
    created_day: Mapped[date | None] = mapped_column(Date)


class SummarySessionUser(Base):
    """A program session's people: registered, and their connections in the session."""

    __tablename__ = "summary_session_users"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    registered: Mapped[bool] = mapped_column(Boolean)
    connections: Mapped[int] = mapped_column(Integer)
    first_connection: Mapped[datetime | None] = mapped_column(DateTime)
    last_connection: Mapped[datetime | None] = mapped_column(DateTime)
    time_spent: Mapped[float] = mapped_column(Float)


class SummaryLearner(Base):
    """A counted learner (active, not an admin, enrolled in a training): the local days of
    their first enrollment (NO_DAY: since always) and of their account's creation."""

    __tablename__ = "summary_learners"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_day: Mapped[date] = mapped_column(Date, index=True)
    created_day: Mapped[date | None] = mapped_column(Date, index=True)
    # The last local day with a login or a connection start (None: never active).
    last_active_day: Mapped[date | None] = mapped_column(Date, index=True)


class SummarySession(Base):
    """A program session's people (registered or connected in it) and players (connected)."""

    __tablename__ = "summary_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    learners: Mapped[int] = mapped_column(Integer)
    played: Mapped[int] = mapped_column(Integer)


class SummaryActivePeriod(Base):
    """Distinct active learners of a population per day, calendar week (from Monday) or month:
    population "" (the platform's counted learners), "c:<class id>" (a class's) or
    "t:<training id>" (a training's). Kept by adding and removing the touched learners."""

    __tablename__ = "summary_active_periods"

    population: Mapped[str] = mapped_column(String(80), primary_key=True)
    unit: Mapped[str] = mapped_column(String(8), primary_key=True)
    start: Mapped[date] = mapped_column(Date, primary_key=True)
    learners: Mapped[int] = mapped_column(Integer)


class JobLock(Base):
    """One periodic job's lock and last run (jobs/periodic.py, data/job_locks.py): whoever holds
    the row (owner, until expires_at) runs the job; a holder that died stops blocking it at
    expires_at. Running state, not platform data: copy-database leaves it behind."""

    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)


FREQUENCIES = ("daily", "weekly", "monthly")


class ScheduledReport(Base):
    """A download sent by email on a calendar (SPEC §9 "Scheduled reports", jobs/reports.py):
    what (a report kind of exports/report_kinds.py and its parameters, JSON), when (daily,
    weekly on a weekday 0 = Monday, monthly on a day 1-31; at an hour of the platform time
    zone), to whom (the owner and other users, JSON list of user ids). last_due_at (UTC) is
    the last occurrence handled: the next one after it is due; send_now_at asks for a run at
    the next tick."""

    __tablename__ = "scheduled_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[str] = mapped_column(Text, default="{}")
    frequency: Mapped[str] = mapped_column(String(16))
    weekday: Mapped[int | None] = mapped_column(Integer)
    day: Mapped[int | None] = mapped_column(Integer)
    hour: Mapped[int] = mapped_column(Integer)
    recipients: Mapped[str] = mapped_column(Text, default="[]")
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    last_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    send_now_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set for the built-in schedules (the weekly digest: "digest"); None for a user's own.
    builtin: Mapped[str | None] = mapped_column(String(32))
    # The site's address when the schedule was saved: links in its emails start with it
    # (LEARNSTATS_BASE_URL, when set, comes first).
    base_url: Mapped[str] = mapped_column(String(300), default="")


class ScheduledReportRun(Base):
    """One recipient's delivery of one run of a scheduled report: when, for whom, rows, and
    sent / skipped / failed with the reason. trigger: schedule, catch-up or send-now."""

    __tablename__ = "scheduled_report_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("scheduled_reports.id", ondelete="CASCADE"))
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    trigger: Mapped[str] = mapped_column(String(16))
    recipient_id: Mapped[str] = mapped_column(String(64))
    recipient_email: Mapped[str] = mapped_column(String(320), default="")
    rows: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    delivery: Mapped[str] = mapped_column(String(16), default="")
    file_name: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index(None, "report_id", "started_at"),)


# Rows per user, recomputed with the users a write touched.
USER_TABLES = (
    SummaryLearner,
    SummaryPair,
    SummaryPairHistory,
    SummaryPairDay,
    SummaryModuleFact,
    SummaryUserModule,
    SummaryUserModuleDay,
    SummaryUserDay,
    SummarySessionUser,
)
# Rows per group or class, recomputed for the trainings a write touched.
GROUP_TABLES = (SummaryGroupDay, SummaryGroupStatus, SummaryGroupModule, SummaryClassLearner)
SUMMARY_TABLES = (*USER_TABLES, *GROUP_TABLES, SummarySession, SummaryActivePeriod)
# Kept by the app, never imported (not platform data): the attestations' saved values.
SETTINGS_TABLES = (PlatformSetting, StoredImage)
