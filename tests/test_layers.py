"""The package graph, read from the sources with ast: layers run one way, no package reaches
into another's private modules or names, first-party modules import each other without cycles,
and library code holds no eval/exec and no pyplot (global state)."""

import ast

import pytest
from layout import FOLDERS, ROOT

#: Each folder of the repository and the package it installs as, plus the tools (not installed).
FOLDERS = FOLDERS | {"benchmarks": "benchmarks"}
#: A package may import itself and packages of strictly lower rank only. "cli" is every
#: module of coupling/ but its __init__; "face" is coupling/__init__ (the public API), which
#: re-exports lazily from the library and which nothing imports.
RANKS = {
    "coupling.outputs": 0,
    "coupling.simulate": 1,
    "coupling.proofs": 2,
    "coupling.decoding": 2,
    "coupling.paper_repro": 3,
    "coupling.figures": 3,
    "coupling.reports": 4,
    "cli": 5,
    "face": 5,
    "benchmarks": 6,
}
LIBRARY = tuple(name for name, rank in RANKS.items() if rank < 5)


def _module_name(folder, path):
    rel = path.relative_to(ROOT / folder).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join((FOLDERS[folder], *parts))


def _package(module):
    """The layer a first-party module belongs to."""
    if module == "coupling":
        return "face"
    if module.startswith("benchmarks"):
        return "benchmarks"
    for package in LIBRARY:
        if module == package or module.startswith(package + "."):
            return package
    return "cli"


def _sources():
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = _module_name(folder, path)
            tree = ast.parse(path.read_text(), filename=str(path))
            yield _package(name), name, tree


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
    """(importer, its package, dotted target, the target's package, line) per first-party
    import; ``from coupling import gumbel_sample`` is an import of the face."""
    for name, (package, tree) in MODULES.items():
        for target, line in _imports(tree):
            resolved = _resolve(target)
            if resolved is not None:
                yield name, package, target, _package(resolved), line


def _private_parts(target, package):
    """The dotted parts of ``target`` below its package's own name."""
    prefix = {"face": "coupling", "cli": "coupling"}.get(package, package)
    return target[len(prefix) + 1 :].split(".") if target.startswith(prefix + ".") else []


def _face_exports():
    """The face's lazy table: the modules it names, read from its ``_EXPORTS`` literal."""
    _, tree = MODULES["coupling"]
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "_EXPORTS":
            return [ast.literal_eval(key) for key in node.value.keys]
    raise AssertionError("coupling/__init__.py has no _EXPORTS table")


def test_every_package_is_scanned():
    assert {package for package, _ in MODULES.values()} == set(RANKS)
    assert len(MODULES) > 40


def test_nothing_imports_the_face():
    """No module imports ``coupling`` itself (only its subpackages and CLI modules): the face
    re-exports the library, so a library module importing it would run in a circle."""
    found = [
        f"{name}:{line} imports {target}"
        for name, package, target, top, line in _edges()
        if top == "face"
    ]
    assert found == []


def test_the_face_reexports_only_the_library():
    modules = _face_exports()
    assert modules and all(_package(m) in LIBRARY for m in modules), modules
    assert all(m in MODULES for m in modules), modules


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
        if top != package and any(part.startswith("_") for part in _private_parts(target, top))
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
    code = "from coupling.cli import main\nfrom coupling.simulate._kernels import BLOCK\n"
    code += "from coupling import gumbel_sample\n"
    targets = [t for t, _ in _imports(ast.parse(code))]
    assert targets == [
        "coupling.cli.main",
        "coupling.simulate._kernels.BLOCK",
        "coupling.gumbel_sample",
    ]
    assert _package(_resolve(targets[0])) == "cli"
    assert RANKS["cli"] > RANKS["coupling.simulate"]
    assert _resolve(targets[1]) == "coupling.simulate._kernels"
    assert _private_parts(targets[1], "coupling.simulate") == ["_kernels", "BLOCK"]
    assert _package(_resolve(targets[2])) == "face"
