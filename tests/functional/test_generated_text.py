"""Generated modules read like code a person would write."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import snapshot
from conftest import round_trip_in_isolation
from snapshot.api import module_source
from spellings import SpelledNet

BATCH = np.random.default_rng(3).normal(size=(2, 5)).astype("float32")


def test_tensorflow_keras_and_keras_become_one_keras(tmp_path: Path) -> None:
    model = SpelledNet(units=3)
    model(BATCH)
    text = module_source(model)
    lines = text.splitlines()
    # `from tensorflow import keras` and `import keras` name one module.
    assert lines.count("import keras") == 1
    assert "from keras import layers" in lines
    assert "keras_2" not in text and "tensorflow" not in text
    assert "class Gate(keras.layers.Layer):" in text
    found = round_trip_in_isolation(
        {"spelled": (model, BATCH)}, tmp_path, blocked=("spellings",)
    )["spelled"]
    assert "error" not in found, found
    assert found["diff"] == 0.0
    archive = snapshot.save(model, tmp_path / "again.snapshot", verify=False)
    from snapshot.archive.reader import read_archive

    assert "tensorflow" not in read_archive(archive).manifest.requirements
