"""Scheduled reports' rows (SPEC §9): the calendar rule, who may see and change a schedule,
saving one, and the atomic claims that make a run happen once whatever the number of
processes (jobs/reports.py runs them; the page dashboards/pages/schedules.py edits them).

A schedule's occurrences are local instants of the platform time zone: every day, every
week on a weekday (0 = Monday) or every month on a day (a day past the month's end means its
last day), at an hour. `last_due_at` is the last occurrence handled (sent, or passed over
while paused): the latest occurrence after it and not after now is due — so after downtime
the missed occurrences are caught up once, by one run.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import delete, desc, select, update
from sqlalchemy.orm import Session

from data.errors import LearnstatsError
from data.models import FREQUENCIES, ScheduledReport, ScheduledReportRun, User
from data.scope import Forbidden, Scope

# How far back a due occurrence still counts as on time (later: a catch-up after downtime).
ON_TIME = timedelta(minutes=10)
# Occurrences are looked for this many days around a moment (a monthly one is at most 31
# days away).
_SEARCH_DAYS = 63


class ScheduleError(LearnstatsError, ValueError):
    """A schedule that cannot be saved; the message names the field."""


@dataclass(frozen=True)
class Rule:
    frequency: str
    hour: int
    weekday: int | None = None
    day: int | None = None

    def check(self) -> Rule:
        if self.frequency not in FREQUENCIES:
            raise ScheduleError(f"frequency: {self.frequency!r} is not one of {', '.join(FREQUENCIES)}")
        if not isinstance(self.hour, int) or not 0 <= self.hour <= 23:
            raise ScheduleError(f"hour: {self.hour!r} is not an hour from 0 to 23")
        if self.frequency == "weekly" and (not isinstance(self.weekday, int) or not 0 <= self.weekday <= 6):
            raise ScheduleError(f"weekday: {self.weekday!r} is not a weekday from 0 (Monday) to 6 (Sunday)")
        if self.frequency == "monthly" and (not isinstance(self.day, int) or not 1 <= self.day <= 31):
            raise ScheduleError(f"day: {self.day!r} is not a day of the month from 1 to 31")
        return self

    def matches(self, day: date) -> bool:
        if self.frequency == "weekly":
            return day.weekday() == self.weekday
        if self.frequency == "monthly":
            last = calendar.monthrange(day.year, day.month)[1]
            return day.day == min(self.day or 1, last)
        return True

    def instant(self, day: date, tz: tzinfo) -> datetime:
        return datetime.combine(day, time(self.hour), tzinfo=tz).astimezone(UTC)

    def latest(self, now: datetime, tz: tzinfo) -> datetime | None:
        """The latest occurrence at or before now (aware UTC)."""
        day = now.astimezone(tz).date()
        for back in range(_SEARCH_DAYS):
            candidate = day - timedelta(days=back)
            if self.matches(candidate):
                moment = self.instant(candidate, tz)
                if moment <= now:
                    return moment
        return None

    def next_after(self, moment: datetime, tz: tzinfo) -> datetime | None:
        """The first occurrence strictly after moment (aware UTC)."""
        day = moment.astimezone(tz).date()
        for ahead in range(_SEARCH_DAYS):
            candidate = day + timedelta(days=ahead)
            if self.matches(candidate):
                instant = self.instant(candidate, tz)
                if instant > moment:
                    return instant
        return None

    def previous_period(self, occurrence: datetime, tz: tzinfo) -> tuple[date, date]:
        """The days a run at this occurrence covers when it sends "the previous period": the
        day before (daily), the 7 days before (weekly), the previous calendar month (monthly)."""
        day = occurrence.astimezone(tz).date()
        if self.frequency == "daily":
            return day - timedelta(days=1), day - timedelta(days=1)
        if self.frequency == "weekly":
            return day - timedelta(days=7), day - timedelta(days=1)
        last = day.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last


def rule_of(report: ScheduledReport) -> Rule:
    return Rule(report.frequency, report.hour, report.weekday, report.day)


def aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def recipients_of(report: ScheduledReport) -> list[str]:
    """The owner first, then the other recipients, each once."""
    try:
        others = json.loads(report.recipients or "[]")
    except ValueError:
        others = []
    ids = [report.owner_id, *[str(i) for i in others if isinstance(i, str)]]
    return list(dict.fromkeys(ids))


# -- who may see and change ---------------------------------------------------------------------


def may_manage(scope: Scope, report: ScheduledReport) -> bool:
    """Its owner, and admins (every schedule)."""
    return scope.is_admin or report.owner_id == scope.user_id


def visible_reports(session: Session, scope: Scope) -> list[ScheduledReport]:
    q = select(ScheduledReport).order_by(ScheduledReport.title, ScheduledReport.id)
    if not scope.is_admin:
        q = q.where(ScheduledReport.owner_id == scope.user_id)
    return list(session.scalars(q))


def managed_report(session: Session, scope: Scope, report_id) -> ScheduledReport:
    """The schedule, for its owner or an admin; Forbidden otherwise (unknown ids too)."""
    try:
        number = int(report_id)
    except (TypeError, ValueError):
        raise Forbidden() from None
    report = session.get(ScheduledReport, number)
    if report is None or not may_manage(scope, report):
        raise Forbidden()
    return report


def recent_runs(session: Session, report_ids: Sequence[int], limit: int = 200) -> list[ScheduledReportRun]:
    if not report_ids:
        return []
    return list(
        session.scalars(
            select(ScheduledReportRun)
            .where(ScheduledReportRun.report_id.in_(list(report_ids)))
            .order_by(desc(ScheduledReportRun.started_at), desc(ScheduledReportRun.id))
            .limit(limit)
        )
    )


def user_choices(
    session: Session, search: str | None, include: Iterable[str] = (), limit: int = 30
) -> list[User]:
    """Users to choose as recipients, by name or email (accents and case ignored), plus those
    already chosen; blocked users are not offered."""
    from data.text import fold

    chosen = list(dict.fromkeys(include))
    found: list[User] = []
    if chosen:
        found = list(session.scalars(select(User).where(User.id.in_(chosen))))
    text = fold(search or "").strip()
    if text:
        q = (
            select(User)
            .where(User.status != "blocked", User.search_text.contains(text))
            .order_by(User.sort_key, User.id)
            .limit(limit)
        )
        found += [u for u in session.scalars(q) if u.id not in chosen]
    return found


# -- saving -----------------------------------------------------------------------------------


def save_report(
    session: Session,
    scope: Scope,
    *,
    report_id: int | None,
    title: str,
    kind: str,
    params: dict,
    rule: Rule,
    recipients: Sequence[str],
    now: datetime,
    base_url: str = "",
) -> ScheduledReport:
    """Create (report_id None) or edit a schedule; the caller has checked that the owner may
    download the report (exports/report_kinds.py check). A new schedule's first run is its
    first occurrence after now; an edit keeps what was already sent."""
    rule.check()
    title = (title or "").strip()
    if not title:
        raise ScheduleError("title: give the schedule a name")
    if len(title) > 200:
        raise ScheduleError("title: 200 characters at most")
    ids = list(dict.fromkeys(str(r) for r in recipients if r))
    if ids:
        known = set(session.scalars(select(User.id).where(User.id.in_(ids))))
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ScheduleError(f"recipients: unknown user(s) {', '.join(unknown)}")
    moment = naive(now)
    if report_id is None:
        report = ScheduledReport(owner_id=scope.user_id, created_at=moment, last_due_at=moment, paused=False)
        session.add(report)
    else:
        report = managed_report(session, scope, report_id)
        if rule_of(report) != rule:
            # A new calendar starts now: no catch-up of occurrences of the new rule in the past.
            report.last_due_at = moment
    report.title = title
    report.kind = kind
    report.params = json.dumps(params, sort_keys=True)
    report.frequency, report.hour, report.weekday, report.day = (
        rule.frequency,
        rule.hour,
        rule.weekday,
        rule.day,
    )
    if rule.frequency != "weekly":
        report.weekday = None
    if rule.frequency != "monthly":
        report.day = None
    report.recipients = json.dumps([i for i in ids if i != report.owner_id])
    report.updated_at = moment
    if base_url:
        report.base_url = base_url
    elif report.base_url is None:
        report.base_url = ""
    session.flush()
    return report


def set_paused(session: Session, scope: Scope, report_id, paused: bool, now: datetime) -> ScheduledReport:
    report = managed_report(session, scope, report_id)
    if report.paused and not paused:
        # Resumed: the occurrences while paused are not caught up.
        report.last_due_at = naive(now)
    report.paused = paused
    report.updated_at = naive(now)
    return report


def ask_send_now(session: Session, scope: Scope, report_id, now: datetime) -> ScheduledReport:
    report = managed_report(session, scope, report_id)
    report.send_now_at = naive(now)
    return report


def delete_report(session: Session, scope: Scope, report_id) -> None:
    report = managed_report(session, scope, report_id)
    session.execute(delete(ScheduledReportRun).where(ScheduledReportRun.report_id == report.id))
    session.delete(report)


# -- the weekly digest (issue 18 point 5) -----------------------------------------------------------

DIGEST = "digest"
DIGEST_KIND = "at-risk-digest"
DIGEST_RULE = Rule("weekly", hour=8, weekday=0)  # every Monday at 08:00, platform time


def digest_of(session: Session, scope: Scope) -> ScheduledReport | None:
    return session.scalar(
        select(ScheduledReport).where(
            ScheduledReport.owner_id == scope.user_id, ScheduledReport.builtin == DIGEST
        )
    )


def switch_digest(
    session: Session, scope: Scope, on: bool, now: datetime, title: str = "Weekly digest", base_url: str = ""
) -> ScheduledReport | None:
    """The user's built-in weekly digest on (created, or resumed) or off (deleted with its log)."""
    report = digest_of(session, scope)
    if not on:
        if report is not None:
            delete_report(session, scope, report.id)
        return None
    if report is None:
        report = save_report(
            session,
            scope,
            report_id=None,
            title=title,
            kind=DIGEST_KIND,
            params={"format": "xlsx"},
            rule=DIGEST_RULE,
            recipients=[],
            now=now,
            base_url=base_url,
        )
        report.builtin = DIGEST
    elif report.paused:
        set_paused(session, scope, report.id, False, now)
    session.flush()
    return report


# -- claims (one run, whatever the number of processes) ------------------------------------------


def claim_occurrence(session: Session, report_id: int, seen: datetime | None, occurrence: datetime) -> bool:
    """Move last_due_at from `seen` to `occurrence` in one UPDATE: true for exactly one of
    several processes trying at once (the others see rowcount 0)."""
    result = session.execute(
        update(ScheduledReport)
        .where(
            ScheduledReport.id == report_id,
            ScheduledReport.last_due_at.is_not_distinct_from(seen),
        )
        .values(last_due_at=naive(occurrence))
    )
    session.commit()
    return result.rowcount == 1


def claim_send_now(session: Session, report_id: int, seen: datetime) -> bool:
    result = session.execute(
        update(ScheduledReport)
        .where(ScheduledReport.id == report_id, ScheduledReport.send_now_at == seen)
        .values(send_now_at=None)
    )
    session.commit()
    return result.rowcount == 1


__all__ = [
    "DIGEST",
    "DIGEST_KIND",
    "DIGEST_RULE",
    "ON_TIME",
    "Rule",
    "ScheduleError",
    "ask_send_now",
    "aware",
    "claim_occurrence",
    "claim_send_now",
    "delete_report",
    "digest_of",
    "managed_report",
    "may_manage",
    "naive",
    "recent_runs",
    "recipients_of",
    "rule_of",
    "save_report",
    "set_paused",
    "switch_digest",
    "user_choices",
    "visible_reports",
]
