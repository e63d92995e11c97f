"""The third-party distributions a generated module imports, with their versions."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Requirements:
    """Distributions (``{"keras": "3.15.1"}``) and the import names they provide."""

    distributions: dict[str, str]
    #: Top-level import name -> distribution, e.g. ``{"tensorflow": "tensorflow-cpu"}``.
    imports: dict[str, str]
    #: Top-level imports no installed distribution provided when the module was
    #: made: optional imports the code guards with ``try``/``except ImportError``.
    not_installed: tuple[str, ...] = ()

    def text(self) -> str:
        """``requirements.txt``: one pinned distribution a line, then what was missing."""
        pinned = [
            f"{name}=={version}\n" for name, version in self.distributions.items()
        ]
        missing = [
            f"# {name}: imported by the module, not installed when it was saved\n"
            for name in self.not_installed
        ]
        return "".join(pinned + missing)


def third_party_requirements(source: str) -> Requirements:
    """What ``source`` imports outside the standard library, pinned to installed versions."""
    tops = sorted(
        {
            name.partition(".")[0]
            for node in ast.walk(ast.parse(source))
            for name in _imported_modules(node)
        }
        - set(sys.stdlib_module_names)
    )
    imports: dict[str, str] = {}
    distributions: dict[str, str] = {}
    not_installed: list[str] = []
    for top in tops:
        distribution = _distributions().get(top, [top])[0]
        imports[top] = distribution
        try:
            distributions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            not_installed.append(top)
    return Requirements(
        dict(sorted(distributions.items())), imports, tuple(not_installed)
    )


def _imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return {
        k: sorted(v) for k, v in importlib.metadata.packages_distributions().items()
    }
