"""Helpers shared by the sessions list and the session page (pages never import each other)."""

from __future__ import annotations

from datetime import datetime


def local_text(value: datetime | None) -> str | None:
    """An aware local datetime as "YYYY-MM-DD HH:MM" (None stays None): sorts as text."""
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else None


def datetime_column(field: str, header: str) -> tuple[str, str, str]:
    """A table column of local_text values, shown DD/MM/YYYY HH:MM (dashboards/components/grids.py's
    "datetime" kind), sorted in time order, a date cell in the XLSX download."""
    return (field, header, "datetime")
