"""Weights made in memory are the file ``model.save_weights`` writes, capture after capture."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from fitted import Regressor, ScaledSquaredError
from snapshot.capture.weights import WeightsCapture, weights_file_bytes


def _contents(file: Any) -> list[tuple[str, dict[str, Any], bytes | None]]:
    found: list[tuple[str, dict[str, Any], bytes | None]] = []
    with h5py.File(file, "r") as opened:
        opened.visititems(
            lambda name, item: found.append(
                (
                    name,
                    dict(item.attrs),
                    item[()].tobytes() if isinstance(item, h5py.Dataset) else None,
                )
            )
        )
    return found


def test_each_capture_matches_save_weights(tmp_path: Path) -> None:
    x = np.random.default_rng(1).normal(size=(32, 4)).astype("float32")
    y = x[:, :1] * 2
    model = Regressor(5)
    model.compile(optimizer="adam", loss=ScaledSquaredError(1.0))
    capture = WeightsCapture()
    model(x[:1])
    # Unbuilt optimizer, then built: the second capture must see the new variables.
    previous: list[np.ndarray] = []
    for round_ in range(4):
        captured = capture.capture(model)
        assert captured is not None
        arrays = [value for kind, _, value in captured.operations if kind == "set"]
        if round_ >= 2:
            # Same variables as the round before: its host arrays are refilled
            # rather than fresh memory touched again (the values are checked below).
            assert all(a is b for a, b in zip(arrays, previous, strict=True))
        previous = arrays
        model.save_weights(tmp_path / f"{round_}.weights.h5")
        expected = _contents(tmp_path / f"{round_}.weights.h5")
        assert _contents(io.BytesIO(bytes(captured.to_h5()))) == expected
        # What snapshot.save writes, straight from the variables.
        written = weights_file_bytes(model)
        assert written is not None
        assert _contents(io.BytesIO(bytes(written))) == expected
        # The optimizer's arrays are traced back to its variables, so the
        # layout walk is kept for the next capture (the point of the class).
        assert capture.layout_kept
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    names = [name for name, _, data in expected if data is not None]
    assert "optimizer/vars/1" in names  # the moments, made by the first fit


def test_later_walks_reuse_keras_attribute_skipsets(tmp_path: Path) -> None:
    import keras
    from keras.src.backend.common import global_state

    model = Regressor(5)
    model(np.ones((1, 4), "float32"))
    weights_file_bytes(model)  # the first walk computes the sets, as Keras does
    before = keras.backend.get_uid("layer")
    written = weights_file_bytes(model)
    # Keras 3.15 builds a throwaway Layer() per layer walked; none here.
    assert keras.backend.get_uid("layer") == before + 1
    assert written is not None
    model.save_weights(tmp_path / "keras.weights.h5")
    assert _contents(io.BytesIO(bytes(written))) == _contents(
        tmp_path / "keras.weights.h5"
    )
    # Lent for the walk only: Keras' own saving outside it is untouched.
    lent = [
        name
        for name in vars(global_state.GLOBAL_STATE_TRACKER)
        if name.startswith("saving_attr_skiplist_")
    ]
    assert lent == []
