"""When a model's constructor arguments cannot be recovered, or do not rebuild it.

One error lists every missing argument and the ``config=`` to pass, filled in
with what was found; a rebuilt model whose variables differ names the first
variable that differs and both shapes.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import snapshot
from snapshot.capture import record
from statecases.hidden import Encoder, Shifted

BATCH = np.arange(6, dtype="float32").reshape(2, 3)


def _made_unrecorded(model: keras.Model) -> keras.Model:
    # As if keras-snapshot's recorder had been off when the model was made.
    model(BATCH)
    del record.CONSTRUCTOR_CALLS[model]
    return model


def test_every_missing_argument_is_named_with_the_config_to_pass(
    tmp_path: Path,
) -> None:
    model = _made_unrecorded(Encoder(3, 4, 2, activation="tanh"))
    with pytest.raises(snapshot.ModelStateError) as raised:
        snapshot.save(model, tmp_path / "x.snapshot", verify=False)
    assert str(raised.value) == (
        "cannot recover required arguments 'width' and 'depth' of Encoder (its "
        "constructor call was not recorded, and no get_config() or attribute holds "
        "them); pass config={'units': 3, 'width': ..., 'depth': ..., "
        "'activation': 'relu'}"
    )
    assert list(tmp_path.iterdir()) == []


def test_the_skeleton_once_filled_in_saves_the_model(tmp_path: Path) -> None:
    model = _made_unrecorded(Encoder(3, 4, 2, activation="tanh"))
    config = {"units": 3, "width": 4, "depth": 2, "activation": "tanh"}
    path = snapshot.save(model, tmp_path / "x.snapshot", config=config, verify=False)
    loaded = snapshot.load(path)
    np.testing.assert_array_equal(np.asarray(loaded(BATCH)), np.asarray(model(BATCH)))


def test_config_missing_arguments_lists_them_all(tmp_path: Path) -> None:
    model = Encoder(3, 4, 2)
    model(BATCH)
    with pytest.raises(snapshot.ModelStateError) as raised:
        snapshot.save(model, tmp_path / "x.snapshot", config={"units": 3})
    assert str(raised.value) == (
        "config lacks 'width' and 'depth', required arguments of Encoder.__init__; "
        "complete it: config={'units': 3, 'width': ..., 'depth': ...}"
    )


def test_wrong_config_names_the_variable_and_does_not_ask_for_config(
    tmp_path: Path,
) -> None:
    model = Encoder(3, 4, 2)
    model(BATCH)
    with pytest.raises(snapshot.ModelStateError) as raised:
        snapshot.save(
            model,
            tmp_path / "x.snapshot",
            config={"units": 3, "width": 4, "depth": 3},
            verify=False,
        )
    head_kernel = model.head.kernel.path
    assert str(raised.value) == (
        "Encoder rebuilt from its arguments (taken from config) differs from the live "
        f"model: variable {head_kernel} is (4, 3) float32 in the live model, (4, 4) "
        "float32 rebuilt; the config= given does not describe this model; check its "
        "values"
    )


def test_fewer_variables_rebuilt_names_the_first_unmatched_one(
    tmp_path: Path,
) -> None:
    # Blocks as wide as the head: one block fewer leaves every shape in common.
    model = Encoder(4, 4, 2)
    model(BATCH)
    with pytest.raises(snapshot.ModelStateError) as raised:
        snapshot.save(
            model,
            tmp_path / "x.snapshot",
            config={"units": 4, "width": 4, "depth": 1},
            verify=False,
        )
    assert str(raised.value) == (
        "Encoder rebuilt from its arguments (taken from config) differs from the live "
        "model: the live model has 6 variables, the rebuilt one 4 (first unmatched, "
        f"live: {model.head.kernel.path} (4, 4) float32); the config= given does not "
        "describe this model; check its values"
    )


def test_wrong_attributes_ask_for_config(tmp_path: Path) -> None:
    model = _made_unrecorded(Shifted(2))
    with pytest.raises(snapshot.ModelStateError) as raised:
        snapshot.save(model, tmp_path / "x.snapshot", verify=False)
    kernel = model.dense.kernel.path
    assert str(raised.value) == (
        "Shifted rebuilt from its arguments (taken from attributes) differs from the "
        f"live model: variable {kernel} is (3, 2) float32 in the live model, (3, 3) "
        "float32 rebuilt; pass the constructor arguments as config="
    )
