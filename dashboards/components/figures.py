"""Figure builders shared by the pages: one palette, one template, readable axes and hovers.

Builders take plain values or pandas DataFrames and return a plotly `go.Figure`; they do no I/O.
An empty data set is the caller's business: it shows `build_empty_state(...)` (in
dashboards/components/cards.py) instead of empty axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from auth.language import N_
from auth.language import gettext as _
from exports.formatting import current_language

# Colour-blind-safe, consistent across pages: series take PALETTE in order; statuses keep theirs.
PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#8b5cf6", "#ef4444", "#06b6d4", "#ec4899", "#84cc16")
STATUS_COLORS = {
    "completed": "#10b981",
    "passed": "#10b981",
    "in progress": "#f59e0b",
    "not started": "#cbd5e1",
    "failed": "#ef4444",
    "expired": "#8b5cf6",
}
SECONDARY_COLOR = "#111827"
FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif'
GRID_COLOR = "#e5e7eb"
AXIS_COLOR = "#6b7280"

# x axis labels and hover per bucket (d3 time formats).
BUCKET_TICK_FORMAT = {"day": "%d %b", "week": N_("week of %d %b"), "month": "%b %Y"}
# Over a range that crosses a new year the day and week labels carry the year too (issue 12:
# "week of 03 Nov" twice over a 14-month range); months always have it.
BUCKET_TICK_FORMAT_WITH_YEAR = {"day": "%d %b %Y", "week": N_("week of %d %b %Y"), "month": "%b %Y"}
BUCKET_HOVER_FORMAT = {"day": "%a %d %b %Y", "week": N_("week of %d %b %Y"), "month": "%B %Y"}
BUCKET_AXIS_TITLE = {"day": N_("Day"), "week": N_("Week (starting Monday)"), "month": N_("Month")}
# At most this many x labels, so labels never overlap in a half-width card.
MAX_X_TICKS = {"day": 9, "week": 5, "month": 7}
DAY_MS = 24 * 3600 * 1000

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font={"family": FONT_FAMILY, "size": 12, "color": "#1f2937"},
        colorway=list(PALETTE),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="#ffffff",
        hoverlabel={"font": {"family": FONT_FAMILY, "size": 12}, "bgcolor": "#ffffff"},
        xaxis={
            "showgrid": False,
            "linecolor": GRID_COLOR,
            "tickcolor": GRID_COLOR,
            "ticks": "outside",
            "tickfont": {"color": AXIS_COLOR},
            "title": {"font": {"color": AXIS_COLOR, "size": 12}},
            "automargin": True,
            "zeroline": False,
        },
        yaxis={
            "gridcolor": GRID_COLOR,
            "zeroline": False,
            "tickfont": {"color": AXIS_COLOR},
            "title": {"font": {"color": AXIS_COLOR, "size": 12}},
            "automargin": True,
            "rangemode": "tozero",
        },
        legend={
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 1.02,
            "yanchor": "bottom",
            "font": {"size": 12},
            "bgcolor": "rgba(0,0,0,0)",
        },
        margin={"l": 48, "r": 16, "t": 36, "b": 40, "pad": 2},
        hovermode="x unified",
        bargap=0.25,
        separators=".\u202f",  # 12 345.6, as the cards and tables write numbers
    )
)


PERCENT = "\u00a0%"  # "49,7 %": a rate, as the cards and tables write it


def _separators() -> str:
    """Plotly's decimal mark and thousands separator in the interface's language."""
    return ",\u202f" if current_language() == "fr" else ".\u202f"


def _hover_line(label: str, value: str) -> str:
    """A hover line "label: value" ("label : value" in French), value a Plotly %{…} field."""
    return _("%(label)s: %(value)s", label=label, value=value) + "<extra></extra>"


def _color_for(label: str, index: int) -> str:
    return STATUS_COLORS.get(str(label).strip().lower(), PALETTE[index % len(PALETTE)])


def make_donut_figure(
    labels: Sequence[str],
    values: Sequence[float],
    center_text: str,
    colors: Sequence[str] | None = None,
) -> go.Figure:
    """A donut of `values` by `labels` (in the given order), `center_text` in the hole.

    Without `colors`, statuses (completed, passed, in progress, not started, failed, expired)
    take their status colour and other labels the palette.
    """
    labels = [str(label) for label in labels]
    values = list(values)
    total = sum(values)
    # Each slice's share in %, written as the interface writes rates ("4,6 %"): Plotly's own
    # %{percent:.1%} has no space before its "%".
    shares = [100.0 * value / total if total else 0.0 for value in values]
    if colors is None:
        colors = [_color_for(label, i) for i, label in enumerate(labels)]
    pie = go.Pie(
        _validate=False,
        labels=labels,
        values=values,
        hole=0.64,
        sort=False,
        direction="clockwise",
        rotation=0,
        marker={"colors": list(colors), "line": {"color": "#ffffff", "width": 2}},
        textinfo="none",
        customdata=shares,
        hovertemplate="<b>%{label}</b><br>%{value:,} (%{customdata:.1f}\u00a0%)<extra></extra>",
        showlegend=True,
        # The hole's centre is the pie's centre (the pie's domain, left of the legend).
        domain={"x": [0, 1], "y": [0, 1]},
    )
    layout = {
        "template": TEMPLATE,
        "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
        "legend": {
            "orientation": "v",
            "x": 1.0,
            "xanchor": "left",
            "y": 0.5,
            "yanchor": "middle",
            "traceorder": "normal",
        },
        "hovermode": "closest",
        "separators": _separators(),
        "annotations": [
            {
                "text": center_text,
                "x": 0.5,
                "y": 0.5,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "font": {"size": 20, "color": "#111827"},
            }
        ],
    }
    fig = go.Figure(data=[pie], layout=layout, _validate=False)
    return fig


def _is_integral(series: pd.Series) -> bool:
    values = pd.to_numeric(series, errors="coerce").dropna()
    return bool(len(values)) and bool((values == values.round()).all())


def _x_axis(x_values: pd.Series, bucket: str) -> dict:
    axis: dict = {
        "type": "date",
        "tickformat": _(BUCKET_TICK_FORMAT[bucket]),
        "title": {"text": _(BUCKET_AXIS_TITLE[bucket])},
    }
    count = int(x_values.nunique())
    if count == 0:
        return axis
    if pd.Timestamp(x_values.min()).year != pd.Timestamp(x_values.max()).year:
        axis["tickformat"] = _(BUCKET_TICK_FORMAT_WITH_YEAR[bucket])
    step = max(1, math.ceil(count / MAX_X_TICKS[bucket]))
    first = pd.Timestamp(x_values.min())
    if bucket == "day":
        axis.update(tick0=first.strftime("%Y-%m-%d"), dtick=step * DAY_MS)
    elif bucket == "week":
        monday = first - pd.Timedelta(days=first.weekday())
        axis.update(tick0=monday.strftime("%Y-%m-%d"), dtick=7 * step * DAY_MS)
    else:
        axis.update(tick0=first.replace(day=1).strftime("%Y-%m-%d"), dtick=f"M{step}")
    if count == 1:
        # A single bucket: keep some room either side so the bar or point is not a sliver.
        half = {"day": 1, "week": 4, "month": 16}[bucket]
        axis["range"] = [
            (first - pd.Timedelta(days=half)).strftime("%Y-%m-%d"),
            (first + pd.Timedelta(days=half)).strftime("%Y-%m-%d"),
        ]
    return axis


def make_timeseries_figure(
    df: pd.DataFrame,
    x: str,
    ys: Sequence[tuple[str, str]],
    kind: str = "line",
    y_suffix: str = "",
    bucket: str = "day",
    secondary: tuple[str, str] | None = None,
) -> go.Figure:
    """One trace per (column, label) of `ys` over the dates in column `x` (one row per bucket).


    kind "line" or "bar" (bars are grouped); `y_suffix` ("%" or " %" for rates, which also fixes
    the axis to 0–100); `bucket` ("day", "week", "month") formats the x axis and the hover;
    `secondary` (column, label) is drawn as a line on a right-hand axis in % (e.g. the cumulative
    completion rate over a completions bar chart).
    """
    if kind not in ("line", "bar"):
        raise ValueError(f"kind must be 'line' or 'bar', not {kind!r}")
    if bucket not in BUCKET_TICK_FORMAT:
        raise ValueError(f"bucket must be 'day', 'week' or 'month', not {bucket!r}")
    x_values = pd.to_datetime(df[x]) if len(df) else pd.Series([], dtype="datetime64[ns]")
    hover_x = _(BUCKET_HOVER_FORMAT[bucket])
    # Bars as wide as most of their bucket, whatever the number of buckets (one is not a sliver).
    bar_width = 0.8 * {"day": 1, "week": 7, "month": 30}[bucket] * DAY_MS / max(1, len(ys))
    traces: list = []
    many_points = len(df) > 40
    for i, (column, label) in enumerate(ys):
        values = df[column].tolist()
        number = ",.0f" if _is_integral(df[column]) else ",.1f"
        hover = _hover_line(label, f"%{{y:{number}}}{y_suffix}")
        color = PALETTE[i % len(PALETTE)]
        if kind == "bar":
            traces.append(
                go.Bar(
                    _validate=False,
                    x=x_values,
                    y=values,
                    name=label,
                    marker={"color": color},
                    hovertemplate=hover,
                    width=[bar_width] * len(values),
                )
            )
        else:
            traces.append(
                go.Scatter(
                    _validate=False,
                    x=x_values,
                    y=values,
                    name=label,
                    mode="lines" if many_points else "lines+markers",
                    line={"color": color, "width": 2},
                    marker={"size": 5},
                    hovertemplate=hover,
                )
            )
    if secondary is not None:
        column, label = secondary
        traces.append(
            go.Scatter(
                _validate=False,
                x=x_values,
                y=df[column].tolist(),
                name=label,
                yaxis="y2",
                mode="lines" if many_points else "lines+markers",
                line={"color": SECONDARY_COLOR, "width": 2, "dash": "dot"},
                marker={"size": 5},
                hovertemplate=_hover_line(label, "%{y:.1f}" + PERCENT),
            )
        )
    y_axis: dict = {"ticksuffix": y_suffix}
    if len(ys) == 1:
        y_axis["title"] = {"text": ys[0][1]}
    if y_suffix.strip() == "%":
        y_axis.update(range=[0, 100.5], dtick=20)
    elif all(_is_integral(df[c]) for c, _ in ys) and len(df):
        top = max((pd.to_numeric(df[c], errors="coerce").max() for c, _ in ys), default=0)
        if not (top > 5):  # small counts: whole-number ticks only (no 0.5 learners)
            y_axis.update(dtick=1, range=[0, max(top, 1) * 1.1])
    # One layout, given whole to the figure: update_layout's path parsing costs more than the
    # rest of the figure (the builders run on every page request).
    layout: dict = {
        "template": TEMPLATE,
        "xaxis": {**_x_axis(x_values, bucket), "hoverformat": hover_x},
        "yaxis": y_axis,
        "showlegend": len(ys) > 1 or secondary is not None,
        "barmode": "group",
        # Decimal mark and thousands separator of the interface's language.
        "separators": _separators(),
    }
    if secondary is not None:
        layout.update(
            yaxis2={
                "overlaying": "y",
                "side": "right",
                "range": [0, 100.5],
                "dtick": 20,
                "ticksuffix": PERCENT,
                "showgrid": False,
                "zeroline": False,
                "title": {"text": secondary[1], "font": {"color": AXIS_COLOR, "size": 12}},
                "tickfont": {"color": AXIS_COLOR},
                "automargin": True,
            },
            margin={"r": 56},
        )
    fig = go.Figure(data=traces, layout=layout, _validate=False)
    return fig
