"""Every private Keras API keras-snapshot reads, in one place.

Keras offers no public way to learn these facts. Each function names the
internal it reads and degrades to a safe answer when a Keras release renames
it. Importing this module does not import Keras.
"""

from __future__ import annotations

import sys
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
