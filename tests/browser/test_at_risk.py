"""The at-risk list (SPEC §9, issue 18) in a real browser, as the demo's training manager sees it.

On the demo platform, the training manager of "Sécurité au travail" opens the global page: the
list shows only that training's learners (an admin's list has other trainings too), each with
its reasons in words; typing another number of days changes the list and the address (?days=N).
The expected rows come from the data layer (data/figures/at_risk.py, checked against the
reference in the summary property test), the words from the patterns of SPEC §9.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, urlsplit

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.keys import Keys

from auth.roles import load_scope
from auth.users import find_user_by_email
from data.config import settings_of
from data.demo import DEMO_ACCOUNTS, TRAINING_MANAGER_TRAINING, generate_demo_data
from data.figures.at_risk import at_risk_rows
from data.figures.days import today_in
from data.figures.population import ALL
from data.models import Training
from data.scope import global_scope
from exports.at_risk import at_risk_frame
from tests.browser.test_pages import wait_until

GRID = "overview-at-risk-grid"
# One reason in words (SPEC §9), as the English interface writes it; several are joined by "; ".
REASON = re.compile(
    r"inactive for \d+ days?|failed .+|session ended on .+|session ends today|session ends in \d+ days?"
)


def grid_rows(driver, grid_id: str) -> list[dict] | None:
    """Every row the server-side grid has loaded (AG Grid's API), None while a block is loading."""
    return driver.execute_script(
        """
        try {
            var api = window.dash_ag_grid.getApi(arguments[0]);
            var rows = [], loading = false;
            api.forEachNode(function (node) { if (node.data) { rows.push(node.data); } else { loading = true; } });
            return loading ? null : rows;
        } catch (e) { return null; }
        """,
        grid_id,
    )


def expected(server, db, scope_of, days: int) -> list[tuple[str, str, str]]:
    """(learner, training, reasons) of the list, in its order, from the data layer."""
    with server.app_context(), db.session() as s:
        tz = settings_of(server).tz
        on = today_in(tz)
        rows, _total = at_risk_rows(s, scope_of(s), ALL, tz, on, days)
        frame = at_risk_frame(rows, on)
    return list(zip(frame["learner"], frame["training"], frame["reasons"], strict=True))


def wait_for_list(dash_duo, want: list[tuple[str, str, str]], what: str) -> list[dict]:
    seen: dict = {}

    def shows(driver) -> bool:
        rows = grid_rows(driver, GRID)
        seen["rows"] = rows
        return rows is not None and [(r["learner"], r["training"], r["reasons"]) for r in rows] == want

    try:
        wait_until(dash_duo, shows, what, timeout=30)
    except TimeoutException:
        got = [(r["learner"], r["training"], r["reasons"]) for r in seen.get("rows") or []]
        raise AssertionError(f"{what}: the list shows {got}, not {want}") from None
    return seen["rows"]


def test_atr001_training_manager_sees_their_learners_at_risk_and_changes_the_days(dash_duo, dash_app, db):
    generate_demo_data(db, learners=40, seed=3)
    server = dash_app.server
    account = next(a for a in DEMO_ACCOUNTS if a.role.startswith("training_manager"))
    with db.session() as s:
        manager_id = find_user_by_email(s, account.email).id
        training = s.get(Training, TRAINING_MANAGER_TRAINING).name

    def manager_scope(s):
        return load_scope(s, manager_id)

    want_14 = expected(server, db, manager_scope, 14)
    want_60 = expected(server, db, manager_scope, 60)
    everyone = expected(server, db, lambda _s: global_scope(), 14)
    # The demo is such that the list means something: other trainings have learners at risk,
    # this one has some, and fewer at 60 days than at 14.
    assert {t for _l, t, _r in everyone} - {training}
    assert want_14 and {t for _l, t, _r in want_14} == {training}
    assert 0 < len(want_60) < len(want_14)
    assert any("session end" in r for _l, _t, r in want_14)  # late, not only inactive

    dash_duo.start_server(dash_app, navigate=False)
    base = dash_duo.server.url.rstrip("/")
    dash_duo.driver.get(f"{base}/login?next={quote('/', safe='')}")
    dash_duo.wait_for_element("#signin-email").send_keys(account.email)
    dash_duo.find_element("#signin-password").send_keys(account.password)
    dash_duo.find_element("#signin-submit").click()
    wait_until(dash_duo, lambda d: urlsplit(d.current_url).path == "/", "the global page never opened")
    dash_duo.wait_for_element(f"#{GRID}")

    rows = wait_for_list(dash_duo, want_14, "the training manager's at-risk list, 14 days")
    for row in rows:
        assert row["training"] == training
        parts = row["reasons"].split("; ")
        assert parts and all(REASON.fullmatch(p) for p in parts), row["reasons"]
    assert "days" not in parse_qs(urlsplit(dash_duo.driver.current_url).query)

    # The days setting: the list follows it, and so does the address.
    field = dash_duo.find_element("#overview-at-risk-days")
    dash_duo.clear_input(field)
    field.send_keys("60")
    field.send_keys(Keys.ENTER)
    wait_for_list(dash_duo, want_60, "the list after typing 60 days")
    wait_until(
        dash_duo,
        lambda d: parse_qs(urlsplit(d.current_url).query).get("days") == ["60"],
        "the address does not keep the days setting",
    )
    # The card follows the setting too: learners at risk in the manager's training, 60 days.
    wait_until(
        dash_duo,
        lambda d: (
            d.find_element("css selector", "#overview-card-at-risk-value").text
            == str(len({learner for learner, _t, _r in want_60}))
        ),
        "the At risk card does not follow the setting",
    )

    # Opened from that address, the page starts with the setting.
    dash_duo.driver.get(f"{base}/?days=60")
    dash_duo.wait_for_element(f"#{GRID}")
    wait_for_list(dash_duo, want_60, "the list opened at ?days=60")
    assert dash_duo.find_element("#overview-at-risk-days").get_attribute("value") == "60"
    assert dash_duo.get_logs() == []


def test_atr002_on_a_phone_the_list_scrolls_inside_its_card(dash_duo, dash_app, db):
    """390 px (issue 18's screenshots): the global page does not scroll sideways; the at-risk
    list keeps every column and scrolls sideways inside its card, its days setting and search
    within the screen; at 1400 px the list has room for every column."""
    from selenium.webdriver.common.by import By

    from tests.browser.test_accessibility import no_sideways_scroll
    from tests.screenshots import _settle, _viewport

    generate_demo_data(db, learners=40, seed=3)
    admin = next(a for a in DEMO_ACCOUNTS if a.role == "admin")
    dash_duo.start_server(dash_app, navigate=False)
    base = dash_duo.server.url.rstrip("/")
    driver = dash_duo.driver
    driver.get(f"{base}/login?next={quote('/', safe='')}")
    dash_duo.wait_for_element("#signin-email").send_keys(admin.email)
    dash_duo.find_element("#signin-password").send_keys(admin.password)
    dash_duo.find_element("#signin-submit").click()
    wait_until(dash_duo, lambda d: urlsplit(d.current_url).path == "/", "the global page never opened")

    def scrolls_inside() -> bool:
        viewport = driver.find_element(By.CSS_SELECTOR, f"#{GRID} .ag-center-cols-viewport")
        return driver.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", viewport)

    def right_edge(selector: str) -> float:
        element = driver.find_element(By.CSS_SELECTOR, selector)
        return driver.execute_script("return arguments[0].getBoundingClientRect().right", element)

    _viewport(driver, 390, 844)
    driver.get(f"{base}/")
    dash_duo.wait_for_element(f"#{GRID}")
    wait_until(dash_duo, lambda d: grid_rows(d, GRID), "the list shows no row at 390 px", timeout=30)
    _settle(driver)
    assert no_sideways_scroll(driver) <= 0
    assert scrolls_inside(), "at 390 px the list should scroll sideways inside its card"
    width = driver.execute_script("return document.documentElement.clientWidth")
    for selector in ("#overview-at-risk-days", "#overview-at-risk-search", f"#{GRID}"):
        assert right_edge(selector) <= width, f"{selector} goes past the screen's edge"
    _viewport(driver, 1400, 900)
    driver.get(f"{base}/")
    dash_duo.wait_for_element(f"#{GRID}")
    wait_until(dash_duo, lambda d: grid_rows(d, GRID), "the list shows no row at 1400 px", timeout=30)
    _settle(driver)
    assert not scrolls_inside()
    assert dash_duo.get_logs() == []
