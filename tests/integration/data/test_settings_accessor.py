"""Settings through one typed accessor (issue 20): current_settings() in an app context,
settings_of(server) outside one, settings_if_any() where there may be no app."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from data.config import Settings, current_settings, settings_if_any, settings_of


def test_cfg001_the_accessors_give_the_apps_typed_settings(make_app, tmp_path):
    app = make_app(timezone="America/New_York")
    server = app.server
    settings = settings_of(server)
    assert isinstance(settings, Settings)
    assert settings.tz == ZoneInfo("America/New_York")
    assert settings.instance_path == tmp_path / "instance"
    assert settings_if_any() is None  # no app context here
    with server.app_context():
        assert current_settings() is settings
        assert settings_if_any() is settings
    other = make_app(
        timezone="UTC",
        instance_path=tmp_path / "other",
        database_url=f"sqlite:///{tmp_path / 'other.sqlite3'}",
    )
    with other.server.app_context():
        assert current_settings().timezone == "UTC"
    assert settings_of(server).timezone == "America/New_York"  # each app its own
