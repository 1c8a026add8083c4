"""The French interface in a real browser (issue 12 point 1): a user whose saved language is
French gets French texts, French numbers and dates in the grids, and French month names on the
charts' axes (Plotly's French locale, assets/plotlyLocaleFr.js), with no console error."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from data.models import User
from tests.browser.test_pages import start_signed_in, wait_until
from tests.factories import Factory
from tests.integration.dashboards.test_pages import build_world
from tests.opco_world import ACCOUNTS
from tests.opco_world import build_world as build_opco_world

FRENCH_MONTHS = (
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
)


def test_lng_b001_overview_in_french(dash_duo, dash_app, factory):
    build_world(factory)
    factory.s.get(User, "boss").language = "fr"
    factory.s.commit()
    start_signed_in(dash_duo, dash_app, "boss@example.org", "/?range=all_time")
    dash_duo.wait_for_text_to_equal("#shell-signout-link", "Se déconnecter")
    assert dash_duo.driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    wait_until(
        dash_duo,
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "#overview-card-learners .ls-card-label").get_attribute(
                "textContent"
            )
            == "Apprenants"
        ),
        "the learners card is not in French",
    )

    def french_ticks(driver) -> bool:
        ticks = [
            t.text for t in driver.find_elements(By.CSS_SELECTOR, "#overview-active-users-graph .xtick text")
        ]
        return any(month in tick for tick in ticks for month in FRENCH_MONTHS)

    wait_until(dash_duo, french_ticks, "the chart's axis has no French month name")
    # The trainings grid: a rate with a decimal comma.
    wait_until(
        dash_duo,
        lambda d: any(
            c.get_attribute("textContent") == "33,3\u00a0%"
            for c in d.find_elements(By.CSS_SELECTOR, ".ag-cell")
        ),
        "the trainings grid shows no French percentage",
    )
    # The grids' French dates are the browser's CLDR ones, as Babel writes them on the server.
    dates = dash_duo.driver.execute_script(
        "var f = window.dashAgGridFunctions;"
        "return [f.lsDate('2026-11-13'), f.lsDate('2026-05-01'), f.lsDateTime('2026-02-03 09:05')];"
    )
    assert dates == ["13 nov. 2026", "1 mai 2026", "3 févr. 2026 09:05"]
    # AG Grid's own texts come from its French locale (assets/agGridLocaleFr.js): a sortable
    # header, once focused, tells screen readers how to sort in French.
    dash_duo.driver.execute_script("document.querySelector('.ag-header-cell-sortable').focus()")
    wait_until(
        dash_duo,
        lambda d: any(
            c.get_attribute("textContent") == "Appuyez sur ENTER pour trier"
            for c in d.find_elements(By.CSS_SELECTOR, ".ag-aria-description-container")
        ),
        "the grid's headers do not describe sorting in French",
    )
    assert dash_duo.get_logs() == []


def test_lng_b002_library_texts_of_the_session_page_in_french(dash_duo, make_app):
    """The libraries' own texts in French (dashboards/components/texts.py): the breadcrumb's label, the
    dialog's close button, the dropdowns' search field and "no options" sentence."""
    app = make_app(language="fr")
    with app.server.extensions["learnstats_db"].session() as s:
        build_opco_world(Factory(s))
        s.query(User).filter_by(email=ACCOUNTS["inst"]).one().language = "fr"  # an English browser
        s.commit()
    start_signed_in(dash_duo, app, ACCOUNTS["inst"], "/session/s-a")
    dash_duo.wait_for_text_to_equal("#session-title", "Printemps 2026")
    breadcrumb = dash_duo.find_element("nav.mb-2 ol.breadcrumb").find_element(By.XPATH, "..")
    assert breadcrumb.get_attribute("aria-label") == "fil d'Ariane"
    dash_duo.find_element("#opco-open-button").click()
    dash_duo.wait_for_element("#opco-dialog")
    wait_until(
        dash_duo,
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "#opco-dialog .btn-close").get_attribute("aria-label") == "Fermer"
        ),
        "the dialog's close button is not labelled in French",
    )
    dash_duo.find_element("#opco-groups").click()
    search = dash_duo.wait_for_element("input.dash-dropdown-search")
    assert search.get_attribute("placeholder") == "Rechercher"
    search.send_keys("zzqq")
    dash_duo.wait_for_contains_text("body", "Aucune option trouvée")
    assert dash_duo.get_logs() == []
