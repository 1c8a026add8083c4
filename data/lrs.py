"""Pull a Learning Record Store's Statements resource (SPEC §8, `sync-lrs`).

`sync_lrs` asks `GET <statements>?since=<last stored>&ascending=true` with the header
`X-Experience-API-Version: 1.0.3` and Basic auth, follows each answer's `more` (an address on
the LRS's own host), and hands every page to the xAPI ingestion with skip-invalid semantics: a
statement that cannot be used is recorded with its reason and the sync goes on. Each page is
one transaction holding its statements, the endpoint's cursor (the greatest `stored` seen, in
`lrs_cursors`) and the run's counters (`import_runs`): a sync stopped at any point (network,
crash) resumes at the page it was on, and nothing of a page is half written.

The endpoint may be the LRS's xAPI base (http://127.0.0.1:8100/xAPI) or its Statements
resource (…/xAPI/statements); both name the same cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import requests

from data.errors import LearnstatsError

XAPI_VERSION = "1.0.3"
# Seconds to wait for the LRS to answer one page (connect, then read).
TIMEOUT = (10, 120)
# The most pages one sync follows (a `more` chain longer than this is a loop on the LRS side).
MAX_PAGES = 1_000_000


class LrsError(LearnstatsError):
    """The LRS could not be read: the message says which address and what went wrong.
    `result` (a SyncResult) says what the sync had done before, when it had started."""

    result: SyncResult | None = None


class LrsSettingsError(LrsError):
    """No usable endpoint, user name or password: nothing was asked of any LRS."""


def statements_url(endpoint: str) -> str:
    """The Statements resource of an endpoint given as the LRS's xAPI base or as the resource
    itself, normalised (no trailing slash); LrsError for an address that cannot be one."""
    text = (endpoint or "").strip()
    if not text:
        raise LrsSettingsError(
            "no LRS endpoint: give --endpoint or set LEARNSTATS_LRS_ENDPOINT "
            "(e.g. http://127.0.0.1:8100/xAPI)"
        )
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LrsSettingsError(
            f"{text!r} is not an LRS address: give its xAPI base or Statements resource over "
            "http(s), e.g. http://127.0.0.1:8100/xAPI or https://lrs.example.org/xAPI/statements"
        )
    if parts.username or parts.password:
        raise LrsSettingsError(
            f"the LRS address {_without_credentials(text)!r} holds a user name or password: give the "
            "user name with --username (or LEARNSTATS_LRS_USERNAME) and the password in "
            "LEARNSTATS_LRS_PASSWORD"
        )
    if parts.query or parts.fragment:
        raise LrsSettingsError(
            f"the LRS address {text!r} has a query or fragment (?… or #…): give only its xAPI base "
            "or Statements resource; sync-lrs adds since and ascending itself"
        )
    path = parts.path.rstrip("/")
    if not path.endswith("/statements"):
        path += "/statements"
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, "", ""))


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def stored_time(value) -> datetime | None:
    """A statement's `stored` as an aware datetime, None when missing or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def latest_stored(statements: list, current: str | None) -> str | None:
    """The greatest `stored` among statements and the current cursor, as the LRS wrote it.

    The greatest, not the last: an LRS's page need not be sorted inside (Ralph's file backend
    returns each page's statements newest first, even with ascending=true)."""
    best_text, best = current, stored_time(current)
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        moment = stored_time(statement.get("stored"))
        if moment is not None and (best is None or moment > best):
            best_text, best = statement["stored"].strip(), moment
    return best_text


@dataclass
class Page:
    url: str
    statements: list


class LrsClient:
    """Reads one LRS's Statements resource with Basic auth, page after page."""

    def __init__(self, endpoint: str, username: str, password: str, http: requests.Session | None = None):
        self.url = statements_url(endpoint)
        if not username:
            raise LrsSettingsError(
                f"no user name for the LRS {self.url}: give --username or set LEARNSTATS_LRS_USERNAME"
            )
        if not password:
            raise LrsSettingsError(f"no password for the LRS {self.url}: set LEARNSTATS_LRS_PASSWORD")
        self.auth = (username, password)
        self.http = http or requests.Session()
        parts = urlsplit(self.url)
        self.origin = (parts.scheme, parts.netloc)

    def first_url(self, since: str | None) -> str:
        query = {"since": since} if since else {}
        query["ascending"] = "true"
        return f"{self.url}?{urlencode(query)}"

    def pages(self, since: str | None) -> Iterator[Page]:
        """Each page from `since` (exclusive) on, oldest first, following `more`."""
        url = self.first_url(since)
        seen = set()
        for _ in range(MAX_PAGES):
            seen.add(url)
            body = self.get(url)
            yield Page(url, body["statements"])
            more = body.get("more")
            if not more:
                return
            if not isinstance(more, str):
                raise LrsError(f"GET {url}: the answer's 'more' is not an address: {more!r}")
            following = urljoin(url, more.strip())
            parts = urlsplit(following)
            if (parts.scheme, parts.netloc.lower()) != self.origin:
                # The credentials go to the LRS's own host only.
                raise LrsError(
                    f"GET {url}: the answer's 'more' ({more}) leads to another host than the LRS "
                    f"({self.origin[1]}); not followed"
                )
            if following in seen or not body["statements"]:
                return
            url = following
        raise LrsError(f"GET {self.url}: more than {MAX_PAGES:,} pages; stopped")

    def get(self, url: str) -> dict:
        """One page's JSON, or LrsError naming the address and the status."""
        try:
            response = self.http.get(
                url,
                auth=self.auth,
                headers={"X-Experience-API-Version": XAPI_VERSION, "Accept": "application/json"},
                timeout=TIMEOUT,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise LrsError(f"GET {url}: the LRS did not answer in time") from None
        except requests.ConnectionError as error:
            raise LrsError(f"GET {url}: cannot reach the LRS ({_reason(error)})") from None
        except requests.RequestException as error:
            raise LrsError(f"GET {url}: {_reason(error)}") from None
        status = response.status_code
        if status != 200:
            raise LrsError(f"GET {url} answered {status} {response.reason or ''}".rstrip() + _hint(response))
        try:
            body = response.json()
        except ValueError:
            raise LrsError(
                f"GET {url} answered 200 but not JSON ({_excerpt(response.text)}): is the endpoint "
                "the LRS's xAPI address?"
            ) from None
        if not isinstance(body, dict) or not isinstance(body.get("statements"), list):
            raise LrsError(
                f"GET {url} answered JSON that is not a StatementResult (no 'statements' list): "
                "is the endpoint the LRS's xAPI address?"
            )
        return body


def _hint(response: requests.Response) -> str:
    status = response.status_code
    if status in (401, 403):
        hint = "check the user name (--username, LEARNSTATS_LRS_USERNAME) and LEARNSTATS_LRS_PASSWORD"
        if status == 403:
            hint = "these credentials may not read statements (their scopes); " + hint
    elif status == 404:
        hint = "no Statements resource there: give the LRS's xAPI base, e.g. http://127.0.0.1:8100/xAPI"
    elif 300 <= status < 400:
        hint = f"redirected to {response.headers.get('Location', '?')}: give that address as the endpoint"
    elif status >= 500:
        hint = "the LRS failed; try again later"
    else:
        hint = ""
    excerpt = _excerpt(response.text)
    return "".join(f": {part}" for part in (hint, excerpt) if part)


def _excerpt(text: str, size: int = 200) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= size else text[:size] + "…"


def _reason(error: Exception) -> str:
    """The innermost reason of a requests error, without the library's long wrapping."""
    reason = error
    while reason.__context__ is not None and reason.__context__ is not reason:
        reason = reason.__context__
    text = str(reason) or type(reason).__name__
    for marker in ("Connection refused", "Name or service not known", "timed out", "No route to host"):
        if marker in str(error):
            return marker.lower() if marker != "Connection refused" else "connection refused"
    return _excerpt(text, 160)


# -- the sync: pages -> ingestion, cursor and run counters, one transaction per page ---------------

KIND = "lrs-sync"


@dataclass
class SyncResult:
    """What one sync did, summed over its pages."""

    endpoint: str
    run_id: int | None = None
    since: str | None = None
    cursor: str | None = None
    pages: int = 0
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    added: dict | None = None
    removed: dict | None = None
    skipped: dict | None = None
    error: str | None = None
    # False when the sync stopped at its time budget with more to read (the next one goes on).
    complete: bool = True

    def skipped_count(self) -> int:
        return sum(int(v.get("count", 0)) for v in (self.skipped or {}).values())

    def describe(self) -> str:
        """The command's report, in the words of import-xapi's (data.xapi.XapiReport.describe)."""
        from data.xapi.ingest import KINDS

        lines = [
            f"Synced {self.endpoint}: {self.pages:,} page(s) since {self.since or 'the beginning'}.",
            f"Statements read: {self.received:,}; accepted: {self.accepted:,}; "
            f"already received (duplicates): {self.duplicates:,}.",
        ]
        added = self.added or {}
        lines.append("Added: " + ", ".join(f"{kind} {added.get(kind, 0):,}" for kind in KINDS) + ".")
        removed = {k: v for k, v in (self.removed or {}).items() if v}
        if removed:
            lines.append("Removed (voided): " + ", ".join(f"{k} {v:,}" for k, v in removed.items()) + ".")
        reasons = {k: v for k, v in (self.skipped or {}).items() if k != "duplicate"}
        if reasons:
            lines.append("Kept but ignored, or skipped (the sync went on):")
            for reason, entry in sorted(reasons.items(), key=lambda kv: (-kv[1].get("count", 0), kv[0])):
                example = entry.get("example")
                lines.append(
                    f"  {reason}: {entry.get('count', 0):,}" + (f" (e.g. {example})" if example else "")
                )
        if not self.complete:
            lines.append("Stopped at its time budget with more to read: the next sync goes on from here.")
        lines.append(f"Resumes after stored = {self.cursor}." if self.cursor else "No statement stored yet.")
        return "\n".join(lines)


def merge_skipped(total: dict, page: dict) -> dict:
    """reason -> {"count", "example"}: counts added, the first example kept."""
    merged = {reason: dict(entry) for reason, entry in total.items()}
    for reason, entry in (page or {}).items():
        mine = merged.setdefault(reason, {"count": 0, "example": entry.get("example")})
        mine["count"] = int(mine.get("count", 0)) + int(entry.get("count", 0))
        if not mine.get("example"):
            mine["example"] = entry.get("example")
    return merged


def _without_positions(skipped: dict) -> dict:
    """The examples without the ingestion's "line N: " (a position in one page of the LRS's
    answer means nothing to a reader): "statement <id>: …" is what finds it in the LRS."""
    import re

    return {
        reason: {**entry, "example": re.sub(r"^line \d+: ", "", entry.get("example") or "")}
        for reason, entry in skipped.items()
    }


def merge_counts(total: dict, page: dict) -> dict:
    merged = dict(total)
    for kind, count in (page or {}).items():
        merged[kind] = merged.get(kind, 0) + int(count)
    return merged


def _format_since(moment: datetime | None) -> str | None:
    """A cursor (naive UTC) as the `since` the LRS is sent: ISO 8601 in UTC, microseconds."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _naive_utc(moment: datetime) -> datetime:
    from datetime import UTC

    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def read_cursor(session, endpoint: str) -> datetime | None:
    from data.models import LrsCursor

    row = session.get(LrsCursor, endpoint)
    return row.last_stored if row is not None else None


def _write_cursor(session, endpoint: str, last_stored: datetime, now: datetime) -> None:
    from data.models import LrsCursor

    row = session.get(LrsCursor, endpoint)
    if row is None:
        session.add(LrsCursor(endpoint=endpoint, last_stored=last_stored, updated_at=now))
    elif row.last_stored is None or last_stored > row.last_stored:
        row.last_stored, row.updated_at = last_stored, now


def sync_lrs(
    db,
    endpoint: str,
    username: str,
    password: str,
    *,
    say=None,
    http: requests.Session | None = None,
    idle_minutes: int | None = None,
    budget: timedelta | None = None,
    on_page: Callable[[], None] | None = None,
) -> SyncResult:
    """Pull every statement stored since the endpoint's cursor into the platform, one page per
    transaction; an import_runs row (kind "lrs-sync") tells the Data sources page how it goes.

    budget: stop following `more` once this long has passed (the periodic sync works in slices
    shorter than its lock's lease; the next one goes on from the cursor); result.complete says
    whether the LRS had nothing more. on_page: called after each page is written (the lock's
    lease is extended there; an exception it raises stops the sync).

    Raises LrsError (after recording it on the run) when the LRS cannot be read; the pages
    finished before stay (the cursor says so), the page being read writes nothing."""
    import json
    import time
    from datetime import UTC

    from data.models import ImportRun
    from data.xapi import ingest_statements
    from data.xapi.runs import fail_run, start_run

    client = LrsClient(endpoint, username, password, http=http)
    url = client.url
    with db.session() as s:
        cursor = read_cursor(s, url)
    result = SyncResult(endpoint=url, since=_format_since(cursor), cursor=_format_since(cursor))
    result.added, result.removed, result.skipped = {}, {}, {}
    close_interrupted_runs(db)
    result.run_id = run_id = start_run(db, KIND, url)
    position = 0
    deadline = None if budget is None else time.monotonic() + budget.total_seconds()
    try:
        for page in client.pages(result.since):
            result.pages += 1
            items = list(enumerate(page.statements, start=position + 1))
            position += len(items)
            now = datetime.now(UTC).replace(tzinfo=None)
            with db.session() as s:
                # In this process (workers=0): a page is small, and a Celery worker's process
                # may not start a pool of its own.
                report = ingest_statements(
                    s,
                    items,
                    source=url,
                    skip_invalid=True,
                    run_id=run_id,
                    idle_minutes=idle_minutes,
                    workers=0,
                )
                page_cursor = stored_time(latest_stored(page.statements, None))
                if page_cursor is not None:
                    page_cursor = _naive_utc(page_cursor)
                    _write_cursor(s, url, page_cursor, now)
                    cursor = page_cursor if cursor is None or page_cursor > cursor else cursor
                result.received += report.received
                result.accepted += report.accepted
                result.duplicates += report.duplicates
                result.added = merge_counts(result.added, report.added)
                result.removed = merge_counts(result.removed, report.removed)
                result.skipped = merge_skipped(result.skipped, _without_positions(report.skipped()))
                run = s.get(ImportRun, run_id)
                run.accepted = result.accepted
                run.added = json.dumps(result.added, sort_keys=True)
                run.skipped = json.dumps(result.skipped, sort_keys=True)
                run.progress_done = result.received
            result.cursor = _format_since(cursor)
            if say is not None:
                say(f"  page {result.pages:,}: {len(items):,} statement(s), {report.accepted:,} new")
            if on_page is not None:
                on_page()
            if deadline is not None and time.monotonic() > deadline:
                result.complete = False
                break
    except LrsError as error:
        result.error = str(error)
        error.result = result
        fail_run(db, run_id, str(error), result.skipped)
        raise
    except Exception as error:
        result.error = f"{type(error).__name__}: {error}"
        fail_run(db, run_id, f"sync stopped at page {result.pages:,}: {result.error}", result.skipped)
        raise
    _finish(db, run_id, result)
    return result


INTERRUPTED = (
    "interrupted: the sync stopped before its end (its process ended); the pages it finished are "
    "kept and the next sync went on after them"
)


def close_interrupted_runs(db) -> int:
    """Syncs recorded as running when a sync starts are ones whose process died (one sync runs at
    a time: the callers hold the lock): recorded as failed, so that the Data sources page stops
    showing their progress bar. How many."""
    from datetime import UTC

    from sqlalchemy import update

    from data.models import ImportRun

    with db.session() as s:
        result = s.execute(
            update(ImportRun)
            .where(ImportRun.kind == KIND, ImportRun.status == "running")
            .values(status="failed", finished_at=datetime.now(UTC).replace(tzinfo=None), error=INTERRUPTED)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount


def _finish(db, run_id: int, result: SyncResult) -> None:
    from data.xapi.runs import finish_run

    finish_run(db, run_id, accepted=result.accepted, added=result.added, skipped=result.skipped)


# -- one sync at a time: the periodic jobs' database lock (data/job_locks.py) ---------------------

LOCK = "lrs-sync"
# A holder that stops extending its lease (a crash) blocks the syncs this long at most; a sync
# extends it at each page.
LEASE = timedelta(minutes=15)


class SyncBusy(LrsError):
    """Another sync holds the lock."""


def _utc_now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)


def lease_keeper(db, owner: str) -> Callable[[], None]:
    """sync_lrs's on_page for a holder of the lock: extend the lease, or stop the sync when
    the lock was lost (its lease ended and another process took it)."""
    from data.job_locks import extend

    def keep() -> None:
        if not extend(db, LOCK, owner, _utc_now(), LEASE):
            raise SyncBusy("the sync lost its lock to another process (its lease ended); stopped")

    return keep


def holder_is_dead(owner: str | None) -> bool:
    """Whether a lock's holder ("[sync-lrs@]host:pid:…", data/job_locks.py) is a process of this
    machine that no longer runs. A holder elsewhere is never known dead: its lease decides."""
    import os
    import socket

    if not owner:
        return False
    parts = owner.split("@", 1)[-1].split(":")
    if len(parts) < 2 or not parts[1].isdigit():
        return False
    if parts[0] not in (socket.gethostname()[:80], socket.gethostname()[:100]):
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def sync_lrs_once(db, endpoint: str, username: str, password: str, **options) -> SyncResult:
    """sync_lrs holding the lock every sync shares (the periodic one and the command line's):
    SyncBusy, with nothing done, when another sync runs, in this process or any other."""
    import os
    import socket
    import uuid

    from data.job_locks import read_lock, release, take_over, try_acquire

    statements_url(endpoint)  # a bad address is said before anything else
    owner = f"sync-lrs@{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    now = _utc_now()
    state = read_lock(db, LOCK)
    if state.held(now.replace(tzinfo=None)):
        # A sync killed on this machine (Ctrl-C twice, kill -9, a reboot) holds the lock until its
        # lease ends; its process being gone, the next sync need not wait for that.
        taken = holder_is_dead(state.owner) and take_over(db, LOCK, state.owner, owner, now, LEASE)
    else:
        taken = try_acquire(db, LOCK, owner, now, LEASE, state.last_started_at)
    if not taken:
        state = read_lock(db, LOCK)
        since = f" since {state.last_started_at:%Y-%m-%d %H:%M:%S} UTC" if state.last_started_at else ""
        raise SyncBusy(
            f"another LRS sync is running{since} ({state.owner or 'another process'}); one sync runs at "
            "a time: nothing was done, try again when it ends"
        )
    error = None
    try:
        return sync_lrs(db, endpoint, username, password, on_page=lease_keeper(db, owner), **options)
    except BaseException as failure:
        error = str(failure) or type(failure).__name__
        raise
    finally:
        release(db, LOCK, owner, _utc_now(), error)
