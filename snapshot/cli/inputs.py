"""Turn command-line options into a built model, its config and example inputs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import keras
import numpy as np

from snapshot.analysis.locate import import_target
from snapshot.capture.state import check_config_names
from snapshot.errors import ModelStateError, WeightsError, one_line

_SPEC = re.compile(
    r"^(?:(?P<name>[A-Za-z_]\w*)=)?(?P<shape>\d+(?:,\d+)*)(?::(?P<dtype>\w+))?$"
)


def build_target_model(
    target: str,
    config_text: str | None,
    input_specs: tuple[str, ...],
    inputs_file: str | None,
    weights: str | None,
) -> tuple[keras.Model, dict[str, Any], Any]:
    """Import TARGET, construct it with the config, build it on the inputs, load weights."""
    if weights is not None and not Path(weights).is_file():
        raise WeightsError(f"{weights}: no such weights file")
    inputs = parse_inputs(input_specs, inputs_file)
    cls = import_target(target)
    config = parse_config(config_text)
    check_config_names(cls, config)
    try:
        model = cls(**config)
    except Exception as error:
        raise ModelStateError(
            f"{target}({_brief(config)}) failed: {one_line(error)}"
        ) from None
    try:
        model(inputs)
    except Exception as error:
        raise ModelStateError(
            f"inputs do not fit {cls.__name__}: {one_line(error)}"
        ) from None
    if weights is not None:
        _load_weights(model, Path(weights))
    return model, config, inputs


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
    if not path.name.endswith((".weights.h5", ".keras")):
        raise WeightsError(f"{path}: weights must be a .weights.h5 or .keras file")
    try:
        model.load_weights(path)
    except Exception as error:
        raise WeightsError(
            f"{path}: cannot load into {type(model).__name__}: {one_line(error)}"
        ) from None


def _brief(config: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in config.items())
