"""Benchmark: memory of "Download now" (GET /download/opco-logs) for N rows against 10 x N rows.

    python -m bench.opco [--rows N] [--format csv|xlsx|both]    (make bench runs it)

Builds two SQLite platforms (N and 10 x N connections inside program sessions, with labels and
custom fields), then, for each, starts a fresh Python process that signs in through the real
sign-in form and downloads the whole export through the Flask route with a streaming client,
counting the bytes without keeping them. Each process reports its resident size just before
the download and its peak resident size during the download (the kernel's high-water mark,
reset after start-up through /proc/self/clear_refs, so the start-up's own peak does not hide
the download's; a sampling thread backs it up). Flat memory means the peak hardly moves when
the rows are multiplied by ten: the script prints both peaks and their ratio, and exits with
status 1 when the ratio exceeds --max-ratio (default 1.5).

Not part of the test suite (it takes minutes for the default 100,000 / 1,000,000 rows).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EMAIL = "bench-admin@example.org"
PASSWORD = "bench-password"
USERS_PER_1000_ROWS = 10
SESSIONS = 20
MODULES = 12
XLSX_MAX_ROWS = 1_048_575


def _config(folder: Path) -> dict:
    return {
        "instance_path": folder / "instance",
        "database_url": f"sqlite:///{folder / 'bench.sqlite3'}",
        "secret_key": "bench-secret",
        "timezone": "Europe/Paris",
    }


def build_platform(folder: Path, rows: int) -> float:
    """A platform with `rows` connections inside sessions; returns the seconds it took."""
    from sqlalchemy import insert

    from app import create_app
    from data import models as m
    from data.text import person_search_text, person_sort_key
    from tests.factories import Factory

    started = time.perf_counter()
    dash_app = create_app(_config(folder))
    db = dash_app.server.extensions["learnstats_db"]
    db.migrate()
    users = max(10, rows * USERS_PER_1000_ROWS // 1000)
    with db.session() as s:
        Factory(s).user(
            "bench-admin", first="Bench", last="Admin", email=EMAIL, password=PASSWORD, roles=("admin",)
        )
        s.execute(insert(m.Training), [{"id": "t1", "name": "Sécurité, niveau 1"}])
        s.execute(insert(m.Module), [{"id": f"m{i}", "name": f"Module {i:02d}"} for i in range(MODULES)])
        s.execute(
            insert(m.ProgramSession),
            [
                {
                    "id": f"s{i:03d}",
                    "training_id": "t1",
                    "name": f"Session {i}",
                    "starts_at": None,
                    "ends_at": None,
                }
                for i in range(SESSIONS)
            ],
        )
        people = []
        for i in range(users):
            last, first, email = f"Nom{i:07d}", f"Prénom{i % 97}", f"user{i}@example.org"
            people.append(
                {
                    "id": f"u{i}",
                    "email": email,
                    "first_name": first,
                    "last_name": last,
                    "additional_info": "Room 4; floor 2" if i % 3 == 0 else "",
                    "status": "active",
                    "sort_key": person_sort_key(last, first, email),
                    "search_text": person_search_text(last, first, email),
                }
            )
        s.execute(insert(m.User), people)
        s.execute(
            insert(m.UserLabel), [{"user_id": f"u{i}", "label": f"Label, {i % 5}"} for i in range(users)]
        )
        s.execute(
            insert(m.UserField),
            [{"user_id": f"u{i}", "field": "Company", "value": f"Company {i % 50}"} for i in range(users)]
            + [{"user_id": f"u{i}", "field": "Funding", "value": "OPCO Atlas"} for i in range(0, users, 2)],
        )
    start = datetime(2026, 1, 5, 8, 0)
    batch: list[dict] = []
    with db.engine.begin() as connection:
        for n in range(rows):
            user = n % users
            k = n // users
            connected = start + timedelta(minutes=37 * k, seconds=user % 60)
            batch.append(
                {
                    "user_id": f"u{user}",
                    "module_id": f"m{k % MODULES}",
                    "connected_at": connected,
                    "disconnected_at": connected + timedelta(minutes=5 + (n % 40)),
                    "session_id": f"s{user % SESSIONS:03d}",
                }
            )
            if len(batch) == 50_000:
                connection.execute(insert(m.Connection), batch)
                batch = []
        if batch:
            connection.execute(insert(m.Connection), batch)
    db.engine.dispose()
    return time.perf_counter() - started


def measure(folder: str, query: str) -> dict:
    """In a fresh process: sign in, stream the download, report memory, bytes and time."""
    from app import create_app
    from tests.conftest import sign_in

    dash_app = create_app(_config(Path(folder)))
    client = dash_app.server.test_client()
    assert sign_in(client, EMAIL, PASSWORD).status_code == 302
    # Warm up every code path on a tiny export, so the baseline holds the imports and caches.
    warm = client.get("/download/opco-logs?user=u0&" + query, buffered=False)
    for _ in warm.iter_encoded():
        pass
    warm.close()
    gc.collect()
    baseline_kib = _status_kib("VmRSS")
    hwm_reset = _reset_peak()
    sampled = [baseline_kib]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            sampled.append(_status_kib("VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    response = client.get("/download/opco-logs?" + query, buffered=False)
    assert response.status_code == 200, response.get_data(as_text=True)
    total = 0
    for chunk in response.iter_encoded():
        total += len(chunk)
    response.close()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    peak_kib = max(max(sampled), _status_kib("VmHWM") if hwm_reset else 0)
    return {
        "bytes": total,
        "seconds": round(seconds, 1),
        "baseline_rss_mib": round(baseline_kib / 1024, 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "startup_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "kernel_peak": hwm_reset,
    }


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> bool:
    """Reset the kernel's peak RSS (VmHWM) of this process; False when not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def _measure_in_child(folder: Path, query: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "bench.opco", "--measure", str(folder), "--query", query],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"measuring {query!r} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(rows: int, formats: list[str], max_ratio: float) -> int:
    print(f"OPCO logs download: peak memory for {rows:,} rows against {10 * rows:,} rows", flush=True)
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="learnstats-bench-") as tmp:
        folders = {}
        for count in (rows, 10 * rows):
            folder = Path(tmp) / f"rows-{count}"
            folder.mkdir()
            seconds = build_platform(folder, count)
            print(f"  built a platform with {count:,} connections in {seconds:.0f} s", flush=True)
            folders[count] = folder
        for fmt in formats:
            if fmt == "xlsx" and 10 * rows > XLSX_MAX_ROWS:
                print(f"  xlsx: skipped ({10 * rows:,} rows do not fit in one sheet)")
                continue
            query = "format=xlsx" if fmt == "xlsx" else "format=csv"
            small = _measure_in_child(folders[rows], query)
            large = _measure_in_child(folders[10 * rows], query)
            ratio = large["peak_rss_mib"] / small["peak_rss_mib"]
            growth = (large["peak_rss_mib"] - large["baseline_rss_mib"]) - (
                small["peak_rss_mib"] - small["baseline_rss_mib"]
            )
            worst = max(worst, ratio)
            for count, result in ((rows, small), (10 * rows, large)):
                print(
                    f"  {fmt}: {count:>10,} rows  {result['bytes'] / 2**20:8.1f} MiB sent in {result['seconds']:6.1f} s"
                    f"  peak RSS {result['peak_rss_mib']:7.1f} MiB (before the download {result['baseline_rss_mib']:.1f} MiB)"
                )
            print(
                f"  {fmt}: peak RSS ratio 10xN / N = {ratio:.2f}  (extra peak for 10x the rows: {growth:+.1f} MiB)"
            )
    verdict = "flat" if worst <= max_ratio else "NOT flat"
    print(f"Memory is {verdict}: worst ratio {worst:.2f} (limit {max_ratio}).")
    return 0 if worst <= max_ratio else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="N (default 100,000; 10 x N is also run)")
    parser.add_argument("--format", choices=("csv", "xlsx", "both"), default="both")
    parser.add_argument("--max-ratio", type=float, default=1.5)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--query", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.query)))
        return 0
    formats = ["csv", "xlsx"] if args.format == "both" else [args.format]
    return run(args.rows, formats, args.max_ratio)


if __name__ == "__main__":
    sys.exit(main())
