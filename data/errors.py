"""The one base of the errors whose message is meant for a person, and the command line's error.

`LearnstatsError`: every exception class whose message a user or an operator reads (a refused
import, a bad setting, a scope that does not allow something, an export that cannot be made, a
link that cannot be honoured) derives from it, wherever it is raised (data/ is the bottom
layer, so the base lives here). Code that answers people can catch it; a bare `Exception`
caught elsewhere is a bug. Classes that were ValueError or LookupError before stay so too.

`CommandFailed`: what a `flask --app app …` command raises when it cannot do what it was asked
(a click.ClickException: click prints the message on standard error and exits with
`exit_code`, 1 unless said otherwise). Unlike click's own, it prints the message as it is,
without an "Error: " prefix: the commands' texts are a public interface.
"""

from __future__ import annotations

import click


class LearnstatsError(Exception):
    """An error whose message is for a person: what went wrong and where, in a sentence."""


class CommandFailed(click.ClickException):
    """A command's refusal: its message, verbatim, on standard error; exit status exit_code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        if file is None:
            click.echo(self.format_message(), err=True)
        else:
            click.echo(self.format_message(), file=file)


__all__ = ["CommandFailed", "LearnstatsError"]
