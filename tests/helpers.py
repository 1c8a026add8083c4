"""Helpers shared by the unit tests that call page callbacks as functions."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import dash
import flask_login
from sqlalchemy.orm import Session

from auth.users import to_signed_in
from data.models import User


@contextmanager
def signed_in(
    server, user_id: str, path: str = "/", session: Session | None = None, base_url: str | None = None
) -> Iterator[None]:
    """A request context in which user_id is signed in (as after the sign-in form).

    session: read the user there (test data not committed yet), else in a session of its own.
    """
    extra = {"base_url": base_url} if base_url else {}
    with server.test_request_context(path, **extra):
        if session is not None:
            flask_login.login_user(to_signed_in(session.get(User, user_id)))
        else:
            with server.extensions["learnstats_db"].session() as s:
                flask_login.login_user(to_signed_in(s.get(User, user_id)))
        yield


class ServedPage:
    """A page as the app serves it: its module as the app loaded it (Dash executes
    dashboards/pages/<name>.py itself), whose callbacks and helpers are read from the module,
    and `layout`, the one Dash calls on navigation: the page's layout behind the access its
    register_page declares (dashboards/access.py, put there by create_app)."""

    _OWN = frozenset({"module", "layout"})

    def __init__(self, name: str):
        module: ModuleType = sys.modules[f"dashboards.pages.{name}"]
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "layout", dash.page_registry[module.__name__]["layout"])

    def __getattr__(self, attribute: str):
        return getattr(self.module, attribute)

    def __setattr__(self, attribute: str, value) -> None:
        """monkeypatch.setattr(page, "NAME", value) patches the module the callbacks read."""
        if attribute in self._OWN:
            raise AttributeError(f"{attribute} is the served page's own")
        setattr(self.module, attribute, value)

    def __delattr__(self, attribute: str) -> None:
        delattr(self.module, attribute)


def served_page(name: str) -> ServedPage:
    return ServedPage(name)


def markdown_table_rows(text: str) -> list[list[str]]:
    """The rows of a Markdown pipe table (a chart card's "View as table",
    dashboards/components/chart_cards.build_chart_table), header first, each cell's text as the
    browser shows it (escapes removed); the alignment line left out."""
    import re

    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]
        if all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
            continue
        rows.append([re.sub(r"\\(.)", r"\1", c) for c in cells])
    return rows
