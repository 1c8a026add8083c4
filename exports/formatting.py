"""Number and date formats shared by every export (CSV, XLSX, PDF)."""

from __future__ import annotations

import math
from datetime import date
from decimal import ROUND_HALF_UP, Decimal


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def one_decimal(value: float | None) -> str:
    """66.666… -> "66.7", 12.25 -> "12.3" (half up, as people round); None -> ""."""
    if _missing(value):
        return ""
    return str(Decimal(repr(float(value))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def whole_minutes(seconds: float | None) -> str:
    """Seconds rounded to the nearest whole minute (30 s rounds up); None -> "0"."""
    if _missing(seconds):
        return "0"
    return str(int(Decimal(repr(float(seconds) / 60)).quantize(Decimal("1"), rounding=ROUND_HALF_UP)))


def iso_date(value: date | None) -> str:
    if _missing(value):
        return ""
    return value.isoformat()
