"""What a scheduled report can send (SPEC §9 "Scheduled reports"): one registry of report kinds,
kind -> function(recipient, parameters) -> file.

A kind is a download a user can make from the interface, rebuilt by a job in the scope of
each recipient: jobs/reports.py calls `kind.build(session, recipient, scope, params, run, out)`,
which writes the file to `out` (a binary file object) and returns its name, media type and
number of rows. A recipient who may not see the report makes build raise data.scope.Forbidden
(the run logs a skip); a report with nothing in it raises NothingToSend (skipped too, as the
download would answer "Nothing to export"). `kind.check(session, scope, params)` is the same
check without building, made when a schedule is saved (the owner must be able to download it).

Registered here: the OPCO export in each granularity with its filters ("opco-logs"), and the
pages' tables (the global or class page's trainings, a training's learners, a session's
learners, the program sessions). Another download plugs in with one `register_kind(...)` call
in its own module, listed in KIND_MODULES (docs/architecture.md, "Add a report kind").
"""

from __future__ import annotations

import importlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.orm import Session

from data.errors import LearnstatsError
from data.models import ProgramSession, Training, User
from data.scope import Forbidden, Scope
from exports.formatting import N_, csv_dialect, gettext, status_word, use_language
from exports.tables import table_to_csv_bytes, table_to_xlsx_bytes

FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
# Modules that register more kinds when imported (the other helpers' downloads add theirs).
KIND_MODULES: tuple[str, ...] = ("exports.compliance_reports", "exports.declaration_reports")


class ReportKindError(LearnstatsError, ValueError):
    """Parameters a kind cannot read, or an unknown kind; the message says which."""


class NothingToSend(LearnstatsError):
    """The report holds no row for this recipient (the download would say "Nothing to export")."""


@dataclass(frozen=True)
class ReportRun:
    """What a build needs to know about the run: the platform's time zone, the run's moment
    (aware UTC), and the days the run covers when the schedule asks for "the previous period"
    (None: the report's own dates)."""

    tz: ZoneInfo
    now: datetime
    period: tuple[date, date] | None = None
    # LEARNSTATS_AT_RISK_DAYS: the at-risk lists' default days of inactivity.
    at_risk_days: int = 14

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()


@dataclass(frozen=True)
class BuiltReport:
    file_name: str
    media_type: str
    rows: int


Build = Callable[[Session, User, Scope, dict, ReportRun, IO[bytes]], BuiltReport]
Check = Callable[[Session, Scope, dict], None]


@dataclass(frozen=True)
class ReportKind:
    name: str
    label: str  # N_: the kind in words ("OPCO export", "Training learners")
    build: Build
    check: Check
    # Whether a run can cover "the previous period" (the kind has dates to narrow).
    dated: bool = False
    # The report's parameters in a few words (shown on the Scheduled reports page).
    describe: Callable[[Session, dict], str] = field(default=lambda session, params: "")
    # Its format comes with its parameters (the schedule dialog does not offer CSV / XLSX).
    own_format: bool = False


KINDS: dict[str, ReportKind] = {}


def register_kind(
    name: str,
    label: str,
    build: Build,
    check: Check,
    *,
    dated: bool = False,
    describe: Callable[[Session, dict], str] | None = None,
    own_format: bool = False,
) -> ReportKind:
    """Add a kind of report (see the module's docstring)."""
    kind = ReportKind(name, label, build, check, dated, describe or (lambda session, params: ""), own_format)
    existing = KINDS.get(name)
    if existing is not None and existing.build is not build:
        raise ValueError(f"report kind {name!r} is registered twice")
    KINDS[name] = kind
    return kind


def load_kinds() -> dict[str, ReportKind]:
    for module in KIND_MODULES:
        importlib.import_module(module)
    return KINDS


def report_kind(name: str) -> ReportKind:
    load_kinds()
    try:
        return KINDS[name]
    except KeyError:
        raise ReportKindError(
            gettext(
                "unknown report kind %(name)r (known: %(known)s)", name=name, known=", ".join(sorted(KINDS))
            )
        ) from None


def parse_params(text: str | dict) -> dict:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text or "{}")
    except ValueError:
        raise ReportKindError(gettext("the report's parameters are not valid JSON")) from None
    if not isinstance(value, dict):
        raise ReportKindError(gettext("the report's parameters are not valid JSON"))
    return value


def _text(params: dict, name: str, required: bool = True) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise ReportKindError(gettext("%(name)s: missing", name=name))
        return None
    if not isinstance(value, str):
        raise ReportKindError(gettext("%(name)s: expected a text", name=name))
    return value


def _format(params: dict) -> str:
    value = params.get("format", "csv")
    if value not in FORMATS:
        raise ReportKindError(
            gettext("format: %(value)r is not one of %(choices)s", value=value, choices=", ".join(FORMATS))
        )
    return value


# -- the OPCO export, every granularity ----------------------------------------------------


def _opco_request(params: dict, run: ReportRun | None = None):
    from dataclasses import replace

    from exports.opco_request import parse_opco_query

    request = parse_opco_query(_text(params, "query", required=False) or "")
    if run is not None and run.period is not None:
        first, last = run.period
        request = replace(request, filters=replace(request.filters, date_from=first, date_to=last))
    return request


def _check_opco(session: Session, scope: Scope, params: dict) -> None:
    from exports.opco_logs import opco_log_header

    opco_log_header(session, scope, _opco_request(params).filters)


def _build_opco(
    session: Session, recipient: User, scope: Scope, params: dict, run: ReportRun, out: IO[bytes]
) -> BuiltReport:
    from exports.opco_logs import (
        NOTHING_MATCHES,
        has_opco_log_rows,
        iter_opco_log_rows,
        iter_opco_logs_csv,
        write_opco_logs_xlsx,
    )
    from exports.opco_request import MEDIA_TYPES as OPCO_TYPES
    from exports.opco_request import download_filename

    request = _opco_request(params, run)
    if not has_opco_log_rows(session, scope, request.filters, run.tz):
        raise NothingToSend(gettext(NOTHING_MATCHES))
    rows = sum(1 for _ in iter_opco_log_rows(session, scope, request.filters, run.tz))
    if request.format == "xlsx":
        write_opco_logs_xlsx(session, scope, request.filters, run.tz, out)
    else:
        for chunk in iter_opco_logs_csv(session, scope, request.filters, run.tz, request.delimiter):
            out.write(chunk)
    return BuiltReport(download_filename(request, run.today), OPCO_TYPES[request.format], rows)


def _describe_opco(session: Session, params: dict) -> str:
    from exports.opco_granularities import GRANULARITY_LABELS

    request = _opco_request(params)
    f = request.filters
    parts = [gettext(GRANULARITY_LABELS[f.granularity]).split(":")[0]]
    if f.session_ids:
        parts.append(gettext("sessions: %(ids)s", ids=", ".join(f.session_ids)))
    if f.date_from or f.date_to:
        parts.append(
            f"{f.date_from.isoformat() if f.date_from else '…'} → {f.date_to.isoformat() if f.date_to else '…'}"
        )
    parts.append(request.format.upper())
    return " · ".join(parts)


register_kind(
    "opco-logs",
    N_("OPCO export"),
    _build_opco,
    _check_opco,
    dated=True,
    describe=_describe_opco,
    own_format=True,
)


# -- the pages' tables ------------------------------------------------------------------------

# (field, header, kind) for exports/tables.py; the pages' downloads use the same lists.
TRAININGS_COLUMNS = [
    ("training", N_("Training")),
    ("learners", N_("Learners"), "int"),
    ("in_progress", N_("In progress"), "int"),
    ("completed", N_("Completed"), "int"),
    ("completion_rate", N_("Completion"), "pct"),
    ("average_progress", N_("Avg. progress"), "pct"),
    ("average_score", N_("Avg. score"), "score"),
    ("average_time_spent", N_("Avg. time spent"), "duration"),
]
# A training's learners table; the page's own download writes the same columns
# (dashboards/components/results.py DOWNLOAD_COLUMNS).
RESULTS_COLUMNS = [
    ("learner", N_("Learner")),
    ("email", N_("Email")),
    ("classes", N_("Class")),
    ("progress", N_("Progress"), "pct"),
    ("score", N_("Score"), "score"),
    ("status", N_("Status")),
    ("time_spent", N_("Time spent"), "duration"),
    ("completed_on", N_("Completed on"), "date"),
]
SESSION_LEARNERS_COLUMNS = [
    ("learner", N_("Learner")),
    ("email", N_("Email")),
    ("registered_text", N_("Registered")),
    ("connections", N_("Connections"), "int"),
    ("first", N_("First connection")),
    ("last", N_("Last connection")),
    ("time_spent", N_("Time spent"), "duration"),
    ("progress", N_("Progress"), "pct"),
    ("score", N_("Score"), "score"),
    ("status", N_("Status")),
    ("completed_on", N_("Completed on"), "date"),
]


def _table_file(
    frame: pd.DataFrame, columns: list, fmt: str, name: str, sheet: str, out: IO[bytes]
) -> BuiltReport:
    """The table written as the pages' downloads write it (exports/tables.py), in the language
    in force (use_language): headers, CSV delimiter and decimal mark."""
    if frame.empty:
        raise NothingToSend(gettext("the table has no row"))
    specs = [(c[0], gettext(c[1]), c[2] if len(c) > 2 else None) for c in columns]
    data = pd.DataFrame(index=frame.index)
    for name_, _header, _kind in specs:
        series = frame[name_] if name_ in frame.columns else pd.Series([None] * len(frame), index=frame.index)
        data[name_] = series.astype(object).map(lambda v: None if _missing(v) else v)
    if fmt == "xlsx":
        out.write(table_to_xlsx_bytes(data, specs, gettext(sheet)))
    else:
        delimiter, decimal = csv_dialect()
        out.write(table_to_csv_bytes(data, specs, delimiter=delimiter, decimal=decimal))
    return BuiltReport(f"{name}.{fmt}", MEDIA_TYPES[fmt], len(frame))


def _missing(value) -> bool:
    from exports.formatting import missing

    return missing(value)


def _learner_names(frame: pd.DataFrame) -> list[str]:
    return [
        f"{last or ''} {first or ''}".strip() or email
        for last, first, email in zip(frame["last_name"], frame["first_name"], frame["email"], strict=True)
    ]


def _trainings_population(session: Session, scope: Scope, params: dict):
    from data.figures.population import Population, require_population

    class_id = _text(params, "class_id", required=False)
    pop = Population(class_id=class_id)
    if class_id is None and scope.is_learner_only:
        raise Forbidden()
    require_population(session, scope, pop)
    return pop


def _check_trainings(session: Session, scope: Scope, params: dict) -> None:
    _trainings_population(session, scope, params)
    _format(params)


def _build_trainings(session, recipient, scope, params, run, out) -> BuiltReport:
    from data.figures.tables import trainings_table

    pop = _trainings_population(session, scope, params)
    frame = trainings_table(session, scope, pop, run.tz, today=run.today)
    name = f"class-{pop.class_id}-trainings" if pop.class_id else "trainings"
    return _table_file(frame, TRAININGS_COLUMNS, _format(params), name, N_("Trainings"), out)


def _describe_trainings(session: Session, params: dict) -> str:
    class_id = params.get("class_id")
    return gettext("class %(id)s", id=class_id) if class_id else gettext("every training in scope")


register_kind(
    "trainings", N_("Trainings table"), _build_trainings, _check_trainings, describe=_describe_trainings
)


def _results_population(session: Session, scope: Scope, params: dict):
    from data.figures.population import Population, require_population

    training_id = _text(params, "training_id")
    class_id = _text(params, "class_id", required=False)
    if session.get(Training, training_id) is None:
        raise Forbidden()  # unknown or not theirs: the same answer
    pop = Population(training_id=training_id, class_id=class_id)
    if not scope.can_view_training_page(training_id) and class_id is None:
        raise Forbidden()
    require_population(session, scope, pop)
    return pop


def _check_results(session: Session, scope: Scope, params: dict) -> None:
    _results_population(session, scope, params)
    _format(params)


def _results_frame(session: Session, scope: Scope, pop, run, with_names: bool) -> pd.DataFrame:
    """The results table of `pop` as the page shows it: statuses in words, and the learners'
    names when the table has a learner column."""
    from data.figures.tables import training_results

    frame, _total = training_results(session, scope, pop, run.tz, today=run.today)
    frame = frame.copy()
    if not frame.empty:
        if with_names:
            frame["learner"] = _learner_names(frame)
        frame["status"] = [status_word(s) for s in frame["status"]]
    return frame


def _build_results(session, recipient, scope, params, run, out) -> BuiltReport:
    pop = _results_population(session, scope, params)
    frame = _results_frame(session, scope, pop, run, with_names=True)
    name = f"results-{pop.training_id}" + (f"-class-{pop.class_id}" if pop.class_id else "")
    return _table_file(frame, RESULTS_COLUMNS, _format(params), name, N_("Results"), out)


def _describe_results(session: Session, params: dict) -> str:
    training = session.get(Training, str(params.get("training_id", "")))
    return training.name if training is not None else str(params.get("training_id", ""))


register_kind(
    "training-results", N_("Training learners"), _build_results, _check_results, describe=_describe_results
)


# The learner page's table of their trainings (its download reads this list too).
LEARNER_TRAININGS_COLUMNS = [
    ("training", N_("Training")),
    ("enrolled_on", N_("Enrolled on"), "date"),
    ("progress", N_("Progress"), "pct"),
    ("score", N_("Score"), "score"),
    ("status", N_("Status")),
    ("time_spent", N_("Time spent"), "duration"),
    ("completed_on", N_("Completed on"), "date"),
]


def _learner_population(session: Session, scope: Scope, params: dict):
    """The learner page's population (their trainings the recipient may see, their own
    history included); Forbidden for a learner outside the recipient's scope."""
    from data.figures.population import Population, require_population

    user_id = _text(params, "user_id")
    if session.get(User, user_id) is None:
        raise Forbidden()  # unknown or not theirs: the same answer
    pop = Population(user_id=user_id, learners_only=False, include_self=True)
    require_population(session, scope, pop)
    return pop


def _check_learner_trainings(session: Session, scope: Scope, params: dict) -> None:
    _learner_population(session, scope, params)
    _format(params)


def _build_learner_trainings(session, recipient, scope, params, run, out) -> BuiltReport:
    pop = _learner_population(session, scope, params)
    frame = _results_frame(session, scope, pop, run, with_names=False)
    name = f"results-learner-{pop.user_id}"
    return _table_file(frame, LEARNER_TRAININGS_COLUMNS, _format(params), name, N_("Results"), out)


def _describe_learner(session: Session, params: dict) -> str:
    user = session.get(User, str(params.get("user_id", "")))
    if user is None:
        return str(params.get("user_id", ""))
    return f"{user.last_name or ''} {user.first_name or ''}".strip() or user.email


register_kind(
    "learner-trainings",
    N_("Learner's trainings"),
    _build_learner_trainings,
    _check_learner_trainings,
    describe=_describe_learner,
)


def _session_id(session: Session, scope: Scope, params: dict) -> str:
    session_id = _text(params, "session_id")
    if not scope.can_view_session(session, session_id):
        raise Forbidden()
    return session_id


def _check_session_learners(session: Session, scope: Scope, params: dict) -> None:
    _session_id(session, scope, params)
    _format(params)


def _build_session_learners(session, recipient, scope, params, run, out) -> BuiltReport:
    from data.figures.sessions import session_statistics
    from exports.formatting import format_local

    session_id = _session_id(session, scope, params)
    frame = session_statistics(session, scope, session_id, run.tz, today=run.today).learners.copy()
    if not frame.empty:
        frame["learner"] = _learner_names(frame)
        frame["registered_text"] = [gettext("Yes") if r else gettext("No") for r in frame["registered"]]
        frame["status"] = [status_word(s) for s in frame["status"]]

        def local(value):
            if value is None or _missing(value):
                return None
            moment = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
            if moment.tzinfo is not None:
                return moment.astimezone(run.tz).strftime("%d/%m/%Y %H:%M")
            return format_local(moment, run.tz)

        frame["first"] = [local(v) for v in frame["first_connection"]]
        frame["last"] = [local(v) for v in frame["last_connection"]]
        frame["completed_on"] = [d if d else None for d in frame["completed_on"]]
    return _table_file(
        frame,
        SESSION_LEARNERS_COLUMNS,
        _format(params),
        f"session-{session_id}-learners",
        N_("Learners"),
        out,
    )


def _describe_session(session: Session, params: dict) -> str:
    program = session.get(ProgramSession, str(params.get("session_id", "")))
    return program.name if program is not None else str(params.get("session_id", ""))


register_kind(
    "session-learners",
    N_("Session learners"),
    _build_session_learners,
    _check_session_learners,
    describe=_describe_session,
)


# The training page's content table (its download uses the same columns).
TRAINING_CONTENT_COLUMNS = [
    ("position", "#", "int"),
    ("module", N_("Module")),
    ("type", N_("Type")),
    ("completed_pct", N_("Completed"), "pct"),
    ("passed_pct", N_("Passed"), "pct"),
    ("average_score", N_("Avg. score"), "score"),
    ("average_time_spent", N_("Avg. time spent"), "duration"),
]


def _build_content(session, recipient, scope, params, run, out) -> BuiltReport:
    from data.figures.tables import training_content

    pop = _results_population(session, scope, params)
    frame = training_content(session, scope, pop, run.tz).copy()
    if not frame.empty:
        frame["type"] = [gettext("Mandatory") if m else gettext("Optional") for m in frame["mandatory"]]
    name = f"training-{pop.training_id}-content"
    return _table_file(frame, TRAINING_CONTENT_COLUMNS, _format(params), name, N_("Content"), out)


register_kind(
    "training-content", N_("Training content"), _build_content, _check_results, describe=_describe_results
)

SESSIONS_COLUMNS = [
    ("session", N_("Session")),
    ("training", N_("Training")),
    ("starts", N_("Starts")),
    ("ends", N_("Ends")),
    ("learners", N_("Learners"), "int"),
    ("played", N_("Played"), "int"),
    ("session_id", N_("Session ID")),
]


def _check_sessions(session: Session, scope: Scope, params: dict) -> None:
    if not (scope.is_global or scope.sessions or scope.trainings):
        raise Forbidden()
    _format(params)


def _build_sessions(session, recipient, scope, params, run, out) -> BuiltReport:
    """The Sessions page's list: every session in scope, or those overlapping the run's
    previous period when the schedule asks for it."""
    from data.figures.sessions import sessions_table

    _check_sessions(session, scope, params)
    start, end = run.period if run.period is not None and params.get("period") == "previous" else (None, None)
    frame = sessions_table(session, scope, run.tz, start, end).copy()
    if not frame.empty:

        def local(value):
            if value is None or _missing(value):
                return None
            moment = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
            return moment.astimezone(run.tz).strftime("%d/%m/%Y %H:%M")

        frame["starts"] = [local(v) for v in frame["starts_at"]]
        frame["ends"] = [local(v) for v in frame["ends_at"]]
    return _table_file(frame, SESSIONS_COLUMNS, _format(params), "sessions", N_("Sessions"), out)


register_kind("sessions", N_("Program sessions"), _build_sessions, _check_sessions, dated=True)

# The classes page's list (its download uses the same columns).
CLASSES_COLUMNS = [
    ("class", N_("Class")),
    ("members", N_("Members"), "int"),
    ("trainings", N_("Trainings"), "int"),
]


def _check_classes(session: Session, scope: Scope, params: dict) -> None:
    if not (scope.is_global or scope.classes):  # who may open the classes page
        raise Forbidden()
    _format(params)


def _build_classes(session, recipient, scope, params, run, out) -> BuiltReport:
    """The classes page's list: the classes in the recipient's scope."""
    from data.classes import classes_table

    _check_classes(session, scope, params)
    frame = classes_table(session, scope)
    return _table_file(frame, CLASSES_COLUMNS, _format(params), "classes", N_("Classes"), out)


register_kind("classes", N_("Classes list"), _build_classes, _check_classes)


def _check_data_sources(session: Session, scope: Scope, params: dict) -> None:
    if not scope.is_admin:  # the Data sources page is the admins'
        raise Forbidden()
    _format(params)


def _build_data_sources(session, recipient, scope, params, run, out) -> BuiltReport:
    """The Data sources page's imports and syncs, newest first (its download's rows)."""
    from data import data_sources as ds
    from exports.data_sources import RUNS_COLUMNS, runs_frame

    _check_data_sources(session, scope, params)
    frame = runs_frame(ds.import_runs(session, scope), run.tz)
    return _table_file(frame, RUNS_COLUMNS, _format(params), "data-sources", N_("Data sources"), out)


register_kind("data-sources", N_("Data sources"), _build_data_sources, _check_data_sources)


# -- at-risk learners (SPEC §9) and the weekly digest (issue 18 point 5) --------------------------


def _days(params: dict, run: ReportRun | None) -> int:
    from data.figures.at_risk import check_days

    value = params.get("days")
    if value in (None, ""):
        return run.at_risk_days if run is not None else 14
    try:
        return check_days(value)
    except (TypeError, ValueError) as error:
        raise ReportKindError(gettext("days: %(reason)s", reason=error)) from None


def _at_risk_population(session: Session, scope: Scope, params: dict):
    from data.figures.population import Population, require_population

    training_id = _text(params, "training_id", required=False)
    class_id = _text(params, "class_id", required=False)
    if training_id is not None and session.get(Training, training_id) is None:
        raise Forbidden()
    pop = Population(training_id=training_id, class_id=class_id)
    if training_id is None and class_id is None and scope.is_learner_only:
        raise Forbidden()
    require_population(session, scope, pop)
    return pop


def _check_at_risk(session: Session, scope: Scope, params: dict) -> None:
    _at_risk_population(session, scope, params)
    _days(params, None)
    _format(params)


def _at_risk_file(records, run: ReportRun, params: dict, name: str, out: IO[bytes]) -> BuiltReport:
    from exports.at_risk import AT_RISK_TABLE_COLUMNS, at_risk_frame

    if not records:
        raise NothingToSend(gettext("no learner is at risk"))
    frame = at_risk_frame(records, run.today)
    return _table_file(frame, AT_RISK_TABLE_COLUMNS, _format(params), name, N_("At risk"), out)


def _build_at_risk(session, recipient, scope, params, run, out) -> BuiltReport:
    from exports.at_risk import at_risk_records

    pop = _at_risk_population(session, scope, params)
    records = at_risk_records(session, scope, pop, run.tz, run.today, _days(params, run))
    name = (
        "at-risk"
        + (f"-{pop.training_id}" if pop.training_id else "")
        + (f"-class-{pop.class_id}" if pop.class_id else "")
    )
    return _at_risk_file(records, run, params, f"{name}-{run.today.isoformat()}", out)


def _describe_at_risk(session: Session, params: dict) -> str:
    parts = []
    training = (
        session.get(Training, str(params.get("training_id", ""))) if params.get("training_id") else None
    )
    if training is not None:
        parts.append(training.name)
    if params.get("class_id"):
        parts.append(gettext("class %(id)s", id=params["class_id"]))
    if params.get("days"):
        parts.append(gettext("inactive for %(days)s days or more", days=params["days"]))
    return " · ".join(parts) or gettext("every training in scope")


register_kind("at-risk", N_("At-risk learners"), _build_at_risk, _check_at_risk, describe=_describe_at_risk)


def may_have_digest(scope: Scope) -> bool:
    """The weekly digest is for training managers and session instructors (SPEC §6)."""
    return bool(scope.trainings or scope.sessions)


def _check_digest(session: Session, scope: Scope, params: dict) -> None:
    if not may_have_digest(scope):
        raise Forbidden()
    _format(params)


def _build_digest(session, recipient, scope, params, run, out) -> BuiltReport:
    """The at-risk learners of the recipient's trainings (training manager) and of their
    sessions (instructor: the learners of each session they teach, in its training)."""
    from sqlalchemy import select

    from data.figures.population import Population
    from data.models import SessionLearner
    from data.scope import global_scope
    from exports.at_risk import at_risk_records

    if not may_have_digest(scope):
        raise Forbidden()
    days = _days(params, run)
    found: dict[tuple[str, str], object] = {}
    if scope.trainings:
        for record in at_risk_records(session, scope, Population(), run.tz, run.today, days):
            found[(record.user_id, record.training_id)] = record
    for session_id in sorted(scope.sessions):
        program = session.get(ProgramSession, session_id)
        if program is None:
            continue
        learners = set(
            session.scalars(select(SessionLearner.user_id).where(SessionLearner.session_id == session_id))
        )
        # Read in the platform's scope, then kept to this session's learners in its training:
        # exactly what the instructor may see on the session's page.
        for record in at_risk_records(
            session, global_scope(), Population(training_id=program.training_id), run.tz, run.today, days
        ):
            if record.user_id in learners:
                found.setdefault((record.user_id, record.training_id), record)
    from data.text import fold

    # SPEC §4's order of people (case and accents ignored), then the training's name.
    records = sorted(
        found.values(),
        key=lambda r: (
            fold(r.last_name or ""),
            fold(r.first_name or ""),
            fold(r.email or ""),
            fold(r.training or ""),
            r.user_id,
        ),
    )
    return _at_risk_file(records, run, params, f"at-risk-digest-{run.today.isoformat()}", out)


def _describe_digest(session: Session, params: dict) -> str:
    return gettext("the at-risk learners of your trainings and sessions")


register_kind("at-risk-digest", N_("Weekly digest"), _build_digest, _check_digest, describe=_describe_digest)


def build_report(
    session: Session,
    kind_name: str,
    recipient: User,
    scope: Scope,
    params: dict,
    run: ReportRun,
    language: str,
) -> tuple[bytes, BuiltReport]:
    """The file in memory (tests, small reports): the kind's build in the given language."""
    out = io.BytesIO()
    with use_language(language):
        built = report_kind(kind_name).build(session, recipient, scope, params, run, out)
    return out.getvalue(), built


def describe(session: Session, kind_name: str, params: dict) -> str:
    try:
        kind = report_kind(kind_name)
        return kind.describe(session, params)
    except (LearnstatsError, ValueError):
        return ""


__all__ = [
    "CLASSES_COLUMNS",
    "FORMATS",
    "KINDS",
    "KIND_MODULES",
    "LEARNER_TRAININGS_COLUMNS",
    "RESULTS_COLUMNS",
    "SESSIONS_COLUMNS",
    "SESSION_LEARNERS_COLUMNS",
    "TRAININGS_COLUMNS",
    "TRAINING_CONTENT_COLUMNS",
    "BuiltReport",
    "NothingToSend",
    "ReportKind",
    "ReportKindError",
    "ReportRun",
    "build_report",
    "describe",
    "load_kinds",
    "parse_params",
    "register_kind",
    "report_kind",
]
