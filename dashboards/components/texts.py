"""The texts the libraries' components write themselves, in the interface's language.

- dcc.Dropdown: its `labels` ("Search", "Select All", "{num_selected} selected"…): build
  dropdowns with `dropdown()`.
- The breadcrumb: Bootstrap's markup with a translated aria-label (dbc.Breadcrumb writes
  "breadcrumb" in English), `build_breadcrumb()`.
- Texts only the browser can reach (Dash's date pickers' aria-labels, Bootstrap's dialog close
  button and the pagination's screen-reader texts): the shell's layout carries their
  translations in a hidden element (`component_labels()`), and assets/lsDatePicker.js puts
  them in their place as the components appear.
"""

from __future__ import annotations

import json

from dash import dcc, html

from auth.language import N_
from auth.language import gettext as _
from dashboards.components.date_filter import COMPONENT_LABELS as DATE_PICKER_LABELS

# dash-bootstrap-components writes these in English: the dialogs' close button (aria-label),
# the pagination's active page and ellipsis (screen-reader texts).
BOOTSTRAP_LABELS = (N_("Close"), N_("(current)"), N_("More"))
COMPONENT_LABELS = (*DATE_PICKER_LABELS, *BOOTSTRAP_LABELS)

# dcc.Dropdown's labels, keyed as its `labels` prop; "{num_selected}" is filled in by Dash.
_DROPDOWN_LABELS = {
    "select_all": N_("Select All"),
    "deselect_all": N_("Deselect All"),
    "selected_count": N_("{num_selected} selected"),
    "search": N_("Search"),
    "clear_search": N_("Clear search"),
    "clear_selection": N_("Clear selection"),
    "no_options_found": N_("No options found"),
}


def component_labels() -> html.Div:
    """A hidden element of the shell's layout: data-labels = {the library's English text: its
    translation in the interface's language}, read by assets/lsDatePicker.js."""
    labels = {text: _(text) for text in COMPONENT_LABELS}
    return html.Div(
        id="ls-component-labels",
        hidden=True,
        **{"data-labels": json.dumps(labels, ensure_ascii=False, sort_keys=True)},
    )


def dropdown(**props) -> dcc.Dropdown:
    """A dcc.Dropdown whose own texts are in the interface's language."""
    return dcc.Dropdown(labels={key: _(text) for key, text in _DROPDOWN_LABELS.items()}, **props)


def build_breadcrumb(items: list[tuple[str, str | None]], nav_id: str | None = None) -> html.Nav:
    """Bootstrap's breadcrumb from (label, href or None): a link where there is somewhere to
    go, plain text elsewhere; the last item is the current page."""
    last = len(items) - 1
    entries = []
    for index, (label, href) in enumerate(items):
        current = index == last
        content = dcc.Link(label, href=href) if href and not current else label
        props = {"aria-current": "page"} if current else {}
        entries.append(
            html.Li(content, className="breadcrumb-item" + (" active" if current else ""), **props)
        )
    props = {"id": nav_id} if nav_id else {}
    return html.Nav(
        html.Ol(entries, className="breadcrumb"),
        className="mb-2",
        **props,
        **{"aria-label": _("breadcrumb")},
    )
