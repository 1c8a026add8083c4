"""How far a running import is, for the Data sources page's progress bar (issue 17).

An import is one transaction: on SQLite it holds the database's only write lock until it
commits, so it cannot also write its progress into its `import_runs` row for another process to
read (a second writer waits, then fails). Its progress goes to a small file of the instance
folder instead, `progress/run-<id>.json`, replaced atomically; the page reads it while the run
is `running`, and the import removes it when it ends. On PostgreSQL the row itself is updated
(a transaction of its own: the import's does not lock that row).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

# At most one write a second: an import calls back at each batch of statements.
EVERY_SECONDS = 1.0


def progress_file(instance_path: Path, run_id: int) -> Path:
    return Path(instance_path) / "progress" / f"run-{int(run_id)}.json"


def progress_reporter(db, run_id: int, instance_path: Path) -> Callable[[int], None]:
    """A `progress(done)` callback for ingest_statements: how many items were read so far."""
    last = [0.0]

    def report(done: int) -> None:
        now = time.monotonic()
        if now - last[0] < EVERY_SECONDS:
            return
        last[0] = now
        if db.url.startswith("sqlite"):
            path = progress_file(instance_path, run_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            partial.write_text(json.dumps({"done": int(done)}))
            os.replace(partial, path)
        else:
            from data.xapi.runs import set_progress

            set_progress(db, run_id, int(done))

    return report


def read_progress(instance_path: Path, run_id: int) -> int | None:
    """Items read so far by a running import (its file), None when it wrote none."""
    try:
        value = json.loads(progress_file(instance_path, run_id).read_text()).get("done")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, (int, float)) else None


def clear_progress(instance_path: Path, run_id: int) -> None:
    with contextlib.suppress(OSError):
        progress_file(instance_path, run_id).unlink()
