"""A model built under a global dtype policy (mixed precision) is rebuilt under it.

Keras layers take the global policy when they are made, and the policy is not
in the weights: rebuilt under float32, a mixed_float16 model computes other
outputs. The generated ``build_model()`` sets the recorded policy while it
builds and restores the process's own afterwards.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

import snapshot
from conftest import round_trip_in_isolation
from snapshot.archive.reader import read_archive


def test_mixed_precision_model_round_trips(tmp_path: Path) -> None:
    from zoo import Classifier

    batch = np.random.default_rng(3).normal(size=(2, 5)).astype("float32")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = Classifier(num_classes=4, hidden=8)
        model(batch)
    finally:
        keras.config.set_dtype_policy(previous)
    assert model.dtype_policy.name == "mixed_float16"

    found = round_trip_in_isolation(
        {"mixed": (model, batch)}, tmp_path, blocked=("zoo",)
    )
    assert found["mixed"].get("error") is None, found["mixed"]
    assert found["mixed"]["diff"] == 0.0

    loaded = snapshot.load(tmp_path / "mixed.snapshot")
    assert loaded.dtype_policy.name == "mixed_float16"
    assert keras.config.dtype_policy().name == previous.name
    manifest = read_archive(tmp_path / "mixed.snapshot").manifest
    assert manifest.model.dtype_policy == "mixed_float16"
