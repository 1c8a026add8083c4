"""Real servers for the multi-process test and the served benchmark, all on 127.0.0.1:
redis-server, `make serve`'s gunicorn and `make worker`'s Celery worker.

Each is a subprocess in a session of its own; stop() ends the whole process group (SIGTERM,
then SIGKILL after a grace period), so no worker outlives its test, also after a failure.
Several start side by side (`wait=False`, then `wait_ready()`) and stop side by side
(`stop_all`): a test waits for the slowest, not for their sum.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A subprocess in its own session with its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict, log_path: Path, cwd: Path = ROOT):
        self.name, self.log_path = name, log_path
        self._terminated = False
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self, last: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-last:]
        except OSError:
            return ""

    def check_alive(self) -> None:
        if not self.alive():
            raise RuntimeError(
                f"{self.name} stopped (status {self.proc.returncode}); its log:\n{self.log_text()}"
            )

    def terminate(self) -> None:
        """Ask the process group to end (SIGTERM, once); stop() waits for it."""
        if self.alive() and not self._terminated:
            self._terminated = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def stop(self, grace: float = 15.0) -> None:
        """End the process and everything it started (its process group)."""
        if self.alive():
            self.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace)
        # Children left behind (a worker the master could not reap) go too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._log.close()


def stop_all(processes) -> None:
    """Stop these processes side by side: SIGTERM to each group first, then wait for each."""
    processes = list(processes)
    for process in processes:
        process.terminate()
    for process in processes:
        process.stop()


def wait_until(check, what: str, timeout: float, processes: tuple[Process, ...] = ()) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for process in processes:
            process.check_alive()
        try:
            if check():
                return
        except (OSError, requests.RequestException):
            pass
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}:\n{p.log_text()}" for p in processes)
            raise RuntimeError(f"{what} within {timeout:.0f} s\n{logs}")
        time.sleep(0.2)


def demo_database(url: str, learners: int, seed: int, timezone: str = "Europe/Paris") -> None:
    """What `flask --app app demo-data --learners N --seed S` leaves in the database at url: the
    schema migrated, then the demo platform, by the command's own functions (data/cli.py) in
    this process instead of a new Python importing the app (seconds on a busy machine)."""
    from zoneinfo import ZoneInfo

    from data.db import Database
    from data.demo import generate_demo_data

    tz = ZoneInfo(timezone)
    db = Database(url, tz)
    try:
        db.migrate()
        generate_demo_data(db, learners=learners, seed=seed, tz=tz)
    finally:
        db.engine.dispose()


class RedisServer(Process):
    """redis-server on a free port, no persistence, files under workdir."""

    def __init__(self, workdir: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed: run `make test` as root once, or `apt-get install redis-server`"
            )
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        command = [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(workdir),
        ]  # fmt: skip
        super().__init__("redis-server", command, dict(os.environ), workdir / "redis.log")
        import redis

        self.client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
        wait_until(self._answers, "redis-server did not answer", 20, (self,))

    def _answers(self) -> bool:
        """PING, False while the server is not listening yet (redis-py's ConnectionError is
        not an OSError: a slow start on a busy machine raised at the first try)."""
        import redis

        try:
            return bool(self.client.ping())
        except redis.exceptions.ConnectionError:
            return False

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stats(self) -> dict:
        return self.client.info("stats")

    def stop(self, grace: float = 5.0) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
        super().stop(grace)


def serve_command() -> list[str]:
    """What `make serve` runs (Makefile), with the project's virtualenv."""
    return [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "app:server"]


def worker_command(concurrency: int = 2) -> list[str]:
    """What `make worker` runs (Makefile)."""
    return [
        str(BIN / "celery"), "--app", "jobs.worker", "worker", "-B",
        "--loglevel", "INFO", "--concurrency", str(concurrency), "--hostname", "learnstats@%h",
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip


class Gunicorn(Process):
    """`make serve` on a free port; ready when every worker has booted and /readyz says so."""

    def __init__(self, env: dict, log_path: Path, workers: int = 2, timeout: float = 120, wait: bool = True):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        env = {**env, "PORT": str(self.port), "LEARNSTATS_WORKERS": str(workers)}
        super().__init__("gunicorn", serve_command(), env, log_path)
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 120) -> None:
        def ready() -> bool:
            booted = self.log_text(1_000_000).count("Booting worker with pid")
            return (
                booted >= self.workers and requests.get(f"{self.base}/readyz", timeout=5).status_code == 200
            )

        wait_until(ready, "gunicorn did not become ready", timeout, (self,))

    def access_log(self) -> list[dict]:
        """The JSON access log lines written so far."""
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if record.get("type") == "access":
                        records.append(record)
        return records

    def worker_pids(self) -> list[int]:
        """The worker processes' pids (children of the master)."""
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]


class CeleryWorker(Process):
    """`make worker`; ready when Celery says so."""

    def __init__(
        self, env: dict, log_path: Path, concurrency: int = 1, timeout: float = 90, wait: bool = True
    ):
        super().__init__("celery worker", worker_command(concurrency), env, log_path)
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 90) -> None:
        wait_until(
            lambda: " ready." in self.log_text(1_000_000), "the Celery worker was not ready", timeout, (self,)
        )


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
