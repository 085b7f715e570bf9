"""Print the import graph's cycles and every import made inside a function, with the reason its line gives.

    python scripts/import_graph.py            # exits 1 when there is a cycle or an import inside a function
                                              # without a reason
A function-level import is acceptable only for a heavy optional library; its line (or the one above) says so in a
comment. The graph is grimp's (the library behind import-linter): every import statement counts, wherever it is.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mutiroes", "workers", "cluster")


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def function_level_imports(paths: list[Path]) -> list[tuple[Path, int, str, str]]:
    """(file, line, statement, reason) of every import inside a function body."""
    found = []
    for path in paths:
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    line = lines[inner.lineno - 1]
                    above = lines[inner.lineno - 2].strip() if inner.lineno > 1 else ""
                    reason = line.partition("#")[2].strip() or (above[1:].strip() if above.startswith("#") else "")
                    found.append((path.relative_to(ROOT), inner.lineno, line.strip().partition("  #")[0], reason))
    return found


def main() -> int:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    found_cycles = cycles(graph)
    print(f"import cycles: {len(found_cycles)}")
    for component in found_cycles:
        print("  " + " <-> ".join(component))
    paths = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py")) if "versions" not in p.parts]
    paths += [ROOT / "wsgi.py", ROOT / "gunicorn.conf.py"]
    lazy = function_level_imports(paths)
    print(f"imports inside functions: {len(lazy)}")
    for path, line, statement, reason in lazy:
        print(f"  {path}:{line}: {statement}  ({reason or 'NO REASON GIVEN'})")
    return 1 if found_cycles or any(not reason for *_rest, reason in lazy) else 0


if __name__ == "__main__":
    raise SystemExit(main())
