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
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from snapshot import keras_compat
from snapshot.analysis.modules import Origin, classify
from snapshot.analysis.session import no_source_message
from snapshot.capture.record import recorded_call
from snapshot.config import SnapshotConfig
from snapshot.errors import ModelStateError, one_line
from snapshot.model import ImportItem, SymbolRef

if TYPE_CHECKING:
    from snapshot.capture.graph import Graph


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


@dataclass(frozen=True)
class Local:
    """A local variable of a function the snapshot writes: a tensor or a layer of a graph."""

    name: str


@dataclass(frozen=True)
class Apply:
    """``function(*args, **kwargs)`` where ``function`` is itself an expression.

    A layer called on tensors: ``keras.layers.Dense(4, name="dense")(inputs)``.
    """

    function: Expression
    args: tuple[Expression, ...] = ()
    kwargs: tuple[tuple[str, Expression], ...] = ()


@dataclass(frozen=True)
class Builder:
    """``make_encoder()``: a call of the function the snapshot writes to rebuild a graph.

    Keras' own functional and Sequential models are written as such functions;
    see :mod:`snapshot.capture.graph`.
    """

    graph: Graph


@dataclass(frozen=True)
class StoredArray:
    """An array kept in the archive's arrays member, by name (too big for code)."""

    key: str


Expression = (
    Ref
    | Literal
    | Member
    | Sequence
    | Mapping
    | Call
    | Local
    | Apply
    | Builder
    | StoredArray
)


class ArrayStore:
    """Arrays met while describing values, each under a unique name.

    Arrays and tensors are data, not code: twenty floats written as a literal
    take twenty lines, a graph's edge list thousands. They are stored in the
    archive and the generated module reads them back. One object passed
    twice is stored once.
    """

    def __init__(self, arrays: dict[str, np.ndarray] | None = None) -> None:
        self.arrays: dict[str, np.ndarray] = dict(arrays or {})
        self._keys: dict[int, tuple[Any, StoredArray]] = {}

    def add(self, value: Any, array: np.ndarray, *, hint: str) -> StoredArray:
        """Store ``array``, the NumPy form of ``value``, named after ``hint``."""
        known = self._keys.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        base = re.sub(r"\W+", "_", hint).strip("_") or "array"
        key, count = base, 1
        while key in self.arrays:
            count += 1
            key = f"{base}_{count}"
        self.arrays[key] = array
        # The value is kept so that its id cannot be reused by another object.
        self._keys[id(value)] = (value, StoredArray(key))
        return StoredArray(key)


def describe(
    value: Any, *, where: str, arrays: ArrayStore | None = None, name: str = ""
) -> Expression:
    """An expression that rebuilds ``value``; ModelStateError when there is none.

    Arrays and tensors go into ``arrays`` (a throwaway store when None), named
    after ``name``.
    """
    store = ArrayStore() if arrays is None else arrays
    return _Describer(where, store, name).describe(value)


def as_numpy(value: Any) -> np.ndarray:
    """An array or tensor as a NumPy array that ``np.savez`` stores without pickle.

    TensorFlow hands text back as an object array of ``bytes``; it becomes a
    unicode array. Other object arrays stay as they are (and cannot be stored).
    """
    if isinstance(value, np.ndarray):
        array = value
    else:
        import keras

        array = np.asarray(keras.ops.convert_to_numpy(value))
    if array.dtype == object:
        flat = array.ravel().tolist()
        if all(isinstance(item, bytes) for item in flat):
            flat = [item.decode("utf-8") for item in flat]
        if all(isinstance(item, str) for item in flat):
            return np.array(flat, dtype=str).reshape(array.shape)
    return array


def references(expression: Expression) -> list[Ref]:
    """Every class or function the expression names, in rendering order.

    The graphs of its builders count: their layers and functions are needed too.
    """
    found: list[Ref] = []
    _walk(expression, lambda ref: found.append(ref))
    return list(dict.fromkeys(found))


def builders(expression: Expression) -> list[Builder]:
    """Every graph builder the expression calls, nested ones before their users."""
    found: list[Builder] = []
    _walk(expression, lambda ref: None, on_builder=found.append)
    return list(dict.fromkeys(found))


def _same_name(name: str) -> str:
    return name


def render(
    expression: Expression,
    name_of: Callable[[Ref], str],
    array_of: Callable[[str], str] | None = None,
    *,
    local_of: Callable[[str], str] = _same_name,
) -> str:
    """Python source for ``expression``; ``name_of`` spells each reference.

    ``array_of`` spells the read of a stored array by its key. ``local_of``
    spells local variables and builder functions, whose names the module may
    have to change to keep clear of its module-level names.
    """
    if isinstance(expression, StoredArray):
        if array_of is None:
            raise ValueError("render() met a stored array without array_of")
        return array_of(expression.key)
    if isinstance(expression, Literal):
        return repr(expression.value)
    if isinstance(expression, Ref):
        return name_of(expression)
    if isinstance(expression, Local):
        return local_of(expression.name)
    if isinstance(expression, Builder):
        return f"{local_of(expression.graph.function)}()"
    if isinstance(expression, Member):
        return f"{name_of(expression.owner)}.{expression.name}"
    if isinstance(expression, Sequence):
        items = [
            render(item, name_of, array_of, local_of=local_of)
            for item in expression.items
        ]
        if expression.kind == "tuple":
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        return f"[{', '.join(items)}]"
    if isinstance(expression, Mapping):
        pairs = (
            f"{render(key, name_of, array_of, local_of=local_of)}: "
            f"{render(value, name_of, array_of, local_of=local_of)}"
            for key, value in expression.items
        )
        return f"{{{', '.join(pairs)}}}"
    if isinstance(expression, Apply):
        # A layer is a name, a builder call or a construction: none needs brackets.
        callee = render(expression.function, name_of, array_of, local_of=local_of)
    else:
        callee = name_of(expression.callee)
        if expression.method:
            callee = f"{callee}.{expression.method}"
    parts = [
        render(arg, name_of, array_of, local_of=local_of) for arg in expression.args
    ]
    for key, value in expression.kwargs:
        rendered = render(value, name_of, array_of, local_of=local_of)
        parts.append(
            f"{key}={rendered}" if key.isidentifier() else f"**{{{key!r}: {rendered}}}"
        )
    return f"{callee}({', '.join(parts)})"


def _walk(
    expression: Expression,
    visit: Callable[[Ref], None],
    *,
    on_builder: Callable[[Builder], None] | None = None,
) -> None:
    def walk(item: Expression) -> None:
        _walk(item, visit, on_builder=on_builder)

    if isinstance(expression, Ref):
        visit(expression)
    elif isinstance(expression, Member):
        visit(expression.owner)
    elif isinstance(expression, Sequence):
        for item in expression.items:
            walk(item)
    elif isinstance(expression, Mapping):
        for key, value in expression.items:
            walk(key)
            walk(value)
    elif isinstance(expression, (Call, Apply)):
        if isinstance(expression, Call):
            visit(expression.callee)
        else:
            walk(expression.function)
        for arg in expression.args:
            walk(arg)
        for _, value in expression.kwargs:
            walk(value)
    elif isinstance(expression, Builder):
        for part in expression.graph.expressions():
            walk(part)
        if on_builder is not None:
            on_builder(expression)


def stored_keys(expression: Expression) -> list[str]:
    """The keys of every stored array the expression reads, in rendering order."""
    if isinstance(expression, StoredArray):
        return [expression.key]
    if isinstance(expression, Sequence):
        return [k for item in expression.items for k in stored_keys(item)]
    if isinstance(expression, Mapping):
        return [
            k for pair in expression.items for part in pair for k in stored_keys(part)
        ]
    if isinstance(expression, (Call, Apply)):
        found = [] if isinstance(expression, Call) else stored_keys(expression.function)
        found += [k for arg in expression.args for k in stored_keys(arg)]
        return found + [k for _, value in expression.kwargs for k in stored_keys(value)]
    if isinstance(expression, Builder):
        return [k for part in expression.graph.expressions() for k in stored_keys(part)]
    return []


class _Describer:
    """Describes one argument; ``where`` names it in error messages."""

    def __init__(self, where: str, arrays: ArrayStore, name: str) -> None:
        self.where = where
        self.arrays = arrays
        self.name = name
        self._active: set[int] = set()

    def describe(self, value: Any, *, name: str | None = None) -> Expression:
        """``value`` described; ``name`` (a keyword's) names the arrays inside it."""
        if id(value) in self._active:
            raise ModelStateError(f"{self.where} contains itself")
        self._active.add(id(value))
        outer = self.name
        self.name = outer if name is None else name
        try:
            return self._describe(value)
        finally:
            self.name = outer
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
                (f.name, self.describe(getattr(value, f.name), name=f.name))
                for f in fields
            )
            return Call(_ref(type(value), self.where), kwargs=kwargs)
        if isinstance(value, np.ndarray):
            return self._array(value)
        if keras_compat.graph_kind(value) is not None:
            # Keras' own functional or Sequential model: written as code, not
            # as the call that made it (its tensors are not values).
            from snapshot.capture import graph

            return graph.describe_graph(value, where=self.where, arrays=self.arrays)
        if _is_tensor(value):
            return Call(Ref("keras.ops", "convert_to_tensor"), (self._array(value),))
        if _is_variable(value):
            return self._variable(value)
        recorded = recorded_call(value)
        if _is_keras_object(value) and _has_assets(value):
            if recorded is None or _names_files(recorded):
                # Keras' contract for layers with assets: get_config() leaves
                # out what save_assets() saves (a vocabulary, or the file it
                # was read from), and from_config() then load_assets() remake
                # the layer. The snapshot stores the assets and loads them so.
                return Call(
                    _ref(type(value), self.where),
                    (self.describe(value.get_config()),),
                    method="from_config",
                )
        if recorded is not None and _is_keras_object(value):
            return self._recorded(value, *recorded)
        if _is_keras_tensor(value):
            return self._keras_input(value)
        if hasattr(value, "get_config") and (
            type(value).__module__.startswith("keras")
            or (_is_keras_object(value) and _defines_own_get_config(type(value)))
        ):
            config = value.get_config()
            return Call(
                _ref(type(value), self.where),
                (self.describe(config),),
                method="from_config",
            )
        if _is_keras_object(value):
            raise ModelStateError(
                f"{self.where} is a {type(value).__name__} made before `import snapshot`, "
                "and its class defines no get_config(); import snapshot before creating "
                "the model, or give the class a get_config()"
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
            tuple(
                (name, self.describe(item, name=name))
                for name, item in keywords.items()
            ),
        )

    def _variable(self, variable: Any) -> Call:
        """``keras.Variable(initializer=<its stored value>, ...)``."""
        keywords = (
            ("initializer", self._array(variable.value)),
            ("dtype", Literal(str(variable.dtype))),
            ("trainable", Literal(bool(variable.trainable))),
            ("name", Literal(str(variable.name))),
        )
        return Call(Ref("keras", "Variable"), kwargs=keywords)

    def _array(self, value: Any) -> StoredArray:
        try:
            array = as_numpy(value)
        except Exception as error:  # a sparse or ragged tensor, say
            raise ModelStateError(
                f"{self.where} is a {type(value).__name__} that cannot be turned into "
                f"a NumPy array ({one_line(error)}); pass a dense array or tensor"
            ) from None
        if array.dtype.kind not in "biufcUSmM":
            raise ModelStateError(
                f"{self.where} is an array of {array.dtype} items, which cannot be "
                "stored without pickle; pass numbers or text"
            )
        return self.arrays.add(value, array, hint=self.name)


def held_objects(value: Any) -> list[Any]:
    """The classes and functions ``value`` holds, nested ones included.

    Containers, dataclass fields, enum members' classes and the recorded
    constructor calls of layers are followed: these are the definitions a
    constructor argument uses as it is, whatever its name is bound to now.
    """
    found: list[Any] = []
    seen: set[int] = set()

    def visit(item: Any) -> None:
        if id(item) in seen:
            return
        seen.add(id(item))
        if isinstance(item, type) or inspect.isfunction(item):
            found.append(item)
        elif isinstance(item, enum.Enum):
            found.append(type(item))
        elif type(item) in (list, tuple, set, frozenset):
            for inner in item:
                visit(inner)
        elif type(item) is dict:
            for key, inner in item.items():
                visit(key)
                visit(inner)
        elif dataclasses.is_dataclass(item):
            found.append(type(item))
            for field in dataclasses.fields(item):
                visit(getattr(item, field.name))
        else:
            try:
                recorded = recorded_call(item)
            except TypeError:  # cannot be weakly referenced: never recorded
                recorded = None
            if recorded is not None:
                found.append(type(item))
                visit(recorded)

    visit(value)
    return found


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
    origin = classify(ref.module, config=config)
    if ref.module == "__main__" and origin is not Origin.FIRST_PARTY:
        # No file and no kept session code: an import from __main__ would fail.
        raise ModelStateError(
            f"constructor argument {no_source_message(ref.name, None)}"
        )
    if origin is Origin.FIRST_PARTY:
        if "." in ref.name:
            raise ModelStateError(
                f"{ref.module}.{ref.name} is nested in a class; move it to the top level"
            )
        return SymbolRef(ref.module, ref.name)
    return ImportItem(ref.module, ref.name)


def keras_path(ref: Ref) -> tuple[str, ...] | None:
    """``("layers", "Dense")`` for ``keras.layers.Dense``: spelled through ``import keras``.

    Keras' public API reads best as written in its documentation, and the
    generated module imports ``keras`` anyway. None for anything else.
    """
    parts = ref.module.split(".")
    if parts[0] != "keras" or "src" in parts or "." in ref.name:
        return None
    return (*parts[1:], ref.name)


def _is_keras_object(value: Any) -> bool:
    """A layer, what layers take (initializers, regularizers, constraints), or what compile() takes (losses, metrics, schedules)."""
    import keras

    return isinstance(
        value,
        (
            keras.layers.Layer,
            keras.initializers.Initializer,
            keras.regularizers.Regularizer,
            keras.constraints.Constraint,
            keras.losses.Loss,
            keras.metrics.Metric,
            keras.optimizers.schedules.LearningRateSchedule,
        ),
    )


def _defines_own_get_config(cls: type) -> bool:
    """True when a class outside Keras defines the ``get_config`` ``cls`` uses."""
    for klass in cls.__mro__:
        if "get_config" in vars(klass):
            return not klass.__module__.startswith("keras")
    return False


def _is_keras_tensor(value: Any) -> bool:
    import keras

    return isinstance(value, keras.KerasTensor)


def _named(obj: Any) -> str:
    """``the function <lambda> (train.py:12)``: an object by name and place, no address."""
    name = getattr(obj, "__qualname__", None) or type(obj).__name__
    kind = "the class" if isinstance(obj, type) else "the function"
    code = getattr(obj, "__code__", None)
    if code is None:
        return f"{kind} {name}"
    return f"{kind} {name} ({code.co_filename}:{code.co_firstlineno})"


def _is_variable(value: Any) -> bool:
    import keras

    return isinstance(value, keras.Variable)


def _names_files(call: tuple[tuple[Any, ...], dict[str, Any]]) -> bool:
    """True when a constructor call passes the path of an existing file or folder."""
    args, kwargs = call
    for value in [*args, *kwargs.values()]:
        if isinstance(value, os.PathLike) or (
            isinstance(value, str) and value and os.path.exists(value)
        ):
            return True
    return False


def _has_assets(layer: Any) -> bool:
    """True for a layer that saves state outside its weights (a vocabulary)."""
    return callable(getattr(layer, "save_assets", None)) and hasattr(
        layer, "get_config"
    )


def _is_tensor(value: Any) -> bool:
    """A backend tensor (``tf.Tensor``, a JAX or PyTorch array), not a symbolic one."""
    import keras

    return not isinstance(value, keras.KerasTensor) and bool(keras.ops.is_tensor(value))


def _ref(obj: Any, where: str) -> Ref:
    qualname = getattr(obj, "__qualname__", "")
    module = getattr(obj, "__module__", None)
    if not module or not qualname or "<" in qualname:
        raise ModelStateError(
            f"{where} uses {_named(obj)}, which is not defined at the top level of a "
            "module; define it with def or class at the top level of a .py module"
        )
    if module.startswith("keras.src"):
        # Keras' public name (keras.initializers.GlorotUniform) outlives its internals.
        public = keras_compat.public_name(obj)
        if public and public.startswith("keras."):
            module, _, qualname = public.rpartition(".")
    return Ref(module, qualname)
