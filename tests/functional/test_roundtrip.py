"""Every example model survives save -> a fresh ``python -I`` without its code -> load.

Outputs must be identical (max abs diff 0 on CPU), through ``snapshot.load`` and
through importing the generated module and calling its ``load_model()``, for
archives written by ``snapshot.save`` and by the ``snapshot model`` command.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import snapshot
from cases import CASES, EXAMPLES
from conftest import run_isolated

_LOADER = """
import importlib, json, sys
import numpy as np

jobs = json.loads(open(sys.argv[2]).read())
import snapshot

def max_diff(model, data):
    return float(np.max(np.abs(np.asarray(model(data["batch"])) - data["expected"])))

results = {}
for job in jobs:
    data = np.load(job["npz"])
    found = {}
    try:
        importlib.import_module(job["first_party"])
        found["blocked"] = False
    except ImportError:
        found["blocked"] = True
    try:
        found["load"] = max_diff(snapshot.load(job["archive"]), data)
        sys.path.insert(0, job["folder"])
        generated = importlib.import_module(job["module"])
        found["import"] = max_diff(generated.load_model(), data)
        sys.path.remove(job["folder"])
        del sys.modules[job["module"]]
    except Exception as error:
        found["error"] = f"{type(error).__name__}: {error}"
    results[job["name"]] = found
print(json.dumps(results))
"""


def _module_name(folder: Path) -> str:
    manifest = json.loads((folder / "snapshot.json").read_text())
    return Path(manifest["module"]).stem


def _snapshot_with_cli(case: Any, model: Any, work: Path) -> Path:
    """Run ``snapshot model`` in a folder that holds a copy of the model's module."""
    source_dir = work / f"{case.name}_cli_src"
    source_dir.mkdir()
    module = case.cli_target.partition(":")[0]
    shutil.copy(EXAMPLES / f"{module}.py", source_dir)
    weights = source_dir / "trained.weights.h5"
    model.save_weights(weights)
    archive = work / f"{case.name}_cli.snapshot"
    command = [sys.executable, "-m", "snapshot", "model", case.cli_target]
    command += ["--weights", str(weights), "--input", "1,3", "-o", str(archive)]
    command += ["--no-verify"]
    command += list(case.cli_options)
    completed = subprocess.run(command, cwd=source_dir, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"wrote {archive}"
    return archive


@pytest.fixture(scope="module")
def round_trips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("roundtrip")
    jobs = []
    for case in CASES:
        model, batch = case.make()
        # Seed models are trained with fit(); their input shape is what Keras recorded.
        inputs = None if case.name.startswith("seed_") else batch
        npz = work / f"{case.name}.npz"
        np.savez(npz, batch=batch, expected=np.asarray(model(batch)))
        # verify=False: this test is the isolated check, done independently here.
        archive = snapshot.save(
            model, work / f"{case.name}.snapshot", inputs=inputs, verify=False
        )
        folder = snapshot.save(
            model, work / f"{case.name}_dir", inputs=inputs, layout="dir", verify=False
        )
        archives = {case.name: (archive, folder)}
        if case.cli_target:
            cli_archive = _snapshot_with_cli(case, model, work)
            cli_folder = work / f"{case.name}_cli_dir"
            shutil.unpack_archive(cli_archive, cli_folder, format="zip")
            archives[f"{case.name}_cli"] = (cli_archive, cli_folder)
        for name, (zipped, unpacked) in archives.items():
            jobs.append(
                {
                    "name": name,
                    "archive": str(zipped),
                    "folder": str(unpacked),
                    "module": _module_name(unpacked),
                    "npz": str(npz),
                    "first_party": case.first_party[0],
                }
            )
    job_file = work / "jobs.json"
    job_file.write_text(json.dumps(jobs))
    blocked = tuple(sorted({name for case in CASES for name in case.first_party}))
    script = _LOADER.replace("sys.argv[2]", repr(str(job_file)))
    return run_isolated(script, blocked=blocked, workdir=work / "empty")


_NAMES = [case.name for case in CASES]
_NAMES += [f"{case.name}_cli" for case in CASES if case.cli_target]


@pytest.mark.parametrize("name", _NAMES)
def test_round_trip_is_exact_without_original_code(
    round_trips: dict[str, Any], name: str
) -> None:
    found = round_trips[name]
    assert "error" not in found, found["error"]
    assert found["blocked"], "the original package must not be importable"
    assert found["load"] == 0.0
    assert found["import"] == 0.0
