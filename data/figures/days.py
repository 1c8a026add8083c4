"""Days, time zones and date-range buckets: every figure's notion of a local day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Integer,
    case,
    literal,
)

# --------------------------------------------------------------------------------------------
# Days and time zones
# --------------------------------------------------------------------------------------------


# The days a range, a filter or an export may name (issue 23): the date pickers accept year 1
# and year 9999, whose neighbouring days and time-zone conversions overflow (bare 500s).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2100, 12, 31)


def supported_day(day: date) -> bool:
    """FIRST_DAY <= day <= LAST_DAY."""
    return FIRST_DAY <= day <= LAST_DAY


def today_in(tz: ZoneInfo) -> date:
    return datetime.now(tz).date()


def day_start_utc(day: date, tz: ZoneInfo) -> datetime:
    """The naive UTC instant at which local day `day` starts in tz."""
    local = datetime.combine(day, time.min, tzinfo=tz)
    return local.astimezone(UTC).replace(tzinfo=None)


def day_end_utc(day: date, tz: ZoneInfo) -> datetime:
    """The naive UTC instant at which local day `day` ends (exclusive)."""
    return day_start_utc(day + timedelta(days=1), tz)


def to_local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A stored naive UTC datetime in the platform zone (None and pandas' NaT give None)."""
    if value is None or pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    return value.replace(tzinfo=UTC).astimezone(tz)


def local_date(value: datetime | None, tz: ZoneInfo) -> date | None:
    local = to_local(value, tz)
    return local.date() if local else None


@dataclass(frozen=True)
class Buckets:
    """Consecutive local periods: starts[i] <= day < starts[i+1] (ends is exclusive)."""

    unit: str  # day | week | month
    starts: tuple[date, ...]
    end: date  # exclusive

    @property
    def last_days(self) -> list[date]:
        """The last day of each bucket (the day a historical value is read at)."""
        bounds = [*self.starts[1:], self.end]
        return [b - timedelta(days=1) for b in bounds]


def choose_unit(start: date, end: date) -> str:
    """Day up to about three months, week up to about two years, month beyond."""
    days = (end - start).days + 1
    if days <= 92:
        return "day"
    if days <= 731:
        return "week"
    return "month"


def make_buckets(start: date, end: date, unit: str | None = None) -> Buckets:
    """Buckets covering [start, end] (inclusive local days); the first starts at `start`."""
    unit = unit or choose_unit(start, end)
    starts = [start]
    cursor = start
    while True:
        if unit == "day":
            cursor = cursor + timedelta(days=1)
        elif unit == "week":
            cursor = cursor + timedelta(days=7 - cursor.weekday())  # next Monday
        else:
            cursor = date(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1)
        if cursor > end:
            break
        starts.append(cursor)
    return Buckets(unit, tuple(starts), end + timedelta(days=1))


def _bucket_index(column: ColumnElement, bounds: list[datetime]) -> ColumnElement:
    """SQL for the index i with bounds[i] <= column < bounds[i+1]; -1 before, len-1 after.

    A balanced CASE tree over UTC bounds: portable, exact across daylight-saving changes.
    """

    def build(lo: int, hi: int) -> ColumnElement:
        # column is known to be >= bounds[lo] (or lo == -1) and < bounds[hi] (or hi == len).
        if hi - lo <= 1:
            return literal(lo, Integer)
        mid = (lo + hi) // 2
        return case((column < bounds[mid], build(lo, mid)), else_=build(mid, hi))

    return build(-1, len(bounds))


def _bucket_bounds(buckets: Buckets, tz: ZoneInfo) -> list[datetime]:
    return [day_start_utc(d, tz) for d in buckets.starts] + [day_start_utc(buckets.end, tz)]


# --------------------------------------------------------------------------------------------
# Population
def _bucket_frame(buckets: Buckets) -> pd.DataFrame:
    return pd.DataFrame({"bucket": list(buckets.starts), "last_day": buckets.last_days})


def _cumulative(rows, buckets: Buckets) -> list[float]:
    """Cumulative sums per bucket from (bucket index, value) rows; index -1 = before the range."""
    per = [0.0] * len(buckets.starts)
    before = 0.0
    for i, value in rows:
        if i is None or i < 0:
            before += value or 0
        elif i < len(per):
            per[i] += value or 0
    out, running = [], before
    for value in per:
        running += value
        out.append(running)
    return out
