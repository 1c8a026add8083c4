"""exports/page_pdf.py keeps its deadline when the browser stops answering: a browser that
never writes on its DevTools pipe makes print_page_pdf fail with a sentence once `timeout` has
passed, instead of holding the request (and its server thread) for ever. Before the fix the
read on the pipe blocked with no limit (seen with the 100,000-learner platform's PDF button)."""

from __future__ import annotations

import threading
import time

import pytest

from exports import page_pdf


def test_pdf004_a_browser_that_never_answers_fails_at_the_deadline(tmp_path, monkeypatch):
    # A real process in the browser's place: it keeps the DevTools pipe open, reads nothing
    # and answers nothing.
    silent = tmp_path / "chromium"
    silent.write_text("#!/bin/sh\nexec /bin/sleep 120\n")
    silent.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}")
    assert page_pdf.browser_path() == str(silent)
    outcome: dict = {}

    def run():
        started = time.monotonic()
        try:
            page_pdf.print_page_pdf("http://127.0.0.1:9/", {}, timeout=2.0)
        except page_pdf._PrintFailed as error:
            outcome["error"] = str(error)
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        pytest.fail("print_page_pdf still waits for the silent browser after 60 s (timeout 2 s)")
    assert outcome["error"] == "the browser took too long"
    assert 2.0 <= outcome["seconds"] < 30  # the deadline, then the browser stopped (terminate)
