"""Record how a live model instance was made: constructor arguments and build inputs.

Keras 3 does not keep a subclassed Model's constructor arguments (its
``Model.__new__`` drops them, so ``get_config()`` reports the defaults).
Arguments are taken, in this order, from the caller's ``config``, the call
:mod:`snapshot.capture.record` saw, a ``get_config()`` the class defines itself,
and instance attributes named like the parameters. Whatever the source, the
arguments are checked by rebuilding the model and comparing its variables.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import keras
import numpy as np

from snapshot import keras_compat
from snapshot.analysis.modules import user_frame
from snapshot.capture import values
from snapshot.capture.assets import AssetLayer, find_asset_layers
from snapshot.capture.random_state import random_state_variables
from snapshot.capture.record import recorded_call
from snapshot.capture.training import TrainingState, capture_training
from snapshot.errors import ModelStateError, describe_failure
from snapshot.model import CallInputs


@dataclass(frozen=True)
class TensorSpec:
    """Shape and dtype of one input tensor."""

    shape: tuple[int, ...]
    dtype: str


#: The dtype of text inputs in a TensorSpec (Keras' name for it).
STRING_DTYPE = "string"


@dataclass(frozen=True)
class CallSpecs:
    """Specs of the positional and keyword arguments a model is called with."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class SubmodelSpecs:
    """Inputs of each sub-model of a model without ``call()``, by attribute name.

    A trainer wrapper (a VAE holding ``encoder`` and ``decoder``, a GAN holding
    ``generator`` and ``discriminator``) defines only ``train_step``: it is
    built, probed and verified through its sub-models, each on its own inputs.
    """

    submodels: dict[str, Any]


#: A TensorSpec, a list, tuple or str-keyed dict nesting them, CallSpecs, or
#: SubmodelSpecs (at the top only).
InputStructure = Any


def call_model(model: keras.Model, inputs: Any, **options: Any) -> Any:
    """Call ``model`` on ``inputs``, spreading CallInputs over its arguments.

    A model without ``call()`` gets a dict of inputs by sub-model: each of
    those is called on its own, and the outputs come back in a dict.
    """
    if not has_call(model):
        return {
            name: call_model(getattr(model, name), value, **options)
            for name, value in inputs.items()
        }
    if isinstance(inputs, CallInputs):
        return model(*inputs.args, **inputs.kwargs, **options)
    return model(inputs, **options)


def has_call(model: keras.Model) -> bool:
    """False for a model that inherits ``call()`` from Keras' ``Model`` (which raises)."""
    return type(model).call is not keras.Model.call


@dataclass(frozen=True)
class ModelState:
    """How to make the model again: class, arguments, and inputs to build it on."""

    #: The constructor call that rebuilds the model, as an expression tree; for
    #: Keras' own functional and Sequential models, the call of a graph builder.
    constructor: values.Expression
    #: Structure, shapes and dtypes of the inputs the model is built on.
    inputs: InputStructure
    #: Where the constructor arguments came from, for the manifest.
    args_source: str
    #: The dtype policy the model was built under (``mixed_float16``, say): its
    #: layers compute in it, so the rebuilt model must be made under it too.
    dtype_policy: str = "float32"
    #: Arrays and tensors among the constructor arguments, by the name the
    #: constructor call reads them under. Left out of ``repr`` and comparisons:
    #: the generated text depends on their names only, and ``repr`` keys the
    #: module cache.
    arrays: tuple[tuple[str, np.ndarray], ...] = field(
        default=(), repr=False, compare=False
    )
    #: The model's layers that keep state outside the weights (vocabularies),
    #: with the files their ``save_assets()`` wrote.
    assets: tuple[AssetLayer, ...] = ()
    #: How the model was compiled; None when it never was.
    training: TrainingState | None = None
    #: Whether the model has random generators (dropout's) whose state the
    #: weights file stores beside the weights, for the module to restore.
    random_state: bool = False


def capture_state(
    model: keras.Model, *, inputs: Any = None, config: Mapping[str, Any] | None = None
) -> ModelState:
    """Record ``model``'s constructor arguments and input structure, and check them."""
    state = _capture_state(model, inputs=inputs, config=config)
    return replace(state, random_state=bool(random_state_variables(model)))


def _capture_state(
    model: keras.Model, *, inputs: Any, config: Mapping[str, Any] | None
) -> ModelState:
    if has_call(model):
        input_specs = _input_specs(model, inputs)
        if not model.built:
            # An unbuilt model has no weights to save yet; build it like the loader will.
            _call_on(model, zeros_like_specs(input_specs))
    else:
        input_specs = _submodel_specs(model, inputs)
        # Keras never builds a model it cannot call, and refuses to save the
        # weights of an unbuilt one; its sub-models hold every weight and are built.
        model.built = True
    kind = keras_compat.graph_kind(model)
    if kind is not None:
        return _graph_state(model, kind, input_specs, config)
    args, varargs, source = _constructor_args(model, config)
    arrays = values.ArrayStore()
    constructor = values.Call(
        values.Ref(type(model).__module__, type(model).__name__),
        tuple(
            values.describe(
                v, where="a positional constructor argument", arrays=arrays, name="arg"
            )
            for v in varargs
        ),
        tuple(
            (
                name,
                values.describe(
                    value,
                    where=f"constructor argument {name!r}",
                    arrays=arrays,
                    name=name,
                ),
            )
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
        arrays=tuple(arrays.arrays.items()),
        assets=find_asset_layers(model, root_name="model"),
        training=capture_training(model),
    )


def _graph_state(
    model: keras.Model,
    kind: str,
    input_specs: InputStructure,
    config: Mapping[str, Any] | None,
) -> ModelState:
    """A functional or Sequential model of Keras' own: its graph is written as code."""
    if config is not None:
        raise ModelStateError(
            f"config= gives constructor arguments, but {model.name!r} is a Keras "
            f"{kind} model, rebuilt from its graph; leave config= out"
        )
    arrays = values.ArrayStore()
    constructor = values.describe(
        model, where=f"the {kind} model {model.name!r}", arrays=arrays
    )
    policy = getattr(getattr(model, "dtype_policy", None), "name", "float32")
    return ModelState(
        constructor,
        input_specs,
        f"{kind} graph",
        dtype_policy=policy,
        arrays=tuple(arrays.arrays.items()),
        assets=find_asset_layers(model, root_name="model"),
        training=capture_training(model),
    )


def zeros_like_specs(specs: InputStructure) -> Any:
    """Zero arrays shaped like ``specs``, for building a model."""
    return _map_specs(_zeros, specs)


def _zeros(spec: TensorSpec) -> np.ndarray:
    if spec.dtype == STRING_DTYPE:
        return np.full(spec.shape, "")
    return np.zeros(spec.shape, dtype=spec.dtype)


def _map_specs(function: Any, specs: InputStructure) -> Any:
    if isinstance(specs, TensorSpec):
        return function(specs)
    if isinstance(specs, SubmodelSpecs):
        return {
            name: _map_specs(function, value) for name, value in specs.submodels.items()
        }
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
    if isinstance(specs, SubmodelSpecs):
        return {
            "submodels": [[k, specs_to_json(v)] for k, v in specs.submodels.items()]
        }
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
    if "submodels" in data:
        return SubmodelSpecs(
            {key: specs_from_json(value) for key, value in data["submodels"]}
        )
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
    symbolic = _functional_inputs(model)
    if symbolic is not None:
        return symbolic
    recorded = keras_compat.build_input_shapes(model)
    values = list(recorded.values()) if recorded else []
    if not model.built or len(values) != 1 or values[0] is None:
        raise ModelStateError(
            f"{type(model).__name__} has not been called on data yet, so its input "
            "shapes are unknown; pass inputs= (an example batch) to snapshot.save"
        )
    dtype = str(getattr(model, "input_dtype", None) or model.compute_dtype)
    return _specs_from_shapes(values[0], dtype)


def _functional_inputs(model: keras.Model) -> InputStructure | None:
    """Specs of a functional model's symbolic inputs (``keras.Input``), batch size 1."""
    try:
        symbolic = model.input
    except (AttributeError, ValueError):  # not functional, or never called
        return None
    leaves = keras.tree.flatten(symbolic)
    if not leaves or not all(isinstance(t, keras.KerasTensor) for t in leaves):
        return None
    return keras.tree.map_structure(
        lambda tensor: TensorSpec(
            tuple(1 if d is None else int(d) for d in tensor.shape),
            _dtype_name(tensor.dtype),
        ),
        symbolic,
    )


def _submodel_specs(model: keras.Model, inputs: Any) -> SubmodelSpecs:
    """Each sub-model's inputs, for a model without ``call()``.

    By default the shapes each sub-model recorded at its first call; ``inputs``
    may give example batches by attribute name instead.
    """
    name = type(model).__name__
    submodels = callable_submodels(model)
    if not submodels:
        raise ModelStateError(
            f"{name} has no call() method and no sub-model that has one; "
            "a snapshot is verified by calling the model or its sub-models"
        )
    given = {} if inputs is None else inputs
    if not isinstance(given, Mapping) or not set(given) <= set(submodels):
        raise ModelStateError(
            f"{name} has no call() method: pass inputs= as a dict of example "
            f"batches by sub-model ({', '.join(repr(k) for k in submodels)}), "
            "or leave it out to use the shapes they were built with"
        )
    specs: dict[str, InputStructure] = {}
    for attribute, submodel in submodels.items():
        if attribute in given:
            if isinstance(given[attribute], CallInputs):
                raise ModelStateError(
                    f"sub-model {attribute!r} of {name}: CallInputs is not supported "
                    "for the sub-models of a model without call()"
                )
            specs[attribute] = _specs_of(given[attribute])
            if not submodel.built:
                _call_on(submodel, zeros_like_specs(specs[attribute]))
            continue
        try:
            specs[attribute] = _input_specs(submodel, None)
        except ModelStateError:
            raise ModelStateError(
                f"sub-model {attribute!r} of {name} has not been called on data yet; "
                f"pass inputs={{{attribute!r}: an example batch, ...}} to snapshot.save"
            ) from None
    return SubmodelSpecs(specs)


def callable_submodels(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """The layers and models a model holds directly as attributes, that have ``call()``.

    Keras' own bookkeeping attributes (``_layers``, trackers) are left out:
    only attributes holding a layer themselves count.
    """
    found: dict[str, keras.layers.Layer] = {}
    for attribute, value in vars(model).items():
        if (
            isinstance(value, keras.layers.Layer)
            and not isinstance(value, keras.metrics.Metric)
            and has_call(value)
            and value not in found.values()
        ):
            found[attribute] = value
    return found


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
    array = np.asarray(keras.ops.convert_to_numpy(inputs))
    return TensorSpec(tuple(int(d) for d in array.shape), _dtype_name(array.dtype))


def _dtype_name(dtype: Any) -> str:
    """``float32``; text (NumPy ``<U5``, ``object`` or Keras ``string``) is ``string``."""
    name = str(dtype)
    try:
        kind = np.dtype(name).kind
    except TypeError:  # a dtype NumPy does not know (bfloat16 without ml_dtypes)
        return name
    return STRING_DTYPE if name == STRING_DTYPE or kind in "USO" else name


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


def check_config_names(maker: Callable[..., Any], config: Mapping[str, Any]) -> None:
    """Raise ModelStateError when ``config`` names unknown or lacks required arguments.

    ``maker`` is the model class (its ``__init__`` is checked) or a factory function.
    """
    bound = isinstance(maker, type)
    signature = inspect.signature(maker.__init__ if bound else maker)
    callee = f"{maker.__name__}.__init__" if bound else f"{callable_name(maker)}()"
    parameters = _named_parameters(signature, bound=bound)
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    unknown = [name for name in config if name not in parameters]
    missing = [
        name
        for name, parameter in parameters.items()
        if parameter.default is parameter.empty and name not in config
    ]
    if unknown and not takes_kwargs:
        raise ModelStateError(
            f"config names {unknown[0]!r}, which {callee} does not take"
            + _did_you_mean(unknown[0], [n for n in parameters if n not in config])
        )
    if missing:
        arguments = _names(missing)
        what = "a required argument" if len(missing) == 1 else "required arguments"
        typos = {name: _did_you_mean(name, missing) for name in unknown}
        hint = next((hint for hint in typos.values() if hint), "")
        # The skeleton leaves out what the hint calls a typo.
        kept = {k: v for k, v in config.items() if not typos.get(k)}
        raise ModelStateError(
            f"config lacks {arguments}, {what} of {callee}{hint}; complete it: "
            f"config={config_skeleton(signature, kept, missing, bound=bound)}"
        )


def callable_name(function: Callable[..., Any]) -> str:
    """A function's name; a ``functools.partial``'s is its function's."""
    inner = getattr(function, "func", function)
    return str(getattr(inner, "__name__", type(function).__name__))


def _did_you_mean(given: str, names: list[str]) -> str:
    """`` (did you mean 'units' for 'unit'?)``, for a close match; else ``""``."""
    close = difflib.get_close_matches(given, names, n=1)
    return f" (did you mean {close[0]!r} for {given!r}?)" if close else ""


def config_skeleton(
    signature: inspect.Signature,
    known: Mapping[str, Any],
    missing: list[str],
    *,
    defaults: bool = False,
    bound: bool = True,
) -> str:
    """``{'units': 4, 'width': ...}``: known arguments as code, ``...`` for missing ones.

    Arguments come in the constructor's order; with ``defaults``, the others
    follow with their default values, to check. Known arguments the
    constructor does not name (taken by ``**kwargs``) come last. ``bound``:
    the signature's first parameter is ``self``.
    """
    parts = []
    for name, parameter in _named_parameters(signature, bound=bound).items():
        if name in missing:
            parts.append(f"{name!r}: ...")
        elif name in known:
            parts.append(f"{name!r}: {_as_code(name, known[name])}")
        elif defaults and parameter.default is not parameter.empty:
            parts.append(f"{name!r}: {_as_code(name, parameter.default)}")
    for name, value in known.items():
        if name not in signature.parameters:
            parts.append(f"{name!r}: {_as_code(name, value)}")
    return "{" + ", ".join(parts) + "}"


def _as_code(name: str, value: Any) -> str:
    try:
        expression = values.describe(value, where=f"argument {name!r}")
    except ModelStateError:
        return "..."
    return values.render(expression, lambda ref: ref.name)


def _names(names: list[str]) -> str:
    """``'a'``, ``'a' and 'b'``, ``'a', 'b' and 'c'``."""
    quoted = [repr(name) for name in names]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _named_parameters(
    signature: inspect.Signature, *, bound: bool = True
) -> dict[str, inspect.Parameter]:
    parameters = list(signature.parameters.values())[1 if bound else 0 :]
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
    """Recover arguments stored as ``self.<parameter>``; required ones must be found.

    Every required argument found nowhere is named in one error, with the
    ``config=`` to pass filled in with what was found.
    """
    args: dict[str, Any] = {}
    missing = []
    for name, parameter in _named_parameters(signature).items():
        value = getattr(model, name, parameter.empty)
        if value is not parameter.empty and _describable(value):
            args[name] = value
        elif parameter.default is parameter.empty:
            missing.append(name)
    if missing:
        arguments = _names(missing)
        what = "required argument" if len(missing) == 1 else "required arguments"
        raise ModelStateError(
            f"cannot recover {what} {arguments} of {type(model).__name__} (its "
            "constructor call was not recorded, and no get_config() or attribute holds "
            f"{'it' if len(missing) == 1 else 'them'}); "
            f"pass config={config_skeleton(signature, args, missing, defaults=True)}"
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
    difference = _first_variable_difference(model, rebuilt)
    if difference is not None:
        advice = (
            "the config= given does not describe this model; check its values"
            if source == "config"
            else "pass the constructor arguments as config="
        )
        raise ModelStateError(
            f"{cls.__name__} rebuilt from its arguments (taken from {source}) differs "
            f"from the live model: {difference}; {advice}"
        )


def _first_variable_difference(model: keras.Model, rebuilt: keras.Model) -> str | None:
    """Where the variables of ``rebuilt`` first differ from ``model``'s, or None.

    Variables are compared in order by shape and dtype; paths only name them
    (a rebuilt model's layer names get new counters: ``dense_3``).
    """
    live, other = list(model.weights), list(rebuilt.weights)
    for mine, theirs in zip(live, other, strict=False):
        if _layout(mine) != _layout(theirs):
            return (
                f"variable {mine.path} is {_spec(mine)} in the live model, "
                f"{_spec(theirs)} rebuilt"
            )
    if len(live) == len(other):
        return None
    longer, which = (live, "live") if len(live) > len(other) else (other, "rebuilt")
    extra = longer[min(len(live), len(other))]
    return (
        f"the live model has {len(live)} variables, the rebuilt one {len(other)} "
        f"(first unmatched, {which}: {extra.path} {_spec(extra)})"
    )


def _layout(variable: Any) -> tuple[tuple[int, ...], str]:
    return tuple(variable.shape), str(variable.dtype)


def _spec(variable: Any) -> str:
    shape, dtype = _layout(variable)
    return f"{shape} {dtype}"


# Values as Python code ---------------------------------------------------------------


def _describable(value: Any) -> bool:
    try:
        values.describe(value, where="")
    except ModelStateError:
        return False
    return True
