"""Constructor arguments are recorded whenever ``import snapshot`` runs.

The startup hook installed with the package (``keras_snapshot_hook.pth``)
arms the recorder when Keras is first imported, so a training script may
import keras-snapshot last. The test venv is an editable install, as CI's is;
``test_wheel.py`` checks the hook of a wheel install.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import SCRIPTS, run_isolated, run_python


def test_script_that_imports_snapshot_last_round_trips(tmp_path: Path) -> None:
    completed = run_python(str(SCRIPTS / "late_import.py"), str(tmp_path))
    assert completed.returncode == 0, completed.stderr[-3000:]
    found = run_isolated(
        f"""
        import json, zipfile
        import numpy as np
        import snapshot
        expected = np.load({str(tmp_path / "expected.npz")!r})
        archive = {str(tmp_path / "tower.snapshot")!r}
        model = snapshot.load(archive)
        manifest = json.loads(zipfile.ZipFile(archive).read("snapshot.json"))
        print(json.dumps({{
            "diff": float(np.abs(np.asarray(model(expected["x"])) - expected["y"]).max()),
            "from": manifest["model"]["constructor_args_from"],
        }}))
        """,
        blocked=("late_models", "late_import"),
        workdir=tmp_path / "empty",
    )
    assert found == {"diff": 0.0, "from": "recorded call"}


def test_with_the_hook_off_a_late_import_cannot_recover_arguments(
    tmp_path: Path,
) -> None:
    completed = run_python(
        str(SCRIPTS / "late_import.py"), str(tmp_path), KERAS_SNAPSHOT_HOOK="0"
    )
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines()[-1] == (
        "snapshot.errors.ModelStateError: cannot recover required argument 'width' of "
        "Tower (its constructor call was not recorded, and no get_config() or "
        "attribute holds it); pass config={'width': ..., 'depth': 1}"
    )
    assert list(tmp_path.iterdir()) == []


_PROBE = """
import json, sys
def loaded():
    return sorted(m for m in sys.modules if m.split(".")[0] in ("snapshot", "keras"))
finders = [type(finder).__name__ for finder in sys.meta_path]
before = loaded()
if "keras" in sys.argv[1:]:
    import keras
    layer = keras.layers.Dense(3)
    armed = getattr(keras.Model.__new__, "_snapshot_recorder", False)
    from snapshot.capture import record
    recorded = record.recorded_call(layer)
else:
    armed = recorded = None
print(json.dumps({
    "finders": finders, "before": before, "armed": armed,
    "recorded": None if recorded is None else repr(recorded),
}))
"""


def test_the_hook_costs_one_finder_and_imports_nothing_without_keras() -> None:
    completed = run_python("-I", "-c", _PROBE)
    found = json.loads(completed.stdout)
    assert found["finders"][0] == "ArmOnKerasImport"
    assert found["before"] == []
    off = json.loads(run_python("-I", "-c", _PROBE, KERAS_SNAPSHOT_HOOK="0").stdout)
    assert "ArmOnKerasImport" not in off["finders"]


def test_the_hook_arms_the_recorder_when_keras_is_imported() -> None:
    completed = run_python("-I", "-c", _PROBE, "keras")
    assert completed.returncode == 0, completed.stderr[-3000:]
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    assert found["armed"] is True
    assert found["recorded"] == "((3,), {})"
