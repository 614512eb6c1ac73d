"""The import graph keeps the architecture: no cycle, no upward import, packages at their layer.

events → rules → monitor. Inside rules, from the ground up: its root
(``exceptions``); ``state`` (what the engine keeps and writes); ``language``
(the rule kinds and the compiled pack, which assess state items);
``vietnamese`` and ``loading``; ``engine`` and ``review``; ``simulation``.
``loading`` reads packs with ``language`` alone, and ``review`` judges with
``language``, ``state``, ``units`` and ``vietnamese`` only. Code outside a subpackage
of rules imports it through its facade (its ``__init__``), never one of its
modules. Inside monitor, from the ground up: the root modules (settings,
exceptions, version, clock, metrics); ``kafka``; ``state`` and ``delivery``;
``worker`` and ``http``; ``devtools``; ``cli``. A module may import from its
own package or a lower layer only, so the worker never imports HTTP, and
nothing below ``cli`` imports the dev tools. ``python -m monitor``
(``__main__``) stands on top. Every import counts, including those inside
functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from tests.conftest import REPO

OURS = ("events", "rules", "monitor")
_RULES_LAYERS = {
    "units": 2,
    "state": 2,
    "language": 3,
    "vietnamese": 4,
    "loading": 4,
    "engine": 5,
    "review": 5,
    "simulation": 6,
}
#: Subpackages of rules that may import less than their layer allows: what of rules each may use.
_RULES_NARROW = {
    "rules.loading": {"rules", "rules.language", "rules.units"},
    "rules.review": {"rules", "rules.language", "rules.state", "rules.units", "rules.vietnamese"},
}
_MONITOR_ROOT = 7  # above every layer of rules
_MONITOR_LAYERS = {
    "kafka": 8,
    "publishers": 8,
    "viewers": 9,  # its tokens are kept as the publisher registry keeps them
    "state": 9,
    "delivery": 9,
    "worker": 10,
    "http": 10,
    "devtools": 11,
    "cli": 12,
    "__main__": 13,  # ``python -m monitor``: the command line itself
}

Graph = Mapping[str, set[str]]


def layer(module: str) -> tuple[int, str]:
    """(rank, group) of a module: it may import its own group or any lower rank."""
    parts = module.split(".")
    if parts[0] == "events":
        return 0, "events"
    if parts[0] == "rules":
        if len(parts) > 1 and parts[1] in _RULES_LAYERS:
            return _RULES_LAYERS[parts[1]], f"rules.{parts[1]}"
        return 1, "rules"
    if len(parts) > 1 and parts[1] in _MONITOR_LAYERS:
        return _MONITOR_LAYERS[parts[1]], f"monitor.{parts[1]}"
    return _MONITOR_ROOT, "monitor"


def facade(module: str) -> str | None:
    """The facade of the rules subpackage ``module`` is in (``rules.engine`` for ``rules.engine.evaluate``)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "rules" and len(parts) > 2 else None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _exported(path: Path) -> set[str]:
    """The names a module's ``__all__`` lists (what a facade re-exports)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return set(ast.literal_eval(value))
    return set()


def _resolve(name: str, known: set[str]) -> str | None:
    """The module an imported name lives in (``from monitor.http import views`` is the module ``views``)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    """Module → our modules it imports, read from the source with ``ast``."""
    files = {_module_name(p): p for package in OURS for p in (root / package).rglob("*.py")}
    known = set(files)
    exported = {module: _exported(path) for module, path in files.items()}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: Iterable[str] = ()
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # A name the package exports is the package's, even where a module has that name too
                # (``from rules.review import scorecard`` is the function, not the module).
                names = [
                    node.module if alias.name in exported.get(node.module, ()) else f"{node.module}.{alias.name}"
                    for alias in node.names
                ]
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


def narrow_imports(graph: Graph) -> list[str]:
    """Every import of another part of rules that ``_RULES_NARROW`` does not let its importer use."""
    found = []
    for module, targets in sorted(graph.items()):
        group = layer(module)[1]
        if group not in _RULES_NARROW:
            continue
        usable = _RULES_NARROW[group] | {group}
        for target in sorted(targets):
            target_group = layer(target)[1]
            if target_group.startswith("rules") and target_group not in usable:
                found.append(f"{module} imports {target} ({group} uses only {', '.join(sorted(_RULES_NARROW[group]))})")
    return found


def facade_bypasses(graph: Graph) -> list[str]:
    """Every import of a module inside a subpackage of rules from outside that subpackage, past its facade."""
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            way_in = facade(target)
            if way_in is not None and module != way_in and not module.startswith(f"{way_in}."):
                found.append(f"{module} imports {target}: import {way_in} instead")
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


def test_every_subpackage_of_rules_has_a_layer() -> None:
    found = {p.parent.name for p in (REPO / "rules").glob("*/__init__.py")}
    assert found == set(_RULES_LAYERS)


def test_loading_and_review_import_only_what_they_use() -> None:
    assert narrow_imports(import_graph()) == []


def test_code_outside_a_subpackage_of_rules_imports_its_facade() -> None:
    graph = import_graph()
    assert any(facade(t) for targets in graph.values() for t in targets)  # the subpackages were seen
    assert facade_bypasses(graph) == []


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
        ({"rules.state.units": {"rules.language"}, "rules.language": set()}, 1, 0),
        ({"rules.language.pack": {"rules.vietnamese"}, "rules.vietnamese": set()}, 1, 0),
        ({"rules.vietnamese.messages": {"rules.engine"}, "rules.engine": set()}, 1, 0),
        ({"rules.loading.loader": {"rules.vietnamese"}, "rules.vietnamese": set()}, 1, 0),
        ({"rules.review.scorecard": {"rules.engine"}, "rules.engine": set()}, 1, 0),
        ({"rules.engine.evaluate": {"rules.simulation"}, "rules.simulation": set()}, 1, 0),
        ({"rules.simulation.clock": {"rules.engine", "rules.loading", "rules.state", "rules.exceptions"}}, 0, 0),
        ({"rules.language.deadline": {"rules.state", "events.models"}}, 0, 0),
        ({"events.models": {"rules.state"}, "rules.state": set()}, 1, 0),
    ],
)
def test_the_checks_catch_what_they_forbid(graph: dict[str, set[str]], upward: int, loops: int) -> None:
    assert len(upward_imports(graph)) == upward
    assert len(cycles(graph)) == loops


@pytest.mark.parametrize(
    ("graph", "narrow"),
    [
        ({"rules.loading.loader": {"rules.language", "rules.exceptions", "rules.loading.sources"}}, 0),
        ({"rules.loading.loader": {"rules.state"}}, 1),
        ({"rules.review.scorecard": {"rules.language", "rules.state", "rules.vietnamese"}}, 0),
        ({"rules.review.scorecard": {"rules.loading"}}, 1),
    ],
)
def test_the_narrow_check_catches_what_it_forbids(graph: dict[str, set[str]], narrow: int) -> None:
    assert len(narrow_imports(graph)) == narrow


@pytest.mark.parametrize(
    ("graph", "bypasses"),
    [
        ({"monitor.worker.processor": {"rules.engine"}}, 0),
        ({"monitor.worker.processor": {"rules.engine.evaluate"}}, 1),
        ({"rules.simulation.clock": {"rules.engine.evaluate"}}, 1),
        ({"rules": {"rules.state.units"}}, 1),
        ({"rules.engine": {"rules.engine.evaluate"}}, 0),  # the facade itself
        ({"rules.language.deadline": {"rules.language.base", "rules.state"}}, 0),  # a sibling, another facade
    ],
)
def test_the_facade_check_catches_what_it_forbids(graph: dict[str, set[str]], bypasses: int) -> None:
    assert len(facade_bypasses(graph)) == bypasses
