"""A compiled model's snapshot resumes training exactly, without the original code.

The model, its loss, its metric and its learning-rate schedule all live in
``tests/assets/fitted``, which the isolated interpreter cannot import.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import snapshot
from conftest import run_isolated
from fitted import (
    NoisyRegressor,
    Regressor,
    ScaledSquaredError,
    WarmupThenDecay,
    WithinTolerance,
)

BATCH_SIZE = 16


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(96, 4)).astype("float32")
    return x, np.sin(x.sum(axis=1, keepdims=True)).astype("float32")


OPTIMIZERS = {
    # The first-party schedule rides on Adam; the others keep a plain rate,
    # which lives in a variable that the weights carry.
    "adam": lambda: keras.optimizers.Adam(learning_rate=WarmupThenDecay(0.02, 4)),
    "adamw": lambda: keras.optimizers.AdamW(learning_rate=0.01, weight_decay=0.05),
    "rmsprop": lambda: keras.optimizers.RMSprop(learning_rate=0.005, momentum=0.5),
    "sgd_momentum": lambda: keras.optimizers.SGD(
        learning_rate=0.02, momentum=0.9, nesterov=True
    ),
}


def _trained(optimizer: str) -> keras.Model:
    keras.utils.set_random_seed(11)
    model = Regressor(8)
    model.compile(
        optimizer=OPTIMIZERS[optimizer](),
        loss=ScaledSquaredError(2.0),
        metrics=[WithinTolerance(0.25)],
    )
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=BATCH_SIZE, shuffle=False, verbose=0)
    return model


_RESUME = """
import json
import numpy as np
import snapshot

jobs = json.loads(open(JOBS).read())
data = np.load(jobs.pop("data"))
found = {}
for name, archive in jobs.items():
    model = snapshot.load(archive)
    step_at_load = int(model.optimizer.iterations.numpy())
    history = model.fit(
        data["x"], data["y"], epochs=1, batch_size=BATCH_SIZE, shuffle=False, verbose=0
    )
    np.savez(archive + ".resumed.npz", *[np.asarray(v) for v in model.weights])
    found[name] = {
        "step_at_load": step_at_load,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "optimizer": type(model.optimizer).__name__,
    }
print(json.dumps(found))
"""


def _noisy() -> keras.Model:
    """Dropout and noise: their generators' state is not among Keras' weights."""
    keras.utils.set_random_seed(12)
    model = NoisyRegressor(8)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=ScaledSquaredError(2.0))
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=BATCH_SIZE, shuffle=False, verbose=0)
    return model


def test_resuming_in_isolation_matches_continuing_in_process(tmp_path: Path) -> None:
    x, y = _data()
    np.savez(tmp_path / "data.npz", x=x, y=y)
    jobs: dict[str, Any] = {"data": str(tmp_path / "data.npz")}
    expected = {}
    for name in [*OPTIMIZERS, "noisy"]:
        model = _noisy() if name == "noisy" else _trained(name)
        archive = snapshot.save(model, tmp_path / f"{name}.snapshot", verify=False)
        jobs[name] = str(archive)
        step = int(model.optimizer.iterations.numpy())
        history = model.fit(
            x, y, epochs=1, batch_size=BATCH_SIZE, shuffle=False, verbose=0
        )
        expected[name] = (step, history.history, [np.asarray(v) for v in model.weights])
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    found = run_isolated(
        _RESUME.replace("JOBS", repr(str(tmp_path / "jobs.json"))).replace(
            "BATCH_SIZE", str(BATCH_SIZE)
        ),
        blocked=("fitted",),
        workdir=tmp_path / "empty",
    )
    for name, (step, history, weights) in expected.items():
        assert found[name]["step_at_load"] == step == len(x) // BATCH_SIZE
        assert found[name]["history"] == history, name
        with np.load(jobs[name] + ".resumed.npz") as resumed:
            assert len(resumed.files) == len(weights)
            for index, want in enumerate(weights):
                # Bit for bit: same optimizer state, same step, same schedule.
                np.testing.assert_array_equal(resumed[f"arr_{index}"], want, name)


def test_compile_false_loads_an_uncompiled_model(tmp_path: Path) -> None:
    model = _trained("adam")
    archive = snapshot.save(model, tmp_path / "m.snapshot", verify=False)
    loaded = snapshot.load(archive, compile=False)
    assert not loaded.compiled
    x, _ = _data()
    np.testing.assert_array_equal(np.asarray(loaded(x[:4])), np.asarray(model(x[:4])))
    assert snapshot.load(archive).compiled


def test_manifest_records_the_optimizer_and_its_step(tmp_path: Path) -> None:
    model = _trained("rmsprop")
    folder = snapshot.save(model, tmp_path / "m", layout="dir", verify=False)
    training = json.loads((folder / "snapshot.json").read_text())["training"]
    assert training == {
        "optimizer": "keras.optimizers.RMSprop",
        "iterations": 6,
        "optimizer_state": True,
    }


def test_an_uncompiled_model_has_no_compile_state(tmp_path: Path) -> None:
    model = Regressor(4)
    model(np.zeros((1, 4), "float32"))
    folder = snapshot.save(model, tmp_path / "m", layout="dir", verify=False)
    assert json.loads((folder / "snapshot.json").read_text())["training"] is None
    assert "compile_model" not in (folder / "regressor_snapshot.py").read_text()
    assert not snapshot.load(folder).compiled


def test_a_loss_made_before_import_snapshot_needs_get_config(tmp_path: Path) -> None:
    from snapshot.capture import record

    model = _trained("sgd_momentum")
    loss = model._compile_config.config["loss"]
    del record.CONSTRUCTOR_CALLS[loss]  # as if created before `import snapshot`
    with pytest.raises(snapshot.ModelStateError) as raised:
        snapshot.save(model, tmp_path / "m.snapshot", verify=False)
    assert str(raised.value) == (
        "the loss given to compile() is a ScaledSquaredError created before "
        "`import snapshot`, so its constructor arguments are unknown; import "
        "snapshot before creating it, or give its class a get_config()"
    )
    assert not (tmp_path / "m.snapshot").exists()


def test_a_weights_file_keras_wrote_loads_into_a_module_with_generators(
    tmp_path: Path,
) -> None:
    """``load_model(path)`` of a file ``save_weights`` wrote, which holds no
    generator states: the weights load, the generators start afresh."""
    model = _noisy()
    archive = snapshot.save(
        model, tmp_path / "noisy", verify=False, layout="dir", overwrite=True
    )
    model.save_weights(tmp_path / "plain.weights.h5")
    x, _ = _data()
    np.save(tmp_path / "x.npy", x)
    expected = np.asarray(model(x, training=False))
    module = json.loads((archive / "snapshot.json").read_text())["module"][:-3]
    found = run_isolated(
        f"""
        import json, sys
        import numpy as np
        sys.path.insert(0, {str(archive)!r})
        import {module} as generated
        model = generated.load_model({str(tmp_path / "plain.weights.h5")!r})
        got = np.asarray(model(np.load({str(tmp_path / "x.npy")!r}), training=False))
        print(json.dumps({{"outputs": got.tolist()}}))
        """,
        blocked=("fitted",),
        workdir=tmp_path / "empty",
    )
    np.testing.assert_array_equal(np.asarray(found["outputs"], "float32"), expected)
