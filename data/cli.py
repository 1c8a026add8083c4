"""Command line for the data layer: migrate, import-bundle, demo-data."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click
from flask import Flask
from sqlalchemy.exc import OperationalError

from data.config import current_settings
from data.db import Database, get_db
from data.errors import CommandFailed


def migrated_db() -> Database:
    """The app's database, migrated to the newest schema (every command starts here)."""
    db = get_db()
    db.migrate()
    return db


@click.command("migrate")
def migrate_command() -> None:
    """Create or upgrade the database schema."""
    migrated_db()
    click.echo("Database is up to date.")


@click.command("import-bundle")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def import_bundle_command(folder: Path) -> None:
    """Import a CSV bundle (SPEC §3): all files in one transaction, or nothing."""
    from data.importer import BundleInvalid, import_bundle
    from data.xapi.runs import fail_run, finish_run, start_run

    db = migrated_db()
    tz = current_settings().tz
    # The Data sources page lists every import (import_runs): written in transactions of
    # their own, so a refused import stays recorded with its reason.
    try:
        run_id = start_run(db, "bundle", str(folder.resolve()))
    except OperationalError as error:  # the database is busy: the same sentence as below
        from auth.faults import database_problem

        raise CommandFailed(
            f"import-bundle: {database_problem(error)}\nImport refused: nothing was written."
        ) from None
    try:
        with db.session() as s:
            summary = import_bundle(s, folder, tz)
    except OperationalError as error:
        from auth.faults import database_problem

        problem = database_problem(error)
        # The database is what failed: the run is recorded if it can be, the sentence said anyway.
        with contextlib.suppress(OperationalError):
            fail_run(db, run_id, f"{problem}; nothing was written")
        raise CommandFailed(f"import-bundle: {problem}\nImport refused: nothing was written.") from None
    except BundleInvalid as invalid:
        lines = [str(error) for error in invalid.errors]
        if invalid.omitted:
            lines.append(invalid.more().strip())
        lines.append(f"Import refused: {invalid.total:,} error(s); nothing was written.")
        first = f" (first: {invalid.errors[0]})" if invalid.errors else ""
        fail_run(db, run_id, f"{invalid.total:,} error(s){first}; nothing was written")
        raise CommandFailed("\n".join(lines)) from None
    except BaseException as error:
        fail_run(db, run_id, f"{type(error).__name__}: {error}; nothing was written")
        raise
    finish_run(db, run_id, accepted=sum(c.rows for c in summary.files.values()), added=bundle_counts(summary))
    click.echo(summary.describe())


@click.command("import-xapi")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="import the valid statements and list the invalid ones with their reason "
    "(default: a file with any invalid statement imports nothing)",
)
def import_xapi_command(file: Path, skip_invalid: bool) -> None:
    """Import xAPI statements (SPEC §8): a JSON array or JSON lines, gzipped or not."""
    from data.run_progress import clear_progress, progress_reporter
    from data.xapi import XapiFileError, XapiInvalid, ingest_statements, read_file
    from data.xapi.runs import fail_run, finish_run_with_report, start_run

    db = migrated_db()
    run_id = start_run(db, "xapi-file", file.name)
    instance = current_settings().instance_path
    try:
        with db.session() as s:
            report = ingest_statements(
                s,
                read_file(file),
                source=f"file:{file.name}",
                skip_invalid=skip_invalid,
                run_id=run_id,
                # The Data sources page's progress bar (data/run_progress.py).
                progress=progress_reporter(db, run_id, instance),
            )
    except XapiInvalid as invalid:
        fail_run(db, run_id, f"{invalid.total:,} invalid statement(s); nothing was imported", invalid.errors)
        lines = [str(error) for error in invalid.errors]
        if invalid.omitted:
            lines.append(invalid.more().strip())
        lines.append(
            f"Import refused: {invalid.total:,} invalid statement(s); nothing was written "
            "(--skip-invalid imports the valid ones)."
        )
        raise CommandFailed("\n".join(lines)) from None
    except XapiFileError as error:
        fail_run(db, run_id, str(error))
        raise CommandFailed(f"{error}. Nothing was written.") from None
    except OperationalError as error:
        from auth.faults import database_problem

        fail_run(db, run_id, database_problem(error))
        raise CommandFailed(f"{database_problem(error)} Import refused: nothing was written.") from None
    except BaseException as error:
        fail_run(db, run_id, f"{type(error).__name__}: {error}")
        raise
    finally:
        clear_progress(instance, run_id)
    finish_run_with_report(db, run_id, report)
    click.echo(f"Imported {file}:")
    click.echo(report.describe())


def bundle_counts(summary) -> dict[str, dict[str, int]]:
    """Per file: rows added, updated and unchanged (import_runs.added of a bundle run)."""
    return {
        name: {"added": c.added, "updated": c.updated, "unchanged": c.unchanged}
        for name, c in summary.files.items()
    }


@click.command("sync-lrs")
@click.option(
    "--endpoint",
    metavar="URL",
    help="the LRS's xAPI base (http://127.0.0.1:8100/xAPI) or Statements resource "
    "(…/xAPI/statements); default: LEARNSTATS_LRS_ENDPOINT",
)
@click.option("--username", metavar="NAME", help="Basic-auth user name; default: LEARNSTATS_LRS_USERNAME")
@click.option("--quiet", is_flag=True, help="no line per page")
def sync_lrs_command(endpoint: str | None, username: str | None, quiet: bool) -> None:
    """Pull the statements an LRS stored since the last sync (SPEC §8); the password comes from
    LEARNSTATS_LRS_PASSWORD. A statement that cannot be used is skipped and recorded with its
    reason; the sync goes on. One sync at a time: while another runs (the periodic one, another
    sync-lrs), nothing is done."""
    from data.lrs import LrsError, LrsSettingsError, SyncBusy, sync_lrs_once

    settings = current_settings()
    endpoint = endpoint or settings.lrs_endpoint
    username = username or settings.lrs_username
    db = migrated_db()
    try:
        result = sync_lrs_once(
            db, endpoint, username, settings.lrs_password, say=None if quiet else click.echo
        )
    except LrsSettingsError as error:
        raise CommandFailed(f"sync-lrs: {error}", exit_code=2) from None
    except SyncBusy as busy:
        raise CommandFailed(f"sync-lrs: {busy}") from None
    except LrsError as error:
        done = error.result
        if done is not None and done.pages:
            stopped = (
                f"Sync stopped after {done.pages:,} page(s) ({done.accepted:,} new statement(s), kept: the "
                "next sync resumes after them); nothing of the page being read was written."
            )
        else:
            stopped = "Sync stopped: nothing was written."
        raise CommandFailed(f"sync-lrs: {error}\n{stopped}") from None
    except OperationalError as error:
        from auth.faults import database_problem

        raise CommandFailed(
            f"sync-lrs: {database_problem(error)}\nSync stopped: the page being read was not written."
        ) from None
    click.echo(result.describe())


@click.command("demo-data")
@click.option("--learners", default=300, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--seed", default=42, show_default=True, type=int)
def demo_data_command(learners: int, seed: int) -> None:
    """Fill an empty database with a deterministic demo platform."""
    from data.demo import DEMO_ACCOUNTS, DemoDataError, generate_demo_data

    db = migrated_db()
    try:
        summary = generate_demo_data(db, learners=learners, seed=seed, tz=current_settings().tz)
    except DemoDataError as error:
        raise CommandFailed(f"demo-data: {error}") from None
    click.echo(summary)
    click.echo("Demo accounts (email / password / role):")
    for account in DEMO_ACCOUNTS:
        click.echo(f"  {account.email:40} {account.password:16} {account.role}")


@click.command("rebuild-summaries")
def rebuild_summaries_command() -> None:
    """Recompute every summary table from the raw tables (recovery, and a check)."""
    import time

    from data.summaries import rebuild

    db = migrated_db()
    started = time.perf_counter()
    with db.session() as s:
        rebuild(s, current_settings().tz)
    click.echo(f"Summaries rebuilt from the raw tables in {time.perf_counter() - started:.1f} s.")


@click.command("copy-database")
@click.option(
    "--to",
    "target_url",
    required=True,
    metavar="URL",
    help="the empty database to fill, e.g. postgresql+psycopg://user:password@host/learnstats",
)
def copy_database_command(target_url: str) -> None:
    """Copy this platform (LEARNSTATS_DATABASE_URL, else the embedded SQLite file) into an empty
    database, then compare row counts and figures on both."""
    from data.config import SettingsError, _check_database_url
    from data.copy import CopyError, copy_database

    try:
        _check_database_url(target_url)
    except SettingsError as error:
        raise CommandFailed(f"copy-database: --to: {str(error).split(': ', 1)[1]}", exit_code=2) from None
    db = migrated_db()
    tz = current_settings().tz
    source = db.engine.url.render_as_string(hide_password=True)
    from sqlalchemy.engine import make_url

    target = make_url(target_url).render_as_string(hide_password=True)
    click.echo(f"Copying {source} -> {target}")
    try:
        report = copy_database(db, target_url, tz, say=click.echo)
    except CopyError as error:
        raise CommandFailed(f"copy-database: {error}. Nothing was copied.") from None
    click.echo(
        f"Copied {report.total:,} rows of {len(report.rows)} tables at schema revision "
        f"{report.revision} in {report.seconds:.1f} s."
    )
    if not report.ok:
        raise CommandFailed(
            "\n".join(
                [
                    *(
                        f"copy-database: {table}: {mine} rows here but {theirs} in the copy"
                        for table, (mine, theirs) in report.mismatched_counts.items()
                    ),
                    *(
                        f"copy-database: the figure '{name}' differs between the two databases"
                        for name in report.mismatched_figures
                    ),
                ]
            )
        )
    click.echo(
        f"Checked: every table has the same row count, and the figures ({', '.join(report.figures)}) "
        "are equal on both databases."
    )


def register(server: Flask) -> None:
    for command in (
        migrate_command,
        import_bundle_command,
        import_xapi_command,
        sync_lrs_command,
        demo_data_command,
        rebuild_summaries_command,
        copy_database_command,
    ):
        server.cli.add_command(command)
