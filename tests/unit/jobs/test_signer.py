"""The one signer of job tickets and links (jobs/signer.py): purposes never mix, a wrong key,
an altered token or an old one is refused, and tokens signed before issue 20 (a salt per
purpose) keep verifying for their own purpose."""

from __future__ import annotations

import time

import pytest
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from jobs import signer
from jobs.attestations import read_ticket
from jobs.opco_email import read_job

SECRET = "s" * 64
DAY = 24 * 3600


def _signed_ago(seconds: int, salt: str, payload) -> str:
    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds

    return URLSafeTimedSerializer(SECRET, salt=salt, signer=Earlier).dumps(payload)


@pytest.mark.parametrize("purpose", signer.PURPOSES)
def test_sig001_a_token_gives_back_its_data_for_its_purpose_only(purpose):
    data = {"u": "inst", "f": "a" * 32 + ".csv", "list": [1, 2], "é": "Hervé"}
    token = signer.sign(SECRET, purpose, data)
    assert signer.unsign(SECRET, purpose, token, max_age=60) == data
    for other in signer.PURPOSES:
        if other != purpose:
            with pytest.raises(BadSignature):
                signer.unsign(SECRET, other, token, max_age=60)


def test_sig002_wrong_key_altered_and_unknown_purpose_are_refused():
    token = signer.sign(SECRET, signer.DOWNLOAD_LINK, {"u": "inst"})
    with pytest.raises(BadSignature):
        signer.unsign("another-secret-of-32-characters-at-least", signer.DOWNLOAD_LINK, token, max_age=60)
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with pytest.raises(BadSignature):
        signer.unsign(SECRET, signer.DOWNLOAD_LINK, flipped, max_age=60)
    with pytest.raises(ValueError, match="not a purpose"):
        signer.sign(SECRET, "download", {})
    with pytest.raises(ValueError, match="not a purpose"):
        signer.unsign(SECRET, "download", token, max_age=60)


def test_sig003_an_old_token_expires_and_says_when_it_was_signed():
    token = _signed_ago(8 * DAY, signer.SALT, {"p": signer.DOWNLOAD_LINK, "d": {"u": "inst"}})
    with pytest.raises(SignatureExpired) as expired:
        signer.unsign(SECRET, signer.DOWNLOAD_LINK, token, max_age=7 * DAY)
    assert abs(expired.value.date_signed.timestamp() - (time.time() - 8 * DAY)) < 5
    # Expired AND for another purpose: refused as a bad token, not as "expired".
    with pytest.raises(BadSignature) as other:
        signer.unsign(SECRET, signer.OPCO_EMAIL_JOB, token, max_age=7 * DAY)
    assert not isinstance(other.value, SignatureExpired)
    data, signed_at = signer.unsign_with_time(
        SECRET,
        signer.DOWNLOAD_LINK,
        _signed_ago(6 * DAY, signer.SALT, {"p": "download-link", "d": 1}),
        7 * DAY,
    )
    assert data == 1 and abs(signed_at.timestamp() - (time.time() - 6 * DAY)) < 5


def test_sig004_tokens_signed_before_issue_20_keep_verifying_for_their_purpose():
    link = {"u": "inst", "f": "b" * 32 + ".zip", "n": "attestations.zip"}
    old_link = _signed_ago(6 * DAY, "learnstats.opco-logs.download-link", link)
    assert signer.unsign(SECRET, signer.DOWNLOAD_LINK, old_link, max_age=7 * DAY) == link
    with pytest.raises(SignatureExpired):
        signer.unsign(
            SECRET,
            signer.DOWNLOAD_LINK,
            _signed_ago(8 * DAY, "learnstats.opco-logs.download-link", link),
            max_age=7 * DAY,
        )
    with pytest.raises(BadSignature):  # an old link is not an old job ticket
        signer.unsign(SECRET, signer.OPCO_EMAIL_JOB, old_link, max_age=7 * DAY)
    old_ticket = URLSafeTimedSerializer(SECRET, salt="learnstats.attestations.job").dumps({"job": "j1"})
    assert read_ticket(SECRET, old_ticket) == {"job": "j1"}


def test_sig005_one_jobs_ticket_is_not_anothers():
    attestations = signer.sign(SECRET, signer.ATTESTATIONS_JOB, {"job": "j1"})
    with pytest.raises(BadSignature):
        read_job(SECRET, attestations)
    link = signer.sign(SECRET, signer.DOWNLOAD_LINK, {"job": "j1"})
    with pytest.raises(BadSignature):
        read_ticket(SECRET, link)
    assert read_ticket(SECRET, attestations) == {"job": "j1"}
