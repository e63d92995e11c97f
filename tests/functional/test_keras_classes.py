"""Models of Keras' own classes: a Sequential that starts with ``keras.Input``.

Functional models and Sequential ones of first-party parts: test_graphs.py."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from conftest import round_trip_in_isolation
from snapshot.api import module_source

BATCH = np.random.default_rng(4).normal(size=(2, 3)).astype("float32")


def test_sequential_with_an_input_round_trips(tmp_path: Path) -> None:
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)]
    )
    model(BATCH)
    text = module_source(model, inputs=BATCH)
    assert 'keras.Input(shape=(3,), dtype="float32", name="input_layer' in text
    found = round_trip_in_isolation({"seq": (model, BATCH)}, tmp_path, blocked=())
    assert found["seq"].get("error") is None, found["seq"]
    assert found["seq"]["diff"] == 0.0
