"""A small LRS over real HTTP (http.server on 127.0.0.1, in a thread of the test) for the sync's
failure paths that a real Ralph cannot be asked to show on cue: an error on the second page, a
`more` leading to another host, an answer that is not JSON, a slow page. The Statements
resource follows xAPI 1.0.3: Basic auth, the X-Experience-API-Version header required,
`since` on `stored` (exclusive), `ascending`, pages of `page_size` linked by a relative `more`.
The system tests use the real Ralph LRS (tests/lrs.py).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

USER, PASSWORD = "learnstats", "fake-lrs-password"


class FakeLRS:
    def __init__(self, page_size: int = 7):
        self.statements: list[dict] = []
        self.page_size = page_size
        self.requests: list[str] = []  # the paths asked, query included
        self.headers: list[dict] = []
        self.fail_pages: dict[int, int] = {}  # page number (1 = first of a request chain) -> status
        self.delay = 0.0  # seconds before each answer
        self.more_override: str | None = None  # a `more` to send instead of ours
        self.not_json = False
        # Pages from hold_from on wait for the gate (a test opens it): a sync held mid-way for
        # as long as the test needs, whatever the machine's load.
        self.hold_from: int | None = None
        self.gate = threading.Event()
        self._clock = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
        lrs = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_GET(self):
                lrs.requests.append(self.path)
                lrs.headers.append(dict(self.headers))
                time.sleep(lrs.delay)
                status, body = lrs.answer(self.path, self.headers)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not lrs.not_json else "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.xapi = f"{self.base}/xAPI"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def store(self, statements: list[dict]) -> None:
        """Keep statements as an LRS does: `stored` set now (a millisecond apart each)."""
        for statement in statements:
            self._clock += timedelta(milliseconds=1)
            self.statements.append({**statement, "stored": self._clock.isoformat().replace("+00:00", "Z")})

    def answer(self, path: str, headers) -> tuple[int, dict | bytes]:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if headers.get("Authorization") != expected:
            return 401, {"detail": "Invalid authentication credentials"}
        if headers.get("X-Experience-API-Version") != "1.0.3":
            return 400, {"detail": "X-Experience-API-Version header missing"}
        parts = urlsplit(path)
        if parts.path != "/xAPI/statements":
            return 404, {"detail": "Not Found"}
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        page = int(query.get("page", "1"))
        if self.hold_from is not None and page >= self.hold_from:
            self.gate.wait(120)
        if page in self.fail_pages:
            return self.fail_pages.pop(page), {"detail": "Internal Server Error"}
        if self.not_json:
            return 200, b"<html><body>Welcome to the LMS</body></html>"
        chosen = self.statements
        if "since" in query:
            since = datetime.fromisoformat(query["since"].replace("Z", "+00:00"))
            chosen = [s for s in chosen if datetime.fromisoformat(s["stored"].replace("Z", "+00:00")) > since]
        chosen = sorted(chosen, key=lambda s: s["stored"], reverse=query.get("ascending") != "true")
        offset = (page - 1) * self.page_size
        batch = chosen[offset : offset + self.page_size]
        more = ""
        if offset + self.page_size < len(chosen):
            rest = {k: v for k, v in query.items() if k != "page"}
            more = "/xAPI/statements?" + "&".join(f"{k}={v}" for k, v in rest.items()) + f"&page={page + 1}"
            more = more.replace("+", "%2B")
        if self.more_override is not None:
            more = self.more_override
        return 200, {"statements": batch, "more": more}
