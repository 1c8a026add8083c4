"""The page shell: the navbar from the page registry (a page's nav_label, shown to those its
nav_access, else its access, lets in), the language menu, and the app's layout around the page.

Who may open a page is dashboards/access.py's business.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, dcc, html
from flask import has_request_context
from flask_login import current_user

from auth.forms import csrf_token
from auth.guard import current_scope
from auth.language import LANGUAGE_NAMES
from auth.language import gettext as _
from dashboards.access import check_access
from dashboards.components.search import build_search_box
from dashboards.components.texts import component_labels
from data.scope import Scope
from exports.formatting import current_language


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
                        build_search_box(sessions=scope.is_global or bool(scope.trainings or scope.sessions))
                        if scope is not None and scope.is_manager
                        else None,
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
    from dashboards.dialogs.schedule import build_schedule_dialog, may_schedule

    scope, name = None, ""
    if has_request_context() and current_user.is_authenticated:
        scope = current_scope()
        name = current_user.display_name
    return html.Div(
        [
            # The first Tab stop (issue 21): skips the navbar to the page's content, which
            # takes the focus (tabIndex -1) so the next Tab goes on from there.
            html.A(
                _("Skip to main content"),
                href="#main-content",
                className="ls-skip-link",
                id="shell-skip-link",
            ),
            build_navbar(scope, name),
            html.Main(
                dbc.Container(dash.page_container, fluid=True, className="ls-page pb-5"),
                id="main-content",
                tabIndex="-1",
                className="ls-main",
            ),
            component_labels(),
            # The "Schedule…" dialog (dashboards/dialogs/schedule.py), one for every page.
            build_schedule_dialog() if may_schedule(scope) else None,
        ]
    )
