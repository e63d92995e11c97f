"""generated_examples/ holds the module generated for each example model.

Regenerate after an intended change with ``pytest tests/functional/test_golden.py
--update-goldens``; the test fails while a committed module is stale.
"""

from __future__ import annotations

import subprocess
import sys
from functools import cache

import pytest

from cases import CASES, GENERATED, Case
from snapshot.analysis.locate import locate_class
from snapshot.api import generate_module
from snapshot.capture.state import capture_state
from snapshot.config import SnapshotConfig

# Golden files must not change with every commit of this repository.
_CONFIG = SnapshotConfig(record_git=False)


@cache
def _generate(case: Case) -> str:
    model, batch = case.make()
    inputs = None if case.name.startswith("seed_") else batch
    state = capture_state(model, inputs=inputs)
    return generate_module(locate_class(type(model)), state, config=_CONFIG).text


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


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_generation_is_byte_identical_when_repeated(case: Case) -> None:
    model, batch = case.make()
    inputs = None if case.name.startswith("seed_") else batch
    state = capture_state(model, inputs=inputs)
    first = generate_module(locate_class(type(model)), state, config=_CONFIG)
    second = generate_module(locate_class(type(model)), state, config=_CONFIG)
    assert first.text == second.text == _generate(case)


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
