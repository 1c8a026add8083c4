"""A real Ralph LRS (openfun/ralph, PyPI ralph-malph[cli,lrs]) for the sync tests.

It runs from its own virtualenv, .venv-ralph/ (`make test` creates it: Makefile,
requirements-ralph.txt), with the file-system backend under a temporary folder, on a free port of
127.0.0.1: `ralph auth` writes the Basic-auth credentials, scripts/ralph_lrs.py serves
/xAPI/statements (what `ralph runserver -b fs` serves; see its docstring for the one change),
`/__heartbeat__` says when it is up. stop() ends it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import requests

from tests.services import ROOT, Process, free_port, wait_until

RALPH_BIN = ROOT / ".venv-ralph" / "bin" / "ralph"
XAPI_HEADERS = {"X-Experience-API-Version": "1.0.3"}


class RalphLRS(Process):
    def __init__(
        self,
        workdir: Path,
        username: str = "learnstats",
        password: str = "lrs-test-password",
        page_size: int | None = None,
    ):
        """page_size: statements per page of GET /xAPI/statements (Ralph's default: 100)."""
        if not RALPH_BIN.exists():
            raise RuntimeError(
                f"{RALPH_BIN} is missing: the Ralph LRS lives in a virtualenv of its own; create it "
                "with `make .venv-ralph/.installed` (`make test` does it)"
            )
        self.workdir = workdir
        self.username, self.password = username, password
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.xapi = f"{self.base}/xAPI"
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir),
            "RALPH_APP_DIR": str(workdir / "app"),
            "RALPH_RUNSERVER_BACKEND": "fs",
        }
        if page_size:
            env["RALPH_RUNSERVER_MAX_SEARCH_HITS_COUNT"] = str(page_size)
        subprocess.run(
            [str(RALPH_BIN), "--verbosity", "WARNING", "auth", "-u", username, "-p", password,
             "-s", "all", "-M", f"mailto:{username}@example.org", "-w"],
            env=env, cwd=workdir, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        # Ralph's own server (scripts/ralph_lrs.py: `ralph runserver -b fs` without the reloader,
        # each POST appended to its file rather than refused after the first one).
        command = [
            str(RALPH_BIN.parent / "python"), str(ROOT / "scripts" / "ralph_lrs.py"),
            "--data", str(workdir / "data"), "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        super().__init__("Ralph LRS", command, env, workdir / "ralph.log", cwd=workdir)
        wait_until(
            lambda: requests.get(f"{self.base}/__heartbeat__", timeout=5).status_code == 200,
            "the Ralph LRS did not answer /__heartbeat__",
            90,
            (self,),
        )

    def post(self, statements: list[dict]) -> list[str]:
        """POST statements to /xAPI/statements; the ids Ralph answers."""
        response = requests.post(
            f"{self.xapi}/statements",
            data=json.dumps(statements),
            headers={**XAPI_HEADERS, "Content-Type": "application/json"},
            auth=(self.username, self.password),
            timeout=30,
        )
        assert response.status_code == 200, (
            f"Ralph refused the statements: {response.status_code} {response.text}"
        )
        return response.json()

    def stored(self) -> list[dict]:
        """Every statement Ralph keeps (its fs backend's file, one JSON object per line)."""
        statements = []
        for path in sorted((self.workdir / "data").glob("*")):
            for line in path.read_text().splitlines():
                if line.strip():
                    statements.append(json.loads(line))
        return statements
