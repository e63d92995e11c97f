"""A model's weights as ``model.save_weights`` writes them, made in memory.

Keras builds the ``.weights.h5`` of a ``.keras`` file in memory and stores it
once; a snapshot does the same instead of writing a temporary file and copying
it into the zip. The variables are first copied to host memory
(:func:`capture_weights`), so a checkpoint can write them on another thread
while training goes on, and so two captures can be compared by layout.
"""

from __future__ import annotations

import io
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from snapshot import keras_compat

#: Weights larger than this are written by ``model.save_weights`` to a file and
#: streamed into the archive, rather than held in memory twice (host copies and
#: the HDF5 image).
IN_MEMORY_LIMIT = 1 << 30


#: ``(group path, key, shape, dtype)`` of one stored variable.
LayoutEntry = tuple[str, str, tuple[int, ...], str]


@dataclass(frozen=True, eq=False)
class CapturedWeights:
    """Host copies of a model's variables and the HDF5 groups Keras puts them in."""

    #: ``("make", path, metadata)`` and ``("set", key, array)``, in writing order.
    operations: tuple[tuple[str, Any, Any], ...]

    @property
    def layout(self) -> tuple[LayoutEntry, ...]:
        """Where each variable is stored, with its shape and dtype, in order."""
        entries: list[LayoutEntry] = []
        group = ""
        for kind, name, value in self.operations:
            if kind == "make":
                group = name
            else:
                entries.append((group, name, tuple(value.shape), str(value.dtype)))
        return tuple(entries)

    @property
    def nbytes(self) -> int:
        return sum(int(v.nbytes) for k, _, v in self.operations if k == "set")

    def to_h5_bytes(self) -> bytes:
        """The ``.weights.h5`` file Keras' ``save_weights`` would have written."""
        buffer = io.BytesIO()
        keras_compat.write_weights_operations(list(self.operations), buffer)
        return buffer.getvalue()


def capture_weights(model: keras.Model) -> CapturedWeights | None:
    """Copy ``model``'s variables (its optimizer's included) to host memory.

    None when this Keras lacks the internals it reads (see
    :func:`snapshot.keras_compat.weights_operations`).
    """
    operations = keras_compat.weights_operations(model)
    return None if operations is None else CapturedWeights(tuple(operations))


def weights_file_bytes(model: keras.Model) -> bytes | None:
    """The model's ``.weights.h5`` as bytes, or None when too large to hold in memory."""
    if estimated_weights_bytes(model) > IN_MEMORY_LIMIT:
        return None
    captured = capture_weights(model)
    if captured is None:
        with tempfile.TemporaryDirectory(prefix="snapshot-weights-") as folder:
            path = Path(folder) / "model.weights.h5"
            model.save_weights(path)
            return path.read_bytes()
    return captured.to_h5_bytes()


def estimated_weights_bytes(model: keras.Model) -> int:
    """Bytes of the model's variables and its optimizer's."""
    variables = list(model.weights)
    optimizer = getattr(model, "optimizer", None)
    variables += list(getattr(optimizer, "variables", None) or ())
    return sum(math.prod(v.shape) * _itemsize(v.dtype) for v in variables)


def _itemsize(dtype: Any) -> int:
    try:
        return int(np.dtype(keras.backend.standardize_dtype(dtype)).itemsize)
    except TypeError:  # bfloat16, which numpy does not name
        return 2
