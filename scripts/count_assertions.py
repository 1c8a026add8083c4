"""Count the test suite's assertions statically: `python scripts/count_assertions.py [ROOT]`.

An assertion is an `assert` statement, a `pytest.raises(...)` / `pytest.warns(...)` call or a
`pytest.fail(...)` call, counted once where it is written (a loop's assert counts once). Test
modules (test_*.py) and the shared helpers they call (tests/*.py: worlds, helpers, services) are
counted apart, per folder, so a reorganisation can show that none was dropped (docs/testing.md).
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

PYTEST_CHECKS = {"raises", "warns", "fail", "deprecated_call"}


def count(source: str) -> Counter:
    found: Counter = Counter()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assert):
            found["assert"] += 1
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in PYTEST_CHECKS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "pytest"
        ):
            found[f"pytest.{node.func.attr}"] += 1
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            found["test functions"] += 1
    return found


def main(root: Path) -> int:
    tests = root / "tests"
    per_folder: dict[str, Counter] = {}
    for path in sorted(tests.rglob("*.py")):
        if "vendor" in path.parts or path.name.startswith("bench"):
            continue
        kind = "tests" if path.name.startswith("test_") else "helpers"
        folder = str(path.parent.relative_to(root))
        per_folder.setdefault(f"{kind:7} {folder}", Counter()).update(count(path.read_text()))
    total = {"tests": Counter(), "helpers": Counter()}
    columns = ("test functions", "assert", "pytest.raises", "pytest.warns", "pytest.fail")
    print(f"{'kind    folder':45} " + " ".join(f"{c:>14}" for c in columns))
    for key, counts in sorted(per_folder.items()):
        total[key.split()[0]].update(counts)
        print(f"{key:45} " + " ".join(f"{counts[c]:>14}" for c in columns))
    for kind, counts in total.items():
        checks = sum(v for k, v in counts.items() if k != "test functions")
        print(f"{kind}: {counts['test functions']} test functions, {checks} assertions ({dict(counts)})")
    grand = sum(v for c in total.values() for k, v in c.items() if k != "test functions")
    print(f"all assertions: {grand}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent))
