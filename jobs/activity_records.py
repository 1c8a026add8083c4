"""The relevés d'activité job (SPEC §10): every learner's relevé individuel d'activité of a
session in one ZIP, written in the background while the dialog's progress bar moves.

The session page's compliance dialog (dashboards/dialogs/compliance.py) checks the session in
the user's scope and the attestations' saved organisation block, then enqueues:
`activity_records_ticket(server, payload)` signs who asked, their scope, the session, the
language and the date (jobs/signer.py). `run_activity_records_job`, its background callback,
verifies the ticket, has exports/activity_records.py write the ZIP under instance/exports/
(complete or absent) and returns a signed download link valid for the user who asked.
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
from exports.activity_records import write_records_zip
from exports.attestation_options import AttestationError, load_defaults
from exports.formatting import use_language
from exports.stored import exports_dir, sweep_expired
from jobs import signer, slots
from jobs.background import app_key, scope_from_dict, server_for, throttled_progress, zip_done, zip_failure

JOB_MAX_AGE = 24 * 3600


def activity_records_ticket(server: Flask, payload: dict) -> dict[str, str]:
    """What the dialog hands its background callback: the site, the job, the signed payload
    (job, user_id, scope, session_id, language, signed_on, ui_language)."""
    token = signer.sign(settings_of(server).secret_key, signer.ACTIVITY_RECORDS_JOB, payload)
    return {"app": app_key(server), "job": payload["job"], "token": token}


@slots.once()
def run_activity_records_job(set_progress, ticket):
    """The background job: verify the ticket, write the ZIP, return a signed link."""
    if not isinstance(ticket, dict) or not ticket.get("token"):
        raise PreventUpdate
    job_id = str(ticket.get("job", ""))
    server = server_for(ticket)
    if server is None:
        return {"job": job_id, "state": "failed", "message": _("this worker does not serve this site")}
    settings = settings_of(server)
    try:
        job = signer.unsign(
            settings.secret_key, signer.ACTIVITY_RECORDS_JOB, str(ticket["token"]), JOB_MAX_AGE
        )
    except BadSignature:
        return {"job": job_id, "state": "failed", "message": _("the request was not valid; try again")}
    return run_activity_records(server, job, set_progress)


def run_activity_records(server: Flask, job: dict, set_progress=None) -> dict:
    """The job itself (what the tests call): the ZIP written, a link signed for its user."""
    settings = settings_of(server)
    scope = scope_from_dict(job["scope"])
    session_id = job["session_id"]
    signed_on = date.fromisoformat(job["signed_on"])
    stored_name = f"{secrets.token_hex(16)}.zip"
    progress = throttled_progress(set_progress)
    with server.app_context(), use_language(job.get("ui_language") or "fr"):
        if set_progress is not None:
            set_progress((0, _("Preparing…")))
        try:
            directory = exports_dir(server)
            sweep_expired(directory)
            with server.extensions["learnstats_db"].session() as s:
                options = load_defaults(s, session_id).merged(language=job.get("language") or "fr")
                count = write_records_zip(
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
            return zip_failure(job["job"], error)
    download_name = f"releves_{session_id}_{signed_on:%Y-%m-%d}.zip"
    return zip_done(settings.secret_key, job["job"], job["user_id"], stored_name, download_name, count)


__all__ = ["activity_records_ticket", "run_activity_records", "run_activity_records_job"]
