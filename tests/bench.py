"""`make bench`: the project's benchmarks (not part of the test suite).

    python -m tests.bench figures [--learners N] [--repeat R] [--max-ratio X]
    python -m tests.bench opco [--rows N] [--format csv|xlsx|both] [--max-ratio R]
    python -m tests.bench            (both, with their defaults)

figures: tests/bench_figures.py, the time of the figures behind the pages for N and 10 x N
learners. opco: tests/bench_opco.py, the peak memory of streaming the OPCO logs for N and
10 x N rows. Each compares ratios measured within one run (timings here are noisy).
"""

from __future__ import annotations

import sys

from tests import bench_figures, bench_opco


def main(argv: list[str]) -> int:
    if argv and argv[0] == "figures":
        return bench_figures.main(argv[1:])
    if argv and argv[0] == "opco":
        return bench_opco.main(argv[1:])
    if argv:
        print(__doc__)
        return 2
    return bench_figures.main([]) or bench_opco.main([])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
