"""The date pickers' calendar in the interface's language (issue 12 point 1): the labels Dash 4
writes in English in its JavaScript are the ones translated, every page's layout carries their
translations, and the French date-fns locale is served before the script that uses it. The
browser side is tests/browser/test_date_picker_language.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import dash

from dashboards.components.date_filter import COMPONENT_LABELS
from dashboards.components.texts import COMPONENT_LABELS as ALL_LABELS
from tests.conftest import sign_in

DCC = Path(dash.__file__).resolve().parent / "dcc"
ASSETS = Path(__file__).resolve().parents[3] / "assets"
LABEL = re.compile(r'"aria-label":"([^"]+)"')


def test_dpl001_the_translated_labels_are_the_english_ones_in_dash():
    """Each text of COMPONENT_LABELS is an aria-label written in Dash's code, and every English
    aria-label of the date pickers' code is in COMPONENT_LABELS: a Dash upgrade that renames or
    adds one fails here."""
    picker = set(LABEL.findall((DCC / "async-datepicker.js").read_text(encoding="utf-8")))
    number_input = set(LABEL.findall((DCC / "dash_core_components.js").read_text(encoding="utf-8")))
    assert picker == {"Clear Dates", "Clear date", "Close calendar", "Next month", "Previous month"}
    assert number_input == {"Decrease value", "Increase value"}
    assert set(COMPONENT_LABELS) == picker | number_input
    # The locale the picker reads (it would fall back to another one than the page's, see
    # assets/lsDatePicker.js).
    assert "window.dateFns" in (DCC / "async-datepicker.js").read_text(encoding="utf-8")


def _labels(layout: dict) -> dict[str, str]:
    """The data-labels of the layout's #ls-component-labels element."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props", {})
            if isinstance(props, dict) and props.get("id") == "ls-component-labels":
                found.append(json.loads(props["data-labels"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(layout)
    assert len(found) == 1, "the layout has no #ls-component-labels (or more than one)"
    return found[0]


def test_dpl002_every_page_layout_carries_the_labels_in_the_users_language(dash_app, factory):
    factory.user("ann", email="ann@example.org", roles=("statistics_manager",)).language = "fr"
    factory.user("bob", email="bob@example.org", roles=("statistics_manager",)).language = "en"
    factory.s.commit()
    french, english = dash_app.server.test_client(), dash_app.server.test_client()
    assert sign_in(french, "ann@example.org").status_code == 302
    assert sign_in(english, "bob@example.org").status_code == 302
    assert _labels(french.get("/_dash-layout").get_json()) == {
        "Clear Dates": "Effacer les dates",
        "Clear date": "Effacer la date",
        "Close calendar": "Fermer le calendrier",
        "Decrease value": "Diminuer la valeur",
        "Increase value": "Augmenter la valeur",
        "Next month": "Mois suivant",
        "Previous month": "Mois précédent",
        # dash-bootstrap-components' dialogs' close button and pagination (dashboards/components/texts.py)
        "Close": "Fermer",
        "(current)": "(page actuelle)",
        "More": "Plus",
    }
    assert _labels(english.get("/_dash-layout").get_json()) == {text: text for text in ALL_LABELS}


def test_dpl003_the_french_locale_is_served_before_the_script_that_chooses(dash_app, factory):
    """Dash serves assets/ in name order: date-fns-locale-fr.min.js must come before
    lsDatePicker.js, which keeps only the page's language in window.dateFns.locale."""
    factory.user("ann", email="ann@example.org", roles=("statistics_manager",)).language = "fr"
    factory.s.commit()
    client = dash_app.server.test_client()
    assert sign_in(client, "ann@example.org").status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="fr">' in page
    locale_at = page.index("/assets/date-fns-locale-fr.min.js")
    chooser_at = page.index("/assets/lsDatePicker.js")
    assert locale_at < chooser_at
    vendored = (ASSETS / "date-fns-locale-fr.min.js").read_text(encoding="utf-8")
    assert "{fr:" in vendored and "window.dateFns=" in vendored and "//# sourceMappingURL" not in vendored
    assert "MIT License" in (ASSETS / "date-fns.LICENSE.txt").read_text(encoding="utf-8")
    # Served as UTF-8 ("décembre", "août").
    response = client.get("/assets/date-fns-locale-fr.min.js")
    assert response.status_code == 200 and "charset=utf-8" in response.headers["Content-Type"]
    assert "déc." in response.get_data(as_text=True)
