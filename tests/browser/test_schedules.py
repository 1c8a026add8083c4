"""Scheduled reports in Chromium (issue 18 point 3): a session instructor schedules the session's
learners table from its "Schedule…" button, in French, then finds it on the Scheduled reports
page and pauses it."""

from __future__ import annotations

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from data.models import ScheduledReport
from tests.browser.test_exports import _french, _sign_in_to
from tests.factories import Factory
from tests.opco_world import ACCOUNTS, PASSWORD, build_world


def test_sch_b001_schedule_a_table_then_pause_it(dash_duo, make_app):
    app = make_app()
    db = app.server.extensions["learnstats_db"]
    with db.session() as s:
        build_world(Factory(s))
    _french(app, "inst")
    base = _sign_in_to(dash_duo, app, ACCOUNTS["inst"], PASSWORD, "/session/s-a")
    driver = dash_duo.driver
    dash_duo.wait_for_element("#session-learners-table-card .ls-schedule-button", timeout=20)
    button = dash_duo.find_element("#session-learners-table-card .ls-schedule-button")
    assert button.text == "Programmer…"
    driver.execute_script("arguments[0].click()", button)
    dash_duo.wait_for_text_to_equal("#schedule-what", "Apprenants de la session — Printemps 2026", timeout=20)
    title = dash_duo.find_element("#schedule-title")
    dash_duo.clear_input(title)
    title.send_keys("Apprenants du lundi")
    driver.execute_script("arguments[0].click()", dash_duo.find_element("#schedule-save"))
    dash_duo.wait_for_element("#schedule-saved-message", timeout=20)
    with db.session() as s:
        [report] = s.scalars(select(ScheduledReport)).all()
        assert (
            report.owner_id,
            report.title,
            report.kind,
            report.frequency,
            report.weekday,
            report.hour,
        ) == (
            "inst",
            "Apprenants du lundi",
            "session-learners",
            "weekly",
            0,
            8,
        )
    driver.get(f"{base}/schedules")
    dash_duo.wait_for_contains_text("#schedules-list", "Apprenants du lundi", timeout=20)
    assert "Chaque lundi à 08:00" in dash_duo.find_element("#schedules-list").text
    pause = dash_duo.find_element(f"#schedules-row-{report.id} button")
    assert pause.text == "Suspendre"
    driver.execute_script("arguments[0].click()", pause)
    dash_duo.wait_for_contains_text("#schedules-message", "est suspendu", timeout=20)
    # The list is drawn again after the pause: a button found just before may be gone.
    WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.find_element("css selector", f"#schedules-row-{report.id} button").text == "Reprendre"
    )
    with db.session() as s:
        assert s.get(ScheduledReport, report.id).paused is True
    assert dash_duo.get_logs() == []
