"""data.text.search_words: what every search box looks for (issue 23 point 1), bounded so that a
search costs the same whatever the length of the text sent."""

from __future__ import annotations

from data.text import SEARCH_MAX_CHARS, SEARCH_MAX_WORDS, search_words


def test_swd001_words_are_folded_distinct_and_in_the_order_typed():
    assert search_words("  Léa  APPRENANTE léa ") == ["lea", "apprenante"]
    assert search_words("Œuvray") == ["oeuvray"]
    assert search_words("") == [] and search_words("   ") == []


def test_swd002_at_most_eight_words_from_the_first_200_characters():
    assert (SEARCH_MAX_WORDS, SEARCH_MAX_CHARS) == (8, 200)
    many = " ".join(f"w{i}" for i in range(64_000))  # the audit's 64,000-word search
    assert search_words(many) == [f"w{i}" for i in range(8)]
    # Repeated words do not use up the eight places.
    assert search_words("a a a a a a a a a b c") == ["a", "b", "c"]
    # Only the first 200 characters are read: a word after them is not looked for.
    assert search_words("x" * 199 + " late") == ["x" * 199]
    assert search_words("x" * 195 + " late") == ["x" * 195, "late"]
    # A megabyte of one word is cut to 200 characters, not folded whole.
    assert search_words("é" * 1_000_000) == ["e" * 200]


def test_swd003_anything_but_text_searches_for_nothing():
    assert search_words(None) == []
    assert search_words(["lea"]) == []
    assert search_words({"a": 1}) == []
    assert search_words(42) == []
