"""Read first-party source files and index their top-level statements.

This is the only module that reads source files. Indexing uses the standard
library's ``ast`` (fast); LibCST only ever parses the statements the model
reaches (see :mod:`snapshot.analysis.cst_uses`).

The code of a notebook kernel or ``python -c`` (a :class:`SessionCode`) is
indexed as one module: its cells in execution order. A name bound again by a
later cell (a helper edited and re-run) keeps only the binding in force, as at
run time; see :func:`_bindings_in_force`.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.abc
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

from snapshot.errors import SourceSyntaxError
from snapshot.model import (
    MUTATING_METHODS,
    ImportItem,
    ModuleSource,
    SessionCode,
    Statement,
    StatementKind,
)


@dataclass(frozen=True)
class Binding:
    """A top-level statement binding a module-level name."""

    #: Index into :attr:`ModuleIndex.statements`.
    statement: int
    #: Set when the name is bound by an import; None for definitions.
    import_item: ImportItem | None = None


@dataclass(frozen=True)
class StarImport:
    """A ``from module import *`` at the top level of a module."""

    module: str
    line: int


@dataclass(frozen=True)
class ModuleIndex:
    """What a module binds at its top level, and where, without running it."""

    source: ModuleSource
    text: str
    sha256: str
    statements: tuple[Statement, ...]
    #: Every module-level name with the statements binding it, in source order.
    bindings: dict[str, tuple[Binding, ...]]
    #: Every module-level name with the statements that change it in place.
    mutations: dict[str, tuple[int, ...]]
    star_imports: tuple[StarImport, ...]
    #: True when the module starts with ``from __future__ import annotations``.
    future_annotations: bool
    _lines: list[str] = field(repr=False, compare=False, default_factory=list)
    _nodes: list[list[ast.stmt]] = field(
        repr=False, compare=False, default_factory=list
    )
    #: For session code, per cell: the line of :attr:`text` before its first,
    #: its label, and the line of the cell as written just before its text.
    _cells: tuple[tuple[int, str, int], ...] = field(
        repr=False, compare=False, default=()
    )

    def location(self, line: int) -> tuple[str, int]:
        """The file (or the cell) and the line there of line ``line`` of :attr:`text`."""
        for start, label, shift in reversed(self._cells):
            if line > start:
                return label, line - start + shift
        return str(self.source.path), line

    def statement_line(self, line: int) -> str:
        """Line ``line`` of :attr:`text`, stripped."""
        return self._lines[line - 1].strip() if 0 < line <= len(self._lines) else ""

    def statement_nodes(self, statement: Statement) -> list[ast.stmt]:
        """The statement's nodes in the module's ``ast`` tree (absolute lines)."""
        return self._nodes[statement.index]

    def statement_text(self, statement: Statement) -> str:
        """The source lines of ``statement``, comments directly above included."""
        return "".join(self._lines[statement.first_line - 1 : statement.last_line])


def read_module(source: ModuleSource) -> ModuleIndex:
    """Read and index ``source``; raises :class:`SourceSyntaxError` if it does not parse.

    Indexes are reused within a process while the file's size and time stay.
    """
    if source.session is not None:
        return _read_session(source, source.session)
    try:
        stat = source.path.stat()
    except FileNotFoundError:
        raw = _source_from_loader(source)
        if raw is None:
            raise
        return _index_source(source, raw)
    return _read_module(source, stat.st_mtime_ns, stat.st_size)


def _source_from_loader(source: ModuleSource) -> bytes | None:
    """The source an imported module's loader serves when its file is gone.

    A model loaded from a snapshot runs the approved module, whose temporary
    file was removed once it loaded; saving that model again reads it here.
    """
    module = sys.modules.get(source.name)
    loader = getattr(module, "__loader__", None)
    if module is None or not isinstance(loader, importlib.abc.InspectLoader):
        return None
    if Path(getattr(module, "__file__", None) or "").resolve() != source.path:
        return None
    try:
        text = loader.get_source(source.name)
    except ImportError:
        return None
    return None if text is None else text.encode("utf-8")


@functools.lru_cache(maxsize=1024)
def _read_module(source: ModuleSource, mtime_ns: int, size: int) -> ModuleIndex:
    return _index_source(source, source.path.read_bytes())


def _index_source(source: ModuleSource, raw: bytes) -> ModuleIndex:
    text = importlib.util.decode_source(raw)
    try:
        tree = ast.parse(text, filename=str(source.path))
    except SyntaxError as error:
        raise SourceSyntaxError(
            str(source.path), error.lineno or 1, error.msg
        ) from None
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    gatherer = _TopLevelGatherer(source, lines)
    gatherer.gather(tree.body)
    return ModuleIndex(
        source=source,
        text=text,
        sha256=hashlib.sha256(raw).hexdigest(),
        statements=tuple(gatherer.statements),
        bindings={name: tuple(found) for name, found in gatherer.bindings.items()},
        mutations={name: tuple(found) for name, found in gatherer.mutations.items()},
        star_imports=tuple(gatherer.star_imports),
        future_annotations=gatherer.future_annotations,
        _lines=lines,
        _nodes=gatherer.nodes,
    )


@functools.lru_cache(maxsize=16)
def _read_session(source: ModuleSource, session: SessionCode) -> ModuleIndex:
    """Index the cells of a session as one module, keeping the bindings in force.

    Cells that do not parse never ran and are left out.
    """
    lines: list[str] = []
    body: list[ast.stmt] = []
    cells: list[tuple[int, str, int]] = []
    offsets: list[int] = []
    for cell in session.cells:
        offsets.append(len(lines))
        try:
            tree = ast.parse(cell.text, filename=cell.label)
        except SyntaxError:
            continue
        cell_lines = cell.text.splitlines(keepends=True)
        if cell_lines and not cell_lines[-1].endswith("\n"):
            cell_lines[-1] += "\n"
        ast.increment_lineno(tree, len(lines))
        cells.append((len(lines), cell.label, cell.first_line - 1))
        body += tree.body
        lines += cell_lines
    gatherer = _TopLevelGatherer(source, lines, cells=tuple(cells))
    gatherer.gather(body)
    located: dict[str, int] = {}
    for name, position, line in session.definitions:
        located.setdefault(name, offsets[position] + line)
    statements = tuple(gatherer.statements)
    bindings, mutations = _bindings_in_force(
        statements, gatherer.nodes, gatherer.bindings, gatherer.mutations, located
    )
    text = "".join(lines)
    return ModuleIndex(
        source=source,
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        statements=statements,
        bindings=bindings,
        mutations=mutations,
        star_imports=tuple(gatherer.star_imports),
        future_annotations=gatherer.future_annotations,
        _lines=lines,
        _nodes=gatherer.nodes,
        _cells=tuple(cells),
    )


def _bindings_in_force(
    statements: tuple[Statement, ...],
    nodes: list[list[ast.stmt]],
    bindings: dict[str, list[Binding]],
    mutations: dict[str, list[int]],
    located: dict[str, int],
) -> tuple[dict[str, tuple[Binding, ...]], dict[str, tuple[int, ...]]]:
    """Per name, the bindings of the value in force and the changes made to it since.

    A name whose object was located (``located``: the line of its definition)
    keeps the statement that made that object: a helper re-run with edits is
    its latest definition, and the model's class may be an older one than the
    name's binding. Other names keep their last complete binding (a ``def``,
    ``class``, import or plain assignment that does not read the name) and any
    later ones that build on it (``x += 1``). Changes in place count from the
    first kept binding up to the next binding that replaced it.
    """
    kept: dict[str, tuple[Binding, ...]] = {}
    changed: dict[str, tuple[int, ...]] = {}
    for name, found in bindings.items():
        chosen = _binding_in_force(name, found, statements, nodes, located.get(name))
        kept[name] = chosen
        first, last = chosen[0].statement, chosen[-1].statement
        later = [b.statement for b in found if b.statement > last]
        end = later[0] if later else len(statements)
        changed[name] = tuple(m for m in mutations.get(name, ()) if first <= m < end)
    for name, found_changes in mutations.items():
        changed.setdefault(name, tuple(found_changes))
    return kept, changed


def _binding_in_force(
    name: str,
    found: list[Binding],
    statements: tuple[Statement, ...],
    nodes: list[list[ast.stmt]],
    line: int | None,
) -> tuple[Binding, ...]:
    if line is not None:
        for binding in found:
            statement = statements[binding.statement]
            if statement.first_line <= line <= statement.last_line:
                return (binding,)
    for position in range(len(found) - 1, -1, -1):
        if any(_binds_anew(name, node) for node in nodes[found[position].statement]):
            return tuple(found[position:])
    return tuple(found)


def _binds_anew(name: str, node: ast.stmt) -> bool:
    """True when ``node`` always binds ``name`` to a value that does not depend on it."""
    if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return node.name == name
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return any(
            (alias.asname or alias.name.partition(".")[0]) == name
            for alias in node.names
        )
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        binds = any(name in _target_names(target) for target in targets)
        reads = any(
            isinstance(n, ast.Name) and n.id == name for n in ast.walk(node.value)
        )
        return binds and not reads
    return False


def absolute_module(package: str, module: str | None, level: int) -> str:
    """The absolute name of ``from <dots><module> import ...`` inside ``package``."""
    if level == 0:
        return module or ""
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        raise ValueError(f"relative import beyond the top-level package {package!r}")
    base = parts[: len(parts) - (level - 1)]
    if module:
        base.append(module)
    return ".".join(base)


class _TopLevelGatherer:
    """Walks a module's top-level statements once.

    After :meth:`gather`: ``statements`` holds one :class:`Statement` per
    top-level statement (statements sharing a line merged), ``bindings`` and
    ``mutations`` map module-level names to statement indexes, ``star_imports``
    lists ``import *`` lines, ``future_annotations`` is set when present.
    """

    def __init__(
        self,
        source: ModuleSource,
        lines: list[str],
        *,
        cells: tuple[tuple[int, str, int], ...] = (),
    ) -> None:
        self.source = source
        self.lines = lines
        #: For session code, per cell: the line before its first, its label, and
        #: the line of the cell as written just before its text.
        self.cells = cells
        self.statements: list[Statement] = []
        self.bindings: dict[str, list[Binding]] = {}
        self.mutations: dict[str, list[int]] = {}
        self.star_imports: list[StarImport] = []
        self.future_annotations = False
        #: Functions of this module that add to module-level registries.
        self.registering_functions: dict[str, list[str]] = {}
        #: The ast nodes of each statement, by statement index.
        self.nodes: list[list[ast.stmt]] = []

    def gather(self, body: list[ast.stmt]) -> None:
        groups: list[list[ast.stmt]] = []
        for node in body:
            # Statements sharing a line (``a = 1; b = 2``) can only be cut out together.
            if groups and _first_line(node) <= (groups[-1][-1].end_lineno or 0):
                groups[-1].append(node)
            else:
                groups.append([node])
        self.registering_functions = _registering_functions(body)
        for group in groups:
            self._add_statement(group)
            self.nodes.append(group)

    def _add_statement(self, nodes: list[ast.stmt]) -> None:
        index = len(self.statements)
        bound: list[str] = []
        mutated: list[str] = []
        for node in nodes:
            if _is_main_guard(node):
                continue
            for name, item in self._bound_by(node):
                bound.append(name)
                self.bindings.setdefault(name, []).append(Binding(index, item))
            for name in _mutated_by(node) + self._registered_into(node):
                mutated.append(name)
                self.mutations.setdefault(name, []).append(index)
        start, cell, shift = self._cell_of(_first_line(nodes[0]))
        first = self._with_comments_above(_first_line(nodes[0]), floor=start)
        self.statements.append(
            Statement(
                module=self.source.name,
                index=index,
                first_line=first,
                last_line=nodes[-1].end_lineno or nodes[-1].lineno,
                kind=_kind_of(nodes),
                bound_names=tuple(dict.fromkeys(bound)),
                mutated_names=tuple(dict.fromkeys(mutated)),
                cell=cell,
                cell_offset=start - shift,
            )
        )

    def _cell_of(self, line: int) -> tuple[int, str | None, int]:
        for start, label, shift in reversed(self.cells):
            if line > start:
                return start, label, shift
        return 0, None, 0

    def _registered_into(self, node: ast.stmt) -> list[str]:
        """Registries a decorator or a top-level call of this module adds ``node`` to."""
        callees: list[ast.expr] = list(getattr(node, "decorator_list", []))
        if isinstance(node, ast.Expr):
            callees.append(node.value)
        names = []
        for callee in callees:
            while isinstance(callee, ast.Call):
                callee = callee.func
            if isinstance(callee, ast.Name):
                names += self.registering_functions.get(callee.id, [])
        return names

    def _with_comments_above(self, line: int, *, floor: int = 0) -> int:
        # Comments never come from the cell before: cells are separate texts.
        previous = max(self.statements[-1].last_line if self.statements else 0, floor)
        while line - 1 > previous and self.lines[line - 2].lstrip().startswith("#"):
            line -= 1
        return line

    def _bound_by(self, node: ast.stmt) -> list[tuple[str, ImportItem | None]]:
        """Module-level names bound by ``node``, searching if/try/with bodies too."""
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            return [(node.name, None)]
        if isinstance(node, ast.Import):
            return [(item.bound_name, item) for item in self._import_items(node)]
        if isinstance(node, ast.ImportFrom):
            return [(item.bound_name, item) for item in self._import_items(node)]
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if isinstance(node, ast.AnnAssign) and node.value is None:
                return []
            return [
                (name, None) for target in targets for name in _target_names(target)
            ]
        if isinstance(node, (ast.For, ast.AsyncFor)):
            names = [(name, None) for name in _target_names(node.target)]
            return names + self._bound_in_blocks(node.body, node.orelse)
        if isinstance(node, (ast.With, ast.AsyncWith)):
            names = [
                (name, None)
                for item in node.items
                if item.optional_vars is not None
                for name in _target_names(item.optional_vars)
            ]
            return names + self._bound_in_blocks(node.body)
        if isinstance(node, ast.If):
            return self._bound_in_blocks(node.body, node.orelse)
        if isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            handlers = [h.body for h in node.handlers]  # type: ignore[attr-defined]
            blocks = [node.body, *handlers, node.orelse, node.finalbody]  # type: ignore[attr-defined]
            found = self._bound_in_blocks(*blocks)
            found += [(h.name, None) for h in node.handlers if h.name]  # type: ignore[attr-defined]
            return found
        if isinstance(node, ast.Expr):
            return [(name, None) for name in _walrus_names(node)]
        return []

    def _bound_in_blocks(
        self, *blocks: list[ast.stmt]
    ) -> list[tuple[str, ImportItem | None]]:
        return [
            pair for block in blocks for node in block for pair in self._bound_by(node)
        ]

    def _import_items(self, node: ast.Import | ast.ImportFrom) -> list[ImportItem]:
        if isinstance(node, ast.Import):
            return [ImportItem(alias.name, None, alias.asname) for alias in node.names]
        module = absolute_module(self.source.package, node.module, node.level)
        if module == "__future__":
            if any(alias.name == "annotations" for alias in node.names):
                self.future_annotations = True
            return []
        items = []
        for alias in node.names:
            if alias.name == "*":
                self.star_imports.append(StarImport(module, node.lineno))
            else:
                items.append(ImportItem(module, alias.name, alias.asname))
        return items


def _first_line(node: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _kind_of(nodes: list[ast.stmt]) -> StatementKind:
    if len(nodes) != 1:
        return StatementKind.OTHER
    node = nodes[0]
    if isinstance(node, ast.ClassDef):
        return StatementKind.CLASS
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return StatementKind.FUNCTION
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return StatementKind.IMPORT
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return StatementKind.ASSIGNMENT
    return StatementKind.OTHER


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in _target_names(element)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def _walrus_names(node: ast.AST) -> list[str]:
    return [
        n.target.id
        for n in ast.walk(node)
        if isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name)
    ]


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _mutated_by(node: ast.stmt) -> list[str]:
    """Names changed in place: ``X[k] = v``, ``X.a = v``, ``X.update(...)``."""
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets = [node.target]
    elif isinstance(node, ast.Delete):
        targets = list(node.targets)
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        if isinstance(func, ast.Attribute):
            targets = [func.value]
    names = []
    for target in targets:
        if isinstance(target, (ast.Attribute, ast.Subscript)) or (
            isinstance(node, ast.Expr) and isinstance(target, ast.Name)
        ):
            root = _root_name(target)
            if root is not None:
                names.append(root)
    return names


_MUTATING_METHODS = {
    "update",
    "append",
    "add",
    "setdefault",
    "extend",
    "insert",
    "__setitem__",
}


def _registering_functions(body: list[ast.stmt]) -> dict[str, list[str]]:
    """Top-level functions that add to a module-level container, and which ones.

    ``def register(cls): REGISTRY[cls.__name__] = cls`` maps ``register`` to
    ``["REGISTRY"]``, so that a class decorated with ``@register`` counts as a
    change of ``REGISTRY`` (the pattern of registry decorators).
    """
    functions = {}
    for node in body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        local = {
            n.id
            for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        local |= {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
        changed = []
        for inner in ast.walk(node):
            target: ast.expr | None = None
            if isinstance(inner, (ast.Assign, ast.AugAssign)):
                targets = (
                    inner.targets if isinstance(inner, ast.Assign) else [inner.target]
                )
                target = next(
                    (t for t in targets if isinstance(t, ast.Subscript)), None
                )
            elif isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute):
                if inner.func.attr in MUTATING_METHODS:
                    target = inner.func.value
            root = _root_name(target) if target is not None else None
            if root is not None and root not in local:
                changed.append(root)
        if changed:
            functions[node.name] = list(dict.fromkeys(changed))
    return functions


def _is_main_guard(node: ast.stmt) -> bool:
    """True for ``if __name__ == "__main__":``, which never runs on import."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    sides = [test.left, *test.comparators]
    return (
        len(sides) == 2
        and isinstance(test.ops[0], ast.Eq)
        and any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
        and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    )
