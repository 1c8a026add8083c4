"""Issue 12 point 1: French and English through Flask-Babel's catalogues, chosen by the user
(saved), else the browser's language, else LEARNSTATS_LANGUAGE (default fr)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask_babel import force_locale

from data.models import User
from exports import formatting as fmt
from exports.formatting import use_language
from tests.conftest import sign_in
from tests.helpers import served_page, signed_in
from tests.integration.dashboards.test_pages import world  # noqa: F401 - the pages' test world (fixture)

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "translations"


def layout_text(client, **headers) -> str:
    """The shell's layout as the browser gets it, as readable text."""
    return json.dumps(client.get("/_dash-layout", headers=headers).get_json(), ensure_ascii=False)


def csrf(page_text: str) -> str:
    return page_text.split('name="csrf_token" value="')[1].split('"')[0]


def test_lng001_sign_in_page_follows_the_browser_then_the_default(make_app):
    app = make_app(language="fr")
    client = app.server.test_client()
    french = client.get("/login").get_data(as_text=True)  # no Accept-Language: the default
    assert '<html lang="fr">' in french and "Se connecter" in french and "Mot de passe" in french
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "Sign in to your learning statistics." in english
    # A language Learnstats does not speak: the default.
    german = client.get("/login", headers={"Accept-Language": "de-DE"}).get_data(as_text=True)
    assert "Se connecter" in german
    english_default = make_app(language="en").server.test_client().get("/login").get_data(as_text=True)
    assert "Password" in english_default


def test_lng002_the_choice_is_kept_before_and_after_signing_in(dash_app, factory):
    factory.user("ann", email="ann@example.org")
    factory.s.commit()
    client = dash_app.server.test_client()
    page = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    # Before signing in: a cookie keeps the choice.
    response = client.post("/language", data={"language": "fr", "next": "/login", "csrf_token": csrf(page)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert "Mot de passe" in client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    # Signed in, the choice is saved on the user: another browser (no cookie) gets it too.
    assert sign_in(client, "ann@example.org").status_code == 302
    layout = layout_text(client, **{"Accept-Language": "fr"})
    assert "Se déconnecter" in layout
    token = client.get("/logout").get_data(as_text=True)
    response = client.post("/language", data={"language": "en", "next": "/me", "csrf_token": csrf(token)})
    assert response.headers["Location"].endswith("/me")
    with dash_app.server.extensions["learnstats_db"].session() as s:
        assert s.get(User, "ann").language == "en"
    other = dash_app.server.test_client()
    assert sign_in(other, "ann@example.org").status_code == 302
    layout = layout_text(other, **{"Accept-Language": "fr"})
    assert "Sign out" in layout and "Se déconnecter" not in layout
    # A forged form (no token), an unknown language or a foreign next are refused quietly.
    assert other.post("/language", data={"language": "fr", "next": "/"}).status_code == 302
    with dash_app.server.extensions["learnstats_db"].session() as s:
        assert s.get(User, "ann").language == "en"
    response = client.post(
        "/language", data={"language": "fr", "next": "//evil.example/", "csrf_token": csrf(token)}
    )
    assert response.headers["Location"] == "/"


def test_lng003_french_number_and_date_formats(dash_app):
    server = dash_app.server
    with server.test_request_context("/", headers={"Accept-Language": "fr"}):
        assert fmt.current_language() == "fr"
        assert fmt.fmt_pct(12345.64) == "12\u202f345,6\u00a0%"
        assert fmt.fmt_int(12345) == "12\u202f345"
        assert fmt.fmt_date(date(2026, 11, 13)) == "13 nov. 2026"
        assert fmt.fmt_datetime(datetime(2026, 11, 13, 9, 5)) == "13 nov. 2026 09:05"
        assert fmt.fmt_bucket(date(2026, 11, 9), "week") == "Semaine du 9 nov. 2026"
        assert fmt.fmt_bucket(date(2026, 11, 1), "month") == "novembre 2026"
        assert fmt.format_value(True) == "Oui"
        assert fmt.csv_dialect() == (";", ",")
    with server.test_request_context("/", headers={"Accept-Language": "en"}):
        assert fmt.fmt_pct(12345.64) == "12\u202f345.6\u00a0%"
        assert fmt.fmt_date(date(2026, 11, 13)) == "13/11/2026"
        assert fmt.fmt_bucket(date(2026, 11, 9), "week") == "Week of 09/11/2026"
        assert fmt.format_value(True) == "Yes"
        assert fmt.csv_dialect() == (",", ".")


# -- the catalogues ----------------------------------------------------------------------------


def _catalog(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=language)


def test_lng010_every_text_of_the_sources_is_in_the_french_catalogue(tmp_path):
    """The texts marked in the sources (gettext, ngettext, N_) are all in the catalogues, and
    translated in French: a new text without its translation fails here."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "N_", "-k", "_l",
         "--no-location", "--omit-header", "--ignore-dirs", ".venv .venv-ralph tests instance scripts", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with open(pot, "rb") as f:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    french = {m.id if isinstance(m.id, str) else m.id[0]: m for m in _catalog("fr") if m.id}
    english = {m.id if isinstance(m.id, str) else m.id[0] for m in _catalog("en") if m.id}
    assert sorted(wanted - set(french)) == [], (
        "texts missing from the French catalogue: run make translations"
    )
    assert sorted(wanted - english) == [], "texts missing from the English catalogue: run make translations"
    untranslated = [
        key
        for key in wanted
        if not (french[key].string if isinstance(french[key].string, str) else all(french[key].string))
        or french[key].fuzzy
    ]
    assert sorted(untranslated) == [], "texts without a French translation"


def test_lng013_one_french_word_for_playing_a_session():
    """Issue 21: the sessions list's column and the session page's card name the same thing
    with one verb ("suivre"), not "Ont joué" beside "Apprenants ayant suivi"."""
    french = _catalog("fr")
    assert french.get("Played").string == "Ont suivi"
    assert french.get("Learners who played").string == "Apprenants ayant suivi"
    assert "suivie" in french.get("in the session, of those who played").string
    screen_ids = ("Played", "Learners who played", "in the session, of those who played")
    assert not any("jou" in french.get(msgid).string for msgid in screen_ids)


def test_lng011_compiled_catalogues_match_their_sources():
    """The committed .mo files (read by the app, so `make run` needs no build step) are the
    compilation of the .po files: editing a .po without `make translations` fails here."""
    for language in ("fr", "en"):

        def key(value):
            return tuple(value) if isinstance(value, (list, tuple)) else value

        source = {
            key(m.id): key(m.string)
            for m in _catalog(language)
            if m.id and (m.string if isinstance(m.string, str) else any(m.string)) and not m.fuzzy
        }
        with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo", "rb") as f:
            compiled = {key(m.id): key(m.string) for m in read_mo(f) if m.id}
        stale = {k: v for k, v in source.items() if compiled.get(k) != v}
        assert stale == {}, f"translations/{language}: run make translations"


@pytest.mark.parametrize("language", ["fr", "en"])
def test_lng012_babel_reads_the_catalogues(make_app, language):
    app = make_app(language=language)
    with app.server.test_request_context("/"):
        from flask_babel import gettext

        assert gettext("Sign out") == {"fr": "Se déconnecter", "en": "Sign out"}[language]


# -- pages in French: every text shown is a catalogue text, data, or a number / date ---------

# What a page may show that is not a catalogue text: numbers, percentages, durations, dates
# (French formats), times, dashes, ids.
NON_TEXT = re.compile(
    r"[\s\d–—\-+±.,:/%()▲▼−\u202f\u00a0·…]*"
    r"|[\d\u202f]+(,\d+)?\u00a0%"
    r"|([\d\u202f]+ h )?\d+ min"
    r"|#|CSV|XLSX|PDF"
    r"|(Semaine du )?\d{1,2} (janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc)\.? \d{4}( \d\d:\d\d)?"
)
TEXT_PROPS = ("children", "label", "placeholder", "title", "headerName", "aria-label", "noRowsToShow")


# A chart's "View as table" is one Markdown pipe table (dashboards/components/chart_cards.py):
# its header and each cell are checked one by one.
PIPE_TABLE = re.compile(r"\| .* \|\n\| (---:?|:?---)")


def pipe_table_cells(table: str) -> list[str]:
    cells = []
    for number, line in enumerate(table.split("\n")):
        if number == 1:  # the alignment row
            continue
        # Cells are split on " | " not preceded by a backslash; escapes are undone.
        cells += [re.sub(r"\\(.)", r"\1", c) for c in re.split(r"(?<!\\) \| ", line.strip()[2:-2])]
    return cells


def shown_texts(node, found=None) -> list[str]:
    """Every text a component tree shows (Plotly figures aside: their labels are data)."""
    found = [] if found is None else found
    if isinstance(node, str) and PIPE_TABLE.match(node):
        found.extend(pipe_table_cells(node))
    elif isinstance(node, str):
        found.append(node)
    elif isinstance(node, (list, tuple)):
        for item in node:
            shown_texts(item, found)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "getLocaleText":  # {"function": "lsGridLocaleText(params, {...})"}
                own = re.fullmatch(r"lsGridLocaleText\(params, (\{.*\})\)", value["function"], re.S)
                shown_texts(json.loads(own.group(1)), found)
            elif key in TEXT_PROPS or key in ("options", "columnDefs", "localeText", "dashGridOptions"):
                shown_texts(value, found)
    elif hasattr(node, "to_plotly_json"):
        props = node.to_plotly_json()["props"]
        for key in (*TEXT_PROPS, "options", "columnDefs", "dashGridOptions"):
            if key in props and props[key] is not None:
                shown_texts(props[key], found)
        for key in ("start_date_placeholder_text", "end_date_placeholder_text"):
            if props.get(key):
                found.append(props[key])
    return found


def french_patterns() -> list[re.Pattern]:
    patterns = []
    for message in _catalog("fr"):
        if not message.id:
            continue
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for text in strings:
            if text:
                body = re.sub(r"%\\\(\w+\\\)[sd]", ".+?", re.escape(text))
                patterns.append(re.compile(body, re.S))
    return patterns


def untranslated(texts: list[str], data: set[str]) -> list[str]:
    patterns = french_patterns()
    left = []
    for text in texts:
        text = text.strip()
        if not text or text in data or NON_TEXT.fullmatch(text) or text == "Learnstats":
            continue
        if text in ("FR", "EN", "Français", "English", "FR (Français)", "EN (English)"):
            continue  # each language's name, in that language
        if any(p.fullmatch(text) or p.fullmatch(text[0].lower() + text[1:]) for p in patterns):
            continue
        left.append(text)
    return sorted(set(left))


def world_texts(server) -> set[str]:
    """The test world's own words (names, emails, trainings...): data, not interface."""
    from data import models as m

    found = set()
    with server.extensions["learnstats_db"].session() as s:
        for model, columns in (
            (m.User, ("first_name", "last_name", "email")),
            (m.Training, ("name",)),
            (m.Module, ("name",)),
            (m.Class, ("name",)),
        ):
            for row in s.query(model).all():
                values = [getattr(row, c, "") or "" for c in columns]
                found.update(values)
                if model is m.User:
                    found.add(f"{row.first_name} {row.last_name}".strip())
                    found.add(f"{row.last_name} {row.first_name}".strip())
    return found


def test_lng020_global_page_in_french_shows_only_catalogue_texts(world, server):  # noqa: F811
    """The overview page, its statistics and its trainings table rendered in French: each text
    shown is a French catalogue text (or data, a number or a date). A text left in English, or
    added without going through the catalogue, fails here."""
    overview = served_page("overview")
    with signed_in(server, "boss", "/?range=all_time"), use_language("fr"), force_locale("fr"):
        page = overview.layout(range="all_time")
        body = overview.update_overview("2026-01-01", "2026-06-30", "custom")
        trainings = overview.update_overview_trainings(True)
        shell = sys.modules["dashboards.components.shell"].shell_layout()
    texts = shown_texts([page, body, trainings, shell])
    assert "Vue d'ensemble" in texts and "Apprenants" in texts
    assert untranslated(texts, world_texts(server)) == []


def test_lng021_training_and_learner_pages_in_french_show_only_catalogue_texts(world, server):  # noqa: F811
    """The training page (statistics, content, learners' results and a learner's details) and
    the learner page (identity, trends, counters, activity, trainings) in French."""
    from dashboards.components import results
    from tests.integration.dashboards.test_pages import in_callback, t_alpha_params

    training = served_page("training")
    learner = served_page("learner")
    with signed_in(server, "boss", "/training/t-alpha"), use_language("fr"), force_locale("fr"):
        parts = [
            training.layout(training_id="t-alpha"),
            in_callback(
                training.update_training_page,
                "2026-01-01",
                "2026-06-30",
                training.ALL_CLASSES,
                "custom",
                "t-alpha",
            ),
            in_callback(
                results.update_results_table,
                None,
                "learner",
                "asc",
                1,
                t_alpha_params(),
                outputs_list=[{"id": {"type": "results-body", "table": "training"}}],
            ),
            results.learner_details("alice", "t-alpha"),
            learner.layout(user_id="alice"),
            learner.update_learner_page("2026-01-01", "2026-06-30", "custom", "alice"),
            learner.update_learner_trends(30, "alice"),
        ]
    texts = shown_texts(parts)
    assert "Contenu de la formation" in texts and "Identité" in texts
    assert untranslated(texts, world_texts(server)) == []


def test_lng004_charts_in_french(dash_app):
    """Chart axes and hovers: French month names (Plotly's locale, assets/plotlyLocaleFr.js),
    French axis titles and tick texts, a decimal comma."""
    import pandas as pd

    from dashboards.components.chart_cards import build_chart_body
    from dashboards.components.figures import make_donut_figure, make_timeseries_figure

    frame = pd.DataFrame({"bucket": pd.to_datetime(["2026-11-02", "2026-11-09"]), "n": [1.5, 2.0]})
    with dash_app.server.test_request_context("/"), use_language("fr"), force_locale("fr"):
        figure = make_timeseries_figure(frame, "bucket", [("n", "n")], kind="line", bucket="week")
        graph = build_chart_body("p", "c", figure)
    assert graph.config["locale"] == "fr"
    layout = figure.to_plotly_json()["layout"]
    assert layout["separators"].startswith(",")
    assert layout["xaxis"]["title"]["text"] == "Semaine (du lundi)"
    assert layout["xaxis"]["tickformat"] == "sem. du %d %b"
    script = (ROOT / "assets" / "plotlyLocaleFr.js").read_text(encoding="utf-8")
    assert '"nov."' in script and "PlotlyLocales" in script
    # Hovers as the interface writes: a space before the colon and before "%", a decimal comma.
    rates = pd.DataFrame({"bucket": frame["bucket"], "done": [3, 4], "rate": [12.5, 49.7]})
    with dash_app.server.test_request_context("/"), use_language("fr"), force_locale("fr"):
        bars = make_timeseries_figure(
            rates, "bucket", [("done", "Terminées")], kind="bar", bucket="week", secondary=("rate", "Taux")
        )
        donut = make_donut_figure(["Réussi", "Expiré"], [1, 3], "4")
    assert bars.data[0].hovertemplate == "Terminées : %{y:,.0f}<extra></extra>"
    assert bars.data[1].hovertemplate == "Taux : %{y:.1f}\u00a0%<extra></extra>"
    assert bars.layout.yaxis2.ticksuffix == "\u00a0%"
    assert list(donut.data[0].customdata) == [25.0, 75.0]
    assert "(%{customdata:.1f}\u00a0%)" in donut.data[0].hovertemplate
    assert donut.layout.separators.startswith(",")


def test_lng020_browser_tab_titles_and_sign_in_limits_follow_the_language(make_app):
    import dash

    from auth.limits import Refusal

    app = make_app(language="fr")
    pages = {page["path"]: page for page in dash.page_registry.values()}
    with app.server.test_request_context("/", headers={"Accept-Language": "fr-FR"}):
        assert pages["/"]["title"]() == "Vue d'ensemble · Learnstats"
        session_page = next(p for p in pages.values() if p["module"].endswith(".session"))
        assert session_page["title"](session_id="s1") == "Session · Learnstats"
        assert Refusal("account", 900).message == (
            "Trop de connexions échouées pour ce compte. Réessayez dans 15 minutes."
        )
        assert Refusal("address", 30).message.endswith("Réessayez dans 1 minute.")
    with app.server.test_request_context("/", headers={"Accept-Language": "en-GB"}):
        assert pages["/"]["title"]() == "Overview · Learnstats"
        assert Refusal("address", 120).message == (
            "Too many failed sign-ins from your network address. Try again in 2 minutes."
        )
