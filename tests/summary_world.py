"""Random small platforms as sequences of CSV bundles, for the summary-layer property test.

`World(draw)` draws, step by step, the bundles a platform could send: `first_bundle()`
creates users (learners, some blocked, an admin, a training manager, a class manager, a
session instructor), trainings, modules, activities, classes, enrollments, sessions,
attempts, answers, connections and logins; `next_bundle()` then adds learners, re-imports
attempts with other finish times and answers, registers classes, adds connections and
logins, flips a status, changes a step's rules... Every bundle it returns is valid (the
importer must accept it) unless `Bundle.invalid` says it was built to be refused.

Timestamps cluster where figures are easy to get wrong: local midnights, the range
boundaries the test asks for, and the Europe/Paris daylight-saving changes. They are
written in several ISO forms (UTC, with the local offset, local without offset, date only).
`draw` is hypothesis' `data.draw`; the world keeps what was imported so that later
bundles only reference ids that exist.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

TZ = ZoneInfo("Europe/Paris")
TODAY = datetime.now(TZ).date()
# The data spreads over the ~14 months before today.
WINDOW_DAYS = 425
WINDOW_START = datetime.combine(TODAY - timedelta(days=WINDOW_DAYS), time.min, tzinfo=TZ).astimezone(UTC)
WINDOW_END = datetime.combine(TODAY + timedelta(days=1), time.min, tzinfo=TZ).astimezone(UTC)
SPAN_MINUTES = int((WINDOW_END - WINDOW_START).total_seconds() // 60) - 1
# Europe/Paris daylight-saving changes inside (or near) the window.
DST_CHANGES = (
    datetime(2025, 3, 30, 1, 0, tzinfo=UTC),
    datetime(2025, 10, 26, 1, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
)
# Days whose local midnight is a range boundary of the test (events land on both sides).
BOUNDARY_DAYS = tuple(
    sorted(
        {
            TODAY,
            TODAY - timedelta(days=6),
            TODAY - timedelta(days=7),
            TODAY - timedelta(days=13),
            TODAY - timedelta(days=29),
            TODAY - timedelta(days=30),
            TODAY - timedelta(days=59),
            TODAY - timedelta(days=40),
            TODAY - timedelta(days=41),
            TODAY - timedelta(days=364),
            TODAY - timedelta(days=365),
            date(2026, 3, 29),
            date(2026, 3, 30),
            date(2026, 10, 25),
            date(2026, 10, 26),
            date(2025, 10, 26),
            date(2026, 4, 1),
            date(2026, 11, 1),
        }
    )
)

LAST_NAMES = ("Àlvarez", "alvarez", "Bernard", "Œuvre", "Oeuvre", "Durand", "Lefèvre", "lefevre", "", "Zoé")
FIRST_NAMES = ("Zoé", "zoe", "François", "Marc", "", "Élise", "elise", "Ann")
TRAINING_NAMES = ("Sécurité", "accueil", "Bureautique, niveau 1", "Élan", "zèbre", "Management")
MODULE_NAMES = (
    "Introduction",
    "introduction",
    "Quiz final",
    "Lecture",
    "Évaluation",
    "Cas pratique",
    "Vidéo",
)
MAX_SCORES = (0.0, 0.0, 1.0, 5.0, 10.0, 20.0, 2.5)
MIN_SCORES = ("", "0", "50", "80", "100", "33.3")
SEARCH_WORDS = ("alv", "OEU", "lefe", "zoe", "example", "l1", "é")

USER_COLS = ["user_id", "email", "first_name", "last_name", "created_at", "status"]
ATTEMPT_COLS = ["attempt_id", "user_id", "training_id", "module_id", "started_at", "finished_at"]
ANSWER_COLS = ["attempt_id", "activity_id", "score", "answer", "evaluated"]
CONNECTION_COLS = ["user_id", "module_id", "connected_at", "disconnected_at", "session_id"]

# Keys of the files a bundle may write twice (SPEC §3): a file may not repeat a key.
KEYS = {
    "users.csv": ("user_id",),
    "enrollments.csv": ("user_id", "training_id"),
    "class_members.csv": ("class_id", "user_id"),
    "class_trainings.csv": ("class_id", "training_id"),
    "answers.csv": ("attempt_id", "activity_id"),
    "attempts.csv": ("attempt_id",),
    "training_modules.csv": ("training_id", "module_id"),
    "trainings.csv": ("training_id",),
}


@dataclass
class Bundle:
    """file name -> (header, rows as dicts); invalid: built to be refused by the importer."""

    files: dict[str, tuple[list[str], list[dict[str, Any]]]] = field(default_factory=dict)
    invalid: bool = False
    what: list[str] = field(default_factory=list)

    def add(self, name: str, header: list[str], rows: list[dict[str, Any]]) -> None:
        """Add rows to a file; a row whose key is already in the file replaces that row."""
        if not rows:
            return
        old_header, old_rows = self.files.setdefault(name, (header, []))
        assert old_header == header, (name, old_header, header)
        key = KEYS.get(name)
        for row in rows:
            if key is not None:
                old_rows[:] = [r for r in old_rows if tuple(r[k] for k in key) != tuple(row[k] for k in key)]
            old_rows.append(row)

    def text(self) -> str:
        """The bundle as CSV text, file by file (printed with a failing example)."""
        out = io.StringIO()
        for name, (header, rows) in self.files.items():
            out.write(f"--- {name}\n")
            writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
        return out.getvalue()

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, (header, rows) in self.files.items():
            with open(folder / name, "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=header)
                writer.writeheader()
                for row in rows:
                    writer.writerow({k: "" if v is None else v for k, v in row.items()})


@dataclass
class AttemptState:
    user: str
    training: str
    module: str
    started: datetime
    finished: datetime | None


class World:
    """What has been imported so far, and the drawing of the next bundle."""

    def __init__(self, draw: Callable[[st.SearchStrategy], Any]):
        self.draw = draw
        self.users: dict[str, str] = {}  # id -> status
        self.emails: dict[str, str] = {}
        self.learners: list[str] = []
        self.trainings: list[str] = []
        self.training_rows: dict[str, dict[str, str]] = {}  # training -> name, validity_months
        self.steps: dict[str, list[str]] = {}  # training -> modules
        self.positions: dict[tuple[str, str], int] = {}
        self.activities: dict[str, list[tuple[str, float]]] = {}  # module -> (activity, max)
        self.classes: list[str] = []
        self.class_members: set[tuple[str, str]] = set()
        self.class_trainings: set[tuple[str, str]] = set()
        self.enrollments: set[tuple[str, str]] = set()
        self.sessions: dict[str, str] = {}  # session -> training
        self.attempts: dict[str, AttemptState] = {}
        self.answers: dict[tuple[str, str], float] = {}
        self._ids = itertools.count(1)
        # xAPI statements (SPEC §8) imported so far: their trainings, (learner, training) pairs
        # and ids (a later import may void one).
        self.xapi_trainings: list[str] = []
        self.xapi_pairs: set[tuple[str, str]] = set()
        self.xapi_ids: list[str] = []

    # -- values -----------------------------------------------------------------------------

    # Hypothesis favours the first value of sampled_from and the low end of integers: the
    # lists below start with the value worth seeing most (a validity, a finished attempt...).

    def instant(self) -> datetime:
        """An aware UTC instant in the window, often near a midnight, boundary or DST change."""
        kind = self.draw(st.sampled_from(("any", "any", "any", "dst", "midnight", "boundary")))
        if kind == "any":
            at = WINDOW_START + timedelta(minutes=self.draw(st.integers(0, SPAN_MINUTES)))
        elif kind == "dst":
            change = self.draw(st.sampled_from(DST_CHANGES))
            at = change + timedelta(minutes=self.draw(st.integers(-180, 180)))
        else:
            if kind == "midnight":
                day = TODAY - timedelta(days=self.draw(st.integers(0, WINDOW_DAYS)))
                spread = 120
            else:
                day = self.draw(st.sampled_from(BOUNDARY_DAYS))
                spread = 3
            midnight = datetime.combine(day, time.min, tzinfo=TZ).astimezone(UTC)
            at = midnight + timedelta(minutes=self.draw(st.integers(-spread, spread)))
        at += timedelta(seconds=self.draw(st.sampled_from((0, 0, 1, 30, 59))))
        return min(max(at, WINDOW_START), WINDOW_END - timedelta(seconds=1))

    def stamp(self, at: datetime | None) -> str:
        """at written as an ISO timestamp in one of the forms the importer reads."""
        if at is None:
            return ""
        style = self.draw(st.sampled_from(("utc", "offset", "local", "z")))
        if style == "utc":
            return at.astimezone(UTC).isoformat()
        if style == "z":
            return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        local = at.astimezone(TZ)
        naive = local.replace(tzinfo=None, fold=0)  # as the importer reads it
        # Local wall time only where it names one instant (the importer reads fold=0).
        if style == "local" and naive.replace(tzinfo=TZ).astimezone(UTC) == at.astimezone(UTC):
            return naive.isoformat(sep=self.draw(st.sampled_from(("T", " "))))
        return local.isoformat()

    def maybe_stamp(self, allow_day: bool = True) -> str:
        """An optional timestamp (empty, a local date, or an instant)."""
        kind = self.draw(
            st.sampled_from(("instant", "day", "none", "instant") if allow_day else ("instant", "none"))
        )
        if kind == "none":
            return ""
        if kind == "day":
            return (TODAY - timedelta(days=self.draw(st.integers(0, WINDOW_DAYS)))).isoformat()
        return self.stamp(self.instant())

    def duration(self, long: bool = True) -> timedelta:
        kind = self.draw(st.sampled_from(("short", "short", "zero", "long") if long else ("short", "zero")))
        if kind == "zero":
            return timedelta(0)
        if kind == "short":
            return timedelta(seconds=self.draw(st.integers(1, 4 * 3600)))
        return timedelta(seconds=self.draw(st.integers(4 * 3600, 2 * 86400)))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def subset(self, items, max_size: int | None = None) -> list:
        items = sorted(items)
        if not items:
            return []
        return sorted(self.draw(st.sets(st.sampled_from(items), max_size=max_size)))

    # -- rows ---------------------------------------------------------------------------------

    def user_row(self, user_id: str, status: str) -> dict[str, Any]:
        self.users[user_id] = status
        upper = self.draw(st.booleans())
        self.emails[user_id] = f"{user_id.upper() if upper else user_id}@example.org"
        return {
            "user_id": user_id,
            "email": self.emails[user_id],
            "first_name": self.draw(st.sampled_from(FIRST_NAMES)),
            "last_name": self.draw(st.sampled_from(LAST_NAMES)),
            "created_at": self.maybe_stamp(),
            "status": status,
        }

    def new_learners(self, bundle: Bundle, count: int) -> list[str]:
        rows = []
        made = []
        for _ in range(count):
            user_id = self.new_id("l")
            status = "blocked" if self.draw(st.integers(0, 4)) == 4 else "active"
            rows.append(self.user_row(user_id, status))
            self.learners.append(user_id)
            made.append(user_id)
        bundle.add("users.csv", USER_COLS, rows)
        return made

    def enroll(self, bundle: Bundle, pairs) -> None:
        rows = []
        for user_id, training_id in pairs:
            self.enrollments.add((user_id, training_id))
            stamp = self.maybe_stamp() or self.stamp(self.instant())  # enrolled_at is required
            rows.append({"user_id": user_id, "training_id": training_id, "enrolled_at": stamp})
        bundle.add("enrollments.csv", ["user_id", "training_id", "enrolled_at"], rows)

    def join_classes(self, bundle: Bundle, pairs) -> None:
        rows = []
        for class_id, user_id in pairs:
            self.class_members.add((class_id, user_id))
            rows.append({"class_id": class_id, "user_id": user_id, "joined_at": self.maybe_stamp()})
        bundle.add("class_members.csv", ["class_id", "user_id", "joined_at"], rows)

    def register_classes(self, bundle: Bundle, pairs) -> None:
        rows = []
        for class_id, training_id in pairs:
            self.class_trainings.add((class_id, training_id))
            rows.append(
                {"class_id": class_id, "training_id": training_id, "registered_at": self.maybe_stamp()}
            )
        bundle.add("class_trainings.csv", ["class_id", "training_id", "registered_at"], rows)

    def attempt_row(self, attempt_id: str) -> dict[str, Any]:
        a = self.attempts[attempt_id]
        return {
            "attempt_id": attempt_id,
            "user_id": a.user,
            "training_id": a.training,
            "module_id": a.module,
            "started_at": self.stamp(a.started),
            "finished_at": self.stamp(a.finished),
        }

    def finish(self, started: datetime) -> datetime | None:
        if self.draw(st.integers(0, 3)) == 3:
            return None
        return min(started + self.duration(), WINDOW_END - timedelta(seconds=1))

    def score(self, maximum: float) -> float:
        if maximum == 0:
            return 0.0
        return self.draw(
            st.sampled_from((maximum, 0.0, maximum / 2, maximum / 3, 1.0 if maximum >= 1 else 0.0))
        )

    def answer_rows(self, attempt_id: str, activities: list[tuple[str, float]]) -> list[dict[str, Any]]:
        rows = []
        for activity_id, maximum in activities:
            value = self.score(maximum)
            self.answers[(attempt_id, activity_id)] = value
            rows.append(
                {
                    "attempt_id": attempt_id,
                    "activity_id": activity_id,
                    "score": repr(value),
                    "answer": self.draw(st.sampled_from(("", "Bleu", "=1+1", "42"))),
                    "evaluated": self.draw(st.sampled_from(("", "true", "false", "FALSE"))),
                }
            )
        return rows

    def new_attempts(self, bundle: Bundle, count: int) -> None:
        attempts, answers = [], []
        users = sorted(self.users)
        for _ in range(count):
            user_id = self.draw(st.sampled_from(users))
            # Mostly a training the user is enrolled in directly; sometimes any.
            mine = sorted({t for u, t in self.enrollments if u == user_id})
            training_id = self.draw(
                st.sampled_from(mine if mine and self.draw(st.integers(0, 3)) else self.trainings)
            )
            module_id = self.draw(st.sampled_from(self.steps[training_id]))
            attempt_id = self.new_id("at")
            started = self.instant()
            self.attempts[attempt_id] = AttemptState(
                user_id, training_id, module_id, started, self.finish(started)
            )
            attempts.append(self.attempt_row(attempt_id))
            answers += self.answer_rows(attempt_id, self.subset(self.activities[module_id]))
        bundle.add("attempts.csv", ATTEMPT_COLS, attempts)
        bundle.add("answers.csv", ANSWER_COLS, answers)

    def complete_trainings(self, bundle: Bundle, count: int) -> None:
        """Finished attempts of every module of a training for some enrolled learners (the
        completions, passes, failures and expiries the figures count)."""
        attempts, answers = [], []
        for user_id, training_id in self.subset(self.enrollments, max_size=count):
            for module_id in self.steps[training_id]:
                attempt_id = self.new_id("at")
                started = self.instant()
                finished = min(started + self.duration(long=False), WINDOW_END - timedelta(seconds=1))
                self.attempts[attempt_id] = AttemptState(user_id, training_id, module_id, started, finished)
                attempts.append(self.attempt_row(attempt_id))
                answers += self.answer_rows(attempt_id, self.activities[module_id])
        bundle.add("attempts.csv", ATTEMPT_COLS, attempts)
        bundle.add("answers.csv", ANSWER_COLS, answers)

    def connections(self, bundle: Bundle, count: int) -> None:
        rows, keys = [], set()
        modules = sorted(self.activities)
        for _ in range(count):
            user_id = self.draw(st.sampled_from(sorted(self.users)))
            mine = sorted({m for u, t in self.enrollments if u == user_id for m in self.steps[t]})
            module_id = self.draw(st.sampled_from(mine if mine and self.draw(st.integers(0, 3)) else modules))
            start = self.instant()
            end = min(start + self.duration(), WINDOW_END - timedelta(seconds=1))
            session_id = self.draw(st.sampled_from(("", *sorted(self.sessions))))
            # The key is the five columns, compared as stored (UTC, to the second).
            key = (user_id, module_id, start, end, session_id)
            if key in keys:
                continue
            keys.add(key)
            rows.append(
                {
                    "user_id": user_id,
                    "module_id": module_id,
                    "connected_at": self.stamp(start),
                    "disconnected_at": self.stamp(end),
                    "session_id": session_id,
                }
            )
        bundle.add("connections.csv", CONNECTION_COLS, rows)

    def logins(self, bundle: Bundle, count: int) -> None:
        rows, keys = [], set()
        for _ in range(count):
            user_id = self.draw(st.sampled_from(sorted(self.users)))
            at = self.instant()
            if (user_id, at) in keys:
                continue
            keys.add((user_id, at))
            rows.append({"user_id": user_id, "logged_in_at": self.stamp(at)})
        bundle.add("logins.csv", ["user_id", "logged_in_at"], rows)

    # -- bundles ------------------------------------------------------------------------------

    def first_bundle(self) -> Bundle:
        b = Bundle(what=["first"])
        draw = self.draw
        # Staff: an admin, a training manager, a class manager, a session instructor.
        staff = [self.user_row(u, "active") for u in ("ad", "tm", "cm", "in")]
        b.add("users.csv", USER_COLS, staff)
        self.new_learners(b, draw(st.integers(2, 5)))

        # Trainings, modules (sometimes shared by two trainings), activities, steps.
        names = draw(st.lists(st.sampled_from(TRAINING_NAMES), min_size=2, max_size=3, unique=True))
        trainings, modules, activities, steps = [], [], [], []
        for i, name in enumerate(names, 1):
            training_id = f"t{i}"
            self.trainings.append(training_id)
            validity = draw(st.sampled_from(("6", "1", "", "12", "2", "")))
            self.training_rows[training_id] = {"name": name, "validity_months": validity}
            published = draw(st.sampled_from(("", "true", "false")))
            trainings.append(
                {
                    "training_id": training_id,
                    "name": name,
                    "published": published,
                    "validity_months": validity,
                }
            )
            self.steps[training_id] = []
            position = 0
            for _ in range(draw(st.integers(1, 3))):
                shared = [m for m in self.activities if m not in self.steps[training_id]]
                if shared and draw(st.integers(0, 4)) == 4:
                    module_id = draw(st.sampled_from(sorted(shared)))
                else:
                    module_id = f"m{len(self.activities) + 1}"
                    keep = draw(st.sampled_from(("", "best", "newest", "NEWEST")))
                    modules.append(
                        {
                            "module_id": module_id,
                            "name": draw(st.sampled_from(MODULE_NAMES)),
                            "keep_results": keep,
                        }
                    )
                    self.activities[module_id] = []
                    for j in range(draw(st.integers(1, 3))):
                        activity_id = f"{module_id}a{j + 1}"
                        maximum = draw(st.sampled_from(MAX_SCORES))
                        self.activities[module_id].append((activity_id, maximum))
                        activities.append(
                            {
                                "activity_id": activity_id,
                                "module_id": module_id,
                                "name": f"Q{j + 1}",
                                "max_score": repr(maximum),
                            }
                        )
                position += draw(st.integers(1, 3))
                self.steps[training_id].append(module_id)
                self.positions[(training_id, module_id)] = position
                steps.append(self.step_row(training_id, module_id))
        b.add("trainings.csv", ["training_id", "name", "published", "validity_months"], trainings)
        b.add("modules.csv", ["module_id", "name", "keep_results"], modules)
        b.add("activities.csv", ["activity_id", "module_id", "name", "max_score"], activities)
        b.add(
            "training_modules.csv", ["training_id", "module_id", "position", "mandatory", "min_score"], steps
        )

        # Classes, their members and registrations.
        self.classes = [f"c{i}" for i in range(1, draw(st.integers(1, 2)) + 1)]
        b.add(
            "classes.csv",
            ["class_id", "name"],
            [{"class_id": c, "name": f"Groupe {c.upper()}"} for c in self.classes],
        )
        users = sorted(self.users)
        self.join_classes(b, self.subset([(c, u) for c in self.classes for u in users], max_size=8))
        self.register_classes(b, self.subset([(c, t) for c in self.classes for t in self.trainings]))

        # Sessions of trainings.
        sessions = []
        for i in range(1, draw(st.integers(1, 2)) + 1):
            session_id = f"s{i}"
            self.sessions[session_id] = draw(st.sampled_from(self.trainings))
            starts = self.instant() if draw(st.integers(0, 3)) else None
            ends = (
                starts + timedelta(days=draw(st.integers(0, 120))) if starts and draw(st.booleans()) else None
            )
            sessions.append(
                {
                    "session_id": session_id,
                    "training_id": self.sessions[session_id],
                    "name": draw(st.sampled_from(("Session d'été", "session A", "Printemps"))),
                    "starts_at": self.stamp(starts),
                    "ends_at": self.stamp(ends),
                }
            )
        b.add("sessions.csv", ["session_id", "training_id", "name", "starts_at", "ends_at"], sessions)
        b.add(
            "session_learners.csv",
            ["session_id", "user_id"],
            [
                {"session_id": s, "user_id": u}
                for s, u in self.subset([(s, u) for s in self.sessions for u in users], 5)
            ],
        )

        # Roles: the training manager of t1, the class manager of c1, the instructor of s1.
        roles = [
            {"user_id": "ad", "role": "admin", "scope_id": ""},
            {"user_id": "tm", "role": "training_manager", "scope_id": "t1"},
            {"user_id": "cm", "role": "class_manager", "scope_id": "c1"},
            {"user_id": "in", "role": "session_instructor", "scope_id": "s1"},
        ]
        b.add("roles.csv", ["user_id", "role", "scope_id"], roles)

        self.enroll(b, self.subset([(u, t) for u in users for t in self.trainings], max_size=10))
        self.new_attempts(b, draw(st.integers(0, 10)))
        self.complete_trainings(b, draw(st.integers(0, 3)))
        self.connections(b, draw(st.integers(0, 10)))
        self.logins(b, draw(st.integers(0, 8)))
        return b

    def write_training(self, bundle: Bundle, training_id: str) -> None:
        """trainings.csv's row of a training as the world has it now (published left as is)."""
        row = {"training_id": training_id, **self.training_rows[training_id]}
        bundle.add("trainings.csv", ["training_id", "name", "validity_months"], [row])

    def step_row(self, training_id: str, module_id: str) -> dict[str, Any]:
        return {
            "training_id": training_id,
            "module_id": module_id,
            "position": self.positions[(training_id, module_id)],
            "mandatory": self.draw(st.sampled_from(("true", "", "false", "true"))),
            "min_score": self.draw(st.sampled_from(MIN_SCORES)),
        }

    ACTIONS = (
        "new_learners",
        "reattempt",
        "new_attempts",
        "class_registrations",
        "connections",
        "logins",
        "enrollments",
        "status",
        "rules",
        "rename",
        "invalid",
    )

    def xapi_statements(self) -> list[dict]:
        """A batch of xAPI statements by the world's users (account name = user id) on two
        xAPI courses: modules, questions (raw or scaled scores), registrations, finishing
        verbs with scaled scores and verdicts, connections, logins, voiding of an earlier one."""
        draw = self.draw
        adl = "http://adlnet.gov/expapi/verbs/"
        course_type = "http://adlnet.gov/expapi/activities/course"
        module_type = "http://adlnet.gov/expapi/activities/module"
        question_type = "http://adlnet.gov/expapi/activities/question"
        out: list[dict] = []
        for _ in range(draw(st.integers(1, 12))):
            user_id = draw(st.sampled_from(sorted(self.users)))
            course = draw(st.sampled_from(("https://lms.example.org/x1", "https://lms.example.org/x2")))
            statement_id = f"00000000-0000-4000-8000-{next(self._ids):012d}"
            at = self.instant()
            actor = {
                "account": {"homePage": "https://lms.example.org", "name": user_id},
                "name": "Xavier Api",
            }
            stamp = at.astimezone(UTC).isoformat()
            kind = draw(st.sampled_from(("module", "module", "question", "course", "void", "login")))
            if kind == "void" and self.xapi_ids:
                target = draw(st.sampled_from(self.xapi_ids))
                out.append({"id": statement_id, "actor": actor, "verb": {"id": adl + "voided"},
                            "object": {"objectType": "StatementRef", "id": target}, "timestamp": stamp})  # fmt: skip
                continue
            parent = {
                "id": course,
                "definition": {"type": course_type, "name": {"en": f"xAPI {course[-2:]}"}},
            }
            module = f"{course}/m{draw(st.integers(1, 2))}"
            context: dict = {"contextActivities": {"parent": [parent]}}
            if kind == "login":
                verb, target = "https://w3id.org/xapi/adl/verbs/logged-in", {"id": "https://lms.example.org"}
                context = {}
            elif kind == "course":
                verb = draw(st.sampled_from(("registered", "completed", "launched")))
                target = parent
                context = {}
            elif kind == "question":
                verb = draw(st.sampled_from(("answered", "attempted")))
                target = {"id": f"{module}/q{draw(st.integers(1, 2))}", "definition": {"type": question_type}}
                context = {"contextActivities": {"parent": [{"id": module, "definition": {"type": module_type}}],
                                                 "grouping": [parent]}}  # fmt: skip
            else:
                verb = draw(
                    st.sampled_from(
                        ("launched", "experienced", "completed", "passed", "failed", "terminated")
                    )
                )
                target = {"id": module, "definition": {"type": module_type}}
            if not verb.startswith("http"):
                verb = adl + verb
            statement = {
                "id": statement_id,
                "actor": actor,
                "verb": {"id": verb},
                "object": target,
                "timestamp": stamp,
            }
            registration = draw(st.sampled_from((None, None, "6d1c1f3a-0f5e-4b7e-9a55-3a4f9d1c2b01")))
            if registration and context:
                context["registration"] = registration
            if context:
                statement["context"] = context
            score = draw(st.sampled_from((None, "raw", "scaled")))
            if score == "raw" and kind == "question":
                statement["result"] = {"score": {"raw": draw(st.sampled_from((0, 1, 2))), "max": 2}}
            elif score == "scaled":
                statement["result"] = {"score": {"scaled": draw(st.sampled_from((0.0, 0.4, 1.0)))}}
            if draw(st.integers(0, 3)) == 0:
                statement.setdefault("result", {})["success"] = draw(st.booleans())
            if kind != "login":
                if course not in self.xapi_trainings:
                    self.xapi_trainings.append(course)
                self.xapi_pairs.add((user_id, course))
            self.xapi_ids.append(statement_id)
            out.append(statement)
        # Now and then a statement sent twice (a duplicate, never applied twice).
        if out and draw(st.booleans()):
            out.append(draw(st.sampled_from(out)))
        return out

    def next_bundle(self) -> Bundle:
        """A later import; one meant to be refused leaves the world as it was."""
        actions = self.draw(st.lists(st.sampled_from(self.ACTIONS), min_size=1, max_size=4, unique=True))
        if "rename" in actions and self.draw(st.booleans()):
            actions = ["rename"]  # nothing but names: no summary row changes
        if "invalid" not in actions:
            return self._next_bundle(actions)
        kept = {k: copy.deepcopy(v) for k, v in vars(self).items() if k not in ("draw", "_ids")}
        bundle = self._next_bundle(actions)
        vars(self).update(kept)
        return bundle

    def _next_bundle(self, actions: list[str]) -> Bundle:
        draw = self.draw
        b = Bundle(what=list(actions))
        earlier_learners = list(self.learners)
        if "new_learners" in actions:
            made = self.new_learners(b, draw(st.integers(1, 2)))
            self.enroll(b, self.subset([(u, t) for u in made for t in self.trainings]))
            self.join_classes(b, self.subset([(c, u) for c in self.classes for u in made]))
        if "reattempt" in actions and self.attempts:
            attempts, answers = [], []
            for attempt_id in self.subset(self.attempts, max_size=3):
                a = self.attempts[attempt_id]
                if draw(st.booleans()):
                    a.finished = self.finish(a.started)  # finished later, earlier, or not any more
                    attempts.append(self.attempt_row(attempt_id))
                # Changed scores, answers graded (evaluated false -> true), new answers.
                answers += self.answer_rows(attempt_id, self.subset(self.activities[a.module]))
            b.add("attempts.csv", ATTEMPT_COLS, attempts)
            b.add("answers.csv", ANSWER_COLS, answers)
        if "new_attempts" in actions:
            self.new_attempts(b, draw(st.integers(1, 4)))
            self.complete_trainings(b, draw(st.integers(0, 2)))
        if "class_registrations" in actions:
            users = sorted(self.users)
            # New pairs and new dates for existing ones (an upsert moves the enrollment date).
            self.join_classes(b, self.subset([(c, u) for c in self.classes for u in users], max_size=3))
            self.register_classes(b, self.subset([(c, t) for c in self.classes for t in self.trainings], 2))
        if "connections" in actions:
            self.connections(b, draw(st.integers(1, 6)))
        if "logins" in actions:
            self.logins(b, draw(st.integers(1, 4)))
        if "enrollments" in actions:
            users = sorted(self.users)
            self.enroll(b, self.subset([(u, t) for u in users for t in self.trainings], max_size=3))
        # (users.csv rows of new learners carry every column: no status change then.)
        if "status" in actions and earlier_learners and "users.csv" not in b.files:
            user_id = draw(st.sampled_from(earlier_learners))
            status = "active" if self.users[user_id] == "blocked" else "blocked"
            self.users[user_id] = status
            # Only these columns: the others are left as they were.
            b.add(
                "users.csv",
                ["user_id", "email", "status"],
                [{"user_id": user_id, "email": self.emails[user_id], "status": status}],
            )
        if "rules" in actions:
            training_id = draw(st.sampled_from(self.trainings))
            module_id = draw(st.sampled_from(self.steps[training_id]))
            b.add(
                "training_modules.csv",
                ["training_id", "module_id", "position", "mandatory", "min_score"],
                [self.step_row(training_id, module_id)],
            )
            if draw(st.booleans()):
                self.training_rows[training_id]["validity_months"] = draw(st.sampled_from(("1", "", "3")))
                self.write_training(b, training_id)
        if "rename" in actions:
            # Names only (no summary changes): tables and cached figures must show the new ones.
            kind = draw(st.sampled_from(("training", "module", "class", "session")))
            word = draw(st.sampled_from(("Élan", "zèbre", "accueil", "Renamed")))
            if kind == "training":
                training_id = draw(st.sampled_from(self.trainings))
                self.training_rows[training_id]["name"] = f"{word} {training_id}"
                self.write_training(b, training_id)
            elif kind == "module":
                module_id = draw(st.sampled_from(sorted(self.activities)))
                b.add(
                    "modules.csv",
                    ["module_id", "name"],
                    [{"module_id": module_id, "name": f"{word} {module_id}"}],
                )
            elif kind == "class":
                class_id = draw(st.sampled_from(self.classes))
                b.add(
                    "classes.csv",
                    ["class_id", "name"],
                    [{"class_id": class_id, "name": f"{word} {class_id}"}],
                )
            else:
                session_id = draw(st.sampled_from(sorted(self.sessions)))
                b.add(
                    "sessions.csv",
                    ["session_id", "training_id", "name"],
                    [{"session_id": session_id, "training_id": self.sessions[session_id], "name": word}],
                )
        if not b.files:  # every draw came out empty: an import still brings something
            self.logins(b, 1)
        if "invalid" in actions:
            b.invalid = True
            kind = draw(
                st.sampled_from(("unknown_user", "score_above_max", "disconnected_before", "min_score"))
            )
            if kind == "unknown_user" or not self.attempts:
                b.add(
                    "logins.csv",
                    ["user_id", "logged_in_at"],
                    [{"user_id": "ghost", "logged_in_at": TODAY.isoformat()}],
                )
            elif kind == "score_above_max":
                attempt_id = draw(st.sampled_from(sorted(self.attempts)))
                activity_id, maximum = self.activities[self.attempts[attempt_id].module][0]
                # Another row for an answer key may already be in the bundle: the error stands anyway.
                b.files.pop("answers.csv", None)
                b.add(
                    "answers.csv",
                    ANSWER_COLS,
                    [
                        {
                            "attempt_id": attempt_id,
                            "activity_id": activity_id,
                            "score": repr(maximum + 1),
                            "answer": "",
                            "evaluated": "",
                        }
                    ],
                )
            elif kind == "disconnected_before":
                user_id = draw(st.sampled_from(sorted(self.users)))
                module_id = draw(st.sampled_from(sorted(self.activities)))
                b.files.pop("connections.csv", None)
                b.add(
                    "connections.csv",
                    CONNECTION_COLS,
                    [
                        {
                            "user_id": user_id,
                            "module_id": module_id,
                            "connected_at": "2026-03-29T03:30:00+02:00",
                            "disconnected_at": "2026-03-29T01:30:00+01:00",
                            "session_id": "",
                        }
                    ],
                )
            else:
                training_id = self.trainings[0]
                module_id = self.steps[training_id][0]
                b.add(
                    "training_modules.csv",
                    ["training_id", "module_id", "position", "mandatory", "min_score"],
                    [
                        {
                            "training_id": training_id,
                            "module_id": module_id,
                            "position": self.positions[(training_id, module_id)],
                            "mandatory": "",
                            "min_score": "100.5",
                        }
                    ],
                )
        return b
