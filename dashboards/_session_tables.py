"""Helpers shared by the sessions list and the session page (pages never import each other)."""

from __future__ import annotations

from datetime import datetime

# "YYYY-MM-DD HH:MM" (sorts as text) shown as DD/MM/YYYY HH:MM.
LOCAL_DATETIME_JS = (
    "params.value ? params.value.slice(8, 10) + '/' + params.value.slice(5, 7) + '/' + "
    "params.value.slice(0, 4) + ' ' + params.value.slice(11, 16) : '–'"
)


def local_text(value: datetime | None) -> str | None:
    """An aware local datetime as "YYYY-MM-DD HH:MM" (None stays None)."""
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else None


def datetime_column(field: str, header: str) -> dict:
    """A table column of local_text values, shown DD/MM/YYYY HH:MM and sorted in time order."""
    return {"field": field, "headerName": header, "valueFormatter": {"function": LOCAL_DATETIME_JS}}
