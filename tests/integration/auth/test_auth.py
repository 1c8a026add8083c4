"""Sign-in (SPEC §6, issue 2 point 7): set-password, the sign-in form, `next`, CSRF, the guard."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.conftest import sign_in, sign_out

# Sign-in itself: the product's scrypt hashes, not the tests' cheap ones (docs/testing.md).
pytestmark = pytest.mark.real_password_hash

SIGNED_IN_PROBE = "/_dash-layout"  # 200 when signed in, 401 when not


def set_password(server, email: str, typed: str):
    """`flask set-password EMAIL` with the password on standard input (not a terminal)."""
    return server.test_cli_runner().invoke(args=["set-password", email], input=typed)


def is_signed_in(client) -> bool:
    status = client.get(SIGNED_IN_PROBE).status_code
    assert status in (200, 401)
    return status == 200


def form_sign_in(client, path: str, email: str, password: str):
    """Open the sign-in page at path, then post the form to the address its action names."""
    page = client.get(path).get_data(as_text=True)
    action = html.unescape(re.search(r'<form method="post" action="([^"]*)"', page).group(1))
    token = re.search(r'name="csrf_token" value="([^"]*)"', page).group(1)
    return client.post(action, data={"email": email, "password": password, "csrf_token": token})


def goes_to_sign_in(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


# -- set-password ----------------------------------------------------------------------------


def test_ath001_set_password_then_sign_in_through_the_form(server, client, factory):
    factory.user(email="claire.dubois@example.org", password="old-password")
    factory.s.commit()
    result = set_password(server, "claire.dubois@example.org", "newpassword1\n")
    assert result.exit_code == 0, result.output
    assert "Password set for claire.dubois@example.org." in result.output
    assert sign_in(client, "claire.dubois@example.org", "old-password").status_code == 401
    assert not is_signed_in(client)
    response = sign_in(client, "claire.dubois@example.org", "newpassword1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert is_signed_in(client)


def test_ath002_set_password_refuses_a_short_password(server, client, factory):
    factory.user(email="short@example.org", password="password123")
    factory.s.commit()
    result = set_password(server, "short@example.org", "seven77\n")
    assert result.exit_code == 1
    assert "set-password: the password must have at least 8 characters" in result.stderr
    assert "Password set" not in result.output
    # Nothing changed: the old password still works, the refused one does not.
    assert sign_in(client, "short@example.org", "seven77").status_code == 401
    assert sign_in(client, "short@example.org", "password123").status_code == 302


def test_ath003_set_password_for_an_unknown_email(server):
    result = set_password(server, "nobody@example.org", "newpassword1\n")
    assert result.exit_code == 1
    assert "set-password: no user has the email 'nobody@example.org'" in result.stderr


def test_ath004_imported_user_signs_in_only_once_a_password_is_set(server, client, factory):
    factory.user(email="imported@example.org", password=None)
    factory.s.commit()
    for attempt in ("", "password123", "None"):
        response = sign_in(client, "imported@example.org", attempt)
        assert response.status_code == 401
        assert "Wrong email or password." in response.get_data(as_text=True)
    assert not is_signed_in(client)
    # The email is matched whatever its case.
    assert set_password(server, "Imported@Example.org", "first-password\n").exit_code == 0
    assert sign_in(client, "imported@example.org", "first-password").status_code == 302
    assert is_signed_in(client)


# -- the sign-in form ------------------------------------------------------------------------


def test_ath005_next_brings_the_user_back_where_they_were_going(client, factory):
    factory.user(email="ann@example.org")
    factory.s.commit()
    response = client.get("/training/T1?tab=results")
    assert goes_to_sign_in(response)
    location = response.headers["Location"]
    assert parse_qs(urlsplit(location).query) == {"next": ["/training/T1?tab=results"]}
    response = form_sign_in(client, location, "ann@example.org", "password123")
    assert response.status_code == 302
    assert response.headers["Location"] == "/training/T1?tab=results"
    # Signed in, the sign-in page sends the user on as well.
    assert client.get("/login?next=/training/T2").headers["Location"] == "/training/T2"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/login",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/logout",
    ],
)
def test_ath006_next_never_leaves_the_site(client, factory, target):
    factory.user(email="ann@example.org")
    factory.s.commit()
    response = form_sign_in(client, "/login?" + urlencode({"next": target}), "ann@example.org", "password123")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert is_signed_in(client)
    assert client.get("/login?" + urlencode({"next": target})).headers["Location"] == "/"


@pytest.mark.parametrize("token", [None, "", "forged-token", "jeton-forgé"])
def test_ath007_post_without_the_csrf_token_is_refused(client, factory, token):
    factory.user(email="ann@example.org")
    factory.s.commit()
    client.get("/login")  # the session holds a real token; the post does not send it
    data = {"email": "ann@example.org", "password": "password123"}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/login", data=data)
    assert response.status_code == 400
    assert "Your sign-in form expired; please try again." in response.get_data(as_text=True)
    assert not is_signed_in(client)


def test_ath008_wrong_password_keeps_the_email_and_says_why(client, factory):
    factory.user(email="ann@example.org")
    factory.s.commit()
    response = sign_in(client, "ann@example.org", "not-the-password")
    page = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "Wrong email or password." in page
    assert 'value="ann@example.org"' in page
    assert not is_signed_in(client)


# -- the guard -------------------------------------------------------------------------------

ANONYMOUS_REFUSED = [
    ("GET", "/"),
    ("GET", "/training/x"),
    ("GET", "/training/x?tab=1"),
    ("GET", "/404"),
    ("GET", "/_dash-layout"),
    ("GET", "/_dash-dependencies"),
    ("POST", "/_dash-update-component"),
    ("GET", "/_dash-component-suites/dash/dash-renderer/build/dash_renderer.min.js"),
    ("GET", "/_reload-hash"),
    ("GET", "/download/results.csv"),
    ("GET", "/logout"),
    ("GET", "/some/unknown"),
    ("GET", "/static/app.py"),
    ("GET", "/favicon.ico"),
    ("GET", "/loginx"),
    ("GET", "/login/extra"),
    ("GET", "/login-page"),
    ("POST", "/"),
]


@pytest.mark.parametrize(("method", "path"), ANONYMOUS_REFUSED)
def test_ath009_every_route_refuses_anonymous_requests(client, method, path):
    if method == "POST":
        response = client.post(path, json={"output": "x.children", "inputs": [], "changedPropIds": []})
    else:
        response = client.get(path)
    assert goes_to_sign_in(response) or response.status_code == 401, (response.status_code, path)
    if response.status_code == 401:
        assert response.get_json() == {"error": "sign in first"}


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("/login", b'id="signin-form"'),
        ("/assets/bootstrap.min.css", b"Bootstrap"),
        ("/assets/learnstats.css", b""),
        ("/_favicon.ico", b"\x00\x00\x01\x00"),  # an ICO file's header
    ],
)
def test_ath010_sign_in_page_and_assets_are_public(client, path, content):
    response = client.get(path)
    assert response.status_code == 200
    assert content in response.get_data()


def test_ath011_signed_in_user_passes_the_guard_and_signs_out(client, factory):
    factory.user(email="ann@example.org")
    factory.s.commit()
    sign_in(client, "ann@example.org", "password123")
    assert client.get("/").status_code == 200
    assert client.get("/_dash-dependencies").status_code == 200
    response = sign_out(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?signed_out=1"
    assert "You have been signed out." in client.get("/login?signed_out=1").get_data(as_text=True)
    assert goes_to_sign_in(client.get("/"))


def test_auth_session_ends_everywhere_on_sign_out(server, factory):
    """A session cookie copied before sign-out no longer opens anything afterwards."""
    from tests.conftest import sign_in

    factory.user(email="copy@example.org", password="s3cret-pass")
    factory.s.commit()
    first = server.test_client()
    sign_in(first, "copy@example.org", "s3cret-pass")
    assert first.get("/_dash-layout").status_code == 200
    stolen = first.get_cookie("session").value
    second = server.test_client()
    second.set_cookie("session", stolen)
    assert second.get("/_dash-layout").status_code == 200  # the copy works while signed in
    sign_out(first)
    assert second.get("/_dash-layout").status_code == 401
    assert second.get("/").status_code == 302


def test_auth_password_change_ends_sessions(server, factory, dash_app):
    from tests.conftest import sign_in

    factory.user(email="change@example.org", password="s3cret-pass")
    factory.s.commit()
    client = server.test_client()
    sign_in(client, "change@example.org", "s3cret-pass")
    assert client.get("/_dash-layout").status_code == 200
    result = dash_app.server.test_cli_runner().invoke(
        args=["set-password", "change@example.org"], input="brand-new-pass\n"
    )
    assert result.exit_code == 0, result.output
    assert client.get("/_dash-layout").status_code == 401
    assert sign_in(client, "change@example.org", "brand-new-pass").status_code == 302
    assert client.get("/_dash-layout").status_code == 200
