"""Models of Keras' own classes: a Sequential that starts with ``keras.Input``,
and the functional ``keras.Model(inputs, outputs)``, which is config, not code."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import snapshot
from conftest import round_trip_in_isolation
from snapshot.api import module_source

BATCH = np.random.default_rng(4).normal(size=(2, 3)).astype("float32")


def test_sequential_with_an_input_round_trips(tmp_path: Path) -> None:
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)]
    )
    model(BATCH)
    text = module_source(model, inputs=BATCH)
    assert 'Input(shape=(3,), dtype="float32")' in text
    found = round_trip_in_isolation({"seq": (model, BATCH)}, tmp_path, blocked=())
    assert found["seq"].get("error") is None, found["seq"]
    assert found["seq"]["diff"] == 0.0


def test_functional_model_is_refused_with_what_to_do(tmp_path: Path) -> None:
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(snapshot.SnapshotError) as raised:
        snapshot.save(model, tmp_path / "f.snapshot", inputs=BATCH)
    assert str(raised.value) == (
        "constructor argument 'outputs' is a tensor of a functional graph: a model "
        "made as keras.Model(inputs, outputs) is Keras config, not code; save it "
        "with model.save('x.keras'), or subclass keras.Model"
    )
    assert list(tmp_path.iterdir()) == []
