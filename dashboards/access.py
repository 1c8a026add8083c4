"""Who may open which page: each page's one declaration, read by the guard.

A page declares its access once, in its registration, and nowhere else:

    def can_open(scope, session, training_id=None, **_) -> bool: ...
    dash.register_page(__name__, path_template="/training/<training_id>", access=can_open, ...)
    def layout(scope, training_id=None, **query): ...

access(scope, session, **kwargs) -> bool says whether the signed-in user's scope may open the
page (kwargs: the path variables and query arguments). It is required: create_app calls
`guard_pages()`, which refuses to start when a page has none (PageWithoutAccess), and then
puts each page's layout behind its access, in Dash's page registry (the layout Dash calls on
every navigation). The same declaration answers the Flask guard's full page loads
(`page_access(path)`, auth/guard.py) and decides which navbar links a user sees
(components/shell.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any
from urllib.parse import unquote

import dash
from dash import dcc, html
from flask import has_request_context
from flask_login import current_user

from auth.guard import current_scope
from auth.language import gettext as _
from data.db import get_db
from data.errors import LearnstatsError
from data.scope import Forbidden, Scope

Access = Callable[..., bool]
RESERVED_ARGUMENTS = frozenset({"scope", "session", "_scope", "_session"})
# Marks a layout already put behind its page's access (guard_pages runs once per app; Dash
# registers the pages again, with their bare layouts, for each new app).
_GUARDED = "_learnstats_guarded"


class PageWithoutAccess(LearnstatsError, RuntimeError):
    """A page registered without `access=`: the app refuses to start (a page open to every
    signed-in user must say so)."""


def everyone(_scope: Scope, _session, **_) -> bool:
    """Every signed-in user may open the page."""
    return True


def match_path(path: str, template: str) -> dict[str, str] | None:
    """Path variables when path matches template segment by segment, else None.

    path is the path as sent (percent-encoded): an id may hold a "/" (sent as %2F), so the
    path is split first and each segment decoded after."""
    parts = [unquote(p) for p in path.strip("/").split("/") if p != ""]
    tparts = [p for p in template.strip("/").split("/") if p != ""]
    if len(parts) != len(tparts):
        return None
    variables = {}
    for part, tpart in zip(parts, tparts, strict=True):
        if tpart.startswith("<") and tpart.endswith(">"):
            variables[tpart[1:-1]] = part
        elif part != tpart:
            return None
    return variables


def find_page(path: str) -> tuple[dict | None, dict[str, str]]:
    for page in dash.page_registry.values():
        template = page.get("path_template") or page["path"]
        variables = match_path(path, template)
        if variables is not None:
            return page, variables
    return None, {}


def check_access(page: Mapping[str, Any], scope: Scope, variables: dict[str, str]) -> bool:
    """The page's own access for this scope. A page without one is refused (guard_pages
    stops the app before it could serve such a page)."""
    access: Access | None = page.get("access")
    if not callable(access):
        return False
    with get_db().session() as s:
        return bool(access(scope, s, **variables))


def page_access(path: str) -> bool | None:
    """For the Flask guard: False when the signed-in user may not open path (403), None when
    there is nothing there (404): no such page, or an id that does not exist asked by a viewer
    who sees every id (see `refuses_as_not_found`)."""
    page, variables = find_page(path)
    if page is None:
        return None
    try:
        scope = current_scope()
    except Forbidden:
        return False
    if check_access(page, scope, variables):
        return True
    return None if variables and refuses_as_not_found(scope) else False


def refuses_as_not_found(scope: Scope) -> bool:
    """Whether a page refused to this viewer is reported as "not found" (404) rather than
    "access refused" (403).

    A global role (admin, global user manager, statistics manager) may open every training,
    class, learner, session and module summary: a refusal can only mean that the id does not
    exist, and saying so leaks nothing. Anyone else gets 403 whether the id exists outside
    their scope or not at all, so that ids cannot be probed (docs/decisions.md). A page
    without an id in its address (the admins' Data sources page) refuses with 403 whoever
    may not open it: there is nothing there that could not exist."""
    return scope.is_global


def build_not_found() -> html.Div:
    return html.Div(
        [
            html.H1("404", className="display-4 text-muted"),
            html.H2(_("Page not found"), className="h4"),
            html.P(_("There is no page at this address."), className="text-muted"),
            dcc.Link(_("Go to your start page"), href="/", className="btn btn-outline-primary"),
        ],
        className="ls-error-page",
        id="page-not-found",
    )


def build_forbidden(message: str | None = None) -> html.Div:
    return html.Div(
        [
            html.H1("403", className="display-4 text-muted"),
            html.H2(_("Access refused"), className="h4"),
            html.P(message or _("You do not have access to this page."), className="text-muted"),
            dcc.Link(_("Go to your start page"), href="/", className="btn btn-outline-primary"),
        ],
        className="ls-error-page",
        id="page-forbidden",
    )


def guard_layout(page: Mapping[str, Any]) -> Callable:
    """The page's layout behind its access: checks the signed-in user's scope, then calls
    layout(scope=scope, **kwargs).

    Safe to call with no arguments outside a request (Dash may validate layouts)."""
    render = page["layout"]
    if not callable(render):  # a layout given as a component is guarded all the same
        component = render

        def render(**_):
            return component

    access: Access = page["access"]
    template = page.get("path_template") or ""
    path_variables = [
        part[1:-1] for part in template.split("/") if part.startswith("<") and part.endswith(">")
    ]

    @wraps(render)
    def layout(**kwargs):
        if not has_request_context():
            return html.Div()
        if not current_user.is_authenticated:
            return build_forbidden(_("Please sign in."))
        scope = current_scope()
        # A query argument may not pose as the scope or the session (?scope=x).
        kwargs = {k: v for k, v in kwargs.items() if k not in RESERVED_ARGUMENTS}
        # Dash reads path variables from the browser's percent-encoded pathname: an id
        # with a space, an accent, a quote or a "/" (links quote it) arrives encoded.
        for name in path_variables:
            if isinstance(kwargs.get(name), str):
                kwargs[name] = unquote(kwargs[name])
        with get_db().session() as s:
            if not access(scope, s, **kwargs):
                has_ids = bool(path_variables)
                return build_not_found() if has_ids and refuses_as_not_found(scope) else build_forbidden()
        return render(scope=scope, **kwargs)

    setattr(layout, _GUARDED, True)
    return layout


def guard_pages(registry: dict[str, dict] | None = None) -> None:
    """At app start: every page must declare its access (else PageWithoutAccess, naming the
    pages); then each page's layout in the registry is put behind it."""
    pages = dash.page_registry if registry is None else registry
    missing = sorted(module for module, page in pages.items() if not callable(page.get("access")))
    if missing:
        raise PageWithoutAccess(
            "Learnstats cannot start: "
            + ", ".join(missing)
            + (" declares" if len(missing) == 1 else " declare")
            + " no access. Pass access=<function(scope, session, **kwargs) -> bool> to"
            " dash.register_page (dashboards.access.everyone for a page every signed-in user"
            " may open)."
        )
    for page in pages.values():
        if not getattr(page.get("layout"), _GUARDED, False):
            page["layout"] = guard_layout(page)
