"""Checking a statement read from JSON with its repeated parts remembered (data/xapi/checking.py,
`validate`) gives exactly what ralph's whole BaseXapiStatement gives (issue 17 point 6).

The reference is `check(statement)` on the dict (raw None: always the whole model); the
subject is `check(statement, text)` on the same statement as JSON text (the import's path: the
parts already accepted are not checked again). Both must give the same Checked (row, user,
course, module, question, stored) or the same message, for ralph's own statements
(tests/data/xapi), the tests' builders, objects and actors of every kind, and altered copies of
all of them: each value anywhere in a statement (inside the remembered parts and outside them)
replaced by something empty, of another type, or not an IRI, a key removed, a key added --
always after the unaltered statements have filled the memory, so an altered statement whose
verb, object, actor and contextActivities are all remembered takes the lighter model.
"""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.xapi import checking
from tests.integration.data.xapi.statements import (
    ADL,
    COURSE,
    M1,
    Q1,
    agent,
    statement,
    voiding,
)

RALPH = Path(__file__).resolve().parents[3] / "data" / "xapi" / "ralph-fun-mooc-video.jsonl.gz"
REPLACEMENTS = (
    "",
    None,
    {},
    [],
    0,
    1.5,
    True,
    "not an iri",
    "x",
    {"x": 1},
    [{"id": "https://example.org/a"}],
    "2026-13-45T99:00:00Z",
    "mailto:nobody",
)
UNKNOWN_KEY = "learnstats-unknown"


def _ralph() -> list[dict]:
    with gzip.open(RALPH, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _built() -> list[dict]:
    """Statements of every shape the mapping reads, from the tests' builders and by hand."""
    question = {
        "description": {"en-US": "2 + 2?"},
        "correctResponsesPattern": ["4"],
        "interactionType": "fill-in",
    }
    out = [
        statement("c1", "registered", COURSE, "2026-03-01T08:00:00"),
        statement("m1", "launched", M1, "2026-03-01T08:01:00", registration="0b0c6d8e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"),
        statement("q1", "answered", Q1, "2026-03-01T08:02:00", kind="question", parent=M1, definition=question,
                  result={"score": {"raw": 3, "max": 4, "scaled": 0.75}, "response": "4", "success": True}),
        statement("q2", "answered", Q1, "2026-03-01T08:03:00", kind="question", result={"score": {"scaled": 0.5}}),
        statement("m2", "completed", M1, "2026-03-01T08:30:00", result={"duration": "PT29M", "completion": True}),
        statement("m3", "https://w3id.org/xapi/adl/verbs/logged-in", "https://lms.example.org/login",
                  "2026-03-01T07:59:00+01:00", course=None),
        statement("m4", "terminated", M1, "2026-03-01T08:31:00", who="bob", obj_name="Module one"),
        voiding("v1", statement("m2", "completed", M1, "2026-03-01T08:30:00")["id"], "2026-03-02T09:00:00"),
    ]  # fmt: skip
    account = {
        "objectType": "Agent",
        "name": "Zoé Roux",
        "account": {"homePage": "https://lms.example.org", "name": "u1"},
    }
    group = {"objectType": "Group", "name": "Team", "member": [agent("ann"), agent("bob")]}
    sub = {
        "objectType": "SubStatement",
        "actor": agent("cat"),
        "verb": {"id": ADL + "experienced"},
        "object": {"id": M1, "objectType": "Activity"},
    }
    out += [
        {**statement("a1", "experienced", M1, "2026-03-01T09:00:00"), "actor": account},
        {**statement("a2", "experienced", M1, "2026-03-01T09:00:00"), "actor": group},
        {**statement("a3", "experienced", M1, "2026-03-01T09:00:00"), "actor": {"openid": "https://id.example.org/ann"}},
        {**statement("a4", "experienced", M1, "2026-03-01T09:00:00"),
         "actor": {"mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}},
        {**statement("a5", "experienced", COURSE, "2026-03-01T09:00:00"), "object": sub},
        {**statement("a6", "experienced", M1, "2026-03-01T09:00:00"), "stored": "2026-03-01T09:00:01Z",
         "version": "1.0.3", "authority": agent("lms", None)},
        # context beside contextActivities: platform, revision, language, extensions, instructor
        {**statement("a7", "experienced", M1, "2026-03-01T09:00:00", registration="0b0c6d8e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"),
         "context": {"platform": "LMS", "revision": "2", "language": "fr-FR", "instructor": agent("teacher"),
                     "extensions": {"https://example.org/x": ""},
                     "contextActivities": {"parent": [{"id": M1}], "category": {"id": "https://w3id.org/xapi/cmi5/context/categories/cmi5"}}}},
        # a context without contextActivities, and none at all
        {**statement("a8", "experienced", M1, "2026-03-01T09:00:00"), "context": {"platform": "LMS"}},
        {k: v for k, v in statement("a9", "experienced", M1, "2026-03-01T09:00:00").items() if k != "context"},
    ]  # fmt: skip
    return out


def _paths(value, prefix=()) -> list[tuple]:
    """Every key path in a statement (dicts and lists)."""
    out = []
    if isinstance(value, dict):
        for key, inner in value.items():
            out.append((*prefix, key))
            out += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            out.append((*prefix, i))
            out += _paths(inner, (*prefix, i))
    return out


def _altered(statement: dict, path: tuple, how) -> dict:
    """A copy with the value at path replaced by how, removed ("remove"), or given an extra key
    ("add")."""
    out = copy.deepcopy(statement)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if how == "remove":
        del parent[last]
    elif how == "add":
        if isinstance(parent[last], dict):
            parent[last][UNKNOWN_KEY] = "x"
        else:
            parent[last] = [parent[last]]
    else:
        parent[last] = copy.deepcopy(how)
    return out


def _both(statement) -> tuple:
    """(whole model's result, remembered parts' result) for one statement."""
    text = json.dumps(statement, ensure_ascii=False, separators=(",", ":"))
    reference = checking.check(json.loads(text))  # a dict: the whole model, always
    subject = checking.check_text(1, text)[1]  # the import's path
    return reference, subject


CORPUS = _ralph() + _built()


@pytest.fixture(autouse=True)
def remembered():
    """Every statement of the corpus remembered (its parts), as after a big import's start:
    once per process (the memory is the process's; test_xcp005 puts it back as it found it)."""
    keys = [checking._part_keys(s) for s in CORPUS]
    if not all(
        key in checking._seen[part] for k in keys for part, key in zip(checking._PARTS, k, strict=True)
    ):
        for s in CORPUS:
            checking.check_text(1, json.dumps(s))
    yield


def test_xcp001_the_corpus_is_accepted_alike_and_remembered():
    for s in CORPUS:
        reference, subject = _both(s)
        assert isinstance(reference, checking.Checked), reference
        assert subject == reference
    assert all(checking._seen[part] for part in checking._PARTS)
    # the altered statements below must reach the lighter model, not only the whole one
    s = _ralph()[0]
    keys = checking._part_keys(s)
    assert all(key in checking._seen[part] for part, key in zip(checking._PARTS, keys, strict=True))


@pytest.mark.parametrize("index", range(0, len(CORPUS), 5))
def test_xcp002_every_value_of_a_statement_altered_gives_the_same_answer(index):
    """Exhaustive on a fifth of the corpus: every path × every replacement, removal, addition."""
    s = CORPUS[index]
    refused = 0
    for path in _paths(s):
        for how in (*REPLACEMENTS, "remove", "add"):
            altered = _altered(s, path, how)
            reference, subject = _both(altered)
            assert subject == reference, (path, how)
            refused += isinstance(reference, str)
    assert refused  # the alterations do reach invalid statements


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_xcp003_random_alterations_give_the_same_answer(data):
    """Any statement of the corpus, one to three alterations anywhere."""
    s = data.draw(st.sampled_from(CORPUS))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(s)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        how = data.draw(st.sampled_from((*REPLACEMENTS, "remove", "add")))
        s = _altered(s, path, how)
    reference, subject = _both(s)
    assert subject == reference


def test_xcp004_remembered_parts_in_a_combination_ralph_refuses():
    """Verb, object, actor and contextActivities all remembered from valid statements, but
    together with a context platform on a StatementRef object (ralph's cross-field rule), an
    empty value, a bad id or timestamp, an unknown top-level key: refused with ralph's message."""
    voided = _built()[7]
    assert isinstance(checking.check(copy.deepcopy(voided)), checking.Checked)
    cases = [
        {**voided, "context": {"platform": "LMS"}},
        {**voided, "context": {"revision": "2"}},
        {**voided, "id": "not-a-uuid"},
        {**voided, "timestamp": "yesterday"},
        {**voided, "result": {}},
        {**voided, "version": "2.0.0"},
        {**voided, UNKNOWN_KEY: 1},
    ]
    for case in cases:
        reference, subject = _both(case)
        assert isinstance(reference, str), case
        assert subject == reference


def test_xcp005_the_memory_is_forgotten_when_full_and_answers_stay_the_same(monkeypatch):
    monkeypatch.setattr(checking, "_SEEN_LIMIT", 2000)
    monkeypatch.setattr(checking, "_seen", {part: set() for part in checking._PARTS})
    monkeypatch.setattr(checking, "_seen_size", 0)
    for s in CORPUS:
        reference, subject = _both(s)
        assert subject == reference
        assert checking._seen_size <= 2000 + max(len(repr(v)) for v in s.values())
    assert checking._seen_size > 0 and sum(map(len, checking._seen.values())) < len(CORPUS)
    for s in CORPUS[:10]:
        for how in REPLACEMENTS:
            altered = _altered(s, ("timestamp",), how)
            reference, subject = _both(altered)
            assert subject == reference


def test_xcp006_a_context_platform_without_object_is_an_error_not_a_crash():
    """ralph's before validator reads values["object"] when the context gives a platform: a
    statement without object raised KeyError, which stopped the whole import."""
    s = {k: v for k, v in _built()[0].items() if k != "object"}
    s["context"] = {"platform": "LMS"}
    reference, subject = _both(s)
    assert reference == subject == "object: Field required"
