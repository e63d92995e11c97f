"""Load a snapshot: import its generated module and rebuild the model with its weights."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import keras

from snapshot.archive.audit import audit_module
from snapshot.archive.reader import OpenedArchive, read_archive
from snapshot.errors import ArchiveError, WeightsError, one_line


def load_archive(path: Path, *, trust: bool = False) -> keras.Model:
    """Rebuild the model stored at ``path`` (zip or folder) with its weights.

    Hashes are checked first, then the generated module is audited; unless
    ``trust`` is set, a module importing or calling what a model should not is
    refused before it runs.
    """
    with tempfile.TemporaryDirectory(prefix="snapshot-load-") as folder:
        # Keras loads weights from a file named *.weights.h5 only.
        weights_path = Path(folder) / "model.weights.h5"
        opened = read_archive(path, weights_to=weights_path)
        return build_from_opened(opened, weights_path, path=path, trust=trust)


def build_from_opened(
    opened: OpenedArchive, weights_path: Path, *, path: Path, trust: bool
) -> keras.Model:
    """Run the generated module of ``opened`` and load ``weights_path`` into its model."""
    manifest = opened.manifest
    if not trust:
        report = audit_module(opened.module_text, allowed_packages=manifest.imports)
        if not report.passed:
            more = len(report.findings) - 1
            extra = f" (and {more} more)" if more else ""
            raise ArchiveError(
                f"{path}: refusing to run {manifest.module}: {report.findings[0]}{extra}; "
                "read it with 'snapshot inspect' and pass trust=True (--trust) if you trust it"
            )
    # One module per distinct generated source: loading twice reuses it.
    module_name = f"snapshot_{manifest.members[manifest.module][:16]}"
    module_path = weights_path.with_name(manifest.module)
    # What the module reads beside itself: arrays, assets, module-level state.
    for name in manifest.data_members:
        weights_path.with_name(name).write_bytes(opened.members[name])
    module_path.write_text(opened.module_text, encoding="utf-8")
    module = import_generated_module(module_path, module_name, where=str(path))
    try:
        return module.load_model(weights_path)
    except ValueError as error:
        raise WeightsError(
            f"{path}: the weights do not fit the model: {one_line(error)}"
        ) from None


class _GeneratedModuleLoader(importlib.machinery.SourceFileLoader):
    """Loads a generated module, and serves its source after its file is deleted.

    The file lives in a folder removed once the model is loaded. Tracebacks,
    and TensorFlow's AutoGraph, which converts Python control flow from source
    (keras-hub's byte-pair tokenizer), still read the source through here.
    """

    def __init__(self, fullname: str, path: str) -> None:
        super().__init__(fullname, path)
        self._source = Path(path).read_bytes()

    def get_data(self, path: str) -> bytes:
        if path == self.path:
            return self._source
        return super().get_data(path)


def import_generated_module(path: Path, name: str, *, where: str) -> ModuleType:
    """Execute the generated module at ``path`` as ``name`` (once per process)."""
    if name in sys.modules:
        return sys.modules[name]
    loader = _GeneratedModuleLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before running so dataclasses and pickling can find the module.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as error:
        del sys.modules[name]
        raise ArchiveError(
            f"{where}: the snapshot needs the package {error.name!r}, which is not installed"
        ) from None
    except BaseException:
        del sys.modules[name]
        raise
    return module
