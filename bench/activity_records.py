"""Benchmark of the compliance files of a session (issue 19): the relevés individuels
d'activité of a 500-learner session as one ZIP, and its feuille d'émargement (XLSX and PDF),
each through the real command (`flask --app app export-activity-records` / `export-attendance`),
timed end to end (process start included). The platform is bench/attestations.py's (one
training of 6 modules, one session, 12 connections per learner spread over half-days, one
finished evaluation attempt per module), plus two tutor contacts per learner.

    python -m bench activity-records [--learners 500] [--connections 12] [--repeat 3]

Target (issue 19): a 500-learner session's relevés in at most 60 s on this machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

from bench.attestations import ROOT, build_platform

TARGET_SECONDS = 60.0


def add_tutor_contacts(folder: Path, learners: int) -> None:
    from sqlalchemy import create_engine, insert

    from data import models as m

    engine = create_engine(f"sqlite:///{folder / 'bench.sqlite3'}")
    rows = [
        {
            "user_id": f"u{i}",
            "session_id": "S500",
            "contacted_at": datetime(2026, 10, 7, 8) + timedelta(days=k * 5, minutes=i),
            "tutor": "Inès Tutrice",
            "channel": ("phone", "visio")[k],
            "duration_minutes": 15 + k * 10,
            "subject": "Point d'étape « module 2 »" if k else "Relance",
        }
        for i in range(learners)
        for k in range(2)
    ]
    with engine.begin() as connection:
        connection.execute(insert(m.TutorContact), rows)
    engine.dispose()


def run(folder: Path, *args: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and its worker processes)."""
    env = {
        **os.environ,
        "LEARNSTATS_INSTANCE": str(folder / "instance"),
        "LEARNSTATS_DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "LEARNSTATS_SECRET_KEY": "bench-secret",
        "LEARNSTATS_TIMEZONE": "Europe/Paris",
    }
    command = [sys.executable, "-m", "flask", "--app", "app", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench activity-records")
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--connections", type=int, default=12, help="per learner")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-records-") as directory:
        folder = Path(directory)
        built = build_platform(folder, args.learners, args.connections)
        add_tutor_contacts(folder, args.learners)
        print(
            f"Platform: 1 session, {args.learners} learners x {args.connections} connections, built in {built:.1f} s"
        )
        times, cpus = [], []
        cores = len(os.sched_getaffinity(0))
        documents = 0
        for number in range(args.repeat):
            out = folder / f"run{number}.zip"
            wall, cpu = run(
                folder,
                "export-activity-records",
                "--session",
                "S500",
                "--out",
                str(out),
                "--signed-on",
                "2026-11-30",
            )
            times.append(wall)
            cpus.append(cpu)
            documents = len(zipfile.ZipFile(out).namelist())
            print(
                f"  run {number + 1}: {documents} relevés in {wall:.1f} s ({documents / wall:.1f}/s), "
                f"CPU {cpu:.1f} s, ZIP {out.stat().st_size / 1024 / 1024:.1f} MiB"
            )
        for suffix in ("xlsx", "pdf"):
            out = folder / f"emargement.{suffix}"
            wall, cpu = run(
                folder,
                "export-attendance",
                "--session",
                "S500",
                "--out",
                str(out),
                "--signed-on",
                "2026-11-30",
            )
            print(
                f"  attendance sheet {suffix.upper()}: {wall:.1f} s (CPU {cpu:.1f} s), {out.stat().st_size / 1024:.0f} KiB"
            )
        median = statistics.median(times)
        load = os.getloadavg()[0]
        verdict = "meets" if median <= TARGET_SECONDS else "MISSES"
        print(
            f"Relevés d'activité: {documents} documents, median {median:.1f} s (best {min(times):.1f} s), "
            f"{documents / median:.1f} documents/s; {verdict} the target (<= {TARGET_SECONDS:.0f} s). "
            f"CPU {statistics.median(cpus):.1f} s on {cores} core(s) (load average now {load:.1f})."
        )
        return 0 if median <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
