"""Email for background jobs: the SMTP server of LEARNSTATS_SMTP_URL, one delivery attempt at a
time (the jobs retry), and the sentence a dialog shows when email cannot be sent."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from data.errors import LearnstatsError
from exports.formatting import gettext

SMTP_TIMEOUT = 20.0


class MailNotConfigured(LearnstatsError, ValueError):
    """LEARNSTATS_SMTP_URL is empty or not an smtp:// / smtps:// address."""


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


def mail_problem(smtp_url: str, admin: bool = True) -> str | None:
    """None when email can be sent, else the sentence to show instead of the button: the
    setting at fault for an administrator (who can fix it), a plain sentence for anyone else
    (issue 21: a manager cannot act on LEARNSTATS_SMTP_URL)."""
    try:
        parse_smtp_url(smtp_url)
    except MailNotConfigured as error:
        if not admin:
            return gettext(
                "Receiving by email is unavailable: email is not set up on this platform; "
                "ask your administrator. Use Download now."
            )
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


def smtp_reason(error: BaseException) -> str:
    """What went wrong with a delivery attempt, in a sentence for the user."""
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


__all__ = [
    "SMTP_TIMEOUT",
    "MailNotConfigured",
    "SmtpConfig",
    "mail_problem",
    "parse_smtp_url",
    "send_message",
    "smtp_reason",
]
