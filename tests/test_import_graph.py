"""The import graph of the packages: no cycle between modules, and only the layering of DESIGN.md.

Every import counts: module level, inside functions and under `TYPE_CHECKING` alike, since a
cycle hidden behind a lazy import is still two modules that cannot be understood apart.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# DESIGN.md, Layout: core <- store <- chain <- api; core <- store <- iot_gateway; only chaintrace/
# imports everything. The device reference (firmware side) needs only core.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "store": {"core"},
    "chain": {"core", "store"},
    "iot_gateway": {"core", "store", "device"},
    "device": {"core"},
    "api": {"core", "store", "chain"},
    "chaintrace": {"core", "store", "chain", "iot_gateway", "device", "api"},
}
# Third-party packages a layer must not import (DESIGN.md: chain never imports FastAPI or paho;
# the gateway never talks to the chain).
FORBIDDEN_THIRD_PARTY: dict[str, set[str]] = {
    "core": {"sqlalchemy", "web3", "fastapi", "paho", "starlette"},
    "store": {"web3", "fastapi", "paho", "starlette"},
    "chain": {"fastapi", "paho", "starlette"},
    "iot_gateway": {"web3", "fastapi", "starlette"},
    "device": {"sqlalchemy", "web3", "fastapi", "starlette"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in ALLOWED:
        root = REPO / package
        if not root.is_dir():
            continue
        for path in root.rglob("*.py"):
            if "migrations" in path.parts:
                continue  # Alembic scripts import store by design and are loaded by Alembic
            found[_module_name(path)] = path
    return found


def _imports(name: str, path: Path) -> Iterator[str]:
    """Every module name `path` imports, relative imports resolved."""
    is_package = path.name == "__init__.py"
    package_parts = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            yield prefix
            for alias in node.names:
                yield f"{prefix}.{alias.name}"


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {target for target in _imports(name, path) if target in modules}
        targets.discard(name)
        # Importing a package's submodule runs the package's __init__ too, but that is not an edge
        # of design: the edge is to the module named.
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
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
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _is_package_init_edge(source: str, target: str) -> bool:
    """A package's __init__ re-exporting its own submodules is not a cycle of design."""
    return target.startswith(source + ".") or source.startswith(target + ".")


def test_the_graph_is_read() -> None:
    graph = _graph()
    assert "chain.follower" in graph
    assert "store.db" in graph["store.batches"] or any(
        target.startswith("store.") for target in graph["store.batches"]
    )


def test_no_import_cycle_between_modules() -> None:
    graph = _graph()
    pruned = {
        source: {target for target in targets if not _is_package_init_edge(source, target)}
        for source, targets in graph.items()
    }
    assert _cycles(pruned) == []


def test_imports_follow_the_layering_of_design() -> None:
    wrong = []
    for source, targets in _graph().items():
        layer = source.split(".")[0]
        for target in targets:
            target_layer = target.split(".")[0]
            if target_layer != layer and target_layer not in ALLOWED[layer]:
                wrong.append(f"{source} -> {target}")
    assert wrong == []


def test_no_layer_imports_what_design_keeps_out_of_it() -> None:
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        banned = FORBIDDEN_THIRD_PARTY.get(name.split(".")[0], set())
        for target in _imports(name, path):
            if target.split(".")[0] in banned:
                wrong.append(f"{name} -> {target}")
    assert sorted(set(wrong)) == []


def test_a_cycle_is_found() -> None:
    """The detector itself: a planted cycle and a planted chain."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
