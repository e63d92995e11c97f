"""Lint a generated module: what it imports, and calls a model's code rarely makes.

This is advice for the person reading the module (``snapshot review``,
``snapshot inspect``), never a safety check: Python reaches anything from
anywhere (``getattr(os, "sys" + "tem")``, ``().__class__.__base__.__subclasses__()``),
so no static reading proves a module harmless. What runs is decided by trust,
pinned to the module's hash (:mod:`snapshot.trust`). The lint reports:

* imports of anything that is neither in the standard library nor a
  distribution recorded in the manifest's requirements (which the archive's
  author wrote, like everything else in it);
* modules that run programs, open sockets, unpickle or hook the interpreter
  (``subprocess``, ``socket``, ``pickle``, ``atexit`` ...), and calls such as
  ``exec``, ``eval``, ``__import__`` or ``os.system``;
* dunder attributes that reach the interpreter's internals
  (``__subclasses__``, ``__globals__``, ``__builtins__`` ...), ``sys.modules``,
  ``getattr`` with a computed name;
* characters a terminal does not show as they are (control characters,
  bidirectional overrides, zero-width spaces).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

#: Standard-library modules a model's code rarely needs.
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
        "atexit",
        "builtins",
        "importlib",
        "code",
        "codeop",
        "runpy",
    }
)
#: Attributes that lead from any object to the interpreter's internals.
INTERNAL_ATTRIBUTES = frozenset(
    {
        "__subclasses__",
        "__globals__",
        "__builtins__",
        "__code__",
        "__closure__",
        "__import__",
        "__loader__",
        "__dict__",
        "__bases__",
        "__base__",
        "__mro__",
        "f_globals",
        "f_locals",
        "f_back",
        "gi_frame",
        "tb_frame",
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
    """One thing the lint reports, with where it is in the generated module."""

    line: int
    what: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.what}"


@dataclass(frozen=True)
class AuditReport:
    """Top-level packages the module imports, and what the lint reports (advice only)."""

    imports: tuple[str, ...]
    findings: tuple[Finding, ...] = field(default=())


def audit_module(source: str, *, allowed_packages: Iterable[str]) -> AuditReport:
    """Lint ``source``, which compiles; ``allowed_packages``: the recorded third-party imports."""
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
            elif called in ("getattr", "setattr", "delattr") and not (
                len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
            ):
                findings.append(
                    Finding(node.lineno, f"calls {called} with a computed name")
                )
        elif isinstance(node, ast.Attribute):
            if node.attr in INTERNAL_ATTRIBUTES:
                findings.append(Finding(node.lineno, f"uses .{node.attr}"))
            elif _dotted(node, aliases) == "sys.modules":
                findings.append(Finding(node.lineno, "uses sys.modules"))
        elif isinstance(node, ast.Name) and node.id in INTERNAL_ATTRIBUTES:
            findings.append(Finding(node.lineno, f"uses {node.id}"))
    for number, line in enumerate(_LINE_END.split(source), start=1):
        if not line.isprintable():
            hidden = sorted({f"U+{ord(c):04X}" for c in line if not c.isprintable()})
            findings.append(
                Finding(
                    number, "holds characters a terminal hides: " + ", ".join(hidden)
                )
            )
    return AuditReport(tuple(sorted(imports)), tuple(sorted(set(findings), key=_order)))


#: Where Python's tokenizer ends lines.
_LINE_END = re.compile(r"\r\n|\r|\n")


def _order(finding: Finding) -> tuple[int, str]:
    return finding.line, finding.what


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
