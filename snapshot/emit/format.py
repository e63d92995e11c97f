"""Format the generated module with black; results are cached by content."""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from snapshot.emit.render import RenderedSource

_BLACK_VERSION = importlib.metadata.version("black")
#: Black's target; part of the cache key with black's version.
_TARGET = "py310"


@dataclass(frozen=True)
class FormattedSource:
    """The generated module's final text."""

    text: str


def format_source(rendered: RenderedSource) -> FormattedSource:
    """Black-format ``rendered``; the output must parse.

    Black is the slowest stage of a save, and a training script saves the same
    code again and again: results are cached by the rendered text's hash, in
    the process and in the user's cache folder (``KERAS_SNAPSHOT_CACHE=0``
    turns the folder off).
    """
    key = hashlib.sha256(
        f"{_BLACK_VERSION}\0{_TARGET}\0{rendered.text}".encode()
    ).hexdigest()
    cached = _MEMORY.get(key) or _read_cached(key)
    if cached is None:
        # Imported here: a process whose modules are all cached never pays
        # black's import (about 0.3 s).
        import black

        mode = black.Mode(target_versions={black.mode.TargetVersion[_TARGET.upper()]})
        # One pass: a second, to prove black stable on its own output, doubled
        # the slowest stage of a first save; the tests run `black --check`.
        cached = black.format_str(rendered.text, mode=mode)
        ast.parse(cached)
        _write_cached(key, cached)
    _MEMORY[key] = cached
    return FormattedSource(cached)


#: Formatted modules of this process, by key.
_MEMORY: dict[str, str] = {}


def _cache_folder() -> Path | None:
    if os.environ.get("KERAS_SNAPSHOT_CACHE", "1") == "0":
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return Path(base) / "keras-snapshot" / "black"


def _read_cached(key: str) -> str | None:
    folder = _cache_folder()
    try:
        return (folder / f"{key}.py").read_text(encoding="utf-8") if folder else None
    except OSError:
        return None


def _write_cached(key: str, text: str) -> None:
    folder = _cache_folder()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=folder, suffix=".tmp", delete=False, encoding="utf-8"
        ) as handle:
            handle.write(text)
        os.replace(handle.name, folder / f"{key}.py")
    except OSError:
        pass  # a read-only home only costs the next run some time
