"""The package graph, read from the sources with ast: layers run one way, no package reaches
into another's private modules or names, first-party modules import each other without cycles,
and library code holds no eval/exec and no pyplot (global state)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: A package may import itself and packages of strictly lower rank only.
RANKS = {
    "outputs": 0,
    "simulate": 1,
    "proofs": 2,
    "paper_repro": 2,
    "figures": 3,
    "reports": 4,
    "coupling": 5,
    "benchmarks": 6,
}
LIBRARY = ("outputs", "simulate", "proofs", "paper_repro", "figures", "reports")


def _module_name(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _sources():
    for package in RANKS:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, _module_name(path), ast.parse(path.read_text(), filename=str(path))


MODULES = {name: (package, tree) for package, name, tree in _sources()}


def _imports(tree):
    """(dotted target, line) for every import statement, module-level or inside a function;
    ``from a.b import c`` gives a.b.c when that is a first-party module, else a.b plus the
    imported name (to catch private names)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node.lineno


def _resolve(target):
    """The first-party module a dotted import names (longest existing prefix), or None."""
    parts = target.split(".")
    for k in range(len(parts), 0, -1):
        name = ".".join(parts[:k])
        if name in MODULES:
            return name
    return None


def _edges():
    for name, (package, tree) in MODULES.items():
        for target, line in _imports(tree):
            top = target.split(".")[0]
            if top in RANKS:
                yield name, package, target, top, line


def test_every_package_is_scanned():
    assert {package for package, _ in MODULES.values()} == set(RANKS)
    assert len(MODULES) > 40


def test_layers_run_one_way():
    upward = [
        f"{name}:{line} imports {target}"
        for name, package, target, top, line in _edges()
        if top != package and RANKS[top] >= RANKS[package]
    ]
    assert upward == []


def test_no_private_import_across_packages():
    private = [
        f"{name}:{line} imports {target}"
        for name, package, target, top, line in _edges()
        if top != package and any(part.startswith("_") for part in target.split(".")[1:])
    ]
    assert private == []


def test_first_party_modules_import_without_cycles():
    graph = {name: set() for name in MODULES}
    for name, _, target, _, _ in _edges():
        resolved = _resolve(target)
        if resolved is not None and resolved != name:
            graph[name].add(resolved)
    # a package's __init__ re-exports its submodules: an edge into a package stands for it
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


@pytest.mark.parametrize("package", LIBRARY)
def test_library_has_no_eval_exec_or_pyplot(package):
    found = []
    for name, (pkg, tree) in MODULES.items():
        if pkg != package:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("eval", "exec"):
                found.append(f"{name}:{node.lineno} calls {node.func.id}")
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "matplotlib.use":
                found.append(f"{name}:{node.lineno} calls matplotlib.use")
        for target, line in _imports(tree):
            if target.startswith("matplotlib.pyplot"):
                found.append(f"{name}:{line} imports pyplot (global figure state)")
    assert found == []


def test_the_checks_see_a_planted_violation():
    """The walker is not vacuous: an upward, a private and a cyclic import are all seen."""
    tree = ast.parse("from coupling.cli import main\nfrom simulate._kernels import BLOCK\n")
    targets = [t for t, _ in _imports(tree)]
    assert targets == ["coupling.cli.main", "simulate._kernels.BLOCK"]
    assert RANKS["coupling"] > RANKS["simulate"]
    assert _resolve("simulate._kernels.BLOCK") == "simulate._kernels"
