"""What one read of a module-level name denotes, following imports across modules.

A read resolves to a first-party definition (extracted into the snapshot), a
third-party or stdlib import (kept as an import), or a builtin. Imports of
first-party modules are followed, re-exports and ``module.attr`` chains
included, into the module that binds the name. What cannot be followed is
recorded as a :class:`~snapshot.model.Problem`, never raised.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from snapshot import keras_compat
from snapshot.analysis.modules import Origin, classify, find_module
from snapshot.analysis.parse import ModuleIndex, read_module
from snapshot.analysis.session import no_source_message
from snapshot.config import SnapshotConfig
from snapshot.errors import one_line
from snapshot.model import (
    ImportItem,
    ModuleSource,
    NameUse,
    Problem,
    Reason,
    StatementKind,
    SymbolRef,
)

#: Builtins whose use means code the analyzer cannot follow.
_DYNAMIC_BUILTINS = {
    "globals": Reason.GLOBALS_ACCESS,
    "exec": Reason.EXEC,
    "eval": Reason.EXEC,
    "__import__": Reason.DYNAMIC_IMPORT,
}
#: Module attributes every module has without binding them.
_MODULE_DUNDERS = ("__name__", "__doc__", "__file__")


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


class ModuleIndexes:
    """The first-party modules one walk reads, each indexed once, on first use."""

    def __init__(self, config: SnapshotConfig) -> None:
        self.config = config
        #: Indexed modules by dotted name, in the order they were first read.
        self.by_name: dict[str, ModuleIndex] = {}

    def get(
        self, module: str, *, source: ModuleSource | None = None
    ) -> ModuleIndex | None:
        """The index of ``module``; None when it has no source file."""
        if module not in self.by_name:
            found = source if source is not None else find_module(module)
            if found is None:
                return None
            self.by_name[module] = read_module(found)
        return self.by_name[module]

    def is_first_party(self, module: str) -> bool:
        return classify(module, config=self.config) is Origin.FIRST_PARTY


class NameResolver:
    """Resolves reads of module-level names; what fails lands in ``problems``."""

    def __init__(self, indexes: ModuleIndexes) -> None:
        self.indexes = indexes
        #: Every problem met, in the order met.
        self.problems: list[Problem] = []

    def resolve(self, index: ModuleIndex, use: NameUse) -> Resolved:
        """What ``use``, a read in the module of ``index``, denotes."""
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
        if item is not None and _is_import_module_call(item, use):
            self._problem(
                index, use, Reason.DYNAMIC_IMPORT, "importlib.import_module(...)"
            )
        return resolved

    def _resolve_name(
        self, index: ModuleIndex, name: str, attributes: tuple[str, ...], use: NameUse
    ) -> Resolved:
        bindings = index.bindings.get(name, ())
        if not bindings:
            return self._resolve_unbound(index, name, use)
        last = bindings[-1]
        statement = index.statements[last.statement]
        if last.import_item is not None and statement.kind is StatementKind.IMPORT:
            return self._follow_import(index, last.import_item, attributes, use)
        for binding in bindings:
            item = binding.import_item
            if item is not None and self.indexes.is_first_party(item.module):
                detail = f"{item.source_statement} binds {name} in {index.source.name}"
                self._problem(index, use, Reason.NESTED_FIRST_PARTY_IMPORT, detail)
        return Resolved(symbol=SymbolRef(index.source.name, name))

    def _resolve_unbound(self, index: ModuleIndex, name: str, use: NameUse) -> Resolved:
        """A name the module never binds: a builtin, a star import, or a mistake."""
        session = index.source.session
        if session is not None and name == "get_ipython":
            # What IPython turned a magic into; never a builtin, whatever IPython
            # put into the builtins module.
            line = index.statement_line(use.line)
            self._problem(index, use, Reason.MAGIC, one_line(line, limit=100))
            return Resolved()
        if is_builtin(name) or name in _MODULE_DUNDERS:
            return Resolved()
        elsewhere = dict(session.elsewhere) if session is not None else {}
        if name in elsewhere:
            detail = no_source_message(name, elsewhere[name]).partition(",")[0]
            self._problem(index, use, Reason.SOURCE_NOT_KEPT, detail)
            return Resolved()
        first_party_stars = [
            s for s in index.star_imports if self.indexes.is_first_party(s.module)
        ]
        if first_party_stars:
            detail = (
                f"{name} may come from 'from {first_party_stars[0].module} import *'"
            )
            self._problem(index, use, Reason.STAR_IMPORT, detail)
            return Resolved()
        self._problem(index, use, Reason.UNBOUND_NAME, f"{name} in {index.source.name}")
        return Resolved()

    def _follow_import(
        self,
        index: ModuleIndex,
        item: ImportItem,
        attributes: tuple[str, ...],
        use: NameUse,
    ) -> Resolved:
        if not self.indexes.is_first_party(item.module):
            return Resolved(import_item=_spelled_with_keras(item, attributes))
        if item.obj is None:
            module = (
                item.module if item.alias is not None else item.module.partition(".")[0]
            )
            return self._resolve_module_attribute(index, module, attributes, use)
        imported = self.indexes.get(item.module)
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
        if not self.indexes.is_first_party(module):
            return Resolved(import_item=ImportItem(module), consumed_attributes=0)
        target = self.indexes.get(module)
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

    def _problem(
        self, index: ModuleIndex, use: NameUse, reason: Reason, detail: str
    ) -> None:
        path, line = index.location(use.line)
        self.problems.append(Problem(path, line, reason, detail))


def is_builtin(name: str) -> bool:
    """True for Python's own builtins.

    The live ``builtins`` module is not the judge: IPython adds ``display`` and
    ``get_ipython`` to it, which a snapshot loaded elsewhere would not find.
    """
    if name not in vars(builtins):
        return False
    value = vars(builtins)[name]
    origin = getattr(value, "__module__", None)
    if not isinstance(origin, str):
        origin = type(value).__module__
    return origin in ("builtins", "_sitebuiltins", "io", "_frozen_importlib")


def _spelled_with_keras(item: ImportItem, attributes: tuple[str, ...]) -> ImportItem:
    """``from tensorflow import keras`` as ``import keras``, when both name one object.

    Code mixing the two spellings would otherwise get two names for Keras in
    the one namespace (``keras`` and ``keras_2``).
    """
    if item.module == "tensorflow" and item.obj == "keras":
        replacement = ImportItem("keras", None, item.alias)
        path = ("keras", *attributes)
    elif item.module.split(".")[:2] == ["tensorflow", "keras"]:
        if item.obj is None and item.alias is None:
            return item  # ``import tensorflow.keras`` binds ``tensorflow``
        rest = item.module.split(".")[2:]
        replacement = ImportItem(".".join(["keras", *rest]), item.obj, item.alias)
        path = ("keras", *rest, *([item.obj] if item.obj else []), *attributes)
    else:
        return item
    return replacement if keras_compat.same_in_keras(path) else item


def _is_import_module_call(item: ImportItem, use: NameUse) -> bool:
    dotted = [item.module, *([item.obj] if item.obj else []), *use.attributes]
    return ".".join(dotted).startswith("importlib.import_module")
