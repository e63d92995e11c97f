"""Load a snapshot: import its generated module and rebuild the model with its weights."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import keras

from snapshot.archive.audit import audit_module
from snapshot.archive.reader import OpenedArchive, read_archive
from snapshot.errors import ArchiveError, WeightsError, one_line


def load_archive(
    path: Path, *, trust: bool = False, compile: bool = True
) -> keras.Model:
    """Rebuild the model stored at ``path`` (zip or folder) with its weights.

    Hashes are checked first, then the generated module is audited; unless
    ``trust`` is set, a module importing or calling what a model should not is
    refused before it runs. A model saved compiled is compiled again, with its
    optimizer's state, unless ``compile`` is false.
    """
    with tempfile.TemporaryDirectory(prefix="snapshot-load-") as folder:
        # Keras loads weights from a file named *.weights.h5 only.
        weights_path = Path(folder) / "model.weights.h5"
        opened = read_archive(path, weights_to=weights_path)
        return build_from_opened(
            opened, weights_path, path=path, trust=trust, compile=compile
        )


def build_from_opened(
    opened: OpenedArchive,
    weights_path: Path,
    *,
    path: Path,
    trust: bool,
    compile: bool = True,
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
    module_path.write_text(opened.module_text, encoding="utf-8")
    module = import_generated_module(module_path, module_name, where=str(path))
    # Only the module of a compiled model has compile_model() and the argument.
    options = (
        {} if compile or not hasattr(module, "compile_model") else {"compile": False}
    )
    try:
        return module.load_model(weights_path, **options)
    except ValueError as error:
        raise WeightsError(
            f"{path}: the weights do not fit the model: {one_line(error)}"
        ) from None


def import_generated_module(path: Path, name: str, *, where: str) -> ModuleType:
    """Execute the generated module at ``path`` as ``name`` (once per process)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
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
