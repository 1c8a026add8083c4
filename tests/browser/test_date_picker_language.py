"""The date filter's calendar in the interface's language, in a real browser (issue 12 point 1):
French month and weekday names with the week starting on Monday, and French aria-labels on its
buttons in a French interface; English ones in an English interface (the browser itself is
English in both: the interface's language wins). Typing DD/MM/YYYY still filters, and the
console stays clean. (assets/lsDatePicker.js, assets/date-fns-locale-fr.min.js.)"""

from __future__ import annotations

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from data.models import User
from tests.browser.test_pages import start_signed_in, type_first_week_of_march, wait_until
from tests.integration.dashboards.test_pages import build_world

EXPECTED = {
    "fr": {
        "signout": "Se déconnecter",
        "month": "novembre",
        "headers": ["novembre 2026", "décembre 2026"],
        "next_headers": ["décembre 2026", "janvier 2027"],
        "weekdays": ["lu", "ma", "me", "je", "ve", "sa", "di"],
        "labels": ["Mois précédent", "Diminuer la valeur", "Augmenter la valeur", "Mois suivant"],
    },
    "en": {
        "signout": "Sign out",
        "month": "November",
        "headers": ["November 2026", "December 2026"],
        "next_headers": ["December 2026", "January 2027"],
        "weekdays": ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"],
        "labels": ["Previous month", "Decrease value", "Increase value", "Next month"],
    },
}
CONTROLS = ".dash-datepicker-content .dash-datepicker-controls"


def texts(driver, selector: str) -> list[str]:
    return [e.get_attribute("textContent").strip() for e in driver.find_elements(By.CSS_SELECTOR, selector)]


def calendar(driver) -> dict:
    """What the open calendar shows: the month select, the months' titles, the first month's
    weekday row, and the aria-labels of the buttons of its top row (in order)."""
    return {
        "month": texts(driver, f"{CONTROLS} .dash-dropdown-value"),
        "headers": texts(driver, ".dash-datepicker-content .dash-datepicker-calendar-month-header"),
        "weekdays": texts(
            driver,
            ".dash-datepicker-content table.dash-datepicker-calendar:first-child thead tr:last-child th",
        ),
        "labels": [
            e.get_attribute("aria-label")
            for e in driver.find_elements(By.CSS_SELECTOR, f"{CONTROLS} button[aria-label]")
        ],
    }


def wait_for_calendar(dash_duo, wanted: dict, message: str) -> None:
    """Wait until the open calendar shows `wanted` (keys of calendar()); fail with what it shows."""
    shown = {}

    def shows(driver) -> bool:
        shown.update(calendar(driver))
        return all(shown[key] == value for key, value in wanted.items())

    try:
        wait_until(dash_duo, shows, message)
    except TimeoutException:
        raise AssertionError(f"{message}: {shown}") from None


@pytest.mark.parametrize("language", ["fr", "en"])
def test_lng_b002_date_filter_calendar_speaks_the_interface_language(dash_duo, dash_app, factory, language):
    build_world(factory)
    factory.s.get(User, "boss").language = language
    factory.s.commit()
    expected = EXPECTED[language]
    start_signed_in(dash_duo, dash_app, "boss@example.org", "/?start=2026-11-02&end=2026-11-08")
    dash_duo.wait_for_text_to_equal("#shell-signout-link", expected["signout"])

    dash_duo.find_element("input.dash-datepicker-start-date").click()
    dash_duo.wait_for_element(".dash-datepicker-content .dash-datepicker-calendar")
    wanted = {
        "month": [expected["month"]],
        "headers": expected["headers"],
        "weekdays": expected["weekdays"],
        "labels": expected["labels"],
    }
    wait_for_calendar(dash_duo, wanted, f"the calendar is not in {language}")
    # Monday first: 2 November 2026 is a Monday, the first day of the second row (the first
    # row holds Sunday 1 November in its last cell).
    first_rows = dash_duo.driver.find_elements(
        By.CSS_SELECTOR, ".dash-datepicker-content table.dash-datepicker-calendar:first-child tbody tr"
    )
    assert [c.get_attribute("textContent") for c in first_rows[0].find_elements(By.TAG_NAME, "td")] == [
        ""
    ] * 6 + ["1"]
    assert first_rows[1].find_elements(By.TAG_NAME, "td")[0].get_attribute("textContent") == "2"

    # The next month: new names, the buttons still labelled in the interface's language.
    next_month = dash_duo.driver.find_elements(
        By.CSS_SELECTOR, f"{CONTROLS} button.dash-datepicker-month-nav"
    )[-1]
    next_month.click()
    wanted = {"headers": expected["next_headers"], "labels": expected["labels"]}
    wait_for_calendar(dash_duo, wanted, f"the next month is not in {language}")
    dash_duo.find_element("input.dash-datepicker-start-date").send_keys(Keys.ESCAPE)

    # Typed dates (DD/MM/YYYY) still filter.
    type_first_week_of_march(dash_duo)
    assert dash_duo.find_element("input.dash-datepicker-start-date").get_attribute("value") == "01/03/2026"
    assert dash_duo.get_logs() == []
