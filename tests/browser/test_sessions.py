"""A session instructor in a real browser: the session page, the export dialog, Download now
(the file read back from Chrome's download folder) and Receive by email (a real background job
and a real SMTP server on 127.0.0.1)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import sign_in
from tests.factories import Factory
from tests.opco_world import ACCOUNTS, PASSWORD, build_world


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """Answers 451 (try again later) to the first `refuse` messages, then accepts them."""

    def __init__(self, refuse: int = 0):
        self.refuse = refuse
        self.refused = 0
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        if self.refused < self.refuse:
            self.refused += 1
            return "451 4.3.0 Mailbox busy, try again later"
        self.messages.append(envelope.content)
        return "250 OK"


def allow_downloads(dash_duo, tmp_path: Path) -> Path:
    """A fresh folder the browser saves downloads into, without asking."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    dash_duo.driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    return downloads


def wait_for_download(folder: Path, timeout: float = 20) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if not p.name.endswith((".crdownload", ".tmp"))]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"nothing was downloaded to {folder}: {list(folder.iterdir())}")


def test_ses_b001_session_page_export_dialog_download_and_email(dash_duo, make_app, tmp_path):
    inbox = Inbox(refuse=2)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        app = make_app(smtp_url=f"smtp://127.0.0.1:{controller.port}")
        with app.server.extensions["learnstats_db"].session() as s:
            build_world(Factory(s))
        downloads = allow_downloads(dash_duo, tmp_path)

        dash_duo.start_server(app, navigate=False)
        base = dash_duo.server.url.rstrip("/")
        dash_duo.driver.get(base + "/login?next=/sessions")
        dash_duo.wait_for_element("#signin-email").send_keys(ACCOUNTS["inst"])
        dash_duo.find_element("#signin-password").send_keys(PASSWORD)
        dash_duo.find_element("#signin-submit").click()
        WebDriverWait(dash_duo.driver, 10).until(lambda d: urlsplit(d.current_url).path == "/sessions")

        # The sessions list: only their session; its name links to the session page.
        dash_duo.wait_for_element(".ls-grid-link")
        [row_link] = dash_duo.find_elements(".ls-grid-link")
        assert row_link.text == "Printemps 2026"
        row_link.click()
        WebDriverWait(dash_duo.driver, 10).until(lambda d: urlsplit(d.current_url).path == "/session/s-a")

        dash_duo.wait_for_text_to_equal("#session-title", "Printemps 2026")
        dash_duo.wait_for_text_to_equal("#session-card-registered-learners-value", "4")
        dash_duo.wait_for_text_to_equal("#session-card-median-time-spent-value", "1 h 08 min")
        assert dash_duo.find_element("#nav-sessions-link").text == "Sessions"

        dash_duo.find_element("#opco-open-button").click()
        dash_duo.wait_for_element("#opco-dialog")
        dash_duo.wait_for_contains_text("#opco-email-note", "emailed to inst@example.org")
        WebDriverWait(dash_duo.driver, 10).until(
            lambda d: (
                "session=s-a" in (d.find_element("id", "opco-download-link").get_attribute("href") or "")
            )
        )
        link = dash_duo.find_element("#opco-download-link")
        expected_path = urlsplit(link.get_attribute("href"))
        link.click()
        downloaded = wait_for_download(downloads)
        assert downloaded.name.startswith("opco-logs-s-a-") and downloaded.suffix == ".csv"
        data = downloaded.read_bytes()
        # An English browser: "," between cells (the dialog's format preset, issue 12 point 3).
        assert data.startswith(b"\xef\xbb\xbfLast name,First name,Email,Company,Funding,")
        lines = data.decode("utf-8-sig").splitlines()
        assert len(lines) == 1 + 5
        assert lines[1].startswith("Bernard,Ève,eve@example.org,")
        # The same bytes as the route gives any client asking with the same filters.
        client = app.server.test_client()
        sign_in(client, ACCOUNTS["inst"])
        assert client.get(f"{expected_path.path}?{expected_path.query}").get_data() == data

        # The mail server refuses the first two attempts: while the job runs (about 6 s of
        # retries), the dialog shows its live state, the retry and why the last attempt failed.
        dash_duo.find_element("#opco-email-button").click()
        dash_duo.wait_for_text_to_equal("#opco-job-state-name", "Sending", timeout=15)
        dash_duo.wait_for_contains_text("#opco-job-state-message", "attempt 2 of 3", timeout=15)
        assert "previous attempt failed" in dash_duo.find_element("#opco-job-state-message").text
        assert "Mailbox busy" in dash_duo.find_element("#opco-job-state-message").text
        assert inbox.messages == []
        dash_duo.wait_for_text_to_equal("#opco-job-state-name", "Sent", timeout=30)
        assert inbox.refused == 2
        assert "Sent to inst@example.org" in dash_duo.find_element("#opco-job-state-message").text
        assert len(inbox.messages) == 1
        assert b"/exports/opco-logs/" in inbox.messages[0]

        assert dash_duo.get_logs() == []
    finally:
        controller.stop()
