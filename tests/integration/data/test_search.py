"""The navbar search (data.search and its callbacks): learners, trainings and classes in the
viewer's scope, by name or email, case- and accent-insensitive; on SQLite and PostgreSQL."""

from __future__ import annotations

import sys

import pytest

from auth.roles import load_scope
from data.models import Training
from data.search import search
from tests.conftest import sign_in, sign_out
from tests.helpers import signed_in
from tests.learner_world import build_world, post_callback, response_props


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dash_app(request, make_app):
    if request.param == "postgres":
        return make_app(database_url=request.getfixturevalue("pg_migrated_db_url"))
    return make_app()


@pytest.fixture
def world(factory):
    return build_world(factory)


def found(factory, user_id: str, text: str, limit: int = 8) -> list[tuple[str, str]]:
    s = factory.s
    return [(r.kind, r.id) for r in search(s, load_scope(s, user_id), text, limit)]


def test_sea001_accent_and_case_insensitive_by_name_or_email(factory, world):
    assert found(factory, "stats", "LEA") == [("learner", "lea")]
    assert found(factory, "stats", "léa apprenante") == [("learner", "lea")]
    assert found(factory, "stats", "apprenante lea") == [("learner", "lea")]  # any word order
    assert found(factory, "stats", "lea@example") == [("learner", "lea")]
    assert found(factory, "stats", "oeuvray") == [("learner", "zoe")]  # Œ folds to oe
    assert found(factory, "stats", "ŒUVRAY Zoe") == [("learner", "zoe")]
    assert found(factory, "stats", "securite") == [("training", "T1")]
    assert found(factory, "stats", "SÉCU") == [("training", "T1")]
    assert found(factory, "stats", "oenologie") == [("training", "T4")]
    # "équipe": a training (Management d'équipe) and a class (Équipe commerciale).
    assert found(factory, "stats", "equipe") == [("training", "T3"), ("class", "C1")]
    assert found(factory, "stats", "") == []
    assert found(factory, "stats", "   ") == []
    assert found(factory, "stats", "%") == []  # LIKE wildcards are plain characters
    assert found(factory, "stats", "_") == []


def test_sea002_results_carry_label_and_page(factory, world):
    s = factory.s
    results = search(s, load_scope(s, "stats"), "e")
    by_kind = {(r.kind, r.id): r for r in results}
    lea = search(s, load_scope(s, "stats"), "lea")[0]
    assert tuple(lea) == ("learner", "lea", "Léa Apprenante", "/learner/lea")
    assert lea.detail == "lea@example.org"
    [t1] = search(s, load_scope(s, "stats"), "securite")
    assert tuple(t1) == ("training", "T1", "Sécurité au travail", "/training/T1")
    [c1] = search(s, load_scope(s, "stats"), "commerciale")
    assert tuple(c1) == ("class", "C1", "Équipe commerciale", "/class/C1")
    assert len(results) == 8 and {k for k, _ in by_kind} == {"learner", "training", "class"}


def test_sea003_class_manager_finds_only_their_class_and_its_members(factory, world):
    assert found(factory, "cm", "equipe") == [("class", "C1")]  # not T3: no training page for them
    assert found(factory, "cm", "support") == []  # C2 is not theirs
    assert found(factory, "cm", "martin") == [("learner", "bob")]
    assert found(factory, "cm", "lea") == [("learner", "lea")]
    assert found(factory, "cm", "zoe") == []  # not a member of C1
    assert found(factory, "cm", "securite") == []


def test_sea004_training_manager_finds_their_training_and_its_learners(factory, world):
    assert found(factory, "tm", "securite") == [("training", "T1")]
    assert found(factory, "tm", "management") == []
    assert found(factory, "tm", "lea") == [("learner", "lea")]
    assert found(factory, "tm", "bob") == [("learner", "bob")]
    assert found(factory, "tm", "zoe") == []
    assert found(factory, "tm", "direction") == []


def test_sea005_learner_finds_only_themself(factory, world):
    assert found(factory, "lea", "lea") == [("learner", "lea")]
    assert found(factory, "lea", "bob") == []
    assert found(factory, "lea", "securite") == []
    assert found(factory, "lea", "equipe") == []


def test_sea006_limit_is_shared_fairly_between_kinds(factory, world):
    for i in range(10):
        factory.training(f"TA{i}", f"Alpha training {i}")
        factory.user(f"ua{i}", first="Alpha", last=f"Person {i:02d}", email=f"alpha{i}@example.org")
    factory.klass("CA", "Alpha class")
    factory.s.commit()
    results = found(factory, "stats", "alpha")
    assert len(results) == 8
    kinds = [k for k, _ in results]
    # 10 trainings, 1 class, 10 learners: the class keeps its place, the others share the rest.
    assert kinds == ["training"] * 3 + ["class"] + ["learner"] * 4
    # Learners in people's order (last name), trainings in name order.
    assert [i for k, i in results if k == "learner"] == ["ua0", "ua1", "ua2", "ua3"]
    assert [i for k, i in results if k == "training"] == ["TA0", "TA1", "TA2"]
    assert len(found(factory, "stats", "alpha", limit=3)) == 3
    assert found(factory, "stats", "alpha", limit=0) == []


def test_sea007_suggestions_and_enter_through_the_callbacks(client, dash_app, world):
    sign_in(client, "cm@example.org")
    response = post_callback(
        client,
        dash_app,
        [("shell-search-results", "children"), ("shell-search-input", "value")],
        [("shell-search-input", "value", "équipe"), ("_pages_location", "pathname", "/")],
    )
    assert response.status_code == 200
    children = response_props(response, "shell-search-results")["children"]
    assert [c["props"]["href"] for c in children] == ["/class/C1"]
    assert "Class" in str(children) and "Équipe commerciale" in str(children)
    response = post_callback(
        client,
        dash_app,
        [("shell-search-results", "children"), ("shell-search-input", "value")],
        [("shell-search-input", "value", "zoe"), ("_pages_location", "pathname", "/")],
    )
    assert "Nothing in your scope matches “zoe”." in str(response_props(response, "shell-search-results"))
    response = post_callback(
        client,
        dash_app,
        [("shell-search-location", "href")],
        [("shell-search-input", "n_submit", 1)],
        [("shell-search-input", "value", "martin")],
    )
    assert response_props(response, "shell-search-location")["href"] == "/learner/bob"
    # Navigating clears the box (the pathname is what changed).
    response = post_callback(
        client,
        dash_app,
        [("shell-search-results", "children"), ("shell-search-input", "value")],
        [("_pages_location", "pathname", "/learner/bob"), ("shell-search-input", "value", "martin")],
    )
    assert response_props(response, "shell-search-input")["value"] == ""
    assert response_props(response, "shell-search-results")["children"] == []


def test_sea008_one_character_shows_nothing(server, factory, world):
    search_ui = sys.modules["dashboards.components.search"]
    with signed_in(server, "stats", session=factory.s):
        assert search_ui.build_suggestions("e", search_ui._results("e")) == []
        rows = search_ui.build_suggestions("ex", search_ui._results("ex"))
    assert 1 <= len(rows) <= 8


def test_sea009_a_megabyte_search_runs_eight_conditions_and_is_not_echoed(client, dash_app, factory, world):
    """Issue 23 point 1: the audit's 1 MB navbar search held a core for 13 minutes (one LIKE per
    word). Now at most SEARCH_MAX_WORDS words of the first SEARCH_MAX_CHARS characters are
    searched, and the answer does not send the text back."""
    from sqlalchemy import event

    from data.db import get_db
    from data.text import SEARCH_MAX_WORDS

    sign_in(client, "stats@example.org")
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with dash_app.server.app_context():
        engine = get_db().engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        text = " ".join(f"mot{i}" for i in range(150_000))  # ~1.2 MB
        response = post_callback(
            client,
            dash_app,
            [("shell-search-results", "children"), ("shell-search-input", "value")],
            [("shell-search-input", "value", text), ("_pages_location", "pathname", "/")],
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200
    assert len(response.data) < 5_000  # the message quotes at most 60 characters of the text
    assert "Nothing in your scope matches “mot0 mot1 mot2" in str(
        response_props(response, "shell-search-results")
    )
    likes = [s.upper().count(" LIKE ") for s in statements if "users" in s.lower()]
    assert likes and max(likes) == SEARCH_MAX_WORDS
    # Words past the eighth are not looked for: eight words in Léa's name and email, then one
    # that matches nobody, still find her; the same word first finds nobody.
    eight = "l e a p r n t o"
    assert ("learner", "lea") in found(factory, "stats", f"{eight} zzz")
    assert found(factory, "stats", f"zzz {eight}") == []


def _sessions(factory):
    t1, t3 = factory.s.get(Training, "T1"), factory.s.get(Training, "T3")
    factory.session(t1, "SP-1", name="Printemps sécurité", starts="2026-03-02 08:00", ends="2026-03-03 17:00")
    factory.session(
        t3, "SP-2", name="Printemps management", starts="2026-04-06 08:00", ends="2026-04-07 17:00"
    )
    factory.session(t1, "SP-3", name="Printemps rattrapage", starts=None, ends=None)
    factory.user(
        "inst", first="Inès", last="Prof", email="inst@example.org", roles=("session_instructor:SP-2",)
    )
    factory.s.commit()


def test_sea010_sessions_in_scope_are_found_by_name_or_id_latest_first(factory, world):
    """Issue 21: the search finds the sessions the viewer may open (every one for a global role,
    its trainings' for a training manager, its own for an instructor; none for a class manager
    or a learner), by name or id, accent-insensitive, the latest start first, undated last."""
    _sessions(factory)
    assert found(factory, "stats", "printemps") == [
        ("session", "SP-2"),
        ("session", "SP-1"),
        ("session", "SP-3"),
    ]
    assert found(factory, "stats", "PRINTEMPS SECURITE") == [("session", "SP-1")]
    assert found(factory, "stats", "sp-3") == [("session", "SP-3")]
    assert found(factory, "tm", "printemps") == [("session", "SP-1"), ("session", "SP-3")]
    assert found(factory, "inst", "printemps") == [("session", "SP-2")]
    assert found(factory, "cm", "printemps") == []
    assert found(factory, "lea", "printemps") == []
    s = factory.s
    [result] = search(s, load_scope(s, "stats"), "rattrapage")
    assert tuple(result) == ("session", "SP-3", "Printemps rattrapage", "/session/SP-3")
    assert result.detail == "Sécurité au travail"
    # Every session found opens for that viewer (the search offers nothing the page refuses).
    for user_id in ("stats", "tm", "inst"):
        scope = load_scope(s, user_id)
        assert all(scope.can_view_session(s, r.id) for r in search(s, scope, "printemps"))


def test_sea011_session_suggestions_through_the_callback(client, dash_app, factory, world):
    _sessions(factory)
    sign_in(client, "tm@example.org")
    response = post_callback(
        client,
        dash_app,
        [("shell-search-results", "children"), ("shell-search-input", "value")],
        [("shell-search-input", "value", "printemps"), ("_pages_location", "pathname", "/")],
    )
    children = response_props(response, "shell-search-results")["children"]
    assert [c["props"]["href"] for c in children] == ["/session/SP-1", "/session/SP-3"]
    assert "Session" in str(children) and "Sécurité au travail" in str(children)
    assert "management" not in str(children)
    # The box says what it finds: sessions for whoever may open some, not for a class manager.
    assert "Search learners, trainings, classes, sessions…" in str(client.get("/_dash-layout").get_json())
    sign_out(client)
    sign_in(client, "cm@example.org")
    layout = str(client.get("/_dash-layout").get_json())
    assert "Search learners, trainings, classes…" in layout and "sessions…" not in layout
