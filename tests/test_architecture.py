"""The shape of the code, checked: no import circle, dependencies point inward, small signatures
and modules (the corridor issue's "done when")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ntrader"
MAX_PARAMETERS = 8
MAX_MODULE_LINES = 500
# The compiled per-bar loop walks many arrays at once; it is the one module allowed to be long.
LONG_MODULES = {"backtest/vector/kernel.py"}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If) and top_level_only:
            continue  # `if TYPE_CHECKING:` blocks never run
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_import_circle_at_module_level():
    known = modules()
    graph = {
        name: {dep for dep in imports(path, top_level_only=True) if dep in known and dep != name}
        for name, path in known.items()
    }
    # A package importing its own submodules (re-exports) is not a circle.
    for name in graph:
        graph[name] = {dep for dep in graph[name] if not dep.startswith(name + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                pytest.fail("import circle: " + " → ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


INWARD = [
    ("ntrader.data", "ntrader.ibkr"),
    ("ntrader.data", "ntrader.backtest"),
    ("ntrader.metrics", "ntrader.backtest"),
    ("ntrader.db", "ntrader.backtest"),
]


@pytest.mark.parametrize(("inner", "outer"), INWARD)
def test_dependencies_point_inward(inner, outer):
    for name, path in modules().items():
        if name == inner or name.startswith(inner + "."):
            bad = sorted(dep for dep in imports(path, top_level_only=False) if dep.startswith(outer))
            assert not bad, f"{name} imports {bad}"


def test_no_function_takes_more_than_eight_parameters():
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                count = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
                count -= 1 if args.args and args.args[0].arg in ("self", "cls") else 0
                if count > MAX_PARAMETERS:
                    long.append(f"{name}.{node.name} ({count})")
    assert long == []


def test_no_module_is_over_500_lines():
    long = []
    for path in modules().values():
        relative = path.relative_to(SRC).as_posix()
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES and relative not in LONG_MODULES:
            long.append(f"{relative} ({lines})")
    assert long == []
