"""The compliance files of a session as kinds of scheduled report (SPEC §9 "Scheduled reports",
issue 19 point 7): the feuille d'émargement ("attendance": XLSX or PDF) and the relevés
individuels d'activité ("activity-records": a ZIP), and the OPCO attestations
("attestations": a ZIP, as the session's last Generate made them), each built in the recipient's scope with
the attestations' saved organisation block, French unless the parameters say "en".

Parameters: {"session_id": ..., "format": "xlsx" | "pdf" (attendance), "language": "fr" | "en"}.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy.orm import Session

from data.models import ProgramSession
from data.scope import Forbidden, Scope
from data.session_records import may_see_session, session_people
from exports.attendance import attendance_file, attendance_filename
from exports.attestation_options import load_defaults
from exports.formatting import N_, gettext
from exports.report_kinds import BuiltReport, NothingToSend, ReportKindError, register_kind

MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "zip": "application/zip",
}


def _session_id(session: Session, scope: Scope, params: dict) -> str:
    session_id = params.get("session_id")
    if not isinstance(session_id, str) or not session_id:
        raise ReportKindError(gettext("%(name)s: missing", name="session_id"))
    if not may_see_session(session, scope, session_id):
        raise Forbidden()
    return session_id


def _language(params: dict) -> str:
    language = params.get("language") or "fr"
    if language not in ("fr", "en"):
        raise ReportKindError(gettext("language: %(value)r is not one of fr, en", value=language))
    return language


def _attendance_format(params: dict) -> str:
    kind = params.get("format") or "xlsx"
    if kind not in ("xlsx", "pdf"):
        raise ReportKindError(
            gettext("format: %(value)r is not one of %(choices)s", value=kind, choices="xlsx, pdf")
        )
    return kind


def _check_attendance(session: Session, scope: Scope, params: dict) -> None:
    _session_id(session, scope, params)
    _attendance_format(params)
    _language(params)


def _build_attendance(session, recipient, scope, params, run, out) -> BuiltReport:
    session_id = _session_id(session, scope, params)
    kind = _attendance_format(params)
    options = load_defaults(session, session_id).merged(language=_language(params))
    learners = len(session_people(session, scope, session_id))
    if not learners:
        raise NothingToSend(gettext("session %(session)s has no learner", session=session_id))
    out.write(attendance_file(session, scope, session_id, kind, options, run.tz, run.today))
    return BuiltReport(attendance_filename(session_id, kind, run.today), MEDIA[kind], learners)


def _check_records(session: Session, scope: Scope, params: dict) -> None:
    _session_id(session, scope, params)
    _language(params)


def _build_records(session, recipient, scope, params, run, out) -> BuiltReport:
    from exports.activity_records import write_records_zip

    session_id = _session_id(session, scope, params)
    options = load_defaults(session, session_id).merged(language=_language(params))
    if not session_people(session, scope, session_id):
        raise NothingToSend(gettext("session %(session)s has no learner", session=session_id))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "releves.zip"
        count = write_records_zip(session, scope, session_id, options, run.tz, path, signed_on=run.today)
        out.write(path.read_bytes())
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in session_id)[:60]
    return BuiltReport(f"releves_{safe}_{run.today:%Y-%m-%d}.zip", MEDIA["zip"], count)


def _describe(session: Session, params: dict) -> str:
    program = session.get(ProgramSession, str(params.get("session_id", "")))
    return program.name if program is not None else str(params.get("session_id", ""))


register_kind(
    "attendance",
    N_("Half-day attendance sheet"),
    _build_attendance,
    _check_attendance,
    describe=_describe,
    own_format=True,  # XLSX or PDF in its parameters: the schedule dialog offers no CSV / XLSX
)
register_kind(
    "activity-records",
    N_("Individual activity records"),
    _build_records,
    _check_records,
    describe=_describe,
    own_format=True,  # a ZIP of PDFs
)


def _check_attestations(session: Session, scope: Scope, params: dict) -> None:
    from exports.attestations import AttestationError, require_session

    session_id = params.get("session_id")
    if not isinstance(session_id, str) or not session_id:
        raise ReportKindError(gettext("%(name)s: missing", name="session_id"))
    try:
        require_session(session, scope, session_id)
    except AttestationError:
        raise Forbidden() from None  # an unknown session: the same answer as one out of scope


def _build_attestations(session, recipient, scope, params, run, out) -> BuiltReport:
    """The session's attestations ZIP as its last Generate made them (the values saved for the
    session, else the platform's defaults: documents, language, organisation block), signed on
    the run's day."""
    from exports.attestations import session_players, write_session_zip

    _check_attestations(session, scope, params)
    session_id = params["session_id"]
    options = load_defaults(session, session_id)
    problems = options.problems()
    if problems:  # never generated and no platform defaults: say what the dialog needs
        raise ReportKindError("; ".join(problems))
    if not session_players(session, scope, session_id):
        raise NothingToSend(gettext("session %(session)s has no learner", session=session_id))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "attestations.zip"
        count = write_session_zip(session, scope, session_id, options, run.tz, path, signed_on=run.today)
        out.write(path.read_bytes())
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in session_id)[:60]
    return BuiltReport(f"attestations_{safe}_{run.today:%Y-%m-%d}.zip", MEDIA["zip"], count)


register_kind(
    "attestations",
    N_("OPCO attestations"),
    _build_attestations,
    _check_attestations,
    describe=_describe,
    own_format=True,  # a ZIP of PDFs, with the session's saved documents and language
)

__all__ = ["MEDIA"]
