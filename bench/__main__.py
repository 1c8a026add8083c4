"""`make bench`: the project's benchmarks (apart from the test suite: docs/decisions.md).

    python -m bench [app] [options]           the whole app, served for real (bench/app.py):
                                              BENCH_LEARNERS learners (default 100,000); `make bench`
    python -m bench serve [--learners N] [--workers W] [--users U] [--seconds S]
                                              the 20-manager run against `make serve` (gunicorn
                                              workers, PostgreSQL, Redis): bench/serve.py
    python -m bench figures [--learners N] [--repeat R] [--max-ratio X]
    python -m bench opco [--rows N] [--format csv|xlsx|both] [--max-ratio R]
    python -m bench attestations [--learners 500] [--repeat 3]

app: callbacks timed cold and warm through /_dash-update-component, a naive pandas baseline,
a 1,000,000-row import, the OPCO logs export, 20 concurrent managers and the server's memory,
checked against issue 8's targets (see docs/performance.md). figures: bench/figures.py,
the figures engine on N and 10 x N learners. opco: bench/opco.py, the peak memory of the
"Download now" route for N and 10 x N rows. attestations: bench/attestations.py, a
500-learner session's attestations and certificats as one ZIP (`make bench` runs it after app).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv and not argv[0].startswith("-") else ("app", argv)
    if command == "app":
        from bench import app, attestations

        status = app.main(rest)
        return attestations.main([]) or status
    if command == "attestations":
        from bench import attestations

        return attestations.main(rest)
    if command == "serve":
        from bench import serve

        return serve.main(rest)
    if command == "figures":
        from bench import figures

        return figures.main(rest)
    if command == "opco":
        from bench import opco

        return opco.main(rest)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
