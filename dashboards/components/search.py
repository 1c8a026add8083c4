"""The navbar search box (issue 4 point 5): learners, trainings, classes and sessions (issue 21)
in the signed-in user's scope, by name or email, accent-insensitive (data.search).

Suggestions show as the user types (up to data.search.DEFAULT_LIMIT, each with its kind);
clicking one, or Enter for the first, opens its page; the box clears on every navigation.
The callbacks are registered per app by register_search_callbacks(app), from create_app.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update

from auth.guard import current_scope
from auth.language import gettext as _
from data.db import get_db
from data.search import KIND_LABELS, SearchResult, search
from data.text import SEARCH_MAX_CHARS

MIN_CHARACTERS = 2
PAGES_LOCATION = "_pages_location"  # dash.page_container's dcc.Location


def build_search_box(sessions: bool = False) -> html.Div:
    """The box; `sessions`: the viewer may open sessions, which the search then finds too
    (its label says so)."""
    label = (
        _("Search learners, trainings, classes, sessions…")
        if sessions
        else _("Search learners, trainings, classes…")
    )
    return html.Div(
        [
            html.Label(label, htmlFor="shell-search-input", className="visually-hidden"),
            dbc.Input(
                id="shell-search-input",
                type="search",
                placeholder=label,
                debounce=250,
                maxLength=SEARCH_MAX_CHARS,
                autoComplete="off",
                size="sm",
                className="ls-navsearch-input",
            ),
            html.Div(id="shell-search-results", className="ls-navsearch-results"),
            dcc.Location(id="shell-search-location", refresh="callback-nav"),
        ],
        className="ls-navsearch me-3",
        id="shell-search",
    )


def _results(text: str | None) -> list[SearchResult]:
    if not text or len(text.strip()) < MIN_CHARACTERS:
        return []
    scope = current_scope()
    with get_db().session() as s:
        return search(s, scope, text)


def build_suggestions(text: str | None, results: list[SearchResult]):
    """The dropdown's rows: kind badge, name (and a learner's email), linking to the page."""
    if not text or len(text.strip()) < MIN_CHARACTERS:
        return []
    if not results:
        shown = text.strip()
        shown = shown if len(shown) <= 60 else shown[:60] + "…"  # a forged megabyte is not echoed back
        return html.Div(
            _("Nothing in your scope matches “%(text)s”.", text=shown), className="ls-navsearch-empty"
        )
    return [
        dcc.Link(
            [
                html.Span(_(KIND_LABELS[r.kind]), className=f"ls-navsearch-kind ls-navsearch-kind-{r.kind}"),
                html.Span(r.label, className="ls-navsearch-label"),
                html.Span(r.detail, className="ls-navsearch-detail") if r.detail else None,
            ],
            href=r.href,
            className="ls-navsearch-item",
        )
        for r in results
    ]


def update_search_suggestions(text, _pathname):
    """Suggestions for the typed text; a navigation (a suggestion was opened) clears the box."""
    if ctx.triggered_id == PAGES_LOCATION:
        return [], ""
    return build_suggestions(text, _results(text)), no_update


def open_first_suggestion(n_submit, text):
    """Enter opens the first suggestion."""
    if not n_submit:
        return no_update
    results = _results(text)
    return results[0].href if results else no_update


def register_search_callbacks(app: Dash) -> None:
    app.callback(
        Output("shell-search-results", "children"),
        Output("shell-search-input", "value"),
        Input("shell-search-input", "value"),
        Input(PAGES_LOCATION, "pathname"),
        prevent_initial_call=True,
    )(update_search_suggestions)
    app.callback(
        Output("shell-search-location", "href"),
        Input("shell-search-input", "n_submit"),
        State("shell-search-input", "value"),
        prevent_initial_call=True,
    )(open_first_suggestion)
