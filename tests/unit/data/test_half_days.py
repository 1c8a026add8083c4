"""SPEC §10's half-day split (data/half_days.py), against values computed by hand.

Europe/Paris is UTC+1 in winter, UTC+2 in summer; in 2026 the clocks go forward on 29 March
at 02:00 (01:00 UTC) and back on 25 October at 03:00 (01:00 UTC).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from data.half_days import AFTERNOON, MORNING, HalfDay, half_day_totals, split_half_days

PARIS = ZoneInfo("Europe/Paris")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def minutes(parts) -> list[tuple[date, str, float]]:
    return [(p.day, p.half, p.seconds / 60) for p in parts]


def test_hd001_across_13_00_is_split_there():
    # 12:40 -> 13:25 Paris (winter) = 11:40 -> 12:25 UTC: 20 min in the morning, 25 after.
    parts = split_half_days(utc("2026-02-10 11:40"), utc("2026-02-10 12:25"), PARIS)
    assert minutes(parts) == [(date(2026, 2, 10), MORNING, 20), (date(2026, 2, 10), AFTERNOON, 25)]
    assert parts[0].end == parts[1].start == utc("2026-02-10 12:00")  # 13:00 Paris


def test_hd002_across_midnight_is_split_there():
    # 23:50 -> 00:35 Paris = 22:50 -> 23:35 UTC: 10 min on the 10th's afternoon, 35 on the 11th's morning.
    parts = split_half_days(utc("2026-02-10 22:50"), utc("2026-02-10 23:35"), PARIS)
    assert minutes(parts) == [(date(2026, 2, 10), AFTERNOON, 10), (date(2026, 2, 11), MORNING, 35)]


def test_hd003_spring_change_counts_as_it_happened():
    # 01:30 CET -> 03:30 CEST on 29 March: two hours on the clock, one hour lived (00:30 -> 01:30 UTC).
    parts = split_half_days(utc("2026-03-29 00:30"), utc("2026-03-29 01:30"), PARIS)
    assert minutes(parts) == [(date(2026, 3, 29), MORNING, 60)]
    # 23:00 CET on the 28th -> 04:00 CEST on the 29th (22:00 -> 02:00 UTC): 1 h, then 3 h (not 4).
    parts = split_half_days(utc("2026-03-28 22:00"), utc("2026-03-29 02:00"), PARIS)
    assert minutes(parts) == [(date(2026, 3, 28), AFTERNOON, 60), (date(2026, 3, 29), MORNING, 180)]


def test_hd004_autumn_change_across_midnight():
    # 23:00 CEST on 24 October -> 04:00 CET on the 25th (21:00 -> 03:00 UTC): six hours lived;
    # midnight is 22:00 UTC (still summer time): 1 h on the 24th, 5 h (not 4) on the 25th's morning.
    parts = split_half_days(utc("2026-10-24 21:00"), utc("2026-10-25 03:00"), PARIS)
    assert minutes(parts) == [(date(2026, 10, 24), AFTERNOON, 60), (date(2026, 10, 25), MORNING, 300)]
    assert parts[0].end == utc("2026-10-24 22:00")
    # 13:00 on the 25th is 12:00 UTC (winter time again).
    parts = split_half_days(utc("2026-10-25 11:30"), utc("2026-10-25 12:30"), PARIS)
    assert minutes(parts) == [(date(2026, 10, 25), MORNING, 30), (date(2026, 10, 25), AFTERNOON, 30)]


def test_hd005_a_long_connection_over_several_half_days():
    # 12:00 on the 10th -> 14:00 on the 11th (Paris, winter): 1 h, 11 h, 13 h, 1 h.
    parts = split_half_days(utc("2026-02-10 11:00"), utc("2026-02-11 13:00"), PARIS)
    assert minutes(parts) == [
        (date(2026, 2, 10), MORNING, 60),
        (date(2026, 2, 10), AFTERNOON, 660),
        (date(2026, 2, 11), MORNING, 780),
        (date(2026, 2, 11), AFTERNOON, 60),
    ]
    assert sum(p.seconds for p in parts) == 26 * 3600  # 11:00 UTC -> 13:00 UTC next day


def test_hd006_edges_zero_length_and_ending_at_13_00():
    # Ends at 13:00 exactly: all in the morning, no empty afternoon part.
    assert minutes(split_half_days(utc("2026-02-10 11:00"), utc("2026-02-10 12:00"), PARIS)) == [
        (date(2026, 2, 10), MORNING, 60)
    ]
    # Starts at 13:00 exactly: the afternoon.
    assert minutes(split_half_days(utc("2026-02-10 12:00"), utc("2026-02-10 12:05"), PARIS)) == [
        (date(2026, 2, 10), AFTERNOON, 5)
    ]
    # Zero length (proves presence): one part of 0 s; reversed: nothing.
    assert minutes(split_half_days(utc("2026-02-10 08:00"), utc("2026-02-10 08:00"), PARIS)) == [
        (date(2026, 2, 10), MORNING, 0)
    ]
    assert split_half_days(utc("2026-02-10 09:00"), utc("2026-02-10 08:00"), PARIS) == []


def test_hd007_totals_per_half_day():
    spans = [
        (utc("2026-02-10 08:00"), utc("2026-02-10 08:30")),  # 09:00-09:30 Paris
        (utc("2026-02-10 08:15"), utc("2026-02-10 09:00")),  # 09:15-10:00, overlapping: counted too
        (utc("2026-02-10 11:40"), utc("2026-02-10 12:25")),  # 12:40-13:25: split
        (utc("2026-02-09 16:00"), utc("2026-02-09 16:00:40")),  # the day before, 40 s
    ]
    assert half_day_totals(spans, PARIS) == [
        HalfDay(date(2026, 2, 9), AFTERNOON, utc("2026-02-09 16:00"), utc("2026-02-09 16:00:40"), 40),
        HalfDay(
            date(2026, 2, 10), MORNING, utc("2026-02-10 08:00"), utc("2026-02-10 12:00"), (30 + 45 + 20) * 60
        ),
        HalfDay(date(2026, 2, 10), AFTERNOON, utc("2026-02-10 12:00"), utc("2026-02-10 12:25"), 25 * 60),
    ]


def test_hd008_other_zone_and_utc():
    utc_zone = ZoneInfo("UTC")
    assert minutes(split_half_days(utc("2026-02-10 12:30"), utc("2026-02-10 13:30"), utc_zone)) == [
        (date(2026, 2, 10), MORNING, 30),
        (date(2026, 2, 10), AFTERNOON, 30),
    ]
    # America/Sao_Paulo has no daylight saving now (UTC-3): 13:00 there is 16:00 UTC.
    sao = ZoneInfo("America/Sao_Paulo")
    assert minutes(split_half_days(utc("2026-02-10 15:00"), utc("2026-02-10 17:00"), sao)) == [
        (date(2026, 2, 10), MORNING, 60),
        (date(2026, 2, 10), AFTERNOON, 60),
    ]
