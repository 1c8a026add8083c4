"""The page shell: navbar from the page registry, guarded layouts, 403 and sign-in states.

Each page registers with dash.register_page(..., access=fn, nav_label=...) where
access(scope, session, **kwargs) -> bool (kwargs: path variables and query arguments) says whether the scope may open it.
`guarded` wraps a page's layout so the check runs on every navigation, and
`page_access(path)` answers the same question for the Flask guard's full page loads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from urllib.parse import unquote

import dash
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, dcc, html
from flask import has_request_context
from flask_login import current_user

from auth.forms import csrf_token
from auth.guard import current_scope
from auth.language import LANGUAGE_NAMES
from auth.language import gettext as _
from dashboards.components.search import build_search_box
from dashboards.components.texts import component_labels
from data.db import get_db
from data.scope import Forbidden, Scope
from exports.formatting import current_language

Access = Callable[..., bool]
RESERVED_ARGUMENTS = frozenset({"scope", "session", "_scope", "_session"})


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


def check_access(page: dict, scope: Scope, variables: dict[str, str]) -> bool:
    access: Access | None = page.get("access")
    if access is None:
        return True
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


def _path_variables(module: str) -> list[str]:
    for page in dash.page_registry.values():
        if page.get("module") == module and page.get("path_template"):
            return re.findall(r"<([^>]+)>", page["path_template"])
    return []


def guarded(access: Access) -> Callable:
    """Decorator for a page's layout(**kwargs): checks the scope, then calls layout(scope, ...).

    Safe to call with no arguments outside a request (Dash may validate layouts).
    """

    def decorator(render: Callable) -> Callable:
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
            for name in _path_variables(render.__module__):
                if isinstance(kwargs.get(name), str):
                    kwargs[name] = unquote(kwargs[name])
            with get_db().session() as s:
                if not access(scope, s, **kwargs):
                    has_ids = bool(_path_variables(render.__module__))
                    return build_not_found() if has_ids and refuses_as_not_found(scope) else build_forbidden()
            return render(scope=scope, **kwargs)

        return layout

    return decorator


def build_language_menu() -> html.Form | None:
    """The interface's language, saved on the user: a small form posting to /language (see
    auth/language.py), back to the page shown."""
    if not has_request_context():
        return None
    current = current_language()
    return html.Form(
        [
            dcc.Input(type="hidden", name="csrf_token", value=csrf_token()),
            dcc.Input(type="hidden", name="next", value="/", id="shell-language-next"),
            *[
                html.Button(
                    code.upper(),
                    type="submit",
                    name="language",
                    value=code,
                    lang=code,
                    title=name,
                    disabled=code == current,
                    className="btn btn-sm btn-link text-light px-1 ls-language-button",
                    id=f"shell-language-{code}",
                    **{
                        "aria-label": f"{code.upper()} ({name})",
                        "aria-current": "true" if code == current else None,
                    },
                )
                for code, name in LANGUAGE_NAMES.items()
            ],
        ],
        method="post",
        action="/language",
        className="d-flex align-items-center me-2 ls-language-menu",
        id="shell-language-form",
        **{"aria-label": _("Language")},
    )


def build_navbar(scope: Scope | None, display_name: str) -> dbc.Navbar:
    links = []
    if scope is not None:
        for page in dash.page_registry.values():
            label = page.get("nav_label")
            if not label or page.get("path_template"):
                continue
            nav_access = page.get("nav_access")
            if nav_access(scope) if nav_access else check_access(page, scope, {}):
                links.append(
                    dbc.NavItem(
                        dbc.NavLink(
                            _(label),
                            href=page["relative_path"],
                            active="exact",
                            id=f"nav-{page['name'].lower().replace(' ', '-')}-link",
                        )
                    )
                )
    right = [
        html.Span(display_name, className="navbar-text me-3", id="shell-user-name"),
        build_language_menu() if scope is not None else None,
        html.A(
            _("Sign out"), href="/logout", className="btn btn-sm btn-outline-light", id="shell-signout-link"
        ),
    ]
    # Below Bootstrap's lg breakpoint (992 px) the links, search and account collapse into a
    # menu opened by the toggler (assets/learnstats.js, toggleNavbar; closed on navigation).
    toggler = html.Button(
        html.Span(className="navbar-toggler-icon"),
        id="shell-navbar-toggler",
        className="navbar-toggler",
        type="button",
        n_clicks=0,
        **{"aria-controls": "shell-navbar-collapse", "aria-expanded": "false", "aria-label": _("Menu")},
    )
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("Learnstats", href="/", className="fw-semibold"),
                toggler,
                dbc.Collapse(
                    [
                        dbc.Nav(links, className="me-auto", navbar=True, id="shell-nav"),
                        # Search: managers only (a learner's scope is their own page, "My page").
                        build_search_box() if scope is not None and scope.is_manager else None,
                        html.Div(right, className="d-flex align-items-center ls-navbar-account"),
                    ],
                    id="shell-navbar-collapse",
                    navbar=True,
                    is_open=False,
                ),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        expand="lg",
        className="mb-3 ls-navbar",
    )


def register_shell_callbacks(app: dash.Dash) -> None:
    """The navbar menu's toggle (below 992 px), client side: opens and closes the menu, says so
    with aria-expanded, and closes it when the page changes."""
    app.clientside_callback(
        ClientsideFunction(namespace="learnstats", function_name="toggleNavbar"),
        Output("shell-navbar-collapse", "is_open"),
        Output("shell-navbar-toggler", "aria-expanded"),
        Input("shell-navbar-toggler", "n_clicks"),
        Input("_pages_location", "pathname"),
        State("shell-navbar-collapse", "is_open"),
        prevent_initial_call=True,
    )


def shell_layout():
    """The app's layout: navbar for the signed-in user, then the page."""
    scope, name = None, ""
    if has_request_context() and current_user.is_authenticated:
        scope = current_scope()
        name = current_user.display_name
    return html.Div(
        [
            build_navbar(scope, name),
            dbc.Container(dash.page_container, fluid=True, className="ls-page pb-5"),
            component_labels(),
        ]
    )
