"""Shared test set-up: import paths, golden updates, and isolated interpreters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

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


def run_isolated(script: str, *, blocked: tuple[str, ...], workdir: Path) -> Any:
    """Run ``script`` in ``python -I`` from the empty folder ``workdir``.

    The blocked modules cannot be imported there; the script's last stdout line
    must be JSON, which is returned.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    assert not any(workdir.iterdir()), "isolated runs start in an empty folder"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
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
