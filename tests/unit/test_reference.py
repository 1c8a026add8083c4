"""The test oracle (tests/reference.py) stays independent of what it checks: neither it nor any
project module it imports, however indirectly, imports the readers (data/figures), the summary
upkeep (data/summaries.py), the rules (data/rules.py) or the SQL helpers they share
(data/sql.py). Read from the sources' import statements (nothing is imported here)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
CHECKED = ("data.figures", "data.summaries", "data.rules", "data.sql")


def _source(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(module: str) -> set[str]:
    """The project modules a module's source imports (module-level or inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(_source(module).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if _source(name) is not None}


def loaded_by(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += sorted(_imports(name))
        # Importing a.b runs a/__init__.py too.
        parent = name.rpartition(".")[0]
        if parent and _source(parent) is not None:
            todo.append(parent)
    return seen


def test_the_reference_loads_nothing_it_checks():
    loaded = loaded_by("tests.reference")
    assert {"data.models", "data.scope", "data.text"} <= loaded  # the scan follows imports
    assert sorted(m for m in loaded if m.startswith(CHECKED)) == []


def test_the_scan_sees_an_indirect_import():
    # data/figures/cards.py imports data.summaries and, through data/figures/population.py, data.rules.
    loaded = loaded_by("data.figures.cards")
    assert {"data.summaries", "data.rules", "data.figures.population"} <= loaded
