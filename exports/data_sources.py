"""The Data sources page's table of imports and syncs (issue 17) as rows, in the language in
force: the page (dashboards/pages/data_sources.py) shows `runs_frame`, and the report kind
"data-sources" (exports/report_kinds.py) sends it with RUNS_COLUMNS, as the page's downloads
write it."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from data import data_sources as ds
from data.figures.days import to_local
from exports.formatting import N_, fmt_int
from exports.formatting import gettext as _

KINDS = {"bundle": N_("CSV bundle"), "xapi-file": N_("xAPI file"), "lrs-sync": N_("LRS sync")}
STATUSES = {"running": N_("Running"), "done": N_("Done"), "failed": N_("Failed")}
# The reasons the xAPI ingestion records (data/xapi: SPEC §8), in the catalogue so that the
# table says them in the interface's language.
REASONS = {
    "no course": N_("no course"),
    "group actor": N_("group actor"),
    "invalid": N_("invalid"),
    "conflict": N_("conflict"),
    "duplicate": N_("duplicate"),
}
# The counts an import adds, in the order the table says them.
ADDED = {
    "statements": N_("%(num)s statements"),
    "users": N_("%(num)s users"),
    "trainings": N_("%(num)s trainings"),
    "modules": N_("%(num)s modules"),
    "activities": N_("%(num)s activities"),
    "enrollments": N_("%(num)s enrollments"),
    "attempts": N_("%(num)s attempts"),
    "answers": N_("%(num)s answers"),
    "connections": N_("%(num)s connections"),
    "logins": N_("%(num)s logins"),
}


# The table's columns in the files (field, header, kind): the page's, in its order.
RUNS_COLUMNS = [
    ("when", N_("When"), "datetime"),
    ("kind", N_("Kind")),
    ("source", N_("Source")),
    ("status", N_("Status")),
    ("accepted", N_("Accepted"), "int"),
    ("skipped_count", N_("Skipped"), "int"),
    ("skipped", N_("Skipped by reason (an example each)")),
    ("added", N_("Added")),
    # Seconds (a run takes seconds, not minutes): the unit in the header, as every table
    # file says its durations' unit (issue 21 point 3).
    ("seconds", N_("Duration (s)")),
]


def _local_text(value: datetime | None) -> str | None:
    """An aware local datetime as "YYYY-MM-DD HH:MM" (sorts as text; a date cell in XLSX)."""
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else None


def _reason_text(reason: str, entry: dict) -> str:
    count = fmt_int(int(entry.get("count", 0)))
    example = entry.get("example")
    if example:
        return _(
            "%(reason)s: %(count)s (e.g. %(example)s)", reason=_reason(reason), count=count, example=example
        )
    return _("%(reason)s: %(count)s", reason=_reason(reason), count=count)


def _reason(reason: str) -> str:
    return _(REASONS[reason]) if reason in REASONS else reason


def _added_text(added: dict) -> str:
    """xAPI: "17 statements, 3 users, …" (the kinds with rows added); a bundle: each file's
    rows added, updated and unchanged ("users.csv: 12 added, 0 updated, 0 unchanged; …")."""
    files = [
        _(
            "%(file)s: %(added)s added, %(updated)s updated, %(unchanged)s unchanged",
            file=name,
            added=fmt_int(int(counts.get("added", 0))),
            updated=fmt_int(int(counts.get("updated", 0))),
            unchanged=fmt_int(int(counts.get("unchanged", 0))),
        )
        for name, counts in sorted(added.items())
        if isinstance(counts, dict)
    ]
    if files:
        return "; ".join(files)
    counts = {k: v for k, v in added.items() if isinstance(v, (int, float)) and v}
    parts = [_(text, num=fmt_int(counts[kind])) for kind, text in ADDED.items() if kind in counts]
    parts += [f"{fmt_int(v)} {k}" for k, v in sorted(counts.items()) if k not in ADDED]
    return ", ".join(parts)


def runs_frame(runs: list[ds.RunRow], tz) -> pd.DataFrame:
    rows = []
    for run in runs:
        skipped = sorted(run.skipped.items(), key=lambda kv: (-int(kv[1].get("count", 0)), kv[0]))
        status = _(STATUSES.get(run.status, run.status))
        if run.status == "failed" and run.error:
            status = _("%(status)s: %(error)s", status=status, error=run.error)
        rows.append(
            {
                "id": run.id,
                "when": _local_text(to_local(run.started_at, tz)),
                "kind": _(KINDS.get(run.kind, run.kind)),
                "source": run.source,
                "status": status,
                "accepted": run.accepted,
                "skipped_count": run.skipped_count,
                # One reason a line.
                "skipped": "\n".join(_reason_text(reason, entry) for reason, entry in skipped),
                "added": _added_text(run.added),
                "seconds": None if run.seconds is None else round(run.seconds, 1),
            }
        )
    return pd.DataFrame(rows, columns=["id", *[c[0] for c in RUNS_COLUMNS]])


__all__ = ["ADDED", "KINDS", "REASONS", "RUNS_COLUMNS", "STATUSES", "runs_frame"]
