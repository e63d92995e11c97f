"""Snapshots saved with TensorFlow load under another Keras backend (JAX here).

The generated module imports ``keras`` and ``keras.ops``, never the backend
that saved it, so a model written with backend-agnostic code runs wherever
Keras does. Outputs then agree to what other kernels' rounding explains
(``probe.OTHER_BACKEND_ULPS``), which ``snapshot verify`` accepts and says.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import jax  # a test requirement: the tests fail, not skip, without it
import keras
import numpy as np
import pytest

import snapshot
from cases import CASES
from conftest import round_trip_in_isolation
from snapshot.archive.manifest import PROBE_NAME
from snapshot.capture import probe

OTHER_BACKEND = "jax"


def _cases() -> dict[str, tuple[Any, Any]]:
    from test_keras_hub import _models

    keras_hub_models = _models()
    # Backend-agnostic fixtures (the seed models call TensorFlow themselves).
    cases = {
        c.name: c.make() for c in CASES if c.name in ("zoo_classifier", "patterns_net")
    }
    for name in ("bert", "t5", "flux_double_stream_block"):
        cases[name] = keras_hub_models[name]
    return cases


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    assert keras.backend.backend() == "tensorflow"
    work = tmp_path_factory.mktemp("backends")
    found = round_trip_in_isolation(
        _cases(),
        work,
        blocked=("zoo", "patterns", "keras_hub"),
        backend=OTHER_BACKEND,
        intern=["keras_hub"],
    )
    return found, work


@pytest.mark.parametrize(
    "name",
    ["zoo_classifier", "patterns_net", "bert", "t5", "flux_double_stream_block"],
)
def test_tensorflow_snapshot_runs_under_jax(
    saved: tuple[dict[str, Any], Path], name: str
) -> None:
    found, _ = saved
    result = found[name]
    assert "error" not in result, result["error"]
    assert result["backend"] == OTHER_BACKEND
    # So the snapshot runs where TensorFlow is not installed at all.
    assert not result["tensorflow_imported"]
    assert result["count"] == result["expected_count"]
    tolerance = probe.rounding_tolerance(
        tuple(result["expected"]), ulps=probe.OTHER_BACKEND_ULPS
    )
    assert result["diff"] <= tolerance


def test_verify_under_another_backend_says_so(
    saved: tuple[dict[str, Any], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, work = saved
    monkeypatch.setenv("KERAS_BACKEND", OTHER_BACKEND)
    report = snapshot.verify(work / "bert.snapshot")
    assert report.passed, report.summary()
    assert report.versions_then["backend"] == "tensorflow"
    assert report.versions_now["backend"] == OTHER_BACKEND
    assert report.versions_now[OTHER_BACKEND] == jax.__version__
    stored = probe.from_bytes(_member(work / "bert.snapshot", PROBE_NAME))
    assert report.tolerance == probe.rounding_tolerance(
        stored.outputs, ulps=probe.OTHER_BACKEND_ULPS
    )
    assert "saved with the tensorflow backend, run with jax" in report.summary()


def test_verify_on_the_same_backend_keeps_the_tight_tolerance(
    saved: tuple[dict[str, Any], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, work = saved
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    report = snapshot.verify(work / "zoo_classifier.snapshot")
    assert report.passed, report.summary()
    assert report.max_abs_diff == 0.0
    stored = probe.from_bytes(_member(work / "zoo_classifier.snapshot", PROBE_NAME))
    assert report.tolerance == probe.rounding_tolerance(stored.outputs)
    assert report.note == ""


def _member(archive: Path, name: str) -> bytes:
    with zipfile.ZipFile(archive) as opened:
        return opened.read(name)


def test_expected_outputs_are_real_arrays(saved: tuple[dict[str, Any], Path]) -> None:
    # Guards the comparison above against an empty or all-zero expectation.
    found, _ = saved
    for name, result in found.items():
        assert result["expected"], name
        assert any(
            np.abs(np.asarray(o, "float64")).max() > 0 for o in result["expected"]
        )
