"""Turn command-line options into a built model, its config and example inputs."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from snapshot.analysis.locate import import_target
from snapshot.analysis.modules import user_frame
from snapshot.capture.state import check_config_names
from snapshot.errors import (
    ModelStateError,
    NotAModelError,
    UserCodeError,
    WeightsError,
    describe_failure,
    one_line,
)

_SPEC = re.compile(
    r"^(?:(?P<name>[A-Za-z_]\w*)=)?(?P<shape>\d+(?:,\d+)*)(?::(?P<dtype>\w+))?$"
)


@dataclass(frozen=True)
class TargetOptions:
    """The command line's model options, each checked; nothing built yet."""

    target: str
    #: A keras.Model subclass, or a function that returns a model.
    maker: type[keras.Model] | Callable[..., Any]
    config: dict[str, Any]
    weights: Path | None
    #: None only for a factory, whose model may come built.
    inputs: Any

    @property
    def is_factory(self) -> bool:
        return not isinstance(self.maker, type)

    @property
    def constructor_config(self) -> dict[str, Any] | None:
        """The config as the class's constructor arguments; None for a factory.

        A factory's model records its own: the arguments of the classes it
        constructs, or its graph.
        """
        return None if self.is_factory else self.config


def read_target_options(
    target: str,
    config_text: str | None,
    input_specs: tuple[str, ...],
    inputs_file: str | None,
    weights: str | None,
) -> TargetOptions:
    """Check the options in the order the command line reads them.

    Target, config, weights, inputs: the first error names the first wrong
    thing, before any of the model's code runs beyond its module's import.
    """
    maker = import_target(target)
    config = parse_config(config_text)
    factory = not isinstance(maker, type)
    check_config_names(maker, config)
    weights_path = None if weights is None else check_weights_file(Path(weights))
    inputs = parse_inputs(input_specs, inputs_file, required=not factory)
    return TargetOptions(target, maker, config, weights_path, inputs)


def target_model(
    target: str,
    config_text: str | None,
    input_specs: tuple[str, ...],
    inputs_file: str | None,
    weights: str | None,
) -> tuple[TargetOptions, keras.Model]:
    """The checked options and the model they make, built and with its weights."""
    options = read_target_options(
        target, config_text, input_specs, inputs_file, weights
    )
    return options, build_target_model(options)


def build_target_model(options: TargetOptions) -> keras.Model:
    """Call the class or factory with the config, build the model on the inputs, load the weights."""
    maker, config = options.maker, options.config
    try:
        model = maker(**config)
    except Exception as error:
        failure = describe_failure(error, at=user_frame(error))
        raise UserCodeError(
            f"{options.target}({_brief(config)}) failed: {failure}"
        ) from error
    if not isinstance(model, keras.Model):
        raise NotAModelError(
            f"{options.target}({_brief(config)}) returned "
            f"{type(model).__name__}, not a keras.Model"
        )
    name = type(model).__name__
    if options.inputs is not None:
        try:
            model(options.inputs)
        except Exception as error:
            failure = describe_failure(error, at=user_frame(error))
            raise ModelStateError(f"inputs do not fit {name}: {failure}") from error
    elif not model.built:
        raise ModelStateError(
            f"{options.target} returned an unbuilt {name}: give --input SHAPE[:DTYPE] "
            "(e.g. --input 1,3) or --inputs FILE.npz to build it on"
        )
    if options.weights is not None:
        _load_weights(model, options.weights)
    return model


def check_weights_file(path: Path) -> Path:
    """``--weights``: an existing ``.weights.h5`` or ``.keras`` file."""
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    if not path.name.endswith((".weights.h5", ".keras")):
        raise WeightsError(f"{path}: weights must be a .weights.h5 or .keras file")
    return path


_JSON_KINDS = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def parse_config(text: str | None) -> dict[str, Any]:
    """``--config``: a JSON object, inline or in a file."""
    if text is None:
        return {}
    source = "--config"
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.is_file():
            try:
                kind = _JSON_KINDS.get(type(json.loads(text)), "value")
            except json.JSONDecodeError:
                raise ModelStateError(
                    f"--config {text}: neither a JSON object nor a file"
                ) from None
            raise ModelStateError(
                f"--config {text}: a JSON {kind}, not an object of arguments "
                """(e.g. '{"units": 4}')"""
            )
        source, text = str(path), path.read_text(encoding="utf-8")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelStateError(
            f"{source}:{error.lineno}: invalid JSON: {error.msg}"
        ) from None
    if not isinstance(config, dict):
        raise ModelStateError(
            f"{source}: must be a JSON object of constructor arguments"
        )
    return config


def parse_inputs(
    specs: tuple[str, ...], inputs_file: str | None, *, required: bool = True
) -> Any:
    """``--input``/``--inputs``: zero arrays of the given shapes, or the arrays of an .npz.

    None when neither is given and they are not ``required``.
    """
    if specs and inputs_file:
        raise ModelStateError("give either --input or --inputs, not both")
    if inputs_file is not None:
        return _read_npz(Path(inputs_file))
    if not specs and not required:
        return None
    if not specs:
        raise ModelStateError(
            "the model needs example inputs to be built: give --input SHAPE[:DTYPE] "
            "(e.g. --input 1,3) or --inputs FILE.npz"
        )
    parsed = [_parse_spec(spec) for spec in specs]
    named = [name for name, _ in parsed if name is not None]
    if named and len(named) != len(parsed):
        raise ModelStateError("--input: name all inputs (NAME=SHAPE) or none")
    if named:
        return {name: array for name, array in parsed}
    arrays = [array for _, array in parsed]
    return arrays[0] if len(arrays) == 1 else arrays


def _parse_spec(spec: str) -> tuple[str | None, np.ndarray]:
    match = _SPEC.match(spec.replace(" ", ""))
    if match is None:
        raise ModelStateError(
            f"--input {spec!r}: expected [NAME=]SHAPE[:DTYPE], e.g. 1,3 or tokens=2,5:int32"
        )
    shape = tuple(int(d) for d in match["shape"].split(","))
    dtype = match["dtype"] or "float32"
    try:
        return match["name"], np.zeros(shape, dtype=dtype)
    except TypeError:
        raise ModelStateError(f"--input {spec!r}: unknown dtype {dtype!r}") from None


def _read_npz(path: Path) -> Any:
    if not path.is_file():
        raise ModelStateError(f"{path}: no such inputs file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise ModelStateError(
            f"{path}: not a readable .npz file: {one_line(error)}"
        ) from None
    if not arrays:
        raise ModelStateError(f"{path}: holds no arrays")
    positional = [f"arr_{i}" for i in range(len(arrays))]
    if sorted(arrays) == sorted(positional):
        ordered = [arrays[key] for key in positional]
        return ordered[0] if len(ordered) == 1 else ordered
    return arrays


_NOT_LOADED = re.compile(r"A total of (\d+) objects could not be loaded")
_SHAPES = re.compile(
    r"variable\.shape=(\([^)]*\)), Received: value\.shape=(\([^)]*\))"
    r".*?<Variable path=([^,>]+)",
    re.DOTALL,
)


def _load_weights(model: keras.Model, path: Path) -> None:
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        try:
            model.load_weights(path)
        except Exception as error:
            # Keras' warnings ("skipping nested container") and the values it
            # prints would bury the one line that says what does not fit.
            raise WeightsError(
                f"{path}: cannot load into {type(model).__name__}: "
                f"{_weights_mismatch(error)}"
            ) from None
    for warning in said:
        warnings.warn_explicit(
            warning.message, warning.category, warning.filename, warning.lineno
        )


def _weights_mismatch(error: Exception) -> str:
    """Keras' shape-mismatch error without the variable's values; else its message."""
    text = str(error)
    count, shapes = _NOT_LOADED.search(text), _SHAPES.search(text)
    if count is None or shapes is None:
        return one_line(error)
    expected, stored, variable = shapes.groups()
    layers = "1 layer" if count[1] == "1" else f"{count[1]} layers"
    return (
        f"the weights of {layers} do not fit, e.g. {variable} has shape "
        f"{expected}, the file holds {stored}"
    )


def _brief(config: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in config.items())
