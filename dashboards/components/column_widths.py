"""How wide a table column must be to show its header and its longest cell without clipping.

AG Grid measures nothing before it draws; the tables are built on the server with their rows,
so each column gets a `minWidth` estimated from its texts (its longest cell, its header's
longest word: headers wrap) and a `flex` share of the room left. A table whose
columns need more than the card's width scrolls sideways inside its card; the page never does.

The estimate uses DejaVu Sans's glyph widths, the widest of the usual system fonts (the
grids use the system's sans-serif), so that no cell is cut where the screen has room.
"""

from __future__ import annotations

from collections.abc import Iterable

FONT_PX = 13  # the grids' type (GRID_THEME)
HEADER_FONT_PX = 12  # semi-bold
CELL_PADDING_PX = 18  # the cell's padding, 2 x 7.4 px (GRID_THEME), and rounding
HEADER_EXTRA_PX = 28  # padding, the resize handle, room for most of a sort arrow
MIN_COLUMN_PX = 72
MAX_COLUMN_PX = 420  # longer texts are cut with "…" and shown whole in a tooltip

# Advance widths in em of DejaVu Sans (the widest usual system sans-serif, and the one Linux
# browsers fall back to), by groups of glyphs of about the same width (each group's widest).
_GLYPH_EM = {
    0.28: "ijlìíîïIJÌÍÎÏ'",
    0.34: " ,.\xa0·’‘/:;\\|¦",
    0.41: "f-()[]tr!¡",
    0.53: '"*_`§¨¯°´¸–“”sz?¿ªº',
    0.58: "cçLFk",
    0.61: "vxyýÿPÞTYÝ",
    0.635: "o«»ðòóôõöøaàáâãäåeèéêëßEÈÉÊËhnuñùúûüSbdgpqþ",
    0.64: "$0123456789{}¢£¤¥µ¶€",
    0.66: "K",
    0.70: "AVÀÁÂÃÄÅXZBRCÇ",
    0.78: "UÙÚÛÜNÑHDGÐ&OQÒÓÔÕÖØ",
    0.84: "w#+<=>^~¬±×÷M",
    0.99: "%mÆæW",
    1.0: "@©®—…œ",
    1.07: "Œ",
}
_EM_OF = {char: em for em, chars in _GLYPH_EM.items() for char in chars}
OTHER_EM = 0.7  # any other character
BOLD = 1.12  # DejaVu Sans Bold against Book, on average


def text_px(text: str, bold: bool = False) -> float:
    """The estimated width of one line of text in the grid's cells (or, bold, its headers)."""
    em = sum(_EM_OF.get(char, OTHER_EM) for char in str(text))
    return em * (HEADER_FONT_PX * BOLD if bold else FONT_PX)


# The longest text of each kind, for a table whose rows are fetched later (server-side tables).
TYPICAL_TEXT = {
    "int": "1 234 567",
    "pct": "100.0 %",
    "score": "100.0 %",
    "duration": "1 234 h 59 min",
    "date": "30/12/2026",
    "datetime": "30/12/2026 23:59",
    None: "Firstname Lastname-Name",
    "text": "Firstname Lastname-Name",
}


def column_min_width(header: str, texts: Iterable[str] = ()) -> int:
    """Pixels for the longest of `texts` and for the header's longest word (headers wrap onto
    a second line rather than widen a column of short values), within MIN_COLUMN_PX ..
    MAX_COLUMN_PX."""
    body = max((text_px(t) for t in texts), default=0.0) + CELL_PADDING_PX
    words = str(header).split() or [""]
    head = max(text_px(w, bold=True) for w in words) + HEADER_EXTRA_PX
    return int(min(max(round(max(body, head)), MIN_COLUMN_PX), MAX_COLUMN_PX))
