"""Reading a file of xAPI statements as a stream: a JSON array or JSON lines, gzipped or not
(also a file holding one statement, pretty-printed over several lines).

Statements come one at a time with the line they start on; a statement larger than
MAX_STATEMENT_BYTES is reported (a ReadProblem item) and skipped over without being held in
memory, so a 200 MB line costs a few megabytes.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from data.errors import LearnstatsError

MAX_STATEMENT_BYTES = 1024 * 1024
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class ReadProblem:
    """An item that could not be read as a statement: what is wrong."""

    message: str


class XapiFileError(LearnstatsError):
    """The file as a whole cannot be read (missing, not gzip, not a JSON array or lines)."""


def _open(path: Path) -> BinaryIO:
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if not gzipped:
        return open(path, "rb")
    # gzip's own buffer is 8 KiB: each refill is a call into its Python reader. 1 MiB: a few
    # hundred statements per call.
    return io.BufferedReader(gzip.GzipFile(path, "rb"), buffer_size=1024 * 1024)  # type: ignore[return-value]


def read_file(path: Path | str) -> Iterator[tuple[int, str | ReadProblem]]:
    """(line, statement text or ReadProblem) for each statement of the file."""
    path = Path(path)
    if not path.is_file():
        raise XapiFileError(f"{path}: no such file")
    stream = _open(path)
    try:
        first = _first_byte(stream)
        if first == b"[":
            yield from _read_array(stream)
        elif first == b"{" and (whole := _one_document(stream)) is not None:
            yield 1, whole
        else:
            yield from _read_lines(stream)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise XapiFileError(f"{path}: cannot be read ({error})") from error
    finally:
        stream.close()


def _first_byte(stream) -> bytes:
    """The first non-blank byte (after a UTF-8 byte order mark), the stream rewound."""
    head = stream.read(4096)
    stream.seek(0)
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return text[:1]


def _one_document(stream) -> str | None:
    """The file's text when it is one JSON object spread over several lines (a single
    statement, pretty-printed), else None (JSON lines), the stream rewound."""
    head = stream.readline(MAX_STATEMENT_BYTES + 1).removeprefix(b"\xef\xbb\xbf")
    stream.seek(0)
    try:
        json.loads(head)
        return None  # the first line is a whole JSON value: JSON lines
    except (ValueError, UnicodeDecodeError):
        pass
    data = stream.read(MAX_STATEMENT_BYTES + 1)
    stream.seek(0)
    if len(data) > MAX_STATEMENT_BYTES:
        return None
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
        return text if isinstance(json.loads(text), dict) else None
    except (ValueError, UnicodeDecodeError):
        return None


def _decode(data: bytes, line: int) -> str | ReadProblem:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        return ReadProblem(f"not UTF-8 text ({error.reason} at byte {error.start + 1})")


def _too_large(size: int | None = None) -> ReadProblem:
    limit = MAX_STATEMENT_BYTES // 1024
    what = f" ({size / 1_048_576:,.0f} MB)" if size and size >= 1_048_576 else ""
    return ReadProblem(f"statement too large{what}: at most {limit:,} KB per statement")


def _read_lines(stream) -> Iterator[tuple[int, str | ReadProblem]]:
    line = 0
    while True:
        data = stream.readline(MAX_STATEMENT_BYTES + 1)
        if not data:
            return
        line += 1
        if line == 1:
            data = data.removeprefix(b"\xef\xbb\xbf")
        if len(data) > MAX_STATEMENT_BYTES and not data.endswith(b"\n"):
            size = len(data)
            while data and not data.endswith(b"\n"):  # skip the rest of the line
                data = stream.readline(_CHUNK)
                size += len(data)
            yield line, _too_large(size)
            continue
        if not data.strip():
            continue
        yield line, _decode(data, line)


_BLANK = b" \t\r\n"


def _read_array(stream) -> Iterator[tuple[int, str | ReadProblem]]:
    """The elements of a top-level JSON array, each with the line it starts on."""
    decoder = json.JSONDecoder()
    buffer = stream.read(_CHUNK).removeprefix(b"\xef\xbb\xbf")
    line = 1
    pos = 0
    eof = False

    def more() -> bool:
        nonlocal buffer, pos, eof
        if eof:
            return False
        data = stream.read(_CHUNK)
        if not data:
            eof = True
            return False
        buffer = buffer[pos:] + data
        pos = 0
        return True

    def skip_blank() -> bytes:
        nonlocal pos, line
        while True:
            while pos < len(buffer) and buffer[pos] in _BLANK:
                if buffer[pos] == 10:
                    line += 1
                pos += 1
            if pos < len(buffer):
                return buffer[pos : pos + 1]
            if not more():
                return b""

    skip_blank()
    pos += 1  # the "["
    expect_value = True
    while True:
        c = skip_blank()
        if c == b"":
            yield line, ReadProblem("the JSON array is not closed (missing ']')")
            return
        if c == b"]":
            return
        if not expect_value:
            if c != b",":
                yield (
                    line,
                    ReadProblem(
                        f"expected ',' or ']' between statements, found {c.decode(errors='replace')!r}"
                    ),
                )
                return
            pos += 1
            expect_value = True
            continue
        start_line = line
        window = 16 * 1024
        while True:
            while len(buffer) - pos < window and more():
                pass
            chunk = buffer[pos : pos + window]
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError as error:
                if error.start < len(chunk) - 3:
                    yield start_line, ReadProblem(f"not UTF-8 text ({error.reason})")
                    return
                text = chunk[: error.start].decode("utf-8")
            try:
                _, end = decoder.raw_decode(text)
            except json.JSONDecodeError as error:
                cut = error.pos >= len(text) - 1 or error.msg.startswith("Unterminated string")
                whole = len(buffer) - pos <= window and eof
                if cut and not whole:
                    if window > MAX_STATEMENT_BYTES:
                        yield start_line, _too_large()
                        return
                    window *= 2
                    continue
                where = start_line + text.count("\n", 0, error.pos)
                yield where, ReadProblem(f"not JSON ({error.msg}); the rest of the array cannot be read")
                return
            element = text[:end]
            if len(element) > MAX_STATEMENT_BYTES:
                yield start_line, _too_large()
                return
            yield start_line, element
            line += element.count("\n")
            pos += len(element.encode("utf-8"))
            expect_value = False
            break
