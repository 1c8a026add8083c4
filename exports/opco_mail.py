"""OPCO logs "receive by email": build the file, store it, email a signed link (SPEC §7).

`run_opco_email_job(server, job)` is the whole job as a plain function: the export dialog's
background callback runs it (in a subprocess or a Celery worker: no request context, so the
job carries the user's scope), and tests call it directly. It reports its state through
`on_state` (building, sending, sent, failed) and returns the final state.

Signed values (itsdangerous, the app's secret key, one salt per purpose):
  - the job ticket the dialog hands to the background callback (JOB_SALT): who asked, their
    scope at the time, what to export; it cannot be forged from the browser;
  - the download link in the email (LINK_SALT): the stored file and the user it is for,
    valid for LINK_MAX_AGE (7 days); the route also checks that the signed-in user is that user.
"""

from __future__ import annotations

import os
import re
import secrets
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from data.config import settings_of
from data.scope import Scope
from exports.files import NO_SPACE_MESSAGE, out_of_space
from exports.formatting import LANGUAGES, fmt_date, fmt_datetime, gettext, use_language
from exports.opco_logs import (
    NOTHING_MATCHES,
    OpcoLogsError,
    has_opco_log_rows,
    iter_opco_logs_csv,
    write_opco_logs_xlsx,
)
from exports.opco_request import OpcoExportRequest, download_filename, parse_opco_query

JOB_SALT = "learnstats.opco-logs.email-job"
LINK_SALT = "learnstats.opco-logs.download-link"
LINK_MAX_AGE = 7 * 24 * 3600  # seconds: the emailed link expires after 7 days
JOB_MAX_AGE = 24 * 3600  # a queued job older than this is refused
SEND_ATTEMPTS = 3
SEND_BACKOFF = 2.0  # seconds before the 2nd attempt, doubled before each next one
SMTP_TIMEOUT = 20.0
EXPORTS_DIR = "exports"
LINK_PATH = "/exports/opco-logs/"
_STORED_NAME = re.compile(r"[0-9a-f]{32}\.(csv|xlsx|zip)")

STATES = ("queued", "building", "sending", "sent", "failed")


class LinkError(Exception):
    """A download link that cannot be honoured; the message is for the person who clicked it."""


class LinkInvalid(LinkError):
    pass


class LinkExpired(LinkError):
    pass


class LinkForOtherUser(LinkError):
    pass


class MailNotConfigured(ValueError):
    """LEARNSTATS_SMTP_URL is empty or not an smtp:// / smtps:// address."""


# -- SMTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: bool = False
    username: str = ""
    password: str = ""


def parse_smtp_url(url: str) -> SmtpConfig:
    """smtp://[user:password@]host[:port] (plain, port 25) or smtps://... (TLS, port 465)."""
    if not url or not url.strip():
        raise MailNotConfigured(
            gettext("email is not configured on this server (LEARNSTATS_SMTP_URL is empty)")
        )
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailNotConfigured(
            gettext("LEARNSTATS_SMTP_URL must look like smtp://[user:password@]host:port or smtps://...")
        )
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise MailNotConfigured(gettext("LEARNSTATS_SMTP_URL has an invalid port")) from None
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        tls=parts.scheme == "smtps",
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


def mail_problem(smtp_url: str) -> str | None:
    """None when email can be sent, else the sentence to show instead of the button."""
    try:
        parse_smtp_url(smtp_url)
    except MailNotConfigured as error:
        return gettext("Receiving by email is unavailable: %(reason)s. Use Download now.", reason=error)
    return None


def send_message(config: SmtpConfig, message: EmailMessage, timeout: float = SMTP_TIMEOUT) -> None:
    """One delivery attempt; raises OSError / smtplib.SMTPException on failure."""
    if config.tls:
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            config.host, config.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=timeout)
    with client:
        if config.username:
            client.login(config.username, config.password)
        client.send_message(message)


def _reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        text = (
            error.smtp_error.decode(errors="replace")
            if isinstance(error.smtp_error, bytes)
            else error.smtp_error
        )
        return gettext("the mail server answered %(code)s %(text)s", code=error.smtp_code, text=text).strip()
    if isinstance(error, ConnectionRefusedError):
        return gettext("the mail server refused the connection")
    if isinstance(error, TimeoutError):
        return gettext("the mail server did not answer in time")
    return str(error) or error.__class__.__name__


# -- signed values ---------------------------------------------------------------------------


def _serializer(secret: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=salt)


def scope_to_dict(scope: Scope) -> dict[str, Any]:
    return {
        "user_id": scope.user_id,
        "is_global": scope.is_global,
        "is_admin": scope.is_admin,
        "trainings": sorted(scope.trainings),
        "classes": sorted(scope.classes),
        "sessions": sorted(scope.sessions),
        "class_trainings": {k: sorted(v) for k, v in scope.class_trainings.items()},
    }


def scope_from_dict(data: dict[str, Any]) -> Scope:
    return Scope(
        user_id=data["user_id"],
        is_global=bool(data.get("is_global")),
        is_admin=bool(data.get("is_admin")),
        trainings=frozenset(data.get("trainings", ())),
        classes=frozenset(data.get("classes", ())),
        sessions=frozenset(data.get("sessions", ())),
        class_trainings={k: frozenset(v) for k, v in (data.get("class_trainings") or {}).items()},
    )


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
    return _serializer(secret, JOB_SALT).dumps(job.to_dict())


def read_job(secret: str, token: str, max_age: int = JOB_MAX_AGE) -> OpcoEmailJob:
    """The job of a ticket signed by sign_job; BadSignature (or SignatureExpired) otherwise."""
    return OpcoEmailJob.from_dict(_serializer(secret, JOB_SALT).loads(token, max_age=max_age))


@dataclass(frozen=True)
class DownloadLink:
    user_id: str
    stored_name: str
    download_name: str
    signed_at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.signed_at + timedelta(seconds=LINK_MAX_AGE)


def sign_download(secret: str, user_id: str, stored_name: str, download_name: str) -> str:
    return _serializer(secret, LINK_SALT).dumps({"u": user_id, "f": stored_name, "n": download_name})


def read_download(secret: str, token: str, user_id: str | None, max_age: int = LINK_MAX_AGE) -> DownloadLink:
    """The link's content, checked: signature, age, and that user_id is the user it is for."""
    serializer = _serializer(secret, LINK_SALT)
    try:
        data, signed_at = serializer.loads(token, max_age=max_age, return_timestamp=True)
    except SignatureExpired as error:
        when = error.date_signed + timedelta(seconds=max_age) if error.date_signed else None
        if when:
            message = gettext(
                "This download link expired on %(moment)s UTC: links are valid for 7 days. "
                "Export the file again from Learnstats.",
                moment=f"{when:%d/%m/%Y %H:%M}",
            )
        else:
            message = gettext(
                "This download link expired: links are valid for 7 days. Export the file again from Learnstats."
            )
        raise LinkExpired(message) from None
    except BadSignature:
        raise LinkInvalid(
            gettext(
                "This download link is not valid: it was altered or copied incompletely. "
                "Open the link from the email again, or export the file again from Learnstats."
            )
        ) from None
    stored = data.get("f", "") if isinstance(data, dict) else ""
    if not isinstance(data, dict) or not _STORED_NAME.fullmatch(str(stored)):
        raise LinkInvalid(gettext("This download link is not valid."))
    if user_id is None or data.get("u") != user_id:
        raise LinkForOtherUser(
            gettext(
                "This download link was sent to another user: sign in as the person who received the email."
            )
        )
    return DownloadLink(
        user_id=data["u"],
        stored_name=stored,
        download_name=str(data.get("n") or stored),
        signed_at=signed_at.astimezone(UTC),
    )


# -- the job ---------------------------------------------------------------------------------


def exports_dir(server: Flask) -> Path:
    path = Path(settings_of(server).instance_path) / EXPORTS_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def stored_path(server: Flask, stored_name: str) -> Path:
    if not _STORED_NAME.fullmatch(stored_name):
        raise ValueError(f"not a stored export name: {stored_name!r}")
    return exports_dir(server) / stored_name


def sweep_expired(directory: Path, max_age: int = LINK_MAX_AGE, now: float | None = None) -> int:
    """Delete stored exports whose links have expired (and stale partial files)."""
    now = time.time() if now is None else now
    removed = 0
    for path in directory.iterdir():
        if not path.is_file():
            continue
        is_export = _STORED_NAME.fullmatch(path.name) is not None
        is_partial = path.name.startswith(".") and path.name.endswith(".part")
        if (is_export and path.stat().st_mtime < now - max_age - 3600) or (
            is_partial and path.stat().st_mtime < now - 86400
        ):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def build_export_file(server: Flask, scope: Scope, request: OpcoExportRequest) -> tuple[str, str]:
    """Write the file under instance/exports/ (complete or absent); (stored name, download name)."""
    settings = settings_of(server)
    directory = exports_dir(server)
    stored_name = f"{secrets.token_hex(16)}.{request.format}"
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{stored_name}.", suffix=".part")
    db = server.extensions["learnstats_db"]
    try:
        with db.session() as s, os.fdopen(handle, "wb") as file:
            if not has_opco_log_rows(s, scope, request.filters, settings.tz):
                raise OpcoLogsError(gettext(NOTHING_MATCHES))
            if request.format == "xlsx":
                write_opco_logs_xlsx(s, scope, request.filters, settings.tz, file)
            else:
                for chunk in iter_opco_logs_csv(s, scope, request.filters, settings.tz, request.delimiter):
                    file.write(chunk)
        os.replace(temporary, directory / stored_name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return stored_name, download_filename(request, datetime.now(settings.tz).date())


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
            last_error = _reason(error)
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
    "JOB_SALT",
    "LINK_MAX_AGE",
    "LINK_PATH",
    "LINK_SALT",
    "STATES",
    "DownloadLink",
    "LinkError",
    "LinkExpired",
    "LinkForOtherUser",
    "LinkInvalid",
    "MailNotConfigured",
    "OpcoEmailJob",
    "SmtpConfig",
    "build_export_file",
    "compose_message",
    "mail_problem",
    "new_job_id",
    "parse_smtp_url",
    "queued_state",
    "read_download",
    "read_job",
    "run_opco_email_job",
    "scope_from_dict",
    "scope_to_dict",
    "send_message",
    "sign_download",
    "sign_job",
    "stored_path",
    "sweep_expired",
]
