"""`make bench`: the project's benchmarks (apart from the test suite: docs/decisions.md).

    python -m bench [app] [options]           the whole app, served for real (bench/app.py):
                                              BENCH_LEARNERS learners (default 100,000); `make bench`
    python -m bench serve [--learners N] [--workers W] [--users U] [--seconds S]
                                              the 20-manager run against `make serve` (gunicorn
                                              workers, PostgreSQL, Redis): bench/serve.py
    python -m bench figures [--learners N] [--repeat R] [--max-ratio X]
    python -m bench opco [--rows N] [--format csv|xlsx|both] [--max-ratio R]
    python -m bench attestations [--learners 500] [--repeat 3]
    python -m bench activity-records [--learners 500] [--repeat 3]
                                              a 500-learner session's relevés d'activité as one
                                              ZIP, and its attendance sheet (bench/activity_records.py;
                                              target <= 60 s)
    python -m bench bpf [--learners N] [--repeat 3]
                                              the BPF's cadre F-1 for a year of the platform
                                              (bench/bpf.py; target <= 2 s at 100,000 learners)
    python -m bench import [--learners N] [--rows R] [--statements S] [--skip bundle,xapi,pages]
                                              issue 17's speed figures: import-bundle of 1,000,000
                                              connections, import-xapi of 1,000,000 statements, the
                                              page callbacks cold after them (bench/imports.py)
    python -m bench class-page [--learners 300] [--repeat 5] [--max-seconds 1.5]
                                              the class page's settle time in headless Chromium,
                                              sections drawn at once (before) and when opened
                                              (after), alternately in one run (bench/class_page.py)
    python -m bench duckdb [--learners N] [--repeat 3]
                                              the DuckDB baseline alone: the raw tables copied
                                              into its memory, the global page's figures in one
                                              SQL script (bench/duckdb_baseline.py; `app` runs it
                                              too and reports each callback's ratio to it)
    python -m bench xapi-gen --db FILE --statements N --out FILE.jsonl.gz
                                              the benchmark's xAPI statements (bench/xapi_gen.py)

app: `--skip` takes bench/app.py's parts (cold, warm, naive, import, export, load, ...) and the
benchmarks run after it (attestations, activity-records, bpf).
Callbacks timed cold and warm through /_dash-update-component, a naive pandas baseline,
the DuckDB baseline (issue 22: each callback's cold p95 against it),
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
        from bench import app, attestations, imports

        skipped = _skipped(rest)
        status = app.main(_without_parts(rest, AFTER_APP))
        if "import" not in skipped:  # issue 17's imports and the pages after them
            learners = [f"--learners={v}" for v in _values(rest, "--learners")]
            status = imports.main(learners) or status
        if "attestations" not in skipped:
            status = attestations.main([]) or status
        if "activity-records" not in skipped:
            from bench import activity_records

            status = activity_records.main([]) or status
        if "bpf" in skipped:
            return status
        from bench import bpf

        return bpf.main([f"--learners={v}" for v in _values(rest, "--learners")]) or status
    if command == "attestations":
        from bench import attestations

        return attestations.main(rest)
    if command == "activity-records":
        from bench import activity_records

        return activity_records.main(rest)
    if command == "bpf":
        from bench import bpf

        return bpf.main(rest)
    if command == "serve":
        from bench import serve

        return serve.main(rest)
    if command == "figures":
        from bench import figures

        return figures.main(rest)
    if command == "import":
        from bench import imports

        return imports.main(rest)
    if command == "class-page":
        from bench import class_page

        return class_page.main(rest)
    if command == "duckdb":
        from bench import duckdb_baseline

        return duckdb_baseline.main(rest)
    if command == "xapi-gen":
        from bench import xapi_gen

        return xapi_gen.main(rest)
    if command == "opco":
        from bench import opco

        return opco.main(rest)
    print(__doc__)
    return 2


def _values(argv: list[str], option: str) -> list[str]:
    """The values given to an option, as --option V or --option=V."""
    found = []
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif arg.startswith(option + "="):
            found.append(arg.split("=", 1)[1])
    return found


def _skipped(argv: list[str]) -> set[str]:
    return {part.strip() for value in _values(argv, "--skip") for part in value.split(",")}


# The parts `make bench` runs after the app's (bench/app.py knows nothing of them): --skip
# takes them too, e.g. --skip attestations,activity-records,bpf for the page timings alone.
AFTER_APP = ("attestations", "activity-records", "bpf")


def _without_parts(argv: list[str], parts: tuple[str, ...]) -> list[str]:
    """argv with `parts` taken out of its --skip values (an emptied --skip dropped)."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--skip" or arg.startswith("--skip="):
            value = next(args, "") if arg == "--skip" else arg.split("=", 1)[1]
            kept = ",".join(p.strip() for p in value.split(",") if p.strip() and p.strip() not in parts)
            if kept:
                out.append(f"--skip={kept}")
            continue
        out.append(arg)
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
