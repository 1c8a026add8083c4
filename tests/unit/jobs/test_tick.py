"""The periodic jobs' tick (jobs/periodic.py): LEARNSTATS_PERIODIC_TICK_SECONDS, 30 s by default,
is how often Celery beat and the web processes' thread look at the schedule; the scheduled
reports are due at every tick (jobs/schedule.py). The system tests run with a tick of 1 s."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery import Celery
from flask import Flask

from data.config import SETTINGS_KEY, Settings, SettingsError, load_settings
from jobs.periodic import TICK, install_beat, tick_of
from jobs.schedule import every_tick


def _settings(tmp_path, monkeypatch, value: str | None) -> Settings:
    monkeypatch.delenv("LEARNSTATS_PERIODIC_TICK_SECONDS", raising=False)
    if value is not None:
        monkeypatch.setenv("LEARNSTATS_PERIODIC_TICK_SECONDS", value)
    return load_settings({"instance_path": tmp_path, "secret_key": "k" * 32})


def test_tck001_the_tick_is_30_s_unless_the_setting_says(tmp_path, monkeypatch):
    assert TICK == 30
    assert _settings(tmp_path, monkeypatch, None).periodic_tick_seconds == 30
    assert _settings(tmp_path, monkeypatch, "").periodic_tick_seconds == 30
    assert _settings(tmp_path, monkeypatch, " 1 ").periodic_tick_seconds == 1
    assert _settings(tmp_path, monkeypatch, "3600").periodic_tick_seconds == 3600


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "soon", "3601"])
def test_tck002_a_bad_tick_is_refused_with_the_variable_named(tmp_path, monkeypatch, value):
    with pytest.raises(SettingsError) as refused:
        _settings(tmp_path, monkeypatch, value)
    assert str(refused.value) == (
        f"LEARNSTATS_PERIODIC_TICK_SECONDS: {value!r} is not a whole number of seconds between 1 and "
        "3600; the default is 30"
    )


def test_tck003_beat_and_the_reports_follow_the_tick(tmp_path):
    server = Flask("tick-test")
    server.config[SETTINGS_KEY] = Settings(instance_path=tmp_path, periodic_tick_seconds=1)
    assert tick_of(server) == 1.0
    celery_app = Celery("tick-test", broker="memory://")
    install_beat(celery_app, server)
    entry = celery_app.conf.beat_schedule["learnstats-periodic-jobs"]
    assert (entry["schedule"], entry["options"]) == (1.0, {"expires": 1.0})
    # Due again before the next tick, whatever the tick: 20 s of the default 30, 2/3 s of 1.
    assert every_tick(Settings()) == timedelta(seconds=20)
    assert every_tick(Settings(periodic_tick_seconds=1)) == timedelta(seconds=2 / 3)
