"""``snapshot diff``: what changed between two archives, without running their code."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import keras
import numpy as np
from click.testing import CliRunner

import snapshot
from fitted import Regressor, ScaledSquaredError
from snapshot.cli.commands import cli
from zoo import Classifier

BATCH = np.random.default_rng(4).normal(size=(32, 4)).astype("float32")


def _diff(a: Path, b: Path, *options: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["diff", str(a), str(b), *options], catch_exceptions=False
    )
    return result.exit_code, result.output


def _two_checkpoints(folder: Path) -> tuple[Path, Path]:
    keras.utils.set_random_seed(3)
    model = Regressor(6)
    model.compile(optimizer="adam", loss=ScaledSquaredError(1.5))
    checkpoint = snapshot.SnapshotCheckpoint(
        folder / "ckpt-{epoch}.snapshot", verify=False
    )
    y = np.cos(BATCH[:, :1])
    model.fit(BATCH, y, epochs=2, batch_size=8, verbose=0, callbacks=[checkpoint])
    return folder / "ckpt-1.snapshot", folder / "ckpt-2.snapshot"


def test_two_checkpoints_of_one_run_differ_in_weights_and_step(tmp_path: Path) -> None:
    first, second = _two_checkpoints(tmp_path)
    code, output = _diff(first, second, "--json")
    assert code == 1
    found = json.loads(output)
    assert not found["identical"]
    assert found["code"] == [] and found["constructor"] == [] and found["inputs"] == []
    assert {(c["name"], c["before"], c["after"]) for c in found["training"]} == {
        ("optimizer step", 4, 8),
        ("checkpoint epoch", 1, 2),
    }
    # Every trained variable moved, and so did the optimizer's moments and step.
    names = {w["name"] for w in found["weights"]}
    assert "head/vars/0" in names and "optimizer/vars/0" in names
    assert found["variables_compared"] == len(names) + 1  # the Adam learning rate held
    for weight in found["weights"]:
        assert weight["change"] == "values"
        assert weight["max_abs_diff"] > 0 and 0 < weight["relative_l2"]
    code, text = _diff(first, second)
    assert code == 1
    assert "  optimizer step: 4 -> 8" in text.splitlines()
    assert f"weights: {len(names)} of {len(names) + 1} variables differ" in text


def test_an_archive_and_its_resave_are_identical(tmp_path: Path) -> None:
    model = Classifier(num_classes=3, hidden=4)
    model(BATCH[:, :5] if BATCH.shape[1] >= 5 else np.zeros((2, 5), "float32"))
    first = snapshot.save(model, tmp_path / "a.snapshot", verify=False)
    second = snapshot.save(model, tmp_path / "b.snapshot", verify=False)
    code, output = _diff(first, second)
    assert code == 0
    assert output.strip() == (
        f"{first} and {second} are identical (code, arguments, inputs, "
        f"{len(model.weights)} weights, training state, versions, requirements)"
    )


def test_archives_of_two_different_models(tmp_path: Path) -> None:
    narrow, wide = Regressor(6), Regressor(10, outputs=2)
    for model in (narrow, wide):
        model(BATCH[:2])
    first = snapshot.save(narrow, tmp_path / "narrow.snapshot", verify=False)
    second = snapshot.save(wide, tmp_path / "wide.snapshot", verify=False)
    code, output = _diff(first, second, "--json")
    assert code == 1
    found = json.loads(output)
    assert {(c["name"], c["before"], c["after"]) for c in found["constructor"]} == {
        ("width", "6", "10"),
        ("outputs", None, "2"),
    }
    assert "-    model = Regressor(width=6)" in found["code"]
    assert "+    model = Regressor(width=10, outputs=2)" in found["code"]
    # Keras stores the stem under the model's layer list, by layer name.
    stem = next(w for w in found["weights"] if w["name"] == "layers/dense/vars/0")
    assert (stem["change"], stem["shape_before"], stem["shape_after"]) == (
        "shape",
        [4, 6],
        [4, 10],
    )
    other = snapshot.save(
        Classifier(num_classes=3, hidden=4),
        tmp_path / "zoo.snapshot",
        inputs=np.zeros((2, 5), "float32"),
        verify=False,
    )
    code, text = _diff(first, other)
    assert code == 1
    assert "  class: 'Regressor' -> 'Classifier'" in text.splitlines()
    assert any(line.startswith("  +class Classifier(") for line in text.splitlines())
    assert "removed (4, 6)" in text and "added" in text


def test_diff_never_runs_the_archives_code(tmp_path: Path) -> None:
    model = Regressor(4)
    model(BATCH[:2])
    first = snapshot.save(model, tmp_path / "a", layout="dir", verify=False)
    second = snapshot.save(model, tmp_path / "b", layout="dir", verify=False)
    marker = tmp_path / "ran"
    module = second / "regressor_snapshot.py"
    module.write_text(
        module.read_text()
        + f"\nimport pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
    )
    manifest = json.loads((second / "snapshot.json").read_text())
    manifest["members"][module.name] = hashlib.sha256(module.read_bytes()).hexdigest()
    (second / "snapshot.json").write_text(json.dumps(manifest))
    code, output = _diff(first, second)
    assert code == 1
    assert "+pathlib.Path(" in output
    assert not marker.exists()


def test_an_unreadable_archive_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "a.snapshot").write_bytes(b"not a zip")
    result = CliRunner().invoke(
        cli, ["diff", str(tmp_path / "a.snapshot"), str(tmp_path / "missing")]
    )
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {tmp_path / 'a.snapshot'}: not a readable zip archive: "
        "File is not a zip file"
    )
