"""Find the model class and the module file that defines it."""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import keras

from snapshot.analysis.modules import find_module, user_frame
from snapshot.analysis.session import (
    defined_where,
    main_without_file,
    no_source_message,
    session_source,
)
from snapshot.errors import (
    NotAModelError,
    SourceNotFoundError,
    SourceSyntaxError,
    TargetNotFoundError,
    UserCodeError,
    describe_failure,
)
from snapshot.model import ModelTarget, ModuleSource


def import_target(target: str) -> type[keras.Model] | Callable[..., Any]:
    """Import what ``package.module:Name`` or ``path/to/file.py:Name`` names.

    A subclass of ``keras.Model``, or a function taken to return a model (a
    factory of a functional or Sequential graph, or of a subclassed model).
    """
    module_part, sep, name = target.rpartition(":")
    if not sep or not module_part or not name.isidentifier():
        raise TargetNotFoundError(
            f"target {target!r} is not of the form package.module:Name "
            "or path/to/file.py:Name (a model class or a function returning a model)"
        )
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        module_name = _add_file_to_path(Path(module_part))
    else:
        module_name = module_part
        # Like ``python -m``: modules in the working folder are importable.
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
    module = _import_module(module_name)
    found = getattr(module, name, None)
    if found is None:
        raise TargetNotFoundError(
            f"{getattr(module, '__file__', module_name)}: no class or function "
            f"{name!r} in {module_name}"
        )
    if isinstance(found, keras.Model):
        raise NotAModelError(
            f"{target}: {name} is a model instance, not a class; save it from "
            f"Python with snapshot.save({name}, path), or name its class "
            f"({type(found).__name__}) and give --config"
        )
    # A plain function, one wrapped by functools.wraps (lru_cache, a
    # decorator), or a functools.partial of one.
    if inspect.isfunction(inspect.unwrap(found)) or isinstance(
        found, functools.partial
    ):
        factory: Callable[..., Any] = found
        return factory
    if not (isinstance(found, type) and issubclass(found, keras.Model)):
        raise NotAModelError(
            f"{target}: {name} is neither a subclass of keras.Model nor a function"
        )
    return found


def locate_class(cls: type, *, held: Iterable[object] = ()) -> ModelTarget:
    """Where ``cls`` is defined; raises SourceNotFoundError when no source holds it.

    A class defined in a notebook cell or ``python -c`` is found in the session's
    code. ``held`` are further classes the model holds (its layers'): like the
    model's class, their definitions count even if their names were bound again
    since (a cell re-run with edits after the model was made).
    """
    if "<locals>" in cls.__qualname__ or "." in cls.__qualname__:
        raise SourceNotFoundError(
            f"{cls.__qualname__} is defined inside a function or class; "
            "move it to the top level of a module"
        )
    where = defined_where(cls)
    if cls.__module__ == "__main__" and main_without_file() is not None:
        return ModelTarget(
            module=_session_of(cls, where, held), class_name=cls.__name__
        )
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if (
        module is None
        or path is None
        or not path.endswith(".py")
        or (where is not None and where.startswith("<"))
    ):
        # No file, or a class typed at the prompt of `python -i train.py`.
        raise SourceNotFoundError(no_source_message(cls.__name__, where))
    source = find_module(cls.__module__)
    if source is None:
        raise SourceNotFoundError(
            f"{cls.__name__}: no source file for {cls.__module__}"
        )
    return ModelTarget(module=source, class_name=cls.__name__)


def _session_of(cls: type, where: str | None, held: Iterable[object]) -> ModuleSource:
    """The session code defining ``cls``: notebook cells, ``python -c``."""
    source = session_source(held=(*cls.__mro__, *held))
    if source is None or source.session is None:
        raise SourceNotFoundError(no_source_message(cls.__name__, where))
    session = source.session
    elsewhere = dict(session.elsewhere)
    if cls.__name__ in elsewhere:
        raise SourceNotFoundError(
            no_source_message(cls.__name__, elsewhere[cls.__name__])
        )
    located = any(name == cls.__name__ for name, _, _ in session.definitions)
    live = vars(sys.modules["__main__"]).get(cls.__name__) is cls
    if not located and not live:
        # No method says which cell made it, and the name holds another class now.
        raise SourceNotFoundError(
            f"{cls.__name__} was defined again after the model was made, and it has "
            "no method of its own to tell which cell made the model's class; "
            "re-run the cell that makes the model"
        )
    return source


def _add_file_to_path(path: Path) -> str:
    """Make ``path`` importable; returns its dotted module name."""
    if not path.is_file():
        raise TargetNotFoundError(f"{path}: no such file")
    path = path.resolve()
    parts = [path.stem]
    folder = path.parent
    # Walk up through packages so relative imports inside them keep working.
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return ".".join(parts)


def _import_module(name: str) -> object:
    try:
        return importlib.import_module(name)
    except SyntaxError as error:
        raise SourceSyntaxError(
            str(error.filename), error.lineno or 1, error.msg
        ) from error
    except ModuleNotFoundError as error:
        if error.name and (name == error.name or name.startswith(error.name + ".")):
            raise TargetNotFoundError(f"no module named {name!r}") from None
        # The target exists; something it imports does not.
        failure = describe_failure(error, at=user_frame(error))
        raise UserCodeError(f"importing {name} failed: {failure}") from error
    except Exception as error:  # the user's module raised while importing
        failure = describe_failure(error, at=user_frame(error))
        raise UserCodeError(f"importing {name} failed: {failure}") from error
