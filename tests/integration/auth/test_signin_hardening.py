"""Issue 10 points 2 and 3: failed sign-ins limited per account and per address (in memory;
shared through Redis: tests/system/test_redis.py), no account enumeration by timing, the idle timeout, and a sign-out that cannot fail open."""

from __future__ import annotations

import socket
import sqlite3
import statistics
import time

import pytest

from data.config import SettingsError, load_settings
from tests.conftest import sign_in, sign_out

# Sign-in itself: the product's scrypt hashes, not the tests' cheap ones (docs/testing.md).
pytestmark = pytest.mark.real_password_hash


def signed_in(client) -> bool:
    return client.get("/_dash-layout").status_code == 200


def csrf(client, path="/login") -> str:
    return client.get(path).get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]


def test_sgn001_failed_sign_ins_are_limited_per_account(client, factory):
    factory.user(email="ann@example.org")
    factory.user(email="bob@example.org")
    factory.s.commit()
    for _ in range(5):
        assert sign_in(client, "ann@example.org", "wrong-password").status_code == 401
    # The sixth try is refused even with the right password, with a sentence and Retry-After.
    response = sign_in(client, " ANN@example.org", "password123")
    assert response.status_code == 429
    assert "Too many failed sign-ins for this account. Try again in 15 minutes." in response.get_data(
        as_text=True
    )
    assert 14 * 60 < int(response.headers["Retry-After"]) <= 15 * 60
    assert not signed_in(client)
    # Another account from the same address is not locked by ann's failures.
    assert sign_in(client, "bob@example.org", "password123").status_code == 302


def test_sgn002_unknown_accounts_are_limited_like_real_ones(client):
    for _ in range(5):
        assert sign_in(client, "nobody@example.org", "wrong-password").status_code == 401
    response = sign_in(client, "nobody@example.org", "wrong-password")
    assert response.status_code == 429  # the same answer as for an existing account


def test_sgn003_failed_sign_ins_are_limited_per_address(make_app):
    server = make_app(signin_limit_address="3 per 10 minutes").server
    client = server.test_client()
    for n in range(3):
        assert sign_in(client, f"user{n}@example.org", "wrong-password").status_code == 401
    response = sign_in(client, "user9@example.org", "wrong-password")
    assert response.status_code == 429
    assert "from your network address. Try again in 10 minutes." in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) <= 600
    # Another address is not affected.
    other = server.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    assert sign_in(other, "user9@example.org", "wrong-password").status_code == 401


def test_sgn004_a_right_password_clears_the_accounts_failures(client, factory):
    factory.user(email="ann@example.org")
    factory.s.commit()
    for _ in range(4):
        sign_in(client, "ann@example.org", "wrong-password")
    assert sign_in(client, "ann@example.org", "password123").status_code == 302
    sign_out(client)
    for _ in range(4):
        assert sign_in(client, "ann@example.org", "wrong-password").status_code == 401
    assert sign_in(client, "ann@example.org", "password123").status_code == 302


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sgn006_memory_storage_by_default(server):
    assert server.extensions["learnstats_signin_limits"].storage_uri == "memory://"


def post_time(client, email, password) -> float:
    token = csrf(client)
    start = time.perf_counter()
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    elapsed = time.perf_counter() - start
    assert response.status_code == 401
    return elapsed


def test_sgn007_no_account_enumeration_by_timing(client, factory):
    """Unknown, blocked and password-less accounts take as long as a wrong password (the
    password check is the slow part: about 0.1–0.3 s; without the dummy check they answer in
    a few milliseconds). The four kinds are timed in turn, five rounds, so that a burst of load
    on the machine falls on all of them alike; their medians are compared."""
    factory.user(email="ann@example.org")
    factory.user(email="blocked@example.org", status="blocked")
    factory.user(email="nopass@example.org", password=None)
    factory.s.commit()
    emails = ("ann@example.org", "nobody@example.org", "blocked@example.org", "nopass@example.org")
    times: dict[str, list[float]] = {email: [] for email in emails}
    for _ in range(5):
        for email in emails:
            times[email].append(post_time(client, email, "wrong-password"))
    wrong = statistics.median(times["ann@example.org"])
    for email in emails[1:]:
        other = statistics.median(times[email])
        assert other > 0.5 * wrong, (email, other, wrong, times)


def test_sgn008_sessions_end_after_the_idle_timeout(client, factory):
    factory.user(email="ann@example.org")
    factory.s.commit()
    assert sign_in(client, "ann@example.org").status_code == 302
    assert signed_in(client)
    with client.session_transaction() as session:
        session["last_seen"] -= 8 * 3600 - 30  # idle for 8 h minus 30 s: still signed in
    assert signed_in(client)
    with client.session_transaction() as session:
        session["last_seen"] -= 8 * 3600 + 1
    response = client.get("/training/T1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert "expired=1" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your session ended after 8 hours without activity. Please sign in again." in page
    assert not signed_in(client)
    # A callback after the timeout gets a 401 with a sentence, not a page.
    assert sign_in(client, "ann@example.org").status_code == 302
    with client.session_transaction() as session:
        session["last_seen"] -= 8 * 3600 + 1
    response = client.get("/_dash-layout")
    assert response.status_code == 401
    assert "without activity" in response.get_json()["error"]


def test_sgn009_idle_timeout_setting(monkeypatch, tmp_path):
    monkeypatch.delenv("LEARNSTATS_IDLE_TIMEOUT_MINUTES", raising=False)
    assert load_settings({"instance_path": tmp_path}).idle_timeout_minutes == 480
    monkeypatch.setenv("LEARNSTATS_IDLE_TIMEOUT_MINUTES", "30")
    assert load_settings({"instance_path": tmp_path}).idle_timeout_minutes == 30
    monkeypatch.setenv("LEARNSTATS_IDLE_TIMEOUT_MINUTES", "8h")
    with pytest.raises(SettingsError, match="LEARNSTATS_IDLE_TIMEOUT_MINUTES: '8h' is not a whole number"):
        load_settings({"instance_path": tmp_path})
    monkeypatch.delenv("LEARNSTATS_IDLE_TIMEOUT_MINUTES")
    monkeypatch.setenv("LEARNSTATS_SIGNIN_LIMIT_ACCOUNT", "five a minute")
    with pytest.raises(
        SettingsError, match="LEARNSTATS_SIGNIN_LIMIT_ACCOUNT: 'five a minute' is not a rate limit"
    ):
        load_settings({"instance_path": tmp_path})


def test_sgn010_idle_timeout_of_a_few_minutes(make_app, factory):
    server = make_app(idle_timeout_minutes=5).server
    with server.extensions["learnstats_db"].session() as s:
        from tests.factories import Factory

        Factory(s).user(email="ann@example.org")
    client = server.test_client()
    assert sign_in(client, "ann@example.org").status_code == 302
    with client.session_transaction() as session:
        session["last_seen"] -= 5 * 60 + 1
    assert "Your session ended after 5 minutes without activity" in client.get(
        client.get("/").headers["Location"]
    ).get_data(as_text=True)


# -- sign-out --------------------------------------------------------------------------------


def test_sgn011_get_shows_a_confirmation_and_signs_nobody_out(client, factory):
    factory.user(email="ann@example.org", first="Ann", last="Lee")
    factory.s.commit()
    sign_in(client, "ann@example.org")
    response = client.get("/logout")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="signout-form"' in page and 'method="post" action="/logout"' in page
    assert "Sign out of Learnstats, Ann Lee?" in page
    assert signed_in(client)  # a link (an image, a prefetch) cannot sign anyone out


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_sgn012_post_without_the_token_is_refused(client, factory, token):
    factory.user(email="ann@example.org")
    factory.s.commit()
    sign_in(client, "ann@example.org")
    data = {} if token is None else {"csrf_token": token}
    response = client.post("/logout", data=data)
    assert response.status_code == 400
    assert "This sign-out form expired; press Sign out again." in response.get_data(as_text=True)
    assert signed_in(client)


def test_sgn013_post_signs_out(client, factory):
    factory.user(email="ann@example.org")
    factory.s.commit()
    sign_in(client, "ann@example.org")
    response = sign_out(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?signed_out=1"
    assert not signed_in(client)
    # Signed out already: the confirmation leads to the sign-in page, a post says signed out.
    assert client.get("/logout").headers["Location"] == "/login?signed_out=1"
    assert client.post("/logout", data={}).headers["Location"] == "/login?signed_out=1"


def test_sgn014_sign_out_with_the_database_locked(client, factory, server, tmp_path):
    """The database cannot be written (another writer holds the lock): the user is signed out
    all the same, within a few seconds, and told what could not be done."""
    factory.user(email="ann@example.org")
    factory.s.commit()
    sign_in(client, "ann@example.org")
    token = csrf(client, "/logout")
    blocker = sqlite3.connect(tmp_path / "test.sqlite3", timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        start = time.perf_counter()
        response = client.post("/logout", data={"csrf_token": token})
        elapsed = time.perf_counter() - start
    finally:
        blocker.rollback()
        blocker.close()
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "You are signed out of this browser." in page
    assert "could not be ended because the database is not available" in page
    assert elapsed < 5
    assert not signed_in(client)
