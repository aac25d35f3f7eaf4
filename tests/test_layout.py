"""The package's shape, checked from its source: no import cycle, no oversized module, no private
name reached across modules.

The import graph is built with ``ast`` from every ``import`` / ``from ... import`` statement in
``src/rlvr``, at module level *and* inside functions: an import deferred into a function to dodge a
cycle is still a cycle in the design (the two modules still need each other), so lazy imports count.
Imports under ``if TYPE_CHECKING:`` do not (they never run). An edge goes to the module named, or
for ``from pkg import name`` to ``pkg.name`` when that is a module; importing ``a.b`` is not counted
as an edge to package ``a`` (every module would then reach ``rlvr/__init__``, which re-exports the
core, and everything would be one cycle).

Known exceptions are listed by edge with the reason; each must still exist (a stale entry fails),
so whoever removes the cause removes the entry.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

MAX_LINES = 700

# (importer, imported): why the edge is allowed to close a cycle for now.
KNOWN_CYCLE_EDGES: dict[tuple[str, str], str] = {}

# module -> why it may exceed MAX_LINES for now.
KNOWN_LONG_MODULES: dict[str, str] = {}

# (importer, defining module, name): why a private name crosses modules for now.
KNOWN_PRIVATE_IMPORTS: dict[tuple[str, str, str], str] = {}


def module_files(src: Path = SRC) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package under ``src``."""
    out = {}
    for path in sorted((src / "rlvr").rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is one of our modules."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, skipping ``if TYPE_CHECKING:`` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node)


def _from_module(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the modules of the package it imports (anywhere in its body)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                targets = [_owner(alias.name, modules) for alias in node.names]
            else:
                base = _from_module(module, node, path.name == "__init__.py")
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else _owner(base, modules)
                    for alias in node.names
                ]
            graph[module].update(t for t in targets if t and t != module)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    nodes = sorted(set(graph) | {w for ws in graph.values() for w in ws})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(comp)
    return out


def test_the_cycle_finder_finds_a_hand_made_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert strongly_connected(graph) == [{"a", "b", "c"}]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_lazy_relative_and_submodule_imports(tmp_path):
    pkg = tmp_path / "rlvr"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from . import leaf\n")
    (pkg / "sub" / "leaf.py").write_text("def f():\n    from rlvr.top import x\n")
    (pkg / "top.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import rlvr.sub\nfrom rlvr.sub import leaf\n"
    )
    graph = import_graph(module_files(tmp_path))
    assert graph["rlvr.sub"] == {"rlvr.sub.leaf"}
    assert graph["rlvr.sub.leaf"] == {"rlvr.top"}  # lazy, inside a function: still an edge
    assert graph["rlvr.top"] == {"rlvr.sub.leaf"}  # TYPE_CHECKING import skipped
    assert strongly_connected(graph) == [{"rlvr.sub.leaf", "rlvr.top"}]


def test_no_import_cycle_in_the_package():
    graph = import_graph(module_files())
    for edge, why in KNOWN_CYCLE_EDGES.items():
        assert edge[1] in graph.get(edge[0], set()), f"stale known cycle edge {edge} ({why}): remove it"
        graph[edge[0]].discard(edge[1])
    cycles = strongly_connected(graph)
    described = [
        " , ".join(f"{a} -> {b}" for a in sorted(c) for b in sorted(graph[a] & c)) for c in cycles
    ]
    assert not cycles, "import cycles:\n" + "\n".join(described)


def test_no_module_over_the_size_limit():
    long = {}
    for module, path in module_files().items():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_LINES:
            long[module] = n
    for module in KNOWN_LONG_MODULES:
        assert module in long, f"{module} is within {MAX_LINES} lines now: remove it from KNOWN_LONG_MODULES"
    unexpected = {m: n for m, n in long.items() if m not in KNOWN_LONG_MODULES}
    assert not unexpected, f"modules over {MAX_LINES} lines: {unexpected}"


def private_imports(modules: dict[str, Path]) -> set[tuple[str, str, str]]:
    """(importer, module, name) for every ``_name`` of another module of the package that a module
    imports (``from m import _x``) or reaches through an imported module (``m._x``)."""
    found = set()
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        aliases: dict[str, str] = {}
        for node in _imports(tree):
            if isinstance(node, ast.ImportFrom):
                base = _from_module(module, node, path.name == "__init__.py")
                if _owner(base, modules) is None:
                    continue
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    if full in modules:
                        aliases[alias.asname or alias.name] = full
                    elif alias.name.startswith("_") and not alias.name.startswith("__") and base != module:
                        found.add((module, base, alias.name))
            else:
                for alias in node.names:
                    if alias.asname and _owner(alias.name, modules) == alias.name:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found.add((module, aliases[node.value.id], node.attr))
    return found


def test_no_private_name_crosses_modules():
    found = private_imports(module_files())
    stale = set(KNOWN_PRIVATE_IMPORTS) - found
    assert not stale, f"known private imports that are gone (remove them from the list): {sorted(stale)}"
    unexpected = found - set(KNOWN_PRIVATE_IMPORTS)
    assert not unexpected, "private names imported across modules (make them public or move them):\n" + "\n".join(
        f"{a} uses {m}.{n}" for a, m, n in sorted(unexpected)
    )


# Files that may still cite DESIGN.md (it is not in this repository): none.
KNOWN_DESIGN_CITATIONS: set[str] = set()


def test_docstrings_cite_no_file_outside_the_repository():
    """DESIGN.md lives beside the repository, not in it: a reader of the source cannot open it."""
    citing = {
        str(path.relative_to(SRC))
        for path in module_files().values()
        if "DESIGN.md" in path.read_text(encoding="utf-8")
    }
    stale = KNOWN_DESIGN_CITATIONS - citing
    assert not stale, f"no longer cite DESIGN.md (remove from the list): {sorted(stale)}"
    assert citing <= KNOWN_DESIGN_CITATIONS, f"cite DESIGN.md: {sorted(citing - KNOWN_DESIGN_CITATIONS)}"


def test_test_modules_have_unique_basenames():
    """The suite runs in pytest's default import mode, where two test files with one basename in
    different folders stop collection ("import file mismatch")."""
    tests = Path(__file__).resolve().parent
    seen: dict[str, Path] = {}
    clashes = []
    for path in sorted(tests.rglob("*.py")):
        if path.name == "conftest.py" or "__pycache__" in path.parts:
            continue
        if path.name in seen:
            clashes.append(f"{seen[path.name].relative_to(tests)} and {path.relative_to(tests)}")
        seen.setdefault(path.name, path)
    assert not clashes, "test modules sharing a basename: " + "; ".join(clashes)
