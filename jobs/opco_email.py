"""OPCO logs "Receive by email" (SPEC §7): build the file, store it, email a signed link.

The export dialog (dashboards/dialogs/opco.py) checks the request in the user's scope and
enqueues: `opco_email_ticket(server, job)` signs the job (jobs/signer.py) into the ticket its
background callback `email_opco_logs` receives (jobs/background.py: Celery or a subprocess, no
request context: the job carries the user's scope). That callback verifies the ticket and runs
`run_opco_email_job(server, job)`, the whole job as a plain function (tests call it directly):
exports/stored.py builds and stores the file, this module emails its link, retrying. The
states (queued, building, sending, sent, failed) go to `on_state` and the final one is returned.
"""

from __future__ import annotations

import secrets
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from dash.exceptions import PreventUpdate
from flask import Flask
from itsdangerous import BadSignature

from data.config import settings_of
from data.scope import Scope
from exports.files import NO_SPACE_MESSAGE, out_of_space
from exports.formatting import LANGUAGES, fmt_date, fmt_datetime, gettext, use_language
from exports.opco_request import OpcoExportRequest, parse_opco_query
from exports.stored import (
    LINK_MAX_AGE,
    LINK_PATH,
    build_export_file,
    exports_dir,
    sign_download,
    stored_path,
    sweep_expired,
)
from jobs import signer, slots
from jobs.background import app_key, scope_from_dict, scope_to_dict, server_for
from jobs.mail import MailNotConfigured, parse_smtp_url, send_message, smtp_reason

JOB_MAX_AGE = 24 * 3600  # a queued job older than this is refused
SEND_ATTEMPTS = 3
SEND_BACKOFF = 2.0  # seconds before the 2nd attempt, doubled before each next one

STATES = ("queued", "building", "sending", "sent", "failed")


@dataclass(frozen=True)
class OpcoEmailJob:
    """Everything the background job needs, captured during the user's request."""

    job_id: str
    user_id: str
    email: str
    name: str
    scope: Scope
    request: OpcoExportRequest
    base_url: str
    # The asker's interface language: the email is written in it.
    language: str = "en"

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "user_id": self.user_id,
            "email": self.email,
            "name": self.name,
            "scope": scope_to_dict(self.scope),
            "query": self.request.to_query(),
            "base_url": self.base_url,
            "language": self.language,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpcoEmailJob:
        return cls(
            job_id=data["job_id"],
            user_id=data["user_id"],
            email=data["email"],
            name=data.get("name", ""),
            scope=scope_from_dict(data["scope"]),
            request=parse_opco_query(data["query"]),
            base_url=data["base_url"],
            language=data.get("language", "en") if data.get("language") in LANGUAGES else "en",
        )


def new_job_id() -> str:
    return secrets.token_hex(8)


def sign_job(secret: str, job: OpcoEmailJob) -> str:
    return signer.sign(secret, signer.OPCO_EMAIL_JOB, job.to_dict())


def read_job(secret: str, token: str, max_age: int = JOB_MAX_AGE) -> OpcoEmailJob:
    """The job of a ticket signed by sign_job; BadSignature (or SignatureExpired) otherwise."""
    return OpcoEmailJob.from_dict(signer.unsign(secret, signer.OPCO_EMAIL_JOB, token, max_age))


def opco_email_ticket(server: Flask, job: OpcoEmailJob) -> dict[str, str]:
    """What the dialog hands its background callback: the site, the job, the signed job."""
    return {"app": app_key(server), "job": job.job_id, "token": sign_job(settings_of(server).secret_key, job)}


@slots.once(progress_states=True)
def email_opco_logs(set_progress, ticket):
    """The background callback: verify the ticket, then build, store and email."""
    if not isinstance(ticket, dict) or not ticket.get("token"):
        raise PreventUpdate
    job_id = str(ticket.get("job", ""))
    server = server_for(ticket)
    if server is None:
        return _report_final(set_progress, job_id, "Failed: this worker does not serve this site.")
    try:
        job = read_job(settings_of(server).secret_key, str(ticket["token"]))
    except BadSignature:
        return _report_final(set_progress, job_id, "Failed: the request was not valid; try again.")
    # Every state, the final one included, goes through set_progress: the dialog shows the
    # progress store (see dashboards/dialogs/opco.py, register_opco_dialog_callbacks).
    return run_opco_email_job(server, job, on_state=set_progress)


def _report_final(set_progress, job_id: str, message: str) -> dict:
    state = {"job": job_id, "state": "failed", "message": message, "at": ""}
    set_progress(state)
    return state


def compose_message(job: OpcoEmailJob, mail_from: str, link: str, expires_at: datetime, tz) -> EmailMessage:
    """The email, in the asker's language (job.language; the catalogue's texts need an app
    context to be translated, run_opco_email_job gives one)."""
    with use_language(job.language):
        local = expires_at.astimezone(tz)
        message = EmailMessage()
        message["Subject"] = gettext("Your OPCO logs export is ready")
        message["From"] = mail_from
        message["To"] = job.email
        greeting = gettext("Hello %(name)s,", name=job.name) if job.name.strip() else gettext("Hello,")
        body = gettext(
            "The OPCO logs export you asked for in Learnstats is ready. Download it here\n"
            "(sign in as %(email)s if asked):",
            email=job.email,
        )
        expiry = gettext(
            "The link works only for you and expires on %(day)s at %(time)s (%(zone)s), 7 days after it was sent.",
            day=fmt_date(local),
            time=f"{local:%H:%M}",
            zone=getattr(tz, "key", str(tz)),
        )
        message.set_content(f"{greeting}\n\n{body}\n\n{link}\n\n{expiry}\n\n— Learnstats\n")
    return message


def _state(job: OpcoEmailJob, state: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "job": job.job_id,
        "state": state,
        "message": message,
        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        **extra,
    }


def queued_state(job: OpcoEmailJob) -> dict[str, Any]:
    return _state(
        job, "queued", gettext("Queued: the file will be built and emailed to %(email)s.", email=job.email)
    )


def run_opco_email_job(
    server: Flask,
    job: OpcoEmailJob,
    on_state: Callable[[dict[str, Any]], None] | None = None,
    attempts: int = SEND_ATTEMPTS,
    backoff: float = SEND_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Build the file, store it, email the signed link (retrying), and return the final state.

    Never raises for a problem the user should see: a refused export, a bad filter, an
    unreachable mail server are returned as {"state": "failed", "message": reason}. A file whose
    email could not be sent is deleted (nobody could download it). The states' messages are in
    the asker's language (job.language).
    """
    with server.app_context(), use_language(job.language):
        return _run_opco_email_job(server, job, on_state, attempts, backoff, sleep)


def _run_opco_email_job(server, job, on_state, attempts, backoff, sleep) -> dict[str, Any]:
    def report(state: dict[str, Any]) -> dict[str, Any]:
        if on_state is not None:
            on_state(state)
        return state

    settings = settings_of(server)
    try:
        smtp = parse_smtp_url(settings.smtp_url)
    except MailNotConfigured as error:
        return report(_state(job, "failed", gettext("Failed: %(reason)s.", reason=error)))

    report(_state(job, "building", gettext("Building the file…")))
    try:
        with server.app_context():
            sweep_expired(exports_dir(server))
            stored_name, download_name = build_export_file(server, job.scope, job.request)
    except Exception as error:  # the reason is shown to the user
        reason = gettext(NO_SPACE_MESSAGE) if out_of_space(error) else str(error)
        return report(
            _state(job, "failed", gettext("Failed: the file could not be built: %(reason)s.", reason=reason))
        )

    token = sign_download(settings.secret_key, job.user_id, stored_name, download_name)
    link = job.base_url.rstrip("/") + LINK_PATH + token
    expires_at = datetime.now(UTC) + timedelta(seconds=LINK_MAX_AGE)
    with server.app_context():
        message = compose_message(job, settings.mail_from, link, expires_at, settings.tz)

    last_error = ""
    for attempt in range(1, attempts + 1):
        retry_note = (
            " " + gettext("(the previous attempt failed: %(reason)s)", reason=last_error)
            if last_error
            else ""
        )
        report(
            _state(
                job,
                "sending",
                gettext(
                    "Sending the email to %(email)s, attempt %(attempt)d of %(attempts)d…",
                    email=job.email,
                    attempt=attempt,
                    attempts=attempts,
                )
                + retry_note,
                attempt=attempt,
            )
        )
        try:
            send_message(smtp, message)
        except (OSError, smtplib.SMTPException) as error:
            last_error = smtp_reason(error)
            if attempt < attempts:
                sleep(backoff * 2 ** (attempt - 1))
            continue
        local = expires_at.astimezone(settings.tz)
        return report(
            _state(
                job,
                "sent",
                gettext(
                    "Sent to %(email)s. The link in the email works until %(moment)s.",
                    email=job.email,
                    moment=fmt_datetime(local),
                ),
                file=download_name,
            )
        )
    stored_path(server, stored_name).unlink(missing_ok=True)
    return report(
        _state(
            job,
            "failed",
            gettext(
                "Failed: the email could not be sent after %(attempts)d attempts: %(reason)s.",
                attempts=attempts,
                reason=last_error,
            ),
            attempts=attempts,
        )
    )


def job_summary(state: dict[str, Any] | None) -> str:
    """A state as one line (logs, tests)."""
    if not state:
        return ""
    return f"{state.get('state')}: {state.get('message')}"


__all__ = [
    "JOB_MAX_AGE",
    "STATES",
    "OpcoEmailJob",
    "compose_message",
    "email_opco_logs",
    "job_summary",
    "new_job_id",
    "opco_email_ticket",
    "queued_state",
    "read_job",
    "run_opco_email_job",
    "sign_job",
]
