"""Models written in notebook cells, snapshotted from a real kernel.

The notebooks under ``tests/assets/notebooks/`` run in an IPython kernel
(``nbclient`` + ``ipykernel``, as Jupyter, VS Code and Colab run them), with
their folder as working directory, so ``nbparts`` imports as a ``.py`` package
beside the cells. The archive they save must load in a fresh ``python -I``
with no kernel, from an empty folder where ``nbparts`` is blocked, and give the
kernel's outputs bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import TESTS, isolated_environment, run_isolated
from snapshot.archive.reader import read_archive

NOTEBOOKS = TESTS / "assets" / "notebooks"


def execute(name: str, out: Path) -> Any:
    """Run every cell of notebook ``name`` in a new kernel; returns the notebook run."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute(env=isolated_environment() | {"NOTEBOOK_OUT": str(out)})
    return notebook


def printed(cell: Any) -> str:
    return "".join(output.get("text", "") for output in cell.outputs).strip()


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    out = tmp_path_factory.mktemp("notebook")
    return execute("edited_cells.ipynb", out), out


@pytest.mark.parametrize(
    ("archive", "expected"), [("net", "expected"), ("again", "again")]
)
def test_notebook_model_round_trips_without_kernel_or_nbparts(
    edited: tuple[Any, Path], archive: str, expected: str
) -> None:
    _, out = edited
    found = run_isolated(
        f"""
        import json
        import numpy as np
        import snapshot
        expected = np.load({str(out / f"{expected}.npz")!r})
        model = snapshot.load({str(out / f"{archive}.snapshot")!r})
        got = np.asarray(model(expected["x"]))
        print(json.dumps({{
            "diff": float(np.abs(got - expected["y"]).max()),
            "class": type(model).__name__,
            "ipython": "IPython" in sys.modules,
        }}))
        """,
        blocked=("nbparts", "IPython", "ipykernel"),
        workdir=out / f"empty_{archive}",
    )
    assert found == {"diff": 0.0, "class": "Net", "ipython": False}


def test_saving_again_after_another_cell_ran_takes_the_new_definition(
    edited: tuple[Any, Path],
) -> None:
    _, out = edited
    first, _ = _module_text(out / "net.snapshot")
    again, manifest = _module_text(out / "again.snapshot")
    assert "return keras.ops.sigmoid(x) * 2.0" in first
    assert "return keras.ops.sigmoid(x) * 3.0" in again and "* 2.0" not in again
    assert "In[11]" in manifest["source"]["files"]


def _module_text(archive: Path) -> tuple[str, dict[str, Any]]:
    with zipfile.ZipFile(archive) as opened:
        manifest = json.loads(opened.read("snapshot.json"))
        return opened.read(manifest["module"]).decode(), manifest


def test_the_definitions_in_force_are_extracted(edited: tuple[Any, Path]) -> None:
    _, out = edited
    text, manifest = _module_text(out / "net.snapshot")
    # The helper as re-run (the model's layers call it by name), the model's
    # classes as the live model holds them (not their later edits), the
    # function from the %%time cell and the layer from nbparts.
    assert "return keras.ops.sigmoid(x) * 2.0" in text
    assert "tanh" not in text
    assert "self.out = keras.layers.Dense(2)" in text
    assert "Dense(width * 2)" not in text and "x * 3.0" not in text
    assert "def pool(x):" in text and "class Gate(keras.layers.Layer):" in text
    assert "get_ipython" not in text and "%%time" not in text and "pip" not in text
    assert manifest["model"]["constructor_args_from"] == "recorded call"
    assert manifest["verification"]["max_abs_diff"] == 0.0


def test_provenance_names_cells_by_execution_count_and_hash(
    edited: tuple[Any, Path],
) -> None:
    notebook, out = edited
    text, manifest = _module_text(out / "net.snapshot")
    cells = {
        f"In[{cell.execution_count}]": hashlib.sha256(
            cell.source.rstrip("\n").encode()
        ).hexdigest()
        for cell in notebook.cells
        if cell.cell_type == "code"
    }
    files = manifest["source"]["files"]
    # Cells 4 to 6 define what the model uses (6: its class), 8 the helper as
    # re-run; 3 holds the helper's first version (and UNITS, read only to make
    # the model), 9 classes the live model does not use.
    assert {k: v for k, v in files.items() if k.startswith("In[")} == {
        label: cells[label] for label in ("In[4]", "In[5]", "In[6]", "In[8]")
    }
    assert set(files) - set(cells) == {"nbparts/layers.py"}
    for label in ("In[4]", "In[8]"):
        assert f"#   {label}  {cells[label]}\n" in text
    assert "# (In[n] is the notebook cell run n-th" in text
    assert "# In[8], lines 1-3\ndef activation(x):" in text
    assert "# In[6], lines 1-11\nclass Net(keras.Model):" in text
    # Lines of the cell as written: its first line is `%%time`.
    assert "# In[5], lines 2-3\ndef pool(x):" in text


def test_generated_module_is_black_and_ruff_clean(
    edited: tuple[Any, Path], tmp_path: Path
) -> None:
    _, out = edited
    text, manifest = _module_text(out / "net.snapshot")
    module = tmp_path / manifest["module"]
    module.write_text(text)
    for command in (
        [sys.executable, "-m", "black", "--check", "-q", str(module)],
        [sys.executable, "-m", "ruff", "check", "--select", "F", str(module)],
    ):
        completed = subprocess.run(command, capture_output=True, text=True)
        assert completed.returncode == 0, completed.stdout + completed.stderr


def test_magics_and_exec_in_a_notebook_are_refused_clearly(tmp_path: Path) -> None:
    notebook = execute("refused.ipynb", tmp_path)
    magic, typed = (printed(cell) for cell in notebook.cells[-2:])
    assert magic == (
        "UnsupportedSourceError: cannot extract the model's code:\n"
        "* IPython magic or shell command (%, %%, !) in code the model reaches; "
        "write it in plain Python.\n"
        "    In[3]:1  SCALE = get_ipython().run_line_magic('env', 'SCALE')"
    )
    assert typed == (
        "SourceNotFoundError: Typed was defined by exec() of a string, whose source "
        "Python does not keep; move it into a .py module or a notebook cell"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_after_cells_ran_holds_the_new_code(tmp_path: Path) -> None:
    """One SnapshotCheckpoint across two fit() calls, a helper redefined
    between them: the second run's checkpoint is generated and verified
    anew, and loads to the live model's outputs."""
    execute("checkpoint_runs.ipynb", tmp_path)
    first = read_archive(tmp_path / "ckpt-1.snapshot")
    second = read_archive(tmp_path / "ckpt-2.snapshot")
    assert "keras.ops.tanh(x)" in first.module_text
    assert "keras.ops.sigmoid(x) * 2.0" in second.module_text
    assert second.manifest.verification is not None
    assert "an earlier checkpoint" not in second.manifest.verification.method
    found = run_isolated(
        f"""
        import json
        import numpy as np
        import snapshot
        expected = np.load({str(tmp_path / "expected.npz")!r})
        model = snapshot.load({str(tmp_path / "ckpt-2.snapshot")!r})
        got = np.asarray(model(expected["x"]))
        print(json.dumps({{"diff": float(np.abs(got - expected["y"]).max())}}))
        """,
        blocked=(),
        workdir=tmp_path / "empty",
    )
    assert found == {"diff": 0.0}
