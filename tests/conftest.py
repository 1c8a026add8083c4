"""Shared fixtures: an app on a temporary SQLite database, sign-in helpers, browser options."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from tests.factories import Factory  # noqa: E402

pytest_plugins = ["tests.postgres"]

CHROME_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1400,900",
)


def pytest_setup_options():
    """dash.testing's hook: the ChromeOptions for every browser test."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        options.binary_location = chromium
    return options


def pytest_collection_modifyitems(config, items):
    """Browser tests need chromedriver: fail fast instead of hanging 30 s per test."""
    needs_browser = any("dash_duo" in getattr(item, "fixturenames", ()) for item in items)
    if needs_browser and not shutil.which("chromedriver"):
        raise pytest.UsageError(
            "chromedriver is not on PATH: run `make test` as root once, or `apt-get install chromium chromium-driver`"
        )


@pytest.fixture
def make_app(tmp_path):
    """Build an app on a fresh, migrated SQLite database under tmp_path."""
    created = []

    def _make(**overrides):
        config = {
            "instance_path": tmp_path / "instance",
            "database_url": f"sqlite:///{tmp_path / 'test.sqlite3'}",
            "secret_key": "test-secret-key",
            "timezone": "Europe/Paris",
            # The tests were written in English; the French interface has its own tests.
            "language": "en",
        }
        config.update(overrides)
        dash_app = create_app(config)
        dash_app.server.config["TESTING"] = True
        dash_app.server.extensions["learnstats_db"].migrate()
        created.append(dash_app)
        return dash_app

    yield _make
    for dash_app in created:
        dash_app.server.extensions["learnstats_db"].engine.dispose()


@pytest.fixture
def dash_app(make_app):
    return make_app()


@pytest.fixture
def server(dash_app):
    return dash_app.server


@pytest.fixture
def db(server):
    return server.extensions["learnstats_db"]


@pytest.fixture
def factory(db):
    """Tiny builders for test data (tests/factories.py)."""
    with db.session() as s:
        yield Factory(s)


@pytest.fixture
def client(server):
    return server.test_client()


def sign_in(client, email: str, password: str = "password123"):
    """Sign a test client in through the real sign-in form."""
    page = client.get("/login")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def sign_out(client):
    """Sign a test client out as the browser does: the confirmation page's form, posted."""
    page = client.get("/logout")
    if page.status_code == 302:  # not signed in: nothing to confirm
        return page
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    return client.post("/logout", data={"csrf_token": token})
