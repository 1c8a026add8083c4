"""Issue 12 point 1, "a test fails when a string shown to users is not in the catalogue", for
the texts the server writes outside the pages' layouts: the reasons carried by the exceptions
users read (an export refused, a link refused, a bad attestation option), the error pages and
JSON errors, the dialogs' alerts and the background jobs' messages.

The sources are read (ast) rather than run: each such text must reach its sink through the
catalogue (_ / gettext / ngettext / N_), not as a plain literal or an f-string. The command
line's own messages are the exception, by decision (docs/decisions.md, "Two languages")."""

from __future__ import annotations

import ast
from pathlib import Path

from exports.attestation_options import AttestationOptions
from tests.conftest import sign_in
from tests.factories import Factory

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("auth", "dashboards", "exports")
# Operators' tools, in English by decision; auth/callback_checks.py answers malformed requests
# (no browser sends them) with the protocol's details.
LEFT_OUT = {"auth/cli.py", "exports/cli.py", "auth/callback_checks.py"}
CATALOGUE_CALLS = {"_", "gettext", "ngettext", "N_", "lazy_gettext", "_l"}
# Exceptions whose message a user reads (a page, a dialog, an error page or an email's job).
USER_ERRORS = {
    "AttestationError",
    "OpcoLogsError",
    "BadOpcoRequest",
    "UnknownSession",
    "UnknownField",
    "LinkExpired",
    "LinkInvalid",
    "LinkForOtherUser",
    "MailNotConfigured",
    "UntrustedHost",
    "Forbidden",
}
# Dash components (html., dbc., dcc.): their first argument (children) and these are shown.
SHOWN_PROPS = {"children", "title", "placeholder", "label", "header", "aria-label", "alt"}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _plain_text(node: ast.AST | None) -> bool:
    """A literal with words in it, or an f-string: a text that bypasses the catalogue."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(c.isalpha() for c in node.value) and node.value not in ("Learnstats", "CSV", "XLSX")
    if isinstance(node, ast.JoinedStr):
        return any(
            isinstance(part, ast.Constant) and any(c.isalpha() for c in str(part.value))
            for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return _plain_text(node.left) or _plain_text(node.right)
    return False


def _sources():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative not in LEFT_OUT:
                yield relative, ast.parse(path.read_text(encoding="utf-8"), filename=relative)


def _plain_constants(trees) -> set[str]:
    """Module-level names bound to a plain text (NAME = "…" rather than NAME = N_("…"))."""
    names = set()
    for tree in trees:
        for node in tree.body:
            if isinstance(node, ast.Assign) and _plain_text(node.value):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def plain_texts_shown() -> list[str]:
    found = []
    sources = list(_sources())
    constants = _plain_constants(tree for _, tree in sources)
    for relative, tree in sources:
        for node in ast.walk(tree):
            suspects: list[ast.AST] = []
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                if _name(node.exc.func) in USER_ERRORS:
                    suspects += node.exc.args[:1]
            elif isinstance(node, ast.Call):
                called = _name(node.func)
                if called == "error_response":
                    suspects += node.args[1:3]
                elif called == "jsonify":
                    suspects += [k.value for k in node.keywords if k.arg == "error"]
                elif isinstance(node.func, ast.Attribute) and _name(node.func.value) in (
                    "html",
                    "dbc",
                    "dcc",
                ):
                    suspects += node.args[:1] + [k.value for k in node.keywords if k.arg in SHOWN_PROPS]
            elif isinstance(node, ast.Dict):
                # A job's state: {"state": ..., "message": "..."} is shown in the dialog.
                suspects += [
                    v
                    for k, v in zip(node.keys, node.values, strict=True)
                    if isinstance(k, ast.Constant) and k.value == "message"
                ]
            for suspect in suspects:
                if _plain_text(suspect) or (isinstance(suspect, ast.Name) and suspect.id in constants):
                    found.append((relative, suspect.lineno, ast.unparse(suspect)[:90]))
    return [f"{relative}:{line}: {text}" for relative, line, text in sorted(found)]


def test_lng030_texts_the_server_writes_go_through_the_catalogue():
    assert plain_texts_shown() == []


def test_lng031_the_check_finds_a_plain_text(tmp_path, monkeypatch):
    """The check itself can fail: a raise with an f-string, an error page with a literal."""
    package = tmp_path / "exports"
    package.mkdir()
    (package / "bad.py").write_text(
        "def f(x):\n"
        "    if x:\n"
        "        raise OpcoLogsError(f'unknown session {x}')\n"
        "    return error_response(404, 'Not found', _('There is no such file.'))\n"
        "NOTHING = 'nothing matches'\n"
        "def h():\n"
        "    raise OpcoLogsError(NOTHING)\n",
        encoding="utf-8",
    )
    (package / "good.py").write_text(
        "def g(x):\n    raise OpcoLogsError(_('unknown session %(id)s', id=x))\n", encoding="utf-8"
    )
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGES"]), "PACKAGES", ("exports",))
    assert plain_texts_shown() == [
        "exports/bad.py:3: f'unknown session {x}'",
        "exports/bad.py:4: 'Not found'",
        "exports/bad.py:7: NOTHING",
    ]


def test_lng032_refusals_read_in_french(make_app):
    """The reasons reach a French user in French: a bad OPCO query, an altered emailed link,
    a callback after signing out (JSON), and the attestation options' checks."""
    app = make_app(language="fr")
    with app.server.extensions["learnstats_db"].session() as s:
        Factory(s).user("boss", email="boss@example.org", roles=("admin",))
        s.commit()
    client = app.server.test_client()
    anonymous = client.post("/_dash-update-component", json={})
    assert anonymous.status_code == 401 and anonymous.get_json() == {"error": "connectez-vous d'abord"}
    assert sign_in(client, "boss@example.org").status_code == 302
    bad_query = client.get("/download/opco-logs?from=2026-13-01", headers={"Accept": "application/json"})
    assert bad_query.status_code == 400
    assert bad_query.get_json() == {
        "error": "L'export n'a pas été fait : from : '2026-13-01' n'est pas une date (attendu AAAA-MM-JJ)."
    }
    altered = client.get("/exports/files/not-a-token", headers={"Accept": "application/json"})
    assert altered.status_code == 403
    assert altered.get_json()["error"].startswith(
        "Ce lien de téléchargement n'est pas valide : il a été modifié"
    )
    with app.server.test_request_context(headers={"Accept-Language": "fr"}):
        problems = AttestationOptions(siret="123", duration_hours=0).problems()
    assert problems[0] == "le nom de l'organisme de formation est obligatoire"
    assert "la durée déclarée doit être supérieure à 0 heure (saisie : 0 h 00)" in problems
    assert "SIRET 123 : un SIRET compte 14 chiffres" in problems


def test_lng033_the_command_line_speaks_english(make_app, tmp_path):
    """By decision the command line is English, even on a French platform: the exports
    layer's reasons it prints too (they are French in the browser: lng032)."""
    app = make_app(language="fr")
    runner = app.server.test_cli_runner()
    result = runner.invoke(
        args=["export-opco-logs", "--from", "2026-13-01", "--out", str(tmp_path / "logs.csv")]
    )
    assert result.exit_code == 1
    assert "from: '2026-13-01' is not a date (expected YYYY-MM-DD)" in result.output
    assert not (tmp_path / "logs.csv").exists()


def test_lng034_a_session_header_writes_its_moments_as_the_interface_does(make_app):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from flask_babel import force_locale

    from dashboards.pages.session import session_dates
    from data.models import ProgramSession
    from exports.formatting import use_language

    program = ProgramSession(starts_at=datetime(2026, 3, 1, 8, 0), ends_at=datetime(2026, 3, 31, 16, 0))
    paris = ZoneInfo("Europe/Paris")
    app = make_app()
    with app.server.test_request_context("/"), use_language("fr"), force_locale("fr"):
        assert session_dates(program, paris) == "1 mars 2026 09:00 → 31 mars 2026 18:00"
    with app.server.test_request_context("/"), use_language("en"), force_locale("en"):
        assert session_dates(program, paris) == "01/03/2026 09:00 → 31/03/2026 18:00"


def test_lng035_dropdowns_are_built_with_their_texts_translated():
    """dcc.Dropdown writes "Search", "Select All"… in English unless given `labels`: every
    dropdown is built by dashboards.components.texts.dropdown, which gives them."""
    raw = [
        f"{relative}:{node.lineno}"
        for relative, tree in _sources()
        if relative != "dashboards/components/texts.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _name(node.func) == "Dropdown"
    ]
    assert raw == []
