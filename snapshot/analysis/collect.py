"""Walk from the model class to every first-party definition it reaches.

This stage alone decides what goes into the snapshot. The walk pulls in the
statements binding each reached name and asks :mod:`.resolution` what their
reads denote, :mod:`.reachability` which methods count, and :mod:`.ordering`
how to lay the statements out. Problems are gathered, never raised mid-walk,
and reported together.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Collection
from dataclasses import dataclass

from snapshot import keras_compat
from snapshot.analysis.import_time import (
    ImportTimeEffect,
    StatementCode,
    find_import_time_effects,
)
from snapshot.analysis.ordering import dependency_edges, import_order
from snapshot.analysis.parse import ModuleIndex
from snapshot.analysis.reachability import MemberReachability
from snapshot.analysis.resolution import ModuleIndexes, NameResolver, Resolved
from snapshot.analysis.scopes import find_uses
from snapshot.config import SnapshotConfig
from snapshot.errors import UnsupportedSourceError
from snapshot.model import (
    ModelTarget,
    NameUse,
    Problem,
    Reason,
    Statement,
    StatementKind,
    SymbolRef,
)

__all__ = [
    "CapturedName",
    "DependencyClosure",
    "ExtractedStatement",
    "Resolved",
    "collect",
]


@dataclass(frozen=True)
class ExtractedStatement:
    """A reached statement and what each of its module-level reads denotes."""

    statement: Statement
    #: The statement's source, comments directly above included.
    text: str
    #: Its module-level reads, in source order.
    uses: tuple[NameUse, ...]
    #: Aligned with ``uses``; builtin-like placeholders for reads in left-out methods.
    resolutions: tuple[Resolved, ...]
    #: Methods of a class that nothing reaches; the snapshot replaces them by stubs.
    dead_members: tuple[str, ...] = ()

    def resolutions_by_key(self) -> dict[tuple[str, tuple[str, ...], bool], Resolved]:
        """What each read denotes, by name, attributes and annotation context.

        Reads in left-out methods are not resolved and do not count.
        """
        return {
            (use.name, use.attributes, use.in_annotation): resolved
            for use, resolved in zip(self.uses, self.resolutions, strict=True)
            if use.member not in self.dead_members
        }


@dataclass(frozen=True)
class CapturedName:
    """A reached module-level name whose value is stored, not the code that made it.

    A Keras layer or variable (an adapted ``Normalization``, an augmentation
    ``Sequential``) holds state its code cannot recompute without the data it
    was adapted on; a value computed by reading a file or downloading would
    need them at import. Neither statement is extracted.
    """

    symbol: SymbolRef
    #: The statement binding it (the first one), for messages.
    statement: Statement
    #: Its file.
    path: str
    #: The I/O its code would do at import; None for a Keras object.
    effect: ImportTimeEffect | None = None

    @property
    def origin(self) -> str:
        """``statecases.stateful:4``: where the original was bound."""
        return f"{self.statement.module}:{self.statement.first_line}"


@dataclass(frozen=True)
class DependencyClosure:
    """Everything the model class reaches, in an order that imports cleanly."""

    #: None for a model of Keras' own class (a functional or Sequential graph).
    target: ModelTarget | None
    #: The target class as a symbol (its name is kept in the snapshot).
    root: SymbolRef | None
    statements: tuple[ExtractedStatement, ...]
    #: First-party modules that contributed statements, sorted by name.
    modules: tuple[ModuleIndex, ...]
    #: True when any contributing module uses ``from __future__ import annotations``.
    future_annotations: bool
    #: Every first-party module the walk read, re-exporting ones included.
    modules_read: tuple[ModuleIndex, ...] = ()
    #: Reached module-level names whose values are stored instead of their code.
    captured: tuple[CapturedName, ...] = ()


def collect(
    target: ModelTarget | None,
    *,
    config: SnapshotConfig,
    extra_roots: tuple[SymbolRef, ...] = (),
) -> DependencyClosure:
    """Gather the dependency closure of ``target``; raises UnsupportedSourceError.

    ``extra_roots`` are further first-party definitions the snapshot needs, such
    as a dataclass or a function passed to the model's constructor, or the
    custom layers of a graph. ``target`` is None for a model of Keras' own
    class, whose graph the snapshot writes: the extra roots are then all.
    """
    root = None if target is None else SymbolRef(target.module.name, target.class_name)
    # Values computed by I/O at import are captured instead; capturing one
    # drops the code only it reached, so the walk runs again until it settles.
    io_captures: dict[SymbolRef, ImportTimeEffect] = {}
    while True:
        walker = _walk(target, root, extra_roots, config, io_captures)
        refused = []
        found = dict(io_captures)
        for effect in walker.import_time_effects():
            names = (*effect.statement.bound_names, *effect.statement.mutated_names)
            if effect.statement.kind in _VALUE_KINDS and names:
                for name in names:
                    found.setdefault(SymbolRef(effect.statement.module, name), effect)
            else:
                refused.append(effect)
        if found.keys() == io_captures.keys():
            break
        io_captures = found
    walker.drop_unreached_annotations()
    problems = walker.problems + walker.state_read_at_import()
    problems += [
        Problem(
            effect.path,
            effect.line,
            Reason.IMPORT_TIME_IO,
            f"{_describe_statement(effect.statement)} {effect}",
        )
        for effect in refused
    ]
    if problems:
        raise UnsupportedSourceError(problems)
    reads = {
        key: tuple(zip(extracted.uses, extracted.resolutions, strict=True))
        for key, extracted in walker.extracted.items()
    }
    hard, soft = dependency_edges(reads, walker.statements_of)
    ordered = [walker.extracted[key] for key in import_order(list(reads), hard, soft)]
    read = walker.indexes.by_name
    contributing = tuple(read[name] for name in sorted({key[0] for key in reads}))
    return DependencyClosure(
        target=target,
        root=root,
        statements=tuple(ordered),
        modules=contributing,
        future_annotations=any(index.future_annotations for index in contributing),
        modules_read=tuple(read[name] for name in sorted(read)),
        captured=tuple(walker.captured.values()),
    )


#: Statements whose effect is a value: an assignment, or a call changing one in place.
_VALUE_KINDS = (StatementKind.ASSIGNMENT, StatementKind.OTHER)


def _walk(
    target: ModelTarget | None,
    root: SymbolRef | None,
    extra_roots: tuple[SymbolRef, ...],
    config: SnapshotConfig,
    io_captures: dict[SymbolRef, ImportTimeEffect],
) -> _ClosureWalker:
    walker = _ClosureWalker(config, root, io_captures)
    if target is not None and root is not None:
        walker.indexes.get(target.module.name, source=target.module)
        walker.require(root)
    for extra in extra_roots:
        if walker.indexes.get(extra.module) is None:
            detail = f"{extra} (a constructor argument)"
            raise UnsupportedSourceError(
                [Problem(extra.module, 0, Reason.MISSING_MODULE, detail)]
            )
        walker.require(extra)
    walker.run()
    return walker


def _describe_statement(statement: Statement) -> str:
    """``VOCAB`` or ``class Table``: the statement, by what it binds."""
    names = statement.bound_names or statement.mutated_names
    if statement.kind is StatementKind.CLASS:
        return f"class {names[0]}"
    if statement.kind is StatementKind.FUNCTION:
        return f"def {names[0]}"
    return ", ".join(names) if names else "a statement"


class _ClosureWalker:
    """Breadth-first walk over symbols; fills ``extracted`` and ``problems``."""

    def __init__(
        self,
        config: SnapshotConfig,
        root: SymbolRef | None,
        io_captures: dict[SymbolRef, ImportTimeEffect],
    ) -> None:
        self._io_captures = io_captures
        #: Reached names whose values are stored instead of their code.
        self.captured: dict[SymbolRef, CapturedName] = {}
        #: First-party modules read so far.
        self.indexes = ModuleIndexes(config)
        self._resolver = NameResolver(self.indexes)
        self._reachability = MemberReachability(root, self.indexes.is_first_party)
        #: Reached statements by (module, index), in discovery order.
        self.extracted: dict[tuple[str, int], ExtractedStatement] = {}
        #: Statements binding or changing each reached symbol (imports left out).
        self.statements_of: dict[SymbolRef, tuple[int, ...]] = {}
        self._pending: list[SymbolRef] = []
        #: Reached symbols, and whether what the module adds to them is needed too.
        self._required: dict[SymbolRef, bool] = {}
        #: Attribute names touched by each extracted statement, by method.
        self._attributes: dict[tuple[str, int], dict[str | None, frozenset[str]]] = {}

    @property
    def problems(self) -> list[Problem]:
        """Every problem met on the way."""
        return self._resolver.problems

    def require(self, symbol: SymbolRef, *, with_additions: bool = True) -> None:
        """Queue ``symbol``; ``with_additions`` also brings what the module adds to it.

        A registry only stored into (by a registering decorator) needs its own
        definition; one that is read needs everything registered in it.
        """
        known = self._required.get(symbol)
        if known is None or (with_additions and not known):
            self._required[symbol] = with_additions
            self._pending.append(symbol)

    def run(self) -> None:
        """Walk until no symbol is pending and no left-out method became reachable."""
        self._walk_pending()
        while self._revive_members():
            self._walk_pending()

    def _walk_pending(self) -> None:
        while self._pending:
            symbol = self._pending.pop(0)
            index = self.indexes.by_name[symbol.module]
            captured = self._captured(symbol, index)
            if captured is not None:
                self.captured[symbol] = captured
                self.statements_of[symbol] = ()
                continue
            binding = [b.statement for b in index.bindings.get(symbol.name, ())]
            changing = index.mutations.get(symbol.name, ())
            with_additions = self._required[symbol]
            positions = sorted(set(binding) | set(changing if with_additions else ()))
            # Imports are followed, never copied; the rewrite emits its own.
            copied = [
                index.statements[p]
                for p in positions
                if index.statements[p].kind is not StatementKind.IMPORT
            ]
            self.statements_of[symbol] = tuple(s.index for s in copied)
            for statement in copied:
                self._extract(index, statement)
            if with_additions:
                for member in self._live_registry_members(symbol):
                    self.require(member)

    def _captured(self, symbol: SymbolRef, index: ModuleIndex) -> CapturedName | None:
        """How ``symbol`` is captured as a value, or None when its code is extracted."""
        binding = [
            index.statements[b.statement] for b in index.bindings.get(symbol.name, ())
        ]
        if not binding or any(s.kind not in _VALUE_KINDS for s in binding):
            return None
        path = str(index.source.path)
        effect = self._io_captures.get(symbol)
        if effect is not None:
            return CapturedName(symbol, binding[0], path, effect)
        module = sys.modules.get(symbol.module)
        value = getattr(module, symbol.name, None) if module is not None else None
        if keras_compat.is_keras_state(value):
            return CapturedName(symbol, binding[0], path)
        return None

    def import_time_effects(self) -> list[ImportTimeEffect]:
        """I/O, downloads and training the extracted code would run at import."""
        codes = {key: self._code(key) for key in self.extracted}

        def definition_of(symbol: SymbolRef) -> StatementCode | None:
            for position in self.statements_of.get(symbol, ()):
                code = codes.get((symbol.module, position))
                if code is not None and code.statement.kind in (
                    StatementKind.FUNCTION,
                    StatementKind.CLASS,
                ):
                    return code
            return None

        return find_import_time_effects(list(codes.values()), definition_of)

    def _code(self, key: tuple[str, int]) -> StatementCode:
        extracted = self.extracted[key]
        index = self.indexes.by_name[key[0]]
        return StatementCode(
            extracted.statement,
            str(index.source.path),
            index.statement_nodes(extracted.statement),
            extracted.uses,
            extracted.resolutions,
        )

    def state_read_at_import(self) -> list[Problem]:
        """Reads of captured names while the module is imported.

        Captured values are made after all extracted code, so nothing may
        need them before then.
        """
        problems = []
        for key, extracted in self.extracted.items():
            path = str(self.indexes.by_name[key[0]].source.path)
            for use, resolved in zip(
                extracted.uses, extracted.resolutions, strict=True
            ):
                if use.at_import_time and resolved.symbol in self.captured:
                    problems.append(
                        Problem(
                            path,
                            use.line,
                            Reason.STATE_READ_AT_IMPORT,
                            f"{use.name} (stored as state, made after the code)",
                        )
                    )
        return problems

    def _live_registry_members(self, symbol: SymbolRef) -> list[SymbolRef]:
        """First-party classes and functions held by a live module-level container.

        A registry filled by decorators in other modules (``@register("x")`` in
        ``blocks/gated.py`` adding to ``registry.BLOCKS``) is read by string at
        run time, so everything it holds in this process comes along.
        """
        module = sys.modules.get(symbol.module)
        value = getattr(module, symbol.name, None) if module is not None else None
        if isinstance(value, dict):
            candidates = [*value.keys(), *value.values()]
        elif isinstance(value, (list, tuple, set, frozenset)):
            candidates = list(value)
        else:
            return []
        members = []
        for candidate in candidates:
            owner = getattr(candidate, "__module__", None)
            qualname = getattr(candidate, "__qualname__", "")
            if not (isinstance(candidate, type) or inspect.isfunction(candidate)):
                continue
            if (
                owner is None
                or "." in qualname
                or not self.indexes.is_first_party(owner)
            ):
                continue
            index = self.indexes.get(owner)
            if index is not None and qualname in index.bindings:
                members.append(SymbolRef(owner, qualname))
        return sorted(set(members))

    def _extract(self, index: ModuleIndex, statement: Statement) -> None:
        key = (statement.module, statement.index)
        if key in self.extracted:
            return
        path = str(index.source.path)
        text = index.statement_text(statement)
        nodes = index.statement_nodes(statement)
        found = find_uses(statement, text, path=path, nodes=nodes)
        dead = self._reachability.unreached_members(statement, found.members)
        resolutions = tuple(
            Resolved() if use.member in dead else self._resolver.resolve(index, use)
            for use in found.uses
        )
        self.extracted[key] = ExtractedStatement(
            statement, text, found.uses, resolutions, tuple(sorted(dead))
        )
        self._attributes[key] = found.attributes
        for member, names in found.attributes.items():
            if member not in dead:
                self._reachability.touch(names)
        self._require_reads(found.uses, resolutions, skip=dead)

    def _require_reads(
        self,
        uses: tuple[NameUse, ...],
        resolutions: tuple[Resolved, ...],
        *,
        skip: Collection[str | None],
    ) -> None:
        for use, resolved in zip(uses, resolutions, strict=True):
            # Annotations alone never pull code in; see drop_unreached_annotations.
            if use.member in skip or use.in_annotation or resolved.symbol is None:
                continue
            self.require(resolved.symbol, with_additions=not use.stores_only)

    def _revive_members(self) -> bool:
        """Bring back left-out methods whose name reached code now touches."""
        revived = False
        for key, extracted in list(self.extracted.items()):
            alive = self._reachability.revived(extracted.dead_members)
            if not alive:
                continue
            revived = True
            index = self.indexes.by_name[key[0]]
            resolutions = tuple(
                self._resolver.resolve(index, use) if use.member in alive else resolved
                for use, resolved in zip(
                    extracted.uses, extracted.resolutions, strict=True
                )
            )
            dead = set(extracted.dead_members) - alive
            self.extracted[key] = dataclasses.replace(
                extracted, resolutions=resolutions, dead_members=tuple(sorted(dead))
            )
            for member in alive:
                self._reachability.touch(self._attributes[key].get(member, frozenset()))
            self._require_reads(
                extracted.uses,
                resolutions,
                # Class-level reads were required when the class was extracted.
                skip={u.member for u in extracted.uses if u.member not in alive},
            )
        return revived

    def drop_unreached_annotations(self) -> None:
        """Mark annotation reads of symbols nothing else required as dropped."""
        for key, extracted in self.extracted.items():
            pairs = zip(extracted.uses, extracted.resolutions, strict=True)
            resolutions = tuple(
                (
                    Resolved(dropped=True)
                    if use.in_annotation
                    and resolved.symbol is not None
                    and resolved.symbol not in self._required
                    else resolved
                )
                for use, resolved in pairs
            )
            self.extracted[key] = dataclasses.replace(
                extracted, resolutions=resolutions
            )
