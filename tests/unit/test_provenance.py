"""Source provenance: file hashes always, the git commit only for tracked files."""

from __future__ import annotations

import subprocess
from pathlib import Path

from snapshot.analysis.parse import read_module
from snapshot.analysis.provenance import describe_sources
from snapshot.model import ModuleSource

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def test_tracked_files_record_the_commit() -> None:
    index = read_module(
        ModuleSource("zoo.constants", ASSETS / "zoo" / "constants.py", False)
    )
    provenance = describe_sources((index,), record_git=True)
    head = subprocess.run(
        ["git", "-C", str(ASSETS), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert provenance.git is not None and provenance.git.commit == head
    (file,) = provenance.files
    assert (file.relative_path, file.sha256) == ("zoo/constants.py", index.sha256)


def test_files_outside_a_checkout_record_no_commit(tmp_path: Path) -> None:
    path = tmp_path / "loose.py"
    path.write_text("X = 1\n")
    index = read_module(ModuleSource("loose", path, False))
    assert describe_sources((index,), record_git=True).git is None
    assert describe_sources((index,), record_git=False).git is None
