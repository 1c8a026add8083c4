"""Shared fixtures: an app on a temporary SQLite database, sign-in helpers, browser options.

Speed (docs/testing.md): the SQLite database of `make_app` is a copy of a file migrated once per
session (per platform time zone), and test users get a cheap password hash except in the
sign-in tests (marker `real_password_hash`)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from dash.testing.application_runners import ThreadedRunner

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# Keep compiled bytecode even where PYTHONDONTWRITEBYTECODE is set (as on this machine): Dash
# executes every page module of dashboards/pages again for each app a test builds
# (dash/_pages.py, exec_module), and without a __pycache__ each of those ~23 modules was
# compiled from source again, for every app of every test (docs/testing.md).
sys.dont_write_bytecode = False

from app import create_app  # noqa: E402
from data.db import Database  # noqa: E402
from tests import factories  # noqa: E402
from tests.factories import Factory  # noqa: E402
from tests.services import free_port  # noqa: E402

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


# The tests that take longest (a minute or more on a 2-core machine: `make test
# PYTEST_ARGS=--durations=40`), started first under pytest-xdist.
LONG_FIRST = (
    "tests/integration/data/test_summary_properties.py::test_sum001",
    "tests/system/",
    "tests/integration/data/test_properties.py",
    "tests/integration/data/xapi/test_properties.py",
)


def _long_first(item) -> int:
    return next((i for i, start in enumerate(LONG_FIRST) if item.nodeid.startswith(start)), len(LONG_FIRST))


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


def pytest_addoption(parser):
    parser.addoption(
        "--cached-again",
        action="append",
        default=[],
        metavar="NODEID",
        help="run these tests (a file, a test, one parametrized case) twice: with the data cache off "
        "(LEARNSTATS_CACHE=null, id 'cache-off') and on (simple, 'cache-on'); make test's CACHED_TESTS",
    )


CACHE_IDS = {"null": "cache-off", "simple": "cache-on"}


def _without_cache_id(nodeid: str) -> str:
    """The test's id as it is without --cached-again."""
    for tag in CACHE_IDS.values():
        nodeid = nodeid.replace(f"[{tag}]", "").replace(f"[{tag}-", "[")
        nodeid = nodeid.replace(f"-{tag}]", "]").replace(f"-{tag}-", "-")
    return nodeid


def _named(config, nodeid: str) -> bool:
    """nodeid is one of --cached-again's, or in a file or class named there."""
    return any(nodeid == name or nodeid.startswith(name + "::") for name in config.getoption("cached_again"))


def pytest_generate_tests(metafunc):
    """--cached-again (make test): the tests named run with the cache off and on, in the same
    run as the rest (pytest-xdist shares them out with the others)."""
    function = metafunc.definition.nodeid
    names = metafunc.config.getoption("cached_again")
    if _named(metafunc.config, function) or any(name.startswith(function + "[") for name in names):
        metafunc.parametrize("figure_cache", list(CACHE_IDS), ids=list(CACHE_IDS.values()), indirect=True)


@pytest.fixture(autouse=True)
def figure_cache(request):
    """LEARNSTATS_CACHE for the apps the test builds: the environment's, or under --cached-again
    null then simple."""
    value = getattr(request, "param", None)
    if value is None:
        yield None
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEARNSTATS_CACHE", value)
        yield value


# The modules whose tests run in one pytest-xdist worker (`make test`): each builds something
# once per module (a module-scoped fixture: the production stack of test_multiprocess, the
# served world of the access matrix, the demo platform, a Redis server) or says so with an
# xdist_group marker (the Ralph LRS). Spread over three workers, each worker built it again.
# pytest-xdist's own grouping (xdist_group, --dist loadgroup) does not work with pytest 9.2,
# whose node ids it can no longer suffix with the group: the scheduler below groups by these
# names instead, and the collection fails if a module that should be here is not.
ONE_WORKER = (
    "tests/integration/auth/test_access_matrix.py",
    "tests/integration/data/test_demo.py",
    "tests/integration/data/xapi/test_properties.py",
    "tests/system/test_lrs_sync.py",
    "tests/system/test_multiprocess.py",
    "tests/system/test_redis.py",
    "tests/integration/test_duckdb_baseline.py",
)


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _one_worker(item) -> bool:
    """Whether the test uses a fixture built once per module, or carries an xdist_group."""
    info = getattr(item, "_fixtureinfo", None)
    module_scoped = info is not None and any(
        d.scope == "module" for defs in info.name2fixturedefs.values() for d in defs
    )
    return module_scoped or item.get_closest_marker("xdist_group") is not None


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: -p no:xdist knows none
def pytest_xdist_make_scheduler(config, log):
    """--dist loadgroup: the tests of each ONE_WORKER module are one unit of work."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ModuleGroups(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _module(nodeid) if _module(nodeid) in ONE_WORKER else super()._split_scope(nodeid)

    return ModuleGroups(config, log)


def pytest_collection_modifyitems(config, items):
    """Browser tests need chromedriver: fail fast instead of hanging 30 s per test. Each
    browser test serves its app on a free port (`dash_thread_server` below), so under
    pytest-xdist (`make test`) they spread over the workers like the other tests."""
    missing = sorted({_module(item.nodeid) for item in items if _one_worker(item)} - set(ONE_WORKER))
    if missing:
        raise pytest.UsageError(
            f"{', '.join(missing)}: a module-scoped fixture or an xdist_group marker; add the module to "
            "ONE_WORKER in tests/conftest.py so that pytest-xdist runs its tests in one worker"
        )
    browser_tests = [item for item in items if "dash_duo" in getattr(item, "fixturenames", ())]
    if browser_tests and not shutil.which("chromedriver"):
        raise pytest.UsageError(
            "chromedriver is not on PATH: run `make test` as root once, or `apt-get install chromium chromium-driver`"
        )
    # --cached-again: of a parametrized test named with one of its cases, only that case runs
    # twice.
    once = [
        item
        for item in items
        if getattr(item, "callspec", None) is not None
        and item.callspec.params.get("figure_cache") == "simple"
        and not _named(config, _without_cache_id(item.nodeid))
    ]
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = [item for item in items if item not in once]
    # The longest tests first, so that the workers end together instead of one finishing them
    # alone at the end (the order within each part is kept).
    items.sort(key=_long_first)


class FreePortRunner(ThreadedRunner):
    """dash.testing's threaded server on a port the system says is free, unless the test asks
    for one: dash.testing counts ports up from 58050 in each process, so two pytest-xdist
    workers (or two test runs on one machine) would start on the same port and a browser could
    talk to the other worker's app. The servers the other tests start pick their ports the same
    way (tests/services.py)."""

    def start(self, app, start_timeout=3, **kwargs):
        kwargs.setdefault("port", free_port())
        return super().start(app, start_timeout=start_timeout, **kwargs)


@pytest.fixture
def dash_thread_server():
    """Overrides dash.testing's fixture of the same name (what dash_duo serves the app with)."""
    with FreePortRunner() as runner:
        yield runner


def pytest_runtest_setup(item):
    """Test users get a cheap password hash (tests/factories.py), except in the tests of
    sign-in itself (marker real_password_hash), which keep the product's scrypt."""
    real = item.get_closest_marker("real_password_hash") is not None
    factories.password_method = None if real else factories.CHEAP_PASSWORD_HASH


def pytest_runtest_teardown(item):
    factories.password_method = factories.CHEAP_PASSWORD_HASH


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):
    """A function giving, for a platform time zone, an SQLite file migrated once per session:
    what `Database.migrate()` leaves in a new file (the schema at Alembic's head, the summaries'
    time zone recorded). `make_app` copies it instead of migrating each test's database."""
    folder = tmp_path_factory.mktemp("migrated")
    templates: dict[str, Path] = {}

    def template(db: Database) -> Path:
        key = db.tz.key
        if key not in templates:
            path = folder / f"template-{len(templates)}.sqlite3"
            built = Database(f"sqlite:///{path}", db.tz)
            built.migrate()
            with built.engine.connect() as connection:  # everything in the file, none in the WAL
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            built.engine.dispose()
            templates[key] = path
        return templates[key]

    return template


def _new_sqlite_file(url: str) -> Path | None:
    """The file of a sqlite:/// URL that does not exist yet, else None."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("sqlite") or parts.path in ("", "/", "/:memory:") or parts.query:
        return None
    path = Path(parts.path[1:])
    return None if path.exists() else path


@pytest.fixture
def make_app(tmp_path, migrated_sqlite):
    """Build an app on a fresh, migrated SQLite database under tmp_path (a copy of the session's
    migrated file); another database URL (PostgreSQL, an existing file) is migrated as the
    product does it."""
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
        db = dash_app.server.extensions["learnstats_db"]
        new_file = _new_sqlite_file(db.url)
        if new_file is not None and new_file.parent.is_dir():
            shutil.copyfile(migrated_sqlite(db), new_file)
        else:
            db.migrate()
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
