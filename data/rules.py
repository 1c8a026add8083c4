"""The rules of SPEC §4, each defined once: scores, statuses, expiry, progress and rates.

Pure functions of plain values (no database, no pandas): the summary upkeep
(data/summaries.py) applies them when it writes the summary tables, and the readers
(data/figures/) apply them to what they read back. A SQL form of a rule (a reader filtering or
aggregating in the database) says which rule it mirrors and is checked against it
(tests/integration/data/test_rules_sql.py); every rule here has its own test in
tests/unit/data/test_rules.py.

Where "completion rate" is defined: `completion_rate` below. Where it is kept current: the
completed pairs it counts are the statuses `training_state` gives, stored per (learner,
training) by data/summaries.py `_write_pair_tables` on every write (see REFRESHES there).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import NamedTuple

# Training statuses (SPEC §4), in the order the pages list them.
STATUSES = ("passed", "failed", "expired", "in progress", "not started")
# The statuses of a completed training: every required module completed.
COMPLETED_STATUSES = ("passed", "failed", "expired")
# Scores are computed in floating point: 100 x 0.29 / 1 is 28.999999999999996. A score within
# this of the minimum reaches it (no score is ever meant to be that precise).
SCORE_TOLERANCE = 1e-9
# keep_results of a module: which finished attempt's score is the module's.
KEEP_BEST, KEEP_NEWEST = "best", "newest"


# --------------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------------


def attempt_score(points: float, max_points: float, override: float | None = None) -> float:
    """Module attempt score, %: 100 x the evaluated answers' points / the max points of the
    module's activities with max > 0; a module without such activities scores 100. An xAPI
    finishing statement's scaled score (override, %) replaces it (SPEC §8)."""
    if override is not None:
        return override
    return 100.0 * points / max_points if max_points > 0 else 100.0


def newer_finish(a: tuple, b: tuple) -> bool:
    """Whether finished attempt a is newer than b, each (finished_at, started_at, attempt id,
    ...): the later finish, then the later start, then the larger id (keep_results newest)."""
    return (a[0], a[1], a[2]) > (b[0], b[1], b[2])


def better_finish(a: tuple, b: tuple) -> bool:
    """Whether finished attempt a is better than b, each (score, finished_at, started_at,
    attempt id, ...): the higher score, then the newer (keep_results best; on a tie the newer
    attempt's verdict holds)."""
    return (a[0], a[1], a[2], a[3]) > (b[0], b[1], b[2], b[3])


def module_score(best: float | None, newest: float | None, keep: str = KEEP_BEST) -> float:
    """Module score: the best finished attempt's score, or the newest one's when keep is
    "newest"; 0 without a finished attempt."""
    score = newest if keep == KEEP_NEWEST else best
    return 0.0 if score is None else score


def reaches(score: float, min_score: float) -> bool:
    """score >= min_score, forgiving floating-point noise (SCORE_TOLERANCE)."""
    return score >= min_score - SCORE_TOLERANCE


def module_passed(score: float, min_score: float, verdict: str | None = None) -> bool:
    """A completed module is passed by the verdict of the attempt that gives its score (an
    xAPI "passed"/"failed", SPEC §8), else when that score reaches the min score."""
    if verdict is not None:
        return verdict == "passed"
    return reaches(score, min_score)


def module_status(completed_at: datetime | date | None, passed: bool | None, attempts: int | None) -> str:
    """A module's status: passed or failed once completed (a finished attempt), in progress
    with unfinished attempts only, else not started."""
    if completed_at is not None:
        return "passed" if passed else "failed"
    return "in progress" if attempts else "not started"


# --------------------------------------------------------------------------------------------
# Trainings
# --------------------------------------------------------------------------------------------


class TrainingState(NamedTuple):
    """A (learner, training) pair's figures before expiry (see training_state)."""

    status: str
    completed_modules: int
    score: float | None
    completed_at: datetime | None


def training_state(
    steps: Sequence[tuple[str, bool, float]],
    modules: Mapping[str, tuple[datetime | None, float, str | None]],
) -> TrainingState:
    """Status, completed modules, training score and completion date of a pair.

    steps: the training's modules in order, (module id, mandatory, min score). modules: the
    modules the learner started, module id -> (completion date or None, module score, the
    xAPI verdict of the attempt giving that score or None).

    Completed once every mandatory module is completed (every module when none is
    mandatory); then passed if each of those is passed (module_passed), else failed; the
    completion date is the latest of their completion dates. Otherwise in progress (a module
    started) or not started. Training score: the mean module score of the mandatory modules
    (0 for one not completed); None without a mandatory module.
    """
    mandatory = [s for s in steps if s[1]]
    required = mandatory or steps
    required_ids = {s[0] for s in required}
    completed = required_done = required_passed = 0
    latest: datetime | None = None
    points = 0.0
    started = False
    for module_id, is_mandatory, min_score in steps:
        found = modules.get(module_id)
        if found is None:
            continue
        started = True
        completed_at, score, verdict = found
        if completed_at is None:
            continue
        completed += 1
        if is_mandatory:
            points += score
        if module_id in required_ids:
            required_done += 1
            if module_passed(score, min_score, verdict):
                required_passed += 1
            latest = completed_at if latest is None else max(latest, completed_at)
    score = points / len(mandatory) if mandatory else None
    if required and required_done == len(required):
        return TrainingState(
            "passed" if required_passed == len(required) else "failed", completed, score, latest
        )
    return TrainingState("in progress" if started else "not started", completed, score, None)


def initial_training_score(mandatory_modules: int) -> float | None:
    """A training's score before any attempt: 0 with mandatory modules, else none."""
    return 0.0 if mandatory_modules > 0 else None


def training_progress(completed_modules: int, modules: int) -> float:
    """Training progress, %: completed modules / all the training's modules (0 without any)."""
    return 100.0 * completed_modules / modules if modules else 0.0


def is_completed(status: str) -> bool:
    """Whether a training status is a completed one (passed, failed or expired)."""
    return status in COMPLETED_STATUSES


def add_months(day: date, months: int) -> date:
    """day + months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expiry_threshold(today: date, months: int) -> date:
    """The first completion date that is NOT expired on `today`: add_months(d, months) >= today."""
    candidate = add_months(today, -months)
    while add_months(candidate - timedelta(days=1), months) >= today:
        candidate -= timedelta(days=1)
    while add_months(candidate, months) < today:
        candidate += timedelta(days=1)
    return candidate


def is_expired(status: str, completed_on: date | None, validity_months: int | None, today: date) -> bool:
    """A passed training whose completion (local date) + validity_months is before today."""
    if status != "passed" or completed_on is None or not validity_months or validity_months <= 0:
        return False
    return completed_on < expiry_threshold(today, validity_months)


def status_on(status: str, completed_on: date | None, validity_months: int | None, today: date) -> str:
    """A pair's status on `today`: expired for a passed training past its validity."""
    return "expired" if is_expired(status, completed_on, validity_months, today) else status


def counted_from(done_at: datetime | date, enrolled_at: datetime | date | None) -> datetime | date:
    """When a completion counts in the charts: the later of its date and the enrollment's."""
    return done_at if enrolled_at is None else max(done_at, enrolled_at)


# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------


def is_counted_learner(user_status: str, is_admin: bool) -> bool:
    """Whether a user counts as a learner: active and not an admin (managers without an
    enrollment have no (learner, training) pair, so they are never counted)."""
    return user_status == "active" and not is_admin


# --------------------------------------------------------------------------------------------
# Rates and averages
# --------------------------------------------------------------------------------------------


def percent(part: float, whole: float) -> float | None:
    """part / whole in %; None when whole is 0."""
    return 100.0 * part / whole if whole else None


def completion_rate(completed: float, learners: float) -> float | None:
    """Completion rate, %: completed (learner, training) pairs / the pairs (None without any)."""
    return percent(completed, learners)


def average(total: float, count: float) -> float | None:
    """total / count; None when count is 0 (average progress, score, time spent)."""
    return total / count if count else None


def median(values: Sequence[float]) -> float | None:
    """The median (the mean of the two middle values for an even count); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


# --------------------------------------------------------------------------------------------
# The compliance pack (SPEC §10): EDOF completion, Qualiopi indicator 2
# --------------------------------------------------------------------------------------------

# EDOF's three statuses of a learner's action (written in the file's language by exports/edof.py).
EDOF_DONE, EDOF_PARTIAL, EDOF_NOT_DONE = "done", "partial", "not done"


def edof_completion_rate(realised_seconds: float, planned_seconds: float) -> float | None:
    """EDOF completion rate, %: realised ÷ planned × 100, capped at 100 (None without a
    planned duration)."""
    if not planned_seconds or planned_seconds <= 0:
        return None
    return min(100.0, 100.0 * max(realised_seconds, 0.0) / planned_seconds)


def edof_status(rate_written: float | None, training_completed: bool, realised_seconds: float) -> str:
    """ "Réalisée totalement" (EDOF_DONE) when the rate as written (one decimal) is 100 or the
    learner's training is completed; "partiellement" when some time was spent; else not done."""
    if training_completed or (rate_written is not None and rate_written >= 100):
        return EDOF_DONE
    if realised_seconds > 0:
        return EDOF_PARTIAL
    return EDOF_NOT_DONE


# Qualiopi indicator 2: a learner without activity for this many days has dropped out.
DROP_OUT_DAYS = 30


def dropped_out_on(last_activity: date) -> date:
    """The day a learner whose last activity day is last_activity counts as dropped out
    (inactive for DROP_OUT_DAYS days, as the at-risk list counts days: d − last day)."""
    return last_activity + timedelta(days=DROP_OUT_DAYS)


# --------------------------------------------------------------------------------------------
# At-risk learners (SPEC §9)
# --------------------------------------------------------------------------------------------

# A session ending at most this many days after the date makes its learners late.
LATE_WITHIN_DAYS = 7


def failed_modules(
    steps: Sequence[tuple[str, bool, float]],
    modules: Mapping[str, tuple[datetime | None, float, str | None]],
) -> tuple[str, ...]:
    """The mandatory modules a learner failed (completed and not passed, module_passed), in
    the training's order. steps and modules as training_state takes them."""
    out = []
    for module_id, is_mandatory, min_score in steps:
        found = modules.get(module_id)
        if not is_mandatory or found is None or found[0] is None:
            continue
        if not module_passed(found[1], min_score, found[2]):
            out.append(module_id)
    return tuple(out)


def inactive_days(on: date, last_activity: date | None, enrolled_on: date | None) -> int | None:
    """Days from the last activity day in the training (else the enrollment day) to `on`;
    None when there is neither (an enrollment without a date and no activity)."""
    since = last_activity if last_activity is not None else enrolled_on
    return None if since is None else (on - since).days


def late_session(on: date, sessions: Sequence[tuple[str, date | None]]) -> tuple[str, date] | None:
    """Of a learner's sessions of a training, (session id, end day): the earliest-ending one
    whose end day is before `on` or at most LATE_WITHIN_DAYS after it (the smaller id on a
    tie); None when none is."""
    limit = on + timedelta(days=LATE_WITHIN_DAYS)
    late = [(end, session_id) for session_id, end in sessions if end is not None and end <= limit]
    if not late:
        return None
    end, session_id = min(late)
    return session_id, end


class AtRisk(NamedTuple):
    """Why a learner of a training is at risk on a date (SPEC §9): each reason or None/()."""

    inactive_days: int | None  # set when at least the page's number of days
    failed_modules: tuple[str, ...]
    late_session: str | None
    late_end: date | None


def at_risk(
    on: date,
    days: int,
    *,
    status: str,
    last_activity: date | None,
    enrolled_on: date | None,
    failed: Sequence[str],
    sessions: Sequence[tuple[str, date | None]],
) -> AtRisk | None:
    """The reasons a learner enrolled in a training on `on` is at risk there, or None.

    Everything is as of the end of `on`: status (before expiry), last_activity (the latest
    activity day <= on), failed (the mandatory modules failed then), sessions (the learner's
    sessions of the training with their end days). A completed training is never at risk.
    enrolled_on None: enrolled since always."""
    if is_completed(status):
        return None
    idle = inactive_days(on, last_activity, enrolled_on)
    idle = idle if idle is not None and idle >= days else None
    late = late_session(on, sessions)
    if idle is None and not failed and late is None:
        return None
    return AtRisk(idle, tuple(failed), late[0] if late else None, late[1] if late else None)
