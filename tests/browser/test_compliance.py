"""The compliance pack's pages in a real browser (issue 19 points 5 and 6): a statistics manager
opens "BPF report" from the navbar, chooses a value's line and the table follows; the "Results"
page shows a training's indicator 2; a training manager has a "Results" link but no BPF one; no
console error."""

from __future__ import annotations

import json

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

from data.models import User
from tests.browser.test_pages import start_signed_in, wait_until


def _world(f):
    t = f.training("T1", name="Sécurité")
    m1 = f.module("M1")
    f.step(t, m1, 1)
    for user_id, value, minutes in (("a1", "CDI", 150), ("b1", "Apprenti", 45), ("n1", None, 30)):
        u = f.user(user_id, email=f"{user_id}@x.org", fields={"Statut": value} if value else None)
        f.enroll(u, t, at="2025-02-01 09:00")
        f.connection(u, m1, "2025-03-02 08:00", f"2025-03-02 {8 + minutes // 60:02d}:{minutes % 60:02d}")
    f.attempt(
        f.s.get(User, "a1"), t, m1, started="2025-03-02 08:00", finished="2025-03-02 10:30", scores=(8,)
    )
    f.user("stat", "Stella", "Stats", email="stat@example.org", roles=("statistics_manager",))
    f.user("tm", "Tom", "Trainer", email="tm@example.org", roles=("training_manager:T1",))
    f.s.commit()


def _row(driver, key: str) -> list[str]:
    """A row's cells, [] while the table is being redrawn."""
    try:
        return [td.text for td in driver.find_elements(By.CSS_SELECTOR, f"#bpf-row-{key} td")]
    except StaleElementReferenceException:
        return []


def test_cpb001_bpf_mapping_drives_the_table(dash_duo, dash_app, factory):
    _world(factory)
    start_signed_in(dash_duo, dash_app, "stat@example.org", "/bpf?start=2025-01-01&end=2025-12-31")
    assert dash_duo.find_element("#nav-bpf-link").is_displayed()
    dash_duo.wait_for_element("#bpf-f1")
    wait_until(dash_duo, lambda d: _row(d, "total")[1:] == ["3", "4"], "total")  # 2.5 + 0.75 + 0.5 h
    wait_until(dash_duo, lambda d: _row(d, "e")[1:] == ["3", "4"], "e")  # no field: everyone in e
    dash_duo.select_dcc_dropdown("#bpf-field", "Statut")
    radio = json.dumps({"type": "bpf-line", "value": "CDI"}, sort_keys=True, separators=(",", ":"))
    dash_duo.wait_for_element(f"[id='{radio}'] input[value='a']").click()
    wait_until(dash_duo, lambda d: _row(d, "a")[1:] == ["1", "3"], "line a")
    wait_until(
        dash_duo, lambda d: _row(d, "e")[1:] == ["2", "1"], "line e"
    )  # Apprenti (not mapped: e) 0.75 h + no field 0.5 h
    assert dash_duo.get_logs() == []


def test_cpb002_results_page_of_a_training_manager(dash_duo, dash_app, factory):
    _world(factory)
    start_signed_in(
        dash_duo, dash_app, "tm@example.org", "/results?training=T1&start=2025-01-01&end=2025-12-31"
    )
    dash_duo.wait_for_element("#qualiopi-volume")
    wait_until(
        dash_duo,
        lambda d: "3 learners with activity" in d.find_element(By.ID, "qualiopi-volume").text,
        "volume",
    )
    assert dash_duo.find_elements("#nav-bpf-link") == []  # no BPF for a training manager
    assert dash_duo.find_element("#nav-results-link").is_displayed()
    assert dash_duo.get_logs() == []
