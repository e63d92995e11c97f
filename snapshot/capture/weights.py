"""A model's weights as ``model.save_weights`` writes them, made in memory.

Keras builds the ``.weights.h5`` of a ``.keras`` file in memory and stores it
once; a snapshot does the same instead of writing a temporary file and copying
it into the zip (:func:`weights_file_bytes`). A checkpoint first copies the
variables to host memory (:class:`WeightsCapture`), so that it can write
them on another thread while training goes on, and so that two captures can
be compared by layout.
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
from snapshot.capture.random_state import (
    RANDOM_STATE_PATH,
    random_state_operations,
    random_state_variables,
)

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

    def to_h5(self) -> memoryview:
        """The ``.weights.h5`` file Keras' ``save_weights`` would have written.

        A view of the in-memory file, not a copy of it.
        """
        buffer = io.BytesIO()
        keras_compat.write_weights_operations(list(self.operations), buffer)
        return buffer.getbuffer()


class WeightsCapture:
    """Copies one model's variables to host memory, laid out as ``save_weights`` does.

    Keras' layout walk visits every attribute of every layer (milliseconds
    for a small model, more than the copies themselves). Its result is kept
    while the model and its optimizer hold the same variable objects, and
    the next captures only copy their values, into the host arrays of the
    capture before: fresh memory costs a page fault per 4 KiB on first
    touch, which for 100 MB of weights was most of a checkpoint's time on
    the training thread. So a capture's arrays hold its values only until
    the next capture by the same object.
    """

    def __init__(self) -> None:
        self._plan: tuple[tuple[str, Any, Any], ...] | None = None
        self._fingerprint: tuple[int, ...] = ()
        #: Host arrays of the last capture, one per stored value of the plan.
        self._arrays: list[np.ndarray] = []

    @property
    def layout_kept(self) -> bool:
        """Whether the next capture may skip the walk (if the variables stay the same)."""
        return self._plan is not None

    def capture(self, model: keras.Model) -> CapturedWeights | None:
        """Host copies of ``model``'s variables, its optimizer's included.

        None when this Keras lacks the internals it reads (see
        :func:`snapshot.keras_compat.weights_operations`).
        """
        fingerprint = _variables_fingerprint(model)
        plan = self._plan if fingerprint == self._fingerprint else None
        if plan is None:
            operations = keras_compat.weights_operations(model)
            if operations is None:
                return None
            plan = tuple(
                keras_compat.optimizer_arrays_as_variables(model, operations)
                + random_state_operations(model)
            )
            # Reusable only when every stored value is a variable: a layer that
            # stores something it computes must be asked again each time.
            reusable = all(
                isinstance(value, keras.Variable)
                for kind, _, value in plan
                if kind == "set"
            )
            self._plan = plan if reusable else None
            self._fingerprint = fingerprint if reusable else ()
            self._arrays = []
        values = [value for kind, _, value in plan if kind == "set"]
        if self._plan is None or not self._arrays:
            self._arrays = [_host_copy(value) for value in values]
        else:
            for array, value in zip(self._arrays, values, strict=True):
                # One temporary at a time, freed at once: its memory is reused.
                np.copyto(array, _host_copy(value))
        arrays = iter(self._arrays)
        return CapturedWeights(
            tuple(
                (kind, name, next(arrays) if kind == "set" else value)
                for kind, name, value in plan
            )
        )


def weights_file_bytes(model: keras.Model) -> memoryview | None:
    """The model's ``.weights.h5`` in memory, or None when too large to hold there."""
    if estimated_weights_bytes(model) > IN_MEMORY_LIMIT:
        return None
    operations = keras_compat.weights_operations(model)
    if operations is None:
        with tempfile.TemporaryDirectory(prefix="snapshot-weights-") as folder:
            path = Path(folder) / "model.weights.h5"
            save_weights(model, path)
            return memoryview(path.read_bytes())
    # Written as Keras writes them: the model's variables one host copy at a
    # time (the optimizer's are copied by its own save_own_variables, during
    # the walk), not all of them first, as a checkpoint written later needs.
    buffer = io.BytesIO()
    keras_compat.write_weights_operations(
        operations + random_state_operations(model), buffer
    )
    return buffer.getbuffer()


def save_weights(model: keras.Model, path: Path) -> None:
    """``model.save_weights(path)``, with its random generators' states added."""
    model.save_weights(path)
    variables = random_state_variables(model)
    if variables:
        import h5py

        with h5py.File(path, "a") as weights:
            group = weights.create_group(RANDOM_STATE_PATH)
            for index, variable in enumerate(variables):
                group.create_dataset(
                    str(index), data=keras.ops.convert_to_numpy(variable.value)
                )


def estimated_weights_bytes(model: keras.Model) -> int:
    """Bytes of the model's variables and its optimizer's."""
    variables = list(model.weights)
    optimizer = getattr(model, "optimizer", None)
    variables += list(getattr(optimizer, "variables", None) or ())
    return sum(math.prod(v.shape) * _itemsize(v.dtype) for v in variables)


def _host_copy(value: Any) -> np.ndarray:
    # convert_to_numpy copies device and TensorFlow memory to the host; an
    # array still sharing memory with a variable (PyTorch on CPU) is copied.
    array = keras.ops.convert_to_numpy(value)
    if getattr(array, "base", None) is not None:
        array = array.copy()
    return np.asarray(array)


def _variables_fingerprint(model: keras.Model) -> tuple[int, ...]:
    """The identities of the model's and its optimizer's variables, in order."""
    optimizer = getattr(model, "optimizer", None)
    variables = [*model.variables, *(getattr(optimizer, "variables", None) or ())]
    return tuple(id(variable) for variable in variables)


def _itemsize(dtype: Any) -> int:
    try:
        return int(np.dtype(keras.backend.standardize_dtype(dtype)).itemsize)
    except TypeError:  # bfloat16, which numpy does not name
        return 2
