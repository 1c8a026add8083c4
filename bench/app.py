"""The benchmark of the whole app (issue 8): `make bench`, not part of `make test`.

    BENCH_LEARNERS=10000 make bench          (default 100,000 learners)
    python -m bench app [--learners N] [--repeat R] [--seconds S] [--skip import,export,...]

1. Builds once, then reuses, a demo platform of N learners under instance/bench/
   (bench-<N>-seed<S>.sqlite3, made by `flask --app app demo-data`); `flask --app app migrate`
   upgrades it before every run.
2. Serves the real app (`python app.py`, as `make run`) on 127.0.0.1 and a free port, signs in
   through the /login form as the demo admin, training manager and class manager, and replays
   what the browser does on each page (tests/dash_client.py): the page layout, every callback
   the page fires on load, the chained ones, and user actions (another date range, a sort,
   a search, a learner's details, a chart's table, the downloads).
3. Times each recorded request R times (p50, p95): "cold" on a server started with
   LEARNSTATS_CACHE=null (every request computes), "warm" on a server with the default cache
   after one priming request. Every answer must be HTTP 200/204 with a Dash payload.
4. Times a naive pandas computation of the global page's figures from the raw tables.
5. Times a 1,000,000-row connections.csv import into a copy of the platform and the OPCO logs
   export (CSV and XLSX, the whole log and about a tenth of it: peak memory must stay flat).
6. 20 concurrent managers (admin, training manager, class manager) for S seconds on the
   global and training (class, for the class manager) pages' callbacks; the server's RSS.
7. Prints the report and writes it as markdown to instance/bench/report-<N>.md (paste into
   docs/performance.md). Exits 1 when a request failed or a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import platform as pyplatform
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from tests.dash_client import TIMEOUT, Call, DashError, Renderer, check_payload, sign_in, stringify_id

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "instance" / "bench"
PY = sys.executable
FLASK = [PY, "-m", "flask", "--app", "app"]
SECRET = "learnstats-bench-secret"
TZ = ZoneInfo("Europe/Paris")
XLSX_MAX_ROWS = 1_048_575

ACCOUNTS = {
    "admin": ("admin@example.com", "demo-admin-2026"),
    "training manager": ("training.manager@example.com", "demo-train-2026"),
    "class manager": ("class.manager@example.com", "demo-class-2026"),
}

# Issue 8 point 6.
TARGET_COLD_MS = 300
TARGET_WARM_MS = 50
TARGET_NAIVE_RATIO = 20
TARGET_DUCKDB_RATIO = 10  # issue 22: every callback >= 10x faster than the DuckDB baseline
TARGET_CONCURRENT_P95_MS = 1000
TARGET_IMPORT_ROWS_S = 50_000
TARGET_CSV_ROWS_S = 100_000
TARGET_XLSX_ROWS_S = 30_000
TARGET_FLAT_RATIO = 1.5
TARGET_RSS_MIB = 600


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# The platform and the server
# ---------------------------------------------------------------------------------------------


def app_env(db_path: Path, cache: str | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        LEARNSTATS_DATABASE_URL=f"sqlite:///{db_path}",
        LEARNSTATS_INSTANCE=str(BENCH_DIR),
        LEARNSTATS_SECRET_KEY=SECRET,
        PYTHONUNBUFFERED="1",
    )
    env.pop("LEARNSTATS_CACHE", None)
    if cache is not None:
        env["LEARNSTATS_CACHE"] = cache
    return env


def run_measured(cmd: list[str], env: dict, cwd: Path = ROOT) -> dict:
    """Run a command; its exit status, wall time, CPU time (user + system, its child processes
    included), peak RSS, the peak of its process tree's summed RSS (sampled every 0.2 s) and
    output.

    The peak comes from GNU time (`/usr/bin/time -o FILE -f %M`), a small process between this
    one and the command: a child forked straight from this process would inherit this
    process's own peak RSS (Linux keeps the forked memory's high-water mark across exec), and
    the naive baseline makes that peak large. Without /usr/bin/time: wait4's, an upper bound."""
    tag = f"{os.getpid()}-{threading.get_ident()}"  # two commands may be measured at once
    out_path = BENCH_DIR / f".cmd-{tag}.out"
    rss_path = BENCH_DIR / f".cmd-{tag}.rss"
    timer = shutil.which("time", path="/usr/bin")
    full = [timer, "-o", str(rss_path), "-f", "%M", *cmd] if timer else cmd
    with open(out_path, "w+") as out:
        started = time.perf_counter()
        child = subprocess.Popen(full, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        tree = _TreeMemory(child.pid)
        _, status, usage = os.wait4(child.pid, 0)
        tree.stop()
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    out_path.unlink(missing_ok=True)
    peak_kib = float(usage.ru_maxrss)
    if timer and rss_path.exists():
        lines = [line for line in rss_path.read_text().splitlines() if line.strip().isdigit()]
        peak_kib = float(lines[-1]) if lines else peak_kib
        rss_path.unlink(missing_ok=True)
    return {
        "rc": child.returncode,
        "seconds": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mib": peak_kib / 1024,
        "tree_peak_mib": tree.peak / 2**20,
        # Descendants not reaped by the command (a process pool's workers under forkserver)
        # are missing from wait4's figure: their own CPU, last seen, summed.
        "tree_cpu_s": max(usage.ru_utime + usage.ru_stime, tree.cpu_s),
        "output": text,
    }


class _TreeMemory:
    """The largest summed RSS of a process and its descendants (the time wrapper excluded),
    sampled every 0.2 s while it runs (psutil), and their CPU time (each one's last seen)."""

    def __init__(self, pid: int):
        self.peak = 0
        self.cpu: dict[int, float] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(pid,), daemon=True)
        self._thread.start()

    def _watch(self, pid: int) -> None:
        import psutil

        try:
            root = psutil.Process(pid)
        except psutil.Error:
            return
        while not self._done.wait(0.2):
            total = 0
            try:
                for proc in root.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        total += proc.memory_info().rss
                        times = proc.cpu_times()
                        self.cpu[proc.pid] = times.user + times.system
            except psutil.Error:
                return
            self.peak = max(self.peak, total)

    @property
    def cpu_s(self) -> float:
        return sum(self.cpu.values())

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=2)


def ensure_platform(learners: int, seed: int) -> Path:
    """The bench platform, built once; migrated; rebuilt when its schema lacks a table the
    models declare (a migration edited in place while it was unreleased)."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"bench-{learners}-seed{seed}.sqlite3"
    for attempt in range(2):
        if path.exists():
            log(f"reusing {path.relative_to(ROOT)}")
        else:
            _build_platform(path, learners, seed)
        result = run_measured([*FLASK, "migrate"], app_env(path))
        if result["rc"] != 0:
            raise SystemExit(f"migrate failed:\n{result['output'][-3000:]}")
        _checkpoint(path)
        missing = _missing_tables(path)
        if not missing:
            return path
        if attempt == 0:
            log(f"{path.name} lacks table(s) {', '.join(missing)} after migrating: rebuilding it")
            for stale in BENCH_DIR.glob(path.name + "*"):
                stale.unlink()
    raise SystemExit(f"a fresh {path.name} still lacks table(s) {', '.join(missing)}")


def _build_platform(path: Path, learners: int, seed: int) -> None:
    partial = path.with_name(path.name + ".partial")
    for leftover in BENCH_DIR.glob(partial.name + "*"):
        leftover.unlink()
    log(f"building a demo platform of {learners:,} learners (seed {seed}) in {path.relative_to(ROOT)} ...")
    result = run_measured(
        [*FLASK, "demo-data", "--learners", str(learners), "--seed", str(seed)], app_env(partial)
    )
    if result["rc"] != 0:
        raise SystemExit(f"demo-data failed:\n{result['output'][-3000:]}")
    _checkpoint(partial)
    partial.rename(path)
    log(f"built in {result['seconds']:.0f} s")


def _missing_tables(path: Path) -> list[str]:
    """Tables (or table.column) of data.models that the file lacks."""
    from data.models import Base

    missing = []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        have = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for name, table in Base.metadata.tables.items():
            if name not in have:
                missing.append(name)
                continue
            columns = {row[1] for row in con.execute(f'PRAGMA table_info("{name}")')}
            missing += [f"{name}.{c.name}" for c in table.columns if c.name not in columns]
    return sorted(missing)


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the file, so that the file alone is the platform."""
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def copy_database(source: Path, target: Path) -> None:
    for leftover in target.parent.glob(target.name + "*"):
        leftover.unlink()
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python app.py` (make run) on 127.0.0.1 and a free port."""

    def __init__(self, db_path: Path, cache: str | None, label: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.label = label
        env = app_env(db_path, cache)
        env["PORT"] = str(self.port)
        self.log_path = BENCH_DIR / f"server-{label}.log"
        self.log_file = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [PY, "app.py"], env=env, cwd=ROOT, stdout=self.log_file, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server stopped (status {self.proc.returncode}); see {self.log_path}")
            try:
                if requests.get(f"{self.base}/login", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        else:
            self.stop()
            raise SystemExit(f"the server did not answer within 180 s; see {self.log_path}")
        log(f"server '{label}' (LEARNSTATS_CACHE={cache or 'default'}) on {self.base}, pid {self.proc.pid}")

    def memory_mib(self) -> dict:
        values = {}
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0]) / 1024
        return values

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


# ---------------------------------------------------------------------------------------------
# What to open: the largest training, class, session; a busy learner
# ---------------------------------------------------------------------------------------------


@dataclass
class Targets:
    training: str
    training_learners: int
    klass: str
    class_members: int
    learner: str
    learner_name: str
    module: str
    session: str
    session_learners: int
    tm_training: str
    cm_class: str
    counts: dict = field(default_factory=dict)


def pick_targets(db: Path | str) -> Targets:
    """The largest training, class and session, a busy learner: from a SQLite file or a URL."""
    from sqlalchemy import create_engine, text

    url = db if isinstance(db, str) else f"sqlite:///file:{db}?mode=ro&uri=true"
    engine = create_engine(url)

    def query(sql: str, *args):
        for i in range(len(args)):
            sql = sql.replace("?", f":p{i}", 1)
        return con.execute(text(sql), {f"p{i}": a for i, a in enumerate(args)})

    with engine.connect() as con:
        one = lambda sql, *args: tuple(query(sql, *args).one())  # noqa: E731
        training, t_size = one(
            "SELECT training_id, count(*) FROM training_learners GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
        )
        klass, c_size = one(
            "SELECT class_id, count(*) FROM class_members GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
        )
        learner, module = one(
            "SELECT user_id, module_id FROM attempts WHERE training_id = ? AND finished_at IS NOT NULL"
            " GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1",
            training,
        )
        (last_name,) = one("SELECT last_name FROM users WHERE id = ?", learner)
        session, s_size = one(
            "SELECT session_id, count(*) FROM session_learners GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
        )
        scoped = dict(
            tuple(row)
            for row in query(
                "SELECT r.role, r.scope_id FROM roles r JOIN users u ON u.id = r.user_id"
                " WHERE u.email IN (?, ?) AND r.role IN ('training_manager', 'class_manager')",
                ACCOUNTS["training manager"][0],
                ACCOUNTS["class manager"][0],
            )
        )
        counts = {
            table: one(f"SELECT count(*) FROM {table}")[0]
            for table in ("users", "trainings", "modules", "classes", "program_sessions", "training_learners",
                          "attempts", "answers", "connections", "logins")
        }  # fmt: skip
    engine.dispose()
    return Targets(
        training, t_size, klass, c_size, learner, last_name, module, session, s_size,
        scoped["training_manager"], scoped["class_manager"], counts,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Recording the requests of each page
# ---------------------------------------------------------------------------------------------

GLOBAL_RANGES = {
    "last 30 days": "?range=last_30_days",
    "last year": None,  # ?start=<today - 364 days>&end=<today>: set at run time
    "all time": "?range=all_time",
}


def _other_option(r: Renderer, id_, current=None):
    options = r.value(id_, "options") or []
    values = [o.get("value") if isinstance(o, dict) else o for o in options]
    if isinstance(options, dict):
        values = list(options)
    return next((v for v in values if v != (current if current is not None else r.value(id_, "value"))), None)


SIDE_EFFECT = "opco-email-button"


def exercise(r: Renderer) -> None:
    """Fire, once, each server-side callback on the page that loading it did not fire: a
    click on the first button, another option of a select, page 2 of a pager."""
    fired = {c.body["output"] for c in r.calls if c.page == r.page}
    # Another date range last: it may replace what the other callbacks act on.
    for dep in sorted(r.deps, key=lambda d: any("date-preset" in str(id_) for id_, _ in d.inputs)):
        if not dep.server_side or dep.output in fired or dep is r.pages_dep:
            continue
        if any(SIDE_EFFECT in str(id_) for id_, _ in dep.inputs):
            continue  # "Receive by email" queues a background job and sends mail: not replayed
        combos = r.resolve(dep)
        if not combos:
            continue
        entry = combos[0].inputs[0]
        entry = entry[0] if isinstance(entry, list) and entry else entry
        if not isinstance(entry, dict):
            continue
        id_, prop = entry["id"], entry["property"]
        if prop in ("n_clicks", "n_submit"):
            r.act(id_, prop, (r.value(id_, prop) or 0) + 1, f"click {prop}")
        elif prop == "active_page":
            r.act(id_, prop, 2, "page 2")
        elif prop == "getRowsRequest":
            r.load_grids(block=1, sort=True)
        elif prop == "search_value":
            r.act(id_, prop, "a", "type 'a'")
        elif prop == "value":
            other = _other_option(r, id_)
            if other is not None:
                r.act(id_, prop, other, f"choose {other}")
        fired = {c.body["output"] for c in r.calls if c.page == r.page}


def at_risk_actions(r: Renderer, page: str, label: str) -> None:
    """The at-risk list (SPEC §9) beyond its first block, which opening the page loads: another
    days setting (the statistics block and the list follow it), then a search in the list."""
    grid = f"{page}-at-risk-grid"
    if stringify_id(grid) not in r.props:
        RECORDING_ERRORS.append(f"{r.page}: no at-risk list ({grid})")
        return
    request = {"startRow": 0, "endRow": 50, "sortModel": [], "filterModel": {}}
    r.act(f"{page}-at-risk-days", "value", 30, f"at-risk days: 30{label}")
    r.act(grid, "getRowsRequest", dict(request), f"at-risk list, 30 days{label}")
    r.props[stringify_id(f"{page}-at-risk-search")]["value"] = "ma"
    r.act(grid, "getRowsRequest", dict(request), f"at-risk list, search 'ma'{label}")
    r.props[stringify_id(f"{page}-at-risk-search")]["value"] = ""
    r.props[stringify_id(f"{page}-at-risk-days")]["value"] = 14


def record_admin(base: str, t: Targets, today: date) -> tuple[list[Call], list[str]]:
    r = Renderer(sign_in(base, *ACCOUNTS["admin"]), base, "admin")
    ranges = dict(GLOBAL_RANGES)
    ranges["last year"] = f"?start={(today - timedelta(days=364)).isoformat()}&end={today.isoformat()}"
    for label, search in ranges.items():
        r.open(f"global, {label}", "/", search)
        if label == "last 30 days":
            at_risk_actions(r, "overview", "")
            r.act(
                {"type": "date-preset", "page": "overview"}, "value", "last_90_days", "preset: last 90 days"
            )
            r.act("shell-search-input", "value", t.learner_name, "search box: a name")
            r.act("shell-search-input", "n_submit", 1, "search box: Enter")
            exercise(r)

    # A past range: the at-risk list and the cards as of a day a year ago (summary history).
    past = (
        f"?start={(today - timedelta(days=454)).isoformat()}&end={(today - timedelta(days=365)).isoformat()}"
    )
    r.open("global, a past quarter", "/", past)
    at_risk_actions(r, "overview", ", past quarter")

    r.open("training (largest)", f"/training/{t.training}", "?range=last_30_days")
    at_risk_actions(r, "training", "")
    table = {"type": "results-%s", "table": "training"}
    rid = lambda kind: {k: (v % kind if k == "type" else v) for k, v in table.items()}  # noqa: E731
    r.act(rid("sort"), "value", "score", "sort by score")
    r.act(rid("order"), "value", "desc", "descending")
    r.act(rid("page"), "active_page", 2, "sorted, page 2")
    r.act(rid("search"), "value", t.learner_name, "search a name")
    r.click_first({"type": "results-details-button", "table": "training", "row": ["MATCH"]}, "details")
    exercise(r)
    r.open("training (largest), last year", f"/training/{t.training}", ranges["last year"])
    r.open("training (largest), a past quarter", f"/training/{t.training}", past)
    at_risk_actions(r, "training", ", past quarter")

    r.open("class (largest)", f"/class/{t.klass}", "?range=last_30_days")
    at_risk_actions(r, "class", "")
    exercise(r)
    r.open("learner", f"/learner/{t.learner}", "?range=last_30_days")
    exercise(r)
    r.open("module summary", f"/training/{t.training}/learner/{t.learner}/module/{t.module}", "")
    exercise(r)
    r.open("sessions", "/sessions", "?range=last_30_days")
    exercise(r)
    r.open("sessions, all time", "/sessions", "?range=all_time")  # a paged grid above 500 sessions
    r.load_grids(block=1, sort=True)
    exercise(r)
    r.open("session (largest)", f"/session/{t.session}", "")
    exercise(r)
    untouched = [d.name() for d in r.untouched()]
    RECORDING_ERRORS.extend(r.errors)
    return r.calls, untouched


RECORDING_ERRORS: list[str] = []


def record_manager(base: str, role: str, t: Targets) -> list[Call]:
    r = Renderer(sign_in(base, *ACCOUNTS[role]), base, role)
    r.open(f"global, last 30 days ({role})", "/", "?range=last_30_days")
    at_risk_actions(r, "overview", "")
    if role == "training manager":
        r.open(f"training ({role})", f"/training/{t.tm_training}", "?range=last_30_days")
        at_risk_actions(r, "training", "")
    else:
        r.open(f"class ({role})", f"/class/{t.cm_class}", "?range=last_30_days")
        at_risk_actions(r, "class", "")
    RECORDING_ERRORS.extend(r.errors)
    return r.calls


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


@dataclass
class Timing:
    samples: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    def pct(self, q: float) -> float | None:
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _post(s: requests.Session, base: str, body: dict, light: bool = False) -> float:
    """Send a recorded body; its time. light: check the status and the payload's start only
    (decoding every answer in 20 client threads would slow the client, not the server)."""
    started = time.perf_counter()
    response = s.post(f"{base}/_dash-update-component", json=body, timeout=TIMEOUT)
    seconds = time.perf_counter() - started
    if not light:
        check_payload(response)
    elif response.status_code != 204 and (
        response.status_code != 200 or b'"response"' not in response.content[:100]
    ):
        raise DashError(f"HTTP {response.status_code}: {response.text[:300]!r}")
    return seconds


def time_calls(
    base: str, calls: list[Call], repeat: int, prime: bool, budget: float, label: str
) -> list[Timing]:
    sessions = {role: sign_in(base, *ACCOUNTS[role]) for role in {c.role for c in calls}}
    timings = []
    started = time.perf_counter()
    for n, call in enumerate(calls, 1):
        timing = Timing()
        s = sessions[call.role]
        attempts = repeat + (1 if prime else 0)
        spent = 0.0
        for i in range(attempts):
            try:
                seconds = _post(s, base, call.body)
            except (DashError, requests.RequestException) as error:
                timing.errors += 1
                timing.first_error = timing.first_error or str(error)[:300]
                continue
            spent += seconds
            if prime and i == 0:
                continue
            timing.samples.append(seconds)
            if spent > budget and len(timing.samples) >= 3:
                break  # a very slow callback: fewer samples (the report gives n)
        timings.append(timing)
        if n % 10 == 0 or n == len(calls):
            log(f"  {label}: {n}/{len(calls)} requests timed ({time.perf_counter() - started:.0f} s)")
    return timings


def concurrent_load(base: str, calls_by_role: dict[str, list[Call]], users: int, seconds: float) -> dict:
    """users threads, each its own signed-in session, replaying its role's calls for `seconds`."""
    roles = list(calls_by_role)
    sessions = [sign_in(base, *ACCOUNTS[roles[i % len(roles)]]) for i in range(users)]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start_line = threading.Barrier(users + 1)
    deadline = [0.0]

    def worker(i: int) -> None:
        calls = calls_by_role[roles[i % len(roles)]]
        rng = random.Random(i)
        order = list(range(len(calls)))
        rng.shuffle(order)
        start_line.wait()
        k = 0
        while time.monotonic() < deadline[0] and k < 1_000_000:
            call = calls[order[k % len(order)]]
            k += 1
            try:
                took = _post(sessions[i], base, call.body, light=True)
                with lock:
                    latencies.append(took)
            except (DashError, requests.RequestException) as error:
                with lock:
                    errors.append(f"{call.page} / {call.name}: {str(error)[:200]}")

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + seconds
    began = time.perf_counter()
    start_line.wait()
    for thread in threads:
        thread.join(timeout=seconds + TIMEOUT + 30)
    elapsed = time.perf_counter() - began
    timing = Timing(samples=latencies, errors=len(errors), first_error=errors[0] if errors else "")
    return {
        "users": users,
        "seconds": elapsed,
        "requests": len(latencies) + len(errors),
        "throughput": (len(latencies) + len(errors)) / elapsed,
        "p50": timing.pct(0.5),
        "p95": timing.pct(0.95),
        "errors": len(errors),
        "first_error": timing.first_error,
        "roles": {
            role: users // len(roles) + (1 if i < users % len(roles) else 0) for i, role in enumerate(roles)
        },
    }


# ---------------------------------------------------------------------------------------------
# The naive baseline: the global page's figures from the raw tables with pandas
# ---------------------------------------------------------------------------------------------


def naive_global_figures(db_path: Path, today: date) -> dict:
    """What a page would cost with no summaries: read the raw tables, compute SPEC §4."""
    import pandas as pd

    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as con:
        read = lambda table, cols="*": pd.read_sql(f"SELECT {cols} FROM {table}", con)  # noqa: E731
        users = read("users", "id, status")
        learners_tbl = read("training_learners")
        attempts = read("attempts")
        answers = read("answers", "attempt_id, activity_id, score, evaluated")
        activities = read("activities", "id, module_id, max_score")
        tmods = read("training_modules")
        modules = read("modules", "id, keep_results")
        trainings = read("trainings", "id, validity_months")
        connections = read("connections", "user_id, connected_at")
        logins = read("logins")

    start = today - timedelta(days=29)
    active_ids = set(users.loc[users["status"] == "active", "id"])
    enrol = learners_tbl[learners_tbl["user_id"].isin(active_ids)]
    learner_count = enrol["user_id"].nunique()

    def local_day(series):
        return pd.to_datetime(series, format="ISO8601").dt.tz_localize("UTC").dt.tz_convert(TZ).dt.date

    days = pd.concat([
        pd.DataFrame({"user_id": logins["user_id"], "day": local_day(logins["logged_in_at"])}),
        pd.DataFrame({"user_id": connections["user_id"], "day": local_day(connections["connected_at"])}),
    ])  # fmt: skip
    recent = days[(days["day"] >= start) & (days["day"] <= today)]
    active_users = recent["user_id"].nunique()

    # Attempt scores (SPEC §4): Σ scores (0 while awaiting grading) / Σ max scores > 0.
    graded = activities[activities["max_score"] > 0]
    max_points = graded.groupby("module_id")["max_score"].sum()
    answers = answers.assign(points=answers["score"].where(answers["evaluated"].astype(bool), 0.0))
    points = answers.groupby("attempt_id")["points"].sum()
    att = attempts.assign(
        points=attempts["id"].map(points).fillna(0.0),
        max_points=attempts["module_id"].map(max_points),
        finished=pd.to_datetime(attempts["finished_at"], format="ISO8601"),
        started=pd.to_datetime(attempts["started_at"], format="ISO8601"),
    )
    att["score"] = (100 * att["points"] / att["max_points"]).where(att["max_points"] > 0, 100.0)
    done = att[att["finished"].notna()].merge(
        modules, left_on="module_id", right_on="id", suffixes=("", "_m")
    )
    best = done.groupby(["user_id", "training_id", "module_id"])["score"].max()
    newest = done.sort_values("finished").groupby(["user_id", "training_id", "module_id"])["score"].last()
    keep = done.groupby(["user_id", "training_id", "module_id"])["keep_results"].first()
    module_score = best.where(keep != "newest", newest).rename("score")
    completed_on = (
        done.groupby(["user_id", "training_id", "module_id"])["finished"].min().rename("completed_on")
    )
    tried = att.groupby(["user_id", "training_id"]).size().rename("attempts")

    grid = enrol.merge(tmods, on="training_id")
    grid = grid.join(module_score, on=["user_id", "training_id", "module_id"])
    grid = grid.join(completed_on, on=["user_id", "training_id", "module_id"])
    grid["score"] = grid["score"].fillna(0.0)
    grid["completed"] = grid["completed_on"].notna()
    grid["passed"] = grid["completed"] & (grid["score"] >= grid["min_score"])
    has_mandatory = grid.groupby("training_id")["mandatory"].transform("any")
    grid["counts"] = grid["mandatory"].astype(bool) | ~has_mandatory
    counted = grid[grid["counts"]]
    keys = ["user_id", "training_id"]
    per = pd.DataFrame({
        "progress": 100 * grid.groupby(keys)["completed"].mean(),
        "all_completed": counted.groupby(keys)["completed"].all(),
        "all_passed": counted.groupby(keys)["passed"].all(),
        "completed_on": counted.groupby(keys)["completed_on"].max(),
        "score": grid[grid["mandatory"].astype(bool)].groupby(keys)["score"].mean(),
    }).join(tried)  # fmt: skip
    per = per.reset_index().merge(trainings, left_on="training_id", right_on="id")
    status = pd.Series("not started", index=per.index)
    status[per["attempts"].fillna(0) > 0] = "in progress"
    status[per["all_completed"] & ~per["all_passed"]] = "failed"
    status[per["all_completed"] & per["all_passed"]] = "passed"
    months = per["validity_months"].fillna(0).astype(int)
    expires = [
        (c + pd.DateOffset(months=int(m))).date() if m and pd.notna(c) else None
        for c, m in zip(per["completed_on"], months, strict=True)
    ]
    expired = pd.Series([e is not None and e < today for e in expires], index=per.index)
    status[(status == "passed") & expired] = "expired"
    completions = per[per["all_completed"]]
    completed_day = (
        pd.to_datetime(completions["completed_on"]).dt.tz_localize("UTC").dt.tz_convert(TZ).dt.date
    )
    return {
        "learners": int(learner_count),
        "active users, last 30 days": int(active_users),
        "status counts": {k: int(v) for k, v in status.value_counts().items()},
        "average progress": round(float(per["progress"].mean()), 1),
        "average score": round(float(per["score"].mean()), 1),
        "completions, last 30 days": int(((completed_day >= start) & (completed_day <= today)).sum()),
    }


# ---------------------------------------------------------------------------------------------
# Import and export
# ---------------------------------------------------------------------------------------------


def import_bench(db_path: Path, rows: int) -> dict:
    work = BENCH_DIR / "import"
    shutil.rmtree(work, ignore_errors=True)
    (work / "bundle").mkdir(parents=True)
    copy = work / "copy.sqlite3"
    copy_database(db_path, copy)
    before = write_connections(copy, work / "bundle" / "connections.csv", rows)
    log(f"import: {rows:,} rows written, importing into a copy of the platform ...")
    result = run_measured([*FLASK, "import-bundle", str(work / "bundle")], app_env(copy))
    with sqlite3.connect(copy) as con:
        (after,) = con.execute("SELECT count(*) FROM connections").fetchone()
    shutil.rmtree(work, ignore_errors=True)
    return {
        "rows": rows,
        "added": after - before,
        "rc": result["rc"],
        "seconds": result["seconds"],
        "rows_s": rows / result["seconds"],
        "peak_mib": result["peak_mib"],
        "output": result["output"][-1500:],
    }


def write_connections(db_path: Path, path: Path, rows: int) -> int:
    """A connections.csv of `rows` new rows for the platform (existing users and modules,
    instants not in the database: over the last 400 days at odd seconds, each row at its own
    instant); returns how many connections the platform holds before."""
    with sqlite3.connect(db_path) as con:
        users = [
            u for (u,) in con.execute("SELECT id FROM users WHERE status = 'active' ORDER BY id LIMIT 50000")
        ]
        modules = [m for (m,) in con.execute("SELECT id FROM modules ORDER BY id")]
        (before,) = con.execute("SELECT count(*) FROM connections").fetchone()
    t0 = datetime.combine(date.today() - timedelta(days=400), datetime.min.time(), UTC) + timedelta(seconds=7)
    fmt = "%Y-%m-%dT%H:%M:%S+00:00"
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["user_id", "module_id", "connected_at", "disconnected_at", "session_id"])
        for n in range(rows):
            connected = t0 + timedelta(seconds=31 * n)
            writer.writerow([
                users[n % len(users)], modules[(n // len(users)) % len(modules)],
                connected.strftime(fmt), (connected + timedelta(seconds=301 + n % 1800)).strftime(fmt), "",
            ])  # fmt: skip
    return before


def cli_startup(db_path: Path) -> dict:
    """A command that does nothing but start and migrate: the part of every command's time
    and memory that is not the work itself."""
    result = run_measured([*FLASK, "migrate"], app_env(db_path))
    return {"rows": 0, "rc": result["rc"], "seconds": result["seconds"], "rows_s": 0.0,
            "peak_mib": result["peak_mib"], "bytes": 0, "output": ""}  # fmt: skip


def export_bench(db_path: Path) -> list[dict]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as con:
        (total,) = con.execute("SELECT count(*) FROM connections WHERE session_id IS NOT NULL").fetchone()
        cut = con.execute(
            "SELECT connected_at FROM connections WHERE session_id IS NOT NULL"
            " ORDER BY connected_at DESC LIMIT 1 OFFSET ?",
            (max(0, total // 10 - 1),),
        ).fetchone()
    since = (datetime.fromisoformat(cut[0]) + timedelta(days=1)).date().isoformat() if cut else None
    work = BENCH_DIR / "export"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results = [{"format": "start-up", "scope": "flask --app app migrate", **cli_startup(db_path)}]
    for fmt in ("csv", "xlsx"):
        for scope, extra in (("all", []), ("a tenth", ["--from", since] if since else [])):
            if scope == "a tenth" and not since:
                continue
            if fmt == "xlsx" and scope == "all" and total > XLSX_MAX_ROWS:
                results.append({"format": fmt, "scope": scope, "skipped": f"{total:,} rows > one sheet"})
                continue
            out = work / f"opco-{scope.replace(' ', '-')}.{fmt}"
            log(f"export: OPCO logs, {fmt}, {scope} ...")
            result = run_measured([*FLASK, "export-opco-logs", "--out", str(out), *extra], app_env(db_path))
            rows = _count_rows(out, fmt) if result["rc"] == 0 and out.exists() else 0
            results.append({
                "format": fmt, "scope": scope, "rows": rows, "rc": result["rc"], "seconds": result["seconds"],
                "rows_s": rows / result["seconds"], "peak_mib": result["peak_mib"],
                "bytes": out.stat().st_size if out.exists() else 0,
                "output": "" if result["rc"] == 0 else result["output"][-1500:],
            })  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    startup = results[0]["seconds"]
    for row in results[1:]:
        row["expected"] = total if row.get("scope") == "all" else None
        if not row.get("skipped"):
            net = row["seconds"] - startup  # too short to tell apart from the start-up's noise: None
            row["net_rows_s"] = row["rows"] / net if net >= 0.5 else None
    return results


def _count_rows(path: Path, fmt: str) -> int:
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            sample = f.read(4096)
            f.seek(0)
            delimiter = ";" if sample.count(";") > sample.count(",") else ","
            return sum(1 for _ in csv.reader(f, delimiter=delimiter)) - 1
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    try:
        return sum(max(0, sheet.max_row - 1) for sheet in book.worksheets)
    finally:
        book.close()


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def _duckdb_ratio(ctx: dict, seconds: float | None) -> str:
    """How many times the callback's time fits in the DuckDB baseline's ("-": not measured)."""
    duck = ctx.get("duckdb")
    if not duck or not seconds:
        return "-"
    return f"{duck['seconds'] / seconds:.1f}×"


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:,.0f}"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _mark(ok: bool | None) -> str:
    return "not measured" if ok is None else ("pass" if ok else "**miss**")


def machine() -> str:
    mem = "?"
    try:
        with open("/proc/meminfo") as info:
            kib = int(next(line for line in info if line.startswith("MemTotal")).split()[1])
            mem = f"{kib / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = "?"
    return (
        f"{os.cpu_count()} CPUs ({pyplatform.processor() or pyplatform.machine()}), {mem} RAM, "
        f"{pyplatform.system()} {pyplatform.release()}, Python {pyplatform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, commit {commit}"
    )


def build_report(ctx: dict) -> tuple[str, bool]:
    t: Targets = ctx["targets"]
    lines = [
        f"### {ctx['learners']:,} learners — {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC",
        "",
        f"- Machine: {machine()}",
        "- Platform: " + ", ".join(f"{v:,} {k}" for k, v in t.counts.items()),
        f"- Pages: largest training `{t.training}` ({t.training_learners:,} learners), largest class "
        f"`{t.klass}` ({t.class_members:,} members), learner `{t.learner}`, module `{t.module}`, "
        f"largest session `{t.session}` ({t.session_learners:,} learners); training manager's training "
        f"`{t.tm_training}`, class manager's class `{t.cm_class}`",
        f"- Command: `{ctx['command']}`; {ctx['repeat']} timed requests per callback (fewer when one "
        f"takes longer than {ctx['budget']:.0f} s in total: see n), cold = server with "
        "`LEARNSTATS_CACHE=null`, warm = default cache after one priming request; times in ms, "
        "measured by the client over loopback.",
        "",
    ]
    ok_all = True
    calls, cold, warm = ctx["calls"], ctx.get("cold") or [], ctx.get("warm") or []
    errors = sum(x.errors for x in cold + warm) + len(RECORDING_ERRORS)
    rows = []
    for i, call in enumerate(calls):
        c = cold[i] if i < len(cold) else Timing()
        w = warm[i] if i < len(warm) else Timing()
        rows.append((call, c, w))
    for title, kinds in (
        ("Page callbacks", None),
        ("Downloads (files; not held to the callback targets)", {"download"}),
    ):
        chosen = [r for r in rows if (r[0].kind == "download") == bool(kinds)]
        if not chosen:
            continue
        lines += [f"#### {title}", "", "| page | callback (trigger) | kind | cold p50 | cold p95 | warm p50 | warm p95 | n | errors | DuckDB ÷ cold p95 |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for call, c, w in chosen:
            n = f"{len(c.samples)}/{len(w.samples)}"
            lines.append(
                f"| {call.page} | {call.name} | {call.kind} | {_ms(c.pct(0.5))} | {_ms(c.pct(0.95))} | "
                f"{_ms(w.pct(0.5))} | {_ms(w.pct(0.95))} | {n} | {c.errors + w.errors} | "
                f"{_duckdb_ratio(ctx, c.pct(0.95))} |"
            )
        lines.append("")
    failures = [(call, x.first_error) for call, c, w in rows for x in (c, w) if x.errors]
    if RECORDING_ERRORS:
        lines += ["Failed while recording the pages (not timed):", ""]
        lines += [f"- `{e}`" for e in RECORDING_ERRORS[:20]] + [""]
    if failures:
        lines += (
            ["Errors (first of each):", ""]
            + [f"- {call.page} / {call.name}: `{msg}`" for call, msg in failures[:20]]
            + [""]
        )
    if ctx.get("untouched"):
        lines += [
            "Server-side callbacks not timed: "
            + ", ".join(f"`{n}`" for n in ctx["untouched"])
            + " (see docs/performance.md).",
            "",
        ]

    page_rows = [r for r in rows if r[0].kind != "download"]
    targets = []
    if cold:
        worst = max(page_rows, key=lambda r: r[1].pct(0.95) or 0)
        ok = all((c.pct(0.95) or 0) <= TARGET_COLD_MS / 1000 for _, c, _ in page_rows) and not any(
            c.errors for _, c, _ in page_rows
        )
        n_miss = sum((c.pct(0.95) or 0) > TARGET_COLD_MS / 1000 for _, c, _ in page_rows)
        targets.append(
            (
                f"every callback p95 ≤ {TARGET_COLD_MS} ms cold",
                f"slowest {_ms(worst[1].pct(0.95))} ms ({worst[0].page} / {worst[0].name}); {n_miss} of {len(page_rows)} over",
                ok,
            )
        )
    if warm:
        worst = max(page_rows, key=lambda r: r[2].pct(0.95) or 0)
        ok = all((w.pct(0.95) or 0) <= TARGET_WARM_MS / 1000 for _, _, w in page_rows) and not any(
            w.errors for _, _, w in page_rows
        )
        n_miss = sum((w.pct(0.95) or 0) > TARGET_WARM_MS / 1000 for _, _, w in page_rows)
        targets.append(
            (
                f"every callback p95 ≤ {TARGET_WARM_MS} ms warm",
                f"slowest {_ms(worst[2].pct(0.95))} ms ({worst[0].page} / {worst[0].name}); {n_miss} of {len(page_rows)} over",
                ok,
            )
        )
    naive = ctx.get("naive")
    if naive and cold:
        slowest = max((c.pct(0.95) or 0) for _, c, _ in page_rows)
        ratio = naive["seconds"] / slowest if slowest else float("inf")
        targets.append(
            (
                f"slowest callback ≥ {TARGET_NAIVE_RATIO}× faster than naive pandas",
                f"naive {naive['seconds']:.2f} s / slowest cold p95 {slowest:.2f} s = {ratio:.1f}×",
                ratio >= TARGET_NAIVE_RATIO,
            )
        )
    duck = ctx.get("duckdb")
    if duck and cold:
        slowest = max((c.pct(0.95) or 0) for _, c, _ in page_rows)
        ratio = duck["seconds"] / slowest if slowest else float("inf")
        n_miss = sum(
            duck["seconds"] / (c.pct(0.95) or float("inf")) < TARGET_DUCKDB_RATIO for _, c, _ in page_rows
        )
        targets.append(
            (
                f"every callback ≥ {TARGET_DUCKDB_RATIO}× faster than DuckDB (cold p95)",
                f"DuckDB {duck['seconds'] * 1000:.0f} ms / slowest cold p95 {slowest * 1000:.0f} ms = {ratio:.1f}×; "
                f"{n_miss} of {len(page_rows)} under {TARGET_DUCKDB_RATIO}×",
                n_miss == 0,
            )
        )
    load = ctx.get("load")
    if load:
        targets.append(
            (
                f"{load['users']} concurrent managers for {ctx['seconds']:.0f} s: 0 errors, p95 ≤ {TARGET_CONCURRENT_P95_MS} ms",
                f"{load['errors']} errors, p95 {_ms(load['p95'])} ms, {load['throughput']:.1f} req/s",
                load["errors"] == 0 and (load["p95"] or 0) <= TARGET_CONCURRENT_P95_MS / 1000,
            )
        )
    imp = ctx.get("import")
    if imp:
        targets.append(
            (
                f"import ≥ {TARGET_IMPORT_ROWS_S:,} rows/s",
                f"{imp['rows_s']:,.0f} rows/s ({imp['rows']:,} rows in {imp['seconds']:.1f} s, {imp['added']:,} added, status {imp['rc']})",
                imp["rc"] == 0 and imp["added"] == imp["rows"] and imp["rows_s"] >= TARGET_IMPORT_ROWS_S,
            )
        )
    for row in ctx.get("export") or []:
        if row.get("skipped") or row["scope"] != "all":
            continue
        if row["format"] == "start-up":
            continue
        goal = TARGET_CSV_ROWS_S if row["format"] == "csv" else TARGET_XLSX_ROWS_S
        rate = row["net_rows_s"] if row["net_rows_s"] is not None else row["rows_s"]
        targets.append(
            (
                f"OPCO export {row['format'].upper()} ≥ {goal:,} rows/s (start-up excluded)",
                f"{rate:,.0f} rows/s ({row['rows']:,} rows in {row['seconds']:.1f} s; "
                f"with the command's start-up {row['rows_s']:,.0f} rows/s)",
                row["rc"] == 0 and row["rows"] == row["expected"] and rate >= goal,
            )
        )
    export = ctx.get("export") or []
    startup_peak = export[0]["peak_mib"] if export and export[0]["format"] == "start-up" else 0.0
    for fmt, (ratio, big, small) in _flatness(export).items():
        hidden = big <= startup_peak * 1.05  # the export never went above the start-up's peak
        targets.append(
            (
                f"OPCO export {fmt.upper()} flat memory (peak all / peak a tenth ≤ {TARGET_FLAT_RATIO})",
                f"{big:.0f} MiB / {small:.0f} MiB = {ratio:.2f}"
                + (
                    f"; not measured: the command's start-up alone peaks at {startup_peak:.0f} MiB"
                    if hidden
                    else ""
                ),
                None if hidden else ratio <= TARGET_FLAT_RATIO,
            )
        )
    rss = ctx.get("rss")
    if rss:
        targets.append(
            (
                f"app RSS < {TARGET_RSS_MIB} MB after the run",
                f"{rss['VmRSS']:.0f} MiB (peak {rss['VmHWM']:.0f} MiB)",
                rss["VmRSS"] < TARGET_RSS_MIB,
            )
        )
    lines += ["#### Targets (issue 8)", "", "| target | measured | |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {_mark(ok)} |" for a, b, ok in targets]
    lines.append(f"| no failed request | {errors} failed | {_mark(errors == 0)} |")
    lines.append("")
    ok_all = all(ok is True for _, _, ok in targets) and errors == 0  # "not measured" is no pass
    if naive:
        lines += [
            f"Naive baseline ({naive['seconds']:.2f} s, best of {naive['runs']}): `{json.dumps(naive['figures'], ensure_ascii=False)}`",
            "",
        ]
    if duck:
        lines += [
            f"DuckDB baseline ({duck['seconds'] * 1000:.0f} ms, best of {duck['runs']}, "
            f"{duck['cpu_seconds'] * 1000:.0f} ms of CPU; raw tables copied into "
            f"its memory once in {duck['copy_seconds']:.1f} s, not timed; bench/duckdb_baseline.py): "
            f"`{json.dumps(duck['figures'], ensure_ascii=False, default=str)}`",
            "",
        ]
    if imp:
        lines += [
            f"Import: {imp['rows']:,} connections in {imp['seconds']:.1f} s = {imp['rows_s']:,.0f} rows/s, peak RSS {imp['peak_mib']:.0f} MiB, {imp['added']:,} rows added."
        ]
        if imp["rc"] != 0:
            lines.append(f"Import failed: `{imp['output'][-500:]}`")
        lines.append("")
    if ctx.get("export"):
        lines += [
            "| OPCO export | rows | seconds | rows/s | rows/s without start-up | peak RSS MiB | file MiB |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for row in ctx["export"]:
            if row.get("skipped"):
                lines.append(f"| {row['format']} {row['scope']} | skipped: {row['skipped']} | | | | | |")
            elif row["format"] == "start-up":
                lines.append(
                    f"| start-up only (`{row['scope']}`) | – | {row['seconds']:.1f} | – | – | {row['peak_mib']:.0f} | – |"
                )
            else:
                lines.append(
                    f"| {row['format']} {row['scope']} | {row['rows']:,} | {row['seconds']:.1f} | {row['rows_s']:,.0f} | {_rate(row['net_rows_s'])} | {row['peak_mib']:.0f} | {row['bytes'] / 2**20:.1f} |"
                )
        lines.append("")
    if load:
        lines += [
            f"Concurrency: {load['users']} managers ({', '.join(f'{v} {k}' for k, v in load['roles'].items())}) for {load['seconds']:.0f} s on the warm server: {load['requests']:,} requests, {load['throughput']:.1f} req/s, p50 {_ms(load['p50'])} ms, p95 {_ms(load['p95'])} ms, {load['errors']} errors"
            + (f" (first: `{load['first_error']}`)" if load["errors"] else "")
            + ".",
            "",
        ]
    if rss:
        lines += [
            f"Server memory after the run: VmRSS {rss['VmRSS']:.0f} MiB, peak (VmHWM) {rss['VmHWM']:.0f} MiB.",
            "",
        ]
    return "\n".join(lines), ok_all


def _flatness(export: list[dict]) -> dict:
    out = {}
    for fmt in ("csv", "xlsx"):
        got = {
            r["scope"]: r for r in export if r["format"] == fmt and not r.get("skipped") and r.get("rc") == 0
        }
        if "all" in got and "a tenth" in got:
            big, small = got["all"]["peak_mib"], got["a tenth"]["peak_mib"]
            out[fmt] = (big / small, big, small)
    return out


# ---------------------------------------------------------------------------------------------


PARTS = ("cold", "warm", "naive", "duckdb", "import", "export", "load")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=int(os.environ.get("BENCH_LEARNERS", "100000")))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per callback (default 20)")
    parser.add_argument(
        "--budget", type=float, default=120.0, help="seconds per callback before taking fewer samples (min 3)"
    )
    parser.add_argument("--users", type=int, default=20, help="concurrent managers (default 20)")
    parser.add_argument(
        "--seconds", type=float, default=30.0, help="length of the concurrent run (default 30)"
    )
    parser.add_argument("--import-rows", type=int, default=1_000_000)
    parser.add_argument("--skip", default="", help=f"comma-separated parts to skip: {', '.join(PARTS)}")
    parser.add_argument("--out", type=Path, help="markdown report (default instance/bench/report-<N>.md)")
    args = parser.parse_args(argv)
    skip = {p.strip() for p in args.skip.split(",") if p.strip()}
    if skip - set(PARTS):
        parser.error(f"unknown part(s) to skip: {', '.join(sorted(skip - set(PARTS)))}")

    db_path = ensure_platform(args.learners, args.seed)
    targets = pick_targets(db_path)
    today = datetime.now(TZ).date()
    ctx: dict = {
        "learners": args.learners, "targets": targets, "repeat": args.repeat, "budget": args.budget,
        "seconds": args.seconds,
        "command": f"BENCH_LEARNERS={args.learners} make bench" + (f" BENCH_ARGS=\"{' '.join(argv or [])}\"" if argv else ""),
    }  # fmt: skip

    cold_server = Server(db_path, "null", "cold")
    try:
        log("recording the pages' requests (admin, training manager, class manager) ...")
        calls, ctx["untouched"] = record_admin(cold_server.base, targets, today)
        manager_calls = {
            role: record_manager(cold_server.base, role, targets)
            for role in ("training manager", "class manager")
        }
        for role_calls in manager_calls.values():
            calls += role_calls
        ctx["calls"] = calls
        log(f"{len(calls)} requests recorded; slowest while recording: "
            + ", ".join(f"{c.page} / {c.name} {c.seconds:.2f} s" for c in sorted(calls, key=lambda c: -c.seconds)[:3]))  # fmt: skip
        if "cold" not in skip:
            ctx["cold"] = time_calls(cold_server.base, calls, args.repeat, False, args.budget, "cold")
    finally:
        cold_server.stop()

    if not {"warm", "load"} <= skip:
        warm_server = Server(db_path, None, "warm")
        try:
            if "warm" not in skip:
                ctx["warm"] = time_calls(warm_server.base, calls, args.repeat, True, args.budget, "warm")
            if "load" not in skip:
                by_role = {
                    "admin": [c for c in calls if c.role == "admin" and c.kind != "download"
                              and (c.page.startswith("global") or c.page.startswith("training (largest)"))],
                    **{role: [c for c in role_calls if c.kind != "download"] for role, role_calls in manager_calls.items()},
                }  # fmt: skip
                log(f"concurrency: {args.users} managers for {args.seconds:.0f} s ...")
                ctx["load"] = concurrent_load(warm_server.base, by_role, args.users, args.seconds)
            ctx["rss"] = warm_server.memory_mib()
        finally:
            warm_server.stop()

    if "naive" not in skip:
        log("naive pandas baseline ...")
        best, runs = float("inf"), 0
        for _ in range(3):
            started = time.perf_counter()
            figures = naive_global_figures(db_path, today)
            best = min(best, time.perf_counter() - started)
            runs += 1
            if best > 20:
                break
        ctx["naive"] = {"seconds": best, "runs": runs, "figures": figures}
    if "duckdb" not in skip:
        from bench import duckdb_baseline

        log("DuckDB baseline (the raw tables copied into its memory, then the global page's script) ...")
        ctx["duckdb"] = duckdb_baseline.measure(db_path, today, TZ, repeat=3)
    if "import" not in skip:
        ctx["import"] = import_bench(db_path, args.import_rows)
    if "export" not in skip:
        ctx["export"] = export_bench(db_path)

    report, ok = build_report(ctx)
    out = args.out or BENCH_DIR / f"report-{args.learners}.md"
    out.write_text(report + "\n", encoding="utf-8")
    raw = {
        "learners": args.learners,
        "calls": [{"page": c.page, "name": c.name, "kind": c.kind, "role": c.role} for c in ctx["calls"]],
        **{k: [t.samples for t in ctx[k]] for k in ("cold", "warm") if ctx.get(k)},
        **{k: ctx[k] for k in ("naive", "duckdb", "import", "export", "load", "rss") if ctx.get(k)},
    }
    out.with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str), encoding="utf-8")
    print()
    print(report)
    print(f"(written to {out})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
