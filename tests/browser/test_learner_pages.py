"""The learner and class pages in a real browser (issue 4): a learner signing in lands on their
page; a class manager opens their class, then a member, then finds someone with the navbar
search; a refused URL shows the 403 page. The platform is tests/learner_world.py."""

from __future__ import annotations

from selenium.common.exceptions import ElementClickInterceptedException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.test_shell import submit_sign_in, wait_for_path
from tests.learner_world import PASSWORD, build_world


def sign_in_and_start(dash_duo, dash_app, email: str) -> str:
    dash_duo.start_server(dash_app, navigate=False)
    base = dash_duo.server.url.rstrip("/")
    dash_duo.driver.get(base + "/login")
    submit_sign_in(dash_duo, email, PASSWORD)
    return base


def css_id(component_id: dict) -> str:
    """A CSS selector for a pattern-matching id (Dash writes it as sorted, compact JSON)."""
    parts = ",".join(f'"{k}":"{v}"' for k, v in sorted(component_id.items()))
    return "[id='{" + parts + "}']"


def click_when_ready(dash_duo, selector: str, timeout: int = 10):
    element = WebDriverWait(dash_duo.driver, timeout).until(
        lambda d: next((e for e in d.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()), None),
        f"{selector} is not shown",
    )

    def scroll_and_click(driver) -> bool:
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
        element.click()
        return True

    WebDriverWait(dash_duo.driver, timeout, ignored_exceptions=(ElementClickInterceptedException,)).until(
        scroll_and_click, f"{selector} cannot be clicked"
    )
    return element


def settle(dash_duo, selector: str, text: str) -> None:
    """Wait for the page's last table and for every callback to answer (the test server stops
    when the test ends: a request still running then would be cut short)."""
    dash_duo.wait_for_contains_text(selector, text)
    WebDriverWait(dash_duo.driver, 10).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-dash-is-loading='true']"),
        "callbacks still running",
    )


def nav_texts(dash_duo) -> list[str]:
    return [a.text for a in dash_duo.find_elements("#shell-nav a")]


def test_lrb001_learner_signs_in_and_lands_on_their_page(dash_duo, dash_app, factory):
    build_world(factory)
    base = sign_in_and_start(dash_duo, dash_app, "lea@example.org")
    wait_for_path(dash_duo, "/learner/lea")
    dash_duo.server_url = base
    dash_duo.wait_for_text_to_equal("#learner-title", "Léa Apprenante")
    assert nav_texts(dash_duo) == ["My page"]  # nothing else to open
    assert not dash_duo.find_elements("#shell-search-input")

    dash_duo.wait_for_text_to_equal("#learner-card-trainings-completed-value", "2")
    dash_duo.wait_for_text_to_equal("#learner-card-time-spent-value", "2 h 50 min")
    dash_duo.wait_for_text_to_equal("#learner-trend-active-days-value", "4")
    click_when_ready(dash_duo, "label[for$='learner-trend-period_input_30']")
    dash_duo.wait_for_text_to_equal("#learner-trend-active-days-value", "5")
    dash_duo.wait_for_text_to_equal("#learner-trend-modules-completed-change", "▲ +3 (new)")

    # The trainings table, its in-place details, and a module summary of her own.
    dash_duo.wait_for_contains_text("#results-learner", "Sécurité au travail")
    click_when_ready(
        dash_duo, css_id({"type": "results-details-button", "table": "learner", "row": "lea|T1"})
    )
    details = css_id({"type": "results-details-body", "table": "learner", "row": "lea|T1"})
    dash_duo.wait_for_contains_text(details, "Module 2")
    click_when_ready(dash_duo, details + " a[href='/training/T1/learner/lea/module/M1']")
    wait_for_path(dash_duo, "/training/T1/learner/lea/module/M1")
    dash_duo.wait_for_text_to_equal("#module-summary-points", "Got 8 of 10 possible points.")

    # "My page" brings her back.
    dash_duo.find_element("#shell-nav a").click()
    wait_for_path(dash_duo, "/learner/lea")
    dash_duo.wait_for_text_to_equal("#learner-title", "Léa Apprenante")
    settle(dash_duo, "#results-learner", "Showing 1–3 of 3 trainings")

    assert dash_duo.get_logs() == []


def test_lrb002_class_manager_opens_their_class_then_a_member_then_searches(dash_duo, dash_app, factory):
    build_world(factory)
    base = sign_in_and_start(dash_duo, dash_app, "cm@example.org")
    wait_for_path(dash_duo, "/")
    dash_duo.server_url = base
    dash_duo.wait_for_text_to_equal("#shell-user-name", "Clément Chef")
    assert "Classes" in nav_texts(dash_duo) and "My page" not in nav_texts(dash_duo)

    dash_duo.find_element("#nav-classes-link").click()
    wait_for_path(dash_duo, "/classes")
    click_when_ready(dash_duo, "a.ls-grid-link[href='/class/C1']")
    wait_for_path(dash_duo, "/class/C1")
    dash_duo.wait_for_text_to_equal("#class-title", "Équipe commerciale")
    dash_duo.wait_for_text_to_equal("#class-card-learners-value", "2")
    # Each training's learners are drawn when its section is opened (issue 21).
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, "#results-class-T1") == []
    for training in ("T1", "T2"):
        click_when_ready(dash_duo, f"#class-section-{training} button")
    dash_duo.wait_for_contains_text("#results-class-T1", "Martin Bob")
    dash_duo.wait_for_contains_text("#results-class-T2", "Apprenante Léa")
    toggle = dash_duo.find_element("#class-section-T1 button")
    assert (toggle.text, toggle.get_attribute("aria-expanded")) == ("Hide the learners", "true")

    click_when_ready(dash_duo, "#results-class-T1 a[href='/learner/lea']")
    wait_for_path(dash_duo, "/learner/lea")
    dash_duo.wait_for_text_to_equal("#learner-title", "Léa Apprenante")
    dash_duo.wait_for_text_to_equal(
        "#learner-scope-note", "Figures limited to the trainings of the classes you manage."
    )
    # Her page limited to C1's trainings: T1 passed, T2 in progress; T3 is not shown.
    dash_duo.wait_for_text_to_equal("#learner-card-trainings-completed-value", "1")
    dash_duo.wait_for_text_to_equal("#learner-card-time-spent-value", "2 h 30 min")
    dash_duo.wait_for_contains_text("#results-learner", "Showing 1–2 of 2 trainings")
    assert "Management d'équipe" not in dash_duo.find_element("#results-learner").text

    # The navbar search: someone outside the class is not found; a member is, and opens.
    search = dash_duo.find_element("#shell-search-input")
    search.send_keys("zoé")
    dash_duo.wait_for_text_to_equal(".ls-navsearch-empty", "Nothing in your scope matches “zoé”.")
    search.clear()
    search.send_keys("martin")
    dash_duo.wait_for_contains_text(".ls-navsearch-item", "Bob Martin")
    assert len(dash_duo.find_elements(".ls-navsearch-item")) == 1
    click_when_ready(dash_duo, ".ls-navsearch-item")
    wait_for_path(dash_duo, "/learner/bob")
    dash_duo.wait_for_text_to_equal("#learner-title", "Bob Martin")
    dash_duo.wait_for_text_to_equal("#shell-search-input", "")
    # Enter opens the first suggestion.
    search = dash_duo.find_element("#shell-search-input")
    search.send_keys("commerciale")
    dash_duo.wait_for_contains_text(".ls-navsearch-item", "Équipe commerciale")
    search.send_keys("\n")
    wait_for_path(dash_duo, "/class/C1")
    dash_duo.wait_for_text_to_equal("#class-title", "Équipe commerciale")
    click_when_ready(dash_duo, "#class-section-T1 button")
    settle(dash_duo, "#results-class-T1", "Martin Bob")

    assert dash_duo.get_logs() == []


def test_lrb003_refused_urls_show_the_403_page(dash_duo, dash_app, factory):
    build_world(factory)
    base = sign_in_and_start(dash_duo, dash_app, "cm@example.org")
    wait_for_path(dash_duo, "/")
    dash_duo.server_url = base
    dash_duo.wait_for_text_to_equal("#shell-user-name", "Clément Chef")

    # Typed in the address bar: the server answers 403 with the app, which shows the 403 page.
    dash_duo.driver.get(base + "/class/C2")
    dash_duo.wait_for_element("#page-forbidden")
    assert "Access refused" in dash_duo.find_element("#page-forbidden").text
    dash_duo.wait_for_text_to_equal("#shell-user-name", "Clément Chef")
    # The one message the browser logs is that 403 status, on purpose.
    [entry] = dash_duo.get_logs()
    assert "/class/C2" in entry["message"] and "403" in entry["message"]
    dash_duo.reset_log_timestamp()

    # Navigating inside the app to a learner outside the class: the page refuses too.
    dash_duo.driver.execute_script(
        "window.history.pushState({}, '', '/learner/zoe');"
        "window.dispatchEvent(new CustomEvent('_dashprivate_pushstate'));"
    )
    wait_for_path(dash_duo, "/learner/zoe")
    dash_duo.wait_for_element("#page-forbidden")
    assert not dash_duo.find_elements("#learner-title")

    assert dash_duo.get_logs() == []
