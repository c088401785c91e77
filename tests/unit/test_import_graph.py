"""The package's import graph has no cycles (imports for type checking aside), and lower layers never import
higher ones (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

SRC = Path(__file__).parents[2] / "src"


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def _imports(tree: ast.AST, modules: dict[str, Path]) -> set[str]:
    out: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if "TYPE_CHECKING" in ast.dump(node.test):
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            out.update(a.name for a in node.names if a.name in modules)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module in modules:
                out.add(node.module)
                out.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules)

    Visitor().visit(tree)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {d for d in _imports(ast.parse(path.read_text()), modules)
                   if d != name and not name.startswith(d + ".")}  # a module may import its own package
            for name, path in modules.items()}


def test_no_import_cycles() -> None:
    graphlib.TopologicalSorter(_graph()).prepare()  # raises CycleError naming the cycle


LOWER = {"argus.core": ("argus.server", "argus.runtime", "argus.workflows", "argus.streams", "argus.endpoints",
                        "argus.cli", "argus.models", "argus.store", "argus.inputs"),
         "argus.inputs": ("argus.server", "argus.runtime", "argus.workflows", "argus.streams", "argus.endpoints",
                          "argus.cli"),
         "argus.models": ("argus.server", "argus.runtime", "argus.workflows", "argus.streams", "argus.endpoints",
                          "argus.cli"),
         "argus.runtime": ("argus.server", "argus.cli"),
         "argus.workflows": ("argus.server", "argus.cli"),
         "argus.streams": ("argus.server", "argus.cli"),
         "argus.endpoints": ("argus.server", "argus.cli")}


def test_lower_layers_do_not_import_higher_ones() -> None:
    wrong = sorted(f"{module} imports {dependency}" for module, dependencies in _graph().items()
                   for layer, higher in LOWER.items() if module.startswith(layer + ".") or module == layer
                   for dependency in dependencies if dependency.startswith(higher))
    assert wrong == []
