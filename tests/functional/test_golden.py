"""generated_examples/ holds the module generated for each example model.

Regenerate after an intended change with ``pytest tests/functional/test_golden.py
--update-goldens``; the test fails while a committed module is stale.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from cases import CASES, EXAMPLES, GENERATED, Case
from conftest import TESTS, isolated_environment
from snapshot.api import generate_module, locate_model
from snapshot.capture.state import capture_state
from snapshot.config import SnapshotConfig

# Golden files must not change with every commit of this repository.
_CONFIG = SnapshotConfig(record_git=False)


@cache
def _generate(case: Case) -> str:
    model, batch = case.make()
    inputs = None if case.name.startswith("seed_") else batch
    state = capture_state(model, inputs=inputs)
    return generate_module(locate_model(model), state, config=_CONFIG).text


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_generated_module_matches_golden(case: Case, update_goldens: bool) -> None:
    golden = GENERATED / f"{case.name}.py"
    generated = _generate(case)
    if update_goldens:
        golden.write_text(generated, encoding="utf-8")
    assert golden.is_file(), f"missing {golden}; run pytest --update-goldens"
    assert (
        golden.read_text(encoding="utf-8") == generated
    ), f"{golden.name} is stale; run pytest tests/functional/test_golden.py --update-goldens"


_GENERATE_ALL = """
import json, sys
sys.path[:0] = sys.argv[1:4]
from cases import CASES
from snapshot.api import generate_module, locate_model
from snapshot.capture.state import capture_state
from snapshot.config import SnapshotConfig

texts = {}
for case in CASES:
    model, batch = case.make()
    inputs = None if case.name.startswith("seed_") else batch
    state = capture_state(model, inputs=inputs)
    target = locate_model(model)
    texts[case.name] = generate_module(
        target, state, config=SnapshotConfig(record_git=False)
    ).text
print(json.dumps(texts))
"""


def test_generation_is_byte_identical_in_fresh_processes(tmp_path: Path) -> None:
    """Two processes, nothing cached in either, give the goldens byte for byte."""
    paths = [str(TESTS), str(TESTS / "assets"), str(EXAMPLES)]
    environment = isolated_environment() | {
        "KERAS_SNAPSHOT_CACHE": "0",
        "PYTHONHASHSEED": "random",
    }
    runs = []
    for attempt in range(2):
        workdir = tmp_path / f"run{attempt}"
        workdir.mkdir()
        completed = subprocess.run(
            [sys.executable, "-c", _GENERATE_ALL, *paths],
            cwd=workdir,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        runs.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    assert runs[0] == runs[1]
    for case in CASES:
        golden = (GENERATED / f"{case.name}.py").read_text(encoding="utf-8")
        assert runs[0][case.name] == golden, f"{case.name} differs from its golden"


def test_generated_examples_pass_black_and_pyflakes_rules() -> None:
    files = sorted(str(path) for path in GENERATED.glob("*.py"))
    assert len(files) == len(CASES)
    black = subprocess.run(
        [sys.executable, "-m", "black", "--check", "--quiet", *files],
        capture_output=True,
        text=True,
    )
    assert black.returncode == 0, black.stderr
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F", *files],
        capture_output=True,
        text=True,
    )
    assert ruff.returncode == 0, ruff.stdout
