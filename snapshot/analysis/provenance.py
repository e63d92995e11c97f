"""Where the extracted code came from: source files, their hashes, the git commit.

Code from a notebook is named by its cells: ``In[5]``, the cell run fifth,
with the sha256 of its text as written.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from snapshot.analysis.parse import ModuleIndex
from snapshot.model import Statement

#: How long one git command may take before the commit is left out.
GIT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class SourceFile:
    """One first-party file that contributed code."""

    module: str
    #: Path as the module name implies it (``pkg/layers.py``), machine-independent;
    #: for session code, the cell's label (``In[5]``, ``python -c``).
    relative_path: str
    sha256: str


@dataclass(frozen=True)
class GitState:
    """The commit the sources were taken from, and whether they had local changes."""

    commit: str
    dirty: bool


@dataclass(frozen=True)
class Provenance:
    """The sources of a generated module, for its header and the manifest."""

    files: tuple[SourceFile, ...]
    git: GitState | None
    #: True when some code came from notebook cells (listed as ``In[n]``).
    notebook_cells: bool = False


def describe_sources(
    modules: tuple[ModuleIndex, ...],
    *,
    record_git: bool,
    statements: Iterable[Statement] = (),
) -> Provenance:
    """Summarise ``modules`` for the generated module's header and the manifest.

    Session code (a notebook) is listed by the cells that ``statements``, the
    extracted ones, come from, in execution order.
    """
    cells_used = {s.cell for s in statements if s.cell is not None}
    files: list[SourceFile] = []
    notebook = False
    for index in modules:
        session = index.source.session
        if session is None:
            files.append(
                SourceFile(index.source.name, _relative_path(index), index.sha256)
            )
            continue
        for cell in session.cells:
            listed = any(f.relative_path == cell.label for f in files)
            if cell.label in cells_used and not listed:
                files.append(SourceFile(index.source.name, cell.label, cell.sha256))
                notebook = notebook or cell.execution_count is not None
    # A module read through its loader (a loaded snapshot's) has no file left.
    paths = [
        index.source.path
        for index in modules
        if index.source.session is None and index.source.path.is_file()
    ]
    return Provenance(
        files=tuple(files),
        git=_git_state(paths) if record_git and paths else None,
        notebook_cells=notebook,
    )


def _relative_path(index: ModuleIndex) -> str:
    source = index.source
    if source.name == "__main__":
        return source.path.name
    stem = source.name.replace(".", "/")
    return f"{stem}/__init__.py" if source.is_package else f"{stem}.py"


def _git_state(paths: list[Path]) -> GitState | None:
    stamps = tuple((str(p), p.stat().st_mtime_ns) for p in paths)
    return _git_state_cached(stamps)


@functools.lru_cache(maxsize=64)
def _git_state_cached(stamps: tuple[tuple[str, int], ...]) -> GitState | None:
    # Reused while the files are unchanged: a training script saves every epoch.
    paths = [Path(name) for name, _ in stamps]
    folder = paths[0].parent
    try:
        tracked = _git(folder, "ls-files", "--", *map(str, paths))
        if not tracked.strip():
            # Ignored or untracked, like an installed package inside a checkout's
            # virtualenv: the checkout's commit says nothing about this code.
            return None
        commit = _git(folder, "rev-parse", "HEAD")
        status = _git(folder, "status", "--porcelain", "--", *map(str, paths))
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        # Not a checkout, no git, or git too slow (a network file system): the
        # provenance lacks the commit, the snapshot is no worse.
        return None
    return GitState(commit=commit.strip(), dirty=bool(status.strip()))


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_SECONDS,
    ).stdout
