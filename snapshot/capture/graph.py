"""Keras' own functional and Sequential models as code: the graph, walked into a description.

``keras.Model(inputs, outputs)`` and ``keras.Sequential([...])`` have no class
of the user's to extract: the model *is* its graph. :func:`describe_graph`
walks the live graph into a :class:`Graph`, the body of a function that makes
it again as a person would write it: ``keras.Input(...)`` for each input, then
one statement per layer call in the order Keras runs them, each layer written
as its construction (the recorded call, with its name kept because the weights
file is keyed by it), and a shared layer or a nested model bound to a name once
and called where the graph calls it. A layer that was not recorded is written
from its config: for Keras' own layers as the arguments that differ from a
default instance's (checked by rebuilding), otherwise as
``Layer.from_config({...})``, which :attr:`Graph.from_config` lists for the
manifest.
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import keras

from snapshot import keras_compat
from snapshot.analysis.naming import snake_case
from snapshot.capture import values
from snapshot.capture.record import recorded_call
from snapshot.errors import ModelStateError


@dataclass(frozen=True)
class Step:
    """``targets = value``: one statement of a builder function."""

    #: Local names bound; several unpack the outputs of a layer that has several.
    targets: tuple[str, ...]
    value: values.Expression
    #: True when the value's outputs are flattened first (``keras.tree.flatten``),
    #: the order in which Keras numbers a layer's outputs.
    flatten: bool = False


@dataclass(frozen=True)
class Graph:
    """A function that builds one functional or Sequential model."""

    #: The function's name (``make_classifier``); unique within one snapshot.
    function: str
    #: ``"functional"`` or ``"sequential"``.
    kind: str
    #: The model's own name, kept.
    model_name: str
    steps: tuple[Step, ...]
    #: What the function returns: ``keras.Model(inputs, outputs, name=...)``.
    result: values.Expression
    #: Layers written as ``Layer.from_config({...})``: no call was recorded and
    #: their arguments could not be told from their config.
    from_config: tuple[str, ...] = ()

    def expressions(self) -> Iterator[values.Expression]:
        """Every expression of the function, in order."""
        for step in self.steps:
            yield step.value
        yield self.result


def describe_graph(model: Any, *, where: str) -> values.Builder:
    """The builder of ``model``, a Keras functional or Sequential model.

    ModelStateError names the layer that cannot be written.
    """
    kind = keras_compat.graph_kind(model)
    _refuse_layers_in_two_models(model, where=where)
    writer = _GraphWriter(model, where=where)
    if kind == "sequential":
        result = writer.sequential()
    elif kind == "functional":
        result = writer.functional()
    else:
        raise ModelStateError(f"{where} is not a Keras functional or Sequential model")
    return values.Builder(
        Graph(
            function=f"make_{identifier(model.name)}",
            kind=str(kind),
            model_name=str(model.name),
            steps=tuple(writer.steps),
            result=result,
            from_config=tuple(writer.from_config),
        )
    )


def builder_names(expression: values.Expression) -> tuple[str, ...]:
    """The names of the builder functions ``expression`` calls, each once.

    ModelStateError when two different graphs would share one: they are named
    after their models.
    """
    found: dict[str, Graph] = {}
    for builder in values.builders(expression):
        other = found.setdefault(builder.graph.function, builder.graph)
        if other != builder.graph:
            raise ModelStateError(
                f"two different Keras models are named {builder.graph.model_name!r}; "
                "give each its own name= (the snapshot writes one function per model)"
            )
    return tuple(found)


def graph_class_name(expression: values.Expression) -> str:
    """``keras.Model`` or ``keras.Sequential``: the class a graph builder returns."""
    assert isinstance(expression, values.Builder)
    return (
        "keras.Sequential" if expression.graph.kind == "sequential" else "keras.Model"
    )


def _refuse_layers_in_two_models(model: Any, *, where: str) -> None:
    """ModelStateError for a layer that ``model`` and a model nested in it both hold.

    Each graph's builder makes its own layers, so such a layer would become two.
    """
    holders: dict[int, Any] = {}
    pending = [model]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for layer in current.layers:
            other = holders.setdefault(id(layer), current)
            if other is not current:
                raise ModelStateError(
                    f"{where}: layer {layer.name!r} belongs both to model "
                    f"{other.name!r} and to model {current.name!r} nested with it; "
                    "the snapshot would make it twice. Use it in one of them only"
                )
            if keras_compat.graph_kind(layer) is not None:
                pending.append(layer)


def all_from_config(expression: values.Expression) -> tuple[str, ...]:
    """``model/layer`` of every layer any graph of ``expression`` writes from its config."""
    return tuple(
        f"{builder.graph.model_name}/{layer}"
        for builder in values.builders(expression)
        for layer in builder.graph.from_config
    )


class _GraphWriter:
    """Walks one graph; fills ``steps`` and returns the model's construction."""

    def __init__(self, model: Any, *, where: str) -> None:
        self.model = model
        self.where = where
        self.steps: list[Step] = []
        self.from_config: list[str] = []
        self._taken: set[str] = set()
        #: Local name of each tensor, by (operation id, node index, output index).
        self._tensors: dict[tuple[int, int, int], str] = {}
        #: Local name of each layer bound before its calls, by id.
        self._bound: dict[int, str] = {}

    # Functional ----------------------------------------------------------------

    def functional(self) -> values.Expression:
        inputs, outputs = keras_compat.graph_structure(self.model)
        for tensor in keras.tree.flatten(inputs):
            origin = keras_compat.tensor_origin(tensor)
            assert origin is not None  # every input of a graph is an Input's output
            name = self._claim(origin[0].name)
            self._tensors[_key(origin)] = name
            self.steps.append(Step((name,), self._input(tensor, origin[0])))
        nodes = keras_compat.graph_nodes(self.model)
        calls = Counter(id(node.operation) for node in nodes)
        for node in nodes:
            self._call(node, shared=calls[id(node.operation)] > 1)
        return values.Call(
            values.Ref("keras", "Model"),
            kwargs=(
                ("inputs", self._tensor_structure(inputs)),
                ("outputs", self._tensor_structure(outputs)),
                *self._model_keywords(),
            ),
        )

    def _model_keywords(self) -> list[tuple[str, values.Expression]]:
        """``name=`` always, ``trainable=False`` when the whole model was frozen."""
        keywords: list[tuple[str, values.Expression]] = [
            ("name", values.Literal(self.model.name))
        ]
        if not self.model.trainable:
            keywords.append(("trainable", values.Literal(False)))
        return keywords

    def _call(self, node: Any, *, shared: bool) -> None:
        operation = node.operation
        args, kwargs = keras_compat.node_arguments(node)
        outputs = keras_compat.node_outputs(node)
        if not isinstance(operation, keras.layers.Layer):
            value = self._operation(operation, args, kwargs)
            stem = operation.name
        else:
            layer = self._layer_reference(operation, shared=shared)
            kwargs = _without_defaults(operation, kwargs)
            value = values.Apply(
                layer,
                tuple(self._tensor_structure(arg) for arg in args),
                tuple((k, self._tensor_structure(v)) for k, v in kwargs.items()),
            )
            stem = (
                f"{operation.name}_output"
                if isinstance(layer, values.Local)
                else operation.name
            )
        names = tuple(self._claim(stem) for _ in outputs)
        for name, tensor in zip(names, outputs, strict=True):
            origin = keras_compat.tensor_origin(tensor)
            assert origin is not None
            self._tensors[_key(origin)] = name
        self.steps.append(Step(names, value, flatten=len(outputs) > 1))

    def _layer_reference(self, layer: Any, *, shared: bool) -> values.Expression:
        """The layer as called: its construction, or the name it was bound to first."""
        if id(layer) in self._bound:
            return values.Local(self._bound[id(layer)])
        construction = self._layer(layer)
        if not shared and not isinstance(construction, values.Builder):
            return construction
        name = self._claim(layer.name)
        self._bound[id(layer)] = name
        self.steps.append(Step((name,), construction))
        return values.Local(name)

    def _operation(
        self, operation: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> values.Expression:
        """A Keras op in a graph (``a + b``, ``keras.ops.concatenate``) as its function.

        Op classes are private to Keras; the public function of the same name
        (``Concatenate`` → ``keras.ops.concatenate``) makes the same op.
        """
        function_name = snake_case(type(operation).__name__)
        function = getattr(keras.ops, function_name, None)
        config = {k: v for k, v in operation.get_config().items() if k != "name"}
        try:
            if function is None or not type(operation).__module__.startswith("keras."):
                raise TypeError(type(operation).__name__)
            inspect.signature(function).bind(*args, **kwargs, **config)
        except (TypeError, ValueError):
            raise ModelStateError(
                f"{self.where}: the operation {operation.name!r} "
                f"({type(operation).__module__}.{type(operation).__name__}) in "
                f"{self.model.name!r} has no public Keras function to write it with; "
                "wrap it in a layer (a keras.layers.Layer subclass in a .py module)"
            ) from None
        return values.Call(
            values.Ref("keras.ops", function_name),
            tuple(self._tensor_structure(arg) for arg in args),
            tuple(
                (k, self._tensor_structure(v)) for k, v in {**kwargs, **config}.items()
            ),
        )

    def _tensor_structure(self, value: Any) -> values.Expression:
        """A call argument: tensors become their local names, the rest plain values."""
        if isinstance(value, keras.KerasTensor):
            origin = keras_compat.tensor_origin(value)
            if origin is None or _key(origin) not in self._tensors:
                raise ModelStateError(
                    f"{self.where}: a tensor {value.name!r} that {self.model.name!r} "
                    "uses does not come from its inputs"
                )
            return values.Local(self._tensors[_key(origin)])
        if type(value) in (list, tuple):
            return values.Sequence(
                "list" if isinstance(value, list) else "tuple",
                tuple(self._tensor_structure(item) for item in value),
            )
        if type(value) is dict:
            return values.Mapping(
                tuple(
                    (values.Literal(key), self._tensor_structure(item))
                    for key, item in value.items()
                )
            )
        return values.describe(value, where=f"{self.where}: an argument in the graph")

    # Sequential ----------------------------------------------------------------

    def sequential(self) -> values.Expression:
        items: list[values.Expression] = []
        for layer in keras_compat.sequential_layers(self.model):
            if isinstance(layer, keras.layers.InputLayer):
                items.append(self._input(layer.output, layer))
            else:
                items.append(self._layer(layer))
        return values.Call(
            values.Ref("keras", "Sequential"),
            (values.Sequence("list", tuple(items)),),
            tuple(self._model_keywords()),
        )

    # Layers --------------------------------------------------------------------

    def _input(self, tensor: Any, layer: Any) -> values.Expression:
        """``keras.Input(shape=..., dtype=..., name=...)`` for one input of the graph."""
        keywords: list[tuple[str, values.Expression]] = [
            ("shape", values.describe(tuple(tensor.shape[1:]), where=self.where)),
            ("dtype", values.Literal(str(tensor.dtype))),
        ]
        if tensor.shape[0] is not None:
            keywords.append(("batch_size", values.Literal(tensor.shape[0])))
        for flag in ("sparse", "ragged"):
            if getattr(tensor, flag, False):
                keywords.append((flag, values.Literal(True)))
        if getattr(layer, "optional", False):
            keywords.append(("optional", values.Literal(True)))
        keywords.append(("name", values.Literal(layer.name)))
        return values.Call(values.Ref("keras", "Input"), kwargs=tuple(keywords))

    def _layer(self, layer: Any) -> values.Expression:
        """How to make ``layer`` again: its recorded call, or its config."""
        where = f"{self.where}: layer {layer.name!r} of {self.model.name!r}"
        if keras_compat.graph_kind(layer) is not None:
            return describe_graph(layer, where=where)
        if recorded_call(layer) is not None:
            construction = values.describe(layer, where=where)
            if isinstance(construction, values.Call):
                return _with_layer_state(construction, layer)
        if type(layer).__module__.startswith("keras."):
            written = _differing_arguments(layer, where=where)
            if written is not None:
                return written
        try:
            config = layer.get_config()
        except NotImplementedError:  # a custom layer without get_config()
            raise ModelStateError(
                f"{where} ({_defined_at(type(layer))}) was made before `import "
                "snapshot`, so its arguments were not recorded, and its class defines "
                "no get_config(); import snapshot before creating the model"
            ) from None
        self.from_config.append(str(layer.name))
        return values.Call(
            _class_ref(type(layer), where=where),
            (values.describe(config, where=where),),
            method="from_config",
        )

    def _claim(self, wanted: str) -> str:
        base = identifier(wanted)
        name, counter = base, 1
        while name in self._taken:
            counter += 1
            name = f"{base}_{counter}"
        self._taken.add(name)
        return name


def _without_defaults(layer: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Call arguments minus the None that Keras adds itself (``mask=None``)."""
    try:
        parameters = inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return kwargs
    return {
        key: value
        for key, value in kwargs.items()
        if not (value is None and key in parameters and parameters[key].default is None)
    }


def _with_layer_state(construction: values.Call, layer: Any) -> values.Call:
    """The recorded call with the layer's name, and ``trainable=False`` if set later.

    Without ``name=`` a rebuilt layer takes the next free name of its process,
    and the weights file is keyed by names.
    """
    given = {key for key, _ in construction.kwargs}
    extra: list[tuple[str, values.Expression]] = []
    if "name" not in given:
        extra.append(("name", values.Literal(layer.name)))
    if not layer.trainable and "trainable" not in given:
        extra.append(("trainable", values.Literal(False)))
    if not extra:
        return construction
    return values.Call(
        construction.callee,
        construction.args,
        construction.kwargs + tuple(extra),
        construction.method,
    )


def _differing_arguments(layer: Any, *, where: str) -> values.Call | None:
    """``Dense(4, activation="relu", name=...)`` from the config of a Keras layer.

    Only arguments whose config entry differs from a default instance's are
    written; None unless the layer so rebuilt has the same config.
    """
    cls = type(layer)
    config = layer.get_config()
    parameters = inspect.signature(cls.__init__).parameters
    required = {
        name: config[name]
        for name, parameter in parameters.items()
        if parameter.default is parameter.empty
        and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        and name in config
    }
    try:
        default = cls(**required, name=layer.name).get_config()
        arguments = {
            key: value
            for key, value in config.items()
            if key in required
            or key == "name"
            or (key in parameters and default.get(key, value) != value)
            or (key not in default and key in parameters)
        }
        if cls(**arguments).get_config() != config:
            return None
    except Exception:  # the layer does not take its config back: write the config
        return None
    return values.Call(
        values.describe(cls, where=where),  # type: ignore[arg-type]
        kwargs=tuple(
            (key, values.describe(value, where=f"{where}, argument {key!r}"))
            for key, value in arguments.items()
            if key != "name"
        )
        + (("name", values.Literal(layer.name)),),
    )


def _defined_at(cls: type) -> str:
    """``graphnets/layers.py:6``, where a class is defined, or its module's name."""
    try:
        path = inspect.getsourcefile(cls)
        line = inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return f"{cls.__module__}.{cls.__qualname__}"
    return f"{cls.__qualname__} at {path}:{line}"


def _class_ref(cls: type, *, where: str) -> values.Ref:
    found = values.describe(cls, where=where)
    assert isinstance(found, values.Ref)  # a class is always written as a reference
    return found


def _key(origin: tuple[Any, int, int]) -> tuple[int, int, int]:
    operation, node_index, tensor_index = origin
    return id(operation), node_index, tensor_index


_BUILTINS = frozenset(dir(builtins))


def identifier(name: str) -> str:
    """A Python name from a layer or model name: ``conv-1`` → ``conv_1``."""
    found = re.sub(r"\W", "_", str(name)).strip("_") or "layer"
    if found[0].isdigit():
        found = f"layer_{found}"
    if keyword.iskeyword(found) or found in _BUILTINS:
        found = f"{found}_"
    return found
