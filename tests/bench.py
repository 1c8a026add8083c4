"""`make bench`: the project's benchmarks (not part of the test suite).

    python -m tests.bench [app] [options]     the whole app, served for real (tests/bench_app.py):
                                              BENCH_LEARNERS learners (default 100,000); `make bench`
    python -m tests.bench serve [--learners N] [--workers W] [--users U] [--seconds S]
                                              the 20-manager run against `make serve` (gunicorn
                                              workers, PostgreSQL, Redis): tests/bench_serve.py
    python -m tests.bench figures [--learners N] [--repeat R] [--max-ratio X]
    python -m tests.bench opco [--rows N] [--format csv|xlsx|both] [--max-ratio R]
    python -m tests.bench attestations [--learners 500] [--repeat 3]

app: callbacks timed cold and warm through /_dash-update-component, a naive pandas baseline,
a 1,000,000-row import, the OPCO logs export, 20 concurrent managers and the server's memory,
checked against issue 8's targets (see docs/performance.md). figures: tests/bench_figures.py,
the figures engine on N and 10 x N learners. opco: tests/bench_opco.py, the peak memory of the
"Download now" route for N and 10 x N rows. attestations: tests/bench_attestations.py, a
500-learner session's attestations and certificats as one ZIP (`make bench` runs it after app).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv and not argv[0].startswith("-") else ("app", argv)
    if command == "app":
        from tests import bench_app, bench_attestations

        status = bench_app.main(rest)
        return bench_attestations.main([]) or status
    if command == "attestations":
        from tests import bench_attestations

        return bench_attestations.main(rest)
    if command == "serve":
        from tests import bench_serve

        return bench_serve.main(rest)
    if command == "figures":
        from tests import bench_figures

        return bench_figures.main(rest)
    if command == "opco":
        from tests import bench_opco

        return bench_opco.main(rest)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
