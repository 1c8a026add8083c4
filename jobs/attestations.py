"""The attestations job (SPEC §7): a session's attestations and certificats de réalisation in
one ZIP, written in the background while the dialog's progress bar moves.

The dialog (dashboards/dialogs/attestations.py) checks the values and the session in the user's
scope, then enqueues: `attestations_ticket(server, payload)` signs who asked, their scope, the
session and the options (jobs/signer.py). `run_attestation_job`, its background callback
(jobs/background.py), verifies the ticket, has exports/attestations.py write the ZIP under
instance/exports/ (complete or absent) and returns a signed download link valid for the user
who asked.
"""

from __future__ import annotations

import secrets
from datetime import date

from dash.exceptions import PreventUpdate
from flask import Flask
from itsdangerous import BadSignature

from auth.language import gettext as _
from data.config import settings_of
from data.scope import Forbidden
from exports.attestation_options import AttestationError, AttestationOptions
from exports.attestations import write_session_zip
from exports.formatting import use_language
from exports.stored import exports_dir, sweep_expired
from jobs import signer, slots
from jobs.background import (
    FILES_PATH,
    app_key,
    scope_from_dict,
    server_for,
    throttled_progress,
    zip_done,
    zip_failure,
)

JOB_MAX_AGE = 24 * 3600


def attestations_ticket(server: Flask, payload: dict) -> dict[str, str]:
    """What the dialog hands its background callback: the site, the job, the signed payload
    (job, user_id, scope, session_id, options, signed_on, language)."""
    token = signer.sign(settings_of(server).secret_key, signer.ATTESTATIONS_JOB, payload)
    return {"app": app_key(server), "job": payload["job"], "token": token}


def read_ticket(secret: str, token: str) -> dict:
    return signer.unsign(secret, signer.ATTESTATIONS_JOB, token, JOB_MAX_AGE)


@slots.once()
def run_attestation_job(set_progress, ticket):
    """The background job: verify the ticket, write the ZIP, return a signed link."""
    if not isinstance(ticket, dict) or not ticket.get("token"):
        raise PreventUpdate
    job_id = str(ticket.get("job", ""))
    server = server_for(ticket)
    if server is None:
        return {"job": job_id, "state": "failed", "message": _("this worker does not serve this site")}
    settings = settings_of(server)
    try:
        job = read_ticket(settings.secret_key, str(ticket["token"]))
    except BadSignature:
        return {"job": job_id, "state": "failed", "message": _("the request was not valid; try again")}
    scope = scope_from_dict(job["scope"])
    session_id = job["session_id"]
    options = AttestationOptions.from_dict(job["options"])
    signed_on = date.fromisoformat(job["signed_on"])
    stored_name = f"{secrets.token_hex(16)}.zip"
    progress = throttled_progress(set_progress)
    with server.app_context(), use_language(job.get("language") or "fr"):
        set_progress((0, _("Preparing…")))
        try:
            directory = exports_dir(server)
            sweep_expired(directory)
            with server.extensions["learnstats_db"].session() as s:
                count = write_session_zip(
                    s,
                    scope,
                    session_id,
                    options,
                    settings.tz,
                    directory / stored_name,
                    signed_on=signed_on,
                    on_progress=progress,
                )
        except (Forbidden, AttestationError, OSError) as error:
            return zip_failure(job_id, error)
    download_name = f"attestations_{session_id}_{signed_on:%Y-%m-%d}.zip"
    return zip_done(settings.secret_key, job_id, job["user_id"], stored_name, download_name, count)


__all__ = ["FILES_PATH", "attestations_ticket", "read_ticket", "run_attestation_job"]
