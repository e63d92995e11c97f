"""Source provenance: file hashes always, the git commit only for tracked files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

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


def test_a_git_that_hangs_leaves_the_commit_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from snapshot.analysis import provenance

    slow_git = tmp_path / "bin" / "git"
    slow_git.parent.mkdir()
    slow_git.write_text("#!/bin/sh\nsleep 5\n")
    slow_git.chmod(0o755)
    monkeypatch.setenv("PATH", f"{slow_git.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(provenance, "GIT_TIMEOUT_SECONDS", 0.2)
    path = tmp_path / "tracked.py"
    path.write_text("Y = 2\n")
    index = read_module(ModuleSource("tracked", path, False))
    assert describe_sources((index,), record_git=True).git is None
