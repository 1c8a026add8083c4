"""Issue 12, defects found through the French interface: a signed-out browser following a
download link gets the sign-in page (then the download), not raw JSON. (The OPCO dialog's
"nothing to export" is in test_opco_dialog.py; the attestation upload in the browser tests.)"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.opco_world import ACCOUNTS, PASSWORD, build_world

# What Chrome sends when following a link (a navigation).
BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
    "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
LINK = "/download/opco-logs?session=s-a&format=csv&delimiter=%3B"


def _csrf(client, url: str) -> str:
    page = client.get(url, headers={"Accept": BROWSER_ACCEPT}).get_data(as_text=True)
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_ux12_001_signed_out_browser_following_a_download_link_signs_in_then_downloads(client, factory):
    build_world(factory)
    factory.s.commit()
    response = client.get(LINK, headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 302, response.get_data(as_text=True)
    to_login = urlsplit(response.headers["Location"])
    assert to_login.path == "/login" and parse_qs(to_login.query) == {"next": [LINK]}
    page = client.get(response.headers["Location"], headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 200 and 'id="signin-form"' in page.get_data(as_text=True)
    signed = client.post(
        response.headers["Location"],
        data={"email": ACCOUNTS["inst"], "password": PASSWORD, "csrf_token": _csrf(client, "/login")},
        headers={"Accept": BROWSER_ACCEPT},
    )
    # The emailed links' flow: a page that starts the download, not the sign-in form left on screen.
    location = urlsplit(signed.headers["Location"])
    assert signed.status_code == 302 and location.path == "/login/download"
    assert parse_qs(location.query) == {"next": [LINK]}
    landing = client.get(signed.headers["Location"], headers={"Accept": BROWSER_ACCEPT})
    assert landing.status_code == 200
    assert f'url={LINK.replace("&", "&amp;")}"' in landing.get_data(as_text=True)
    file = client.get(LINK, headers={"Accept": BROWSER_ACCEPT})
    assert file.status_code == 200
    assert file.get_data().startswith(b"\xef\xbb\xbfLast name;First name;Email;")


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {}),  # a script sending no Accept header
        ("GET", {"Accept": "*/*"}),  # curl, requests
        ("GET", {"Accept": "application/json"}),
        ("GET", {"Accept": "application/json, text/html;q=0.5"}),
        ("POST", {"Accept": BROWSER_ACCEPT}),  # not a link followed
    ],
)
def test_ux12_002_other_clients_keep_the_json_401(client, method, headers):
    response = client.open(LINK, method=method, headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": "sign in first"}


def test_ux12_003_dash_requests_keep_the_json_401_whatever_they_accept(client):
    for path in ("/_dash-layout", "/_dash-dependencies"):
        response = client.get(path, headers={"Accept": BROWSER_ACCEPT})
        assert response.status_code == 401 and response.get_json() == {"error": "sign in first"}


def test_ux12_004_the_dialogs_row_check_does_not_sort_the_export(factory):
    """The OPCO dialog asks has_opco_log_rows at each change of its filters: one LIMIT 1 query,
    without the export's ORDER BY (which sorted every matching row first: 57 ms at 10,000
    learners, 0.5 ms without)."""
    from datetime import date
    from zoneinfo import ZoneInfo

    from sqlalchemy import event

    from data.scope import global_scope
    from exports.opco_logs import OpcoLogFilters, has_opco_log_rows

    build_world(factory)
    factory.s.commit()
    seen: list[str] = []
    engine = factory.s.get_bind()

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        tz = ZoneInfo("Europe/Paris")
        assert has_opco_log_rows(factory.s, global_scope(), OpcoLogFilters(), tz) is True
        query = [q for q in seen if "FROM connections" in q]
        assert len(query) == 1 and "LIMIT" in query[0] and "ORDER BY" not in query[0]
        future = OpcoLogFilters(date_from=date(2035, 1, 1))
        assert has_opco_log_rows(factory.s, global_scope(), future, tz) is False
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_d12_005_signing_in_to_an_emailed_file_leaves_no_sign_in_form_on_screen(client, factory):
    """The emailed link, clicked while signed out, goes through the sign-in page; the file then
    downloaded and the filled form stayed on screen. Now the browser lands on a page saying the
    download starts (a meta refresh to the file, no script)."""
    from urllib.parse import parse_qs, urlsplit

    from tests.conftest import sign_out

    factory.user("boss", email="boss@example.org", roles=("admin",))
    factory.s.commit()
    link = "/exports/opco-logs/some.signed-token"
    to_login = client.get(link)
    assert to_login.status_code == 302 and "/login?next=" in to_login.headers["Location"]
    page = client.get(to_login.headers["Location"]).get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    signed = client.post(
        to_login.headers["Location"],
        data={"email": "boss@example.org", "password": "password123", "csrf_token": token},
    )
    assert signed.status_code == 302
    location = urlsplit(signed.headers["Location"])
    assert location.path == "/login/download" and parse_qs(location.query) == {"next": [link]}
    landing = client.get(signed.headers["Location"])
    html = landing.get_data(as_text=True)
    assert landing.status_code == 200
    assert f'<meta http-equiv="refresh" content="0; url={link}">' in html
    assert f'href="{link}"' in html and 'id="signin-form"' not in html and "<script" not in html
    # Pages are not files: straight there; and no open redirect through the landing page.
    assert client.get("/login/download?next=/training/x").headers["Location"] == "/training/x"
    assert client.get("/login/download?next=//evil.example/exports/x").headers["Location"] == "/"
    sign_out(client)
    page = client.get("/login?next=/training/x").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    signed = client.post(
        "/login?next=/training/x",
        data={"email": "boss@example.org", "password": "password123", "csrf_token": token},
    )
    assert signed.headers["Location"] == "/training/x"
