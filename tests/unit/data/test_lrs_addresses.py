"""data/lrs.py's pure parts: the endpoint given as the LRS's xAPI base or its Statements resource
names one resource (one cursor); addresses that cannot be one are refused with a sentence; the
cursor is the greatest `stored`, whatever the order of a page; skipped reasons add up."""

from __future__ import annotations

import pytest

from data.lrs import LrsSettingsError, latest_stored, merge_skipped, statements_url

RESOURCE = "http://127.0.0.1:8100/xAPI/statements"


@pytest.mark.parametrize(
    "given",
    [
        "http://127.0.0.1:8100/xAPI",
        "http://127.0.0.1:8100/xAPI/",
        "http://127.0.0.1:8100/xAPI/statements",
        "http://127.0.0.1:8100/xAPI/statements/",
        "  HTTP://127.0.0.1:8100/xAPI  ",
    ],
)
def test_lrsu001_base_or_resource_name_one_statements_resource(given):
    assert statements_url(given) == RESOURCE


def test_lrsu002_other_shapes():
    assert (
        statements_url("https://LRS.Example.org/data/xAPI") == "https://lrs.example.org/data/xAPI/statements"
    )
    assert statements_url("https://lrs.example.org") == "https://lrs.example.org/statements"


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("", "no LRS endpoint"),
        ("lrs.example.org/xAPI", "is not an LRS address"),
        ("ftp://lrs.example.org/xAPI", "is not an LRS address"),
        ("https://user:secret@lrs.example.org/xAPI", "holds a user name or password"),
        ("https://lrs.example.org/xAPI/statements?limit=10", "has a query or fragment"),
    ],
)
def test_lrsu003_refused_addresses_say_why(given, words):
    with pytest.raises(LrsSettingsError) as refused:
        statements_url(given)
    assert words in str(refused.value)
    assert "secret" not in str(refused.value)


def test_lrsu004_cursor_is_the_greatest_stored_of_an_unsorted_page():
    # Ralph's file backend answers each page newest first even with ascending=true.
    page = [
        {"id": "b", "stored": "2026-12-07T13:23:53.965566+00:00"},
        {"id": "a", "stored": "2026-12-07T13:23:53.965496+00:00"},
        {"id": "c", "stored": "2026-12-07T14:23:53.9+01:00"},  # 13:23:53.900 UTC: earlier
        {"id": "d"},  # no stored: ignored
        "not a statement",
    ]
    assert latest_stored(page, None) == "2026-12-07T13:23:53.965566+00:00"
    assert latest_stored(page, "2026-12-08T00:00:00Z") == "2026-12-08T00:00:00Z"
    assert latest_stored([], None) is None


def test_lrsu005_skipped_reasons_add_up_keeping_the_first_example():
    first = {"no course": {"count": 2, "example": "line 3: statement a"}}
    second = {
        "no course": {"count": 1, "example": "line 9: statement b"},
        "group actor": {"count": 1, "example": "line 10: statement c"},
    }
    assert merge_skipped(merge_skipped({}, first), second) == {
        "no course": {"count": 3, "example": "line 3: statement a"},
        "group actor": {"count": 1, "example": "line 10: statement c"},
    }
