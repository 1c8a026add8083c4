"""A throwaway PostgreSQL server for tests (pytest plugin, registered in tests/conftest.py).

`pg_url` (session scope) starts one cluster from the Debian binaries in
/usr/lib/postgresql/*/bin (or LEARNSTATS_PG_BIN, or initdb on PATH), listening on 127.0.0.1
on a free port with its socket in its own temporary directory, fsync off, and yields a
SQLAlchemy URL to a database in it; the server is stopped and its files removed at the end,
whatever happened. `pg_db_url` gives each test a database of its own (CREATE DATABASE), empty;
`pg_migrated_db_url` one already migrated (a copy of a database migrated once per session).

initdb and postgres refuse to run as root: as root the cluster directory belongs to the
`postgres` user and every server command runs through `runuser -u postgres --`.
Missing binaries make the tests fail (not skip) with a message saying what to install.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

SUPERUSER = "postgres"
START_TIMEOUT_S = 60


def find_pg_bin() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres (newest version first)."""
    override = os.environ.get("LEARNSTATS_PG_BIN")
    if override:
        return Path(override) if (Path(override) / "initdb").exists() else None

    def version(path: str) -> tuple[int, ...]:
        found = re.search(r"/postgresql/([\d.]+)/", path)
        return tuple(int(p) for p in found.group(1).split(".")) if found else (0,)

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version, reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PgCluster:
    """One running throwaway cluster; superuser `postgres`, trust auth on 127.0.0.1 only."""

    bin_dir: Path
    root: Path
    port: int = 0
    as_postgres: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False)

    def _check(self, result: subprocess.CompletedProcess, what: str) -> None:
        if result.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
            raise RuntimeError(
                f"{what} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}\n{log}"
            )

    def start(self) -> None:
        result = self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        self._check(result, "initdb")
        options = " ".join(
            (
                "-h 127.0.0.1",
                f"-k {self.root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            )
        )
        # The port is free when chosen but could be taken before the server binds it: retry.
        for _attempt in range(5):
            self.port = _free_port()
            result = self._run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "-o",
                f"{options} -p {self.port}",
                "start",
            )
            if result.returncode == 0:
                return
            if "could not bind" not in self.log_file.read_text(errors="replace"):
                break
        self._check(result, "pg_ctl start")

    def stop(self) -> None:
        """Stop the server; kill it if pg_ctl cannot (nothing is left running)."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        result = self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        if result.returncode != 0 and pid_file.exists():
            pid = int(pid_file.read_text().splitlines()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def admin(self) -> psycopg.Connection:
        """An autocommit connection to the maintenance database (CREATE/DROP DATABASE)."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        )

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database, empty or a copy of template (no one may be connected to it)."""
        with self.admin() as conn:
            if template is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            else:
                # FILE_COPY (PostgreSQL 15+) copies a small database faster than WAL_LOG.
                strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}" + strategy).format(
                        sql.Identifier(name), sql.Identifier(template)
                    )
                )
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _missing_message() -> str:
    return (
        "PostgreSQL binaries (initdb, pg_ctl, postgres) were not found in /usr/lib/postgresql/*/bin "
        "nor on PATH: install them as root with `apt-get install postgresql` (or `make "
        "system-test-deps`), or point LEARNSTATS_PG_BIN at the directory holding initdb."
    )


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    bin_dir = find_pg_bin()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        pytest.fail(_missing_message(), pytrace=False)
    as_root = os.geteuid() == 0
    if as_root:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root needs a `postgres` system user to run the server", pytrace=False)
        if not shutil.which("runuser"):
            pytest.fail("running as root needs `runuser` (util-linux) to start PostgreSQL", pytrace=False)
    # As root the directory must be reachable by `postgres`: /tmp is world-traversable.
    root = Path(tempfile.mkdtemp(prefix="learnstats-pg-", dir="/tmp" if as_root else None))
    cluster = PgCluster(bin_dir=bin_dir, root=root, as_postgres=as_root)
    try:
        if as_root:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        try:
            cluster.start()
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            pytest.fail(f"could not start a throwaway PostgreSQL server: {error}", pytrace=False)
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(pg_cluster: PgCluster) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://) to a database on the session's server."""
    return pg_cluster.create_database("learnstats")


_db_numbers = itertools.count(1)


@pytest.fixture
def pg_db_url(pg_cluster: PgCluster, pg_url: str) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    name = f"learnstats_test_{os.getpid()}_{next(_db_numbers)}"
    url = pg_cluster.create_database(name)
    try:
        yield url
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture(scope="session")
def pg_migrated_template(pg_cluster: PgCluster) -> str:
    """The name of a database migrated once per session by the product's Database.migrate()
    (platform time zone Europe/Paris, make_app's default), to be copied by pg_migrated_db_url."""
    from zoneinfo import ZoneInfo

    from data.db import Database

    name = "learnstats_migrated"
    db = Database(pg_cluster.create_database(name), ZoneInfo("Europe/Paris"))
    try:
        db.migrate()
    finally:
        db.engine.dispose()
    return name


@pytest.fixture
def pg_migrated_db_url(pg_cluster: PgCluster, pg_migrated_template: str) -> Iterator[str]:
    """A database for one test, already migrated: a copy of the session's migrated one (CREATE
    DATABASE ... TEMPLATE, much faster than the migrations); dropped afterwards. make_app still
    runs Database.migrate() on it, which finds nothing to do (or rebuilds the summaries for
    another time zone)."""
    name = f"learnstats_test_{os.getpid()}_{next(_db_numbers)}"
    url = pg_cluster.create_database(name, template=pg_migrated_template)
    try:
        yield url
    finally:
        pg_cluster.drop_database(name)


__all__ = [
    "PgCluster",
    "find_pg_bin",
    "pg_cluster",
    "pg_db_url",
    "pg_migrated_db_url",
    "pg_migrated_template",
    "pg_url",
]
