"""The global, training and module summary pages in a real browser (issue 3 point 8), on the
hand-made database of tests/integration/dashboards/test_pages.py (its docstring gives every number used here)."""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from selenium.common.exceptions import ElementClickInterceptedException, TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.integration.dashboards.test_pages import build_world

WAIT = 15
TOGGLE = "button.ls-chart-toggle"  # a chart card's "View as table"


def css_id(component_id: dict) -> str:
    """A CSS selector for a pattern-matching id (Dash writes it as compact JSON, keys sorted)."""
    return f"[id='{json.dumps(component_id, sort_keys=True, separators=(',', ':'))}']"


def by_dash_id_css(kind: str, page: str = "overview") -> str:
    """The date filter's parts: {"type": kind, "page": page}."""
    return css_id({"type": kind, "page": page})


def by_dash_id_css_table(kind: str, table: str = "training") -> str:
    """The results table's parts: {"type": kind, "table": table}."""
    return css_id({"type": kind, "table": table})


def wait_until(dash_duo, condition, message: str, timeout: int = WAIT):
    return WebDriverWait(dash_duo.driver, timeout).until(lambda driver: condition(driver), message)


def start_signed_in(dash_duo, dash_app, email: str, path: str, password: str = "password123") -> str:
    """Serve the app, sign in through the form with a deep link, land on path; the base URL."""
    dash_duo.start_server(dash_app, navigate=False)
    base = dash_duo.server.url.rstrip("/")
    dash_duo.driver.get(f"{base}/login?next={quote(path, safe='')}")
    dash_duo.wait_for_element("#signin-email").send_keys(email)
    dash_duo.find_element("#signin-password").send_keys(password)
    dash_duo.find_element("#signin-submit").click()
    wait_until(
        dash_duo, lambda d: urlsplit(d.current_url).path == urlsplit(path).path, f"never reached {path}"
    )
    dash_duo.wait_for_element("#react-entry-point")
    return base


def type_first_week_of_march(dash_duo) -> None:
    """Type 01/03/2026 – 07/03/2026 into the global page's picker (tests/integration/dashboards/test_pages.py's
    world): bob and david created, alice and david active, david's completion; chloe is not
    enrolled yet. The cards follow and the address keeps the range."""
    type_date(dash_duo, "dash-datepicker-start-date", "01/03/2026")
    type_date(dash_duo, "dash-datepicker-end-date", "07/03/2026")
    wait_for_cards(
        dash_duo,
        "overview",
        {"learners": "3", "new-users": "2", "active-users": "2", "trainings": "3", "completions": "1"},
    )
    wait_until(
        dash_duo,
        lambda d: parse_qs(urlsplit(d.current_url).query) == {"start": ["2026-03-01"], "end": ["2026-03-07"]},
        "the address does not keep the typed range",
    )


def card_values(dash_duo, page: str) -> dict[str, str]:
    fourth = "modules" if page == "training" else "trainings"  # a training's page counts modules
    slugs = ["learners", "new-users", "active-users", fourth, "completions"]
    return {slug: dash_duo.find_element(f"#{page}-card-{slug}-value").text for slug in slugs}


def wait_for_cards(dash_duo, page: str, expected: dict[str, str]):
    seen = {}

    def matches(_driver):
        try:
            seen["last"] = card_values(dash_duo, page)
        except WebDriverException:  # the block is being redrawn
            return False
        return seen["last"] == expected

    try:
        wait_until(dash_duo, matches, "cards")
    except TimeoutException:
        raise AssertionError(f"the cards never showed {expected}; last seen {seen.get('last')}") from None


def type_date(dash_duo, css_class: str, day_text: str):
    """Type a date (DD/MM/YYYY, the picker's display format) into the Dash 4 picker, then Enter."""
    field = dash_duo.find_element(f"input.{css_class}")
    dash_duo.clear_input(field)
    field.send_keys(day_text)
    field.send_keys(Keys.ENTER)


def click(dash_duo, element):
    """Scroll the element to the middle of the window at once, then click it."""
    if isinstance(element, str):
        element = dash_duo.find_element(element)

    # Bootstrap's smooth scrolling would move the element while WebDriver clicks: jump. Charts
    # still loading may shift the page under the click: scroll and try again until it lands.
    def scroll_and_click(driver) -> bool:
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
        element.click()
        return True

    WebDriverWait(dash_duo.driver, 10, ignored_exceptions=(ElementClickInterceptedException,)).until(
        scroll_and_click, "the element cannot be clicked"
    )


def table_rows(element) -> list[list[str]]:
    """The cells' texts as laid out (textContent: a row still sliding open while the table's
    collapse animates has no height, and Selenium's .text would read it as empty)."""
    return [
        [
            " ".join((cell.get_attribute("textContent") or "").split())
            for cell in row.find_elements(By.CSS_SELECTOR, "th, td")
        ]
        for row in element.find_elements(By.CSS_SELECTOR, "tr")
    ]


def wait_for_file(dash_duo, name: str, timeout: int = WAIT) -> Path:
    path = Path(dash_duo.download_path) / name
    wait_until(
        dash_duo, lambda _d: path.exists() and path.stat().st_size > 0, f"{name} never downloaded", timeout
    )
    return path


def test_pg3b_001_date_range_changes_cards_and_chart_numbers(dash_duo, dash_app, factory):
    build_world(factory)
    start_signed_in(dash_duo, dash_app, "boss@example.org", "/")

    # The default range, the last 30 days: nobody was active, nothing was completed, but the
    # four learners are enrolled.
    wait_for_cards(
        dash_duo,
        "overview",
        {"learners": "4", "new-users": "0", "active-users": "0", "trainings": "3", "completions": "0"},
    )
    assert Select(dash_duo.find_element(by_dash_id_css("date-preset"))).first_selected_option.text == (
        "Last 30 days"
    )

    type_first_week_of_march(dash_duo)
    assert Select(dash_duo.find_element(by_dash_id_css("date-preset"))).first_selected_option.text == (
        "Custom range"
    )

    # The completion donut's numbers as a table: on 7 March, 1 passed, 1 in progress, 2 not
    # started.
    click(dash_duo, f"#overview-completion-donut-card {TOGGLE}")
    table = dash_duo.wait_for_element("#overview-completion-donut-table table")
    wait_until(dash_duo, lambda _d: table.is_displayed(), "the table never opened")
    assert table_rows(table) == [
        ["Status", "Enrolments"],
        ["Passed", "1"],
        ["Failed", "0"],
        ["Expired", "0"],
        ["In progress", "1"],
        ["Not started", "2"],
    ]
    # Active users per day: alice on the 5th, david on the 6th.
    click(dash_duo, f"#overview-active-users-card {TOGGLE}")
    active = dash_duo.wait_for_element("#overview-active-users-table table")
    wait_until(dash_duo, lambda _d: active.is_displayed(), "the table never opened")
    assert [row[2] for row in table_rows(active)] == ["Active users", "0", "0", "0", "0", "1", "1", "0"]

    # The "All time" preset: from the first enrollment (1 March) to today. chloe logged in in
    # April; alice, bob and david completed or were created since 1 March.
    Select(dash_duo.find_element(by_dash_id_css("date-preset"))).select_by_visible_text("All time")
    wait_for_cards(
        dash_duo,
        "overview",
        {"learners": "4", "new-users": "3", "active-users": "4", "trainings": "3", "completions": "2"},
    )
    wait_until(
        dash_duo,
        lambda d: parse_qs(urlsplit(d.current_url).query) == {"range": ["all_time"]},
        "the address does not keep the preset",
    )
    # The donut's table follows: on today's date 2 passed, 1 in progress, 2 not started.
    click(dash_duo, f"#overview-completion-donut-card {TOGGLE}")
    table = dash_duo.wait_for_element("#overview-completion-donut-table table")
    wait_until(
        dash_duo,
        lambda _d: (
            table.is_displayed()
            and [r[1] for r in table_rows(table)] == ["Enrolments", "2", "0", "0", "1", "2"]
        ),
        "the donut's table never showed the all-time numbers",
    )
    assert dash_duo.get_logs() == []


def test_pg3b_002_details_then_module_summary(dash_duo, dash_app, factory):
    build_world(factory)
    start_signed_in(
        dash_duo, dash_app, "boss@example.org", "/training/t-alpha?start=2026-03-01&end=2026-03-31"
    )
    dash_duo.wait_for_text_to_equal("#training-title", "Alpha safety")
    wait_for_cards(
        dash_duo,
        "training",
        {"learners": "3", "new-users": "2", "active-users": "2", "modules": "3", "completions": "1"},
    )
    dash_duo.wait_for_text_to_equal(by_dash_id_css_table("results-count"), "Showing 1–3 of 3 learners")

    row = {"table": "training", "row": "alice|t-alpha"}
    click(dash_duo, css_id({"type": "results-details-button", **row}))
    details = dash_duo.wait_for_element(f"{css_id({'type': 'results-details-body', **row})} table")
    wait_until(dash_duo, lambda _d: details.is_displayed(), "the details are hidden")
    # Issue 21: the button says which learner and that its details are now shown.
    button = dash_duo.find_element(css_id({"type": "results-details-button", **row}))
    assert button.get_attribute("aria-label") == "Details of Martin Alice"
    wait_until(
        dash_duo, lambda _d: button.get_attribute("aria-expanded") == "true", "aria-expanded stayed false"
    )
    assert table_rows(details) == [
        ["Module", "Type", "Status", "Score", "Time spent", "Completed on", ""],
        ["Introduction", "Mandatory", "passed", "80.0 %", "30 min", "03/03/2026", "Module summary"],
        ["Rules", "Mandatory", "passed", "80.0 %", "45 min", "10/03/2026", "Module summary"],
        ["Extra reading", "Optional", "not started", "–", "0 min", "–", "No attempt"],
    ]
    click(dash_duo, details.find_element(By.LINK_TEXT, "Module summary"))
    wait_until(
        dash_duo,
        lambda d: urlsplit(d.current_url).path == "/training/t-alpha/learner/alice/module/m-intro",
        "the link did not lead to the module summary",
    )
    dash_duo.wait_for_text_to_equal("#module-summary-points", "Got 16 of 20 possible points.")
    assert dash_duo.find_element("#module-summary-score").text == "80.0 %"
    # The older attempt, through the picker.
    Select(dash_duo.find_element("#module-summary-attempt-select")).select_by_value("at-a1")
    dash_duo.wait_for_text_to_equal("#module-summary-points", "Got 5 of 20 possible points.")
    assert dash_duo.find_element("#module-summary-score").text == "25.0 %"
    assert dash_duo.get_logs() == []


def test_pg3b_003_download_tables_and_read_them_back(dash_duo, dash_app, factory):
    build_world(factory)
    start_signed_in(dash_duo, dash_app, "boss@example.org", "/training/t-alpha")
    dash_duo.wait_for_text_to_equal(by_dash_id_css_table("results-count"), "Showing 1–3 of 3 learners")
    # Search, then download: the whole filtered table.
    search = dash_duo.find_element(by_dash_id_css_table("results-search"))
    search.send_keys("durand")
    search.send_keys(Keys.ENTER)
    dash_duo.wait_for_text_to_equal(by_dash_id_css_table("results-count"), "Showing 1–1 of 1 learners")
    click(dash_duo, by_dash_id_css_table("results-download-csv"))
    content = wait_for_file(dash_duo, "results-t-alpha.csv").read_text(encoding="utf-8-sig")
    # The table as on screen (issue 12 point 3): its columns and headers (English browser).
    assert list(csv.reader(io.StringIO(content))) == [
        ["Learner", "Email", "Class", "Progress", "Score", "Status", "Time spent (min)", "Completed on"],
        ["Durand Bob", "bob@example.org", "Morning group", "33.3", "5.0", "in progress", "20", ""],
    ]  # fmt: skip

    # The global page's trainings table (held in the browser) as CSV: rates to one decimal,
    # times in minutes (1900 s = 31.7 min -> 32).
    dash_duo.driver.get(dash_duo.server.url.rstrip("/") + "/")
    csv_button = css_id({"type": "static-table-csv", "page": "overview", "table": "trainings"})
    click(dash_duo, dash_duo.wait_for_element(csv_button))
    content = wait_for_file(dash_duo, "trainings.csv").read_text(encoding="utf-8-sig")
    assert list(csv.reader(io.StringIO(content))) == [
        ["Training", "Learners", "In progress", "Completed", "Completion", "Avg. progress", "Avg. score",
         "Avg. time spent (min)"],
        ["Alpha safety", "3", "1", "1", "33.3", "33.3", "28.3", "32"],
        ["Beta compliance", "2", "0", "1", "50.0", "50.0", "50.0", "30"],
        ["Gamma basics", "0", "0", "0", "", "", "", ""],
    ]  # fmt: skip
    assert dash_duo.get_logs() == []


def test_pg3b_004_printed_training_page(dash_duo, dash_app, factory, tmp_path):
    """Issue 21: the training page printed to PDF (Chromium's own print, its print stylesheet):
    the title and the period on paper, every learner of the table, no navbar, buttons or filter
    controls; read back with pdftotext."""
    build_world(factory)
    start_signed_in(
        dash_duo, dash_app, "boss@example.org", "/training/t-alpha?start=2026-03-01&end=2026-03-31"
    )
    dash_duo.wait_for_text_to_equal(by_dash_id_css_table("results-count"), "Showing 1–3 of 3 learners")
    # A period change reaches the printed header.
    type_date(dash_duo, "dash-datepicker-end-date", "15/03/2026")
    wait_until(
        dash_duo,
        lambda d: (
            d.execute_script(
                "return document.querySelector(arguments[0]).textContent",
                by_dash_id_css("date-range-print", "training"),
            )
            == "01/03/2026 – 15/03/2026"
        ),
        "the printed period did not follow the picker",
    )
    pdf = dash_duo.driver.execute_cdp_cmd(
        "Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": True}
    )
    path = tmp_path / "training.pdf"
    path.write_bytes(base64.b64decode(pdf["data"]))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Alpha safety" in text
    assert "PERIOD 01/03/2026 – 15/03/2026" in " ".join(text.split())
    for learner in ("Martin Alice", "Durand Bob"):
        assert learner in text
    # No navbar (brand, links, sign out), no buttons (downloads, details), no filter controls.
    for screen_only in (
        "Learnstats",
        "Sign out",
        "Overview",
        "CSV",
        "XLSX",
        "Details",
        "Last 30 days",
        "Sort by",
    ):
        assert screen_only not in text, screen_only
    assert dash_duo.get_logs() == []
