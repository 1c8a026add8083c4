"""The one signer of job tickets and links (itsdangerous, the app's secret key).

Every signed value names its purpose inside the payload, under one salt:

    token = sign(secret, OPCO_EMAIL_JOB, {...})
    data = unsign(secret, OPCO_EMAIL_JOB, token, max_age=JOB_MAX_AGE)

A token signed for one purpose is refused for any other (BadSignature), so a job ticket is
never a download link and the other way round. Purposes:

    OPCO_EMAIL_JOB    the "Receive by email" ticket the dialog hands its background job
    ATTESTATIONS_JOB  the attestations dialog's ticket
    ACTIVITY_RECORDS_JOB  the relevés d'activité's ticket (dashboards/dialogs/compliance.py)
    DOWNLOAD_LINK     a stored export's link (emailed, or offered when a job ends), for one user

Before issue 20 each purpose had a salt of its own (LEGACY_SALTS); tokens signed that way,
such as links emailed before the upgrade (valid 7 days), keep verifying for their purpose.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "learnstats.signed"
OPCO_EMAIL_JOB = "opco-email-job"
ATTESTATIONS_JOB = "attestations-job"
ACTIVITY_RECORDS_JOB = "activity-records-job"
DOWNLOAD_LINK = "download-link"
PURPOSES = (OPCO_EMAIL_JOB, ATTESTATIONS_JOB, ACTIVITY_RECORDS_JOB, DOWNLOAD_LINK)
LEGACY_SALTS = {
    OPCO_EMAIL_JOB: "learnstats.opco-logs.email-job",
    ATTESTATIONS_JOB: "learnstats.attestations.job",
    DOWNLOAD_LINK: "learnstats.opco-logs.download-link",
}
_PURPOSE = "p"
_DATA = "d"


def _check(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"not a purpose of the signer: {purpose!r} (one of {', '.join(PURPOSES)})")


def sign(secret: str, purpose: str, data: Any) -> str:
    """A URL-safe token holding data for this purpose, timestamped."""
    _check(purpose)
    return URLSafeTimedSerializer(secret, salt=SALT).dumps({_PURPOSE: purpose, _DATA: data})


def unsign_with_time(secret: str, purpose: str, token: str, max_age: int) -> tuple[Any, datetime]:
    """(data, when it was signed) of a token signed for this purpose no more than max_age seconds
    ago. SignatureExpired when older (its date_signed says when), BadSignature when altered,
    signed with another key or for another purpose."""
    _check(purpose)
    serializer = URLSafeTimedSerializer(secret, salt=SALT)
    try:
        payload, signed_at = serializer.loads(token, max_age=max_age, return_timestamp=True)
    except SignatureExpired as expired:
        try:
            late = serializer.load_payload(expired.payload)
        except BadSignature:
            late = None
        if not (isinstance(late, dict) and late.get(_PURPOSE) == purpose):
            raise BadSignature("signed for another purpose") from None
        raise
    except BadSignature:
        # A token of the per-purpose salts used before issue 20 (links already emailed).
        if purpose not in LEGACY_SALTS:  # a purpose added since: no such token
            raise
        return URLSafeTimedSerializer(secret, salt=LEGACY_SALTS[purpose]).loads(
            token, max_age=max_age, return_timestamp=True
        )
    if not isinstance(payload, dict) or payload.get(_PURPOSE) != purpose:
        raise BadSignature("signed for another purpose")
    return payload.get(_DATA), signed_at


def unsign(secret: str, purpose: str, token: str, max_age: int) -> Any:
    """The data of a token signed for this purpose (see unsign_with_time)."""
    return unsign_with_time(secret, purpose, token, max_age)[0]


__all__ = [
    "ACTIVITY_RECORDS_JOB",
    "ATTESTATIONS_JOB",
    "DOWNLOAD_LINK",
    "LEGACY_SALTS",
    "OPCO_EMAIL_JOB",
    "PURPOSES",
    "SALT",
    "sign",
    "unsign",
    "unsign_with_time",
]
