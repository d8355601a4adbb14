"""The package's import graph has no circles, and no module or function outgrows the size limits."""

import ast
from pathlib import Path

import pytest

import pytest_mlgate

PACKAGE = Path(pytest_mlgate.__file__).parent


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, known: set[str], root: Path = PACKAGE) -> set[str]:
    """Modules of the package that ``path`` imports anywhere (top level, functions, TYPE_CHECKING)."""
    here = module_name(path, root)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != here:
                found.add(name)
    return found


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    paths = sorted(root.rglob("*.py"))
    known = {module_name(p, root) for p in paths}
    return {module_name(p, root): imports(p, known, root) for p in paths}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan's algorithm), as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles():
    edges = graph()
    assert edges["pytest_mlgate.session"], "the import walk found nothing: it is broken"
    assert cycles(edges) == []


def test_the_walk_finds_a_circle(tmp_path):
    root = tmp_path / "pytest_mlgate"
    (root / "lower").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "lower" / "__init__.py").write_text("")
    (root / "lower" / "a.py").write_text("def f():\n    from pytest_mlgate.upper import g\n")
    (root / "upper.py").write_text("from .lower import a\n")
    edges = graph(root)
    assert "pytest_mlgate.lower.a" in edges["pytest_mlgate.upper"]  # a relative import
    assert cycles(edges) == [["pytest_mlgate.lower.a", "pytest_mlgate.upper"]]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_stay_small(path):
    text = path.read_text()
    assert len(text.splitlines()) <= 420, f"{path.name} has {len(text.splitlines())} lines"
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 60]
    assert long == []


@pytest.mark.parametrize("name", pytest_mlgate.__all__)
def test_every_public_name_resolves(name):
    value = getattr(pytest_mlgate, name)
    assert getattr(value, "__name__", name) == name


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'artifacts'"):
        pytest_mlgate.artifacts  # noqa: B018


# Bottom to top; a module may import its own layer and the ones below (README, "Architecture").
LAYERS = (("errors", "config", "decision", "records"), ("evaluate", "engines"), ("lifecycle",), ("monitoring",),
          ("serving",), ("checks",), ("gates",), ("reports",),
          ("session", "outputs", "gate_items", "sources_builtin", "hookspecs", "suite", "validation"),
          ("plugin", "commands", "cli", ""))


def layer(module: str) -> int:
    part = module.split(".")[1] if "." in module else ""
    return next(i for i, names in enumerate(LAYERS) if part in names)


def test_imports_point_down_the_layers():
    upward = [(src, dst) for src, dsts in graph().items() for dst in dsts if layer(dst) > layer(src)]
    assert upward == []
