"""Connections by half-day (SPEC §10): the one place where a connection is cut into half-days.

The relevé individuel d'activité (exports/activity_records.py) and the feuille d'émargement
(exports/attendance.py) both read their half-days from here.

- A half-day is a local day of the platform time zone and "morning" (before 13:00) or
  "afternoon" (13:00 to midnight).
- A connection across 13:00 or midnight is split there (`split_half_days`); each part keeps its
  real length in UTC, so a daylight-saving change inside it counts as it happened (the night of
  the spring change has one hour less, the autumn one an hour more).
- A connection of zero length (one xAPI statement, SPEC §8: it proves presence) is one part of
  zero seconds in the half-day it lies in.
- `half_day_totals` adds the parts of many connections up per half-day: first connection, last
  disconnection, time connected (the exact sum: overlapping connections count each, as SPEC
  §4's time spent does).

Pure functions of plain values: stored moments are naive UTC, as in the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

MORNING, AFTERNOON = "morning", "afternoon"
HALVES = (MORNING, AFTERNOON)
NOON_SPLIT = time(13, 0)  # SPEC §10: the morning ends at 13:00 platform time


@dataclass(frozen=True, order=True)
class HalfDayPart:
    """The part of one connection inside one half-day; start and end naive UTC."""

    day: date  # local day
    half: str  # MORNING or AFTERNOON
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class HalfDay:
    """One learner's connections in one half-day: first connection, last disconnection (naive
    UTC, the parts' own: a part that begins at a split begins at 13:00 or midnight) and the
    exact time connected, in seconds."""

    day: date
    half: str
    first: datetime
    last: datetime
    seconds: float

    @property
    def key(self) -> tuple[date, int]:
        """Its place in time: (day, 0 for the morning, 1 for the afternoon)."""
        return (self.day, HALVES.index(self.half))


def _utc(local_day: date, at: time, tz: tzinfo) -> datetime:
    """A local wall time of the platform zone as naive UTC (a time skipped by a change of
    hour reads with the offset before it, as zoneinfo does)."""
    return datetime.combine(local_day, at, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def _local(moment: datetime, tz: tzinfo) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(tz)


def split_half_days(connected_at: datetime, disconnected_at: datetime, tz: tzinfo) -> list[HalfDayPart]:
    """One connection (naive UTC) cut at 13:00 and at midnight of the platform zone tz, in time
    order. A disconnection before the connection (the importer refuses it) gives nothing."""
    if disconnected_at < connected_at:
        return []
    parts: list[HalfDayPart] = []
    current = connected_at
    while True:
        local = _local(current, tz)
        day = local.date()
        if local.time() < NOON_SPLIT:
            half, boundary = MORNING, _utc(day, NOON_SPLIT, tz)
        else:
            half, boundary = AFTERNOON, _utc(day + timedelta(days=1), time(0), tz)
        if boundary <= current:  # a zone whose midnight or 13:00 does not exist that day
            boundary = current + timedelta(minutes=1)
        end = min(boundary, disconnected_at)
        parts.append(HalfDayPart(day, half, current, end))
        if end >= disconnected_at:
            return parts
        current = end


def half_day_totals(spans: Iterable[tuple[datetime, datetime]], tz: tzinfo) -> list[HalfDay]:
    """Connections (connected, disconnected; naive UTC) added up per half-day, in time order."""
    found: dict[tuple[date, str], list] = {}
    for connected_at, disconnected_at in spans:
        for part in split_half_days(connected_at, disconnected_at, tz):
            entry = found.get((part.day, part.half))
            if entry is None:
                found[(part.day, part.half)] = [part.start, part.end, part.seconds]
            else:
                entry[0] = min(entry[0], part.start)
                entry[1] = max(entry[1], part.end)
                entry[2] += part.seconds
    days = [HalfDay(day, half, first, last, seconds) for (day, half), (first, last, seconds) in found.items()]
    return sorted(days, key=lambda h: h.key)


__all__ = ["AFTERNOON", "HALVES", "MORNING", "HalfDay", "HalfDayPart", "half_day_totals", "split_half_days"]
