"""Record how a live model instance was made: constructor arguments and build inputs.

Keras 3 does not keep a subclassed Model's constructor arguments (its
``Model.__new__`` drops them, so ``get_config()`` reports the defaults).
Arguments are taken, in this order, from the caller's ``config``, the call
:mod:`snapshot.capture.record` saw, a ``get_config()`` the class defines itself,
and instance attributes named like the parameters. Whatever the source, the
arguments are checked by rebuilding the model and comparing its variables.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from snapshot import keras_compat
from snapshot.analysis.modules import user_frame
from snapshot.capture import values
from snapshot.capture.record import recorded_call
from snapshot.capture.training import TrainingState, capture_training
from snapshot.errors import ModelStateError, describe_failure
from snapshot.model import CallInputs


@dataclass(frozen=True)
class TensorSpec:
    """Shape and dtype of one input tensor."""

    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class CallSpecs:
    """Specs of the positional and keyword arguments a model is called with."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]


#: A TensorSpec, a list, tuple or str-keyed dict nesting them, or CallSpecs.
InputStructure = Any


def call_model(model: keras.Model, inputs: Any, **options: Any) -> Any:
    """Call ``model`` on ``inputs``, spreading CallInputs over its arguments."""
    if isinstance(inputs, CallInputs):
        return model(*inputs.args, **inputs.kwargs, **options)
    return model(inputs, **options)


@dataclass(frozen=True)
class ModelState:
    """How to make the model again: class, arguments, and inputs to build it on."""

    #: The constructor call that rebuilds the model, as an expression tree.
    constructor: values.Call
    #: Structure, shapes and dtypes of the inputs the model is built on.
    inputs: InputStructure
    #: Where the constructor arguments came from, for the manifest.
    args_source: str
    #: The dtype policy the model was built under (``mixed_float16``, say): its
    #: layers compute in it, so the rebuilt model must be made under it too.
    dtype_policy: str = "float32"
    #: How the model was compiled; None when it never was.
    training: TrainingState | None = None


def capture_state(
    model: keras.Model, *, inputs: Any = None, config: Mapping[str, Any] | None = None
) -> ModelState:
    """Record ``model``'s constructor arguments and input structure, and check them."""
    input_specs = _input_specs(model, inputs)
    if not model.built:
        # An unbuilt model has no weights to save yet; build it like the loader will.
        _call_on(model, zeros_like_specs(input_specs))
    args, varargs, source = _constructor_args(model, config)
    constructor = values.Call(
        values.Ref(type(model).__module__, type(model).__name__),
        tuple(
            values.describe(v, where="a positional constructor argument")
            for v in varargs
        ),
        tuple(
            (name, values.describe(value, where=f"constructor argument {name!r}"))
            for name, value in args.items()
        ),
    )
    if source != "recorded call":
        # Given or inferred arguments may be wrong; a recorded call is the call.
        # (Verification, on by default, rebuilds from every source.)
        _check_rebuild(model, args, varargs, input_specs, source)
    policy = getattr(getattr(model, "dtype_policy", None), "name", "float32")
    return ModelState(
        constructor,
        input_specs,
        source,
        dtype_policy=policy,
        training=capture_training(model),
    )


def zeros_like_specs(specs: InputStructure) -> Any:
    """Zero arrays shaped like ``specs``, for building a model."""
    return _map_specs(lambda spec: np.zeros(spec.shape, dtype=spec.dtype), specs)


def _map_specs(function: Any, specs: InputStructure) -> Any:
    if isinstance(specs, TensorSpec):
        return function(specs)
    if isinstance(specs, CallSpecs):
        return CallInputs(
            *(_map_specs(function, value) for value in specs.args),
            **{key: _map_specs(function, value) for key, value in specs.kwargs.items()},
        )
    if isinstance(specs, dict):
        return {key: _map_specs(function, value) for key, value in specs.items()}
    if isinstance(specs, (list, tuple)):
        return type(specs)(_map_specs(function, value) for value in specs)
    raise TypeError(f"not an input structure: {specs!r}")


def _call_on(model: keras.Model, inputs: Any) -> None:
    try:
        call_model(model, inputs)
    except Exception as error:
        failure = describe_failure(error, at=user_frame(error))
        raise ModelStateError(
            f"inputs do not fit {type(model).__name__}: {failure}"
        ) from error


def specs_to_json(specs: InputStructure) -> Any:
    """Input specs as JSON data, containers tagged so tuples stay tuples."""
    if isinstance(specs, TensorSpec):
        return {"shape": list(specs.shape), "dtype": specs.dtype}
    if isinstance(specs, CallSpecs):
        return {
            "call": {
                "args": [specs_to_json(value) for value in specs.args],
                "kwargs": [[k, specs_to_json(v)] for k, v in specs.kwargs.items()],
            }
        }
    if isinstance(specs, dict):
        # Pairs, not an object: the order fixes how inputs are flattened, and
        # JSON objects get their keys sorted.
        return {"dict": [[key, specs_to_json(value)] for key, value in specs.items()]}
    kind = "tuple" if isinstance(specs, tuple) else "list"
    return {kind: [specs_to_json(value) for value in specs]}


def specs_from_json(data: Any) -> InputStructure:
    """Inverse of :func:`specs_to_json`."""
    if "shape" in data:
        return TensorSpec(tuple(int(d) for d in data["shape"]), str(data["dtype"]))
    if "call" in data:
        return CallSpecs(
            tuple(specs_from_json(value) for value in data["call"]["args"]),
            {key: specs_from_json(value) for key, value in data["call"]["kwargs"]},
        )
    if "dict" in data:
        return {key: specs_from_json(value) for key, value in data["dict"]}
    if "tuple" in data:
        return tuple(specs_from_json(value) for value in data["tuple"])
    return [specs_from_json(value) for value in data["list"]]


# Inputs ------------------------------------------------------------------------------


def _input_specs(model: keras.Model, inputs: Any) -> InputStructure:
    if inputs is not None:
        return _specs_of(inputs)
    recorded = keras_compat.build_input_shapes(model)
    if not model.built or not recorded or len(recorded) != 1:
        raise ModelStateError(
            f"{type(model).__name__} has not been called on data yet, so its input "
            "shapes are unknown; pass inputs= (an example batch) to snapshot.save"
        )
    (shapes,) = recorded.values()
    dtype = str(getattr(model, "input_dtype", None) or model.compute_dtype)
    return _specs_from_shapes(shapes, dtype)


def _specs_of(inputs: Any) -> InputStructure:
    if isinstance(inputs, CallInputs):
        return CallSpecs(
            tuple(_specs_of(value) for value in inputs.args),
            {str(key): _specs_of(value) for key, value in inputs.kwargs.items()},
        )
    if isinstance(inputs, Mapping):
        return {str(key): _specs_of(value) for key, value in inputs.items()}
    if isinstance(inputs, (list, tuple)) and not _is_array_like_list(inputs):
        return type(inputs)(_specs_of(value) for value in inputs)
    array = keras.ops.convert_to_numpy(inputs)
    return TensorSpec(tuple(int(d) for d in array.shape), str(array.dtype))


def _is_array_like_list(value: Any) -> bool:
    # A list of numbers (``[[1, 2, 3]]``) is one tensor, not a list of inputs.
    return (
        bool(value)
        and all(isinstance(v, (int, float, list)) for v in value)
        and not any(hasattr(v, "shape") for v in value)
    )


def _specs_from_shapes(shapes: Any, dtype: str) -> InputStructure:
    if isinstance(shapes, dict):
        return {
            str(key): _specs_from_shapes(value, dtype) for key, value in shapes.items()
        }
    if (
        isinstance(shapes, (list, tuple))
        and shapes
        and not all(d is None or isinstance(d, int) for d in shapes)
    ):
        return type(shapes)(_specs_from_shapes(value, dtype) for value in shapes)
    # Unknown dimensions (usually the batch) are built with size 1.
    return TensorSpec(tuple(1 if d is None else int(d) for d in shapes), dtype)


# Constructor arguments ---------------------------------------------------------------


def _constructor_args(
    model: keras.Model, config: Mapping[str, Any] | None
) -> tuple[dict[str, Any], tuple[Any, ...], str]:
    cls = type(model)
    signature = inspect.signature(cls.__init__)
    if config is not None:
        check_config_names(cls, config)
        return dict(config), (), "config"
    recorded = recorded_call(model)
    if recorded is not None:
        varargs, args = values.bind_call(cls, *recorded)
        return args, varargs, "recorded call"
    if _defines_own_get_config(cls):
        parameters = _named_parameters(signature)
        found = model.get_config()
        return {k: v for k, v in found.items() if k in parameters}, (), "get_config"
    return _from_attributes(model, signature), (), "attributes"


def check_config_names(cls: type, config: Mapping[str, Any]) -> None:
    """Raise ModelStateError when ``config`` names unknown or lacks required arguments."""
    signature = inspect.signature(cls.__init__)  # type: ignore[misc]
    parameters = _named_parameters(signature)
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    unknown = [name for name in config if name not in parameters]
    if unknown and not takes_kwargs:
        raise ModelStateError(
            f"config names {unknown[0]!r}, which {cls.__name__}.__init__ does not take"
        )
    missing = [
        name
        for name, parameter in parameters.items()
        if parameter.default is parameter.empty and name not in config
    ]
    if missing:
        raise ModelStateError(
            f"config lacks {missing[0]!r}, a required argument of {cls.__name__}.__init__"
        )


def _named_parameters(signature: inspect.Signature) -> dict[str, inspect.Parameter]:
    parameters = list(signature.parameters.values())[1:]  # drop self
    return {
        p.name: p
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.POSITIONAL_ONLY)
    }


def _defines_own_get_config(cls: type) -> bool:
    for klass in cls.__mro__:
        if "get_config" in vars(klass):
            return not klass.__module__.startswith("keras.")
    return False


def _from_attributes(
    model: keras.Model, signature: inspect.Signature
) -> dict[str, Any]:
    """Recover arguments stored as ``self.<parameter>``; required ones must be found."""
    args: dict[str, Any] = {}
    for name, parameter in _named_parameters(signature).items():
        value = getattr(model, name, parameter.empty)
        if value is not parameter.empty and _describable(value):
            args[name] = value
        elif parameter.default is parameter.empty:
            raise ModelStateError(
                f"cannot recover required argument {name!r} of {type(model).__name__}; "
                f"import snapshot before creating the model, or pass config={{{name!r}: ...}}"
            )
    return args


def _check_rebuild(
    model: keras.Model,
    args: dict[str, Any],
    varargs: tuple[Any, ...],
    inputs: InputStructure,
    source: str,
) -> None:
    """Rebuild from the recorded arguments and compare the variables with ``model``."""
    cls = type(model)
    try:
        rebuilt = cls(*varargs, **args)
        call_model(rebuilt, zeros_like_specs(inputs))
    except Exception as error:
        failure = describe_failure(error, at=user_frame(error))
        raise ModelStateError(
            f"{cls.__name__} cannot be rebuilt from its arguments (taken from {source}) "
            f"and inputs: {failure}"
        ) from error
    expected = _variable_layout(model)
    actual = _variable_layout(rebuilt)
    if expected != actual:
        differing = next(
            (f"{a} vs {b}" for a, b in zip(expected, actual, strict=False) if a != b),
            f"{len(expected)} variables vs {len(actual)}",
        )
        raise ModelStateError(
            f"{cls.__name__} rebuilt from its arguments (taken from {source}) differs from "
            f"the live model ({differing}); pass the constructor arguments as config="
        )


def _variable_layout(model: keras.Model) -> list[tuple[tuple[int, ...], str]]:
    # Names are left out: unnamed weights get process-wide counters ("variable_3").
    return [(tuple(v.shape), str(v.dtype)) for v in model.weights]


# Values as Python code ---------------------------------------------------------------


def _describable(value: Any) -> bool:
    try:
        values.describe(value, where="")
    except ModelStateError:
        return False
    return True
