"""Audit a generated module before it runs: what it imports, and what it must not call.

Loading a snapshot executes its code, like unpickling. The audit reads the
module with ``ast`` and refuses, unless the caller trusts the archive:

* imports of anything that is neither in the standard library nor a
  distribution recorded in the manifest's requirements;
* modules that run programs, open sockets or unpickle (``subprocess``,
  ``socket``, ``pickle`` ...), and calls such as ``exec``, ``eval``,
  ``__import__`` or ``os.system``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

#: Standard-library modules a model has no business importing.
FORBIDDEN_MODULES = frozenset(
    {
        "subprocess",
        "socket",
        "ssl",
        "pickle",
        "marshal",
        "shelve",
        "ctypes",
        "multiprocessing",
        "http",
        "urllib",
        "ftplib",
        "smtplib",
        "telnetlib",
        "webbrowser",
        "pty",
    }
)
#: Callables that run code or programs given as data.
FORBIDDEN_CALLS = frozenset(
    {
        "exec",
        "eval",
        "compile",
        "__import__",
        "breakpoint",
        "os.system",
        "os.popen",
        "os.execv",
        "os.execve",
        "os.execl",
        "os.execvp",
        "os.spawnv",
        "os.spawnl",
        "os.fork",
        "os.remove",
        "os.unlink",
        "os.rmdir",
        "shutil.rmtree",
        "importlib.import_module",
    }
)


@dataclass(frozen=True)
class Finding:
    """One thing the audit refuses, with where it is in the generated module."""

    line: int
    what: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.what}"


@dataclass(frozen=True)
class AuditReport:
    """Top-level packages the module imports, and what the audit refuses."""

    imports: tuple[str, ...]
    findings: tuple[Finding, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.findings


def audit_module(source: str, *, allowed_packages: Iterable[str]) -> AuditReport:
    """Audit ``source``; ``allowed_packages`` are the third-party top-level imports."""
    tree = ast.parse(source)
    allowed = set(allowed_packages)
    aliases: dict[str, str] = {}
    imports: set[str] = set()
    findings: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.partition(".")[0]] = (
                    alias.name if alias.asname else alias.name.partition(".")[0]
                )
                findings += _check_import(alias.name, node.lineno, allowed, imports)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            findings += _check_import(node.module, node.lineno, allowed, imports)
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if dotted in FORBIDDEN_CALLS:
                    findings.append(Finding(node.lineno, f"imports {dotted}"))
        elif isinstance(node, ast.ImportFrom):
            findings.append(Finding(node.lineno, "relative import"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called = _dotted(node.func, aliases)
            if called in FORBIDDEN_CALLS:
                findings.append(Finding(node.lineno, f"calls {called}"))
    return AuditReport(tuple(sorted(imports)), tuple(sorted(set(findings), key=str)))


def _check_import(
    module: str, line: int, allowed: set[str], imports: set[str]
) -> list[Finding]:
    top = module.partition(".")[0]
    imports.add(top)
    if top in FORBIDDEN_MODULES:
        return [Finding(line, f"imports {module}")]
    if top in sys.stdlib_module_names or top in allowed:
        return []
    return [
        Finding(line, f"imports {module}, which is not among the recorded requirements")
    ]


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    root = aliases.get(node.id, node.id)
    return ".".join([root, *reversed(parts)])
