"""Command line for exports: export-results, export-opco-logs, export-attestations, export-edof,
export-bpf."""

from __future__ import annotations

import re
from pathlib import Path

import click
from flask import Flask

from data.cli import migrated_db
from data.config import current_settings
from data.errors import CommandFailed, LearnstatsError
from data.scope import Forbidden, global_scope
from exports.files import atomic_file
from exports.opco_request import BadOpcoRequest, parse_date, parse_field


@click.command("export-results")
@click.option("--training", "training_id", required=True, help="Training id.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_results_command(training_id: str, out: Path) -> None:
    """Write one training's results (one row per learner) as CSV."""
    from exports.results import UnknownTraining, write_results_csv

    db = migrated_db()
    tz = current_settings().tz
    try:
        with db.session() as s:
            count = write_results_csv(s, global_scope(), training_id, out, tz)
    except (UnknownTraining, Forbidden) as error:
        raise CommandFailed(f"export-results: {error}") from None
    click.echo(f"Wrote {count} learner(s) to {out}.")


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@click.command("export-at-risk")
@click.option("--training", "training_id", required=True, help="Training id.")
@click.option("--on", "on", metavar="YYYY-MM-DD", help="The date (platform time zone); default today.")
@click.option("--days", "days", metavar="N", help="Days without activity (default LEARNSTATS_AT_RISK_DAYS).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_at_risk_command(training_id: str, on: str | None, days: str | None, out: Path) -> None:
    """Write one training's at-risk learners on a date as CSV (SPEC §9's columns)."""
    from data.figures.at_risk import MAX_DAYS
    from data.figures.days import today_in
    from exports.at_risk import training_at_risk_records, write_at_risk_csv
    from exports.results import UnknownTraining

    settings = current_settings()
    tz = settings.tz
    if on is None:
        day = today_in(tz)
    else:
        try:
            day = parse_date("--on", on)
        except BadOpcoRequest as error:
            raise CommandFailed(f"export-at-risk: {error}") from None
    if days is None:
        n = settings.at_risk_days
    elif days.strip().isdigit() and 1 <= int(days) <= MAX_DAYS:
        n = int(days)
    else:
        raise CommandFailed(
            f"export-at-risk: --days: {days!r} is not a whole number of days from 1 to {MAX_DAYS}"
        )
    db = migrated_db()
    try:
        with db.session() as s:
            records = training_at_risk_records(s, global_scope(), training_id, tz, day, n)
    except (UnknownTraining, Forbidden) as error:
        raise CommandFailed(f"export-at-risk: {error}") from None
    count = write_at_risk_csv(records, out)
    click.echo(f"Wrote {count} at-risk learner row(s) on {day.isoformat()} to {out}.")


class _UsageError(LearnstatsError):
    """A bad option value: reported on stderr, exit status 1."""


def _parse_columns(text: str | None) -> tuple[str, ...] | None:
    """NAME,NAME... ; an empty value keeps no custom field column."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names) and text.strip():
        raise _UsageError(f"--columns: {text!r} has an empty column name")
    return tuple(name for name in names if name)


def _output_format(out: Path, given: str | None) -> str:
    if given:
        return given
    suffix = out.suffix.lower()
    if suffix in (".csv", ".xlsx"):
        return suffix[1:]
    raise _UsageError(
        f"--format: cannot tell the format from {out.name!r}; use --format csv or --format xlsx"
    )


@click.command("export-opco-logs")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--from", "date_from", metavar="YYYY-MM-DD", help="First day (platform time zone).")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="Last day, inclusive.")
@click.option("--session", "session_ids", multiple=True, metavar="ID", help="Program session id.")
@click.option("--user", "user_ids", multiple=True, metavar="ID", help="User id.")
@click.option("--group", "class_ids", multiple=True, metavar="ID", help="Class (group) id.")
@click.option("--field", "fields", multiple=True, metavar="NAME=VALUE", help="Custom field value.")
@click.option("--columns", "columns", metavar="NAME,NAME...", help="Custom field columns (default: all).")
@click.option("--delimiter", type=click.Choice([",", ";"]), default=",", show_default=True)
@click.option(
    "--titles",
    type=click.Choice(["en", "fr"]),
    default="en",
    show_default=True,
    help="Column titles: SPEC's English ones, or French (Nom, Prénom, …, Connexion, Déconnexion, Temps passé).",
)
@click.option("--format", "output_format", type=click.Choice(["csv", "xlsx"]), help="Default: from --out.")
@click.option(
    "--granularity",
    type=click.Choice(["opca-logs", "learner-session", "learner-course", "session"]),
    default="opca-logs",
    show_default=True,
    help="One row per connection (SPEC §7), per learner and session, per learner, session and course, or per session (SPEC §9).",
)
def export_opco_logs_command(
    out: Path,
    date_from: str | None,
    date_to: str | None,
    session_ids: tuple[str, ...],
    user_ids: tuple[str, ...],
    class_ids: tuple[str, ...],
    fields: tuple[str, ...],
    columns: str | None,
    delimiter: str,
    titles: str,
    output_format: str | None,
    granularity: str,
) -> None:
    """Write the OPCO logs (SPEC §7) of every program session, or of the filtered ones, in one
    of SPEC §9's granularities."""
    from exports.opco_logs import (
        OpcoLogFilters,
        OpcoLogsError,
        iter_opco_logs_csv,
        write_opco_logs_xlsx,
    )

    try:
        filters = OpcoLogFilters(
            date_from=parse_date("--from", date_from),
            date_to=parse_date("--to", date_to),
            user_ids=user_ids,
            class_ids=class_ids,
            session_ids=session_ids,
            fields=tuple(parse_field(text, "--field") for text in fields),
            columns=_parse_columns(columns),
            titles=titles,
            granularity=granularity,
        )
        kind = _output_format(out, output_format)
        if not out.parent.is_dir():
            raise _UsageError(f"--out: folder {str(out.parent)!r} does not exist")
    except (_UsageError, BadOpcoRequest) as error:
        raise CommandFailed(f"export-opco-logs: {error}") from None

    db = migrated_db()
    tz = current_settings().tz
    try:
        with db.session() as s, atomic_file(out) as file:
            if kind == "xlsx":
                write_opco_logs_xlsx(s, global_scope(), filters, tz, file)
            else:
                for chunk in iter_opco_logs_csv(s, global_scope(), filters, tz, delimiter):
                    file.write(chunk)
    except (OpcoLogsError, Forbidden) as error:
        raise CommandFailed(f"export-opco-logs: {error}") from None
    click.echo(f"Wrote the OPCO logs to {out}.")


@click.command("export-attestations")
@click.option("--session", "session_id", required=True, metavar="ID", help="Program session id.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="FILE.zip")
@click.option(
    "--kind",
    type=click.Choice(["attestation", "certificate", "both"]),
    help="Which documents (default: the saved choice, else both).",
)
@click.option("--org-name", help="Training organisation's name.")
@click.option("--address", help="Its address (use \\n for a new line).")
@click.option("--legal-representative", help="Its legal representative.")
@click.option("--nda", help="Declaration number (NDA), optional.")
@click.option("--siret", help="SIRET (14 digits), optional.")
@click.option("--place", help="Place of signature.")
@click.option("--duration-hours", help="Declared duration of the training sessions, in hours (> 0).")
@click.option(
    "--logo", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="PNG or JPEG, 2 MB at most."
)
@click.option(
    "--stamp", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Stamp and signature image."
)
@click.option("--footer", help="Footer text.")
@click.option("--employer-field", help="User custom field holding the learner's employer.")
@click.option(
    "--nature", type=click.Choice(["formation", "bilan", "vae", "apprentissage"]), help="For the certificat."
)
@click.option("--language", type=click.Choice(["fr", "en"]), help="Default: the saved choice, else fr.")
@click.option(
    "--signed-on", metavar="YYYY-MM-DD", help="Date of signature (default: today, platform time zone)."
)
@click.option("--save-defaults", is_flag=True, help="Keep these values as the platform's defaults.")
def export_attestations_command(
    session_id: str,
    out: Path,
    kind: str | None,
    org_name: str | None,
    address: str | None,
    legal_representative: str | None,
    nda: str | None,
    siret: str | None,
    place: str | None,
    duration_hours: str | None,
    logo: Path | None,
    stamp: Path | None,
    footer: str | None,
    employer_field: str | None,
    nature: str | None,
    language: str | None,
    signed_on: str | None,
    save_defaults: bool,
) -> None:
    """Write a session's OPCO attestations and certificats de réalisation (SPEC §7) as a ZIP,
    with the values saved from the session page unless given here."""
    from exports.attestation_options import (
        AttestationError,
        AttestationOptions,
        load_defaults,
        store_image,
    )
    from exports.attestation_options import save_defaults as keep_defaults
    from exports.attestations import write_session_zip

    db = migrated_db()
    tz = current_settings().tz
    try:
        day = parse_date("--signed-on", signed_on)
        if not out.parent.is_dir():
            raise _UsageError(f"--out: folder {str(out.parent)!r} does not exist")
        with db.session() as s:
            given = {
                "org_name": org_name,
                "address": address.replace("\\n", "\n") if address is not None else None,
                "legal_representative": legal_representative,
                "nda": nda,
                "siret": siret,
                "place": place,
                "duration_hours": duration_hours,
                "footer": footer,
                "employer_field": employer_field,
                "nature": nature,
                "language": language,
                "kind": kind,
            }
            for name, path in (("logo", logo), ("stamp", stamp)):
                if path is not None:
                    given[name] = store_image(s, path.read_bytes(), f"--{name} {path}")
            saved = load_defaults(s).to_dict()
            saved.update({k: v for k, v in given.items() if v is not None})
            options = AttestationOptions.from_dict(saved).check()
            count = write_session_zip(s, global_scope(), session_id, options, tz, out, signed_on=day)
            if save_defaults:
                keep_defaults(s, options)
            s.commit()
    except (_UsageError, BadOpcoRequest, AttestationError, Forbidden) as error:
        raise CommandFailed(f"export-attestations: {error}") from None
    click.echo(f"Wrote {count} document(s) of session {session_id} to {out}.")


@click.command("export-edof")
@click.option(
    "--session",
    "session_ids",
    required=True,
    multiple=True,
    metavar="ID",
    help="Program session id (repeatable).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="FILE.csv or FILE.xlsx",
)
@click.option(
    "--duration-hours",
    help="The session's declared duration in hours (default: the attestations' saved one).",
)
@click.option(
    "--language",
    type=click.Choice(["fr", "en"]),
    default="fr",
    show_default=True,
    help="Titles and statuses.",
)
@click.option("--delimiter", type=click.Choice([",", ";"]), default=",", show_default=True, help="CSV only.")
@click.option("--format", "output_format", type=click.Choice(["csv", "xlsx"]), help="Default: from --out.")
def export_edof_command(
    session_ids: tuple[str, ...],
    out: Path,
    duration_hours: str | None,
    language: str,
    delimiter: str,
    output_format: str | None,
) -> None:
    """Write the EDOF completion file (SPEC §10) of one or several program sessions: one row
    per learner of each session (blocked ones too), sessions in the order given."""
    from data.edof import UnknownSession
    from exports.edof import EdofError, edof_csv_bytes, edof_rows, edof_xlsx_bytes

    try:
        kind = _output_format(out, output_format)
        if not out.parent.is_dir():
            raise _UsageError(f"--out: folder {str(out.parent)!r} does not exist")
    except _UsageError as error:
        raise CommandFailed(f"export-edof: {error}") from None
    db = migrated_db()
    tz = current_settings().tz
    try:
        with db.session() as s:
            rows = edof_rows(s, global_scope(), session_ids, tz, duration_hours)
        data = (
            edof_xlsx_bytes(rows, language) if kind == "xlsx" else edof_csv_bytes(rows, language, delimiter)
        )
        with atomic_file(out) as file:
            file.write(data)
    except (EdofError, UnknownSession, Forbidden) as error:
        raise CommandFailed(f"export-edof: {error}") from None
    click.echo(f"Wrote {len(rows)} learner row(s) of {len(set(session_ids))} session(s) to {out}.")


@click.command("export-bpf")
@click.option(
    "--from", "date_from", required=True, metavar="YYYY-MM-DD", help="First day (platform time zone)."
)
@click.option("--to", "date_to", required=True, metavar="YYYY-MM-DD", help="Last day, inclusive.")
@click.option(
    "--category-field",
    metavar="NAME",
    help="User custom field holding the trainee category (default: the saved one).",
)
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="VALUE=LINE",
    help="A value of the field and its line a-e (repeatable; default: the saved mapping). Others count in e.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="FILE.csv, .xlsx or .pdf",
)
@click.option(
    "--format", "output_format", type=click.Choice(["csv", "xlsx", "pdf"]), help="Default: from --out."
)
@click.option("--language", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option("--delimiter", type=click.Choice([",", ";"]), default=",", show_default=True, help="CSV only.")
@click.option("--save-defaults", is_flag=True, help="Keep this field and mapping as the platform's defaults.")
def export_bpf_command(
    date_from: str,
    date_to: str,
    category_field: str | None,
    mapping: tuple[str, ...],
    out: Path,
    output_format: str | None,
    language: str,
    delimiter: str,
    save_defaults: bool,
) -> None:
    """Write the BPF's cadre F-1 (SPEC §10) for a period: rows a-e, Total and "dont formation à
    distance", each with the number of trainees and their whole hours of training."""
    from dataclasses import replace

    from exports.bpf import BpfError, BpfOptions, bpf_file, load_bpf_defaults, parse_map, save_bpf_defaults

    try:
        start = parse_date("--from", date_from)
        end = parse_date("--to", date_to)
        suffix = out.suffix.lower()
        kind = output_format or (suffix[1:] if suffix in (".csv", ".xlsx", ".pdf") else None)
        if kind is None:
            raise _UsageError(
                f"--format: cannot tell the format from {out.name!r}; use --format csv, xlsx or pdf"
            )
        if not out.parent.is_dir():
            raise _UsageError(f"--out: folder {str(out.parent)!r} does not exist")
        given = parse_map(mapping)
    except (_UsageError, BadOpcoRequest, BpfError) as error:
        raise CommandFailed(f"export-bpf: {error}") from None
    db = migrated_db()
    tz = current_settings().tz
    # The BPF is for admins and statistics managers: the command line is both.
    scope = replace(global_scope(), is_admin=True, is_statistics_manager=True)
    try:
        with db.session() as s:
            saved = load_bpf_defaults(s)
            field = category_field if category_field is not None else saved.field
            chosen = given or (saved.mapping if field == saved.field else {})
            options = BpfOptions(field=field.strip(), mapping=chosen)
            data = bpf_file(s, scope, start, end, options, kind, tz, language, delimiter)
            if save_defaults:
                save_bpf_defaults(s, options)
                s.commit()
        with atomic_file(out) as file:
            file.write(data)
    except (BpfError, Forbidden) as error:
        raise CommandFailed(f"export-bpf: {error}") from None
    click.echo(f"Wrote the BPF cadre F-1 from {start} to {end} to {out}.")


def _compliance_options(s, language: str | None):
    """The attestations' saved organisation block and defaults (SPEC §10 point 7), in the
    chosen language (French unless --language en)."""
    from exports.attestation_options import load_defaults

    options = load_defaults(s)
    return options.merged(language=language or "fr")


@click.command("export-attendance")
@click.option("--session", "session_id", required=True, metavar="ID", help="Program session id.")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="FILE.xlsx or FILE.pdf",
)
@click.option("--format", "output_format", type=click.Choice(["xlsx", "pdf"]), help="Default: from --out.")
@click.option("--language", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option(
    "--signed-on", metavar="YYYY-MM-DD", help="Date of signature (default: today, platform time zone)."
)
def export_attendance_command(
    session_id: str, out: Path, output_format: str | None, language: str, signed_on: str | None
) -> None:
    """Write a session's feuille d'émargement par demi-journée (SPEC §10) as XLSX or PDF, with
    the organisation block saved for the attestations."""
    from datetime import datetime

    from exports.attendance import attendance_file
    from exports.attestation_options import AttestationError

    try:
        kind = output_format or out.suffix.lower().lstrip(".")
        if kind not in ("xlsx", "pdf"):
            raise _UsageError(
                f"--format: cannot tell the format from {out.name!r}; use --format xlsx or --format pdf"
            )
        day = parse_date("--signed-on", signed_on)
        if not out.parent.is_dir():
            raise _UsageError(f"--out: folder {str(out.parent)!r} does not exist")
    except (_UsageError, BadOpcoRequest) as error:
        raise CommandFailed(f"export-attendance: {error}") from None
    db = migrated_db()
    tz = current_settings().tz
    try:
        with db.session() as s:
            options = _compliance_options(s, language)
            data = attendance_file(
                s, global_scope(), session_id, kind, options, tz, day or datetime.now(tz).date()
            )
    except (AttestationError, Forbidden) as error:
        raise CommandFailed(f"export-attendance: {error}") from None
    with atomic_file(out) as file:
        file.write(data)
    click.echo(f"Wrote the attendance sheet of session {session_id} to {out}.")


@click.command("export-activity-records")
@click.option("--session", "session_id", required=True, metavar="ID", help="Program session id.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="FILE.zip")
@click.option("--language", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option(
    "--signed-on", metavar="YYYY-MM-DD", help="Date of signature (default: today, platform time zone)."
)
def export_activity_records_command(session_id: str, out: Path, language: str, signed_on: str | None) -> None:
    """Write the relevé individuel d'activité (SPEC §10) of every learner of a session as one
    ZIP of PDFs, with the organisation block saved for the attestations."""
    from exports.activity_records import write_records_zip
    from exports.attestation_options import AttestationError

    try:
        day = parse_date("--signed-on", signed_on)
        if not out.parent.is_dir():
            raise _UsageError(f"--out: folder {str(out.parent)!r} does not exist")
    except (_UsageError, BadOpcoRequest) as error:
        raise CommandFailed(f"export-activity-records: {error}") from None
    db = migrated_db()
    tz = current_settings().tz
    try:
        with db.session() as s:
            options = _compliance_options(s, language)
            if options.problems():
                raise AttestationError(
                    "the attestation details are not complete (save them once with "
                    "export-attestations --save-defaults or from the session page): "
                    + "; ".join(options.problems())
                )
            count = write_records_zip(s, global_scope(), session_id, options, tz, out, signed_on=day)
    except (AttestationError, Forbidden) as error:
        raise CommandFailed(f"export-activity-records: {error}") from None
    click.echo(f"Wrote {count} activity record(s) of session {session_id} to {out}.")


def register(server: Flask) -> None:
    server.cli.add_command(export_results_command)
    server.cli.add_command(export_at_risk_command)
    server.cli.add_command(export_opco_logs_command)
    server.cli.add_command(export_attestations_command)
    server.cli.add_command(export_edof_command)
    server.cli.add_command(export_bpf_command)
    server.cli.add_command(export_attendance_command)
    server.cli.add_command(export_activity_records_command)
