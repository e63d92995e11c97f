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

__all__ = ["DependencyClosure", "ExtractedStatement", "Resolved", "collect"]


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
    walker = _ClosureWalker(config, root)
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
    walker.drop_unreached_annotations()
    if walker.problems:
        raise UnsupportedSourceError(walker.problems)
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
    )


class _ClosureWalker:
    """Breadth-first walk over symbols; fills ``extracted`` and ``problems``."""

    def __init__(self, config: SnapshotConfig, root: SymbolRef | None) -> None:
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
