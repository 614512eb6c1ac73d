"""The import graph keeps the architecture: no cycle, no upward import, packages at their layer.

events → rules → monitor. Inside monitor, from the ground up: the root
modules (settings, exceptions, version, clock, metrics); ``kafka``; ``state``
and ``delivery``; ``worker`` and ``http``; ``devtools``; ``cli``. A module
may import from its own package or a lower layer only, so the worker never
imports HTTP, and nothing below ``cli`` imports the dev tools. ``python -m
monitor`` (``__main__``) stands on top. Every import
counts, including those inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from tests.conftest import REPO

OURS = ("events", "rules", "monitor")
_MONITOR_LAYERS = {
    "kafka": 3,
    "state": 4,
    "delivery": 4,
    "worker": 5,
    "http": 5,
    "devtools": 6,
    "cli": 7,
    "__main__": 8,  # ``python -m monitor``: the command line itself
}

Graph = Mapping[str, set[str]]


def layer(module: str) -> tuple[int, str]:
    """(rank, group) of a module: it may import its own group or any lower rank."""
    parts = module.split(".")
    if parts[0] == "events":
        return 0, "events"
    if parts[0] == "rules":
        return 1, "rules"
    if len(parts) > 1 and parts[1] in _MONITOR_LAYERS:
        return _MONITOR_LAYERS[parts[1]], f"monitor.{parts[1]}"
    return 2, "monitor"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(name: str, known: set[str]) -> str | None:
    """The module an imported name lives in (``from monitor.http import views`` is the module ``views``)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    """Module → our modules it imports, read from the source with ``ast``."""
    files = {_module_name(p): p for package in OURS for p in (root / package).rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: Iterable[str] = ()
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                if name.split(".")[0] in OURS and (target := _resolve(name, known)) not in (None, module):
                    assert target is not None
                    targets.add(target)
        graph[module] = targets
    return graph


def upward_imports(graph: Graph) -> list[str]:
    """Every import of a module in another group at the same or a higher layer."""
    found = []
    for module, targets in sorted(graph.items()):
        rank, group = layer(module)
        for target in sorted(targets):
            target_rank, target_group = layer(target)
            if target_group != group and target_rank >= rank:
                found.append(f"{module} imports {target} ({target_group} is not below {group})")
    return found


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_tree_has_no_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 60  # the whole tree was read
    assert cycles(graph) == []


def test_the_tree_has_no_upward_import() -> None:
    assert upward_imports(import_graph()) == []


def test_the_worker_imports_neither_http_nor_devtools() -> None:
    graph = import_graph()
    below_cli = [
        m for m in graph if layer(m)[1] in ("monitor.worker", "monitor.state", "monitor.delivery", "monitor.http")
    ]
    assert below_cli
    assert not [(m, t) for m in below_cli for t in graph[m] if layer(t)[1] in ("monitor.devtools", "monitor.cli")]
    assert not [
        (m, t) for m in graph if layer(m)[1] == "monitor.worker" for t in graph[m] if t.startswith("monitor.http")
    ]


@pytest.mark.parametrize(
    ("graph", "upward", "loops"),
    [
        ({"monitor.worker.worker": {"monitor.http.routes"}, "monitor.http.routes": set()}, 1, 0),
        ({"rules.engine": {"monitor.metrics"}, "monitor.metrics": set()}, 1, 0),
        ({"monitor.state.store": {"monitor.delivery.feed"}, "monitor.delivery.feed": set()}, 1, 0),
        ({"monitor.kafka.topics": {"monitor.devtools.broker"}, "monitor.devtools.broker": set()}, 1, 0),
        ({"monitor.cli.run": {"monitor.worker.worker", "monitor.http.routes"}}, 0, 0),
        ({"monitor.worker.a": {"monitor.worker.b"}, "monitor.worker.b": {"monitor.worker.a"}}, 0, 1),
        ({"rules.a": {"rules.b"}, "rules.b": {"rules.c"}, "rules.c": {"rules.a"}}, 0, 1),
    ],
)
def test_the_checks_catch_what_they_forbid(graph: dict[str, set[str]], upward: int, loops: int) -> None:
    assert len(upward_imports(graph)) == upward
    assert len(cycles(graph)) == loops
