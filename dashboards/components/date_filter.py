"""The date-range filter of every page (SPEC §4 last bullets, §5): presets, parsing of the
query arguments, the preset <-> dates synchronisation and the filter bar.

Ids (page = the page's id prefix, e.g. "global", "training"):
    {"type": "date-preset", "page": page}          dbc.Select, value = preset
    {"type": "date-range", "page": page}           dcc.DatePickerRange (start_date / end_date, ISO)
    {"type": "date-range-message", "page": page}   message (children)
    {"type": "date-range-bounds", "page": page}    dcc.Store {"all_time_start"}
    {"type": "date-range-url", "page": page}       dcc.Store (query string)
    {"type": "date-range-print", "page": page}     the period as printed (shown in print only)
The calendar speaks the interface's language: assets/lsDatePicker.js gives it the date-fns locale
of <html lang> and the translated aria-labels of dashboards.components.texts.component_labels().
Its callbacks are registered once per app by dashboards.components.register_component_callbacks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html, no_update

from auth.language import N_
from auth.language import gettext as _
from data.config import settings_if_any
from data.figures.days import FIRST_DAY, LAST_DAY, supported_day

PRESETS: dict[str, str] = {
    "last_7_days": N_("Last 7 days"),
    "last_30_days": N_("Last 30 days"),
    "last_90_days": N_("Last 90 days"),
    "this_month": N_("This month"),
    "this_year": N_("This year"),
    "all_time": N_("All time"),
    "custom": N_("Custom range"),
}
DEFAULT_PRESET = "last_30_days"
DEFAULT_ALL_TIME_START = date(2000, 1, 1)
EMPTY_RANGE_MESSAGE = N_("Choose a start date and an end date.")

# The aria-labels Dash 4 writes in English in its JavaScript: the date pickers' buttons and the
# steppers of the number input where the calendar's year is typed (dcc.Input). The layout carries
# their translations (dashboards/components/texts.py) and assets/lsDatePicker.js puts them in their place.
COMPONENT_LABELS = (
    N_("Previous month"),
    N_("Next month"),
    N_("Close calendar"),
    N_("Clear Dates"),
    N_("Clear date"),
    N_("Increase value"),
    N_("Decrease value"),
)


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of days in the platform time zone, and the preset that made it."""

    start: date
    end: date
    preset: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def to_query(self) -> dict[str, str]:
        """The query arguments that give this range back through parse_date_range."""
        if self.preset == "custom":
            return {"start": self.start.isoformat(), "end": self.end.isoformat()}
        return {"range": self.preset}


def previous_period(rng: DateRange) -> tuple[date, date]:
    """The period of the same length just before the range (SPEC §9): (first, last day)."""
    length = (rng.end - rng.start).days + 1
    return rng.start - timedelta(days=length), rng.start - timedelta(days=1)


def preset_range(
    preset: str, today: date, all_time_start: date | None = None, all_time_end: date | None = None
) -> DateRange:
    """The range a preset means on `today` ("last 7 days" = today-6 .. today). "All time" ends
    today, or on `all_time_end` when that is later (the sessions page: sessions planned after
    today are listed, so the range shown must cover them)."""
    if preset == "last_7_days":
        start = today - timedelta(days=6)
    elif preset == "last_30_days":
        start = today - timedelta(days=29)
    elif preset == "last_90_days":
        start = today - timedelta(days=89)
    elif preset == "this_month":
        start = today.replace(day=1)
    elif preset == "this_year":
        start = today.replace(month=1, day=1)
    elif preset == "all_time":
        start = min(all_time_start or DEFAULT_ALL_TIME_START, today)
    else:
        raise ValueError(f"unknown date range preset {preset!r}")
    if preset == "all_time" and all_time_end is not None and all_time_end > today:
        return DateRange(start, all_time_end, preset)
    return DateRange(start, today, preset)


def default_range(today: date) -> DateRange:
    return preset_range(DEFAULT_PRESET, today)


def parse_iso_day(text) -> date | None:
    """'2026-05-01' (a datetime's date part is accepted too) -> date; anything else, and a day
    outside FIRST_DAY..LAST_DAY (1900-2100), -> None."""
    if isinstance(text, datetime):
        day = text.date()
    elif isinstance(text, date):
        day = text
    elif not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ].*)?", text.strip()):
        return None
    else:
        try:
            day = date.fromisoformat(text.strip()[:10])
        except ValueError:
            return None
    return day if supported_day(day) else None


def _out_of_bounds(text) -> bool:
    """A well-formed date outside FIRST_DAY..LAST_DAY (as opposed to no date at all)."""
    try:
        day = date.fromisoformat(str(text).strip()[:10])
    except ValueError:
        return False
    return not supported_day(day)


def out_of_years_message(text) -> str:
    return _(
        "The date “%(text)s” is outside the years %(first)d–%(last)d.",
        text=str(text).strip()[:10],
        first=FIRST_DAY.year,
        last=LAST_DAY.year,
    )


def _single(value):
    """Dash pages pass a repeated query argument as a list: keep the last one."""
    if isinstance(value, (list, tuple)):
        return value[-1] if value else None
    return value


MAX_RANGE_YEARS = 50


def too_long_message(start: date, end: date) -> str | None:
    """A sentence when the range spans more than MAX_RANGE_YEARS years (nothing to chart there)."""
    if (end - start).days > MAX_RANGE_YEARS * 366:
        return _(
            "The range %(start)s – %(end)s is longer than %(years)d years; choose a shorter one.",
            start=_picker_day(start),
            end=_picker_day(end),
            years=MAX_RANGE_YEARS,
        )
    return None


def _picker_day(day: date) -> str:
    """A day as the picker shows it and the user types it (DD/MM/YYYY), not ISO (issue 21)."""
    return f"{day:%d/%m/%Y}"


def reversed_message(start: date, end: date) -> str:
    return _(
        "The start date %(start)s is after the end date %(end)s.",
        start=_picker_day(start),
        end=_picker_day(end),
    )


def parse_date_range(
    args: dict, today: date, all_time_start: date | None = None, all_time_end: date | None = None
) -> tuple[DateRange, str | None]:
    """The range asked by a page's query arguments, and a message when they could not be used.

    `?range=<preset>` (see PRESETS) or `?start=YYYY-MM-DD&end=YYYY-MM-DD` (preset "custom");
    nothing -> the last 30 days. A reversed range, a bad date or an unknown preset gives the
    default range and a sentence saying what was wrong.
    """
    args = args or {}
    preset = _single(args.get("range"))
    start_text, end_text = _single(args.get("start")), _single(args.get("end"))
    fallback = default_range(today)
    if preset not in (None, "", "custom"):
        if preset not in PRESETS:
            return fallback, _("Unknown date range “%(preset)s”: showing the last 30 days.", preset=preset)
        return preset_range(preset, today, all_time_start, all_time_end), None
    if start_text in (None, "") and end_text in (None, ""):
        if preset == "custom":
            return fallback, _("A custom date range needs a start and an end date: showing the last 30 days.")
        return fallback, None
    for name, text in (("start", start_text), ("end", end_text)):
        if text in (None, ""):
            return fallback, (
                _("The start date is missing: showing the last 30 days.")
                if name == "start"
                else _("The end date is missing: showing the last 30 days.")
            )
        if parse_iso_day(text) is None and _out_of_bounds(text):
            return fallback, out_of_years_message(text) + " " + _("Showing the last 30 days.")
        if parse_iso_day(text) is None:
            return (
                fallback,
                (
                    _(
                        "The start date “%(text)s” is not a valid date (expected YYYY-MM-DD): showing the last 30 days.",
                        text=text,
                    )
                    if name == "start"
                    else _(
                        "The end date “%(text)s” is not a valid date (expected YYYY-MM-DD): showing the last 30 days.",
                        text=text,
                    )
                ),
            )
    start, end = parse_iso_day(start_text), parse_iso_day(end_text)
    if start > end:
        return fallback, reversed_message(start, end) + " " + _("Showing the last 30 days.")
    too_long = too_long_message(start, end)
    if too_long:
        return fallback, too_long + " " + _("Showing the last 30 days.")
    return DateRange(start, end, "custom"), None


def range_from_inputs(
    preset: str | None, start, end, today: date | None = None
) -> tuple[DateRange | None, str | None]:
    """The validated range from the filter's values (preset, start_date, end_date), for page
    callbacks: (range, None), or (None, message) when a date is missing, invalid or reversed."""
    start_day, end_day = parse_iso_day(start), parse_iso_day(end)
    for text in (start, end):
        if _out_of_bounds(text):
            return None, out_of_years_message(text)
    if start_day is None or end_day is None:
        return None, _(EMPTY_RANGE_MESSAGE)
    if start_day > end_day:
        return None, reversed_message(start_day, end_day)
    too_long = too_long_message(start_day, end_day)
    if too_long:
        return None, too_long
    label = preset if preset in PRESETS else "custom"
    if label != "custom":
        # The dates were edited by hand to something the preset does not mean: custom.
        today = today or platform_today()
        try:
            every = label == "all_time"  # its start is the data's first day, its end today or later
            expected = preset_range(label, today, start_day if every else None, end_day if every else None)
        except ValueError:
            expected = None
        if expected is None or (expected.start, expected.end) != (start_day, end_day):
            label = "custom"
    return DateRange(start_day, end_day, label), None


def platform_today() -> date:
    """Today in the platform time zone (the app's settings; Europe/Paris outside an app)."""
    settings = settings_if_any()
    return datetime.now(settings.tz if settings is not None else ZoneInfo("Europe/Paris")).date()


def _bounds_start(bounds) -> date | None:
    if isinstance(bounds, dict):
        return parse_iso_day(bounds.get("all_time_start"))
    return None


def _bounds_end(bounds) -> date | None:
    if isinstance(bounds, dict) and bounds.get("all_time_end"):
        return parse_iso_day(bounds.get("all_time_end"))
    return None


def dates_for_preset(preset: str | None, bounds: dict | None = None, today: date | None = None):
    """Callback logic, preset -> dates: (start_date, end_date, message) for the picker.

    "custom" (or nothing) leaves the dates as they are (no_update)."""
    if not preset or preset == "custom" or preset not in PRESETS:
        return no_update, no_update, no_update
    rng = preset_range(preset, today or platform_today(), _bounds_start(bounds), _bounds_end(bounds))
    return rng.start.isoformat(), rng.end.isoformat(), None


def preset_for_dates(start, end, preset: str | None, bounds: dict | None = None, today: date | None = None):
    """Callback logic, dates -> preset: (preset, message).

    Dates that still match the current preset keep it (a preset just set them); other dates
    make it "custom". A missing or reversed range shows its message and leaves the preset."""
    start_day, end_day = parse_iso_day(start), parse_iso_day(end)
    if start_day is None or end_day is None:
        return no_update, _(EMPTY_RANGE_MESSAGE)
    if start_day > end_day:
        return no_update, reversed_message(start_day, end_day)
    if preset and preset != "custom" and preset in PRESETS:
        expected = preset_range(preset, today or platform_today(), _bounds_start(bounds), _bounds_end(bounds))
        if (expected.start, expected.end) == (start_day, end_day):
            return no_update, None
    return ("custom" if preset != "custom" else no_update), None


def sync_date_range(preset, start, end, bounds):
    """The filter's callback: a preset choice sets the dates; a date edit sets the preset to
    custom; a missing or reversed range shows a message. Outputs (preset, start, end, message)."""
    trigger = dash.ctx.triggered_id
    if isinstance(trigger, dict) and trigger.get("type") == "date-preset":
        new_start, new_end, message = dates_for_preset(preset, bounds)
        return no_update, new_start, new_end, message
    new_preset, message = preset_for_dates(start, end, preset, bounds)
    return new_preset, no_update, no_update, message


# Keeps ?range= or ?start=&end= in the address without reloading the page (other args kept).
SYNC_URL_JS = """
function (preset, start, end) {
    var noUpdate = window.dash_clientside.no_update;
    var day = function (v) { return v ? String(v).slice(0, 10) : null; };
    var s = day(start), e = day(end);
    var params = new URLSearchParams(window.location.search);
    if (!preset || preset === "custom") {
        if (!s || !e || s > e) { return noUpdate; }
        params.delete("range");
        params.set("start", s);
        params.set("end", e);
    } else {
        params.set("range", preset);
        params.delete("start");
        params.delete("end");
    }
    var query = params.toString();
    var url = window.location.pathname + (query ? "?" + query : "") + window.location.hash;
    if (url !== window.location.pathname + window.location.search + window.location.hash) {
        window.history.replaceState(window.history.state, "", url);
    }
    return query;
}
"""


# The printed page's period line (shown only in print, assets/learnstats.css): the picker's
# dates as DD/MM/YYYY, following every change of the filter.
PRINT_PERIOD_JS = """
function (start, end) {
    var day = function (v) {
        var m = v ? String(v).slice(0, 10).match(/^(\\d{4})-(\\d{2})-(\\d{2})$/) : null;
        return m ? m[3] + "/" + m[2] + "/" + m[1] : "";
    };
    return day(start) + " \u2013 " + day(end);
}
"""


def print_period_text(rng: DateRange) -> str:
    """The period as the printed page's header says it: 08/11/2026 – 07/12/2026."""
    return f"{rng.start:%d/%m/%Y} \u2013 {rng.end:%d/%m/%Y}"


def dom_id(component_id: str | dict) -> str:
    """The id attribute Dash gives a component in the page (a dict id becomes its JSON, keys
    sorted), e.g. for a label's htmlFor or an aria-controls."""
    if not isinstance(component_id, dict):
        return component_id
    parts = (
        json.dumps(k, ensure_ascii=False) + ":" + json.dumps(v, ensure_ascii=False)
        for k, v in sorted(component_id.items())
    )
    return "{" + ",".join(parts) + "}"


def build_date_range_filter(
    page: str,
    rng: DateRange,
    all_time_start: date | None = None,
    message: str | None = None,
    extra: Sequence | None = None,
    all_time_end: date | None = None,
) -> html.Div:
    """The filter bar: preset select, date-range picker (DD/MM/YYYY, weeks start Monday), and
    a message area (`message`, e.g. parse_date_range's, shown at first). `extra` components
    (e.g. a class filter) are placed at the end of the bar."""
    bounds = {"all_time_start": (all_time_start or DEFAULT_ALL_TIME_START).isoformat()}
    if all_time_end is not None:
        bounds["all_time_end"] = all_time_end.isoformat()  # "All time" ends there when after today
    return html.Div(
        [
            html.Div(
                [
                    html.Label(
                        _("Period"),
                        className="ls-filter-label",
                        htmlFor=dom_id({"type": "date-preset", "page": page}),
                    ),
                    dbc.Select(
                        id={"type": "date-preset", "page": page},
                        options=[{"label": _(label), "value": value} for value, label in PRESETS.items()],
                        value=rng.preset if rng.preset in PRESETS else "custom",
                        className="ls-date-preset",
                        size="sm",
                    ),
                    dcc.DatePickerRange(
                        id={"type": "date-range", "page": page},
                        start_date=rng.start.isoformat(),
                        end_date=rng.end.isoformat(),
                        display_format="DD/MM/YYYY",
                        first_day_of_week=1,
                        minimum_nights=0,
                        min_date_allowed=FIRST_DAY.isoformat(),
                        max_date_allowed=LAST_DAY.isoformat(),
                        clearable=False,
                        start_date_placeholder_text=_("Start date"),
                        end_date_placeholder_text=_("End date"),
                        className="ls-date-range",
                    ),
                    *(extra or []),
                ],
                className="ls-filter-controls",
            ),
            html.Div(
                message,
                id={"type": "date-range-message", "page": page},
                className="ls-filter-message",
                role="status",
            ),
            html.P(
                [
                    html.Span(_("Period"), className="ls-filter-label me-2"),
                    html.Span(print_period_text(rng), id={"type": "date-range-print", "page": page}),
                ],
                className="ls-print-only ls-print-period mb-0",
            ),
            dcc.Store(id={"type": "date-range-bounds", "page": page}, data=bounds),
            dcc.Store(id={"type": "date-range-url", "page": page}),
        ],
        className="ls-filter-bar",
        id=f"{page}-filter-bar",
    )
