"""Find extracted code that would read files, download or train when the snapshot is imported.

The generated module runs every extracted module-level statement when it is
imported. A statement that loads a dataset, downloads weights or calls
``adapt()``/``fit()`` must not run there: it fails offline or without the
original files, and recomputes what the model already holds. This module
lists the calls made at import time (module-level code, class bodies,
decorators and defaults, and the bodies of first-party functions and
constructors those call), and names each that does I/O, a download or
training. The check is by name, on what each call resolves to.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from snapshot.analysis.resolution import Resolved
from snapshot.model import NameUse, Statement, StatementKind, SymbolRef

#: Callables (dotted, as imported) that read or write files, download, or train.
#: A module name covers everything in it.
IO_CALLS = (
    "open",
    "input",
    "io.open",
    "os.listdir",
    "os.scandir",
    "os.walk",
    "glob",
    "shutil",
    "urllib",
    "http",
    "socket",
    "ftplib",
    "requests",
    "httpx",
    "aiohttp",
    "json.load",
    "pickle",
    "csv.reader",
    "numpy.load",
    "numpy.loadtxt",
    "numpy.genfromtxt",
    "numpy.fromfile",
    "numpy.memmap",
    "numpy.save",
    "numpy.savez",
    "pandas.read_*",
    "h5py.File",
    "PIL.Image.open",
    "imageio",
    "cv2.imread",
    "keras.utils.get_file",
    "keras.utils.*_dataset_from_directory",
    "keras.datasets",
    "keras.saving.load_model",
    "keras.models.load_model",
    "tensorflow.data",
    "tensorflow.io",
    "tensorflow.saved_model",
    "tensorflow.keras.utils.get_file",
    "tensorflow.keras.datasets",
    "tensorflow_datasets",
    "datasets.load_dataset",
    "huggingface_hub",
    "kagglehub",
    "torch.load",
    "torchvision.datasets",
    "gdown",
    "wget",
)
#: Methods that read files, download or train whatever they are called on.
IO_METHODS = frozenset(
    {
        "fit",
        "fit_generator",
        "train_on_batch",
        "adapt",
        "read_text",
        "read_bytes",
        "write_text",
        "write_bytes",
        "load_weights",
        "from_preset",
        "load_data",
        "urlopen",
        "download",
    }
)
#: Methods a first-party class runs when it is instantiated.
_CONSTRUCTORS = ("__new__", "__init__", "__post_init__")


@dataclass(frozen=True)
class ImportTimeEffect:
    """A call, run when the generated module is imported, that does I/O or trains."""

    #: The reached top-level statement the import runs.
    statement: Statement
    #: 1-based line of the offending call in its own file.
    line: int
    #: Its file.
    path: str
    #: What is called: ``numpy.load``, ``open``, ``.adapt()``.
    call: str
    #: First-party functions the statement reaches the call through, outermost first.
    via: tuple[str, ...] = ()

    def __str__(self) -> str:
        through = f" (through {' -> '.join(self.via)})" if self.via else ""
        return f"calls {self.call}{through}"


@dataclass(frozen=True)
class StatementCode:
    """What the check needs of one reached statement."""

    statement: Statement
    path: str
    #: The statement's nodes, with line numbers of its own file.
    nodes: list[ast.stmt]
    uses: tuple[NameUse, ...]
    resolutions: tuple[Resolved, ...]


def find_import_time_effects(
    statements: list[StatementCode],
    definition_of: Callable[[SymbolRef], StatementCode | None],
) -> list[ImportTimeEffect]:
    """The I/O, download and training calls importing ``statements`` would run.

    ``definition_of`` finds the statement defining a first-party function or
    class, so calls into it are followed.
    """
    found = []
    for code in statements:
        if code.statement.kind is StatementKind.IMPORT:
            continue
        effect = _first_effect(code, _import_time_calls(code.nodes), definition_of)
        if effect is not None:
            found.append(effect)
    return found


def _first_effect(
    code: StatementCode,
    calls: Iterator[tuple[int, tuple[str, ...]]],
    definition_of: Callable[[SymbolRef], StatementCode | None],
    *,
    via: tuple[str, ...] = (),
    visited: frozenset[SymbolRef] = frozenset(),
) -> ImportTimeEffect | None:
    for line, chain in calls:
        resolved = _resolution(code, line, chain[0])
        symbol = None if resolved is None else resolved.symbol
        target = None if symbol is None else definition_of(symbol)
        if symbol is not None and target is not None and symbol not in visited:
            inner = _first_effect(
                target,
                _called_body_calls(target),
                definition_of,
                via=(*via, str(symbol)),
                visited=visited | {symbol},
            )
            if inner is not None:
                return ImportTimeEffect(
                    code.statement, line, code.path, inner.call, inner.via
                )
        dotted = _dotted(resolved, chain)
        if dotted is not None and _is_io_call(dotted):
            return ImportTimeEffect(code.statement, line, code.path, dotted, via)
        if len(chain) > 1 and chain[-1] in IO_METHODS:
            return ImportTimeEffect(
                code.statement, line, code.path, f".{chain[-1]}()", via
            )
    return None


def _resolution(code: StatementCode, line: int, name: str) -> Resolved | None:
    for use, resolved in zip(code.uses, code.resolutions, strict=True):
        if use.name == name and use.line == line:
            return resolved
    return None


def _dotted(resolved: Resolved | None, chain: tuple[str, ...]) -> str | None:
    """The dotted name a call resolves to: ``np.load`` → ``numpy.load``."""
    if resolved is None:
        return None
    item = resolved.import_item
    if item is not None:
        parts = [item.module, *([item.obj] if item.obj else []), *chain[1:]]
        return ".".join(parts)
    if resolved.is_builtin:
        return ".".join(chain)
    return None


def _is_io_call(dotted: str) -> bool:
    for entry in IO_CALLS:
        if "*" in entry:
            if fnmatch.fnmatchcase(dotted, entry):
                return True
        elif dotted == entry or dotted.startswith(entry + "."):
            return True
    return False


def _called_body_calls(code: StatementCode) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Calls a first-party function runs when called, or a class when instantiated."""
    for node in code.nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _calls_in(node.body)
        elif isinstance(node, ast.ClassDef):
            for member in node.body:
                if (
                    isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and member.name in _CONSTRUCTORS
                ):
                    yield from _calls_in(member.body)


def _import_time_calls(nodes: list[ast.stmt]) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Calls a top-level statement makes as its module is imported."""
    yield from _calls_in(nodes)


def _calls_in(nodes: list[ast.stmt]) -> Iterator[tuple[int, tuple[str, ...]]]:
    gatherer = _CallGatherer()
    for node in nodes:
        gatherer.visit(node)
    yield from gatherer.calls


class _CallGatherer(ast.NodeVisitor):
    """Gathers ``(line, callee chain)`` of the calls code runs when executed.

    The bodies of functions and lambdas defined in it do not run (their
    decorators and defaults do); class bodies do. After visiting, ``calls``
    holds them in source order; ``x.y.z()`` gives ``("x", "y", "z")`` and a
    call on anything else (``f().g()``) gives ``("", "g")``.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[int, tuple[str, ...]]] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expression in [*node.decorator_list, *node.args.defaults]:
            self.visit(expression)
        for default in node.args.kw_defaults:
            if default is not None:
                self.visit(default)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for default in node.args.defaults:
            self.visit(default)

    def visit_Call(self, node: ast.Call) -> None:
        chain: list[str] = []
        func = node.func
        while isinstance(func, ast.Attribute):
            chain.append(func.attr)
            func = func.value
        chain.append(func.id if isinstance(func, ast.Name) else "")
        self.calls.append((node.lineno, tuple(reversed(chain))))
        self.generic_visit(node)
