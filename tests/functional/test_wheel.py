"""The wheel ships the templates: a non-editable install generates modules."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from cases import EXAMPLES, REPO
from conftest import run_isolated

_TEMPLATES = {"module.py.j2", "_loader.j2", "_provenance.j2"}


def test_wheel_contains_templates_and_works_when_installed(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(dist),
            str(REPO),
        ],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("keras_snapshot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert {f"snapshot/templates/{name}" for name in _TEMPLATES} <= names
        archive.extractall(tmp_path / "installed")

    script = f"""
    import contextlib, io, json, sys
    sys.path.insert(0, {str(tmp_path / "installed")!r})
    import snapshot
    from snapshot.cli.commands import cli
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        try:
            cli(["source", {str(EXAMPLES / "seed_custom_layer.py")!r} + ":MyModel",
                 "--input", "1,3"], prog_name="snapshot")
        except SystemExit as stop:
            code = stop.code
    print(json.dumps({{"package": snapshot.__file__, "code": code,
                      "source": output.getvalue()}}))
    """
    found = run_isolated(script, blocked=(), workdir=tmp_path / "empty")
    assert found["code"] == 0
    assert found["package"].startswith(str(tmp_path / "installed"))
    assert "class MyCustomLayer(tf.keras.layers.Layer):" in found["source"]
    assert "def load_model(weights_path=None):" in found["source"]
