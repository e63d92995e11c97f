"""The wheel ships the templates and the startup hook: a non-editable install works."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from cases import EXAMPLES, REPO
from conftest import isolated_environment, run_isolated

_TEMPLATES = {"module.py.j2", "_loader.j2", "_provenance.j2"}
_HOOK = {"_keras_snapshot_hook.py", "keras_snapshot_hook.pth"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
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
    (found,) = dist.glob("keras_snapshot-*.whl")
    return found


def test_wheel_contains_templates_and_works_when_installed(
    wheel: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert {f"snapshot/templates/{name}" for name in _TEMPLATES} <= names
        assert _HOOK <= names
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


_RECORDS = """
import json, sys
import keras
layer = keras.layers.Dense(3)
import snapshot
from snapshot.capture import record
print(json.dumps({"package": snapshot.__file__, "recorded": record.recorded_call(layer)}))
"""


def test_installed_wheel_records_calls_made_before_import_snapshot(
    wheel: Path, tmp_path: Path
) -> None:
    # A fresh environment whose only keras-snapshot is the installed wheel: its
    # site-packages processes the wheel's .pth; the test venv's packages are
    # reachable through a plain path entry, whose .pth files never run.
    environment = tmp_path / "env"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(environment)], check=True
    )
    python = environment / "bin" / "python"
    purelib = sysconfig.get_path("purelib", vars={"base": str(environment)})
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
        + ["--target", purelib, str(wheel)],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr
    Path(purelib, "test-dependencies.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n"
    )
    (tmp_path / "empty").mkdir()
    found = {}
    for hook in ("1", "0"):
        completed = subprocess.run(
            [str(python), "-I", "-c", _RECORDS],
            cwd=tmp_path / "empty",
            env=isolated_environment() | {"KERAS_SNAPSHOT_HOOK": hook},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        found[hook] = json.loads(completed.stdout.strip().splitlines()[-1])
    assert found["1"]["package"].startswith(purelib)
    assert found["1"]["recorded"] == [[3], {}]
    assert found["0"]["recorded"] is None
