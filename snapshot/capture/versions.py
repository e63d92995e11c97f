"""The versions that decide whether a snapshot reproduces its outputs."""

from __future__ import annotations

import platform
import sys


def current_versions() -> dict[str, str]:
    """Python, Keras, its backend and NumPy as this process runs them."""
    import keras
    import numpy

    from snapshot.version import __version__

    versions = {
        "keras_snapshot": __version__,
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": numpy.__version__,
    }
    # The backend's own package is already imported by Keras.
    backend_package = sys.modules.get(keras.backend.backend())
    if backend_package is not None and hasattr(backend_package, "__version__"):
        versions[keras.backend.backend()] = backend_package.__version__
    return versions
