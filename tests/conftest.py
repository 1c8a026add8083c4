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

pytest_plugins = ["tests.postgres", "tests.timeline"]

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


# How long the longest tests take, in seconds (wall, `make test` on a clean clone, 3 workers
# on 2 cores; measure with tests/timeline.py), by node id prefix; any other test counts
# DEFAULT_SECONDS. Under pytest-xdist the units of work start longest first (the scheduler
# below), so that the run does not end with one worker alone on a long test. A rough figure
# is enough: what matters is the order.
EXPECTED_SECONDS = {
    "tests/integration/data/test_summary_properties.py::test_sum001_every_figure_equals_the_reference_after_every_import[postgres": 70,
    "tests/integration/data/test_summary_properties.py::test_sum001": 55,
    "tests/integration/data/xapi/test_properties.py": 40,
    "tests/system/test_scheduled_reports.py::test_sys010": 40,
    "tests/browser/test_responsive.py::test_rsp001": 45,
    "tests/integration/auth/test_access_matrix.py::test_acm002": 35,
    "tests/browser/test_accessibility.py::test_scr006": 35,
    "tests/browser/test_accessibility.py::test_a11y001": 30,
    "tests/browser/test_learner_pages.py::test_lrb002": 30,
    "tests/integration/auth/test_access_matrix.py::test_acm004": 30,
    "tests/browser/test_responsive.py::test_rsp004": 30,
    "tests/system/test_lrs_sync.py::test_lrs003": 30,
    "tests/system/test_multiprocess.py": 20,
    "tests/integration/auth/test_access_matrix.py::test_acm003": 20,
    "tests/integration/data/test_lrs_sync.py::test_lrs10": 20,
    "tests/integration/test_app.py::test_app007": 20,
    "tests/browser/": 15,
    "tests/system/": 10,
    "tests/integration/data/test_properties.py": 5,
}
DEFAULT_SECONDS = 0.5


def expected_seconds(nodeid: str) -> float:
    return next((t for start, t in EXPECTED_SECONDS.items() if nodeid.startswith(start)), DEFAULT_SECONDS)


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
# demo platform, a Redis server) or says so with an xdist_group marker (the Ralph LRS). Spread
# over three workers, each worker built it again.
# pytest-xdist's own grouping (xdist_group, --dist loadgroup) does not work with pytest 9.2,
# whose node ids it can no longer suffix with the group: the scheduler below groups by these
# names instead, and the collection fails if a module with a module-scoped fixture is in
# neither ONE_WORKER nor SHARED_OUT.
ONE_WORKER = (
    "tests/integration/data/test_demo.py",
    "tests/integration/data/xapi/test_properties.py",
    "tests/system/test_lrs_sync.py",
    "tests/system/test_multiprocess.py",
    "tests/system/test_redis.py",
    "tests/integration/test_duckdb_baseline.py",
)
# The modules whose module-scoped fixture is cheap next to their tests: their tests are shared
# out like the others (each worker that runs one builds the fixture once: the access matrix's
# served world and its sign-ins, about 2 s), but the tests named here share a dearer one and
# run together (the admin's requests on outside pages, admin_outside_calls: 20-30 s). As one
# unit the access matrix's 15 tests kept one worker busy for 4-5 minutes.
SHARED_OUT = {
    "tests/integration/auth/test_access_matrix.py": ("test_acm003", "test_acm004", "test_acm006"),
}


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _unit(nodeid: str) -> str:
    """The unit of work a test belongs to under --dist loadgroup: its module (ONE_WORKER), a
    group of SHARED_OUT, or itself."""
    module = _module(nodeid)
    if module in ONE_WORKER:
        return module
    together = SHARED_OUT.get(module, ())
    name = nodeid.split("::")[-1]
    if any(name.startswith(prefix) for prefix in together):
        return f"{module}::{'+'.join(together)}"
    return nodeid


def _one_worker(item) -> bool:
    """Whether the test uses a fixture built once per module, or carries an xdist_group."""
    info = getattr(item, "_fixtureinfo", None)
    module_scoped = info is not None and any(
        d.scope == "module" for defs in info.name2fixturedefs.values() for d in defs
    )
    return module_scoped or item.get_closest_marker("xdist_group") is not None


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: -p no:xdist knows none
def pytest_xdist_make_scheduler(config, log):
    """--dist loadgroup: the units of work of `_unit`, handed out longest first."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class LongestFirst(LoadGroupScheduling):
        """pytest-xdist 3.8's LoadScopeScheduling orders its queue of units by their number of
        tests (then the collection's order) when it first fills it, in schedule(); right after,
        it is put in order of expected_seconds, summed over each unit's tests. A worker asks
        for the next unit when it has two tests or fewer left."""

        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

        def _assign_work_unit(self, node) -> None:
            if not getattr(self, "_ordered", False):
                self._ordered = True
                units = sorted(
                    self.workqueue.items(),
                    key=lambda unit: -sum(expected_seconds(nodeid) for nodeid in unit[1]),
                )
                self.workqueue.clear()
                self.workqueue.update(units)
            super()._assign_work_unit(node)

    return LongestFirst(config, log)


def pytest_collection_modifyitems(config, items):
    """Browser tests need chromedriver: fail fast instead of hanging 30 s per test. Each
    browser test serves its app on a free port (`dash_thread_server` below), so under
    pytest-xdist (`make test`) they spread over the workers like the other tests."""
    known = set(ONE_WORKER) | set(SHARED_OUT)
    missing = sorted({_module(item.nodeid) for item in items if _one_worker(item)} - known)
    if missing:
        raise pytest.UsageError(
            f"{', '.join(missing)}: a module-scoped fixture or an xdist_group marker; add the module to "
            "ONE_WORKER (or SHARED_OUT) in tests/conftest.py so that pytest-xdist runs its tests in one worker"
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
    # Under pytest-xdist the scheduler (above) starts the longest units first; in one process the
    # collection's order is kept (a module's tests together: its module-scoped fixtures are built
    # once).


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
