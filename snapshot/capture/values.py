"""Constructor argument values as small expression trees that render as Python code.

``describe(value)`` turns what a model was constructed with (plain data,
dataclass and enum instances, classes and functions, Keras objects, layers
and models with their own recorded arguments) into an expression whose
rendering, ``NetConfig(units=8)`` or ``keras.initializers.GlorotUniform.from_config
({...})``, rebuilds an equal value. References name classes and functions by
module and qualified name; the pipeline extracts first-party ones and imports
the rest.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from snapshot import keras_compat
from snapshot.analysis.modules import Origin, classify
from snapshot.capture.record import recorded_call
from snapshot.config import SnapshotConfig
from snapshot.errors import ModelStateError
from snapshot.model import ImportItem, SymbolRef


@dataclass(frozen=True, order=True)
class Ref:
    """A class or function, by where it is defined."""

    module: str
    name: str


@dataclass(frozen=True)
class Literal:
    """Plain data that ``repr`` writes as code."""

    value: Any


@dataclass(frozen=True)
class Member:
    """``Mode.SUM``: an attribute of a referenced class (enum members)."""

    owner: Ref
    name: str


@dataclass(frozen=True)
class Sequence:
    kind: str  # "list" or "tuple"
    items: tuple[Expression, ...]


@dataclass(frozen=True)
class Mapping:
    items: tuple[tuple[Expression, Expression], ...]


@dataclass(frozen=True)
class Call:
    """``callee(*args, **kwargs)``, or ``callee.method(...)`` when ``method`` is set."""

    callee: Ref
    args: tuple[Expression, ...] = ()
    kwargs: tuple[tuple[str, Expression], ...] = ()
    method: str | None = None


Expression = Ref | Literal | Member | Sequence | Mapping | Call

#: Largest array written out as a literal list.
_MAX_ARRAY_ITEMS = 4096


def describe(value: Any, *, where: str) -> Expression:
    """An expression that rebuilds ``value``; ModelStateError when there is none."""
    return _Describer(where).describe(value)


def references(expression: Expression) -> list[Ref]:
    """Every class or function the expression names, in rendering order."""
    found: list[Ref] = []
    _walk(expression, lambda ref: found.append(ref))
    return list(dict.fromkeys(found))


def render(expression: Expression, name_of: Callable[[Ref], str]) -> str:
    """Python source for ``expression``; ``name_of`` spells each reference."""
    if isinstance(expression, Literal):
        return repr(expression.value)
    if isinstance(expression, Ref):
        return name_of(expression)
    if isinstance(expression, Member):
        return f"{name_of(expression.owner)}.{expression.name}"
    if isinstance(expression, Sequence):
        items = [render(item, name_of) for item in expression.items]
        if expression.kind == "tuple":
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        return f"[{', '.join(items)}]"
    if isinstance(expression, Mapping):
        pairs = (
            f"{render(key, name_of)}: {render(value, name_of)}"
            for key, value in expression.items
        )
        return f"{{{', '.join(pairs)}}}"
    callee = name_of(expression.callee)
    if expression.method:
        callee = f"{callee}.{expression.method}"
    parts = [render(arg, name_of) for arg in expression.args]
    for key, value in expression.kwargs:
        rendered = render(value, name_of)
        parts.append(
            f"{key}={rendered}" if key.isidentifier() else f"**{{{key!r}: {rendered}}}"
        )
    return f"{callee}({', '.join(parts)})"


def _walk(expression: Expression, visit: Callable[[Ref], None]) -> None:
    if isinstance(expression, Ref):
        visit(expression)
    elif isinstance(expression, Member):
        visit(expression.owner)
    elif isinstance(expression, Sequence):
        for item in expression.items:
            _walk(item, visit)
    elif isinstance(expression, Mapping):
        for key, value in expression.items:
            _walk(key, visit)
            _walk(value, visit)
    elif isinstance(expression, Call):
        visit(expression.callee)
        for arg in expression.args:
            _walk(arg, visit)
        for _, value in expression.kwargs:
            _walk(value, visit)


class _Describer:
    """Describes one argument; ``where`` names it in error messages."""

    def __init__(self, where: str) -> None:
        self.where = where
        self._active: set[int] = set()

    def describe(self, value: Any) -> Expression:
        if id(value) in self._active:
            raise ModelStateError(f"{self.where} contains itself")
        self._active.add(id(value))
        try:
            return self._describe(value)
        finally:
            self._active.discard(id(value))

    def _describe(self, value: Any) -> Expression:
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, (bool, int, str, bytes)):
            return Literal(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                return Call(Ref("builtins", "float"), (Literal(repr(value)),))
            return Literal(value)
        if isinstance(value, enum.Enum):
            return Member(_ref(type(value), self.where), value.name)
        if type(value) in (list, tuple):
            items = tuple(self.describe(item) for item in value)
            return Sequence("list" if isinstance(value, list) else "tuple", items)
        if type(value) is dict:
            return Mapping(
                tuple((self.describe(k), self.describe(v)) for k, v in value.items())
            )
        if (
            isinstance(value, type)
            or inspect.isfunction(value)
            or inspect.isbuiltin(value)
        ):
            return _ref(value, self.where)
        if dataclasses.is_dataclass(value):
            fields = [f for f in dataclasses.fields(value) if f.init]
            kwargs = tuple(
                (f.name, self.describe(getattr(value, f.name))) for f in fields
            )
            return Call(_ref(type(value), self.where), kwargs=kwargs)
        if isinstance(value, np.ndarray):
            return self._array(value)
        recorded = recorded_call(value)
        if recorded is not None and _is_keras_object(value):
            return self._recorded(value, *recorded)
        if _is_keras_tensor(value):
            return self._keras_input(value)
        if hasattr(value, "get_config") and type(value).__module__.startswith("keras"):
            config = value.get_config()
            return Call(
                _ref(type(value), self.where),
                (self.describe(config),),
                method="from_config",
            )
        raise ModelStateError(
            f"{self.where} is a {type(value).__name__}, which cannot be written as Python "
            "code; pass the constructor arguments as plain data with config="
        )

    def _keras_input(self, tensor: Any) -> Call:
        """``keras.Input(shape=..., dtype=...)`` for the symbolic input of a Sequential."""
        import keras

        operation = keras_compat.producing_operation(tensor)
        if not isinstance(operation, keras.layers.InputLayer):
            raise ModelStateError(
                f"{self.where} is a tensor of a functional graph: a model made as "
                "keras.Model(inputs, outputs) is Keras config, not code; save it with "
                "model.save('x.keras'), or subclass keras.Model"
            )
        keywords: list[tuple[str, Expression]] = [
            ("shape", self.describe(tuple(tensor.shape[1:]))),
            ("dtype", Literal(tensor.dtype)),
        ]
        if tensor.shape[0] is not None:
            keywords.append(("batch_size", Literal(tensor.shape[0])))
        if getattr(tensor, "sparse", False):
            keywords.append(("sparse", Literal(True)))
        return Call(_ref(keras.Input, self.where), kwargs=tuple(keywords))

    def _recorded(
        self, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Call:
        positional, keywords = bind_call(type(value), args, kwargs)
        return Call(
            _ref(type(value), self.where),
            tuple(self.describe(item) for item in positional),
            tuple((name, self.describe(item)) for name, item in keywords.items()),
        )

    def _array(self, value: np.ndarray) -> Expression:
        if value.size > _MAX_ARRAY_ITEMS:
            raise ModelStateError(
                f"{self.where} is an array of {value.size} items; pass a smaller value or "
                "load it from a file in the model's code"
            )
        return Call(
            Ref("numpy", "array"),
            (Literal(value.tolist()),),
            (("dtype", Literal(str(value.dtype))),),
        )


def bind_call(
    cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A constructor call as keywords where possible: ``((*varargs), {name: value})``."""
    signature = inspect.signature(cls.__init__)  # type: ignore[misc]
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError:
        return tuple(args), dict(kwargs)
    positional: tuple[Any, ...] = ()
    keywords: dict[str, Any] = {}
    for name, item in list(bound.arguments.items())[1:]:
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            positional = tuple(item)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            keywords.update(item)
        else:
            keywords[name] = item
    return positional, keywords


def reference_key(ref: Ref, *, config: SnapshotConfig) -> SymbolRef | ImportItem | None:
    """What a reference becomes: an extracted definition, an import, or (None) a builtin."""
    if ref.module == "builtins":
        return None
    if classify(ref.module, config=config) is Origin.FIRST_PARTY:
        if "." in ref.name:
            raise ModelStateError(
                f"{ref.module}.{ref.name} is nested in a class; move it to the top level"
            )
        return SymbolRef(ref.module, ref.name)
    return ImportItem(ref.module, ref.name)


def _is_keras_object(value: Any) -> bool:
    import keras

    return isinstance(
        value,
        (
            keras.layers.Layer,
            keras.losses.Loss,
            keras.metrics.Metric,
            keras.optimizers.schedules.LearningRateSchedule,
        ),
    )


def _is_keras_tensor(value: Any) -> bool:
    import keras

    return isinstance(value, keras.KerasTensor)


def _ref(obj: Any, where: str) -> Ref:
    qualname = getattr(obj, "__qualname__", "")
    module = getattr(obj, "__module__", None)
    if not module or not qualname or "<" in qualname:
        raise ModelStateError(
            f"{where} uses {obj!r}, which is not defined at the top level of a module"
        )
    if module.startswith("keras.src"):
        # Keras' public name (keras.initializers.GlorotUniform) outlives its internals.
        public = keras_compat.public_name(obj)
        if public and public.startswith("keras."):
            module, _, qualname = public.rpartition(".")
    return Ref(module, qualname)
