"""Every private Keras API keras-snapshot reads, in one place.

Keras offers no public way to learn these facts. Each function names the
internal it reads and degrades to a safe answer when a Keras release renames
it. Importing this module does not import Keras.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any


def functional_class() -> type | None:
    """``keras.src.models.functional.Functional``, if Keras has loaded it.

    Keras puts it into the bases of a subclassed Model whose ``__init__`` builds
    a functional graph, after the first instance; it overrides ``__new__``.
    """
    module = sys.modules.get("keras.src.models.functional")
    found = getattr(module, "Functional", None)
    return found if isinstance(found, type) else None


def public_name(obj: Any) -> str | None:
    """Keras' public dotted name of ``obj`` (``keras.layers.Dense``), if exported.

    Reads ``keras.src.api_export.get_name_from_symbol``.
    """
    try:
        from keras.src.api_export import get_name_from_symbol
    except ImportError:
        return None
    name = get_name_from_symbol(obj)
    return name if isinstance(name, str) else None


def build_input_shapes(model: Any) -> dict[str, Any] | None:
    """The input shapes Keras recorded at the model's first call, by argument name.

    Reads ``Layer._build_shapes_dict``.
    """
    recorded = getattr(model, "_build_shapes_dict", None)
    return recorded if isinstance(recorded, dict) else None


def call_takes_training(layer: Any) -> bool:
    """True when the layer's ``call()`` declares a ``training`` argument.

    Reads ``Layer._call_has_training_arg``.
    """
    return bool(getattr(layer, "_call_has_training_arg", False))


def producing_operation(tensor: Any) -> Any:
    """The operation (layer) that produced a symbolic Keras tensor, or None.

    Reads ``KerasTensor._keras_history``.
    """
    history = getattr(tensor, "_keras_history", None)
    return getattr(history, "operation", None)


def same_in_keras(path: tuple[str, ...]) -> bool:
    """True when ``tensorflow.<path>`` is what ``<path>`` names under the ``keras`` package.

    ``tensorflow.keras`` is Keras 3 itself under TensorFlow 2.16 and later,
    seen through ``keras._tf_keras``, a mirror with a few legacy extras
    (``backend.int_shape``): an object reached both ways must be the same
    object, a module the same mirrored module. Only modules already imported
    are looked at.
    """
    if not path or path[0] != "keras":
        return False
    found = []
    for root, names in (
        (sys.modules.get("tensorflow"), path),
        (sys.modules.get("keras"), path[1:]),
    ):
        value: Any = root
        for name in names:
            value = getattr(value, name, None)
            if value is None:
                return False
        found.append(value)
    through_tensorflow, in_keras = found
    if through_tensorflow is in_keras:
        return True
    mirrored = getattr(through_tensorflow, "__name__", "")
    return (
        isinstance(in_keras, ModuleType)
        and isinstance(through_tensorflow, ModuleType)
        and mirrored.replace("keras._tf_keras.keras", "keras", 1) == in_keras.__name__
    )


def compile_arguments(model: Any) -> dict[str, Any] | None:
    """The arguments ``model.compile()`` was last called with, or None if never.

    Reads ``Trainer._compile_config.config`` (the objects passed, not their
    serialization: a Loss instance stays the instance, an optimizer given as a
    string is already the optimizer it named).
    """
    if not getattr(model, "compiled", False):
        return None
    recorded = getattr(getattr(model, "_compile_config", None), "config", None)
    return dict(recorded) if isinstance(recorded, dict) else None


def metric_direction(model: Any, name: str) -> str | None:
    """``"up"`` or ``"down"``: which way the compiled metric ``name`` improves, if known.

    Reads ``Metric._direction`` of the metrics inside ``model.metrics``
    (``CompileMetrics`` holds the compiled ones under ``.metrics``).
    """
    for metric in getattr(model, "metrics", ()):
        for inner in [metric, *getattr(metric, "metrics", ())]:
            direction = getattr(inner, "_direction", None)
            if getattr(inner, "name", None) == name and direction in ("up", "down"):
                return str(direction)
    return None


def optimizer_arrays_as_variables(
    model: Any, operations: list[tuple[str, Any, Any]]
) -> list[tuple[str, Any, Any]]:
    """``operations`` with the optimizer's stored arrays replaced by its variables.

    ``BaseOptimizer.save_own_variables`` stores ``variable.numpy()`` of each of
    ``optimizer.variables`` in order, under the keys ``"0"``, ``"1"``... of the
    group ``optimizer``: copies made at the walk, which a later capture must
    not reuse. Where that holds (same class method, same count, shapes and
    keys), the variables themselves are put back, so the layout can be kept
    and the values read again. Anything else is left as it is.
    """
    optimizer = getattr(model, "optimizer", None)
    variables = list(getattr(optimizer, "variables", None) or ())
    try:
        from keras.src.optimizers.base_optimizer import BaseOptimizer
    except ImportError:
        return operations
    if not variables or (
        getattr(type(optimizer), "save_own_variables", None)
        is not BaseOptimizer.save_own_variables
    ):
        return operations
    group, current = [], None
    for index, (kind, name, _) in enumerate(operations):
        if kind == "make":
            current = name
        elif current == "optimizer":
            group.append(index)
    if len(group) != len(variables):
        return operations
    replaced = list(operations)
    for position, (index, variable) in enumerate(zip(group, variables, strict=True)):
        kind, name, value = operations[index]
        if name != str(position) or tuple(getattr(value, "shape", ())) != tuple(
            variable.shape
        ):
            return operations
        replaced[index] = (kind, name, variable)
    return replaced


def weights_operations(model: Any) -> list[tuple[str, Any, Any]] | None:
    """What ``model.save_weights`` would write, as operations on an HDF5 store.

    ``("make", path, metadata)`` opens a group, ``("set", key, value)`` stores
    one value in it, as the layer gave it (usually one of its variables).
    Keras' own walk (``saving_lib._save_state``) and each layer's
    ``save_own_variables`` decide the layout, so a layer that saves its
    variables its own way is written as Keras writes it. None when this Keras
    has no such internals (the caller then uses ``save_weights``).
    """
    try:
        from keras.src.saving import saving_lib

        store_class = saving_lib.H5IOStore
        save_state = saving_lib._save_state
    except (ImportError, AttributeError):
        return None

    class RecordingStore(store_class):  # type: ignore[misc, valid-type]
        """Records writes instead of making an HDF5 file."""

        def __init__(self) -> None:
            self.mode = "w"
            self.operations: list[tuple[str, Any, Any]] = []
            self._keys: list[str] = []

        def __bool__(self) -> bool:
            return True

        def make(self, path: str, metadata: dict[str, Any] | None = None) -> Any:
            self.operations.append(("make", path, dict(metadata or {}) or None))
            self._keys = []
            return self

        def __setitem__(self, key: str, value: Any) -> None:
            self.operations.append(("set", key, value))
            self._keys.append(key)

        def __len__(self) -> int:
            return len(self._keys)

        def keys(self) -> list[str]:
            return list(self._keys)

        def __contains__(self, key: object) -> bool:
            return key in self._keys

        def close(self) -> None:
            pass

    store = RecordingStore()
    with attribute_skipsets_cached():
        save_state(
            model,
            weights_store=store,
            assets_store=None,
            inner_path="",
            visited_saveables=set(),
        )
    return store.operations


#: ``saving_lib.get_attr_skipset``'s answers by object type, kept across calls.
_SKIPSETS: dict[str, Any] = {}
_SKIPSET_TYPES = (
    "Operation",
    "Layer",
    "Functional",
    "Sequential",
    "Metric",
    "Optimizer",
    "Loss",
)


@contextlib.contextmanager
def attribute_skipsets_cached() -> Iterator[None]:
    """Within this block, Keras' saving walk reuses its attribute skip sets.

    ``saving_lib.get_attr_skipset`` builds a throwaway ``Layer()`` (about a
    millisecond) for every layer it saves or loads, because Keras 3.15
    caches the set under ``saving_attr_skipset_*`` and looks it up under
    ``saving_attr_skiplist_*``. The sets are handed to it under the key it
    reads for the duration of the block only, so Keras' own saving outside
    it behaves as it always has.
    """
    try:
        from keras.src.backend.common import global_state
    except ImportError:
        yield
        return
    tracker = global_state.GLOBAL_STATE_TRACKER
    lent = []
    for kind, skipset in tuple(_SKIPSETS.items()):
        if getattr(tracker, f"saving_attr_skiplist_{kind}", None) is None:
            setattr(tracker, f"saving_attr_skiplist_{kind}", skipset)
            lent.append(kind)
    try:
        yield
    finally:
        for kind in _SKIPSET_TYPES:
            made = getattr(tracker, f"saving_attr_skipset_{kind}", None)
            if isinstance(made, set):
                _SKIPSETS.setdefault(kind, made)
        for kind in lent:
            with contextlib.suppress(AttributeError):
                delattr(tracker, f"saving_attr_skiplist_{kind}")


def write_weights_operations(
    operations: list[tuple[str, Any, Any]], target: Any
) -> None:
    """Replay :func:`weights_operations` into an HDF5 file with Keras' own store.

    ``target`` is a path or an ``io.BytesIO``. Reads ``saving_lib.H5IOStore``.
    """
    from keras.src.saving import saving_lib

    store = saving_lib.H5IOStore(target, mode="w")
    try:
        for kind, name, value in operations:
            if kind == "make":
                store.make(name, metadata=value)
            else:
                store[name] = value
    finally:
        store.close()


def learning_rate_object(optimizer: Any) -> Any:
    """The optimizer's learning-rate schedule (or callable), None for a plain rate.

    Reads ``BaseOptimizer._learning_rate``: the public ``learning_rate`` gives
    the schedule's current value, not the schedule.
    """
    found = getattr(optimizer, "_learning_rate", None)
    if found is None or hasattr(found, "assign") or not callable(found):
        return None
    return found


def layer_classes(model: Any) -> tuple[type, ...]:
    """The classes of every layer inside ``model``, nested ones included, once each.

    Reads ``Layer._flatten_layers``.
    """
    flatten = getattr(model, "_flatten_layers", None)
    if flatten is None:
        return ()
    try:
        layers = list(flatten(include_self=False, recursive=True))
    except TypeError:
        return ()
    return tuple(dict.fromkeys(type(layer) for layer in layers))


def graph_kind(model: Any) -> str | None:
    """``"functional"`` or ``"sequential"`` for Keras' own graph classes, else None.

    ``keras.Model(inputs, outputs)`` makes an instance of
    ``keras.src.models.functional.Functional``; a subclass of either class
    defined in user code is a class like any other, so it is not a graph here.
    """
    import keras

    if type(model) is keras.Sequential:
        return "sequential"
    if type(model) is functional_class():
        return "functional"
    return None


def sequential_layers(model: Any) -> list[Any]:
    """A Sequential's layers in order, its ``InputLayer`` first when it has one.

    Reads ``Sequential._layers`` (``layers`` leaves the input layer out).
    """
    return list(getattr(model, "_layers", None) or model.layers)


def graph_nodes(model: Any) -> list[Any]:
    """The call nodes of a functional model, in the order Keras runs them.

    Reads ``Function._nodes_by_depth`` (deepest first, as ``_run_through_graph``
    does) and ``Function._nodes``, the keys of the nodes that belong to this
    model (a shared layer also has nodes in other graphs); input nodes are
    left out.
    """
    own: set[str] = getattr(model, "_nodes", set())
    by_depth = model._nodes_by_depth
    found = []
    for depth in sorted(by_depth, reverse=True):
        for node in by_depth[depth]:
            if node.operation is None or node.is_input:
                continue
            index = node.operation._inbound_nodes.index(node)
            if f"{id(node.operation)}_ib-{index}" in own:
                found.append(node)
    return found


def node_arguments(node: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The positional and keyword arguments a graph node was called with.

    Reads ``Node.arguments`` (``SymbolicArguments.args``/``kwargs``).
    """
    return tuple(node.arguments.args), dict(node.arguments.kwargs)


def node_outputs(node: Any) -> list[Any]:
    """The symbolic tensors a graph node produced, flattened. Reads ``Node.outputs``."""
    return list(node.outputs)


def tensor_origin(tensor: Any) -> tuple[Any, int, int] | None:
    """``(operation, node index, output index)`` that produced a symbolic tensor.

    Reads ``KerasTensor._keras_history``.
    """
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None
    operation, node_index, tensor_index = history
    return operation, int(node_index), int(tensor_index)


def graph_structure(model: Any) -> tuple[Any, Any]:
    """A functional model's inputs and outputs, nested as it was made with.

    Reads ``Function._inputs_struct`` and ``_outputs_struct``.
    """
    return model._inputs_struct, model._outputs_struct


def seed_generators(model: Any) -> list[Any]:
    """Every ``keras.random.SeedGenerator`` the model's layers own, in layer order.

    Reads ``Layer._flatten_layers`` and ``Layer._seed_generators``.
    """
    flatten = getattr(model, "_flatten_layers", None)
    if flatten is None:
        return []
    found: list[Any] = []
    seen: set[int] = set()
    for layer in flatten(include_self=True, recursive=True):
        for generator in getattr(layer, "_seed_generators", ()):
            if id(generator) not in seen and hasattr(generator, "state"):
                seen.add(id(generator))
                found.append(generator)
    return found


def is_keras_state(value: Any) -> bool:
    """True for a Keras layer (models included) or variable instance.

    Looked up only if Keras is already imported; metrics are not layers here.
    """
    keras_module = sys.modules.get("keras")
    if keras_module is None or isinstance(value, type):
        return False
    layer, variable = keras_module.layers.Layer, keras_module.Variable
    metric = keras_module.metrics.Metric
    return isinstance(value, (layer, variable)) and not isinstance(value, metric)
