"""The EDOF file, the BPF's cadre F-1 and Qualiopi's indicator 2 as kinds of scheduled report
(SPEC §9 "Scheduled reports", issue 19 point 7), each built in the recipient's scope, French
unless the parameters say "en".

- "edof": {"session_id", "format": "csv" | "xlsx", "language"}; the declared duration is the
  attestations' saved one at each run.
- "bpf": {"format": "csv" | "xlsx", "language"}; the saved category field and mapping at each
  run; the period is the run's previous period when the schedule asks for it, else the last
  calendar year (the one a BPF declares). Admins and statistics managers only.
- "qualiopi": {"training_id" (absent: all the recipient's trainings), "language"}; always the
  one-page PDF; the previous period, else the last twelve months.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from data.bpf import may_see_bpf
from data.edof import UnknownSession, require_session
from data.models import ProgramSession, Training
from data.qualiopi import require_training
from data.scope import Forbidden, Scope
from exports.formatting import N_, gettext
from exports.report_kinds import BuiltReport, NothingToSend, ReportKindError, register_kind

MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _language(params: dict) -> str:
    language = params.get("language") or "fr"
    if language not in ("fr", "en"):
        raise ReportKindError(gettext("language: %(value)r is not one of fr, en", value=language))
    return language


def _format(params: dict) -> str:
    kind = params.get("format") or "xlsx"
    if kind not in ("csv", "xlsx"):
        raise ReportKindError(
            gettext("format: %(value)r is not one of %(choices)s", value=kind, choices="csv, xlsx")
        )
    return kind


def _session_id(session: Session, scope: Scope, params: dict) -> str:
    session_id = params.get("session_id")
    if not isinstance(session_id, str) or not session_id:
        raise ReportKindError(gettext("%(name)s: missing", name="session_id"))
    try:
        require_session(session, scope, session_id)
    except UnknownSession:
        raise Forbidden() from None
    return session_id


def _check_edof(session: Session, scope: Scope, params: dict) -> None:
    _session_id(session, scope, params)
    _format(params)
    _language(params)


def _build_edof(session, recipient, scope, params, run, out) -> BuiltReport:
    from exports.edof import EdofError, edof_csv_bytes, edof_filename, edof_rows, edof_xlsx_bytes

    session_id = _session_id(session, scope, params)
    kind, language = _format(params), _language(params)
    try:
        rows = edof_rows(session, scope, [session_id], run.tz)
    except EdofError as error:
        raise ReportKindError(str(error)) from None
    if not rows:
        raise NothingToSend(gettext("session %(session)s has no learner", session=session_id))
    data = (
        edof_xlsx_bytes(rows, language)
        if kind == "xlsx"
        else edof_csv_bytes(rows, language, ";" if language == "fr" else ",")
    )
    out.write(data)
    return BuiltReport(edof_filename([session_id], kind, run.today), MEDIA[kind], len(rows))


def _describe_session(session: Session, params: dict) -> str:
    program = session.get(ProgramSession, str(params.get("session_id", "")))
    return program.name if program is not None else str(params.get("session_id", ""))


def _last_year(today: date) -> tuple[date, date]:
    return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)


def _check_bpf(session: Session, scope: Scope, params: dict) -> None:
    if not may_see_bpf(scope):
        raise Forbidden()
    _format(params)
    _language(params)


def _build_bpf(session, recipient, scope, params, run, out) -> BuiltReport:
    from exports.bpf import BpfError, bpf_file, bpf_filename, load_bpf_defaults

    _check_bpf(session, scope, params)
    kind, language = _format(params), _language(params)
    start, end = run.period or _last_year(run.today)
    try:
        data = bpf_file(session, scope, start, end, load_bpf_defaults(session), kind, run.tz, language,
                        delimiter=";" if language == "fr" else ",", signed_on=run.today)  # fmt: skip
    except BpfError as error:
        raise ReportKindError(str(error)) from None
    out.write(data)
    return BuiltReport(bpf_filename(start, end, kind), MEDIA[kind], 7)


def _training_id(session: Session, scope: Scope, params: dict) -> str | None:
    training_id = params.get("training_id") or None
    if training_id is not None and not isinstance(training_id, str):
        raise ReportKindError(gettext("%(name)s: not an id", name="training_id"))
    require_training(session, scope, training_id)
    return training_id


def _check_qualiopi(session: Session, scope: Scope, params: dict) -> None:
    _training_id(session, scope, params)
    _language(params)


def _build_qualiopi(session, recipient, scope, params, run, out) -> BuiltReport:
    from exports.qualiopi import qualiopi_filename, qualiopi_pdf_bytes

    training_id = _training_id(session, scope, params)
    start, end = run.period or (run.today - timedelta(days=364), run.today)
    out.write(
        qualiopi_pdf_bytes(session, scope, start, end, run.tz, training_id, _language(params), run.today)
    )
    return BuiltReport(qualiopi_filename(training_id, start, end), MEDIA["pdf"], 1)


def _describe_training(session: Session, params: dict) -> str:
    training = session.get(Training, str(params.get("training_id") or ""))
    return training.name if training is not None else gettext("All trainings")


register_kind("edof", N_("EDOF completion file"), _build_edof, _check_edof, describe=_describe_session)
register_kind("bpf", N_("BPF report"), _build_bpf, _check_bpf, dated=True)
register_kind(
    "qualiopi",
    N_("Results"),
    _build_qualiopi,
    _check_qualiopi,
    dated=True,
    describe=_describe_training,
    own_format=True,  # always the one-page PDF: the schedule dialog offers no CSV / XLSX
)

__all__ = ["MEDIA"]
