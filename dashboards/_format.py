"""Status badges and date-times on the pages (numbers and dates: dashboards/_components.py)."""

from __future__ import annotations

import dash_bootstrap_components as dbc

from dashboards._components import DASH, _missing, fmt_date, fmt_duration, fmt_int, fmt_pct
from dashboards._figures import STATUS_COLORS as FIGURE_STATUS_COLORS

# Badges share the charts' status colours (dashboards/_figures.py); the answer states of the
# module summary have their own.
BADGE_COLORS = {
    **FIGURE_STATUS_COLORS,
    "awaiting grading": "#06b6d4",
    "not answered": "#e5e7eb",
}
DARK_TEXT = {"not started", "not answered", "in progress"}


def fmt_datetime(value) -> str:
    """DD/MM/YYYY HH:MM of an aware or local datetime; – when unknown."""
    if _missing(value):
        return DASH
    return value.strftime("%d/%m/%Y %H:%M")


def status_badge(status: str) -> dbc.Badge:
    """A status as a pill in the same colour as in the charts."""
    return dbc.Badge(
        status,
        color=BADGE_COLORS.get(status, "#9ca3af"),
        text_color="dark" if status in DARK_TEXT else None,
        className="ls-status",
        pill=True,
    )


__all__ = ["fmt_date", "fmt_datetime", "fmt_duration", "fmt_int", "fmt_pct", "status_badge"]
