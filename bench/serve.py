"""`make bench BENCH_ARGS="serve"`: the 20-manager run against production mode (issue 11 point 4).

    python -m bench serve [--learners N] [--seed S] [--workers W] [--users U] [--seconds S]

What runs, all on 127.0.0.1:
1. **PostgreSQL**: a cluster of its own under instance/bench/pg-<N>-seed<S>/ (the Debian
   binaries; as root through `runuser -u postgres`), kept between runs. The first run fills
   it with `flask --app app demo-data --learners N --seed S` (about 14 min at 100,000 on 2
   shared CPUs); later runs reuse it (delete the folder to rebuild).
2. **Redis**: redis-server on a free port (the shared figures cache and Celery's broker).
3. **`make serve`**: gunicorn with W workers (2) in production mode, on that database and Redis.
4. **Requests**: the same as `make bench`'s concurrent run (bench/app.py): a renderer
   signs in as the admin, the training manager and the class manager and records what the
   global page and the training page (the class page for the class manager) send; each is
   sent once to warm the cache; then U threads (20), each its own signed-in session (7
   admins, 7 training managers, 6 class managers), replay their role's requests in a shuffled
   loop for S seconds (30): throughput, p50, p95, errors.
5. **Report**: printed and written to instance/bench/report-serve-<N>.md with the workers'
   memory, Redis's hits and misses, and the machine.

Every server is stopped at the end (the PostgreSQL cluster too), also after a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.app import (
    ACCOUNTS,
    BENCH_DIR,
    RECORDING_ERRORS,
    TARGET_CONCURRENT_P95_MS,
    concurrent_load,
    log,
    machine,
    pick_targets,
    record_manager,
)
from tests.dash_client import Renderer, sign_in
from tests.postgres import find_pg_bin
from tests.services import BIN, ROOT, Gunicorn, RedisServer, free_port, rss_mib


class BenchPostgres:
    """A kept PostgreSQL cluster for the benchmark's platform."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.bin = find_pg_bin()
        if self.bin is None:
            raise SystemExit(
                "PostgreSQL is not installed: apt-get install postgresql (or make system-test-deps)"
            )
        self.as_postgres = os.geteuid() == 0
        self.port = 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        if check and result.returncode != 0:
            raise SystemExit(f"{args[0]} failed: {result.stdout}{result.stderr}")
        return result

    def running_port(self) -> int | None:
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return None
        if self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode != 0:
            return None
        return int(pid_file.read_text().splitlines()[3])

    def start(self) -> bool:
        """Start (initdb first when new); True when the cluster is new."""
        new = not (self.data / "PG_VERSION").exists()
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        if new:
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                "--locale=C.UTF-8", "--no-sync",
            )  # fmt: skip
        port = self.running_port()
        if port:
            self.port = port
        else:
            self.port = free_port()
            options = (
                f"-h 127.0.0.1 -k {self.root} -p {self.port} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=200 -c shared_buffers=512MB"
            )
            self._run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-o",
                options,
                "start",
            )
        if new:
            import psycopg

            with psycopg.connect(
                host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
            ) as c:
                c.execute("CREATE DATABASE learnstats")
        return new

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/learnstats"

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (clock ticks in /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _env(database: str, redis_url: str, instance: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNSTATS_")}
    env.update(
        LEARNSTATS_ENV="production",
        LEARNSTATS_SECRET_KEY=secrets.token_hex(32),
        LEARNSTATS_DATABASE_URL=database,
        LEARNSTATS_REDIS_URL=redis_url,
        LEARNSTATS_INSTANCE=str(instance),
        # Plain HTTP on loopback (no proxy, no TLS): Secure cookies would never come back.
        LEARNSTATS_SECURE_COOKIES="false",
        # 20 sessions sign in from one address within seconds.
        LEARNSTATS_SIGNIN_LIMIT_ADDRESS="1000 per minute",
        PYTHONUNBUFFERED="1",
    )
    return env


def record(base: str, targets) -> dict[str, list]:
    """The requests of the concurrent run, by role (as bench/app.py's load)."""
    r = Renderer(sign_in(base, *ACCOUNTS["admin"]), base, "admin")
    r.open("global, last 30 days", "/", "?range=last_30_days")
    r.open("training (largest)", f"/training/{targets.training}", "?range=last_30_days")
    RECORDING_ERRORS.extend(r.errors)
    calls = {"admin": [c for c in r.calls if c.kind != "download"]}
    for role in ("training manager", "class manager"):
        calls[role] = [c for c in record_manager(base, role, targets) if c.kind != "download"]
    return calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=int(os.environ.get("BENCH_LEARNERS", "100000")))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    pg = BenchPostgres(BENCH_DIR / f"pg-{args.learners}-seed{args.seed}")
    redis = web = None
    try:
        if pg.start():
            log(f"building a {args.learners:,}-learner platform in PostgreSQL (once; long) ...")
            started = time.perf_counter()
            build = subprocess.run(
                [str(BIN / "flask"), "--app", "app", "demo-data", "--learners", str(args.learners), "--seed", str(args.seed)],
                cwd=ROOT, env={**_env(pg.url, "", BENCH_DIR), "LEARNSTATS_ENV": "development"}, check=False,
            )  # fmt: skip
            if build.returncode != 0:
                shutil.rmtree(pg.data, ignore_errors=True)
                raise SystemExit("demo-data failed; the cluster was removed")
            log(f"built in {time.perf_counter() - started:.0f} s")
        log(f"PostgreSQL on port {pg.port} ({pg.root})")
        targets = pick_targets(pg.url)
        redis = RedisServer(BENCH_DIR / "redis")
        instance = BENCH_DIR / "serve"
        env = _env(pg.url, redis.url(0), instance)
        log(f"make serve: gunicorn with {args.workers} workers ...")
        web = Gunicorn(env, BENCH_DIR / "serve-gunicorn.log", workers=args.workers, timeout=300)
        calls = record(web.base, targets)
        n_calls = sum(len(c) for c in calls.values())
        log(
            f"{n_calls} requests recorded ({', '.join(f'{k}: {len(v)}' for k, v in calls.items())}); warming ..."
        )
        warm = {role: sign_in(web.base, *ACCOUNTS[role]) for role in calls}
        for role, role_calls in calls.items():
            for call in role_calls:
                warm[role].post(f"{web.base}/_dash-update-component", json=call.body, timeout=600)
        before = redis.stats()
        load_before = os.getloadavg()[0]
        postmaster = int((pg.data / "postmaster.pid").read_text().splitlines()[0])
        groups = {
            "web workers": lambda: web.worker_pids(),
            "PostgreSQL": lambda: [postmaster, *children(postmaster)],
            "Redis": lambda: [redis.pid],
            "load client": lambda: [os.getpid()],
        }
        cpu_before = {name: cpu_seconds(pids()) for name, pids in groups.items()}
        log(f"concurrency: {args.users} managers for {args.seconds:.0f} s ...")
        load = concurrent_load(web.base, calls, args.users, args.seconds)
        after = redis.stats()
        cpu = {name: cpu_seconds(pids()) - cpu_before[name] for name, pids in groups.items()}
        pids = web.worker_pids()
        served = {}
        for record_ in web.access_log():
            served[record_["pid"]] = served.get(record_["pid"], 0) + 1
        report = {
            "learners": args.learners,
            "workers": args.workers,
            "targets": targets.counts,
            "load": load,
            "rss_mib": {pid: round(rss_mib(pid)) for pid in pids},
            "requests_by_worker": {pid: served.get(pid, 0) for pid in pids},
            "redis_hits": after["keyspace_hits"] - before["keyspace_hits"],
            "redis_misses": after["keyspace_misses"] - before["keyspace_misses"],
            "redis_memory_mib": round(redis.client.info("memory")["used_memory"] / 2**20, 1),
            "recording_errors": list(RECORDING_ERRORS),
            "load_average": (round(load_before, 1), round(os.getloadavg()[0], 1)),
            "cpu_seconds": {name: round(value, 1) for name, value in cpu.items()},
        }
    finally:
        for process in (web, redis):
            if process is not None:
                process.stop()
        pg.stop()
    text, ok = build_report(report)
    print(text)
    out = args.out or BENCH_DIR / f"report-serve-{args.learners}.md"
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str))
    log(f"report written to {out}")
    return 0 if ok else 1


def build_report(r: dict) -> tuple[str, bool]:
    load = r["load"]
    ok = (
        load["errors"] == 0
        and not r["recording_errors"]
        and (load["p95"] or 99) * 1000 <= TARGET_CONCURRENT_P95_MS
    )
    ms = lambda s: "–" if s is None else f"{s * 1000:.0f} ms"  # noqa: E731
    lines = [
        f"### Production mode, {r['learners']:,} learners: `make serve` ({r['workers']} gunicorn workers), "
        "PostgreSQL, Redis",
        "",
        f"Machine: {machine()}; load average (1 min) {r['load_average'][0]} before the run, "
        f"{r['load_average'][1]} after (other work on the machine shares its CPUs).",
        "",
        "| managers | seconds | requests | throughput | p50 | p95 | errors |",
        "|---|---|---|---|---|---|---|",
        f"| {load['users']} ({', '.join(f'{n} {k}' for k, n in load['roles'].items())}) | {load['seconds']:.0f} "
        f"| {load['requests']:,} | {load['throughput']:.1f} req/s | {ms(load['p50'])} | {ms(load['p95'])} "
        f"| {load['errors']} |",
        "",
        f"Requests answered per worker: {', '.join(str(n) for n in r['requests_by_worker'].values())}; "
        f"workers' RSS: {', '.join(f'{m} MiB' for m in r['rss_mib'].values())}; Redis during the run: "
        f"{r['redis_hits']:,} hits, {r['redis_misses']:,} misses, {r['redis_memory_mib']} MiB used.",
        "",
        "CPU time during the run (user + system): "
        + ", ".join(
            f"{name} {sec:.1f} s ({1000 * sec / max(load['requests'], 1):.1f} ms per request)"
            for name, sec in r["cpu_seconds"].items()
        )
        + ".",
        "",
        f"Target (issue 8): no error and p95 ≤ {TARGET_CONCURRENT_P95_MS} ms: {'met' if ok else 'MISSED'}.",
    ]
    if load["first_error"]:
        lines += ["", f"First error: `{load['first_error']}`"]
    if r["recording_errors"]:
        lines += ["", "Failed while recording:", *[f"- `{e}`" for e in r["recording_errors"][:10]]]
    return "\n".join(lines) + "\n", ok


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
