"""SnapshotCheckpoint in real ``fit`` runs: which checkpoints it keeps, and resuming from them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import snapshot
from conftest import SCRIPTS, TESTS, run_isolated, run_python
from fitted import NoisyRegressor, Regressor, ScaledSquaredError, WithinTolerance
from snapshot.archive.manifest import CheckpointRecord
from snapshot.archive.reader import read_archive
from snapshot.checkpoint.background import BackgroundWriter
from snapshot.checkpoint.session import CheckpointSession
from snapshot.config import SnapshotConfig

BATCH_SIZE = 16


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(96, 4)).astype("float32")
    return x, np.sin(x.sum(axis=1, keepdims=True)).astype("float32")


def _compiled(scale: float = 2.0, *, noisy: bool = False) -> keras.Model:
    keras.utils.set_random_seed(2)
    model = NoisyRegressor(8) if noisy else Regressor(8)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=ScaledSquaredError(scale),
        metrics=[WithinTolerance(0.25)],
    )
    return model


def _manifest(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("snapshot.json"))


def _scripted(scores: list[float]) -> keras.callbacks.Callback:
    """Puts ``score`` into the logs the callbacks after it see: a monitor with known values."""
    return keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: logs.update(score=scores[epoch])
    )


def test_save_best_only_and_keep_last_in_a_real_fit(tmp_path: Path) -> None:
    scores = [0.1, 0.3, 0.2, 0.5, 0.4, 0.6]
    checkpoint = snapshot.SnapshotCheckpoint(
        tmp_path / "ckpt-{epoch:02d}-{score:.1f}.snapshot",
        monitor="score",
        mode="max",
        save_best_only=True,
        keep_last=2,
    )
    x, y = _data()
    model = _compiled()
    model.fit(
        x,
        y,
        epochs=len(scores),
        batch_size=BATCH_SIZE,
        verbose=0,
        callbacks=[_scripted(scores), checkpoint],
    )
    # Improvements at epochs 1, 2, 4 and 6; the two newest are kept.
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["ckpt-04-0.5.snapshot", "ckpt-06-0.6.snapshot"]
    fourth, sixth = (_manifest(tmp_path / name) for name in kept)
    assert fourth["checkpoint"]["epoch"] == 4 and sixth["checkpoint"]["epoch"] == 6
    assert sixth["checkpoint"]["logs"]["score"] == 0.6
    assert sixth["training"]["iterations"] == 6 * len(x) // BATCH_SIZE
    # Verified once, at epoch 1 (since removed); later ones reuse that module.
    assert fourth["members"]["regressor_snapshot.py"] == (
        sixth["members"]["regressor_snapshot.py"]
    )
    assert "at ckpt-01-0.1.snapshot" in sixth["verification"]["method"]
    report = snapshot.verify(tmp_path / "ckpt-06-0.6.snapshot")
    assert report.passed, report.summary()


_RESUME = """
import json
import shutil
import numpy as np
import snapshot

data = np.load(DATA)
model = snapshot.load(CHECKPOINT)
model.fit(data["x"], data["y"], epochs=1, batch_size=BATCH_SIZE, shuffle=False, verbose=0)
np.savez(OUT, *[np.asarray(v) for v in model.weights])
print(json.dumps({"epoch_loaded": True}))
"""


@pytest.mark.parametrize("background", [False, True])
def test_resuming_from_a_checkpoint_matches_continuing(
    tmp_path: Path, background: bool
) -> None:
    checkpoint = snapshot.SnapshotCheckpoint(
        tmp_path / "ckpt-{epoch}.snapshot", background=background
    )
    x, y = _data()
    # Dropout and noise: their generators' state is captured with the weights.
    model = _compiled(noisy=True)
    model.fit(
        x,
        y,
        epochs=3,
        batch_size=BATCH_SIZE,
        shuffle=False,
        verbose=0,
        callbacks=[checkpoint],
    )
    # Written in the background while epoch 3 trained, yet holding epoch 2's state.
    np.savez(tmp_path / "data.npz", x=x, y=y)
    run_isolated(
        _RESUME.replace("DATA", repr(str(tmp_path / "data.npz")))
        .replace("CHECKPOINT", repr(str(tmp_path / "ckpt-2.snapshot")))
        .replace("OUT", repr(str(tmp_path / "resumed.npz")))
        .replace("BATCH_SIZE", str(BATCH_SIZE)),
        blocked=("fitted",),
        workdir=tmp_path / "empty",
    )
    with np.load(tmp_path / "resumed.npz") as resumed:
        for index, variable in enumerate(model.weights):
            np.testing.assert_array_equal(resumed[f"arr_{index}"], np.asarray(variable))


def test_a_checkpoint_holds_the_weights_of_when_it_was_captured(
    tmp_path: Path,
) -> None:
    """What background=True relies on: the job may run after training moved on."""
    x, y = _data()
    model = _compiled()
    model.fit(x, y, epochs=1, batch_size=BATCH_SIZE, verbose=0)
    session = CheckpointSession(options=SnapshotConfig(), verify=False)
    job = session.capture(
        model, tmp_path / "ckpt.snapshot", CheckpointRecord(1, None, {})
    )
    captured = [np.array(v) for v in model.weights]
    step = int(model.optimizer.iterations.numpy())
    model.fit(x, y, epochs=1, batch_size=BATCH_SIZE, verbose=0)
    job()
    loaded = snapshot.load(tmp_path / "ckpt.snapshot")
    assert int(loaded.optimizer.iterations.numpy()) == step
    for want, got in zip(captured, loaded.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(got), want)
    assert not np.array_equal(captured[0], np.asarray(model.weights[0]))


def test_save_freq_in_batches_fills_in_the_batch(tmp_path: Path) -> None:
    checkpoint = snapshot.SnapshotCheckpoint(
        tmp_path / "e{epoch}-b{batch}.snapshot", save_freq=4, verify=False
    )
    x, y = _data()
    _compiled().fit(
        x, y, epochs=2, batch_size=BATCH_SIZE, verbose=0, callbacks=[checkpoint]
    )
    # Six batches an epoch, a checkpoint every four.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "e1-b4.snapshot",
        "e2-b2.snapshot",
        "e2-b6.snapshot",
    ]
    assert _manifest(tmp_path / "e2-b2.snapshot")["checkpoint"]["batch"] == 2


def test_compiling_again_generates_the_module_again(tmp_path: Path) -> None:
    checkpoint = snapshot.SnapshotCheckpoint(
        tmp_path / "ckpt-{epoch}.snapshot", verify=False
    )
    x, y = _data()
    model = _compiled(scale=2.0)
    model.fit(x, y, epochs=1, batch_size=BATCH_SIZE, verbose=0, callbacks=[checkpoint])
    model.compile(optimizer="sgd", loss=ScaledSquaredError(3.0))
    model.fit(
        x,
        y,
        initial_epoch=1,
        epochs=2,
        batch_size=BATCH_SIZE,
        verbose=0,
        callbacks=[checkpoint],
    )
    first = read_archive(tmp_path / "ckpt-1.snapshot").module_text
    second = read_archive(tmp_path / "ckpt-2.snapshot").module_text
    assert "ScaledSquaredError(scale=2.0)" in first
    assert "ScaledSquaredError(scale=3.0)" in second and "SGD(" in second


@pytest.mark.parametrize("mode", ["foreground", "background"])
def test_a_run_killed_mid_write_leaves_the_previous_checkpoint_whole(
    tmp_path: Path, mode: str
) -> None:
    completed = run_python(
        str(SCRIPTS / "checkpoint_until_killed.py"), str(tmp_path), "3", mode
    )
    assert completed.returncode == -9, completed.stderr[-3000:]
    archives = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    # keep_last=1: the third checkpoint died half-written, so the second stays.
    assert archives == ["ckpt-2.snapshot"]
    # It did die mid-write: its staging zip holds the weights but was never
    # finished (no manifest, no central directory), and it was never renamed.
    (partial,) = tmp_path.glob(".snapshot-*/archive.zip")
    assert partial.stat().st_size > 64 * 4 * 4
    assert not zipfile.is_zipfile(partial)
    opened = read_archive(tmp_path / "ckpt-2.snapshot")  # every hash checks out
    assert opened.manifest.checkpoint is not None
    assert opened.manifest.checkpoint.epoch == 2
    loaded = snapshot.load(tmp_path / "ckpt-2.snapshot")
    assert int(loaded.optimizer.iterations.numpy()) == 2 * 64 // 16
    # The next write into the folder finds the dead writer's staging folder
    # unlocked and removes it.
    snapshot.save(loaded, tmp_path / "after.snapshot", verify=False)
    assert not list(tmp_path.glob(".snapshot-*"))


def test_only_a_dead_writers_staging_folder_is_removed(tmp_path: Path) -> None:
    # A writer holds a lock on its staging folder's owner file, which names
    # its host and process, while it writes.
    import fcntl

    x, _ = _data()
    model = _compiled()
    model(x[:2])
    ended = subprocess.Popen(["true"])
    ended.wait()
    owners = {
        "locked": f"{socket.gethostname()} {ended.pid}",
        "running": f"{socket.gethostname()} {os.getpid()}",
        "elsewhere": f"another-host {ended.pid}",
        "dead": f"{socket.gethostname()} {ended.pid}",
    }
    for name, owner in owners.items():
        (tmp_path / f".snapshot-{name}").mkdir()
        (tmp_path / f".snapshot-{name}" / "owner.lock").write_text(owner + "\n")
    (tmp_path / ".snapshot-starting").mkdir()  # its owner file not yet in place
    with open(tmp_path / ".snapshot-locked" / "owner.lock") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        snapshot.save(model, tmp_path / "other.snapshot", verify=False)
        left = sorted(p.name for p in tmp_path.glob(".snapshot-*"))
        assert left == [f".snapshot-{n}" for n in sorted(set(owners) - {"dead"})] + [
            ".snapshot-starting"
        ]
    # Its writer gone (the lock released), the next write removes it.
    snapshot.save(model, tmp_path / "another.snapshot", verify=False)
    assert not (tmp_path / ".snapshot-locked").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"mode": "best"}, "mode must be 'auto', 'min' or 'max', not 'best'"),
        (
            {"save_freq": 0},
            "save_freq must be 'epoch' or a positive number of batches, not 0",
        ),
        ({"keep_last": 0}, "keep_last must be a positive number, not 0"),
    ],
)
def test_bad_arguments_are_refused_at_once(
    tmp_path: Path, arguments: dict, message: str
) -> None:
    with pytest.raises(snapshot.CheckpointError) as raised:
        snapshot.SnapshotCheckpoint(tmp_path / "x.snapshot", **arguments)
    assert str(raised.value) == message


def test_an_unknown_placeholder_names_the_known_ones(tmp_path: Path) -> None:
    checkpoint = snapshot.SnapshotCheckpoint(tmp_path / "x-{val_acc}.snapshot")
    x, y = _data()
    with pytest.raises(snapshot.CheckpointError) as raised:
        _compiled().fit(x, y, epochs=1, verbose=0, callbacks=[checkpoint])
    assert str(raised.value).startswith(
        f"cannot fill in filepath '{tmp_path}/x-{{val_acc}}.snapshot': KeyError: 'val_acc'"
    )
    assert list(tmp_path.iterdir()) == []


def test_the_module_is_reused_while_the_code_hashes_the_same(tmp_path: Path) -> None:
    """Checked by sha256, not by file stamps: a touched file keeps the module, an edited one does not."""
    shutil.copytree(TESTS / "assets" / "fitted", tmp_path / "sources" / "fitted")
    (tmp_path / "out").mkdir()
    completed = run_python(
        str(SCRIPTS / "checkpoint_while_editing.py"),
        str(tmp_path / "sources"),
        str(tmp_path / "out"),
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    modules = found["modules"]
    assert modules["1"] == modules["2"] != modules["3"], found["said"]
    layers = tmp_path / "sources" / "fitted" / "layers.py"
    assert found["said"] == [
        f"generating and verifying the module again: {layers} changed"
    ]


def test_an_interrupted_wait_leaves_the_write_pending() -> None:
    # Ctrl-C while fit waits for a background write: the next wait (before the
    # next capture refills the host arrays) still waits for that write.
    writer = BackgroundWriter()
    release = threading.Event()
    writer.submit(lambda: release.wait(30))
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt):
        writer.wait()
    threading.Timer(0.3, release.set).start()
    writer.wait()
    assert release.is_set()
    writer.close()
