"""Scheduled reports (SPEC §9): the periodic job that sends what is due.

Every tick (jobs/periodic.py, under its database lock: Celery beat in `make worker`, a thread
of each web process in `make run`), `send_due_reports(server)` looks at every schedule:

- an occurrence of its calendar (data/reports.py Rule) later than its last_due_at and not
  after now is due: the latest one only, so runs missed while the service was down are
  caught up once ("catch-up" in the log when it is more than ON_TIME late);
- a "Send now" asked on the page (send_now_at) is due at once;
- a paused schedule passes its occurrences over (nothing sent, nothing caught up later).

Each due run is claimed with one atomic UPDATE (data/reports.py claim_*): whatever the number
of processes, one of them sends it. For each recipient (the owner first) the file is built
by the report's kind (exports/report_kinds.py) in that recipient's scope, in their language: a
recipient who may no longer see it is skipped and the skip logged; a file up to 10 MB is
attached, a larger one stored under instance/exports/ and sent as a signed link valid 7 days
(exports/stored.py, the route /exports/files/<token>). Every recipient's outcome is a row of
scheduled_report_runs: when, for whom, rows, sent / skipped / failed and why.
"""

from __future__ import annotations

import logging
import os
import secrets
import smtplib
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from auth.roles import load_scope
from data.config import settings_of
from data.errors import LearnstatsError
from data.models import ScheduledReport, ScheduledReportRun, User
from data.reports import (
    ON_TIME,
    aware,
    claim_occurrence,
    claim_send_now,
    naive,
    recipients_of,
    rule_of,
)
from data.scope import Forbidden
from exports.files import NO_SPACE_MESSAGE, out_of_space
from exports.formatting import LANGUAGES, N_, fmt_datetime, fmt_int, gettext, use_language
from exports.report_kinds import NothingToSend, ReportRun, parse_params, report_kind
from exports.stored import LINK_MAX_AGE, REPORT_LINK, exports_dir, sign_download, sweep_expired
from jobs.background import FILES_PATH
from jobs.mail import MailNotConfigured, parse_smtp_url, send_message, smtp_reason

log = logging.getLogger("learnstats.reports")
# What the run log says when email is off (in the recipient's language); the setting at fault
# goes to the server's log only.
MAIL_OFF = N_("email is not set up on this platform; ask your administrator")

JOB_NAME = "scheduled-reports"
ATTACHMENT_LIMIT = 10 * 1024 * 1024  # bytes: larger files are sent as a link
SCHEDULES_PATH = "/schedules"
SEND_ATTEMPTS = 3
SEND_BACKOFF = 2.0
TRIGGERS = ("schedule", "catch-up", "send-now")


def _now() -> datetime:
    return datetime.now(UTC)


def send_due_reports(
    server: Flask,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    backoff: float = SEND_BACKOFF,
) -> list[tuple[int, str]]:
    """Send every due run; (report id, trigger) of each run sent. The periodic job's body."""
    settings = settings_of(server)
    now = now or _now()
    db = server.extensions["learnstats_db"]
    done = []
    with db.session() as s:
        reports = list(s.scalars(select(ScheduledReport).order_by(ScheduledReport.id)))
        for report in reports:
            due = _due(report, now, settings.tz)
            if due is None:
                continue
            trigger, occurrence = due
            if trigger == "send-now":
                if not claim_send_now(s, report.id, report.send_now_at):
                    continue
            else:
                if not claim_occurrence(s, report.id, report.last_due_at, occurrence):
                    continue  # another process took this occurrence
                if report.paused:
                    continue  # passed over while paused
            try:
                run_report(server, report.id, trigger, occurrence, now, sleep=sleep, backoff=backoff)
            except Exception:  # one report's failure never stops the others
                log.exception("scheduled report %s failed", report.id)
            done.append((report.id, trigger))
    return done


def _due(report: ScheduledReport, now: datetime, tz) -> tuple[str, datetime] | None:
    if report.send_now_at is not None:
        return "send-now", now
    occurrence = rule_of(report).latest(now, tz)
    baseline = aware(report.last_due_at) or aware(report.created_at)
    if occurrence is None or (baseline is not None and occurrence <= baseline):
        return None
    return ("schedule" if now - occurrence <= ON_TIME else "catch-up"), occurrence


def run_report(
    server: Flask,
    report_id: int,
    trigger: str,
    occurrence: datetime,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    backoff: float = SEND_BACKOFF,
) -> list[ScheduledReportRun]:
    """One run of a schedule: each recipient's file built in their scope and mailed; the rows
    logged (and returned)."""
    settings = settings_of(server)
    now = now or _now()
    db = server.extensions["learnstats_db"]
    logged: list[ScheduledReportRun] = []
    with db.session() as s:
        report = s.get(ScheduledReport, report_id)
        if report is None:
            return []
        owner = s.get(User, report.owner_id)
        rule = rule_of(report)
        period = None
        try:
            params = parse_params(report.params)
            kind = report_kind(report.kind)
            if kind.dated and params.get("period") == "previous":
                period = rule.previous_period(occurrence, settings.tz)
            problem = None
        except LearnstatsError as error:
            params, kind, problem = {}, None, str(error)
        try:
            smtp = parse_smtp_url(settings.smtp_url)
        except MailNotConfigured as error:
            # The run log is read by the schedule's owner, often a manager, who cannot act on a
            # server setting (issue 21): a plain sentence there, the setting in the server's log.
            log.warning("scheduled report %s not sent: %s", report.id, error)
            smtp = None
            problem = problem or MAIL_OFF
        run = ReportRun(tz=settings.tz, now=now, period=period, at_risk_days=settings.at_risk_days)
        base_url = (settings.base_url or report.base_url or "").rstrip("/")
        sweep_expired(exports_dir(server))
        for user_id in recipients_of(report):
            row = ScheduledReportRun(
                report_id=report.id,
                due_at=None if trigger == "send-now" else naive(occurrence),
                started_at=naive(_now()),
                trigger=trigger,
                recipient_id=user_id,
                recipient_email="",
                status="failed",
                delivery="",
                file_name="",
                reason="",
            )
            user = s.get(User, user_id)
            language = _language_of(user, settings.language)
            with server.app_context(), use_language(language):
                if user is None:
                    row.status, row.reason = "skipped", gettext("this user no longer exists")
                elif user.status == "blocked":
                    row.recipient_email = user.email
                    row.status, row.reason = "skipped", gettext("this user is blocked")
                elif problem is not None:
                    row.recipient_email = user.email
                    row.reason = gettext(MAIL_OFF) if problem is MAIL_OFF else problem
                else:
                    row.recipient_email = user.email
                    _deliver(
                        server, s, report, owner, user, kind, params, run, smtp, base_url, row, sleep, backoff
                    )
            s.add(row)
            s.commit()
            logged.append(row)
            log.info(
                "scheduled report %s (%s) for %s: %s %s", report.id, trigger, user_id, row.status, row.reason
            )
    return logged


def _language_of(user: User | None, default: str) -> str:
    if user is not None and user.language in LANGUAGES:
        return user.language
    return default if default in LANGUAGES else "fr"


def _deliver(server, s, report, owner, user, kind, params, run, smtp, base_url, row, sleep, backoff) -> None:
    """Build the recipient's file, then mail it (attached, or as a link); fill the log row."""
    directory = exports_dir(server)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".report-", suffix=".part")
    path = Path(temporary)
    try:
        try:
            with os.fdopen(handle, "wb") as out:
                built = kind.build(s, user, load_scope(s, user.id), params, run, out)
        except Forbidden:
            row.status = "skipped"
            row.reason = gettext("%(email)s may no longer see this report", email=user.email)
            return
        except NothingToSend as error:
            row.status, row.reason = "skipped", gettext("nothing to send: %(reason)s", reason=error)
            return
        except Exception as error:  # the reason is logged for the owner to read
            row.reason = (
                gettext(NO_SPACE_MESSAGE) if out_of_space(error) else str(error) or type(error).__name__
            )
            log.exception("scheduled report %s: the file for %s was not built", report.id, user.id)
            return
        row.rows = built.rows
        row.file_name = built.file_name
        size = path.stat().st_size
        link = None
        if size <= ATTACHMENT_LIMIT:
            row.delivery = "attachment"
            data = path.read_bytes()
        else:
            if not base_url:
                row.reason = gettext(
                    "the file is larger than 10 MB and the site's address is unknown for a link: set LEARNSTATS_BASE_URL"
                )
                return
            stored_name = f"{secrets.token_hex(16)}.{built.file_name.rsplit('.', 1)[-1]}"
            os.replace(path, directory / stored_name)
            token = sign_download(
                settings_of(server).secret_key, user.id, stored_name, built.file_name, REPORT_LINK
            )
            link = base_url + FILES_PATH + token
            row.delivery = "link"
            data = None
        message = compose_report_message(
            report, owner, user, built, run, data, link, size, settings_of(server).mail_from, base_url
        )
        last_error = ""
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                send_message(smtp, message)
            except (OSError, smtplib.SMTPException) as error:
                last_error = smtp_reason(error)
                if attempt < SEND_ATTEMPTS:
                    sleep(backoff * 2 ** (attempt - 1))
                continue
            row.status = "sent"
            row.reason = ""
            return
        row.reason = gettext(
            "the email could not be sent after %(attempts)d attempts: %(reason)s",
            attempts=SEND_ATTEMPTS,
            reason=last_error,
        )
    finally:
        path.unlink(missing_ok=True)


def compose_report_message(
    report: ScheduledReport,
    owner: User | None,
    user: User,
    built,
    run: ReportRun,
    data: bytes | None,
    link: str | None,
    size: int,
    mail_from: str,
    base_url: str,
) -> EmailMessage:
    """The email, in the language in force (the recipient's: run_report sets it)."""
    message = EmailMessage()
    message["Subject"] = gettext("Scheduled report: %(title)s", title=report.title)
    message["From"] = mail_from
    message["To"] = user.email
    name = f"{user.first_name or ''} {user.last_name or ''}".strip()
    lines = [gettext("Hello %(name)s,", name=name) if name else gettext("Hello,"), ""]
    when = fmt_datetime(run.now.astimezone(run.tz))
    lines.append(
        gettext(
            "Here is the report « %(title)s » of %(moment)s: %(rows)s row(s), built with what you may see in Learnstats.",
            title=report.title,
            moment=when,
            rows=fmt_int(built.rows),
        )
    )
    if run.period is not None:
        lines.append(
            gettext(
                "It covers %(first)s to %(last)s.",
                first=run.period[0].strftime("%d/%m/%Y"),
                last=run.period[1].strftime("%d/%m/%Y"),
            )
        )
    if owner is not None and owner.id != user.id:
        owner_name = f"{owner.first_name or ''} {owner.last_name or ''}".strip() or owner.email
        lines.append(gettext("%(name)s scheduled it for you.", name=owner_name))
    lines.append("")
    if link is None:
        lines.append(gettext("The file %(file)s is attached.", file=built.file_name))
    else:
        expires = (run.now + timedelta(seconds=LINK_MAX_AGE)).astimezone(run.tz)
        lines += [
            gettext(
                "The file %(file)s (%(size)s MB) is too large to attach: download it here (sign in as %(email)s if asked):",
                file=built.file_name,
                size=f"{size / 1024 / 1024:.1f}",
                email=user.email,
            ),
            "",
            link,
            "",
            gettext(
                "The link works only for you and expires on %(moment)s (%(zone)s).",
                moment=fmt_datetime(expires),
                zone=getattr(run.tz, "key", str(run.tz)),
            ),
        ]
    if base_url and owner is not None and owner.id == user.id:
        lines += [
            "",
            gettext(
                "Change or stop it on the Scheduled reports page: %(url)s", url=base_url + SCHEDULES_PATH
            ),
        ]
    lines += ["", "— Learnstats", ""]
    message.set_content("\n".join(lines))
    if data is not None:
        maintype, subtype = built.media_type.split(";")[0].split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=built.file_name)
    return message


def periodic_reports(server: Flask) -> None:
    """The periodic job (jobs/schedule.py)."""
    send_due_reports(server)


__all__ = [
    "ATTACHMENT_LIMIT",
    "JOB_NAME",
    "TRIGGERS",
    "compose_report_message",
    "periodic_reports",
    "run_report",
    "send_due_reports",
]
