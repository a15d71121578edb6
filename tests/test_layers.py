"""The packages form layers that only point down, and no module imports itself through others.

Read from the source (ast), imports inside functions included, so a late import cannot hide an upward
dependency. docs/ARCHITECTURE.md explains the layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Lowest first. A package may import its own modules and those of lower layers; packages of one layer do
# not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("utils",),
    ("configs",),
    ("models", "renderers"),
    ("proxy",),
    ("augmentation",),
    ("data",),
    ("train", "predict"),
    ("evaluation",),
    ("tools",),
    ("benchmarks",),
    ("run_train", "run_predict", "run_evaluate"),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_modules() -> dict[str, Path]:
    """Every module of the layered packages and scripts, by dotted name."""
    modules = {}
    for name in RANK:
        if (REPO / f"{name}.py").is_file():
            modules[name] = REPO / f"{name}.py"
        for path in sorted((REPO / name).rglob("*.py")):
            modules[module_name(path)] = path
    return modules


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The first-party modules a file imports (a `from package import name` counts as the package's
    module `package.name` when that is a module, else as the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = runtime_modules()
    known = set(modules)
    return {name: imported_modules(path, known) - {name} for name, path in modules.items()}


def top(module: str) -> str:
    return module.split(".")[0]


def test_every_package_is_placed_in_a_layer():
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests"}
    assert packages <= set(RANK), f"packages without a layer: {sorted(packages - set(RANK))}"


def test_imports_only_point_down():
    upward = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in targets
        if top(target) != top(module) and RANK[top(target)] >= RANK[top(module)]
    ]
    assert not upward, "imports that do not point to a lower layer:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    graph = import_graph()
    cycles = []
    # Tarjan's strongly connected components: any component of two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

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
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_an_upward_import(tmp_path):
    """The reader itself: an upward import inside a function is found."""
    source = tmp_path / "fake.py"
    source.write_text("def late():\n    from predict.predictor import Predictor\n")
    assert "predict.predictor" in imported_modules(source, set(runtime_modules()))
