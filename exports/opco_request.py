"""An OPCO logs export request (filters, format, delimiter) as a query string and back.

The dialog builds the "Download now" link with `OpcoExportRequest.to_query()`, the download
route reads it back with `parse_opco_query()`, and the "receive by email" job carries the same
query string inside its signed ticket: one encoding for every way of asking for the file.

Query arguments (all optional, repeatable where plural):

    from, to      YYYY-MM-DD, inclusive, platform time zone
    session       program session id (repeat for several)
    user          user id
    group         class id
    field         NAME=VALUE (the same NAME twice: either value; different NAMEs: both)
    columns       custom field column to include (repeat); absent = every field; a single
                  empty value (`columns=`) = no custom field column
    format        csv (default) or xlsx
    delimiter     , (default) or ; (CSV only)
    titles        en (default) or fr: the column titles' language
    granularity   opca-logs (default), learner-session, learner-course or session (SPEC §9)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import parse_qsl, urlencode

from data.figures.days import FIRST_DAY, LAST_DAY, supported_day
from exports.formatting import gettext as _
from exports.opco_granularities import DEFAULT_GRANULARITY, GRANULARITIES
from exports.opco_logs import DELIMITERS, TITLES, OpcoLogFilters, OpcoLogsError

FORMATS = ("csv", "xlsx")
KNOWN_ARGUMENTS = (
    "from", "to", "session", "user", "group", "field", "columns", "format", "delimiter", "titles",
    "granularity",
)  # fmt: skip
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class BadOpcoRequest(OpcoLogsError):
    """A query argument that cannot be read; the message names it and says what is expected."""


@dataclass(frozen=True)
class OpcoExportRequest:
    """What to export and how: the filters, "csv" or "xlsx", and the CSV delimiter."""

    filters: OpcoLogFilters = field(default_factory=OpcoLogFilters)
    format: str = "csv"
    delimiter: str = ","

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise BadOpcoRequest(
                _(
                    "format: %(value)r is not one of %(choices)s",
                    value=self.format,
                    choices=", ".join(FORMATS),
                )
            )
        if self.delimiter not in DELIMITERS:
            raise BadOpcoRequest(
                _(
                    "delimiter: %(value)r is not one of %(choices)s (CSV delimiters)",
                    value=self.delimiter,
                    choices=" ".join(DELIMITERS),
                )
            )

    def to_pairs(self) -> list[tuple[str, str]]:
        f = self.filters
        pairs: list[tuple[str, str]] = []
        if f.date_from:
            pairs.append(("from", f.date_from.isoformat()))
        if f.date_to:
            pairs.append(("to", f.date_to.isoformat()))
        pairs += [("session", v) for v in f.session_ids]
        pairs += [("user", v) for v in f.user_ids]
        pairs += [("group", v) for v in f.class_ids]
        pairs += [("field", f"{name}={value}") for name, value in f.fields]
        if f.columns is not None:
            pairs += [("columns", name) for name in f.columns] if f.columns else [("columns", "")]
        if f.titles != "en":
            pairs.append(("titles", f.titles))
        if f.granularity != DEFAULT_GRANULARITY:
            pairs.append(("granularity", f.granularity))
        pairs.append(("format", self.format))
        if self.format == "csv":
            pairs.append(("delimiter", self.delimiter))
        return pairs

    def to_query(self) -> str:
        """The query string (without "?"), e.g. "session=s1&format=csv&delimiter=%2C"."""
        return urlencode(self.to_pairs())

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


def parse_date(name: str, text: str | None) -> date | None:
    """YYYY-MM-DD or nothing; BadOpcoRequest naming the option otherwise (route and CLI)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise BadOpcoRequest(
            _("%(name)s: %(value)r is not a date (expected YYYY-MM-DD)", name=name, value=text)
        ) from None
    if not supported_day(day):
        raise BadOpcoRequest(
            _(
                "%(name)s: %(value)r is outside the years %(first)d–%(last)d",
                name=name,
                value=text,
                first=FIRST_DAY.year,
                last=LAST_DAY.year,
            )
        )
    return day


def parse_field(text: str, option: str = "field") -> tuple[str, str]:
    """NAME=VALUE; BadOpcoRequest naming the option otherwise (route and CLI)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise BadOpcoRequest(_("%(name)s: %(value)r is not NAME=VALUE", name=option, value=text))
    return name.strip(), value


def _single(args: Mapping[str, list[str]], name: str, default: str) -> str:
    values = args.get(name) or []
    if len(values) > 1:
        raise BadOpcoRequest(
            _("%(name)s: given %(count)d times, expected once", name=name, count=len(values))
        )
    return values[0] if values else default


def _ids(name: str, values: Iterable[str]) -> tuple[str, ...]:
    ids = []
    for value in values:
        if not value.strip():
            raise BadOpcoRequest(_("%(name)s: an empty id", name=name))
        if value not in ids:
            ids.append(value)
    return tuple(ids)


def _titles(text: str) -> str:
    value = (text or "en").strip().lower()
    if value not in TITLES:
        raise BadOpcoRequest(
            _(
                "titles: %(value)r is not one of %(choices)s (the column titles' language)",
                value=text,
                choices=", ".join(TITLES),
            )
        )
    return value


def parse_granularity(text: str | None, option: str = "granularity") -> str:
    """One of GRANULARITIES (default opca-logs); BadOpcoRequest naming the option otherwise."""
    value = (text or DEFAULT_GRANULARITY).strip().lower()
    if value not in GRANULARITIES:
        raise BadOpcoRequest(
            _(
                "%(name)s: %(value)r is not one of %(choices)s",
                name=option,
                value=text,
                choices=", ".join(GRANULARITIES),
            )
        )
    return value


def parse_opco_pairs(pairs: Iterable[tuple[str, str]]) -> OpcoExportRequest:
    """The request from (name, value) pairs; BadOpcoRequest names the first bad argument."""
    args: dict[str, list[str]] = {}
    for name, value in pairs:
        if name not in KNOWN_ARGUMENTS:
            raise BadOpcoRequest(
                _("unknown argument %(name)r (known: %(known)s)", name=name, known=", ".join(KNOWN_ARGUMENTS))
            )
        args.setdefault(name, []).append(value)
    columns: tuple[str, ...] | None = None
    if "columns" in args:
        given = args["columns"]
        if given == [""]:
            columns = ()
        elif any(not c.strip() for c in given):
            raise BadOpcoRequest(_("columns: an empty column name (use a single empty columns= for none)"))
        else:
            columns = tuple(dict.fromkeys(given))
    date_from = parse_date("from", _single(args, "from", ""))
    date_to = parse_date("to", _single(args, "to", ""))
    if date_from and date_to and date_from > date_to:
        raise BadOpcoRequest(
            _(
                "from: the start date %(start)s is after the end date %(end)s",
                start=date_from.isoformat(),
                end=date_to.isoformat(),
            )
        )
    filters = OpcoLogFilters(
        date_from=date_from,
        date_to=date_to,
        user_ids=_ids("user", args.get("user", [])),
        class_ids=_ids("group", args.get("group", [])),
        session_ids=_ids("session", args.get("session", [])),
        fields=tuple(dict.fromkeys(parse_field(text) for text in args.get("field", []))),
        columns=columns,
        titles=_titles(_single(args, "titles", "en")),
        granularity=parse_granularity(_single(args, "granularity", DEFAULT_GRANULARITY)),
    )
    fmt = _single(args, "format", "csv").strip().lower()
    delimiter = _single(args, "delimiter", ",")
    if fmt == "xlsx" and "delimiter" in args and delimiter not in DELIMITERS:
        raise BadOpcoRequest(
            _("delimiter: %(value)r is not one of %(choices)s", value=delimiter, choices=" ".join(DELIMITERS))
        )
    return OpcoExportRequest(filters=filters, format=fmt, delimiter=delimiter)


def parse_opco_query(query: str | Mapping[str, list[str]] | Iterable[tuple[str, str]]) -> OpcoExportRequest:
    """The request from a query string (or a werkzeug MultiDict / list of pairs)."""
    if isinstance(query, str):
        pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True, strict_parsing=False)
    elif hasattr(query, "items") and hasattr(query, "getlist"):
        pairs = list(query.items(multi=True))  # werkzeug MultiDict
    elif isinstance(query, Mapping):
        pairs = [(k, v) for k, values in query.items() for v in values]
    else:
        pairs = list(query)
    return parse_opco_pairs(pairs)


def download_filename(request: OpcoExportRequest, today: date) -> str:
    """opco-logs[-<session>]-YYYY-MM-DD.<ext>: the session id when exactly one is asked for;
    opco-<granularity>[-<session>]-YYYY-MM-DD.<ext> for the other granularities."""
    granularity = request.filters.granularity
    parts = ["opco-logs" if granularity == DEFAULT_GRANULARITY else f"opco-{granularity}"]
    if len(request.filters.session_ids) == 1:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", request.filters.session_ids[0]).strip("-.")
        if safe:
            parts.append(safe[:60])
    parts.append(today.isoformat())
    return "-".join(parts) + "." + request.format


__all__ = [
    "FORMATS",
    "BadOpcoRequest",
    "OpcoExportRequest",
    "download_filename",
    "parse_granularity",
    "parse_opco_pairs",
    "parse_opco_query",
]
