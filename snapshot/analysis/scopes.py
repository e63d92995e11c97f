"""Fast module-level name analysis of one statement, with ``ast`` and ``symtable``.

Which names a statement reads from module level is a question of Python's
scoping rules; the compiler answers it exactly in ``symtable`` (closures,
class bodies, comprehensions, ``global``), at C speed. LibCST's
``ScopeProvider`` answers it too, much more slowly; the pipeline keeps LibCST
for the statements it must rewrite (:mod:`snapshot.analysis.cst_uses`), where its
concrete syntax tree pays.
"""

from __future__ import annotations

import ast
import symtable
from collections import defaultdict, deque
from dataclasses import dataclass

from snapshot.errors import SourceSyntaxError
from snapshot.model import MUTATING_METHODS, NameUse, Statement

_SCOPE_NODES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ClassDef,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)
_COMPREHENSION_NAMES = {
    ast.ListComp: "listcomp",
    ast.SetComp: "setcomp",
    ast.DictComp: "dictcomp",
    ast.GeneratorExp: "genexpr",
}


@dataclass(frozen=True)
class StatementUses:
    """The module-level names one top-level statement reads, in source order."""

    statement: Statement
    uses: tuple[NameUse, ...]
    #: Attribute names the code touches (``x.name`` loaded, stored or deleted,
    #: ``getattr(x, "name")``), by enclosing method; None for other code.
    attributes: dict[str | None, frozenset[str]]
    #: Methods defined in the body of a top-level class statement, in order.
    members: tuple[str, ...] = ()


def find_uses(
    statement: Statement,
    text: str,
    *,
    path: str,
    nodes: list[ast.stmt] | None = None,
) -> StatementUses:
    """Analyse ``text``, the source of ``statement``, for module-level reads.

    ``nodes`` are the statement's nodes from the module's own ``ast`` tree, if
    at hand; they save parsing ``text`` a second time.
    """
    offset = statement.first_line - 1
    try:
        if nodes is None:
            nodes = ast.parse(text).body
            # Lines of a separately parsed statement count from its first line.
            node_offset, table_offset = offset, 0
        else:
            node_offset, table_offset = 0, offset
        table = symtable.symtable(text, path, "exec")
    except SyntaxError as error:
        raise SourceSyntaxError(path, offset + (error.lineno or 1), error.msg) from None
    gatherer = _UseGatherer(table, line_offset=node_offset, table_offset=table_offset)
    for node in nodes:
        gatherer.visit(node)
    uses = sorted(gatherer.uses, key=lambda pair: pair[0])
    return StatementUses(
        statement,
        tuple(use for _, use in uses),
        {member: frozenset(names) for member, names in gatherer.attributes.items()},
        tuple(dict.fromkeys(gatherer.members)),
    )


class _UseGatherer(ast.NodeVisitor):
    """Walks a statement in step with its symbol tables.

    After visiting: ``uses`` holds ``((line, column), NameUse)`` for every read
    of a module-level or builtin name.
    """

    def __init__(
        self, table: symtable.SymbolTable, *, line_offset: int, table_offset: int
    ) -> None:
        self.uses: list[tuple[tuple[int, int], NameUse]] = []
        self._offset = line_offset
        self._table_offset = table_offset
        self._tables: list[symtable.SymbolTable] = [table]
        self._children = {id(table): _children_by_key(table, table_offset)}
        self._in_function = 0
        self._in_annotation = 0
        self._chains: dict[int, tuple[str, ...]] = {}
        self._stored_into: set[int] = set()
        #: Attribute names touched, by enclosing method of the top-level class.
        self.attributes: dict[str | None, set[str]] = {None: set()}
        #: Methods of the top-level class, in source order.
        self.members: list[str] = []
        self._member: str | None = None
        self._class_depth = 0

    # Scopes --------------------------------------------------------------------------

    def _enter(self, node: ast.stmt | ast.expr, name: str) -> symtable.SymbolTable:
        current = self._tables[-1]
        queue = self._children[id(current)].get((name, node.lineno))
        if not queue:
            # Python versions that inline a scope (PEP 709) give it no table.
            return current
        table = queue.popleft()
        self._children[id(table)] = _children_by_key(table, self._table_offset)
        return table

    def _visit_in(self, table: symtable.SymbolTable, nodes: list[ast.AST]) -> None:
        function = table.get_type() == "function"
        self._tables.append(table)
        self._in_function += function
        for node in nodes:
            self.visit(node)
        self._in_function -= function
        self._tables.pop()

    def _visit_arguments_outside(self, arguments: ast.arguments) -> None:
        for default in [*arguments.defaults, *arguments.kw_defaults]:
            if default is not None:
                self.visit(default)
        for argument in [
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            *([arguments.vararg] if arguments.vararg else []),
            *([arguments.kwarg] if arguments.kwarg else []),
        ]:
            if argument.annotation is not None:
                self._visit_annotation(argument.annotation)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._visit_arguments_outside(node.args)
        if node.returns is not None:
            self._visit_annotation(node.returns)
        table = self._enter(node, node.name)
        self._visit_in(table, list(node.body))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_arguments_outside(node.args)
        table = self._enter(node, "lambda")
        self._visit_in(table, [node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expression in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(expression)
        table = self._enter(node, node.name)
        if self._class_depth or self._in_function or self._member is not None:
            self._visit_in(table, list(node.body))
            return
        # The methods of a top-level class are tracked one by one, so that the
        # closure can leave out those nothing reaches.
        self._class_depth += 1
        self._tables.append(table)
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._member = statement.name
                self.members.append(statement.name)
                self.attributes.setdefault(statement.name, set())
            self.visit(statement)
            self._member = None
        self._tables.pop()
        self._class_depth -= 1

    def _visit_comprehension(self, node: ast.expr, parts: list[ast.AST]) -> None:
        generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        # The first iterable is evaluated in the enclosing scope.
        self.visit(generators[0].iter)
        table = self._enter(node, _COMPREHENSION_NAMES[type(node)])
        inner: list[ast.AST] = []
        for position, generator in enumerate(generators):
            inner.append(generator.target)
            if position:
                inner.append(generator.iter)
            inner.extend(generator.ifs)
        self._visit_in(table, [*inner, *parts])

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._visit_comprehension(node, [node.elt])

    visit_SetComp = visit_ListComp  # type: ignore[assignment]
    visit_GeneratorExp = visit_ListComp  # type: ignore[assignment]

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._visit_comprehension(node, [node.key, node.value])

    # Annotations ---------------------------------------------------------------------

    def _visit_annotation(self, node: ast.expr) -> None:
        self._in_annotation += 1
        self.visit(node)
        self._in_annotation -= 1

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.target)
        self._visit_annotation(node.annotation)
        if node.value is not None:
            self.visit(node.value)

    def visit_Constant(self, node: ast.Constant) -> None:
        if self._in_annotation and isinstance(node.value, str):
            for name in names_in_string_annotation(node.value):
                if self._is_module_level(name):
                    self._record(node, name, ())

    # Reads ---------------------------------------------------------------------------

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain = [node.attr]
        value = node.value
        while isinstance(value, ast.Attribute):
            chain.append(value.attr)
            value = value.value
        if isinstance(value, ast.Name) and id(value) not in self._chains:
            self._chains[id(value)] = tuple(reversed(chain))
        self.attributes[self._member].add(node.attr)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name):
            self._stored_into.add(id(node.value))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (
            isinstance(func, ast.Name)
            and func.id in ("getattr", "hasattr", "setattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            self.attributes[self._member].add(node.args[1].value)
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.attr in MUTATING_METHODS
        ):
            self._stored_into.add(id(func.value))
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and self._is_module_level(node.id):
            self._record(node, node.id, self._chains.get(id(node), ()))

    def _is_module_level(self, name: str) -> bool:
        table = self._tables[-1]
        if table.get_type() == "module":
            return True
        try:
            symbol = table.lookup(name)
        except KeyError:
            return True
        return symbol.is_global() or symbol.is_declared_global()

    def _record(self, node: ast.expr, name: str, attributes: tuple[str, ...]) -> None:
        use = NameUse(
            name=name,
            attributes=attributes,
            line=node.lineno + self._offset,
            at_import_time=not self._in_function,
            in_annotation=bool(self._in_annotation),
            stores_only=id(node) in self._stored_into,
            member=self._member,
        )
        self.uses.append(((use.line, node.col_offset), use))


def names_in_string_annotation(text: str) -> list[str]:
    """The names a string annotation (``"Dict[str, Layer]"``) reads, once each."""
    try:
        expression = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return []
    names = [n.id for n in ast.walk(expression) if isinstance(n, ast.Name)]
    return list(dict.fromkeys(names))


def _children_by_key(
    table: symtable.SymbolTable, offset: int
) -> dict[tuple[str, int], deque[symtable.SymbolTable]]:
    """Child tables by (name, line in the nodes' numbering), in source order."""
    children: dict[tuple[str, int], deque[symtable.SymbolTable]] = defaultdict(deque)
    for child in table.get_children():
        children[(child.get_name(), child.get_lineno() + offset)].append(child)
    return children
