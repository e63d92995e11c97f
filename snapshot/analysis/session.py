"""The code of a ``__main__`` that has no source file: notebook cells, ``python -c``.

A notebook kernel (Jupyter, JupyterLab, VS Code and Colab all run IPython)
keeps every executed cell, as compiled (magics turned into ``get_ipython()``
calls), in its history, and the functions it defined name their cell's text in
``linecache``. ``python -c`` leaves its code in ``sys.orig_argv``; a script
read from a redirected standard input can be read again. The interactive
prompt and ``exec`` of a string keep nothing: their definitions are listed as
*elsewhere*, for a clear error.

Which definition counts when a cell was re-run with edits is decided by the
live objects, as at run time: the class or function a name holds now, and the
classes the model itself holds (its class may be older than the name).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import inspect
import linecache
import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from snapshot.model import CodeCell, ModuleSource, SessionCode

#: Cell magics that run their body as Python in the notebook's namespace.
_BODY_MAGICS = {"time": "<timed exec>", "capture": None}


def main_without_file() -> ModuleType | None:
    """``__main__`` when it has no ``.py`` file (a kernel, ``python -c``), else None."""
    main = sys.modules.get("__main__")
    if main is None:
        return None
    path = getattr(main, "__file__", None)
    if isinstance(path, str) and path.endswith(".py"):
        return None
    return main if getattr(main, "__spec__", None) is None else None


def session_source(*, held: Iterable[object] = ()) -> ModuleSource | None:
    """``__main__``'s code as a module source; None when the interpreter kept none.

    ``held`` are classes and functions the model holds (its class and its
    layers' classes): their definitions count even when their names were
    bound again since.
    """
    main = main_without_file()
    if main is None:
        return None
    found = _session_cells()
    if found is None:
        return None
    placeholder, cells = found
    definitions, elsewhere = _definitions(cells, vars(main), held, _cell_counts())
    return ModuleSource(
        name="__main__",
        path=Path(placeholder),
        is_package=False,
        session=SessionCode(cells, definitions, elsewhere),
    )


def session_cells() -> tuple[CodeCell, ...] | None:
    """The session's cells as they are now; None when the interpreter kept none."""
    found = _session_cells()
    return None if found is None else found[1]


def defined_where(obj: object) -> str | None:
    """The file name the code of a class or function carries, if it has code."""
    sites = _code_sites(obj)
    return sites[0][0] if sites else None


def no_source_message(name: str, filename: str | None) -> str:
    """Why the definition of ``name``, whose code names ``filename``, cannot be read."""
    if filename is not None and not filename.startswith("<"):
        return (
            f"{name} was defined by {filename} run into __main__ (%run, runpy); "
            "import it from that file as a module instead"
        )
    how = {
        "<stdin>": "at the interactive prompt (or in a script piped to python)",
        "<string>": "by exec() of a string",
        None: "where no source is kept (the interactive prompt, exec of a string)",
    }.get(filename, f"in {filename}")
    return (
        f"{name} was defined {how}, whose source Python does not keep; "
        "move it into a .py module or a notebook cell"
    )


# Cells -------------------------------------------------------------------------------


def _session_cells() -> tuple[str, tuple[CodeCell, ...]] | None:
    """A placeholder path for the session, and its cells; None when none are kept."""
    shell = _ipython_shell()
    if shell is not None:
        return "<notebook>", _notebook_cells(shell)
    command = _command_line_code()
    if command is not None:
        cell = CodeCell("python -c", command, _sha256(command), filename="<string>")
        return "<string>", (cell,)
    script = _redirected_script()
    if script is not None:
        cell = CodeCell("<stdin>", script, _sha256(script), filename="<stdin>")
        return "<stdin>", (cell,)
    return None


def _ipython_shell() -> Any:
    """The IPython shell whose namespace is ``__main__``, if one runs this process."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)()
    main = sys.modules.get("__main__")
    if (
        shell is None
        or main is None
        or getattr(shell, "user_ns", None) is not vars(main)
    ):
        return None
    return shell


def _cell_counts() -> dict[str, int]:
    """The execution count of each cell by the file name its code carries.

    IPython keeps this map beside ``linecache`` (``CachingCompiler._filename_map``,
    a private name: none where it is missing), which it keeps even when
    ``linecache.clearcache()`` has dropped the cells' text.
    """
    shell = _ipython_shell()
    found = getattr(getattr(shell, "compile", None), "_filename_map", None)
    return dict(found) if isinstance(found, dict) else {}


def _notebook_cells(shell: Any) -> tuple[CodeCell, ...]:
    """Every executed cell, by execution count (``In[n]`` is the cell run n-th)."""
    history = shell.history_manager
    cells: list[CodeCell] = []
    pairs = zip(history.input_hist_parsed, history.input_hist_raw, strict=False)
    for count, (compiled, written) in enumerate(pairs):
        if count == 0 or not compiled.strip():
            continue
        cell = CodeCell(f"In[{count}]", compiled + "\n", _sha256(written), count)
        cells += _with_magic_bodies(shell, cell)
    return tuple(cells)


def _with_magic_bodies(shell: Any, cell: CodeCell, depth: int = 0) -> list[CodeCell]:
    """A ``%%time`` or ``%%capture`` cell stands for its body, which ran as Python."""
    call = _cell_magic_call(cell.text)
    if call is None or depth > 3:
        return [cell]
    magic, body = call
    if magic not in _BODY_MAGICS:
        return [cell]
    text = shell.transform_cell(body)
    inner = CodeCell(
        cell.label,
        text,
        cell.sha256,
        cell.execution_count,
        _BODY_MAGICS[magic],
        first_line=cell.first_line + 1,
    )
    return _with_magic_bodies(shell, inner, depth + 1)


@functools.lru_cache(maxsize=1024)
def _cell_magic_call(text: str) -> tuple[str, str] | None:
    """``("time", body)`` for ``get_ipython().run_cell_magic('time', '', body)``."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    call = tree.body[0].value
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "run_cell_magic"
        and len(call.args) == 3
    ):
        return None
    magic, _, body = (getattr(arg, "value", None) for arg in call.args)
    if isinstance(magic, str) and isinstance(body, str):
        return magic, body
    return None


def _command_line_code() -> str | None:
    """The code of ``python -c CODE``, from ``sys.orig_argv``."""
    if not sys.argv or sys.argv[0] != "-c":
        return None
    arguments: list[str] = list(getattr(sys, "orig_argv", [])[1:])
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        if argument == "--check-hash-based-pycs":
            position += 2
            continue
        if argument.startswith("--") or not argument.startswith("-") or argument == "-":
            return None  # a script, a module or the end of the options: not -c
        # Single-letter options may be grouped (-Ic CODE, -cCODE); -W and -X
        # take a value, -c the code.
        for offset, letter in enumerate(argument[1:], start=2):
            rest = argument[offset:]
            if letter == "c":
                if rest:
                    return rest
                following = position + 1
                return arguments[following] if following < len(arguments) else None
            if letter in "WX":
                position += 0 if rest else 1
                break
            if letter == "m":
                return None
        position += 1
    return None


def _redirected_script() -> str | None:
    """A script run from standard input that is a regular file (``python < train.py``)."""
    if not sys.argv or sys.argv[0] not in ("", "-"):
        return None
    try:
        status = os.fstat(0)
        if not stat.S_ISREG(status.st_mode):
            return None  # a terminal or a pipe: read once, gone
        return importlib.util.decode_source(os.pread(0, status.st_size, 0))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Definitions -------------------------------------------------------------------------


def _definitions(
    cells: tuple[CodeCell, ...],
    namespace: dict[str, Any],
    held: Iterable[object],
    counts: dict[str, int],
) -> tuple[tuple[tuple[str, int, int], ...], tuple[tuple[str, str], ...]]:
    """Where the held objects, then the live classes and functions, were defined.

    ``counts`` gives the execution count of a cell by its code's file name.
    An object whose code is in no cell is *elsewhere* unless some cell defines
    its name (a class whose only methods were generated, like a dataclass's).
    """
    candidates: list[tuple[str, object]] = []
    for obj in held:
        name = getattr(obj, "__qualname__", "")
        if getattr(obj, "__module__", None) == "__main__" and name.isidentifier():
            candidates.append((name, obj))
    for name, value in namespace.items():
        if (
            (inspect.isclass(value) or inspect.isfunction(value))
            and getattr(value, "__module__", None) == "__main__"
            and getattr(value, "__qualname__", None) == name
        ):
            candidates.append((name, value))
    found: dict[str, tuple[int, int]] = {}
    elsewhere: dict[str, str] = {}
    for name, obj in candidates:
        if name in found or name in elsewhere:
            continue
        sites = _code_sites(obj)
        for filename, line in sites:
            position = _cell_defining(name, filename, line, cells, counts)
            if position is not None:
                found[name] = (position, line)
                break
        else:
            defined = any(
                name == defined
                for cell in cells
                for _, _, defined in _top_level_definitions(cell.text)
            )
            if sites and not defined:
                elsewhere[name] = sites[0][0]
    return (
        tuple((name, position, line) for name, (position, line) in found.items()),
        tuple(elsewhere.items()),
    )


def _code_sites(obj: object) -> list[tuple[str, int]]:
    """``(file name, line)`` of the code of a function, or of each method of a class.

    Sites in real files come first: a dataclass's generated ``__init__`` says
    ``<string>`` wherever the class was written.
    """
    if inspect.isfunction(obj):
        code = inspect.unwrap(obj).__code__
        return [(code.co_filename, code.co_firstlineno)]
    if not inspect.isclass(obj):
        return []
    sites = []
    for member in vars(obj).values():
        function = getattr(member, "__func__", getattr(member, "fget", member))
        qualname = getattr(function, "__qualname__", "")
        if inspect.isfunction(function) and qualname == (
            f"{obj.__qualname__}.{function.__name__}"
        ):
            code = function.__code__
            sites.append((code.co_filename, code.co_firstlineno))
    return sorted(sites, key=lambda site: site[0].startswith("<"))


def _cell_defining(
    name: str,
    filename: str,
    line: int,
    cells: tuple[CodeCell, ...],
    counts: dict[str, int],
) -> int | None:
    """The last cell that ran as ``filename`` and defines ``name`` around ``line``.

    A cell ran as ``filename`` when that is its recorded file name, when
    ``linecache`` holds its text under that name (IPython puts every cell
    there), or when IPython maps the name to its execution count.
    """
    kept = "".join(linecache.getlines(filename)).rstrip("\n")
    count = counts.get(filename)
    for position in range(len(cells) - 1, -1, -1):
        cell = cells[position]
        same = (
            cell.filename == filename
            or (kept and cell.text.rstrip("\n") == kept)
            or (count is not None and cell.execution_count == count)
        )
        if same and any(
            first <= line <= last and name == defined
            for first, last, defined in _top_level_definitions(cell.text)
        ):
            return position
    return None


@functools.lru_cache(maxsize=1024)
def _top_level_definitions(text: str) -> tuple[tuple[int, int, str], ...]:
    """``(first line, last line, name)`` of each top-level ``def`` and ``class``.

    Definitions inside top-level ``if``/``try``/``with``/``for`` blocks count;
    the lines span the whole top-level statement, decorators included.
    """
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return ()
    found = []
    for statement in tree.body:
        first = min(
            [statement.lineno]
            + [d.lineno for d in getattr(statement, "decorator_list", [])]
        )
        last = statement.end_lineno or statement.lineno
        for name in _defined_names(statement):
            found.append((first, last, name))
    return tuple(found)


def _defined_names(statement: ast.stmt) -> list[str]:
    if isinstance(statement, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return [statement.name]
    names = []
    for field in ("body", "orelse", "finalbody", "handlers"):
        for inner in getattr(statement, field, []):
            if isinstance(inner, ast.ExceptHandler):
                for nested in inner.body:
                    names += _defined_names(nested)
            elif isinstance(inner, ast.stmt):
                names += _defined_names(inner)
    return names
