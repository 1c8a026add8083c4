"""`make bench`: the project's benchmarks (not part of the test suite).

    python -m tests.bench [--rows N] [--format csv|xlsx|both] [--max-ratio R]

Runs tests/bench_opco.py: peak memory of streaming the OPCO logs for N rows against 10 x N rows.
"""

from __future__ import annotations

import sys

from tests.bench_opco import main

if __name__ == "__main__":
    sys.exit(main())
