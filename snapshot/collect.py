"""Walk from the model class to every first-party definition it reaches.

This stage alone decides what goes into the snapshot. It follows module-level
names through imports, re-exports and module attributes (``m.X``) into other
first-party modules, keeps third-party and stdlib names as imports, and orders
the reached statements so each one runs after what it needs at import time.
Problems are gathered, never raised mid-walk, and reported together.
"""

from __future__ import annotations

import builtins
import dataclasses
import inspect
import itertools
import sys
from collections.abc import Collection
from dataclasses import dataclass

from snapshot.config import SnapshotConfig
from snapshot.errors import UnsupportedSourceError
from snapshot.model import (
    ImportItem,
    ModelTarget,
    NameUse,
    Problem,
    Reason,
    Statement,
    StatementKind,
    SymbolRef,
)
from snapshot.modules import Origin, classify, find_module
from snapshot.parse import ModuleIndex, read_module
from snapshot.scopes import find_uses

_Edges = dict[tuple[str, int], set[tuple[str, int]]]

#: Builtins whose use means code the analyzer cannot follow.
_DYNAMIC_BUILTINS = {
    "globals": Reason.GLOBALS_ACCESS,
    "exec": Reason.EXEC,
    "eval": Reason.EXEC,
    "__import__": Reason.DYNAMIC_IMPORT,
}


@dataclass(frozen=True)
class Resolved:
    """What one read of a module-level name denotes in the snapshot."""

    #: A first-party definition, extracted into the snapshot.
    symbol: SymbolRef | None = None
    #: A third-party or stdlib name, kept as an import.
    import_item: ImportItem | None = None
    #: How many attributes of the read (``m.X`` → 1) the target replaces.
    consumed_attributes: int = 0
    #: Set for a read inside a type annotation of something the snapshot does not
    #: define (a ``TYPE_CHECKING`` import, a class used only in annotations):
    #: the annotation is replaced by ``typing.Any``.
    dropped: bool = False

    @property
    def is_builtin(self) -> bool:
        return self.symbol is None and self.import_item is None and not self.dropped


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

    target: ModelTarget
    #: The target class as a symbol (its name is kept in the snapshot).
    root: SymbolRef
    statements: tuple[ExtractedStatement, ...]
    #: First-party modules that contributed statements, sorted by name.
    modules: tuple[ModuleIndex, ...]
    #: True when any contributing module uses ``from __future__ import annotations``.
    future_annotations: bool
    #: Every first-party module the walk read, re-exporting ones included.
    modules_read: tuple[ModuleIndex, ...] = ()


def collect(
    target: ModelTarget,
    *,
    config: SnapshotConfig,
    extra_roots: tuple[SymbolRef, ...] = (),
) -> DependencyClosure:
    """Gather the dependency closure of ``target``; raises UnsupportedSourceError.

    ``extra_roots`` are further first-party definitions the snapshot needs, such
    as a dataclass or a function passed to the model's constructor.
    """
    walker = _ClosureWalker(config)
    root = SymbolRef(target.module.name, target.class_name)
    walker.root = root
    walker.index_for(target.module.name, source=target.module)
    walker.require(root)
    for extra in extra_roots:
        if walker.index_for(extra.module) is None:
            raise UnsupportedSourceError(
                [
                    Problem(
                        extra.module,
                        0,
                        Reason.MISSING_MODULE,
                        f"{extra} (a constructor argument)",
                    )
                ]
            )
        walker.require(extra)
    walker.run()
    walker.drop_unreached_annotations()
    if walker.problems:
        raise UnsupportedSourceError(walker.problems)
    ordered = _import_order(walker.extracted, *walker.dependency_edges())
    modules = sorted({s.statement.module for s in ordered})
    indexes = tuple(walker.indexes[name] for name in modules)
    return DependencyClosure(
        target=target,
        root=root,
        statements=tuple(ordered),
        modules=indexes,
        future_annotations=any(index.future_annotations for index in indexes),
        modules_read=tuple(walker.indexes[name] for name in sorted(walker.indexes)),
    )


class _ClosureWalker:
    """Breadth-first walk over symbols; fills ``extracted`` and ``problems``."""

    def __init__(self, config: SnapshotConfig) -> None:
        self.config = config
        #: Indexed first-party modules, by name.
        self.indexes: dict[str, ModuleIndex] = {}
        #: Reached statements by (module, index), in discovery order.
        self.extracted: dict[tuple[str, int], ExtractedStatement] = {}
        #: Every problem met on the way.
        self.problems: list[Problem] = []
        self._pending: list[SymbolRef] = []
        #: Reached symbols, and whether what the module adds to them is needed too.
        self._required: dict[SymbolRef, bool] = {}
        #: Statements binding or changing each reached symbol.
        self._statements_of: dict[SymbolRef, tuple[int, ...]] = {}
        #: The model class; all its own methods are kept.
        self.root: SymbolRef | None = None
        #: Attribute names that reached code touches (method reachability).
        self._live_attributes: set[str] = set()
        #: Attribute names touched by each extracted statement, by method.
        self._attributes: dict[tuple[str, int], dict[str | None, frozenset[str]]] = {}

    def index_for(self, module: str, *, source: object = None) -> ModuleIndex | None:
        if module not in self.indexes:
            found = source if source is not None else find_module(module)
            if found is None:
                return None
            self.indexes[module] = read_module(found)  # type: ignore[arg-type]
        return self.indexes[module]

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
            index = self.indexes[symbol.module]
            binding_statements = [
                b.statement for b in index.bindings.get(symbol.name, ())
            ]
            changing = list(index.mutations.get(symbol.name, ()))
            if not self._required[symbol]:
                changing = []
            statements = sorted(set(binding_statements + changing))
            self._statements_of[symbol] = tuple(
                p
                for p in statements
                if index.statements[p].kind is not StatementKind.IMPORT
            )
            for position in statements:
                statement = index.statements[position]
                # Imports are followed, never copied; the rewrite emits its own.
                if statement.kind is not StatementKind.IMPORT:
                    self._extract(index, statement)
            if self._required[symbol]:
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
            if owner is None or "." in qualname or not self._is_first_party(owner):
                continue
            index = self.index_for(owner)
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
        dead = self._unreached_members(statement, found.members)
        resolutions = tuple(
            Resolved() if use.member in dead else self._resolve_use(index, use)
            for use in found.uses
        )
        self.extracted[key] = ExtractedStatement(
            statement, text, found.uses, resolutions, tuple(sorted(dead))
        )
        self._attributes[key] = found.attributes
        for member, names in found.attributes.items():
            if member not in dead:
                self._live_attributes |= names
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

    # Method-level reachability --------------------------------------------------------

    def _unreached_members(
        self, statement: Statement, members: tuple[str, ...]
    ) -> set[str]:
        """Methods of a class statement that nothing reaches (yet).

        A method is reached when it is special (``__init__``), when it overrides
        a method of a third-party base class (Keras calls ``build``, ``call``,
        ``get_config``...), when reached code touches an attribute of its name,
        or when it belongs to the model class itself. The rest (preset download,
        exporters) is left out, and their dependencies with them.
        """
        if statement.kind is not StatementKind.CLASS or not members:
            return set()
        name = statement.bound_names[0]
        if SymbolRef(statement.module, name) == self.root:
            return set()
        cls = getattr(sys.modules.get(statement.module), name, None)
        if not isinstance(cls, type) or cls.__module__ != statement.module:
            # Without the live class, overrides cannot be told: keep everything.
            return set()
        external = [
            base
            for base in cls.__mro__[1:]
            if not self._is_first_party(base.__module__)
        ]
        return {
            member
            for member in members
            if not (member.startswith("__") and member.endswith("__"))
            and not any(member in vars(base) for base in external)
            and member not in self._live_attributes
        }

    def _revive_members(self) -> bool:
        """Bring back left-out methods whose name reached code now touches."""
        revived = False
        for key, extracted in list(self.extracted.items()):
            alive = {m for m in extracted.dead_members if m in self._live_attributes}
            if not alive:
                continue
            revived = True
            index = self.indexes[key[0]]
            resolutions = tuple(
                self._resolve_use(index, use) if use.member in alive else resolved
                for use, resolved in zip(
                    extracted.uses, extracted.resolutions, strict=True
                )
            )
            dead = set(extracted.dead_members) - alive
            self.extracted[key] = dataclasses.replace(
                extracted, resolutions=resolutions, dead_members=tuple(sorted(dead))
            )
            for member in alive:
                self._live_attributes |= self._attributes[key].get(member, frozenset())
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

    # Name resolution -----------------------------------------------------------------

    def _resolve_use(self, index: ModuleIndex, use: NameUse) -> Resolved:
        if use.in_annotation:
            # What an annotation names need not exist at run time: a name that
            # cannot be resolved drops the annotation instead of failing.
            found_problems = len(self.problems)
            resolved = self._resolve_name(index, use.name, use.attributes, use)
            if len(self.problems) > found_problems:
                del self.problems[found_problems:]
                return Resolved(dropped=True)
            return resolved
        resolved = self._resolve_name(index, use.name, use.attributes, use)
        if resolved.is_builtin and use.name in _DYNAMIC_BUILTINS:
            self._problem(index, use, _DYNAMIC_BUILTINS[use.name], f"{use.name}(...)")
        item = resolved.import_item
        if item is not None and _is_import_module_call(item, use, resolved):
            self._problem(
                index, use, Reason.DYNAMIC_IMPORT, "importlib.import_module(...)"
            )
        return resolved

    def _resolve_name(
        self, index: ModuleIndex, name: str, attributes: tuple[str, ...], use: NameUse
    ) -> Resolved:
        bindings = index.bindings.get(name, ())
        if not bindings:
            if name in vars(builtins) or name in ("__name__", "__doc__", "__file__"):
                return Resolved()
            if index.star_imports:
                first_party = [
                    s for s in index.star_imports if self._is_first_party(s.module)
                ]
                if first_party:
                    star = first_party[0]
                    detail = f"{name} may come from 'from {star.module} import *'"
                    self._problem(index, use, Reason.STAR_IMPORT, detail)
                    return Resolved()
            self._problem(
                index, use, Reason.UNBOUND_NAME, f"{name} in {index.source.name}"
            )
            return Resolved()
        last = bindings[-1]
        statement = index.statements[last.statement]
        if last.import_item is not None and statement.kind is StatementKind.IMPORT:
            return self._follow_import(index, last.import_item, attributes, use)
        for binding in bindings:
            item = binding.import_item
            if item is not None and self._is_first_party(item.module):
                detail = f"{item.source_statement} binds {name} in {index.source.name}"
                self._problem(index, use, Reason.NESTED_FIRST_PARTY_IMPORT, detail)
        return Resolved(symbol=SymbolRef(index.source.name, name))

    def _follow_import(
        self,
        index: ModuleIndex,
        item: ImportItem,
        attributes: tuple[str, ...],
        use: NameUse,
    ) -> Resolved:
        if not self._is_first_party(item.module):
            return Resolved(import_item=item)
        if item.obj is None:
            module = (
                item.module if item.alias is not None else item.module.partition(".")[0]
            )
            return self._resolve_module_attribute(index, module, attributes, use)
        imported = self.index_for(item.module)
        if imported is None:
            self._problem(
                index, use, Reason.MISSING_MODULE, f"{item.module} (for {use.name})"
            )
            return Resolved()
        if item.obj in imported.bindings:
            return self._resolve_name(imported, item.obj, attributes, use)
        submodule = f"{item.module}.{item.obj}"
        if find_module(submodule) is not None:
            return self._resolve_module_attribute(index, submodule, attributes, use)
        if imported.star_imports:
            return self._resolve_name(imported, item.obj, attributes, use)
        self._problem(index, use, Reason.MISSING_NAME, f"{item.obj} from {item.module}")
        return Resolved()

    def _resolve_module_attribute(
        self, index: ModuleIndex, module: str, attributes: tuple[str, ...], use: NameUse
    ) -> Resolved:
        """Resolve ``module.<attributes>`` where ``module`` is first-party."""
        if not attributes:
            self._problem(
                index, use, Reason.MODULE_AS_VALUE, f"{use.name} is module {module}"
            )
            return Resolved()
        if not self._is_first_party(module):
            return Resolved(import_item=ImportItem(module), consumed_attributes=0)
        target = self.index_for(module)
        if target is None:
            self._problem(index, use, Reason.MISSING_MODULE, module)
            return Resolved()
        first, rest = attributes[0], attributes[1:]
        if first in target.bindings:
            inner = self._resolve_name(target, first, rest, use)
        elif find_module(f"{module}.{first}") is not None:
            inner = self._resolve_module_attribute(
                index, f"{module}.{first}", rest, use
            )
        else:
            self._problem(index, use, Reason.MISSING_NAME, f"{first} from {module}")
            return Resolved()
        if inner.is_builtin:
            return inner
        return Resolved(inner.symbol, inner.import_item, inner.consumed_attributes + 1)

    def _is_first_party(self, module: str) -> bool:
        return classify(module, config=self.config) is Origin.FIRST_PARTY

    def _problem(
        self, index: ModuleIndex, use: NameUse, reason: Reason, detail: str
    ) -> None:
        self.problems.append(Problem(str(index.source.path), use.line, reason, detail))

    # Ordering ------------------------------------------------------------------------

    def dependency_edges(self) -> tuple[_Edges, _Edges]:
        """For each statement, what must run before it, and what should come before it.

        Returns ``(hard, soft)``: hard edges come from reads at import time
        (bases, decorators, defaults, module-level values) and from statements of
        one module touching the same name; soft edges from reads inside function
        bodies, which only make the output read top-down.
        """
        hard: _Edges = {key: set() for key in self.extracted}
        soft: _Edges = {key: set() for key in self.extracted}
        for key, extracted in self.extracted.items():
            pairs = zip(extracted.uses, extracted.resolutions, strict=True)
            for use, resolved in pairs:
                if resolved.symbol is None:
                    continue
                for position in self._statements_of.get(resolved.symbol, ()):
                    other = (resolved.symbol.module, position)
                    # A statement reading a name that a later statement of its
                    # own module rebinds or changes depends on the earlier ones only.
                    if other == key or (other[0] == key[0] and other[1] > key[1]):
                        continue
                    (hard if use.at_import_time else soft)[key].add(other)
        for symbol, positions in self._statements_of.items():
            for earlier, later in itertools.pairwise(positions):
                hard[(symbol.module, later)].add((symbol.module, earlier))
        return hard, soft


def _is_import_module_call(item: ImportItem, use: NameUse, resolved: Resolved) -> bool:
    dotted = [item.module, *([item.obj] if item.obj else []), *use.attributes]
    return ".".join(dotted).startswith("importlib.import_module")


def _import_order(
    extracted: dict[tuple[str, int], ExtractedStatement], hard: _Edges, soft: _Edges
) -> list[ExtractedStatement]:
    """Order statements so hard edges always hold and soft edges where they can.

    Among the statements whose hard dependencies are placed, one whose soft
    dependencies are placed too goes first; ties go to module name, then
    source position. An import-time cycle (which Python could not run either)
    falls back to source order so the result stays deterministic.
    """
    placed: set[tuple[str, int]] = set()
    ordered: list[ExtractedStatement] = []
    remaining = sorted(extracted)
    while remaining:
        ready = [key for key in remaining if hard[key] <= placed] or remaining[:1]
        settled = [key for key in ready if soft[key] - {key} <= placed]
        key = (settled or ready)[0]
        remaining.remove(key)
        placed.add(key)
        ordered.append(extracted[key])
    return ordered
