"""Issue 10 point 4: the security headers on every kind of response, Secure cookies, and no
server version banner from a real server. (That every page works under the policy is proved by
the browser tests: each ends with `get_logs() == []`, and a refused script is a SEVERE log.)"""

from __future__ import annotations

import http.client
import re
import socket
import threading

import pytest
from werkzeug.serving import make_server

from auth.headers import QuietRequestHandler
from data.config import load_settings
from tests.conftest import sign_in


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_headers(response) -> None:
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    script = directives["script-src"].split()
    assert script[0] == "'self'" and all(s.startswith("'sha256-") for s in script[1:])
    assert "unsafe-eval" not in csp and "'unsafe-inline'" not in directives["script-src"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Server"] == "Learnstats"


def test_hdr001_every_kind_of_response(client, factory):
    factory.user(email="ann@example.org", roles=("admin",))
    factory.s.commit()
    anonymous = [
        client.get("/login"),
        client.get("/assets/learnstats.css"),
        client.get("/"),  # redirect
        client.get("/_dash-layout"),  # 401 JSON
    ]
    for response in anonymous:
        check_headers(response)
    sign_in(client, "ann@example.org")
    signed = [
        client.get("/"),
        client.get("/no/such/page"),  # 404
        client.get("/_dash-layout"),
        client.get("/_dash-dependencies"),
        client.get("/download/opco-logs"),
        client.get("/download/opco-logs?nope=1"),  # 400
        client.get("/logout"),
    ]
    for response in signed:
        check_headers(response)


def test_hdr002_script_hashes_cover_dash_inline_scripts(client, factory):
    """Every inline script of the page (Dash's renderer start-up, clientside callbacks) has its
    hash in the policy; nothing else inline would run."""
    import base64
    import hashlib

    factory.user(email="ann@example.org", roles=("admin",))
    factory.s.commit()
    sign_in(client, "ann@example.org")
    response = client.get("/")
    # Scripts inside HTML comments (Dash's <!--[if IE]> warning) never run.
    page = re.sub(r"<!--.*?-->", "", response.get_data(as_text=True), flags=re.S)
    allowed = set(
        re.search(r"script-src ([^;]*)", response.headers["Content-Security-Policy"]).group(1).split()
    )
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", page, flags=re.S)
    executable = [body for attrs, body in inline if "application/json" not in attrs]
    assert executable, "the page has inline scripts (Dash's renderer start-up at least)"
    for body in executable:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed


def test_hdr003_secure_cookies_setting(make_app, monkeypatch, tmp_path):
    monkeypatch.delenv("LEARNSTATS_SECURE_COOKIES", raising=False)
    monkeypatch.delenv("LEARNSTATS_ENV", raising=False)
    assert load_settings({"instance_path": tmp_path}).secure_cookies is False
    assert (
        load_settings({"instance_path": tmp_path, "production": True, "secret_key": "k" * 40}).secure_cookies
        is True
    )
    monkeypatch.setenv("LEARNSTATS_ENV", "production")
    assert load_settings({"instance_path": tmp_path, "secret_key": "k" * 40}).secure_cookies is True
    monkeypatch.setenv("LEARNSTATS_SECURE_COOKIES", "false")
    assert load_settings({"instance_path": tmp_path, "secret_key": "k" * 40}).secure_cookies is False
    monkeypatch.delenv("LEARNSTATS_ENV")
    monkeypatch.setenv("LEARNSTATS_SECURE_COOKIES", "true")
    assert load_settings({"instance_path": tmp_path}).secure_cookies is True

    monkeypatch.delenv("LEARNSTATS_SECURE_COOKIES")
    plain = make_app().server.test_client()
    plain.get("/login")
    cookie = plain.get_cookie("session")
    assert cookie is not None and not cookie.secure and cookie.http_only
    secure = make_app(secure_cookies=True).server.test_client()
    response = secure.get("/login", base_url="https://localhost")
    assert "; Secure" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.fixture
def live_server(server):
    port = free_port()
    httpd = make_server("127.0.0.1", port, server, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        httpd.shutdown()
        thread.join(5)


def test_hdr004_no_server_version_banner(live_server):
    """`make run` serves with QuietRequestHandler: Werkzeug's own "Werkzeug/x Python/y" banner
    is not sent, only the app's "Learnstats"."""
    connection = http.client.HTTPConnection("127.0.0.1", live_server, timeout=10)
    for path in ("/login", "/assets/learnstats.css", "/_dash-layout", "/nothing"):
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        servers = response.headers.get_all("Server")
        assert servers == ["Learnstats"], (path, servers)
        assert not re.search(r"\d", servers[0])
    connection.close()
