"""Frozen value objects handed from one pipeline stage to the next."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CodeCell:
    """Code run in ``__main__`` whose text the interpreter kept, without a file.

    A notebook cell (IPython keeps every executed cell), the ``python -c``
    command, or a script read from a redirected standard input.
    """

    #: How the cell is named in messages and provenance: ``In[5]``, ``python -c``.
    label: str
    #: The code as compiled: IPython's magics already turned into calls.
    text: str
    #: sha256 of the text as written (a cell's magics included).
    sha256: str
    #: The IPython execution count; None outside IPython.
    execution_count: int | None = None
    #: The file name its code objects carry when linecache cannot give their text
    #: back (``<string>`` for ``python -c``, ``<timed exec>`` for ``%%time``).
    filename: str | None = None
    #: The line of the cell as written where ``text`` starts: 2 for the body of
    #: a ``%%time`` cell.
    first_line: int = 1


@dataclass(frozen=True)
class SessionCode:
    """The code a ``__main__`` without a source file ran, in execution order."""

    cells: tuple[CodeCell, ...]
    #: Where the objects that count were defined: ``(name, cell position, line in
    #: the cell)``, for the live classes and functions of ``__main__`` and those
    #: the model itself holds (its class, which may be older than the name's
    #: binding).
    definitions: tuple[tuple[str, int, int], ...] = ()
    #: Live names defined where no source is kept: ``(name, file name)``, such as
    #: ``("helper", "<stdin>")`` for a function typed at the interactive prompt.
    elsewhere: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ModuleSource:
    """A Python module found on disk, not imported; or the code of a session."""

    #: Dotted module name, e.g. ``mypkg.layers``.
    name: str
    #: The ``.py`` file (``__init__.py`` for a package); for a session, a
    #: placeholder such as ``<notebook>`` that no file has.
    path: Path
    #: True when ``path`` is a package's ``__init__.py``.
    is_package: bool
    #: Set for ``__main__`` of a notebook kernel or ``python -c``: its code.
    session: SessionCode | None = field(default=None, repr=False)

    @property
    def package(self) -> str:
        """The package that relative imports in this module start from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]

    def __str__(self) -> str:
        return f"{self.name} ({self.path})"


@dataclass(frozen=True)
class ModelTarget:
    """The model class to snapshot: where it is defined."""

    module: ModuleSource
    class_name: str

    def __str__(self) -> str:
        return f"{self.module.name}:{self.class_name}"


@dataclass(frozen=True, order=True)
class SymbolRef:
    """A module-level name in a first-party module."""

    module: str
    name: str

    def __str__(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True, order=True)
class ImportItem:
    """One name bound by an import statement, normalised to an absolute module.

    ``ImportItem("numpy", alias="np")`` is ``import numpy as np``;
    ``ImportItem("keras", "layers", "L")`` is ``from keras import layers as L``.
    """

    #: Absolute module name (no leading dots).
    module: str
    #: The imported attribute for ``from module import obj``; None for ``import module``.
    obj: str | None = None
    #: The ``as`` name, None when absent or equal to the bound name.
    alias: str | None = None

    def __post_init__(self) -> None:
        default = self.obj if self.obj is not None else self.module
        if self.alias == default:
            object.__setattr__(self, "alias", None)

    @property
    def bound_name(self) -> str:
        """The name this import binds in the importing module."""
        if self.alias is not None:
            return self.alias
        if self.obj is not None:
            return self.obj
        return self.module.partition(".")[0]

    @property
    def source_statement(self) -> str:
        """The import statement that binds exactly this name."""
        suffix = f" as {self.alias}" if self.alias is not None else ""
        if self.obj is None:
            return f"import {self.module}{suffix}"
        return f"from {self.module} import {self.obj}{suffix}"

    def with_alias(self, alias: str) -> ImportItem:
        """The same import bound under another name."""
        return ImportItem(self.module, self.obj, alias)

    def __str__(self) -> str:
        return self.source_statement


#: Methods that add to a container in place (registries use them).
MUTATING_METHODS = frozenset(
    {"update", "append", "add", "setdefault", "extend", "insert", "__setitem__"}
)


class StatementKind(enum.Enum):
    """What a top-level statement does."""

    CLASS = "class"
    FUNCTION = "function"
    ASSIGNMENT = "assignment"
    IMPORT = "import"
    OTHER = "other"


@dataclass(frozen=True)
class Statement:
    """One top-level statement of a module, with the names it binds."""

    module: str
    #: Position among the module's top-level statements; orders emission.
    index: int
    #: 1-based line range, decorators and comments directly above included.
    first_line: int
    last_line: int
    kind: StatementKind
    #: Module-level names bound by the statement.
    bound_names: tuple[str, ...]
    #: Module-level names the statement changes without binding
    #: (``REGISTRY["x"] = X``, ``REGISTRY.update(...)``).
    mutated_names: tuple[str, ...] = ()
    #: For session code: the label of the cell holding the statement, and what
    #: to subtract from a line of the module's text for the line of the cell as
    #: written.
    cell: str | None = None
    cell_offset: int = 0

    def location(self, line: int) -> str:
        """``zoo.layers:12``, or ``In[5]:3`` for a line of a notebook cell."""
        if self.cell is None:
            return f"{self.module}:{line}"
        return f"{self.cell}:{line - self.cell_offset}"

    def __str__(self) -> str:
        return f"{self.module}:{self.first_line}-{self.last_line}"


@dataclass(frozen=True)
class NameUse:
    """A module-level name that a statement reads."""

    name: str
    #: Attribute chain read from it, e.g. ``("Dense",)`` for ``layers.Dense``.
    attributes: tuple[str, ...]
    #: 1-based line in the original file.
    line: int
    #: True when the read runs as the module is imported (bases, decorators,
    #: defaults, class bodies), False when only inside function bodies.
    at_import_time: bool
    #: True when the name is read inside a type annotation only.
    in_annotation: bool = False
    #: True when the object is only stored into (``REGISTRY[k] = v``): its
    #: definition is needed, but not what other code adds to it.
    stores_only: bool = False
    #: The method of a top-level class the read sits in (decorators and defaults
    #: included); None for code outside methods.
    member: str | None = None


class Reason(enum.Enum):
    """Why the analyzer cannot extract some code; each value says how to fix it."""

    UNBOUND_NAME = "Name is bound nowhere; define or import it."
    STAR_IMPORT = "Star import from a first-party module; import the names explicitly."
    DYNAMIC_IMPORT = "Dynamic import of code the analyzer cannot follow; use a plain import statement."
    GLOBALS_ACCESS = (
        "globals() lookup cannot be followed; reference the names directly."
    )
    EXEC = "exec/eval of code the analyzer cannot see; write the code out."
    MODULE_AS_VALUE = (
        "A first-party module is used as a value; import the names it needs instead."
    )
    MISSING_MODULE = "Imported first-party module was not found; check the import."
    MISSING_NAME = "Imported name is not defined in its module; check the import."
    NESTED_FIRST_PARTY_IMPORT = "First-party import inside an if/try block; move it to a plain top-level import."
    MAGIC = "IPython magic or shell command (%, %%, !) in code the model reaches; write it in plain Python."
    SOURCE_NOT_KEPT = "Defined where Python keeps no source (the interactive prompt, exec of a string, %run); move it into a .py module or a notebook cell."


@dataclass(frozen=True, order=True)
class Problem:
    """One thing the analyzer could not resolve, with where it is."""

    path: str
    line: int
    reason: Reason = field(compare=False)
    detail: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}  {self.detail}"


class CallInputs:
    """Example inputs of a model called with several arguments.

    ``snapshot.save(block, path, inputs=CallInputs(image, text, vec, pe))``
    for a model called as ``block(image, text, vec, pe)``; keyword arguments
    work the same way. Each argument may itself be an array or a nesting.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"CallInputs(args={self.args!r}, kwargs={self.kwargs!r})"
