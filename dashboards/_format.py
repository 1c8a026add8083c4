"""Status badges and date-times on the pages (numbers and dates: dashboards/_components.py)."""

from __future__ import annotations

import dash_bootstrap_components as dbc

from dashboards._components import DASH, _missing, fmt_date, fmt_duration, fmt_int, fmt_pct

STATUS_COLORS = {
    "passed": "success",
    "failed": "danger",
    "expired": "warning",
    "in progress": "primary",
    "not started": "secondary",
    "awaiting grading": "info",
    "not answered": "light",
}


def fmt_datetime(value) -> str:
    """DD/MM/YYYY HH:MM of an aware or local datetime; – when unknown."""
    if _missing(value):
        return DASH
    return value.strftime("%d/%m/%Y %H:%M")


def status_badge(status: str) -> dbc.Badge:
    return dbc.Badge(
        status,
        color=STATUS_COLORS.get(status, "secondary"),
        text_color="dark" if status == "not answered" else None,
        className="ls-status",
        pill=True,
    )


__all__ = ["fmt_date", "fmt_datetime", "fmt_duration", "fmt_int", "fmt_pct", "status_badge"]
