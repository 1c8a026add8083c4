"""Benchmark of the OPCO attestations (issue 9): one session of N learners who all played it,
every document (attestation and certificat per learner) written as one ZIP through the real
command, `flask --app app export-attestations`, timed end to end (process start included).

    python -m bench attestations [--learners 500] [--connections 12] [--repeat 3]

Target (issue 9): a 500-learner session's whole ZIP in under 60 s on this machine.
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

from bench.opco import _config
from data.config import settings_of

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 60.0
MODULES = 6


def build_platform(folder: Path, learners: int, connections: int) -> float:
    """A training of MODULES modules, one session, `learners` players with `connections`
    connections each and one attempt per module; returns the seconds it took."""
    from sqlalchemy import insert

    from app import create_app
    from data import models as m
    from data.summaries import rebuild
    from data.text import person_search_text, person_sort_key
    from exports.attestation_options import save_demo_defaults

    started = time.perf_counter()
    dash_app = create_app(_config(folder))
    db = dash_app.server.extensions["learnstats_db"]
    db.migrate()
    first_names = ("Élodie", "Maël", "Chloé", "Jérôme", "Anaïs", "Loïc", "Hélène", "Noémie", "François")
    with db.session() as s:
        s.execute(insert(m.Training), [{"id": "t1", "name": "Sécurité incendie et évacuation"}])
        s.execute(
            insert(m.Module),
            [{"id": f"m{i}", "name": f"Module {i + 1} — prévention et consignes"} for i in range(MODULES)],
        )
        s.execute(
            insert(m.TrainingModule),
            [
                {"training_id": "t1", "module_id": f"m{i}", "position": i, "mandatory": True, "min_score": 50}
                for i in range(MODULES)
            ],
        )
        s.execute(
            insert(m.Activity),
            [
                {"id": f"a{i}", "module_id": f"m{i}", "name": "Quiz", "max_score": 10, "position": 1}
                for i in range(MODULES)
            ],
        )
        s.execute(
            insert(m.ProgramSession),
            [
                {
                    "id": "S500",
                    "training_id": "t1",
                    "name": "Session de 500",
                    "starts_at": datetime(2026, 10, 5, 7),
                    "ends_at": datetime(2026, 10, 30, 16),
                }
            ],
        )
        people = []
        for i in range(learners):
            last, first, email = (
                f"Lefèvre-{i:04d}",
                first_names[i % len(first_names)],
                f"learner{i}@example.org",
            )
            people.append(
                {
                    "id": f"u{i}",
                    "email": email,
                    "first_name": first,
                    "last_name": last,
                    "status": "active",
                    "sort_key": person_sort_key(last, first, email),
                    "search_text": person_search_text(last, first, email),
                }
            )
        s.execute(insert(m.User), people)
        s.execute(
            insert(m.Enrollment),
            [
                {"user_id": f"u{i}", "training_id": "t1", "enrolled_at": datetime(2026, 10, 1)}
                for i in range(learners)
            ],
        )
        s.execute(
            insert(m.SessionLearner), [{"session_id": "S500", "user_id": f"u{i}"} for i in range(learners)]
        )
        rows, attempts, answers = [], [], []
        for i in range(learners):
            for k in range(connections):
                begin = datetime(2026, 10, 5, 7) + timedelta(hours=11 * k, minutes=i % 50)
                rows.append(
                    {
                        "user_id": f"u{i}",
                        "module_id": f"m{k % MODULES}",
                        "connected_at": begin,
                        "disconnected_at": begin + timedelta(minutes=20 + (i + k) % 40),
                        "session_id": "S500",
                    }
                )
            for k in range(MODULES):
                attempts.append(
                    {
                        "id": f"at{i}-{k}",
                        "user_id": f"u{i}",
                        "training_id": "t1",
                        "module_id": f"m{k}",
                        "started_at": datetime(2026, 10, 6),
                        "finished_at": datetime(2026, 10, 6, 1),
                    }
                )
                answers.append(
                    {
                        "attempt_id": f"at{i}-{k}",
                        "activity_id": f"a{k}",
                        "score": (i + k) % 11,
                        "evaluated": True,
                    }
                )
        s.execute(insert(m.Connection), rows)
        s.execute(insert(m.Attempt), attempts)
        s.execute(insert(m.Answer), answers)
        from data.enrollments import refresh_training_learners

        refresh_training_learners(s)
        rebuild(s, settings_of(dash_app.server).tz)
        save_demo_defaults(s, datetime(2026, 11, 30))
        s.commit()
    db.engine.dispose()
    return time.perf_counter() - started


def export_once(folder: Path, out: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and its worker processes)."""
    env = {
        **os.environ,
        "LEARNSTATS_INSTANCE": str(folder / "instance"),
        "LEARNSTATS_DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "LEARNSTATS_SECRET_KEY": "bench-secret",
        "LEARNSTATS_TIMEZONE": "Europe/Paris",
    }
    command = [
        sys.executable, "-m", "flask", "--app", "app", "export-attestations", "--session", "S500",
        "--out", str(out), "--kind", "both", "--signed-on", "2026-11-30",
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench attestations")
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--connections", type=int, default=12, help="per learner")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-attestations-") as directory:
        folder = Path(directory)
        built = build_platform(folder, args.learners, args.connections)
        print(
            f"Platform: 1 session, {args.learners} players x {args.connections} connections, built in {built:.1f} s"
        )
        times, cpus = [], []
        cores = len(os.sched_getaffinity(0))
        for run in range(args.repeat):
            out = folder / f"run{run}.zip"
            wall, cpu = export_once(folder, out)
            times.append(wall)
            cpus.append(cpu)
            documents = len(zipfile.ZipFile(out).namelist())
            size = out.stat().st_size / 1024 / 1024
            print(
                f"  run {run + 1}: {documents} documents in {wall:.1f} s ({documents / wall:.1f} documents/s), "
                f"CPU {cpu:.1f} s ({documents / cpu:.1f} documents per CPU second), ZIP {size:.1f} MiB"
            )
        best, median = min(times), statistics.median(times)
        cpu = statistics.median(cpus)
        load = os.getloadavg()[0]
        verdict = "meets" if median < TARGET_SECONDS else "MISSES"
        print(
            f"Attestations: {documents} documents, median {median:.1f} s (best {best:.1f} s), "
            f"{documents / median:.1f} documents/s; {verdict} the target (whole ZIP < {TARGET_SECONDS:.0f} s). "
            f"CPU {cpu:.1f} s on {cores} core(s): {cpu / cores:.1f} s of wall time on an idle machine "
            f"(load average now {load:.1f})."
        )
        return 0 if median < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
