"""Find the model class and the module file that defines it."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import keras

from snapshot.analysis.modules import find_module, user_frame
from snapshot.errors import (
    NotAModelError,
    SourceNotFoundError,
    SourceSyntaxError,
    TargetNotFoundError,
    UserCodeError,
    describe_failure,
)
from snapshot.model import ModelTarget


def import_target(target: str) -> type[keras.Model]:
    """Import the class named by ``package.module:Class`` or ``path/to/file.py:Class``."""
    module_part, sep, class_name = target.rpartition(":")
    if not sep or not module_part or not class_name.isidentifier():
        raise TargetNotFoundError(
            f"target {target!r} is not of the form package.module:ClassName "
            "or path/to/file.py:ClassName"
        )
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        module_name = _add_file_to_path(Path(module_part))
    else:
        module_name = module_part
        # Like ``python -m``: modules in the working folder are importable.
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
    module = _import_module(module_name)
    found = getattr(module, class_name, None)
    if found is None:
        raise TargetNotFoundError(
            f"{getattr(module, '__file__', module_name)}: no class {class_name!r} "
            f"in {module_name}"
        )
    if isinstance(found, keras.Model):
        raise NotAModelError(
            f"{target}: {class_name} is a model instance, not a class; save it from "
            f"Python with snapshot.save({class_name}, path), or name its class "
            f"({type(found).__name__}) and give --config"
        )
    if not (isinstance(found, type) and issubclass(found, keras.Model)):
        raise NotAModelError(f"{target}: {class_name} is not a subclass of keras.Model")
    return found


def locate_class(cls: type) -> ModelTarget:
    """Where ``cls`` is defined; raises SourceNotFoundError when no file holds it."""
    if "<locals>" in cls.__qualname__ or "." in cls.__qualname__:
        raise SourceNotFoundError(
            f"{cls.__qualname__} is defined inside a function or class; "
            "move it to the top level of a module"
        )
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if module is None or path is None or not path.endswith(".py"):
        raise SourceNotFoundError(
            f"{cls.__name__} was defined where no source file exists (an interactive "
            "session, a notebook cell or exec); move it into a .py module"
        )
    source = find_module(cls.__module__)
    if source is None:
        raise SourceNotFoundError(
            f"{cls.__name__}: no source file for {cls.__module__}"
        )
    return ModelTarget(module=source, class_name=cls.__name__)


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
