"""Every number, date and duration format of Learnstats, for the pages and for the files.

One home: a change of format is made here. Pages (dashboards/) and files (exports/) both import
from this module; it imports neither. The grids format their cells in the browser with the
same rules (assets/dashAgGridFunctions.js mirrors the fmt_* functions below).

Screen formats (`fmt_*`): missing values are "–".
  fmt_int 12345 -> "12 345"          fmt_pct 66.666 -> "66.7 %"       fmt_score = fmt_pct
  fmt_duration 11100 s -> "3 h 05 min"                              fmt_date -> "24/11/2026"
  fmt_datetime -> "24/11/2026 14:05"  fmt_bucket (chart buckets)     format_value (by kind)
Machine formats (export-results, for programs): one_decimal, whole_minutes, iso_date.
OPCO formats (SPEC §7): format_local "DD/MM/YYYY HH:MM" in the platform zone, format_duration
"DD:HH:MM", hours_minutes "H h MM" (the PDF documents' durations outside the logs table).

`escape_cell` is the one place where SPEC §7's rule against spreadsheet formulas lives: every
CSV and XLSX writer (the OPCO logs, `export-results`, the pages' table downloads) passes each
text cell and header through it.
"""

from __future__ import annotations

import calendar
import contextlib
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import flask_babel
import pandas as pd
from babel.dates import format_date
from babel.support import Translations

DASH = "–"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"

# A cell starting with one of these is run as a formula (or as the start of one) by Excel,
# LibreOffice or Google Sheets: OWASP's list for CSV injection, as SPEC §7 gives it.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value):
    """SPEC §7: text that a spreadsheet would run as a formula gets a leading apostrophe.

    Only text is changed ("=1+1" -> "'=1+1", "-3 days" -> "'-3 days"); numbers, dates, None and
    any other value are returned as they are (a negative number written as a number cell is not
    a formula). Idempotent: an escaped text starts with "'" and is not escaped again.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def escape_row(row):
    """escape_cell over a row (a list is returned)."""
    return [escape_cell(value) for value in row]


THOUSANDS = "\u202f"  # narrow no-break space: 12 345


def missing(value) -> bool:
    """None, NaN, NaT (and pandas' NA) -> True."""
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


_missing = missing  # the name the pages used


def round_half_up(value: float, decimals: int) -> Decimal:
    """Half up, as people round (12.25 -> 12.3), safe from binary float noise."""
    quantum = Decimal(1).scaleb(-decimals)
    return Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP)


def _thousands(text: str) -> str:
    return text.replace(",", THOUSANDS)


# ---------------------------------------------------------------------------------------------
# Language
# ---------------------------------------------------------------------------------------------

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


_FORCED: ContextVar[str | None] = ContextVar("learnstats_language", default=None)


@contextmanager
def use_language(language: str) -> Iterator[None]:
    """Format and translate in this language inside the block, whatever the request says: a
    background job writing in its user's language, tests. Translations go through Flask-Babel's
    force_locale when an application with Flask-Babel is there (else gettext falls back to the
    English source texts)."""
    token = _FORCED.set(language)
    try:
        with _babel_locale(language):
            yield
    finally:
        _FORCED.reset(token)


def _babel_locale(language: str):
    from flask import current_app, has_app_context

    if has_app_context() and "babel" in current_app.extensions:
        return flask_babel.force_locale(language)
    return contextlib.nullcontext()


def current_language() -> str:
    """The language of the page, email or file being made: use_language's, else Flask-Babel's
    locale in a request (the user's choice, else the browser's, else LEARNSTATS_LANGUAGE:
    auth/language.py), else the default (fr)."""
    forced = _FORCED.get()
    if forced in LANGUAGES:
        return forced
    try:
        from flask import has_app_context
        from flask_babel import get_locale

        if has_app_context():
            locale = get_locale()
            if locale is not None and locale.language in LANGUAGES:
                return locale.language
    except (ImportError, RuntimeError, KeyError, AttributeError):
        pass
    return DEFAULT_LANGUAGE


def N_(text: str) -> str:
    """Marks a text for the catalogue where it is defined (pybabel's keyword N_); it is
    translated where it is shown, with gettext(text)."""
    return text


@functools.cache
def _catalogue(language: str) -> Translations:
    return Translations.load(str(TRANSLATIONS), [language])


def pgettext_in(language: str, context: str, text: str) -> str:
    """A text marked with NP_ in a given language, read with Babel itself (no Flask needed):
    the files whose language is their own option (attestations, the OPCO logs' titles), also
    made in worker processes."""
    return _catalogue(language).pgettext(context, text)


def gettext_in(language: str, text: str) -> str:
    """A text marked with N_ in a given language, read with Babel itself (see pgettext_in)."""
    return _catalogue(language).gettext(text)


# SPEC §4's statuses as the files write them, in the language in force (gettext).
STATUS_WORDS = {
    "passed": N_("passed"),
    "failed": N_("failed"),
    "expired": N_("expired"),
    "in progress": N_("in progress"),
    "not started": N_("not started"),
    "not enrolled": N_("not enrolled"),
}


def status_word(status: str) -> str:
    """A status in the language in force ("passed" -> "réussi"); other texts as they are."""
    return gettext(STATUS_WORDS[status]) if status in STATUS_WORDS else status


def NP_(context: str, text: str) -> str:
    """Marks a text with a context for the catalogue (pybabel keyword NP_:1c,2), e.g. the
    documents' wording (exports/attestations.py); translated where it is shown, with pgettext."""
    return text


def gettext(text: str, /, **variables) -> str:
    """flask_babel.gettext, and the English text where Flask-Babel is not set up (a Dash app
    built by hand in a test, a script)."""
    try:
        return flask_babel.gettext(text, **variables)
    except (KeyError, RuntimeError):  # no Flask-Babel, or no application context
        return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, /, **variables) -> str:
    try:
        return flask_babel.ngettext(singular, plural, num, **variables)
    except (KeyError, RuntimeError):
        variables.setdefault("num", num)
        return (singular if num == 1 else plural) % variables


def join_reasons(reasons) -> str:
    """Several reasons in one sentence: "a; b" ("a ; b" in French, with its space before the
    semicolon)."""
    return (" ; " if _french() else "; ").join(reasons)


def csv_dialect(language: str | None = None) -> tuple[str, str]:
    """(delimiter, decimal mark) of the CSV files made for people: ";" and "," in French (what
    a French spreadsheet expects), "," and "." in English."""
    if (language or current_language()) == "fr":
        return ";", ","
    return ",", "."


# ---------------------------------------------------------------------------------------------
# Screen formats
# ---------------------------------------------------------------------------------------------


def _french() -> bool:
    return current_language() == "fr"


def _decimal_mark(text: str) -> str:
    """English "1,234.5" -> the interface's: "1 234.5" (en), "1 234,5" (fr)."""
    text = _thousands(text)
    return text.replace(".", ",") if _french() else text


def fmt_int(value) -> str:
    """1234 -> '1 234' (narrow no-break space, both languages); None -> '–'."""
    if missing(value):
        return DASH
    return _thousands(f"{int(round_half_up(value, 0)):,}")


def fmt_points(value: float) -> str:
    """Points with as few digits as they need: 5, 7.5 (en), 7,5 (fr)."""
    return _decimal_mark(f"{value:g}")


def fmt_pct(value, decimals: int = 1) -> str:
    """66.666 -> '66.7 %' (en), '66,7 %' (fr) (value already in %, rounded half up); None -> '–'."""
    if missing(value):
        return DASH
    return _decimal_mark(f"{round_half_up(value, decimals):,.{decimals}f}") + "\u00a0%"


def fmt_score(value, decimals: int = 1) -> str:
    """A score out of 100: 72.45 -> '72.5 %'; None (no score) -> '–'."""
    return fmt_pct(value, decimals)


def fmt_duration(seconds) -> str:
    """Seconds to the nearest minute: 11100 -> '3 h 05 min', 2700 -> '45 min', None -> '–'."""
    if missing(seconds):
        return DASH
    minutes = int(round_half_up(max(float(seconds), 0.0) / 60, 0))
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _thousands(f"{hours:,}") + f" h {minutes:02d} min"
    return f"{minutes} min"


def _as_date(value) -> date:
    return pd.Timestamp(value).date()


def fmt_date(value) -> str:
    """A day: '24/11/2026' (en, as the picker shows it), '24 nov. 2026' (fr); None -> '–'."""
    if missing(value):
        return DASH
    day = _as_date(value)
    if _french():
        return format_date(day, "medium", locale="fr")
    return f"{day:%d/%m/%Y}"


def fmt_datetime(value) -> str:
    """A local moment: '24/11/2026 14:05' (en), '24 nov. 2026 14:05' (fr); – when unknown."""
    if missing(value):
        return DASH
    return f"{fmt_date(value)} {value:%H:%M}"


def fmt_bucket(day, bucket: str) -> str:
    """A chart bucket's name for tables: '24/11/2026', 'Week of 23/11/2026', 'November 2026'
    (fr: '24 nov. 2026', 'Semaine du 23 nov. 2026', 'novembre 2026').

    (Which unit and where each bucket starts: data.figures.choose_unit / make_buckets.)"""
    if missing(day):
        return DASH
    day = _as_date(day)
    if bucket == "week":
        return gettext("Week of %(day)s", day=fmt_date(day))
    if bucket == "month":
        if _french():
            return format_date(day, "LLLL y", locale="fr")
        return f"{calendar.month_name[day.month]} {day.year}"
    return fmt_date(day)


FORMATTERS: dict[str, Callable] = {
    "int": fmt_int,
    "pct": fmt_pct,
    "score": fmt_score,
    "duration": fmt_duration,
    "date": fmt_date,
    "datetime": fmt_datetime,
    "day": lambda v: fmt_bucket(v, "day"),
    "week": lambda v: fmt_bucket(v, "week"),
    "month": lambda v: fmt_bucket(v, "month"),
}


def format_value(value, kind: str | Callable | None = None) -> str:
    """One cell's text: kind is a FORMATTERS key, a function, or None (numbers get a sensible
    default, missing values '–')."""
    if callable(kind):
        return kind(value)
    if kind in FORMATTERS:
        return FORMATTERS[kind](value)
    if missing(value):
        return DASH
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, int) or (isinstance(value, float) and float(value).is_integer()):
        return fmt_int(value)
    if isinstance(value, float):
        return _decimal_mark(f"{round_half_up(value, 1):,.1f}")
    if isinstance(value, (date, pd.Timestamp)):
        return fmt_date(value)
    return str(value)


# ---------------------------------------------------------------------------------------------
# Machine formats (export-results: for programs, not people)
# ---------------------------------------------------------------------------------------------


def one_decimal(value: float | None) -> str:
    """66.666… -> "66.7", 12.25 -> "12.3" (half up, as people round); None -> ""."""
    if missing(value):
        return ""
    return str(round_half_up(value, 1))


def whole_minutes(seconds: float | None) -> str:
    """Seconds rounded to the nearest whole minute (30 s rounds up); None -> "0"."""
    if missing(seconds):
        return "0"
    return str(int(round_half_up(float(seconds) / 60, 0)))


def iso_date(value: date | None) -> str:
    if missing(value):
        return ""
    return value.isoformat()


# ---------------------------------------------------------------------------------------------
# OPCO formats (SPEC §7)
# ---------------------------------------------------------------------------------------------


def format_local(moment: datetime, tz: tzinfo) -> str:
    """A stored naive UTC datetime as DD/MM/YYYY HH:MM in the platform time zone."""
    return moment.replace(tzinfo=UTC).astimezone(tz).strftime("%d/%m/%Y %H:%M")


def elapsed_minutes(elapsed: timedelta) -> int:
    """A real elapsed time in whole minutes, to the nearest (30 s rounds up); negative -> 0."""
    microseconds = max(elapsed // timedelta(microseconds=1), 0)
    return (microseconds + 30_000_000) // 60_000_000


def format_duration(elapsed: timedelta) -> str:
    """DD:HH:MM of a real elapsed time, rounded to the nearest minute (30 s rounds up).

    A negative length (a disconnection stored before its connection: the importer refuses
    them) is written as 00:00:00 rather than as a nonsense value.
    """
    days, minutes = divmod(elapsed_minutes(elapsed), 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return f"{days:02d}:{hours:02d}:{minutes:02d}"


def hours_minutes(seconds: float | None) -> str:
    """A duration as the PDF documents write it (SPEC §7): "H h MM", the nearest minute of the
    exact total (30 s rounds up): 8160 -> "2 h 16", 99000 -> "27 h 30"; None -> "0 h 00"."""
    if missing(seconds):
        seconds = 0.0
    minutes = int(round_half_up(max(float(seconds), 0.0) / 60, 0))
    return f"{minutes // 60} h {minutes % 60:02d}"
