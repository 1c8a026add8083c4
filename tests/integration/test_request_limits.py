"""Request bodies over LEARNSTATS_MAX_REQUEST_MB are refused with 413 before they are read
(issue 23 point 2): the audit's 300 MB callback body took a worker from 196 to 1,086 MiB, and
six anonymous 100 MB sign-in posts took make serve's workers to 1.6 GiB."""

from __future__ import annotations

import socket
import threading

import pytest
from werkzeug.serving import make_server

from data.config import SettingsError, load_settings

MB = 2**20


def test_req001_a_20_mb_callback_or_sign_in_body_is_413_with_a_sentence(client, dash_app):
    body = b"{" + b" " * (20 * MB) + b"}"
    response = client.post("/_dash-update-component", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {"error": "This request is too large (over 8 MB); nothing was changed."}
    response = client.post("/login", data=b"x" * (20 * MB), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert "Request too large" in response.get_data(as_text=True)


def test_req002_under_the_limit_the_request_is_handled_as_before(client, dash_app):
    # A 7 MB JSON body that is not a callback Dash knows: Dash's own answer, not 413.
    body = b'{"output": "nothing.children", "outputs": {"id": "nothing", "property": "children"}, "pad": "'
    body += b"x" * (7 * MB) + b'"}'
    response = client.post("/_dash-update-component", data=body, content_type="application/json")
    assert response.status_code != 413


def test_req003_the_limit_is_a_setting(make_app, client):
    app = make_app(max_request_mb=1)
    test_client = app.server.test_client()
    response = test_client.post(
        "/_dash-update-component", data=b"x" * (MB + 1), content_type="application/json"
    )
    assert response.status_code == 413
    assert "over 1 MB" in response.get_json()["error"]
    for bad in ("0", "2000", "8MB", "-1"):
        with pytest.raises(SettingsError, match="LEARNSTATS_MAX_REQUEST_MB"):
            load_settings({"max_request_mb": bad})
    assert load_settings({}).max_request_mb == 8


def test_req004_a_real_server_answers_413_without_reading_the_body(dash_app):
    """Over a socket: the headers announce 200 MB and only 1 KB follows; the answer comes at
    once (the server does not wait for the rest) and the connection is closed."""
    server = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(
                b"POST /_dash-update-component HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (200 * MB) + b"{" * 1024
            )
            answer = b""
            while chunk := sock.recv(65536):  # a timeout here would mean the server waits for the body
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 413")
        assert b"too large" in answer
    finally:
        server.shutdown()
