"""Load a snapshot: run its generated module and rebuild the model with its weights.

Running the module is running code from the archive, like unpickling. This
module decides nothing about trust: it runs a module only when its sha256 is
the one it is handed (:mod:`snapshot.trust` decides which), and it runs
exactly the bytes it hashed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import keras

from snapshot.archive.manifest import MODULE_STATE_NAME
from snapshot.archive.module_source import compile_module
from snapshot.archive.reader import OpenedArchive, read_archive
from snapshot.archive.streams import sha256_bytes
from snapshot.archive.weights_file import check_weights_file
from snapshot.errors import (
    ArchiveError,
    UntrustedArchiveError,
    WeightsError,
    describe_failure,
    one_line,
)

#: Given the checked archive, returns the sha256 of the module allowed to run,
#: or raises: nothing of the archive has run yet, and its weights are not copied.
Approver = Callable[[OpenedArchive], str]


def load_archive(path: Path, *, approve: Approver, compile: bool = True) -> keras.Model:
    """Rebuild the model stored at ``path`` (zip or folder) with its weights.

    Every member is checked first, then ``approve`` names the module hash that
    may run; a module with another hash does not. A model saved compiled is
    compiled again, with its optimizer's state, unless ``compile`` is false.
    """
    approved: list[str] = []
    with tempfile.TemporaryDirectory(prefix="snapshot-load-") as folder:
        # Keras loads weights from a file named *.weights.h5 only.
        weights_path = Path(folder) / "model.weights.h5"
        opened = read_archive(
            path,
            weights_to=weights_path,
            before_weights=lambda checked: approved.append(approve(checked)),
        )
        return build_from_opened(
            opened,
            weights_path,
            path=path,
            module_sha256=approved[0],
            compile=compile,
        )


def build_from_opened(
    opened: OpenedArchive,
    weights_path: Path,
    *,
    path: Path,
    module_sha256: str,
    compile: bool = True,
) -> keras.Model:
    """Run the module of ``opened``, if its sha256 is ``module_sha256``, and load the weights.

    The weights file is checked before Keras reads it.
    """
    manifest = opened.manifest
    source = opened.module_bytes
    actual = sha256_bytes(source)
    if actual != module_sha256:
        raise UntrustedArchiveError(
            f"{path}: refusing to run {manifest.module}: its sha256 is {actual}, "
            f"not the approved {module_sha256}"
        )
    check_weights_file(weights_path, name=manifest.weights, where=str(path))
    # One module per distinct generated source: loading twice reuses it. The
    # whole digest: a module found under this name is the approved one.
    module_name = f"snapshot_{actual}"
    module_path = weights_path.with_name(manifest.module)
    # What the module reads beside itself: arrays, assets, module-level state.
    for name in manifest.data_members:
        data_path = weights_path.with_name(name)
        data_path.write_bytes(opened.members[name])
        if name == MODULE_STATE_NAME:
            check_weights_file(data_path, name=name, where=str(path))
    # On disk for tracebacks; what runs is compiled from the hashed bytes, not
    # read back from this file.
    module_path.write_bytes(source)
    module = run_generated_module(source, module_path, module_name, where=str(path))
    load_model = getattr(module, "load_model", None)
    if not callable(load_model):
        raise ArchiveError(f"{path}: {manifest.module} defines no load_model()")
    # Only the module of a compiled model has compile_model() and the argument.
    options = (
        {} if compile or not hasattr(module, "compile_model") else {"compile": False}
    )
    try:
        return load_model(weights_path, **options)
    except Exception as error:
        frames = _frames_in(error, module)
        names = [name for name, _ in frames]
        # What load_model() was calling: the next of the module's frames.
        called = names[names.index("load_model") + 1 :] if "load_model" in names else []
        if called and called[0] in _MODULE_STEPS:
            # The module's own code failed: say where, not that the weights do not fit.
            raise ArchiveError(
                f"{path}: {manifest.module} could not {_MODULE_STEPS[called[0]]}: "
                + describe_failure(error, at=f"{manifest.module}:{frames[-1][1]}")
            ) from error
        if isinstance(error, ValueError):
            raise WeightsError(
                f"{path}: the weights do not fit the model: {one_line(error)}"
            ) from None
        raise


#: Functions of the generated module that load_model() calls before the weights.
_MODULE_STEPS = {"build_model": "build the model", "compile_model": "compile the model"}


def _frames_in(error: BaseException, module: ModuleType) -> list[tuple[str, int]]:
    """``(function, line)`` of each frame of ``error`` in ``module``'s code, outermost first.

    Found by module, not by file name: its code names the temporary file of
    the load that first ran it.
    """
    found = []
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_globals.get("__name__") == module.__name__:
            found.append((traceback.tb_frame.f_code.co_name, traceback.tb_lineno))
        traceback = traceback.tb_next
    return found


class _ApprovedSourceLoader(importlib.abc.InspectLoader):
    """Serves the approved module's source, also after its file is deleted.

    The file lives in a folder removed once the model is loaded. Tracebacks,
    and TensorFlow's AutoGraph, which converts Python control flow from source
    (keras-hub's byte-pair tokenizer), read the source through here.
    """

    def __init__(self, source: bytes) -> None:
        self._source = source

    def get_source(self, fullname: str) -> str:
        return importlib.util.decode_source(self._source)

    def is_package(self, fullname: str) -> bool:
        return False


def run_generated_module(
    source: bytes, path: Path, name: str, *, where: str
) -> ModuleType:
    """Execute ``source`` as the module ``name`` whose file is ``path`` (once per process)."""
    if name in sys.modules:
        return sys.modules[name]
    code = compile_module(source, name=path.name, where=where, filename=str(path))
    spec = importlib.machinery.ModuleSpec(
        name, _ApprovedSourceLoader(source), origin=str(path)
    )
    spec.has_location = True
    module = importlib.util.module_from_spec(spec)
    # Registered before running so dataclasses and pickling can find the module.
    sys.modules[name] = module
    try:
        # The module approved by its hash, compiled from the bytes that were hashed.
        exec(code, module.__dict__)
    except ModuleNotFoundError as error:
        del sys.modules[name]
        raise ArchiveError(
            f"{where}: the snapshot needs the package {error.name!r}, which is not installed"
        ) from None
    except BaseException:
        del sys.modules[name]
        raise
    return module
