"""Cards (a row of figures), status badges and empty states.

Card id `<page>-card-<slug>`, its value `<page>-card-<slug>-value`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import dash_bootstrap_components as dbc
from dash import html

from auth.language import N_
from auth.language import gettext as _
from dashboards.components.figures import STATUS_COLORS as FIGURE_STATUS_COLORS
from exports.formatting import DASH, fmt_int, fmt_pct


def slugify(text: str) -> str:
    """'New users in range' -> 'new-users-in-range' (accents dropped)."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "item"


def signed_pct(pct: float) -> str:
    """A change in % with its sign, whole percents: "+12 %", "−3 %", "±0 %"."""
    text = fmt_pct(abs(pct), 0)
    if text == fmt_pct(0, 0):
        return "±" + text
    return ("+" if pct > 0 else "−") + text


def change_against(current: float, previous: float) -> tuple[str, str]:
    """The change of a figure against the previous period (SPEC §9): ("▲ +12 %", "up"),
    ("▼ −3 %", "down"), ("±0 %", "flat"); ("–", "none") when the previous value is 0. The
    learner page's trends show their percentages with the same signed_pct."""
    if not previous:
        return DASH, "none"
    pct = 100.0 * (current - previous) / previous
    text = signed_pct(pct)
    if text.startswith("±"):
        return text, "flat"
    return ("▲ " if pct > 0 else "▼ ") + text, "up" if pct > 0 else "down"


# The cards whose rise is bad news (SPEC §9's change against the previous period): their change
# shows red when the figure rises and green when it falls; every other card the other way round.
RISE_IS_BAD = frozenset({"At risk"})


def change_tone(modifier: str, rise_is_bad: bool) -> str:
    """The colour of a change: "good" (green), "bad" (red) or "" (flat, none) for its
    direction (change_against's "up" / "down") and whether a rise is bad news."""
    if modifier not in ("up", "down"):
        return ""
    return "bad" if (modifier == "up") == rise_is_bad else "good"


def card_body(page: str, label: str, value_text: str, help_text: str | None, change=None) -> list:
    """A card's contents: label, value, the change against the previous period (change:
    (current, previous) or None) and help. label and help are catalogue texts (English msgids,
    translated here). Ids `<page>-card-<slug>-value`, `-change`, `-help` (slug of the English
    label: the same in every language)."""
    slug = slugify(label)
    help_text = _(help_text) if help_text else help_text
    body = [
        html.Div(_(label), className="ls-card-label"),
        html.Div(value_text, className="ls-card-value", id=f"{page}-card-{slug}-value"),
    ]
    if change is not None:
        current, previous = change
        text, modifier = change_against(current, previous)
        tone = change_tone(modifier, label in RISE_IS_BAD)
        body.append(
            html.Div(
                text,
                className=f"ls-trend-change ls-card-change ls-trend-{modifier}"
                + (f" ls-trend-{tone}" if tone else ""),
                id=f"{page}-card-{slug}-change",
                title=_("previous period: %(value)s", value=fmt_int(previous)),
            )
        )
    if help_text:
        body.append(html.Div(help_text, className="ls-card-help", id=f"{page}-card-{slug}-help"))
    return body


def card_column(page: str, label: str, body) -> dbc.Col:
    """One card of a row (`<page>-card-<slug>`) around its contents."""
    return dbc.Col(
        dbc.Card(dbc.CardBody(body), className="ls-card", id=f"{page}-card-{slugify(label)}"),
        xs=12,
        sm=6,
        lg=True,
        className="ls-card-col",
    )


def build_cards(items: Sequence, page: str) -> dbc.Row:
    """A row of equal-height cards, one per (label, value_text, help_text or None) or (label,
    value_text, help_text, (current, previous)) (card_body), or a ready dbc.Col (a card whose
    contents come from a callback of its own): with the two numbers, the card shows the change
    against the previous period (change_against), green when it is good news and red when it
    is bad (a rise of a RISE_IS_BAD card is bad), its title saying what the previous value was.

    Card id `<page>-card-<slug(label)>`, its value `<page>-card-<slug>-value`, its change
    `<page>-card-<slug>-change`."""
    cols = []
    for item in items:
        if isinstance(item, dbc.Col):
            cols.append(item)
            continue
        label, value_text, help_text, *change = item
        body = card_body(page, label, value_text, help_text, change[0] if change else None)
        cols.append(card_column(page, label, body))
    return dbc.Row(cols, className="g-3 ls-cards align-items-stretch", id=f"{page}-cards")


def build_empty_state(sentence: str, id: str | dict | None = None) -> html.Div:
    """A sentence instead of an empty chart or table (issue 3 point 7)."""
    props = {"id": id} if id is not None else {}
    return html.Div(_(sentence) if isinstance(sentence, str) else sentence, className="ls-empty", **props)


# Badges follow the charts' status colours (dashboards/components/figures.py); the answer states of the
# module summary have their own. A badge's small bold text must contrast 4.5:1 with its colour
# (WCAG AA, checked by axe-core in tests/browser/test_accessibility.py): the greens, red and
# violet are darker than the charts'.
BADGE_COLORS = {
    **FIGURE_STATUS_COLORS,
    "completed": "#047857",
    "passed": "#047857",
    "failed": "#b91c1c",
    "expired": "#6d28d9",
    "awaiting grading": "#06b6d4",
    "partly correct": "#fbbf24",
    "not answered": "#e5e7eb",
}
DARK_TEXT = {"not started", "not answered", "in progress", "partly correct", "awaiting grading"}


# The statuses of SPEC §4 and of the module summary's answers, for the catalogue.
STATUS_LABELS = {
    "passed": N_("passed"),
    "failed": N_("failed"),
    "expired": N_("expired"),
    "in progress": N_("in progress"),
    "not started": N_("not started"),
    "completed": N_("completed"),
    "awaiting grading": N_("awaiting grading"),
    "partly correct": N_("partly correct"),
    "not answered": N_("not answered"),
}


def status_label(status: str) -> str:
    """A status in the interface's language ("passed" -> "réussi")."""
    return _(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def status_badge(status: str) -> dbc.Badge:
    """A status as a pill in the same colour as in the charts."""
    return dbc.Badge(
        status_label(status),
        color=BADGE_COLORS.get(status, "#9ca3af"),
        text_color="dark" if status in DARK_TEXT else None,
        className="ls-status",
        pill=True,
    )
