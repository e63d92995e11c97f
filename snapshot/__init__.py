"""keras-snapshot: save a subclassed Keras model as standalone code plus weights.

``snapshot.save(model, path)`` writes an archive holding one generated Python
module (the model's classes and helpers, extracted from your codebase), the
weights and a manifest; ``snapshot.load(path)`` rebuilds the model from it
without the original code.
"""

from snapshot.api import load, save
from snapshot.config import SnapshotConfig
from snapshot.errors import (
    ArchiveError,
    ModelStateError,
    NotAModelError,
    SnapshotError,
    SourceNotFoundError,
    SourceSyntaxError,
    TargetNotFoundError,
    UnsupportedSourceError,
    WeightsError,
)
from snapshot.version import __version__

__all__ = [
    "ArchiveError",
    "ModelStateError",
    "NotAModelError",
    "SnapshotConfig",
    "SnapshotError",
    "SourceNotFoundError",
    "SourceSyntaxError",
    "TargetNotFoundError",
    "UnsupportedSourceError",
    "WeightsError",
    "__version__",
    "load",
    "save",
]
