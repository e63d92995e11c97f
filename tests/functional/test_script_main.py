"""A model defined in the training script itself (module ``__main__``) is snapshotted.

``python train_net.py`` runs the script as ``__main__``, which has a file but
no import spec; its helpers are a sibling module found through the script's
folder. The snapshot (verified at save time) must load with neither.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import SCRIPTS, run_isolated, run_python


def test_model_class_in_the_training_script(tmp_path: Path) -> None:
    completed = run_python(str(SCRIPTS / "train_net.py"), str(tmp_path))
    assert completed.returncode == 0, completed.stderr[-3000:]
    found = run_isolated(
        f"""
        import json
        import numpy as np
        import snapshot
        expected = np.load({str(tmp_path / "expected.npz")!r})
        model = snapshot.load({str(tmp_path / "net.snapshot")!r})
        got = np.asarray(model(expected["x"]))
        print(json.dumps({{
            "diff": float(np.abs(got - expected["y"]).max()),
            "class": type(model).__name__,
        }}))
        """,
        blocked=("train_net", "net_helpers"),
        workdir=tmp_path / "empty",
    )
    assert found == {"diff": 0.0, "class": "Net"}
    expected = np.load(tmp_path / "expected.npz")
    assert np.abs(expected["y"]).max() > 0
