"""The layers point one way: ingest and service import ragkit; ragkit's library imports neither.

Only the two composition roots may reach up, and they do it lazily: `ragkit/cli/` (mounts every
command) and the facade `ragkit/collection.py` (`Collection.ingest` runs ingest's pipeline).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPOSITION_ROOTS = ("ragkit/cli/", "ragkit/collection.py")


def imports(path: Path, *, top_level_only: bool = False) -> list[tuple[int, str]]:
    """(line, module) of each import in a file; with `top_level_only`, those run at import time."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_ragkit_library_imports_neither_ingest_nor_service():
    offenders = []
    for path in sorted((ROOT / "ragkit").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(COMPOSITION_ROOTS):
            continue
        for line, module in imports(path):
            if module.split(".")[0] in ("ingest", "service"):
                offenders.append(f"{rel}:{line} imports {module}")
    assert offenders == [], "ragkit's library must not import ingest or service:\n" + "\n".join(offenders)


def test_composition_roots_reach_up_only_lazily():
    eager = []
    for path in sorted((ROOT / "ragkit").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(COMPOSITION_ROOTS):
            eager += [f"{rel}:{line} imports {m}" for line, m in imports(path, top_level_only=True) if m.split(".")[0] in ("ingest", "service")]
    assert eager == []


def test_ingest_does_not_import_service():
    offenders = [
        f"{p.relative_to(ROOT)}:{line} imports {m}" for p in sorted((ROOT / "ingest").rglob("*.py")) for line, m in imports(p) if m.split(".")[0] == "service"
    ]
    assert offenders == []


def test_no_import_cycles_at_import_time():
    packages = ("ragkit", "ingest", "service")
    graph: dict[str, set[str]] = {}
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            graph[module_name(path)] = {m for _, m in imports(path, top_level_only=True) if m.split(".")[0] in packages}
    known = set(graph)
    for deps in graph.values():  # `from ragkit.x import y` where y is a name: the edge goes to ragkit.x
        deps.intersection_update(known)
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph[node]):
            if dep == node or dep.startswith(node + "."):  # a package importing its own submodules
                continue
            if state.get(dep) == "open":
                cycles.append(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)
