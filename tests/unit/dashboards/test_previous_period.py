"""SPEC §9 "Compared with the previous period": the change each card shows, hand-computed."""

from __future__ import annotations

from datetime import date

from dashboards.components.cards import build_cards, change_against, signed_pct
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


def _texts(component) -> dict[str, str]:
    found = {}

    def walk(node):
        if isinstance(node, (list, tuple)):
            for child in node:
                walk(child)
            return
        node_id = getattr(node, "id", None)
        if isinstance(node_id, str):
            found[node_id] = getattr(node, "children", None)
        walk(getattr(node, "children", None) or [])

    walk(component)
    return found


def test_cards_show_the_change_with_its_id():
    row = build_cards([("Learners", "12", None, (12, 0)), ("Completions", "0", "in the period", (0, 4))], "p")
    texts = _texts(row)
    assert texts["p-card-learners-change"] == "–"
    assert texts["p-card-completions-change"] == "▼ −100\u00a0%"
    plain = _texts(build_cards([("Trainings", "3", None)], "p"))
    assert "p-card-trainings-change" not in plain
