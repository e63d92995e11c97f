"""Verification: a fresh interpreter without the original code must reproduce the outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import snapshot
from snapshot.cli.commands import cli
from statecases.models import StoresUnits
from statecases.stateful import train as train_stateful
from zoo import Classifier

BATCH = np.linspace(-1, 1, 10, dtype="float32").reshape(2, 5)


@pytest.fixture(scope="module")
def verified_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = Classifier(num_classes=3)
    model(BATCH)
    return snapshot.save(model, tmp_path_factory.mktemp("verified") / "zoo.snapshot")


def test_save_verifies_and_records_it(verified_archive: Path) -> None:
    folder = verified_archive.parent / "unpacked"
    shutil.unpack_archive(verified_archive, folder, format="zip")
    manifest = json.loads((folder / "snapshot.json").read_text())
    verification = manifest["verification"]
    # A verified save forks its check from the warm verifier (Linux).
    assert (
        verification["method"]
        == "child forked from a warm interpreter (python -I), original packages blocked"
    )
    assert verification["max_abs_diff"] == 0.0
    # Rounding alone: 16 units in the last place of the largest output (<= 1 here).
    assert verification["tolerance"] == pytest.approx(16 * np.finfo("float32").eps)
    assert verification["variables"] == 8


def test_verify_command_reports_and_passes(verified_archive: Path) -> None:
    result = CliRunner().invoke(cli, ["verify", str(verified_archive), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["passed"] and report["max_abs_diff"] == 0.0
    assert report["variables_expected"] == report["variables_loaded"] == 8
    assert report["versions_then"]["keras"] == report["versions_now"]["keras"]


def test_module_level_state_outside_the_weights_is_captured_and_verifies(
    tmp_path: Path,
) -> None:
    # NORMALIZER, a module-level layer adapted by the training code, was
    # replayed unadapted from its source before it was captured as state.
    model = train_stateful()
    archive = snapshot.save(model, tmp_path / "stateful.snapshot")
    folder = tmp_path / "unpacked"
    shutil.unpack_archive(archive, folder, format="zip")
    manifest = json.loads((folder / "snapshot.json").read_text())
    assert manifest["module_state"] == {
        "member": "module_state.weights.h5",
        "objects": {"NORMALIZER": "statecases.stateful:4"},
    }
    assert manifest["verification"]["max_abs_diff"] == 0.0
    assert ".adapt(" not in (folder / manifest["module"]).read_text()


def test_a_layer_saving_its_weights_lossily_is_named(tmp_path: Path) -> None:
    from statecases.lossy import train as train_lossy

    with pytest.raises(snapshot.VerificationError) as raised:
        snapshot.save(train_lossy(), tmp_path / "lossy.snapshot")
    assert str(raised.value).endswith(
        "; likely cause: layers that save or load their own variables their own "
        "way: HalfPrecisionStore at statecases.lossy:5"
    )
    assert list(tmp_path.iterdir()) == []


def test_weights_missing_from_the_model_are_an_error(tmp_path: Path) -> None:
    small = StoresUnits(2)
    small(BATCH)
    big = StoresUnits(2)
    big(BATCH)
    folder = snapshot.save(small, tmp_path / "small", layout="dir", verify=False)
    # Weights of a layer the rebuilt model lacks: Keras alone loads this silently.
    extra = tmp_path / "extra.weights.h5"
    big.save_weights(extra)
    import h5py

    with h5py.File(extra, "a") as weights:
        weights["ghost/vars/0"] = np.zeros((3,), "float32")
    shutil.copy(extra, folder / "model.weights.h5")
    manifest = json.loads((folder / "snapshot.json").read_text())
    manifest["members"]["model.weights.h5"] = snapshot_sha256(
        folder / "model.weights.h5"
    )
    (folder / "snapshot.json").write_text(json.dumps(manifest))
    with pytest.raises(snapshot.WeightsError) as raised:
        snapshot.load(folder)
    assert str(raised.value).endswith(
        "2 of the model's 2 variables found a stored weight of their shape; "
        "1 of the 3 stored weights are left over"
    )


def snapshot_sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_relative_output_path_is_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The verifying interpreter runs in another folder; relative paths must not leak.
    monkeypatch.chdir(tmp_path)
    model = StoresUnits(2)
    model(BATCH)
    path = snapshot.save(model, "relative.snapshot")
    assert path == Path("relative.snapshot")
    assert snapshot.verify("relative.snapshot").passed


def test_a_variable_that_kept_its_own_value_is_not_counted_as_loaded(
    tmp_path: Path,
) -> None:
    from snapshot.verification.child import count_loaded_variables

    model = Classifier(num_classes=3)
    model(BATCH)
    weights = tmp_path / "model.weights.h5"
    model.save_weights(weights)
    expected, loaded, stored = count_loaded_variables(model, weights)
    assert expected == loaded == stored == 8
    # As if Keras had skipped one layer: its kernel keeps other values.
    model.weights[0].assign(model.weights[0] + 1.0)
    assert count_loaded_variables(model, weights) == (8, 7, 8)


def test_a_report_with_unloaded_variables_fails_whatever_the_outputs() -> None:
    from snapshot.verification.report import report_from_child

    found = {
        "versions_then": {},
        "versions_now": {},
        "max_abs_diff": 0.0,
        "tolerance": 1e-6,
        "note": "",
        "variables_expected": 8,
        "variables_loaded": 7,
        "weights_stored": 8,
    }
    report = report_from_child("a.snapshot", found, tolerance=None)
    assert not report.passed
    assert report.detail == "7 of 8 variables hold a stored weight (8 stored)"
    assert report_from_child(
        "a.snapshot", found | {"variables_loaded": 8}, tolerance=None
    ).passed
