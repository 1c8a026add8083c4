"""Stored exports and their signed download links (SPEC §7): files a background job built
under instance/exports/ (complete or absent), the link to one for one user, valid 7 days, and
the sweep of expired ones. jobs/opco_email.py emails such a link; jobs/attestations.py offers
one when the ZIP is ready; exports/routes.py serves them.

Links are signed by the one signer of jobs/signer.py (purpose DOWNLOAD_LINK); LINK_SALT is the
salt of links signed before issue 20, which keep verifying.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from itsdangerous import BadSignature, SignatureExpired

from data.config import settings_of
from data.errors import LearnstatsError
from data.scope import Scope
from exports.formatting import gettext
from exports.opco_logs import (
    NOTHING_MATCHES,
    OpcoLogsError,
    has_opco_log_rows,
    iter_opco_logs_csv,
    write_opco_logs_xlsx,
)
from exports.opco_request import OpcoExportRequest, download_filename
from jobs import signer

LINK_SALT = signer.LEGACY_SALTS[signer.DOWNLOAD_LINK]
LINK_MAX_AGE = 7 * 24 * 3600  # seconds: the emailed link expires after 7 days
EXPORTS_DIR = "exports"
LINK_PATH = "/exports/opco-logs/"
_STORED_NAME = re.compile(r"[0-9a-f]{32}\.(csv|xlsx|zip)")


class LinkError(LearnstatsError):
    """A download link that cannot be honoured; the message is for the person who clicked it."""


class LinkInvalid(LinkError):
    pass


class LinkExpired(LinkError):
    pass


class LinkForOtherUser(LinkError):
    pass


# What a link leads to: an export the user asked for (the OPCO logs, the attestations), or a
# scheduled report built in the user's own scope (jobs/reports.py).
EXPORT_LINK = "export"
REPORT_LINK = "report"


@dataclass(frozen=True)
class DownloadLink:
    user_id: str
    stored_name: str
    download_name: str
    signed_at: datetime
    kind: str = EXPORT_LINK

    @property
    def expires_at(self) -> datetime:
        return self.signed_at + timedelta(seconds=LINK_MAX_AGE)


def sign_download(
    secret: str, user_id: str, stored_name: str, download_name: str, kind: str = EXPORT_LINK
) -> str:
    data = {"u": user_id, "f": stored_name, "n": download_name}
    if kind != EXPORT_LINK:
        data["k"] = kind
    return signer.sign(secret, signer.DOWNLOAD_LINK, data)


def read_download(secret: str, token: str, user_id: str | None, max_age: int = LINK_MAX_AGE) -> DownloadLink:
    """The link's content, checked: signature, age, and that user_id is the user it is for."""
    try:
        data, signed_at = signer.unsign_with_time(secret, signer.DOWNLOAD_LINK, token, max_age)
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
        kind=REPORT_LINK if data.get("k") == REPORT_LINK else EXPORT_LINK,
    )


# -- stored files ---------------------------------------------------------------------------


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


__all__ = [
    "EXPORT_LINK",
    "LINK_MAX_AGE",
    "LINK_PATH",
    "LINK_SALT",
    "REPORT_LINK",
    "DownloadLink",
    "LinkError",
    "LinkExpired",
    "LinkForOtherUser",
    "LinkInvalid",
    "build_export_file",
    "exports_dir",
    "read_download",
    "sign_download",
    "stored_path",
    "sweep_expired",
]
