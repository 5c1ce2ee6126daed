"""A custom import-linter contract (``make lint``): a package's own modules are imported at
module top, never inside a function.

import-linter's graph holds every import, those inside functions included, so its layer
contracts see them all; what it cannot say is *where* an import sits. An import hidden in a
function hides a dependency from the reader and from the type checker's view of the module,
so lmcast keeps only heavy third-party libraries lazy (torch, transformers, peft,
statsforecast, sqlalchemy, …; with ``TYPE_CHECKING`` imports for their types). The CLI's
handlers are exempt: they import their library layer when the command runs, so that
``lmcast --help`` starts in a tenth of a second.
"""

from __future__ import annotations

import ast
import importlib.util

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


def _inside_functions(source: str, packages: set[str]) -> list[tuple[int, str]]:
    """``(line, statement)`` of each import of ``packages`` inside a function body (not under
    ``if TYPE_CHECKING``)."""
    found: list[tuple[int, str]] = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if in_function and isinstance(child, (ast.Import, ast.ImportFrom)):
                if isinstance(child, ast.ImportFrom):
                    names = [child.module or ""] if not child.level else [next(iter(packages))]
                else:
                    names = [a.name for a in child.names]
                if any(n.split(".")[0] in packages for n in names):
                    found.append((child.lineno, ast.unparse(child)))
            walk(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    walk(ast.parse(source), False)
    return found


class TopLevelImportsContract(Contract):
    """Modules of ``packages`` import each other at module top.

    Configuration options:
        - packages: the packages whose modules are checked, and whose imports must be at top.
        - exempt_packages: packages whose modules may import lazily (e.g. a CLI).
        - exempt_modules: single modules that may (e.g. the package root's lazy exports).
    """

    type_name = "top_level_imports"

    packages = fields.SetField(subfield=fields.StringField())
    exempt_packages = fields.SetField(subfield=fields.StringField(), required=False, default=set())
    exempt_modules = fields.SetField(subfield=fields.StringField(), required=False, default=set())

    def _exempt(self, module: str) -> bool:
        return module in self.exempt_modules or any(
            module == p or module.startswith(p + ".") for p in self.exempt_packages
        )

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        packages = set(self.packages)
        broken: list[str] = []
        for module in sorted(graph.modules):
            if module.split(".")[0] not in packages or self._exempt(module):
                continue
            spec = importlib.util.find_spec(module)
            if spec is None or not spec.origin or not spec.origin.endswith(".py"):
                continue
            with open(spec.origin, encoding="utf-8") as f:
                source = f.read()
            broken += [
                f"{module}:{line}: {text}" for line, text in _inside_functions(source, packages)
            ]
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for line in check.metadata["broken"]:
            output.print_error(f"- {line}: import it at module top", bold=False)
