"""dashboards/access.py without an app: a page's one access declaration is required, and the
layout served is the page's layout behind it."""

from __future__ import annotations

import pytest
from dash import html

from dashboards.access import PageWithoutAccess, check_access, everyone, guard_pages


def _page(module: str, **entries) -> dict:
    return {"module": module, "path": "/" + module.rsplit(".", 1)[-1], **entries}


def _render(scope=None, **_query):
    return html.Div("the page", id="rendered")


def test_pac001_pages_without_access_are_all_named_and_nothing_is_guarded():
    registry = {
        "pages.zeta": _page("pages.zeta", layout=_render),
        "pages.open": _page("pages.open", layout=_render, access=everyone),
        "pages.alpha": _page("pages.alpha", layout=_render, access=None),
    }
    with pytest.raises(PageWithoutAccess) as refused:
        guard_pages(registry)
    assert str(refused.value).startswith(
        "Learnstats cannot start: pages.alpha, pages.zeta declare no access."
    )
    # All or nothing: the page that had its access was not touched either.
    assert registry["pages.open"]["layout"] is _render


def test_pac002_each_layout_is_put_behind_its_access_once():
    registry = {"pages.open": _page("pages.open", layout=_render, access=everyone)}
    guard_pages(registry)
    served = registry["pages.open"]["layout"]
    assert served is not _render and served.__wrapped__ is _render
    # Outside a request (Dash may call layouts to validate them) nothing of the page is drawn.
    assert served().children is None
    guard_pages(registry)  # create_app runs it once per app: never wrapped twice
    assert registry["pages.open"]["layout"] is served


def test_pac003_a_component_layout_is_guarded_too():
    registry = {"pages.static": _page("pages.static", layout=html.Div("static"), access=everyone)}
    guard_pages(registry)
    assert callable(registry["pages.static"]["layout"])
    assert registry["pages.static"]["layout"]().children is None


def test_pac004_a_page_without_access_is_refused_to_everyone():
    """check_access (the Flask guard's full page loads, the navbar) fails closed."""
    assert check_access(_page("pages.open", layout=_render), scope=None, variables={}) is False


def test_pac005_the_pages_folder_holds_pages_only_and_no_page_imports_another():
    """Dash imports every module of its pages folder as a page: each one registers itself with
    its access, and none imports another page (components and dialogs live beside the folder)."""
    import ast
    from pathlib import Path

    folder = Path(__file__).resolve().parents[3] / "dashboards" / "pages"
    modules = sorted(path for path in folder.glob("*.py") if path.name != "__init__.py")
    assert {path.stem for path in modules} >= {"overview", "training", "learner", "not_found_404"}
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        registrations = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "register_page"
        ]
        assert len(registrations) == 1, path.name
        assert "access" in {keyword.arg for keyword in registrations[0].keywords}, path.name
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        assert not {name for name in imported if name and name.startswith("dashboards.pages")}, path.name
    assert not [path.name for path in folder.iterdir() if path.is_dir() and path.name != "__pycache__"]
