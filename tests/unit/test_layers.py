"""The folder tree is the pipeline: import-linter keeps each stage below its callers.

The contract lives in pyproject.toml ([tool.importlinter]).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_pipeline_stages_import_only_the_stages_below_them() -> None:
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Pipeline stages are layered KEPT" in completed.stdout
