"""The PDF button's printing browser opens this server on loopback, never the address a client
named (Host, X-Forwarded-Host/-Port): otherwise a signed-in user could send the server's
Chromium, with their cookie, to any machine (server-side request forgery)."""

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboards.components.page_pdf import _own_address


def _address(headers: dict, server_name: str = "0.0.0.0", port: str = "8050", proxies: int = 0) -> str:
    app = Flask(__name__)
    seen = {}

    @app.get("/")
    def index():
        seen["address"] = _own_address()
        return ""

    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)
    client = app.test_client()
    client.get("/", headers=headers, environ_overrides={"SERVER_NAME": server_name, "SERVER_PORT": port})
    return seen["address"]


def test_pdf001_forged_host_is_not_followed():
    assert _address({"Host": "evil.example:666"}) == "http://127.0.0.1:8050"


def test_pdf002_forwarded_host_and_port_are_not_followed():
    headers = {"Host": "proxy", "X-Forwarded-Host": "169.254.169.254", "X-Forwarded-Port": "80"}
    assert _address(headers, port="8000", proxies=1) == "http://127.0.0.1:8000"


def test_pdf003_ipv6_listener_uses_ipv6_loopback():
    assert _address({"Host": "evil.example"}, server_name="::", port="9000") == "http://[::1]:9000"
