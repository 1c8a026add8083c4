"""Text folding for ordering and searching people as a French reader expects."""

from __future__ import annotations

import unicodedata

# A search reads at most SEARCH_MAX_CHARS characters of what was typed and keeps its first
# SEARCH_MAX_WORDS distinct words (issue 23): each word is one SQL condition, so an unbounded
# text (a pasted megabyte) made one query of tens of thousands of LIKEs that held a core for
# minutes. Nobody types more than a few words to find a person, a training or a session.
SEARCH_MAX_CHARS = 200
SEARCH_MAX_WORDS = 8

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


def search_words(text: object) -> list[str]:
    """The words a search looks for: folded (accents and case ignored), distinct, in the order
    typed, at most SEARCH_MAX_WORDS of them from the first SEARCH_MAX_CHARS characters, so that a
    search costs the same whatever the length of the text sent. Anything but a string (a forged
    callback) searches for nothing."""
    if not isinstance(text, str):
        return []
    words: list[str] = []
    for word in fold(text[:SEARCH_MAX_CHARS]).split():
        if word not in words:
            words.append(word)
            if len(words) == SEARCH_MAX_WORDS:
                break
    return words
