"""A timeline of the test run, for finding where `make test`'s time goes (docs/testing.md).

With LEARNSTATS_TEST_TIMELINE=FILE set, each test process (each pytest-xdist worker, or the
one process) appends one JSON line per test to FILE: the test's id, the worker, the wall-clock
start and end of its setup, call and teardown together, and the CPU seconds spent meanwhile by
the process and by the child processes it reaped (Chromium through chromedriver, pdftotext,
servers a test started; a PostgreSQL server shared by the session is not counted).
`python -m tests.timeline FILE` summarises it: per worker, busy time and the tests last to
end; the longest tests by wall and by CPU. Without the variable this plugin does nothing."""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import defaultdict

import pytest

TIMELINE = os.environ.get("LEARNSTATS_TEST_TIMELINE")


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if not TIMELINE:
        yield
        return
    start, cpu = time.time(), _cpu()
    yield
    line = {
        "test": item.nodeid,
        "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
        "start": round(start, 3),
        "end": round(time.time(), 3),
        "cpu": round(_cpu() - cpu, 3),
    }
    with open(TIMELINE, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def summary(path: str, top: int = 25) -> None:
    with open(path, encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    if not rows:
        print("no tests in", path)
        return
    first = min(r["start"] for r in rows)
    workers = defaultdict(list)
    for r in rows:
        workers[r["worker"]].append(r)
    print(f"{len(rows)} tests, {max(r['end'] for r in rows) - first:.0f} s from first start to last end")
    print(f"CPU of the tests {sum(r['cpu'] for r in rows):.0f} s")
    for name, mine in sorted(workers.items()):
        busy = sum(r["end"] - r["start"] for r in mine)
        last = sorted(mine, key=lambda r: r["end"])[-3:]
        print(
            f"  {name}: {len(mine)} tests, busy {busy:.0f} s, CPU {sum(r['cpu'] for r in mine):.0f} s, "
            f"ends at {max(r['end'] for r in mine) - first:.0f} s; last: "
            + ", ".join(f"{r['test'].split('::')[-1][:40]} ({r['end'] - r['start']:.0f} s)" for r in last)
        )
    for key, label in ((lambda r: r["end"] - r["start"], "wall"), (lambda r: r["cpu"], "CPU")):
        print(f"longest by {label}:")
        for r in sorted(rows, key=key, reverse=True)[:top]:
            print(
                f"  {r['end'] - r['start']:7.1f} s wall {r['cpu']:7.1f} s CPU  {r['worker']:>4} "
                f"starts {r['start'] - first:5.0f}  {r['test']}"
            )


if __name__ == "__main__":
    summary(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
