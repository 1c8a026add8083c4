"""Benchmark of the BPF's cadre F-1 (issue 19 point 5): the table for a year of the benchmark
platform (100,000 learners by default: bench/app.py's demo platform under instance/bench/),
made as `export-bpf` makes it, timed in this process on the platform opened read-only.

    python -m bench bpf [--learners 100000] [--seed 42] [--repeat 3]

Target (issue 19): at most 2 s for a year at 100,000 learners, the file included — the figures
are one grouped query over summary_user_module_days, not a loop over learners. The demo's
"Contrat" field is the category (CDI and CDD -> a, Alternance -> b, the rest and no value -> e).
`make bench` runs it after the attestations; alone, build the platform first under
`flock /tmp/platform.lock` (bench/app.py's ensure_platform).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 2.0
TZ = ZoneInfo("Europe/Paris")
MAPPING = {"CDI": "a", "CDD": "a", "Alternance": "b"}


def open_read_only(path: Path):
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    return engine, Session(engine)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench bpf")
    parser.add_argument("--learners", type=int, default=int(os.environ.get("BENCH_LEARNERS", "100000")))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", type=Path, help="another platform file (default: the benchmark's)")
    args = parser.parse_args(argv)

    from sqlalchemy import text

    from data.scope import global_scope
    from exports.bpf import BpfOptions, bpf_file

    path = args.db or ROOT / "instance" / "bench" / f"bench-{args.learners}-seed{args.seed}.sqlite3"
    if args.db is None and not path.exists():
        from bench.app import ensure_platform

        path = ensure_platform(args.learners, args.seed)
    engine, session = open_read_only(path)
    scope = replace(global_scope(), is_admin=True, is_statistics_manager=True)
    (last_day,) = session.execute(text("SELECT max(day) FROM summary_user_module_days")).one()
    end = date.fromisoformat(str(last_day)[:10])
    start = end - timedelta(days=364)
    options = BpfOptions("Contrat", MAPPING)
    print(
        f"BPF cadre F-1 on {path.name}: {start} to {end} (a year), field Contrat, load {os.getloadavg()[0]:.1f}"
    )
    ok = True
    for kind in ("csv", "xlsx", "pdf"):
        times, cpus = [], []
        for _ in range(args.repeat):
            started, cpu = time.perf_counter(), time.process_time()
            data = bpf_file(session, scope, start, end, options, kind, TZ, "fr", signed_on=end)
            times.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
        worst = max(times)
        ok = ok and worst <= TARGET_SECONDS
        print(
            f"  {kind:<4} first {times[0]:.2f} s, median {statistics.median(times):.2f} s, worst {worst:.2f} s, "
            f"CPU median {statistics.median(cpus):.2f} s ({len(data):,} bytes) "
            f"{'OK' if worst <= TARGET_SECONDS else 'OVER'} (target <= {TARGET_SECONDS:.0f} s, load {os.getloadavg()[0]:.1f})"
        )
        if kind == "csv":
            for line in data.decode("utf-8-sig").splitlines():
                print("      " + line)
    session.close()
    engine.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
