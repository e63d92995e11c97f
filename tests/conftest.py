"""Shared test set-up: import paths, golden updates, and isolated interpreters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The trust store of the whole session: saves record into it, loads consult it,
# and isolated children (``python -I`` ignores PYTHON* variables, not this one)
# see the same store. Tests never touch the real home's store.
_TRUST_STORE = tempfile.TemporaryDirectory(prefix="snapshot-test-trust-")
os.environ["KERAS_SNAPSHOT_TRUST_DIR"] = _TRUST_STORE.name

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS), str(TESTS / "assets"), str(TESTS.parent / "examples")]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="Rewrite generated_examples/ from the current code instead of comparing.",
    )


@pytest.fixture(scope="session")
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


#: Runs first in every isolated interpreter: refuses imports of the blocked
#: top-level modules, so a snapshot that still needs the original code fails loudly.
_BLOCKER = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"blocked first-party import: {name}")
        return None
sys.meta_path.insert(0, Blocker())
"""


def isolated_environment(backend: str | None = None) -> dict[str, str]:
    """This process's environment without PYTHON* variables, on ``backend`` if given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    return env


SCRIPTS = TESTS / "assets" / "scripts"


def run_python(*arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """``python <arguments>`` as a training script is run: its own interpreter,
    from the scripts' folder, with ``environment`` added."""
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=SCRIPTS,
        env=isolated_environment() | environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def run_isolated(
    script: str,
    *,
    blocked: tuple[str, ...],
    workdir: Path,
    backend: str | None = None,
) -> Any:
    """Run ``script`` in ``python -I`` from the empty folder ``workdir``.

    The blocked modules cannot be imported there; the script's last stdout line
    must be JSON, which is returned. ``backend`` sets ``KERAS_BACKEND`` there.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    assert not any(workdir.iterdir()), "isolated runs start in an empty folder"
    env = isolated_environment(backend)
    completed = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _BLOCKER + textwrap.dedent(script),
            ",".join(blocked),
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if completed.returncode != 0:
        raise AssertionError(f"isolated run failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


_ROUND_TRIP = """
import json
import numpy as np
import keras
import snapshot

jobs = json.loads(open(JOBS).read())
results = {}
for name, job in jobs.items():
    try:
        data = np.load(job["npz"])
        model = snapshot.load(job["archive"])
        def pack(spec):
            if isinstance(spec, str):
                return data[spec]
            if isinstance(spec, dict) and "call" in spec:
                return snapshot.CallInputs(
                    *[pack(v) for v in spec["call"]["args"]],
                    **{k: pack(v) for k, v in spec["call"]["kwargs"].items()},
                )
            if isinstance(spec, dict):
                return {k: pack(v) for k, v in spec.items()}
            return [pack(v) for v in spec]
        inputs = pack(job["structure"])
        if isinstance(inputs, snapshot.CallInputs):
            outputs = model(*inputs.args, **inputs.kwargs)
        else:
            outputs = model(inputs, training=False)
        outputs = keras.tree.flatten(outputs)
        diffs = [
            float(np.max(np.abs(np.asarray(o) - data[f"out_{i}"])))
            for i, o in enumerate(outputs)
        ]
        results[name] = {
            "diff": max(diffs),
            "count": len(outputs),
            "backend": keras.backend.backend(),
            "tensorflow_imported": "tensorflow" in sys.modules,
        }
    except Exception as error:
        results[name] = {"error": f"{type(error).__name__}: {error}"}
print(json.dumps(results))
"""


def _structure(value: Any, path: str, arrays: dict[str, Any]) -> Any:
    """The nesting of ``value`` with array names for leaves; fills ``arrays``."""
    import numpy as np

    from snapshot import CallInputs

    if isinstance(value, CallInputs):
        return {
            "call": {
                "args": [
                    _structure(v, f"{path}_{i}", arrays)
                    for i, v in enumerate(value.args)
                ],
                "kwargs": {
                    k: _structure(v, f"{path}_{k}", arrays)
                    for k, v in value.kwargs.items()
                },
            }
        }
    if isinstance(value, dict):
        return {k: _structure(v, f"{path}_{k}", arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_structure(v, f"{path}_{i}", arrays) for i, v in enumerate(value)]
    arrays[path] = np.asarray(value)
    return path


def randomize_weights(model: Any, rng: Any, *, low: float, high: float) -> None:
    """Give every weight random values, so one left unloaded shows in the outputs.

    Positive ranges keep batch normalisation's moving variance valid.
    """
    for variable in model.weights:
        variable.assign(
            rng.uniform(low, high, size=variable.shape).astype(variable.dtype)
        )


def round_trip_in_isolation(
    cases: dict[str, tuple[Any, Any]],
    work: Path,
    *,
    blocked: tuple[str, ...],
    backend: str | None = None,
    **save_options: Any,
) -> dict[str, Any]:
    """Save each (model, inputs), load all in one isolated interpreter, compare outputs.

    The isolated interpreter runs ``backend`` (default: this process's).
    Returns, per case, ``{"diff", "count", "expected_count", "expected",
    "backend"}`` (``expected``: the flattened original outputs) or ``{"error"}``.
    """
    import keras
    import numpy as np

    import snapshot

    jobs = {}
    expected: dict[str, list[Any]] = {}
    for name, (model, inputs) in cases.items():
        archive = snapshot.save(
            model,
            work / f"{name}.snapshot",
            inputs=inputs,
            verify=False,
            **save_options,
        )
        arrays: dict[str, np.ndarray] = {}
        spec = _structure(inputs, "in", arrays)
        if isinstance(inputs, snapshot.CallInputs):
            outputs = model(*inputs.args, **inputs.kwargs)
        else:
            outputs = model(inputs, training=False)
        outputs = keras.tree.flatten(outputs)
        arrays |= {f"out_{i}": np.asarray(o) for i, o in enumerate(outputs)}
        np.savez(work / f"{name}.npz", **arrays)
        expected[name] = outputs
        jobs[name] = {
            "archive": str(archive),
            "npz": str(work / f"{name}.npz"),
            "structure": spec,
            "outputs": len(outputs),
        }
    (work / "jobs.json").write_text(json.dumps(jobs))
    found = run_isolated(
        _ROUND_TRIP.replace("JOBS", repr(str(work / "jobs.json"))),
        blocked=blocked,
        workdir=work / "empty",
        backend=backend,
    )
    for name, job in jobs.items():
        found[name]["expected_count"] = job["outputs"]
        found[name]["expected"] = [np.asarray(o) for o in expected[name]]
    return found
