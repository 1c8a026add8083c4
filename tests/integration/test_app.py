"""The app factory and the sign-in guard."""

from data.config import settings_of
from tests.conftest import sign_in, sign_out


def test_app001_factory_uses_test_config(dash_app, tmp_path):
    settings = settings_of(dash_app.server)
    assert settings.database_url.startswith("sqlite:///")
    assert str(tmp_path) in settings.database_url
    assert settings.timezone == "Europe/Paris"


def test_app002_anonymous_page_load_redirects_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_app003_anonymous_callback_is_refused(client):
    response = client.post("/_dash-update-component", json={"output": "x.children", "inputs": []})
    assert response.status_code == 401
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/_dash-dependencies").status_code == 401


def test_app004_sign_in_and_out(client, factory):
    factory.user(email="ann@example.org", password="s3cret-pass")
    factory.s.commit()
    assert sign_in(client, "ann@example.org", "wrong-password").status_code == 401
    response = sign_in(client, "ann@example.org", "s3cret-pass")
    assert response.status_code == 302
    assert client.get("/_dash-layout").status_code == 200
    sign_out(client)
    assert client.get("/_dash-layout").status_code == 401


def test_app005_blocked_user_cannot_sign_in(client, factory):
    factory.user(email="bob@example.org", password="s3cret-pass", status="blocked")
    factory.s.commit()
    assert sign_in(client, "bob@example.org", "s3cret-pass").status_code == 401


def test_app006_user_without_password_cannot_sign_in(client, factory):
    factory.user(email="imported@example.org", password=None)
    factory.s.commit()
    assert sign_in(client, "imported@example.org", "").status_code == 401


def test_app007_flask_cli_finds_the_app_and_migrates(tmp_path):
    """`flask --app app migrate` as the README says, in a fresh instance folder."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNSTATS_")}
    env["LEARNSTATS_INSTANCE"] = str(tmp_path)
    flask = Path(sys.executable).with_name("flask")
    result = subprocess.run(
        [str(flask), "--app", "app", "migrate"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Database is up to date." in result.stdout
    assert (tmp_path / "learnstats.sqlite3").exists()
    assert (tmp_path / "secret_key").exists()


def test_app008_query_arguments_cannot_pose_as_layout_parameters(client, factory):
    """/?scope=x and ?session=x are plain query arguments, not the scope or the database session."""
    from tests.conftest import sign_in

    factory.user(email="stats@example.org", password="s3cret-pass", roles=["statistics_manager"])
    factory.s.commit()
    sign_in(client, "stats@example.org", "s3cret-pass")
    import dash

    overview = next(p for p in dash.page_registry.values() if p["path"] == "/")
    with client.application.test_request_context("/?scope=x&session=y"):
        from flask_login import login_user

        from auth.users import to_signed_in
        from data.models import User

        login_user(to_signed_in(factory.s.query(User).filter_by(email="stats@example.org").one()))
        page = overview["layout"](scope="x", session="y")
    assert "overview-body" in str(page)


def test_app009_unknown_address_answers_404_and_forbidden_page_403(client, factory):
    from tests.conftest import sign_in

    factory.user(email="ann@example.org", password="s3cret-pass")
    factory.s.commit()
    sign_in(client, "ann@example.org", "s3cret-pass")
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert "_dash-config" in missing.get_data(as_text=True)  # the app draws its 404 page
    assert client.get("/training/anything").status_code == 403
    assert client.get("/login").status_code == 302  # signed in: sent on


def test_app010_bad_settings_end_with_a_clear_message(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import pytest

    from data.config import SettingsError, load_settings

    with pytest.raises(SettingsError, match="LEARNSTATS_TIMEZONE: 'Nowhere/Zone' is not a known time zone"):
        load_settings({"instance_path": tmp_path, "timezone": "Nowhere/Zone"})
    with pytest.raises(
        SettingsError, match="LEARNSTATS_DATABASE_URL: 'foo://bar' is not a usable database URL"
    ):
        load_settings({"instance_path": tmp_path, "database_url": "foo://bar"})
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNSTATS_")}
    env.update(LEARNSTATS_INSTANCE=str(tmp_path), LEARNSTATS_TIMEZONE="Nowhere/Zone")
    flask = Path(sys.executable).with_name("flask")
    result = subprocess.run(
        [str(flask), "--app", "app", "migrate"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Learnstats cannot start: LEARNSTATS_TIMEZONE: 'Nowhere/Zone'" in result.stderr
    assert "Traceback" not in result.stderr


def test_app011_an_old_database_is_migrated_and_keeps_its_rows(tmp_path):
    """A database left at the first revision is brought to the newest by migrate()."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from data.db import MIGRATIONS, Database

    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            text("INSERT INTO users (id, email, first_name, last_name, additional_info, status, sort_key, search_text)"
                 " VALUES ('u1', 'old@example.org', 'Old', 'User', '', 'active', '', '')")
        )  # fmt: skip
    db.migrate()
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT id, session_version FROM users")).all() == [("u1", 0)]
    db.engine.dispose()


def test_cmp011_create_app_registers_the_shared_callbacks(make_app):
    for _ in range(2):  # every app gets them, not only the first one of the process
        app = make_app()
        keys = " ".join(app.callback_map)
        for wanted in ("date-range-message", "chart-table-collapse", "static-table-download"):
            assert wanted in keys
        assert any("date-range-url" in k for k in keys.split())  # the URL sync (clientside)


def test_app012_a_page_registered_without_access_stops_the_app(make_app):
    """A page's access is declared once, in its register_page, and is required: create_app
    refuses to start when a page has none, naming it; with every page declaring one, each
    layout Dash serves is behind its page's access (dashboards/access.py)."""
    import dash
    import pytest
    from dash import html

    from dashboards.access import PageWithoutAccess

    make_app()  # dash.register_page needs an app (Dash's pages settings)
    dash.register_page("tests.pages.open_to_all", path="/open-to-all", layout=html.Div("open"))
    try:
        with pytest.raises(PageWithoutAccess) as refused:
            make_app()
    finally:
        dash.page_registry.pop("tests.pages.open_to_all", None)
    assert str(refused.value).startswith(
        "Learnstats cannot start: tests.pages.open_to_all declares no access."
    )
    assert "access=" in str(refused.value)

    make_app()
    pages = dash.page_registry.values()
    assert {page["module"] for page in pages} >= {
        "dashboards.pages.overview",
        "dashboards.pages.not_found_404",
    }
    assert all(callable(page["access"]) and page["layout"]._learnstats_guarded for page in pages)
