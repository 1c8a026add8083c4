"""A dashboard page as a PDF file: the installed Chromium, headless, opens the page as the
asking user (their own session cookie: it sees what they see, nothing more), waits for Dash to
draw it, and prints it with its print stylesheet (DevTools Page.printToPDF).

Chromium is driven over its DevTools pipe (--remote-debugging-pipe: file descriptors 3 and 4,
JSON messages ended by a NUL byte), so no driver program and no network port are involved.
docs/decisions.md ("A page as PDF") says why the browser prints rather than kaleido.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from base64 import b64decode
from collections.abc import Mapping

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    # The page is never on screen: without these Chromium throttles it as a background tab and
    # a long table takes minutes to draw.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--window-size=1200,900",
)
# A4 in inches; the stylesheet's @page sets the margins.
PAPER = {"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": True, "preferCSSPageSize": True}
# Drawn: the page's content is there, no Dash callback is running, no loading spinner shows.
READY_JS = """
(function () {
  if (document.readyState !== "complete") { return false; }
  if (!document.querySelector(".ls-page h1")) { return false; }
  if (document.querySelector("[data-dash-is-loading='true'], ._dash-loading-callback")) { return false; }
  var tables = document.querySelectorAll(".ls-results");
  for (var i = 0; i < tables.length; i++) {
    if (!tables[i].querySelector("tbody tr, .ls-empty")) { return false; }
  }
  return document.body.innerText.length;
})()
"""


class _PrintFailed(Exception):
    """Chromium could not print the page (the caller says so in a sentence)."""


def browser_path() -> str | None:
    """The Chromium (or Chrome) on PATH, or None."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


class _Pipe:
    """DevTools over the pipe: send a command, read messages until its answer."""

    def __init__(self, process: subprocess.Popen, to_browser: int, from_browser: int, deadline: float):
        self.process, self.to_browser, self.from_browser = process, to_browser, from_browser
        self.deadline = deadline
        self.next_id = 0
        self.buffer = b""

    def _read_message(self) -> dict:
        while b"\0" not in self.buffer:
            # Wait for the browser's answer until the deadline, not longer: a browser that
            # stops answering (seen on the 100,000-learner platform) would otherwise hold the
            # request, and the server thread serving it, for ever.
            remaining = self.deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.from_browser], [], [], remaining)[0]:
                raise _PrintFailed("the browser took too long")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise _PrintFailed("the browser stopped")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        command = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            command["sessionId"] = session
        os.write(self.to_browser, json.dumps(command).encode() + b"\0")
        while True:
            message = self._read_message()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise _PrintFailed(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})


def print_page_pdf(
    url: str, cookies: Mapping[str, str], language: str | None = None, timeout: float = 90.0
) -> bytes:
    """The page at `url` (an address of this app) printed to PDF by headless Chromium with
    `cookies` set for its host, asking for `language` (an Accept-Language value). Raises _PrintFailed when no browser is installed, it fails or
    the page is not drawn within `timeout` seconds."""
    browser = browser_path()
    if browser is None:
        raise _PrintFailed("no Chromium installed")
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="learnstats-print-") as profile:
        # fd 3: what the browser reads (our commands); fd 4: what it writes (answers).
        commands_read, commands_write = os.pipe()
        answers_read, answers_write = os.pipe()

        def wire_pipes():  # in the child, before exec: the descriptors DevTools expects
            reading, writing = os.dup(commands_read), os.dup(answers_write)  # either may be 3 or 4
            os.dup2(reading, 3)
            os.dup2(writing, 4)

        process = subprocess.Popen(
            [browser, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes,
            pass_fds=(3, 4),  # kept open through exec (set by wire_pipes)
        )
        os.close(commands_read)
        os.close(answers_write)
        try:
            pipe = _Pipe(process, commands_write, answers_read, deadline)
            return _print(pipe, url, cookies, language, deadline)
        finally:
            for fd in (commands_write, answers_read):
                os.close(fd)
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _print(pipe: _Pipe, url: str, cookies: Mapping[str, str], language: str | None, deadline: float) -> bytes:
    target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for name, value in cookies.items():
        pipe.call("Network.setCookie", {"name": name, "value": value, "url": url}, session)
    if language:  # (not through the Network domain: its events would fill the pipe unread)
        agent = pipe.call("Browser.getVersion")["userAgent"]
        pipe.call("Emulation.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": language}, session)
    pipe.call("Page.enable", {}, session)
    pipe.call("Page.bringToFront", {}, session)
    pipe.call("Page.navigate", {"url": url}, session)
    seen, steady = None, 0
    while steady < 3:  # drawn, and the same for three looks in a row (charts settle)
        if time.monotonic() > deadline:
            raise _PrintFailed("the page was not drawn in time")
        time.sleep(0.5)
        result = pipe.call("Runtime.evaluate", {"expression": READY_JS, "returnByValue": True}, session)
        value = result.get("result", {}).get("value")
        steady = steady + 1 if value and value == seen else 0
        seen = value
    pipe.call("Emulation.setEmulatedMedia", {"media": "print"}, session)
    pipe.call("Runtime.evaluate", {"expression": "window.dispatchEvent(new Event('beforeprint'))"}, session)
    time.sleep(0.5)  # the grids switch to their print layout
    data = pipe.call("Page.printToPDF", PAPER, session)["data"]
    return b64decode(data)
