"""The code is layered: the library at the bottom, asset definitions above it, the Dagster wiring and the CLI on top.

A module may import only modules of its own layer or below, and no two modules import each other, directly or
round a loop: a newcomer can read any module knowing only what is beneath it. Imports made only for type
annotations (under `if TYPE_CHECKING:`) are not dependencies at run time and are not counted; imports inside
functions are.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from tankerwatch.settings import REPO_ROOT

# Lowest first. scenarios/ builds test worlds on the library; assets/ defines assets, their checks and resources;
# orchestration/ wires them into jobs, schedules, sensors, the Definitions and the command line.
LAYERS = ("tankerwatch", "scenarios", "assets", "orchestration")
ALLOWED_BELOW = {
    "tankerwatch": {"tankerwatch"},
    "scenarios": {"scenarios", "tankerwatch"},
    "assets": {"assets", "tankerwatch"},
    "orchestration": {"orchestration", "assets", "tankerwatch"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def _imports(tree: ast.AST) -> list[str]:
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if _is_type_checking_block(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {
        _module_name(path): path
        for layer in LAYERS
        for path in (REPO_ROOT / layer).rglob("*.py")
    }
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target in _imports(ast.parse(path.read_text(), filename=str(path))):
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def test_every_layer_has_modules():
    graph = import_graph()
    for layer in LAYERS:
        assert any(name.split(".")[0] == layer for name in graph), layer


def test_no_module_imports_a_layer_above_its_own():
    upward = [
        f"{name} imports {target}"
        for name, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if target.split(".")[0] not in ALLOWED_BELOW[name.split(".")[0]]
    ]
    assert upward == []


def test_no_two_modules_import_each_other():
    try:
        order = list(TopologicalSorter(import_graph()).static_order())
    except CycleError as exc:
        raise AssertionError(f"import loop: {' -> '.join(exc.args[1])}") from None
    assert order


def test_the_check_sees_an_import_inside_a_function_and_ignores_one_for_types_only():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from tankerwatch.models import Model\n"
        "def f():\n    from tankerwatch.gates import validate_frame\n"
    )
    names = _imports(tree)
    assert "tankerwatch.gates.validate_frame" in names
    assert not any(name.startswith("tankerwatch.models") for name in names)
