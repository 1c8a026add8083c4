"""Production mode (issue 11): settings, the secret key, ProxyFix, /healthz and /readyz, and
which background-job manager the settings choose. The served, multi-process run is
tests/system/test_multiprocess.py."""

from __future__ import annotations

import socket

import dash
import pytest

from app import create_app
from data.config import SettingsError, load_settings

KEY = "k" * 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def clean_env(monkeypatch):
    for name in (
        "LEARNSTATS_ENV",
        "LEARNSTATS_SECRET_KEY",
        "LEARNSTATS_BEHIND_PROXY",
        "LEARNSTATS_REDIS_URL",
        "LEARNSTATS_CACHE",
        "LEARNSTATS_CELERY_BROKER_URL",
        "LEARNSTATS_CELERY_RESULT_BACKEND",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_prd001_production_needs_a_secret_key_from_the_environment(tmp_path, clean_env):
    clean_env.setenv("LEARNSTATS_ENV", "production")
    with pytest.raises(SettingsError, match="LEARNSTATS_SECRET_KEY is not set: production mode"):
        load_settings({"instance_path": tmp_path})
    assert not (tmp_path / "secret_key").exists()  # none generated
    clean_env.setenv("LEARNSTATS_SECRET_KEY", "short")
    with pytest.raises(SettingsError, match=r"LEARNSTATS_SECRET_KEY is too short \(5 characters\)"):
        load_settings({"instance_path": tmp_path})
    clean_env.setenv("LEARNSTATS_SECRET_KEY", KEY)
    settings = load_settings({"instance_path": tmp_path})
    assert (settings.production, settings.secret_key) == (True, KEY)
    # Development (the default) still generates one and keeps it.
    clean_env.delenv("LEARNSTATS_ENV")
    clean_env.delenv("LEARNSTATS_SECRET_KEY")
    settings = load_settings({"instance_path": tmp_path})
    assert settings.production is False
    assert settings.secret_key == (tmp_path / "secret_key").read_text().strip()


def test_prd002_bad_mode_proxy_and_broker_settings_say_what_is_wrong(tmp_path, clean_env):
    clean_env.setenv("LEARNSTATS_ENV", "prod")
    with pytest.raises(SettingsError, match="LEARNSTATS_ENV: 'prod' is not an environment"):
        load_settings({"instance_path": tmp_path})
    clean_env.delenv("LEARNSTATS_ENV")
    clean_env.setenv("LEARNSTATS_BEHIND_PROXY", "nginx")
    with pytest.raises(SettingsError, match="LEARNSTATS_BEHIND_PROXY: 'nginx' is not understood"):
        load_settings({"instance_path": tmp_path})
    for text, count in (("1", 1), ("true", 1), ("0", 0), ("", 0), ("no", 0), ("2", 2)):
        clean_env.setenv("LEARNSTATS_BEHIND_PROXY", text)
        assert load_settings({"instance_path": tmp_path}).behind_proxy == count
    clean_env.delenv("LEARNSTATS_BEHIND_PROXY")
    clean_env.setenv("LEARNSTATS_CELERY_BROKER_URL", "http://broker")
    with pytest.raises(SettingsError, match="LEARNSTATS_CELERY_BROKER_URL: 'http://broker' is not a Celery"):
        load_settings({"instance_path": tmp_path})


def test_prd003_the_redis_url_turns_on_celery_and_an_explicit_broker_wins(tmp_path, clean_env):
    base = {"instance_path": tmp_path, "secret_key": KEY}
    settings = load_settings(base)
    assert (settings.celery_broker_url, settings.celery_result_backend) == ("", "")
    clean_env.setenv("LEARNSTATS_REDIS_URL", "redis://127.0.0.1:6399/0")
    settings = load_settings(base)
    assert settings.celery_broker_url == settings.celery_result_backend == "redis://127.0.0.1:6399/0"
    assert settings.cache == "redis"
    clean_env.setenv("LEARNSTATS_CELERY_BROKER_URL", "amqp://guest@127.0.0.1:5672//")
    clean_env.setenv("LEARNSTATS_CELERY_RESULT_BACKEND", "redis://127.0.0.1:6399/1")
    settings = load_settings(base)
    assert settings.celery_broker_url == "amqp://guest@127.0.0.1:5672//"
    assert settings.celery_result_backend == "redis://127.0.0.1:6399/1"
    # The app's background callbacks then go to Celery (no connection is made until a job).
    app = create_app({**base, "database_url": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    assert isinstance(app._background_manager, dash.CeleryManager)
    celery = app._background_manager.handle
    assert celery.conf.broker_url == "amqp://guest@127.0.0.1:5672//"
    clean_env.delenv("LEARNSTATS_REDIS_URL")
    clean_env.delenv("LEARNSTATS_CELERY_BROKER_URL")
    clean_env.delenv("LEARNSTATS_CELERY_RESULT_BACKEND")
    app = create_app({**base, "database_url": f"sqlite:///{tmp_path / 'y.sqlite3'}"})
    assert isinstance(app._background_manager, dash.DiskcacheManager)


def test_prd004_health_and_readiness_need_no_sign_in_no_data_and_set_no_cookie(tmp_path, clean_env):
    # A database file that was never migrated: no table at all.
    app = create_app(
        {"instance_path": tmp_path, "secret_key": KEY, "database_url": f"sqlite:///{tmp_path / 'e.sqlite3'}"}
    )
    client = app.server.test_client()
    for path, body in (
        ("/healthz", {"status": "ok"}),
        ("/readyz", {"status": "ready", "checks": {"database": "ok"}}),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.get_json() == body
        assert response.headers["Cache-Control"] == "no-store"
        assert "Set-Cookie" not in response.headers
    # Pages still need signing in.
    assert client.get("/").status_code == 302


def test_prd005_readiness_fails_when_the_database_or_redis_is_unreachable(tmp_path, clean_env):
    dead = _free_port()
    app = create_app(
        {
            "instance_path": tmp_path,
            "secret_key": KEY,
            "database_url": f"postgresql+psycopg://nobody@127.0.0.1:{_free_port()}/none",
            "redis_url": f"redis://127.0.0.1:{dead}/0",
        }
    )
    client = app.server.test_client()
    assert client.get("/healthz").status_code == 200  # the process is up all the same
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"].startswith("failed (")
    assert body["checks"]["redis"] == "failed (ConnectionError)"
    assert str(dead) not in response.get_data(as_text=True)  # no addresses in the public answer


def test_prd006_behind_one_proxy_the_forwarded_scheme_and_client_are_trusted(tmp_path, clean_env):
    from flask import request

    seen = {}

    def make(behind: int):
        app = create_app(
            {
                "instance_path": tmp_path,
                "secret_key": KEY,
                "database_url": f"sqlite:///{tmp_path / 'p.sqlite3'}",
                "behind_proxy": behind,
            }
        )

        @app.server.after_request
        def _seen(response):
            seen.update(scheme=request.scheme, remote=request.remote_addr, host=request.host)
            return response

        return app.server.test_client()

    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "203.0.113.9, 198.51.100.7",
        "X-Forwarded-Host": "stats.example.org",
    }
    make(1).get("/healthz", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    # One proxy: only the last hop it appended is believed.
    assert seen == {"scheme": "https", "remote": "198.51.100.7", "host": "stats.example.org"}
    make(0).get("/healthz", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert seen == {"scheme": "http", "remote": "10.0.0.2", "host": "localhost"}


def test_prd007_production_behind_an_https_proxy_sends_secure_cookies(tmp_path, clean_env):
    """Production mode: the sign-in cookie is Secure, and behind one proxy that ends TLS the
    request counts as HTTPS (HSTS is sent); without the proxy setting a forged header is ignored."""

    def client(behind: int):
        app = create_app(
            {
                "instance_path": tmp_path,
                "secret_key": KEY,
                "database_url": f"sqlite:///{tmp_path / 's.sqlite3'}",
                "production": True,
                "behind_proxy": behind,
            }
        )
        app.server.extensions["learnstats_db"].migrate()
        return app.server.test_client()

    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    response = client(1).get("/login", headers=forwarded)
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    plain = client(0).get("/login", headers=forwarded)
    assert "Secure" in plain.headers["Set-Cookie"]  # production: Secure whatever the request
    assert "Strict-Transport-Security" not in plain.headers  # but the header was not believed
