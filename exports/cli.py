"""Command line for exports: export-results (more exports register here as they land)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app

from data.cli import migrated_db
from data.scope import Forbidden, global_scope


@click.command("export-results")
@click.option("--training", "training_id", required=True, help="Training id.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_results_command(training_id: str, out: Path) -> None:
    """Write one training's results (one row per learner) as CSV."""
    from exports.results import UnknownTraining, write_results_csv

    db = migrated_db()
    tz = current_app.config["LEARNSTATS"].tz
    try:
        with db.session() as s:
            count = write_results_csv(s, global_scope(), training_id, out, tz)
    except (UnknownTraining, Forbidden) as error:
        click.echo(f"export-results: {error}", err=True)
        sys.exit(1)
    click.echo(f"Wrote {count} learner(s) to {out}.")


def register(server: Flask) -> None:
    server.cli.add_command(export_results_command)
