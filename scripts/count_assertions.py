"""Count the test suite's assertions statically.

    python scripts/count_assertions.py [ROOT]                 per folder, under ROOT/tests
    python scripts/count_assertions.py ROOT --compare OLD     and each test function of OLD's
                                                              suite: still there, with as many

An assertion is an `assert` statement, a `pytest.raises(...)` / `pytest.warns(...)` call or a
`pytest.fail(...)` call, counted once where it is written (a loop's assert counts once). Test
modules (test_*.py) and the shared helpers they call (worlds, helpers, services) are counted
apart, per folder, so that a reorganisation can show that none was dropped (docs/testing.md).
With --compare (OLD: another checkout, e.g. `git worktree add /tmp/old <commit>`), the test
functions are matched by name wherever their file went; the exit status is 1 when one is
missing or has fewer assertions.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter
from pathlib import Path

PYTEST_CHECKS = {"raises", "warns", "fail", "deprecated_call"}
COLUMNS = ("test functions", "assert", "pytest.raises", "pytest.warns", "pytest.fail")


def _check(node: ast.AST) -> str | None:
    if isinstance(node, ast.Assert):
        return "assert"
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in PYTEST_CHECKS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "pytest"
    ):
        return f"pytest.{node.func.attr}"
    return None


def _sources(root: Path):
    for path in sorted((root / "tests").rglob("*.py")):
        if "vendor" not in path.parts and not path.name.startswith("bench"):
            yield path


def count(source: str) -> Counter:
    found: Counter = Counter()
    for node in ast.walk(ast.parse(source)):
        kind = _check(node)
        if kind:
            found[kind] += 1
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            found["test functions"] += 1
    return found


def per_test_function(root: Path) -> dict[str, int]:
    """Assertions written inside each test function, by the function's name."""
    found: dict[str, int] = {}
    for path in _sources(root):
        if not path.name.startswith("test_"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                n = sum(1 for sub in ast.walk(node) if _check(sub))
                found[node.name] = found.get(node.name, 0) + n
    return found


def report(root: Path) -> None:
    per_folder: dict[str, Counter] = {}
    for path in _sources(root):
        kind = "tests" if path.name.startswith("test_") else "helpers"
        folder = str(path.parent.relative_to(root))
        per_folder.setdefault(f"{kind:7} {folder}", Counter()).update(count(path.read_text()))
    total = {"tests": Counter(), "helpers": Counter()}
    print(f"{'kind    folder':45} " + " ".join(f"{c:>14}" for c in COLUMNS))
    for key, counts in sorted(per_folder.items()):
        total[key.split()[0]].update(counts)
        print(f"{key:45} " + " ".join(f"{counts[c]:>14}" for c in COLUMNS))
    for kind, counts in total.items():
        checks = sum(v for k, v in counts.items() if k != "test functions")
        print(f"{kind}: {counts['test functions']} test functions, {checks} assertions ({dict(counts)})")
    grand = sum(v for c in total.values() for k, v in c.items() if k != "test functions")
    print(f"all assertions: {grand}")


def compare(root: Path, old: Path) -> int:
    before, after = per_test_function(old), per_test_function(root)
    lost = {name: (n, after.get(name)) for name, n in before.items() if after.get(name, -1) < n}
    kept = sum(after.get(name, 0) for name in before)
    print(
        f"{old}: {len(before)} test functions, {sum(before.values())} assertions in them; "
        f"here the same functions hold {kept}"
    )
    for name, (n, now) in sorted(lost.items()):
        print(f"  {name}: {n} before, {'missing' if now is None else now} now")
    return 1 if lost else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--compare", type=Path, metavar="OLD", help="another checkout to compare with")
    args = parser.parse_args(argv)
    report(args.root)
    return compare(args.root, args.compare) if args.compare else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
