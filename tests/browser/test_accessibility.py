"""Issue 12 in a real browser: any screen (navbar menu, no sideways scroll) and accessibility
(axe-core's WCAG 2.1 A/AA rules, colour contrast included; the charts' "View as table"; visible
focus; the date filter with the keyboard alone).

axe-core is vendored under tests/vendor/axe-core/ (MPL-2.0, unmodified): the tests need no
network and no npm, and always run the same rules.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy import select

from data.demo import DEMO_ACCOUNTS, generate_demo_data
from data.models import Class, ProgramSession, Training, TrainingLearner, TrainingModule
from tests.browser.test_pages import (
    TOGGLE,
    by_dash_id_css,
    by_dash_id_css_table,
    css_id,
    start_signed_in,
    wait_for_cards,
    wait_until,
)
from tests.integration.dashboards.test_pages import build_world
from tests.screenshots import _settle, _viewport

AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Dash 4's DatePickerRange puts aria-expanded on its wrapper <div> (a popover trigger without a
# role): Dash's markup, not ours. Its two inputs are labelled text fields (tested below).
KNOWN_THIRD_PARTY = {"aria-allowed-attr": ".dash-datepicker-input-wrapper"}

RUN_AXE = """
var done = arguments[arguments.length - 1], tags = arguments[0], known = arguments[1];
axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})
  .then(function (r) {
    done(r.violations.map(function (v) {
      return {id: v.id, help: v.help, nodes: v.nodes.map(function (n) {
        var el = document.querySelector(n.target[0]);
        return {target: n.target.join(" "), html: n.html.slice(0, 160), summary: n.failureSummary,
                known: !!(el && known[v.id] && el.matches(known[v.id]))};
      })};
    }));
  }, function (e) { done([{id: "axe-error", help: String(e), nodes: []}]); });
"""


def axe_violations(driver) -> list[dict]:
    """axe-core's WCAG 2.1 A and AA violations on the page as it is now, less KNOWN_THIRD_PARTY."""
    if not driver.execute_script("return !!window.axe"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    driver.set_script_timeout(60)
    found = driver.execute_async_script(RUN_AXE, WCAG_AA, KNOWN_THIRD_PARTY)
    out = []
    for violation in found:
        nodes = [n for n in violation["nodes"] if not n["known"]]
        if nodes or not violation["nodes"]:
            out.append({**violation, "nodes": nodes})
    return out


def describe(violations: list[dict]) -> str:
    return "\n".join(
        f"{v['id']}: {v['help']}\n" + "\n".join(f"   {n['target']}: {n['summary']}" for n in v["nodes"][:5])
        for v in violations
    )


def present_now(driver, selector: str) -> list:
    """The elements matching selector as the page is now. dash.testing's find_elements waits up
    to 2 s (its implicit wait) for an element that is not there; on a settled page (_settle:
    no callback pending for 1.5 s) an absent element is absent, and the wait cost 4 s a page."""
    driver.implicitly_wait(0)
    try:
        return driver.find_elements(By.CSS_SELECTOR, selector)
    finally:
        driver.implicitly_wait(2)  # dash.testing's Browser sets 2 s


def no_sideways_scroll(driver) -> int:
    return driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def test_a11y001_every_page_passes_axe_wcag_aa(dash_duo, dash_app, db):
    """Demo data, an admin: the sign-in page and every kind of page, a chart's table open."""
    generate_demo_data(db, learners=24, seed=5)
    with db.session() as s:
        training_id = s.scalars(select(Training.id).order_by(Training.id)).first()
        learner_id, module_id = s.execute(
            select(TrainingLearner.user_id, TrainingModule.module_id)
            .join(TrainingModule, TrainingModule.training_id == TrainingLearner.training_id)
            .where(TrainingLearner.training_id == training_id)
            .order_by(TrainingLearner.user_id, TrainingModule.position)
        ).first()
        class_id = s.scalars(select(Class.id).order_by(Class.id)).first()
        session_id = s.scalars(select(ProgramSession.id).order_by(ProgramSession.id)).first()
    admin = next(a for a in DEMO_ACCOUNTS if a.role == "admin")
    dash_duo.start_server(dash_app, navigate=False)
    base = dash_duo.server.url.rstrip("/")
    driver = dash_duo.driver
    _viewport(driver, 1400, 900)
    driver.get(base + "/login")
    dash_duo.wait_for_element("#signin-form")
    assert axe_violations(driver) == [], describe(axe_violations(driver))
    dash_duo.find_element("#signin-email").send_keys(admin.email)
    dash_duo.find_element("#signin-password").send_keys(admin.password)
    dash_duo.find_element("#signin-submit").click()
    wait_until(dash_duo, lambda d: urlsplit(d.current_url).path == "/", "never signed in")
    pages = [
        "/",
        f"/training/{training_id}",
        f"/learner/{learner_id}",
        "/classes",
        f"/class/{class_id}",
        "/sessions",
        f"/session/{session_id}",
        f"/training/{training_id}/learner/{learner_id}/module/{module_id}",
    ]
    failures = {}
    for path in pages:
        driver.get(base + path)
        _settle(driver)
        if path == "/":  # a chart's numbers shown as a table are checked too
            dash_duo.find_element(TOGGLE).click()
            wait_until(
                dash_duo, lambda d: d.find_element(By.CSS_SELECTOR, ".ls-chart-table").is_displayed(), ""
            )
        assert not present_now(driver, "#page-forbidden") and not present_now(driver, "#page-not-found")
        violations = axe_violations(driver)
        if violations:
            failures[path] = describe(violations)
    assert failures == {}, "\n\n".join(f"{p}\n{text}" for p, text in failures.items())


def test_a11y002_keyboard_alone_date_filter_chart_table_and_visible_focus(dash_duo, dash_app, factory):
    build_world(factory)
    base = start_signed_in(dash_duo, dash_app, "boss@example.org", "/?range=all_time")
    driver = dash_duo.driver
    dash_duo.wait_for_element("#overview-card-learners-value")
    _settle(driver)

    def active():
        return driver.switch_to.active_element

    def tab_to(condition, what: str, limit: int = 60):
        for _ in range(limit):
            ActionChains(driver).send_keys(Keys.TAB).perform()
            if condition(active()):
                return active()
        raise AssertionError(f"Tab never reached {what}")

    # From the top of the page (nothing clicked), Tab reaches the period select; its focus is
    # visible.
    preset = tab_to(
        lambda e: e.get_attribute("id") == '{"page":"overview","type":"date-preset"}', "the period"
    )
    style = driver.execute_script(
        "var s = getComputedStyle(arguments[0]); return [s.outlineStyle, parseFloat(s.outlineWidth)];", preset
    )
    assert style[0] != "none" and style[1] >= 2, style
    # The next stop is the start date. Dash 4's picker: a typed date is set by Enter, which
    # opens its calendar on that date; Escape closes the calendar and moves to the end date.
    start = tab_to(
        lambda e: "dash-datepicker-start-date" in (e.get_attribute("class") or ""), "the start date", 3
    )
    assert start.get_attribute("aria-label") == "Start date"
    keys = ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL)
    keys.send_keys("01/03/2026", Keys.ENTER).perform()
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    wait_until(
        dash_duo,
        lambda _d: "dash-datepicker-end-date" in (active().get_attribute("class") or ""),
        "no end date",
    )
    assert active().get_attribute("aria-label") == "End date"
    keys = ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL)
    keys.send_keys("31/03/2026", Keys.ENTER).perform()
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    wait_until(
        dash_duo, lambda _d: not driver.find_elements(By.CSS_SELECTOR, "[role=dialog]"), "calendar open"
    )
    wait_for_cards(
        dash_duo,
        "overview",
        # March, as tests/integration/dashboards/test_pages.py computes it by hand (test_pg3_001).
        {"learners": "4", "new-users": "3", "active-users": "3", "trainings": "3", "completions": "2"},
    )
    query = parse_qs(urlsplit(driver.current_url).query)
    assert query == {"start": ["2026-03-01"], "end": ["2026-03-31"]}
    assert dash_duo.find_element(by_dash_id_css("date-preset")).get_attribute("value") == "custom"
    assert base

    # A chart's "View as table": reached with Tab, says what it controls and whether it is open.
    toggle = tab_to(lambda e: "ls-chart-toggle" in (e.get_attribute("class") or ""), "a chart's table toggle")
    controlled = driver.find_element(By.ID, toggle.get_attribute("aria-controls"))
    assert toggle.get_attribute("aria-expanded") == "false" and not controlled.is_displayed()
    outline = driver.execute_script("return getComputedStyle(arguments[0]).outlineStyle", toggle)
    assert outline != "none"
    toggle.send_keys(Keys.ENTER)
    wait_until(
        dash_duo, lambda _d: toggle.get_attribute("aria-expanded") == "true", "aria-expanded stayed false"
    )
    wait_until(dash_duo, lambda _d: controlled.is_displayed(), "the table did not open")
    assert toggle.text == "Hide table"
    toggle.send_keys(Keys.ENTER)
    wait_until(dash_duo, lambda _d: toggle.get_attribute("aria-expanded") == "false", "did not close")

    # The trainings table is one Tab stop (it used to wrap round its header for ever): Tab
    # reaches its first header, the next Tab leaves it; arrows move inside, Enter follows a link.
    def in_grid(element) -> bool:
        return driver.execute_script("return !!arguments[0].closest('.ag-root-wrapper')", element)

    # The at-risk list (issue 18) comes first: one Tab stop as well, then out of it.
    at_risk = tab_to(
        lambda e: "ag-header-cell" in (e.get_attribute("class") or ""), "the at-risk list's header", 15
    )
    assert at_risk.text.startswith("Learner")
    ActionChains(driver).send_keys(Keys.TAB).perform()
    assert not in_grid(active())
    header = tab_to(lambda e: "ag-header-cell" in (e.get_attribute("class") or ""), "the table's header", 15)
    assert header.text.startswith("Training")
    ActionChains(driver).send_keys(Keys.ARROW_DOWN).perform()
    cell = active()
    assert in_grid(cell) and "ag-cell" in cell.get_attribute("class") and cell.text == "Alpha safety"
    assert driver.execute_script("return getComputedStyle(arguments[0]).outlineStyle", cell) != "none"
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    wait_until(
        dash_duo,
        lambda d: urlsplit(d.current_url).path == "/training/t-alpha",
        "Enter did not follow the link",
    )
    dash_duo.wait_for_text_to_equal("#training-title", "Alpha safety")
    # On the training page, Tab goes into the training-content table and out again at once.
    _settle(driver)
    tab_to(lambda e: "ag-header-cell" in (e.get_attribute("class") or ""), "a table's header", 60)
    ActionChains(driver).send_keys(Keys.TAB).perform()
    assert not in_grid(active())
    assert dash_duo.get_logs() == []


def test_scr006_narrow_screens_menu_no_sideways_scroll_search_as_you_type(dash_duo, dash_app, factory):
    build_world(factory)
    base = start_signed_in(dash_duo, dash_app, "boss@example.org", "/training/t-alpha?range=all_time")
    driver = dash_duo.driver

    # The learners table filters as one types, without Enter.
    dash_duo.wait_for_text_to_equal(by_dash_id_css_table("results-count"), "Showing 1–3 of 3 learners")
    dash_duo.find_element(by_dash_id_css_table("results-search")).send_keys("chlo")
    dash_duo.wait_for_text_to_equal(
        by_dash_id_css_table("results-count"), "Showing 1–1 of 1 learners", timeout=5
    )

    # 800 px: the navbar is a menu; the name and "Sign out" appear when it is opened.
    _viewport(driver, 800, 900)
    driver.get(base + "/")
    _settle(driver)
    toggler = dash_duo.find_element("#shell-navbar-toggler")
    assert toggler.is_displayed() and toggler.get_attribute("aria-expanded") == "false"
    assert not dash_duo.find_element("#shell-signout-link").is_displayed()
    toggler.click()
    wait_until(
        dash_duo, lambda _d: dash_duo.find_element("#shell-signout-link").is_displayed(), "menu closed"
    )
    assert toggler.get_attribute("aria-expanded") == "true"
    assert dash_duo.find_element("#shell-user-name").is_displayed()
    # Opening a page closes the menu.
    dash_duo.find_element("#nav-sessions-link").click()
    wait_until(dash_duo, lambda _d: toggler.get_attribute("aria-expanded") == "false", "menu stayed open")
    assert no_sideways_scroll(driver) <= 0

    # 390 px (a phone): no page scrolls sideways; wide tables scroll inside their card.
    _viewport(driver, 390, 844)
    for path in [
        "/?range=all_time",
        "/training/t-alpha?range=all_time",
        "/learner/alice",
        "/sessions",
        "/classes",
    ]:
        driver.get(base + path)
        _settle(driver)
        assert no_sideways_scroll(driver) <= 0, path
    driver.get(base + "/?range=all_time")
    _settle(driver)
    grid = driver.find_element(
        By.CSS_SELECTOR, css_id({"type": "static-table", "page": "overview", "table": "trainings"})
    )
    viewport = grid.find_element(By.CSS_SELECTOR, ".ag-center-cols-viewport")
    assert driver.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", viewport)
    # At 1400 px the same table has room for every column: nothing to scroll.
    _viewport(driver, 1400, 900)
    driver.get(base + "/?range=all_time")
    _settle(driver)
    grid = driver.find_element(
        By.CSS_SELECTOR, css_id({"type": "static-table", "page": "overview", "table": "trainings"})
    )
    viewport = grid.find_element(By.CSS_SELECTOR, ".ag-center-cols-viewport")
    assert not driver.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", viewport)
    assert dash_duo.get_logs() == []


def test_a11y003_the_first_tab_reaches_the_skip_link_which_jumps_to_the_content(dash_duo, dash_app, factory):
    """Issue 21: from the top of a page (nothing clicked), the first Tab reaches "Skip to main
    content", shown while focused; Enter moves the focus to the page's content, so the next
    Tab goes on inside it (not through the navbar's links, search and account)."""
    build_world(factory)
    start_signed_in(dash_duo, dash_app, "boss@example.org", "/?range=all_time")
    driver = dash_duo.driver
    dash_duo.wait_for_element("#overview-card-learners-value")
    _settle(driver)
    path = driver.execute_script("return location.pathname")
    ActionChains(driver).send_keys(Keys.TAB).perform()
    link = driver.switch_to.active_element
    assert link.get_attribute("id") == "shell-skip-link", link.get_attribute("outerHTML")[:200]
    assert link.text == "Skip to main content"
    box = driver.execute_script(
        "var r = arguments[0].getBoundingClientRect(); return [r.top, r.height];", link
    )
    assert box[0] >= 0 and box[1] > 10, box  # on screen while it has the focus
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    wait_until(
        dash_duo,
        lambda d: d.switch_to.active_element.get_attribute("id") == "main-content",
        "the content focused",
    )
    assert driver.execute_script("return location.pathname") == path  # no navigation
    ActionChains(driver).send_keys(Keys.TAB).perform()
    inside = driver.execute_script(
        "return document.getElementById('main-content').contains(document.activeElement)"
    )
    assert inside, driver.switch_to.active_element.get_attribute("outerHTML")[:200]
    # Out of focus, the link is out of sight again.
    top = driver.execute_script(
        "return document.getElementById('shell-skip-link').getBoundingClientRect().bottom"
    )
    assert top <= 0, top
    dash_duo.wait_for_element("#overview-card-learners-value")
