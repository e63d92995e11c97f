"""How a model was compiled: optimizer, learning-rate schedule, losses and metrics.

The compile call is recorded as expressions, like the constructor call, so the
generated module writes it as code and first-party losses, metrics and
schedules are extracted with the model's own code. The optimizer is written
with its current configuration; its state (step count, moments, a learning
rate a callback changed) travels in the weights file, which
``model.save_weights`` fills under ``optimizer/`` once the optimizer is built.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from snapshot import keras_compat
from snapshot.capture import values
from snapshot.capture.record import recorded_call
from snapshot.errors import ModelStateError, one_line

#: ``model.compile`` arguments written out, in this order, when not at Keras' default.
_COMPILE_DEFAULTS: dict[str, Any] = {
    "loss": None,
    "loss_weights": None,
    "metrics": None,
    "weighted_metrics": None,
    "run_eagerly": False,
    "steps_per_execution": 1,
    # Written only when True: its default, "auto", resolves per backend and device.
    "jit_compile": False,
}


@dataclass(frozen=True)
class TrainingState:
    """The compile call that makes the model trainable again, as expressions."""

    #: ``keras.optimizers.Adam(learning_rate=0.01)``.
    optimizer: values.Expression
    #: The other ``model.compile`` keyword arguments that differ from Keras' defaults.
    arguments: tuple[tuple[str, values.Expression], ...]
    #: True when the optimizer had made its variables (the model was trained):
    #: the generated module builds it before loading, so its state is restored.
    optimizer_built: bool

    def expressions(self) -> tuple[values.Expression, ...]:
        """Every expression, for the references the generated module needs."""
        return (self.optimizer, *(value for _, value in self.arguments))

    def keywords(self) -> tuple[tuple[str, values.Expression], ...]:
        """The keyword arguments of ``model.compile``, the optimizer first."""
        return (("optimizer", self.optimizer), *self.arguments)


def capture_training(model: keras.Model) -> TrainingState | None:
    """The compile state of ``model``, or None when it was never compiled."""
    arguments = keras_compat.compile_arguments(model)
    optimizer = getattr(model, "optimizer", None)
    if arguments is None or optimizer is None:
        return None
    written = []
    for name, default in _COMPILE_DEFAULTS.items():
        value = arguments.get(name, default)
        if _same(value, default):
            continue
        written.append(
            (name, _describe_nest(value, where=f"the {name} given to compile()"))
        )
    return TrainingState(
        optimizer=_describe_optimizer(_unwrapped(optimizer, arguments)),
        arguments=tuple(written),
        optimizer_built=bool(getattr(optimizer, "built", False)),
    )


def optimizer_iterations(model: keras.Model) -> int:
    """Optimizer steps the model has taken (0 when it was never compiled)."""
    optimizer = getattr(model, "optimizer", None)
    iterations = getattr(optimizer, "iterations", None)
    return 0 if iterations is None else int(keras.ops.convert_to_numpy(iterations))


def optimizer_class_name(model: keras.Model) -> str:
    """``keras.optimizers.Adam``: the public name of the model's optimizer class."""
    optimizer = _unwrapped(model.optimizer, keras_compat.compile_arguments(model) or {})
    cls = _public_class(type(optimizer))
    return keras_compat.public_name(cls) or f"{cls.__module__}.{cls.__qualname__}"


def _same(value: Any, default: Any) -> bool:
    return type(value) is type(default) and value == default


def _unwrapped(optimizer: Any, arguments: dict[str, Any]) -> Any:
    """The optimizer ``compile()`` was given, not the LossScaleOptimizer Keras wrapped
    it in under a mixed-precision policy (compiling again wraps it again)."""
    given = arguments.get("optimizer")
    return given if isinstance(given, keras.optimizers.Optimizer) else optimizer


def _describe_optimizer(optimizer: Any) -> values.Expression:
    """``Adam(learning_rate=0.01)``: the class and the config entries off their defaults."""
    cls = _public_class(type(optimizer))
    where = f"the optimizer given to compile() ({cls.__name__})"
    try:
        config = optimizer.get_config()
    except Exception as error:  # a schedule without get_config(), say
        raise ModelStateError(
            f"{where} cannot describe itself: get_config() raised "
            f"{type(error).__name__}: {one_line(error)}"
        ) from error
    schedule = keras_compat.learning_rate_object(optimizer)
    if schedule is not None:
        config["learning_rate"] = schedule
    elif isinstance(config.get("learning_rate"), float):
        # A float32 variable: its shortest decimal spelling reads as the value set.
        config["learning_rate"] = float(str(np.float32(config["learning_rate"])))
    parameters = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    keywords = []
    for name, value in config.items():
        parameter = parameters.get(name)
        if parameter is not None and _same(value, parameter.default):
            continue
        if name == "name" and _is_automatic_name(value, cls):
            continue
        keywords.append((name, _describe_leaf(value, where=f"{where}, {name}")))
    return values.Call(_class_ref(cls, where), kwargs=tuple(keywords))


def _is_automatic_name(name: object, cls: type) -> bool:
    """True for the name Keras gives an unnamed optimizer: ``adam``, ``adam_1``, ``rm_sprop``."""
    if not isinstance(name, str):
        return False
    stem = re.sub(r"_\d+$", "", name).replace("_", "")
    return stem == cls.__name__.lower()


def _describe_nest(value: Any, *, where: str) -> values.Expression:
    """Lists, tuples and dicts of losses or metrics, each leaf described on its own."""
    if type(value) in (list, tuple):
        return values.Sequence(
            "list" if isinstance(value, list) else "tuple",
            tuple(_describe_nest(item, where=where) for item in value),
        )
    if type(value) is dict:
        return values.Mapping(
            tuple(
                (values.Literal(key), _describe_nest(item, where=f"{where}[{key!r}]"))
                for key, item in value.items()
            )
        )
    return _describe_leaf(value, where=where)


def _describe_leaf(value: Any, *, where: str) -> values.Expression:
    """A loss, metric, schedule or plain value, as code that makes it again.

    A recorded constructor call comes first (``import snapshot`` records those
    of losses, metrics and schedules); a Keras object is rebuilt from its
    config; another object only when its class defines ``get_config`` itself.
    """
    if (
        isinstance(value, _COMPILE_OBJECTS)
        and recorded_call(value) is None
        and not type(value).__module__.startswith("keras")
    ):
        if not _defines_own_get_config(type(value)):
            raise ModelStateError(
                f"{where} is a {type(value).__name__} created before `import snapshot`, "
                "so its constructor arguments are unknown; import snapshot before "
                "creating it, or give its class a get_config()"
            )
        return values.Call(
            _class_ref(type(value), where),
            (values.describe(value.get_config(), where=where),),
            method="from_config",
        )
    return values.describe(value, where=where)


_COMPILE_OBJECTS = (
    keras.losses.Loss,
    keras.metrics.Metric,
    keras.optimizers.schedules.LearningRateSchedule,
)


def _defines_own_get_config(cls: type) -> bool:
    return any(
        "get_config" in vars(klass) and not klass.__module__.startswith("keras")
        for klass in cls.__mro__
    )


def _public_class(cls: type) -> type:
    """The first class of ``cls``'s ancestry with a public Keras name, or ``cls``.

    The PyTorch backend swaps ``Adam`` for its own subclass at construction.
    """
    if not cls.__module__.startswith("keras.src"):
        return cls
    for klass in cls.__mro__:
        public = keras_compat.public_name(klass)
        if public and public.startswith("keras."):
            return klass
    return cls


def _class_ref(cls: type, where: str) -> values.Ref:
    described = values.describe(cls, where=where)
    assert isinstance(described, values.Ref)
    return described
