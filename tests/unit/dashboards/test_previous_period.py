"""SPEC §9 "Compared with the previous period": the change each card shows, hand-computed."""

from __future__ import annotations

from datetime import date

from dashboards.components.cards import build_cards, change_against, change_tone, signed_pct
from dashboards.components.dashboard import previous_period
from dashboards.components.date_filter import DateRange


def test_change_against_the_previous_period():
    assert change_against(112, 100) == ("▲ +12\u00a0%", "up")
    assert change_against(97, 100) == ("▼ −3\u00a0%", "down")
    assert change_against(5, 0) == ("–", "none")  # 0 -> n: no percentage
    assert change_against(0, 0) == ("–", "none")
    assert change_against(0, 7) == ("▼ −100\u00a0%", "down")  # n -> 0
    assert change_against(100, 100) == ("±0\u00a0%", "flat")
    assert change_against(1001, 1000) == ("±0\u00a0%", "flat")  # +0.1 % rounds to 0
    assert change_against(3, 2) == ("▲ +50\u00a0%", "up")
    assert signed_pct(-33.4) == "−33\u00a0%" and signed_pct(66.6) == "+67\u00a0%"


def test_previous_period_is_as_long_and_just_before():
    assert previous_period(DateRange(date(2026, 3, 1), date(2026, 3, 31), "custom")) == (
        date(2026, 1, 29),
        date(2026, 2, 28),
    )
    assert previous_period(DateRange(date(2026, 3, 10), date(2026, 3, 10), "custom")) == (
        date(2026, 3, 9),
        date(2026, 3, 9),
    )


def _by_id(component, prop: str, default=None) -> dict:
    """Each component's `prop` by its (string) id, in the tree."""
    found = {}

    def walk(node):
        if isinstance(node, (list, tuple)):
            for child in node:
                walk(child)
            return
        node_id = getattr(node, "id", None)
        if isinstance(node_id, str):
            value = getattr(node, prop, None)
            found[node_id] = default if value is None else value
        walk(getattr(node, "children", None) or [])

    walk(component)
    return found


def _texts(component) -> dict[str, str]:
    return _by_id(component, "children")


def test_cards_show_the_change_with_its_id():
    row = build_cards([("Learners", "12", None, (12, 0)), ("Completions", "0", "in the period", (0, 4))], "p")
    texts = _texts(row)
    assert texts["p-card-learners-change"] == "–"
    assert texts["p-card-completions-change"] == "▼ −100\u00a0%"
    plain = _texts(build_cards([("Trainings", "3", None)], "p"))
    assert "p-card-trainings-change" not in plain


def _classes(component) -> dict[str, str]:
    return _by_id(component, "className", "")


def test_a_rise_of_the_at_risk_card_is_red_and_a_fall_green():
    """Issue 18: more learners at risk is bad news (red), fewer good news (green); the other
    cards the other way round. By hand: 12 against 10 is +20 %, 8 against 10 is −20 %."""
    row = build_cards(
        [
            ("At risk", "12", None, (12, 10)),
            ("Learners", "12", None, (12, 10)),
            ("Completions", "8", None, (8, 10)),
        ],
        "p",
    )
    texts, classes = _texts(row), _classes(row)
    assert texts["p-card-at-risk-change"] == "▲ +20\u00a0%"
    assert "ls-trend-bad" in classes["p-card-at-risk-change"].split()
    assert "ls-trend-good" not in classes["p-card-at-risk-change"].split()
    assert "ls-trend-good" in classes["p-card-learners-change"].split()  # a rise elsewhere: good
    assert "ls-trend-bad" in classes["p-card-completions-change"].split()  # a fall elsewhere: bad
    fell = build_cards([("At risk", "8", None, (8, 10))], "p")
    assert _texts(fell)["p-card-at-risk-change"] == "▼ −20\u00a0%"
    assert "ls-trend-good" in _classes(fell)["p-card-at-risk-change"].split()
    # n -> 0 at risk: everyone caught up, green; 0 -> n: no percentage, no colour.
    gone = build_cards([("At risk", "0", None, (0, 7))], "p")
    assert _texts(gone)["p-card-at-risk-change"] == "▼ −100\u00a0%"
    assert "ls-trend-good" in _classes(gone)["p-card-at-risk-change"].split()
    new = build_cards([("At risk", "5", None, (5, 0))], "p")
    assert _texts(new)["p-card-at-risk-change"] == "–"
    assert not {"ls-trend-good", "ls-trend-bad"} & set(_classes(new)["p-card-at-risk-change"].split())
    assert change_tone("flat", True) == change_tone("none", False) == ""
    assert change_tone("up", True) == change_tone("down", False) == "bad"
    assert change_tone("down", True) == change_tone("up", False) == "good"
