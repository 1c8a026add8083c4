"""`make bench BENCH_ARGS="import"`: issue 17's three speed figures against their targets.

    python -m bench import [--learners N] [--rows R] [--statements S] [--repeat K] [--skip bundle,xapi,pages]
                           [--compare REF [--compare-statements C]]

On a copy of the demo platform of N learners (bench/app.py, built once under instance/bench/):

1. `flask --app app import-bundle DIR` of R (1,000,000) new connections: rows/s over the
   command's wall time (start-up included), its CPU time, peak RSS (GNU time's %M) and the
   summed RSS of its process tree (psutil); a check that exactly R rows were added.
2. `flask --app app import-xapi FILE` of S (1,000,000) statements from bench/xapi_gen.py
   (cmi5/LMS verbs over the platform's learners and trainings; the file is made once and kept
   under instance/bench/), validation included: statements/s, CPU, peak RSS the same way.
3. Every page callback's cold p95 after these imports: the real app (`python app.py`,
   LEARNSTATS_CACHE=null) on the imported copy, the admin's and the managers' pages recorded
   and replayed K times each as in `make bench` (bench/app.py).

With --compare REF: first, import-xapi of C (20,000) statements by the code at git REF (e.g.
main before a change; `git archive` into instance/bench/code-REF/; or the code in folder REF)
and by this checkout, both at
once on two copies of the platform (the same load for both): wall, CPU, peak RSS and the ratio.
It stops with a message (exit status 1) when the code at REF lacks the platform's migration
(e.g. a commit before ef445a4 on a platform at 0013) or when either side's import fails.

CPU is the whole process tree's (the command's, its forkserver's and its validation workers':
each one's last seen, psutil), not only what wait4 reaps.

Targets (issue 17 point 6): import-bundle >= 50,000 rows/s and import-xapi >= 5,000
statements/s, each with a peak RSS < 1 GB; every callback p95 <= 300 ms cold. The report goes
to the terminal and to instance/bench/report-import-<N>.md; exit status 1 when a target is
missed or a command fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

from bench import app as b
from bench import xapi_gen

TARGET_BUNDLE_ROWS_S = 50_000
TARGET_XAPI_STATEMENTS_S = 5_000
TARGET_PEAK_MIB = 1000  # "< 1 GB"
PARTS = ("bundle", "xapi", "pages")
COUNTED = ("connections", "xapi_statements", "attempts", "answers", "logins")


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        have = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED if t in have}


def _load() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def bundle_import(copy: Path, rows: int, work: Path) -> dict:
    folder = work / "bundle"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    before = b.write_connections(copy, folder / "connections.csv", rows)
    b.log(f"import-bundle: {rows:,} connections (load average {_load()}) ...")
    load = _load()
    result = b.run_measured([*b.FLASK, "import-bundle", str(folder)], b.app_env(copy))
    after = _counts(copy)["connections"]
    shutil.rmtree(folder, ignore_errors=True)
    return {"rows": rows, "added": after - before, "rate": rows / result["seconds"], "load": load, **result}


def xapi_source(platform: Path, statements: int, seed: int) -> Path:
    source = b.BENCH_DIR / f"xapi-{statements}-{platform.stem}.jsonl.gz"
    if not source.exists():
        b.log(f"generating {statements:,} xAPI statements into {source.name} ...")
        xapi_gen.generate(platform, source, statements, seed)
    return source


def xapi_import(copy: Path, platform: Path, statements: int, seed: int) -> dict:
    source = xapi_source(platform, statements, seed)
    before = _counts(copy).get("xapi_statements", 0)
    b.log(f"import-xapi: {statements:,} statements (load average {_load()}) ...")
    load = _load()
    result = b.run_measured([*b.FLASK, "import-xapi", str(source)], b.app_env(copy))
    after = _counts(copy).get("xapi_statements", 0)
    return {"statements": statements, "added": after - before, "rate": statements / result["seconds"],
            "load": load, "file_mib": source.stat().st_size / 2**20, **result}  # fmt: skip


def code_at(ref: str) -> tuple[str, Path]:
    """(commit, a folder holding the repository's files at it), made once per commit; a
    folder given as REF is used as it is (e.g. a checkout of main with a change reverted)."""
    if Path(ref).is_dir():
        return Path(ref).name, Path(ref)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=b.ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    folder = b.BENCH_DIR / f"code-{commit}"
    if not (folder / "app.py").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", commit], cwd=b.ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return commit, folder


def _revision(db: Path) -> str | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def _knows_revision(folder: Path, revision: str) -> bool:
    """Whether the code in folder has the migration the platform is at (its `flask migrate`
    would otherwise stop: alembic cannot find the revision)."""
    versions = folder / "data" / "migrations" / "versions"
    wanted = (f'revision = "{revision}"', f"revision = '{revision}'")
    return any(
        any(line.strip() in wanted for line in path.read_text(encoding="utf-8").splitlines())
        for path in versions.glob("*.py")
    )


def xapi_compare(platform: Path, work: Path, ref: str, statements: int, seed: int) -> dict:
    """import-xapi of the same file by the code at ref and by this checkout, at the same time.
    Stops (SystemExit) when the code at ref does not know the platform's migration, or when
    either side's import fails: a comparison with a failed side means nothing."""
    commit, folder = code_at(ref)
    revision = _revision(platform)
    if revision is not None and not _knows_revision(folder, revision):
        raise SystemExit(
            f"--compare {ref}: the code at {commit} does not know migration {revision}, where "
            f"{platform.name} is (its import would fail at start-up). Compare with a later commit, "
            "or with a folder holding a checkout of a later main with the change reverted."
        )
    source = xapi_source(platform, statements, seed)
    sides = {f"before ({commit})": folder, "after (this checkout)": b.ROOT}
    copies = {}
    for i, name in enumerate(sides):
        copies[name] = work / f"compare-{i}.sqlite3"
        b.copy_database(platform, copies[name])
    b.log(
        f"import-xapi of {statements:,} statements, {commit} and this checkout at once (load {_load()}) ..."
    )
    load = _load()
    results: dict[str, dict] = {}
    base = _counts(platform).get("xapi_statements", 0)

    def run(name: str) -> None:
        command = [*b.FLASK, "import-xapi", str(source)]
        results[name] = b.run_measured(command, b.app_env(copies[name]), cwd=sides[name])
        results[name]["added"] = _counts(copies[name]).get("xapi_statements", 0) - base

    threads = [threading.Thread(target=run, args=(name,)) for name in sides]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [name for name, r in results.items() if r["rc"] != 0 or r["added"] != statements]
    if failed:
        raise SystemExit(
            "--compare: import-xapi failed or kept too few statements for "
            + "; ".join(
                f"{name} (exit status {results[name]['rc']}, {results[name]['added']:,} of "
                f"{statements:,} kept): {results[name]['output'][-1500:]}"
                for name in failed
            )
        )
    return {"statements": statements, "load": load, "load_end": _load(), "sides": results}


def pages_cold(copy: Path, repeat: int, budget: float) -> dict:
    targets = b.pick_targets(copy)
    today = datetime.now(b.TZ).date()
    server = b.Server(copy, "null", "cold-after-import")
    try:
        calls, untouched = b.record_admin(server.base, targets, today)
        for role in ("training manager", "class manager"):
            calls += b.record_manager(server.base, role, targets)
        timings = b.time_calls(server.base, calls, repeat, False, budget, "cold")
    finally:
        server.stop()
    rows = [(call, t) for call, t in zip(calls, timings, strict=True) if call.kind != "download"]
    return {"rows": rows, "untouched": untouched}


def report(ctx: dict) -> tuple[str, bool]:
    lines = [
        f"### Imports and pages after them, {ctx['learners']:,} learners ({ctx['when']} UTC)",
        "",
        f"Machine: {b.machine()}. Load average at the start: {ctx['load_start']}; at the end: {_load()}.",
        "",
        "| command | amount | wall | CPU (user + sys, process tree) | rate over wall | peak RSS | tree peak RSS | load avg (1, 5, 15 min) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    verdicts = []
    ok_all = True
    for key, unit, target in (
        ("bundle", "rows", TARGET_BUNDLE_ROWS_S),
        ("xapi", "statements", TARGET_XAPI_STATEMENTS_S),
    ):
        r = ctx.get(key)
        if not r:
            continue
        amount = r["rows"] if key == "bundle" else r["statements"]
        name = "import-bundle (connections.csv)" if key == "bundle" else "import-xapi (.jsonl.gz)"
        lines.append(
            f"| {name} | {amount:,} {unit} | {r['seconds']:.1f} s | {r.get('tree_cpu_s', r['cpu_s']):.1f} s | {r['rate']:,.0f} {unit}/s "
            f"| {r['peak_mib']:.0f} MiB | {r['tree_peak_mib']:.0f} MiB | {r['load']} |"
        )
        good = r["rc"] == 0 and r["added"] == amount
        peak = max(r["peak_mib"], r["tree_peak_mib"])
        rate_ok = good and r["rate"] >= target
        mem_ok = good and peak < TARGET_PEAK_MIB
        ok_all &= rate_ok and mem_ok
        added = "" if good else f" (exit status {r['rc']}, {r['added']:,} added)"
        verdicts.append((f"{name} ≥ {target:,} {unit}/s", f"{r['rate']:,.0f} {unit}/s{added}", rate_ok))
        verdicts.append(
            (f"{name} peak RSS < 1 GB", f"{peak:.0f} MiB (largest of the process and its tree)", mem_ok)
        )
    pages = ctx.get("pages")
    if pages:
        rows = pages["rows"]
        worst = max(rows, key=lambda r: r[1].pct(0.95) or 0)
        over = [r for r in rows if (r[1].pct(0.95) or 0) > b.TARGET_COLD_MS / 1000]
        errors = sum(t.errors for _, t in rows)
        ok = not over and not errors
        ok_all &= ok
        verdicts.append(
            (
                f"every callback p95 ≤ {b.TARGET_COLD_MS} ms cold after the imports",
                f"slowest {b._ms(worst[1].pct(0.95))} ms ({worst[0].page} / {worst[0].name}); "
                f"{len(over)} of {len(rows)} over; {errors} error(s)",
                ok,
            )
        )
    compare = ctx.get("compare")
    if compare:
        n = compare["statements"]
        lines += ["", f"import-xapi of {n:,} statements, before and after at the same time (load "
                  f"{compare['load']} -> {compare['load_end']}):", "",
                  "| code | wall | CPU (process tree) | CPU per statement | statements/s | peak RSS | tree peak RSS | exit |",
                  "|---|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
        for name, r in sorted(compare["sides"].items(), reverse=True):  # before, then after
            cpu = r["tree_cpu_s"]
            lines.append(
                f"| {name} | {r['seconds']:.1f} s | {cpu:.1f} s | {cpu / n * 1e6:,.0f} µs | {n / r['seconds']:,.0f} "
                f"| {r['peak_mib']:.0f} MiB | {r['tree_peak_mib']:.0f} MiB | {r['rc']} ({r['added']:,} kept) |"
            )
        before, after = (compare["sides"][name] for name in sorted(compare["sides"], reverse=True))
        lines += ["", f"Ratio before / after: wall {before['seconds'] / after['seconds']:.2f}x, "
                  f"CPU {before['tree_cpu_s'] / max(after['tree_cpu_s'], 1e-9):.2f}x."]  # fmt: skip
    lines += ["", "| target (issue 17) | measured | |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {b._mark(ok)} |" for t, m, ok in verdicts]
    if pages:
        lines += ["", "Cold p95 of each page callback after the imports (ms):", "",
                  "| page | callback | kind | p50 | p95 | n |", "|---|---|---|---:|---:|---:|"]  # fmt: skip
        for call, t in pages["rows"]:
            lines.append(
                f"| {call.page} | {call.name} | {call.kind} | {b._ms(t.pct(0.5))} | {b._ms(t.pct(0.95))} | {len(t.samples)} |"
            )
    for key in ("bundle", "xapi"):
        if ctx.get(key) and ctx[key]["rc"] != 0:
            lines += ["", f"{key} output (end):", "", "```", ctx[key]["output"][-2000:], "```"]
    return "\n".join(lines), ok_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=int(os.environ.get("BENCH_LEARNERS", "100000")))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rows", type=int, default=1_000_000, help="connections in the bundle")
    parser.add_argument("--statements", type=int, default=1_000_000, help="xAPI statements")
    parser.add_argument("--repeat", type=int, default=10, help="timed requests per callback (default 10)")
    parser.add_argument(
        "--budget", type=float, default=60.0, help="seconds per callback before fewer samples"
    )
    parser.add_argument(
        "--compare", metavar="REF", help="also import-xapi a smaller file with the code at git REF"
    )
    parser.add_argument(
        "--compare-statements", type=int, default=20_000, help="statements for --compare (default 20,000)"
    )
    parser.add_argument("--skip", default="", help=f"comma-separated parts to skip: {', '.join(PARTS)}")
    parser.add_argument(
        "--out", type=Path, help="markdown report (default instance/bench/report-import-<N>.md)"
    )
    args = parser.parse_args(argv)
    skip = {p.strip() for p in args.skip.split(",") if p.strip()}
    if skip - set(PARTS):
        parser.error(f"unknown part(s) to skip: {', '.join(sorted(skip - set(PARTS)))}")

    platform = b.ensure_platform(args.learners, args.seed)
    work = b.BENCH_DIR / "imports"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    copy = work / "copy.sqlite3"
    b.copy_database(platform, copy)
    ctx: dict = {
        "learners": args.learners,
        "when": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "load_start": _load(),
    }
    try:
        if args.compare:
            ctx["compare"] = xapi_compare(platform, work, args.compare, args.compare_statements, args.seed)
            for path in work.glob("compare-*"):
                path.unlink()
        if "bundle" not in skip:
            ctx["bundle"] = bundle_import(copy, args.rows, work)
            b.log(
                f"import-bundle: {ctx['bundle']['rate']:,.0f} rows/s, peak {ctx['bundle']['peak_mib']:.0f} MiB"
            )
        if "xapi" not in skip:
            ctx["xapi"] = xapi_import(copy, platform, args.statements, args.seed)
            b.log(
                f"import-xapi: {ctx['xapi']['rate']:,.0f} statements/s, peak {ctx['xapi']['peak_mib']:.0f} MiB"
            )
        if "pages" not in skip:
            ctx["pages"] = pages_cold(copy, args.repeat, args.budget)
    finally:
        text, ok = report(ctx)
        out = args.out or b.BENCH_DIR / f"report-import-{args.learners}.md"
        out.write_text(text + "\n", encoding="utf-8")
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(text)
    print(f"(written to {out})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
