"""Find the module-level names one top-level statement reads, with LibCST metadata.

Full-module scope analysis is the slow part of LibCST, so each statement the
model reaches is parsed and analysed on its own: a top-level statement sees
exactly the module-level names it does not bind itself, which is what a
snippet's ``GlobalScope`` reports as unresolved (or builtin) accesses.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from libcst.metadata import (
    BuiltinScope,
    FunctionScope,
    GlobalScope,
    MetadataWrapper,
    PositionProvider,
    Scope,
    ScopeProvider,
)

from snapshot.analysis.scopes import names_in_string_annotation
from snapshot.errors import SourceSyntaxError
from snapshot.model import MUTATING_METHODS, NameUse, Statement


@dataclass(frozen=True)
class StatementAnalysis:
    """One statement parsed by LibCST, with its module-level name reads and writes."""

    statement: Statement
    #: The statement's source as a one-statement module (comments included).
    tree: cst.Module
    #: Every read of a module-level (or builtin) name, in source order.
    uses: tuple[NameUse, ...]
    #: Nodes that read a module-level name, paired with the use they make: a
    #: Name, or the SimpleString of a string annotation naming it.
    read_nodes: tuple[tuple[cst.Name | cst.SimpleString, NameUse], ...]
    #: Name nodes (and def/class names) that bind a module-level name.
    write_nodes: tuple[cst.Name, ...]
    #: For a name node that starts a dotted read (``m.X.y``), the Attribute
    #: nodes along the chain, innermost first (``m.X``, ``m.X.y``).
    attribute_chains: dict[int, tuple[cst.Attribute, ...]]


def analyse_statement(
    statement: Statement, text: str, *, path: str
) -> StatementAnalysis:
    """Parse ``text`` (the statement's source) and gather its module-level names."""
    try:
        tree = cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        line = statement.first_line + error.raw_line - 1
        raise SourceSyntaxError(path, line, error.message) from None
    # The tree is ours alone, so LibCST's defensive deep copy is skipped; both
    # providers are resolved in one batched traversal.
    wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
    metadata = wrapper.resolve_many([ScopeProvider, PositionProvider])
    scopes, positions = metadata[ScopeProvider], metadata[PositionProvider]
    chains = _AttributeChainGatherer()
    tree.visit(chains)

    line_offset = statement.first_line - 1
    read_nodes: list[tuple[cst.Name | cst.SimpleString, NameUse]] = []
    write_nodes: list[cst.Name] = []
    seen_strings: set[int] = set()
    for scope in _unique_scopes(scopes.values()):
        for access in scope.accesses:
            node = access.node
            if not _reads_module_level(access.referents):
                continue
            line = positions[node].start.line + line_offset  # type: ignore[attr-defined]
            at_import_time = _runs_at_import_time(access.scope)
            if isinstance(node, cst.Name):
                chain = chains.chains.get(id(node), ())
                use = NameUse(
                    name=node.value,
                    attributes=tuple(attribute.attr.value for attribute in chain),
                    line=line,
                    at_import_time=at_import_time,
                    in_annotation=access.is_annotation,
                    stores_only=id(node) in chains.stored_into,
                )
                read_nodes.append((node, use))
            elif isinstance(node, cst.SimpleString) and id(node) not in seen_strings:
                # One access per name inside a string annotation, all pointing at
                # the whole string: read the names from the string once.
                seen_strings.add(id(node))
                for name in names_in_string_annotation(str(node.evaluated_value)):
                    use = NameUse(name, (), line, at_import_time, in_annotation=True)
                    read_nodes.append((node, use))
        if isinstance(scope, GlobalScope):
            for assignment in scope.assignments:
                written = getattr(assignment, "node", None)
                if isinstance(written, (cst.ClassDef, cst.FunctionDef)):
                    write_nodes.append(written.name)
                elif isinstance(written, cst.Name):
                    write_nodes.append(written)
                elif isinstance(written, (cst.Import, cst.ImportFrom)):
                    # ``import tensorflow_text as tf_text`` in a try block,
                    # which a renamed ``tf_text = None`` falls back to.
                    write_nodes.extend(_alias_names(written, assignment.name))
    read_nodes.sort(
        key=lambda pair: (pair[1].line, positions[pair[0]].start.column)  # type: ignore[attr-defined]
    )
    return StatementAnalysis(
        statement=statement,
        tree=tree,
        uses=tuple(use for _, use in read_nodes),
        read_nodes=tuple(read_nodes),
        write_nodes=tuple(write_nodes),
        attribute_chains=chains.chains,
    )


def _alias_names(statement: cst.Import | cst.ImportFrom, bound: str) -> list[cst.Name]:
    """The ``as`` names of ``statement`` that bind ``bound``."""
    if isinstance(statement.names, cst.ImportStar):
        return []
    return [
        alias.asname.name
        for alias in statement.names
        if alias.asname is not None
        and isinstance(alias.asname.name, cst.Name)
        and alias.asname.name.value == bound
    ]


def _unique_scopes(scopes: object) -> list[Scope]:
    seen: dict[int, Scope] = {}
    for scope in scopes:  # type: ignore[attr-defined]
        if scope is not None:
            seen.setdefault(id(scope), scope)
    return list(seen.values())


def _reads_module_level(referents: object) -> bool:
    """True when a name resolves to module level: bound there, builtin or unbound."""
    return all(
        isinstance(assignment.scope, (GlobalScope, BuiltinScope))
        for assignment in referents  # type: ignore[attr-defined]
    )


def _runs_at_import_time(scope: Scope) -> bool:
    """False when the access sits inside a function (or lambda) body."""
    current: Scope | None = scope
    while current is not None and not isinstance(current, GlobalScope):
        if isinstance(current, FunctionScope):
            return False
        current = current.parent
    return True


class _AttributeChainGatherer(cst.CSTVisitor):
    """Maps each name that starts a dotted expression to the attributes read from it.

    After visiting: ``chains[id(name_node)]`` holds the Attribute nodes of
    ``name.a.b``, innermost first.
    """

    def __init__(self) -> None:
        super().__init__()
        self.chains: dict[int, tuple[cst.Attribute, ...]] = {}
        #: Names only stored into: ``X[k] = v``, ``X.update(...)``, ``X.append(...)``.
        self.stored_into: set[int] = set()

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        target = node.target
        if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            self.stored_into.add(id(target.value))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.attr.value in MUTATING_METHODS
        ):
            self.stored_into.add(id(func.value))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        chain = [node]
        value = node.value
        while isinstance(value, cst.Attribute):
            chain.append(value)
            value = value.value
        # Only the outermost attribute of a chain is recorded; inner ones are
        # visited later and would give shorter, incomplete chains.
        if isinstance(value, cst.Name) and id(value) not in self.chains:
            self.chains[id(value)] = tuple(reversed(chain))
