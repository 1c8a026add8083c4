"""Command line for accounts: set-password."""

from __future__ import annotations

import sys

import click
from flask import Flask

from auth.users import AccountError, set_password
from data.cli import migrated_db
from data.errors import CommandFailed


@click.command("set-password")
@click.argument("email")
def set_password_command(email: str) -> None:
    """Set EMAIL's password, read from a prompt (or standard input when it is not a terminal)."""
    db = migrated_db()
    if sys.stdin.isatty():
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        with db.session() as s:
            set_password(s, email, password)
    except AccountError as error:
        raise CommandFailed(f"set-password: {error}") from None
    click.echo(f"Password set for {email}.")


def register(server: Flask) -> None:
    server.cli.add_command(set_password_command)
