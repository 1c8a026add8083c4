"""Speed of the figures engine as the platform grows (part of `make bench`, not of the tests).

Builds two demo platforms, N and 10 x N learners, in temporary SQLite files, then times the
functions behind the pages on each: the largest training's status summary, a sorted page of its
results table, its content table, the global trainings table and the three charts over 30 days.
Timings on a shared machine are noisy, so the verdict compares ratios measured in one run: each
function's 10 x N time over its N time must stay under --max-ratio (linear growth gives about 10;
a quadratic plan gives about 100).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from data.db import Database
from data.demo import generate_demo_data
from data.figures.cards import active_users_series, completions_series, progress_series, status_summary
from data.figures.days import today_in
from data.figures.population import ALL, Population
from data.figures.tables import training_content, training_results, trainings_table
from data.models import TrainingLearner
from data.scope import global_scope

TZ = ZoneInfo("Europe/Paris")


def _platform(folder: Path, learners: int) -> Database:
    db = Database(f"sqlite:///{folder / f'bench-{learners}.sqlite3'}")
    db.migrate()
    started = time.perf_counter()
    generate_demo_data(db, learners=learners, seed=7, tz=TZ)
    print(f"  demo platform of {learners:,} learners built in {time.perf_counter() - started:.1f} s")
    return db


def _timings(db: Database, repeat: int) -> dict[str, float]:
    scope = global_scope()
    today = today_in(TZ)
    start = today - timedelta(days=29)
    with db.session() as s:
        biggest, size = s.execute(
            select(TrainingLearner.training_id, func.count())
            .group_by(TrainingLearner.training_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        print(f"  largest training: {biggest} with {size:,} learners")
        one = Population(training_id=biggest)
        cases = {
            "status summary (training)": lambda: status_summary(s, scope, one, TZ),
            "results page sorted by score": lambda: training_results(
                s, scope, one, TZ, sort=[("score", False)], limit=25
            ),
            "training content": lambda: training_content(s, scope, one, TZ),
            "trainings table (global)": lambda: trainings_table(s, scope, ALL, TZ),
            "active users, 30 days": lambda: active_users_series(s, scope, ALL, TZ, start, today),
            "progress over time, 30 days": lambda: progress_series(s, scope, ALL, TZ, start, today),
            "completions over time, 30 days": lambda: completions_series(s, scope, ALL, TZ, start, today),
        }
        out = {}
        for name, run in cases.items():
            best = float("inf")
            for _ in range(repeat):
                began = time.perf_counter()
                run()
                best = min(best, time.perf_counter() - began)
            out[name] = best
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=1000, help="N (the second platform has 10 x N)")
    parser.add_argument("--repeat", type=int, default=3, help="best of R runs per function")
    parser.add_argument("--max-ratio", type=float, default=25.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="learnstats-bench-") as tmp:
        folder = Path(tmp)
        print(f"Figures engine, {args.learners:,} vs {10 * args.learners:,} learners (SQLite)")
        small = _timings(_platform(folder, args.learners), args.repeat)
        large = _timings(_platform(folder, 10 * args.learners), args.repeat)
    failed = False
    print(f"  {'function':34} {'N':>9} {'10 x N':>9} {'ratio':>7}")
    for name in small:
        ratio = large[name] / max(small[name], 1e-6)
        flag = "" if ratio <= args.max_ratio else "  <-- grows faster than linear"
        failed |= bool(flag)
        print(f"  {name:34} {small[name]:8.3f}s {large[name]:8.3f}s {ratio:7.1f}{flag}")
    print("FAILED" if failed else "OK: every function grows about linearly")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
