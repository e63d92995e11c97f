"""A small batch of example inputs and the model's outputs on it, kept in the archive.

Verification runs the rebuilt model on the same inputs and compares outputs.
Inputs are flattened in the order of their recorded structure; outputs with
``keras.tree.flatten``.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from snapshot import keras_compat
from snapshot.capture.state import (
    STRING_DTYPE,
    CallSpecs,
    InputStructure,
    SubmodelSpecs,
    TensorSpec,
    call_model,
)
from snapshot.model import CallInputs

#: Larger example batches are cut to their first rows to keep archives small.
_MAX_PROBE_BYTES = 1 << 20
_PROBE_ROWS = 2


@dataclass(frozen=True)
class Probe:
    """Flattened probe inputs and the outputs the original model gave on them."""

    inputs: tuple[np.ndarray, ...]
    outputs: tuple[np.ndarray, ...]


def make_probe(model: keras.Model, inputs: Any, specs: InputStructure) -> Probe:
    """Run ``model`` in inference mode on ``inputs`` (or on generated data)."""
    arrays = _probe_inputs(inputs, specs, seed=0)
    outputs = run(model, specs, tuple(arrays))
    return Probe(tuple(arrays), outputs)


def _probe_inputs(inputs: Any, specs: InputStructure, *, seed: int) -> list[np.ndarray]:
    if isinstance(specs, SubmodelSpecs):
        # Sub-models not given inputs are probed on generated data.
        given = inputs or {}
        found: list[np.ndarray] = []
        for name, spec in specs.submodels.items():
            found += _probe_inputs(given.get(name), spec, seed=seed + len(found))
        return found
    if inputs is None:
        return [
            _generated(spec, seed + offset)
            for offset, spec in enumerate(flatten_specs(specs))
        ]
    arrays = [_numpy(a) for a in _flatten(inputs, specs)]
    if sum(a.nbytes for a in arrays) > _MAX_PROBE_BYTES:
        arrays = [a[:_PROBE_ROWS] if a.ndim else a for a in arrays]
    return arrays


def run(
    model: keras.Model, specs: InputStructure, arrays: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, ...]:
    """The model's flattened outputs on ``arrays`` packed as ``specs``, in inference mode.

    ``training=False`` is passed even when the model's ``call()`` does not
    declare it: Keras takes it off and hands it down through its call context
    to Dropout and the augmentation layers, which otherwise default to their
    random training behaviour. Layers that draw random numbers at inference
    (a VAE's sampling layer) draw them from seed generators set to fixed states
    for the run, so the rebuilt model draws the same numbers.
    """
    structured = unflatten(specs, list(arrays))
    with _fixed_seed_states(model):
        outputs = call_model(model, structured, training=False)
    return tuple(_numpy(o) for o in keras.tree.flatten(outputs))


def max_difference(
    expected: tuple[np.ndarray, ...], actual: tuple[np.ndarray, ...]
) -> float:
    """Largest absolute difference; infinite when shapes or counts differ.

    Text outputs (a lookup inverted back to tokens) are equal or infinitely apart.
    """
    if len(expected) != len(actual):
        return float("inf")
    largest = 0.0
    for want, got in zip(expected, actual, strict=True):
        if want.shape != got.shape:
            return float("inf")
        if _is_text(want) or _is_text(got):
            if not np.array_equal(want, got):
                return float("inf")
        elif want.size:
            want64, got64 = want.astype("float64"), got.astype("float64")
            diff = np.abs(want64 - got64)
            # NaN where the original gave NaN is a match; anywhere else, a mismatch.
            diff[np.isnan(want64) & np.isnan(got64)] = 0.0
            largest = max(largest, float(np.nan_to_num(diff, nan=np.inf).max()))
    return largest


#: Units in the last place of the largest output that rounding explains when
#: the same backend runs the model again, and when another backend does (other
#: kernels: matrix products, softmax, GELU and normalizations round differently).
SAME_BACKEND_ULPS = 16
OTHER_BACKEND_ULPS = 256


def rounding_tolerance(
    outputs: tuple[np.ndarray, ...], *, ulps: int = SAME_BACKEND_ULPS
) -> float:
    """The difference floating-point rounding alone can explain.

    The same computation in another process may accumulate in another order
    (thread scheduling, vectorised kernels): a few units in the last place of
    the largest output. Integer outputs must match exactly.
    """
    tolerance = 0.0
    for output in outputs:
        if output.dtype.kind == "f" and output.size:
            finite = np.abs(output[np.isfinite(output)].astype("float64"))
            scale = max(1.0, float(finite.max())) if finite.size else 1.0
            tolerance = max(tolerance, ulps * float(np.finfo(output.dtype).eps) * scale)
    return tolerance


def to_bytes(probe: Probe) -> bytes:
    arrays = {f"input_{i}": a for i, a in enumerate(probe.inputs)}
    arrays |= {f"output_{i}": a for i, a in enumerate(probe.outputs)}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def from_bytes(data: bytes) -> Probe:
    with np.load(io.BytesIO(data), allow_pickle=False) as stored:
        count = {
            prefix: sum(k.startswith(prefix) for k in stored.files)
            for prefix in ("input_", "output_")
        }
        inputs = tuple(stored[f"input_{i}"] for i in range(count["input_"]))
        outputs = tuple(stored[f"output_{i}"] for i in range(count["output_"]))
    return Probe(inputs, outputs)


def flatten_specs(specs: InputStructure) -> list[TensorSpec]:
    return _flatten(specs, specs)


def unflatten(specs: InputStructure, arrays: list[Any]) -> Any:
    """Pack ``arrays`` (in flattening order) into the structure of ``specs``."""
    if isinstance(specs, TensorSpec):
        return arrays.pop(0)
    if isinstance(specs, SubmodelSpecs):
        return {key: unflatten(value, arrays) for key, value in specs.submodels.items()}
    if isinstance(specs, CallSpecs):
        positional = [unflatten(value, arrays) for value in specs.args]
        keywords = {
            key: unflatten(value, arrays) for key, value in specs.kwargs.items()
        }
        return CallInputs(*positional, **keywords)
    if isinstance(specs, dict):
        return {key: unflatten(value, arrays) for key, value in specs.items()}
    return type(specs)(unflatten(value, arrays) for value in specs)


def _flatten(values: Any, specs: InputStructure) -> list[Any]:
    if isinstance(specs, TensorSpec):
        return [values]
    if isinstance(specs, SubmodelSpecs):
        return [
            leaf
            for key, spec in specs.submodels.items()
            for leaf in _flatten(values[key], spec)
        ]
    if isinstance(specs, CallSpecs):
        positional = [
            leaf
            for value, spec in zip(values.args, specs.args, strict=True)
            for leaf in _flatten(value, spec)
        ]
        return positional + [
            leaf
            for key in specs.kwargs
            for leaf in _flatten(values.kwargs[key], specs.kwargs[key])
        ]
    if isinstance(specs, dict):
        return [leaf for key in specs for leaf in _flatten(values[key], specs[key])]
    return [
        leaf
        for value, spec in zip(values, specs, strict=True)
        for leaf in _flatten(value, spec)
    ]


def _numpy(value: Any) -> np.ndarray:
    """``value`` as a NumPy array that ``np.savez`` stores without pickle.

    TensorFlow hands strings back as an object array of ``bytes``.
    """
    array = np.asarray(keras.ops.convert_to_numpy(value))
    if array.dtype == object:
        flat = array.ravel().tolist()
        if all(isinstance(item, bytes) for item in flat):
            return np.array([item.decode("utf-8") for item in flat]).reshape(
                array.shape
            )
        return array.astype(str)
    return array


def _is_text(array: np.ndarray) -> bool:
    return array.dtype.kind in "USO"


def _generated(spec: TensorSpec, seed: int) -> np.ndarray:
    if spec.dtype == STRING_DTYPE:
        return np.full(spec.shape, "")
    dtype = np.dtype(spec.dtype)
    if dtype.kind == "f":
        return np.random.default_rng(seed).normal(size=spec.shape).astype(dtype)
    # Integer inputs are usually token ids or masks: zeros are valid for both.
    return np.zeros(spec.shape, dtype=dtype)


@contextlib.contextmanager
def _fixed_seed_states(model: keras.Model) -> Iterator[None]:
    """Set every seed generator the model's layers own to a fixed state; restore after.

    The states count the random draws made so far: a check must not depend
    on how many a model has made (a snapshot stores them, Keras' weights do not).
    """
    generators = keras_compat.seed_generators(model)
    saved = [keras.ops.convert_to_numpy(g.state.value) for g in generators]
    try:
        for position, generator in enumerate(generators):
            shape, dtype = tuple(generator.state.shape), generator.state.dtype
            fixed = np.arange(position + 1, position + 1 + int(np.prod(shape)))
            generator.state.assign(fixed.reshape(shape).astype(dtype))
        yield
    finally:
        for generator, state in zip(generators, saved, strict=True):
            generator.state.assign(state)
