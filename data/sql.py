"""SQL building blocks shared by the figures and the summary layer: portable durations, flags,
the score tolerance."""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    Float,
    case,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from data.rules import SCORE_TOLERANCE

# --------------------------------------------------------------------------------------------
# Dialect helpers
# --------------------------------------------------------------------------------------------


class seconds_between(FunctionElement):
    """Seconds from the first timestamp to the second (float), on SQLite and PostgreSQL."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    start, end = list(element.clauses)
    return (
        f"ROUND((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"
        " * 86400.0, 3)"
    )


@compiles(seconds_between)
def _seconds_between_default(element, compiler, **kw):
    start, end = list(element.clauses)
    return (
        f"CAST(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))"
        " AS DOUBLE PRECISION)"
    )


def _greatest(a: ColumnElement, b: ColumnElement) -> ColumnElement:
    """The later of two nullable timestamps (NULL counts as 'since always')."""
    return case((a.is_(None), b), (b.is_(None), a), (a > b, a), else_=b)


def _reaches(score: ColumnElement, minimum: ColumnElement) -> ColumnElement[bool]:
    """score >= minimum, forgiving floating-point noise: the SQL form of data/rules.py reaches."""
    return score >= minimum - SCORE_TOLERANCE


def _flag(condition) -> ColumnElement:
    return case((condition, 1), else_=0)
