"""The page shown for an unknown address."""

import dash
from dash import dcc, html

dash.register_page(__name__, path="/404", title="Not found · Learnstats")


def layout(**_kwargs):
    return html.Div(
        [
            html.H1("404", className="display-4 text-muted"),
            html.H2("Page not found", className="h4"),
            html.P("There is no page at this address.", className="text-muted"),
            dcc.Link("Go to your start page", href="/", className="btn btn-outline-primary"),
        ],
        className="ls-error-page",
        id="page-not-found",
    )
