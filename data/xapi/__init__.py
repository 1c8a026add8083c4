"""xAPI statements (SPEC §8): reading, checking with ralph-malph's models, keeping every accepted
statement, deriving SPEC §2's rows from them."""

from data.xapi.ingest import (
    KINDS,
    StatementError,
    XapiInvalid,
    XapiReport,
    ingest_statements,
    rederive_users,
)
from data.xapi.reading import MAX_STATEMENT_BYTES, ReadProblem, XapiFileError, read_file

__all__ = [
    "KINDS",
    "MAX_STATEMENT_BYTES",
    "ReadProblem",
    "StatementError",
    "XapiFileError",
    "XapiInvalid",
    "XapiReport",
    "ingest_statements",
    "read_file",
    "rederive_users",
]
