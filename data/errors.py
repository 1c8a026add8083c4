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


class ListedErrors(LearnstatsError):
    """Input refused with its errors listed: ``errors`` holds the first ones (in input order),
    ``total`` counts every one. A subclass gives its first line (``heading``, formatted with
    ``total``) and the wording of the line about the errors not listed (``unlisted``)."""

    heading = "{total} error(s):"
    unlisted = "more"

    def __init__(self, errors: list, total: int | None = None):
        self.errors = errors
        self.total = len(errors) if total is None else total
        super().__init__(
            self.heading.format(total=self.total) + "\n" + "\n".join(str(e) for e in errors) + self.more()
        )

    @property
    def omitted(self) -> int:
        return self.total - len(self.errors)

    def more(self) -> str:
        """The line that says how many errors are not listed ("" when all are)."""
        if not self.omitted:
            return ""
        return f"\n… and {self.omitted:,} {self.unlisted} not listed (the first {len(self.errors)} are shown)"


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


__all__ = ["CommandFailed", "LearnstatsError", "ListedErrors"]
