"""Models whose classes live in no file: ``python -c``, standard input, the prompt, exec.

Where Python keeps the code (``python -c`` in ``sys.orig_argv``, a script
redirected from a file on standard input), the snapshot is made from it and
loads in a fresh ``python -I``; where it keeps nothing (a piped script, the
interactive prompt, ``exec`` of a string), one line says what to do.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import snapshot
from conftest import TESTS, isolated_environment, run_isolated

TYPED = TESTS / "assets" / "scripts" / "typed_model.py"
_NO_SOURCE = (
    "whose source Python does not keep; move it into a .py module or a notebook cell"
)


def _python(arguments: list[str], folder: Path, **options: Any) -> Any:
    folder.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=folder,
        env=isolated_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        **options,
    )


def _round_trip(out: Path) -> dict[str, Any]:
    found: dict[str, Any] = run_isolated(
        f"""
        import json, zipfile
        import numpy as np
        import snapshot
        expected = np.load({str(out / "expected.npz")!r})
        archive = {str(out / "typed.snapshot")!r}
        model = snapshot.load(archive)
        got = np.asarray(model(expected["x"]))
        with zipfile.ZipFile(archive) as opened:
            manifest = json.loads(opened.read("snapshot.json"))
            text = opened.read(manifest["module"]).decode()
        print(json.dumps({{
            "diff": float(np.abs(got - expected["y"]).max()),
            "files": manifest["source"]["files"],
            "origins": [d["origin"] for d in manifest["definitions"]],
        }}))
        """,
        blocked=("typed_model",),
        workdir=out / "empty",
    )
    return found


def test_python_dash_c(tmp_path: Path) -> None:
    code = TYPED.read_text()
    completed = _python(["-c", code, str(tmp_path)], tmp_path / "run")
    assert completed.returncode == 0, completed.stderr[-3000:]
    found = _round_trip(tmp_path)
    assert found["diff"] == 0.0
    assert found["files"] == {"python -c": hashlib.sha256(code.encode()).hexdigest()}
    # The second squash (called by name), the first gate (held by the model).
    assert sorted(found["origins"]) == [
        "python -c, line 16",
        "python -c, lines 23-28",
        "python -c, lines 31-32",
        "python -c, lines 35-42",
        "python -c, lines 51-55",
    ]


def test_script_redirected_from_a_file(tmp_path: Path) -> None:
    with TYPED.open() as stdin:
        completed = _python(["-", str(tmp_path)], tmp_path / "run", stdin=stdin)
    assert completed.returncode == 0, completed.stderr[-3000:]
    found = _round_trip(tmp_path)
    assert found["diff"] == 0.0
    assert list(found["files"]) == ["<stdin>"]


def test_script_piped_to_python_is_refused(tmp_path: Path) -> None:
    completed = _python(["-", str(tmp_path)], tmp_path / "run", input=TYPED.read_text())
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines()[-1] == (
        "snapshot.errors.SourceNotFoundError: Typed was defined at the interactive "
        f"prompt (or in a script piped to python), {_NO_SOURCE}"
    )
    assert not (tmp_path / "typed.snapshot").exists()


_PROMPT = """\
import keras, numpy, snapshot
class Typed(keras.Model):
    def call(self, x):
        return x * 2.0

try:
    snapshot.save(Typed(), "never.snapshot", inputs=numpy.ones((1, 2)))
except snapshot.SnapshotError as error:
    print(f"{type(error).__name__}: {error}")

"""


@pytest.mark.parametrize("script", [[], [str(TYPED.with_name("late_models.py"))]])
def test_interactive_prompt_is_refused(tmp_path: Path, script: list[str]) -> None:
    # With a script (python -i train.py), __main__ has a file, but not this class.
    completed = _python(["-q", "-i", *script], tmp_path / "run", input=_PROMPT)
    assert completed.stdout.strip() == (
        "SourceNotFoundError: Typed was defined at the interactive prompt (or in a "
        f"script piped to python), {_NO_SOURCE}"
    )
    assert list((tmp_path / "run").iterdir()) == []


_HELPER_BY_EXEC = """\
import sys, keras, numpy, snapshot
exec("def double(x):\\n    return x * 2.0\\n")

class Doubles(keras.Model):
    def call(self, x):
        return double(x)

try:
    snapshot.save(Doubles(), sys.argv[1], inputs=numpy.ones((1, 2)))
except snapshot.SnapshotError as error:
    print(f"{type(error).__name__}: {error}")
"""


def test_helper_made_by_exec_in_python_dash_c_is_named(tmp_path: Path) -> None:
    out = tmp_path / "x.snapshot"
    completed = _python(["-c", _HELPER_BY_EXEC, str(out)], tmp_path / "run")
    assert completed.stdout.strip() == (
        "UnsupportedSourceError: cannot extract the model's code:\n"
        "* Defined where Python keeps no source (the interactive prompt, exec of a "
        "string, %run); move it into a .py module or a notebook cell.\n"
        "    python -c:6  double was defined by exec() of a string"
    )
    assert not out.exists()


def test_class_made_by_exec_of_a_string_is_refused(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {"__name__": "made_by_exec", "keras": keras}
    source = "class Made(keras.Model):\n    def call(self, x):\n        return x\n"
    exec(compile(source, "<string>", "exec"), namespace)
    model = namespace["Made"]()
    model(np.ones((1, 2), "float32"))
    with pytest.raises(snapshot.SourceNotFoundError) as raised:
        snapshot.save(model, tmp_path / "x.snapshot", verify=False)
    assert str(raised.value) == f"Made was defined by exec() of a string, {_NO_SOURCE}"
    assert list(tmp_path.iterdir()) == []
