"""Exact model state: constructor arguments of every kind, structured inputs and outputs.

Every model here is saved, then loaded in one fresh ``python -I`` interpreter
where ``statecases`` cannot be imported; outputs must be identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import snapshot
from conftest import randomize_weights, round_trip_in_isolation
from snapshot.capture.record import CONSTRUCTOR_CALLS
from statecases.rich import (
    MLP,
    BlockConfig,
    Configured,
    Encoder,
    Initialized,
    Lazy,
    Mixed,
    PairModel,
    Pooling,
    Segmenter,
    TokenTagger,
    scaled_tanh,
)

RNG = np.random.default_rng(11)
FLOATS = RNG.normal(size=(2, 3)).astype("float32")


def _models() -> dict[str, tuple[keras.Model, Any]]:
    tokens = {
        "tokens": RNG.integers(0, 20, size=(2, 5)).astype("int32"),
        "mask": np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype="int32"),
    }
    pair = [FLOATS, RNG.normal(size=(2, 4)).astype("float32")]
    cases = {
        "non_default": (MLP(units=32, depth=2), FLOATS),
        "required": (Mixed(5), FLOATS),
        "mixed": (Mixed(4, depth=2), FLOATS),
        "configured": (
            Configured(
                BlockConfig(units=6, dropout=0.5),
                kernel_sizes=(3, 5, 7),
                pooling=Pooling.MAX,
                activation=scaled_tanh,
            ),
            FLOATS,
        ),
        "model_argument": (
            Segmenter(Encoder(7, name="enc"), keras.layers.Dense(2, use_bias=False)),
            FLOATS,
        ),
        "dict_in_dict_out": (TokenTagger(), tokens),
        "list_in_tuple_out": (PairModel(), pair),
        "lazy": (Lazy(units=4), FLOATS),
        "keras_objects": (
            Initialized(
                keras.initializers.GlorotUniform(seed=3),
                regularizer=keras.regularizers.L2(0.01),
            ),
            FLOATS,
        ),
    }
    for model, inputs in cases.values():
        model(inputs)
        randomize_weights(model, RNG, low=0.5, high=1.5)
    return cases


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("state")
    return round_trip_in_isolation(_models(), work, blocked=("statecases",))


_NAMES = [
    "non_default",
    "required",
    "mixed",
    "configured",
    "model_argument",
    "dict_in_dict_out",
    "list_in_tuple_out",
    "lazy",
    "keras_objects",
]


@pytest.mark.parametrize("name", _NAMES)
def test_state_round_trips_exactly_in_isolation(
    loaded: dict[str, Any], name: str
) -> None:
    found = loaded[name]
    assert "error" not in found, found["error"]
    assert found["count"] == found["expected_count"]
    assert found["diff"] == 0.0


def test_generated_constructor_calls_are_readable_code(tmp_path: Path) -> None:
    model = Segmenter(Encoder(7, name="enc"), keras.layers.Dense(2, use_bias=False))
    model(FLOATS)
    folder = snapshot.save(model, tmp_path / "seg", layout="dir", verify=False)
    text = (folder / "segmenter_snapshot.py").read_text()
    assert (
        "    model = Segmenter(\n"
        '        encoder=Encoder(units=7, name="enc"),\n'
        "        head=keras.layers.Dense(units=2, use_bias=False),\n"
        "    )\n"
    ) in text
    assert "from keras.layers" not in text

    configured = Configured(
        BlockConfig(units=6), kernel_sizes=(3,), activation=scaled_tanh
    )
    configured(FLOATS)
    folder = snapshot.save(
        configured, tmp_path / "configured", layout="dir", verify=False
    )
    text = (folder / "configured_snapshot.py").read_text()
    assert (
        "    model = Configured(\n"
        "        config=BlockConfig(units=6, dropout=0.0),\n"
        "        kernel_sizes=(3,),\n"
        "        activation=scaled_tanh,\n"
        "    )\n"
    ) in text
    assert "\ndef scaled_tanh(x):" in text and "\nclass BlockConfig:" in text


def test_keras_objects_are_rebuilt_from_their_call_or_config(tmp_path: Path) -> None:
    initializer = keras.initializers.GlorotUniform(seed=3)
    model = Initialized(initializer)
    model(FLOATS)
    folder = snapshot.save(model, tmp_path / "init", layout="dir", verify=False)
    text = (folder / "initialized_snapshot.py").read_text()
    assert "initializer=keras.initializers.GlorotUniform(seed=3)" in text
    # One made before ``import snapshot`` has no recorded call: its config.
    del CONSTRUCTOR_CALLS[initializer]
    folder = snapshot.save(model, tmp_path / "config", layout="dir", verify=False)
    text = (folder / "initialized_snapshot.py").read_text()
    assert "initializer=keras.initializers.GlorotUniform.from_config(\n" in text
    assert '{"seed": 3, "input_axes": None, "output_axes": None}' in text


def test_keras_format_loses_the_arguments_and_the_snapshot_keeps_them(
    tmp_path: Path,
) -> None:
    model = MLP(units=32)
    model(FLOATS)
    # Keras 3 records the constructor's defaults for a subclassed Model.
    assert model.get_config()["units"] == 8
    model.save(tmp_path / "mlp.keras")
    # Rebuilt with units=8, the 32-unit weights find no home.
    with pytest.raises(ValueError, match="could not be loaded"):
        keras.saving.load_model(tmp_path / "mlp.keras", custom_objects={"MLP": MLP})
    loaded = snapshot.load(
        snapshot.save(model, tmp_path / "mlp.snapshot", verify=False)
    )
    np.testing.assert_array_equal(np.asarray(loaded(FLOATS)), np.asarray(model(FLOATS)))
