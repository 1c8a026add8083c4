"""Chart cards: a titled card holding a chart (or its empty state) and a "View as table" toggle
revealing the same numbers as a table.

Ids: card <page>-<slug>-card, body <page>-<slug>-body (graph or empty state), graph
<page>-<slug>-graph, table <page>-<slug>-table, and {"type": "chart-table-toggle" /
"chart-table-collapse", "page", "chart"} (toggled by register_component_callbacks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html, no_update

from auth.language import N_
from auth.language import gettext as _
from dashboards.components.cards import build_empty_state
from exports.formatting import current_language, format_value

GRAPH_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "displayModeBar": False,
}
_NUMERIC = {"int", "pct", "score", "duration", "float"}
TableColumns = Sequence[tuple[str, str] | tuple[str, str, str | Callable | None]]


def build_chart_body(page: str, slug: str, figure_or_empty, height: int = 320):
    """What the chart card's body holds: the graph `<page>-<slug>-graph`, or the given empty
    state (a component or a sentence). Page callbacks return this into `<page>-<slug>-body`."""
    if isinstance(figure_or_empty, go.Figure):
        config = {**GRAPH_CONFIG, "locale": current_language()}  # assets/plotlyLocaleFr.js
        # The figure as the plain data Dash sends (what it would make of the Figure object):
        # a memoized block holding it unpickles in microseconds, where a go.Figure rebuilds and
        # re-validates every trace and layout key on each cache hit (issue 22 point 2).
        return dcc.Graph(
            id=f"{page}-{slug}-graph",
            figure=figure_or_empty.to_plotly_json(),
            config=config,
            style={"height": f"{height}px"},
            className="ls-graph",
        )
    if isinstance(figure_or_empty, str):
        return build_empty_state(figure_or_empty, f"{page}-{slug}-empty")
    return figure_or_empty


_MARKDOWN_SPECIAL = str.maketrans({ch: "\\" + ch for ch in "\\`*_[]<>|~#"})


def markdown_cell(value: str) -> str:
    """A cell's text for a Markdown pipe table: its special characters escaped, one line."""
    return str(value).replace("\r", " ").replace("\n", " ").translate(_MARKDOWN_SPECIAL)


def build_chart_table(df: pd.DataFrame | None, columns: TableColumns) -> html.Div:
    """A compact table of the chart's numbers: columns are (field, header) or (field, header,
    kind) with kind a FORMATTERS key or a function. Page callbacks return this into
    `<page>-<slug>-table`.

    One dcc.Markdown component (a pipe table the browser turns into a <table>) rather than a
    component per cell: the five charts of a page held about 550 cell components, drawn at the
    first paint though hidden, and Dash's renderer walked them on every update (issue 21: the
    class page's settle time; dash_renderer's share of its CPU halved without them)."""
    if df is None or len(df) == 0:
        return build_empty_state(N_("No numbers to show for this period."))
    kinds = [col[2] if len(col) > 2 else None for col in columns]
    lines = [
        "| " + " | ".join(markdown_cell(_(col[1])) for col in columns) + " |",
        "| " + " | ".join("---:" if kind in _NUMERIC else "---" for kind in kinds) + " |",
    ]
    for record in df.to_dict("records"):
        cells = [
            markdown_cell(format_value(record.get(col[0]), kind))
            for col, kind in zip(columns, kinds, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return html.Div(
        dcc.Markdown("\n".join(lines), className="ls-chart-table mb-0"),
        className="ls-chart-table-wrap",
    )


def build_chart_card(
    page: str,
    slug: str,
    title: str,
    figure_or_empty,
    table_df: pd.DataFrame | None,
    table_columns: TableColumns,
    subtitle: str | None = None,
    height: int = 320,
) -> dbc.Card:
    """A titled card with the chart (or its empty state) and a "View as table" toggle revealing
    the same numbers as a table."""
    toggle_id = {"type": "chart-table-toggle", "page": page, "chart": slug}
    header = html.Div(
        [
            html.Div(
                [
                    html.H2(_(title), className="ls-chart-title"),
                    html.Div(_(subtitle), className="ls-chart-subtitle") if subtitle else None,
                ],
                className="ls-chart-heading",
            ),
            # A plain button: it says whether the table is shown (aria-expanded) and which
            # element it shows (aria-controls), which dbc.Button cannot carry.
            html.Button(
                _("View as table"),
                id=toggle_id,
                type="button",
                className="btn btn-link btn-sm ls-chart-toggle",
                n_clicks=0,
                **{"aria-expanded": "false", "aria-controls": f"{page}-{slug}-table"},
            ),
        ],
        className="ls-chart-header",
    )
    return dbc.Card(
        dbc.CardBody(
            [
                header,
                dcc.Loading(
                    html.Div(
                        build_chart_body(page, slug, figure_or_empty, height),
                        id=f"{page}-{slug}-body",
                        className="ls-chart-body",
                        style={"minHeight": f"{height}px"},
                    ),
                    type="circle",
                    delay_show=300,
                    color="#2563eb",
                ),
                dbc.Collapse(
                    html.Div(build_chart_table(table_df, table_columns), id=f"{page}-{slug}-table"),
                    id={"type": "chart-table-collapse", "page": page, "chart": slug},
                    is_open=False,
                ),
            ]
        ),
        className="ls-chart-card",
        id=f"{page}-{slug}-card",
    )


def toggle_chart_table(n_clicks, is_open):
    """The toggle's callback: (is_open, button label, aria-expanded)."""
    if not n_clicks:
        return no_update, no_update, no_update
    opened = not is_open
    return opened, (_("Hide table") if opened else _("View as table")), "true" if opened else "false"
