"""Turn command-line options into a built model, its config and example inputs."""

from __future__ import annotations

import json
import re
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
    model_class: type[keras.Model]
    config: dict[str, Any]
    weights: Path | None
    inputs: Any


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
    model_class = import_target(target)
    config = parse_config(config_text)
    check_config_names(model_class, config)
    weights_path = None if weights is None else check_weights_file(Path(weights))
    inputs = parse_inputs(input_specs, inputs_file)
    return TargetOptions(target, model_class, config, weights_path, inputs)


def build_target_model(options: TargetOptions) -> keras.Model:
    """Construct the class with the config, build it on the inputs, load the weights."""
    cls, config = options.model_class, options.config
    try:
        model = cls(**config)
    except Exception as error:
        failure = describe_failure(error, at=user_frame(error))
        raise UserCodeError(
            f"{options.target}({_brief(config)}) failed: {failure}"
        ) from error
    try:
        model(options.inputs)
    except Exception as error:
        failure = describe_failure(error, at=user_frame(error))
        raise ModelStateError(f"inputs do not fit {cls.__name__}: {failure}") from error
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


def parse_config(text: str | None) -> dict[str, Any]:
    """``--config``: a JSON object, inline or in a file."""
    if text is None:
        return {}
    source = "--config"
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise ModelStateError(f"--config {text}: neither a JSON object nor a file")
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


def parse_inputs(specs: tuple[str, ...], inputs_file: str | None) -> Any:
    """``--input``/``--inputs``: zero arrays of the given shapes, or the arrays of an .npz."""
    if specs and inputs_file:
        raise ModelStateError("give either --input or --inputs, not both")
    if inputs_file is not None:
        return _read_npz(Path(inputs_file))
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


def _load_weights(model: keras.Model, path: Path) -> None:
    try:
        model.load_weights(path)
    except Exception as error:
        raise WeightsError(
            f"{path}: cannot load into {type(model).__name__}: {one_line(error)}"
        ) from None


def _brief(config: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in config.items())
