"""The package's import arrows go one way: model/, data/ and metrics/ never import each other, and no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "sevila"
# Each layer may import the shared modules at the package root (errors, io, prompts, benchmarks, cli_parser),
# itself and the layers listed for it, never the others or what is built on them (stages, demo, predict, ...).
# metrics/ reads annotation files with data/'s readers; data/ never needs a metric.
LAYERS = {"model": (), "data": (), "metrics": ("data",)}
SHARED = ("sevila.errors", "sevila.io", "sevila.prompts", "sevila.benchmarks", "sevila.cli_parser")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every `sevila.*` module a file imports, at any depth, except under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and getattr(block.test, "id", None) == "TYPE_CHECKING" for node in ast.walk(block)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name == "sevila" or name.startswith("sevila.")}


def graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (names that are attributes, not modules, dropped)."""
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: {i for i in imports_of(path) if i in files and i != name} for name, path in files.items()}


def test_graph_sees_the_known_arrows() -> None:
    edges = graph()
    assert "sevila.model.sevila" in edges["sevila.stages.base"]
    assert "sevila.prompts" in edges["sevila.model.language"]


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layer_imports_only_itself_its_lower_layers_and_the_shared_modules(layer: str) -> None:
    allowed = [f"sevila.{name}" for name in (layer, *LAYERS[layer])]
    wrong = {
        (module, imported)
        for module, imported_modules in graph().items() if module.startswith(f"sevila.{layer}")
        for imported in imported_modules
        if not (any(imported == a or imported.startswith(a + ".") for a in allowed) or imported in SHARED
                or imported == "sevila")
    }
    assert not wrong, sorted(wrong)


def test_no_import_cycles() -> None:
    edges = graph()
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    assert not cycles, cycles
