"""keras-snapshot: save a subclassed Keras model as standalone code plus weights.

``snapshot.save(model, path)`` writes an archive holding one generated Python
module (the model's classes and helpers, extracted from your codebase), the
weights and a manifest; ``snapshot.load(path)`` rebuilds the model from it
without the original code. Loading runs the module, so it runs only modules
trusted here: saved by you on this machine, reviewed and trusted with
``snapshot trust``, or pinned with ``trust="sha256:..."``.
``snapshot.SnapshotCheckpoint`` writes such archives during ``fit``, ready to
resume training from.

Importing this package is cheap: Keras is imported on first use of the API.
Constructor arguments are recorded from interpreter start by the startup hook
installed with the package, so it may be imported at any point; where the hook
does not run (``KERAS_SNAPSHOT_HOOK=0``, ``python -S``), importing it arms the
recorder.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from snapshot.capture import record
from snapshot.config import SnapshotConfig
from snapshot.errors import (
    ArchiveError,
    CheckpointError,
    ModelStateError,
    NotAModelError,
    SnapshotError,
    SourceNotFoundError,
    SourceSyntaxError,
    TargetNotFoundError,
    UnsupportedSourceError,
    UntrustedArchiveError,
    VerificationError,
    WeightsError,
)
from snapshot.model import CallInputs
from snapshot.version import __version__

if TYPE_CHECKING:
    from snapshot.api import load, save, verify
    from snapshot.checkpoint import SnapshotCheckpoint

record.install()

__all__ = [
    "ArchiveError",
    "CallInputs",
    "CheckpointError",
    "ModelStateError",
    "NotAModelError",
    "SnapshotConfig",
    "SnapshotCheckpoint",
    "SnapshotError",
    "SourceNotFoundError",
    "SourceSyntaxError",
    "TargetNotFoundError",
    "UnsupportedSourceError",
    "UntrustedArchiveError",
    "VerificationError",
    "WeightsError",
    "__version__",
    "load",
    "save",
    "verify",
]


def __getattr__(name: str) -> Any:
    # save/load need Keras (and TensorFlow); importing them is deferred to first use.
    if name in ("save", "load", "verify"):
        return getattr(importlib.import_module("snapshot.api"), name)
    if name == "SnapshotCheckpoint":
        return importlib.import_module("snapshot.checkpoint").SnapshotCheckpoint
    raise AttributeError(f"module 'snapshot' has no attribute {name!r}")
